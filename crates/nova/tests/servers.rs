//! Servers end to end in one process, as `ferrostack up` runs them: Keystone, Glance and
//! Placement on real loopback sockets, Nova's API in-process, and the conductor, scheduler and
//! compute managers with fake hypervisors on the in-process bus. Builds, power actions,
//! deletes that release Placement allocations, rescheduling off a failing host, server-group
//! anti-affinity down to "No valid host", and recovery after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use keystone::bootstrap::Bootstrap;
use serde_json::{json, Value};
use tower::ServiceExt;

struct Cloud {
    dir: std::path::PathBuf,
    nova: Router,
    app: nova::SharedApp,
    admin: String,
    placement_url: String,
    glance_url: String,
    neutron_url: String,
    shutdown: common::server::ShutdownTrigger,
    /// Keep the data dir when dropped (to start again on it).
    keep: bool,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

async fn serve(name: &str, router: Router, shutdown: common::server::Shutdown) -> String {
    let (listener, addr) = common::server::bind(name, "127.0.0.1:0").await.unwrap();
    let name = name.to_string();
    tokio::spawn(async move { common::server::serve(&name, listener, router, Default::default(), shutdown).await });
    format!("http://{addr}")
}

async fn http(method: reqwest::Method, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let c = reqwest::Client::new();
    let mut r = c.request(method, url).header("x-auth-token", token).header("openstack-api-version", "placement 1.28");
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

/// `hosts` fake computes; names matching `fail` fail to spawn.
async fn cloud(hosts: usize, fail: Option<&str>, dir: Option<std::path::PathBuf>) -> Cloud {
    let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("nova-servers-{}", common::ids::new_hex_id())));
    std::fs::create_dir_all(&dir).unwrap();
    let (trigger, shutdown) = common::server::Shutdown::new();
    let mut cfg = common::config::Config::parse("", "test").unwrap();
    cfg.set("identity", "password_hash_rounds", "4");
    let ks_app = keystone::open(keystone::KeystoneConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let ks_url = serve("keystone", keystone::api::router(ks_app.clone()), shutdown.clone()).await;
    ks_app
        .bootstrap(&Bootstrap {
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
    let validator: Arc<dyn auth::TokenValidator> = Arc::new(keystone::validator::LocalValidator(ks_app.clone()));
    let pl_app = placement::open(placement::PlacementConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let pl_url = serve("placement", placement::api::router(pl_app, validator.clone()), shutdown.clone()).await;
    let gl_app = glance::open(glance::GlanceConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let gl_url = serve("glance", glance::api::router(gl_app, validator.clone()), shutdown.clone()).await;
    let nt_app = neutron::open(neutron::NeutronConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let nt_url = serve("neutron", neutron::api::router(nt_app, validator.clone()), shutdown.clone()).await;
    for (name, kind, url) in [("placement", "placement", &pl_url), ("glance", "image", &gl_url), ("neutron", "network", &nt_url)] {
        ks_app.register_service(name, kind, name, "RegionOne", &[("public", url), ("internal", url), ("admin", url)]).await.unwrap();
    }
    ks_app.ensure_service_user("nova", "nova-pw").await.unwrap();

    let nova_app = nova::open(nova::NovaConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let creds = nova::service_auth::ServiceCredentials {
        auth_url: format!("{ks_url}/v3"),
        username: "nova".into(),
        password: "nova-pw".into(),
        project_name: "service".into(),
        user_domain_name: "Default".into(),
        project_domain_name: "Default".into(),
        region_name: Some("RegionOne".into()),
        interface: "public".into(),
        endpoint_overrides: Default::default(),
    };
    let computes = (1..=hosts)
        .map(|n| {
            let host = format!("fake-{n}");
            let driver = nova::virt::fake::FakeDriver::new(nova::virt::fake::FakeConfig {
                hypervisor_hostname: host.clone(),
                vcpus: 4,
                memory_mb: 4096 + 512,
                local_gb: 40,
                op_delay: Duration::from_millis(20),
                fail_spawn: fail.filter(|f| host.contains(f)).map(|_| regex::Regex::new(".*").unwrap()),
                state_file: Some(dir.join(format!("{host}.json"))),
            });
            nova::services::ComputeHost { host, driver: Arc::new(driver) }
        })
        .collect();
    nova::services::start(nova_app.clone(), Arc::new(bus::InProcessBus::new()), Arc::new(nova::service_auth::ServiceAuth::new(creds)), computes).await.unwrap();
    // Microversions above the advertised maximum reach behaviour already built (2.45 createImage, 2.48 diagnostics, 2.59 migrations).
    let nova = nova::api::router_with_max(nova_app.clone(), validator, common::microversion::Version::new(2, 80));

    // The admin's token, a flavor and an active image.
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "pw"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let resp = reqwest::Client::new().post(format!("{ks_url}/v3/auth/tokens")).json(&body).send().await.unwrap();
    let admin = resp.headers()["x-subject-token"].to_str().unwrap().to_string();
    let c = Cloud { dir, nova, app: nova_app, admin, placement_url: pl_url, glance_url: gl_url.clone(), neutron_url: nt_url, shutdown: trigger, keep: false };
    if nova::db::flavors::flavor_get_by_flavorid(&c.app.api_db, "1").await.unwrap().is_none() {
        let mut f = nova::db::flavors::Flavor {
            id: 0,
            flavorid: "1".into(),
            name: "m1.tiny".into(),
            memory_mb: 1024,
            vcpus: 1,
            root_gb: 1,
            ephemeral_gb: 0,
            swap: 0,
            rxtx_factor: 1.0,
            vcpu_weight: None,
            disabled: false,
            is_public: true,
            description: None,
            extra_specs: Default::default(),
            created_at: 0,
            updated_at: 0,
        };
        nova::db::flavors::flavor_create(&c.app.api_db, &mut f).await.unwrap();
    }
    let client = reqwest::Client::new();
    // On a restarted cloud the image exists already (409).
    let img: Value = client
        .post(format!("{gl_url}/v2/images"))
        .header("x-auth-token", &c.admin)
        .json(&json!({"name": "tiny", "disk_format": "raw", "container_format": "bare", "visibility": "public", "id": "11111111-2222-3333-4444-555555555555"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Value::Null);
    if let Some(id) = img["id"].as_str() {
        let r = client.put(format!("{gl_url}/v2/images/{id}/file")).header("x-auth-token", &c.admin).header("content-type", "application/octet-stream").body(vec![0u8; 4096]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }
    c
}

const IMAGE: &str = "11111111-2222-3333-4444-555555555555";

impl Cloud {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_at("2.37", method, path, body).await
    }

    async fn call_at(&self, version: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path).header("x-auth-token", &self.admin).header("openstack-api-version", format!("compute {version}"));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let resp = self.nova.clone().oneshot(req.body(Body::from(body.map(|b| b.to_string()).unwrap_or_default())).unwrap()).await.unwrap();
        let s = resp.status();
        let b = resp.into_body().collect().await.unwrap().to_bytes();
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    async fn create(&self, name: &str, hints: Value) -> String {
        let (s, b) = self.call(Method::POST, "/v2.1/servers", Some(json!({"server": {"name": name, "imageRef": IMAGE, "flavorRef": "1", "networks": "none"}, "os:scheduler_hints": hints}))).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        b["server"]["id"].as_str().unwrap().to_string()
    }

    async fn wait_status(&self, id: &str, want: &str) -> Value {
        // Generous: the whole workspace's tests share two cores in CI.
        let mut last = Value::Null;
        for _ in 0..1500 {
            let (s, b) = self.call(Method::GET, &format!("/v2.1/servers/{id}"), None).await;
            if s == StatusCode::OK && b["server"]["status"] == want && b["server"]["OS-EXT-STS:task_state"].is_null() {
                return b["server"].clone();
            }
            last = b;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server {id} never reached {want}: {last}");
    }

    async fn action(&self, id: &str, body: Value) -> StatusCode {
        self.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(body)).await.0
    }

    async fn placement_allocations(&self, consumer: &str) -> Value {
        http(reqwest::Method::GET, &format!("{}/allocations/{consumer}", self.placement_url), &self.admin, None).await.1
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_builds_runs_power_actions_and_deletes_releasing_its_allocation() {
    let c = cloud(2, None, None).await;
    let id = c.create("vm1", json!({})).await;
    let s = c.wait_status(&id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    assert!(s["OS-EXT-SRV-ATTR:host"].as_str().unwrap().starts_with("fake-"));
    let alloc = c.placement_allocations(&id).await;
    let held: Vec<&Value> = alloc["allocations"].as_object().unwrap().values().collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["resources"], json!({"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 1}));

    for (body, status, power) in [
        (json!({"os-stop": null}), "SHUTOFF", 4),
        (json!({"os-start": null}), "ACTIVE", 1),
        (json!({"reboot": {"type": "HARD"}}), "ACTIVE", 1),
        (json!({"pause": null}), "PAUSED", 3),
        (json!({"unpause": null}), "ACTIVE", 1),
        (json!({"suspend": null}), "SUSPENDED", 7),
        (json!({"resume": null}), "ACTIVE", 1),
    ] {
        assert_eq!(c.action(&id, body.clone()).await, StatusCode::ACCEPTED, "{body}");
        let s = c.wait_status(&id, status).await;
        assert_eq!(s["OS-EXT-STS:power_state"], power, "{body}");
    }
    // Metadata and (2.26) tags.
    let (s, m) = c.call(Method::POST, &format!("/v2.1/servers/{id}/metadata"), Some(json!({"metadata": {"role": "web", "tier": "1"}}))).await;
    assert_eq!((s, m["metadata"]["tier"].clone()), (StatusCode::OK, json!("1")));
    let (s, m) = c.call(Method::PUT, &format!("/v2.1/servers/{id}/metadata/role"), Some(json!({"meta": {"role": "db"}}))).await;
    assert_eq!((s, m["meta"]["role"].clone()), (StatusCode::OK, json!("db")));
    assert_eq!(c.call(Method::PUT, &format!("/v2.1/servers/{id}/metadata/role"), Some(json!({"meta": {"other": "x"}}))).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(c.call(Method::DELETE, &format!("/v2.1/servers/{id}/metadata/tier"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(c.call(Method::DELETE, &format!("/v2.1/servers/{id}/metadata/tier"), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.call(Method::PUT, &format!("/v2.1/servers/{id}/tags/blue"), None).await.0, StatusCode::CREATED);
    assert_eq!(c.call(Method::PUT, &format!("/v2.1/servers/{id}/tags/blue"), None).await.0, StatusCode::NO_CONTENT);
    let (_, t) = c.call(Method::GET, &format!("/v2.1/servers/{id}/tags"), None).await;
    assert_eq!(t["tags"], json!(["blue"]));
    let (_, list) = c.call(Method::GET, "/v2.1/servers?tags=blue", None).await;
    assert_eq!(list["servers"].as_array().unwrap().len(), 1);
    let (_, shown) = c.call(Method::GET, &format!("/v2.1/servers/{id}"), None).await;
    assert_eq!((shown["server"]["metadata"].clone(), shown["server"]["tags"].clone()), (json!({"role": "db"}), json!(["blue"])));

    // Lock shows at 2.9; unlock clears it.
    assert_eq!(c.action(&id, json!({"lock": null})).await, StatusCode::ACCEPTED);
    assert_eq!(c.call(Method::GET, &format!("/v2.1/servers/{id}"), None).await.1["server"]["locked"], true);
    assert_eq!(c.action(&id, json!({"unlock": null})).await, StatusCode::ACCEPTED);
    assert_eq!(c.call(Method::GET, &format!("/v2.1/servers/{id}"), None).await.1["server"]["locked"], false);

    // A state the action does not apply to is a 409 with upstream's wording.
    let (s, b) = c.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"os-start": null}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(b["conflictingRequest"]["message"].as_str().unwrap().contains("Cannot 'start' instance"), "{b}");
    let (s, b) = c.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"os-getConsoleOutput": {"length": 5}}))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b["output"].as_str().unwrap().contains("PM: resume"), "{b}");
    let (_, acts) = c.call(Method::GET, &format!("/v2.1/servers/{id}/os-instance-actions"), None).await;
    let names: Vec<&str> = acts["instanceActions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert!(names.contains(&"create") && names.contains(&"stop") && names.contains(&"resume"), "{names:?}");

    assert_eq!(c.call(Method::DELETE, &format!("/v2.1/servers/{id}"), None).await.0, StatusCode::NO_CONTENT);
    for _ in 0..200 {
        if c.call(Method::GET, &format!("/v2.1/servers/{id}"), None).await.0 == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.call(Method::GET, &format!("/v2.1/servers/{id}"), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.placement_allocations(&id).await["allocations"], json!({}), "the allocation is gone with the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_upstreams_envelope_and_leave_nothing() {
    let c = cloud(1, None, None).await;
    for (body, want) in [
        (json!({"server": {"name": "x", "imageRef": IMAGE, "flavorRef": "nope", "networks": "none"}}), "Flavor nope could not be found."),
        (json!({"server": {"name": "x", "imageRef": "00000000-0000-0000-0000-000000000000", "flavorRef": "1", "networks": "none"}}), "could not be found"),
        (json!({"server": {"name": "x", "imageRef": IMAGE, "flavorRef": "1"}}), "'networks' is a required property"),
        (json!({"server": {"imageRef": IMAGE, "flavorRef": "1", "networks": "none"}}), "'name' is a required property"),
    ] {
        let (s, b) = c.call(Method::POST, "/v2.1/servers", Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert!(b["badRequest"]["message"].as_str().unwrap().contains(want), "{b}");
    }
    let (_, list) = c.call(Method::GET, "/v2.1/servers", None).await;
    assert_eq!(list["servers"], json!([]));
    // Quota: 10 instances by default.
    let (s, b) = c.call(Method::POST, "/v2.1/servers", Some(json!({"server": {"name": "many", "imageRef": IMAGE, "flavorRef": "1", "networks": "none", "min_count": 11}}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(b["forbidden"]["message"].as_str().unwrap().starts_with("Quota exceeded for instances"), "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_host_is_retried_elsewhere_and_anti_affinity_runs_out_of_hosts() {
    // fake-1 fails every spawn: builds that land there are rescheduled to fake-2/fake-3.
    let c = cloud(3, Some("fake-1"), None).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(c.create(&format!("r{n}"), json!({})).await);
    }
    for id in &ids {
        let s = c.wait_status(id, "ACTIVE").await;
        assert_ne!(s["OS-EXT-SRV-ATTR:host"], "fake-1");
    }
    // Anti-affinity over three hosts, one of which cannot build: two fit, the third has
    // nowhere to go.
    let (s, g) = c.call(Method::POST, "/v2.1/os-server-groups", Some(json!({"server_group": {"name": "g", "policies": ["anti-affinity"]}}))).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    let group = g["server_group"]["id"].as_str().unwrap().to_string();
    let a = c.create("g1", json!({"group": group})).await;
    let b = c.create("g2", json!({"group": group})).await;
    let (ha, hb) = (c.wait_status(&a, "ACTIVE").await["OS-EXT-SRV-ATTR:host"].clone(), c.wait_status(&b, "ACTIVE").await["OS-EXT-SRV-ATTR:host"].clone());
    assert_ne!(ha, hb);
    let d = c.create("g3", json!({"group": group})).await;
    let s = c.wait_status(&d, "ERROR").await;
    assert!(s["fault"]["message"].as_str().unwrap().contains("No valid host was found"), "{s}");
    assert_eq!(c.placement_allocations(&d).await["allocations"], json!({}));
    let (_, g) = c.call(Method::GET, &format!("/v2.1/os-server-groups/{group}"), None).await;
    assert_eq!(g["server_group"]["members"].as_array().unwrap().len(), 3, "{g}");
    let (s, _) = c.call(Method::POST, "/v2.1/os-server-groups", Some(json!({"server_group": {"name": "bad", "policies": ["mostly-apart"]}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_finishes_what_was_interrupted() {
    let dir = std::env::temp_dir().join(format!("nova-restart-{}", common::ids::new_hex_id()));
    let c = cloud(1, None, Some(dir.clone())).await;
    let id = c.create("survivor", json!({})).await;
    c.wait_status(&id, "ACTIVE").await;
    // A stop that "crashed" after recording its task, and a build that never got scheduled.
    let mut i = nova::db::instances::instance_get(&c.app.db, &id).await.unwrap().unwrap();
    i.task_state = Some("powering-off".into());
    nova::db::instances::instance_save(&c.app.db, &i, None).await.unwrap();
    let mut stuck = i.clone();
    stuck.uuid = common::ids::new_uuid();
    stuck.host = None;
    stuck.node = None;
    stuck.vm_state = "building".into();
    stuck.task_state = Some("scheduling".into());
    nova::db::instances::instance_create(&c.app.db, &stuck).await.unwrap();
    let spec = c.app.request_spec_get(&id).await.unwrap().unwrap();
    c.app.request_spec_save(&stuck.uuid, &spec).await.unwrap();
    // Restart everything on the same data dir.
    let mut c = c;
    c.keep = true;
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = cloud(1, None, Some(dir)).await;
    let s = c.wait_status(&id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 1, "the hypervisor still runs it");
    c.wait_status(&stuck.uuid, "ACTIVE").await;
}


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hypervisors_and_services_show_the_hosts_and_a_disabled_host_gets_no_builds() {
    let c = cloud(2, None, None).await;
    let (s, svc) = c.call(Method::GET, "/v2.1/os-services", None).await;
    assert_eq!(s, StatusCode::OK, "{svc}");
    let computes: Vec<&Value> = svc["services"].as_array().unwrap().iter().filter(|s| s["binary"] == "nova-compute").collect();
    assert_eq!(computes.len(), 2);
    assert!(computes.iter().all(|s| s["state"] == "up" && s["status"] == "enabled"), "{svc}");
    let (s, _) = c.call(Method::PUT, "/v2.1/os-services/disable-log-reason", Some(json!({"host": "fake-1", "binary": "nova-compute", "disabled_reason": "maintenance"}))).await;
    assert_eq!(s, StatusCode::OK);
    for n in 0..3 {
        let id = c.create(&format!("d{n}"), json!({})).await;
        assert_eq!(c.wait_status(&id, "ACTIVE").await["OS-EXT-SRV-ATTR:host"], "fake-2", "a disabled host is filtered out");
    }
    let (_, hv) = c.call(Method::GET, "/v2.1/os-hypervisors/detail", None).await;
    let by_name: BTreeMap<String, Value> = hv["hypervisors"].as_array().unwrap().iter().map(|h| (h["hypervisor_hostname"].as_str().unwrap().to_string(), h.clone())).collect();
    assert_eq!(by_name["fake-2"]["running_vms"], 3);
    assert_eq!(by_name["fake-2"]["vcpus_used"], 3);
    assert_eq!(by_name["fake-1"]["status"], "disabled");
    assert_eq!(by_name["fake-1"]["service"]["disabled_reason"], "maintenance");
    let (_, st) = c.call(Method::GET, "/v2.1/os-hypervisors/statistics", None).await;
    assert_eq!((st["hypervisor_statistics"]["count"].clone(), st["hypervisor_statistics"]["running_vms"].clone()), (json!(2), json!(3)));
}

/// The providers a consumer holds resources on, with the amounts.
fn held(alloc: &Value) -> BTreeMap<String, Value> {
    alloc["allocations"].as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), v["resources"].clone())).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_snapshot_resize_migrate_rescue_and_shelve_keep_placement_true() {
    let c = cloud(2, None, None).await;
    let mut small = nova::db::flavors::flavor_get_by_flavorid(&c.app.api_db, "1").await.unwrap().unwrap();
    small.id = 0;
    small.flavorid = "2".into();
    small.name = "m1.small".into();
    small.memory_mb = 2048;
    small.vcpus = 2;
    small.root_gb = 2;
    nova::db::flavors::flavor_create(&c.app.api_db, &mut small).await.unwrap();
    let id = c.create("vm", json!({})).await;
    let s = c.wait_status(&id, "ACTIVE").await;
    let first_host = s["OS-EXT-SRV-ATTR:host"].as_str().unwrap().to_string();
    let node_of = |h: &str| -> String { h.to_string() };
    let rp = |c: &Cloud, host: String| {
        let db = c.app.db.clone();
        async move { nova::db::compute_nodes::compute_node_get_by_hostname(&db, &host).await.unwrap().unwrap().uuid }
    };

    // Rebuild: same id and host, new name, back to ACTIVE; the answer is the server.
    let (st, b) = c.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"rebuild": {"imageRef": IMAGE, "name": "vm-rebuilt", "metadata": {"k": "v"}}}))).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    assert_eq!((b["server"]["status"].as_str(), b["server"]["name"].as_str()), (Some("REBUILD"), Some("vm-rebuilt")));
    assert!(b["server"]["adminPass"].is_string());
    let s = c.wait_status(&id, "ACTIVE").await;
    assert_eq!((s["name"].as_str(), s["metadata"]["k"].as_str(), s["OS-EXT-SRV-ATTR:host"].as_str()), (Some("vm-rebuilt"), Some("v"), Some(first_host.as_str())));
    let (st, b) = c.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"rebuild": {"imageRef": "00000000-0000-0000-0000-000000000000"}}))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");

    // createImage (2.45): a real image in Glance, made from the guest's disk.
    let (st, b) = c.call_at("2.45", Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"createImage": {"name": "snap", "metadata": {"purpose": "test"}}}))).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    let image_id = b["image_id"].as_str().unwrap().to_string();
    let mut image = Value::Null;
    for _ in 0..500 {
        image = http(reqwest::Method::GET, &format!("{}/v2/images/{image_id}", c.glance_url), &c.admin, None).await.1;
        if image["status"] == "active" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!((image["status"].as_str(), image["size"].as_i64(), image["instance_uuid"].as_str(), image["image_type"].as_str(), image["purpose"].as_str()), (Some("active"), Some(1 << 20), Some(id.as_str()), Some("snapshot"), Some("test")), "{image}");
    c.wait_status(&id, "ACTIVE").await;

    // Resize to another host (allow_resize_to_same_host is off), then revert: the source's
    // resources are held by the migration meanwhile and come back to the instance.
    let h1 = rp(&c, node_of(&first_host)).await;
    assert_eq!(c.action(&id, json!({"resize": {"flavorRef": "2"}})).await, StatusCode::ACCEPTED);
    let s = c.wait_status(&id, "VERIFY_RESIZE").await;
    let second_host = s["OS-EXT-SRV-ATTR:host"].as_str().unwrap().to_string();
    assert_ne!(second_host, first_host);
    assert_eq!(s["flavor"]["id"], "2");
    let h2 = rp(&c, node_of(&second_host)).await;
    assert_eq!(held(&c.placement_allocations(&id).await), BTreeMap::from([(h2.clone(), json!({"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 2}))]));
    let (_, migs) = c.call_at("2.59", Method::GET, &format!("/v2.1/os-migrations?instance_uuid={id}"), None).await;
    let mig = migs["migrations"][0].clone();
    assert_eq!((mig["status"].as_str(), mig["migration_type"].as_str(), mig["source_compute"].as_str(), mig["dest_compute"].as_str()), (Some("finished"), Some("resize"), Some(first_host.as_str()), Some(second_host.as_str())), "{migs}");
    let mig_uuid = mig["uuid"].as_str().unwrap().to_string();
    assert_eq!(held(&c.placement_allocations(&mig_uuid).await), BTreeMap::from([(h1.clone(), json!({"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 1}))]));
    assert_eq!(c.action(&id, json!({"revertResize": null})).await, StatusCode::ACCEPTED);
    let s = c.wait_status(&id, "ACTIVE").await;
    assert_eq!((s["OS-EXT-SRV-ATTR:host"].as_str(), s["flavor"]["id"].as_str()), (Some(first_host.as_str()), Some("1")));
    assert_eq!(held(&c.placement_allocations(&id).await), BTreeMap::from([(h1.clone(), json!({"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 1}))]));
    assert!(held(&c.placement_allocations(&mig_uuid).await).is_empty());
    // Confirm: the new flavor stays, the source is released.
    assert_eq!(c.action(&id, json!({"resize": {"flavorRef": "2"}})).await, StatusCode::ACCEPTED);
    c.wait_status(&id, "VERIFY_RESIZE").await;
    assert_eq!(c.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"confirmResize": null}))).await.0, StatusCode::NO_CONTENT);
    let s = c.wait_status(&id, "ACTIVE").await;
    assert_eq!((s["OS-EXT-SRV-ATTR:host"].as_str(), s["flavor"]["id"].as_str()), (Some(second_host.as_str()), Some("2")));
    assert_eq!(held(&c.placement_allocations(&id).await), BTreeMap::from([(h2.clone(), json!({"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 2}))]));
    let (st, b) = c.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"confirmResize": null}))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    let (st, b) = c.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"resize": {"flavorRef": "2"}}))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "same flavor: {b}");

    // Cold migration back, confirmed; then a live migration over again.
    assert_eq!(c.action(&id, json!({"migrate": null})).await, StatusCode::ACCEPTED);
    let s = c.wait_status(&id, "VERIFY_RESIZE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"].as_str(), Some(first_host.as_str()));
    assert_eq!(c.action(&id, json!({"confirmResize": null})).await, StatusCode::NO_CONTENT);
    c.wait_status(&id, "ACTIVE").await;
    assert_eq!(c.action(&id, json!({"os-migrateLive": {"host": null, "block_migration": "auto"}})).await, StatusCode::ACCEPTED);
    let mut s = Value::Null;
    for _ in 0..500 {
        s = c.wait_status(&id, "ACTIVE").await;
        if s["OS-EXT-SRV-ATTR:host"].as_str() == Some(second_host.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s["OS-EXT-SRV-ATTR:host"].as_str(), Some(second_host.as_str()));
    assert_eq!(held(&c.placement_allocations(&id).await), BTreeMap::from([(h2.clone(), json!({"VCPU": 2, "MEMORY_MB": 2048, "DISK_GB": 2}))]));
    let (_, migs) = c.call_at("2.23", Method::GET, &format!("/v2.1/os-migrations?instance_uuid={id}&migration_type=live-migration"), None).await;
    assert_eq!(migs["migrations"][0]["status"], "completed", "{migs}");

    // Rescue and unrescue; diagnostics (2.48) and a crash dump (2.17).
    let (st, b) = c.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"rescue": null}))).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b["adminPass"].is_string());
    c.wait_status(&id, "RESCUE").await;
    assert_eq!(c.action(&id, json!({"unrescue": null})).await, StatusCode::ACCEPTED);
    c.wait_status(&id, "ACTIVE").await;
    let (st, d) = c.call_at("2.48", Method::GET, &format!("/v2.1/servers/{id}/diagnostics"), None).await;
    assert_eq!((st, d["num_cpus"].as_i64(), d["state"].as_str()), (StatusCode::OK, Some(2), Some("running")), "{d}");
    let (st, _) = c.call_at("2.17", Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"trigger_crash_dump": null}))).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    c.wait_status(&id, "ACTIVE").await;

    // Shelve offloads at once (shelved_offload_time = 0): no host, nothing held, an image
    // kept; unshelve schedules it again and deletes that image.
    assert_eq!(c.action(&id, json!({"shelve": null})).await, StatusCode::ACCEPTED);
    let s = c.wait_status(&id, "SHELVED_OFFLOADED").await;
    assert!(s["OS-EXT-SRV-ATTR:host"].is_null(), "{s}");
    assert!(held(&c.placement_allocations(&id).await).is_empty());
    let (_, images) = http(reqwest::Method::GET, &format!("{}/v2/images?name=vm-rebuilt-shelved", c.glance_url), &c.admin, None).await;
    let shelved = images["images"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(c.action(&id, json!({"unshelve": null})).await, StatusCode::ACCEPTED);
    let s = c.wait_status(&id, "ACTIVE").await;
    assert!(s["OS-EXT-SRV-ATTR:host"].is_string());
    assert_eq!(held(&c.placement_allocations(&id).await).len(), 1);
    let mut gone = false;
    for _ in 0..200 {
        if http(reqwest::Method::GET, &format!("{}/v2/images/{shelved}", c.glance_url), &c.admin, None).await.0 == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the shelved image is deleted after unshelve");
    let (_, acts) = c.call(Method::GET, &format!("/v2.1/servers/{id}/os-instance-actions"), None).await;
    let names: Vec<&str> = acts["instanceActions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    for want in ["rebuild", "createImage", "resize", "revertResize", "confirmResize", "migrate", "live-migration", "rescue", "unrescue", "shelve", "unshelve"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evacuation_needs_the_host_down_and_rebuilds_elsewhere() {
    let c = cloud(2, None, None).await;
    let id = c.create("vm", json!({})).await;
    let s = c.wait_status(&id, "ACTIVE").await;
    let host = s["OS-EXT-SRV-ATTR:host"].as_str().unwrap().to_string();
    let (st, b) = c.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"evacuate": {}}))).await;
    assert_eq!(st, StatusCode::CONFLICT, "the host is up: {b}");
    let (st, b) = c.call_at("2.11", Method::PUT, "/v2.1/os-services/force-down", Some(json!({"host": host, "binary": "nova-compute", "forced_down": true}))).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (st, b) = c.call_at("2.29", Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"evacuate": {}}))).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let mut s = Value::Null;
    for _ in 0..500 {
        s = c.wait_status(&id, "ACTIVE").await;
        if s["OS-EXT-SRV-ATTR:host"].as_str() != Some(host.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(s["OS-EXT-SRV-ATTR:host"].as_str(), Some(host.as_str()), "{s}");
    let (_, migs) = c.call_at("2.59", Method::GET, &format!("/v2.1/os-migrations?instance_uuid={id}"), None).await;
    let m = &migs["migrations"][0];
    assert_eq!((m["migration_type"].as_str(), m["status"].as_str()), (Some("evacuation"), Some("done")), "{migs}");
    // The source's resources stay with the migration until the source cleans up.
    assert_eq!(held(&c.placement_allocations(m["uuid"].as_str().unwrap()).await).len(), 1);
    assert_eq!(held(&c.placement_allocations(&id).await).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_make_zones_that_builds_follow_and_usage_counts_the_hours() {
    let c = cloud(2, None, None).await;
    let (st, b) = c.call(Method::POST, "/v2.1/os-aggregates", Some(json!({"aggregate": {"name": "agg1", "availability_zone": "zone-a"}}))).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b["aggregate"].get("hosts").is_none(), "create's answer has no hosts: {b}");
    let agg = b["aggregate"]["id"].as_i64().unwrap();
    assert_eq!(c.call(Method::POST, "/v2.1/os-aggregates", Some(json!({"aggregate": {"name": "agg1"}}))).await.0, StatusCode::CONFLICT);
    let action_path = format!("/v2.1/os-aggregates/{agg}/action");
    let act = |body: Value| c.call(Method::POST, &action_path, Some(body));
    let (st, b) = act(json!({"add_host": {"host": "fake-2"}})).await;
    assert_eq!((st, b["aggregate"]["hosts"].clone(), b["aggregate"]["metadata"]["availability_zone"].clone()), (StatusCode::OK, json!(["fake-2"]), json!("zone-a")), "{b}");
    assert_eq!(act(json!({"add_host": {"host": "fake-2"}})).await.0, StatusCode::CONFLICT);
    assert_eq!(act(json!({"add_host": {"host": "nowhere"}})).await.0, StatusCode::NOT_FOUND);
    // A host is in one zone only.
    let (_, b) = c.call(Method::POST, "/v2.1/os-aggregates", Some(json!({"aggregate": {"name": "agg2", "availability_zone": "zone-b"}}))).await;
    let agg2 = b["aggregate"]["id"].as_i64().unwrap();
    assert_eq!(c.call(Method::POST, &format!("/v2.1/os-aggregates/{agg2}/action"), Some(json!({"add_host": {"host": "fake-2"}}))).await.0, StatusCode::CONFLICT);
    let (_, zones) = c.call(Method::GET, "/v2.1/os-availability-zone", None).await;
    assert!(zones.to_string().contains("zone-a"), "{zones}");
    // A build asking for the zone lands on its host.
    let (st, b) = c.call(Method::POST, "/v2.1/servers", Some(json!({"server": {"name": "z", "imageRef": IMAGE, "flavorRef": "1", "networks": "none", "availability_zone": "zone-a"}}))).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{b}");
    let id = b["server"]["id"].as_str().unwrap().to_string();
    let s = c.wait_status(&id, "ACTIVE").await;
    assert_eq!((s["OS-EXT-SRV-ATTR:host"].as_str(), s["OS-EXT-AZ:availability_zone"].as_str()), (Some("fake-2"), Some("zone-a")));
    // Deleting an aggregate with hosts is refused; emptied, it goes.
    assert_eq!(c.call(Method::DELETE, &format!("/v2.1/os-aggregates/{agg}"), None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(act(json!({"remove_host": {"host": "fake-2"}})).await.0, StatusCode::OK);
    assert_eq!(act(json!({"remove_host": {"host": "fake-2"}})).await.0, StatusCode::NOT_FOUND);
    let (st, b) = act(json!({"set_metadata": {"metadata": {"ssd": "true", "availability_zone": null}}})).await;
    assert_eq!((st, b["aggregate"]["metadata"].clone()), (StatusCode::OK, json!({"ssd": "true"})), "{b}");
    assert_eq!(c.call(Method::DELETE, &format!("/v2.1/os-aggregates/{agg}"), None).await.0, StatusCode::OK);
    assert_eq!(c.call(Method::GET, &format!("/v2.1/os-aggregates/{agg}"), None).await.0, StatusCode::NOT_FOUND);

    // Usage: the server shows up with its flavor over a period that covers it.
    let project = s["tenant_id"].as_str().unwrap().to_string();
    let (st, u) = c.call(Method::GET, "/v2.1/os-simple-tenant-usage?start=2000-01-01T00:00:00&end=2100-01-01T00:00:00&detailed=1", None).await;
    assert_eq!(st, StatusCode::OK, "{u}");
    let mine = u["tenant_usages"].as_array().unwrap().iter().find(|t| t["tenant_id"] == project.as_str()).unwrap().clone();
    assert!(mine["server_usages"].as_array().unwrap().iter().any(|s| s["instance_id"] == id.as_str() && s["flavor"] == "m1.tiny" && s["state"] == "active"), "{mine}");
    assert!(mine["total_hours"].as_f64().unwrap() > 0.0);
    let (st, u) = c.call(Method::GET, &format!("/v2.1/os-simple-tenant-usage/{project}?start=2000-01-01T00:00:00&end=2100-01-01T00:00:00"), None).await;
    assert_eq!((st, u["tenant_usage"]["tenant_id"].as_str()), (StatusCode::OK, Some(project.as_str())), "{u}");
    let (st, _) = c.call(Method::GET, "/v2.1/os-simple-tenant-usage?start=2100-01-01T00:00:00&end=2000-01-01T00:00:00", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (_, u) = c.call(Method::GET, &format!("/v2.1/os-simple-tenant-usage/{project}?start=1990-01-01T00:00:00&end=1991-01-01T00:00:00"), None).await;
    assert_eq!(u, json!({"tenant_usage": {}}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_proxy_hosts_hypervisor_extras_events_and_backups() {
    let c = cloud(1, None, None).await;
    let id = c.create("vm", json!({})).await;
    c.wait_status(&id, "ACTIVE").await;
    // /images proxies Glance (until 2.36).
    let (st, b) = c.call_at("2.1", Method::GET, "/v2.1/images/detail", None).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b["images"].as_array().unwrap().iter().any(|i| i["id"] == IMAGE && i["status"] == "ACTIVE" && i["progress"] == 100), "{b}");
    let (st, b) = c.call_at("2.1", Method::POST, &format!("/v2.1/images/{IMAGE}/metadata"), Some(json!({"metadata": {"os_distro": "cirros"}}))).await;
    assert_eq!((st, b["metadata"]["os_distro"].as_str()), (StatusCode::OK, Some("cirros")), "{b}");
    let (st, b) = c.call_at("2.1", Method::GET, &format!("/v2.1/images/{IMAGE}/metadata/os_distro"), None).await;
    assert_eq!((st, b["meta"]["os_distro"].as_str()), (StatusCode::OK, Some("cirros")));
    assert_eq!(c.call_at("2.1", Method::DELETE, &format!("/v2.1/images/{IMAGE}/metadata/os_distro"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(c.call_at("2.1", Method::GET, &format!("/v2.1/images/{IMAGE}/metadata/os_distro"), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.call_at("2.36", Method::GET, "/v2.1/images", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.call_at("2.1", Method::GET, "/v2.1/images/00000000-0000-0000-0000-000000000000", None).await.0, StatusCode::NOT_FOUND);

    // createBackup keeps `rotation` backups.
    for n in 0..2 {
        let (st, b) = c.call_at("2.45", Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"createBackup": {"name": format!("b{n}"), "backup_type": "daily", "rotation": 1}}))).await;
        assert_eq!(st, StatusCode::ACCEPTED, "{b}");
        c.wait_status(&id, "ACTIVE").await;
    }
    let (_, b) = c.call_at("2.1", Method::GET, &format!("/v2.1/images/detail?server={id}&type=backup"), None).await;
    let names: Vec<&str> = b["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["b1"], "rotation 1 keeps the newest: {b}");
    let (st, _) = c.call(Method::POST, &format!("/v2.1/servers/{id}/action"), Some(json!({"restore": null}))).await;
    assert_eq!(st, StatusCode::CONFLICT);

    // os-hosts (until 2.43) and the hypervisor extras (until 2.53).
    let (st, b) = c.call(Method::GET, "/v2.1/os-hosts", None).await;
    assert_eq!((st, b["hosts"][0]["host_name"].as_str(), b["hosts"][0]["service"].as_str()), (StatusCode::OK, Some("fake-1"), Some("compute")), "{b}");
    let (st, b) = c.call(Method::GET, "/v2.1/os-hosts/fake-1", None).await;
    assert_eq!((st, b["host"][0]["resource"]["project"].as_str()), (StatusCode::OK, Some("(total)")), "{b}");
    assert_eq!(c.call(Method::GET, "/v2.1/os-hosts/nowhere", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.call(Method::GET, "/v2.1/os-hosts/fake-1/reboot", None).await.0, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(c.call(Method::PUT, "/v2.1/os-hosts/fake-1", Some(json!({"status": "bogus"}))).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(c.call_at("2.43", Method::GET, "/v2.1/os-hosts", None).await.0, StatusCode::NOT_FOUND);
    let (_, hv) = c.call(Method::GET, "/v2.1/os-hypervisors", None).await;
    let hv_id = hv["hypervisors"][0]["id"].as_i64().unwrap();
    let (st, b) = c.call(Method::GET, &format!("/v2.1/os-hypervisors/{hv_id}/uptime"), None).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b["hypervisor"]["uptime"].as_str().unwrap().contains(" up "), "{b}");
    let (st, b) = c.call(Method::GET, "/v2.1/os-hypervisors/fake/servers", None).await;
    assert_eq!((st, b["hypervisors"][0]["servers"][0]["uuid"].as_str()), (StatusCode::OK, Some(id.as_str())), "{b}");
    assert_eq!(c.call(Method::GET, "/v2.1/os-hypervisors/nomatch/search", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.call(Method::GET, "/v2.1/os-hypervisors/00000000-0000-0000-0000-000000000000", None).await.0, StatusCode::NOT_FOUND);

    // External events reach the server's host.
    let (st, b) = c.call(Method::POST, "/v2.1/os-server-external-events", Some(json!({"events": [{"name": "network-changed", "server_uuid": id}]}))).await;
    assert_eq!((st, b["events"][0]["code"].as_i64(), b["events"][0]["status"].as_str()), (StatusCode::OK, Some(200), Some("completed")), "{b}");
    let (st, _) = c.call(Method::POST, "/v2.1/os-server-external-events", Some(json!({"events": [{"name": "network-changed", "server_uuid": "00000000-0000-0000-0000-000000000000"}]}))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = c.call(Method::POST, "/v2.1/os-server-external-events", Some(json!({"events": [{"name": "bogus", "server_uuid": id}]}))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

impl Cloud {
    async fn neutron(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        http(method, &format!("{}{path}", self.neutron_url), &self.admin, body).await
    }

    async fn ports_of(&self, server: &str) -> Vec<Value> {
        self.neutron(reqwest::Method::GET, &format!("/v2.0/ports?device_id={server}"), None).await.1["ports"].as_array().cloned().unwrap()
    }

    /// Waits until `check` holds for the server view.
    async fn wait_for(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..1500 {
            let (_, b) = self.call(Method::GET, &format!("/v2.1/servers/{id}"), None).await;
            if check(&b["server"]) {
                return b["server"].clone();
            }
            last = b;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server {id}: {what} never happened: {last}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_get_ports_addresses_interfaces_security_groups_and_floating_ips_from_neutron() {
    use reqwest::Method as M;
    let c = cloud(2, None, None).await;
    let (s, net) = c.neutron(M::POST, "/v2.0/networks", Some(json!({"network": {"name": "private"}}))).await;
    assert_eq!(s, 201, "{net}");
    let net = net["network"]["id"].as_str().unwrap().to_string();
    let (s, sub) = c.neutron(M::POST, "/v2.0/subnets", Some(json!({"subnet": {"network_id": net, "cidr": "10.0.0.0/24", "ip_version": 4, "name": "private-subnet"}}))).await;
    assert_eq!(s, 201, "{sub}");
    let subnet = sub["subnet"]["id"].as_str().unwrap().to_string();

    // Before 2.37, no `networks` and one network: the server goes on it.
    let (s, b) = c.call_at("2.1", Method::POST, "/v2.1/servers", Some(json!({"server": {"name": "net1", "imageRef": IMAGE, "flavorRef": "1"}}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let id1 = b["server"]["id"].as_str().unwrap().to_string();
    let s1 = c.wait_status(&id1, "ACTIVE").await;
    let addrs = s1["addresses"]["private"].as_array().unwrap();
    assert_eq!(addrs.len(), 1, "{s1}");
    assert_eq!(addrs[0]["OS-EXT-IPS:type"], "fixed");
    assert!(addrs[0]["addr"].as_str().unwrap().starts_with("10.0.0."));
    assert_eq!(s1["security_groups"], json!([{"name": "default"}]));
    let ports = c.ports_of(&id1).await;
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["binding:host_id"], s1["OS-EXT-SRV-ATTR:host"]);
    assert_eq!(ports[0]["mac_address"], addrs[0]["OS-EXT-IPS-MAC:mac_addr"]);
    assert!(ports[0]["device_owner"].as_str().unwrap().starts_with("compute:"));
    let (_, ips) = c.call(Method::GET, &format!("/v2.1/servers/{id1}/ips/private"), None).await;
    assert_eq!(ips["private"][0]["addr"], addrs[0]["addr"]);
    assert_eq!(c.call(Method::GET, &format!("/v2.1/servers/{id1}/ips/nowhere"), None).await.0, StatusCode::NOT_FOUND);

    // A fixed address, and a port made beforehand (kept when the server goes).
    let (s, p) = c.neutron(M::POST, "/v2.0/ports", Some(json!({"port": {"network_id": net, "name": "mine"}}))).await;
    assert_eq!(s, 201, "{p}");
    let mine = p["port"]["id"].as_str().unwrap().to_string();
    let (s, b) = c.call(Method::POST, "/v2.1/servers", Some(json!({"server": {"name": "net2", "imageRef": IMAGE, "flavorRef": "1", "networks": [{"uuid": net, "fixed_ip": "10.0.0.50"}, {"port": mine}]}}))).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let id2 = b["server"]["id"].as_str().unwrap().to_string();
    let s2 = c.wait_status(&id2, "ACTIVE").await;
    let addrs: Vec<&str> = s2["addresses"]["private"].as_array().unwrap().iter().map(|a| a["addr"].as_str().unwrap()).collect();
    assert_eq!(addrs.len(), 2, "{s2}");
    assert_eq!(addrs[0], "10.0.0.50");
    // Bad requests change nothing.
    let bad = |networks: Value| json!({"server": {"name": "bad", "imageRef": IMAGE, "flavorRef": "1", "networks": networks}});
    let (s, e) = c.call(Method::POST, "/v2.1/servers", Some(bad(json!([{"uuid": "00000000-0000-0000-0000-000000000000"}])))).await;
    assert_eq!((s, e["badRequest"]["message"].clone()), (StatusCode::BAD_REQUEST, json!("Network 00000000-0000-0000-0000-000000000000 could not be found.")));
    assert_eq!(c.call(Method::POST, "/v2.1/servers", Some(bad(json!([{"port": mine}])))).await.0, StatusCode::CONFLICT);
    assert_eq!(c.call(Method::POST, "/v2.1/servers", Some(bad(json!([{"uuid": net, "fixed_ip": "10.0.0.300"}])))).await.0, StatusCode::BAD_REQUEST);
    let (s, e) = c.call(Method::POST, "/v2.1/servers", Some(json!({"server": {"name": "bad", "imageRef": IMAGE, "flavorRef": "1", "networks": [{"uuid": net}], "security_groups": [{"name": "nope"}]}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    // A second network makes "no networks" ambiguous.
    let (_, net_b) = c.neutron(M::POST, "/v2.0/networks", Some(json!({"network": {"name": "second"}}))).await;
    let net_b = net_b["network"]["id"].as_str().unwrap().to_string();
    let (_, sub_b) = c.neutron(M::POST, "/v2.0/subnets", Some(json!({"subnet": {"network_id": net_b, "cidr": "10.1.0.0/24", "ip_version": 4}}))).await;
    assert_eq!(sub_b["subnet"]["cidr"], "10.1.0.0/24");
    assert_eq!(c.call_at("2.1", Method::POST, "/v2.1/servers", Some(json!({"server": {"name": "amb", "imageRef": IMAGE, "flavorRef": "1"}}))).await.0, StatusCode::CONFLICT);

    // os-interface: attach a port on the second network, list, detach.
    let (s, a) = c.call(Method::POST, &format!("/v2.1/servers/{id1}/os-interface"), Some(json!({"interfaceAttachment": {"net_id": net_b}}))).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let attached = a["interfaceAttachment"]["port_id"].as_str().unwrap().to_string();
    assert!(a["interfaceAttachment"]["fixed_ips"][0]["ip_address"].as_str().unwrap().starts_with("10.1.0."));
    let (_, l) = c.call(Method::GET, &format!("/v2.1/servers/{id1}/os-interface"), None).await;
    assert_eq!(l["interfaceAttachments"].as_array().unwrap().len(), 2);
    c.wait_for(&id1, "second address", |s| s["addresses"]["second"].as_array().is_some_and(|a| a.len() == 1)).await;
    assert_eq!(c.call(Method::DELETE, &format!("/v2.1/servers/{id1}/os-interface/{attached}"), None).await.0, StatusCode::ACCEPTED);
    c.wait_for(&id1, "detach", |s| s["addresses"].get("second").is_none()).await;
    assert_eq!(c.neutron(M::GET, &format!("/v2.0/ports/{attached}"), None).await.0, 404);
    assert_eq!(c.call(Method::GET, &format!("/v2.1/servers/{id1}/os-interface/{attached}"), None).await.0, StatusCode::NOT_FOUND);

    // Security groups on the server's ports.
    let (s, g) = c.neutron(M::POST, "/v2.0/security-groups", Some(json!({"security_group": {"name": "web"}}))).await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(c.action(&id1, json!({"addSecurityGroup": {"name": "web"}})).await, StatusCode::ACCEPTED);
    let (_, shown) = c.call(Method::GET, &format!("/v2.1/servers/{id1}"), None).await;
    assert_eq!(shown["server"]["security_groups"], json!([{"name": "default"}, {"name": "web"}]));
    let (_, groups) = c.call_at("2.1", Method::GET, &format!("/v2.1/servers/{id1}/os-security-groups"), None).await;
    assert_eq!(groups["security_groups"].as_array().unwrap().len(), 2);
    assert_eq!(c.action(&id1, json!({"addSecurityGroup": {"name": "web"}})).await, StatusCode::BAD_REQUEST);
    assert_eq!(c.action(&id1, json!({"addSecurityGroup": {"name": "none-such"}})).await, StatusCode::NOT_FOUND);
    assert_eq!(c.action(&id1, json!({"removeSecurityGroup": {"name": "web"}})).await, StatusCode::ACCEPTED);
    assert_eq!(c.call(Method::GET, &format!("/v2.1/servers/{id1}"), None).await.1["server"]["security_groups"], json!([{"name": "default"}]));

    // The legacy proxy (up to 2.35): groups and rules in Nova's shape, kept in Neutron.
    let (s, g) = c.call_at("2.35", Method::POST, "/v2.1/os-security-groups", Some(json!({"security_group": {"name": "legacy", "description": "old API"}}))).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    let legacy = g["security_group"]["id"].as_str().unwrap().to_string();
    let (s, r) = c.call_at("2.35", Method::POST, "/v2.1/os-security-group-rules", Some(json!({"security_group_rule": {"parent_group_id": legacy, "ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/8"}}))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["security_group_rule"]["from_port"].clone(), r["security_group_rule"]["ip_range"]["cidr"].clone()), (json!(22), json!("10.0.0.0/8")));
    let bad_rule = json!({"security_group_rule": {"parent_group_id": legacy, "ip_protocol": "tcp", "from_port": 70000, "to_port": 22}});
    assert_eq!(c.call_at("2.35", Method::POST, "/v2.1/os-security-group-rules", Some(bad_rule)).await.0, StatusCode::BAD_REQUEST);
    let (_, shown) = c.call_at("2.35", Method::GET, &format!("/v2.1/os-security-groups/{legacy}"), None).await;
    assert_eq!(shown["security_group"]["rules"].as_array().unwrap().len(), 1, "{shown}");
    let (_, n) = c.neutron(M::GET, &format!("/v2.0/security-groups/{legacy}"), None).await;
    assert_eq!(n["security_group"]["description"], "old API");
    let default = c.neutron(M::GET, "/v2.0/security-groups?name=default", None).await.1["security_groups"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(c.call_at("2.35", Method::DELETE, &format!("/v2.1/os-security-groups/{default}"), None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(c.call_at("2.36", Method::GET, "/v2.1/os-security-groups", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.call_at("2.35", Method::DELETE, &format!("/v2.1/os-security-groups/{legacy}"), None).await.0, StatusCode::ACCEPTED);
    assert_eq!(c.call_at("2.35", Method::GET, &format!("/v2.1/os-security-groups/{legacy}"), None).await.0, StatusCode::NOT_FOUND);
    // The ip filter of the server list matches fixed addresses from the start.
    let ip1 = c.call(Method::GET, &format!("/v2.1/servers/{id1}"), None).await.1["server"]["addresses"]["private"][0]["addr"].as_str().unwrap().to_string();
    let (_, l) = c.call(Method::GET, &format!("/v2.1/servers?ip={ip1}"), None).await;
    assert_eq!(l["servers"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect::<Vec<_>>(), vec![id1.as_str()]);
    assert_eq!(c.call(Method::GET, "/v2.1/servers?ip=10.0.0", None).await.1["servers"].as_array().unwrap().len(), 2);
    assert_eq!(c.call(Method::GET, "/v2.1/servers?ip=0.0", None).await.1["servers"].as_array().unwrap().len(), 0);

    // A floating IP: Neutron tells Nova the port changed, Nova reads it again.
    let (s, ext) = c.neutron(M::POST, "/v2.0/networks", Some(json!({"network": {"name": "public", "router:external": true}}))).await;
    assert_eq!(s, 201, "{ext}");
    let ext = ext["network"]["id"].as_str().unwrap().to_string();
    c.neutron(M::POST, "/v2.0/subnets", Some(json!({"subnet": {"network_id": ext, "cidr": "172.24.4.0/24", "ip_version": 4}}))).await;
    let (_, r) = c.neutron(M::POST, "/v2.0/routers", Some(json!({"router": {"name": "r1", "external_gateway_info": {"network_id": ext}}}))).await;
    let router = r["router"]["id"].as_str().unwrap().to_string();
    assert_eq!(c.neutron(M::PUT, &format!("/v2.0/routers/{router}/add_router_interface"), Some(json!({"subnet_id": subnet}))).await.0, 200);
    let port1 = c.ports_of(&id1).await[0]["id"].as_str().unwrap().to_string();
    let (s, fip) = c.neutron(M::POST, "/v2.0/floatingips", Some(json!({"floatingip": {"floating_network_id": ext, "port_id": port1}}))).await;
    assert_eq!(s, 201, "{fip}");
    let floating = fip["floatingip"]["floating_ip_address"].as_str().unwrap().to_string();
    let (s, ev) = c.call(Method::POST, "/v2.1/os-server-external-events", Some(json!({"events": [{"name": "network-changed", "server_uuid": id1, "tag": port1}]}))).await;
    assert_eq!(s, StatusCode::OK, "{ev}");
    let shown = c.wait_for(&id1, "floating address", |s| s["addresses"]["private"].as_array().is_some_and(|a| a.len() == 2)).await;
    assert_eq!(shown["addresses"]["private"][1], json!({"version": 4, "addr": floating, "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": shown["addresses"]["private"][0]["OS-EXT-IPS-MAC:mac_addr"]}));

    // The legacy floating IP proxy and actions (up to 2.35 / 2.43).
    let (s, pools) = c.call_at("2.35", Method::GET, "/v2.1/os-floating-ip-pools", None).await;
    assert_eq!((s, pools["floating_ip_pools"].clone()), (StatusCode::OK, json!([{"name": "public"}])));
    let (s, lf) = c.call_at("2.35", Method::POST, "/v2.1/os-floating-ips", Some(json!({"pool": "public"}))).await;
    assert_eq!(s, StatusCode::OK, "{lf}");
    let (lf_id, lf_ip) = (lf["floating_ip"]["id"].as_str().unwrap().to_string(), lf["floating_ip"]["ip"].as_str().unwrap().to_string());
    assert_eq!(c.call_at("2.35", Method::POST, "/v2.1/os-floating-ips", Some(json!({"pool": "nowhere"}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.call_at("2.35", Method::POST, &format!("/v2.1/servers/{id2}/action"), Some(json!({"addFloatingIp": {"address": lf_ip}}))).await.0, StatusCode::ACCEPTED);
    let (_, shown) = c.call_at("2.35", Method::GET, &format!("/v2.1/os-floating-ips/{lf_id}"), None).await;
    assert_eq!((shown["floating_ip"]["instance_id"].clone(), shown["floating_ip"]["pool"].clone()), (json!(id2), json!("public")));
    assert_eq!(c.call_at("2.35", Method::POST, &format!("/v2.1/servers/{id1}/action"), Some(json!({"removeFloatingIp": {"address": lf_ip}}))).await.0, StatusCode::CONFLICT);
    assert_eq!(c.call_at("2.44", Method::POST, &format!("/v2.1/servers/{id2}/action"), Some(json!({"removeFloatingIp": {"address": lf_ip}}))).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(c.call_at("2.35", Method::POST, &format!("/v2.1/servers/{id2}/action"), Some(json!({"removeFloatingIp": {"address": lf_ip}}))).await.0, StatusCode::ACCEPTED);
    assert_eq!(c.call_at("2.35", Method::DELETE, &format!("/v2.1/os-floating-ips/{lf_id}"), None).await.0, StatusCode::ACCEPTED);
    assert_eq!(c.call_at("2.35", Method::GET, &format!("/v2.1/os-floating-ips/{lf_id}"), None).await.0, StatusCode::NOT_FOUND);
    let (_, nets) = c.call_at("2.35", Method::GET, "/v2.1/os-networks", None).await;
    assert!(nets["networks"].as_array().unwrap().iter().any(|n| n["label"] == "private"), "{nets}");
    assert_eq!(c.call_at("2.36", Method::GET, "/v2.1/os-networks", None).await.0, StatusCode::NOT_FOUND);

    // Deleting servers: Nova's ports go, the user's port stays, unbound.
    let fip_id = fip["floatingip"]["id"].as_str().unwrap().to_string();
    assert_eq!(c.neutron(M::PUT, &format!("/v2.0/floatingips/{fip_id}"), Some(json!({"floatingip": {"port_id": null}}))).await.0, 200);
    for id in [&id1, &id2] {
        assert_eq!(c.call(Method::DELETE, &format!("/v2.1/servers/{id}"), None).await.0, StatusCode::NO_CONTENT);
    }
    for id in [&id1, &id2] {
        for _ in 0..1500 {
            if c.call(Method::GET, &format!("/v2.1/servers/{id}"), None).await.0 == StatusCode::NOT_FOUND {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(c.ports_of(id).await.is_empty(), "ports of {id} left behind");
    }
    let (s, p) = c.neutron(M::GET, &format!("/v2.0/ports/{mine}"), None).await;
    assert_eq!((s, p["port"]["device_id"].clone(), p["port"]["binding:host_id"].clone()), (200, json!(""), json!("")));
    let (_, all) = c.neutron(M::GET, &format!("/v2.0/ports?network_id={net}&device_owner=compute:nova"), None).await;
    assert_eq!(all["ports"].as_array().unwrap().len(), 0, "{all}");
}
