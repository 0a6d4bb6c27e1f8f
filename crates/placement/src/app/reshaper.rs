//! The reshaper (placement/handlers/reshaper.py, 1.30): move inventory and the allocations
//! against it between providers in one transaction, e.g. when a compute node's VGPUs move
//! from the root provider to child providers. Capacity is checked on the final state only.

use std::collections::{BTreeMap, BTreeSet};

use auth::RequestContext;

use super::allocations::{apply_consumers, check_and_bump, Attempt, ConsumerAllocations};
use super::providers::{generation_conflict, provider_not_found};
use super::App;
use crate::db::allocations::{self as adb, Inventory};
use crate::db::providers as pdb;
use crate::error::{PlacementError, Result};

/// One provider's new inventory in a reshape, with the generation the client read.
pub struct ReshapeInventory {
    pub provider: String,
    pub generation: i64,
    pub inventories: Vec<Inventory>,
}

impl App {
    pub async fn reshape(&self, ctx: &RequestContext, inventories: &[ReshapeInventory], allocations: &[ConsumerAllocations]) -> Result<()> {
        self.enforce(ctx, "placement:reshaper:reshape")?;
        for r in inventories {
            for i in &r.inventories {
                if self.resource_class_check(&i.resource_class).await.is_err() {
                    return Err(PlacementError::BadRequest(format!("Unknown resource class in inventory for resource provider {}: {}", r.provider, i.resource_class)));
                }
            }
        }
        self.allocations_validate(allocations).await?;
        in_tx!(self.db, tx, {
            let mut client_generations = BTreeMap::new();
            let mut replaced: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for r in inventories {
                let p = pdb::provider_get_tx(&mut tx, &r.provider).await?.ok_or_else(|| provider_not_found(&r.provider))?;
                if p.generation != r.generation {
                    return Err(generation_conflict(&r.provider));
                }
                let before: BTreeSet<String> = adb::inventory_list_tx(&mut tx, &r.provider).await?.into_iter().map(|i| i.resource_class).collect();
                let after: BTreeSet<String> = r.inventories.iter().map(|i| i.resource_class.clone()).collect();
                replaced.insert(r.provider.clone(), before.difference(&after).cloned().collect());
                adb::inventory_replace(&mut tx, &r.provider, &r.inventories).await?;
                client_generations.insert(r.provider.clone(), r.generation);
            }
            let mut touched = apply_consumers(&mut tx, allocations).await?;
            // Removed classes must have nothing left allocated once the moves are done.
            for (p, removed) in &replaced {
                let usage = adb::usage_by_provider_tx(&mut tx, p).await?;
                let in_use: Vec<&String> = removed.iter().filter(|rc| usage.get(*rc).copied().unwrap_or(0) > 0).collect();
                if !in_use.is_empty() {
                    let names: Vec<&str> = in_use.iter().map(|s| s.as_str()).collect();
                    return Err(PlacementError::InventoryInUse(format!("Inventory for '{}' on resource provider '{p}' in use.", names.join(", "))));
                }
            }
            touched.extend(client_generations.keys().cloned());
            match check_and_bump(&mut tx, &touched, allocations, &client_generations).await? {
                Attempt::Done(()) => Ok(()),
                Attempt::ProviderMoved => Err(PlacementError::ConcurrentUpdate("Another thread concurrently updated the resource provider data. Please retry your update".into())),
            }
        })
    }
}
