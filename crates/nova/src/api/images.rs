//! `/images` (nova/api/openstack/compute/images.py and image_metadata.py): the compute API's
//! proxy of the Image service, answered from Glance with the caller's token. Deprecated at
//! 2.36 as upstream: from that microversion every route here is a 404.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::servers::{invalid, json_body};
use super::{links, Ctx, Mv};
use crate::app::SharedApp;
use crate::error::{NovaError, Result};
use crate::image::ImageError;

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2.1/images", get(index))
        .route("/v2.1/images/detail", get(detail))
        .route("/v2.1/images/{id}", get(show).delete(delete))
        .route("/v2.1/images/{id}/metadata", get(meta_index).post(meta_update).put(meta_replace))
        .route("/v2.1/images/{id}/metadata/{key}", get(meta_show).put(meta_set).delete(meta_delete))
}

/// Glance's attributes that are not image metadata in this API.
const CORE: &[&str] = &[
    "id", "name", "status", "visibility", "protected", "os_hidden", "owner", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "created_at", "updated_at", "tags", "self", "file", "schema",
    "locations", "direct_url", "stores", "min_disk", "min_ram", "disk_format", "container_format",
];

/// The proxy APIs (images, security groups, networks) are gone from 2.36: 404.
pub(super) fn deprecated(mv: &Mv) -> Result<()> {
    if mv.0.at_least(2, 36) {
        return Err(NovaError::NotFound("The resource could not be found.".into()));
    }
    Ok(())
}

fn token(ctx: &auth::RequestContext) -> String {
    ctx.auth_token.clone().unwrap_or_default()
}

fn image_error(id: &str, e: ImageError) -> NovaError {
    match e {
        ImageError::NotFound(_) => NovaError::NotFound(format!("Image {id} could not be found.")),
        ImageError::Refused { status: 403, message } => NovaError::Forbidden(message),
        ImageError::Refused { status: 400, message } => NovaError::BadRequest(message),
        ImageError::Refused { status: 409, message } => NovaError::Conflict(message),
        ImageError::Refused { status: 413, message } => NovaError::OverQuota(message),
        e => NovaError::Internal(e.to_string()),
    }
}

fn status_of(glance: &str) -> &'static str {
    match glance {
        "active" => "ACTIVE",
        "queued" | "saving" | "uploading" | "importing" => "SAVING",
        "deleted" | "pending_delete" => "DELETED",
        "killed" | "deactivated" => "ERROR",
        _ => "UNKNOWN",
    }
}

fn metadata_of(img: &Value) -> Map<String, Value> {
    img.as_object().map(|o| o.iter().filter(|(k, _)| !CORE.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.as_str().map(|s| json!(s)).unwrap_or_else(|| json!(v.to_string())))).collect()).unwrap_or_default()
}

fn ts(glance: &Value) -> Value {
    // Glance says "2024-01-01T00:00:00Z"; the compute API says the same.
    glance.clone()
}

fn view(base: &str, img: &Value, detail: bool) -> Value {
    let id = img["id"].as_str().unwrap_or_default();
    let mut l = links(base, "images", id);
    if let Some(arr) = l.as_array_mut() {
        arr.push(json!({"rel": "alternate", "type": "application/vnd.openstack.image", "href": format!("{base}/images/{id}")}));
    }
    if !detail {
        return json!({"id": id, "name": img["name"], "links": l});
    }
    let status = status_of(img["status"].as_str().unwrap_or_default());
    let mut v = json!({
        "id": id,
        "name": img["name"],
        "status": status,
        "created": ts(&img["created_at"]),
        "updated": ts(&img["updated_at"]),
        "minDisk": img["min_disk"].as_i64().unwrap_or(0),
        "minRam": img["min_ram"].as_i64().unwrap_or(0),
        "progress": match status { "ACTIVE" => 100, "SAVING" => 25, _ => 0 },
        "metadata": metadata_of(img),
        "links": l,
        "OS-EXT-IMG-SIZE:size": img["size"],
    });
    if let Some(server) = img["instance_uuid"].as_str() {
        v["server"] = json!({"id": server, "links": links(base, "servers", server)});
    }
    v
}

/// This API's filters in Glance's terms (name, status, changes-since, server, type, minDisk,
/// minRam, limit, marker).
fn glance_query(q: &BTreeMap<String, String>) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in q {
        match k.as_str() {
            "name" | "limit" | "marker" => out.push((k.clone(), v.clone())),
            "status" => out.push(("status".into(), match v.to_ascii_uppercase().as_str() {
                "ACTIVE" => "active".into(),
                "SAVING" => "saving".into(),
                "DELETED" => "deleted".into(),
                "ERROR" => "killed".into(),
                other => other.to_ascii_lowercase(),
            })),
            "changes-since" => {
                common::time::parse_iso(v).ok_or_else(|| invalid("changes-since", &format!("Value: {v}. It must be a date-time.")))?;
                out.push(("updated_at".into(), format!("gte:{v}")));
            }
            "server" => out.push(("instance_uuid".into(), v.rsplit('/').next().unwrap_or(v).to_string())),
            "type" => out.push(("image_type".into(), v.clone())),
            "minDisk" => out.push(("min_disk".into(), v.clone())),
            "minRam" => out.push(("min_ram".into(), v.clone())),
            _ => {}
        }
    }
    Ok(out)
}

async fn list(app: &SharedApp, ctx: &auth::RequestContext, headers: &HeaderMap, q: &BTreeMap<String, String>, detail: bool) -> Result<Json<Value>> {
    let mut query = glance_query(q)?;
    let min_disk: Option<i64> = query.iter().find(|(k, _)| k == "min_disk").and_then(|(_, v)| v.parse().ok());
    let min_ram: Option<i64> = query.iter().find(|(k, _)| k == "min_ram").and_then(|(_, v)| v.parse().ok());
    query.retain(|(k, _)| k != "min_disk" && k != "min_ram");
    let body = app.images()?.list(&token(ctx), &query).await.map_err(|e| image_error("", e))?;
    let base = super::base_url(app, headers);
    let images: Vec<Value> = body["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| min_disk.is_none_or(|m| i["min_disk"].as_i64().unwrap_or(0) >= m) && min_ram.is_none_or(|m| i["min_ram"].as_i64().unwrap_or(0) >= m))
        .map(|i| view(&base, i, detail))
        .collect();
    let mut out = json!({"images": images});
    if let (Some(_), Some(last)) = (body.get("next"), images.last()) {
        let path = if detail { "/v2.1/images/detail" } else { "/v2.1/images" };
        out["images_links"] = json!([{"href": common::pagination::next_href(&base, path, q, last["id"].as_str().unwrap_or_default()), "rel": "next"}]);
    }
    Ok(Json(out))
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Query(q): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    deprecated(&mv)?;
    list(&app, &ctx, &headers, &q, false).await
}

async fn detail(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Query(q): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    deprecated(&mv)?;
    list(&app, &ctx, &headers, &q, true).await
}

async fn get_image(app: &SharedApp, ctx: &auth::RequestContext, id: &str) -> Result<Value> {
    app.images()?.get(&token(ctx), id).await.map_err(|e| image_error(id, e))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    deprecated(&mv)?;
    let img = get_image(&app, &ctx, &id).await?;
    Ok(Json(json!({"image": view(&super::base_url(&app, &headers), &img, true)})))
}

async fn delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<StatusCode> {
    deprecated(&mv)?;
    get_image(&app, &ctx, &id).await?;
    app.images()?.delete(&token(&ctx), &id).await.map_err(|e| image_error(&id, e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The metadata object of a request body (`{"metadata": {...}}` or `{"meta": {...}}`).
fn body_map(body: &Value, key: &str) -> Result<Map<String, Value>> {
    let m = body.get(key).and_then(Value::as_object).ok_or_else(|| invalid(key, &format!("'{key}' is a required property")))?;
    for (k, v) in m {
        if k.is_empty() || k.len() > 255 || !v.is_string() {
            return Err(invalid(key, &format!("Key {k} must be 1 to 255 characters with a string value.")));
        }
    }
    Ok(m.clone())
}

/// Applies metadata changes to the Glance image (`None` removes a key) and returns the result.
async fn apply(app: &SharedApp, ctx: &auth::RequestContext, id: &str, set: &Map<String, Value>, remove: &[String]) -> Result<Value> {
    let img = get_image(app, ctx, id).await?;
    let current = metadata_of(&img);
    let limit = app.cfg.quota.metadata_items;
    let after = current.keys().filter(|k| !remove.contains(k)).chain(set.keys()).collect::<std::collections::BTreeSet<_>>().len() as i64;
    if limit >= 0 && after > limit {
        return Err(NovaError::OverQuota(format!("Quota exceeded for metadata_items: Requested {after}, but already used 0 of {limit} metadata_items")));
    }
    let mut ops = Vec::new();
    for k in remove {
        if current.contains_key(k) {
            ops.push(json!({"op": "remove", "path": format!("/{k}")}));
        }
    }
    for (k, v) in set {
        ops.push(json!({"op": if current.contains_key(k) { "replace" } else { "add" }, "path": format!("/{k}"), "value": v}));
    }
    if ops.is_empty() {
        return Ok(img);
    }
    app.images()?.patch(&token(ctx), id, ops).await.map_err(|e| image_error(id, e))
}

async fn meta_index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    deprecated(&mv)?;
    Ok(Json(json!({"metadata": metadata_of(&get_image(&app, &ctx, &id).await?)})))
}

async fn meta_update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    deprecated(&mv)?;
    let set = body_map(&json_body(&body)?, "metadata")?;
    let img = apply(&app, &ctx, &id, &set, &[]).await?;
    Ok(Json(json!({"metadata": metadata_of(&img)})))
}

async fn meta_replace(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    deprecated(&mv)?;
    let set = body_map(&json_body(&body)?, "metadata")?;
    let current = metadata_of(&get_image(&app, &ctx, &id).await?);
    let remove: Vec<String> = current.keys().filter(|k| !set.contains_key(*k)).cloned().collect();
    let img = apply(&app, &ctx, &id, &set, &remove).await?;
    Ok(Json(json!({"metadata": metadata_of(&img)})))
}

async fn meta_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, key)): Path<(String, String)>) -> Result<Json<Value>> {
    deprecated(&mv)?;
    let m = metadata_of(&get_image(&app, &ctx, &id).await?);
    let v = m.get(&key).ok_or_else(|| NovaError::NotFound(format!("Metadata item {key} was not found")))?;
    Ok(Json(json!({"meta": {key: v}})))
}

async fn meta_set(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, key)): Path<(String, String)>, body: axum::body::Bytes) -> Result<Json<Value>> {
    deprecated(&mv)?;
    let set = body_map(&json_body(&body)?, "meta")?;
    if set.len() != 1 || !set.contains_key(&key) {
        return Err(NovaError::BadRequest("Request body and URI mismatch".into()));
    }
    apply(&app, &ctx, &id, &set, &[]).await?;
    Ok(Json(json!({"meta": set})))
}

async fn meta_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, key)): Path<(String, String)>) -> Result<StatusCode> {
    deprecated(&mv)?;
    let m = metadata_of(&get_image(&app, &ctx, &id).await?);
    if !m.contains_key(&key) {
        return Err(NovaError::NotFound(format!("Metadata item {key} was not found")));
    }
    apply(&app, &ctx, &id, &Map::new(), &[key]).await?;
    Ok(StatusCode::NO_CONTENT)
}
