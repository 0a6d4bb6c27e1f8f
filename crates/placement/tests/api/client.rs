//! The REST client Nova uses, against Keystone and Placement served over real HTTP on
//! ephemeral ports: a service user's password credentials, the resource tracker's inventory
//! update, the scheduler's candidates and claim, consumer-generation conflicts, moves with
//! POST /allocations, usages and delete.

use std::collections::BTreeMap;

use placement::client::{CandidateQuery, ConsumerClaim, Credentials, Inventory, PlacementClient};

use super::{cloud, uuid};

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn client_against_live_services() {
    let c = cloud().await;
    c.user_with_role("nova", "service").await;
    let ks = serve(c.ks.clone()).await;
    let pl = serve(c.placement.clone()).await;
    let client = PlacementClient::new(
        &pl,
        Credentials::Password {
            auth_url: format!("{ks}/v3"),
            username: "nova".into(),
            password: "pw".into(),
            project_name: "nova".into(),
            user_domain_name: "Default".into(),
            project_domain_name: "Default".into(),
        },
    );
    let (cn1, cn2) = (uuid(), uuid());
    let inv: BTreeMap<String, Inventory> = [("VCPU".to_string(), Inventory { allocation_ratio: 2.0, ..Inventory::of(4) }), ("MEMORY_MB".to_string(), Inventory::of(2048))].into_iter().collect();
    let g = client.set_compute_node_inventory(&cn1, "host1", &inv).await.unwrap();
    assert_eq!(g, 1);
    // Unchanged inventory is not rewritten.
    assert_eq!(client.set_compute_node_inventory(&cn1, "host1", &inv).await.unwrap(), 1);
    client.set_compute_node_inventory(&cn2, "host2", &inv).await.unwrap();
    assert_eq!(client.inventories_get(&cn1).await.unwrap().1, inv);
    client.traits_set(&cn1, &["COMPUTE_NODE".into(), "CUSTOM_GOLD".into()]).await.unwrap();
    client.aggregates_set(&cn2, &[uuid()]).await.unwrap();
    let rp = client.resource_provider_get(&cn1).await.unwrap().unwrap();
    assert_eq!(rp.name, "host1");
    assert!(client.resource_provider_get(&uuid()).await.unwrap().is_none());

    let want: BTreeMap<String, i64> = [("VCPU".to_string(), 6), ("MEMORY_MB".to_string(), 1024)].into_iter().collect();
    let cands = client.allocation_candidates(&CandidateQuery::resources(&want)).await.unwrap();
    assert_eq!(cands.allocation_requests.len(), 2);
    assert_eq!(cands.provider_summaries[&cn1].resources["VCPU"].capacity, 8);
    let cands = client.allocation_candidates(&CandidateQuery::resources(&want).with("required", "CUSTOM_GOLD")).await.unwrap();
    assert_eq!(cands.allocation_requests.len(), 1);
    let pick: BTreeMap<String, BTreeMap<String, i64>> = cands.allocation_requests[0].allocations.iter().map(|(k, v)| (k.clone(), v.resources.clone())).collect();
    let vm = uuid();
    client.allocations_put(&vm, &pick, "proj", "user", None, "INSTANCE").await.unwrap();
    let got = client.allocations_get(&vm).await.unwrap();
    assert_eq!(got.consumer_generation, Some(0));
    assert_eq!(got.allocations, pick);
    assert_eq!(got.consumer_type.as_deref(), Some("INSTANCE"));
    // A second claim with a stale view is a generation conflict; without room a plain 409.
    let e = client.allocations_put(&vm, &pick, "proj", "user", None, "INSTANCE").await.unwrap_err();
    assert!(e.is_generation_conflict(), "{e}");
    let e = client.allocations_put(&uuid(), &pick, "proj", "user", None, "INSTANCE").await.unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert!(!e.is_generation_conflict());
    assert_eq!(client.provider_usages(&cn1).await.unwrap()["VCPU"], 6);
    assert_eq!(client.usages("proj", None).await.unwrap()["INSTANCE"]["VCPU"], 6);

    // A move: the migration takes the source allocation, the instance claims the target.
    let migration = uuid();
    let target: BTreeMap<String, BTreeMap<String, i64>> = [(cn2.clone(), want.clone())].into_iter().collect();
    client
        .allocations_post(&[
            ConsumerClaim { consumer: migration.clone(), allocations: pick.clone(), project_id: "proj".into(), user_id: "user".into(), consumer_generation: None, consumer_type: "MIGRATION".into() },
            ConsumerClaim { consumer: vm.clone(), allocations: target.clone(), project_id: "proj".into(), user_id: "user".into(), consumer_generation: Some(0), consumer_type: "INSTANCE".into() },
        ])
        .await
        .unwrap();
    assert_eq!(client.allocations_get(&vm).await.unwrap().allocations, target);
    assert!(client.allocations_delete(&migration).await.unwrap());
    assert!(!client.allocations_delete(&migration).await.unwrap());
    assert_eq!(client.provider_usages(&cn1).await.unwrap()["VCPU"], 0);
    // A provider with allocations cannot go; one without can.
    assert_eq!(client.resource_provider_delete(&cn2).await.unwrap_err().status(), Some(409));
    client.resource_provider_delete(&cn1).await.unwrap();
}
