//! `/v2/images` and everything under it, plus `/v2/info/*` (glance/api/v2/images.py,
//! image_data.py, image_members.py, image_tags.py, image_actions.py, discovery.py).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures::TryStreamExt;
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::app::SharedApp;
use crate::db::images::{Image, Member};
use crate::error::{GlanceError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2/images", get(list).post(create))
        .route("/v2/images/{image_id}", get(show).patch(update).delete(delete))
        .route("/v2/images/{image_id}/file", put(upload).get(download))
        .route("/v2/images/{image_id}/stage", put(stage))
        .route("/v2/images/{image_id}/import", post(import))
        .route("/v2/images/{image_id}/tags/{tag}", put(tag_add).delete(tag_delete))
        .route("/v2/images/{image_id}/actions/deactivate", post(deactivate))
        .route("/v2/images/{image_id}/actions/reactivate", post(reactivate))
        .route("/v2/images/{image_id}/members", get(member_list).post(member_add))
        .route("/v2/images/{image_id}/members/{member_id}", get(member_show).put(member_update).delete(member_delete))
        .route("/v2/images/{image_id}/tasks", get(image_tasks))
        .route("/v2/info/import", get(info_import))
        .route("/v2/info/stores", get(info_stores))
        .route("/v2/info/usage", get(info_usage))
}

fn ts(us: i64) -> String {
    common::time::iso_seconds_z(common::time::from_micros(us))
}

/// The image as the API shows it: core attributes, custom properties flattened in.
pub fn image_view(i: &Image) -> Value {
    let mut v = Map::new();
    for (k, p) in &i.properties {
        v.insert(k.clone(), json!(p));
    }
    for (k, x) in [
        ("id", json!(i.id)),
        ("name", json!(i.name)),
        ("status", json!(i.status)),
        ("visibility", json!(i.visibility)),
        ("protected", json!(i.protected)),
        ("os_hidden", json!(i.os_hidden)),
        ("checksum", json!(i.checksum)),
        ("os_hash_algo", json!(i.os_hash_algo)),
        ("os_hash_value", json!(i.os_hash_value)),
        ("owner", json!(i.owner)),
        ("size", json!(i.size)),
        ("virtual_size", json!(i.virtual_size)),
        ("min_ram", json!(i.min_ram)),
        ("min_disk", json!(i.min_disk)),
        ("disk_format", json!(i.disk_format)),
        ("container_format", json!(i.container_format)),
        ("created_at", json!(ts(i.created_at))),
        ("updated_at", json!(ts(i.updated_at))),
        ("tags", json!(i.tags)),
        ("self", json!(format!("/v2/images/{}", i.id))),
        ("file", json!(format!("/v2/images/{}/file", i.id))),
        ("schema", json!("/v2/schemas/image")),
    ] {
        v.insert(k.to_string(), x);
    }
    if i.status == "active" {
        v.insert("stores".into(), json!("file"));
    }
    Value::Object(v)
}

fn member_view(m: &Member) -> Value {
    json!({
        "created_at": ts(m.created_at),
        "updated_at": ts(m.updated_at),
        "image_id": m.image_id,
        "member_id": m.member,
        "status": m.status,
        "schema": "/v2/schemas/member",
    })
}

async fn json_body(body: axum::body::Bytes) -> Result<Value> {
    if body.is_empty() {
        return Err(GlanceError::BadRequest("Body expected in request.".into()));
    }
    serde_json::from_slice(&body).map_err(|e| GlanceError::BadRequest(format!("Malformed JSON in request body: {e}")))
}

fn body_stream(body: Body) -> impl futures::Stream<Item = std::result::Result<bytes::Bytes, std::io::Error>> + Unpin + Send {
    body.into_data_stream().map_err(std::io::Error::other)
}

async fn list(State(app): State<SharedApp>, Ctx(ctx): Ctx, uri: Uri, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    let mut images = app.image_list(&ctx, &query).await?;
    // Sorting: `sort=name:asc,status` or `sort_key`/`sort_dir` (repeatable upstream; one here).
    let mut keys: Vec<(String, bool)> = Vec::new();
    if let Some(s) = query.get("sort") {
        for part in s.split(',') {
            let (k, d) = part.split_once(':').unwrap_or((part, "desc"));
            if d != "asc" && d != "desc" {
                return Err(GlanceError::BadRequest(format!("Invalid sort direction: {d}")));
            }
            keys.push((k.trim().to_string(), d == "asc"));
        }
    } else {
        let dir = query.get("sort_dir").map(String::as_str).unwrap_or("desc");
        if dir != "asc" && dir != "desc" {
            return Err(GlanceError::BadRequest(format!("Invalid sort direction: {dir}")));
        }
        keys.push((query.get("sort_key").cloned().unwrap_or_else(|| "created_at".into()), dir == "asc"));
    }
    for (k, _) in &keys {
        if !SORT_KEYS.contains(&k.as_str()) {
            return Err(GlanceError::BadRequest(format!("Invalid sort key: {k}. It must be one of the following: {}.", SORT_KEYS.join(", "))));
        }
    }
    if !keys.iter().any(|(k, _)| k == "id") {
        keys.push(("id".into(), keys.first().is_some_and(|(_, asc)| *asc)));
    }
    images.sort_by(|a, b| {
        for (k, asc) in &keys {
            let o = sort_value(a, k).cmp(&sort_value(b, k));
            let o = if *asc { o } else { o.reverse() };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    let limit = match query.get("limit") {
        Some(l) => l.parse::<usize>().map_err(|_| GlanceError::BadRequest(format!("limit param must be an integer, got '{l}'")))?.min(app.cfg.api_limit_max),
        None => app.cfg.limit_param_default,
    };
    if let Some(marker) = query.get("marker") {
        let pos = images.iter().position(|i| &i.id == marker).ok_or_else(|| GlanceError::BadRequest(format!("marker '{marker}' not found")))?;
        images.drain(..=pos);
    }
    let more = images.len() > limit;
    images.truncate(limit);
    let mut body = json!({
        "images": images.iter().map(image_view).collect::<Vec<_>>(),
        "first": uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/v2/images".into()),
        "schema": "/v2/schemas/images",
    });
    if more {
        if let Some(last) = images.last() {
            let mut q: Vec<String> = query.iter().filter(|(k, _)| k.as_str() != "marker").map(|(k, v)| format!("{k}={}", encode(v))).collect();
            q.push(format!("marker={}", last.id));
            if !query.contains_key("limit") {
                q.push(format!("limit={limit}"));
            }
            body["next"] = json!(format!("/v2/images?{}", q.join("&")));
        }
    }
    Ok(Json(body))
}

const SORT_KEYS: &[&str] = &["name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at", "visibility", "owner", "min_disk", "min_ram", "virtual_size", "os_hidden", "protected"];

fn sort_value(i: &Image, key: &str) -> (i64, String) {
    match key {
        "size" => (i.size.unwrap_or(-1), String::new()),
        "virtual_size" => (i.virtual_size.unwrap_or(-1), String::new()),
        "min_disk" => (i.min_disk, String::new()),
        "min_ram" => (i.min_ram, String::new()),
        "created_at" => (i.created_at, String::new()),
        "updated_at" => (i.updated_at, String::new()),
        "protected" => (i64::from(i.protected), String::new()),
        "os_hidden" => (i64::from(i.os_hidden), String::new()),
        "name" => (0, i.name.clone().unwrap_or_default()),
        "status" => (0, i.status.clone()),
        "container_format" => (0, i.container_format.clone().unwrap_or_default()),
        "disk_format" => (0, i.disk_format.clone().unwrap_or_default()),
        "visibility" => (0, i.visibility.clone()),
        "owner" => (0, i.owner.clone().unwrap_or_default()),
        _ => (0, i.id.clone()),
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn create(State(app): State<SharedApp>, Ctx(ctx): Ctx, body: axum::body::Bytes) -> Result<Response> {
    let body = json_body(body).await?;
    let obj = body.as_object().ok_or_else(|| GlanceError::BadRequest("The request body must be a JSON object.".into()))?;
    let image = app.image_create(&ctx, obj).await?;
    let mut resp = (StatusCode::CREATED, Json(image_view(&image))).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/images/{}", image.id)) {
        h.insert(header::LOCATION, v);
    }
    // Clients (openstacksdk) learn the import methods and stores from these headers.
    if let Ok(v) = HeaderValue::from_str(&app.cfg.enabled_import_methods.join(",")) {
        h.insert("openstack-image-import-methods", v);
    }
    if let Ok(v) = HeaderValue::from_str(app.store.id()) {
        h.insert("openstack-image-store-ids", v);
    }
    Ok(resp)
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let (image, _) = app.image_for(&ctx, &id, "get_image").await?;
    Ok(Json(image_view(&image)))
}

async fn update(State(app): State<SharedApp>, Ctx(ctx): Ctx, headers: HeaderMap, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !ct.starts_with("application/openstack-images-v2.1-json-patch") && !ct.starts_with("application/openstack-images-v2.0-json-patch") {
        return Err(GlanceError::UnsupportedMediaType(format!("Unsupported Content-Type '{ct}': use application/openstack-images-v2.1-json-patch")));
    }
    let ops = json_body(body).await?;
    let ops = ops.as_array().ok_or_else(|| GlanceError::BadRequest("Request body must be a JSON array of operation objects.".into()))?;
    let image = app.image_patch(&ctx, &id, ops).await?;
    Ok(Json(image_view(&image)))
}

async fn delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<StatusCode> {
    app.image_delete(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn upload(State(app): State<SharedApp>, Ctx(ctx): Ctx, headers: HeaderMap, Path(id): Path<String>, body: Body) -> Result<StatusCode> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/octet-stream");
    if !ct.starts_with("application/octet-stream") {
        return Err(GlanceError::UnsupportedMediaType(format!("Unsupported Content-Type '{ct}' for image data: use application/octet-stream")));
    }
    app.image_upload(&ctx, &id, body_stream(body)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `Range: bytes=a-b` / `bytes=a-` (one range).
fn parse_range(headers: &HeaderMap, size: i64) -> Result<Option<(u64, Option<u64>)>> {
    let Some(r) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Ok(None) };
    let bad = || GlanceError::BadRequest(format!("Invalid Range header: {r}"));
    let spec = r.strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let size = size.max(0) as u64;
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| bad())?;
        (size.saturating_sub(n), Some(size.saturating_sub(1)))
    } else {
        let start: u64 = a.parse().map_err(|_| bad())?;
        let end = if b.is_empty() { None } else { Some(b.parse::<u64>().map_err(|_| bad())?.min(size.saturating_sub(1))) };
        (start, end)
    };
    if start >= size || end.is_some_and(|e| e < start) {
        return Err(GlanceError::RangeNotSatisfiable(format!("Requested range not satisfiable: {r}")));
    }
    Ok(Some((start, Some(end.unwrap_or(size - 1)))))
}

async fn download(State(app): State<SharedApp>, Ctx(ctx): Ctx, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let (image, _) = app.image_for(&ctx, &id, "download_image").await?;
    let range = parse_range(&headers, image.size.unwrap_or(0))?;
    let Some((stream, image)) = app.image_download(&ctx, &id, range).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let size = image.size.unwrap_or(0).max(0) as u64;
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    match range {
        Some((start, end)) => {
            let end = end.unwrap_or(size.saturating_sub(1));
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(end + 1 - start));
        }
        None => {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            if let Some(c) = image.checksum.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
                h.insert("content-md5", c);
            }
        }
    }
    Ok(resp)
}

async fn stage(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>, body: Body) -> Result<StatusCode> {
    app.image_stage(&ctx, &id, body_stream(body)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn import(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>, body: axum::body::Bytes) -> Result<StatusCode> {
    let body = json_body(body).await?;
    app.image_import(&ctx, &id, &body).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn image_tasks(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let tasks = app.image_tasks(&ctx, &id).await?;
    Ok(Json(json!({"tasks": tasks.iter().map(super::tasks::task_view).collect::<Vec<_>>()})))
}

async fn tag_add(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, tag)): Path<(String, String)>) -> Result<StatusCode> {
    app.image_tag(&ctx, &id, &tag, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tag_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, tag)): Path<(String, String)>) -> Result<StatusCode> {
    app.image_tag(&ctx, &id, &tag, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deactivate(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<StatusCode> {
    app.image_set_active(&ctx, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reactivate(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<StatusCode> {
    app.image_set_active(&ctx, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn member_list(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let members = app.member_list(&ctx, &id).await?;
    Ok(Json(json!({"members": members.iter().map(member_view).collect::<Vec<_>>(), "schema": "/v2/schemas/members"})))
}

async fn member_add(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let body = json_body(body).await?;
    let member = body.get("member").and_then(Value::as_str).ok_or_else(|| GlanceError::BadRequest("Member to be added not specified".into()))?;
    Ok(Json(member_view(&app.member_add(&ctx, &id, member).await?)))
}

async fn member_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, member)): Path<(String, String)>) -> Result<Json<Value>> {
    Ok(Json(member_view(&app.member_get(&ctx, &id, &member).await?)))
}

async fn member_update(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, member)): Path<(String, String)>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let body = json_body(body).await?;
    let status = body.get("status").and_then(Value::as_str).ok_or_else(|| GlanceError::BadRequest("Status not specified".into()))?;
    Ok(Json(member_view(&app.member_update(&ctx, &id, &member, status).await?)))
}

async fn member_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, member)): Path<(String, String)>) -> Result<StatusCode> {
    app.member_delete(&ctx, &id, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn info_import(State(app): State<SharedApp>, Ctx(_ctx): Ctx) -> Json<Value> {
    Json(json!({"import-methods": {"description": "Import methods available.", "type": "array", "value": app.cfg.enabled_import_methods}}))
}

async fn info_stores(State(app): State<SharedApp>, Ctx(_ctx): Ctx) -> Json<Value> {
    Json(json!({"stores": [{"id": app.store.id(), "description": "Local filesystem store", "default": true}]}))
}

async fn info_usage(State(app): State<SharedApp>, Ctx(ctx): Ctx) -> Result<Json<Value>> {
    let owner = ctx.project_id().map(str::to_string);
    let images: Vec<Image> = crate::db::images::image_list_all(&app.db).await?.into_iter().filter(|i| i.owner == owner).collect();
    let total: i64 = images.iter().filter_map(|i| i.size).sum();
    let staging = images.iter().filter(|i| i.status == "uploading" || i.status == "importing").count();
    let limit = |v: i64| if v <= 0 { -1 } else { v };
    Ok(Json(json!({"usage": {
        "image_size_total": {"limit": limit(app.cfg.user_storage_quota as i64), "usage": total},
        "image_count_total": {"limit": app.cfg.image_count_quota, "usage": images.len()},
        "image_stage_total": {"limit": -1, "usage": 0},
        "image_count_uploading": {"limit": -1, "usage": staging},
    }})))
}
