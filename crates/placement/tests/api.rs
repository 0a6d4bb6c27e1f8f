//! Placement over its HTTP router, in-process, with an in-process Keystone validating tokens:
//! providers and trees, inventories, allocations with consumer generations and capacity,
//! usages, traits, resource classes, aggregates, allocation candidates, the reshaper, policy,
//! microversions and error envelopes, and the concurrency proof (many claims racing for the
//! same capacity never over-allocate) on SQLite, and on PostgreSQL and MariaDB when reachable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use common::request_id::{request_id_layer, RequestIdHeaders};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use keystone::bootstrap::Bootstrap;
use serde_json::{json, Value};
use tower::ServiceExt;

#[path = "api/candidates.rs"]
mod candidates;
#[path = "api/client.rs"]
mod client;
#[path = "api/concurrency.rs"]
mod concurrency;

pub struct Cloud {
    dir: PathBuf,
    pub ks: Router,
    pub placement: Router,
    pub admin: String,
    pub app: placement::SharedApp,
    pub validator: Arc<dyn auth::TokenValidator>,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
}

pub async fn send(router: &Router, method: Method, path: &str, token: Option<&str>, version: Option<&str>, body: Option<Value>) -> Resp {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("x-auth-token", t);
    }
    if let Some(v) = version {
        req = req.header("openstack-api-version", format!("placement {v}"));
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let resp = router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

pub async fn cloud() -> Cloud {
    cloud_on(None).await
}

/// A cloud whose Placement database is `connection` (default: SQLite in a temp dir).
pub async fn cloud_on(connection: Option<&str>) -> Cloud {
    let dir = std::env::temp_dir().join(format!("placement-api-{}", common::ids::new_hex_id()));
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
    if let Some(c) = connection {
        cfg.set("placement_database", "connection", c);
    }
    let app = placement::open(placement::PlacementConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let ks = keystone::api::router(ks_app.clone());
    let validator: Arc<dyn auth::TokenValidator> = Arc::new(keystone::validator::LocalValidator(ks_app));
    let placement = placement_router(app.clone(), validator.clone());
    let mut c = Cloud { dir, ks, placement, admin: String::new(), app, validator };
    c.admin = c.token("admin", "pw", "admin").await;
    c
}

/// A Placement router as `serve` runs it (with request ids).
pub fn placement_router(app: placement::SharedApp, validator: Arc<dyn auth::TokenValidator>) -> Router {
    placement::api::router(app, validator).layer(axum::middleware::from_fn_with_state(RequestIdHeaders::default(), request_id_layer))
}

impl Cloud {
    async fn token(&self, user: &str, pw: &str, project: &str) -> String {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": pw}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}});
        let r = send(&self.ks, Method::POST, "/v3/auth/tokens", None, None, Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED);
        r.headers["x-subject-token"].to_str().unwrap().to_string()
    }

    async fn ks_call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.ks, method, path, Some(&self.admin), None, body).await
    }

    /// A user with `role` on a new project `name`; returns (token, project id).
    pub async fn user_with_role(&self, name: &str, role: &str) -> (String, String) {
        let p = self.ks_call(Method::POST, "/v3/projects", Some(json!({"project": {"name": name}}))).await;
        let pid = p.body["project"]["id"].as_str().unwrap().to_string();
        let u = self.ks_call(Method::POST, "/v3/users", Some(json!({"user": {"name": name, "password": "pw"}}))).await;
        let uid = u.body["user"]["id"].as_str().unwrap().to_string();
        let r = self.ks_call(Method::GET, &format!("/v3/roles?name={role}"), None).await;
        let rid = match r.body["roles"][0]["id"].as_str() {
            Some(id) => id.to_string(),
            None => self.ks_call(Method::POST, "/v3/roles", Some(json!({"role": {"name": role}}))).await.body["role"]["id"].as_str().unwrap().to_string(),
        };
        assert_eq!(self.ks_call(Method::PUT, &format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"), None).await.status, StatusCode::NO_CONTENT);
        (self.token(name, "pw", name).await, pid)
    }

    /// A request as admin at microversion `v`.
    pub async fn call(&self, v: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.placement, method, path, Some(&self.admin), Some(v), body).await
    }

    pub async fn call_as(&self, token: Option<&str>, v: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.placement, method, path, token, Some(v), body).await
    }

    /// Creates a provider (optionally under `parent`) with `inventory` ({rc: total});
    /// returns its uuid.
    pub async fn provider(&self, name: &str, parent: Option<&str>, inventory: Value) -> String {
        let mut b = json!({"name": name});
        if let Some(p) = parent {
            b["parent_provider_uuid"] = json!(p);
        }
        let r = self.call("1.39", Method::POST, "/resource_providers", Some(b)).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let uuid = r.body["uuid"].as_str().unwrap().to_string();
        if inventory.as_object().is_some_and(|o| !o.is_empty()) {
            let invs: serde_json::Map<String, Value> = inventory.as_object().unwrap().iter().map(|(k, v)| (k.clone(), if v.is_object() { v.clone() } else { json!({"total": v}) })).collect();
            let r = self.call("1.39", Method::PUT, &format!("/resource_providers/{uuid}/inventories"), Some(json!({"resource_provider_generation": 0, "inventories": invs}))).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
        uuid
    }

    pub async fn set_traits(&self, uuid: &str, traits: &[&str]) {
        let g = self.call("1.39", Method::GET, &format!("/resource_providers/{uuid}"), None).await.body["generation"].as_i64().unwrap();
        let r = self.call("1.39", Method::PUT, &format!("/resource_providers/{uuid}/traits"), Some(json!({"traits": traits, "resource_provider_generation": g}))).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    pub async fn set_aggregates(&self, uuid: &str, aggs: &[&str]) {
        let g = self.call("1.39", Method::GET, &format!("/resource_providers/{uuid}"), None).await.body["generation"].as_i64().unwrap();
        let r = self.call("1.39", Method::PUT, &format!("/resource_providers/{uuid}/aggregates"), Some(json!({"aggregates": aggs, "resource_provider_generation": g}))).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    /// Claims `resources` on `provider` for a new consumer; returns the status.
    pub async fn claim(&self, consumer: &str, provider: &str, resources: Value) -> Resp {
        let body = json!({"allocations": {provider: {"resources": resources}}, "project_id": "p1", "user_id": "u1", "consumer_generation": null, "consumer_type": "INSTANCE"});
        self.call("1.39", Method::PUT, &format!("/allocations/{consumer}"), Some(body)).await
    }
}

pub fn uuid() -> String {
    common::ids::new_uuid()
}

fn code(r: &Resp) -> &str {
    r.body["errors"][0]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn version_document_and_negotiation() {
    let c = cloud().await;
    let r = send(&c.placement, Method::GET, "/", None, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["versions"][0]["max_version"], "1.39");
    assert_eq!(r.body["versions"][0]["min_version"], "1.0");
    assert_eq!(r.body["versions"][0]["id"], "v1.0");
    let r = c.call("latest", Method::GET, "/", None).await;
    assert_eq!(r.headers["openstack-api-version"], "placement 1.39");
    assert!(r.headers["vary"].to_str().unwrap().contains("OpenStack-API-Version"));
    let r = c.call("2.0", Method::GET, "/resource_providers", None).await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    let e = &r.body["errors"][0];
    assert_eq!(e["status"], 406);
    assert_eq!(e["max_version"], "1.39");
    assert!(e["request_id"].as_str().unwrap().starts_with("req-"));
    let r = c.call("1.40", Method::GET, "/resource_providers", None).await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    let r = c.call("1.x", Method::GET, "/resource_providers", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A route a version lacks is 404; unknown paths and methods get the envelope too.
    assert_eq!(c.call("1.5", Method::GET, "/traits", None).await.status, StatusCode::NOT_FOUND);
    let r = c.call("1.39", Method::GET, "/nothing-here", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["errors"][0]["code"], "placement.undefined_code");
    let r = c.call("1.39", Method::PATCH, "/resource_providers", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body["errors"][0]["status"], 405);
    // GETs from 1.15 say they are not cacheable.
    let r = c.call("1.15", Method::GET, "/resource_providers", None).await;
    assert_eq!(r.headers["cache-control"], "no-cache");
    assert!(r.headers.contains_key("last-modified"));
    assert!(!c.call("1.14", Method::GET, "/resource_providers", None).await.headers.contains_key("cache-control"));
}

#[tokio::test]
async fn policy_allows_admin_and_service_only() {
    let c = cloud().await;
    let r = send(&c.placement, Method::GET, "/resource_providers", None, Some("1.39"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["errors"][0]["status"], 401);
    let r = send(&c.placement, Method::GET, "/resource_providers", Some("bogus"), Some("1.39"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let (member, pid) = c.user_with_role("alice", "member").await;
    let r = c.call_as(Some(&member), "1.39", Method::GET, "/resource_providers", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("placement:resource_providers:list"));
    // A project member may read its own project's usages (reader is implied by member).
    let r = c.call_as(Some(&member), "1.39", Method::GET, &format!("/usages?project_id={pid}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(c.call_as(Some(&member), "1.39", Method::GET, "/usages?project_id=other", None).await.status, StatusCode::FORBIDDEN);
    let (service, _) = c.user_with_role("nova", "service").await;
    let r = c.call_as(Some(&service), "1.39", Method::POST, "/resource_providers", Some(json!({"name": "cn1"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    // The reshaper is a service's only.
    let r = c.call("1.39", Method::POST, "/reshaper", Some(json!({"inventories": {}, "allocations": {}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn resource_provider_lifecycle() {
    let c = cloud().await;
    // Before 1.20: 201, Location, no body.
    let r = c.call("1.19", Method::POST, "/resource_providers", Some(json!({"name": "old"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.headers["location"].to_str().unwrap().starts_with("/resource_providers/"));
    let id = uuid();
    let r = c.call("1.39", Method::POST, "/resource_providers", Some(json!({"name": "cn1", "uuid": id}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["uuid"], id);
    assert_eq!(r.body["generation"], 0);
    assert_eq!(r.body["root_provider_uuid"], id);
    assert_eq!(r.body["parent_provider_uuid"], Value::Null);
    let rels: Vec<&str> = r.body["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    assert_eq!(rels, ["self", "inventories", "usages", "aggregates", "traits", "allocations"]);
    // At 1.0 the older shape.
    let r = c.call("1.0", Method::GET, &format!("/resource_providers/{id}"), None).await;
    assert!(r.body.get("root_provider_uuid").is_none());
    assert_eq!(r.body["links"].as_array().unwrap().len(), 3);
    // Duplicates.
    let r = c.call("1.39", Method::POST, "/resource_providers", Some(json!({"name": "cn1"}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(code(&r), "placement.duplicate_name");
    let r = c.call("1.22", Method::POST, "/resource_providers", Some(json!({"name": "cn1"}))).await;
    assert!(r.body["errors"][0].get("code").is_none(), "no code before 1.23");
    assert_eq!(c.call("1.39", Method::POST, "/resource_providers", Some(json!({"name": "x", "uuid": id}))).await.status, StatusCode::CONFLICT);
    // Bad bodies.
    assert_eq!(c.call("1.39", Method::POST, "/resource_providers", Some(json!({"name": ""}))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::POST, "/resource_providers", Some(json!({"name": "a", "bogus": 1}))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::POST, "/resource_providers", Some(json!({"name": "a", "uuid": "nope"}))).await.status, StatusCode::BAD_REQUEST);
    let r = send(&c.placement, Method::POST, "/resource_providers", Some(&c.admin), Some("1.39"), None).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Rename, list by name, delete.
    let r = c.call("1.39", Method::PUT, &format!("/resource_providers/{id}"), Some(json!({"name": "cn1-renamed"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "cn1-renamed");
    let r = c.call("1.39", Method::GET, "/resource_providers?name=cn1-renamed", None).await;
    assert_eq!(r.body["resource_providers"].as_array().unwrap().len(), 1);
    let r = c.call("1.39", Method::GET, &format!("/resource_providers?uuid={id}"), None).await;
    assert_eq!(r.body["resource_providers"][0]["uuid"], id);
    assert_eq!(c.call("1.39", Method::GET, "/resource_providers?bogus=1", None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::DELETE, &format!("/resource_providers/{id}"), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call("1.39", Method::GET, &format!("/resource_providers/{id}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(c.call("1.39", Method::DELETE, &format!("/resource_providers/{id}"), None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn provider_trees_and_reparenting() {
    let c = cloud().await;
    let root = c.provider("root", None, json!({})).await;
    let child = c.provider("child", Some(&root), json!({})).await;
    let grandchild = c.provider("grandchild", Some(&child), json!({})).await;
    let other = c.provider("other", None, json!({})).await;
    let r = c.call("1.39", Method::GET, &format!("/resource_providers/{grandchild}"), None).await;
    assert_eq!(r.body["root_provider_uuid"], root);
    assert_eq!(r.body["parent_provider_uuid"], child);
    let r = c.call("1.39", Method::GET, &format!("/resource_providers?in_tree={grandchild}"), None).await;
    assert_eq!(r.body["resource_providers"].as_array().unwrap().len(), 3);
    let r = c.call("1.39", Method::POST, "/resource_providers", Some(json!({"name": "orphan", "parent_provider_uuid": uuid()}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Before 1.37 a parent cannot change; from 1.37 it can, but not into a loop.
    let r = c.call("1.36", Method::PUT, &format!("/resource_providers/{child}"), Some(json!({"name": "child", "parent_provider_uuid": other}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.call("1.37", Method::PUT, &format!("/resource_providers/{root}"), Some(json!({"name": "root", "parent_provider_uuid": grandchild}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("loop"));
    let r = c.call("1.37", Method::PUT, &format!("/resource_providers/{child}"), Some(json!({"name": "child", "parent_provider_uuid": other}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["root_provider_uuid"], other);
    // The subtree moved along.
    let r = c.call("1.39", Method::GET, &format!("/resource_providers/{grandchild}"), None).await;
    assert_eq!(r.body["root_provider_uuid"], other);
    // Un-parenting makes it a root of its own tree.
    let r = c.call("1.37", Method::PUT, &format!("/resource_providers/{child}"), Some(json!({"name": "child", "parent_provider_uuid": null}))).await;
    assert_eq!(r.body["root_provider_uuid"], child);
    assert_eq!(c.call("1.39", Method::GET, &format!("/resource_providers/{grandchild}"), None).await.body["root_provider_uuid"], child);
    // A provider that had no parent may get one before 1.37.
    let r = c.call("1.14", Method::PUT, &format!("/resource_providers/{other}"), Some(json!({"name": "other", "parent_provider_uuid": root}))).await;
    assert_eq!(r.status, StatusCode::OK);
    // A parent cannot be deleted before its children.
    let r = c.call("1.39", Method::DELETE, &format!("/resource_providers/{child}"), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(code(&r), "placement.resource_provider.cannot_delete_parent");
}

#[tokio::test]
async fn inventories() {
    let c = cloud().await;
    let rp = c.provider("cn", None, json!({})).await;
    let path = format!("/resource_providers/{rp}/inventories");
    let r = c.call("1.39", Method::PUT, &path, Some(json!({"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 8, "allocation_ratio": 16.0}, "MEMORY_MB": {"total": 4096, "reserved": 512}}}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["resource_provider_generation"], 1);
    assert_eq!(r.body["inventories"]["VCPU"], json!({"total": 8, "reserved": 0, "min_unit": 1, "max_unit": 2147483647, "step_size": 1, "allocation_ratio": 16.0}));
    // A stale generation is a conflict with upstream's code.
    let r = c.call("1.39", Method::PUT, &path, Some(json!({"resource_provider_generation": 0, "inventories": {}}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(code(&r), "placement.concurrent_update");
    // Validation.
    let bad = |inv: Value| json!({"resource_provider_generation": 1, "inventories": {"VCPU": inv}});
    assert_eq!(c.call("1.39", Method::PUT, &path, Some(bad(json!({"total": 0})))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::PUT, &path, Some(bad(json!({"total": 4, "reserved": 5})))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.25", Method::PUT, &path, Some(bad(json!({"total": 4, "reserved": 4})))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::PUT, &path, Some(bad(json!({"reserved": 4})))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::PUT, &path, Some(bad(json!({"total": 4, "colour": "red"})))).await.status, StatusCode::BAD_REQUEST);
    let r = c.call("1.39", Method::PUT, &path, Some(json!({"resource_provider_generation": 1, "inventories": {"CUSTOM_NOPE": {"total": 1}}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // One class at a time.
    let r = c.call("1.39", Method::POST, &path, Some(json!({"resource_class": "DISK_GB", "total": 100, "resource_provider_generation": 1}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.headers["location"], format!("{path}/DISK_GB"));
    assert_eq!(r.body["resource_provider_generation"], 2);
    let r = c.call("1.39", Method::POST, &path, Some(json!({"resource_class": "DISK_GB", "total": 100, "resource_provider_generation": 2}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(code(&r), "placement.concurrent_update");
    let r = c.call("1.39", Method::PUT, &format!("{path}/DISK_GB"), Some(json!({"total": 200, "resource_provider_generation": 2}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["total"], 200);
    let r = c.call("1.39", Method::GET, &format!("{path}/DISK_GB"), None).await;
    assert_eq!(r.body["total"], 200);
    assert_eq!(r.body["resource_provider_generation"], 3);
    assert_eq!(c.call("1.39", Method::GET, &format!("{path}/PCPU"), None).await.status, StatusCode::NOT_FOUND);
    // In use: cannot be removed.
    assert_eq!(c.claim(&uuid(), &rp, json!({"DISK_GB": 10})).await.status, StatusCode::NO_CONTENT);
    let r = c.call("1.39", Method::DELETE, &format!("{path}/DISK_GB"), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(code(&r), "placement.inventory.inuse");
    let g = c.call("1.39", Method::GET, &path, None).await.body["resource_provider_generation"].as_i64().unwrap();
    let r = c.call("1.39", Method::PUT, &path, Some(json!({"resource_provider_generation": g, "inventories": {"VCPU": {"total": 8}}}))).await;
    assert_eq!(code(&r), "placement.inventory.inuse");
    assert_eq!(c.call("1.39", Method::DELETE, &path, None).await.status, StatusCode::CONFLICT);
    assert_eq!(c.call("1.4", Method::DELETE, &path, None).await.status, StatusCode::NOT_FOUND);
    // Unused classes can go.
    assert_eq!(c.call("1.39", Method::DELETE, &format!("{path}/VCPU"), None).await.status, StatusCode::NO_CONTENT);
    let r = c.call("1.39", Method::GET, &path, None).await;
    assert_eq!(r.body["inventories"].as_object().unwrap().keys().collect::<Vec<_>>(), ["DISK_GB", "MEMORY_MB"]);
}

#[tokio::test]
async fn allocations_consumers_and_usages() {
    let c = cloud().await;
    let rp = c.provider("cn", None, json!({"VCPU": {"total": 4, "max_unit": 2}, "MEMORY_MB": {"total": 1024, "step_size": 256}})).await;
    let vm = uuid();
    let body = |gen: Value, vcpu: i64| json!({"allocations": {&rp: {"resources": {"VCPU": vcpu, "MEMORY_MB": 512}}}, "project_id": "p1", "user_id": "u1", "consumer_generation": gen, "consumer_type": "INSTANCE"});
    let r = c.call("1.39", Method::PUT, &format!("/allocations/{vm}"), Some(body(json!(null), 2))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c.call("1.39", Method::GET, &format!("/allocations/{vm}"), None).await;
    assert_eq!(r.body["allocations"][&rp]["resources"], json!({"VCPU": 2, "MEMORY_MB": 512}));
    assert_eq!(r.body["allocations"][&rp]["generation"], 2);
    assert_eq!(r.body["consumer_generation"], 0);
    assert_eq!(r.body["project_id"], "p1");
    assert_eq!(r.body["consumer_type"], "INSTANCE");
    let r = c.call("1.27", Method::GET, &format!("/allocations/{vm}"), None).await;
    assert!(r.body.get("consumer_generation").is_none());
    // Consumer generation: null for an existing consumer, or a stale one, is a conflict.
    let r = c.call("1.39", Method::PUT, &format!("/allocations/{vm}"), Some(body(json!(null), 1))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(code(&r), "placement.concurrent_update");
    assert_eq!(c.call("1.39", Method::PUT, &format!("/allocations/{vm}"), Some(body(json!(5), 1))).await.status, StatusCode::CONFLICT);
    assert_eq!(c.call("1.39", Method::PUT, &format!("/allocations/{vm}"), Some(body(json!(0), 1))).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call("1.39", Method::GET, &format!("/allocations/{vm}"), None).await.body["consumer_generation"], 1);
    // Capacity, max_unit and step_size.
    let r = c.claim(&uuid(), &rp, json!({"VCPU": 3})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("constraints"));
    let r = c.claim(&uuid(), &rp, json!({"MEMORY_MB": 100})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c.claim(&uuid(), &rp, json!({"MEMORY_MB": 768})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("exceed the capacity"));
    assert_eq!(c.claim(&uuid(), &rp, json!({"DISK_GB": 1})).await.status, StatusCode::CONFLICT);
    assert_eq!(c.claim(&uuid(), &uuid(), json!({"VCPU": 1})).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.claim(&uuid(), &rp, json!({"VCPU": 0})).await.status, StatusCode::BAD_REQUEST);
    // Missing keys for the version.
    let r = c.call("1.39", Method::PUT, &format!("/allocations/{}", uuid()), Some(json!({"allocations": {&rp: {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u", "consumer_generation": null}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Usages.
    let r = c.call("1.39", Method::GET, &format!("/resource_providers/{rp}/usages"), None).await;
    assert_eq!(r.body["usages"], json!({"VCPU": 1, "MEMORY_MB": 512}));
    let other = uuid();
    let b = json!({"allocations": {&rp: {"resources": {"VCPU": 1}}}, "project_id": "p1", "user_id": "u2", "consumer_generation": null, "consumer_type": "MIGRATION"});
    assert_eq!(c.call("1.39", Method::PUT, &format!("/allocations/{other}"), Some(b)).await.status, StatusCode::NO_CONTENT);
    let r = c.call("1.39", Method::GET, "/usages?project_id=p1", None).await;
    assert_eq!(r.body["usages"]["INSTANCE"], json!({"consumer_count": 1, "VCPU": 1, "MEMORY_MB": 512}));
    assert_eq!(r.body["usages"]["MIGRATION"], json!({"consumer_count": 1, "VCPU": 1}));
    let r = c.call("1.39", Method::GET, "/usages?project_id=p1&consumer_type=all", None).await;
    assert_eq!(r.body["usages"]["all"]["VCPU"], 2);
    let r = c.call("1.37", Method::GET, "/usages?project_id=p1&user_id=u1", None).await;
    assert_eq!(r.body["usages"], json!({"VCPU": 1, "MEMORY_MB": 512}));
    let r = c.call("1.39", Method::GET, &format!("/resource_providers/{rp}/allocations"), None).await;
    assert_eq!(r.body["allocations"][&vm]["resources"]["VCPU"], 1);
    assert_eq!(r.body["allocations"].as_object().unwrap().len(), 2);
    // A provider with allocations cannot be deleted.
    let r = c.call("1.39", Method::DELETE, &format!("/resource_providers/{rp}"), None).await;
    assert_eq!(code(&r), "placement.resource_provider.inuse");
    // Delete, then the consumer is gone (a new claim needs generation null again).
    assert_eq!(c.call("1.39", Method::DELETE, &format!("/allocations/{vm}"), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call("1.39", Method::DELETE, &format!("/allocations/{vm}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(c.call("1.39", Method::GET, &format!("/allocations/{vm}"), None).await.body, json!({"allocations": {}}));
    assert_eq!(c.call("1.39", Method::PUT, &format!("/allocations/{vm}"), Some(body(json!(null), 1))).await.status, StatusCode::NO_CONTENT);
    // Old formats: list before 1.12, no project before 1.8.
    let old = uuid();
    let r = c.call("1.0", Method::PUT, &format!("/allocations/{old}"), Some(json!({"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"VCPU": 1}}]}))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c.call("1.12", Method::GET, &format!("/allocations/{old}"), None).await;
    assert_eq!(r.body["project_id"], "00000000-0000-0000-0000-000000000000");
}

#[tokio::test]
async fn post_allocations_is_all_or_nothing() {
    let c = cloud().await;
    let a = c.provider("a", None, json!({"VCPU": 2})).await;
    let b = c.provider("b", None, json!({"VCPU": 2})).await;
    let (vm, migration) = (uuid(), uuid());
    assert_eq!(c.claim(&vm, &a, json!({"VCPU": 2})).await.status, StatusCode::NO_CONTENT);
    // Move: the instance's allocation goes to the migration, the instance claims on b.
    let body = |vm_gen: Value, dest_vcpu: i64| {
        json!({
            migration.clone(): {"allocations": {&a: {"resources": {"VCPU": 2}}}, "project_id": "p1", "user_id": "u1", "consumer_generation": null, "consumer_type": "MIGRATION"},
            vm.clone(): {"allocations": {&b: {"resources": {"VCPU": dest_vcpu}}}, "project_id": "p1", "user_id": "u1", "consumer_generation": vm_gen, "consumer_type": "INSTANCE"},
        })
    };
    // One consumer's part does not fit: nothing changes.
    let r = c.call("1.39", Method::POST, "/allocations", Some(body(json!(0), 3))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(c.call("1.39", Method::GET, &format!("/allocations/{migration}"), None).await.body, json!({"allocations": {}}));
    assert_eq!(c.call("1.12", Method::POST, "/allocations", Some(body(json!(0), 2))).await.status, StatusCode::NOT_FOUND);
    let r = c.call("1.39", Method::POST, "/allocations", Some(body(json!(0), 2))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(c.call("1.39", Method::GET, &format!("/resource_providers/{a}/usages"), None).await.body["usages"]["VCPU"], 2);
    assert_eq!(c.call("1.39", Method::GET, &format!("/allocations/{vm}"), None).await.body["allocations"][&b]["resources"]["VCPU"], 2);
    // Empty allocations in POST remove a consumer's.
    let r = c.call("1.39", Method::POST, "/allocations", Some(json!({migration.clone(): {"allocations": {}, "project_id": "p1", "user_id": "u1", "consumer_generation": 0, "consumer_type": "MIGRATION"}}))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(c.call("1.39", Method::GET, &format!("/resource_providers/{a}/usages"), None).await.body["usages"]["VCPU"], 0);
}

#[tokio::test]
async fn traits_classes_and_aggregates() {
    let c = cloud().await;
    // Traits.
    let r = c.call("1.39", Method::GET, "/traits?name=startswith:HW_CPU_X86_AVX", None).await;
    assert!(r.body["traits"].as_array().unwrap().iter().any(|t| t == "HW_CPU_X86_AVX2"));
    assert_eq!(c.call("1.39", Method::PUT, "/traits/CUSTOM_GOLD", None).await.status, StatusCode::CREATED);
    let r = c.call("1.39", Method::PUT, "/traits/CUSTOM_GOLD", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.headers["location"], "/traits/CUSTOM_GOLD");
    assert_eq!(c.call("1.39", Method::PUT, "/traits/NOT_CUSTOM", None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::GET, "/traits/CUSTOM_GOLD", None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call("1.39", Method::GET, "/traits/CUSTOM_NONE", None).await.status, StatusCode::NOT_FOUND);
    let r = c.call("1.39", Method::GET, "/traits?name=in:CUSTOM_GOLD,COMPUTE_NODE,CUSTOM_NONE", None).await;
    assert_eq!(r.body["traits"], json!(["COMPUTE_NODE", "CUSTOM_GOLD"]));
    assert_eq!(c.call("1.39", Method::GET, "/traits?name=CUSTOM_GOLD", None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::DELETE, "/traits/COMPUTE_NODE", None).await.status, StatusCode::BAD_REQUEST);
    let rp = c.provider("cn", None, json!({})).await;
    let path = format!("/resource_providers/{rp}/traits");
    let r = c.call("1.39", Method::PUT, &path, Some(json!({"traits": ["CUSTOM_GOLD", "HW_CPU_X86_AVX2"], "resource_provider_generation": 0}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["resource_provider_generation"], 1);
    let r = c.call("1.39", Method::PUT, &path, Some(json!({"traits": ["CUSTOM_GOLD"], "resource_provider_generation": 0}))).await;
    assert_eq!(code(&r), "placement.concurrent_update");
    assert_eq!(c.call("1.39", Method::PUT, &path, Some(json!({"traits": ["CUSTOM_NONE"], "resource_provider_generation": 1}))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::GET, &path, None).await.body["traits"], json!(["CUSTOM_GOLD", "HW_CPU_X86_AVX2"]));
    let r = c.call("1.39", Method::GET, "/traits?associated=true&name=startswith:CUSTOM", None).await;
    assert_eq!(r.body["traits"], json!(["CUSTOM_GOLD"]));
    assert_eq!(c.call("1.39", Method::DELETE, "/traits/CUSTOM_GOLD", None).await.status, StatusCode::CONFLICT);
    assert_eq!(c.call("1.39", Method::DELETE, &path, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call("1.39", Method::DELETE, "/traits/CUSTOM_GOLD", None).await.status, StatusCode::NO_CONTENT);
    // Resource classes.
    let r = c.call("1.39", Method::GET, "/resource_classes", None).await;
    assert_eq!(r.body["resource_classes"][0], json!({"name": "VCPU", "links": [{"rel": "self", "href": "/resource_classes/VCPU"}]}));
    let r = c.call("1.39", Method::POST, "/resource_classes", Some(json!({"name": "CUSTOM_FPGA_X"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.headers["location"], "/resource_classes/CUSTOM_FPGA_X");
    assert_eq!(c.call("1.39", Method::POST, "/resource_classes", Some(json!({"name": "CUSTOM_FPGA_X"}))).await.status, StatusCode::CONFLICT);
    assert_eq!(c.call("1.39", Method::POST, "/resource_classes", Some(json!({"name": "FPGA_X"}))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::PUT, "/resource_classes/CUSTOM_FPGA_X", None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call("1.39", Method::PUT, "/resource_classes/CUSTOM_NEW", None).await.status, StatusCode::CREATED);
    let r = c.call("1.2", Method::PUT, "/resource_classes/CUSTOM_NEW", Some(json!({"name": "CUSTOM_RENAMED"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "CUSTOM_RENAMED");
    assert_eq!(c.call("1.39", Method::GET, "/resource_classes/CUSTOM_RENAMED", None).await.status, StatusCode::OK);
    assert_eq!(c.call("1.39", Method::DELETE, "/resource_classes/VCPU", None).await.status, StatusCode::BAD_REQUEST);
    let inv = json!({"resource_provider_generation": 2, "inventories": {"CUSTOM_FPGA_X": {"total": 2}}});
    assert_eq!(c.call("1.39", Method::PUT, &format!("/resource_providers/{rp}/inventories"), Some(inv)).await.status, StatusCode::OK);
    assert_eq!(c.call("1.39", Method::DELETE, "/resource_classes/CUSTOM_FPGA_X", None).await.status, StatusCode::CONFLICT);
    assert_eq!(c.call("1.39", Method::DELETE, "/resource_classes/CUSTOM_RENAMED", None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call("1.39", Method::GET, "/resource_classes/CUSTOM_RENAMED", None).await.status, StatusCode::NOT_FOUND);
    // Aggregates: a list before 1.19, with the generation after.
    let agg = uuid();
    let path = format!("/resource_providers/{rp}/aggregates");
    let r = c.call("1.1", Method::PUT, &path, Some(json!([agg]))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!({"aggregates": [agg]}));
    let r = c.call("1.19", Method::GET, &path, None).await;
    let g = r.body["resource_provider_generation"].as_i64().unwrap();
    let r = c.call("1.39", Method::PUT, &path, Some(json!({"aggregates": [], "resource_provider_generation": g + 5}))).await;
    assert_eq!(code(&r), "placement.concurrent_update");
    let r = c.call("1.19", Method::PUT, &path, Some(json!({"aggregates": ["not-a-uuid"], "resource_provider_generation": g}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.call("1.19", Method::PUT, &path, Some(json!({"aggregates": [], "resource_provider_generation": g}))).await;
    assert_eq!(r.body, json!({"aggregates": [], "resource_provider_generation": g + 1}));
}

#[tokio::test]
async fn resource_provider_list_filters() {
    let c = cloud().await;
    let (agg1, agg2) = (uuid(), uuid());
    let small = c.provider("small", None, json!({"VCPU": 2, "MEMORY_MB": 1024})).await;
    let big = c.provider("big", None, json!({"VCPU": 16, "MEMORY_MB": 65536})).await;
    let _empty = c.provider("empty", None, json!({})).await;
    c.set_traits(&big, &["HW_CPU_X86_AVX2"]).await;
    c.set_aggregates(&small, &[&agg1]).await;
    c.set_aggregates(&big, &[&agg2]).await;
    let names = |r: Resp| -> Vec<String> { r.body["resource_providers"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect() };
    assert_eq!(names(c.call("1.39", Method::GET, "/resource_providers?resources=VCPU:4", None).await), ["big"]);
    assert_eq!(names(c.call("1.39", Method::GET, "/resource_providers?resources=VCPU:1,MEMORY_MB:512", None).await), ["small", "big"]);
    assert_eq!(names(c.call("1.39", Method::GET, &format!("/resource_providers?member_of=in:{agg1},{agg2}"), None).await), ["small", "big"]);
    assert_eq!(names(c.call("1.39", Method::GET, &format!("/resource_providers?member_of={agg1}"), None).await), ["small"]);
    assert_eq!(names(c.call("1.39", Method::GET, &format!("/resource_providers?member_of=!{agg1}"), None).await), ["big", "empty"]);
    assert_eq!(c.call("1.31", Method::GET, &format!("/resource_providers?member_of=!{agg1}"), None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(names(c.call("1.39", Method::GET, &format!("/resource_providers?member_of={agg1}&member_of={agg2}"), None).await), Vec::<String>::new());
    assert_eq!(names(c.call("1.39", Method::GET, "/resource_providers?required=HW_CPU_X86_AVX2", None).await), ["big"]);
    assert_eq!(names(c.call("1.39", Method::GET, "/resource_providers?required=!HW_CPU_X86_AVX2", None).await), ["small", "empty"]);
    assert_eq!(names(c.call("1.39", Method::GET, "/resource_providers?required=in:HW_CPU_X86_AVX2,COMPUTE_NODE", None).await), ["big"]);
    assert_eq!(c.call("1.38", Method::GET, "/resource_providers?required=in:HW_CPU_X86_AVX2,COMPUTE_NODE", None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.21", Method::GET, "/resource_providers?required=!HW_CPU_X86_AVX2", None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.17", Method::GET, "/resource_providers?required=HW_CPU_X86_AVX2", None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::GET, "/resource_providers?required=CUSTOM_NONE", None).await.status, StatusCode::BAD_REQUEST);
    let r = c.call("1.39", Method::GET, "/resource_providers?resources=VCPU", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.39", Method::GET, "/resource_providers?resources=CUSTOM_NONE:1", None).await.status, StatusCode::BAD_REQUEST);
    let r = c.call("1.39", Method::GET, "/resource_providers?name=a&name=b", None).await;
    assert_eq!(code(&r), "placement.query.duplicate_key");
    // Capacity counts usage.
    assert_eq!(c.claim(&uuid(), &small, json!({"VCPU": 2})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(names(c.call("1.39", Method::GET, "/resource_providers?resources=VCPU:1", None).await), ["big"]);
}

#[tokio::test]
async fn reshaper_moves_inventory_and_allocations_together() {
    let c = cloud().await;
    let (service, _) = c.user_with_role("nova", "service").await;
    let root = c.provider("cn", None, json!({"VCPU": 8, "VGPU": 4})).await;
    let vm = uuid();
    assert_eq!(c.claim(&vm, &root, json!({"VCPU": 2, "VGPU": 1})).await.status, StatusCode::NO_CONTENT);
    let gpu = c.provider("cn-gpu0", Some(&root), json!({})).await;
    let root_gen = c.call("1.39", Method::GET, &format!("/resource_providers/{root}"), None).await.body["generation"].as_i64().unwrap();
    let body = |root_gen: i64, vgpu_total: i64| {
        json!({
            "inventories": {
                &root: {"resource_provider_generation": root_gen, "inventories": {"VCPU": {"total": 8}}},
                &gpu: {"resource_provider_generation": 0, "inventories": {"VGPU": {"total": vgpu_total}}},
            },
            "allocations": {
                &vm: {"allocations": {&root: {"resources": {"VCPU": 2}}, &gpu: {"resources": {"VGPU": 1}}}, "project_id": "p1", "user_id": "u1", "consumer_generation": 0, "consumer_type": "INSTANCE"}
            }
        })
    };
    assert_eq!(c.call_as(Some(&service), "1.29", Method::POST, "/reshaper", Some(body(root_gen, 4))).await.status, StatusCode::NOT_FOUND);
    // Stale generation: nothing changes.
    let r = c.call_as(Some(&service), "1.39", Method::POST, "/reshaper", Some(body(root_gen - 1, 4))).await;
    assert_eq!(code(&r), "placement.concurrent_update");
    let r = c.call_as(Some(&service), "1.39", Method::POST, "/reshaper", Some(body(root_gen, 4))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c.call("1.39", Method::GET, &format!("/allocations/{vm}"), None).await;
    assert_eq!(r.body["allocations"][&gpu]["resources"]["VGPU"], 1);
    assert_eq!(r.body["allocations"][&root]["resources"], json!({"VCPU": 2}));
    let r = c.call("1.39", Method::GET, &format!("/resource_providers/{root}/inventories"), None).await;
    assert!(r.body["inventories"].get("VGPU").is_none());
}
