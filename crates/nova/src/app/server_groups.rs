//! Server groups (nova/compute/api.py and objects/instance_group.py): a policy (affinity,
//! anti-affinity and, from 2.15, their soft forms) that the scheduler applies to the group's
//! members; owned by a project, limited by the `server_groups` quota.

use std::collections::BTreeMap;

use auth::RequestContext;
use db::params;
use serde_json::{json, Value};

use super::{now, App};
use crate::error::{NovaError, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct ServerGroup {
    pub uuid: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub policy: String,
    pub rules: Value,
    pub members: Vec<String>,
}

impl App {
    async fn group_load(&self, r: &db::Row) -> Result<ServerGroup> {
        let uuid = r.str("uuid")?;
        Ok(ServerGroup {
            members: self.server_group_members(&uuid).await?,
            uuid,
            name: r.opt_str("name")?.unwrap_or_default(),
            project_id: r.str("project_id")?,
            user_id: r.str("user_id")?,
            policy: r.str("policy")?,
            rules: serde_json::from_str(&r.str("rules")?).unwrap_or(json!({})),
        })
    }

    pub async fn server_group_create(&self, ctx: &RequestContext, name: &str, policy: &str, rules: Value) -> Result<ServerGroup> {
        let project = ctx.project_id().ok_or_else(|| NovaError::Forbidden("A project-scoped token is required.".into()))?.to_string();
        let user = ctx.user_id().unwrap_or_default().to_string();
        self.enforce(ctx, "os_compute_api:os-server-groups:create", &json!({"project_id": project, "user_id": user}))?;
        let q = self.cfg.quota.server_groups;
        let used = self.api_db.fetch_all("SELECT uuid FROM instance_groups WHERE project_id = ?", params![&project]).await?.len() as i64;
        if q >= 0 && used + 1 > q {
            return Err(NovaError::OverQuota(format!("Quota exceeded, too many server groups. (Requested 1, but already used {used} of {q} server_groups)")));
        }
        let g = ServerGroup { uuid: common::ids::new_uuid(), name: name.to_string(), project_id: project, user_id: user, policy: policy.to_string(), rules, members: vec![] };
        self.api_db
            .exec(
                "INSERT INTO instance_groups (uuid, name, project_id, user_id, policy, rules, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                params![&g.uuid, &g.name, &g.project_id, &g.user_id, &g.policy, g.rules.to_string(), now()],
            )
            .await?;
        Ok(g)
    }

    pub async fn server_group_get(&self, ctx: &RequestContext, uuid: &str) -> Result<ServerGroup> {
        let not_found = || NovaError::NotFound(format!("Instance group {uuid} could not be found."));
        let r = self.api_db.fetch_optional("SELECT * FROM instance_groups WHERE uuid = ?", params![uuid]).await?.ok_or_else(not_found)?;
        let g = self.group_load(&r).await?;
        if g.project_id != ctx.project_id().unwrap_or_default() && !self.is_admin(ctx) {
            return Err(not_found());
        }
        self.enforce(ctx, "os_compute_api:os-server-groups:show", &json!({"project_id": g.project_id, "user_id": g.user_id}))?;
        Ok(g)
    }

    pub async fn server_group_list(&self, ctx: &RequestContext, query: &BTreeMap<String, String>) -> Result<Vec<ServerGroup>> {
        self.enforce(ctx, "os_compute_api:os-server-groups:index", &Self::own_target(ctx))?;
        let all = query.contains_key("all_projects") && self.enforce(ctx, "os_compute_api:os-server-groups:index:all_projects", &Self::own_target(ctx)).is_ok();
        let rows = if all {
            self.api_db.fetch_all("SELECT * FROM instance_groups ORDER BY created_at, uuid", params![]).await?
        } else {
            self.api_db.fetch_all("SELECT * FROM instance_groups WHERE project_id = ? ORDER BY created_at, uuid", params![ctx.project_id().unwrap_or_default()]).await?
        };
        let mut out = Vec::new();
        for r in &rows {
            out.push(self.group_load(r).await?);
        }
        let offset: usize = query.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
        let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(self.cfg.max_limit).min(self.cfg.max_limit);
        Ok(out.into_iter().skip(offset).take(limit).collect())
    }

    pub async fn server_group_delete(&self, ctx: &RequestContext, uuid: &str) -> Result<()> {
        let g = self.server_group_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:os-server-groups:delete", &json!({"project_id": g.project_id, "user_id": g.user_id}))?;
        self.api_db.exec("DELETE FROM instance_group_member WHERE group_uuid = ?", params![uuid]).await?;
        self.api_db.exec("DELETE FROM instance_groups WHERE uuid = ?", params![uuid]).await?;
        Ok(())
    }
}
