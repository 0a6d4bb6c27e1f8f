//! Listing: filters, fields, sorting, and limit/marker pages with their links.

use http::Method;
use serde_json::json;

use super::cloud;

#[tokio::test]
async fn filters_fields_sorting_and_pages() {
    let c = cloud().await;
    for (name, up) in [("c", true), ("a", false), ("b", true), ("d", true), ("e", true)] {
        c.create("/v2.0/networks", "network", json!({"name": name, "admin_state_up": up})).await;
    }
    let r = c.call(Method::GET, "/v2.0/networks?name=a&name=b", None).await;
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 2);
    let r = c.call(Method::GET, "/v2.0/networks?admin_state_up=False", None).await;
    assert_eq!(r.body["networks"][0]["name"], "a");
    let r = c.call(Method::GET, "/v2.0/networks?status=ACTIVE&name=c&fields=id&fields=name", None).await;
    let n = r.body["networks"][0].as_object().unwrap();
    assert_eq!(n.keys().collect::<Vec<_>>(), vec!["id", "name"]);
    let r = c.call(Method::GET, "/v2.0/networks?sort_key=name&sort_dir=desc", None).await;
    let names: Vec<&str> = r.body["networks"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["e", "d", "c", "b", "a"]);
    // Two pages of two, following the next links, then the last page; a previous link back.
    let r = c.call(Method::GET, "/v2.0/networks?sort_key=name&sort_dir=asc&limit=2", None).await;
    let names: Vec<&str> = r.body["networks"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["a", "b"]);
    let links = r.body["networks_links"].as_array().unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["rel"], "next");
    let next = links[0]["href"].as_str().unwrap().trim_start_matches("http://neutron.test:9696").to_string();
    let r = c.call(Method::GET, &next, None).await;
    let names: Vec<&str> = r.body["networks"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["c", "d"]);
    let rels: Vec<&str> = r.body["networks_links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    assert_eq!(rels, vec!["next", "previous"]);
    let next = r.body["networks_links"][0]["href"].as_str().unwrap().trim_start_matches("http://neutron.test:9696").to_string();
    let r = c.call(Method::GET, &next, None).await;
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 1);
    let links = r.body["networks_links"].as_array().unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["rel"], "previous");
    let prev = links[0]["href"].as_str().unwrap().trim_start_matches("http://neutron.test:9696").to_string();
    let r = c.call(Method::GET, &prev, None).await;
    let names: Vec<&str> = r.body["networks"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["c", "d"]);
    let r = c.call(Method::GET, "/v2.0/networks?marker=nope", None).await;
    assert_eq!(r.status, http::StatusCode::BAD_REQUEST);
    let r = c.call(Method::GET, "/v2.0/networks?sort_dir=sideways&sort_key=name", None).await;
    assert_eq!(r.status, http::StatusCode::BAD_REQUEST);
    let r = c.call(Method::GET, "/v2.0/networks?tags=x", None).await;
    assert_eq!(r.body["networks"], json!([]));
}
