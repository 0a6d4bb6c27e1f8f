//! Key pairs over HTTP: generation and import, fingerprints, microversions, paging, per-user
//! isolation and the key_pairs quota.

use common::microversion::Version;
use http::{Method, StatusCode};
use serde_json::json;

use super::cloud_with_max;

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOB3x1DZouGcKzq7IOQWyGADonwHLtSTdnsaMTuu/vGD test@example";
const ED25519_MD5: &str = "90:09:0d:ad:8b:74:1f:62:ce:4e:72:1a:a6:6b:d3:92";
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDRigK4snHA4J+HCJ4nBBcnHOzhiIjlsmSQLt+5FZGznXRkPVC/5wCLhFxmcwjQqihbhM8zTtLsKgHCeA1FQsZ6Ch7YO3M8LPX1T43R2g4liJMrFPImcpc0HJ4hTVutX2OlNsqUzmISDjlz65O+Qkl0neWuvRvtW3YTLIoKiwRFfQ== ";
const RSA_MD5: &str = "1e:90:34:0d:88:26:e0:d8:70:81:af:2b:6c:ab:4c:6e";
const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIB+jCCAWOgAwIBAgIUCA23HuRnMhNU1mK1TSsMWf1FnawwDQYJKoZIhvcNAQEL
BQAwDzENMAsGA1UEAwwEdGVzdDAeFw0yNjExMjMxNjIyMDNaFw0yNjExMjQxNjIy
MDNaMA8xDTALBgNVBAMMBHRlc3QwgZ8wDQYJKoZIhvcNAQEBBQADgY0AMIGJAoGB
AMDC3BlPHlYjm7Z7DG9x+g/nam5oGqInRp4dI9YaS2dHysc5uMBN89agJRUWRyYh
qI9UG/MtG+R9Og/8i11wMSjQcwjYI2AGhANGh+VKeHKMxyhA+wNU9yOb5HravNAb
XX8KUdUJqmxgvayZSHxZrDuQBIEAh4fM5yKm7TbCcNAXAgMBAAGjUzBRMB0GA1Ud
DgQWBBTxmH5CNmMwjEjBgC9ne9q/zU7ItjAfBgNVHSMEGDAWgBTxmH5CNmMwjEjB
gC9ne9q/zU7ItjAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4GBABca
9fWUR96T4aPIat7tY6sP5L0X7Qh4I7gaRzk8UIFqgTKS/vDah6MOhxsnGLc71zZ3
XHApTjcCgOrusbb+MlQNHIRYR2KcvcxRq8qPjcLZsjZ49MZuxcmRZkGvlmqjxG9I
aEXmL3YkNmGI2O5RrsNmwT3hsBAmK61zYhJtI4x3
-----END CERTIFICATE-----
";
const CERT_SHA1: &str = "90:c9:77:7f:4f:27:26:bd:5b:3b:b2:e3:ee:88:2a:13:34:10:ee:05";

#[tokio::test]
async fn key_pairs_are_generated_or_imported_and_shaped_by_microversion() {
    let c = cloud_with_max(Version::new(2, 100)).await;
    // 2.1: generation returns the private key once; 200 and 202 as upstream.
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "gen"}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let k = &b["keypair"];
    assert!(k["private_key"].as_str().unwrap().starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(k["public_key"].as_str().unwrap().starts_with("ssh-rsa "));
    assert_eq!(k["fingerprint"].as_str().unwrap().len(), 47);
    assert!(k.get("type").is_none());
    let mut keys: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["fingerprint", "name", "private_key", "public_key", "user_id"]);

    let (s, b) = c.call(&c.admin, Method::GET, "/v2.1/os-keypairs/gen", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let k = &b["keypair"];
    assert_eq!((k["deleted"].clone(), k["deleted_at"].clone(), k["updated_at"].clone()), (json!(false), json!(null), json!(null)));
    assert!(k["id"].is_i64());
    assert!(k["created_at"].as_str().unwrap().len() == 26, "{k}");
    assert!(k.get("private_key").is_none());

    // Import: MD5 of the key blob, as ssh-keygen -E md5 prints it.
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "ed", "public_key": ED25519}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["keypair"]["fingerprint"], ED25519_MD5);
    assert!(b["keypair"].get("private_key").is_none());
    let (_, b) = c.call(&c.admin, Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "rsa", "public_key": RSA}}))).await;
    assert_eq!(b["keypair"]["fingerprint"], RSA_MD5);

    for (body, why) in [
        (json!({"keypair": {"name": "bad", "public_key": "ssh-rsa bad-key"}}), "not a key"),
        (json!({"keypair": {"name": "bad", "public_key": ""}}), "empty key"),
        (json!({"keypair": {"name": "bad/name"}}), "bad character"),
        (json!({"keypair": {"name": "a@b"}}), "@ only from 2.92"),
        (json!({"keypair": {"name": ""}}), "empty name"),
        (json!({"keypair": {"name": "x".repeat(256)}}), "long name"),
        (json!({"keypair": {"name": "t", "type": "ssh"}}), "type only from 2.2"),
        (json!({"keypair": {}}), "no name"),
    ] {
        let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/os-keypairs", Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}: {b}");
    }
    let (s, b) = c.call(&c.admin, Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "ed", "public_key": ED25519}}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["conflictingRequest"]["message"], "Key pair 'ed' already exists.");

    // 2.2: 201/204 and `type`; x509 certificates get a SHA-1 fingerprint.
    let (s, b) = c.call_mv(&c.admin, "2.2", Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "cert", "type": "x509", "public_key": CERT}}))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["keypair"]["type"], "x509");
    assert_eq!(b["keypair"]["fingerprint"], CERT_SHA1);
    let (s, _) = c.call_mv(&c.admin, "2.2", Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "cert2", "type": "x509", "public_key": ED25519}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Generated x509 key pairs: a PEM certificate, the key in a base64 PKCS#12.
    let (s, b) = c.call_mv(&c.admin, "2.2", Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "wincert", "type": "x509"}}))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b["keypair"]["public_key"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(b["keypair"]["private_key"].as_str().unwrap().starts_with("MII"), "{b}");
    assert_eq!(b["keypair"]["fingerprint"].as_str().unwrap().len(), 59);
    let (s, _) = c.call_mv(&c.admin, "2.2", Method::DELETE, "/v2.1/os-keypairs/wincert", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, b) = c.call_mv(&c.admin, "2.2", Method::GET, "/v2.1/os-keypairs", None).await;
    let types: Vec<(String, String)> = b["keypairs"].as_array().unwrap().iter().map(|k| (k["keypair"]["name"].as_str().unwrap().into(), k["keypair"]["type"].as_str().unwrap().into())).collect();
    assert_eq!(types, [("cert".into(), "x509".into()), ("ed".into(), "ssh".into()), ("gen".into(), "ssh".into()), ("rsa".into(), "ssh".into())]);
    let (s, _) = c.call_mv(&c.admin, "2.2", Method::DELETE, "/v2.1/os-keypairs/cert", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = c.call(&c.admin, Method::DELETE, "/v2.1/os-keypairs/rsa", None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, b) = c.call(&c.admin, Method::DELETE, "/v2.1/os-keypairs/rsa", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");

    // 2.92: a public key is required and names may carry @ and dots.
    let (s, _) = c.call_mv(&c.admin, "2.92", Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "nokey"}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, b) = c.call_mv(&c.admin, "2.92", Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "me@host.example", "public_key": RSA}}))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // 2.35: limit and marker, with a next link while pages are full.
    let (_, b) = c.call_mv(&c.admin, "2.35", Method::GET, "/v2.1/os-keypairs?limit=2", None).await;
    let names: Vec<&str> = b["keypairs"].as_array().unwrap().iter().map(|k| k["keypair"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ed", "gen"]);
    let next = b["keypairs_links"][0]["href"].as_str().unwrap();
    assert!(next.contains("marker=gen"), "{next}");
    let (_, b) = c.call_mv(&c.admin, "2.35", Method::GET, "/v2.1/os-keypairs?limit=2&marker=gen", None).await;
    assert_eq!(b["keypairs"].as_array().unwrap().len(), 1);
    assert!(b.get("keypairs_links").is_none(), "{b}");
    let (s, _) = c.call_mv(&c.admin, "2.35", Method::GET, "/v2.1/os-keypairs?marker=nope", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = c.call_mv(&c.admin, "2.75", Method::GET, "/v2.1/os-keypairs?color=red", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_user_never_sees_another_users_key_pairs() {
    let c = cloud_with_max(Version::new(2, 100)).await;
    let (alice, _) = c.project_member("alice").await;
    let (bob, _) = c.project_member("bob").await;
    let (s, b) = c.call(&alice, Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "k", "public_key": ED25519}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let alice_id = b["keypair"]["user_id"].as_str().unwrap().to_string();

    let (_, b) = c.call(&bob, Method::GET, "/v2.1/os-keypairs", None).await;
    assert_eq!(b, json!({"keypairs": []}));
    let (s, _) = c.call(&bob, Method::GET, "/v2.1/os-keypairs/k", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c.call(&bob, Method::DELETE, "/v2.1/os-keypairs/k", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The same name is free for bob.
    let (s, _) = c.call(&bob, Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "k", "public_key": RSA}}))).await;
    assert_eq!(s, StatusCode::OK);
    // Naming alice's user is for admins only (2.10).
    let (s, b) = c.call_mv(&bob, "2.10", Method::GET, &format!("/v2.1/os-keypairs/k?user_id={alice_id}"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, _) = c.call_mv(&bob, "2.10", Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "planted", "public_key": RSA, "user_id": alice_id}}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = c.call_mv(&c.admin, "2.10", Method::GET, &format!("/v2.1/os-keypairs/k?user_id={alice_id}"), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["keypair"]["fingerprint"], ED25519_MD5);
    let (s, b) = c.call_mv(&c.admin, "2.10", Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "given", "public_key": RSA, "user_id": alice_id}}))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, b) = c.call(&alice, Method::GET, "/v2.1/os-keypairs", None).await;
    assert_eq!(b["keypairs"].as_array().unwrap().len(), 2);
    // Below 2.10 user_id is ignored: the admin sees their own (none).
    let (s, _) = c.call(&c.admin, Method::GET, &format!("/v2.1/os-keypairs/k?user_id={alice_id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_key_pairs_quota_is_enforced() {
    let c = cloud_with_max(Version::new(2, 100)).await;
    let (member, project) = c.project_member("demo").await;
    let (s, b) = c.call(&c.admin, Method::PUT, &format!("/v2.1/os-quota-sets/{project}"), Some(json!({"quota_set": {"key_pairs": 1}}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = c.call(&member, Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "one", "public_key": RSA}}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = c.call(&member, Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "two", "public_key": RSA}}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["forbidden"]["message"], "Quota exceeded, too many key pairs.");
    let (_, b) = c.call(&member, Method::GET, "/v2.1/os-keypairs", None).await;
    assert_eq!(b["keypairs"].as_array().unwrap().len(), 1, "nothing was left behind");
    // Unlimited lifts it.
    c.call(&c.admin, Method::PUT, &format!("/v2.1/os-quota-sets/{project}"), Some(json!({"quota_set": {"key_pairs": -1}}))).await;
    let (s, _) = c.call(&member, Method::POST, "/v2.1/os-keypairs", Some(json!({"keypair": {"name": "two", "public_key": RSA}}))).await;
    assert_eq!(s, StatusCode::OK);
}
