//! Keystone over its HTTP router, in-process, on a throw-away SQLite data dir: the token
//! lifecycle, personas (admin allowed, member denied, anonymous unauthenticated), bad input
//! with Keystone's envelope and nothing written, revocation, restart and key rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::Router;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use keystone::bootstrap::Bootstrap;
use keystone::SharedApp;
use serde_json::{json, Value};
use tower::ServiceExt;

const ADMIN_PASSWORD: &str = "s3cret-admin";

struct Cloud {
    dir: PathBuf,
    app: SharedApp,
    router: Router,
}

async fn open(dir: &Path) -> Cloud {
    let mut cfg = common::config::Config::parse("", "test").unwrap();
    cfg.set("identity", "password_hash_rounds", "4");
    cfg.set("security_compliance", "lockout_failure_attempts", "2");
    cfg.set("security_compliance", "lockout_duration", "60");
    let kcfg = keystone::KeystoneConfig::from_config(&cfg, dir).unwrap();
    let app = keystone::open(kcfg).await.unwrap();
    app.bootstrap(&Bootstrap {
        admin_username: "admin".into(),
        admin_password: ADMIN_PASSWORD.into(),
        project_name: "admin".into(),
        region_id: "RegionOne".into(),
        public_url: "http://127.0.0.1:5000/v3/".into(),
        internal_url: "http://127.0.0.1:5000/v3/".into(),
        admin_url: "http://127.0.0.1:5000/v3/".into(),
    })
    .await
    .unwrap();
    let router = keystone::api::router(app.clone());
    Cloud { dir: dir.to_path_buf(), app, router }
}

async fn cloud() -> Cloud {
    let dir = std::env::temp_dir().join(format!("keystone-api-{}", common::ids::new_hex_id()));
    std::fs::create_dir_all(&dir).unwrap();
    open(&dir).await
}

impl Drop for Cloud {
    fn drop(&mut self) {
        // Each test owns its directory; reopened clouds share it and the last drop removes it.
        if std::sync::Arc::strong_count(&self.app) == 1 && std::env::var("KEEP_TEST_DIRS").is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Cloud {
    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, HeaderMap, Value) {
        self.raw(method, path, token, &[], body.map(|b| b.to_string())).await
    }

    async fn raw(&self, method: Method, path: &str, token: Option<&str>, extra: &[(&str, &str)], body: Option<String>) -> (StatusCode, HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("x-auth-token", t);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let resp = self.router.clone().oneshot(req.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap()).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        (status, headers, v)
    }

    async fn token(&self, user: &str, password: &str, project: Option<&str>) -> (StatusCode, String, Value) {
        let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}}}});
        if let Some(p) = project {
            auth["scope"] = json!({"project": {"name": p, "domain": {"id": "default"}}});
        }
        let (s, h, b) = self.call(Method::POST, "/v3/auth/tokens", None, Some(json!({"auth": auth}))).await;
        let t = h.get("x-subject-token").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (s, t, b)
    }

    async fn admin(&self) -> String {
        let (s, t, _) = self.token("admin", ADMIN_PASSWORD, Some("admin")).await;
        assert_eq!(s, StatusCode::CREATED);
        t
    }

    /// A member of project `demo` (created with its user on first call).
    async fn member(&self) -> String {
        let admin = self.admin().await;
        let (_, _, p) = self.call(Method::POST, "/v3/projects", Some(&admin), Some(json!({"project": {"name": "demo", "domain_id": "default"}}))).await;
        let pid = p["project"]["id"].as_str().unwrap().to_string();
        let (_, _, u) = self.call(Method::POST, "/v3/users", Some(&admin), Some(json!({"user": {"name": "demo", "password": "demo-pw", "domain_id": "default"}}))).await;
        let uid = u["user"]["id"].as_str().unwrap().to_string();
        let (_, _, roles) = self.call(Method::GET, "/v3/roles?name=member", Some(&admin), None).await;
        let rid = roles["roles"][0]["id"].as_str().unwrap().to_string();
        let (s, _, _) = self.call(Method::PUT, &format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"), Some(&admin), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, t, _) = self.token("demo", "demo-pw", Some("demo")).await;
        assert_eq!(s, StatusCode::CREATED);
        t
    }
}

#[tokio::test]
async fn version_documents() {
    let c = cloud().await;
    let (s, _, b) = c.call(Method::GET, "/", None, None).await;
    assert_eq!(s, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(b["versions"]["values"][0]["id"], "v3.14");
    let (s, _, b) = c.call(Method::GET, "/v3", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["version"]["media-types"][0]["type"], "application/vnd.openstack.identity-v3+json");
}

#[tokio::test]
async fn token_lifecycle() {
    let c = cloud().await;
    let (s, token, body) = c.token("admin", ADMIN_PASSWORD, Some("admin")).await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(token.len() > 100 && token.len() < 256, "fernet token of {} chars", token.len());
    let roles: Vec<&str> = body["token"]["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    for r in ["admin", "manager", "member", "reader"] {
        assert!(roles.contains(&r), "{roles:?} lacks the implied role {r}");
    }
    assert_eq!(body["token"]["catalog"][0]["type"], "identity");
    assert_eq!(body["token"]["project"]["name"], "admin");

    let other = c.admin().await;
    let (s, h, b) = c.raw(Method::GET, "/v3/auth/tokens", Some(&other), &[("x-subject-token", &token)], None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["x-subject-token"], token.as_str());
    assert_eq!(b["token"]["user"]["name"], "admin");
    let (s, _, _) = c.raw(Method::HEAD, "/v3/auth/tokens", Some(&other), &[("x-subject-token", &token)], None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = c.raw(Method::DELETE, "/v3/auth/tokens", Some(&other), &[("x-subject-token", &token)], None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, b) = c.raw(Method::GET, "/v3/auth/tokens", Some(&other), &[("x-subject-token", &token)], None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], 404);
    let (s, h, _) = c.call(Method::GET, "/v3/users", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a revoked token is refused everywhere");
    assert!(h.contains_key("www-authenticate"));
}

#[tokio::test]
async fn personas_allowed_denied_unauthenticated() {
    let c = cloud().await;
    let admin = c.admin().await;
    let member = c.member().await;
    for (method, path, body) in [
        (Method::POST, "/v3/users", json!({"user": {"name": "x", "domain_id": "default"}})),
        (Method::POST, "/v3/projects", json!({"project": {"name": "x", "domain_id": "default"}})),
        (Method::POST, "/v3/domains", json!({"domain": {"name": "x"}})),
        (Method::POST, "/v3/roles", json!({"role": {"name": "x"}})),
        (Method::POST, "/v3/services", json!({"service": {"type": "x"}})),
        (Method::POST, "/v3/regions", json!({"region": {"id": "x"}})),
    ] {
        let (s, _, b) = c.call(method.clone(), path, Some(&member), Some(body.clone())).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "member {method} {path}");
        assert!(b["error"]["message"].as_str().unwrap().contains("not authorized"));
        let (s, _, _) = c.call(method.clone(), path, None, Some(body.clone())).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "anonymous {method} {path}");
        let (s, _, _) = c.call(method.clone(), path, Some(&admin), Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "admin {method} {path}");
    }
    for path in ["/v3/users", "/v3/projects", "/v3/role_assignments", "/v3/credentials?user_id=someone-else"] {
        let (s, _, _) = c.call(Method::GET, path, Some(&member), None).await;
        assert!(s == StatusCode::FORBIDDEN || (s == StatusCode::OK && path.starts_with("/v3/credentials")), "member GET {path}: {s}");
    }
    // The member sees its own project through /v3/auth/projects.
    let (s, _, b) = c.call(Method::GET, "/v3/auth/projects", Some(&member), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["projects"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_gets_keystone_errors_and_writes_nothing() {
    let c = cloud().await;
    let admin = c.admin().await;
    let count = |v: &Value, k: &str| v[k].as_array().unwrap().len();
    let (_, _, before) = c.call(Method::GET, "/v3/users", Some(&admin), None).await;

    let (s, _, b) = c.raw(Method::POST, "/v3/users", Some(&admin), &[], Some("{\"user\": {".into())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["title"], "Bad Request");
    let (s, _, b) = c.call(Method::POST, "/v3/users", Some(&admin), Some(json!({"user": {"name": 7}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["error"]["message"].as_str().unwrap().contains("'name'"));
    let (s, _, _) = c.call(Method::POST, "/v3/users", Some(&admin), Some(json!({"user": {"name": "u", "enabled": "yes"}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = c.call(Method::POST, "/v3/users", Some(&admin), Some(json!({"user": {"name": "u", "domain_id": "no-such-domain"}}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, b) = c.call(Method::GET, "/v3/users/no-such-user", Some(&admin), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["message"], "Could not find user: no-such-user.");
    let (_, _, after) = c.call(Method::GET, "/v3/users", Some(&admin), None).await;
    assert_eq!(count(&before, "users"), count(&after, "users"), "refused creates wrote nothing");

    let (s, _, _) = c.call(Method::POST, "/v3/projects", Some(&admin), Some(json!({"project": {"name": "dup", "domain_id": "default"}}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, b) = c.call(Method::POST, "/v3/projects", Some(&admin), Some(json!({"project": {"name": "dup", "domain_id": "default"}}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], 409);
    let (_, _, list) = c.call(Method::GET, "/v3/projects?name=dup", Some(&admin), None).await;
    assert_eq!(count(&list, "projects"), 1);

    let (s, _, _) = c.token("admin", "wrong", Some("admin")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = c.token("nobody", "x", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = c.call(Method::GET, "/v3/users", Some("gAAAAAB-not-a-token"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn lockout_after_failures_and_disable_revokes() {
    let c = cloud().await;
    let member = c.member().await;
    assert!(!member.is_empty());
    for _ in 0..2 {
        let (s, _, _) = c.token("demo", "wrong", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, _, b) = c.token("demo", "demo-pw", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(b["error"]["message"].as_str().unwrap().contains("locked"), "{b}");

    let admin = c.admin().await;
    let (_, _, users) = c.call(Method::GET, "/v3/users?name=demo", Some(&admin), None).await;
    let uid = users["users"][0]["id"].as_str().unwrap().to_string();
    let (s, _, _) = c.call(Method::PATCH, &format!("/v3/users/{uid}"), Some(&admin), Some(json!({"user": {"enabled": false}}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = c.call(Method::GET, "/v3/auth/projects", Some(&member), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "disabling a user invalidates its tokens");
}

#[tokio::test]
async fn restart_keeps_users_tokens_and_keys_and_rotation_keeps_old_tokens() {
    let c = cloud().await;
    let admin = c.admin().await;
    let (s, _, _) = c.call(Method::POST, "/v3/users", Some(&admin), Some(json!({"user": {"name": "keeper", "password": "pw", "domain_id": "default"}}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let dir = c.dir.clone();
    let reopened = open(&dir).await;
    let (s, _, b) = reopened.call(Method::GET, "/v3/users?name=keeper", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK, "a token issued before the restart still works");
    assert_eq!(b["users"].as_array().unwrap().len(), 1);

    reopened.app.fernet_keys.rotate().unwrap();
    reopened.app.reload_fernet_keys().unwrap();
    let (s, _, _) = reopened.call(Method::GET, "/v3/users", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK, "a token made with the previous primary key validates after rotation");
    let (s, fresh, _) = reopened.token("keeper", "pw", None).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_ne!(fresh, admin);
    drop(c);
}
