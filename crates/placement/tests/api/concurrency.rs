//! The concurrency proof: many claims race for the same capacity and the provider is never
//! over-allocated. On SQLite one Placement serves them all (SQLite is the single-process
//! all-in-one's engine); on PostgreSQL and MariaDB two Placement instances with their own
//! connection pools share the database, as two API processes behind a load balancer would.
//! Tests that need a server say loudly when it is not reachable.

use std::sync::Arc;

use axum::Router;
use http::{Method, StatusCode};
use serde_json::json;

use super::{cloud_on, placement_router, send, uuid, Cloud};

/// `claims` concurrent PUTs of `amount` VCPU each, spread over `routers`, against one
/// provider with `total` VCPU; returns how many succeeded.
async fn race(c: &Cloud, routers: &[Router], total: i64, amount: i64, claims: usize) -> usize {
    let rp = c.provider(&format!("race-{}", uuid()), None, json!({"VCPU": total})).await;
    let mut tasks = Vec::new();
    for i in 0..claims {
        let router = routers[i % routers.len()].clone();
        let token = c.admin.clone();
        let rp = rp.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"allocations": {&rp: {"resources": {"VCPU": amount}}}, "project_id": "p", "user_id": "u", "consumer_generation": null, "consumer_type": "INSTANCE"});
            let consumer = uuid();
            // As a real client (Nova's report client) does: a 409 `placement.concurrent_update`
            // means "the provider moved, try again"; a capacity refusal is final. Placement
            // already retried internally; under heavy contention on a loaded machine it can
            // still give up, and that must never cost capacity or over-allocate.
            let mut attempts = 0;
            loop {
                let r = send(&router, Method::PUT, &format!("/allocations/{consumer}"), Some(&token), Some("1.39"), Some(body.clone())).await;
                attempts += 1;
                let moved = r.status == StatusCode::CONFLICT && r.body["errors"][0]["code"] == "placement.concurrent_update";
                if !moved || attempts == 100 {
                    return (r.status, r.body);
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::NO_CONTENT => ok += 1,
            StatusCode::CONFLICT => assert_ne!(body["errors"][0]["code"], "placement.concurrent_update", "a claim kept losing races for 100 attempts: {body}"),
            s => panic!("unexpected {s}: {body}"),
        }
    }
    let r = c.call("1.39", Method::GET, &format!("/resource_providers/{rp}/usages"), None).await;
    let used = r.body["usages"]["VCPU"].as_i64().unwrap();
    assert_eq!(used, ok as i64 * amount, "usage matches the successful claims");
    assert!(used <= total, "over-allocated: {used} > {total}");
    // The provider's allocations agree with its usage.
    let r = c.call("1.39", Method::GET, &format!("/resource_providers/{rp}/allocations"), None).await;
    assert_eq!(r.body["allocations"].as_object().unwrap().len(), ok);
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_overallocate_sqlite() {
    let c = cloud_on(None).await;
    let routers = [c.placement.clone()];
    assert_eq!(race(&c, &routers, 10, 1, 40).await, 10);
    assert_eq!(race(&c, &routers, 10, 3, 20).await, 3);
}

fn reachable(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), std::time::Duration::from_millis(300)).is_ok()
}

async fn race_on_server(url: &str) {
    let c = cloud_on(Some(url)).await;
    // A second Placement on the same database, with its own pool.
    let cfg = placement::PlacementConfig { connection: url.to_string(), bind: "127.0.0.1:0".into(), policy_file: None, randomize_allocation_candidates: false };
    let second = placement::open(cfg).await.unwrap();
    let routers = [c.placement.clone(), placement_router(second.clone(), Arc::clone(&c.validator))];
    assert_eq!(race(&c, &routers, 10, 1, 40).await, 10);
    assert_eq!(race(&c, &routers, 10, 3, 20).await, 3);
    second.db.close().await;
    c.app.db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_overallocate_postgresql() {
    if !reachable(5432) {
        eprintln!("SKIPPED (LOUDLY): PostgreSQL is not reachable at 127.0.0.1:5432; the PostgreSQL concurrency proof did not run");
        return;
    }
    let name = format!("ferrostack_placement_race_{}", &common::ids::new_hex_id()[..8]);
    race_on_server(&format!("postgresql://postgres@127.0.0.1/{name}")).await;
    let _ = std::process::Command::new("psql").args(["-h", "127.0.0.1", "-U", "postgres", "-qc", &format!("DROP DATABASE IF EXISTS {name}")]).output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_overallocate_mariadb() {
    if !reachable(3306) {
        eprintln!("SKIPPED (LOUDLY): MariaDB/MySQL is not reachable at 127.0.0.1:3306; the MariaDB concurrency proof did not run");
        return;
    }
    let name = format!("ferrostack_placement_race_{}", &common::ids::new_hex_id()[..8]);
    race_on_server(&format!("mysql+pymysql://root@127.0.0.1/{name}")).await;
    let _ = std::process::Command::new("mariadb").args(["-h", "127.0.0.1", "-u", "root", "-e", &format!("DROP DATABASE IF EXISTS {name}")]).output();
}
