//! A server's metadata (`/servers/{id}/metadata`, server_metadata.py) and, from 2.26, its
//! tags (`/servers/{id}/tags`, server_tags.py).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{Ctx, Mv};
use crate::app::servers::MetaChange;
use crate::app::SharedApp;
use crate::error::{NovaError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2.1/servers/{server_id}/metadata", get(meta_index).post(meta_merge).put(meta_replace))
        .route("/v2.1/servers/{server_id}/metadata/{key}", get(meta_show).put(meta_set).delete(meta_delete))
        .route("/v2.1/servers/{server_id}/tags", get(tags_index).put(tags_replace).delete(tags_clear))
        .route("/v2.1/servers/{server_id}/tags/{tag}", get(tag_check).put(tag_add).delete(tag_delete))
}

fn body_map(body: &axum::body::Bytes, key: &str) -> Result<BTreeMap<String, String>> {
    let v: Value = serde_json::from_slice(body).map_err(|e| NovaError::BadRequest(format!("Malformed request body: {e}")))?;
    let m = v.get(key).and_then(Value::as_object).ok_or_else(|| NovaError::BadRequest(format!("Invalid input for field/attribute {key}. '{key}' is a required property")))?;
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let v = v.as_str().ok_or_else(|| NovaError::BadRequest(format!("Invalid input for field/attribute {key}. Value of {k} must be a string.")))?;
        if k.is_empty() || k.len() > 255 || v.len() > 255 {
            return Err(NovaError::BadRequest(format!("Invalid input for field/attribute {key}. Keys and values must be 1 to 255 characters.")));
        }
        out.insert(k.clone(), v.to_string());
    }
    Ok(out)
}

async fn meta_index(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:server-metadata:index", &crate::app::App::server_target(&i))?;
    Ok(Json(json!({"metadata": i.metadata})))
}

async fn meta_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, key)): Path<(String, String)>) -> Result<Json<Value>> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:server-metadata:show", &crate::app::App::server_target(&i))?;
    let v = i.metadata.get(&key).ok_or_else(|| NovaError::NotFound("Metadata item was not found".into()))?;
    Ok(Json(json!({"meta": {key: v}})))
}

async fn meta_merge(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let m = body_map(&body, "metadata")?;
    let i = app.server_metadata_change(&ctx, &id, "os_compute_api:server-metadata:create", MetaChange::Merge(m)).await?;
    Ok(Json(json!({"metadata": i.metadata})))
}

async fn meta_replace(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let m = body_map(&body, "metadata")?;
    let i = app.server_metadata_change(&ctx, &id, "os_compute_api:server-metadata:update_all", MetaChange::Replace(m)).await?;
    Ok(Json(json!({"metadata": i.metadata})))
}

async fn meta_set(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, key)): Path<(String, String)>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let m = body_map(&body, "meta")?;
    if m.len() != 1 {
        return Err(NovaError::BadRequest("Request body contains too many items".into()));
    }
    if !m.contains_key(&key) {
        return Err(NovaError::BadRequest("Request body and URI mismatch".into()));
    }
    let i = app.server_metadata_change(&ctx, &id, "os_compute_api:server-metadata:update", MetaChange::Merge(m)).await?;
    Ok(Json(json!({"meta": {key.clone(): i.metadata.get(&key)}})))
}

async fn meta_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, key)): Path<(String, String)>) -> Result<StatusCode> {
    app.server_metadata_change(&ctx, &id, "os_compute_api:server-metadata:delete", MetaChange::Delete(key)).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn tags_version(mv: &Mv) -> Result<()> {
    if mv.0.at_least(2, 26) {
        Ok(())
    } else {
        Err(NovaError::NotFound("The resource could not be found.".into()))
    }
}

async fn tags_index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    tags_version(&mv)?;
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-server-tags:index", &crate::app::App::server_target(&i))?;
    Ok(Json(json!({"tags": i.tags})))
}

async fn tags_replace(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    tags_version(&mv)?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| NovaError::BadRequest(format!("Malformed request body: {e}")))?;
    let tags: Vec<String> = v
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| NovaError::BadRequest("Invalid input for field/attribute tags. 'tags' is a required property".into()))?
        .iter()
        .map(|t| t.as_str().map(str::to_string).ok_or_else(|| NovaError::BadRequest("Invalid input for field/attribute tags. Tags must be strings.".into())))
        .collect::<Result<_>>()?;
    let i = app.server_metadata_change(&ctx, &id, "os_compute_api:os-server-tags:update_all", MetaChange::Tags(tags)).await?;
    Ok(Json(json!({"tags": i.tags})))
}

async fn tags_clear(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<StatusCode> {
    tags_version(&mv)?;
    app.server_metadata_change(&ctx, &id, "os_compute_api:os-server-tags:delete_all", MetaChange::Tags(vec![])).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tag_check(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, tag)): Path<(String, String)>) -> Result<StatusCode> {
    tags_version(&mv)?;
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-server-tags:show", &crate::app::App::server_target(&i))?;
    if i.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(NovaError::NotFound(format!("Tag {tag} could not be found.")))
    }
}

async fn tag_add(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Path((id, tag)): Path<(String, String)>) -> Result<Response> {
    tags_version(&mv)?;
    let before = app.server_get(&ctx, &id).await?;
    if before.tags.contains(&tag) {
        app.enforce(&ctx, "os_compute_api:os-server-tags:update", &crate::app::App::server_target(&before))?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut tags = before.tags.clone();
    tags.push(tag.clone());
    app.server_metadata_change(&ctx, &id, "os_compute_api:os-server-tags:update", MetaChange::Tags(tags)).await?;
    let mut resp = StatusCode::CREATED.into_response();
    let base = super::base_url(&app, &headers);
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/v2.1/servers/{id}/tags/{tag}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn tag_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, tag)): Path<(String, String)>) -> Result<StatusCode> {
    tags_version(&mv)?;
    let before = app.server_get(&ctx, &id).await?;
    if !before.tags.contains(&tag) {
        return Err(NovaError::NotFound(format!("Tag {tag} could not be found.")));
    }
    let tags = before.tags.into_iter().filter(|t| t != &tag).collect();
    app.server_metadata_change(&ctx, &id, "os_compute_api:os-server-tags:delete", MetaChange::Tags(tags)).await?;
    Ok(StatusCode::NO_CONTENT)
}
