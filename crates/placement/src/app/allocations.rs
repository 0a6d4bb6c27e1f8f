//! Allocations and usages (placement/handlers/allocation.py, usage.py and
//! objects/allocation.py, consumer.py).
//!
//! Why two schedulers can never over-allocate: every allocation write runs in one
//! transaction that (1) replaces the consumers' rows, (2) for each provider receiving
//! resources reads the provider's generation, then its usage (which now includes our rows)
//! and inventory, and checks capacity, min/max unit and step size, and (3) bumps each such
//! provider's generation with `UPDATE ... WHERE generation = <read value>`. Two writers that
//! both checked against the same usage both try to move the same generation; the engine lets
//! only one succeed (the other's UPDATE matches no row after the first commits, or waits on
//! SQLite's writer lock before it reads anything), and the loser rolls back and retries from
//! scratch, as upstream's RP_CONFLICT_RETRY_COUNT loop does. Consumer generations (1.28) are
//! compared-and-set the same way and, unlike provider races, returned to the client as 409.

use std::collections::{BTreeMap, BTreeSet};

use auth::RequestContext;
use db::Tx;
use serde_json::json;

use super::{App, RETRIES};
use crate::db::allocations::{self as adb, Allocation, Consumer};
use crate::db::providers::{self as pdb, Provider};
use crate::error::{PlacementError, Result};

/// What the client says about the consumer's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGeneration {
    /// Before 1.28: not checked.
    Unchecked,
    /// `null`: the consumer must not exist yet.
    New,
    Is(i64),
}

/// The project and user upstream records for consumers written without them (before 1.8):
/// `[placement] incomplete_consumer_project_id` / `incomplete_consumer_user_id`.
pub const INCOMPLETE_CONSUMER_ID: &str = "00000000-0000-0000-0000-000000000000";

/// One consumer's new allocations (provider → class → amount); empty removes them all.
#[derive(Debug, Clone)]
pub struct ConsumerAllocations {
    pub consumer_uuid: String,
    pub allocations: BTreeMap<String, BTreeMap<String, i64>>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub generation: ConsumerGeneration,
    pub consumer_type: Option<String>,
}

/// A consumer's allocations as `GET /allocations/{consumer}` shows them.
pub struct ConsumerView {
    pub consumer: Option<Consumer>,
    /// provider → (provider generation, class → amount)
    pub allocations: BTreeMap<String, (i64, BTreeMap<String, i64>)>,
}

/// One consumer type's share of a project's usage.
#[derive(Debug, Clone, Default)]
pub struct TypeUsage {
    pub consumers: BTreeSet<String>,
    pub usage: BTreeMap<String, i64>,
}

/// The outcome of one attempt at a write transaction.
pub(crate) enum Attempt<T> {
    Done(T),
    /// A provider generation moved between our read and our compare-and-set: start again.
    ProviderMoved,
}

fn capacity_error(rc: &str, provider: &str, what: &str) -> PlacementError {
    PlacementError::Conflict(format!("Unable to allocate inventory: Unable to create allocation for '{rc}' on resource provider '{provider}'. The requested amount would {what}."))
}

fn consumer_conflict(expected: &str, got: &str) -> PlacementError {
    PlacementError::ConcurrentUpdate(format!("consumer generation conflict - expected {expected} but got {got}"))
}

impl App {
    /// Checks that every provider and class named exists (400 otherwise, as upstream).
    pub(crate) async fn allocations_validate(&self, list: &[ConsumerAllocations]) -> Result<()> {
        let mut seen_p = BTreeSet::new();
        let mut seen_rc = BTreeSet::new();
        for c in list {
            for (p, classes) in &c.allocations {
                if seen_p.insert(p.clone()) && pdb::provider_get(&self.db, p).await?.is_none() {
                    return Err(PlacementError::BadRequest(format!("Allocation for resource provider '{p}' that does not exist.")));
                }
                for rc in classes.keys() {
                    if seen_rc.insert(rc.clone()) && self.resource_class_check(rc).await.is_err() {
                        return Err(PlacementError::BadRequest(format!("Unable to allocate inventory: No such resource class {rc}.")));
                    }
                }
            }
        }
        Ok(())
    }

    /// `PUT /allocations/{consumer}` and `POST /allocations`: replaces the allocations of
    /// every consumer in `list`, all or nothing.
    pub async fn allocations_write(&self, ctx: &RequestContext, list: &[ConsumerAllocations], rule: &str) -> Result<()> {
        self.enforce(ctx, rule)?;
        self.allocations_validate(list).await?;
        for attempt in 0..RETRIES {
            let mut tx = self.db.begin().await?;
            let result = async {
                let touched = apply_consumers(&mut tx, list).await?;
                check_and_bump(&mut tx, &touched, list, &BTreeMap::new()).await
            }
            .await;
            if let Ok(Attempt::Done(())) = result {
                tx.commit().await?;
                return Ok(());
            }
            tx.rollback().await?;
            match result {
                Ok(_) => {}
                Err(e) if e.is_retryable() => {}
                Err(e) => return Err(e),
            }
            tracing::debug!(attempt, "provider generation moved during an allocation write; retrying");
            // A short jittered pause, so racing writers do not collide again in lockstep.
            let jitter = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos() % 4000).unwrap_or(0);
            tokio::time::sleep(std::time::Duration::from_micros(u64::from(jitter) + 1000 * attempt as u64)).await;
        }
        Err(PlacementError::ConcurrentUpdate("Another thread concurrently updated the resource provider data. Please retry your update".into()))
    }

    pub async fn allocations_delete(&self, ctx: &RequestContext, consumer: &str) -> Result<()> {
        self.enforce(ctx, "placement:allocations:delete")?;
        in_tx!(self.db, tx, {
            if adb::allocation_list_by_consumer_tx(&mut tx, consumer).await?.is_empty() {
                return Err(PlacementError::NotFound(format!("No allocations for consumer '{consumer}'")));
            }
            adb::allocation_delete_by_consumer(&mut tx, consumer).await?;
            adb::consumer_delete(&mut tx, consumer).await?;
            Ok(())
        })
    }

    pub async fn allocations_for_consumer(&self, ctx: &RequestContext, consumer: &str) -> Result<ConsumerView> {
        self.enforce(ctx, "placement:allocations:list")?;
        let rows = adb::allocation_list_by_consumer(&self.db, consumer).await?;
        let mut allocations: BTreeMap<String, (i64, BTreeMap<String, i64>)> = BTreeMap::new();
        for a in rows {
            if !allocations.contains_key(&a.resource_provider_uuid) {
                let generation = pdb::provider_get(&self.db, &a.resource_provider_uuid).await?.map(|p| p.generation).unwrap_or(0);
                allocations.insert(a.resource_provider_uuid.clone(), (generation, BTreeMap::new()));
            }
            if let Some((_, m)) = allocations.get_mut(&a.resource_provider_uuid) {
                m.insert(a.resource_class, a.used);
            }
        }
        let consumer = if allocations.is_empty() { None } else { adb::consumer_get(&self.db, consumer).await? };
        Ok(ConsumerView { consumer, allocations })
    }

    pub async fn allocations_for_provider(&self, ctx: &RequestContext, uuid: &str) -> Result<(Provider, Vec<Allocation>)> {
        let p = self.provider_get(ctx, uuid, "placement:resource_providers:allocations:list").await?;
        Ok((p, adb::allocation_list_by_provider(&self.db, uuid).await?))
    }

    /// `GET /resource_providers/{uuid}/usages`: every inventoried class, 0 when unused.
    pub async fn provider_usages(&self, ctx: &RequestContext, uuid: &str) -> Result<(Provider, BTreeMap<String, i64>)> {
        let p = self.provider_get(ctx, uuid, "placement:resource_providers:usages").await?;
        let mut usages: BTreeMap<String, i64> = adb::inventory_list(&self.db, uuid).await?.into_iter().map(|i| (i.resource_class, 0)).collect();
        for (rc, n) in adb::usage_by_provider(&self.db, uuid).await? {
            usages.insert(rc, n);
        }
        Ok((p, usages))
    }

    /// `GET /usages?project_id=&user_id=`: usage by consumer type (None = untyped), with the
    /// consumers counted per type.
    pub async fn project_usages(&self, ctx: &RequestContext, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<Option<String>, TypeUsage>> {
        self.enforce_target(ctx, "placement:usages", &json!({"project_id": project_id, "user_id": user_id}))?;
        let mut out: BTreeMap<Option<String>, TypeUsage> = BTreeMap::new();
        for (ctype, rc, used, consumer) in adb::usage_by_project(&self.db, project_id, user_id).await? {
            let e = out.entry(ctype).or_default();
            e.consumers.insert(consumer);
            *e.usage.entry(rc).or_insert(0) += used;
        }
        Ok(out)
    }
}

/// Replaces each consumer's rows (checking consumer generations); returns the providers that
/// receive resources.
pub(crate) async fn apply_consumers(tx: &mut Tx, list: &[ConsumerAllocations]) -> Result<BTreeSet<String>> {
    let mut touched = BTreeSet::new();
    for c in list {
        let existing = adb::consumer_get_tx(tx, &c.consumer_uuid).await?;
        match (c.generation, &existing) {
            (ConsumerGeneration::New, Some(e)) => return Err(consumer_conflict("null", &e.generation.to_string())),
            (ConsumerGeneration::Is(g), None) => return Err(consumer_conflict(&g.to_string(), "None")),
            (ConsumerGeneration::Is(g), Some(e)) if e.generation != g => return Err(consumer_conflict(&g.to_string(), &e.generation.to_string())),
            _ => {}
        }
        adb::allocation_delete_by_consumer(tx, &c.consumer_uuid).await?;
        if c.allocations.values().all(|m| m.is_empty()) {
            if existing.is_some() {
                adb::consumer_delete(tx, &c.consumer_uuid).await?;
            }
            continue;
        }
        let record = Consumer {
            uuid: c.consumer_uuid.clone(),
            project_id: c.project_id.clone().or_else(|| existing.as_ref().map(|e| e.project_id.clone())).unwrap_or_else(|| INCOMPLETE_CONSUMER_ID.into()),
            user_id: c.user_id.clone().or_else(|| existing.as_ref().map(|e| e.user_id.clone())).unwrap_or_else(|| INCOMPLETE_CONSUMER_ID.into()),
            consumer_type: c.consumer_type.clone().or_else(|| existing.as_ref().and_then(|e| e.consumer_type.clone())),
            generation: 0,
        };
        match &existing {
            None => match adb::consumer_create(tx, &record).await {
                Ok(()) => {}
                Err(db::DbError::Duplicate(_)) => return Err(consumer_conflict("null", "0")),
                Err(e) => return Err(e.into()),
            },
            Some(e) => {
                if !adb::consumer_update(tx, &record, e.generation).await? {
                    return Err(consumer_conflict(&e.generation.to_string(), "a newer generation"));
                }
            }
        }
        for (p, classes) in &c.allocations {
            for (rc, used) in classes {
                adb::allocation_create(tx, &Allocation { consumer_uuid: c.consumer_uuid.clone(), resource_provider_uuid: p.clone(), resource_class: rc.clone(), used: *used }).await?;
            }
            if !classes.is_empty() {
                touched.insert(p.clone());
            }
        }
    }
    Ok(touched)
}

/// The capacity check and the generation compare-and-set for every provider in `touched`.
/// `client_generations` holds generations a client asserted (the reshaper); for the others
/// the generation read here is the one compared.
pub(crate) async fn check_and_bump(tx: &mut Tx, touched: &BTreeSet<String>, list: &[ConsumerAllocations], client_generations: &BTreeMap<String, i64>) -> Result<Attempt<()>> {
    for p in touched {
        // Generation first, then usage: if a concurrent writer commits in between, our
        // compare-and-set below fails and we retry with its rows visible.
        let provider = pdb::provider_get_tx(tx, p).await?.ok_or_else(|| PlacementError::BadRequest(format!("Allocation for resource provider '{p}' that does not exist.")))?;
        let usage = adb::usage_by_provider_tx(tx, p).await?;
        let inventories: BTreeMap<String, _> = adb::inventory_list_tx(tx, p).await?.into_iter().map(|i| (i.resource_class.clone(), i)).collect();
        for c in list {
            for (rc, amount) in c.allocations.get(p).into_iter().flatten() {
                let Some(inv) = inventories.get(rc) else {
                    return Err(PlacementError::Conflict(format!("Unable to allocate inventory: Inventory for '{rc}' on resource provider '{p}' invalid.")));
                };
                if *amount < inv.min_unit || *amount > inv.max_unit || inv.step_size <= 0 || amount % inv.step_size != 0 {
                    return Err(capacity_error(rc, p, "violate inventory constraints"));
                }
                if usage.get(rc).copied().unwrap_or(0) > inv.capacity() {
                    return Err(capacity_error(rc, p, "exceed the capacity"));
                }
            }
        }
        let expected = client_generations.get(p).copied().unwrap_or(provider.generation);
        if !pdb::provider_bump_generation(tx, p, expected).await? {
            if client_generations.contains_key(p) {
                return Err(super::providers::generation_conflict(p));
            }
            return Ok(Attempt::ProviderMoved);
        }
    }
    Ok(Attempt::Done(()))
}

