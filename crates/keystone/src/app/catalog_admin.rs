//! Managing the service catalog (keystone/catalog/core.py's Manager and the SQL driver's rules):
//! regions and their hierarchy, services, endpoints, and the endpoint filter's endpoint groups
//! and project associations (OS-EP-FILTER). Rendering the catalog for tokens is in
//! [`super::catalog`].

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use super::catalog::endpoint_matches_filters;
use super::App;
use crate::db::catalog::{self as cdb, Endpoint, EndpointGroup, Region, Service};
use crate::db::resource as rdb;
use crate::error::{KeystoneError, Result};

/// The endpoint attributes an endpoint group may filter on (upstream's `valid_filter_keys`).
pub const ENDPOINT_GROUP_FILTER_KEYS: [&str; 3] = ["service_id", "region_id", "interface"];
/// The interfaces an endpoint can have.
pub const INTERFACES: [&str; 3] = ["admin", "internal", "public"];
/// Substitutions allowed in endpoint URLs (keystone/common/utils.py WHITELISTED_PROPERTIES).
const URL_SUBSTITUTIONS: [&str; 8] = ["tenant_id", "project_id", "user_id", "public_bind_host", "admin_bind_host", "compute_host", "admin_port", "public_port"];

/// Keystone's generic `ValidationError`: `Expecting to find <attribute> in <target>. ...`.
pub fn expecting(attribute: &str, target: &str) -> KeystoneError {
    KeystoneError::Validation(format!(
        "Expecting to find {attribute} in {target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error."
    ))
}

/// Checks an endpoint group's filters: only service_id, region_id and interface, with a
/// known interface (upstream's `_require_valid_filter` plus the schema's enum).
pub fn validate_endpoint_group_filters(filters: &Map<String, Value>) -> Result<()> {
    for (k, v) in filters {
        if !ENDPOINT_GROUP_FILTER_KEYS.contains(&k.as_str()) {
            return Err(expecting(&ENDPOINT_GROUP_FILTER_KEYS.join(" or "), "endpoint_group"));
        }
        match (k.as_str(), v) {
            ("interface", Value::String(s)) if !INTERFACES.contains(&s.as_str()) => {
                return Err(KeystoneError::invalid_field("interface", format!("'{s}' is not one of ['admin', 'internal', 'public']")));
            }
            ("region_id", Value::Null) | (_, Value::String(_)) => {}
            (_, other) => return Err(KeystoneError::invalid_field(k, format!("{other} is not of type 'string'"))),
        }
    }
    Ok(())
}

/// Checks the `$(name)s` substitutions of an endpoint URL against upstream's whitelist
/// (`check_endpoint_url`).
pub fn check_endpoint_url(url: &str) -> Result<()> {
    let invalid = || KeystoneError::Validation(format!("Cannot create an endpoint with an invalid URL: {url}."));
    let mut rest = url;
    while let Some(start) = rest.find("$(") {
        let after = &rest[start + 2..];
        let end = after.find(')').ok_or_else(invalid)?;
        let name = &after[..end];
        if !URL_SUBSTITUTIONS.contains(&name) {
            return Err(invalid());
        }
        let tail = &after[end + 1..];
        if !tail.starts_with('s') && !tail.starts_with('d') {
            return Err(invalid());
        }
        rest = tail;
    }
    Ok(())
}

/// The ids of `root` and every region below it.
pub fn region_subtree(regions: &[Region], root: &str) -> Vec<String> {
    let mut out = vec![root.to_string()];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i].clone();
        for r in regions.iter().filter(|r| r.parent_region_id.as_deref() == Some(cur.as_str())) {
            if !out.contains(&r.id) {
                out.push(r.id.clone());
            }
        }
        i += 1;
    }
    out
}

/// Whether making `parent` the parent of `id` closes a loop.
pub fn region_parent_creates_cycle(regions: &[Region], id: &str, parent: &str) -> bool {
    let mut seen = HashSet::new();
    let mut cur = Some(parent.to_string());
    while let Some(p) = cur {
        if p == id {
            return true;
        }
        if !seen.insert(p.clone()) {
            return false;
        }
        cur = regions.iter().find(|r| r.id == p).and_then(|r| r.parent_region_id.clone());
    }
    false
}

impl App {
    // ------------------------------------------------------------------------------- regions

    pub async fn region_get_checked(&self, id: &str) -> Result<Region> {
        cdb::region_get(&self.db, id).await?.ok_or_else(|| KeystoneError::not_found("region", id))
    }

    pub async fn region_create(&self, r: Region) -> Result<Region> {
        if cdb::region_get(&self.db, &r.id).await?.is_some() {
            return Err(KeystoneError::duplicate("region", format!("Duplicate ID, {}.", r.id)));
        }
        if let Some(parent) = &r.parent_region_id {
            if cdb::region_get(&self.db, parent).await?.is_none() {
                return Err(KeystoneError::not_found("region", parent));
            }
        }
        cdb::region_create(&self.db, &r).await?;
        self.bump();
        Ok(r)
    }

    /// Applies a PATCH: description, parent_region_id and extra attributes.
    pub async fn region_update(&self, id: &str, changes: &Map<String, Value>) -> Result<Region> {
        let mut r = self.region_get_checked(id).await?;
        if let Some(d) = changes.get("description") {
            r.description = d.as_str().unwrap_or_default().to_string();
        }
        if let Some(p) = changes.get("parent_region_id") {
            let parent = p.as_str().map(str::to_string);
            if let Some(pid) = &parent {
                let regions = cdb::region_list(&self.db).await?;
                // Upstream checks the parent exists first, then walks the chain for a loop.
                if pid != id && !regions.iter().any(|x| x.id == *pid) {
                    return Err(KeystoneError::not_found("region", pid));
                }
                if region_parent_creates_cycle(&regions, id, pid) {
                    return Err(KeystoneError::Validation(format!("The specified parent region {pid} would create a circular region hierarchy.")));
                }
            }
            r.parent_region_id = parent;
        }
        for (k, v) in changes {
            if !matches!(k.as_str(), "id" | "description" | "parent_region_id" | "links") {
                r.extra.insert(k.clone(), v.clone());
            }
        }
        cdb::region_update(&self.db, &r).await?;
        self.bump();
        Ok(r)
    }

    /// Deletes a region with its child regions, refused while any of them has endpoints.
    pub async fn region_delete(&self, id: &str) -> Result<()> {
        self.region_get_checked(id).await?;
        let regions = cdb::region_list(&self.db).await?;
        let subtree = region_subtree(&regions, id);
        let endpoints = cdb::endpoint_list(&self.db).await?;
        if endpoints.iter().any(|e| e.region_id.as_ref().is_some_and(|r| subtree.contains(r))) {
            return Err(KeystoneError::Forbidden(format!("Unable to delete region {id} because it or its child regions have associated endpoints.")));
        }
        cdb::region_delete_many(&self.db, &subtree).await?;
        self.bump();
        Ok(())
    }

    // ------------------------------------------------------------------------------ services

    pub async fn service_get_checked(&self, id: &str) -> Result<Service> {
        cdb::service_get(&self.db, id).await?.ok_or_else(|| KeystoneError::not_found("service", id))
    }

    pub async fn service_create(&self, s: Service) -> Result<Service> {
        cdb::service_create(&self.db, &s).await?;
        self.bump();
        Ok(s)
    }

    pub async fn service_update(&self, id: &str, changes: &Map<String, Value>) -> Result<Service> {
        let mut s = self.service_get_checked(id).await?;
        for (k, v) in changes {
            match k.as_str() {
                "id" | "links" => {}
                "type" => s.service_type = v.as_str().unwrap_or_default().to_string(),
                "enabled" => s.enabled = v.as_bool().unwrap_or(s.enabled),
                _ => {
                    s.extra.insert(k.clone(), v.clone());
                }
            }
        }
        cdb::service_update(&self.db, &s).await?;
        self.bump();
        Ok(s)
    }

    /// Deletes a service and its endpoints.
    pub async fn service_delete(&self, id: &str) -> Result<()> {
        if cdb::service_delete(&self.db, id).await? == 0 {
            return Err(KeystoneError::not_found("service", id));
        }
        self.bump();
        Ok(())
    }

    // ----------------------------------------------------------------------------- endpoints

    pub async fn endpoint_get_checked(&self, id: &str) -> Result<Endpoint> {
        cdb::endpoint_get(&self.db, id).await?.ok_or_else(|| KeystoneError::not_found("endpoint", id))
    }

    /// The legacy `region` attribute: a region named there that does not exist yet is created,
    /// for clients that use the v3 API as they did v2 (upstream's `_validate_endpoint_region`).
    pub async fn endpoint_legacy_region(&self, region: &str) -> Result<()> {
        if cdb::region_get(&self.db, region).await?.is_none() {
            self.region_create(Region { id: region.to_string(), description: String::new(), parent_region_id: None, extra: Map::new() }).await?;
        }
        Ok(())
    }

    async fn endpoint_check_references(&self, e: &Endpoint) -> Result<()> {
        if let Some(r) = &e.region_id {
            if cdb::region_get(&self.db, r).await?.is_none() {
                return Err(expecting("endpoint region_id", "region table"));
            }
        }
        if cdb::service_get(&self.db, &e.service_id).await?.is_none() {
            return Err(expecting("endpoint service_id", "service table"));
        }
        Ok(())
    }

    pub async fn endpoint_create(&self, e: Endpoint) -> Result<Endpoint> {
        self.endpoint_check_references(&e).await?;
        cdb::endpoint_create(&self.db, &e).await?;
        self.bump();
        Ok(e)
    }

    pub async fn endpoint_update(&self, id: &str, changes: &Map<String, Value>) -> Result<Endpoint> {
        let mut e = self.endpoint_get_checked(id).await?;
        for (k, v) in changes {
            match k.as_str() {
                "id" | "links" | "region" => {}
                "service_id" => e.service_id = v.as_str().unwrap_or_default().to_string(),
                "interface" => e.interface = v.as_str().unwrap_or_default().to_string(),
                "region_id" => e.region_id = v.as_str().map(str::to_string),
                "url" => e.url = v.as_str().unwrap_or_default().to_string(),
                "enabled" => e.enabled = v.as_bool().unwrap_or(e.enabled),
                _ => {
                    e.extra.insert(k.clone(), v.clone());
                }
            }
        }
        self.endpoint_check_references(&e).await?;
        cdb::endpoint_update(&self.db, &e).await?;
        self.bump();
        Ok(e)
    }

    pub async fn endpoint_delete(&self, id: &str) -> Result<()> {
        if cdb::endpoint_delete(&self.db, id).await? == 0 {
            return Err(KeystoneError::not_found("endpoint", id));
        }
        self.bump();
        Ok(())
    }

    // ----------------------------------------------------------------------- endpoint groups

    pub async fn endpoint_group_get_checked(&self, id: &str) -> Result<EndpointGroup> {
        cdb::endpoint_group_get(&self.db, id).await?.ok_or_else(|| KeystoneError::NotFoundMessage(format!("Could not find Endpoint Group: {id}.")))
    }

    pub async fn endpoint_group_create(&self, g: EndpointGroup) -> Result<EndpointGroup> {
        if g.filters.is_empty() {
            return Err(KeystoneError::Validation("filters field is required and cannot be empty".into()));
        }
        validate_endpoint_group_filters(&g.filters)?;
        cdb::endpoint_group_create(&self.db, &g).await?;
        self.bump();
        Ok(g)
    }

    pub async fn endpoint_group_update(&self, id: &str, changes: &Map<String, Value>) -> Result<EndpointGroup> {
        let mut g = self.endpoint_group_get_checked(id).await?;
        if let Some(Value::Object(f)) = changes.get("filters") {
            validate_endpoint_group_filters(f)?;
            g.filters = f.clone();
        }
        if let Some(Value::String(n)) = changes.get("name") {
            g.name = n.clone();
        }
        if let Some(d) = changes.get("description") {
            g.description = d.as_str().unwrap_or_default().to_string();
        }
        cdb::endpoint_group_update(&self.db, &g).await?;
        self.bump();
        Ok(g)
    }

    pub async fn endpoint_group_delete(&self, id: &str) -> Result<()> {
        if cdb::endpoint_group_delete(&self.db, id).await? == 0 {
            return Err(KeystoneError::NotFoundMessage(format!("Could not find Endpoint Group: {id}.")));
        }
        self.bump();
        Ok(())
    }

    /// The endpoints an endpoint group's filters select.
    pub async fn endpoints_in_group(&self, id: &str) -> Result<Vec<Endpoint>> {
        let g = self.endpoint_group_get_checked(id).await?;
        Ok(cdb::endpoint_list(&self.db).await?.into_iter().filter(|e| endpoint_matches_filters(e, &g.filters)).collect())
    }

    // ------------------------------------------------------------------ project associations

    pub async fn project_endpoint_add(&self, project_id: &str, endpoint_id: &str) -> Result<()> {
        self.endpoint_get_checked(endpoint_id).await?;
        self.project_get_checked(project_id).await?;
        cdb::project_endpoint_add(&self.db, project_id, endpoint_id).await?;
        self.bump();
        Ok(())
    }

    pub async fn project_endpoint_check(&self, project_id: &str, endpoint_id: &str) -> Result<()> {
        self.endpoint_get_checked(endpoint_id).await?;
        self.project_get_checked(project_id).await?;
        if !cdb::project_endpoint_exists(&self.db, project_id, endpoint_id).await? {
            return Err(KeystoneError::NotFoundMessage(format!("Endpoint {endpoint_id} not found in project {project_id}")));
        }
        Ok(())
    }

    pub async fn project_endpoint_remove(&self, project_id: &str, endpoint_id: &str) -> Result<()> {
        if cdb::project_endpoint_remove(&self.db, project_id, endpoint_id).await? == 0 {
            return Err(KeystoneError::NotFoundMessage(format!("Endpoint {endpoint_id} not found in project {project_id}")));
        }
        self.bump();
        Ok(())
    }

    /// The endpoints a project is associated with, directly or through endpoint groups.
    pub async fn endpoints_for_project(&self, project_id: &str) -> Result<Vec<Endpoint>> {
        self.project_get_checked(project_id).await?;
        let direct: HashSet<String> = cdb::project_endpoint_ids(&self.db, project_id).await?.into_iter().collect();
        let mut groups = Vec::new();
        for gid in cdb::project_endpoint_group_ids(&self.db, project_id).await? {
            if let Some(g) = cdb::endpoint_group_get(&self.db, &gid).await? {
                groups.push(g);
            }
        }
        let mut out: BTreeMap<String, Endpoint> = BTreeMap::new();
        for e in cdb::endpoint_list(&self.db).await? {
            if direct.contains(&e.id) || groups.iter().any(|g| endpoint_matches_filters(&e, &g.filters)) {
                out.insert(e.id.clone(), e);
            }
        }
        Ok(out.into_values().collect())
    }

    /// The projects an endpoint is directly associated with.
    pub async fn projects_for_endpoint(&self, endpoint_id: &str) -> Result<Vec<rdb::Project>> {
        self.endpoint_get_checked(endpoint_id).await?;
        let ids = cdb::projects_for_endpoint(&self.db, endpoint_id).await?;
        Ok(rdb::project_list_by_ids(&self.db, &ids).await?)
    }

    pub async fn endpoint_groups_for_project(&self, project_id: &str) -> Result<Vec<EndpointGroup>> {
        self.project_get_checked(project_id).await?;
        let mut out = Vec::new();
        for gid in cdb::project_endpoint_group_ids(&self.db, project_id).await? {
            if let Some(g) = cdb::endpoint_group_get(&self.db, &gid).await? {
                out.push(g);
            }
        }
        Ok(out)
    }

    pub async fn projects_for_endpoint_group(&self, group_id: &str) -> Result<Vec<rdb::Project>> {
        self.endpoint_group_get_checked(group_id).await?;
        let ids = cdb::projects_for_endpoint_group(&self.db, group_id).await?;
        Ok(rdb::project_list_by_ids(&self.db, &ids).await?)
    }

    pub async fn project_endpoint_group_check(&self, group_id: &str, project_id: &str) -> Result<()> {
        self.project_get_checked(project_id).await?;
        self.endpoint_group_get_checked(group_id).await?;
        if !cdb::project_endpoint_group_exists(&self.db, project_id, group_id).await? {
            return Err(KeystoneError::NotFoundMessage("Endpoint Group Project Association not found".into()));
        }
        Ok(())
    }

    pub async fn project_endpoint_group_add(&self, group_id: &str, project_id: &str) -> Result<()> {
        self.project_get_checked(project_id).await?;
        self.endpoint_group_get_checked(group_id).await?;
        if cdb::project_endpoint_group_exists(&self.db, project_id, group_id).await? {
            return Err(KeystoneError::duplicate("project_endpoint_group", "Duplicate entry"));
        }
        cdb::project_endpoint_group_add(&self.db, project_id, group_id).await?;
        self.bump();
        Ok(())
    }

    pub async fn project_endpoint_group_remove(&self, group_id: &str, project_id: &str) -> Result<()> {
        self.project_get_checked(project_id).await?;
        self.endpoint_group_get_checked(group_id).await?;
        if cdb::project_endpoint_group_remove(&self.db, project_id, group_id).await? == 0 {
            return Err(KeystoneError::NotFoundMessage("Endpoint Group Project Association not found".into()));
        }
        self.bump();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn region(id: &str, parent: Option<&str>) -> Region {
        Region { id: id.into(), description: String::new(), parent_region_id: parent.map(str::to_string), extra: Map::new() }
    }

    #[test]
    fn endpoint_group_filters_are_checked() {
        let ok = json!({"service_id": "s", "interface": "public", "region_id": "r"});
        assert!(validate_endpoint_group_filters(ok.as_object().unwrap()).is_ok());
        let bad_key = json!({"url": "x"});
        let e = validate_endpoint_group_filters(bad_key.as_object().unwrap()).unwrap_err();
        assert!(e.to_string().starts_with("Expecting to find service_id or region_id or interface in endpoint_group."));
        let bad_interface = json!({"interface": "private"});
        assert!(validate_endpoint_group_filters(bad_interface.as_object().unwrap()).is_err());
    }

    #[test]
    fn endpoint_urls_allow_only_known_substitutions() {
        assert!(check_endpoint_url("http://localhost:8774/v2.1/$(project_id)s").is_ok());
        assert!(check_endpoint_url("http://localhost:8774/v2.1/%(tenant_id)s").is_ok());
        assert!(check_endpoint_url("http://localhost:8774/$(admin_token)s").is_err());
        assert!(check_endpoint_url("http://localhost:8774/$(project_id").is_err());
    }

    #[test]
    fn region_cycles_and_subtrees() {
        let regions = vec![region("a", None), region("b", Some("a")), region("c", Some("b")), region("d", None)];
        assert!(region_parent_creates_cycle(&regions, "a", "c"));
        assert!(region_parent_creates_cycle(&regions, "a", "a"));
        assert!(!region_parent_creates_cycle(&regions, "c", "d"));
        let mut sub = region_subtree(&regions, "a");
        sub.sort();
        assert_eq!(sub, vec!["a", "b", "c"]);
    }
}
