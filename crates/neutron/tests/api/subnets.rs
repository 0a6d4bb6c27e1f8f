//! Subnets: defaults as upstream (gateway, pools), validation of CIDRs, pools, gateways and
//! IPv6 modes, no overlap on one network, visibility through shared networks.

use http::{Method, StatusCode};
use serde_json::json;

use super::{cloud, id};

#[tokio::test]
async fn defaults_and_validation() {
    let c = cloud().await;
    let n = c.create("/v2.0/networks", "network", json!({"name": "n"})).await;
    let nid = id(&n);
    let s = c.create("/v2.0/subnets", "subnet", json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24", "dns_nameservers": ["8.8.8.8"], "host_routes": [{"destination": "10.1.0.0/16", "nexthop": "10.0.0.254"}]})).await;
    assert_eq!(s["gateway_ip"], "10.0.0.1");
    assert_eq!(s["allocation_pools"], json!([{"start": "10.0.0.2", "end": "10.0.0.254"}]));
    assert_eq!(s["enable_dhcp"], true);
    assert_eq!(s["dns_nameservers"], json!(["8.8.8.8"]));
    assert_eq!(s["ipv6_ra_mode"], json!(null));
    let r = c.call(Method::GET, &format!("/v2.0/networks/{nid}"), None).await;
    assert_eq!(r.body["network"]["subnets"], json!([id(&s)]));
    let v6 = c.create("/v2.0/subnets", "subnet", json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db8::/64", "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"})).await;
    assert_eq!(v6["gateway_ip"], "2001:db8::1");
    assert_eq!(v6["allocation_pools"], json!([{"start": "2001:db8::2", "end": "2001:db8::ffff:ffff:ffff:ffff"}]));
    let nogw = c.create("/v2.0/subnets", "subnet", json!({"network_id": nid, "ip_version": 4, "cidr": "10.9.0.0/29", "gateway_ip": null, "allocation_pools": [{"start": "10.9.0.2", "end": "10.9.0.4"}]})).await;
    assert_eq!(nogw["gateway_ip"], json!(null));
    for (body, status, kind) in [
        (json!({"ip_version": 4, "cidr": "10.0.0.128/25"}), 400, "BadRequest"),
        (json!({"ip_version": 4, "cidr": "10.1.0.1/24"}), 400, "InvalidInput"),
        (json!({"ip_version": 6, "cidr": "10.2.0.0/24"}), 400, "InvalidInput"),
        (json!({"ip_version": 5, "cidr": "10.2.0.0/24"}), 400, "InvalidInput"),
        (json!({"ip_version": 4, "cidr": "nonsense"}), 400, "InvalidInput"),
        (json!({"ip_version": 4, "cidr": "10.3.0.0/24", "allocation_pools": [{"start": "10.3.0.10", "end": "10.3.1.5"}]}), 400, "OutOfBoundsAllocationPool"),
        (json!({"ip_version": 4, "cidr": "10.3.0.0/24", "allocation_pools": [{"start": "10.3.0.10", "end": "10.3.0.20"}, {"start": "10.3.0.15", "end": "10.3.0.30"}]}), 409, "OverlappingAllocationPools"),
        (json!({"ip_version": 4, "cidr": "10.3.0.0/24", "gateway_ip": "10.3.0.10", "allocation_pools": [{"start": "10.3.0.5", "end": "10.3.0.20"}]}), 409, "GatewayConflictWithAllocationPools"),
        (json!({"ip_version": 4, "cidr": "10.3.0.0/24", "allocation_pools": [{"start": "10.3.0.20", "end": "10.3.0.10"}]}), 400, "InvalidAllocationPool"),
        (json!({"ip_version": 4, "cidr": "10.3.0.0/24", "ipv6_ra_mode": "slaac"}), 400, "BadRequest"),
        (json!({"ip_version": 4, "cidr": "10.3.0.0/24", "dns_nameservers": ["1.1.1.1", "1.1.1.1"]}), 400, "InvalidInput"),
        (json!({"ip_version": 4}), 400, "BadRequest"),
    ] {
        let mut body = body;
        body["network_id"] = json!(nid);
        let r = c.call(Method::POST, "/v2.0/subnets", Some(json!({"subnet": body.clone()}))).await;
        assert_eq!((r.status.as_u16(), r.kind()), (status, kind), "{body}: {:?}", r.body);
    }
    let r = c.call(Method::POST, "/v2.0/subnets", Some(json!({"subnet": {"network_id": "no-such", "ip_version": 4, "cidr": "10.5.0.0/24"}}))).await;
    assert_eq!(r.kind(), "NetworkNotFound");
    // Updates: pools and gateway keep each other consistent; the CIDR is read-only.
    let path = format!("/v2.0/subnets/{}", id(&s));
    let r = c.call(Method::PUT, &path, Some(json!({"subnet": {"allocation_pools": [{"start": "10.0.0.100", "end": "10.0.0.200"}], "name": "s"}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["subnet"]["allocation_pools"], json!([{"start": "10.0.0.100", "end": "10.0.0.200"}]));
    let r = c.call(Method::PUT, &path, Some(json!({"subnet": {"gateway_ip": "10.0.0.150"}}))).await;
    assert_eq!(r.kind(), "GatewayConflictWithAllocationPools");
    let r = c.call(Method::PUT, &path, Some(json!({"subnet": {"cidr": "10.0.0.0/16"}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call(Method::DELETE, &path, None).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn shared_network_subnets_are_visible_but_only_the_owner_adds_them() {
    let c = cloud().await;
    let (alice, _) = c.user_with_role("alice", "member").await;
    let shared = c.create("/v2.0/networks", "network", json!({"shared": true})).await;
    let s = c.create("/v2.0/subnets", "subnet", json!({"network_id": id(&shared), "ip_version": 4, "cidr": "192.168.0.0/24"})).await;
    let r = c.call_as(&alice, Method::GET, &format!("/v2.0/subnets/{}", id(&s)), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c.call_as(&alice, Method::POST, "/v2.0/subnets", Some(json!({"subnet": {"network_id": id(&shared), "ip_version": 4, "cidr": "192.168.1.0/24"}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let private = c.create("/v2.0/networks", "network", json!({})).await;
    let r = c.call_as(&alice, Method::POST, "/v2.0/subnets", Some(json!({"subnet": {"network_id": id(&private), "ip_version": 4, "cidr": "192.168.2.0/24"}}))).await;
    assert_eq!(r.kind(), "NetworkNotFound");
    // Alice may put a port on the shared network.
    let p = c.create_as(&alice, "/v2.0/ports", "port", json!({"network_id": id(&shared)})).await;
    assert_eq!(p["fixed_ips"][0]["subnet_id"], id(&s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subnet_pools_allocate_without_overlap() {
    let c = cloud().await;
    let (alice, _) = c.user_with_role("alice", "member").await;
    let pool = c.create_as(&alice, "/v2.0/subnetpools", "subnetpool", json!({"name": "p", "prefixes": ["10.100.0.0/16"], "default_prefixlen": 24})).await;
    assert_eq!(pool["ip_version"], 4);
    assert_eq!(pool["min_prefixlen"], 8);
    assert_eq!(pool["max_prefixlen"], 32);
    assert_eq!(pool["prefixes"], json!(["10.100.0.0/16"]));
    let pid = id(&pool);
    let r = c.call_as(&alice, Method::PUT, &format!("/v2.0/subnetpools/{pid}"), Some(json!({"subnetpool": {"name": "renamed", "min_prefixlen": 20}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["subnetpool"]["name"], "renamed");
    let net = c.create_as(&alice, "/v2.0/networks", "network", json!({})).await;
    let nid = id(&net);
    let first = c.create_as(&alice, "/v2.0/subnets", "subnet", json!({"network_id": nid, "ip_version": 4, "subnetpool_id": pid})).await;
    assert_eq!(first["cidr"], "10.100.0.0/24");
    assert_eq!(first["subnetpool_id"], pid);
    assert_eq!(first["gateway_ip"], "10.100.0.1");
    let specific = c.create_as(&alice, "/v2.0/subnets", "subnet", json!({"network_id": nid, "ip_version": 4, "subnetpool_id": pid, "cidr": "10.100.1.0/24"})).await;
    assert_eq!(specific["cidr"], "10.100.1.0/24");
    let small = c.create_as(&alice, "/v2.0/subnets", "subnet", json!({"network_id": nid, "ip_version": 4, "subnetpool_id": pid, "prefixlen": 28})).await;
    assert_eq!(small["cidr"], "10.100.2.0/28");
    for (body, kind) in [
        (json!({"cidr": "10.100.1.0/24"}), "SubnetAllocationError"),
        (json!({"cidr": "192.168.0.0/24"}), "SubnetAllocationError"),
        (json!({"prefixlen": 16}), "MinPrefixSubnetAllocationError"),
        (json!({"ip_version": 6}), "BadRequest"),
    ] {
        let mut b = json!({"network_id": nid, "ip_version": 4, "subnetpool_id": pid});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = c.call_as(&alice, Method::POST, "/v2.0/subnets", Some(json!({"subnet": b}))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.kind(), kind, "{body}");
    }
    // Concurrent allocations from one pool on several networks never overlap.
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (router, token, pid) = (c.neutron.clone(), alice.clone(), pid.clone());
        let n = c.create_as(&alice, "/v2.0/networks", "network", json!({})).await;
        tasks.push(tokio::spawn(async move {
            let r = super::send(&router, Method::POST, "/v2.0/subnets", Some(&token), Some(json!({"subnet": {"network_id": id(&n), "ip_version": 4, "subnetpool_id": pid}}))).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            r.body["subnet"]["cidr"].as_str().unwrap().to_string()
        }));
    }
    let mut cidrs = Vec::new();
    for t in tasks {
        cidrs.push(t.await.unwrap());
    }
    cidrs.sort();
    cidrs.dedup();
    assert_eq!(cidrs.len(), 12);
    // A pool with subnets cannot go; the prefixes may grow but not shrink.
    let r = c.call_as(&alice, Method::DELETE, &format!("/v2.0/subnetpools/{pid}"), None).await;
    assert_eq!(r.kind(), "SubnetPoolDeleteError");
    let r = c.call_as(&alice, Method::PUT, &format!("/v2.0/subnetpools/{pid}"), Some(json!({"subnetpool": {"prefixes": ["10.100.0.0/17"]}}))).await;
    assert_eq!(r.kind(), "IllegalSubnetPoolPrefixUpdate");
    let r = c.call_as(&alice, Method::POST, "/v2.0/subnetpools", Some(json!({"subnetpool": {"name": "s", "prefixes": ["10.0.0.0/8"], "shared": true}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.call_as(&alice, Method::POST, "/v2.0/subnetpools", Some(json!({"subnetpool": {"prefixes": ["10.0.0.0/8", "2001:db8::/32"]}}))).await;
    assert_eq!(r.kind(), "PrefixVersionMismatch");
    let r = c.call_as(&alice, Method::POST, "/v2.0/subnetpools", Some(json!({"subnetpool": {"prefixes": []}}))).await;
    assert_eq!(r.kind(), "EmptySubnetPoolPrefixList");
    let (bob, _) = c.user_with_role("bob", "member").await;
    assert_eq!(c.call_as(&bob, Method::GET, &format!("/v2.0/subnetpools/{pid}"), None).await.kind(), "SubnetPoolNotFound");
}
