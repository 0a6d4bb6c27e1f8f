//! RBAC policies: sharing a network with one project (visible there with its subnets, ports
//! can be made on it, `shared: true` only there), with every project (`*`, the admin's, the
//! same as `shared`), refusing to unshare what a project's ports use, and the errors.

use http::{Method, StatusCode};
use serde_json::json;

use super::{cloud, id};

#[tokio::test]
async fn sharing_a_network_with_a_project_and_with_everyone() {
    let c = cloud().await;
    let (alice, _pa) = c.user_with_role("alice", "member").await;
    let (bob, pb) = c.user_with_role("bob", "member").await;
    let (carol, _) = c.user_with_role("carol", "member").await;
    let (net, subnet) = c.net_with_subnet(&alice, "alices", "10.60.0.0/24").await;
    assert_eq!(c.call_as(&bob, Method::GET, &format!("/v2.0/networks/{net}"), None).await.status, StatusCode::NOT_FOUND);
    // Alice shares it with Bob.
    let policy = c.create_as(&alice, "/v2.0/rbac-policies", "rbac_policy", json!({"object_type": "network", "object_id": net, "action": "access_as_shared", "target_tenant": pb})).await;
    assert_eq!((policy["action"].as_str(), policy["target_tenant"].as_str(), policy["object_type"].as_str()), (Some("access_as_shared"), Some(pb.as_str()), Some("network")));
    let r = c.call_as(&bob, Method::GET, &format!("/v2.0/networks/{net}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["network"]["shared"], true);
    assert_eq!(c.call_as(&alice, Method::GET, &format!("/v2.0/networks/{net}"), None).await.body["network"]["shared"], false);
    assert_eq!(c.call_as(&bob, Method::GET, &format!("/v2.0/subnets/{subnet}"), None).await.status, StatusCode::OK);
    assert_eq!(c.call_as(&carol, Method::GET, &format!("/v2.0/networks/{net}"), None).await.status, StatusCode::NOT_FOUND);
    let r = c.call_as(&carol, Method::GET, "/v2.0/networks", None).await;
    assert_eq!(r.body["networks"], json!([]));
    // Bob makes a port on it; now the share cannot be taken back.
    let port = c.create_as(&bob, "/v2.0/ports", "port", json!({"network_id": net})).await;
    let ppath = format!("/v2.0/rbac-policies/{}", id(&policy));
    let r = c.call_as(&alice, Method::DELETE, &ppath, None).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "RbacPolicyInUse"));
    // Duplicates, other actions and object types, and '*' from a non-admin are refused.
    let r = c.call_as(&alice, Method::POST, "/v2.0/rbac-policies", Some(json!({"rbac_policy": {"object_type": "network", "object_id": net, "action": "access_as_shared", "target_tenant": pb}}))).await;
    assert_eq!((r.status, r.kind()), (StatusCode::CONFLICT, "DuplicateRbacPolicy"));
    let r = c.call_as(&alice, Method::POST, "/v2.0/rbac-policies", Some(json!({"rbac_policy": {"object_type": "network", "object_id": net, "action": "access_as_owner", "target_tenant": pb}}))).await;
    assert_eq!((r.status, r.kind()), (StatusCode::BAD_REQUEST, "InvalidActionForType"));
    let r = c.call_as(&alice, Method::POST, "/v2.0/rbac-policies", Some(json!({"rbac_policy": {"object_type": "network", "object_id": net, "action": "access_as_shared", "target_tenant": "*"}}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.call_as(&carol, Method::POST, "/v2.0/rbac-policies", Some(json!({"rbac_policy": {"object_type": "network", "object_id": net, "action": "access_as_shared", "target_tenant": pb}}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Bob sees the network but not Alice's policy.
    assert_eq!(c.call_as(&bob, Method::GET, &ppath, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(c.call_as(&alice, Method::GET, "/v2.0/rbac-policies", None).await.body["rbac_policies"].as_array().unwrap().len(), 1);
    // Once Bob's port is gone, the share goes too.
    assert_eq!(c.call_as(&bob, Method::DELETE, &format!("/v2.0/ports/{}", id(&port)), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call_as(&alice, Method::DELETE, &ppath, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call_as(&bob, Method::GET, &format!("/v2.0/networks/{net}"), None).await.status, StatusCode::NOT_FOUND);
    // '*' (the admin's) is `shared: true` for everyone, and `shared` on a network is a '*' policy.
    let all = c.create("/v2.0/rbac-policies", "rbac_policy", json!({"object_type": "network", "object_id": net, "action": "access_as_shared", "target_tenant": "*"})).await;
    assert_eq!(c.call_as(&carol, Method::GET, &format!("/v2.0/networks/{net}"), None).await.body["network"]["shared"], true);
    assert_eq!(c.call_as(&alice, Method::GET, &format!("/v2.0/networks/{net}"), None).await.body["network"]["shared"], true);
    let carols = c.create_as(&carol, "/v2.0/ports", "port", json!({"network_id": net})).await;
    let r = c.call(Method::DELETE, &format!("/v2.0/rbac-policies/{}", id(&all)), None).await;
    assert_eq!(r.kind(), "RbacPolicyInUse");
    assert_eq!(c.call_as(&carol, Method::DELETE, &format!("/v2.0/ports/{}", id(&carols)), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call(Method::DELETE, &format!("/v2.0/rbac-policies/{}", id(&all)), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(c.call_as(&alice, Method::GET, &format!("/v2.0/networks/{net}"), None).await.body["network"]["shared"], false);
    let shared = c.create("/v2.0/networks", "network", json!({"name": "s", "shared": true})).await;
    let r = c.call(Method::GET, &format!("/v2.0/rbac-policies?object_id={}", id(&shared)), None).await;
    assert_eq!(r.body["rbac_policies"][0]["target_tenant"], "*");
    assert_eq!(c.call(Method::PUT, &format!("/v2.0/networks/{}", id(&shared)), Some(json!({"network": {"shared": false}}))).await.status, StatusCode::OK);
    let r = c.call(Method::GET, &format!("/v2.0/rbac-policies?object_id={}", id(&shared)), None).await;
    assert_eq!(r.body["rbac_policies"], json!([]));
    assert_eq!(c.call(Method::GET, "/v2.0/rbac-policies/nope", None).await.kind(), "RbacPolicyNotFound");
}
