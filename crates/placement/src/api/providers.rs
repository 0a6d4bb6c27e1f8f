//! `/resource_providers`, `/resource_providers/{uuid}`, and a provider's `/traits` and
//! `/aggregates` (placement/handlers/resource_provider.py, trait.py, aggregate.py).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{header, StatusCode};
use serde_json::{json, Value};

use super::body::{self, JsonBody, Mv, QueryPairs};
use super::Ctx;
use crate::app::candidates::{AggregateFilter, TraitFilter};
use crate::app::providers::{ProviderFilter, ProviderUpdate};
use crate::app::{normalize_uuid, SharedApp};
use crate::db::providers::Provider;
use crate::error::{PlacementError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/resource_providers", get(list).post(create))
        .route("/resource_providers/{uuid}", get(show).put(update).delete(delete))
        .route("/resource_providers/{uuid}/traits", get(traits_show).put(traits_put).delete(traits_delete))
        .route("/resource_providers/{uuid}/aggregates", get(aggregates_show).put(aggregates_put))
}

pub fn provider_url(uuid: &str) -> String {
    format!("/resource_providers/{uuid}")
}

/// A provider as upstream renders it for the version.
pub fn provider_view(p: &Provider, mv: &Mv) -> Value {
    let base = provider_url(&p.uuid);
    let mut links = vec![json!({"rel": "self", "href": base}), json!({"rel": "inventories", "href": format!("{base}/inventories")}), json!({"rel": "usages", "href": format!("{base}/usages")})];
    if mv.at_least(1) {
        links.push(json!({"rel": "aggregates", "href": format!("{base}/aggregates")}));
    }
    if mv.at_least(6) {
        links.push(json!({"rel": "traits", "href": format!("{base}/traits")}));
    }
    if mv.at_least(11) {
        links.push(json!({"rel": "allocations", "href": format!("{base}/allocations")}));
    }
    let mut v = json!({"uuid": p.uuid, "name": p.name, "generation": p.generation, "links": links});
    if mv.at_least(14) {
        v["parent_provider_uuid"] = json!(p.parent_provider_uuid);
        v["root_provider_uuid"] = json!(p.root_provider_uuid);
    }
    v
}

/// A path uuid: canonical, or 404 as upstream (an id that is not a uuid names nothing).
pub fn path_uuid(s: &str) -> Result<String> {
    normalize_uuid(s).ok_or_else(|| PlacementError::NotFound(format!("No resource provider with uuid {s} found")))
}

/// `resources=VCPU:1,MEMORY_MB:512`
pub fn parse_resources(s: &str) -> Result<BTreeMap<String, i64>> {
    let bad = || PlacementError::bad_value(format!("Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: {s}."));
    let mut out = BTreeMap::new();
    for part in s.split(',') {
        let (rc, n) = part.split_once(':').ok_or_else(bad)?;
        let rc = rc.trim();
        if rc.is_empty() {
            return Err(bad());
        }
        let n: i64 = n.trim().parse().map_err(|_| bad())?;
        if n < 1 {
            return Err(PlacementError::bad_value(format!("Requested resource {rc} expected positive integer amount. Got: {n}.")));
        }
        if out.insert(rc.to_string(), n).is_some() {
            return Err(bad());
        }
    }
    Ok(out)
}

/// `required=A,!B,in:C,D` (forbidden from 1.22, `in:` from 1.39), each value repeatable.
pub fn parse_required(values: &[&str], mv: &Mv, into: &mut TraitFilter) -> Result<()> {
    for s in values {
        let bad = || {
            PlacementError::bad_value(format!(
                "Invalid query string parameters: Expected 'required' parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {s}"
            ))
        };
        if let Some(rest) = s.strip_prefix("in:") {
            if !mv.at_least(39) {
                return Err(bad());
            }
            let set: BTreeSet<String> = rest.split(',').map(|t| t.trim().to_string()).collect();
            if set.iter().any(|t| t.is_empty() || t.starts_with('!')) {
                return Err(bad());
            }
            into.required.push(set);
            continue;
        }
        for t in s.split(',') {
            let t = t.trim();
            if t.is_empty() {
                return Err(bad());
            }
            if let Some(f) = t.strip_prefix('!') {
                if !mv.at_least(22) || f.is_empty() {
                    return Err(bad());
                }
                into.forbidden.insert(f.to_string());
            } else {
                into.required.push(BTreeSet::from([t.to_string()]));
            }
        }
    }
    let conflicting: Vec<&String> = into.required.iter().filter(|s| s.len() == 1).flatten().filter(|t| into.forbidden.contains(*t)).collect();
    if !conflicting.is_empty() {
        return Err(PlacementError::bad_value(format!("Conflicting required and forbidden traits found in the following traits keys: required: ({:?})", conflicting)));
    }
    Ok(())
}

/// `member_of=in:a,b` / `member_of=a` (1.3), repeated (1.24), `!` forbidden (1.32).
pub fn parse_member_of(values: &[&str], mv: &Mv, into: &mut AggregateFilter) -> Result<()> {
    if values.len() > 1 && !mv.at_least(24) {
        return Err(PlacementError::BadQuery { code: crate::error::codes::ILLEGAL_DUPLICATE_QUERYPARAM, message: "Query parameter 'member_of' may be provided only once.".into() });
    }
    for s in values {
        let bad = || PlacementError::bad_value(format!("Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: {s}"));
        let (forbidden, rest) = match s.strip_prefix('!') {
            Some(r) if mv.at_least(32) => (true, r),
            Some(_) => return Err(bad()),
            None => (false, *s),
        };
        let (any, list) = match rest.strip_prefix("in:") {
            Some(l) => (true, l),
            None => (false, rest),
        };
        let mut set = BTreeSet::new();
        for u in list.split(',') {
            set.insert(normalize_uuid(u.trim()).ok_or_else(bad)?);
        }
        if !any && set.len() != 1 {
            return Err(bad());
        }
        if forbidden {
            into.forbidden.extend(set);
        } else {
            into.required.push(set);
        }
    }
    Ok(())
}

async fn list(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, q: QueryPairs) -> Result<Json<Value>> {
    let mut allowed = vec!["name", "uuid"];
    for (minor, key) in [(3, "member_of"), (4, "resources"), (14, "in_tree"), (18, "required")] {
        if mv.at_least(minor) {
            allowed.push(key);
        }
    }
    q.only(&allowed)?;
    let mut f = ProviderFilter { name: q.single("name")?.map(str::to_string), ..Default::default() };
    if let Some(u) = q.single("uuid")? {
        f.uuid = Some(normalize_uuid(u).ok_or_else(|| PlacementError::BadRequest(format!("Invalid query string parameters: '{u}' is not a 'uuid'")))?);
    }
    parse_member_of(&q.all("member_of"), &mv, &mut f.member_of)?;
    if let Some(r) = q.single("resources")? {
        f.resources = parse_resources(r)?;
    }
    if let Some(t) = q.single("in_tree")? {
        f.in_tree = Some(normalize_uuid(t).ok_or_else(|| PlacementError::BadRequest(format!("Invalid query string parameters: '{t}' is not a 'uuid'")))?);
    }
    let required = q.all("required");
    if required.len() > 1 && !mv.at_least(39) {
        q.single("required")?;
    }
    parse_required(&required, &mv, &mut f.required)?;
    let providers = app.provider_list(&ctx, &f).await?;
    Ok(Json(json!({"resource_providers": providers.iter().map(|p| provider_view(p, &mv)).collect::<Vec<_>>()})))
}

async fn create(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, JsonBody(b): JsonBody) -> Result<Response> {
    let allowed: &[&str] = if mv.at_least(14) { &["name", "uuid", "parent_provider_uuid"] } else { &["name", "uuid"] };
    let obj = body::object(&b, allowed, &["name"])?;
    let name = provider_name(obj)?;
    let uuid = obj.get("uuid").map(|u| body::uuid_value(u, "uuid")).transpose()?;
    let parent = match obj.get("parent_provider_uuid") {
        None | Some(Value::Null) => None,
        Some(v) => Some(body::uuid_value(v, "parent_provider_uuid")?),
    };
    let p = app.provider_create(&ctx, &name, uuid, parent).await?;
    let location = [(header::LOCATION, provider_url(&p.uuid))];
    if mv.at_least(20) {
        Ok((StatusCode::OK, location, Json(provider_view(&p, &mv))).into_response())
    } else {
        Ok((StatusCode::CREATED, location).into_response())
    }
}

fn provider_name(obj: &serde_json::Map<String, Value>) -> Result<String> {
    let name = body::string(obj, "name")?.unwrap_or("");
    if name.is_empty() || name.chars().count() > 200 {
        return Err(PlacementError::BadRequest(format!("JSON does not validate: '{name}' is too short or too long (in 'name'; 1 to 200 characters)")));
    }
    Ok(name.to_string())
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(uuid): Path<String>) -> Result<Json<Value>> {
    let uuid = path_uuid(&uuid)?;
    let p = app.provider_get(&ctx, &uuid, "placement:resource_providers:show").await?;
    Ok(Json(provider_view(&p, &mv)))
}

async fn update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(uuid): Path<String>, JsonBody(b): JsonBody) -> Result<Json<Value>> {
    let uuid = path_uuid(&uuid)?;
    let allowed: &[&str] = if mv.at_least(14) { &["name", "parent_provider_uuid"] } else { &["name"] };
    let obj = body::object(&b, allowed, &["name"])?;
    let name = provider_name(obj)?;
    let parent_provider_uuid = match obj.get("parent_provider_uuid") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(body::uuid_value(v, "parent_provider_uuid")?)),
    };
    let p = app.provider_update(&ctx, &uuid, ProviderUpdate { name, parent_provider_uuid, allow_reparent: mv.at_least(37) }).await?;
    Ok(Json(provider_view(&p, &mv)))
}

async fn delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(uuid): Path<String>) -> Result<StatusCode> {
    let uuid = path_uuid(&uuid)?;
    app.provider_delete(&ctx, &uuid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn traits_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(uuid): Path<String>) -> Result<Json<Value>> {
    mv.require(6)?;
    let uuid = path_uuid(&uuid)?;
    let (p, traits) = app.provider_traits(&ctx, &uuid).await?;
    Ok(Json(json!({"traits": traits, "resource_provider_generation": p.generation})))
}

async fn traits_put(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(uuid): Path<String>, JsonBody(b): JsonBody) -> Result<Json<Value>> {
    mv.require(6)?;
    let uuid = path_uuid(&uuid)?;
    let obj = body::object(&b, &["traits", "resource_provider_generation"], &["traits", "resource_provider_generation"])?;
    let generation = body::generation(obj, "resource_provider_generation")?;
    let list = obj.get("traits").and_then(Value::as_array).ok_or_else(|| PlacementError::BadRequest("JSON does not validate: 'traits' is not of type 'array'".into()))?;
    let mut traits = BTreeSet::new();
    for t in list {
        let t = t.as_str().filter(|s| !s.is_empty() && s.len() <= 255).ok_or_else(|| PlacementError::BadRequest(format!("JSON does not validate: {t} is not a valid trait name")))?;
        if !traits.insert(t.to_string()) {
            return Err(PlacementError::BadRequest(format!("JSON does not validate: {:?} has non-unique elements", list)));
        }
    }
    let p = app.provider_traits_set(&ctx, &uuid, generation, &traits, "placement:resource_providers:traits:update").await?;
    Ok(Json(json!({"traits": traits, "resource_provider_generation": p.generation})))
}

async fn traits_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(uuid): Path<String>) -> Result<StatusCode> {
    mv.require(6)?;
    let uuid = path_uuid(&uuid)?;
    let p = app.provider_get(&ctx, &uuid, "placement:resource_providers:traits:delete").await?;
    app.provider_traits_set(&ctx, &uuid, p.generation, &BTreeSet::new(), "placement:resource_providers:traits:delete").await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn aggregates_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(uuid): Path<String>) -> Result<Json<Value>> {
    mv.require(1)?;
    let uuid = path_uuid(&uuid)?;
    let (p, aggregates) = app.provider_aggregates(&ctx, &uuid).await?;
    let mut v = json!({"aggregates": aggregates});
    if mv.at_least(19) {
        v["resource_provider_generation"] = json!(p.generation);
    }
    Ok(Json(v))
}

async fn aggregates_put(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(uuid): Path<String>, JsonBody(b): JsonBody) -> Result<Json<Value>> {
    mv.require(1)?;
    let uuid = path_uuid(&uuid)?;
    let (list, generation) = if mv.at_least(19) {
        let obj = body::object(&b, &["aggregates", "resource_provider_generation"], &["aggregates", "resource_provider_generation"])?;
        (obj.get("aggregates").cloned().unwrap_or(Value::Null), Some(body::generation(obj, "resource_provider_generation")?))
    } else {
        (b, None)
    };
    let items = list.as_array().ok_or_else(|| PlacementError::BadRequest("JSON does not validate: the aggregates must be an array".into()))?;
    let mut aggregates = BTreeSet::new();
    for a in items {
        if !aggregates.insert(body::uuid_value(a, "aggregates")?) {
            return Err(PlacementError::BadRequest(format!("JSON does not validate: {list} has non-unique elements")));
        }
    }
    let p = app.provider_aggregates_set(&ctx, &uuid, generation, &aggregates).await?;
    let mut v = json!({"aggregates": aggregates});
    if mv.at_least(19) {
        v["resource_provider_generation"] = json!(p.generation);
    }
    Ok(Json(v))
}
