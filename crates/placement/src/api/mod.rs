//! Placement's HTTP API (placement/handlers): thin handlers over the app layer, behind the
//! auth_token middleware except for the version document at `/`, with microversion
//! negotiation (`OpenStack-API-Version: placement 1.x`) and one error layer that finishes
//! every error body in Placement's envelope.

mod allocations;
pub(crate) mod body;
mod candidates;
mod classes;
mod inventories;
mod providers;

use std::sync::Arc;

use auth::{auth_token_layer, AuthTokenConfig, RequestContext, TokenValidator};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::error::Envelope;
use common::microversion::microversion_layer;
use common::RequestId;
use http::{HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::app::SharedApp;
use crate::error::PlacementError;
use crate::MICROVERSIONS;

/// The caller, as the auth_token middleware put it on the request.
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = PlacementError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<RequestContext>().cloned().map(Ctx).ok_or(PlacementError::Unauthorized)
    }
}

/// The whole Placement router; `validator` checks tokens (in-process Keystone or over HTTP).
pub fn router(app: SharedApp, validator: Arc<dyn TokenValidator>) -> Router {
    let protected = Router::new()
        .merge(providers::routes())
        .merge(inventories::routes())
        .merge(allocations::routes())
        .merge(candidates::routes())
        .merge(classes::routes())
        .layer(axum::middleware::from_fn_with_state(AuthTokenConfig { validator, envelope: Envelope::Placement }, auth_token_layer));
    Router::new()
        .route("/", get(root))
        .merge(protected)
        .fallback(|| async { PlacementError::NotFound("The resource could not be found.".into()) })
        .method_not_allowed_fallback(|| async { PlacementError::MethodNotAllowed("The method specified is not allowed for this resource.".into()) })
        .with_state(app)
        .layer(axum::middleware::from_fn_with_state(MICROVERSIONS, microversion_layer))
        .layer(axum::middleware::from_fn(finish_response))
}

/// `GET /`: the version document (relative self link, as upstream).
async fn root() -> impl IntoResponse {
    Json(json!({"versions": [{
        "id": format!("v{}", MICROVERSIONS.min),
        "max_version": MICROVERSIONS.max.to_string(),
        "min_version": MICROVERSIONS.min.to_string(),
        "status": "CURRENT",
        "links": [{"rel": "self", "href": ""}],
    }]}))
}

/// The negotiated version as the microversion layer echoed it, if it did.
fn echoed_version(resp: &Response) -> Option<(u32, u32)> {
    let v = resp.headers().get("openstack-api-version")?.to_str().ok()?;
    let ver = v.split_whitespace().nth(1)?;
    let (a, b) = ver.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Finishes every response the way placement's middleware stack does: error bodies get the
/// request id, keep `code` only from 1.23, and a refused version (406) names the supported
/// range; bodiless errors (from routing) get a body; successful GETs from 1.15 carry
/// `cache-control: no-cache` and `last-modified`.
async fn finish_response(req: Request, next: Next) -> Response {
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let is_get = req.method() == http::Method::GET;
    let resp = next.run(req).await;
    let version = echoed_version(&resp);
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        let mut resp = resp;
        if is_get && status == StatusCode::OK && version.is_some_and(|v| v >= (1, 15)) {
            let h = resp.headers_mut();
            h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            if let Ok(v) = HeaderValue::from_str(&chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
                h.insert(http::header::LAST_MODIFIED, v);
            }
        }
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let mut value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if value.get("errors").and_then(Value::as_array).is_none() {
        let detail = String::from_utf8_lossy(&bytes).trim().to_string();
        value = json!({"errors": [{"status": status.as_u16(), "title": status.canonical_reason().unwrap_or("Error"), "detail": detail, "code": crate::error::codes::DEFAULT}]});
    }
    if let Some(errors) = value.get_mut("errors").and_then(Value::as_array_mut) {
        for e in errors {
            let Some(obj) = e.as_object_mut() else { continue };
            match &request_id {
                Some(id) => {
                    obj.insert("request_id".into(), json!(id));
                }
                None => {
                    obj.remove("request_id");
                }
            }
            if version.is_none_or(|v| v < (1, 23)) {
                obj.remove("code");
            }
            if status == StatusCode::NOT_ACCEPTABLE && version.is_none() {
                obj.insert("max_version".into(), json!(MICROVERSIONS.max.to_string()));
                obj.insert("min_version".into(), json!(MICROVERSIONS.min.to_string()));
            }
        }
    }
    parts.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(value.to_string()))
}
