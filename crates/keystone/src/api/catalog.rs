//! `/v3/regions`, `/v3/services`, `/v3/endpoints` and OS-EP-FILTER (keystone/api/regions.py,
//! services.py, endpoints.py, os_ep_filter.py): thin handlers over [`crate::app::catalog_admin`].

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::body::{Fields, JsonBody, check_name, extra_from, matching_id, not_empty};
use super::{collection, links, matches_filter, self_href, QueryMap};
use crate::app::catalog_admin::INTERFACES;
use crate::app::{Caller, SharedApp};
use crate::db::catalog::{Endpoint, EndpointGroup, Region, Service};
use crate::error::{KeystoneError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v3/regions", get(region_list).post(region_create))
        .route("/v3/regions/{region_id}", get(region_show).put(region_put).patch(region_update).delete(region_delete))
        .route("/v3/services", get(service_list).post(service_create))
        .route("/v3/services/{service_id}", get(service_show).patch(service_update).delete(service_delete))
        .route("/v3/endpoints", get(endpoint_list).post(endpoint_create))
        .route("/v3/endpoints/{endpoint_id}", get(endpoint_show).patch(endpoint_update).delete(endpoint_delete))
        .route("/v3/OS-EP-FILTER/endpoint_groups", get(group_list).post(group_create))
        .route("/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}", get(group_show).patch(group_update).delete(group_delete))
        .route("/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects", get(group_projects))
        .route("/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/endpoints", get(group_endpoints))
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}",
            get(group_project_check).put(group_project_add).delete(group_project_remove),
        )
        .route("/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects", get(endpoint_projects))
        .route("/v3/OS-EP-FILTER/projects/{project_id}/endpoints", get(project_endpoints))
        .route(
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}",
            get(project_endpoint_check).put(project_endpoint_add).delete(project_endpoint_remove),
        )
        .route("/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups", get(project_groups))
}

// -------------------------------------------------------------------------------------- views

fn with_extra(extra: &Map<String, Value>) -> Map<String, Value> {
    extra.clone()
}

pub fn region_view(base: &str, r: &Region) -> Value {
    let mut v = with_extra(&r.extra);
    v.insert("id".into(), json!(r.id));
    v.insert("description".into(), json!(r.description));
    v.insert("parent_region_id".into(), json!(r.parent_region_id));
    v.insert("links".into(), links(base, &format!("regions/{}", r.id)));
    Value::Object(v)
}

pub fn service_view(base: &str, s: &Service) -> Value {
    let mut v = with_extra(&s.extra);
    v.insert("id".into(), json!(s.id));
    v.insert("type".into(), json!(s.service_type));
    v.insert("enabled".into(), json!(s.enabled));
    v.insert("links".into(), links(base, &format!("services/{}", s.id)));
    Value::Object(v)
}

pub fn endpoint_view(base: &str, e: &Endpoint) -> Value {
    let mut v = with_extra(&e.extra);
    v.insert("id".into(), json!(e.id));
    v.insert("interface".into(), json!(e.interface));
    v.insert("region_id".into(), json!(e.region_id));
    v.insert("region".into(), json!(e.region_id));
    v.insert("service_id".into(), json!(e.service_id));
    v.insert("url".into(), json!(e.url));
    v.insert("enabled".into(), json!(e.enabled));
    v.insert("links".into(), links(base, &format!("endpoints/{}", e.id)));
    Value::Object(v)
}

pub fn endpoint_group_view(base: &str, g: &EndpointGroup) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "filters": g.filters,
        "links": links(base, &format!("OS-EP-FILTER/endpoint_groups/{}", g.id)),
    })
}




/// A region id (or parent id): a string of 1 to 255 characters, or null.
fn region_id_field(body: &Map<String, Value>, key: &str, min: usize) -> Result<Option<String>> {
    let v = body.nullable_str(key, 255)?.flatten();
    if let Some(s) = &v {
        if s.chars().count() < min {
            return Err(KeystoneError::invalid_field(key, format!("'{s}' is too short")));
        }
    }
    Ok(v)
}

// ------------------------------------------------------------------------------------ regions

async fn region_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_regions", json!({}))?;
    let base = super::base_url(&app, &headers);
    let items = crate::db::catalog::region_list(&app.db)
        .await?
        .iter()
        .filter(|r| matches_filter(r.parent_region_id.as_deref(), "parent_region_id", &query))
        .map(|r| region_view(&base, r))
        .collect();
    Ok(Json(collection("regions", items, self_href(&base, &uri))))
}

fn region_from_body(body: &Map<String, Value>, id: String) -> Result<Region> {
    let parent_region_id = region_id_field(body, "parent_region_id", 1)?;
    let description = match body.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Ok(Region { id, description, parent_region_id, extra: extra_from(body, &["id", "description", "parent_region_id", "links"]) })
}

async fn region_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_region", json!({}))?;
    let body = body.entity("region")?;
    let id = region_id_field(&body, "id", 0)?.filter(|s| !s.is_empty()).unwrap_or_else(common::ids::new_hex_id);
    let r = app.region_create(region_from_body(&body, id)?).await?;
    Ok((StatusCode::CREATED, Json(json!({"region": region_view(&super::base_url(&app, &headers), &r)}))))
}

/// PUT /v3/regions/{region_id}: creates a region with the id of the path.
async fn region_put(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_region", json!({}))?;
    let body = body.entity("region")?;
    if let Some(given) = region_id_field(&body, "id", 0)? {
        if given != id {
            return Err(KeystoneError::Validation(format!("Conflicting region IDs specified: \"{id}\" != \"{given}\"")));
        }
    }
    let r = app.region_create(region_from_body(&body, id)?).await?;
    Ok((StatusCode::CREATED, Json(json!({"region": region_view(&super::base_url(&app, &headers), &r)}))))
}

async fn region_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_region", json!({}))?;
    let r = app.region_get_checked(&id).await?;
    Ok(Json(json!({"region": region_view(&super::base_url(&app, &headers), &r)})))
}

async fn region_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:update_region", json!({}))?;
    let body = body.entity("region")?;
    not_empty("region", &body)?;
    region_id_field(&body, "parent_region_id", 1)?;
    matching_id(&body, &id)?;
    let r = app.region_update(&id, &body).await?;
    Ok(Json(json!({"region": region_view(&super::base_url(&app, &headers), &r)})))
}

async fn region_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:delete_region", json!({}))?;
    app.region_delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----------------------------------------------------------------------------------- services

/// Checks the service attributes the schema types (type, name, enabled).
fn check_service_fields(body: &Map<String, Value>) -> Result<()> {
    for key in ["type", "name"] {
        if let Some(s) = body.opt_str(key, 255)? {
            if s.is_empty() {
                return Err(KeystoneError::invalid_field(key, "'' is too short"));
            }
        }
    }
    body.opt_bool("enabled")?;
    Ok(())
}

async fn service_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_services", json!({}))?;
    let base = super::base_url(&app, &headers);
    let items = crate::db::catalog::service_list(&app.db)
        .await?
        .iter()
        .filter(|s| matches_filter(Some(&s.service_type), "type", &query) && matches_filter(s.extra.get("name").and_then(Value::as_str), "name", &query))
        .map(|s| service_view(&base, s))
        .collect();
    Ok(Json(collection("services", items, self_href(&base, &uri))))
}

async fn service_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_service", json!({}))?;
    let body = body.entity("service")?;
    let service_type = body.req_str("type", 255)?;
    check_service_fields(&body)?;
    let mut extra = extra_from(&body, &["id", "type", "enabled", "links"]);
    extra.entry("name").or_insert_with(|| json!(""));
    let s = Service { id: common::ids::new_hex_id(), service_type, enabled: body.opt_bool("enabled")?.unwrap_or(true), extra };
    let s = app.service_create(s).await?;
    Ok((StatusCode::CREATED, Json(json!({"service": service_view(&super::base_url(&app, &headers), &s)}))))
}

async fn service_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_service", json!({}))?;
    let s = app.service_get_checked(&id).await?;
    Ok(Json(json!({"service": service_view(&super::base_url(&app, &headers), &s)})))
}

async fn service_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:update_service", json!({}))?;
    let body = body.entity("service")?;
    not_empty("service", &body)?;
    check_service_fields(&body)?;
    matching_id(&body, &id)?;
    let s = app.service_update(&id, &body).await?;
    Ok(Json(json!({"service": service_view(&super::base_url(&app, &headers), &s)})))
}

async fn service_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:delete_service", json!({}))?;
    app.service_delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------- endpoints

fn check_interface(key: &str, v: &str) -> Result<()> {
    if !INTERFACES.contains(&v) {
        return Err(KeystoneError::invalid_field(key, format!("'{v}' is not one of ['admin', 'internal', 'public']")));
    }
    Ok(())
}

/// Checks the typed endpoint attributes of a create or update body.
fn check_endpoint_fields(body: &Map<String, Value>) -> Result<()> {
    if let Some(i) = body.opt_str("interface", 255)? {
        check_interface("interface", &i)?;
    }
    body.opt_str("service_id", 255)?;
    body.nullable_str("region_id", 255)?;
    body.nullable_str("region", 255)?;
    body.opt_bool("enabled")?;
    if let Some(url) = body.opt_str("url", 225)? {
        let scheme_ok = url.split_once(':').is_some_and(|(scheme, rest)| {
            !scheme.is_empty() && !rest.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        });
        if !scheme_ok {
            return Err(KeystoneError::invalid_field("url", format!("'{url}' does not match '^[a-zA-Z0-9+.-]+:.+'")));
        }
    }
    Ok(())
}

/// Resolves `region_id` / legacy `region` (auto-creating a legacy region, as upstream).
async fn endpoint_region(app: &SharedApp, body: &mut Map<String, Value>) -> Result<()> {
    let region_id = body.get("region_id").and_then(Value::as_str).map(str::to_string);
    let legacy = body.get("region").and_then(Value::as_str).map(str::to_string);
    if region_id.is_none() {
        if let Some(r) = legacy {
            app.endpoint_legacy_region(&r).await?;
            body.insert("region_id".into(), json!(r));
        }
    }
    body.remove("region");
    Ok(())
}

async fn endpoint_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_endpoints", json!({}))?;
    if let Some(i) = query.get("interface") {
        check_interface("interface", i)?;
    }
    let base = super::base_url(&app, &headers);
    let items = crate::db::catalog::endpoint_list(&app.db)
        .await?
        .iter()
        .filter(|e| {
            matches_filter(Some(&e.interface), "interface", &query)
                && matches_filter(Some(&e.service_id), "service_id", &query)
                && matches_filter(e.region_id.as_deref(), "region_id", &query)
        })
        .map(|e| endpoint_view(&base, e))
        .collect();
    Ok(Json(collection("endpoints", items, self_href(&base, &uri))))
}

async fn endpoint_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_endpoint", json!({}))?;
    let mut body = body.entity("endpoint")?;
    let interface = body.req_str("interface", 255)?;
    let service_id = body.req_str("service_id", 255)?;
    let url = body.req_str("url", 225)?;
    check_endpoint_fields(&body)?;
    crate::app::catalog_admin::check_endpoint_url(&url)?;
    endpoint_region(&app, &mut body).await?;
    let e = Endpoint {
        id: common::ids::new_hex_id(),
        service_id,
        interface,
        region_id: body.get("region_id").and_then(Value::as_str).map(str::to_string),
        url,
        enabled: body.opt_bool("enabled")?.unwrap_or(true),
        extra: extra_from(&body, &["id", "service_id", "interface", "region_id", "region", "url", "enabled", "links", "legacy_endpoint_id"]),
    };
    let e = app.endpoint_create(e).await?;
    Ok((StatusCode::CREATED, Json(json!({"endpoint": endpoint_view(&super::base_url(&app, &headers), &e)}))))
}

async fn endpoint_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_endpoint", json!({}))?;
    let e = app.endpoint_get_checked(&id).await?;
    Ok(Json(json!({"endpoint": endpoint_view(&super::base_url(&app, &headers), &e)})))
}

async fn endpoint_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:update_endpoint", json!({}))?;
    let mut body = body.entity("endpoint")?;
    not_empty("endpoint", &body)?;
    check_endpoint_fields(&body)?;
    matching_id(&body, &id)?;
    if let Some(url) = body.get("url").and_then(Value::as_str) {
        crate::app::catalog_admin::check_endpoint_url(url)?;
    }
    endpoint_region(&app, &mut body).await?;
    body.remove("legacy_endpoint_id");
    let e = app.endpoint_update(&id, &body).await?;
    Ok(Json(json!({"endpoint": endpoint_view(&super::base_url(&app, &headers), &e)})))
}

async fn endpoint_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:delete_endpoint", json!({}))?;
    app.endpoint_delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --------------------------------------------------------------------- OS-EP-FILTER: groups

const ENDPOINT_GROUP_KEYS: [&str; 3] = ["name", "description", "filters"];

/// The endpoint group schema: no attributes beyond name, description and filters.
fn check_group_fields(body: &Map<String, Value>) -> Result<()> {
    if let Some(k) = body.keys().find(|k| !ENDPOINT_GROUP_KEYS.contains(&k.as_str())) {
        return Err(KeystoneError::Validation(format!("Additional properties are not allowed ('{k}' was unexpected)")));
    }
    if let Some(n) = body.opt_str("name", 255)? {
        check_name("name", &n)?;
    }
    body.nullable_str("description", 65535)?;
    match body.get("filters") {
        None | Some(Value::Object(_)) => Ok(()),
        Some(other) => Err(KeystoneError::invalid_field("filters", format!("{other} is not of type 'object'"))),
    }
}

async fn group_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_endpoint_groups", json!({}))?;
    let base = super::base_url(&app, &headers);
    let items = crate::db::catalog::endpoint_group_list(&app.db)
        .await?
        .iter()
        .filter(|g| matches_filter(Some(&g.name), "name", &query))
        .map(|g| endpoint_group_view(&base, g))
        .collect();
    Ok(Json(collection("endpoint_groups", items, self_href(&base, &uri))))
}

async fn group_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_endpoint_group", json!({}))?;
    let body = body.entity("endpoint_group")?;
    check_group_fields(&body)?;
    let name = body.req_str("name", 255)?;
    let filters = match body.get("filters") {
        Some(Value::Object(f)) => f.clone(),
        _ => return Err(KeystoneError::invalid_field("filters", "'filters' is a required property")),
    };
    let g = EndpointGroup {
        id: common::ids::new_hex_id(),
        name,
        description: body.nullable_str("description", 65535)?.flatten().unwrap_or_default(),
        filters,
    };
    let g = app.endpoint_group_create(g).await?;
    Ok((StatusCode::CREATED, Json(json!({"endpoint_group": endpoint_group_view(&super::base_url(&app, &headers), &g)}))))
}

async fn group_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_endpoint_group", json!({}))?;
    let g = app.endpoint_group_get_checked(&id).await?;
    Ok(Json(json!({"endpoint_group": endpoint_group_view(&super::base_url(&app, &headers), &g)})))
}

async fn group_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:update_endpoint_group", json!({}))?;
    let body = body.entity("endpoint_group")?;
    not_empty("endpoint_group", &body)?;
    check_group_fields(&body)?;
    let g = app.endpoint_group_update(&id, &body).await?;
    Ok(Json(json!({"endpoint_group": endpoint_group_view(&super::base_url(&app, &headers), &g)})))
}

async fn group_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:delete_endpoint_group", json!({}))?;
    app.endpoint_group_delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn projects_view(app: &SharedApp, base: &str, projects: &[crate::db::resource::Project]) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(projects.len());
    for p in projects {
        let tags = crate::db::resource::project_tags(&app.db, &p.id).await?;
        out.push(super::resource::project_view(base, p, &tags));
    }
    Ok(out)
}

async fn group_projects(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_projects_associated_with_endpoint_group", json!({}))?;
    let base = super::base_url(&app, &headers);
    let projects = app.projects_for_endpoint_group(&id).await?;
    Ok(Json(collection("projects", projects_view(&app, &base, &projects).await?, self_href(&base, &uri))))
}

async fn group_endpoints(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_endpoints_associated_with_endpoint_group", json!({}))?;
    let base = super::base_url(&app, &headers);
    let items = app.endpoints_in_group(&id).await?.iter().map(|e| endpoint_view(&base, e)).collect();
    Ok(Json(collection("endpoints", items, self_href(&base, &uri))))
}

async fn group_project_check(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path((group_id, project_id)): Path<(String, String)>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_endpoint_group_in_project", json!({}))?;
    app.project_endpoint_group_check(&group_id, &project_id).await?;
    let base = super::base_url(&app, &headers);
    Ok(Json(json!({"project_endpoint_group": {
        "endpoint_group_id": group_id,
        "project_id": project_id,
        "links": links(&base, &format!("OS-EP-FILTER/endpoint_groups/{group_id}/projects/{project_id}")),
    }})))
}

async fn group_project_add(State(app): State<SharedApp>, caller: Caller, Path((group_id, project_id)): Path<(String, String)>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:add_endpoint_group_to_project", json!({}))?;
    app.project_endpoint_group_add(&group_id, &project_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn group_project_remove(State(app): State<SharedApp>, caller: Caller, Path((group_id, project_id)): Path<(String, String)>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:remove_endpoint_group_from_project", json!({}))?;
    app.project_endpoint_group_remove(&group_id, &project_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --------------------------------------------------------------- OS-EP-FILTER: associations

async fn endpoint_projects(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_projects_for_endpoint", json!({}))?;
    let base = super::base_url(&app, &headers);
    let projects = app.projects_for_endpoint(&id).await?;
    Ok(Json(collection("projects", projects_view(&app, &base, &projects).await?, self_href(&base, &uri))))
}

async fn project_endpoints(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(project_id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_endpoints_for_project", json!({}))?;
    let base = super::base_url(&app, &headers);
    let items = app.endpoints_for_project(&project_id).await?.iter().map(|e| endpoint_view(&base, e)).collect();
    Ok(Json(collection("endpoints", items, self_href(&base, &uri))))
}

async fn project_endpoint_check(State(app): State<SharedApp>, caller: Caller, Path((project_id, endpoint_id)): Path<(String, String)>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:check_endpoint_in_project", json!({}))?;
    app.project_endpoint_check(&project_id, &endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn project_endpoint_add(State(app): State<SharedApp>, caller: Caller, Path((project_id, endpoint_id)): Path<(String, String)>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:add_endpoint_to_project", json!({}))?;
    app.project_endpoint_add(&project_id, &endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn project_endpoint_remove(State(app): State<SharedApp>, caller: Caller, Path((project_id, endpoint_id)): Path<(String, String)>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:remove_endpoint_from_project", json!({}))?;
    app.project_endpoint_remove(&project_id, &endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn project_groups(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(project_id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_endpoint_groups_for_project", json!({}))?;
    let base = super::base_url(&app, &headers);
    let items = app.endpoint_groups_for_project(&project_id).await?.iter().map(|g| endpoint_group_view(&base, g)).collect();
    Ok(Json(collection("endpoint_groups", items, self_href(&base, &uri))))
}
