//! `/os-security-groups` and `/os-security-group-rules` (nova/api/openstack/compute/
//! security_groups.py): the proxy to Neutron's security groups that Nova kept up to 2.35.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::images::deprecated;
use super::{Ctx, Mv};
use crate::app::{App, SharedApp};
use crate::error::{NovaError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2.1/os-security-groups", get(index).post(create).delete(no_id))
        .route("/v2.1/os-security-groups/{id}", get(show).put(update).delete(remove))
        .route("/v2.1/os-security-group-rules", post(rule_create).delete(no_id))
        .route("/v2.1/os-security-group-rules/{id}", delete(rule_delete))
}

/// `DELETE /os-security-groups/` (no id): nothing by that name.
async fn no_id() -> NovaError {
    NovaError::NotFound("The resource could not be found.".into())
}

fn body_of(body: &[u8], key: &str) -> Result<Value> {
    let v: Value = serde_json::from_slice(body).map_err(|e| NovaError::BadRequest(format!("Malformed request body: {e}")))?;
    v.get(key).filter(|g| g.is_object()).cloned().ok_or_else(|| NovaError::BadRequest(format!("Invalid input for field/attribute {key}. '{key}' is a required property")))
}

/// A group's name or description: a string of at most 255 characters, not empty (upstream's
/// `validate_property`).
fn property(g: &Value, key: &str) -> Result<String> {
    let v = g.get(key).and_then(Value::as_str).ok_or_else(|| NovaError::BadRequest(format!("Security group {key} is not a string or unicode")))?;
    if v.trim().is_empty() {
        return Err(NovaError::BadRequest(format!("Security group {key} cannot be empty.")));
    }
    if v.chars().count() > 255 {
        return Err(NovaError::BadRequest(format!("Security group {key} should not be greater than 255 characters.")));
    }
    Ok(v.to_string())
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Query(q): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    deprecated(&mv)?;
    app.enforce(&ctx, "os_compute_api:os-security-groups:get", &App::own_target(&ctx))?;
    let all = q.get("all_tenants").is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"));
    let mut list = app.security_group_list(&ctx, all).await?;
    let offset = q.get("offset").and_then(|o| o.parse::<usize>().ok()).unwrap_or(0);
    list = list.into_iter().skip(offset).collect();
    if let Some(limit) = q.get("limit").and_then(|l| l.parse::<usize>().ok()) {
        list.truncate(limit);
    }
    Ok(Json(json!({"security_groups": list})))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    deprecated(&mv)?;
    app.enforce(&ctx, "os_compute_api:os-security-groups:show", &App::own_target(&ctx))?;
    Ok(Json(json!({"security_group": app.security_group_show(&ctx, &id).await?})))
}

async fn create(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, body: axum::body::Bytes) -> Result<Json<Value>> {
    deprecated(&mv)?;
    app.enforce(&ctx, "os_compute_api:os-security-groups:create", &App::own_target(&ctx))?;
    let g = body_of(&body, "security_group")?;
    let (name, description) = (property(&g, "name")?, property(&g, "description")?);
    Ok(Json(json!({"security_group": app.security_group_write(&ctx, None, &name, &description).await?})))
}

async fn update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    deprecated(&mv)?;
    app.enforce(&ctx, "os_compute_api:os-security-groups:update", &App::own_target(&ctx))?;
    let g = body_of(&body, "security_group")?;
    let (name, description) = (property(&g, "name")?, property(&g, "description")?);
    Ok(Json(json!({"security_group": app.security_group_write(&ctx, Some(&id), &name, &description).await?})))
}

async fn remove(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Response> {
    deprecated(&mv)?;
    app.enforce(&ctx, "os_compute_api:os-security-groups:delete", &App::own_target(&ctx))?;
    app.security_group_delete(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn rule_create(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, body: axum::body::Bytes) -> Result<Json<Value>> {
    deprecated(&mv)?;
    app.enforce(&ctx, "os_compute_api:os-security-groups:rule:create", &App::own_target(&ctx))?;
    let r = body_of(&body, "security_group_rule")?;
    Ok(Json(json!({"security_group_rule": app.security_group_rule_create(&ctx, &r).await?})))
}

async fn rule_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Response> {
    deprecated(&mv)?;
    app.enforce(&ctx, "os_compute_api:os-security-groups:rule:delete", &App::own_target(&ctx))?;
    app.security_group_rule_delete(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
