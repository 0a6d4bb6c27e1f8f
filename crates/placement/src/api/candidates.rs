//! `GET /allocation_candidates` (placement/handlers/allocation_candidate.py): the query
//! string's request groups, and the answer in the version's shape.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::body::{Mv, QueryPairs};
use super::providers::{parse_member_of, parse_required, parse_resources};
use super::Ctx;
use crate::app::candidates::{CandidateRequest, GroupPolicy, RequestGroup};
use crate::app::{normalize_uuid, SharedApp};
use crate::error::{codes, PlacementError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new().route("/allocation_candidates", get(list))
}

/// Splits a key into (base, suffix): `resources1` → ("resources", "1").
fn split_key(key: &str) -> Option<(&'static str, &str)> {
    for base in ["resources", "required", "member_of", "in_tree"] {
        if let Some(rest) = key.strip_prefix(base) {
            return Some((base, rest));
        }
    }
    None
}

fn valid_suffix(s: &str, mv: &Mv) -> bool {
    if mv.at_least(33) {
        !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    } else {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
    }
}

/// Parses the query into a [`CandidateRequest`] (without checking names exist).
pub fn parse_request(q: &QueryPairs, mv: &Mv) -> Result<CandidateRequest> {
    let mut groups: BTreeMap<String, RequestGroup> = BTreeMap::new();
    let mut req = CandidateRequest { nested: mv.at_least(29), ..Default::default() };
    let mut seen_single: Vec<String> = Vec::new();
    for (key, value) in &q.0 {
        match key.as_str() {
            "limit" if mv.at_least(16) => {
                let n: usize = value.parse().ok().filter(|n| *n >= 1).ok_or_else(|| PlacementError::bad_value(format!("Invalid query string parameters: '{value}' does not match '^[1-9][0-9]*$' (in 'limit')")))?;
                req.limit = Some(n);
                continue;
            }
            "group_policy" if mv.at_least(25) => {
                req.group_policy = Some(match value.as_str() {
                    "none" => GroupPolicy::None,
                    "isolate" => GroupPolicy::Isolate,
                    _ => return Err(PlacementError::bad_value(format!("Invalid query string parameters: '{value}' is not one of ['none', 'isolate'] (in 'group_policy')"))),
                });
                continue;
            }
            "root_required" if mv.at_least(35) => {
                parse_required(&[value.as_str()], mv, &mut req.root_required)?;
                continue;
            }
            "same_subtree" if mv.at_least(36) => {
                let names: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
                if names.iter().any(|n| n.is_empty()) {
                    return Err(PlacementError::bad_value(format!("Invalid query string parameters: Expected 'same_subtree' parameter value of the form: _COMPUTE,_ACCEL. Got: {value}")));
                }
                req.same_subtree.push(names);
                continue;
            }
            _ => {}
        }
        let (base, suffix) = split_key(key).ok_or_else(|| PlacementError::BadRequest(format!("Invalid query string parameters: Additional properties are not allowed ('{key}' was unexpected)")))?;
        let allowed_base = match base {
            "required" => mv.at_least(17),
            "member_of" => mv.at_least(21),
            "in_tree" => mv.at_least(31),
            _ => true,
        };
        if !allowed_base || (!suffix.is_empty() && (!mv.at_least(25) || !valid_suffix(suffix, mv))) {
            return Err(PlacementError::BadRequest(format!("Invalid query string parameters: Additional properties are not allowed ('{key}' was unexpected)")));
        }
        let g = groups.entry(suffix.to_string()).or_insert_with(|| RequestGroup { suffix: suffix.to_string(), ..Default::default() });
        let repeatable = base == "member_of" || (base == "required" && mv.at_least(39));
        if !repeatable {
            if seen_single.contains(key) {
                return Err(PlacementError::BadQuery { code: codes::ILLEGAL_DUPLICATE_QUERYPARAM, message: format!("Query parameter {key:?} may be provided only once.") });
            }
            seen_single.push(key.clone());
        }
        match base {
            "resources" => g.resources = parse_resources(value)?,
            "required" => parse_required(&[value.as_str()], mv, &mut g.traits)?,
            "member_of" => parse_member_of(&[value.as_str()], mv, &mut g.member_of)?,
            _ => g.in_tree = Some(normalize_uuid(value).ok_or_else(|| PlacementError::bad_value(format!("Invalid query string parameters: Expected 'in_tree' parameter to be a format of uuid. Got: {value}")))?),
        }
    }
    let subtree_suffixes: Vec<&String> = req.same_subtree.iter().flatten().collect();
    for s in &subtree_suffixes {
        if !groups.contains_key(s.as_str()) {
            return Err(PlacementError::bad_value(format!("Real suffixes should be specified in 'same_subtree': {s} not found in []")));
        }
    }
    for (suffix, g) in &groups {
        if g.resources.is_empty() && !suffix.is_empty() && !(mv.at_least(36) && subtree_suffixes.contains(&suffix)) {
            return Err(PlacementError::bad_value(format!("All request groups must specify resources. Group {suffix:?} has none.")));
        }
    }
    if groups.values().all(|g| g.resources.is_empty()) {
        return Err(PlacementError::BadQuery { code: codes::QUERYPARAM_MISSING_VALUE, message: "At least one request group (`resources` or `resources{$S}`) is required.".into() });
    }
    let suffixed = groups.keys().filter(|s| !s.is_empty()).count();
    if suffixed > 1 && req.group_policy.is_none() {
        return Err(PlacementError::BadRequest("The \"group_policy\" parameter is required when specifying more than one \"resources{N}\" parameter.".into()));
    }
    // The unsuffixed group first, then the others in suffix order.
    req.groups = groups.into_values().collect();
    Ok(req)
}

async fn list(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, q: QueryPairs) -> Result<Json<Value>> {
    mv.require(10)?;
    app.enforce(&ctx, "placement:allocation_candidates:list")?;
    let req = parse_request(&q, &mv)?;
    for g in &req.groups {
        for rc in g.resources.keys() {
            app.resource_class_check(rc).await?;
        }
    }
    let all_traits: Vec<&String> = req.groups.iter().flat_map(|g| g.traits.names()).chain(req.root_required.names()).collect();
    for t in all_traits {
        if !app.trait_known(t).await? {
            return Err(PlacementError::BadRequest(format!("No such trait(s): {t}")));
        }
    }
    let (snap, cands) = app.allocation_candidates(&ctx, &req).await?;
    let requests: Vec<Value> = cands
        .requests
        .iter()
        .map(|r| {
            if mv.at_least(12) {
                let allocations: Map<String, Value> = r.allocations.iter().map(|(p, res)| (p.clone(), json!({"resources": res}))).collect();
                let mut v = json!({"allocations": allocations});
                if mv.at_least(34) {
                    v["mappings"] = json!(r.mappings);
                }
                v
            } else {
                let list: Vec<Value> = r.allocations.iter().map(|(p, res)| json!({"resource_provider": {"uuid": p}, "resources": res})).collect();
                json!({"allocations": list})
            }
        })
        .collect();
    let requested: Vec<&String> = req.groups.iter().flat_map(|g| g.resources.keys()).collect();
    let mut summaries = Map::new();
    for p in &cands.summary_providers {
        let mut resources = Map::new();
        for (rc, inv) in snap.inventories.get(p).into_iter().flatten() {
            if mv.at_least(27) || requested.contains(&rc) {
                resources.insert(rc.clone(), json!({"capacity": inv.capacity(), "used": snap.used(p, rc)}));
            }
        }
        let mut s = json!({"resources": resources});
        if mv.at_least(17) {
            s["traits"] = json!(snap.traits_of(p));
        }
        if mv.at_least(29) {
            let prov = snap.providers.get(p);
            s["parent_provider_uuid"] = json!(prov.and_then(|x| x.parent_provider_uuid.clone()));
            s["root_provider_uuid"] = json!(prov.map(|x| x.root_provider_uuid.clone()));
        }
        summaries.insert(p.clone(), s);
    }
    Ok(Json(json!({"allocation_requests": requests, "provider_summaries": summaries})))
}

