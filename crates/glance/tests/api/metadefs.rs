//! The metadata definitions API over HTTP: the flows Tempest and the `openstack image
//! metadef` commands drive, visibility between projects, admin-only writes, `protected`,
//! duplicates, bulk tags with `X-Openstack-Append`, resource-type prefixes and paging.

use super::*;

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

impl Cloud {
    async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (s, _, b) = send(&self.glance, method, path, Some(token), &JSON, bytes).await;
        (s, json_of(&b))
    }
}

fn names(list: &Value, key: &str, field: &str) -> Vec<String> {
    list[key].as_array().unwrap().iter().map(|x| x[field].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn namespace_lifecycle_with_contents_and_protection() {
    let c = cloud().await;
    let (s, rts) = c.call(&c.admin, Method::GET, "/v2/metadefs/resource_types", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(rts["resource_types"][0]["name"], "OS::Glance::Image", "the seeded resource types come first");

    let body = json!({
        "namespace": "OS::Compute::Example", "display_name": "Example", "description": "For tests", "visibility": "public", "protected": true,
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}, {"name": "OS::Example::New"}],
        "properties": {"disk_bus": {"title": "Disk bus", "type": "string", "enum": ["scsi", "virtio"]}},
        "objects": [{"name": "CPU Limits", "required": ["cpu_period"], "properties": {"cpu_period": {"title": "Period", "type": "integer"}}}],
        "tags": [{"name": "fast"}]
    });
    let (s, h, b) = send(&c.glance, Method::POST, "/v2/metadefs/namespaces", Some(&c.admin), &JSON, body.to_string().into_bytes()).await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    assert!(h["location"].to_str().unwrap().ends_with("/v2/metadefs/namespaces/OS%3A%3ACompute%3A%3AExample"));
    let created = json_of(&b);
    assert_eq!(created["self"], "/v2/metadefs/namespaces/OS::Compute::Example");
    assert_eq!(created["schema"], "/v2/schemas/metadefs/namespace");
    assert_eq!(created["protected"], true);

    let (_, rts) = c.call(&c.admin, Method::GET, "/v2/metadefs/resource_types", None).await;
    assert!(names(&rts, "resource_types", "name").contains(&"OS::Example::New".to_string()), "associating creates the resource type");

    let ns = "/v2/metadefs/namespaces/OS::Compute::Example";
    let (s, shown) = c.call(&c.admin, Method::GET, ns, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(shown["properties"]["disk_bus"]["enum"], json!(["scsi", "virtio"]));
    assert_eq!(shown["objects"][0]["name"], "CPU Limits");
    assert_eq!(shown["objects"][0]["self"], "/v2/metadefs/namespaces/OS::Compute::Example/objects/CPU Limits");
    assert_eq!(shown["tags"], json!([{"name": "fast"}]));
    assert_eq!(shown["resource_type_associations"].as_array().unwrap().len(), 2);

    // With a resource type, property names take its prefix (objects' too).
    let (_, prefixed) = c.call(&c.admin, Method::GET, &format!("{ns}?resource_type=OS::Glance::Image"), None).await;
    assert!(prefixed["properties"].get("hw_disk_bus").is_some());
    assert_eq!(prefixed["objects"][0]["required"], json!(["hw_cpu_period"]));
    let (s, p) = c.call(&c.admin, Method::GET, &format!("{ns}/properties/hw_disk_bus?resource_type=OS::Glance::Image"), None).await;
    assert_eq!((s, p["name"].as_str()), (StatusCode::OK, Some("disk_bus")));
    let (s, _) = c.call(&c.admin, Method::GET, &format!("{ns}/properties/disk_bus?resource_type=OS::Glance::Image"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a name without the prefix is not found");

    // Protected: the namespace and its contents cannot be deleted.
    for path in [ns.to_string(), format!("{ns}/tags"), format!("{ns}/objects/CPU Limits"), format!("{ns}/properties/disk_bus"), format!("{ns}/resource_types/OS::Glance::Image")] {
        let (s, _, b) = send(&c.glance, Method::DELETE, &path.replace(' ', "%20"), Some(&c.admin), &[("accept", "application/json")], vec![]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
        assert!(json_of(&b)["message"].as_str().unwrap().contains("protected"), "{path}");
    }

    // Creating the same namespace again is a conflict.
    let (s, _) = c.call(&c.admin, Method::POST, "/v2/metadefs/namespaces", Some(json!({"namespace": "OS::Compute::Example"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Update: rename and unprotect (attributes left out go back to defaults).
    let (s, updated) = c.call(&c.admin, Method::PUT, ns, Some(json!({"namespace": "OS::Compute::Renamed", "protected": false}))).await;
    assert_eq!(s, StatusCode::OK, "{updated}");
    assert_eq!(updated["visibility"], "private");
    assert!(updated.get("display_name").is_none());
    let (s, _) = c.call(&c.admin, Method::GET, ns, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let renamed = "/v2/metadefs/namespaces/OS::Compute::Renamed";
    let (_, shown) = c.call(&c.admin, Method::GET, renamed, None).await;
    assert_eq!(shown["tags"], json!([{"name": "fast"}]), "contents follow a rename");

    let (s, _, _) = send(&c.glance, Method::DELETE, renamed, Some(&c.admin), &[], vec![]).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = c.call(&c.admin, Method::GET, renamed, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn objects_properties_tags_and_associations() {
    let c = cloud().await;
    let (s, _) = c.call(&c.admin, Method::POST, "/v2/metadefs/namespaces", Some(json!({"namespace": "ns1", "visibility": "public"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let ns = "/v2/metadefs/namespaces/ns1";

    // Objects
    let (s, o) = c.call(&c.admin, Method::POST, &format!("{ns}/objects"), Some(json!({"name": "obj", "description": "d"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    assert_eq!((o["required"].clone(), o["properties"].clone()), (json!([]), json!({})));
    let (s, _) = c.call(&c.admin, Method::POST, &format!("{ns}/objects"), Some(json!({"name": "obj"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, o) = c.call(&c.admin, Method::PUT, &format!("{ns}/objects/obj"), Some(json!({"name": "obj2"}))).await;
    assert_eq!((s, o["name"].as_str()), (StatusCode::OK, Some("obj2")));
    assert!(o.get("description").is_none(), "PUT replaces the object");
    let (_, list) = c.call(&c.admin, Method::GET, &format!("{ns}/objects"), None).await;
    assert_eq!(names(&list, "objects", "name"), ["obj2"]);
    assert_eq!(list["schema"], "/v2/schemas/metadefs/objects");
    let (s, _) = c.call(&c.admin, Method::POST, &format!("{ns}/objects"), Some(json!({"name": "x", "self": "y"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "read-only attribute");
    let (s, _, _) = send(&c.glance, Method::DELETE, &format!("{ns}/objects/obj2"), Some(&c.admin), &[], vec![]).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = c.call(&c.admin, Method::GET, &format!("{ns}/objects/obj2"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Properties
    let (s, p) = c.call(&c.admin, Method::POST, &format!("{ns}/properties"), Some(json!({"name": "hypervisor_type", "title": "Hypervisor", "type": "string", "enum": ["kvm", "qemu"]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p, json!({"name": "hypervisor_type", "title": "Hypervisor", "type": "string", "enum": ["kvm", "qemu"]}));
    let (s, _) = c.call(&c.admin, Method::POST, &format!("{ns}/properties"), Some(json!({"name": "hypervisor_type", "title": "H", "type": "string"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = c.call(&c.admin, Method::POST, &format!("{ns}/properties"), Some(json!({"name": "p", "type": "string"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "title is required");
    let (s, p) = c.call(&c.admin, Method::PUT, &format!("{ns}/properties/hypervisor_type"), Some(json!({"name": "hypervisor_type", "title": "New", "type": "string"}))).await;
    assert_eq!((s, p["title"].as_str()), (StatusCode::OK, Some("New")));
    let (_, list) = c.call(&c.admin, Method::GET, &format!("{ns}/properties"), None).await;
    assert_eq!(list, json!({"properties": {"hypervisor_type": {"title": "New", "type": "string"}}}));
    let (s, _, _) = send(&c.glance, Method::DELETE, &format!("{ns}/properties"), Some(&c.admin), &[], vec![]).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = c.call(&c.admin, Method::GET, &format!("{ns}/properties"), None).await;
    assert_eq!(list, json!({"properties": {}}));

    // Tags: bulk create replaces, X-Openstack-Append adds, names clash ignoring case.
    let tags = |names: &[&str]| json!({"tags": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()});
    let (s, t) = c.call(&c.admin, Method::POST, &format!("{ns}/tags"), Some(tags(&["a", "b", "c"]))).await;
    assert_eq!((s, t.clone()), (StatusCode::CREATED, tags(&["a", "b", "c"])));
    let (s, _) = c.call(&c.admin, Method::POST, &format!("{ns}/tags"), Some(tags(&["d"]))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, list) = c.call(&c.admin, Method::GET, &format!("{ns}/tags"), None).await;
    assert_eq!(names(&list, "tags", "name"), ["d"], "without the header, tags are replaced");
    let append = [("content-type", "application/json"), ("x-openstack-append", "true")];
    let (s, _, _) = send(&c.glance, Method::POST, &format!("{ns}/tags"), Some(&c.admin), &append, tags(&["e"]).to_string().into_bytes()).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = send(&c.glance, Method::POST, &format!("{ns}/tags"), Some(&c.admin), &append, tags(&["D"]).to_string().into_bytes()).await;
    assert_eq!(s, StatusCode::CONFLICT, "tag names are compared ignoring case");
    let (s, _) = c.call(&c.admin, Method::POST, &format!("{ns}/tags"), Some(tags(&["x", "X"]))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, list) = c.call(&c.admin, Method::GET, &format!("{ns}/tags?sort_key=name&sort_dir=asc"), None).await;
    assert_eq!(names(&list, "tags", "name"), ["d", "e"], "a refused bulk create changes nothing");
    let (_, list) = c.call(&c.admin, Method::GET, &format!("{ns}/tags?sort_key=name&sort_dir=asc&marker=d&limit=5"), None).await;
    assert_eq!(names(&list, "tags", "name"), ["e"]);
    let (s, t) = c.call(&c.admin, Method::POST, &format!("{ns}/tags/single"), None).await;
    assert_eq!((s, t["name"].as_str()), (StatusCode::CREATED, Some("single")));
    assert!(t["created_at"].is_string());
    let (s, t) = c.call(&c.admin, Method::PUT, &format!("{ns}/tags/single"), Some(json!({"name": "renamed"}))).await;
    assert_eq!((s, t["name"].as_str()), (StatusCode::OK, Some("renamed")));
    let (s, _) = c.call(&c.admin, Method::GET, &format!("{ns}/tags/renamed"), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.call(&c.admin, Method::PUT, &format!("{ns}/tags/renamed"), Some(json!({"name": "E"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, _) = send(&c.glance, Method::DELETE, &format!("{ns}/tags/renamed"), Some(&c.admin), &[], vec![]).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = send(&c.glance, Method::DELETE, &format!("{ns}/tags"), Some(&c.admin), &[], vec![]).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = c.call(&c.admin, Method::GET, &format!("{ns}/tags"), None).await;
    assert_eq!(list, json!({"tags": []}));

    // Resource type associations
    let (s, a) = c.call(&c.admin, Method::POST, &format!("{ns}/resource_types"), Some(json!({"name": "OS::Nova::Flavor", "prefix": "hw:"}))).await;
    assert_eq!((s, a["name"].as_str(), a["prefix"].as_str()), (StatusCode::CREATED, Some("OS::Nova::Flavor"), Some("hw:")));
    let (s, _) = c.call(&c.admin, Method::POST, &format!("{ns}/resource_types"), Some(json!({"name": "OS::Nova::Flavor"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, list) = c.call(&c.admin, Method::GET, &format!("{ns}/resource_types"), None).await;
    assert_eq!(names(&list, "resource_type_associations", "name"), ["OS::Nova::Flavor"]);
    let (_, filtered) = c.call(&c.admin, Method::GET, "/v2/metadefs/namespaces?resource_types=OS::Nova::Flavor", None).await;
    assert_eq!(names(&filtered, "namespaces", "namespace"), ["ns1"]);
    assert_eq!(filtered["namespaces"][0]["resource_type_associations"][0]["prefix"], "hw:");
    let (s, _, _) = send(&c.glance, Method::DELETE, &format!("{ns}/resource_types/OS::Nova::Flavor"), Some(&c.admin), &[], vec![]).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = send(&c.glance, Method::DELETE, &format!("{ns}/resource_types/OS::Nova::Flavor"), Some(&c.admin), &[], vec![]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, filtered) = c.call(&c.admin, Method::GET, "/v2/metadefs/namespaces?resource_types=OS::Nova::Flavor", None).await;
    assert_eq!(filtered["namespaces"], json!([]));

    let (s, _) = c.call(&c.admin, Method::GET, "/v2/metadefs/namespaces/nope/objects", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn visibility_and_admin_only_writes() {
    let c = cloud().await;
    let (alice, _) = c.project_member("alice").await;
    for (name, visibility) in [("public-ns", "public"), ("private-ns", "private")] {
        let (s, _) = c.call(&c.admin, Method::POST, "/v2/metadefs/namespaces", Some(json!({"namespace": name, "visibility": visibility}))).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, list) = c.call(&alice, Method::GET, "/v2/metadefs/namespaces", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(names(&list, "namespaces", "namespace"), ["public-ns"], "a private namespace of another project is not listed");
    let (s, _) = c.call(&alice, Method::GET, "/v2/metadefs/namespaces/private-ns", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c.call(&alice, Method::GET, "/v2/metadefs/namespaces/private-ns/tags", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c.call(&alice, Method::GET, "/v2/metadefs/namespaces/public-ns", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.call(&alice, Method::GET, "/v2/metadefs/resource_types", None).await;
    assert_eq!(s, StatusCode::OK);

    // Writes are the admin's: 403 where the namespace is visible, 404 where it is not.
    let (s, _) = c.call(&alice, Method::POST, "/v2/metadefs/namespaces", Some(json!({"namespace": "mine"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.call(&alice, Method::POST, "/v2/metadefs/namespaces/public-ns/tags/t", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = c.call(&alice, Method::POST, "/v2/metadefs/namespaces/private-ns/tags/t", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = send(&c.glance, Method::DELETE, "/v2/metadefs/namespaces/public-ns", Some(&alice), &[], vec![]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, _, _) = send(&c.glance, Method::GET, "/v2/metadefs/namespaces", None, &[], vec![]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Schemas are readable by anyone with a token.
    for name in ["namespace", "namespaces", "object", "objects", "property", "properties", "resource_type", "resource_types", "tag", "tags"] {
        let (s, schema) = c.call(&alice, Method::GET, &format!("/v2/schemas/metadefs/{name}"), None).await;
        assert_eq!(s, StatusCode::OK, "{name}");
        assert!(schema["name"].is_string());
    }
}

#[tokio::test]
async fn namespace_paging_sorting_and_filters() {
    let c = cloud().await;
    for (name, visibility) in [("b", "public"), ("a", "private"), ("d", "public"), ("c", "public")] {
        let (s, _) = c.call(&c.admin, Method::POST, "/v2/metadefs/namespaces", Some(json!({"namespace": name, "visibility": visibility}))).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (_, page) = c.call(&c.admin, Method::GET, "/v2/metadefs/namespaces?sort_key=namespace&sort_dir=asc&limit=3", None).await;
    assert_eq!(names(&page, "namespaces", "namespace"), ["a", "b", "c"]);
    assert_eq!(page["first"], "/v2/metadefs/namespaces?sort_key=namespace&sort_dir=asc&limit=3");
    let next = page["next"].as_str().unwrap().to_string();
    assert_eq!(next, "/v2/metadefs/namespaces?sort_key=namespace&sort_dir=asc&limit=3&marker=c");
    let (_, page) = c.call(&c.admin, Method::GET, &next, None).await;
    assert_eq!(names(&page, "namespaces", "namespace"), ["d"]);
    assert!(page.get("next").is_none());

    let (_, default) = c.call(&c.admin, Method::GET, "/v2/metadefs/namespaces", None).await;
    assert_eq!(names(&default, "namespaces", "namespace"), ["c", "d", "a", "b"], "newest first by default");
    assert_eq!(default["first"], "/v2/metadefs/namespaces");
    assert_eq!(default["schema"], "/v2/schemas/metadefs/namespaces");

    let (_, public) = c.call(&c.admin, Method::GET, "/v2/metadefs/namespaces?visibility=public&sort_key=namespace&sort_dir=desc", None).await;
    assert_eq!(names(&public, "namespaces", "namespace"), ["d", "c", "b"]);
    for bad in ["visibility=shared", "sort_key=colour", "sort_dir=up", "limit=-1", "limit=x"] {
        let (s, _) = c.call(&c.admin, Method::GET, &format!("/v2/metadefs/namespaces?{bad}"), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (s, _) = c.call(&c.admin, Method::GET, "/v2/metadefs/namespaces?marker=zzz", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
