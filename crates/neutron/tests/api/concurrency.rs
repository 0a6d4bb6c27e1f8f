//! IPAM under concurrency on the server databases: two Neutron instances with their own pools
//! share one PostgreSQL or MariaDB database (as two neutron-servers behind a load balancer),
//! and ports created through both at concurrency 16 never share an address; a full /26 refuses
//! the rest with IpAddressGenerationFailure. Then the seed topology and its teardown run on
//! the same database. Tests that need a server say loudly when it is not reachable.

use std::collections::HashSet;

use axum::Router;
use futures::StreamExt;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{cloud_on, id, neutron_router, send, DEFAULT_CONF};

fn reachable(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), std::time::Duration::from_millis(300)).is_ok()
}

async fn race(routers: &[Router], token: &str, network: &str, n: usize) -> Vec<(StatusCode, Value)> {
    futures::stream::iter(0..n)
        .map(|i| {
            let (router, token, network) = (routers[i % routers.len()].clone(), token.to_string(), network.to_string());
            async move {
                let r = send(&router, Method::POST, "/v2.0/ports", Some(&token), Some(json!({"port": {"network_id": network}}))).await;
                (r.status, r.body)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

async fn ipam_on_server(url: &str) {
    let c = cloud_on(DEFAULT_CONF, Some(url)).await;
    let mut cfg = c.app.cfg.clone();
    cfg.connection = url.to_string();
    let second = neutron::open(cfg).await.unwrap();
    let routers = [c.neutron.clone(), neutron_router(second.clone(), c.validator.clone())];
    let (net, _) = c.net_with_subnet(&c.admin, "big", "10.20.0.0/24").await;
    let results = race(&routers, &c.admin, &net, 100).await;
    let ips: Vec<String> = results
        .iter()
        .map(|(s, b)| {
            assert_eq!(*s, StatusCode::CREATED, "{b}");
            b["port"]["fixed_ips"][0]["ip_address"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ips.iter().collect::<HashSet<_>>().len(), 100, "an address was handed out twice");
    let (small, _) = c.net_with_subnet(&c.admin, "small", "10.30.0.0/26").await;
    let results = race(&routers, &c.admin, &small, 70).await;
    let ok: Vec<&Value> = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| b).collect();
    assert_eq!(ok.len(), 61);
    assert_eq!(ok.iter().map(|b| b["port"]["fixed_ips"][0]["ip_address"].as_str().unwrap()).collect::<HashSet<_>>().len(), 61);
    for (s, b) in results.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!((*s, b["NeutronError"]["type"].as_str()), (StatusCode::CONFLICT, Some("IpAddressGenerationFailure")), "{b}");
    }
    // Subnets from one pool through both servers never overlap (the pool's compare-and-set).
    let pool = c.create("/v2.0/subnetpools", "subnetpool", json!({"prefixes": ["10.200.0.0/16"], "default_prefixlen": 26})).await;
    let mut nets = Vec::new();
    for _ in 0..16 {
        nets.push(id(&c.create("/v2.0/networks", "network", json!({})).await));
    }
    let cidrs: Vec<String> = futures::stream::iter(nets.into_iter().enumerate())
        .map(|(i, n)| {
            let (router, token, pool) = (routers[i % 2].clone(), c.admin.clone(), id(&pool));
            async move {
                let r = send(&router, Method::POST, "/v2.0/subnets", Some(&token), Some(json!({"subnet": {"network_id": n, "ip_version": 4, "subnetpool_id": pool}}))).await;
                assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
                r.body["subnet"]["cidr"].as_str().unwrap().to_string()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(cidrs.iter().collect::<HashSet<_>>().len(), 16, "overlapping pool allocations: {cidrs:?}");
    // The rest of the API on the same engine: the seed topology and its teardown.
    let public = c.create("/v2.0/networks", "network", json!({"router:external": true, "provider:network_type": "flat", "provider:physical_network": "provider"})).await;
    c.create("/v2.0/subnets", "subnet", json!({"network_id": id(&public), "ip_version": 4, "cidr": "203.0.113.0/24"})).await;
    let (inner, inner_subnet) = c.net_with_subnet(&c.admin, "inner", "172.16.1.0/24").await;
    let router = c.create("/v2.0/routers", "router", json!({"external_gateway_info": {"network_id": id(&public)}})).await;
    let rid = id(&router);
    let r = c.call(Method::PUT, &format!("/v2.0/routers/{rid}/add_router_interface"), Some(json!({"subnet_id": inner_subnet}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let port = c.create("/v2.0/ports", "port", json!({"network_id": inner})).await;
    let fip = c.create("/v2.0/floatingips", "floatingip", json!({"floating_network_id": id(&public), "port_id": id(&port)})).await;
    assert_eq!(fip["router_id"], rid);
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/routers/{rid}"), None).await.kind(), "RouterInUse");
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/floatingips/{}", id(&fip)), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call(Method::PUT, &format!("/v2.0/routers/{rid}/remove_router_interface"), Some(json!({"subnet_id": inner_subnet}))).await.status, StatusCode::OK);
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/routers/{rid}"), None).await.status, StatusCode::NO_CONTENT);
    let groups = c.call(Method::GET, "/v2.0/security-groups", None).await;
    assert_eq!(groups.body["security_groups"].as_array().unwrap().len(), 1);
    second.db.close().await;
    c.app.db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ipam_never_repeats_an_address_on_postgresql() {
    if !reachable(5432) {
        eprintln!("SKIPPED (LOUDLY): PostgreSQL is not reachable at 127.0.0.1:5432; Neutron's PostgreSQL IPAM proof did not run");
        return;
    }
    let name = format!("ferrostack_neutron_race_{}", &common::ids::new_hex_id()[..8]);
    ipam_on_server(&format!("postgresql://postgres@127.0.0.1/{name}")).await;
    let _ = std::process::Command::new("psql").args(["-h", "127.0.0.1", "-U", "postgres", "-qc", &format!("DROP DATABASE IF EXISTS {name}")]).output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ipam_never_repeats_an_address_on_mariadb() {
    if !reachable(3306) {
        eprintln!("SKIPPED (LOUDLY): MariaDB/MySQL is not reachable at 127.0.0.1:3306; Neutron's MariaDB IPAM proof did not run");
        return;
    }
    let name = format!("ferrostack_neutron_race_{}", &common::ids::new_hex_id()[..8]);
    ipam_on_server(&format!("mysql+pymysql://root@127.0.0.1/{name}")).await;
    let _ = std::process::Command::new("mariadb").args(["-h", "127.0.0.1", "-u", "root", "-e", &format!("DROP DATABASE IF EXISTS {name}")]).output();
}
