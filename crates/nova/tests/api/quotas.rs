//! Quota sets, quota classes, limits, the instance quota check servers will call, and
//! availability zones.

use common::microversion::Version;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{cloud, cloud_with_max};

/// Adds a live instance with `vcpus` and `ram` to the cell database (what server create
/// will do), so usage can be counted before servers exist.
async fn add_instance(cell: &db::Db, project: &str, user: &str, vcpus: i64, ram: i64) {
    let flavor = json!({"id": 1, "flavorid": "f", "name": "f", "memory_mb": ram, "vcpus": vcpus, "root_gb": 1, "ephemeral_gb": 0, "swap": 0, "rxtx_factor": 1.0,
        "vcpu_weight": null, "disabled": false, "is_public": true, "description": null, "extra_specs": {}, "created_at": 0, "updated_at": 0});
    cell.exec(
        "INSERT INTO instances (uuid, project_id, user_id, flavor, vm_state, power_state, progress, launch_index, created_at, updated_at, deleted) VALUES (?, ?, ?, ?, 'active', 1, 0, 0, 0, 0, 0)",
        db::params![uuid::Uuid::new_v4().to_string(), project, user, flavor.to_string()],
    )
    .await
    .unwrap();
}

async fn cell_db(dir: &std::path::Path) -> db::Db {
    db::Db::connect(&format!("sqlite:///{}", dir.join("nova.db").display())).await.unwrap()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn quota_sets_show_update_and_revert() {
    let c = cloud_with_max(Version::new(2, 100)).await;
    let (member, project) = c.project_member("demo").await;
    let (_, other) = c.project_member("other").await;

    let (s, b) = c.call(&member, Method::GET, &format!("/v2.1/os-quota-sets/{project}"), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let q = &b["quota_set"];
    assert_eq!(q["id"], project);
    assert_eq!((q["instances"].clone(), q["cores"].clone(), q["ram"].clone(), q["key_pairs"].clone()), (json!(10), json!(20), json!(51200), json!(100)));
    assert_eq!(q["floating_ips"], -1);
    assert_eq!(keys(q).len(), 15, "2.1 shows all 14 resources and the id: {q}");
    let (_, b) = c.call_mv(&member, "2.36", Method::GET, &format!("/v2.1/os-quota-sets/{project}"), None).await;
    assert!(b["quota_set"].get("floating_ips").is_none() && b["quota_set"].get("injected_files").is_some());
    let (_, b) = c.call_mv(&member, "2.57", Method::GET, &format!("/v2.1/os-quota-sets/{project}"), None).await;
    assert_eq!(keys(&b["quota_set"]), ["cores", "id", "instances", "key_pairs", "metadata_items", "ram", "server_group_members", "server_groups"]);

    // A member reads only their own project, and changes nothing.
    let (s, _) = c.call(&member, Method::GET, &format!("/v2.1/os-quota-sets/{other}"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.call(&member, Method::PUT, &format!("/v2.1/os-quota-sets/{project}"), Some(json!({"quota_set": {"instances": 50}}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = c.call(&member, Method::GET, &format!("/v2.1/os-quota-sets/{other}/defaults"), None).await;
    assert_eq!(s, StatusCode::OK, "anyone reads the defaults");
    assert_eq!(b["quota_set"]["id"], other);

    // Usage from the cell database bounds updates unless forced.
    let cell = cell_db(&c.dir).await;
    add_instance(&cell, &project, "u1", 4, 2048).await;
    add_instance(&cell, &project, "u2", 2, 1024).await;
    let (s, b) = c.call(&c.admin, Method::GET, &format!("/v2.1/os-quota-sets/{project}/detail"), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["quota_set"]["cores"], json!({"in_use": 6, "limit": 20, "reserved": 0}));
    assert_eq!(b["quota_set"]["instances"], json!({"in_use": 2, "limit": 10, "reserved": 0}));
    assert_eq!(b["quota_set"]["ram"], json!({"in_use": 3072, "limit": 51200, "reserved": 0}));
    let (s, b) = c.call(&c.admin, Method::PUT, &format!("/v2.1/os-quota-sets/{project}"), Some(json!({"quota_set": {"cores": 5}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["badRequest"]["message"], "Quota limit 5 for cores must be greater than or equal to already used and reserved 6.");
    let (s, b) = c.call(&c.admin, Method::PUT, &format!("/v2.1/os-quota-sets/{project}"), Some(json!({"quota_set": {"cores": 5, "instances": "3", "force": true}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["quota_set"]["cores"].clone(), b["quota_set"]["instances"].clone()), (json!(5), json!(3)));
    assert!(b["quota_set"].get("id").is_none(), "update shows no id");
    for bad in [json!({"quota_set": {"cores": -2}}), json!({"quota_set": {"cores": "x"}}), json!({"quota_set": {"nope": 1}}), json!({"quota_set": {"force": "maybe"}})] {
        let (s, _) = c.call(&c.admin, Method::PUT, &format!("/v2.1/os-quota-sets/{project}"), Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (s, _) = c.call_mv(&c.admin, "2.36", Method::PUT, &format!("/v2.1/os-quota-sets/{project}"), Some(json!({"quota_set": {"floating_ips": 1}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "2.36 no longer takes network quotas");

    // Per-user limits fit within what the project has left.
    let (s, b) = c.call(&c.admin, Method::PUT, &format!("/v2.1/os-quota-sets/{project}?user_id=u1"), Some(json!({"quota_set": {"key_pairs": 7, "cores": 4}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, b) = c.call(&c.admin, Method::GET, &format!("/v2.1/os-quota-sets/{project}?user_id=u1"), None).await;
    assert_eq!((b["quota_set"]["key_pairs"].clone(), b["quota_set"]["cores"].clone(), b["quota_set"]["instances"].clone()), (json!(7), json!(4), json!(3)));
    let (s, b) = c.call(&c.admin, Method::PUT, &format!("/v2.1/os-quota-sets/{project}?user_id=u1"), Some(json!({"quota_set": {"cores": 6}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = c.call(&c.admin, Method::PUT, &format!("/v2.1/os-quota-sets/{project}?user_id=u1"), Some(json!({"quota_set": {"cores": 3}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "below u1's usage of 4: {b}");

    // Delete reverts to the defaults.
    let (s, _) = c.call(&c.admin, Method::DELETE, &format!("/v2.1/os-quota-sets/{project}"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, b) = c.call(&c.admin, Method::GET, &format!("/v2.1/os-quota-sets/{project}?user_id=u1"), None).await;
    assert_eq!((b["quota_set"]["cores"].clone(), b["quota_set"]["key_pairs"].clone()), (json!(20), json!(100)));
}

#[tokio::test]
async fn the_default_quota_class_sets_the_defaults() {
    let c = cloud_with_max(Version::new(2, 100)).await;
    let (member, project) = c.project_member("demo").await;
    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/os-quota-class-sets/default", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["quota_class_set"]["id"], "default");
    assert!(b["quota_class_set"].get("server_groups").is_none(), "not before 2.50");
    let (_, b) = c.call_mv(&c.admin, "2.50", Method::GET, "/v2.1/os-quota-class-sets/default", None).await;
    assert_eq!(b["quota_class_set"]["server_groups"], 10);
    assert!(b["quota_class_set"].get("floating_ips").is_none());
    let (_, b) = c.call_mv(&c.admin, "2.57", Method::GET, "/v2.1/os-quota-class-sets/default", None).await;
    assert_eq!(keys(&b["quota_class_set"]), ["cores", "id", "instances", "key_pairs", "metadata_items", "ram", "server_group_members", "server_groups"]);

    let (s, _) = c.call(&member, Method::GET, "/v2.1/os-quota-class-sets/default", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = c.call(&c.admin, Method::PUT, "/v2.1/os-quota-class-sets/default", Some(json!({"quota_class_set": {"instances": 42, "cores": "50"}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["quota_class_set"]["instances"], 42);
    assert!(b["quota_class_set"].get("id").is_none());
    let (_, b) = c.call(&member, Method::GET, &format!("/v2.1/os-quota-sets/{project}"), None).await;
    assert_eq!((b["quota_set"]["instances"].clone(), b["quota_set"]["cores"].clone()), (json!(42), json!(50)));
    let (_, b) = c.call(&member, Method::GET, &format!("/v2.1/os-quota-sets/{project}/defaults"), None).await;
    assert_eq!(b["quota_set"]["instances"], 42);
}

#[tokio::test]
async fn limits_show_quotas_and_usage_by_microversion() {
    let c = cloud_with_max(Version::new(2, 100)).await;
    let (member, project) = c.project_member("demo").await;
    let (_, other) = c.project_member("other").await;
    let cell = cell_db(&c.dir).await;
    add_instance(&cell, &project, "u1", 2, 512).await;
    add_instance(&cell, &other, "u9", 8, 8192).await;

    let (s, b) = c.call(&member, Method::GET, "/v2.1/limits", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["limits"]["rate"], json!([]));
    let a = &b["limits"]["absolute"];
    assert_eq!(
        keys(a),
        [
            "maxImageMeta", "maxPersonality", "maxPersonalitySize", "maxSecurityGroupRules", "maxSecurityGroups", "maxServerGroupMembers", "maxServerGroups", "maxServerMeta",
            "maxTotalCores", "maxTotalFloatingIps", "maxTotalInstances", "maxTotalKeypairs", "maxTotalRAMSize", "totalCoresUsed", "totalFloatingIpsUsed", "totalInstancesUsed",
            "totalRAMUsed", "totalSecurityGroupsUsed", "totalServerGroupsUsed"
        ]
    );
    assert_eq!((a["totalInstancesUsed"].clone(), a["totalCoresUsed"].clone(), a["totalRAMUsed"].clone()), (json!(1), json!(2), json!(512)));
    assert_eq!((a["maxTotalInstances"].clone(), a["maxServerMeta"].clone(), a["maxImageMeta"].clone()), (json!(10), json!(128), json!(128)));
    let (_, b) = c.call_mv(&member, "2.57", Method::GET, "/v2.1/limits", None).await;
    assert_eq!(
        keys(&b["limits"]["absolute"]),
        ["maxServerGroupMembers", "maxServerGroups", "maxServerMeta", "maxTotalCores", "maxTotalInstances", "maxTotalKeypairs", "maxTotalRAMSize", "totalCoresUsed", "totalInstancesUsed", "totalRAMUsed", "totalServerGroupsUsed"]
    );

    // Another project's limits are for admins.
    let (s, _) = c.call(&member, Method::GET, &format!("/v2.1/limits?tenant_id={other}"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = c.call(&c.admin, Method::GET, &format!("/v2.1/limits?tenant_id={other}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["limits"]["absolute"]["totalCoresUsed"], 8);
}

#[tokio::test]
async fn the_instance_quota_check_says_what_is_over() {
    let dir = std::env::temp_dir().join(format!("nova-quota-{}", common::ids::new_hex_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = common::config::Config::parse("", "test").unwrap();
    let app = nova::open(nova::NovaConfig::from_config(&cfg, &dir).unwrap()).await.unwrap();
    let ctx = auth::RequestContext::default();
    for _ in 0..5 {
        add_instance(&app.db, "p", "u", 4, 1024).await;
    }
    // 5 instances, 20 of 20 cores, 5120 MB used.
    app.quota_check_instances(&ctx, "p", "u", 5, 0, 0).await.unwrap();
    let e = app.quota_check_instances(&ctx, "p", "u", 1, 2, 512).await.unwrap_err();
    assert!(matches!(e, nova::NovaError::OverQuota(_)));
    assert_eq!(e.to_string(), "Quota exceeded for cores: Requested 2, but already used 20 of 20 cores");
    let e = app.quota_check_instances(&ctx, "p", "u", 6, 1, 1).await.unwrap_err();
    assert_eq!(e.to_string(), "Quota exceeded for cores, instances: Requested 6, 6, but already used 20, 5 of 20, 10 cores, instances");
    // A range is cut down to what fits.
    assert_eq!(app.quota_check_instances_range(&ctx, "q", "u", 1, 30, 1, 1).await.unwrap(), 10);
    // Per-user limits apply once the user has one.
    let limits = [("instances".to_string(), 2i64)].into_iter().collect();
    nova::db::quotas::quota_set(&app.api_db, "q", Some("v"), &limits).await.unwrap();
    add_instance(&app.db, "q", "v", 1, 1).await;
    add_instance(&app.db, "q", "v", 1, 1).await;
    let e = app.quota_check_instances(&ctx, "q", "v", 1, 1, 1).await.unwrap_err();
    assert_eq!(e.to_string(), "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances");
    app.quota_check_instances(&ctx, "q", "w", 1, 1, 1).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn availability_zones_list_the_default_zone() {
    let c = cloud().await;
    let (member, _) = c.project_member("demo").await;
    let (s, b) = c.call(&member, Method::GET, "/v2.1/os-availability-zone", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, json!({"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": true}, "hosts": null}]}));
    let (s, _) = c.call(&member, Method::GET, "/v2.1/os-availability-zone/detail", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/os-availability-zone/detail", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["availabilityZoneInfo"][0]["zoneName"], "nova");

    // With services: computes in their aggregate's zone or the default, others internal.
    let cell = cell_db(&c.dir).await;
    let now = common::time::to_micros(common::time::now());
    for (id, host, binary, disabled) in [(1, "c1", "nova-compute", 0), (2, "c2", "nova-compute", 1), (3, "ctl", "nova-scheduler", 0)] {
        cell.exec(
            "INSERT INTO services (id, uuid, host, service_binary, topic, disabled, forced_down, last_seen_up, report_count, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, ?, 0, ?, 1, ?, ?)",
            db::params![id as i64, uuid::Uuid::new_v4().to_string(), host, binary, disabled as i64, now, now, now],
        )
        .await
        .unwrap();
    }
    let api = db::Db::connect(&format!("sqlite:///{}", c.dir.join("nova_api.db").display())).await.unwrap();
    api.exec("INSERT INTO aggregates (id, uuid, name, created_at, updated_at) VALUES (1, 'a', 'agg', 0, 0)", db::params![]).await.unwrap();
    api.exec("INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (1, 'c2')", db::params![]).await.unwrap();
    api.exec("INSERT INTO aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (1, 'availability_zone', 'az2')", db::params![]).await.unwrap();
    let (_, b) = c.call(&member, Method::GET, "/v2.1/os-availability-zone", None).await;
    assert_eq!(
        b["availabilityZoneInfo"],
        json!([{"zoneName": "nova", "zoneState": {"available": true}, "hosts": null}, {"zoneName": "az2", "zoneState": {"available": false}, "hosts": null}])
    );
    let (_, b) = c.call(&c.admin, Method::GET, "/v2.1/os-availability-zone/detail", None).await;
    let zones: Vec<&str> = b["availabilityZoneInfo"].as_array().unwrap().iter().map(|z| z["zoneName"].as_str().unwrap()).collect();
    assert_eq!(zones, ["internal", "nova", "az2"]);
    assert_eq!(b["availabilityZoneInfo"][1]["hosts"]["c1"]["nova-compute"]["available"], true);
    assert_eq!(b["availabilityZoneInfo"][1]["hosts"]["c1"]["nova-compute"]["active"], true);
}
