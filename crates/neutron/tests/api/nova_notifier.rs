//! The Nova notifier: the events a server's port causes (plugged when it goes ACTIVE,
//! network-changed when its addresses or floating IPs change, deleted with it), none for other
//! ports or other changes, the config switches, an API call that succeeds while Nova is down,
//! and the REST notifier delivering to a fake Nova over HTTP with a real Keystone token.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::Json;
use http::{HeaderMap, Method, StatusCode};
use neutron::notifiers::nova::{NovaEvent, NovaNotifier, RecordingNovaNotifier, RestNovaNotifier};
use serde_json::{json, Value};

use super::{cloud, cloud_with, id, Cloud, DEFAULT_CONF};

const SERVER_A: &str = "0b3c1a52-5c3e-4c4e-9a11-2b6f3f6f7a01";
const SERVER_B: &str = "0b3c1a52-5c3e-4c4e-9a11-2b6f3f6f7a02";

fn ev(name: &str, server: &str, port: &str) -> NovaEvent {
    NovaEvent { name: name.into(), server_uuid: server.into(), tag: port.into(), status: "completed".into() }
}

/// Waits until `fake` holds `n` events and a little longer, to see that no more come.
async fn settled(fake: &RecordingNovaNotifier, n: usize) -> Vec<NovaEvent> {
    fake.wait_for(n, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    fake.events()
}

/// An external network, a project network joined to it by a router; returns (external
/// network id, project network id).
async fn topology(c: &Cloud) -> (String, String) {
    let public = c.create("/v2.0/networks", "network", json!({"router:external": true, "provider:network_type": "flat", "provider:physical_network": "provider"})).await;
    c.create("/v2.0/subnets", "subnet", json!({"network_id": id(&public), "ip_version": 4, "cidr": "203.0.113.0/24"})).await;
    let (net, subnet) = c.net_with_subnet(&c.admin, "private", "10.1.0.0/24").await;
    let router = c.create("/v2.0/routers", "router", json!({"external_gateway_info": {"network_id": id(&public)}})).await;
    let r = c.call(Method::PUT, &format!("/v2.0/routers/{}/add_router_interface", id(&router)), Some(json!({"subnet_id": subnet}))).await;
    assert_eq!(r.status, StatusCode::OK);
    (id(&public), net)
}

#[tokio::test]
async fn a_servers_port_tells_nova_what_it_waits_for() {
    let c = cloud().await;
    let fake = RecordingNovaNotifier::new();
    c.app.set_nova_notifier(fake.clone());
    let (public, net) = topology(&c).await;
    // The router's ports and a port with no server tell Nova nothing.
    let other = c.create("/v2.0/ports", "port", json!({"network_id": net, "binding:host_id": "compute1"})).await;
    assert_eq!(other["status"], "ACTIVE");
    // Nova creates the port unbound (DOWN: nothing yet), then binds it to the host.
    let port = c.create("/v2.0/ports", "port", json!({"network_id": net, "device_owner": "compute:nova", "device_id": SERVER_A})).await;
    let (pa, path) = (id(&port), format!("/v2.0/ports/{}", id(&port)));
    assert_eq!(settled(&fake, 0).await, vec![]);
    let r = c.call(Method::PUT, &path, Some(json!({"port": {"binding:host_id": "compute1"}}))).await;
    assert_eq!(r.body["port"]["status"], "ACTIVE");
    assert_eq!(settled(&fake, 1).await, vec![ev("network-vif-plugged", SERVER_A, &pa)]);
    // Changes Nova does not cache say nothing.
    c.call(Method::PUT, &path, Some(json!({"port": {"name": "renamed", "binding:host_id": "compute1"}}))).await;
    assert_eq!(settled(&fake, 1).await.len(), 1);
    // New addresses do.
    let r = c.call(Method::PUT, &path, Some(json!({"port": {"fixed_ips": [{"ip_address": "10.1.0.77"}]}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(settled(&fake, 2).await[1], ev("network-changed", SERVER_A, &pa));
    // Floating IPs: associated on create, taken off, put back, moved to another server's
    // port (both servers hear of it), deleted while associated.
    let fip = c.create("/v2.0/floatingips", "floatingip", json!({"floating_network_id": public, "port_id": pa})).await;
    assert_eq!(settled(&fake, 3).await[2], ev("network-changed", SERVER_A, &pa));
    let fip_path = format!("/v2.0/floatingips/{}", id(&fip));
    assert_eq!(c.call(Method::PUT, &fip_path, Some(json!({"floatingip": {"port_id": null}}))).await.status, StatusCode::OK);
    assert_eq!(settled(&fake, 4).await[3], ev("network-changed", SERVER_A, &pa));
    assert_eq!(c.call(Method::PUT, &fip_path, Some(json!({"floatingip": {"description": "no port change"}}))).await.status, StatusCode::OK);
    assert_eq!(c.call(Method::PUT, &fip_path, Some(json!({"floatingip": {"port_id": pa}}))).await.status, StatusCode::OK);
    assert_eq!(settled(&fake, 5).await[4..], [ev("network-changed", SERVER_A, &pa)]);
    let port_b = c.create("/v2.0/ports", "port", json!({"network_id": net, "device_owner": "compute:nova", "device_id": SERVER_B, "binding:host_id": "compute1"})).await;
    let pb = id(&port_b);
    // Created bound: plugged at once.
    assert_eq!(settled(&fake, 6).await[5], ev("network-vif-plugged", SERVER_B, &pb));
    assert_eq!(c.call(Method::PUT, &fip_path, Some(json!({"floatingip": {"port_id": pb}}))).await.status, StatusCode::OK);
    assert_eq!(settled(&fake, 8).await[6..], [ev("network-changed", SERVER_A, &pa), ev("network-changed", SERVER_B, &pb)]);
    assert_eq!(c.call(Method::DELETE, &fip_path, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(settled(&fake, 9).await[8], ev("network-changed", SERVER_B, &pb));
    // Unbound: unplugged; deleted: deleted.
    c.call(Method::PUT, &path, Some(json!({"port": {"binding:host_id": ""}}))).await;
    assert_eq!(settled(&fake, 10).await[9], ev("network-vif-unplugged", SERVER_A, &pa));
    assert_eq!(c.call(Method::DELETE, &path, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(settled(&fake, 11).await[10], ev("network-vif-deleted", SERVER_A, &pa));
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/ports/{}", id(&other)), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(settled(&fake, 11).await.len(), 11);
}

#[tokio::test]
async fn nova_down_fails_no_api_call_and_the_switches_are_honoured() {
    let c = cloud().await;
    let fake = RecordingNovaNotifier::new();
    fake.set_failing(true);
    c.app.set_nova_notifier(fake.clone());
    let (net, _) = c.net_with_subnet(&c.admin, "n", "10.2.0.0/24").await;
    let p = c.create("/v2.0/ports", "port", json!({"network_id": net, "device_owner": "compute:nova", "device_id": SERVER_A, "binding:host_id": "h"})).await;
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/ports/{}", id(&p)), None).await.status, StatusCode::NO_CONTENT);
    assert!(fake.events().is_empty());

    // Status changes off: no vif-plugged, but the deletion is still told.
    let c = cloud_with(&format!("{DEFAULT_CONF}[DEFAULT]\nnotify_nova_on_port_status_changes = false\n")).await;
    let fake = RecordingNovaNotifier::new();
    c.app.set_nova_notifier(fake.clone());
    let (net, _) = c.net_with_subnet(&c.admin, "n", "10.2.0.0/24").await;
    let p = c.create("/v2.0/ports", "port", json!({"network_id": net, "device_owner": "compute:nova", "device_id": SERVER_A, "binding:host_id": "h"})).await;
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/ports/{}", id(&p)), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(settled(&fake, 1).await, vec![ev("network-vif-deleted", SERVER_A, &id(&p))]);

    // Data changes off: vif-plugged only.
    let c = cloud_with(&format!("{DEFAULT_CONF}[DEFAULT]\nnotify_nova_on_port_data_changes = false\n")).await;
    let fake = RecordingNovaNotifier::new();
    c.app.set_nova_notifier(fake.clone());
    let (net, _) = c.net_with_subnet(&c.admin, "n", "10.2.0.0/24").await;
    let p = c.create("/v2.0/ports", "port", json!({"network_id": net, "device_owner": "compute:nova", "device_id": SERVER_A, "binding:host_id": "h"})).await;
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/ports/{}", id(&p)), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(settled(&fake, 1).await, vec![ev("network-vif-plugged", SERVER_A, &id(&p))]);
}

/// Serves `router` on an ephemeral local port; returns its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_notifier_posts_external_events_with_a_service_token() {
    let c = cloud().await;
    let keystone = serve(c.ks.clone()).await;
    // A fake Nova API that records what it receives and answers as Nova does.
    let seen: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
    let record = seen.clone();
    let nova = serve(axum::Router::new().route(
        "/v2.1/os-server-external-events",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let record = record.clone();
            async move {
                // Nova answers 404 when it knows none of the servers.
                if body["events"].as_array().unwrap().iter().all(|e| e["server_uuid"] != SERVER_A) {
                    return (StatusCode::NOT_FOUND, Json(json!({"itemNotFound": {"code": 404, "message": "No instances found for any event"}})));
                }
                let events: Vec<Value> = body["events"].as_array().unwrap().iter().map(|e| {
                    let mut e = e.clone();
                    e["code"] = json!(200);
                    e
                }).collect();
                record.lock().unwrap().push((headers, body));
                (StatusCode::OK, Json(json!({"events": events})))
            }
        }),
    ))
    .await;
    let creds = auth::service_auth::ServiceCredentials {
        auth_url: format!("{keystone}/v3"),
        username: "admin".into(),
        password: "pw".into(),
        project_name: "admin".into(),
        user_domain_name: "Default".into(),
        project_domain_name: "Default".into(),
        region_name: Some("RegionOne".into()),
        interface: "public".into(),
        endpoint_overrides: [("compute".to_string(), format!("{nova}/v2.1"))].into_iter().collect(),
    };
    let notifier = Arc::new(RestNovaNotifier::new(Arc::new(auth::service_auth::ServiceAuth::new(creds))));
    c.app.set_nova_notifier(notifier.clone());
    let (net, _) = c.net_with_subnet(&c.admin, "n", "10.3.0.0/24").await;
    let p = c.create("/v2.0/ports", "port", json!({"network_id": net, "device_owner": "compute:nova", "device_id": SERVER_A, "binding:host_id": "h"})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (headers, body) = seen.lock().unwrap().first().cloned().expect("Nova got no event");
    assert_eq!(body, json!({"events": [{"name": "network-vif-plugged", "server_uuid": SERVER_A, "tag": id(&p), "status": "completed"}]}));
    // The token is a real one for the service user.
    let token = headers["x-auth-token"].to_str().unwrap().to_string();
    let check = http::Request::builder().method(Method::GET).uri("/v3/auth/tokens").header("x-auth-token", &c.admin).header("x-subject-token", &token).body(axum::body::Body::empty()).unwrap();
    let resp = tower::ServiceExt::oneshot(c.ks.clone(), check).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // A Nova that knows none of the servers (404) is not an error; one that is down is.
    notifier.send_events(&[ev("network-changed", SERVER_B, "p")]).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
    let down = RestNovaNotifier::new(Arc::new(auth::service_auth::ServiceAuth::new(auth::service_auth::ServiceCredentials {
        auth_url: format!("{keystone}/v3"),
        username: "admin".into(),
        password: "pw".into(),
        project_name: "admin".into(),
        user_domain_name: "Default".into(),
        project_domain_name: "Default".into(),
        region_name: None,
        interface: "public".into(),
        endpoint_overrides: [("compute".to_string(), "http://127.0.0.1:1/v2.1".to_string())].into_iter().collect(),
    })));
    assert!(down.send_events(&[ev("network-changed", SERVER_A, "p")]).await.is_err());
}
