//! The auth_token middleware against a live Keystone over HTTP: what every other service
//! will stand behind. A protected toy service must refuse missing and bad tokens in its own
//! envelope, accept a valid one (putting the caller on the request), and stop accepting it
//! once it is revoked (after the cache window).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use auth::{auth_token_layer, AuthTokenConfig, KeystoneValidator, RequestContext};
use axum::routing::get;
use axum::{Extension, Router};
use common::error::Envelope;
use common::request_id::RequestIdHeaders;
use common::server::Shutdown;
use keystone::bootstrap::Bootstrap;
use serde_json::json;

async fn whoami(Extension(ctx): Extension<RequestContext>) -> String {
    format!("{}@{}", ctx.user_id().unwrap_or("?"), ctx.project_id().unwrap_or("?"))
}

#[tokio::test]
async fn protects_a_service_and_honours_revocation() {
    let dir = std::env::temp_dir().join(format!("auth-token-{}", common::ids::new_hex_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = common::config::Config::parse("", "test").unwrap();
    cfg.set("identity", "password_hash_rounds", "4");
    let app = keystone::open(keystone::KeystoneConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let (_trigger, shutdown) = Shutdown::new();
    let (listener, addr) = common::server::bind("keystone", "127.0.0.1:0").await.unwrap();
    let ks_url = format!("http://{addr}");
    app.bootstrap(&Bootstrap {
        admin_username: "admin".into(),
        admin_password: "pw".into(),
        project_name: "admin".into(),
        region_id: "RegionOne".into(),
        public_url: format!("{ks_url}/v3/"),
        internal_url: format!("{ks_url}/v3/"),
        admin_url: format!("{ks_url}/v3/"),
    })
    .await
    .unwrap();
    tokio::spawn(common::server::serve("keystone", listener, keystone::api::router(app.clone()), RequestIdHeaders::default(), shutdown.clone()));

    // A toy "compute" service behind the middleware.
    let validator = Arc::new(KeystoneValidator::new(&format!("{ks_url}/v3"), "admin", "pw", "admin", "Default", Duration::from_millis(300)));
    let protected = Router::new()
        .route("/whoami", get(whoami))
        .layer(axum::middleware::from_fn_with_state(AuthTokenConfig { validator, envelope: Envelope::Compute }, auth_token_layer));
    let (listener, addr) = common::server::bind("toy", "127.0.0.1:0").await.unwrap();
    tokio::spawn(common::server::serve("toy", listener, protected, RequestIdHeaders(&["x-openstack-request-id", "x-compute-request-id"]), shutdown));
    let svc = format!("http://{addr}/whoami");
    let http = reqwest::Client::new();

    let r = http.get(&svc).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("x-compute-request-id"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["unauthorized"]["code"], 401, "the service's own envelope: {body}");
    let r = http.get(&svc).header("x-auth-token", "not-a-token").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);

    let auth = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "pw"}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}});
    let r = http.post(format!("{ks_url}/v3/auth/tokens")).json(&auth).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let token = r.headers()["x-subject-token"].to_str().unwrap().to_string();
    let r = http.get(&svc).header("x-auth-token", &token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let who = r.text().await.unwrap();
    assert!(who.contains('@') && !who.contains('?'), "caller on the request: {who}");

    // Revoke it; once the cache entry ages out the service refuses it.
    let r = http.delete(format!("{ks_url}/v3/auth/tokens")).header("x-auth-token", &token).header("x-subject-token", &token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = http.get(&svc).header("x-auth-token", &token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "a revoked token is refused by other services too");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn policy_yaml_overrides_a_default() {
    let dir = std::env::temp_dir().join(format!("policy-file-{}", common::ids::new_hex_id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("policy.yaml"), "\"identity:list_regions\": \"!\"\n").unwrap();
    let mut cfg = common::config::Config::parse("", "test").unwrap();
    cfg.set("identity", "password_hash_rounds", "4");
    cfg.set("oslo_policy", "policy_file", dir.join("policy.yaml").display().to_string());
    let app = keystone::open(keystone::KeystoneConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    assert!(!app.policy.check_str("rule:identity:list_regions", &json!({}), &json!({"roles": ["admin"]})).unwrap());
    assert!(app.policy.check_str("rule:identity:list_services", &json!({}), &json!({"roles": ["admin"]})).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}
