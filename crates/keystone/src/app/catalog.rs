//! The service catalog (keystone/catalog/core.py): services and endpoints rendered for tokens
//! and /v3/auth/catalog, filtered by project associations (OS-EP-FILTER) when a project has any.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::App;
use crate::db::catalog as cdb;
use crate::error::Result;

impl App {
    /// The v3 catalog, for a project when the token is project-scoped; rendered once per write
    /// generation (token validation renders it on every call).
    pub async fn catalog_for(&self, project_id: Option<&str>) -> Result<std::sync::Arc<Vec<Value>>> {
        let key = project_id.unwrap_or_default().to_string();
        let generation = self.generation();
        if let Some((g, c)) = self.catalog_cache.lock().ok().and_then(|m| m.get(&key).cloned()) {
            if g == generation {
                return Ok(c);
            }
        }
        let rendered = std::sync::Arc::new(self.catalog_render(project_id).await?);
        if let Ok(mut m) = self.catalog_cache.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(key, (generation, rendered.clone()));
        }
        Ok(rendered)
    }

    async fn catalog_render(&self, project_id: Option<&str>) -> Result<Vec<Value>> {
        let services = cdb::service_list(&self.db).await?;
        let mut endpoints = cdb::endpoint_list(&self.db).await?;
        if let Some(pid) = project_id {
            if let Some(allowed) = self.endpoint_ids_for_project(pid).await? {
                endpoints.retain(|e| allowed.contains(&e.id));
            }
        }
        let mut out = Vec::new();
        for s in services.iter().filter(|s| s.enabled) {
            let eps: Vec<Value> = endpoints
                .iter()
                .filter(|e| e.service_id == s.id && e.enabled)
                .map(|e| {
                    json!({
                        "id": e.id,
                        "interface": e.interface,
                        "region": e.region_id,
                        "region_id": e.region_id,
                        "url": e.url,
                    })
                })
                .collect();
            if eps.is_empty() && project_id.is_some() && !self.cfg.return_all_endpoints_if_no_filter {
                continue;
            }
            out.push(json!({
                "endpoints": eps,
                "id": s.id,
                "type": s.service_type,
                "name": s.extra.get("name").cloned().unwrap_or(json!("")),
            }));
        }
        Ok(out)
    }

    /// The endpoints a project is restricted to, or None when it has no associations (then it
    /// sees every endpoint, as `return_all_endpoints_if_no_filter` says).
    pub async fn endpoint_ids_for_project(&self, project_id: &str) -> Result<Option<HashSet<String>>> {
        let mut ids: HashSet<String> = cdb::project_endpoint_ids(&self.db, project_id).await?.into_iter().collect();
        let groups = cdb::project_endpoint_group_ids(&self.db, project_id).await?;
        if !groups.is_empty() {
            let endpoints = cdb::endpoint_list(&self.db).await?;
            for gid in groups {
                if let Some(g) = cdb::endpoint_group_get(&self.db, &gid).await? {
                    for e in endpoints.iter().filter(|e| endpoint_matches_filters(e, &g.filters)) {
                        ids.insert(e.id.clone());
                    }
                }
            }
        } else if ids.is_empty() {
            return Ok(if self.cfg.return_all_endpoints_if_no_filter { None } else { Some(ids) });
        }
        Ok(Some(ids))
    }
}

/// Whether an endpoint satisfies an endpoint group's filters (service_id, region_id, interface).
pub fn endpoint_matches_filters(e: &cdb::Endpoint, filters: &serde_json::Map<String, Value>) -> bool {
    filters.iter().all(|(k, v)| {
        let want = v.as_str().unwrap_or_default();
        match k.as_str() {
            "service_id" => e.service_id == want,
            "region_id" => e.region_id.as_deref() == Some(want),
            "interface" => e.interface == want,
            _ => true,
        }
    })
}
