//! The version documents (nova/api/openstack/compute/versions.py and versionsV21.py): `/`
//! lists v2.0 (the legacy endpoint, served as v2.1 at 2.1) and v2.1 with its microversion
//! range; `/v2.1` and `/v2` describe themselves.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::{MAX_VERSION, MIN_VERSION};
use crate::app::SharedApp;

fn base(app: &SharedApp, headers: &HeaderMap) -> String {
    common::version::base_url(app.cfg.public_endpoint.as_deref(), headers, "localhost:8774")
}

fn v21_entry(base: &str) -> Value {
    json!({
        "id": "v2.1",
        "links": [{"href": format!("{base}/v2.1/"), "rel": "self"}],
        "status": "CURRENT",
        "version": MAX_VERSION.to_string(),
        "min_version": MIN_VERSION.to_string(),
        "updated": "2013-07-23T11:33:21Z"
    })
}

pub async fn root(State(app): State<SharedApp>, headers: HeaderMap) -> Json<Value> {
    let base = base(&app, &headers);
    // v2.0 is the same API at microversion 2.1 under /v2 (as upstream keeps it for old
    // clients); it is listed first, as upstream lists it.
    let v20 = json!({
        "id": "v2.0",
        "links": [{"href": format!("{base}/v2/"), "rel": "self"}],
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z"
    });
    Json(json!({"versions": [v20, v21_entry(&base)]}))
}

pub async fn v21(State(app): State<SharedApp>, headers: HeaderMap) -> Json<Value> {
    let base = base(&app, &headers);
    let mut v = v21_entry(&base);
    v["links"] = json!([
        {"href": format!("{base}/v2.1/"), "rel": "self"},
        {"href": "http://docs.openstack.org/", "rel": "describedby", "type": "text/html"}
    ]);
    v["media-types"] = json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]);
    Json(json!({"version": v}))
}

/// `/v2/`: the legacy v2.0 endpoint's own document (the API itself is v2.1 at 2.1).
pub async fn v20(State(app): State<SharedApp>, headers: HeaderMap) -> Json<Value> {
    let base = base(&app, &headers);
    Json(json!({"version": {
        "id": "v2.0",
        "links": [
            {"href": format!("{base}/v2/"), "rel": "self"},
            {"href": "http://docs.openstack.org/", "rel": "describedby", "type": "text/html"}
        ],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}],
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z"
    }}))
}
