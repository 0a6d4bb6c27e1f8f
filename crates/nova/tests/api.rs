//! Nova over its HTTP router, in-process, with an in-process Keystone validating tokens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use keystone::bootstrap::Bootstrap;
use serde_json::{json, Value};
use tower::ServiceExt;

#[path = "api/flavor_manage.rs"]
mod flavor_manage;
#[path = "api/keypairs.rs"]
mod keypairs;
#[path = "api/quotas.rs"]
mod quotas;

pub struct Cloud {
    pub dir: PathBuf,
    pub ks: Router,
    pub nova: Router,
    pub admin: String,
    pub admin_project: String,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends a request through the router as `ferrostack up` serves it (project id segment
/// stripped before routing).
pub async fn send(router: &Router, method: Method, path: &str, token: Option<&str>, headers: &[(&str, &str)], body: Option<Value>) -> (StatusCode, http::HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("x-auth-token", t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = nova::api::strip_project_id(req.body(Body::from(body.map(|b| b.to_string()).unwrap_or_default())).unwrap());
    let resp = router.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

pub async fn cloud() -> Cloud {
    cloud_with_max(nova::api::MAX_VERSION).await
}

/// A cloud whose Nova negotiates microversions up to `max` (behaviour built ahead of what
/// is advertised).
pub async fn cloud_with_max(max: common::microversion::Version) -> Cloud {
    let dir = std::env::temp_dir().join(format!("nova-api-{}", common::ids::new_hex_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = common::config::Config::parse("", "test").unwrap();
    cfg.set("identity", "password_hash_rounds", "4");
    let ks_app = keystone::open(keystone::KeystoneConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    ks_app
        .bootstrap(&Bootstrap {
            admin_username: "admin".into(),
            admin_password: "pw".into(),
            project_name: "admin".into(),
            region_id: "RegionOne".into(),
            public_url: "http://127.0.0.1:5000/v3/".into(),
            internal_url: "http://127.0.0.1:5000/v3/".into(),
            admin_url: "http://127.0.0.1:5000/v3/".into(),
        })
        .await
        .unwrap();
    let nova_app = nova::open(nova::NovaConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let ks = keystone::api::router(ks_app.clone());
    let nova = nova::api::router_with_max(nova_app, Arc::new(keystone::validator::LocalValidator(ks_app)), max);
    let mut c = Cloud { dir, ks, nova, admin: String::new(), admin_project: String::new() };
    let (token, project) = c.token("admin", "pw", "admin").await;
    c.admin = token;
    c.admin_project = project;
    c
}

impl Cloud {
    /// A project-scoped token and its project id.
    pub async fn token(&self, user: &str, pw: &str, project: &str) -> (String, String) {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": pw}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}});
        let (s, h, b) = send(&self.ks, Method::POST, "/v3/auth/tokens", None, &[], Some(body)).await;
        assert_eq!(s, StatusCode::CREATED);
        (h["x-subject-token"].to_str().unwrap().to_string(), b["token"]["project"]["id"].as_str().unwrap().to_string())
    }

    /// A member of a new project `name`: (token, project id).
    pub async fn project_member(&self, name: &str) -> (String, String) {
        let (_, _, p) = send(&self.ks, Method::POST, "/v3/projects", Some(&self.admin), &[], Some(json!({"project": {"name": name}}))).await;
        let pid = p["project"]["id"].as_str().unwrap().to_string();
        let (_, _, u) = send(&self.ks, Method::POST, "/v3/users", Some(&self.admin), &[], Some(json!({"user": {"name": name, "password": "pw"}}))).await;
        let uid = u["user"]["id"].as_str().unwrap().to_string();
        let (_, _, r) = send(&self.ks, Method::GET, "/v3/roles?name=member", Some(&self.admin), &[], None).await;
        let rid = r["roles"][0]["id"].as_str().unwrap().to_string();
        let (s, _, _) = send(&self.ks, Method::PUT, &format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"), Some(&self.admin), &[], None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        self.token(name, "pw", name).await
    }

    /// A call at compute microversion `mv`.
    pub async fn call_mv(&self, token: &str, mv: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let header = format!("compute {mv}");
        let (s, _, b) = send(&self.nova, method, path, Some(token), &[("openstack-api-version", header.as_str())], body).await;
        (s, b)
    }

    pub async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, _, b) = send(&self.nova, method, path, Some(token), &[], body).await;
        (s, b)
    }
}

#[tokio::test]
async fn version_documents_and_microversion_negotiation() {
    let c = cloud().await;
    let (s, _, v) = send(&c.nova, Method::GET, "/", None, &[], None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["versions"][0]["id"], "v2.0", "v2.0 first, as upstream lists it");
    assert_eq!(v["versions"][1]["id"], "v2.1");
    assert_eq!(v["versions"][1]["min_version"], "2.1");
    let (s, _, v) = send(&c.nova, Method::GET, "/v2.1", None, &[], None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["version"]["media-types"][0]["base"], "application/json");

    // Unknown paths get the compute envelope, with and without the project id segment.
    let pid = c.admin_project.clone();
    for path in ["/v2.1/nothing-here".to_string(), format!("/v2.1/{pid}/nothing-here")] {
        let (s, b) = c.call(&c.admin, Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(b["itemNotFound"]["code"], 404, "{b}");
    }
    let (s, _, b) = send(&c.nova, Method::GET, "/v2.1/flavors", Some(&c.admin), &[("openstack-api-version", "compute 9.9")], None).await;
    assert_eq!(s, StatusCode::NOT_ACCEPTABLE, "{b}");
}

#[tokio::test]
async fn a_url_project_id_must_be_the_tokens() {
    let c = cloud().await;
    let (member, pid) = c.project_member("demo").await;
    let (s, b) = c.call(&member, Method::GET, &format!("/v2.1/{}/flavors", c.admin_project), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["badRequest"]["message"].as_str().unwrap().contains("doesn't match"));
    let (s, _) = c.call(&member, Method::GET, &format!("/v2.1/{pid}/nothing-here"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn flavors_are_listed_by_visibility_and_shaped_by_microversion() {
    let c = cloud().await;
    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/flavors", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["flavors"], json!([]));
    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/flavors/nope", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["itemNotFound"]["message"], "Flavor nope could not be found.");
    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/flavors?minRam=abc", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
}
