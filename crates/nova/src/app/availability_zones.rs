//! Availability zones (nova/availability_zones.py and the os-availability-zone API): a
//! compute service's zone is the `availability_zone` metadata of an aggregate its host is
//! in, else `[DEFAULT] default_availability_zone`; other services are in the internal zone
//! (`internal`), which the plain listing hides. A zone with an enabled service is available.
//!
//! Until compute services register in the cell database, no service exists at all; the
//! listing then shows the default zone as available, which is what upstream shows as soon as
//! one compute is up, so clients that pick a zone from the list keep working.

use std::collections::{BTreeMap, BTreeSet};

use auth::RequestContext;
use serde_json::json;

use super::App;
use crate::db::compute_nodes::{self as cdb, Service};
use crate::error::Result;

/// `[DEFAULT] internal_service_availability_zone`.
pub const INTERNAL_ZONE: &str = "internal";

/// One zone with, for the detailed listing, host -> binary -> service.
pub struct Zone {
    pub name: String,
    pub available: bool,
    pub hosts: Option<BTreeMap<String, BTreeMap<String, ServiceState>>>,
}

/// How a service looks in the detailed listing.
pub struct ServiceState {
    pub available: bool,
    pub active: bool,
    pub updated_at: i64,
}

impl App {
    async fn services_with_zones(&self) -> Result<Vec<(Service, String)>> {
        let host_zones = self.availability_zone_hosts().await?;
        let services = cdb::service_list(&self.db).await?;
        Ok(services
            .into_iter()
            .map(|s| {
                let zone = if s.binary == "nova-compute" { host_zones.get(&s.host).cloned().unwrap_or_else(|| self.cfg.default_availability_zone.clone()) } else { INTERNAL_ZONE.to_string() };
                (s, zone)
            })
            .collect())
    }

    /// GET /os-availability-zone (`detail` = false) and /os-availability-zone/detail.
    pub async fn availability_zones(&self, ctx: &RequestContext, detail: bool) -> Result<Vec<Zone>> {
        let rule = if detail { "os_compute_api:os-availability-zone:detail" } else { "os_compute_api:os-availability-zone:list" };
        self.enforce(ctx, rule, &json!({}))?;
        let services = self.services_with_zones().await?;
        if services.is_empty() {
            let hosts = detail.then(BTreeMap::new);
            return Ok(vec![Zone { name: self.cfg.default_availability_zone.clone(), available: true, hosts }]);
        }
        let available: BTreeSet<String> = services.iter().filter(|(s, _)| !s.disabled).map(|(_, z)| z.clone()).collect();
        let unavailable: BTreeSet<String> = services.iter().filter(|(s, z)| s.disabled && !available.contains(z)).map(|(_, z)| z.clone()).collect();
        let mut zones = Vec::new();
        for name in &available {
            if !detail && name == INTERNAL_ZONE {
                continue;
            }
            let hosts = detail.then(|| {
                let mut hosts: BTreeMap<String, BTreeMap<String, ServiceState>> = BTreeMap::new();
                for (s, _) in services.iter().filter(|(s, z)| z == name && !s.disabled && s.binary != "nova-osapi_compute" && s.binary != "nova-metadata") {
                    hosts.entry(s.host.clone()).or_default().insert(s.binary.clone(), ServiceState { available: s.is_up(super::now()), active: !s.disabled, updated_at: s.updated_at });
                }
                hosts
            });
            zones.push(Zone { name: name.clone(), available: true, hosts });
        }
        for name in &unavailable {
            if !detail && name == INTERNAL_ZONE {
                continue;
            }
            zones.push(Zone { name: name.clone(), available: false, hosts: None });
        }
        Ok(zones)
    }
}
