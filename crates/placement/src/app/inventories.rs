//! Inventories (placement/handlers/inventory.py and the inventory parts of
//! objects/resource_provider.py): every write replaces the provider's inventory in one
//! transaction that checks the provider generation the client sent and bumps it.
//!
//! Like upstream: removing a class that has allocations is refused (409
//! `placement.inventory.inuse`); lowering the capacity of a class below what is allocated is
//! accepted with a warning in the log (Nova does this on purpose, e.g. reserving a whole node),
//! and further allocations then fail until usage drops.

use std::collections::BTreeMap;

use auth::RequestContext;

use super::providers::{generation_conflict, provider_not_found};
use super::App;
use crate::db::allocations::{self as adb, Inventory};
use crate::db::providers::{self as pdb, Provider};
use crate::error::{PlacementError, Result};

/// `max_unit` when not given, as upstream (the largest 32-bit signed integer).
pub const MAX_INT: i64 = 2_147_483_647;

/// An inventory as a client sends it; unset fields take upstream's defaults.
#[derive(Debug, Clone, Default)]
pub struct InventoryInput {
    pub resource_class: String,
    pub total: i64,
    pub reserved: Option<i64>,
    pub min_unit: Option<i64>,
    pub max_unit: Option<i64>,
    pub step_size: Option<i64>,
    pub allocation_ratio: Option<f64>,
}

impl InventoryInput {
    /// Applies defaults and checks `reserved` against `total` (equal is allowed from 1.26).
    pub fn resolve(&self, provider: &str, reserved_can_be_total: bool) -> Result<Inventory> {
        let inv = Inventory {
            resource_class: self.resource_class.clone(),
            total: self.total,
            reserved: self.reserved.unwrap_or(0),
            min_unit: self.min_unit.unwrap_or(1),
            max_unit: self.max_unit.unwrap_or(MAX_INT),
            step_size: self.step_size.unwrap_or(1),
            allocation_ratio: self.allocation_ratio.unwrap_or(1.0),
        };
        let too_much = if reserved_can_be_total { inv.reserved > inv.total } else { inv.reserved >= inv.total && inv.total > 0 };
        if too_much {
            let what = if reserved_can_be_total { "greater than" } else { "greater than or equal to" };
            return Err(PlacementError::BadRequest(format!(
                "Unable to update inventory for resource provider {provider}: Invalid inventory for '{}' on resource provider '{provider}'. The reserved value is {what} total.",
                inv.resource_class
            )));
        }
        Ok(inv)
    }
}

/// How an inventory write changes the current list.
pub enum InventoryChange {
    /// `PUT /inventories`: the whole set.
    ReplaceAll(Vec<Inventory>),
    /// `POST /inventories`: a class that must not exist yet.
    Add(Inventory),
    /// `PUT /inventories/{rc}`: a class that must exist.
    Update(Inventory),
    /// `DELETE /inventories/{rc}`.
    Delete(String),
    /// `DELETE /inventories` (1.5).
    DeleteAll,
}

impl App {
    pub async fn inventory_list(&self, ctx: &RequestContext, uuid: &str) -> Result<(Provider, Vec<Inventory>)> {
        let p = self.provider_get(ctx, uuid, "placement:resource_providers:inventories:list").await?;
        Ok((p, adb::inventory_list(&self.db, uuid).await?))
    }

    pub async fn inventory_get(&self, ctx: &RequestContext, uuid: &str, rc: &str) -> Result<(Provider, Inventory)> {
        let p = self.provider_get(ctx, uuid, "placement:resource_providers:inventories:show").await?;
        let inv = adb::inventory_list(&self.db, uuid).await?.into_iter().find(|i| i.resource_class == rc);
        let inv = inv.ok_or_else(|| PlacementError::NotFound(format!("No inventory of class {rc} for {uuid}")))?;
        Ok((p, inv))
    }

    /// Applies `change` if the provider's generation is `expected` (None: whatever it is, for
    /// the bodiless DELETEs); returns the provider with its new generation and inventories.
    pub async fn inventory_write(&self, ctx: &RequestContext, uuid: &str, expected: Option<i64>, change: InventoryChange) -> Result<(Provider, Vec<Inventory>)> {
        let rule = match &change {
            InventoryChange::Add(_) => "placement:resource_providers:inventories:create",
            InventoryChange::Delete(_) | InventoryChange::DeleteAll => "placement:resource_providers:inventories:delete",
            _ => "placement:resource_providers:inventories:update",
        };
        self.enforce(ctx, rule)?;
        let classes: Vec<String> = match &change {
            InventoryChange::ReplaceAll(v) => v.iter().map(|i| i.resource_class.clone()).collect(),
            InventoryChange::Add(i) | InventoryChange::Update(i) => vec![i.resource_class.clone()],
            _ => Vec::new(),
        };
        for rc in &classes {
            if self.resource_class_check(rc).await.is_err() {
                return Err(PlacementError::BadRequest(format!("Unknown resource class in inventory for resource provider {uuid}: {rc}")));
            }
        }
        in_tx!(self.db, tx, {
            let mut p = pdb::provider_get_tx(&mut tx, uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
            let generation = expected.unwrap_or(p.generation);
            if p.generation != generation {
                return Err(generation_conflict(uuid));
            }
            let current: BTreeMap<String, Inventory> = adb::inventory_list_tx(&mut tx, uuid).await?.into_iter().map(|i| (i.resource_class.clone(), i)).collect();
            let mut next = current.clone();
            match change {
                InventoryChange::ReplaceAll(v) => next = v.into_iter().map(|i| (i.resource_class.clone(), i)).collect(),
                InventoryChange::Add(i) => {
                    if next.contains_key(&i.resource_class) {
                        // Upstream reports this as a concurrent update (the class appeared).
                        return Err(PlacementError::ConcurrentUpdate(format!(
                            "Update conflict: Inventory for '{}' on resource provider '{uuid}' already exists.",
                            i.resource_class
                        )));
                    }
                    next.insert(i.resource_class.clone(), i);
                }
                InventoryChange::Update(i) => {
                    if !next.contains_key(&i.resource_class) {
                        return Err(PlacementError::BadRequest(format!("No inventory record with resource class {} for resource provider {uuid}", i.resource_class)));
                    }
                    next.insert(i.resource_class.clone(), i);
                }
                InventoryChange::Delete(rc) => {
                    if next.remove(&rc).is_none() {
                        return Err(PlacementError::NotFound(format!("No inventory of class {rc} found for delete")));
                    }
                }
                InventoryChange::DeleteAll => next.clear(),
            }
            let usage = adb::usage_by_provider_tx(&mut tx, uuid).await?;
            let in_use: Vec<&String> = current.keys().filter(|rc| !next.contains_key(*rc) && usage.get(*rc).copied().unwrap_or(0) > 0).collect();
            if !in_use.is_empty() {
                let names: Vec<&str> = in_use.iter().map(|s| s.as_str()).collect();
                return Err(PlacementError::InventoryInUse(format!("Inventory for '{}' on resource provider '{uuid}' in use.", names.join(", "))));
            }
            for (rc, inv) in &next {
                let used = usage.get(rc).copied().unwrap_or(0);
                if used > inv.capacity() {
                    tracing::warn!(provider = uuid, resource_class = %rc, used, capacity = inv.capacity(), "inventory update leaves the provider over capacity");
                }
            }
            if !pdb::provider_bump_generation(&mut tx, uuid, generation).await? {
                return Err(generation_conflict(uuid));
            }
            let list: Vec<Inventory> = next.into_values().collect();
            adb::inventory_replace(&mut tx, uuid, &list).await?;
            p.generation += 1;
            Ok((p, list))
        })
    }
}
