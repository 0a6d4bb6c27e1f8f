//! `/v3/domains` and `/v3/projects` with tags (keystone/api/domains.py, projects.py).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::body::{Fields, JsonBody, check_name, extra_from};
use super::{links, matches_filter, QueryMap};
use crate::app::{query_bool, Caller, SharedApp};
use crate::db::resource::{self as rdb, Project};
use crate::error::{KeystoneError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v3/domains", get(domain_list).post(domain_create))
        .route("/v3/domains/{domain_id}", get(domain_show).patch(domain_update).delete(domain_delete))
        .route("/v3/projects", get(project_list).post(project_create))
        .route("/v3/projects/{project_id}", get(project_show).patch(project_update).delete(project_delete))
        .route("/v3/projects/{project_id}/tags", get(tag_list).put(tag_replace).delete(tag_clear))
        .route("/v3/projects/{project_id}/tags/{tag}", put(tag_add).get(tag_check).head(tag_check).delete(tag_remove))
}

pub fn project_view(base: &str, p: &Project, tags: &[String]) -> Value {
    let mut v = Map::new();
    for (k, x) in &p.extra {
        v.insert(k.clone(), x.clone());
    }
    v.insert("id".into(), json!(p.id));
    v.insert("name".into(), json!(p.name));
    // A project acting as a domain has no domain of its own on the wire.
    v.insert("domain_id".into(), if p.is_domain { Value::Null } else { json!(p.domain_id) });
    v.insert("description".into(), json!(p.description));
    v.insert("enabled".into(), json!(p.enabled));
    v.insert("parent_id".into(), json!(p.parent_id));
    v.insert("is_domain".into(), json!(p.is_domain));
    v.insert("tags".into(), json!(tags));
    v.insert("options".into(), json!({}));
    v.insert("links".into(), links(base, &format!("projects/{}", p.id)));
    Value::Object(v)
}

pub fn domain_view(base: &str, d: &Project) -> Value {
    let mut v = Map::new();
    for (k, x) in &d.extra {
        v.insert(k.clone(), x.clone());
    }
    v.insert("id".into(), json!(d.id));
    v.insert("name".into(), json!(d.name));
    v.insert("description".into(), json!(d.description));
    v.insert("enabled".into(), json!(d.enabled));
    v.insert("tags".into(), json!([]));
    v.insert("options".into(), json!({}));
    v.insert("links".into(), links(base, &format!("domains/{}", d.id)));
    Value::Object(v)
}


fn tags_from(body: &Map<String, Value>) -> Result<Option<Vec<String>>> {
    match body.get("tags") {
        None => Ok(None),
        Some(Value::Array(a)) => a.iter().map(|t| t.as_str().map(str::to_string).ok_or_else(|| KeystoneError::invalid_field("tags", "items must be strings"))).collect::<Result<Vec<_>>>().map(Some),
        Some(_) => Err(KeystoneError::invalid_field("tags", "must be a list")),
    }
}

// ----------------------------------------------------------------------------------- domains

async fn domain_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_domains", json!({}))?;
    let base = super::base_url(&app, &headers);
    let mut out = Vec::new();
    for d in rdb::domain_list(&app.db).await? {
        if !matches_filter(Some(&d.name), "name", &query) {
            continue;
        }
        if let Some(e) = query.get("enabled") {
            if d.enabled != query_bool(e) {
                continue;
            }
        }
        // Domain-scoped readers see their own domain only.
        if !app.allowed(&caller, "identity:get_domain", &json!({"target": {"domain": {"id": d.id}}, "domain_id": d.id})) {
            continue;
        }
        out.push(domain_view(&base, &d));
    }
    Ok(Json(super::collection("domains", out, super::self_href(&base, &uri))))
}

async fn domain_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_domain", json!({"target": {"domain": {"id": id}}, "domain_id": id}))?;
    let d = app.domain_get_checked(&id).await?;
    Ok(Json(json!({"domain": domain_view(&super::base_url(&app, &headers), &d)})))
}

async fn domain_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_domain", json!({}))?;
    let body = body.entity("domain")?;
    let name = body.req_str("name", 64)?;
    check_name("name", &name)?;
    let d = Project {
        id: match body.opt_str("explicit_domain_id", 64)? {
            Some(id) => id,
            None => common::ids::new_hex_id(),
        },
        name,
        domain_id: String::new(),
        parent_id: None,
        description: body.opt_str("description", 65535)?.unwrap_or_default(),
        enabled: body.opt_bool("enabled")?.unwrap_or(true),
        is_domain: true,
        extra: extra_from(&body, &["id", "name", "description", "enabled", "tags", "options", "explicit_domain_id", "links"]),
    };
    let d = app.domain_create(d, vec![]).await?;
    Ok((StatusCode::CREATED, Json(json!({"domain": domain_view(&super::base_url(&app, &headers), &d)}))))
}

async fn domain_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:update_domain", json!({"target": {"domain": {"id": id}}}))?;
    let body = body.entity("domain")?;
    if let Some(n) = body.opt_str("name", 64)? {
        check_name("name", &n)?;
    }
    body.opt_bool("enabled")?;
    body.nullable_str("description", 65535)?;
    if body.get("id").is_some_and(|v| v.as_str() != Some(id.as_str())) {
        return Err(KeystoneError::Validation("Cannot change the ID of a domain.".into()));
    }
    let d = app.domain_get_checked(&id).await?;
    let d = app.project_update(d, &body, None).await?;
    Ok(Json(json!({"domain": domain_view(&super::base_url(&app, &headers), &d)})))
}

async fn domain_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:delete_domain", json!({"target": {"domain": {"id": id}}}))?;
    let d = app.domain_get_checked(&id).await?;
    app.domain_delete(&d).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------- projects

fn tag_filter(tags: &[String], query: &QueryMap) -> bool {
    let list = |k: &str| query.get(k).map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>());
    if let Some(all) = list("tags") {
        if !all.iter().all(|t| tags.contains(t)) {
            return false;
        }
    }
    if let Some(any) = list("tags-any") {
        if !any.iter().any(|t| tags.contains(t)) {
            return false;
        }
    }
    if let Some(all) = list("not-tags") {
        if all.iter().all(|t| tags.contains(t)) {
            return false;
        }
    }
    if let Some(any) = list("not-tags-any") {
        if any.iter().any(|t| tags.contains(t)) {
            return false;
        }
    }
    true
}

async fn project_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    let domain_filter = query.get("domain_id").cloned();
    app.enforce(&caller, "identity:list_projects", super::domain_filter_target(domain_filter.as_deref()))?;
    let base = super::base_url(&app, &headers);
    let mut all_tags: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (p, t) in rdb::project_tags_all(&app.db).await? {
        all_tags.entry(p).or_default().push(t);
    }
    let is_domain = query.get("is_domain").map(|v| query_bool(v)).unwrap_or(false);
    let source = if is_domain { rdb::domain_list(&app.db).await? } else { rdb::project_list(&app.db, domain_filter.as_deref()).await? };
    let mut out = Vec::new();
    for p in source {
        let tags = all_tags.get(&p.id).cloned().unwrap_or_default();
        if !matches_filter(Some(&p.name), "name", &query) || !tag_filter(&tags, &query) {
            continue;
        }
        if let Some(e) = query.get("enabled") {
            if p.enabled != query_bool(e) {
                continue;
            }
        }
        if let Some(parent) = query.get("parent_id") {
            if p.parent_id.as_deref() != Some(parent.as_str()) {
                continue;
            }
        }
        if !app.allowed(&caller, "identity:get_project", &json!({"target": {"project": {"id": p.id, "domain_id": p.domain_id}}, "project_id": p.id})) {
            continue;
        }
        out.push(project_view(&base, &p, &tags));
    }
    Ok(Json(super::collection("projects", out, super::self_href(&base, &uri))))
}

async fn project_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, query: QueryMap) -> Result<Json<Value>> {
    let p = rdb::project_or_domain_get(&app.db, &id).await?;
    let target = json!({"target": {"project": {"id": id, "domain_id": p.as_ref().map(|p| p.domain_id.clone())}}, "project_id": id});
    app.enforce(&caller, "identity:get_project", target)?;
    let p = p.ok_or_else(|| KeystoneError::not_found("project", &id))?;
    let base = super::base_url(&app, &headers);
    let tags = rdb::project_tags(&app.db, &p.id).await?;
    let mut v = project_view(&base, &p, &tags);
    let flag = |k: &str| query.contains_key(k);
    if flag("parents_as_list") || flag("parents_as_ids") {
        let ancestors = rdb::project_ancestors(&app.db, &p).await?;
        if flag("parents_as_list") {
            v["parents"] = Value::Array(ancestors.iter().map(|a| json!({"project": project_view(&base, a, &[])})).collect());
        } else {
            let mut ids = Value::Null;
            for a in ancestors.iter().rev() {
                let mut m = Map::new();
                m.insert(a.id.clone(), ids);
                ids = Value::Object(m);
            }
            v["parents"] = ids;
        }
    }
    if flag("subtree_as_list") || flag("subtree_as_ids") {
        let subtree = rdb::project_descendants(&app.db, &p.id).await?;
        if flag("subtree_as_list") {
            v["subtree"] = Value::Array(subtree.iter().map(|a| json!({"project": project_view(&base, a, &[])})).collect());
        } else {
            v["subtree"] = subtree_ids(&subtree, &p.id);
        }
    }
    Ok(Json(json!({"project": v})))
}

fn subtree_ids(all: &[Project], root: &str) -> Value {
    let children: Vec<&Project> = all.iter().filter(|c| c.parent_id.as_deref() == Some(root)).collect();
    if children.is_empty() {
        return Value::Null;
    }
    let mut m = Map::new();
    for c in children {
        m.insert(c.id.clone(), subtree_ids(all, &c.id));
    }
    Value::Object(m)
}

async fn project_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    let body = body.entity("project")?;
    let name = body.req_str("name", 64)?;
    check_name("name", &name)?;
    let mut domain_id = body.nullable_str("domain_id", 64)?.flatten();
    let parent_id = body.nullable_str("parent_id", 64)?.flatten();
    if domain_id.is_none() {
        if let Some(pid) = &parent_id {
            domain_id = rdb::project_or_domain_get(&app.db, pid).await?.map(|p| if p.is_domain { p.id } else { p.domain_id });
        }
    }
    let domain_id = domain_id.unwrap_or_else(|| app.default_domain_for(&caller));
    app.enforce(&caller, "identity:create_project", json!({"target": {"project": {"domain_id": domain_id, "parent_id": parent_id}}}))?;
    let tags = tags_from(&body)?.unwrap_or_default();
    let p = Project {
        id: common::ids::new_hex_id(),
        name,
        domain_id,
        parent_id,
        description: body.opt_str("description", 65535)?.unwrap_or_default(),
        enabled: body.opt_bool("enabled")?.unwrap_or(true),
        is_domain: body.opt_bool("is_domain")?.unwrap_or(false),
        extra: extra_from(&body, &["id", "name", "domain_id", "parent_id", "description", "enabled", "is_domain", "tags", "options", "links"]),
    };
    let p = app.project_create(p, tags.clone()).await?;
    Ok((StatusCode::CREATED, Json(json!({"project": project_view(&super::base_url(&app, &headers), &p, &tags)}))))
}

async fn project_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    let body = body.entity("project")?;
    let p = rdb::project_or_domain_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:update_project", json!({"target": {"project": {"id": id, "domain_id": p.as_ref().map(|p| p.domain_id.clone())}}}))?;
    let p = p.ok_or_else(|| KeystoneError::not_found("project", &id))?;
    if let Some(n) = body.opt_str("name", 64)? {
        check_name("name", &n)?;
    }
    body.opt_bool("enabled")?;
    body.nullable_str("description", 65535)?;
    if let Some(d) = body.get("domain_id") {
        if !p.is_domain && d.as_str() != Some(p.domain_id.as_str()) {
            return Err(KeystoneError::Validation("Cannot change Domain ID".into()));
        }
    }
    if let Some(parent) = body.get("parent_id") {
        if !p.is_domain && parent.as_str() != p.parent_id.as_deref() {
            return Err(KeystoneError::Forbidden("Update of `parent_id` is not allowed.".into()));
        }
    }
    if body.get("is_domain").is_some_and(|v| v.as_bool() != Some(p.is_domain)) {
        return Err(KeystoneError::Validation("Update of `is_domain` is not allowed.".into()));
    }
    let tags = tags_from(&body)?;
    let p = app.project_update(p, &body, tags).await?;
    let tags = rdb::project_tags(&app.db, &p.id).await?;
    Ok(Json(json!({"project": project_view(&super::base_url(&app, &headers), &p, &tags)})))
}

async fn project_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>, query: QueryMap) -> Result<StatusCode> {
    let p = rdb::project_or_domain_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:delete_project", json!({"target": {"project": {"id": id, "domain_id": p.as_ref().map(|p| p.domain_id.clone())}}}))?;
    let p = p.ok_or_else(|| KeystoneError::not_found("project", &id))?;
    if p.is_domain {
        app.domain_delete(&p).await?;
    } else {
        app.project_delete(&p, query.get("cascade").is_some_and(|v| query_bool(v))).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

// -------------------------------------------------------------------------------------- tags

async fn tagged_project(app: &SharedApp, caller: &Caller, id: &str, action: &str) -> Result<Project> {
    let p = rdb::project_get(&app.db, id).await?;
    app.enforce(caller, action, json!({"target": {"project": {"id": id, "domain_id": p.as_ref().map(|p| p.domain_id.clone())}}, "project_id": id}))?;
    p.ok_or_else(|| KeystoneError::not_found("project", id))
}

async fn tag_list(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>> {
    let p = tagged_project(&app, &caller, &id, "identity:list_project_tags").await?;
    Ok(Json(json!({"tags": rdb::project_tags(&app.db, &p.id).await?})))
}

async fn tag_replace(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>, JsonBody(body): JsonBody) -> Result<Json<Value>> {
    let p = tagged_project(&app, &caller, &id, "identity:update_project_tags").await?;
    let tags = tags_from(&body)?.ok_or_else(|| KeystoneError::invalid_field("tags", "'tags' is a required property"))?;
    let p = app.project_update(p, &Map::new(), Some(tags)).await?;
    Ok(Json(json!({"tags": rdb::project_tags(&app.db, &p.id).await?})))
}

async fn tag_clear(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    let p = tagged_project(&app, &caller, &id, "identity:delete_project_tags").await?;
    app.project_update(p, &Map::new(), Some(vec![])).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tag_add(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path((id, tag)): Path<(String, String)>) -> Result<(StatusCode, HeaderMap)> {
    let p = tagged_project(&app, &caller, &id, "identity:create_project_tag").await?;
    let mut tags = rdb::project_tags(&app.db, &p.id).await?;
    if !tags.contains(&tag) {
        tags.push(tag.clone());
    }
    app.project_update(p, &Map::new(), Some(tags)).await?;
    let mut h = HeaderMap::new();
    if let Ok(v) = format!("{}/v3/projects/{id}/tags/{tag}", super::base_url(&app, &headers)).parse() {
        h.insert("location", v);
    }
    Ok((StatusCode::CREATED, h))
}

async fn tag_check(State(app): State<SharedApp>, caller: Caller, Path((id, tag)): Path<(String, String)>) -> Result<StatusCode> {
    let p = tagged_project(&app, &caller, &id, "identity:get_project_tag").await?;
    if rdb::project_tags(&app.db, &p.id).await?.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(KeystoneError::not_found("project tag", tag))
    }
}

async fn tag_remove(State(app): State<SharedApp>, caller: Caller, Path((id, tag)): Path<(String, String)>) -> Result<StatusCode> {
    let p = tagged_project(&app, &caller, &id, "identity:delete_project_tag").await?;
    let mut tags = rdb::project_tags(&app.db, &p.id).await?;
    let before = tags.len();
    tags.retain(|t| *t != tag);
    if tags.len() == before {
        return Err(KeystoneError::not_found("project tag", tag));
    }
    app.project_update(p, &Map::new(), Some(tags)).await?;
    Ok(StatusCode::NO_CONTENT)
}
