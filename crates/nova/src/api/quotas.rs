//! `/os-quota-sets`, `/os-quota-class-sets` and `/limits` (nova/api/openstack/compute/
//! quota_sets.py, quota_classes.py, limits.py and views/limits.py): which resources show
//! depends on the microversion (2.36 drops the nova-network ones from quota sets and limits,
//! 2.50 shows server groups in quota classes and drops the network ones there, 2.57 drops
//! the injected-file ones, 2.39 drops `maxImageMeta`).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::validation::{self as v, JsonBody};
use super::{Ctx, Mv};
use crate::app::quotas::RESOURCES;
use crate::app::SharedApp;
use crate::error::Result;

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2.1/os-quota-sets/{project_id}", get(show).put(update).delete(delete))
        .route("/v2.1/os-quota-sets/{project_id}/defaults", get(defaults))
        .route("/v2.1/os-quota-sets/{project_id}/detail", get(detail))
        .route("/v2.1/os-quota-class-sets/{class_name}", get(class_show).put(class_update))
        .route("/v2.1/limits", get(limits))
}

const NETWORK: &[&str] = &["fixed_ips", "floating_ips", "security_groups", "security_group_rules"];
const INJECTED: &[&str] = &["injected_files", "injected_file_content_bytes", "injected_file_path_bytes"];
const SERVER_GROUPS: &[&str] = &["server_groups", "server_group_members"];
const MAX_INT: i64 = 0x7FFF_FFFF;

/// Resources a quota set shows (and accepts) at this microversion.
fn quota_set_resources(mv: &Mv) -> Vec<&'static str> {
    RESOURCES.iter().copied().filter(|r| !((mv.0.at_least(2, 36) && NETWORK.contains(r)) || (mv.0.at_least(2, 57) && INJECTED.contains(r)))).collect()
}

/// Resources a quota class shows (and accepts) at this microversion.
fn quota_class_resources(mv: &Mv, for_update: bool) -> Vec<&'static str> {
    RESOURCES
        .iter()
        .copied()
        .filter(|r| !((mv.0.at_least(2, 50) && NETWORK.contains(r)) || (mv.0.at_least(2, 57) && INJECTED.contains(r))))
        .filter(|r| for_update || mv.0.at_least(2, 50) || !SERVER_GROUPS.contains(r))
        .collect()
}

fn user_id(query: &BTreeMap<String, String>) -> Option<&str> {
    query.get("user_id").map(String::as_str).filter(|u| !u.is_empty())
}

fn check_query(mv: &Mv, query: &BTreeMap<String, String>) -> Result<()> {
    if mv.0.at_least(2, 75) {
        v::no_extra_query(query, &["user_id"])?;
    }
    Ok(())
}

fn limits_body(id: Option<&str>, shown: &[&str], values: &BTreeMap<String, i64>) -> Value {
    let mut out = Map::new();
    if let Some(id) = id {
        out.insert("id".into(), json!(id));
    }
    for r in shown {
        if let Some(v) = values.get(*r) {
            out.insert(r.to_string(), json!(v));
        }
    }
    Value::Object(out)
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(project_id): Path<String>, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    check_query(&mv, &query)?;
    let q = app.quota_show(&ctx, "os_compute_api:os-quota-sets:show", &project_id, user_id(&query)).await?;
    let values = q.into_iter().map(|(r, u)| (r, u.limit)).collect();
    Ok(Json(json!({"quota_set": limits_body(Some(&project_id), &quota_set_resources(&mv), &values)})))
}

async fn detail(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(project_id): Path<String>, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    check_query(&mv, &query)?;
    let q = app.quota_show(&ctx, "os_compute_api:os-quota-sets:detail", &project_id, user_id(&query)).await?;
    let mut out = Map::new();
    out.insert("id".into(), json!(project_id));
    for r in quota_set_resources(&mv) {
        if let Some(u) = q.get(r) {
            out.insert(r.to_string(), json!({"in_use": u.in_use, "limit": u.limit, "reserved": 0}));
        }
    }
    Ok(Json(json!({"quota_set": out})))
}

async fn defaults(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(project_id): Path<String>) -> Result<Json<Value>> {
    let values = app.quota_show_defaults(&ctx, &project_id).await?;
    Ok(Json(json!({"quota_set": limits_body(Some(&project_id), &quota_set_resources(&mv), &values)})))
}

/// Reads `{wrapper: {resource: limit, ...}}`, refusing resources this microversion does not
/// accept; `force` is taken out when `allow_force`.
fn limits_from_body(body: &Value, wrapper: &str, accepted: &[&str], allow_force: bool) -> Result<(BTreeMap<String, i64>, bool)> {
    v::no_extra(body.as_object().ok_or_else(|| v::invalid(wrapper, body, "not an object"))?, &[wrapper], "")?;
    let obj = v::object(body, wrapper)?;
    let mut allowed: Vec<&str> = accepted.to_vec();
    if allow_force {
        allowed.push("force");
    }
    v::no_extra(obj, &allowed, wrapper)?;
    let mut force = false;
    let mut values = BTreeMap::new();
    for (k, val) in obj {
        if k == "force" {
            force = v::boolean(val, "force")?;
            continue;
        }
        values.insert(k.clone(), v::integer(val, k, -1, MAX_INT, true)?);
    }
    Ok((values, force))
}

async fn update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(project_id): Path<String>, Query(query): Query<BTreeMap<String, String>>, JsonBody(body): JsonBody) -> Result<Json<Value>> {
    check_query(&mv, &query)?;
    let shown = quota_set_resources(&mv);
    let (values, force) = limits_from_body(&body, "quota_set", &shown, true)?;
    let limits = app.quota_update(&ctx, &project_id, user_id(&query), &values, force).await?;
    Ok(Json(json!({"quota_set": limits_body(None, &shown, &limits)})))
}

/// DELETE /os-quota-sets/{project_id} (202, as upstream).
async fn delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(project_id): Path<String>, Query(query): Query<BTreeMap<String, String>>) -> Result<StatusCode> {
    check_query(&mv, &query)?;
    app.quota_delete(&ctx, &project_id, user_id(&query)).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn class_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(class_name): Path<String>) -> Result<Json<Value>> {
    let values = app.quota_class_get(&ctx, &class_name).await?;
    Ok(Json(json!({"quota_class_set": limits_body(Some(&class_name), &quota_class_resources(&mv, false), &values)})))
}

async fn class_update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(class_name): Path<String>, JsonBody(body): JsonBody) -> Result<Json<Value>> {
    let (values, _) = limits_from_body(&body, "quota_class_set", &quota_class_resources(&mv, true), false)?;
    let limits = app.quota_class_update(&ctx, &class_name, &values).await?;
    Ok(Json(json!({"quota_class_set": limits_body(None, &quota_class_resources(&mv, false), &limits)})))
}

/// GET /limits: absolute limits and usage, `rate` always empty.
async fn limits(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    if mv.0.at_least(2, 75) {
        v::no_extra_query(&query, &["tenant_id"])?;
    }
    let q = app.limits_get(&ctx, query.get("tenant_id").map(String::as_str)).await?;
    let mut filtered: Vec<&str> = Vec::new();
    if mv.0.at_least(2, 36) {
        filtered.extend(["floating_ips", "security_groups", "security_group_rules"]);
    }
    if mv.0.at_least(2, 57) {
        filtered.extend(["injected_files", "injected_file_content_bytes"]);
    }
    let names: &[(&str, &[&str])] = &[
        ("ram", &["maxTotalRAMSize"]),
        ("instances", &["maxTotalInstances"]),
        ("cores", &["maxTotalCores"]),
        ("key_pairs", &["maxTotalKeypairs"]),
        ("floating_ips", &["maxTotalFloatingIps"]),
        ("metadata_items", &["maxServerMeta", "maxImageMeta"]),
        ("injected_files", &["maxPersonality"]),
        ("injected_file_content_bytes", &["maxPersonalitySize"]),
        ("security_groups", &["maxSecurityGroups"]),
        ("security_group_rules", &["maxSecurityGroupRules"]),
        ("server_groups", &["maxServerGroups"]),
        ("server_group_members", &["maxServerGroupMembers"]),
    ];
    let mut absolute = Map::new();
    for (resource, shown_as) in names {
        let Some(u) = q.get(*resource).filter(|_| !filtered.contains(resource)) else { continue };
        for name in *shown_as {
            if *name == "maxImageMeta" && mv.0.at_least(2, 39) {
                continue;
            }
            absolute.insert(name.to_string(), json!(u.limit));
        }
    }
    let used: &[(&str, &str)] = &[
        ("totalRAMUsed", "ram"),
        ("totalCoresUsed", "cores"),
        ("totalInstancesUsed", "instances"),
        ("totalFloatingIpsUsed", "floating_ips"),
        ("totalSecurityGroupsUsed", "security_groups"),
        ("totalServerGroupsUsed", "server_groups"),
    ];
    for (name, resource) in used {
        if let Some(u) = q.get(*resource).filter(|_| !filtered.contains(resource)) {
            absolute.insert(name.to_string(), json!(u.in_use));
        }
    }
    Ok(Json(json!({"limits": {"rate": [], "absolute": absolute}})))
}
