//! `/resource_providers/{uuid}/inventories[/{resource_class}]`
//! (placement/handlers/inventory.py).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{header, StatusCode};
use serde_json::{json, Map, Value};

use super::body::{self, JsonBody, Mv};
use super::providers::path_uuid;
use super::Ctx;
use crate::app::inventories::{InventoryChange, InventoryInput, MAX_INT};
use crate::app::SharedApp;
use crate::db::allocations::Inventory;
use crate::error::{PlacementError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/resource_providers/{uuid}/inventories", get(list).put(replace_all).post(add).delete(delete_all))
        .route("/resource_providers/{uuid}/inventories/{rc}", get(show).put(update).delete(delete_one))
}

pub fn inventory_view(i: &Inventory) -> Value {
    json!({
        "total": i.total,
        "reserved": i.reserved,
        "min_unit": i.min_unit,
        "max_unit": i.max_unit,
        "step_size": i.step_size,
        "allocation_ratio": i.allocation_ratio,
    })
}

fn inventories_view(list: &[Inventory], generation: i64) -> Value {
    let map: Map<String, Value> = list.iter().map(|i| (i.resource_class.clone(), inventory_view(i))).collect();
    json!({"inventories": map, "resource_provider_generation": generation})
}

const FIELDS: &[&str] = &["total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio"];

/// Reads one inventory's fields (upstream's BASE_INVENTORY_SCHEMA bounds).
pub fn inventory_input(rc: &str, obj: &Map<String, Value>) -> Result<InventoryInput> {
    let ratio = match obj.get("allocation_ratio") {
        None => None,
        Some(v) => {
            let f = v.as_f64().ok_or_else(|| PlacementError::BadRequest(format!("JSON does not validate: {v} is not of type 'number' (in 'allocation_ratio')")))?;
            if !(0.0..=3.40282e38).contains(&f) {
                return Err(PlacementError::BadRequest(format!("JSON does not validate: {f} is out of range (in 'allocation_ratio')")));
            }
            Some(f)
        }
    };
    Ok(InventoryInput {
        resource_class: rc.to_string(),
        total: body::int_in(obj, "total", 1, MAX_INT)?.ok_or_else(|| PlacementError::BadRequest("JSON does not validate: 'total' is a required property".into()))?,
        reserved: body::int_in(obj, "reserved", 0, MAX_INT)?,
        min_unit: body::int_in(obj, "min_unit", 1, MAX_INT)?,
        max_unit: body::int_in(obj, "max_unit", 1, MAX_INT)?,
        step_size: body::int_in(obj, "step_size", 1, MAX_INT)?,
        allocation_ratio: ratio,
    })
}

async fn list(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(uuid): Path<String>) -> Result<Json<Value>> {
    let uuid = path_uuid(&uuid)?;
    let (p, list) = app.inventory_list(&ctx, &uuid).await?;
    Ok(Json(inventories_view(&list, p.generation)))
}

async fn replace_all(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(uuid): Path<String>, JsonBody(b): JsonBody) -> Result<Json<Value>> {
    let uuid = path_uuid(&uuid)?;
    let obj = body::object(&b, &["inventories", "resource_provider_generation"], &["inventories", "resource_provider_generation"])?;
    let generation = body::generation(obj, "resource_provider_generation")?;
    let invs = obj.get("inventories").and_then(Value::as_object).ok_or_else(|| PlacementError::BadRequest("JSON does not validate: 'inventories' is not of type 'object'".into()))?;
    let mut list = Vec::new();
    for (rc, v) in invs {
        let o = body::object(v, FIELDS, &["total"])?;
        list.push(inventory_input(rc, o)?.resolve(&uuid, mv.at_least(26))?);
    }
    let (p, list) = app.inventory_write(&ctx, &uuid, Some(generation), InventoryChange::ReplaceAll(list)).await?;
    Ok(Json(inventories_view(&list, p.generation)))
}

async fn add(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(uuid): Path<String>, JsonBody(b): JsonBody) -> Result<Response> {
    let uuid = path_uuid(&uuid)?;
    let mut allowed = FIELDS.to_vec();
    allowed.extend(["resource_class", "resource_provider_generation"]);
    let obj = body::object(&b, &allowed, &["resource_class", "total", "resource_provider_generation"])?;
    let rc = body::string(obj, "resource_class")?.unwrap_or("").to_string();
    let generation = body::generation(obj, "resource_provider_generation")?;
    let inv = inventory_input(&rc, obj)?.resolve(&uuid, mv.at_least(26))?;
    let (p, list) = app.inventory_write(&ctx, &uuid, Some(generation), InventoryChange::Add(inv)).await?;
    let inv = list.iter().find(|i| i.resource_class == rc).map(inventory_view).unwrap_or(Value::Null);
    let mut v = inv;
    v["resource_provider_generation"] = json!(p.generation);
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/resource_providers/{uuid}/inventories/{rc}"))], Json(v)).into_response())
}

async fn delete_all(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(uuid): Path<String>) -> Result<StatusCode> {
    mv.require(5)?;
    let uuid = path_uuid(&uuid)?;
    app.inventory_write(&ctx, &uuid, None, InventoryChange::DeleteAll).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((uuid, rc)): Path<(String, String)>) -> Result<Json<Value>> {
    let uuid = path_uuid(&uuid)?;
    let (p, inv) = app.inventory_get(&ctx, &uuid, &rc).await?;
    let mut v = inventory_view(&inv);
    v["resource_provider_generation"] = json!(p.generation);
    Ok(Json(v))
}

async fn update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((uuid, rc)): Path<(String, String)>, JsonBody(b): JsonBody) -> Result<Json<Value>> {
    let uuid = path_uuid(&uuid)?;
    let mut allowed = FIELDS.to_vec();
    allowed.push("resource_provider_generation");
    let obj = body::object(&b, &allowed, &["total", "resource_provider_generation"])?;
    let generation = body::generation(obj, "resource_provider_generation")?;
    let inv = inventory_input(&rc, obj)?.resolve(&uuid, mv.at_least(26))?;
    let (p, list) = app.inventory_write(&ctx, &uuid, Some(generation), InventoryChange::Update(inv)).await?;
    let mut v = list.iter().find(|i| i.resource_class == rc).map(inventory_view).unwrap_or(Value::Null);
    v["resource_provider_generation"] = json!(p.generation);
    Ok(Json(v))
}

async fn delete_one(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((uuid, rc)): Path<(String, String)>) -> Result<StatusCode> {
    let uuid = path_uuid(&uuid)?;
    app.inventory_write(&ctx, &uuid, None, InventoryChange::Delete(rc)).await?;
    Ok(StatusCode::NO_CONTENT)
}

