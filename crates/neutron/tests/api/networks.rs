//! Networks: project segments from the configured ranges (and 503 when they run out), provider
//! networks of every type with their conflicts, release on delete, MTU by type, visibility of
//! shared and external networks, admin-only attributes, updates and revisions.

use http::{Method, StatusCode};
use serde_json::json;

use super::{cloud, cloud_with, id};

#[tokio::test]
async fn project_networks_get_vxlan_segments_until_the_range_runs_out() {
    let c = cloud_with("[ml2]\ntenant_network_types = vxlan\n[ml2_type_vxlan]\nvni_ranges = 5:6\n").await;
    let a = c.create("/v2.0/networks", "network", json!({"name": "a"})).await;
    assert_eq!(a["provider:network_type"], "vxlan");
    assert_eq!(a["provider:segmentation_id"], 5);
    assert_eq!(a["mtu"], 1450);
    assert_eq!(a["status"], "ACTIVE");
    assert_eq!(a["revision_number"], 0);
    assert_eq!(a["subnets"], json!([]));
    assert_eq!(a["tags"], json!([]));
    let b = c.create("/v2.0/networks", "network", json!({"name": "b"})).await;
    assert_eq!(b["provider:segmentation_id"], 6);
    let r = c.call(Method::POST, "/v2.0/networks", Some(json!({"network": {"name": "c"}}))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.kind(), "NoNetworkAvailable");
    assert_eq!(r.message(), "Unable to create the network. No project network is available for allocation.");
    // Deleting releases the segment for the next network.
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/networks/{}", id(&a)), None).await.status, StatusCode::NO_CONTENT);
    let d = c.create("/v2.0/networks", "network", json!({"name": "d"})).await;
    assert_eq!(d["provider:segmentation_id"], 5);
    let r = c.call(Method::GET, &format!("/v2.0/networks/{}", id(&a)), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.kind(), "NetworkNotFound");
    assert_eq!(r.message(), format!("Network {} could not be found.", id(&a)));
}

#[tokio::test]
async fn vlan_project_networks_fall_back_in_type_order() {
    let c = cloud_with("[ml2]\ntenant_network_types = vlan,vxlan\n[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:100:100\n[ml2_type_vxlan]\nvni_ranges = 1:10\n").await;
    let a = c.create("/v2.0/networks", "network", json!({})).await;
    assert_eq!((a["provider:network_type"].as_str(), a["provider:physical_network"].as_str(), a["provider:segmentation_id"].as_i64()), (Some("vlan"), Some("physnet1"), Some(100)));
    assert_eq!(a["mtu"], 1500);
    let b = c.create("/v2.0/networks", "network", json!({})).await;
    assert_eq!(b["provider:network_type"], "vxlan");
    assert_eq!(b["provider:physical_network"], json!(null));
}

#[tokio::test]
async fn provider_networks_are_checked_and_reserved() {
    let c = cloud().await;
    let flat = c.create("/v2.0/networks", "network", json!({"name": "public", "provider:network_type": "flat", "provider:physical_network": "provider", "router:external": true})).await;
    assert_eq!(flat["provider:segmentation_id"], json!(null));
    assert_eq!(flat["router:external"], true);
    assert_eq!(flat["mtu"], 1500);
    let r = c.call(Method::POST, "/v2.0/networks", Some(json!({"network": {"provider:network_type": "flat", "provider:physical_network": "provider"}}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.kind(), "FlatNetworkInUse");
    let v = c.create("/v2.0/networks", "network", json!({"provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 101})).await;
    assert_eq!(v["provider:segmentation_id"], 101);
    let r = c.call(Method::POST, "/v2.0/networks", Some(json!({"network": {"provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 101}}))).await;
    assert_eq!(r.kind(), "VlanIdInUse");
    assert_eq!(r.message(), "Unable to create the network. The VLAN 101 on physical network physnet1 is in use.");
    // Without an id, a provider VLAN network takes the first free one of that physnet's range.
    let auto = c.create("/v2.0/networks", "network", json!({"provider:network_type": "vlan", "provider:physical_network": "physnet1"})).await;
    assert_eq!(auto["provider:segmentation_id"], 100);
    let x = c.create("/v2.0/networks", "network", json!({"provider:network_type": "vxlan", "provider:segmentation_id": 4242})).await;
    assert_eq!(x["mtu"], 1450);
    let r = c.call(Method::POST, "/v2.0/networks", Some(json!({"network": {"provider:network_type": "vxlan", "provider:segmentation_id": 4242}}))).await;
    assert_eq!(r.kind(), "TunnelIdInUse");
    let l = c.create("/v2.0/networks", "network", json!({"provider:network_type": "local"})).await;
    assert_eq!(l["provider:segmentation_id"], json!(null));
    for (body, why) in [
        (json!({"provider:network_type": "gre"}), "unsupported type"),
        (json!({"provider:network_type": "vlan", "provider:physical_network": "nowhere"}), "unknown physnet"),
        (json!({"provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 5000}), "vlan id out of range"),
        (json!({"provider:network_type": "flat"}), "flat without physnet"),
        (json!({"provider:network_type": "vxlan", "provider:physical_network": "physnet1"}), "vxlan with physnet"),
        (json!({"provider:segmentation_id": 7}), "no type"),
        (json!({"mtu": 9000}), "mtu above the type's"),
    ] {
        let r = c.call(Method::POST, "/v2.0/networks", Some(json!({"network": body}))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {:?}", r.body);
        assert_eq!(r.kind(), "InvalidInput", "{why}");
    }
    // Deleting the flat network frees its physical network.
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/networks/{}", id(&flat)), None).await.status, StatusCode::NO_CONTENT);
    c.create("/v2.0/networks", "network", json!({"provider:network_type": "flat", "provider:physical_network": "provider"})).await;
}

#[tokio::test]
async fn visibility_and_admin_only_attributes() {
    let c = cloud().await;
    let (alice, pa) = c.user_with_role("alice", "member").await;
    let (bob, _) = c.user_with_role("bob", "member").await;
    let own = c.create_as(&alice, "/v2.0/networks", "network", json!({"name": "alice-net"})).await;
    assert_eq!(own["project_id"], pa);
    assert_eq!(own["tenant_id"], pa);
    // Provider attributes are the admin's to see and set.
    assert!(own.get("provider:network_type").is_none(), "{own}");
    let r = c.call_as(&alice, Method::POST, "/v2.0/networks", Some(json!({"network": {"provider:network_type": "local"}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.kind(), "PolicyNotAuthorized");
    let r = c.call_as(&alice, Method::POST, "/v2.0/networks", Some(json!({"network": {"shared": true}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // shared=false is the default, so saying it is allowed.
    c.create_as(&alice, "/v2.0/networks", "network", json!({"shared": false})).await;
    let shared = c.create("/v2.0/networks", "network", json!({"name": "shared", "shared": true})).await;
    let ext = c.create("/v2.0/networks", "network", json!({"name": "ext", "router:external": true})).await;
    let private = c.create("/v2.0/networks", "network", json!({"name": "admin-private"})).await;
    let r = c.call_as(&bob, Method::GET, "/v2.0/networks", None).await;
    let names: Vec<&str> = r.body["networks"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["shared", "ext"]);
    let r = c.call_as(&bob, Method::GET, &format!("/v2.0/networks/{}", id(&own)), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // An external network's subnets stay its owner's (only shared networks share subnets).
    let ext_subnet = c.create("/v2.0/subnets", "subnet", json!({"network_id": id(&ext), "ip_version": 4, "cidr": "203.0.113.0/24"})).await;
    let shared_subnet = c.create("/v2.0/subnets", "subnet", json!({"network_id": id(&shared), "ip_version": 4, "cidr": "10.0.0.0/24"})).await;
    let r = c.call_as(&bob, Method::GET, "/v2.0/subnets", None).await;
    assert_eq!(r.body["subnets"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), vec![id(&shared_subnet)]);
    let r = c.call_as(&bob, Method::GET, &format!("/v2.0/networks/{}", id(&ext)), None).await;
    assert_eq!(r.body["network"]["subnets"], json!([id(&ext_subnet)]));
    let r = c.call_as(&bob, Method::GET, &format!("/v2.0/networks/{}", id(&private)), None).await;
    assert_eq!(r.kind(), "NetworkNotFound");
    // Visible but not Bob's: he may not change or delete it.
    let r = c.call_as(&bob, Method::PUT, &format!("/v2.0/networks/{}", id(&shared)), Some(json!({"network": {"name": "mine"}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.call_as(&bob, Method::DELETE, &format!("/v2.0/networks/{}", id(&ext)), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The admin sees everything, provider attributes included.
    let r = c.call(Method::GET, "/v2.0/networks", None).await;
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 5);
    assert!(r.body["networks"][0].get("provider:network_type").is_some());
}

#[tokio::test]
async fn update_bumps_revision_and_honours_if_match() {
    let c = cloud().await;
    let n = c.create("/v2.0/networks", "network", json!({"name": "n"})).await;
    let path = format!("/v2.0/networks/{}", id(&n));
    let r = c.call(Method::PUT, &path, Some(json!({"network": {"name": "renamed", "description": "d", "admin_state_up": false, "mtu": 1400}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["network"]["name"], "renamed");
    assert_eq!(r.body["network"]["mtu"], 1400);
    assert_eq!(r.body["network"]["revision_number"], 1);
    let r = c.call(Method::PUT, &path, Some(json!({"network": {"provider:segmentation_id": 9}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), "Cannot update read-only attribute provider:segmentation_id");
    let req = http::Request::builder()
        .method(Method::PUT)
        .uri(&path)
        .header("x-auth-token", &c.admin)
        .header("if-match", "revision_number=0")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(json!({"network": {"name": "stale"}}).to_string()))
        .unwrap();
    let resp = tower::ServiceExt::oneshot(c.neutron.clone(), req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    let r = c.call(Method::PUT, &format!("{path}/tags"), Some(json!({"tags": ["blue", "red"]}))).await;
    assert_eq!(r.body["tags"], json!(["blue", "red"]));
    assert_eq!(c.call(Method::PUT, &format!("{path}/tags/green"), None).await.status, StatusCode::CREATED);
    assert_eq!(c.call(Method::GET, &format!("{path}/tags/green"), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call(Method::DELETE, &format!("{path}/tags/red"), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call(Method::DELETE, &format!("{path}/tags/red"), None).await.status, StatusCode::NOT_FOUND);
    let r = c.call(Method::GET, &path, None).await;
    assert_eq!(r.body["network"]["tags"], json!(["blue", "green"]));
    assert_eq!(r.body["network"]["revision_number"], 4);
}
