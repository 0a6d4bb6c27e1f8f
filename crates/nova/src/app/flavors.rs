//! Flavors (nova/compute/flavors.py, nova/objects/flavor.py): who sees which flavor (public
//! ones to everyone, private ones to admins and to projects given access, disabled ones to
//! admins only) and the list filters and ordering of `GET /flavors`.

use std::collections::BTreeMap;

use auth::RequestContext;

use super::App;
use crate::db::flavors::{self as fdb, Flavor};
use crate::error::{NovaError, Result};

/// One page of flavors and whether more follow.
pub struct FlavorPage {
    pub flavors: Vec<Flavor>,
    pub more: bool,
}

const SORT_KEYS: &[&str] = &["created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id", "is_public", "memory_mb", "name", "root_gb", "rxtx_factor", "swap", "updated_at", "vcpu_weight", "vcpus"];

impl App {
    /// Whether the caller may see `f` (admins see every flavor).
    async fn flavor_visible(&self, ctx: &RequestContext, f: &Flavor) -> Result<bool> {
        if self.is_admin(ctx) || f.is_public {
            return Ok(true);
        }
        let project = ctx.project_id().unwrap_or_default();
        Ok(fdb::flavor_projects(&self.api_db, f.id).await?.iter().any(|p| p == project))
    }

    /// A flavor by its API id, if the caller may see it.
    pub async fn flavor_get(&self, ctx: &RequestContext, flavorid: &str) -> Result<Flavor> {
        let not_found = || NovaError::NotFound(format!("Flavor {flavorid} could not be found."));
        let f = fdb::flavor_get_by_flavorid(&self.api_db, flavorid).await?.ok_or_else(not_found)?;
        if !self.flavor_visible(ctx, &f).await? {
            return Err(not_found());
        }
        Ok(f)
    }

    /// GET /flavors and /flavors/detail.
    pub async fn flavor_list(&self, ctx: &RequestContext, query: &BTreeMap<String, String>) -> Result<FlavorPage> {
        let admin = self.is_admin(ctx);
        // Admins choose with is_public (true by default, `none` for all); others see public
        // flavors and the private ones shared with their project, never disabled ones.
        let is_public: Option<bool> = if admin {
            match query.get("is_public").map(|s| s.to_ascii_lowercase()) {
                None => Some(true),
                Some(v) if v == "none" => None,
                Some(v) => Some(parse_bool(&v).ok_or_else(|| NovaError::BadRequest(format!("Invalid is_public filter [{v}]")))?),
            }
        } else {
            Some(true)
        };
        let int_filter = |key: &str| -> Result<Option<i64>> {
            query.get(key).map(|v| v.parse::<i64>().map_err(|_| NovaError::BadRequest(format!("Invalid {key} filter [{v}]")))).transpose()
        };
        let (min_ram, min_disk) = (int_filter("minRam")?, int_filter("minDisk")?);
        let sort_key = query.get("sort_key").map(String::as_str).unwrap_or("flavorid");
        if !SORT_KEYS.contains(&sort_key) {
            return Err(NovaError::BadRequest(format!("Invalid input for query parameters sort_key. Value: {sort_key}.")));
        }
        let sort_dir = query.get("sort_dir").map(String::as_str).unwrap_or("asc");
        if sort_dir != "asc" && sort_dir != "desc" {
            return Err(NovaError::BadRequest(format!("Invalid input for query parameters sort_dir. Value: {sort_dir}.")));
        }
        let project = ctx.project_id().unwrap_or_default().to_string();
        let mut flavors = Vec::new();
        for f in fdb::flavor_list_all(&self.api_db).await? {
            let shared = !admin && !f.is_public && fdb::flavor_projects(&self.api_db, f.id).await?.contains(&project);
            let visible = match is_public {
                Some(p) => f.is_public == p || shared,
                None => true,
            };
            if !visible || (!admin && f.disabled) {
                continue;
            }
            if min_ram.is_some_and(|m| f.memory_mb < m) || min_disk.is_some_and(|m| f.root_gb < m) {
                continue;
            }
            if query.get("name").is_some_and(|n| &f.name != n) {
                continue;
            }
            flavors.push(f);
        }
        flavors.sort_by(|a, b| {
            let ord = match sort_key {
                "name" => a.name.cmp(&b.name),
                "memory_mb" => a.memory_mb.cmp(&b.memory_mb),
                "vcpus" => a.vcpus.cmp(&b.vcpus),
                "root_gb" => a.root_gb.cmp(&b.root_gb),
                "ephemeral_gb" => a.ephemeral_gb.cmp(&b.ephemeral_gb),
                "swap" => a.swap.cmp(&b.swap),
                "id" => a.id.cmp(&b.id),
                "created_at" => a.created_at.cmp(&b.created_at),
                "updated_at" => a.updated_at.cmp(&b.updated_at),
                "rxtx_factor" => a.rxtx_factor.total_cmp(&b.rxtx_factor),
                "is_public" => a.is_public.cmp(&b.is_public),
                "disabled" => a.disabled.cmp(&b.disabled),
                "description" => a.description.cmp(&b.description),
                "vcpu_weight" => a.vcpu_weight.cmp(&b.vcpu_weight),
                _ => a.flavorid.cmp(&b.flavorid),
            }
            .then_with(|| a.id.cmp(&b.id));
            if sort_dir == "desc" { ord.reverse() } else { ord }
        });
        let mut page = common::pagination::PageParams::from_query(query, self.cfg.max_limit).map_err(|e| NovaError::BadRequest(e.to_string()))?;
        page.limit = page.limit.or(Some(self.cfg.max_limit));
        let (mut flavors, more) = page.apply(flavors, |f| f.flavorid.as_str()).map_err(|m| NovaError::BadRequest(format!("marker [{m}] not found")))?;
        for f in &mut flavors {
            let full = fdb::flavor_get_by_flavorid(&self.api_db, &f.flavorid).await?;
            if let Some(full) = full {
                *f = full;
            }
        }
        Ok(FlavorPage { flavors, more })
    }
}

/// oslo's strict bool_from_string.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}
