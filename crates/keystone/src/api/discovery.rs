//! Version discovery (keystone/api/discovery.py): `/` lists the versions (300 Multiple
//! Choices), `/v3` describes v3.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::SharedApp;

pub fn routes() -> Router<SharedApp> {
    Router::new().route("/", get(versions)).route("/v3", get(v3)).route("/v3/", get(v3))
}

fn v3_entry(base: &str) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

async fn versions(State(app): State<SharedApp>, headers: HeaderMap) -> impl IntoResponse {
    let base = super::base_url(&app, &headers);
    (StatusCode::MULTIPLE_CHOICES, Json(json!({"versions": {"values": [v3_entry(&base)]}})))
}

async fn v3(State(app): State<SharedApp>, headers: HeaderMap) -> impl IntoResponse {
    let base = super::base_url(&app, &headers);
    Json(json!({"version": v3_entry(&base)}))
}
