//! `GET /allocation_candidates`: single providers, traits, aggregates, limits, nested trees,
//! sharing providers, granular groups with group_policy, same_subtree, root_required, and the
//! response shapes per microversion.

use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{cloud, uuid, Resp};

fn providers_of(r: &Resp) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> =
        r.body["allocation_requests"].as_array().unwrap().iter().map(|a| a["allocations"].as_object().unwrap().keys().cloned().collect()).collect();
    out.sort();
    out
}

#[tokio::test]
async fn single_providers_filters_and_shapes() {
    let c = cloud().await;
    let agg = uuid();
    let cn1 = c.provider("cn1", None, json!({"VCPU": 8, "MEMORY_MB": 4096, "DISK_GB": 100})).await;
    let cn2 = c.provider("cn2", None, json!({"VCPU": 8, "MEMORY_MB": 4096, "DISK_GB": 100})).await;
    let cn3 = c.provider("cn3", None, json!({"VCPU": 2, "MEMORY_MB": 512})).await;
    c.set_traits(&cn2, &["HW_CPU_X86_AVX2"]).await;
    c.set_aggregates(&cn1, &[&agg]).await;
    assert_eq!(c.claim(&uuid(), &cn1, json!({"VCPU": 3})).await.status, StatusCode::NO_CONTENT);
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:1,MEMORY_MB:512", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(providers_of(&r).len(), 3);
    let s = &r.body["provider_summaries"][&cn1];
    assert_eq!(s["resources"]["VCPU"], json!({"capacity": 8, "used": 3}));
    assert_eq!(s["resources"]["DISK_GB"], json!({"capacity": 100, "used": 0}), "1.27+: every class");
    assert_eq!(s["root_provider_uuid"], cn1);
    assert_eq!(s["traits"], json!([]));
    let a = &r.body["allocation_requests"][0];
    assert!(a["mappings"][""].is_array());
    // Older shapes.
    let r = c.call("1.10", Method::GET, "/allocation_candidates?resources=VCPU:1", None).await;
    let first = &r.body["allocation_requests"][0]["allocations"][0];
    assert!(first["resource_provider"]["uuid"].is_string());
    assert_eq!(first["resources"], json!({"VCPU": 1}));
    assert!(r.body["provider_summaries"][&cn1].get("traits").is_none());
    assert!(r.body["provider_summaries"][&cn1]["resources"].get("DISK_GB").is_none(), "before 1.27 only requested classes");
    let r = c.call("1.12", Method::GET, "/allocation_candidates?resources=VCPU:1", None).await;
    assert!(r.body["allocation_requests"][0]["allocations"].is_object());
    assert!(r.body["allocation_requests"][0].get("mappings").is_none());
    assert_eq!(c.call("1.9", Method::GET, "/allocation_candidates?resources=VCPU:1", None).await.status, StatusCode::NOT_FOUND);
    // Capacity.
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:6", None).await;
    assert_eq!(providers_of(&r), vec![vec![cn2.clone()]]);
    // Traits and aggregates.
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:1&required=HW_CPU_X86_AVX2", None).await;
    assert_eq!(providers_of(&r), vec![vec![cn2.clone()]]);
    assert_eq!(r.body["provider_summaries"][&cn2]["traits"], json!(["HW_CPU_X86_AVX2"]));
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:1&required=!HW_CPU_X86_AVX2", None).await;
    assert_eq!(providers_of(&r).len(), 2);
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:1&required=in:HW_CPU_X86_AVX2,HW_CPU_X86_SSE", None).await;
    assert_eq!(providers_of(&r), vec![vec![cn2.clone()]]);
    let r = c.call("1.39", Method::GET, &format!("/allocation_candidates?resources=VCPU:1&member_of={agg}"), None).await;
    assert_eq!(providers_of(&r), vec![vec![cn1.clone()]]);
    let r = c.call("1.39", Method::GET, &format!("/allocation_candidates?resources=VCPU:1&member_of=!{agg}"), None).await;
    assert_eq!(providers_of(&r).len(), 2);
    let r = c.call("1.39", Method::GET, &format!("/allocation_candidates?resources=VCPU:1&in_tree={cn3}"), None).await;
    assert_eq!(providers_of(&r), vec![vec![cn3.clone()]]);
    // Limit trims requests and summaries together.
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:1&limit=1", None).await;
    assert_eq!(r.body["allocation_requests"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["provider_summaries"].as_object().unwrap().len(), 1);
    // Bad input.
    for q in ["", "?resources=VCPU", "?resources=VCPU:0", "?resources=CUSTOM_NONE:1", "?resources=VCPU:1&required=CUSTOM_NONE", "?resources=VCPU:1&limit=0", "?resources=VCPU:1&bogus=1", "?resources=VCPU:1&resources=VCPU:2"] {
        let r = c.call("1.39", Method::GET, &format!("/allocation_candidates{q}"), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {:?}", r.body);
    }
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:1&resources=VCPU:2", None).await;
    assert_eq!(r.body["errors"][0]["code"], "placement.query.duplicate_key");
    let r = c.call("1.39", Method::GET, "/allocation_candidates?required=HW_CPU_X86_AVX2", None).await;
    assert_eq!(r.body["errors"][0]["code"], "placement.query.missing_value");
    // Nothing fits: an empty answer, not an error.
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:100", None).await;
    assert_eq!(r.body, json!({"allocation_requests": [], "provider_summaries": {}}));
}

/// A compute node with two SR-IOV physical functions as child providers and a shared disk
/// pool: the layout Nova and Neutron report.
#[tokio::test]
async fn nested_sharing_and_granular_groups() {
    let c = cloud().await;
    let agg = uuid();
    let cn = c.provider("cn", None, json!({"VCPU": 8, "MEMORY_MB": 4096})).await;
    let pf1 = c.provider("cn-pf1", Some(&cn), json!({"SRIOV_NET_VF": 4})).await;
    let pf2 = c.provider("cn-pf2", Some(&cn), json!({"SRIOV_NET_VF": 4})).await;
    let put = c.call("1.39", Method::PUT, "/traits/CUSTOM_PHYSNET_A", None).await;
    assert_eq!(put.status, StatusCode::CREATED);
    c.set_traits(&pf1, &["CUSTOM_PHYSNET_A"]).await;
    c.set_traits(&cn, &["COMPUTE_NODE"]).await;
    let disk = c.provider("shared-disk", None, json!({"DISK_GB": 1000})).await;
    c.set_traits(&disk, &["MISC_SHARES_VIA_AGGREGATE"]).await;
    c.set_aggregates(&disk, &[&agg]).await;
    c.set_aggregates(&cn, &[&agg]).await;

    // The unsuffixed group spreads over the tree; before 1.29 nested answers are hidden.
    let r = c.call("1.29", Method::GET, "/allocation_candidates?resources=VCPU:1,SRIOV_NET_VF:1", None).await;
    let mut expected = vec![vec![cn.clone(), pf1.clone()], vec![cn.clone(), pf2.clone()]];
    expected.iter_mut().for_each(|v| v.sort());
    expected.sort();
    assert_eq!(providers_of(&r), expected);
    let s = &r.body["provider_summaries"];
    assert_eq!(s.as_object().unwrap().len(), 3, "the whole tree is summarized");
    assert_eq!(s[&pf1]["parent_provider_uuid"], cn);
    assert_eq!(s[&pf1]["root_provider_uuid"], cn);
    let r = c.call("1.28", Method::GET, "/allocation_candidates?resources=VCPU:1,SRIOV_NET_VF:1", None).await;
    assert_eq!(providers_of(&r), Vec::<Vec<String>>::new());

    // Traits of the unsuffixed group may come from any provider it uses.
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:1,SRIOV_NET_VF:1&required=CUSTOM_PHYSNET_A", None).await;
    let mut one = vec![cn.clone(), pf1.clone()];
    one.sort();
    assert_eq!(providers_of(&r), vec![one.clone()]);

    // A sharing provider supplies disk to the tree it shares an aggregate with.
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:1,DISK_GB:10", None).await;
    let mut with_disk = vec![cn.clone(), disk.clone()];
    with_disk.sort();
    assert_eq!(providers_of(&r), vec![with_disk]);

    // Granular groups: each on one provider; isolate = different providers.
    let q = "resources=VCPU:1&resources1=SRIOV_NET_VF:1&resources2=SRIOV_NET_VF:1";
    let r = c.call("1.39", Method::GET, &format!("/allocation_candidates?{q}"), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "group_policy is required with two groups");
    let r = c.call("1.39", Method::GET, &format!("/allocation_candidates?{q}&group_policy=isolate"), None).await;
    assert_eq!(r.body["allocation_requests"].as_array().unwrap().len(), 2);
    for a in r.body["allocation_requests"].as_array().unwrap() {
        assert_ne!(a["mappings"]["1"], a["mappings"]["2"]);
        assert_eq!(a["mappings"][""], json!([cn]));
    }
    let r = c.call("1.39", Method::GET, &format!("/allocation_candidates?{q}&group_policy=none"), None).await;
    let reqs = r.body["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 4);
    // Both groups on one PF: the amounts add up.
    assert!(reqs.iter().any(|a| a["allocations"][&pf1]["resources"]["SRIOV_NET_VF"] == 2));
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources1=SRIOV_NET_VF:1&required1=CUSTOM_PHYSNET_A", None).await;
    assert_eq!(providers_of(&r), vec![vec![pf1.clone()]]);
    // Suffixes: digits before 1.33, names after.
    assert_eq!(c.call("1.32", Method::GET, "/allocation_candidates?resources_NET=SRIOV_NET_VF:1", None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.call("1.33", Method::GET, "/allocation_candidates?resources_NET=SRIOV_NET_VF:1", None).await.status, StatusCode::OK);
    assert_eq!(c.call("1.24", Method::GET, "/allocation_candidates?resources1=SRIOV_NET_VF:1", None).await.status, StatusCode::BAD_REQUEST);

    // root_required looks at the tree's root only.
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=SRIOV_NET_VF:1&root_required=COMPUTE_NODE", None).await;
    assert_eq!(providers_of(&r).len(), 2);
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=SRIOV_NET_VF:1&root_required=!COMPUTE_NODE", None).await;
    assert_eq!(providers_of(&r).len(), 0);

    // same_subtree with a resourceless group naming the PF by trait: the VF must come from it.
    let q = "resources_VF=SRIOV_NET_VF:1&required_PORT=CUSTOM_PHYSNET_A&same_subtree=_VF,_PORT&group_policy=none";
    let r = c.call("1.39", Method::GET, &format!("/allocation_candidates?{q}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(providers_of(&r), vec![vec![pf1.clone()]]);
    assert_eq!(r.body["allocation_requests"][0]["mappings"]["_PORT"], json!([pf1]));
    let r = c.call("1.35", Method::GET, &format!("/allocation_candidates?{q}"), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Claiming a candidate as Nova does, then the capacity shows in the next answer.
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:8", None).await;
    let alloc: Value = r.body["allocation_requests"][0]["allocations"].clone();
    let vm = uuid();
    let body = json!({"allocations": alloc, "project_id": "p", "user_id": "u", "consumer_generation": null, "consumer_type": "INSTANCE"});
    assert_eq!(c.call("1.39", Method::PUT, &format!("/allocations/{vm}"), Some(body)).await.status, StatusCode::NO_CONTENT);
    let r = c.call("1.39", Method::GET, "/allocation_candidates?resources=VCPU:1", None).await;
    assert_eq!(providers_of(&r), Vec::<Vec<String>>::new());
}
