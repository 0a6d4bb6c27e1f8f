//! Allocation candidates (placement/objects/allocation_candidate.py and research_context.py):
//! which sets of providers could satisfy a request, computed over an in-memory snapshot of
//! providers, inventories, usages, traits and aggregates (a few indexed scans per request, so
//! thousands of providers cost milliseconds). The same filters serve `GET /resource_providers`.
//!
//! What we follow from upstream:
//! - the unsuffixed group's resources may come from several providers of one tree (each class
//!   from one provider) and from sharing providers (`MISC_SHARES_VIA_AGGREGATE` in an
//!   aggregate with a provider of the tree); its required/forbidden traits are checked
//!   against the union of the traits of the providers it uses;
//! - each suffixed group (`resources1=`, `required1=`, ...; any suffix from 1.33) is met by one
//!   provider, which must itself have the group's traits; a group without resources (1.36,
//!   only inside `same_subtree`) names a provider by traits alone and appears in `mappings`
//!   but not in `allocations`;
//! - `group_policy=isolate` gives each suffixed group a different provider;
//! - `member_of` (any-of with `in:`, repeated = all of, `!` = none of) and `in_tree` filter
//!   the providers a group may use; `root_required` filters on the tree's root;
//!   `same_subtree` asks that the providers of the named groups have a common ancestor among
//!   them;
//! - before 1.29 only requests made of root providers (no nesting) are returned.

use std::collections::{BTreeMap, BTreeSet};

use db::Db;

use crate::db::allocations::{self as adb, Inventory};
use crate::db::providers::{self as pdb, Provider};
use crate::error::Result;
use crate::standard::SHARES_VIA_AGGREGATE;

/// Required and forbidden traits: every inner set of `required` must meet the provider(s)'
/// traits in at least one member (a plain trait is a set of one; `in:A,B` is a set of two).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraitFilter {
    pub required: Vec<BTreeSet<String>>,
    pub forbidden: BTreeSet<String>,
}

impl TraitFilter {
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.forbidden.is_empty()
    }

    pub fn matches(&self, traits: &BTreeSet<String>) -> bool {
        self.required.iter().all(|any| any.iter().any(|t| traits.contains(t))) && self.forbidden.iter().all(|t| !traits.contains(t))
    }

    /// Every trait the filter names (to check they exist).
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.required.iter().flatten().chain(self.forbidden.iter())
    }
}

/// Aggregate membership: each inner set is an any-of (`member_of=in:a,b`); repeated
/// `member_of` must all hold; `forbidden` aggregates must not contain the provider.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AggregateFilter {
    pub required: Vec<BTreeSet<String>>,
    pub forbidden: BTreeSet<String>,
}

impl AggregateFilter {
    pub fn matches(&self, aggregates: &BTreeSet<String>) -> bool {
        self.required.iter().all(|any| any.iter().any(|a| aggregates.contains(a))) && self.forbidden.iter().all(|a| !aggregates.contains(a))
    }
}

/// One request group: the unsuffixed one (suffix "") or a granular one.
#[derive(Debug, Clone, Default)]
pub struct RequestGroup {
    pub suffix: String,
    pub resources: BTreeMap<String, i64>,
    pub traits: TraitFilter,
    pub member_of: AggregateFilter,
    pub in_tree: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupPolicy {
    None,
    Isolate,
}

/// A whole `GET /allocation_candidates` request.
#[derive(Debug, Clone, Default)]
pub struct CandidateRequest {
    pub groups: Vec<RequestGroup>,
    pub group_policy: Option<GroupPolicy>,
    pub limit: Option<usize>,
    pub root_required: TraitFilter,
    pub same_subtree: Vec<Vec<String>>,
    /// Before 1.29: only allocation requests made of root providers.
    pub nested: bool,
}

/// Everything the filters look at, read once.
pub struct Snapshot {
    pub providers: BTreeMap<String, Provider>,
    /// Provider uuids in creation order (listing order).
    pub order: Vec<String>,
    pub inventories: BTreeMap<String, BTreeMap<String, Inventory>>,
    pub usages: BTreeMap<(String, String), i64>,
    pub traits: BTreeMap<String, BTreeSet<String>>,
    pub aggregates: BTreeMap<String, BTreeSet<String>>,
    /// root → the providers of its tree, in listing order.
    pub trees: BTreeMap<String, Vec<String>>,
}

static EMPTY: BTreeSet<String> = BTreeSet::new();

impl Snapshot {
    pub async fn load(db: &Db) -> Result<Snapshot> {
        let list = pdb::provider_list(db).await?;
        let order = list.iter().map(|p| p.uuid.clone()).collect();
        let mut trees: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in &list {
            trees.entry(p.root_provider_uuid.clone()).or_default().push(p.uuid.clone());
        }
        let providers = list.into_iter().map(|p| (p.uuid.clone(), p)).collect();
        let inventories = adb::inventory_list_all(db).await?.into_iter().map(|(k, v)| (k, v.into_iter().map(|i| (i.resource_class.clone(), i)).collect())).collect();
        Ok(Snapshot { providers, order, inventories, usages: adb::usage_all(db).await?, traits: pdb::provider_traits_all(db).await?, aggregates: pdb::provider_aggregates_all(db).await?, trees })
    }

    pub fn traits_of(&self, p: &str) -> &BTreeSet<String> {
        self.traits.get(p).unwrap_or(&EMPTY)
    }

    pub fn aggregates_of(&self, p: &str) -> &BTreeSet<String> {
        self.aggregates.get(p).unwrap_or(&EMPTY)
    }

    pub fn used(&self, p: &str, rc: &str) -> i64 {
        self.usages.get(&(p.to_string(), rc.to_string())).copied().unwrap_or(0)
    }

    pub fn root_of(&self, p: &str) -> Option<&str> {
        self.providers.get(p).map(|x| x.root_provider_uuid.as_str())
    }

    /// Whether `amount` more of `rc` (on top of `extra` already planned) fits on `p`:
    /// inventory exists, min_unit ≤ amount ≤ max_unit, a multiple of step_size, and within
    /// capacity.
    pub fn fits(&self, p: &str, rc: &str, amount: i64, extra: i64) -> bool {
        let Some(inv) = self.inventories.get(p).and_then(|m| m.get(rc)) else { return false };
        amount >= inv.min_unit && amount <= inv.max_unit && inv.step_size > 0 && amount % inv.step_size == 0 && self.used(p, rc) + extra + amount <= inv.capacity()
    }

    /// Whether `ancestor` is `p` or one of its ancestors.
    fn is_ancestor_or_self(&self, ancestor: &str, p: &str) -> bool {
        let mut cur = Some(p.to_string());
        let mut hops = 0;
        while let Some(c) = cur {
            if c == ancestor {
                return true;
            }
            hops += 1;
            if hops > 1000 {
                return false;
            }
            cur = self.providers.get(&c).and_then(|x| x.parent_provider_uuid.clone());
        }
        false
    }

    /// `GET /resource_providers` filtering on the provider itself.
    pub fn provider_matches(&self, p: &Provider, resources: &BTreeMap<String, i64>, traits: &TraitFilter, member_of: &AggregateFilter) -> bool {
        resources.iter().all(|(rc, n)| self.fits(&p.uuid, rc, *n, 0)) && traits.matches(self.traits_of(&p.uuid)) && member_of.matches(self.aggregates_of(&p.uuid))
    }
}

/// One allocation request: provider → class → amount, and group suffix → providers.
#[derive(Debug, Clone, PartialEq)]
pub struct AllocationRequest {
    pub allocations: BTreeMap<String, BTreeMap<String, i64>>,
    pub mappings: BTreeMap<String, Vec<String>>,
}

/// The answer: the requests, and the providers to summarize (with, per provider, the classes
/// to show when the caller wants only the requested ones).
pub struct Candidates {
    pub requests: Vec<AllocationRequest>,
    pub summary_providers: Vec<String>,
}

/// How many combinations one tree may produce before we stop looking (a guard against a
/// pathological request exploding; upstream has the same kind of cap).
const MAX_PER_TREE: usize = 1000;

/// A group's choice within one combination: class → provider, plus the provider chosen for a
/// resourceless group.
type Choice = (BTreeMap<String, String>, Option<String>);

pub fn allocation_candidates(snap: &Snapshot, req: &CandidateRequest, shuffle: bool) -> Candidates {
    let sharing: Vec<&String> = snap.order.iter().filter(|p| snap.traits_of(p).contains(SHARES_VIA_AGGREGATE)).collect();
    let in_tree_root = |g: &RequestGroup| g.in_tree.as_ref().map(|t| snap.root_of(t).map(str::to_string));
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for root in snap.order.iter().filter(|p| snap.providers.get(*p).is_some_and(|x| x.parent_provider_uuid.is_none())) {
        // In order (not shuffled), the first `limit` requests are the answer: stop there.
        if !shuffle && req.limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        if !req.root_required.matches(snap.traits_of(root)) {
            continue;
        }
        let tree: Vec<&String> = snap.trees.get(root).map(|t| t.iter().collect()).unwrap_or_default();
        let tree_aggs: BTreeSet<&String> = tree.iter().flat_map(|p| snap.aggregates_of(p).iter()).collect();
        let shared: Vec<&String> = sharing.iter().copied().filter(|s| snap.root_of(s) != Some(root.as_str()) && snap.aggregates_of(s).iter().any(|a| tree_aggs.contains(a))).collect();
        let mut choices_per_group: Vec<Vec<Choice>> = Vec::new();
        let mut possible = true;
        for g in &req.groups {
            let restrict = in_tree_root(g);
            let eligible: Vec<&String> = tree
                .iter()
                .chain(shared.iter())
                .copied()
                .filter(|p| match &restrict {
                    Some(Some(r)) => snap.root_of(p) == Some(r.as_str()),
                    Some(None) => false,
                    None => true,
                })
                .filter(|p| g.member_of.matches(snap.aggregates_of(p)))
                .collect();
            let choices = if g.suffix.is_empty() { unsuffixed_choices(snap, g, &eligible) } else { suffixed_choices(snap, g, &eligible) };
            if choices.is_empty() {
                possible = false;
                break;
            }
            choices_per_group.push(choices);
        }
        if !possible {
            continue;
        }
        let mut produced = 0;
        let mut index = vec![0usize; choices_per_group.len()];
        'combos: loop {
            if let Some(r) = combine(snap, req, root, &choices_per_group, &index) {
                let flat = req.nested || r.allocations.keys().all(|p| snap.providers.get(p).is_some_and(|x| x.parent_provider_uuid.is_none()));
                let key = format!("{:?}|{:?}", r.allocations, r.mappings);
                if flat && seen.insert(key) {
                    out.push(r);
                    produced += 1;
                    if produced >= MAX_PER_TREE {
                        break;
                    }
                }
            }
            // Next combination (odometer order).
            let mut i = index.len();
            loop {
                if i == 0 {
                    break 'combos;
                }
                i -= 1;
                index[i] += 1;
                if index[i] < choices_per_group[i].len() {
                    break;
                }
                index[i] = 0;
            }
            if index.is_empty() {
                break;
            }
        }
    }
    if shuffle {
        shuffle_in_place(&mut out);
    }
    if let Some(limit) = req.limit {
        out.truncate(limit);
    }
    let mut summary: BTreeSet<String> = BTreeSet::new();
    let mut roots: BTreeSet<&str> = BTreeSet::new();
    for r in &out {
        for p in r.allocations.keys().chain(r.mappings.values().flatten()) {
            summary.insert(p.clone());
            if req.nested {
                if let Some(root) = snap.root_of(p) {
                    roots.insert(root);
                }
            }
        }
    }
    for root in roots {
        summary.extend(snap.trees.get(root).into_iter().flatten().cloned());
    }
    let summary_providers = snap.order.iter().filter(|p| summary.contains(*p)).cloned().collect();
    Candidates { requests: out, summary_providers }
}

/// The unsuffixed group: each class from one eligible provider that can hold it.
fn unsuffixed_choices(snap: &Snapshot, g: &RequestGroup, eligible: &[&String]) -> Vec<Choice> {
    if g.resources.is_empty() {
        return vec![(BTreeMap::new(), None)];
    }
    let per_class: Vec<(&String, Vec<&String>)> =
        g.resources.iter().map(|(rc, n)| (rc, eligible.iter().copied().filter(|p| snap.fits(p, rc, *n, 0)).collect())).collect();
    if per_class.iter().any(|(_, ps)| ps.is_empty()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut index = vec![0usize; per_class.len()];
    loop {
        let choice: BTreeMap<String, String> = per_class.iter().zip(&index).map(|((rc, ps), i)| ((*rc).clone(), ps[*i].clone())).collect();
        let used: BTreeSet<&String> = choice.values().collect();
        let union: BTreeSet<String> = used.iter().flat_map(|p| snap.traits_of(p).iter().cloned()).collect();
        let forbidden_ok = used.iter().all(|p| g.traits.forbidden.iter().all(|t| !snap.traits_of(p).contains(t)));
        let required_ok = g.traits.required.iter().all(|any| any.iter().any(|t| union.contains(t)));
        if forbidden_ok && required_ok {
            out.push((choice, None));
            if out.len() >= MAX_PER_TREE {
                break;
            }
        }
        let mut i = index.len();
        loop {
            if i == 0 {
                return out;
            }
            i -= 1;
            index[i] += 1;
            if index[i] < per_class[i].1.len() {
                break;
            }
            index[i] = 0;
        }
    }
    out
}

/// A suffixed group: one provider with every class and the traits.
fn suffixed_choices(snap: &Snapshot, g: &RequestGroup, eligible: &[&String]) -> Vec<Choice> {
    eligible
        .iter()
        .filter(|p| g.traits.matches(snap.traits_of(p)) && g.resources.iter().all(|(rc, n)| snap.fits(p, rc, *n, 0)))
        .map(|p| {
            if g.resources.is_empty() {
                (BTreeMap::new(), Some((*p).clone()))
            } else {
                (g.resources.keys().map(|rc| (rc.clone(), (*p).clone())).collect(), None)
            }
        })
        .collect()
}

/// One combination of group choices, if it is valid as a whole.
fn combine(snap: &Snapshot, req: &CandidateRequest, root: &str, choices: &[Vec<Choice>], index: &[usize]) -> Option<AllocationRequest> {
    let mut allocations: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut mappings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut suffixed_providers: Vec<BTreeSet<String>> = Vec::new();
    for (g, (group_choices, i)) in req.groups.iter().zip(choices.iter().zip(index)) {
        let (by_class, resourceless) = &group_choices[*i];
        let mut providers: BTreeSet<String> = by_class.values().cloned().collect();
        if let Some(p) = resourceless {
            providers.insert(p.clone());
        }
        for (rc, p) in by_class {
            let amount = g.resources.get(rc).copied().unwrap_or(0);
            *allocations.entry(p.clone()).or_default().entry(rc.clone()).or_insert(0) += amount;
        }
        if !g.suffix.is_empty() {
            suffixed_providers.push(providers.clone());
        }
        mappings.insert(g.suffix.clone(), providers.into_iter().collect());
    }
    // Two groups on one provider: their sum must fit too.
    for (p, classes) in &allocations {
        for (rc, n) in classes {
            let inv = snap.inventories.get(p).and_then(|m| m.get(rc))?;
            if snap.used(p, rc) + n > inv.capacity() {
                return None;
            }
        }
    }
    if req.group_policy == Some(GroupPolicy::Isolate) {
        let mut all = BTreeSet::new();
        for set in &suffixed_providers {
            for p in set {
                if !all.insert(p.clone()) {
                    return None;
                }
            }
        }
    }
    for names in &req.same_subtree {
        let ps: BTreeSet<&String> = names.iter().filter_map(|s| mappings.get(s)).flatten().collect();
        if !ps.iter().any(|a| ps.iter().all(|p| snap.is_ancestor_or_self(a, p))) {
            return None;
        }
    }
    // The unsuffixed group's traits when it has no resources: on the providers used at all.
    if let Some(g) = req.groups.iter().find(|g| g.suffix.is_empty() && g.resources.is_empty() && !g.traits.is_empty()) {
        let used: BTreeSet<&String> = mappings.values().flatten().collect();
        let union: BTreeSet<String> = used.iter().flat_map(|p| snap.traits_of(p).iter().cloned()).collect();
        if !g.traits.matches(&union) {
            return None;
        }
    }
    // A request made only of sharing providers of other trees is reported from their own tree.
    let touches_tree = mappings.values().flatten().any(|p| snap.root_of(p) == Some(root));
    if !touches_tree {
        return None;
    }
    mappings.retain(|_, v| !v.is_empty());
    Some(AllocationRequest { allocations, mappings })
}

/// A small xorshift shuffle seeded from the clock: candidates need not be cryptographically
/// random, only spread so concurrent schedulers pick different hosts.
fn shuffle_in_place<T>(v: &mut [T]) {
    let mut x = (common::time::to_micros(common::time::now()) as u64) | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

impl super::App {
    /// `GET /allocation_candidates` (authorization is the handler's first step).
    pub async fn allocation_candidates(&self, _ctx: &auth::RequestContext, req: &CandidateRequest) -> Result<(Snapshot, Candidates)> {
        let snap = Snapshot::load(&self.db).await?;
        let c = allocation_candidates(&snap, req, self.cfg.randomize_allocation_candidates);
        Ok((snap, c))
    }
}
