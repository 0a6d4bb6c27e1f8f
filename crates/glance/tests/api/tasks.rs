//! Imports that fetch over HTTP and the tasks that record them: web-download from a real
//! local HTTP server (allowed by the import filter, and refused when it is not), the legacy
//! `import` task of `/v2/tasks` (admin-only), and `/v2/images/{id}/tasks`.

use super::*;

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

/// An HTTP server on loopback serving `data` at every path; returns its port.
async fn serve_bytes(data: Vec<u8>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().fallback(move || {
        let data = data.clone();
        async move { data }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

impl Cloud {
    async fn call_json(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (s, _, b) = send(&self.glance, method, path, Some(token), &[JSON[0], ("accept", "application/json")], bytes).await;
        (s, json_of(&b))
    }

    /// Polls an image until `done` holds (imports finish after their 202).
    async fn wait_image(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            let (_, img) = self.show(&self.admin, id).await;
            if done(&img) {
                return img;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("image {id} never reached the expected state");
    }
}

#[tokio::test]
async fn web_download_imports_what_the_server_sends_and_records_a_task() {
    let src = std::env::temp_dir().join(format!("glance-web-{}", common::ids::new_hex_id()));
    std::fs::create_dir_all(&src).unwrap();
    let data = qcow2(&src, "web.qcow2", &[]);
    std::fs::remove_dir_all(&src).unwrap();
    let port = serve_bytes(data.clone()).await;
    let c = cloud_with(&format!("[import_filtering_opts]\nallowed_ports = {port}\n")).await;

    let (_, img) = c.create(&c.admin, json!({"name": "web", "disk_format": "qcow2", "container_format": "bare"})).await;
    let id = img["id"].as_str().unwrap();
    let req = json!({"method": {"name": "web-download", "uri": format!("http://127.0.0.1:{port}/web.qcow2")}});
    let (s, _) = c.call_json(&c.admin, Method::POST, &format!("/v2/images/{id}/import"), Some(req)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let img = c.wait_image(id, |i| i["status"] == "active").await;
    assert_eq!(img["size"], data.len());
    assert_eq!(img["virtual_size"], 16 << 20);
    assert_eq!(img["checksum"], { use md5::Digest; format!("{:x}", md5::Md5::digest(&data)) });
    assert_eq!(img["os_glance_importing_to_stores"], "");

    let (s, tasks) = c.call_json(&c.admin, Method::GET, &format!("/v2/images/{id}/tasks"), None).await;
    assert_eq!(s, StatusCode::OK);
    let task = &tasks["tasks"][0];
    assert_eq!(task["type"], "api_image_import");
    assert_eq!(task["status"], "success");
    assert_eq!(task["input"]["import_req"]["method"]["name"], "web-download");
    assert!(task["request_id"].is_string());
    assert!(task["expires_at"].is_string());
}

#[tokio::test]
async fn web_download_refuses_what_the_filter_forbids_and_reports_what_fails_later() {
    // Port 80 only: a server on another port is out of bounds.
    let port = serve_bytes(b"not found".to_vec()).await;
    let c = cloud_with("[import_filtering_opts]\nallowed_ports = 80\n").await;
    let (_, img) = c.create(&c.admin, json!({"name": "web", "disk_format": "raw", "container_format": "bare"})).await;
    let id = img["id"].as_str().unwrap();
    for uri in [format!("http://127.0.0.1:{port}/x"), "http://127.1/x".into(), "ftp://127.0.0.1/x".into(), "http://does-not.exist.invalid/x".into()] {
        let (s, err) = c.call_json(&c.admin, Method::POST, &format!("/v2/images/{id}/import"), Some(json!({"method": {"name": "web-download", "uri": uri}}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}");
        assert!(err["message"].as_str().unwrap().contains("does not pass filtering"), "{err}");
    }
    let (s, err) = c.call_json(&c.admin, Method::POST, &format!("/v2/images/{id}/import"), Some(json!({"method": {"name": "web-download"}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("URI is required"), "{err}");
    assert_eq!(c.show(&c.admin, id).await.1["status"], "queued", "nothing changed");

    // Allowed, but the server answers 404: the import fails after the 202 and says so.
    let missing = Router::new().fallback(|| async { (StatusCode::NOT_FOUND, "no") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, missing).await.unwrap() });
    let c = cloud_with(&format!("[import_filtering_opts]\nallowed_ports = {port}\n")).await;
    let (_, img) = c.create(&c.admin, json!({"name": "web", "disk_format": "raw", "container_format": "bare"})).await;
    let id = img["id"].as_str().unwrap();
    let req = json!({"method": {"name": "web-download", "uri": format!("http://127.0.0.1:{port}/gone")}});
    assert_eq!(c.call_json(&c.admin, Method::POST, &format!("/v2/images/{id}/import"), Some(req)).await.0, StatusCode::ACCEPTED);
    let img = c.wait_image(id, |i| i["os_glance_failed_import"] == "file").await;
    assert_eq!(img["status"], "queued");
    let (_, tasks) = c.call_json(&c.admin, Method::GET, &format!("/v2/images/{id}/tasks"), None).await;
    assert_eq!(tasks["tasks"][0]["status"], "failure");
    assert!(tasks["tasks"][0]["message"].as_str().unwrap().contains("404"), "{tasks}");
}

#[tokio::test]
async fn legacy_import_task_is_admin_only_and_creates_the_image() {
    let port = serve_bytes(vec![7u8; 4096]).await;
    let c = cloud_with(&format!("[import_filtering_opts]\nallowed_ports = {port}\n")).await;
    let task = json!({"type": "import", "input": {"import_from": format!("http://127.0.0.1:{port}/disk.raw"), "import_from_format": "raw",
        "image_properties": {"name": "from-task", "disk_format": "raw", "container_format": "bare"}}});
    let (member, _) = c.project_member("tasks-demo").await;
    assert_eq!(c.call_json(&member, Method::POST, "/v2/tasks", Some(task.clone())).await.0, StatusCode::FORBIDDEN);
    assert_eq!(c.call_json(&member, Method::GET, "/v2/tasks", None).await.0, StatusCode::FORBIDDEN);

    let (s, created) = c.call_json(&c.admin, Method::POST, "/v2/tasks", Some(task)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "pending");
    let tid = created["id"].as_str().unwrap().to_string();
    let mut shown = Value::Null;
    for _ in 0..200 {
        shown = c.call_json(&c.admin, Method::GET, &format!("/v2/tasks/{tid}"), None).await.1;
        if shown["status"] == "success" || shown["status"] == "failure" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(shown["status"], "success", "{shown}");
    let image_id = shown["result"]["image_id"].as_str().unwrap();
    let (_, img) = c.show(&c.admin, image_id).await;
    assert_eq!((img["name"].as_str(), img["status"].as_str(), img["size"].as_i64()), (Some("from-task"), Some("active"), Some(4096)));

    let (_, list) = c.call_json(&c.admin, Method::GET, "/v2/tasks?type=import&sort_dir=asc", None).await;
    assert_eq!(list["tasks"].as_array().unwrap().len(), 1);
    assert!(list["tasks"][0].get("input").is_none(), "a list shows task stubs");
    let bad = json!({"type": "import", "input": {"import_from": "http://does-not.exist.invalid/x", "image_properties": {}}});
    assert_eq!(c.call_json(&c.admin, Method::POST, "/v2/tasks", Some(bad)).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(c.call_json(&c.admin, Method::POST, "/v2/tasks", Some(json!({"type": "convert", "input": {}}))).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(c.call_json(&c.admin, Method::GET, "/v2/tasks?status=bogus", None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(c.call_json(&c.admin, Method::DELETE, &format!("/v2/tasks/{tid}"), None).await.0, StatusCode::METHOD_NOT_ALLOWED);
}
