//! `/os-hosts` (nova/api/openstack/compute/hosts.py, admin only, gone from 2.43): the compute
//! hosts with their zone, a host's resources in total, in use and per project, enabling or
//! disabling a host's compute service, and the host power actions, which only a hypervisor
//! that can power its host supports (none here: 501, as upstream's libvirt driver).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::servers::json_body;
use super::{Ctx, Mv};
use crate::app::{App, SharedApp};
use crate::db::compute_nodes as cdb;
use crate::db::instances as idb;
use crate::error::{NovaError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2.1/os-hosts", get(index))
        .route("/v2.1/os-hosts/{host}", get(show).put(update))
        .route("/v2.1/os-hosts/{host}/{action}", get(power))
}

fn gone(mv: &Mv) -> Result<()> {
    if mv.0.at_least(2, 43) {
        return Err(NovaError::NotFound("The resource could not be found.".into()));
    }
    Ok(())
}

fn not_found(host: &str) -> NovaError {
    NovaError::NotFound(format!("Compute host {host} could not be found."))
}

async fn compute_service(app: &SharedApp, host: &str) -> Result<cdb::Service> {
    cdb::service_list(&app.db).await?.into_iter().find(|s| s.host == host && s.binary == "nova-compute").ok_or_else(|| not_found(host))
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Query(q): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    gone(&mv)?;
    app.enforce(&ctx, "os_compute_api:os-hosts:list", &App::own_target(&ctx))?;
    let zones = app.availability_zone_hosts().await?;
    let hosts: Vec<Value> = cdb::service_list(&app.db)
        .await?
        .iter()
        .filter(|s| s.binary == "nova-compute")
        .map(|s| json!({"host_name": s.host, "service": "compute", "zone": zones.get(&s.host).cloned().unwrap_or_else(|| app.cfg.default_availability_zone.clone())}))
        // A blank zone is no filter, as upstream.
        .filter(|h| q.get("zone").filter(|z| !z.is_empty()).is_none_or(|z| h["zone"] == z.as_str()))
        .collect();
    Ok(Json(json!({"hosts": hosts})))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(host): Path<String>) -> Result<Json<Value>> {
    gone(&mv)?;
    app.enforce(&ctx, "os_compute_api:os-hosts:show", &App::own_target(&ctx))?;
    compute_service(&app, &host).await?;
    let nodes: Vec<cdb::ComputeNode> = cdb::compute_node_list(&app.db).await?.into_iter().filter(|n| n.host == host).collect();
    let resource = |project: &str, cpu: i64, mem: i64, disk: i64| json!({"resource": {"host": host, "project": project, "cpu": cpu, "memory_mb": mem, "disk_gb": disk}});
    let (cpu, mem, disk) = nodes.iter().fold((0, 0, 0), |(c, m, d), n| (c + n.vcpus, m + n.memory_mb, d + n.local_gb));
    let instances = idb::instance_list_by_host(&app.db, &host).await?;
    let mut per_project: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for i in &instances {
        let e = per_project.entry(i.project_id.clone()).or_default();
        e.0 += i.flavor.vcpus;
        e.1 += i.flavor.memory_mb;
        e.2 += i.flavor.root_gb + i.flavor.ephemeral_gb;
    }
    let used = per_project.values().fold((0, 0, 0), |(c, m, d), (a, b, e)| (c + a, m + b, d + e));
    let mut out = vec![resource("(total)", cpu, mem, disk), resource("(used_now)", used.0, used.1 + app.cfg.reserved_host_memory_mb, used.2), resource("(used_max)", used.0, used.1, used.2)];
    for (p, (c, m, d)) in per_project {
        out.push(resource(&p, c, m, d));
    }
    Ok(Json(json!({"host": out})))
}

/// PUT: `status` enables or disables the host's compute service; `maintenance_mode` needs a
/// hypervisor that can evacuate itself (501).
async fn update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(host): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    gone(&mv)?;
    app.enforce(&ctx, "os_compute_api:os-hosts:update", &App::own_target(&ctx))?;
    let body = json_body(&body)?;
    let o = body.as_object().ok_or_else(|| NovaError::BadRequest("Malformed request body".into()))?;
    if o.is_empty() {
        return Err(NovaError::BadRequest("'status' or 'maintenance_mode' needed for host update".into()));
    }
    for (k, v) in o {
        let ok = matches!(k.as_str(), "status" | "maintenance_mode") && matches!(v.as_str(), Some("enable" | "disable"));
        if !ok {
            return Err(NovaError::BadRequest(format!("Invalid input for field/attribute {k}. Value: {v}. It must be 'enable' or 'disable'.")));
        }
    }
    compute_service(&app, &host).await?;
    if o.contains_key("maintenance_mode") {
        return Err(NovaError::Unsupported(format!("Host {host} cannot enter maintenance mode: this hypervisor does not support it.")));
    }
    let enable = o.get("status").and_then(Value::as_str) == Some("enable");
    app.service_update(&host, "nova-compute", Some(!enable), None, None).await?;
    Ok(Json(json!({"host": host, "status": if enable { "enabled" } else { "disabled" }})))
}

async fn power(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((host, action)): Path<(String, String)>) -> Result<Json<Value>> {
    gone(&mv)?;
    let rule = match action.as_str() {
        "reboot" => "os_compute_api:os-hosts:reboot",
        "shutdown" => "os_compute_api:os-hosts:shutdown",
        "startup" => "os_compute_api:os-hosts:start",
        _ => return Err(NovaError::NotFound("The resource could not be found.".into())),
    };
    app.enforce(&ctx, rule, &App::own_target(&ctx))?;
    compute_service(&app, &host).await?;
    Err(NovaError::Unsupported(format!("Host {host} cannot {action}: this hypervisor does not power its host.")))
}
