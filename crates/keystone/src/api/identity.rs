//! `/v3/users` and `/v3/groups` (keystone/api/users.py, groups.py).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::body::{check_name, Fields, JsonBody};
use super::{links, matches_filter, QueryMap};
use crate::app::{query_bool, Caller, SharedApp};
use crate::db::identity::{self as idb, Group, User};
use crate::error::{KeystoneError, Result};
use common::time::{from_micros, iso_micros_z, to_micros};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v3/users", get(user_list).post(user_create))
        .route("/v3/users/{user_id}", get(user_show).patch(user_update).delete(user_delete))
        .route("/v3/users/{user_id}/password", post(user_password))
        .route("/v3/users/{user_id}/groups", get(user_groups))
        .route("/v3/users/{user_id}/projects", get(user_projects))
        .route("/v3/groups", get(group_list).post(group_create))
        .route("/v3/groups/{group_id}", get(group_show).patch(group_update).delete(group_delete))
        .route("/v3/groups/{group_id}/users", get(group_users))
        .route("/v3/groups/{group_id}/users/{user_id}", put(member_add).head(member_check).get(member_check).delete(member_remove))
}

const USER_KNOWN: &[&str] = &["id", "name", "domain_id", "enabled", "password", "default_project_id", "options", "links", "password_expires_at"];
const USER_OPTIONS: &[&str] = &[
    "ignore_change_password_upon_first_use",
    "ignore_password_expiry",
    "ignore_lockout_failure_attempts",
    "lock_password",
    "multi_factor_auth_enabled",
    "multi_factor_auth_rules",
    "ignore_user_inactivity",
];

pub fn user_view(base: &str, u: &User, password_expires_at: Option<i64>) -> Value {
    let mut v = Map::new();
    for (k, x) in &u.extra {
        v.insert(k.clone(), x.clone());
    }
    v.insert("id".into(), json!(u.id));
    v.insert("name".into(), json!(u.name));
    v.insert("domain_id".into(), json!(u.domain_id));
    v.insert("enabled".into(), json!(u.enabled));
    v.insert("password_expires_at".into(), json!(password_expires_at.map(|t| iso_micros_z(from_micros(t)))));
    v.insert("options".into(), Value::Object(u.options.clone()));
    if let Some(p) = &u.default_project_id {
        v.insert("default_project_id".into(), json!(p));
    }
    v.insert("links".into(), links(base, &format!("users/{}", u.id)));
    Value::Object(v)
}

fn group_view(base: &str, g: &Group) -> Value {
    let mut v = Map::new();
    for (k, x) in &g.extra {
        v.insert(k.clone(), x.clone());
    }
    v.insert("id".into(), json!(g.id));
    v.insert("name".into(), json!(g.name));
    v.insert("domain_id".into(), json!(g.domain_id));
    v.insert("description".into(), json!(g.description));
    v.insert("links".into(), links(base, &format!("groups/{}", g.id)));
    Value::Object(v)
}

fn user_target(id: &str, u: Option<&User>) -> Value {
    json!({"target": {"user": {"id": id, "domain_id": u.map(|u| u.domain_id.clone())}}, "user_id": id})
}

fn options_from(body: &Map<String, Value>, mut current: Map<String, Value>) -> Result<Map<String, Value>> {
    match body.get("options") {
        None => Ok(current),
        Some(Value::Object(o)) => {
            for (k, v) in o {
                if !USER_OPTIONS.contains(&k.as_str()) {
                    return Err(KeystoneError::invalid_field("options", format!("Additional properties are not allowed ('{k}' was unexpected)")));
                }
                if v.is_null() {
                    current.remove(k);
                } else {
                    current.insert(k.clone(), v.clone());
                }
            }
            Ok(current)
        }
        Some(_) => Err(KeystoneError::invalid_field("options", "must be an object")),
    }
}

async fn expiry_of(app: &SharedApp, user_id: &str) -> Result<Option<i64>> {
    Ok(idb::password_history(&app.db, user_id, 1).await?.first().and_then(|p| p.expires_at))
}

// ------------------------------------------------------------------------------------- users

async fn user_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    let domain = query.get("domain_id").cloned();
    app.enforce(&caller, "identity:list_users", super::domain_filter_target(domain.as_deref()))?;
    let base = super::base_url(&app, &headers);
    let expiry = idb::password_expiry_all(&app.db).await?;
    let mut out = Vec::new();
    for u in idb::user_list(&app.db, domain.as_deref()).await? {
        if !matches_filter(Some(&u.name), "name", &query) {
            continue;
        }
        if let Some(e) = query.get("enabled") {
            if u.enabled != query_bool(e) {
                continue;
            }
        }
        let exp = expiry.get(&u.id).cloned().flatten();
        if let Some(f) = query.get("password_expires_at") {
            if !expiry_filter(f, exp)? {
                continue;
            }
        }
        if !app.allowed(&caller, "identity:get_user", &user_target(&u.id, Some(&u))) {
            continue;
        }
        out.push(user_view(&base, &u, exp));
    }
    Ok(Json(super::collection("users", out, super::self_href(&base, &uri))))
}

/// `password_expires_at={lt,lte,gt,gte,eq,neq}:<timestamp>` (the operator defaults to eq); a
/// user without an expiring password never matches.
fn expiry_filter(filter: &str, value: Option<i64>) -> Result<bool> {
    // The timestamp is validated whether or not this user has an expiring password.
    let matched = common::time::matches_time_filter(filter, value.unwrap_or(0))
        .map_err(|ts| KeystoneError::Validation(format!("Invalid timestamp in password_expires_at filter: {ts}")))?;
    Ok(value.is_some() && matched)
}

async fn user_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let u = idb::user_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:get_user", user_target(&id, u.as_ref()))?;
    let u = u.ok_or_else(|| KeystoneError::not_found("user", &id))?;
    let exp = expiry_of(&app, &u.id).await?;
    Ok(Json(json!({"user": user_view(&super::base_url(&app, &headers), &u, exp)})))
}

async fn user_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    let body = body.entity("user")?;
    let name = body.req_str("name", 255)?;
    check_name("name", &name)?;
    let domain_id = body.opt_str("domain_id", 64)?.unwrap_or_else(|| app.default_domain_for(&caller));
    app.enforce(&caller, "identity:create_user", json!({"target": {"user": {"domain_id": domain_id}}}))?;
    let password = body.nullable_str("password", app.cfg.max_password_length)?.flatten();
    let default_project_id = body.nullable_str("default_project_id", 64)?.flatten();
    if let Some(p) = &default_project_id {
        if crate::db::resource::project_get(&app.db, p).await?.is_none() {
            return Err(KeystoneError::Validation(format!("Could not find project: {p}.")));
        }
    }
    let u = User {
        id: common::ids::new_hex_id(),
        domain_id,
        name,
        enabled: body.opt_bool("enabled")?.unwrap_or(true),
        default_project_id,
        extra: body.iter().filter(|(k, _)| !USER_KNOWN.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
        options: options_from(&body, Map::new())?,
        created_at: to_micros(common::time::now()),
        last_active_at: None,
        failed_auth_count: 0,
        failed_auth_at: None,
    };
    let u = app.user_create(u, password.as_deref()).await?;
    let exp = expiry_of(&app, &u.id).await?;
    Ok((StatusCode::CREATED, Json(json!({"user": user_view(&super::base_url(&app, &headers), &u, exp)}))))
}

async fn user_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    let body = body.entity("user")?;
    let old = idb::user_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:update_user", user_target(&id, old.as_ref()))?;
    let old = old.ok_or_else(|| KeystoneError::not_found("user", &id))?;
    let mut u = old.clone();
    if let Some(n) = body.opt_str("name", 255)? {
        check_name("name", &n)?;
        u.name = n;
    }
    if let Some(e) = body.opt_bool("enabled")? {
        u.enabled = e;
    }
    if body.get("domain_id").is_some_and(|d| d.as_str() != Some(u.domain_id.as_str())) {
        return Err(KeystoneError::Validation("Cannot change Domain ID".into()));
    }
    if body.get("id").is_some_and(|d| d.as_str() != Some(u.id.as_str())) {
        return Err(KeystoneError::Validation("Cannot change user ID".into()));
    }
    if let Some(p) = body.nullable_str("default_project_id", 64)? {
        u.default_project_id = p;
    }
    u.options = options_from(&body, u.options)?;
    for (k, v) in body.iter().filter(|(k, _)| !USER_KNOWN.contains(&k.as_str())) {
        u.extra.insert(k.clone(), v.clone());
    }
    let password = body.nullable_str("password", app.cfg.max_password_length)?.flatten();
    let u = app.user_update(&old, u, password.as_deref()).await?;
    let exp = expiry_of(&app, &u.id).await?;
    Ok(Json(json!({"user": user_view(&super::base_url(&app, &headers), &u, exp)})))
}

async fn user_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    let u = idb::user_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:delete_user", user_target(&id, u.as_ref()))?;
    let u = u.ok_or_else(|| KeystoneError::not_found("user", &id))?;
    app.user_delete(&u).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /v3/users/{id}/password: authenticated by the original password, not by a token.
async fn user_password(State(app): State<SharedApp>, Path(id): Path<String>, body: JsonBody) -> Result<StatusCode> {
    let body = body.entity("user")?;
    let original = body.req_str("original_password", app.cfg.max_password_length)?;
    let password = body.req_str("password", app.cfg.max_password_length)?;
    app.user_change_password(&id, &original, &password).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn user_groups(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(id): Path<String>, query: QueryMap) -> Result<Json<Value>> {
    let u = idb::user_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:list_groups_for_user", user_target(&id, u.as_ref()))?;
    u.ok_or_else(|| KeystoneError::not_found("user", &id))?;
    let base = super::base_url(&app, &headers);
    let out = idb::group_list_for_user(&app.db, &id)
        .await?
        .iter()
        .filter(|g| matches_filter(Some(&g.name), "name", &query))
        .map(|g| group_view(&base, g))
        .collect();
    Ok(Json(super::collection("groups", out, super::self_href(&base, &uri))))
}

async fn user_projects(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(id): Path<String>, query: QueryMap) -> Result<Json<Value>> {
    let u = idb::user_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:list_user_projects", user_target(&id, u.as_ref()))?;
    u.ok_or_else(|| KeystoneError::not_found("user", &id))?;
    let base = super::base_url(&app, &headers);
    let mut out = Vec::new();
    for p in app.projects_for_user(&id).await? {
        if !matches_filter(Some(&p.name), "name", &query) {
            continue;
        }
        if let Some(e) = query.get("enabled") {
            if p.enabled != query_bool(e) {
                continue;
            }
        }
        let tags = crate::db::resource::project_tags(&app.db, &p.id).await?;
        out.push(super::resource::project_view(&base, &p, &tags));
    }
    Ok(Json(super::collection("projects", out, super::self_href(&base, &uri))))
}

// ------------------------------------------------------------------------------------ groups

fn group_target(id: &str, g: Option<&Group>) -> Value {
    json!({"target": {"group": {"id": id, "domain_id": g.map(|g| g.domain_id.clone())}}, "group_id": id})
}

async fn group_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    let domain = query.get("domain_id").cloned();
    app.enforce(&caller, "identity:list_groups", super::domain_filter_target(domain.as_deref()))?;
    let base = super::base_url(&app, &headers);
    let out = idb::group_list(&app.db, domain.as_deref())
        .await?
        .iter()
        .filter(|g| matches_filter(Some(&g.name), "name", &query))
        .filter(|g| app.allowed(&caller, "identity:get_group", &group_target(&g.id, Some(g))))
        .map(|g| group_view(&base, g))
        .collect();
    Ok(Json(super::collection("groups", out, super::self_href(&base, &uri))))
}

async fn group_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let g = idb::group_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:get_group", group_target(&id, g.as_ref()))?;
    let g = g.ok_or_else(|| KeystoneError::not_found("group", &id))?;
    Ok(Json(json!({"group": group_view(&super::base_url(&app, &headers), &g)})))
}

async fn group_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    let body = body.entity("group")?;
    let name = body.req_str("name", 64)?;
    check_name("name", &name)?;
    let domain_id = body.opt_str("domain_id", 64)?.unwrap_or_else(|| app.default_domain_for(&caller));
    app.enforce(&caller, "identity:create_group", json!({"target": {"group": {"domain_id": domain_id}}}))?;
    let g = Group {
        id: common::ids::new_hex_id(),
        domain_id,
        name,
        description: body.opt_str("description", 65535)?.unwrap_or_default(),
        extra: body.iter().filter(|(k, _)| !["id", "name", "domain_id", "description", "links"].contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    let g = app.group_create(g).await?;
    Ok((StatusCode::CREATED, Json(json!({"group": group_view(&super::base_url(&app, &headers), &g)}))))
}

async fn group_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    let body = body.entity("group")?;
    let g = idb::group_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:update_group", group_target(&id, g.as_ref()))?;
    let mut g = g.ok_or_else(|| KeystoneError::not_found("group", &id))?;
    if let Some(n) = body.opt_str("name", 64)? {
        check_name("name", &n)?;
        g.name = n;
    }
    if let Some(d) = body.nullable_str("description", 65535)? {
        g.description = d.unwrap_or_default();
    }
    if body.get("domain_id").is_some_and(|d| d.as_str() != Some(g.domain_id.as_str())) {
        return Err(KeystoneError::Validation("Cannot change Domain ID".into()));
    }
    for (k, v) in body.iter().filter(|(k, _)| !["id", "name", "domain_id", "description", "links"].contains(&k.as_str())) {
        g.extra.insert(k.clone(), v.clone());
    }
    let g = app.group_update(g).await?;
    Ok(Json(json!({"group": group_view(&super::base_url(&app, &headers), &g)})))
}

async fn group_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    let g = idb::group_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:delete_group", group_target(&id, g.as_ref()))?;
    let g = g.ok_or_else(|| KeystoneError::not_found("group", &id))?;
    app.group_delete(&g).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn group_users(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(id): Path<String>, query: QueryMap) -> Result<Json<Value>> {
    let g = idb::group_get(&app.db, &id).await?;
    app.enforce(&caller, "identity:list_users_in_group", group_target(&id, g.as_ref()))?;
    g.ok_or_else(|| KeystoneError::not_found("group", &id))?;
    let base = super::base_url(&app, &headers);
    let expiry = idb::password_expiry_all(&app.db).await?;
    let mut out = Vec::new();
    for u in idb::user_list_in_group(&app.db, &id).await? {
        let exp = expiry.get(&u.id).cloned().flatten();
        if let Some(f) = query.get("password_expires_at") {
            if !expiry_filter(f, exp)? {
                continue;
            }
        }
        if matches_filter(Some(&u.name), "name", &query) {
            out.push(user_view(&base, &u, exp));
        }
    }
    Ok(Json(super::collection("users", out, super::self_href(&base, &uri))))
}

async fn membership(app: &SharedApp, caller: &Caller, group_id: &str, user_id: &str, action: &str) -> Result<(Group, User)> {
    let g = idb::group_get(&app.db, group_id).await?;
    let u = idb::user_get(&app.db, user_id).await?;
    let target = json!({"target": {
        "group": {"id": group_id, "domain_id": g.as_ref().map(|g| g.domain_id.clone())},
        "user": {"id": user_id, "domain_id": u.as_ref().map(|u| u.domain_id.clone())}
    }});
    app.enforce(caller, action, target)?;
    let g = g.ok_or_else(|| KeystoneError::not_found("group", group_id))?;
    let u = u.ok_or_else(|| KeystoneError::not_found("user", user_id))?;
    Ok((g, u))
}

async fn member_add(State(app): State<SharedApp>, caller: Caller, Path((gid, uid)): Path<(String, String)>) -> Result<StatusCode> {
    let (g, u) = membership(&app, &caller, &gid, &uid, "identity:add_user_to_group").await?;
    idb::group_add_user(&app.db, &g.id, &u.id).await?;
    app.bump();
    Ok(StatusCode::NO_CONTENT)
}

async fn member_check(State(app): State<SharedApp>, caller: Caller, Path((gid, uid)): Path<(String, String)>) -> Result<StatusCode> {
    let (g, u) = membership(&app, &caller, &gid, &uid, "identity:check_user_in_group").await?;
    if idb::group_has_user(&app.db, &g.id, &u.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(KeystoneError::NotFoundMessage(format!("{} is not a member of group {}.", u.id, g.id)))
    }
}

async fn member_remove(State(app): State<SharedApp>, caller: Caller, Path((gid, uid)): Path<(String, String)>) -> Result<StatusCode> {
    let (g, u) = membership(&app, &caller, &gid, &uid, "identity:remove_user_from_group").await?;
    app.group_remove_user(&g, &u).await?;
    Ok(StatusCode::NO_CONTENT)
}
