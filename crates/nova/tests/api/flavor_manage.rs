//! Flavor management, extra specs and access over HTTP.

use common::microversion::Version;
use http::{Method, StatusCode};
use serde_json::json;

use super::{cloud, cloud_with_max};

fn flavor(name: &str) -> serde_json::Value {
    json!({"flavor": {"name": name, "ram": 512, "vcpus": 1, "disk": 1}})
}

#[tokio::test]
async fn admins_create_show_update_and_delete_flavors() {
    let c = cloud_with_max(Version::new(2, 100)).await;
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/flavors", Some(flavor("m1.tiny"))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let f = &b["flavor"];
    let id = f["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID is chosen: {id}");
    assert_eq!((f["ram"].clone(), f["vcpus"].clone(), f["disk"].clone()), (json!(512), json!(1), json!(1)));
    assert_eq!(f["swap"], "", "2.1 shows no swap as an empty string");
    assert_eq!(f["OS-FLV-EXT-DATA:ephemeral"], 0);
    assert_eq!(f["os-flavor-access:is_public"], true);
    assert_eq!(f["rxtx_factor"], 1.0);
    assert!(f.get("description").is_none(), "{f}");

    // Given ids (strings or numbers), duplicates, and bad values.
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/flavors", Some(json!({"flavor": {"name": "m1.small", "id": 42, "ram": "2048", "vcpus": 1, "disk": 20, "swap": 512, "rxtx_factor": "2.5", "os-flavor-access:is_public": "false"}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["flavor"]["id"], "42");
    assert_eq!(b["flavor"]["ram"], 2048);
    assert_eq!(b["flavor"]["swap"], 512);
    assert_eq!(b["flavor"]["rxtx_factor"], 2.5);
    assert_eq!(b["flavor"]["os-flavor-access:is_public"], false);
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/flavors", Some(flavor("m1.tiny"))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["conflictingRequest"]["message"], "Flavor with name m1.tiny already exists.");
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/flavors", Some(json!({"flavor": {"name": "other", "id": "42", "ram": 1, "vcpus": 1, "disk": 0}}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["conflictingRequest"]["message"], "Flavor with ID 42 already exists.");
    for bad in [
        json!({"flavor": {"name": "x", "ram": 0, "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": -1, "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": "abc", "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 0, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": -1}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1}}),
        json!({"flavor": {"name": " x", "ram": 1, "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "id": "bad/id"}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": 0}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "os-flavor-access:is_public": "maybe"}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "color": "red"}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "description": "only from 2.55"}}),
    ] {
        let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/flavors", Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad} -> {b}");
        assert!(b["badRequest"]["message"].is_string(), "{b}");
    }
    let (s, _) = c.call(&c.admin, Method::GET, "/v2.1/flavors/x", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing half-made");

    // Description from 2.55, updated with PUT (which 2.1 does not have).
    let (s, b) = c.call_mv(&c.admin, "2.55", Method::POST, "/v2.1/flavors", Some(json!({"flavor": {"name": "described", "ram": 1, "vcpus": 1, "disk": 0, "description": "small one"}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["flavor"]["description"], "small one");
    let did = b["flavor"]["id"].as_str().unwrap().to_string();
    let (s, _) = c.call(&c.admin, Method::PUT, &format!("/v2.1/flavors/{did}"), Some(json!({"flavor": {"description": "x"}}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = c.call_mv(&c.admin, "2.55", Method::PUT, &format!("/v2.1/flavors/{did}"), Some(json!({"flavor": {"description": null}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["flavor"]["description"], json!(null));
    let (s, b) = c.call_mv(&c.admin, "2.55", Method::PUT, &format!("/v2.1/flavors/{did}"), Some(json!({"flavor": {"name": "renamed"}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = c.call_mv(&c.admin, "2.75", Method::GET, &format!("/v2.1/flavors/{did}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["flavor"]["swap"], 0, "2.75 shows swap as an integer");
    assert_eq!(b["flavor"]["extra_specs"], json!({}), "2.61 shows extra specs to admins");

    // Members may not write.
    let (member, _) = c.project_member("demo").await;
    let (s, b) = c.call(&member, Method::POST, "/v2.1/flavors", Some(flavor("mine"))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["forbidden"]["message"], "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed.");
    let (s, _) = c.call(&member, Method::DELETE, &format!("/v2.1/flavors/{id}"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, _) = c.call(&c.admin, Method::DELETE, &format!("/v2.1/flavors/{id}"), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, b) = c.call(&c.admin, Method::DELETE, &format!("/v2.1/flavors/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    // The name is free again.
    let (s, _) = c.call(&c.admin, Method::POST, "/v2.1/flavors", Some(flavor("m1.tiny"))).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn private_flavors_are_seen_only_by_projects_given_access() {
    let c = cloud_with_max(Version::new(2, 100)).await;
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/flavors", Some(json!({"flavor": {"name": "secret", "id": "secret", "ram": 1, "vcpus": 1, "disk": 0, "os-flavor-access:is_public": false}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    c.call(&c.admin, Method::POST, "/v2.1/flavors", Some(json!({"flavor": {"name": "open", "id": "open", "ram": 1, "vcpus": 1, "disk": 0}}))).await;
    let (alice, alice_project) = c.project_member("alice").await;
    let (bob, _) = c.project_member("bob").await;

    let names = |b: &serde_json::Value| b["flavors"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    for token in [&alice, &bob] {
        let (_, b) = c.call(token, Method::GET, "/v2.1/flavors", None).await;
        assert_eq!(names(&b), vec!["open"]);
        let (s, _) = c.call(token, Method::GET, "/v2.1/flavors/secret", None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/flavors/secret/os-flavor-access", None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"flavor_access": []})));

    let add = json!({"addTenantAccess": {"tenant": alice_project}});
    let (s, _) = c.call(&alice, Method::POST, "/v2.1/flavors/secret/action", Some(add.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "members cannot grant themselves access");
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/flavors/secret/action", Some(add.clone())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, json!({"flavor_access": [{"flavor_id": "secret", "tenant_id": alice_project}]}));
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/flavors/secret/action", Some(add.clone())).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");

    let (_, b) = c.call(&alice, Method::GET, "/v2.1/flavors", None).await;
    assert_eq!(names(&b), vec!["open", "secret"]);
    let (s, _) = c.call(&alice, Method::GET, "/v2.1/flavors/secret", None).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = c.call(&bob, Method::GET, "/v2.1/flavors", None).await;
    assert_eq!(names(&b), vec!["open"], "bob's project was not given access");
    let (s, _) = c.call(&bob, Method::GET, "/v2.1/flavors/secret/os-extra_specs", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Public flavors have no access list; adding to one is a conflict from 2.7.
    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/flavors/open/os-flavor-access", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    assert_eq!(b["itemNotFound"]["message"], "Access list not available for public flavors.");
    let (s, b) = c.call_mv(&c.admin, "2.7", Method::POST, "/v2.1/flavors/open/action", Some(add.clone())).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["conflictingRequest"]["message"], "Can not add access to a public flavor.");

    let remove = json!({"removeTenantAccess": {"tenant": alice_project}});
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/flavors/secret/action", Some(remove.clone())).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"flavor_access": []})));
    let (s, _) = c.call(&c.admin, Method::POST, "/v2.1/flavors/secret/action", Some(remove)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c.call(&alice, Method::GET, "/v2.1/flavors/secret", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c.call(&c.admin, Method::POST, "/v2.1/flavors/secret/action", Some(json!({"addTenantAccess": {}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn extra_specs_are_managed_by_admins_and_validated_from_2_86() {
    let c = cloud_with_max(Version::new(2, 100)).await;
    c.call(&c.admin, Method::POST, "/v2.1/flavors", Some(json!({"flavor": {"name": "f", "id": "f", "ram": 1, "vcpus": 1, "disk": 0}}))).await;
    let body = json!({"extra_specs": {"hw:cpu_policy": "dedicated", "key2": 5, "my_own:anything": "goes"}});
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/flavors/f/os-extra_specs", Some(body.clone())).await;
    assert_eq!((s, b), (StatusCode::OK, body), "the request comes back as sent");
    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/flavors/f/os-extra_specs", None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"extra_specs": {"hw:cpu_policy": "dedicated", "key2": "5", "my_own:anything": "goes"}})));
    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/flavors/f/os-extra_specs/key2", None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"key2": "5"})));
    let (s, b) = c.call(&c.admin, Method::PUT, "/v2.1/flavors/f/os-extra_specs/key2", Some(json!({"key2": "6"}))).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"key2": "6"})));
    let (s, b) = c.call(&c.admin, Method::PUT, "/v2.1/flavors/f/os-extra_specs/key2", Some(json!({"key3": "6"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["badRequest"]["message"], "Request body and URI mismatch");
    let (s, _) = c.call(&c.admin, Method::PUT, "/v2.1/flavors/f/os-extra_specs/key2", Some(json!({"key2": "6", "key3": "7"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c.call(&c.admin, Method::POST, "/v2.1/flavors/f/os-extra_specs", Some(json!({"extra_specs": {"bad/key": "x"}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c.call(&c.admin, Method::POST, "/v2.1/flavors/f/os-extra_specs", Some(json!({"extra_specs": {"k": "x".repeat(256)}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c.call(&c.admin, Method::POST, "/v2.1/flavors/nope/os-extra_specs", Some(json!({"extra_specs": {"k": "v"}}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Known namespaces are checked from 2.86 only.
    let bad = json!({"extra_specs": {"hw:cpu_policy": "sometimes"}});
    let (s, _) = c.call_mv(&c.admin, "2.85", Method::POST, "/v2.1/flavors/f/os-extra_specs", Some(bad.clone())).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = c.call_mv(&c.admin, "2.86", Method::POST, "/v2.1/flavors/f/os-extra_specs", Some(bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["badRequest"]["message"], "Validation failed; 'sometimes' is not one of: dedicated, shared, mixed.");
    let (s, b) = c.call_mv(&c.admin, "2.86", Method::POST, "/v2.1/flavors/f/os-extra_specs", Some(json!({"extra_specs": {"hw:no_such": "1"}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, _) = c.call_mv(&c.admin, "2.86", Method::POST, "/v2.1/flavors/f/os-extra_specs", Some(json!({"extra_specs": {"resources:VCPU": "2", "trait:HW_CPU_X86_AVX": "required"}}))).await;
    assert_eq!(s, StatusCode::OK);

    // Readers see specs; only admins change them.
    let (member, _) = c.project_member("demo").await;
    let (s, b) = c.call(&member, Method::GET, "/v2.1/flavors/f/os-extra_specs/key2", None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"key2": "6"})));
    let (s, _) = c.call(&member, Method::POST, "/v2.1/flavors/f/os-extra_specs", Some(json!({"extra_specs": {"k": "v"}}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.call(&member, Method::DELETE, "/v2.1/flavors/f/os-extra_specs/key2", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, b) = c.call_mv(&member, "2.61", Method::GET, "/v2.1/flavors/f", None).await;
    assert_eq!(b["flavor"]["extra_specs"]["key2"], "6");

    let (s, _) = c.call(&c.admin, Method::DELETE, "/v2.1/flavors/f/os-extra_specs/key2", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/flavors/f/os-extra_specs/key2", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["itemNotFound"]["message"], "Flavor f has no extra specs with key key2.");
    let (s, _) = c.call(&c.admin, Method::DELETE, "/v2.1/flavors/f/os-extra_specs/key2", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn microversions_above_the_advertised_maximum_are_refused_by_default() {
    let c = cloud().await;
    let (s, _) = c.call_mv(&c.admin, "2.55", Method::GET, "/v2.1/flavors", None).await;
    assert_eq!(s, StatusCode::NOT_ACCEPTABLE);
}
