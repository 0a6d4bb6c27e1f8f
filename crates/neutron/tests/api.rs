//! Neutron over its HTTP router, in-process, with an in-process Keystone issuing and
//! validating real tokens: versions and extensions, networks with provider segments and
//! their exhaustion, subnets, ports and IPAM under concurrency, security groups, routers
//! and floating IPs with the in-use refusals, listing, quotas, policy and the error envelope.
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

#[path = "api/networks.rs"]
mod networks;
#[path = "api/ports.rs"]
mod ports;
#[path = "api/routers.rs"]
mod routers;
#[path = "api/security_groups.rs"]
mod security_groups;
#[path = "api/subnets.rs"]
mod subnets;
#[path = "api/listing.rs"]
mod listing;
#[path = "api/concurrency.rs"]
mod concurrency;
#[path = "api/nova_notifier.rs"]
mod nova_notifier;
#[path = "api/auto_allocate.rs"]
mod auto_allocate;
#[path = "api/rbac.rs"]
mod rbac;

pub const DEFAULT_CONF: &str = "[ml2]\ntenant_network_types = vxlan\n[ml2_type_vxlan]\nvni_ranges = 1:1000\n[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:100:102\n[ml2_type_flat]\nflat_networks = *\n";

pub struct Cloud {
    dir: PathBuf,
    pub ks: Router,
    pub neutron: Router,
    pub admin: String,
    pub admin_project: String,
    pub app: neutron::SharedApp,
    pub validator: Arc<dyn auth::TokenValidator>,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The NeutronError type, if this is an error.
    pub fn kind(&self) -> &str {
        self.body["NeutronError"]["type"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["NeutronError"]["message"].as_str().unwrap_or("")
    }
}

pub async fn send(router: &Router, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
    let mut req = Request::builder().method(method).uri(path).header("host", "neutron.test:9696");
    if let Some(t) = token {
        req = req.header("x-auth-token", t);
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
    cloud_with(DEFAULT_CONF).await
}

pub async fn cloud_with(conf: &str) -> Cloud {
    cloud_on(conf, None).await
}

/// A cloud whose neutron.conf is `conf` and whose Neutron database is `connection`
/// (default: SQLite in a temporary directory).
pub async fn cloud_on(conf: &str, connection: Option<&str>) -> Cloud {
    let dir = std::env::temp_dir().join(format!("neutron-api-{}", common::ids::new_hex_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = common::config::Config::parse(conf, "test").unwrap();
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
    if let Some(url) = connection {
        cfg.set("database", "connection", url);
    }
    let app = neutron::open(neutron::NeutronConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let ks = keystone::api::router(ks_app.clone());
    let validator: Arc<dyn auth::TokenValidator> = Arc::new(keystone::validator::LocalValidator(ks_app));
    let neutron = neutron_router(app.clone(), validator.clone());
    let mut c = Cloud { dir, ks, neutron, admin: String::new(), admin_project: String::new(), app, validator };
    c.admin = c.token("admin", "pw", "admin").await;
    let r = send(&c.ks, Method::GET, "/v3/projects?name=admin", Some(&c.admin), None).await;
    c.admin_project = r.body["projects"][0]["id"].as_str().unwrap().to_string();
    c
}

/// A Neutron router as `serve` runs it (with request ids).
pub fn neutron_router(app: neutron::SharedApp, validator: Arc<dyn auth::TokenValidator>) -> Router {
    neutron::router(app, validator).layer(axum::middleware::from_fn_with_state(RequestIdHeaders::default(), request_id_layer))
}

impl Cloud {
    async fn token(&self, user: &str, pw: &str, project: &str) -> String {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": pw}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}});
        let r = send(&self.ks, Method::POST, "/v3/auth/tokens", None, Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED);
        r.headers["x-subject-token"].to_str().unwrap().to_string()
    }

    /// A user with `role` on a new project `name`; returns (token, project id).
    pub async fn user_with_role(&self, name: &str, role: &str) -> (String, String) {
        let p = send(&self.ks, Method::POST, "/v3/projects", Some(&self.admin), Some(json!({"project": {"name": name}}))).await;
        let pid = p.body["project"]["id"].as_str().unwrap().to_string();
        let u = send(&self.ks, Method::POST, "/v3/users", Some(&self.admin), Some(json!({"user": {"name": name, "password": "pw"}}))).await;
        let uid = u.body["user"]["id"].as_str().unwrap().to_string();
        let r = send(&self.ks, Method::GET, &format!("/v3/roles?name={role}"), Some(&self.admin), None).await;
        let rid = r.body["roles"][0]["id"].as_str().unwrap().to_string();
        let r = send(&self.ks, Method::PUT, &format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"), Some(&self.admin), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        (self.token(name, "pw", name).await, pid)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.neutron, method, path, Some(&self.admin), body).await
    }

    pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.neutron, method, path, Some(token), body).await
    }

    /// Creates `{"<resource>": body}` at `path` as `token`, asserting 201; returns the resource.
    pub async fn create_as(&self, token: &str, path: &str, resource: &str, body: Value) -> Value {
        let r = self.call_as(token, Method::POST, path, Some(json!({resource: body}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {:?}", r.body);
        r.body[resource].clone()
    }

    pub async fn create(&self, path: &str, resource: &str, body: Value) -> Value {
        let admin = self.admin.clone();
        self.create_as(&admin, path, resource, body).await
    }

    /// A network with one IPv4 subnet `cidr`; returns (network id, subnet id).
    pub async fn net_with_subnet(&self, token: &str, name: &str, cidr: &str) -> (String, String) {
        let n = self.create_as(token, "/v2.0/networks", "network", json!({"name": name})).await;
        let nid = n["id"].as_str().unwrap().to_string();
        let s = self.create_as(token, "/v2.0/subnets", "subnet", json!({"network_id": nid, "ip_version": 4, "cidr": cidr})).await;
        (nid, s["id"].as_str().unwrap().to_string())
    }
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn versions_extensions_and_auth() {
    let c = cloud().await;
    let r = send(&c.neutron, Method::GET, "/", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["versions"][0]["id"], "v2.0");
    assert_eq!(r.body["versions"][0]["links"][0]["href"], "http://neutron.test:9696/v2.0/");
    let r = send(&c.neutron, Method::GET, "/v2.0/networks", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(&c.neutron, Method::GET, "/v2.0/networks", Some("not-a-token"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c.call(Method::GET, "/v2.0", None).await;
    let names: Vec<&str> = r.body["resources"].as_array().unwrap().iter().map(|x| x["collection"].as_str().unwrap()).collect();
    assert!(names.contains(&"networks") && names.contains(&"security_groups"));
    let r = c.call(Method::GET, "/v2.0/extensions", None).await;
    let aliases: Vec<&str> = r.body["extensions"].as_array().unwrap().iter().map(|x| x["alias"].as_str().unwrap()).collect();
    for a in ["provider", "external-net", "router", "security-group", "quotas", "binding", "port-security", "standard-attr-tag", "subnet_allocation", "auto-allocated-topology", "default-subnetpools", "rbac-policies"] {
        assert!(aliases.contains(&a), "{a} missing");
    }
    // Nothing that is not implemented is advertised.
    for a in ["dvr", "l3-ha", "address-scope", "multi-provider", "dns-integration", "trunk", "qos"] {
        assert!(!aliases.contains(&a), "{a} advertised");
    }
    let r = c.call(Method::GET, "/v2.0/agents", None).await;
    assert_eq!(r.body["agents"], json!([]));
    assert_eq!(c.call(Method::GET, "/v2.0/agents/x", None).await.kind(), "AgentNotFound");
    let r = c.call(Method::GET, "/v2.0/service-providers", None).await;
    assert_eq!(r.body["service_providers"][0]["service_type"], "L3_ROUTER_NAT");
    let r = c.call(Method::GET, "/v2.0/extensions/router", None).await;
    assert_eq!(r.body["extension"]["alias"], "router");
    let r = c.call(Method::GET, "/v2.0/extensions/trunk", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.kind(), "ExtensionNotFound");
    assert!(r.headers.contains_key("x-openstack-request-id"));
    // Bad bodies get webob's 400s in the envelope.
    let r = c.call(Method::POST, "/v2.0/networks", Some(json!({"net": {}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), "Unable to find 'network' in request body");
    let r = c.call(Method::POST, "/v2.0/networks", Some(json!({"network": {"bogus": 1}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), "Unrecognized attribute(s) 'bogus'");
}

#[tokio::test]
async fn quotas_limit_creation_with_over_quota() {
    let c = cloud().await;
    let (alice, pa) = c.user_with_role("alice", "member").await;
    let r = c.call_as(&alice, Method::GET, &format!("/v2.0/quotas/{pa}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["quota"], json!({"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50, "security_group": 10, "security_group_rule": 100}));
    // Only the admin sets quotas.
    let r = c.call_as(&alice, Method::PUT, &format!("/v2.0/quotas/{pa}"), Some(json!({"quota": {"network": 1}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.call(Method::PUT, &format!("/v2.0/quotas/{pa}"), Some(json!({"quota": {"network": 1, "router": 0}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["quota"]["network"], 1);
    c.create_as(&alice, "/v2.0/networks", "network", json!({"name": "one"})).await;
    let r = c.call_as(&alice, Method::POST, "/v2.0/networks", Some(json!({"network": {"name": "two"}}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.kind(), "OverQuota");
    assert_eq!(r.message(), "Quota exceeded for resources: ['network'].");
    let r = c.call_as(&alice, Method::POST, "/v2.0/routers", Some(json!({"router": {"name": "r"}}))).await;
    assert_eq!(r.kind(), "OverQuota");
    let r = c.call_as(&alice, Method::GET, &format!("/v2.0/quotas/{pa}/details"), None).await;
    assert_eq!(r.body["quota"]["network"], json!({"limit": 1, "used": 1, "reserved": 0}));
    let r = c.call(Method::GET, "/v2.0/quotas", None).await;
    assert_eq!(r.body["quotas"][0]["project_id"], pa);
    let r = c.call(Method::PUT, &format!("/v2.0/quotas/{pa}"), Some(json!({"quota": {"network": -2}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/quotas/{pa}"), None).await.status, StatusCode::NO_CONTENT);
    c.create_as(&alice, "/v2.0/networks", "network", json!({"name": "two"})).await;
    let r = c.call_as(&alice, Method::GET, &format!("/v2.0/quotas/{pa}/default"), None).await;
    assert_eq!(r.body["quota"]["port"], 500);
}
