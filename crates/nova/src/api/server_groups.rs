//! `/os-server-groups` (nova/api/openstack/compute/server_groups.py), in the shape of
//! microversions up to 2.63 (`policies` as a one-element list; `project_id`/`user_id` from
//! 2.13; the soft policies from 2.15).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{Ctx, Mv};
use crate::app::server_groups::ServerGroup;
use crate::app::SharedApp;
use crate::error::{NovaError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new().route("/v2.1/os-server-groups", get(index).post(create)).route("/v2.1/os-server-groups/{group_id}", get(show).delete(delete))
}

fn view(mv: &Mv, g: &ServerGroup) -> Value {
    let mut v = json!({"id": g.uuid, "name": g.name, "policies": [g.policy], "members": g.members, "metadata": {}});
    if mv.0.at_least(2, 13) {
        v["project_id"] = json!(g.project_id);
        v["user_id"] = json!(g.user_id);
    }
    v
}

async fn create(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, body: axum::body::Bytes) -> Result<Json<Value>> {
    let v: Value = serde_json::from_slice(&body).map_err(|e| NovaError::BadRequest(format!("Malformed request body: {e}")))?;
    let g = v.get("server_group").and_then(Value::as_object).ok_or_else(|| NovaError::BadRequest("Invalid input for field/attribute server_group. 'server_group' is a required property".into()))?;
    let name = g.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty() && n.len() <= 255).ok_or_else(|| NovaError::BadRequest("Invalid input for field/attribute name. 'name' is a required property (1 to 255 characters)".into()))?;
    let policies: Vec<&str> = g.get("policies").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let allowed: &[&str] = if mv.0.at_least(2, 15) { &["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"] } else { &["affinity", "anti-affinity"] };
    let [policy] = policies.as_slice() else {
        return Err(NovaError::BadRequest("Invalid input for field/attribute policies. 'policies' must hold exactly one policy".into()));
    };
    if !allowed.contains(policy) {
        return Err(NovaError::BadRequest(format!("Invalid input for field/attribute 0. Value: {policy}. '{policy}' is not one of {allowed:?}")));
    }
    let created = app.server_group_create(&ctx, name, policy, json!({})).await?;
    Ok(Json(json!({"server_group": view(&mv, &created)})))
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    let list = app.server_group_list(&ctx, &query).await?;
    Ok(Json(json!({"server_groups": list.iter().map(|g| view(&mv, g)).collect::<Vec<_>>()})))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!({"server_group": view(&mv, &app.server_group_get(&ctx, &id).await?)})))
}

async fn delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<StatusCode> {
    app.server_group_delete(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
