//! `/allocations/{consumer_uuid}`, `POST /allocations`, a provider's `/allocations` and
//! `/usages`, `/usages` per project, and `/reshaper` (placement/handlers/allocation.py,
//! usage.py, reshaper.py).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{json, Map, Value};

use super::body::{self, JsonBody, Mv, QueryPairs};
use super::inventories::inventory_input;
use super::providers::path_uuid;
use super::Ctx;
use crate::app::allocations::{ConsumerAllocations, ConsumerGeneration};
use crate::app::reshaper::ReshapeInventory;
use crate::app::{normalize_uuid, SharedApp};
use crate::error::{PlacementError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/allocations", post(post_many))
        .route("/allocations/{consumer}", get(show).put(put_one).delete(delete_one))
        .route("/resource_providers/{uuid}/allocations", get(provider_allocations))
        .route("/resource_providers/{uuid}/usages", get(provider_usages))
        .route("/usages", get(usages))
        .route("/reshaper", post(reshape))
}

fn consumer_uuid(s: &str) -> Result<String> {
    normalize_uuid(s).ok_or_else(|| PlacementError::BadRequest(format!("Malformed consumer_uuid: {s}")))
}

/// A consumer type: upper-case letters, digits and underscores, as upstream's schema.
fn consumer_type(v: &Value) -> Result<String> {
    v.as_str()
        .filter(|s| !s.is_empty() && s.len() <= 255 && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .map(str::to_string)
        .ok_or_else(|| PlacementError::BadRequest(format!("JSON does not validate: {v} does not match '^[A-Z0-9_]+$' (in 'consumer_type')")))
}

/// `{"VCPU": 1, ...}`: at least one class, each amount at least 1 (0 is allowed where the
/// caller says so: POST /allocations before 1.x treated 0 as "none").
fn resources(v: &Value) -> Result<BTreeMap<String, i64>> {
    let obj = v.as_object().filter(|o| !o.is_empty()).ok_or_else(|| PlacementError::BadRequest("JSON does not validate: 'resources' must be a non-empty object".into()))?;
    let mut out = BTreeMap::new();
    for (rc, n) in obj {
        let n = n.as_i64().filter(|_| !n.is_f64()).ok_or_else(|| PlacementError::BadRequest(format!("JSON does not validate: {n} is not of type 'integer' (in '{rc}')")))?;
        if n < 1 {
            return Err(PlacementError::BadRequest(format!("JSON does not validate: {n} is less than the minimum of 1 (in '{rc}')")));
        }
        out.insert(rc.clone(), n);
    }
    Ok(out)
}

/// One consumer's body in the version's format (list before 1.12, dict after).
fn consumer_body(consumer: &str, b: &Value, mv: &Mv, allow_empty: bool) -> Result<ConsumerAllocations> {
    let mut allowed = vec!["allocations"];
    let mut required = vec!["allocations"];
    if mv.at_least(8) {
        allowed.extend(["project_id", "user_id"]);
        required.extend(["project_id", "user_id"]);
    }
    if mv.at_least(28) {
        allowed.push("consumer_generation");
        required.push("consumer_generation");
    }
    if mv.at_least(38) {
        allowed.push("consumer_type");
        required.push("consumer_type");
    }
    let obj = body::object(b, &allowed, &required)?;
    let mut allocations: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let raw = obj.get("allocations").cloned().unwrap_or(Value::Null);
    if mv.at_least(12) {
        let map = raw.as_object().ok_or_else(|| PlacementError::BadRequest("JSON does not validate: 'allocations' is not of type 'object'".into()))?;
        if map.is_empty() && !allow_empty {
            return Err(PlacementError::BadRequest("JSON does not validate: {} does not have enough properties (in 'allocations')".into()));
        }
        for (rp, v) in map {
            let rp = normalize_uuid(rp).ok_or_else(|| PlacementError::BadRequest(format!("JSON does not validate: '{rp}' is not a valid resource provider uuid")))?;
            let o = body::object(v, &["resources", "generation"], &["resources"])?;
            allocations.entry(rp).or_default().extend(resources(&o["resources"])?);
        }
    } else {
        let list = raw.as_array().filter(|l| !l.is_empty()).ok_or_else(|| PlacementError::BadRequest("JSON does not validate: 'allocations' must be a non-empty array".into()))?;
        for item in list {
            let o = body::object(item, &["resource_provider", "resources"], &["resource_provider", "resources"])?;
            let rpo = body::object(&o["resource_provider"], &["uuid"], &["uuid"])?;
            let rp = body::uuid_value(&rpo["uuid"], "resource_provider.uuid")?;
            allocations.entry(rp).or_default().extend(resources(&o["resources"])?);
        }
    }
    let id = |k: &str| -> Result<Option<String>> {
        match body::string(obj, k)? {
            Some(s) if s.is_empty() || s.len() > 255 => Err(PlacementError::BadRequest(format!("JSON does not validate: '{s}' is not a valid {k}"))),
            other => Ok(other.map(str::to_string)),
        }
    };
    let generation = if mv.at_least(28) {
        match obj.get("consumer_generation") {
            Some(Value::Null) => ConsumerGeneration::New,
            _ => ConsumerGeneration::Is(body::generation(obj, "consumer_generation")?),
        }
    } else {
        ConsumerGeneration::Unchecked
    };
    Ok(ConsumerAllocations {
        consumer_uuid: consumer.to_string(),
        allocations,
        project_id: id("project_id")?,
        user_id: id("user_id")?,
        generation,
        consumer_type: obj.get("consumer_type").map(consumer_type).transpose()?,
    })
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(consumer): Path<String>) -> Result<Json<Value>> {
    let consumer = consumer_uuid(&consumer)?;
    let view = app.allocations_for_consumer(&ctx, &consumer).await?;
    let allocations: Map<String, Value> = view.allocations.iter().map(|(rp, (g, res))| (rp.clone(), json!({"generation": g, "resources": res}))).collect();
    let mut v = json!({"allocations": allocations});
    if let Some(c) = &view.consumer {
        if mv.at_least(12) {
            v["project_id"] = json!(c.project_id);
            v["user_id"] = json!(c.user_id);
        }
        if mv.at_least(28) {
            v["consumer_generation"] = json!(c.generation);
        }
        if mv.at_least(38) {
            v["consumer_type"] = json!(c.consumer_type.as_deref().unwrap_or("unknown"));
        }
    }
    Ok(Json(v))
}

async fn put_one(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(consumer): Path<String>, JsonBody(b): JsonBody) -> Result<StatusCode> {
    let consumer = consumer_uuid(&consumer)?;
    let c = consumer_body(&consumer, &b, &mv, mv.at_least(28))?;
    app.allocations_write(&ctx, &[c], "placement:allocations:update").await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn post_many(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, JsonBody(b): JsonBody) -> Result<StatusCode> {
    mv.require(13)?;
    let obj = b.as_object().filter(|o| !o.is_empty()).ok_or_else(|| PlacementError::BadRequest("JSON does not validate: the body must be a non-empty object of consumers".into()))?;
    let mut list = Vec::new();
    for (consumer, v) in obj {
        let consumer = consumer_uuid(consumer)?;
        list.push(consumer_body(&consumer, v, &mv, true)?);
    }
    app.allocations_write(&ctx, &list, "placement:allocations:manage").await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_one(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(consumer): Path<String>) -> Result<StatusCode> {
    let consumer = consumer_uuid(&consumer)?;
    app.allocations_delete(&ctx, &consumer).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn provider_allocations(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(uuid): Path<String>) -> Result<Json<Value>> {
    let uuid = path_uuid(&uuid)?;
    let (p, rows) = app.allocations_for_provider(&ctx, &uuid).await?;
    let mut by_consumer: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for a in rows {
        by_consumer.entry(a.consumer_uuid).or_default().insert(a.resource_class, a.used);
    }
    let allocations: Map<String, Value> = by_consumer.into_iter().map(|(c, r)| (c, json!({"resources": r}))).collect();
    Ok(Json(json!({"allocations": allocations, "resource_provider_generation": p.generation})))
}

async fn provider_usages(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(uuid): Path<String>) -> Result<Json<Value>> {
    let uuid = path_uuid(&uuid)?;
    let (p, usages) = app.provider_usages(&ctx, &uuid).await?;
    Ok(Json(json!({"usages": usages, "resource_provider_generation": p.generation})))
}

async fn usages(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, q: QueryPairs) -> Result<Json<Value>> {
    mv.require(9)?;
    let allowed: &[&str] = if mv.at_least(38) { &["project_id", "user_id", "consumer_type"] } else { &["project_id", "user_id"] };
    q.only(allowed)?;
    let project = q.single("project_id")?.ok_or_else(|| PlacementError::BadRequest("Invalid query string parameters: 'project_id' is a required property".into()))?;
    let user = q.single("user_id")?;
    let wanted = q.single("consumer_type")?;
    let groups = app.project_usages(&ctx, project, user).await?;
    if !mv.at_least(38) {
        let mut total: BTreeMap<String, i64> = BTreeMap::new();
        for t in groups.into_values() {
            for (rc, n) in t.usage {
                *total.entry(rc).or_insert(0) += n;
            }
        }
        return Ok(Json(json!({"usages": total})));
    }
    let mut out = Map::new();
    let mut add = |key: String, count: usize, u: &BTreeMap<String, i64>| {
        let e = out.entry(key).or_insert_with(|| json!({"consumer_count": 0}));
        e["consumer_count"] = json!(e["consumer_count"].as_u64().unwrap_or(0) + count as u64);
        for (rc, n) in u {
            e[rc] = json!(e[rc].as_i64().unwrap_or(0) + n);
        }
    };
    for (ctype, t) in &groups {
        let name = ctype.clone().unwrap_or_else(|| "unknown".into());
        match wanted {
            Some("all") => add("all".into(), t.consumers.len(), &t.usage),
            Some(w) if w != name => {}
            _ => add(name, t.consumers.len(), &t.usage),
        }
    }
    Ok(Json(json!({"usages": out})))
}

async fn reshape(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, JsonBody(b): JsonBody) -> Result<StatusCode> {
    mv.require(30)?;
    let obj = body::object(&b, &["inventories", "allocations"], &["inventories", "allocations"])?;
    let invs = obj["inventories"].as_object().ok_or_else(|| PlacementError::BadRequest("JSON does not validate: 'inventories' is not of type 'object'".into()))?;
    let mut inventories = Vec::new();
    for (rp, v) in invs {
        let rp = normalize_uuid(rp).ok_or_else(|| PlacementError::BadRequest(format!("JSON does not validate: '{rp}' is not a valid resource provider uuid")))?;
        let o = body::object(v, &["inventories", "resource_provider_generation"], &["inventories", "resource_provider_generation"])?;
        let generation = body::generation(o, "resource_provider_generation")?;
        let mut list = Vec::new();
        for (rc, iv) in o["inventories"].as_object().ok_or_else(|| PlacementError::BadRequest("JSON does not validate: 'inventories' is not of type 'object'".into()))? {
            let io = body::object(iv, &["total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio"], &["total"])?;
            list.push(inventory_input(rc, io)?.resolve(&rp, true)?);
        }
        inventories.push(ReshapeInventory { provider: rp, generation, inventories: list });
    }
    let allocs = obj["allocations"].as_object().ok_or_else(|| PlacementError::BadRequest("JSON does not validate: 'allocations' is not of type 'object'".into()))?;
    let mut allocations = Vec::new();
    for (consumer, v) in allocs {
        let consumer = consumer_uuid(consumer)?;
        allocations.push(consumer_body(&consumer, v, &mv, true)?);
    }
    app.reshape(&ctx, &inventories, &allocations).await?;
    Ok(StatusCode::NO_CONTENT)
}
