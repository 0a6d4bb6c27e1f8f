//! `/os-aggregates` (nova/api/openstack/compute/aggregates.py): list, create, show, update,
//! delete, and the add_host / remove_host / set_metadata actions; admin only.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::servers::{invalid, json_body};
use super::{Ctx, Mv};
use crate::app::SharedApp;
use crate::db::services::Aggregate;
use crate::error::{NovaError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2.1/os-aggregates", get(index).post(create))
        .route("/v2.1/os-aggregates/{id}", get(show).put(update).delete(delete))
        .route("/v2.1/os-aggregates/{id}/action", post(action))
}

fn ts(us: i64) -> String {
    common::time::iso_micros(common::time::from_micros(us))
}

/// The aggregate as upstream shows it; `full` adds hosts and metadata (not in create's answer).
fn view(mv: &Mv, a: &Aggregate, full: bool) -> Value {
    let mut v = json!({
        "id": a.id,
        "name": a.name,
        "availability_zone": a.metadata.get("availability_zone"),
        "created_at": ts(a.created_at),
        "updated_at": (a.updated_at != a.created_at).then(|| ts(a.updated_at)),
        "deleted": false,
        "deleted_at": null,
    });
    if full {
        v["hosts"] = json!(a.hosts);
        v["metadata"] = json!(a.metadata);
    }
    if mv.0.at_least(2, 41) {
        v["uuid"] = json!(a.uuid);
    }
    v
}

/// A 1-255 character name or zone (`parameter_types.name` loosened as upstream's aggregates).
fn name_field(v: &Value, field: &str) -> Result<String> {
    let s = v.as_str().ok_or_else(|| invalid(field, &format!("Value: {v}. It must be a string.")))?;
    if s.trim().is_empty() || s.chars().count() > 255 {
        return Err(invalid(field, &format!("Value: {s}. It must be 1 to 255 characters, not only spaces.")));
    }
    Ok(s.to_string())
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv) -> Result<Json<Value>> {
    let list = app.aggregate_list(&ctx).await?;
    Ok(Json(json!({"aggregates": list.iter().map(|a| view(&mv, a, true)).collect::<Vec<_>>()})))
}

async fn create(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, body: axum::body::Bytes) -> Result<Json<Value>> {
    let body = json_body(&body)?;
    let a = body.get("aggregate").ok_or_else(|| invalid("aggregate", "'aggregate' is a required property"))?;
    let name = name_field(a.get("name").ok_or_else(|| invalid("aggregate", "'name' is a required property"))?, "name")?;
    let az = match a.get("availability_zone") {
        None | Some(Value::Null) => None,
        Some(z) => Some(name_field(z, "availability_zone")?),
    };
    let created = app.aggregate_create(&ctx, &name, az.as_deref()).await?;
    Ok(Json(json!({"aggregate": view(&mv, &created, false)})))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    let a = app.aggregate_show(&ctx, &id).await?;
    Ok(Json(json!({"aggregate": view(&mv, &a, true)})))
}

async fn update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let body = json_body(&body)?;
    let a = body.get("aggregate").and_then(Value::as_object).ok_or_else(|| invalid("aggregate", "'aggregate' is a required property"))?;
    if a.is_empty() {
        return Err(invalid("aggregate", "Value: {}. It must name 'name' or 'availability_zone'."));
    }
    let name = a.get("name").map(|n| name_field(n, "name")).transpose()?;
    let az = match a.get("availability_zone") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(z) => Some(Some(name_field(z, "availability_zone")?)),
    };
    let updated = app.aggregate_update(&ctx, &id, name.as_deref(), az.as_ref().map(|z| z.as_deref())).await?;
    Ok(Json(json!({"aggregate": view(&mv, &updated, true)})))
}

async fn delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<StatusCode> {
    app.aggregate_delete(&ctx, &id).await?;
    Ok(StatusCode::OK)
}

async fn action(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let body = json_body(&body)?;
    let (name, args) = body.as_object().and_then(|o| o.iter().next()).ok_or_else(|| NovaError::BadRequest("Malformed request body: no action".into()))?;
    let host = || args.get("host").and_then(Value::as_str).map(str::to_string).ok_or_else(|| invalid(name, "'host' is a required property"));
    let a = match name.as_str() {
        "add_host" => app.aggregate_add_host(&ctx, &id, &host()?).await?,
        "remove_host" => app.aggregate_remove_host(&ctx, &id, &host()?).await?,
        "set_metadata" => {
            let m = args.get("metadata").and_then(Value::as_object).ok_or_else(|| invalid("set_metadata", "'metadata' is a required property"))?;
            let mut metadata = BTreeMap::new();
            for (k, v) in m {
                if k.is_empty() || k.len() > 255 {
                    return Err(invalid("metadata", &format!("Key {k} must be 1 to 255 characters.")));
                }
                let v = match v {
                    Value::Null => None,
                    Value::String(s) if s.len() <= 255 => Some(s.clone()),
                    other => return Err(invalid("metadata", &format!("Value of {k}: {other}. It must be a string of at most 255 characters or null."))),
                };
                metadata.insert(k.clone(), v);
            }
            app.aggregate_set_metadata(&ctx, &id, &metadata).await?
        }
        other => return Err(NovaError::BadRequest(format!("There is no such action: {other}"))),
    };
    Ok(Json(json!({"aggregate": view(&mv, &a, true)})))
}
