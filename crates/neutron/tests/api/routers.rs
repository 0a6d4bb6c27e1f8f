//! Routers and floating IPs: the seed topology (external flat network, internal network,
//! router with gateway and interface, floating IP on a port), the reachability rule for
//! floating IPs, and teardown in the wrong order refused with upstream's "in use" errors,
//! then in the right order leaving nothing behind.

use http::{Method, StatusCode};
use serde_json::json;

use super::{cloud, id};

#[tokio::test]
async fn seed_topology_floating_ip_and_teardown() {
    let c = cloud().await;
    let (demo, pd) = c.user_with_role("demo", "member").await;
    // The operator's external provider network with a floating IP pool.
    let public = c.create("/v2.0/networks", "network", json!({"name": "provider", "router:external": true, "shared": false, "provider:network_type": "flat", "provider:physical_network": "provider"})).await;
    let pub_subnet = c
        .create("/v2.0/subnets", "subnet", json!({"network_id": id(&public), "ip_version": 4, "cidr": "203.0.113.0/24", "gateway_ip": "203.0.113.1", "allocation_pools": [{"start": "203.0.113.101", "end": "203.0.113.200"}], "enable_dhcp": false}))
        .await;
    // The project's self-service network.
    let (selfservice, self_subnet) = c.net_with_subnet(&demo, "selfservice", "172.16.1.0/24").await;
    let router = c.create_as(&demo, "/v2.0/routers", "router", json!({"name": "router", "external_gateway_info": {"network_id": id(&public)}})).await;
    let rid = id(&router);
    let gw = &router["external_gateway_info"];
    assert_eq!(gw["network_id"], id(&public));
    assert_eq!(gw["enable_snat"], true);
    assert_eq!(gw["external_fixed_ips"][0]["subnet_id"], id(&pub_subnet));
    let gw_ip = gw["external_fixed_ips"][0]["ip_address"].as_str().unwrap().to_string();
    assert!(gw_ip.starts_with("203.0.113."));
    // A non-admin may not turn SNAT off or pick gateway addresses.
    let r = c.call_as(&demo, Method::POST, "/v2.0/routers", Some(json!({"router": {"external_gateway_info": {"network_id": id(&public), "enable_snat": false}}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A server's port on the internal network, and a floating IP for it.
    let port = c.create_as(&demo, "/v2.0/ports", "port", json!({"network_id": selfservice, "device_owner": "compute:nova", "device_id": "server-1"})).await;
    let fixed = port["fixed_ips"][0]["ip_address"].as_str().unwrap().to_string();
    let fip = c.create_as(&demo, "/v2.0/floatingips", "floatingip", json!({"floating_network_id": id(&public)})).await;
    assert_eq!(fip["status"], "DOWN");
    assert_eq!(fip["port_id"], json!(null));
    let fip_path = format!("/v2.0/floatingips/{}", id(&fip));
    // Not reachable yet: no router joins the port's subnet to the external network.
    let r = c.call_as(&demo, Method::PUT, &fip_path, Some(json!({"floatingip": {"port_id": id(&port)}}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.kind(), "ExternalGatewayForFloatingIPNotFound");
    assert_eq!(r.message(), format!("External network {} is not reachable from subnet {self_subnet}.  Therefore, cannot associate Port {} with a Floating IP.", id(&public), id(&port)));
    let r = c.call_as(&demo, Method::PUT, &format!("/v2.0/routers/{rid}/add_router_interface"), Some(json!({"subnet_id": self_subnet}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["subnet_id"], self_subnet);
    assert_eq!(r.body["id"], rid);
    let interface_port = r.body["port_id"].as_str().unwrap().to_string();
    let r = c.call_as(&demo, Method::GET, &format!("/v2.0/ports/{interface_port}"), None).await;
    assert_eq!(r.body["port"]["fixed_ips"][0]["ip_address"], "172.16.1.1");
    assert_eq!(r.body["port"]["device_owner"], "network:router_interface");
    let r = c.call_as(&demo, Method::PUT, &format!("/v2.0/routers/{rid}/add_router_interface"), Some(json!({"subnet_id": self_subnet}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.call_as(&demo, Method::PUT, &fip_path, Some(json!({"floatingip": {"port_id": id(&port)}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["floatingip"]["fixed_ip_address"], fixed);
    assert_eq!(r.body["floatingip"]["router_id"], rid);
    assert_eq!(r.body["floatingip"]["status"], "ACTIVE");
    assert_eq!(r.body["floatingip"]["project_id"], pd);
    let r = c.call_as(&demo, Method::GET, &format!("/v2.0/floatingips?port_id={}", id(&port)), None).await;
    assert_eq!(r.body["floatingips"].as_array().unwrap().len(), 1);
    // Static routes must go through the router's subnets.
    let r = c.call_as(&demo, Method::PUT, &format!("/v2.0/routers/{rid}"), Some(json!({"router": {"routes": [{"destination": "10.10.0.0/16", "nexthop": "172.16.1.50"}]}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["router"]["routes"], json!([{"destination": "10.10.0.0/16", "nexthop": "172.16.1.50"}]));
    let r = c.call_as(&demo, Method::PUT, &format!("/v2.0/routers/{rid}"), Some(json!({"router": {"routes": [{"destination": "10.10.0.0/16", "nexthop": "192.0.2.1"}]}}))).await;
    assert_eq!(r.kind(), "InvalidRoutes");

    // Teardown in the wrong order is refused with upstream's "in use" errors.
    let r = c.call(Method::DELETE, &format!("/v2.0/networks/{}", id(&public)), None).await;
    assert_eq!(r.kind(), "NetworkInUse");
    let r = c.call(Method::DELETE, &format!("/v2.0/subnets/{}", id(&pub_subnet)), None).await;
    assert_eq!(r.kind(), "SubnetInUse");
    let r = c.call_as(&demo, Method::DELETE, &format!("/v2.0/routers/{rid}"), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.kind(), "RouterInUse");
    assert_eq!(r.message(), format!("Router {rid} still has ports"));
    let r = c.call_as(&demo, Method::DELETE, &format!("/v2.0/subnets/{self_subnet}"), None).await;
    assert_eq!(r.kind(), "SubnetInUse");
    let r = c.call_as(&demo, Method::DELETE, &format!("/v2.0/networks/{selfservice}"), None).await;
    assert_eq!(r.kind(), "NetworkInUse");
    let r = c.call_as(&demo, Method::DELETE, &format!("/v2.0/ports/{interface_port}"), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c.call_as(&demo, Method::PUT, &format!("/v2.0/routers/{rid}/remove_router_interface"), Some(json!({"subnet_id": self_subnet}))).await;
    assert_eq!(r.kind(), "RouterInterfaceInUseByFloatingIP");
    let r = c.call_as(&demo, Method::PUT, &format!("/v2.0/routers/{rid}"), Some(json!({"router": {"external_gateway_info": {}}}))).await;
    assert_eq!(r.kind(), "RouterExternalGatewayInUseByFloatingIp");

    // The right order succeeds and leaves nothing behind.
    let r = c.call_as(&demo, Method::PUT, &fip_path, Some(json!({"floatingip": {"port_id": null}}))).await;
    assert_eq!(r.body["floatingip"]["status"], "DOWN");
    assert_eq!(r.body["floatingip"]["router_id"], json!(null));
    assert_eq!(c.call_as(&demo, Method::DELETE, &fip_path, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call_as(&demo, Method::DELETE, &format!("/v2.0/ports/{}", id(&port)), None).await.status, StatusCode::NO_CONTENT);
    let r = c.call_as(&demo, Method::PUT, &format!("/v2.0/routers/{rid}"), Some(json!({"router": {"routes": []}}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c.call_as(&demo, Method::PUT, &format!("/v2.0/routers/{rid}/remove_router_interface"), Some(json!({"subnet_id": self_subnet}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["port_id"], interface_port);
    let r = c.call_as(&demo, Method::PUT, &format!("/v2.0/routers/{rid}/remove_router_interface"), Some(json!({"subnet_id": self_subnet}))).await;
    assert_eq!(r.kind(), "RouterInterfaceNotFoundForSubnet");
    assert_eq!(c.call_as(&demo, Method::DELETE, &format!("/v2.0/routers/{rid}"), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call_as(&demo, Method::DELETE, &format!("/v2.0/subnets/{self_subnet}"), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call_as(&demo, Method::DELETE, &format!("/v2.0/networks/{selfservice}"), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/networks/{}", id(&public)), None).await.status, StatusCode::NO_CONTENT);
    for path in ["/v2.0/networks", "/v2.0/subnets", "/v2.0/ports", "/v2.0/routers", "/v2.0/floatingips"] {
        let r = c.call(Method::GET, path, None).await;
        let key = path.trim_start_matches("/v2.0/");
        assert_eq!(r.body[key], json!([]), "{path} left behind: {:?}", r.body);
    }
}

#[tokio::test]
async fn interfaces_by_port_gateways_and_floating_ip_pools() {
    let c = cloud().await;
    let public = c.create("/v2.0/networks", "network", json!({"router:external": true})).await;
    c.create("/v2.0/subnets", "subnet", json!({"network_id": id(&public), "ip_version": 4, "cidr": "198.51.100.0/29"})).await;
    let (net, subnet) = c.net_with_subnet(&c.admin, "n", "10.90.0.0/24").await;
    let r = c.call(Method::POST, "/v2.0/routers", Some(json!({"router": {"external_gateway_info": {"network_id": net}}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), format!("Bad router request: Network {net} is not an external network."));
    let router = c.create("/v2.0/routers", "router", json!({"name": "r"})).await;
    assert_eq!(router["external_gateway_info"], json!(null));
    let rid = id(&router);
    // By port: the port becomes the router's interface; a used port is refused.
    let port = c.create("/v2.0/ports", "port", json!({"network_id": net, "fixed_ips": [{"ip_address": "10.90.0.5"}]})).await;
    let r = c.call(Method::PUT, &format!("/v2.0/routers/{rid}/add_router_interface"), Some(json!({"port_id": id(&port)}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["subnet_ids"], json!([subnet]));
    let other = c.create("/v2.0/routers", "router", json!({})).await;
    let r = c.call(Method::PUT, &format!("/v2.0/routers/{}/add_router_interface", id(&other)), Some(json!({"port_id": id(&port)}))).await;
    assert_eq!(r.kind(), "PortInUse");
    let r = c.call(Method::PUT, &format!("/v2.0/routers/{rid}/add_router_interface"), Some(json!({"port_id": id(&port), "subnet_id": subnet}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Setting a gateway later, then the floating IP pool running dry (a /29: 5 addresses,
    // one taken by the gateway).
    let r = c.call(Method::PUT, &format!("/v2.0/routers/{rid}"), Some(json!({"router": {"external_gateway_info": {"network_id": id(&public), "enable_snat": false}}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["router"]["external_gateway_info"]["enable_snat"], false);
    for _ in 0..4 {
        c.create("/v2.0/floatingips", "floatingip", json!({"floating_network_id": id(&public)})).await;
    }
    let r = c.call(Method::POST, "/v2.0/floatingips", Some(json!({"floatingip": {"floating_network_id": id(&public)}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.kind(), "ExternalIpAddressExhausted");
    let r = c.call(Method::POST, "/v2.0/floatingips", Some(json!({"floatingip": {"floating_network_id": net}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.call(Method::PUT, &format!("/v2.0/routers/{rid}/remove_router_interface"), Some(json!({"port_id": id(&port)}))).await;
    assert_eq!(r.status, StatusCode::OK);
    // Removing by port deletes the port, as upstream.
    assert_eq!(c.call(Method::GET, &format!("/v2.0/ports/{}", id(&port)), None).await.kind(), "PortNotFound");
    // An external network goes with its unassociated floating IPs, but not while a gateway uses it.
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/networks/{}", id(&public)), None).await.kind(), "NetworkInUse");
    assert_eq!(c.call(Method::PUT, &format!("/v2.0/routers/{rid}"), Some(json!({"router": {"external_gateway_info": null}}))).await.status, StatusCode::OK);
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/networks/{}", id(&public)), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call(Method::GET, "/v2.0/floatingips", None).await.body["floatingips"], json!([]));
}
