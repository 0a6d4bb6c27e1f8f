//! The admin views of the compute hosts: `/os-services` (services.py: list, enable/disable
//! with a reason, force-down from 2.11) and `/os-hypervisors` (hypervisors.py: list, detail,
//! show, statistics; `cpu_info` an object from 2.28), in the integer-id shape of
//! microversions before 2.53.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{Ctx, Mv};
use crate::app::SharedApp;
use crate::db::compute_nodes::{self as cdb, ComputeNode, Service};
use crate::db::instances as idb;
use crate::error::{NovaError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2.1/os-services", get(services))
        .route("/v2.1/os-services/{action}", put(service_action))
        .route("/v2.1/os-hypervisors", get(hypervisors))
        .route("/v2.1/os-hypervisors/detail", get(hypervisors_detail))
        .route("/v2.1/os-hypervisors/statistics", get(statistics))
        .route("/v2.1/os-hypervisors/{id}", get(hypervisor_show))
        .route("/v2.1/os-hypervisors/{id}/uptime", get(hypervisor_uptime))
        .route("/v2.1/os-hypervisors/{pattern}/search", get(hypervisor_search))
        .route("/v2.1/os-hypervisors/{pattern}/servers", get(hypervisor_servers))
}

fn ts(us: i64) -> String {
    common::time::iso_micros(common::time::from_micros(us))
}

fn service_view(mv: &Mv, s: &Service, zone: &str) -> Value {
    let mut v = json!({
        "id": s.id,
        "binary": s.binary,
        "host": s.host,
        "zone": zone,
        "status": if s.disabled { "disabled" } else { "enabled" },
        "state": if s.is_up(crate::app::now()) { "up" } else { "down" },
        "updated_at": ts(s.updated_at),
        "disabled_reason": s.disabled_reason,
    });
    if mv.0.at_least(2, 11) {
        v["forced_down"] = json!(s.forced_down);
    }
    v
}

async fn services(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Query(q): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    app.enforce(&ctx, "os_compute_api:os-services:list", &crate::app::App::own_target(&ctx))?;
    let zones = app.availability_zone_hosts().await?;
    let list: Vec<Value> = cdb::service_list(&app.db)
        .await?
        .iter()
        .filter(|s| q.get("host").is_none_or(|h| &s.host == h) && q.get("binary").is_none_or(|b| &s.binary == b))
        .map(|s| {
            let zone = if s.binary == "nova-compute" { zones.get(&s.host).cloned().unwrap_or_else(|| app.cfg.default_availability_zone.clone()) } else { "internal".into() };
            service_view(&mv, s, &zone)
        })
        .collect();
    Ok(Json(json!({"services": list})))
}

async fn service_action(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(action): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    app.enforce(&ctx, "os_compute_api:os-services:update", &crate::app::App::own_target(&ctx))?;
    let b: Value = serde_json::from_slice(&body).map_err(|e| NovaError::BadRequest(format!("Malformed request body: {e}")))?;
    let host = b.get("host").and_then(Value::as_str).ok_or_else(|| NovaError::BadRequest("Invalid input for field/attribute host. 'host' is a required property".into()))?;
    let binary = b.get("binary").and_then(Value::as_str).ok_or_else(|| NovaError::BadRequest("Invalid input for field/attribute binary. 'binary' is a required property".into()))?;
    let (disabled, reason, forced) = match action.as_str() {
        "enable" => (Some(false), None, None),
        "disable" => (Some(true), None, None),
        "disable-log-reason" => {
            let r = b.get("disabled_reason").and_then(Value::as_str).ok_or_else(|| NovaError::BadRequest("Missing disabled reason field".into()))?;
            (Some(true), Some(r.to_string()), None)
        }
        "force-down" if mv.0.at_least(2, 11) => (None, None, Some(b.get("forced_down").and_then(Value::as_bool).ok_or_else(|| NovaError::BadRequest("Invalid input for field/attribute forced_down.".into()))?)),
        _ => return Err(NovaError::NotFound(format!("Unknown action {action}"))),
    };
    let s = app.service_update(host, binary, disabled, reason.as_deref(), forced).await?;
    let mut v = json!({"host": s.host, "binary": s.binary});
    if let Some(d) = disabled {
        v["status"] = json!(if d { "disabled" } else { "enabled" });
    }
    if action == "disable-log-reason" {
        v["disabled_reason"] = json!(s.disabled_reason);
    }
    if let Some(f) = forced {
        v["forced_down"] = json!(f);
    }
    Ok(Json(json!({"service": v})))
}

/// Usage of a node by its live instances: (vcpus, memory_mb, disk_gb, count).
async fn node_usage(app: &SharedApp, n: &ComputeNode) -> Result<(i64, i64, i64, i64)> {
    let list = idb::instance_list_by_host(&app.db, &n.host).await?;
    let on_node: Vec<_> = list.iter().filter(|i| i.node.as_deref() == Some(n.hypervisor_hostname.as_str())).collect();
    Ok((
        on_node.iter().map(|i| i.flavor.vcpus).sum(),
        on_node.iter().map(|i| i.flavor.memory_mb).sum::<i64>() + app.cfg.reserved_host_memory_mb,
        on_node.iter().map(|i| i.flavor.root_gb + i.flavor.ephemeral_gb).sum(),
        on_node.len() as i64,
    ))
}

async fn hypervisor_view(app: &SharedApp, mv: &Mv, n: &ComputeNode, services: &[Service], detail: bool) -> Result<Value> {
    let svc = services.iter().find(|s| s.id == n.service_id);
    let mut v = json!({
        "id": n.id,
        "hypervisor_hostname": n.hypervisor_hostname,
        "state": if svc.is_some_and(|s| s.is_up(crate::app::now())) { "up" } else { "down" },
        "status": if svc.is_some_and(|s| s.disabled) { "disabled" } else { "enabled" },
    });
    if detail {
        let (vcpus_used, mem_used, disk_used, running) = node_usage(app, n).await?;
        let cpu_info: Value = n.cpu_info.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or(json!({}));
        v["vcpus"] = json!(n.vcpus);
        v["memory_mb"] = json!(n.memory_mb);
        v["local_gb"] = json!(n.local_gb);
        v["vcpus_used"] = json!(vcpus_used);
        v["memory_mb_used"] = json!(mem_used);
        v["local_gb_used"] = json!(disk_used);
        v["free_ram_mb"] = json!(n.memory_mb - mem_used);
        v["free_disk_gb"] = json!(n.local_gb - disk_used);
        v["disk_available_least"] = json!(n.local_gb - disk_used);
        v["current_workload"] = json!(0);
        v["running_vms"] = json!(running);
        v["hypervisor_type"] = json!(n.hypervisor_type);
        v["hypervisor_version"] = json!(n.hypervisor_version);
        v["host_ip"] = json!(n.host_ip);
        v["service"] = json!({"id": n.service_id, "host": n.host, "disabled_reason": svc.and_then(|s| s.disabled_reason.clone())});
        v["cpu_info"] = if mv.0.at_least(2, 28) { cpu_info } else { json!(cpu_info.to_string()) };
    }
    Ok(v)
}

async fn list(app: &SharedApp, ctx: &auth::RequestContext, mv: &Mv, detail: bool) -> Result<Vec<Value>> {
    let rule = if detail { "os_compute_api:os-hypervisors:detail" } else { "os_compute_api:os-hypervisors:list" };
    app.enforce(ctx, rule, &crate::app::App::own_target(ctx))?;
    let services = cdb::service_list(&app.db).await?;
    let mut out = Vec::new();
    for n in cdb::compute_node_list(&app.db).await? {
        out.push(hypervisor_view(app, mv, &n, &services, detail).await?);
    }
    Ok(out)
}

async fn hypervisors(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv) -> Result<Json<Value>> {
    Ok(Json(json!({"hypervisors": list(&app, &ctx, &mv, false).await?})))
}

async fn hypervisors_detail(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv) -> Result<Json<Value>> {
    Ok(Json(json!({"hypervisors": list(&app, &ctx, &mv, true).await?})))
}

async fn hypervisor_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&ctx, "os_compute_api:os-hypervisors:show", &crate::app::App::own_target(&ctx))?;
    let not_found = || NovaError::NotFound(format!("Hypervisor with ID {id} could not be found."));
    let want: i64 = id.parse().map_err(|_| not_found())?;
    let services = cdb::service_list(&app.db).await?;
    let n = cdb::compute_node_list(&app.db).await?.into_iter().find(|n| n.id == want).ok_or_else(not_found)?;
    Ok(Json(json!({"hypervisor": hypervisor_view(&app, &mv, &n, &services, true).await?})))
}

/// The routes upstream replaced at 2.53 (uuid ids and query filters) answer 404 from there.
fn before_253(mv: &Mv) -> Result<()> {
    if mv.0.at_least(2, 53) {
        return Err(NovaError::NotFound("The resource could not be found.".into()));
    }
    Ok(())
}

/// GET /os-hypervisors/{id}/uptime (until 2.88): the host's own `uptime` line.
async fn hypervisor_uptime(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&ctx, "os_compute_api:os-hypervisors:show", &crate::app::App::own_target(&ctx))?;
    if mv.0.at_least(2, 88) {
        return Err(NovaError::NotFound("The resource could not be found.".into()));
    }
    let not_found = || NovaError::NotFound(format!("Hypervisor with ID {id} could not be found."));
    let want: i64 = id.parse().map_err(|_| not_found())?;
    let services = cdb::service_list(&app.db).await?;
    let n = cdb::compute_node_list(&app.db).await?.into_iter().find(|n| n.id == want).ok_or_else(not_found)?;
    let uptime: String = crate::rpc::call(app.bus()?.as_ref(), &crate::rpc::compute_topic(&n.host), "get_host_uptime", &(), &crate::rpc::RpcContext::from_request(&ctx))
        .await
        .map_err(|e| NovaError::Conflict(format!("Compute host {} did not answer: {e}", n.host)))?;
    let mut v = hypervisor_view(&app, &mv, &n, &services, false).await?;
    v["uptime"] = json!(uptime);
    Ok(Json(json!({"hypervisor": v})))
}

async fn matching(app: &SharedApp, pattern: &str) -> Result<Vec<ComputeNode>> {
    let found: Vec<ComputeNode> = cdb::compute_node_list(&app.db).await?.into_iter().filter(|n| n.hypervisor_hostname.contains(pattern)).collect();
    if found.is_empty() {
        return Err(NovaError::NotFound(format!("No hypervisor matching '{pattern}' could be found.")));
    }
    Ok(found)
}

/// GET /os-hypervisors/{pattern}/search (until 2.53).
async fn hypervisor_search(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(pattern): Path<String>) -> Result<Json<Value>> {
    app.enforce(&ctx, "os_compute_api:os-hypervisors:list", &crate::app::App::own_target(&ctx))?;
    before_253(&mv)?;
    let services = cdb::service_list(&app.db).await?;
    let mut out = Vec::new();
    for n in matching(&app, &pattern).await? {
        out.push(hypervisor_view(&app, &mv, &n, &services, false).await?);
    }
    Ok(Json(json!({"hypervisors": out})))
}

/// GET /os-hypervisors/{pattern}/servers (until 2.53): each matching hypervisor with the
/// servers on it (the key left out when there are none, as upstream).
async fn hypervisor_servers(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(pattern): Path<String>) -> Result<Json<Value>> {
    app.enforce(&ctx, "os_compute_api:os-hypervisors:list", &crate::app::App::own_target(&ctx))?;
    before_253(&mv)?;
    let services = cdb::service_list(&app.db).await?;
    let mut out = Vec::new();
    for n in matching(&app, &pattern).await? {
        let mut v = hypervisor_view(&app, &mv, &n, &services, false).await?;
        let servers: Vec<Value> = idb::instance_list_by_host(&app.db, &n.host).await?.iter().filter(|i| i.node.as_deref() == Some(n.hypervisor_hostname.as_str())).map(|i| json!({"uuid": i.uuid, "name": format!("instance-{}", &i.uuid[..8])})).collect();
        if !servers.is_empty() {
            v["servers"] = json!(servers);
        }
        out.push(v);
    }
    Ok(Json(json!({"hypervisors": out})))
}

async fn statistics(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv) -> Result<Json<Value>> {
    app.enforce(&ctx, "os_compute_api:os-hypervisors:statistics", &crate::app::App::own_target(&ctx))?;
    let services = cdb::service_list(&app.db).await?;
    let mut sum: BTreeMap<&str, i64> = BTreeMap::new();
    let nodes = cdb::compute_node_list(&app.db).await?;
    for n in &nodes {
        let v = hypervisor_view(&app, &mv, n, &services, true).await?;
        for k in ["vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used", "free_ram_mb", "free_disk_gb", "current_workload", "running_vms", "disk_available_least"] {
            *sum.entry(k).or_default() += v[k].as_i64().unwrap_or(0);
        }
    }
    let mut stats = json!(sum);
    stats["count"] = json!(nodes.len());
    Ok(Json(json!({"hypervisor_statistics": stats})))
}
