//! Security groups and rules: the default group and its rules, rule validation, duplicates,
//! in-use refusals, and who sees what.

use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{cloud, id};

fn rule_shapes(group: &Value) -> Vec<(String, String, Option<String>)> {
    let mut v: Vec<(String, String, Option<String>)> = group["security_group_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["direction"].as_str().unwrap().to_string(), r["ethertype"].as_str().unwrap().to_string(), r["remote_group_id"].as_str().map(str::to_string)))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn default_group_and_rules_as_upstream() {
    let c = cloud().await;
    let (alice, pa) = c.user_with_role("alice", "member").await;
    let r = c.call_as(&alice, Method::GET, "/v2.0/security-groups", None).await;
    let groups = r.body["security_groups"].as_array().unwrap().clone();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let d = &groups[0];
    assert_eq!(d["name"], "default");
    assert_eq!(d["project_id"], pa);
    assert_eq!(d["stateful"], true);
    let gid = id(d);
    assert_eq!(
        rule_shapes(d),
        vec![("egress".into(), "IPv4".into(), None), ("egress".into(), "IPv6".into(), None), ("ingress".into(), "IPv4".into(), Some(gid.clone())), ("ingress".into(), "IPv6".into(), Some(gid.clone()))]
    );
    // Listing again does not make a second one.
    let r = c.call_as(&alice, Method::GET, "/v2.0/security-groups", None).await;
    assert_eq!(r.body["security_groups"].as_array().unwrap().len(), 1);
    // A new group gets the two egress rules.
    let web = c.create_as(&alice, "/v2.0/security-groups", "security_group", json!({"name": "web", "description": "w"})).await;
    assert_eq!(rule_shapes(&web), vec![("egress".into(), "IPv4".into(), None), ("egress".into(), "IPv6".into(), None)]);
    let r = c.call_as(&alice, Method::POST, "/v2.0/security-groups", Some(json!({"security_group": {"name": "default"}}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c.call_as(&alice, Method::PUT, &format!("/v2.0/security-groups/{gid}"), Some(json!({"security_group": {"name": "renamed"}}))).await;
    assert_eq!(r.kind(), "SecurityGroupCannotUpdateDefault");
    let r = c.call_as(&alice, Method::PUT, &format!("/v2.0/security-groups/{}", id(&web)), Some(json!({"security_group": {"name": "default"}}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c.call_as(&alice, Method::DELETE, &format!("/v2.0/security-groups/{gid}"), None).await;
    assert_eq!(r.kind(), "SecurityGroupCannotRemoveDefault");
    // Another project neither sees nor uses Alice's groups.
    let (bob, _) = c.user_with_role("bob", "member").await;
    let r = c.call_as(&bob, Method::GET, &format!("/v2.0/security-groups/{}", id(&web)), None).await;
    assert_eq!(r.kind(), "SecurityGroupNotFound");
    let r = c.call_as(&bob, Method::POST, "/v2.0/security-group-rules", Some(json!({"security_group_rule": {"security_group_id": id(&web), "direction": "ingress"}}))).await;
    assert_eq!(r.kind(), "SecurityGroupNotFound");
}

#[tokio::test]
async fn rules_are_validated_and_deduplicated() {
    let c = cloud().await;
    let (alice, _) = c.user_with_role("alice", "member").await;
    let g = c.create_as(&alice, "/v2.0/security-groups", "security_group", json!({"name": "g"})).await;
    let gid = id(&g);
    let ssh = c.create_as(&alice, "/v2.0/security-group-rules", "security_group_rule", json!({"security_group_id": gid, "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.1/8"})).await;
    assert_eq!(ssh["ethertype"], "IPv4");
    assert_eq!(ssh["protocol"], "tcp");
    assert_eq!(ssh["remote_ip_prefix"], "10.0.0.1/8");
    assert_eq!(ssh["normalized_cidr"], "10.0.0.0/8");
    // The same rule again (protocol by number, same normalized prefix) is a duplicate.
    let r = c.call_as(&alice, Method::POST, "/v2.0/security-group-rules", Some(json!({"security_group_rule": {"security_group_id": gid, "direction": "ingress", "protocol": "6", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"}}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.kind(), "SecurityGroupRuleExists");
    assert_eq!(r.message(), format!("Security group rule already exists. Rule id is {}.", id(&ssh)));
    let icmp = c.create_as(&alice, "/v2.0/security-group-rules", "security_group_rule", json!({"security_group_id": gid, "direction": "ingress", "protocol": "icmp", "port_range_min": 8, "port_range_max": 0})).await;
    assert_eq!(icmp["port_range_min"], 8);
    c.create_as(&alice, "/v2.0/security-group-rules", "security_group_rule", json!({"security_group_id": gid, "direction": "ingress", "protocol": 132, "ethertype": "IPv6", "remote_group_id": gid})).await;
    for (body, kind) in [
        (json!({"direction": "sideways"}), "InvalidInput"),
        (json!({"direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 79}), "SecurityGroupInvalidPortRange"),
        (json!({"direction": "ingress", "protocol": "tcp", "port_range_min": 0, "port_range_max": 79}), "SecurityGroupInvalidPortValue"),
        (json!({"direction": "ingress", "protocol": "tcp", "port_range_max": 6}), "SecurityGroupInvalidPortRange"),
        (json!({"direction": "ingress", "protocol": "tcp", "port_range_min": 1, "port_range_max": 70000}), "SecurityGroupInvalidPortValue"),
        (json!({"direction": "ingress", "protocol": "icmp", "port_range_min": 300}), "SecurityGroupInvalidIcmpValue"),
        (json!({"direction": "ingress", "protocol": "icmp", "port_range_max": 3}), "SecurityGroupMissingIcmpType"),
        (json!({"direction": "ingress", "port_range_min": 22, "port_range_max": 22}), "SecurityGroupProtocolRequiredWithPorts"),
        (json!({"direction": "ingress", "protocol": "bogus"}), "SecurityGroupRuleInvalidProtocol"),
        (json!({"direction": "ingress", "protocol": "256"}), "SecurityGroupRuleInvalidProtocol"),
        (json!({"direction": "ingress", "ethertype": "IPv5"}), "SecurityGroupRuleInvalidEtherType"),
        (json!({"direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": gid}), "SecurityGroupMultipleRemoteEntites"),
        (json!({"direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}), "SecurityGroupRuleParameterConflict"),
        (json!({"direction": "ingress", "protocol": "gre", "port_range_min": 1, "port_range_max": 2}), "InvalidInput"),
    ] {
        let mut body = body;
        body["security_group_id"] = json!(gid);
        let r = c.call_as(&alice, Method::POST, "/v2.0/security-group-rules", Some(json!({"security_group_rule": body.clone()}))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.kind(), kind, "{body}");
    }
    let r = c.call_as(&alice, Method::GET, &format!("/v2.0/security-groups/{gid}"), None).await;
    assert_eq!(r.body["security_group"]["security_group_rules"].as_array().unwrap().len(), 5);
    assert_eq!(c.call_as(&alice, Method::DELETE, &format!("/v2.0/security-group-rules/{}", id(&ssh)), None).await.status, StatusCode::NO_CONTENT);
    let r = c.call_as(&alice, Method::GET, &format!("/v2.0/security-group-rules/{}", id(&ssh)), None).await;
    assert_eq!(r.kind(), "SecurityGroupRuleNotFound");
}

#[tokio::test]
async fn a_group_in_use_cannot_be_deleted() {
    let c = cloud().await;
    let (alice, _) = c.user_with_role("alice", "member").await;
    let (net, _) = c.net_with_subnet(&alice, "n", "10.80.0.0/24").await;
    let g = c.create_as(&alice, "/v2.0/security-groups", "security_group", json!({"name": "g"})).await;
    let p = c.create_as(&alice, "/v2.0/ports", "port", json!({"network_id": net, "security_groups": [id(&g)]})).await;
    assert_eq!(p["security_groups"], json!([id(&g)]));
    let r = c.call_as(&alice, Method::DELETE, &format!("/v2.0/security-groups/{}", id(&g)), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.kind(), "SecurityGroupInUse");
    assert_eq!(r.message(), format!("Security Group {} in use.", id(&g)));
    let r = c.call_as(&alice, Method::PUT, &format!("/v2.0/ports/{}", id(&p)), Some(json!({"port": {"security_groups": []}}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.call_as(&alice, Method::DELETE, &format!("/v2.0/security-groups/{}", id(&g)), None).await.status, StatusCode::NO_CONTENT);
}
