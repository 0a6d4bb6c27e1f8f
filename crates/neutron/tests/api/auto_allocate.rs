//! The auto-allocated topology: upstream's failures while the default external network or
//! default subnet pool is missing (and the dry-run check), the topology itself (network,
//! subnet from the default pool, router uplinked to the default external network), the same
//! answer on later and concurrent calls, policy, and teardown.

use futures::StreamExt;
use http::{Method, StatusCode};
use serde_json::json;

use super::{cloud, id, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auto_allocated_topology_as_nova_asks_for_it() {
    let c = cloud().await;
    let (alice, pa) = c.user_with_role("alice", "member").await;
    let (bob, pb) = c.user_with_role("bob", "member").await;
    let path = |p: &str| format!("/v2.0/auto-allocated-topology/{p}");
    let r = c.call_as(&alice, Method::GET, &format!("{}?fields=dry-run", path(&pa)), None).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "AutoAllocationFailure"));
    assert_eq!(r.message(), "Deployment error: No default router:external network.");
    // The operator's default external network; only one may be the default.
    let public = c.create("/v2.0/networks", "network", json!({"name": "public", "router:external": true, "is_default": true, "provider:network_type": "flat", "provider:physical_network": "provider"})).await;
    assert_eq!(public["is_default"], true);
    c.create("/v2.0/subnets", "subnet", json!({"network_id": id(&public), "ip_version": 4, "cidr": "203.0.113.0/24"})).await;
    let r = c.call(Method::POST, "/v2.0/networks", Some(json!({"network": {"router:external": true, "is_default": true}}))).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "DefaultExternalNetworkExists"));
    assert_eq!(r.message(), format!("A default external network already exists: {}.", id(&public)));
    let r = c.call_as(&alice, Method::GET, &format!("{}?fields=dry-run", path(&pa)), None).await;
    assert_eq!(r.message(), "Deployment error: No default subnetpools defined.");
    let r = c.call_as(&alice, Method::GET, &path(&pa), None).await;
    assert_eq!((r.status, r.message()), (StatusCode::CONFLICT, "Deployment error: Unable to provide project private network."));
    // The default pool; one per IP version.
    let pool = c.create("/v2.0/subnetpools", "subnetpool", json!({"name": "default-v4", "prefixes": ["10.100.0.0/16"], "default_prefixlen": 26, "shared": true, "is_default": true})).await;
    let r = c.call(Method::POST, "/v2.0/subnetpools", Some(json!({"subnetpool": {"prefixes": ["10.101.0.0/16"], "is_default": true}}))).await;
    assert_eq!((r.status, r.kind()), (StatusCode::BAD_REQUEST, "InvalidInput"));
    let r = c.call_as(&alice, Method::GET, &format!("{}?fields=dry-run", path(&pa)), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["auto_allocated_topology"], json!({"id": "dry-run=pass", "project_id": pa, "tenant_id": pa}));
    let r = c.call_as(&alice, Method::GET, &format!("{}?fields=name", path(&pa)), None).await;
    assert_eq!((r.status, r.kind()), (StatusCode::BAD_REQUEST, "BadRequest"));
    // Nothing was left behind by the failed attempts.
    let r = c.call_as(&alice, Method::GET, "/v2.0/networks?shared=false&router:external=false", None).await;
    assert_eq!(r.body["networks"], json!([]));
    // The topology, built on the first call ("None": the caller's project, as clients send).
    let r = c.call_as(&alice, Method::GET, &path("None"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let net = r.body["auto_allocated_topology"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["auto_allocated_topology"]["project_id"], pa);
    let n = c.call_as(&alice, Method::GET, &format!("/v2.0/networks/{net}"), None).await.body["network"].clone();
    assert_eq!((n["name"].as_str(), n["admin_state_up"].as_bool(), n["project_id"].as_str()), (Some("auto_allocated_network"), Some(true), Some(pa.as_str())));
    let s = c.call_as(&alice, Method::GET, &format!("/v2.0/subnets?network_id={net}"), None).await.body["subnets"][0].clone();
    assert_eq!((s["name"].as_str(), s["subnetpool_id"].as_str(), s["cidr"].as_str()), (Some("auto_allocated_subnet_v4"), Some(id(&pool).as_str()), Some("10.100.0.0/26")));
    let routers = c.call_as(&alice, Method::GET, "/v2.0/routers", None).await.body["routers"].clone();
    assert_eq!(routers.as_array().unwrap().len(), 1);
    assert_eq!(routers[0]["name"], "auto_allocated_router");
    assert_eq!(routers[0]["external_gateway_info"]["network_id"], id(&public));
    let ports = c.call_as(&alice, Method::GET, &format!("/v2.0/ports?network_id={net}&device_owner=network:router_interface"), None).await;
    assert_eq!(ports.body["ports"][0]["device_id"], routers[0]["id"]);
    // The same answer later; another project may not ask for it.
    let r = c.call_as(&alice, Method::GET, &path(&pa), None).await;
    assert_eq!(r.body["auto_allocated_topology"]["id"], net);
    assert_eq!(c.call_as(&bob, Method::GET, &path(&pa), None).await.status, StatusCode::FORBIDDEN);
    // Concurrent first calls (several servers booting at once) agree on one network, and
    // the losers' duplicates are gone.
    let answers: Vec<String> = futures::stream::iter(0..4)
        .map(|_| {
            let (router, token, p) = (c.neutron.clone(), bob.clone(), path(&pb));
            async move {
                let r = send(&router, Method::GET, &p, Some(&token), None).await;
                assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
                r.body["auto_allocated_topology"]["id"].as_str().unwrap().to_string()
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    let r = c.call_as(&bob, Method::GET, "/v2.0/networks?shared=false&router:external=false", None).await;
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["networks"][0]["id"], answers[0].as_str());
    assert_eq!(c.call_as(&bob, Method::GET, "/v2.0/routers", None).await.body["routers"].as_array().unwrap().len(), 1);
    // The default pool serves use_default_subnetpool too.
    let other = c.create_as(&alice, "/v2.0/networks", "network", json!({"name": "other"})).await;
    let s = c.create_as(&alice, "/v2.0/subnets", "subnet", json!({"network_id": id(&other), "ip_version": 4, "use_default_subnetpool": true})).await;
    assert_eq!(s["subnetpool_id"], id(&pool));
    // Teardown: refused while a server's port is on the network, then everything goes.
    let port = c.create_as(&alice, "/v2.0/ports", "port", json!({"network_id": net})).await;
    let r = c.call_as(&alice, Method::DELETE, &path(&pa), None).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "NetworkInUse"));
    assert_eq!(c.call_as(&alice, Method::DELETE, &format!("/v2.0/ports/{}", id(&port)), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call_as(&alice, Method::DELETE, &path(&pa), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call_as(&alice, Method::GET, &format!("/v2.0/networks/{net}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(c.call_as(&alice, Method::GET, "/v2.0/routers", None).await.body["routers"], json!([]));
    assert_eq!(c.call_as(&alice, Method::DELETE, &path(&pa), None).await.status, StatusCode::NO_CONTENT);
    // And a new one on the next call.
    let r = c.call_as(&alice, Method::GET, &path(&pa), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.body["auto_allocated_topology"]["id"], net.as_str());
}
