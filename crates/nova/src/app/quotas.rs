//! Quotas (nova/quota.py's DbQuotaDriver and nova/compute/utils.py's instance quota check):
//! a limit is the user's (for per-user limits), else the project's, else the `default`
//! quota class's, else `[quota]` in nova.conf; -1 means unlimited. Usage is counted when
//! asked, never reserved.

use std::collections::BTreeMap;

use auth::RequestContext;
use serde_json::json;

use super::App;
use crate::db::quotas as qdb;
use crate::error::{NovaError, Result};

/// Every quota resource upstream knows, in its order. The last four are nova-network's,
/// kept (always -1 unless set) for the microversions that still show them.
pub const RESOURCES: &[&str] = &[
    "cores",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
    "instances",
    "key_pairs",
    "metadata_items",
    "ram",
    "server_groups",
    "server_group_members",
    "fixed_ips",
    "floating_ips",
    "security_groups",
    "security_group_rules",
];

/// A limit and what is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUsage {
    pub limit: i64,
    pub in_use: i64,
}

/// The range an update may set a limit within (`get_settable_quotas`).
#[derive(Debug, Clone, Copy)]
struct Settable {
    minimum: i64,
    maximum: i64,
}

fn unlimited(v: i64) -> bool {
    v <= -1
}

impl App {
    /// `[quota]` config value of a resource (-1 for the nova-network ones).
    fn quota_config_default(&self, resource: &str) -> i64 {
        let q = &self.cfg.quota;
        match resource {
            "instances" => q.instances,
            "cores" => q.cores,
            "ram" => q.ram,
            "metadata_items" => q.metadata_items,
            "key_pairs" => q.key_pairs,
            "server_groups" => q.server_groups,
            "server_group_members" => q.server_group_members,
            "injected_files" => q.injected_files,
            "injected_file_content_bytes" => q.injected_file_content_bytes,
            "injected_file_path_bytes" => q.injected_file_path_length,
            _ => -1,
        }
    }

    /// The defaults: the `default` quota class over the config.
    pub async fn quota_defaults(&self) -> Result<BTreeMap<String, i64>> {
        let class = qdb::quota_class_get_all(&self.api_db, "default").await?;
        Ok(RESOURCES.iter().map(|r| (r.to_string(), class.get(*r).copied().unwrap_or_else(|| self.quota_config_default(r)))).collect())
    }

    /// A quota class's limits (unset resources show the config value, as upstream).
    pub async fn quota_class_get(&self, ctx: &RequestContext, class_name: &str) -> Result<BTreeMap<String, i64>> {
        self.enforce(ctx, "os_compute_api:os-quota-class-sets:show", &json!({}))?;
        let class = qdb::quota_class_get_all(&self.api_db, class_name).await?;
        Ok(RESOURCES.iter().map(|r| (r.to_string(), class.get(*r).copied().unwrap_or_else(|| self.quota_config_default(r)))).collect())
    }

    /// PUT /os-quota-class-sets/{class}.
    pub async fn quota_class_update(&self, ctx: &RequestContext, class_name: &str, values: &BTreeMap<String, i64>) -> Result<BTreeMap<String, i64>> {
        self.enforce(ctx, "os_compute_api:os-quota-class-sets:update", &json!({}))?;
        if class_name.is_empty() || class_name.chars().count() > 255 {
            return Err(NovaError::BadRequest("quota_class_name has a length of 1 to 255 characters.".into()));
        }
        qdb::quota_class_set(&self.api_db, class_name, values).await?;
        let class = qdb::quota_class_get_all(&self.api_db, class_name).await?;
        Ok(RESOURCES.iter().map(|r| (r.to_string(), class.get(*r).copied().unwrap_or_else(|| self.quota_config_default(r)))).collect())
    }

    /// Effective limits of a project, or of one of its users (user limits fall back to the
    /// project's, then to the defaults).
    pub async fn quota_limits(&self, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<String, i64>> {
        let defaults = self.quota_defaults().await?;
        let mut set = qdb::quota_get_all_by_project(&self.api_db, project_id).await?;
        if let Some(u) = user_id {
            set.extend(qdb::quota_get_all_by_project_and_user(&self.api_db, project_id, u).await?);
        }
        Ok(defaults.into_iter().map(|(r, d)| (r.clone(), set.get(&r).copied().unwrap_or(d))).collect())
    }

    /// Usage of the counted resources, for a project or (with `user_id`) one of its users.
    /// Key pairs and server group members count as 0 here, as upstream's `_get_usages`.
    pub async fn quota_usages(&self, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<String, i64>> {
        let (project, user) = qdb::instance_usage_by_project(&self.db, project_id, user_id).await?;
        let usage = if user_id.is_some() { user } else { project };
        let (groups_project, groups_user) = qdb::server_group_count(&self.api_db, project_id, user_id).await?;
        let mut out = BTreeMap::new();
        out.insert("instances".to_string(), usage.instances);
        out.insert("cores".to_string(), usage.cores);
        out.insert("ram".to_string(), usage.ram);
        out.insert("server_groups".to_string(), if user_id.is_some() { groups_user } else { groups_project });
        Ok(out)
    }

    /// Limits with usage, for show/detail/limits.
    pub async fn quota_get(&self, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<String, QuotaUsage>> {
        let limits = self.quota_limits(project_id, user_id).await?;
        let usages = self.quota_usages(project_id, user_id).await?;
        Ok(limits.into_iter().map(|(r, limit)| (r.clone(), QuotaUsage { limit, in_use: usages.get(&r).copied().unwrap_or(0) })).collect())
    }

    /// GET /os-quota-sets/{project_id}[?user_id=] and .../detail (`rule` says which).
    pub async fn quota_show(&self, ctx: &RequestContext, rule: &str, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<String, QuotaUsage>> {
        self.enforce(ctx, rule, &json!({"project_id": project_id}))?;
        self.quota_get(project_id, user_id).await
    }

    /// GET /os-quota-sets/{project_id}/defaults.
    pub async fn quota_show_defaults(&self, ctx: &RequestContext, project_id: &str) -> Result<BTreeMap<String, i64>> {
        self.enforce(ctx, "os_compute_api:os-quota-sets:defaults", &json!({"project_id": project_id}))?;
        self.quota_defaults().await
    }

    /// The ranges an update may choose from (upstream's `get_settable_quotas`).
    async fn quota_settable(&self, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<String, Settable>> {
        let project = self.quota_get(project_id, None).await?;
        let handed_out = qdb::quota_user_limits_sum(&self.api_db, project_id).await?;
        let remains = |r: &str, limit: i64| limit - handed_out.get(r).copied().unwrap_or(0);
        let mut out = BTreeMap::new();
        match user_id {
            Some(u) => {
                let set_for_user = qdb::quota_get_all_by_project_and_user(&self.api_db, project_id, u).await?;
                let user = self.quota_get(project_id, Some(u)).await?;
                for (r, q) in &user {
                    let p = project.get(r).map(|p| p.limit).unwrap_or(-1);
                    let rem = remains(r, p);
                    let mine = set_for_user.get(r).copied().unwrap_or(0);
                    let maximum = if unlimited(rem) || unlimited(mine) { -1 } else { rem + mine };
                    out.insert(r.clone(), Settable { minimum: q.in_use, maximum });
                }
            }
            None => {
                for (r, q) in &project {
                    let rem = remains(r, q.limit);
                    let given = if unlimited(q.limit) || unlimited(rem) { -1 } else { q.limit - rem };
                    out.insert(r.clone(), Settable { minimum: given.max(q.in_use), maximum: -1 });
                }
            }
        }
        Ok(out)
    }

    /// PUT /os-quota-sets/{project_id}[?user_id=]: checks every value first (unless
    /// `force`), then writes them all.
    pub async fn quota_update(&self, ctx: &RequestContext, project_id: &str, user_id: Option<&str>, values: &BTreeMap<String, i64>, force: bool) -> Result<BTreeMap<String, i64>> {
        self.enforce(ctx, "os_compute_api:os-quota-sets:update", &json!({"project_id": project_id}))?;
        if !force {
            let settable = self.quota_settable(project_id, user_id).await?;
            for (r, v) in values {
                let Some(s) = settable.get(r) else { continue };
                let inf = |x: i64| if x == -1 { f64::INFINITY } else { x as f64 };
                if inf(*v) < inf(s.minimum) {
                    return Err(NovaError::BadRequest(format!("Quota limit {v} for {r} must be greater than or equal to already used and reserved {}.", s.minimum)));
                }
                if inf(*v) > inf(s.maximum) {
                    return Err(NovaError::BadRequest(format!("Quota limit {v} for {r} must be less than or equal to {}.", s.maximum)));
                }
            }
        }
        qdb::quota_set(&self.api_db, project_id, user_id, values).await?;
        self.quota_limits(project_id, user_id).await
    }

    /// DELETE /os-quota-sets/{project_id}[?user_id=]: back to the defaults.
    pub async fn quota_delete(&self, ctx: &RequestContext, project_id: &str, user_id: Option<&str>) -> Result<()> {
        self.enforce(ctx, "os_compute_api:os-quota-sets:delete", &json!({"project_id": project_id}))?;
        qdb::quota_destroy_all(&self.api_db, project_id, user_id).await?;
        Ok(())
    }

    /// GET /limits[?tenant_id=]: the project's limits with usage.
    pub async fn limits_get(&self, ctx: &RequestContext, tenant_id: Option<&str>) -> Result<BTreeMap<String, QuotaUsage>> {
        self.enforce(ctx, "os_compute_api:limits", &json!({}))?;
        let project_id = match tenant_id {
            Some(t) => {
                self.enforce(ctx, "os_compute_api:limits:other_project", &json!({"project_id": t}))?;
                t.to_string()
            }
            None => ctx.project_id().unwrap_or_default().to_string(),
        };
        self.quota_get(&project_id, None).await
    }

    /// The instance quota check servers call before creating `count` instances of a flavor
    /// with `vcpus` and `ram` (MB) each; OverQuota carries upstream's message.
    pub async fn quota_check_instances(&self, ctx: &RequestContext, project_id: &str, user_id: &str, count: i64, vcpus: i64, ram: i64) -> Result<()> {
        self.quota_check_instances_range(ctx, project_id, user_id, count, count, vcpus, ram).await.map(|_| ())
    }

    /// Like [`App::quota_check_instances`] for `min_count..=max_count` instances: returns how
    /// many fit (at least `min_count`), as upstream's `check_num_instances_quota`.
    #[allow(clippy::too_many_arguments)]
    pub async fn quota_check_instances_range(&self, _ctx: &RequestContext, project_id: &str, user_id: &str, min_count: i64, max_count: i64, vcpus: i64, ram: i64) -> Result<i64> {
        // Per-user limits apply only when the user has one of the three set.
        let user_set = qdb::quota_get_all_by_project_and_user(&self.api_db, project_id, user_id).await?;
        let user_id = ["instances", "cores", "ram"].iter().any(|r| user_set.contains_key(*r)).then_some(user_id);
        let mut max_count = max_count;
        loop {
            let deltas = [("cores", max_count * vcpus), ("instances", max_count), ("ram", max_count * ram)];
            let project_limits = self.quota_limits(project_id, None).await?;
            let (project_usage, user_usage) = qdb::instance_usage_by_project(&self.db, project_id, user_id).await?;
            let usage_of = |u: &qdb::InstanceUsage, r: &str| match r {
                "cores" => u.cores,
                "instances" => u.instances,
                _ => u.ram,
            };
            let mut overs: Vec<&str> = Vec::new();
            let mut over_user = false;
            let (mut quotas, mut usages) = (project_limits.clone(), project_usage);
            for (r, d) in deltas {
                let pl = project_limits.get(r).copied().unwrap_or(-1);
                if pl >= 0 && pl < usage_of(&project_usage, r) + d {
                    overs.push(r);
                }
            }
            if overs.is_empty() {
                if let Some(u) = user_id {
                    let user_limits = self.quota_limits(project_id, Some(u)).await?;
                    for (r, d) in deltas {
                        let ul = user_limits.get(r).copied().unwrap_or(-1);
                        if ul >= 0 && ul < usage_of(&user_usage, r) + d {
                            overs.push(r);
                            over_user = true;
                        }
                    }
                    if over_user {
                        quotas = user_limits;
                        usages = user_usage;
                    }
                }
            }
            if overs.is_empty() {
                return Ok(max_count);
            }
            // Headroom per resource; unlimited cores/ram follow the instances headroom.
            let limit = |r: &str| quotas.get(r).copied().unwrap_or(-1);
            let mut headroom: BTreeMap<&str, f64> = ["cores", "instances", "ram"].iter().map(|r| (*r, (limit(r) - usage_of(&usages, r)) as f64)).collect();
            let instances_headroom = headroom.get("instances").copied().unwrap_or(1.0);
            for (r, d) in [("cores", max_count * vcpus), ("ram", max_count * ram)] {
                if limit(r) == -1 {
                    let h = if d != 0 { instances_headroom * d as f64 / max_count.max(1) as f64 } else { instances_headroom };
                    headroom.insert(r, h);
                }
            }
            let mut allowed = instances_headroom;
            if vcpus != 0 {
                allowed = allowed.min((headroom.get("cores").copied().unwrap_or(0.0) / vcpus as f64).floor());
            }
            if ram != 0 {
                allowed = allowed.min((headroom.get("ram").copied().unwrap_or(0.0) / ram as f64).floor());
            }
            let allowed = allowed as i64;
            if allowed > 0 && min_count <= allowed && allowed < max_count {
                max_count = allowed;
                continue;
            }
            let requested = |r: &str| match r {
                "instances" if min_count == max_count => min_count.to_string(),
                "instances" => format!("{min_count}-{max_count}"),
                "cores" => (max_count * vcpus).to_string(),
                _ => (max_count * ram).to_string(),
            };
            overs.sort_unstable();
            let join = |f: &dyn Fn(&str) -> String| overs.iter().map(|r| f(r)).collect::<Vec<_>>().join(", ");
            let names = overs.join(", ");
            let reqs = join(&|r| requested(r));
            let used = join(&|r| (limit(r) as f64 - headroom.get(r).copied().unwrap_or(0.0)).to_string().trim_end_matches(".0").to_string());
            let allowed_s = join(&|r| limit(r).to_string());
            return Err(NovaError::OverQuota(format!("Quota exceeded for {names}: Requested {reqs}, but already used {used} of {allowed_s} {names}")));
        }
    }

    /// A resize to a larger flavor needs the extra cores and RAM within the project's quota.
    pub async fn quota_check_resize(&self, _ctx: &RequestContext, project_id: &str, user_id: &str, extra_vcpus: i64, extra_ram: i64) -> Result<()> {
        let limits = self.quota_limits(project_id, None).await?;
        let (usage, _) = qdb::instance_usage_by_project(&self.db, project_id, Some(user_id)).await?;
        for (r, used, d) in [("cores", usage.cores, extra_vcpus), ("ram", usage.ram, extra_ram)] {
            let limit = limits.get(r).copied().unwrap_or(-1);
            if d > 0 && limit >= 0 && limit < used + d {
                return Err(NovaError::OverQuota(format!("Quota exceeded for {r}: Requested {d}, but already used {used} of {limit} {r}")));
            }
        }
        Ok(())
    }
}
