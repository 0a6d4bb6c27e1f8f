//! `/resource_classes[/{name}]` (1.2) and `/traits[/{name}]` (1.6)
//! (placement/handlers/resource_class.py and trait.py).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{header, StatusCode};
use serde_json::{json, Value};

use super::body::{self, JsonBody, Mv, QueryPairs};
use super::Ctx;
use crate::app::traits::{Put, TraitQuery};
use crate::app::SharedApp;
use crate::error::{PlacementError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/resource_classes", get(class_list).post(class_create))
        .route("/resource_classes/{name}", get(class_show).put(class_put).delete(class_delete))
        .route("/traits", get(trait_list))
        .route("/traits/{name}", get(trait_show).put(trait_put).delete(trait_delete))
}

fn class_view(name: &str) -> Value {
    json!({"name": name, "links": [{"rel": "self", "href": format!("/resource_classes/{name}")}]})
}

async fn class_list(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv) -> Result<Json<Value>> {
    mv.require(2)?;
    let all = app.resource_class_list(&ctx).await?;
    Ok(Json(json!({"resource_classes": all.iter().map(|n| class_view(n)).collect::<Vec<_>>()})))
}

async fn class_create(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, JsonBody(b): JsonBody) -> Result<Response> {
    mv.require(2)?;
    let obj = body::object(&b, &["name"], &["name"])?;
    let name = body::string(obj, "name")?.unwrap_or("").to_string();
    app.resource_class_create(&ctx, &name).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/resource_classes/{name}"))]).into_response())
}

async fn class_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(name): Path<String>) -> Result<Json<Value>> {
    mv.require(2)?;
    app.resource_class_show(&ctx, &name).await?;
    Ok(Json(class_view(&name)))
}

/// From 1.7 a bodiless create-if-missing; before, a rename with `{"name": new}`.
async fn class_put(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(name): Path<String>, req: axum::extract::Request) -> Result<Response> {
    mv.require(2)?;
    if mv.at_least(7) {
        let status = match app.resource_class_put(&ctx, &name).await? {
            Put::Created => StatusCode::CREATED,
            Put::Existed => StatusCode::NO_CONTENT,
        };
        return Ok((status, [(header::LOCATION, format!("/resource_classes/{name}"))]).into_response());
    }
    let JsonBody(b) = <JsonBody as axum::extract::FromRequest<()>>::from_request(req, &()).await?;
    let obj = body::object(&b, &["name"], &["name"])?;
    let new_name = body::string(obj, "name")?.unwrap_or("").to_string();
    app.resource_class_rename(&ctx, &name, &new_name).await?;
    Ok(Json(class_view(&new_name)).into_response())
}

async fn class_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(name): Path<String>) -> Result<StatusCode> {
    mv.require(2)?;
    app.resource_class_delete(&ctx, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn trait_list(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, q: QueryPairs) -> Result<Json<Value>> {
    mv.require(6)?;
    q.only(&["name", "associated"])?;
    let mut query = TraitQuery::default();
    if let Some(n) = q.single("name")? {
        if let Some(list) = n.strip_prefix("in:") {
            query.names_in = Some(list.split(',').map(|s| s.trim().to_string()).collect());
        } else if let Some(prefix) = n.strip_prefix("startswith:") {
            query.starts_with = Some(prefix.to_string());
        } else {
            return Err(PlacementError::BadRequest(format!("Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"{n}\"")));
        }
    }
    if let Some(a) = q.single("associated")? {
        query.associated = Some(match a.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(PlacementError::BadRequest(format!("The query parameter \"associated\" only accepts \"true\" or \"false\". Got: {a}"))),
        });
    }
    Ok(Json(json!({"traits": app.trait_list(&ctx, &query).await?})))
}

async fn trait_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(name): Path<String>) -> Result<StatusCode> {
    mv.require(6)?;
    app.trait_show(&ctx, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn trait_put(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(name): Path<String>) -> Result<Response> {
    mv.require(6)?;
    let status = match app.trait_put(&ctx, &name).await? {
        Put::Created => StatusCode::CREATED,
        Put::Existed => StatusCode::NO_CONTENT,
    };
    Ok((status, [(header::LOCATION, format!("/traits/{name}"))]).into_response())
}

async fn trait_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(name): Path<String>) -> Result<StatusCode> {
    mv.require(6)?;
    app.trait_delete(&ctx, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
