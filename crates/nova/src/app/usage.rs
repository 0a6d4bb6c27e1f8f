//! Tenant usage (nova/api/openstack/compute/simple_tenant_usage.py): for a period, each
//! project's servers that ran in it, deleted ones included, with the hours they ran and the
//! vCPU-, MB- and GB-hours their flavors add up to.

use std::collections::BTreeMap;

use auth::RequestContext;

use super::App;
use crate::db::instances::{self as idb, Instance};
use crate::error::{NovaError, Result};

/// One server's share of a period.
#[derive(Debug, Clone)]
pub struct ServerUsage {
    pub instance: Instance,
    pub hours: f64,
    /// Seconds since launch (to the end of the period, or its deletion).
    pub uptime: i64,
}

/// One project's usage over a period.
#[derive(Debug, Clone)]
pub struct TenantUsage {
    pub tenant_id: String,
    pub servers: Vec<ServerUsage>,
}

impl TenantUsage {
    pub fn total(&self, per_hour: impl Fn(&Instance) -> i64) -> f64 {
        self.servers.iter().map(|s| s.hours * per_hour(&s.instance) as f64).sum()
    }
}

const US_PER_HOUR: f64 = 3_600_000_000.0;

impl App {
    /// Usage of `project` (every project when `None`, admins only) between `start` and `end`
    /// (microseconds).
    pub async fn tenant_usage(&self, ctx: &RequestContext, project: Option<&str>, start: i64, end: i64) -> Result<Vec<TenantUsage>> {
        match project {
            None => self.enforce(ctx, "os_compute_api:os-simple-tenant-usage:list", &Self::own_target(ctx))?,
            Some(p) => self.enforce(ctx, "os_compute_api:os-simple-tenant-usage:show", &serde_json::json!({"project_id": p}))?,
        }
        if start > end {
            return Err(NovaError::BadRequest("Invalid start time. The start time cannot occur after the end time.".into()));
        }
        let mut by_project: BTreeMap<String, Vec<ServerUsage>> = BTreeMap::new();
        for i in idb::instance_list(&self.db, project, true).await? {
            let Some(launched) = i.launched_at else { continue };
            let stopped = i.terminated_at.unwrap_or(i64::MAX);
            if launched > end || stopped < start {
                continue;
            }
            let from = launched.max(start);
            let to = stopped.min(end);
            let hours = (to - from).max(0) as f64 / US_PER_HOUR;
            let uptime = (to - launched).max(0) / 1_000_000;
            by_project.entry(i.project_id.clone()).or_default().push(ServerUsage { instance: i, hours, uptime });
        }
        Ok(by_project.into_iter().map(|(tenant_id, mut servers)| {
            servers.sort_by(|a, b| a.instance.created_at.cmp(&b.instance.created_at).then_with(|| a.instance.uuid.cmp(&b.instance.uuid)));
            TenantUsage { tenant_id, servers }
        }).collect())
    }
}
