//! Resource providers and their trees (placement/handlers/resource_provider.py and
//! objects/resource_provider.py): create, show, list with filters, rename and (re)parent,
//! delete; and a provider's traits and aggregates, which are written with the provider's
//! generation as a compare-and-set.

use std::collections::{BTreeMap, BTreeSet};

use auth::RequestContext;

use super::candidates::{AggregateFilter, Snapshot, TraitFilter};
use super::App;
use crate::db::allocations as adb;
use crate::db::providers::{self as pdb, Provider};
use crate::error::{PlacementError, Result};

/// Filters of `GET /resource_providers`.
#[derive(Debug, Default)]
pub struct ProviderFilter {
    pub name: Option<String>,
    pub uuid: Option<String>,
    pub member_of: AggregateFilter,
    pub in_tree: Option<String>,
    pub resources: BTreeMap<String, i64>,
    pub required: TraitFilter,
}

/// A change to a provider (`PUT /resource_providers/{uuid}`).
pub struct ProviderUpdate {
    pub name: String,
    /// None: not given; Some(None): JSON null.
    pub parent_provider_uuid: Option<Option<String>>,
    /// From 1.37 a provider may move to another parent or become a root.
    pub allow_reparent: bool,
}

pub fn generation_conflict(uuid: &str) -> PlacementError {
    PlacementError::ConcurrentUpdate(format!("resource provider generation conflict: resource provider {uuid} was changed by another request; reload it and retry."))
}

pub fn provider_not_found(uuid: &str) -> PlacementError {
    PlacementError::NotFound(format!("No resource provider with uuid {uuid} found"))
}

impl App {
    pub async fn provider_get(&self, ctx: &RequestContext, uuid: &str, rule: &str) -> Result<Provider> {
        self.enforce(ctx, rule)?;
        pdb::provider_get(&self.db, uuid).await?.ok_or_else(|| provider_not_found(uuid))
    }

    pub async fn provider_create(&self, ctx: &RequestContext, name: &str, uuid: Option<String>, parent: Option<String>) -> Result<Provider> {
        self.enforce(ctx, "placement:resource_providers:create")?;
        let uuid = uuid.unwrap_or_else(common::ids::new_uuid);
        in_tx!(self.db, tx, {
            if pdb::provider_get_tx(&mut tx, &uuid).await?.is_some() {
                return Err(PlacementError::Conflict(format!("Conflicting resource provider uuid: {uuid} already exists.")));
            }
            if pdb::provider_get_by_name_tx(&mut tx, name).await?.is_some() {
                return Err(PlacementError::DuplicateName(format!("Conflicting resource provider name: {name} already exists.")));
            }
            let root = match &parent {
                Some(p) => {
                    let parent = pdb::provider_get_tx(&mut tx, p).await?.ok_or_else(|| PlacementError::BadRequest(format!("The provider {p} set as parent does not exist.")))?;
                    parent.root_provider_uuid
                }
                None => uuid.clone(),
            };
            let p = Provider { uuid: uuid.clone(), name: name.to_string(), generation: 0, parent_provider_uuid: parent, root_provider_uuid: root, updated_at: crate::db::now() };
            pdb::provider_create(&mut tx, &p).await.map_err(|e| match e {
                db::DbError::Duplicate(_) => PlacementError::DuplicateName(format!("Conflicting resource provider name: {name} already exists.")),
                e => e.into(),
            })?;
            Ok(p)
        })
    }

    pub async fn provider_update(&self, ctx: &RequestContext, uuid: &str, change: ProviderUpdate) -> Result<Provider> {
        self.enforce(ctx, "placement:resource_providers:update")?;
        in_tx!(self.db, tx, {
            let mut p = pdb::provider_get_tx(&mut tx, uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
            if p.name != change.name {
                if let Some(other) = pdb::provider_get_by_name_tx(&mut tx, &change.name).await? {
                    if other.uuid != p.uuid {
                        return Err(PlacementError::DuplicateName(format!("Conflicting resource provider name: {} already exists.", change.name)));
                    }
                }
            }
            p.name = change.name;
            let mut new_root = None;
            if let Some(parent) = change.parent_provider_uuid {
                if parent != p.parent_provider_uuid {
                    if p.parent_provider_uuid.is_some() && !change.allow_reparent {
                        return Err(PlacementError::BadRequest("re-parenting a provider is not currently allowed.".into()));
                    }
                    match &parent {
                        Some(np) => {
                            let target = pdb::provider_get_tx(&mut tx, np).await?.ok_or_else(|| PlacementError::BadRequest(format!("The provider {np} set as parent does not exist.")))?;
                            // The new parent must not be the provider or one of its descendants.
                            let mut cur = Some(target.clone());
                            while let Some(c) = cur {
                                if c.uuid == p.uuid {
                                    return Err(PlacementError::BadRequest("creating loop in the provider tree is not allowed.".into()));
                                }
                                cur = match c.parent_provider_uuid {
                                    Some(pp) => pdb::provider_get_tx(&mut tx, &pp).await?,
                                    None => None,
                                };
                            }
                            new_root = Some(target.root_provider_uuid);
                        }
                        None => new_root = Some(p.uuid.clone()),
                    }
                    p.parent_provider_uuid = parent;
                }
            }
            if let Some(root) = &new_root {
                p.root_provider_uuid = root.clone();
            }
            if !pdb::provider_update(&mut tx, &p, p.generation).await? {
                return Err(generation_conflict(uuid));
            }
            if let Some(root) = new_root {
                // The whole subtree moves with the provider.
                let mut stack = pdb::provider_children_tx(&mut tx, &p.uuid).await?;
                while let Some(c) = stack.pop() {
                    pdb::provider_set_root(&mut tx, &c, &root).await?;
                    stack.extend(pdb::provider_children_tx(&mut tx, &c).await?);
                }
            }
            Ok(p)
        })
    }

    pub async fn provider_delete(&self, ctx: &RequestContext, uuid: &str) -> Result<()> {
        self.enforce(ctx, "placement:resource_providers:delete")?;
        in_tx!(self.db, tx, {
            let p = pdb::provider_get_tx(&mut tx, uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
            if adb::provider_has_allocations_tx(&mut tx, uuid).await? {
                return Err(PlacementError::ProviderInUse(format!("Unable to delete resource provider {uuid}: Resource provider has allocations.")));
            }
            if !pdb::provider_children_tx(&mut tx, uuid).await?.is_empty() {
                return Err(PlacementError::CannotDeleteParent(format!(
                    "Unable to delete parent resource provider {uuid}: It has child resource providers."
                )));
            }
            // Bumping first makes a concurrent allocation on this provider fail its own check.
            if !pdb::provider_bump_generation(&mut tx, uuid, p.generation).await? {
                return Err(generation_conflict(uuid));
            }
            pdb::provider_delete(&mut tx, uuid).await?;
            Ok(())
        })
    }

    pub async fn provider_list(&self, ctx: &RequestContext, f: &ProviderFilter) -> Result<Vec<Provider>> {
        self.enforce(ctx, "placement:resource_providers:list")?;
        for rc in f.resources.keys() {
            self.resource_class_check(rc).await?;
        }
        for t in f.required.names() {
            if !self.trait_known(t).await? {
                return Err(PlacementError::BadRequest(format!("No such trait(s): {t}.")));
            }
        }
        let snap = Snapshot::load(&self.db).await?;
        let tree_root = match &f.in_tree {
            Some(t) => match snap.root_of(t) {
                Some(r) => Some(r.to_string()),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        Ok(snap
            .order
            .iter()
            .filter_map(|u| snap.providers.get(u))
            .filter(|p| f.name.as_ref().is_none_or(|n| &p.name == n))
            .filter(|p| f.uuid.as_ref().is_none_or(|u| &p.uuid == u))
            .filter(|p| tree_root.as_ref().is_none_or(|r| &p.root_provider_uuid == r))
            .filter(|p| snap.provider_matches(p, &f.resources, &f.required, &f.member_of))
            .cloned()
            .collect())
    }

    pub async fn provider_traits(&self, ctx: &RequestContext, uuid: &str) -> Result<(Provider, Vec<String>)> {
        let p = self.provider_get(ctx, uuid, "placement:resource_providers:traits:list").await?;
        Ok((p, pdb::provider_traits(&self.db, uuid).await?))
    }

    /// Replaces a provider's traits if its generation is still `generation`.
    pub async fn provider_traits_set(&self, ctx: &RequestContext, uuid: &str, generation: i64, traits: &BTreeSet<String>, rule: &str) -> Result<Provider> {
        self.enforce(ctx, rule)?;
        let mut unknown = Vec::new();
        for t in traits {
            if !self.trait_known(t).await? {
                unknown.push(t.clone());
            }
        }
        if !unknown.is_empty() {
            return Err(PlacementError::BadRequest(format!("No such trait(s): {}.", unknown.join(", "))));
        }
        in_tx!(self.db, tx, {
            let mut p = pdb::provider_get_tx(&mut tx, uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
            if p.generation != generation || !pdb::provider_bump_generation(&mut tx, uuid, generation).await? {
                return Err(generation_conflict(uuid));
            }
            pdb::provider_traits_replace(&mut tx, uuid, traits).await?;
            p.generation += 1;
            Ok(p)
        })
    }

    pub async fn provider_aggregates(&self, ctx: &RequestContext, uuid: &str) -> Result<(Provider, Vec<String>)> {
        let p = self.provider_get(ctx, uuid, "placement:resource_providers:aggregates:list").await?;
        Ok((p, pdb::provider_aggregates(&self.db, uuid).await?))
    }

    /// Replaces a provider's aggregates; with `generation` (1.19+) as a compare-and-set.
    pub async fn provider_aggregates_set(&self, ctx: &RequestContext, uuid: &str, generation: Option<i64>, aggregates: &BTreeSet<String>) -> Result<Provider> {
        self.enforce(ctx, "placement:resource_providers:aggregates:update")?;
        in_tx!(self.db, tx, {
            let mut p = pdb::provider_get_tx(&mut tx, uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
            let expected = generation.unwrap_or(p.generation);
            if p.generation != expected || !pdb::provider_bump_generation(&mut tx, uuid, expected).await? {
                return Err(generation_conflict(uuid));
            }
            pdb::provider_aggregates_replace(&mut tx, uuid, aggregates).await?;
            p.generation += 1;
            Ok(p)
        })
    }
}
