//! Ports and IPAM: addresses never handed out twice under concurrent creation, exhaustion as
//! IpAddressGenerationFailure, release on delete, requested addresses, MACs, bindings and
//! what non-admins see of them, the default security group, port security rules.

use std::collections::HashSet;

use futures::StreamExt;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{cloud, id, Cloud};

/// Creates `n` ports on `network` with `concurrency` requests in flight; returns the responses.
async fn race_ports(c: &Cloud, token: &str, network: &str, n: usize, concurrency: usize) -> Vec<(StatusCode, Value)> {
    futures::stream::iter(0..n)
        .map(|i| {
            let (router, token, network) = (c.neutron.clone(), token.to_string(), network.to_string());
            async move {
                let r = super::send(&router, Method::POST, "/v2.0/ports", Some(&token), Some(json!({"port": {"network_id": network, "name": format!("p{i}")}}))).await;
                (r.status, r.body)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

fn addresses(results: &[(StatusCode, Value)]) -> Vec<String> {
    results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| b["port"]["fixed_ips"][0]["ip_address"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ports_get_distinct_addresses() {
    let c = cloud().await;
    let (alice, _) = c.user_with_role("alice", "member").await;
    // A /23 has 509 addresses for ports; 500 is also the project's default port quota, so
    // the race ends exactly at the quota as well.
    let (net, subnet) = c.net_with_subnet(&alice, "n", "10.20.0.0/23").await;
    let started = std::time::Instant::now();
    let results = race_ports(&c, &alice, &net, 500, 16).await;
    for (s, b) in &results {
        assert_eq!(*s, StatusCode::CREATED, "{b}");
    }
    eprintln!("500 ports at concurrency 16 in {:?}", started.elapsed());
    let ips = addresses(&results);
    assert_eq!(ips.len(), 500);
    assert_eq!(ips.iter().collect::<HashSet<_>>().len(), 500, "an address was handed out twice");
    assert!(!ips.contains(&"10.20.0.1".to_string()), "the gateway was handed out");
    assert!(!ips.contains(&"10.20.0.0".to_string()) && !ips.contains(&"10.20.1.255".to_string()), "the network or broadcast address was handed out");
    assert!(results.iter().all(|(_, b)| b["port"]["fixed_ips"][0]["subnet_id"] == subnet));
    let macs: HashSet<String> = results.iter().map(|(_, b)| b["port"]["mac_address"].as_str().unwrap().to_string()).collect();
    assert_eq!(macs.len(), 500);
    assert!(macs.iter().all(|m| m.starts_with("fa:16:3e:")));
    // What the database says agrees with what the responses said.
    let r = c.call(Method::GET, &format!("/v2.0/network-ip-availabilities/{net}"), None).await;
    assert_eq!(r.body["network_ip_availability"]["used_ips"], 500);
    let r = c.call(Method::GET, &format!("/v2.0/ports?network_id={net}&fields=fixed_ips"), None).await;
    let listed: HashSet<String> = r.body["ports"].as_array().unwrap().iter().map(|p| p["fixed_ips"][0]["ip_address"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed, ips.into_iter().collect::<HashSet<_>>());
    let r = c.call_as(&alice, Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": net}}))).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "OverQuota"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_subnet_refuses_with_ip_address_generation_failure() {
    let c = cloud().await;
    // A /26 holds 61 addresses for ports (64 minus network, broadcast and gateway).
    let (net, subnet) = c.net_with_subnet(&c.admin, "n26", "10.30.0.0/26").await;
    let results = race_ports(&c, &c.admin, &net, 70, 16).await;
    let ips = addresses(&results);
    assert_eq!(ips.len(), 61);
    assert_eq!(ips.iter().collect::<HashSet<_>>().len(), 61);
    let failures: Vec<&Value> = results.iter().filter(|(s, _)| *s != StatusCode::CREATED).map(|(_, b)| b).collect();
    assert_eq!(failures.len(), 9);
    for f in failures {
        assert_eq!(f["NeutronError"]["type"], "IpAddressGenerationFailure", "{f}");
        assert_eq!(f["NeutronError"]["message"], format!("No more IP addresses available on network {net}."));
    }
    let r = c.call(Method::GET, &format!("/v2.0/network-ip-availabilities/{net}"), None).await;
    assert_eq!(r.body["network_ip_availability"]["total_ips"], 61);
    assert_eq!(r.body["network_ip_availability"]["used_ips"], 61);
    assert_eq!(r.body["network_ip_availability"]["subnet_ip_availability"][0]["subnet_id"], subnet);
    let r = c.call(Method::GET, &format!("/v2.0/network-ip-availabilities?network_id={net}"), None).await;
    assert_eq!(r.body["network_ip_availabilities"].as_array().unwrap().len(), 1);
    // The next request is refused the same way, and leaves the network, the subnet and the
    // other networks as they were.
    let r = c.call(Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": net}}))).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "IpAddressGenerationFailure"));
    let r = c.call(Method::GET, &format!("/v2.0/networks/{net}"), None).await;
    assert_eq!((r.status, r.body["network"]["status"].as_str()), (StatusCode::OK, Some("ACTIVE")));
    assert_eq!(r.body["network"]["subnets"], json!([subnet]));
    let r = c.call(Method::GET, &format!("/v2.0/subnets/{subnet}"), None).await;
    assert_eq!(r.body["subnet"]["allocation_pools"], json!([{"start": "10.30.0.2", "end": "10.30.0.62"}]));
    let (other, _) = c.net_with_subnet(&c.admin, "other", "10.31.0.0/26").await;
    let p = c.create("/v2.0/ports", "port", json!({"network_id": other})).await;
    assert!(p["fixed_ips"][0]["ip_address"].as_str().unwrap().starts_with("10.31.0."));
    // Nothing else broke: the network still lists its 61 ports, and a freed address is reused.
    let r = c.call(Method::GET, &format!("/v2.0/ports?network_id={net}"), None).await;
    assert_eq!(r.body["ports"].as_array().unwrap().len(), 61);
    let victim = r.body["ports"][0].clone();
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/ports/{}", id(&victim)), None).await.status, StatusCode::NO_CONTENT);
    let p = c.create("/v2.0/ports", "port", json!({"network_id": net})).await;
    assert_eq!(p["fixed_ips"][0]["ip_address"], victim["fixed_ips"][0]["ip_address"]);
    assert_eq!(p["fixed_ips"][0]["subnet_id"], subnet);
}

#[tokio::test]
async fn exhaustion_on_a_29() {
    let c = cloud().await;
    let (net, _) = c.net_with_subnet(&c.admin, "n29", "10.40.0.0/29").await;
    for _ in 0..5 {
        c.create("/v2.0/ports", "port", json!({"network_id": net})).await;
    }
    let r = c.call(Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": net}}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.kind(), "IpAddressGenerationFailure");
}

#[tokio::test]
async fn requested_addresses_macs_and_release() {
    let c = cloud().await;
    let (net, subnet) = c.net_with_subnet(&c.admin, "n", "10.50.0.0/24").await;
    let p = c.create("/v2.0/ports", "port", json!({"network_id": net, "fixed_ips": [{"ip_address": "10.50.0.10"}], "mac_address": "fa:16:3e:00:00:01"})).await;
    assert_eq!(p["fixed_ips"], json!([{"subnet_id": subnet, "ip_address": "10.50.0.10"}]));
    assert_eq!(p["mac_address"], "fa:16:3e:00:00:01");
    for (fixed, kind) in [
        (json!([{"ip_address": "10.50.0.10"}]), "IpAddressInUse"),
        (json!([{"ip_address": "10.50.0.1"}]), "IpAddressInUse"),
        (json!([{"ip_address": "10.99.0.10"}]), "InvalidIpForNetwork"),
        (json!([{"subnet_id": subnet, "ip_address": "10.50.0.255"}]), "InvalidIpForSubnet"),
        (json!([{"subnet_id": "nope"}]), "InvalidInput"),
    ] {
        let r = c.call(Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": net, "fixed_ips": fixed}}))).await;
        assert_eq!(r.kind(), kind, "{fixed}: {:?}", r.body);
    }
    let r = c.call(Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": net, "mac_address": "fa:16:3e:00:00:01"}}))).await;
    assert_eq!(r.kind(), "MacAddressInUse");
    let r = c.call(Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": net, "mac_address": "not-a-mac"}}))).await;
    assert_eq!(r.kind(), "InvalidInput");
    // Moving the port's address: the old one is released.
    let r = c.call(Method::PUT, &format!("/v2.0/ports/{}", id(&p)), Some(json!({"port": {"fixed_ips": [{"ip_address": "10.50.0.11"}]}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["port"]["fixed_ips"][0]["ip_address"], "10.50.0.11");
    let q = c.create("/v2.0/ports", "port", json!({"network_id": net, "fixed_ips": [{"ip_address": "10.50.0.10"}]})).await;
    assert_eq!(q["fixed_ips"][0]["ip_address"], "10.50.0.10");
    let r = c.call(Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": net, "fixed_ips": []}}))).await;
    assert_eq!(r.body["port"]["fixed_ips"], json!([]));
    // A network with a dual-stack SLAAC subnet gives each port its EUI-64 address too.
    c.create("/v2.0/subnets", "subnet", json!({"network_id": net, "ip_version": 6, "cidr": "2001:db8:1::/64", "ipv6_address_mode": "slaac", "ipv6_ra_mode": "slaac"})).await;
    let d = c.create("/v2.0/ports", "port", json!({"network_id": net, "mac_address": "fa:16:3e:12:34:56"})).await;
    assert_eq!(d["fixed_ips"][1]["ip_address"], "2001:db8:1:0:f816:3eff:fe12:3456");
    // A SLAAC subnet's derived addresses do not keep it alive: they leave the ports with it.
    let slaac = d["fixed_ips"][1]["subnet_id"].as_str().unwrap().to_string();
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/subnets/{slaac}"), None).await.status, StatusCode::NO_CONTENT);
    let r = c.call(Method::GET, &format!("/v2.0/ports/{}", id(&d)), None).await;
    assert_eq!(r.body["port"]["fixed_ips"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bindings_security_groups_and_port_security() {
    let c = cloud().await;
    let (alice, pa) = c.user_with_role("alice", "member").await;
    let (net, _) = c.net_with_subnet(&alice, "n", "10.60.0.0/24").await;
    let p = c.create_as(&alice, "/v2.0/ports", "port", json!({"network_id": net, "device_owner": "compute:nova", "device_id": "vm-1"})).await;
    assert_eq!(p["status"], "DOWN");
    assert_eq!(p["binding:vnic_type"], "normal");
    assert!(p.get("binding:host_id").is_none(), "non-admins do not see bindings: {p}");
    assert!(p.get("binding:vif_type").is_none());
    assert_eq!(p["port_security_enabled"], true);
    // The project's default group was made on first need and put on the port.
    let groups = c.call_as(&alice, Method::GET, "/v2.0/security-groups?name=default", None).await;
    let default = groups.body["security_groups"][0].clone();
    assert_eq!(default["project_id"], pa);
    assert_eq!(p["security_groups"], json!([id(&default)]));
    let r = c.call_as(&alice, Method::PUT, &format!("/v2.0/ports/{}", id(&p)), Some(json!({"port": {"binding:host_id": "compute1"}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.call(Method::PUT, &format!("/v2.0/ports/{}", id(&p)), Some(json!({"port": {"binding:host_id": "compute1"}}))).await;
    assert_eq!(r.body["port"]["status"], "ACTIVE");
    assert_eq!(r.body["port"]["binding:vif_type"], "bridge");
    assert!(r.body["port"]["binding:vif_details"]["bound_by"].as_str().unwrap().contains("fake"));
    // Port security off: no groups, no address pairs.
    let r = c.call_as(&alice, Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": net, "port_security_enabled": false, "security_groups": [id(&default)]}}))).await;
    assert_eq!(r.kind(), "PortSecurityAndIPRequiredForSecurityGroups");
    let r = c.call_as(&alice, Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": net, "port_security_enabled": false, "allowed_address_pairs": [{"ip_address": "10.60.0.200"}]}}))).await;
    assert_eq!(r.kind(), "AddressPairAndPortSecurityRequired");
    let open = c.create_as(&alice, "/v2.0/ports", "port", json!({"network_id": net, "port_security_enabled": false})).await;
    assert_eq!(open["security_groups"], json!([]));
    let pairs = c.create_as(&alice, "/v2.0/ports", "port", json!({"network_id": net, "allowed_address_pairs": [{"ip_address": "10.60.0.0/28"}], "extra_dhcp_opts": [{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"}]})).await;
    assert_eq!(pairs["extra_dhcp_opts"], json!([{"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4}]));
    let r = c.call_as(&alice, Method::PUT, &format!("/v2.0/ports/{}", id(&pairs)), Some(json!({"port": {"extra_dhcp_opts": [{"opt_name": "bootfile-name", "opt_value": null}, {"opt_name": "tftp-server", "opt_value": "2015::dead", "ip_version": 6}]}}))).await;
    assert_eq!(r.body["port"]["extra_dhcp_opts"], json!([{"opt_name": "tftp-server", "opt_value": "2015::dead", "ip_version": 6}]));
    let r = c.call_as(&alice, Method::GET, "/v2.0/ports?fixed_ips=ip_address_substr=10.60.", None).await;
    assert!(r.body["ports"].as_array().unwrap().len() >= 3);
    assert_eq!(pairs["allowed_address_pairs"][0]["mac_address"], pairs["mac_address"]);
    // Only the network's owner (or admin) makes router-style ports on a network.
    let shared = c.create("/v2.0/networks", "network", json!({"shared": true})).await;
    c.create("/v2.0/subnets", "subnet", json!({"network_id": id(&shared), "ip_version": 4, "cidr": "10.61.0.0/24"})).await;
    let r = c.call_as(&alice, Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": id(&shared), "device_owner": "network:router_interface"}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.call_as(&alice, Method::POST, "/v2.0/ports", Some(json!({"port": {"network_id": id(&shared), "fixed_ips": [{"ip_address": "10.61.0.9"}]}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn network_delete_is_refused_while_ports_remain() {
    let c = cloud().await;
    let (net, subnet) = c.net_with_subnet(&c.admin, "n", "10.70.0.0/24").await;
    let p = c.create("/v2.0/ports", "port", json!({"network_id": net})).await;
    let r = c.call(Method::DELETE, &format!("/v2.0/networks/{net}"), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.kind(), "NetworkInUse");
    assert_eq!(r.message(), format!("Unable to complete operation on network {net}. There are one or more ports still in use on the network."));
    let r = c.call(Method::DELETE, &format!("/v2.0/subnets/{subnet}"), None).await;
    assert_eq!(r.kind(), "SubnetInUse");
    assert_eq!(r.message(), format!("Unable to complete operation on subnet {subnet}: One or more ports have an IP allocation from this subnet."));
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/ports/{}", id(&p)), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/networks/{net}"), None).await.status, StatusCode::NO_CONTENT);
    // The subnet went with its network.
    assert_eq!(c.call(Method::GET, &format!("/v2.0/subnets/{subnet}"), None).await.kind(), "SubnetNotFound");
}
