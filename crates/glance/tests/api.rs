//! Glance over its HTTP router, in-process, with an in-process Keystone validating tokens:
//! the data path (checksums, ranges, inspection), the state machine, protection, isolation
//! between projects and sharing, and refusals that leave nothing stored.
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

#[path = "api/metadefs.rs"]
mod metadefs;
#[path = "api/tasks.rs"]
mod tasks;

struct Cloud {
    dir: PathBuf,
    ks: Router,
    glance: Router,
    admin: String,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn send(router: &Router, method: Method, path: &str, token: Option<&str>, headers: &[(&str, &str)], body: Vec<u8>) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("x-auth-token", t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}

fn json_of(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or(Value::Null)
}

async fn cloud() -> Cloud {
    cloud_with("").await
}

/// A cloud whose glance-api.conf holds `conf`.
async fn cloud_with(conf: &str) -> Cloud {
    let dir = std::env::temp_dir().join(format!("glance-api-{}", common::ids::new_hex_id()));
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
    let gl_app = glance::open(glance::GlanceConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let ks = keystone::api::router(ks_app.clone());
    let glance = glance::api::router(gl_app, Arc::new(keystone::validator::LocalValidator(ks_app)));
    let mut c = Cloud { dir, ks, glance, admin: String::new() };
    c.admin = c.token("admin", "pw", "admin").await;
    c
}

impl Cloud {
    async fn token(&self, user: &str, pw: &str, project: &str) -> String {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": pw}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}});
        let (s, h, _) = send(&self.ks, Method::POST, "/v3/auth/tokens", None, &[("content-type", "application/json")], body.to_string().into_bytes()).await;
        assert_eq!(s, StatusCode::CREATED);
        h["x-subject-token"].to_str().unwrap().to_string()
    }

    /// A member of a new project `name`; returns (token, project id).
    async fn project_member(&self, name: &str) -> (String, String) {
        let j = [("content-type", "application/json")];
        let (_, _, p) = send(&self.ks, Method::POST, "/v3/projects", Some(&self.admin), &j, json!({"project": {"name": name}}).to_string().into_bytes()).await;
        let pid = json_of(&p)["project"]["id"].as_str().unwrap().to_string();
        let (_, _, u) = send(&self.ks, Method::POST, "/v3/users", Some(&self.admin), &j, json!({"user": {"name": name, "password": "pw"}}).to_string().into_bytes()).await;
        let uid = json_of(&u)["user"]["id"].as_str().unwrap().to_string();
        let (_, _, r) = send(&self.ks, Method::GET, "/v3/roles?name=member", Some(&self.admin), &[], vec![]).await;
        let rid = json_of(&r)["roles"][0]["id"].as_str().unwrap().to_string();
        let (s, _, _) = send(&self.ks, Method::PUT, &format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"), Some(&self.admin), &[], vec![]).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        (self.token(name, "pw", name).await, pid)
    }

    async fn create(&self, token: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, b) = send(&self.glance, Method::POST, "/v2/images", Some(token), &[("content-type", "application/json")], body.to_string().into_bytes()).await;
        (s, json_of(&b))
    }

    async fn upload(&self, token: &str, id: &str, data: Vec<u8>) -> (StatusCode, String) {
        let (s, _, b) = send(&self.glance, Method::PUT, &format!("/v2/images/{id}/file"), Some(token), &[("content-type", "application/octet-stream")], data).await;
        (s, String::from_utf8_lossy(&b).to_string())
    }

    async fn show(&self, token: &str, id: &str) -> (StatusCode, Value) {
        let (s, _, b) = send(&self.glance, Method::GET, &format!("/v2/images/{id}"), Some(token), &[], vec![]).await;
        (s, json_of(&b))
    }
}

fn qcow2(dir: &std::path::Path, name: &str, extra: &[&str]) -> Vec<u8> {
    let path = dir.join(name);
    let mut args = vec!["create", "-f", "qcow2"];
    args.extend_from_slice(extra);
    let p = path.to_str().unwrap().to_string();
    args.push(&p);
    args.push("16M");
    let out = std::process::Command::new("qemu-img").args(&args).output().expect("qemu-img is required for these tests (apt-get install -y qemu-utils)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn upload_download_checksums_and_ranges() {
    let c = cloud().await;
    let (s, img) = c.create(&c.admin, json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "os_distro": "cirros"})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(img["status"], "queued");
    assert_eq!(img["visibility"], "shared");
    assert_eq!(img["os_distro"], "cirros");
    let id = img["id"].as_str().unwrap().to_string();
    let data = qcow2(&c.dir, "disk.qcow2", &[]);
    assert_eq!(c.upload(&c.admin, &id, data.clone()).await.0, StatusCode::NO_CONTENT);
    let (_, img) = c.show(&c.admin, &id).await;
    assert_eq!(img["status"], "active");
    assert_eq!(img["size"], data.len());
    assert_eq!(img["virtual_size"], 16 * 1024 * 1024);
    assert_eq!(img["os_hash_algo"], "sha512");
    assert_eq!(img["os_hash_value"].as_str().unwrap().len(), 128);
    let md5: String = {
        use md5::{Digest, Md5};
        Md5::digest(&data).iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_eq!(img["checksum"], md5);

    let (s, h, body) = send(&c.glance, Method::GET, &format!("/v2/images/{id}/file"), Some(&c.admin), &[], vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, data);
    assert_eq!(h["content-md5"], md5.as_str());
    let (s, h, body) = send(&c.glance, Method::GET, &format!("/v2/images/{id}/file"), Some(&c.admin), &[("range", "bytes=4-11")], vec![]).await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, data[4..12].to_vec());
    assert!(h["content-range"].to_str().unwrap().starts_with("bytes 4-11/"));

    // A second upload to an active image is a conflict and changes nothing.
    assert_eq!(c.upload(&c.admin, &id, b"other".to_vec()).await.0, StatusCode::CONFLICT);
    assert_eq!(c.show(&c.admin, &id).await.1["checksum"], md5);
}

#[tokio::test]
async fn refused_uploads_store_nothing() {
    let c = cloud().await;
    let base = qcow2(&c.dir, "base.qcow2", &[]);
    let base_path = c.dir.join("base.qcow2");
    let overlay = qcow2(&c.dir, "overlay.qcow2", &["-b", base_path.to_str().unwrap(), "-F", "qcow2"]);
    for (claimed, data, why) in [("qcow2", overlay, "backing file"), ("raw", base, "content is")] {
        let (_, img) = c.create(&c.admin, json!({"name": "bad", "disk_format": claimed, "container_format": "bare"})).await;
        let id = img["id"].as_str().unwrap().to_string();
        let (s, msg) = c.upload(&c.admin, &id, data).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{msg}");
        assert!(msg.contains(why), "{msg}");
        let (_, img) = c.show(&c.admin, &id).await;
        assert_eq!(img["status"], "queued", "a refused upload leaves the image queued");
        assert!(img["checksum"].is_null());
    }
    let files: Vec<_> = std::fs::read_dir(c.dir.join("images")).unwrap().collect();
    assert!(files.is_empty(), "no data and no partial files are left in the store: {files:?}");
}

#[tokio::test]
async fn patch_protect_delete_and_errors() {
    let c = cloud().await;
    let (_, img) = c.create(&c.admin, json!({"name": "p", "disk_format": "raw", "container_format": "bare"})).await;
    let id = img["id"].as_str().unwrap().to_string();
    let patch = |ops: Value| ops.to_string().into_bytes();
    let ct = [("content-type", "application/openstack-images-v2.1-json-patch")];
    let (s, _, b) = send(&c.glance, Method::PATCH, &format!("/v2/images/{id}"), Some(&c.admin), &ct, patch(json!([{"op": "replace", "path": "/name", "value": "renamed"}, {"op": "add", "path": "/protected", "value": true}]))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json_of(&b)["name"], "renamed");
    // Glance's v2.0 patch spelling is accepted too.
    let ct0 = [("content-type", "application/openstack-images-v2.0-json-patch")];
    let (s, _, _) = send(&c.glance, Method::PATCH, &format!("/v2/images/{id}"), Some(&c.admin), &ct0, patch(json!([{"add": "/os_distro", "value": "ubuntu"}]))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = send(&c.glance, Method::PATCH, &format!("/v2/images/{id}"), Some(&c.admin), &ct, patch(json!([{"op": "replace", "path": "/checksum", "value": "x"}]))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = send(&c.glance, Method::PATCH, &format!("/v2/images/{id}"), Some(&c.admin), &[("content-type", "application/json")], patch(json!([]))).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, _, b) = send(&c.glance, Method::DELETE, &format!("/v2/images/{id}"), Some(&c.admin), &[("accept", "application/json")], vec![]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(json_of(&b)["message"].as_str().unwrap().contains("protected"));
    send(&c.glance, Method::PATCH, &format!("/v2/images/{id}"), Some(&c.admin), &ct, patch(json!([{"op": "replace", "path": "/protected", "value": false}]))).await;
    let (s, _, _) = send(&c.glance, Method::DELETE, &format!("/v2/images/{id}"), Some(&c.admin), &[], vec![]).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(c.show(&c.admin, &id).await.0, StatusCode::NOT_FOUND);

    let (s, _) = c.create(&c.admin, json!({"name": "x", "disk_format": "floppy"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c.create(&c.admin, json!({"name": "x", "status": "active"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = send(&c.glance, Method::GET, "/v2/images", None, &[], vec![]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn projects_are_isolated_until_shared_and_accepted() {
    let c = cloud().await;
    let (alice, _) = c.project_member("alice").await;
    let (bob, bob_project) = c.project_member("bob").await;
    let (s, img) = c.create(&alice, json!({"name": "private", "disk_format": "raw", "container_format": "bare", "visibility": "private"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let id = img["id"].as_str().unwrap().to_string();
    assert_eq!(c.show(&bob, &id).await.0, StatusCode::NOT_FOUND, "another project does not see a private image");
    let (s, _) = c.create(&alice, json!({"name": "pub", "visibility": "public"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "publicize_image is admin-only");

    let ct = [("content-type", "application/openstack-images-v2.1-json-patch")];
    send(&c.glance, Method::PATCH, &format!("/v2/images/{id}"), Some(&alice), &ct, json!([{"op": "replace", "path": "/visibility", "value": "shared"}]).to_string().into_bytes()).await;
    let (s, _, b) = send(&c.glance, Method::POST, &format!("/v2/images/{id}/members"), Some(&alice), &[("content-type", "application/json")], json!({"member": bob_project}).to_string().into_bytes()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json_of(&b)["status"], "pending");
    assert_eq!(c.show(&bob, &id).await.0, StatusCode::OK, "a member sees the image by id");
    let (_, _, list) = send(&c.glance, Method::GET, "/v2/images", Some(&bob), &[], vec![]).await;
    assert!(!json_of(&list)["images"].as_array().unwrap().iter().any(|i| i["id"] == id.as_str()), "pending shares are not listed");
    let (s, _, _) = send(&c.glance, Method::PUT, &format!("/v2/images/{id}/members/{bob_project}"), Some(&bob), &[("content-type", "application/json")], json!({"status": "accepted"}).to_string().into_bytes()).await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, list) = send(&c.glance, Method::GET, "/v2/images", Some(&bob), &[], vec![]).await;
    assert!(json_of(&list)["images"].as_array().unwrap().iter().any(|i| i["id"] == id.as_str()), "accepted shares are listed");
    let (s, _, _) = send(&c.glance, Method::DELETE, &format!("/v2/images/{id}"), Some(&bob), &[], vec![]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a member cannot delete the owner's image");
}
