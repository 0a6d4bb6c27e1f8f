//! The lifecycle server actions (rebuild, resize, confirmResize, revertResize, migrate,
//! os-migrateLive, evacuate, createImage, shelve, shelveOffload, unshelve, rescue, unrescue,
//! trigger_crash_dump, os-resetState), `/servers/{id}/diagnostics`, `/servers/{id}/migrations`
//! and `/os-migrations` (nova/api/openstack/compute/servers.py, migrate_server.py,
//! evacuate.py, shelve.py, rescue.py, server_diagnostics.py, migrations.py,
//! server_migrations.py), shaped by microversion.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::servers::{invalid, ip_field, parse_metadata, ref_id, updated_view};
use super::{Ctx, Mv};
use crate::app::lifecycle::RebuildRequest;
use crate::app::SharedApp;
use crate::compute::PowerAction;
use crate::db::instances::Instance;
use crate::db::migrations::Migration;
use crate::error::{NovaError, Result};

fn generated_password() -> String {
    common::ids::new_hex_id()[..12].to_string()
}

/// An optional string that may be `null` (`Some(None)`) where the microversion allows.
fn nullable_str(args: &Value, key: &str) -> Result<Option<Option<String>>> {
    match args.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(v) => Err(invalid(key, &format!("Value: {v}. It must be a string or null."))),
    }
}

fn no_such_action(name: &str) -> NovaError {
    NovaError::BadRequest(format!("There is no such action: {name}"))
}

/// Dispatches the lifecycle actions `servers::action` does not handle itself.
pub(super) async fn lifecycle(app: &SharedApp, ctx: &auth::RequestContext, mv: &Mv, headers: &HeaderMap, id: &str, name: &str, args: &Value) -> Result<Response> {
    let accepted = || StatusCode::ACCEPTED.into_response();
    match name {
        "rebuild" => rebuild(app, ctx, mv, headers, id, args).await,
        "resize" => {
            let flavor = args.get("flavorRef").and_then(ref_id).ok_or_else(|| invalid("resize", "'flavorRef' is a required property"))?;
            let auto = super::servers::disk_config(args.get("OS-DCF:diskConfig"))?;
            app.server_resize(ctx, id, &flavor).await?;
            if let Some(auto) = auto {
                app.server_set_disk_config(ctx, id, auto).await?;
            }
            Ok(accepted())
        }
        "confirmResize" => app.server_finish_resize(ctx, id, true).await.map(|_| StatusCode::NO_CONTENT.into_response()),
        "revertResize" => app.server_finish_resize(ctx, id, false).await.map(|_| accepted()),
        "migrate" => {
            let host = if mv.0.at_least(2, 56) { args.get("host").and_then(Value::as_str).map(str::to_string) } else { None };
            app.server_migrate(ctx, id, host).await.map(|_| accepted())
        }
        "os-migrateLive" => {
            if args.get("host").is_none() {
                return Err(invalid("os-migrateLive", "'host' is a required property"));
            }
            if args.get("block_migration").is_none() {
                return Err(invalid("os-migrateLive", "'block_migration' is a required property"));
            }
            let host = args.get("host").and_then(Value::as_str).map(str::to_string);
            app.server_live_migrate(ctx, id, host).await.map(|_| accepted())
        }
        "evacuate" => {
            let host = args.get("host").and_then(Value::as_str).map(str::to_string);
            let password = args.get("adminPass").and_then(Value::as_str).map(str::to_string).unwrap_or_else(generated_password);
            app.server_evacuate(ctx, id, host).await?;
            if !mv.0.at_least(2, 14) && app.cfg.enable_instance_password {
                return Ok(Json(json!({"adminPass": password})).into_response());
            }
            Ok(StatusCode::OK.into_response())
        }
        "createImage" => {
            let image_name = args.get("name").and_then(Value::as_str).ok_or_else(|| invalid("createImage", "'name' is a required property"))?;
            let image_name = super::validation::name(&json!(image_name), "name")?;
            let metadata = match args.get("metadata") {
                Some(m) => parse_metadata(m)?,
                None => BTreeMap::new(),
            };
            let image_id = app.server_create_image(ctx, id, &image_name, &metadata).await?;
            Ok(image_accepted(app, mv, headers, &image_id))
        }
        "createBackup" => {
            let backup_name = args.get("name").and_then(Value::as_str).ok_or_else(|| invalid("createBackup", "'name' is a required property"))?;
            let backup_name = super::validation::name(&json!(backup_name), "name")?;
            let backup_type = args.get("backup_type").and_then(Value::as_str).ok_or_else(|| invalid("createBackup", "'backup_type' is a required property"))?;
            let rotation = args.get("rotation").ok_or_else(|| invalid("createBackup", "'rotation' is a required property"))?;
            let rotation = rotation.as_i64().or_else(|| rotation.as_str().and_then(|s| s.parse().ok())).filter(|r| *r >= 0).ok_or_else(|| invalid("rotation", &format!("Value: {rotation}. It must be an integer of at least 0.")))?;
            let metadata = match args.get("metadata") {
                Some(m) => parse_metadata(m)?,
                None => BTreeMap::new(),
            };
            let image_id = app.server_create_backup(ctx, id, &backup_name, backup_type, rotation, &metadata).await?;
            Ok(image_accepted(app, mv, headers, &image_id))
        }
        "restore" => app.server_restore(ctx, id).await.map(|_| accepted()),
        "shelve" => app.server_shelve(ctx, id).await.map(|_| accepted()),
        "shelveOffload" => app.server_shelve_offload(ctx, id).await.map(|_| accepted()),
        "unshelve" => {
            let az = if mv.0.at_least(2, 77) { args.get("availability_zone").and_then(Value::as_str).map(str::to_string) } else { None };
            app.server_unshelve(ctx, id, az).await.map(|_| accepted())
        }
        "rescue" => {
            let password = args.get("adminPass").and_then(Value::as_str).map(str::to_string).unwrap_or_else(generated_password);
            app.server_power_action(ctx, id, PowerAction::Rescue).await?;
            if app.cfg.enable_instance_password {
                return Ok(Json(json!({"adminPass": password})).into_response());
            }
            Ok(Json(json!({})).into_response())
        }
        "unrescue" => app.server_power_action(ctx, id, PowerAction::Unrescue).await.map(|_| accepted()),
        "trigger_crash_dump" if mv.0.at_least(2, 17) => app.server_power_action(ctx, id, PowerAction::CrashDump).await.map(|_| accepted()),
        "os-resetState" => {
            let state = args.get("state").and_then(Value::as_str).ok_or_else(|| invalid("os-resetState", "'state' is a required property"))?;
            if state != "active" && state != "error" {
                return Err(invalid("state", &format!("Value: {state}. It must be one of 'active', 'error'.")));
            }
            app.server_reset_state(ctx, id, state).await.map(|_| accepted())
        }
        other => Err(no_such_action(other)),
    }
}

/// createImage's and createBackup's 202: the image id in the body from 2.45, in a
/// `Location` header before.
fn image_accepted(app: &SharedApp, mv: &Mv, headers: &HeaderMap, image_id: &str) -> Response {
    if mv.0.at_least(2, 45) {
        return (StatusCode::ACCEPTED, Json(json!({"image_id": image_id}))).into_response();
    }
    let mut resp = StatusCode::ACCEPTED.into_response();
    let base = super::base_url(app, headers);
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/v2.1/images/{image_id}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

async fn rebuild(app: &SharedApp, ctx: &auth::RequestContext, mv: &Mv, headers: &HeaderMap, id: &str, args: &Value) -> Result<Response> {
    let image_ref = args.get("imageRef").and_then(ref_id).filter(|s| !s.is_empty()).ok_or_else(|| invalid("rebuild", "'imageRef' is a required property"))?;
    let name = match args.get("name") {
        Some(n) => Some(super::validation::name(n, "name")?),
        None => None,
    };
    let metadata = match args.get("metadata") {
        Some(m) => Some(parse_metadata(m)?),
        None => None,
    };
    let user_data = if mv.0.at_least(2, 57) { nullable_str(args, "user_data")? } else { None };
    let auto_disk_config = super::servers::disk_config(args.get("OS-DCF:diskConfig"))?;
    if let Some(Some(ud)) = &user_data {
        super::servers::check_user_data(ud)?;
    }
    let req = RebuildRequest {
        image_ref,
        name,
        metadata,
        access_ip_v4: ip_field(args.get("accessIPv4"), "accessIPv4", false)?,
        access_ip_v6: ip_field(args.get("accessIPv6"), "accessIPv6", true)?,
        description: if mv.0.at_least(2, 19) { nullable_str(args, "description")? } else { None },
        key_name: if mv.0.at_least(2, 54) { nullable_str(args, "key_name")? } else { None },
        user_data,
        hostname: if mv.0.at_least(2, 90) { args.get("hostname").and_then(Value::as_str).map(str::to_string) } else { None },
    };
    let password = args.get("adminPass").and_then(Value::as_str).map(str::to_string).unwrap_or_else(generated_password);
    let mut i = app.server_rebuild(ctx, id, req).await?;
    // Recorded once the rebuild is accepted (a refused one changes nothing).
    if let Some(auto) = auto_disk_config {
        app.server_set_disk_config(ctx, id, auto).await?;
        i.system_metadata.insert("auto_disk_config".into(), if auto { "True" } else { "False" }.into());
    }
    let base = super::base_url(app, headers);
    let mut server = updated_view(app, ctx, &base, mv, &i).await?;
    if app.cfg.enable_instance_password {
        server["adminPass"] = json!(password);
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"server": server}))).into_response())
}

/// GET /servers/{id}/diagnostics: upstream's standard shape from 2.48, the legacy flat one
/// before.
pub(super) async fn diagnostics(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    let d = app.server_diagnostics(&ctx, &id).await?;
    if mv.0.at_least(2, 48) {
        return Ok(Json(d));
    }
    let mut legacy = serde_json::Map::new();
    for c in d["cpu_details"].as_array().into_iter().flatten() {
        legacy.insert(format!("cpu{}_time", c["id"]), c["time"].clone());
    }
    legacy.insert("memory".into(), json!(d["memory_details"]["maximum"].as_i64().unwrap_or(0) * 1024));
    for (n, disk) in d["disk_details"].as_array().into_iter().flatten().enumerate() {
        let dev = format!("vd{}", (b'a' + n as u8) as char);
        for (k, from) in [("read", "read_bytes"), ("read_req", "read_requests"), ("write", "write_bytes"), ("write_req", "write_requests"), ("errors", "errors_count")] {
            legacy.insert(format!("{dev}_{k}"), disk[from].clone());
        }
    }
    Ok(Json(Value::Object(legacy)))
}

fn ts(us: i64) -> String {
    common::time::iso_micros(common::time::from_micros(us))
}

fn in_progress(m: &Migration) -> bool {
    m.migration_type == "live-migration" && ["queued", "preparing", "running", "accepted"].contains(&m.status.as_str())
}

async fn migration_view(app: &SharedApp, mv: &Mv, base: &str, m: &Migration, i: Option<&Instance>) -> Result<Value> {
    let mut v = json!({
        "id": m.id,
        "instance_uuid": m.instance_uuid,
        "source_compute": m.source_compute,
        "source_node": m.source_node,
        "dest_compute": m.dest_compute,
        "dest_node": m.dest_node,
        "dest_host": app.host_ip(m.dest_node.as_deref()).await?,
        "old_instance_type_id": m.old_flavor.as_ref().map(|f| f.id),
        "new_instance_type_id": m.new_flavor.as_ref().map(|f| f.id),
        "status": m.status,
        "created_at": ts(m.created_at),
        "updated_at": ts(m.updated_at),
    });
    if mv.0.at_least(2, 23) {
        v["migration_type"] = json!(m.migration_type);
        if in_progress(m) {
            v["links"] = json!([
                {"href": format!("{base}/v2.1/servers/{}/migrations/{}", m.instance_uuid, m.id), "rel": "self"},
                {"href": format!("{base}/servers/{}/migrations/{}", m.instance_uuid, m.id), "rel": "bookmark"},
            ]);
        }
    }
    if mv.0.at_least(2, 59) {
        v["uuid"] = json!(m.uuid);
    }
    if mv.0.at_least(2, 80) {
        v["user_id"] = json!(i.map(|i| i.user_id.clone()));
        v["project_id"] = json!(i.map(|i| i.project_id.clone()));
    }
    Ok(v)
}

/// GET /os-migrations (admin), paged by uuid from 2.59.
pub(super) async fn migrations_index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    let list = app.migrations_list(&ctx, &query).await?;
    let base = super::base_url(&app, &headers);
    let (list, more) = if mv.0.at_least(2, 59) {
        let page = common::pagination::PageParams::from_query(&query, app.cfg.max_limit).map_err(|e| NovaError::BadRequest(e.to_string()))?;
        page.apply(list, |(m, _)| m.uuid.as_str()).map_err(|m| NovaError::NotFound(format!("Marker {m} could not be found.")))?
    } else {
        (list, false)
    };
    let mut out = Vec::new();
    for (m, i) in &list {
        out.push(migration_view(&app, &mv, &base, m, i.as_ref()).await?);
    }
    let mut body = json!({"migrations": out});
    if let (true, Some((last, _))) = (more, list.last()) {
        body["migrations_links"] = json!([{"href": common::pagination::next_href(&base, "/v2.1/os-migrations", &query, &last.uuid), "rel": "next"}]);
    }
    Ok(Json(body))
}

async fn server_migration_view(app: &SharedApp, mv: &Mv, m: &Migration) -> Result<Value> {
    let mut v = json!({
        "id": m.id,
        "server_uuid": m.instance_uuid,
        "source_compute": m.source_compute,
        "source_node": m.source_node,
        "dest_compute": m.dest_compute,
        "dest_node": m.dest_node,
        "dest_host": app.host_ip(m.dest_node.as_deref()).await?,
        "status": m.status,
        "created_at": ts(m.created_at),
        "updated_at": ts(m.updated_at),
        "memory_total_bytes": null, "memory_processed_bytes": null, "memory_remaining_bytes": null,
        "disk_total_bytes": null, "disk_processed_bytes": null, "disk_remaining_bytes": null,
    });
    if mv.0.at_least(2, 59) {
        v["uuid"] = json!(m.uuid);
    }
    Ok(v)
}

/// GET /servers/{id}/migrations (2.23): live migrations in progress.
pub(super) async fn server_migrations(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    if !mv.0.at_least(2, 23) {
        return Err(NovaError::NotFound("The resource could not be found.".into()));
    }
    let mut out = Vec::new();
    for m in app.server_migrations(&ctx, &id).await? {
        out.push(server_migration_view(&app, &mv, &m).await?);
    }
    Ok(Json(json!({"migrations": out})))
}

async fn one_in_progress(app: &SharedApp, ctx: &auth::RequestContext, id: &str, migration_id: &str) -> Result<Migration> {
    let mid: i64 = migration_id.parse().map_err(|_| NovaError::NotFound(format!("Migration {migration_id} could not be found.")))?;
    app.server_migrations(ctx, id).await?.into_iter().find(|m| m.id == mid).ok_or_else(|| NovaError::NotFound(format!("In-progress live migration {migration_id} is not found for server {id}.")))
}

pub(super) async fn server_migration_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, migration_id)): Path<(String, String)>) -> Result<Json<Value>> {
    if !mv.0.at_least(2, 23) {
        return Err(NovaError::NotFound("The resource could not be found.".into()));
    }
    let m = one_in_progress(&app, &ctx, &id, &migration_id).await?;
    Ok(Json(json!({"migration": server_migration_view(&app, &mv, &m).await?})))
}

/// DELETE (abort, 2.24) and force_complete (2.22): the migration must still be running;
/// a live migration that already finished answers as upstream does for one not in progress.
pub(super) async fn server_migration_abort(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, migration_id)): Path<(String, String)>) -> Result<StatusCode> {
    if !mv.0.at_least(2, 24) {
        return Err(NovaError::NotFound("The resource could not be found.".into()));
    }
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:servers:migrations:delete", &crate::app::App::server_target(&i))?;
    let m = one_in_progress(&app, &ctx, &id, &migration_id).await?;
    Err(NovaError::Conflict(format!("Migration {} state of instance {id} is {}. Cannot abort it: it is already completing.", m.id, m.status)))
}

pub(super) async fn server_migration_action(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, migration_id)): Path<(String, String)>, body: axum::body::Bytes) -> Result<StatusCode> {
    let body = super::servers::json_body(&body)?;
    if !mv.0.at_least(2, 22) || body.get("force_complete").is_none() {
        return Err(no_such_action(body.as_object().and_then(|o| o.keys().next().cloned()).as_deref().unwrap_or("")));
    }
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:servers:migrations:force_complete", &crate::app::App::server_target(&i))?;
    let m = one_in_progress(&app, &ctx, &id, &migration_id).await?;
    Err(NovaError::Conflict(format!("Migration {} state of instance {id} is {}. Cannot force_complete it: it is already completing.", m.id, m.status)))
}

/// The events Nova accepts at each microversion.
fn event_name_allowed(mv: &Mv, name: &str) -> bool {
    match name {
        "network-changed" | "network-vif-plugged" | "network-vif-unplugged" | "network-vif-deleted" => true,
        "volume-extended" => mv.0.at_least(2, 51),
        "power-update" => mv.0.at_least(2, 76),
        "accelerator-request-bound" => mv.0.at_least(2, 82),
        "volume-reimaged" => mv.0.at_least(2, 93),
        _ => false,
    }
}

/// POST /os-server-external-events: 200 when every event was delivered, 207 when some were,
/// 404 when none was.
pub(super) async fn external_events(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, body: axum::body::Bytes) -> Result<Response> {
    let body = super::servers::json_body(&body)?;
    let events = body.get("events").and_then(Value::as_array).filter(|l| !l.is_empty()).ok_or_else(|| invalid("events", "'events' is a required, non-empty list"))?;
    for e in events {
        let name = e.get("name").and_then(Value::as_str).ok_or_else(|| invalid("events", "'name' is a required property"))?;
        if !event_name_allowed(&mv, name) {
            return Err(invalid("name", &format!("Value: {name}. It is not an event name this microversion knows.")));
        }
        if e.get("server_uuid").and_then(Value::as_str).is_none() {
            return Err(invalid("events", "'server_uuid' is a required property"));
        }
        if let Some(s) = e.get("status") {
            if !matches!(s.as_str(), Some("failed" | "completed" | "in-progress")) {
                return Err(invalid("status", &format!("Value: {s}. It must be one of 'failed', 'completed', 'in-progress'.")));
            }
        }
    }
    let out = app.external_events(&ctx, events.clone()).await?;
    let ok = out.iter().filter(|e| e["code"] == 200).count();
    let status = if ok == out.len() {
        StatusCode::OK
    } else if ok > 0 {
        StatusCode::MULTI_STATUS
    } else {
        StatusCode::NOT_FOUND
    };
    Ok((status, Json(json!({"events": out}))).into_response())
}
