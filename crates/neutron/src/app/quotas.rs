//! Quotas (neutron/db/quota/driver.py, the DbQuotaDriver): a project's limit is its row in
//! `quotas`, else `[quotas] quota_<resource>`; usage is counted from the resources
//! themselves inside the creating transaction, so a create over the limit is refused with
//! OverQuota. Floating IPs count for the project that owns them.

use auth::RequestContext;
use serde_json::{json, Map, Value};

use super::input::{int_of, Input};
use super::App;
use crate::config::QUOTA_DEFAULTS;
use crate::db::quotas::{quota_delete_project, quota_get_tx, quota_list_by_project, quota_projects, quota_set};
use crate::db::records::record_count_tx;
use crate::db::Kind;
use crate::error::{NeutronError, Result};

fn kind_of(resource: &str) -> Option<Kind> {
    Some(match resource {
        "network" => Kind::Network,
        "subnet" => Kind::Subnet,
        "port" => Kind::Port,
        "router" => Kind::Router,
        "floatingip" => Kind::FloatingIp,
        "security_group" => Kind::SecurityGroup,
        "security_group_rule" => Kind::SecurityGroupRule,
        _ => return None,
    })
}

impl App {
    /// Refuses `wanted` more of `resource` for `project_id` when that would pass its limit.
    pub async fn quota_check(&self, tx: &mut db::Tx, project_id: &str, resource: &str, wanted: i64) -> Result<()> {
        let limit = match quota_get_tx(tx, project_id, resource).await? {
            Some(l) => l,
            None => self.cfg.default_quota(resource).unwrap_or(-1),
        };
        if limit < 0 {
            return Ok(());
        }
        let Some(kind) = kind_of(resource) else { return Ok(()) };
        let used = record_count_tx(tx, kind, project_id).await?;
        if used + wanted > limit {
            return Err(NeutronError::OverQuota(format!("['{resource}']")));
        }
        Ok(())
    }

    async fn quota_limits(&self, project_id: &str) -> Result<Map<String, Value>> {
        let rows = quota_list_by_project(&self.db, project_id).await?;
        let mut out = Map::new();
        for (resource, _) in QUOTA_DEFAULTS {
            let limit = rows.iter().find(|(r, _)| r == resource).map(|(_, l)| *l).or_else(|| self.cfg.default_quota(resource)).unwrap_or(-1);
            out.insert(resource.to_string(), json!(limit));
        }
        Ok(out)
    }

    /// `GET /v2.0/quotas`: projects with limits of their own (admin).
    pub async fn quota_list(&self, ctx: &RequestContext) -> Result<Vec<Value>> {
        self.enforce(ctx, "update_quota", &json!({"project_id": ctx.project_id()}))?;
        let mut out = Vec::new();
        for p in quota_projects(&self.db).await? {
            let mut q = self.quota_limits(&p).await?;
            q.insert("project_id".into(), json!(p));
            q.insert("tenant_id".into(), json!(p));
            out.push(Value::Object(q));
        }
        Ok(out)
    }

    pub async fn quota_show(&self, ctx: &RequestContext, project_id: &str) -> Result<Value> {
        self.enforce(ctx, "get_quota", &json!({"project_id": project_id}))?;
        Ok(Value::Object(self.quota_limits(project_id).await?))
    }

    pub fn quota_defaults(&self, ctx: &RequestContext, project_id: &str) -> Result<Value> {
        self.enforce(ctx, "get_quota", &json!({"project_id": project_id}))?;
        Ok(Value::Object(QUOTA_DEFAULTS.iter().map(|(r, _)| (r.to_string(), json!(self.cfg.default_quota(r).unwrap_or(-1)))).collect()))
    }

    /// `GET /v2.0/quotas/{project}/details`: limit, used and reserved (always 0 here: usage
    /// is counted at commit, nothing is reserved ahead).
    pub async fn quota_details(&self, ctx: &RequestContext, project_id: &str) -> Result<Value> {
        self.enforce(ctx, "get_quota", &json!({"project_id": project_id}))?;
        let limits = self.quota_limits(project_id).await?;
        let mut tx = self.db.begin().await?;
        let mut out = Map::new();
        for (resource, limit) in limits {
            let used = match kind_of(&resource) {
                Some(k) => record_count_tx(&mut tx, k, project_id).await?,
                None => 0,
            };
            out.insert(resource, json!({"limit": limit, "used": used, "reserved": 0}));
        }
        tx.commit().await?;
        Ok(Value::Object(out))
    }

    pub async fn quota_update(&self, ctx: &RequestContext, project_id: &str, input: Input) -> Result<Value> {
        self.enforce(ctx, "update_quota", &json!({"project_id": project_id}))?;
        let mut changes = Vec::new();
        for (k, v) in &input.0 {
            if k == "project_id" || k == "tenant_id" {
                continue;
            }
            if kind_of(k).is_none() {
                return Err(NeutronError::HttpBadRequest(format!("Unrecognized attribute(s) '{k}'")));
            }
            let limit = int_of(v).filter(|l| *l >= -1).ok_or_else(|| NeutronError::InvalidInput(format!("Invalid input for {k}. Reason: '{v}' should be an integer of at least -1.")))?;
            changes.push((k.clone(), limit));
        }
        retrying!(self, tx, {
            for (k, l) in &changes {
                quota_set(&mut tx, project_id, k, *l).await?;
            }
            Ok(())
        })?;
        Ok(Value::Object(self.quota_limits(project_id).await?))
    }

    pub async fn quota_delete(&self, ctx: &RequestContext, project_id: &str) -> Result<()> {
        self.enforce(ctx, "delete_quota", &json!({"project_id": project_id}))?;
        retrying!(self, tx, {
            quota_delete_project(&mut tx, project_id).await?;
            Ok(())
        })
    }
}
