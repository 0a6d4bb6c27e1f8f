//! `/v2/tasks` (glance/api/v2/tasks.py) and the task schemas. Tasks cannot be deleted: they
//! expire on their own.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::app::SharedApp;
use crate::db::tasks::Task;
use crate::error::{GlanceError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2/tasks", get(list).post(create))
        .route("/v2/tasks/{task_id}", get(show).delete(delete))
        .route("/v2/schemas/task", get(|| async { Json(task_schema()) }))
        .route("/v2/schemas/tasks", get(|| async { Json(tasks_schema()) }))
}

fn ts(us: i64) -> String {
    common::time::iso_seconds_z(common::time::from_micros(us))
}

/// A task as the API shows it.
pub fn task_view(t: &Task) -> Value {
    let mut v = stub(t);
    v.insert("input".into(), t.input.clone());
    v.insert("result".into(), t.result.clone().unwrap_or(Value::Null));
    v.insert("message".into(), json!(t.message));
    for (k, x) in [("image_id", &t.image_id), ("request_id", &t.request_id), ("user_id", &t.user_id)] {
        if let Some(x) = x {
            v.insert(k.into(), json!(x));
        }
    }
    Value::Object(v)
}

/// A task as a list shows it (no input, result or message).
fn stub(t: &Task) -> Map<String, Value> {
    let mut v = Map::new();
    v.insert("id".into(), json!(t.id));
    v.insert("type".into(), json!(t.kind));
    v.insert("status".into(), json!(t.status));
    v.insert("owner".into(), json!(t.owner));
    v.insert("created_at".into(), json!(ts(t.created_at)));
    v.insert("updated_at".into(), json!(ts(t.updated_at)));
    if let Some(e) = t.expires_at {
        v.insert("expires_at".into(), json!(ts(e)));
    }
    v.insert("self".into(), json!(format!("/v2/tasks/{}", t.id)));
    v.insert("schema".into(), json!("/v2/schemas/task"));
    v
}

async fn create(State(app): State<SharedApp>, Ctx(ctx): Ctx, body: axum::body::Bytes) -> Result<Response> {
    if body.is_empty() {
        return Err(GlanceError::BadRequest("Body expected in request.".into()));
    }
    let body: Value = serde_json::from_slice(&body).map_err(|e| GlanceError::BadRequest(format!("Malformed JSON in request body: {e}")))?;
    let task = app.task_create(&ctx, &body).await?;
    let mut resp = (StatusCode::CREATED, Json(task_view(&task))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/tasks/{}", task.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn list(State(app): State<SharedApp>, Ctx(ctx): Ctx, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    let page = app.task_list(&ctx, &query).await?;
    let mut body = json!({
        "tasks": page.tasks.iter().map(|t| Value::Object(stub(t))).collect::<Vec<_>>(),
        "first": "/v2/tasks",
        "schema": "/v2/schemas/tasks",
    });
    if let Some(marker) = page.next_marker {
        let mut q: Vec<String> = query.iter().filter(|(k, _)| k.as_str() != "marker").map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC))).collect();
        q.push(format!("marker={marker}"));
        body["next"] = json!(format!("/v2/tasks?{}", q.join("&")));
    }
    Ok(Json(body))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(task_view(&app.task_show(&ctx, &id).await?)))
}

/// Upstream answers 405 (after the access check): tasks expire, they are not deleted.
async fn delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Response> {
    app.task_show(&ctx, &id).await?;
    let mut resp = (StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n\nThis operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time based on their expires_at property.\n").into_response();
    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET"));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=UTF-8"));
    Ok(resp)
}

fn task_properties() -> Value {
    let uuid = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";
    let time = |what: &str| json!({"type": "string", "description": format!("Time of {what} (ISO 8601)")});
    json!({
        "id": {"type": "string", "pattern": uuid, "description": "The task's identifier"},
        "type": {"type": "string", "enum": ["import", "api_image_import", "location_import"], "description": "What the task does"},
        "status": {"type": "string", "enum": ["pending", "processing", "success", "failure"], "description": "Where the task is"},
        "input": {"type": ["null", "object"], "description": "The task's parameters"},
        "result": {"type": ["null", "object"], "description": "What the task produced"},
        "owner": {"type": ["null", "string"], "description": "The project that owns the task"},
        "message": {"type": "string", "description": "Why the task failed, if it did"},
        "image_id": {"type": "string", "description": "The image the task works on"},
        "request_id": {"type": "string", "description": "The request that started the task"},
        "user_id": {"type": "string", "description": "The user who started the task"},
        "expires_at": {"type": ["null", "string"], "description": "When the finished task stops being listed (ISO 8601)"},
        "created_at": time("creation"),
        "updated_at": time("the last change"),
        "self": {"type": "string"},
        "schema": {"type": "string"}
    })
}

fn task_schema() -> Value {
    json!({
        "name": "task",
        "properties": task_properties(),
        "required": ["type", "input"],
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}]
    })
}

fn tasks_schema() -> Value {
    json!({
        "name": "tasks",
        "properties": {
            "tasks": {"type": "array", "items": {"name": "task", "properties": task_properties(), "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}]}},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"}
        },
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"}, {"rel": "describedby", "href": "{schema}"}]
    })
}
