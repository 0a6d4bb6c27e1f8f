//! Glance's HTTP API v2 (glance/api/v2): thin handlers over the app layer, behind the
//! auth_token middleware except for the version documents.

mod images;
mod metadef_body;
mod metadef_schemas;
mod metadefs;
mod schemas;
mod tasks;

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use auth::{auth_token_layer, AuthTokenConfig, RequestContext, TokenValidator};
use common::error::Envelope;
use serde_json::json;

use crate::app::SharedApp;
use crate::error::GlanceError;

/// The caller, as the auth_token middleware put it on the request.
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = GlanceError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<RequestContext>().cloned().map(Ctx).ok_or(GlanceError::Unauthorized)
    }
}

/// The whole Glance router; `validator` checks tokens (in-process Keystone or over HTTP).
pub fn router(app: SharedApp, validator: Arc<dyn TokenValidator>) -> Router {
    let protected = Router::new()
        .merge(images::routes())
        .merge(schemas::routes())
        .merge(tasks::routes())
        .merge(metadefs::routes())
        .merge(metadef_schemas::routes())
        .layer(axum::middleware::from_fn_with_state(AuthTokenConfig { validator, envelope: Envelope::PlainText }, auth_token_layer));
    Router::new()
        .route("/", get(versions_multiple))
        .route("/versions", get(versions))
        .merge(protected)
        .fallback(|| async { GlanceError::NotFound("The resource could not be found.".into()) })
        .layer(axum::middleware::from_fn(error_body_for_accept))
        .with_state(app)
}

/// Glance's error bodies are negotiated as webob does: JSON (`{"code": "404 Not Found",
/// "title", "message"}`) for a client that accepts JSON, plain text for one that asks only for
/// text, and a small HTML page otherwise (no `Accept`, or `*/*`). SDKs read the message a
/// person needs from the JSON or the HTML; from plain text they show only the reason phrase.
async fn error_body_for_accept(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let accept = req.headers().get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let resp = next.run(req).await;
    let is_text = resp.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/plain"));
    if !is_text || !(resp.status().is_client_error() || resp.status().is_server_error()) {
        return resp;
    }
    let status = resp.status();
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 16).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let message = text.split_once("\n\n").map(|(_, m)| m.trim()).unwrap_or(text.trim()).to_string();
    let title = status.canonical_reason().unwrap_or("Error");
    let code = format!("{} {}", status.as_u16(), title);
    let (content_type, body) = if accept.contains("application/json") {
        ("application/json", json!({"code": code, "title": title, "message": message}).to_string())
    } else if accept.trim() == "text/plain" {
        ("text/plain; charset=UTF-8", format!("{code}\n\n{message}\n"))
    } else {
        let escaped = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        ("text/html; charset=UTF-8", format!("<html>\n <head>\n  <title>{code}</title>\n </head>\n <body>\n  <h1>{code}</h1>\n  {escaped}<br /><br />\n </body>\n</html>"))
    };
    parts.headers.insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static(content_type));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, axum::body::Body::from(body))
}

fn version_list(app: &SharedApp, headers: &HeaderMap) -> serde_json::Value {
    let base = common::version::base_url(app.cfg.public_endpoint.as_deref(), headers, "localhost:9292");
    let entry = |id: &str, status: &str| json!({"id": id, "status": status, "links": [{"rel": "self", "href": format!("{base}/v2/")}]});
    let mut versions = vec![entry("v2.16", "CURRENT")];
    for v in ["v2.15", "v2.9", "v2.7", "v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0"] {
        versions.push(entry(v, "SUPPORTED"));
    }
    json!({"versions": versions})
}

async fn versions_multiple(State(app): State<SharedApp>, headers: HeaderMap) -> impl IntoResponse {
    (StatusCode::MULTIPLE_CHOICES, Json(version_list(&app, &headers)))
}

async fn versions(State(app): State<SharedApp>, headers: HeaderMap) -> impl IntoResponse {
    Json(version_list(&app, &headers))
}
