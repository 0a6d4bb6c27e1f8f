//! `/servers` (nova/api/openstack/compute/servers.py, server_metadata, instance_actions,
//! the action handlers, and views/servers.py): create, list/detail with filters and
//! `servers_links` paging, show, update, delete, the power actions, console output and
//! instance actions, shaped by microversion.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sha2::Digest;

use super::{links, Ctx, Mv};
use crate::app::servers::CreateRequest;
use crate::app::SharedApp;
use crate::compute::PowerAction;
use crate::db::instances::{self as idb, Instance};
use crate::error::{NovaError, Result};
use crate::network::{NetworkRequest, RequestedNetwork};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2.1/servers", get(index).post(create))
        .route("/v2.1/servers/detail", get(detail))
        .route("/v2.1/servers/{server_id}", get(show).put(update).delete(delete))
        .route("/v2.1/servers/{server_id}/action", post(action))
        .route("/v2.1/servers/{server_id}/os-instance-actions", get(actions))
        .route("/v2.1/servers/{server_id}/diagnostics", get(super::server_actions::diagnostics))
        .route("/v2.1/servers/{server_id}/migrations", get(super::server_actions::server_migrations))
        .route("/v2.1/servers/{server_id}/migrations/{migration_id}", get(super::server_actions::server_migration_show).delete(super::server_actions::server_migration_abort))
        .route("/v2.1/servers/{server_id}/migrations/{migration_id}/action", post(super::server_actions::server_migration_action))
        .route("/v2.1/os-migrations", get(super::server_actions::migrations_index))
        .route("/v2.1/os-server-external-events", post(super::server_actions::external_events))
        .route("/v2.1/servers/{server_id}/os-instance-actions/{request_id}", get(action_show))
}

/// The API status of an instance (nova/api/openstack/common.py `status_from_state`).
pub fn status_of(i: &Instance) -> &'static str {
    let task = i.task_state.as_deref().unwrap_or("");
    match i.vm_state.as_str() {
        "active" => match task {
            "rebooting" | "reboot_pending" | "reboot_started" => "REBOOT",
            "rebooting_hard" | "reboot_pending_hard" | "reboot_started_hard" => "HARD_REBOOT",
            "update_password" => "PASSWORD",
            "rebuilding" | "rebuild_block_device_mapping" | "rebuild_spawning" => "REBUILD",
            "migrating" => "MIGRATING",
            "resize_prep" | "resize_migrating" | "resize_migrated" | "resize_finish" => "RESIZE",
            _ => "ACTIVE",
        },
        "building" => "BUILD",
        "stopped" => match task {
            "resize_prep" | "resize_migrating" | "resize_migrated" | "resize_finish" => "RESIZE",
            "rebuilding" | "rebuild_block_device_mapping" | "rebuild_spawning" => "REBUILD",
            _ => "SHUTOFF",
        },
        "resized" => {
            if task == "resize_reverting" {
                "REVERT_RESIZE"
            } else {
                "VERIFY_RESIZE"
            }
        }
        "paused" => "PAUSED",
        "suspended" => "SUSPENDED",
        "rescued" => "RESCUE",
        "error" => {
            if task.starts_with("rebuild") {
                "REBUILD"
            } else {
                "ERROR"
            }
        }
        "deleted" => "DELETED",
        "soft-delete" => "SOFT_DELETED",
        "shelved" => "SHELVED",
        "shelved_offloaded" => "SHELVED_OFFLOADED",
        _ => "UNKNOWN",
    }
}

fn ts(us: i64) -> String {
    common::time::iso_seconds_z(common::time::from_micros(us))
}

/// upstream's `hostId`: sha224 of project id and host, empty without a host.
fn host_id(i: &Instance) -> String {
    match &i.host {
        Some(h) => {
            let mut d = sha2::Sha224::new();
            d.update(format!("{}{h}", i.project_id).as_bytes());
            d.finalize().iter().map(|b| format!("{b:02x}")).collect()
        }
        None => String::new(),
    }
}

fn brief(base: &str, i: &Instance) -> Value {
    json!({"id": i.uuid, "name": i.display_name, "links": links(base, "servers", &i.uuid)})
}

/// The view PUT /servers/{id} and rebuild answer with: before 2.75 upstream leaves out the
/// extension attributes (zone, config drive, key, usage, security groups, extended status,
/// volumes, server attributes, host status); from 2.75 it is the full view.
pub(super) async fn updated_view(app: &SharedApp, ctx: &auth::RequestContext, base: &str, mv: &Mv, i: &Instance) -> Result<Value> {
    let mut v = full(app, ctx, base, mv, i).await?;
    if !mv.0.at_least(2, 75) {
        if let Some(o) = v.as_object_mut() {
            o.retain(|k, _| !(k.starts_with("OS-EXT-") || k.starts_with("OS-SRV-USG:") || ["config_drive", "key_name", "security_groups", "os-extended-volumes:volumes_attached", "host_status"].contains(&k.as_str())));
            o.insert("addresses".into(), crate::network::addresses(&i.network_info, false));
        }
    }
    Ok(v)
}

pub(super) async fn full(app: &SharedApp, ctx: &auth::RequestContext, base: &str, mv: &Mv, i: &Instance) -> Result<Value> {
    let groups = app.servers_security_groups(ctx, &[i]).await?;
    view(app, ctx, base, mv, i, groups.get(&i.uuid)).await
}

/// The detailed view of a server, with its security groups (read from its ports; the key
/// is left out when it has none, as upstream does).
async fn view(app: &SharedApp, ctx: &auth::RequestContext, base: &str, mv: &Mv, i: &Instance, groups: Option<&Vec<Value>>) -> Result<Value> {
    let admin = app.is_admin(ctx);
    let image = match &i.image_ref {
        Some(id) => json!({"id": id, "links": [{"href": format!("{base}/images/{id}"), "rel": "bookmark"}]}),
        None => json!(""),
    };
    let mut v = json!({
        "id": i.uuid,
        "name": i.display_name,
        "status": status_of(i),
        "tenant_id": i.project_id,
        "user_id": i.user_id,
        "metadata": i.metadata,
        "hostId": host_id(i),
        "image": image,
        "flavor": {"id": i.flavor.flavorid, "links": [{"href": format!("{base}/flavors/{}", i.flavor.flavorid), "rel": "bookmark"}]},
        "created": ts(i.created_at),
        "updated": ts(i.updated_at),
        "addresses": crate::network::addresses(&i.network_info, true),
        "accessIPv4": i.access_ip_v4.clone().unwrap_or_default(),
        "accessIPv6": i.access_ip_v6.clone().unwrap_or_default(),
        "links": links(base, "servers", &i.uuid),
        "OS-DCF:diskConfig": disk_config_of(i),
        "OS-EXT-AZ:availability_zone": i.availability_zone.clone().unwrap_or_default(),
        "config_drive": i.config_drive.clone().unwrap_or_default(),
        "key_name": i.key_name,
        "OS-SRV-USG:launched_at": i.launched_at.map(|t| common::time::iso_micros(common::time::from_micros(t))),
        "OS-SRV-USG:terminated_at": i.terminated_at.map(|t| common::time::iso_micros(common::time::from_micros(t))),
        "OS-EXT-STS:task_state": i.task_state,
        "OS-EXT-STS:vm_state": i.vm_state,
        "OS-EXT-STS:power_state": i.power_state,
        "os-extended-volumes:volumes_attached": [],
    });
    // Upstream shows progress only while it means something.
    if ["ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"].contains(&status_of(i)) {
        v["progress"] = json!(i.progress);
    }
    if let Some(g) = groups.filter(|g| !g.is_empty()) {
        v["security_groups"] = json!(g);
    }
    if admin {
        v["OS-EXT-SRV-ATTR:host"] = json!(i.host);
        v["OS-EXT-SRV-ATTR:hypervisor_hostname"] = json!(i.node);
        v["OS-EXT-SRV-ATTR:instance_name"] = json!(format!("instance-{}", &i.uuid[..8]));
        if mv.0.at_least(2, 3) {
            v["OS-EXT-SRV-ATTR:reservation_id"] = json!(i.reservation_id);
            v["OS-EXT-SRV-ATTR:launch_index"] = json!(i.launch_index);
            v["OS-EXT-SRV-ATTR:hostname"] = json!(i.hostname);
            v["OS-EXT-SRV-ATTR:kernel_id"] = json!("");
            v["OS-EXT-SRV-ATTR:ramdisk_id"] = json!("");
            v["OS-EXT-SRV-ATTR:root_device_name"] = json!("/dev/vda");
            v["OS-EXT-SRV-ATTR:user_data"] = json!(i.user_data);
        }
    }
    if mv.0.at_least(2, 9) {
        v["locked"] = json!(i.locked_by.is_some());
    }
    if mv.0.at_least(2, 16) && admin {
        v["host_status"] = json!(if i.host.is_some() { "UP" } else { "" });
    }
    if mv.0.at_least(2, 19) {
        v["description"] = json!(i.display_description);
    }
    if mv.0.at_least(2, 26) {
        v["tags"] = json!(i.tags);
    }
    if i.vm_state == "error" || i.vm_state == "deleted" {
        if let Some(f) = idb::fault_latest(&app.db, &i.uuid).await? {
            let mut fault = json!({"code": f.code, "created": ts(f.created_at), "message": f.message});
            if admin || f.code != 500 {
                fault["details"] = json!(f.details.unwrap_or_default());
            }
            v["fault"] = fault;
        }
    }
    Ok(v)
}

/// A reference may be an id or a URL ending in one.
pub(super) fn ref_id(v: &Value) -> Option<String> {
    v.as_str().map(|s| s.trim_end_matches('/').rsplit('/').next().unwrap_or(s).to_string())
}

pub(super) fn invalid(field: &str, why: &str) -> NovaError {
    NovaError::BadRequest(format!("Invalid input for field/attribute {field}. {why}"))
}

/// `metadata`: string keys of 1-255 and string values of at most 255 characters.
pub(super) fn parse_metadata(m: &Value) -> Result<BTreeMap<String, String>> {
    let m = m.as_object().ok_or_else(|| invalid("metadata", "It must be an object."))?;
    let mut metadata = BTreeMap::new();
    for (k, v) in m {
        let v = v.as_str().ok_or_else(|| invalid("metadata", &format!("Value of {k} must be a string.")))?;
        if k.is_empty() || k.len() > 255 || v.len() > 255 {
            return Err(invalid("metadata", "Keys and values must be 1 to 255 characters."));
        }
        metadata.insert(k.clone(), v.to_string());
    }
    Ok(metadata)
}

/// `user_data`: base64, at most 65535 bytes.
pub(super) fn check_user_data(ud: &str) -> Result<()> {
    use base64::Engine;
    if ud.len() > 65535 || base64::engine::general_purpose::STANDARD.decode(ud.trim()).is_err() {
        return Err(invalid("user_data", "Value: user_data must be base64 and at most 65535 bytes."));
    }
    Ok(())
}

fn parse_create(mv: &Mv, body: &Value) -> Result<(CreateRequest, bool)> {
    let s = body.get("server").and_then(Value::as_object).ok_or_else(|| invalid("server", "Value: missing. 'server' is a required property"))?;
    let name = s.get("name").and_then(Value::as_str).ok_or_else(|| invalid("server", "'name' is a required property"))?;
    if name.trim().is_empty() || name.len() > 255 {
        return Err(invalid("name", &format!("Value: {name}. The name must be 1 to 255 characters, not only spaces.")));
    }
    let flavor_ref = s.get("flavorRef").and_then(ref_id).ok_or_else(|| invalid("server", "'flavorRef' is a required property"))?;
    let image_ref = s.get("imageRef").and_then(ref_id);
    let networks = parse_networks(mv, s.get("networks"))?;
    let count = |k: &str| -> Result<Option<usize>> {
        match s.get(k) {
            None => Ok(None),
            Some(v) => {
                let n = v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).filter(|n| *n >= 1).ok_or_else(|| invalid(k, &format!("Value: {v}. It must be an integer of at least 1.")))?;
                Ok(Some(n as usize))
            }
        }
    };
    let min = count("min_count")?.unwrap_or(1);
    let max = count("max_count")?.unwrap_or(min);
    if min > max {
        return Err(NovaError::BadRequest("min_count must be <= max_count".into()));
    }
    let metadata = match s.get("metadata") {
        Some(m) => parse_metadata(m)?,
        None => BTreeMap::new(),
    };
    if let Some(ud) = s.get("user_data").and_then(Value::as_str) {
        check_user_data(ud)?;
    }
    let hints = body.get("os:scheduler_hints").or(body.get("OS-SCH-HNT:scheduler_hints")).cloned().unwrap_or(Value::Null);
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            _ => vec![],
        }
    };
    let tags: Vec<String> = if mv.0.at_least(2, 52) { s.get("tags").map(list).unwrap_or_default() } else { vec![] };
    let req = CreateRequest {
        name: name.to_string(),
        description: if mv.0.at_least(2, 19) { s.get("description").and_then(Value::as_str).map(str::to_string) } else { None },
        image_ref,
        flavor_ref,
        key_name: s.get("key_name").and_then(Value::as_str).map(str::to_string),
        user_data: s.get("user_data").and_then(Value::as_str).map(str::to_string),
        metadata,
        availability_zone: s.get("availability_zone").and_then(Value::as_str).filter(|a| !a.is_empty()).map(|a| a.split(':').next().unwrap_or(a).to_string()),
        config_drive: s.get("config_drive").is_some_and(|v| v.as_bool().unwrap_or_else(|| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true")))),
        min_count: min,
        max_count: max,
        access_ip_v4: ip_field(s.get("accessIPv4"), "accessIPv4", false)?,
        access_ip_v6: ip_field(s.get("accessIPv6"), "accessIPv6", true)?,
        tags,
        hostname: if mv.0.at_least(2, 90) { s.get("hostname").and_then(Value::as_str).map(str::to_string) } else { None },
        group: hints.get("group").and_then(Value::as_str).map(str::to_string),
        same_host: hints.get("same_host").map(list).unwrap_or_default(),
        different_host: hints.get("different_host").map(list).unwrap_or_default(),
        networks,
        security_groups: parse_security_groups(s.get("security_groups"))?,
        auto_disk_config: disk_config(s.get("OS-DCF:diskConfig"))?,
    };
    let return_reservation_id = s.get("return_reservation_id").is_some_and(|v| v.as_bool().unwrap_or_else(|| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))));
    Ok((req, return_reservation_id))
}

/// `networks`: a list of `{uuid, fixed_ip, port, tag}`, or (from 2.37, where it is
/// required) `"auto"` or `"none"`.
fn parse_networks(mv: &Mv, v: Option<&Value>) -> Result<NetworkRequest> {
    let list = match v {
        None if mv.0.at_least(2, 37) => return Err(invalid("server", "'networks' is a required property")),
        None => return Ok(NetworkRequest::Unspecified),
        Some(Value::String(n)) if mv.0.at_least(2, 37) && n == "none" => return Ok(NetworkRequest::None),
        Some(Value::String(n)) if mv.0.at_least(2, 37) && n == "auto" => return Ok(NetworkRequest::Auto),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(invalid("networks", &format!("Value: {other}. It must be a list (or, from microversion 2.37, 'none' or 'auto')."))),
    };
    if list.is_empty() {
        // An empty list asks for nothing in particular, like no list.
        return Ok(NetworkRequest::Unspecified);
    }
    let mut out = Vec::new();
    for n in list {
        let o = n.as_object().ok_or_else(|| invalid("networks", &format!("Value: {n}. Each network must be an object.")))?;
        let field = |k: &str| -> Result<Option<String>> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => Err(invalid(&format!("networks/{k}"), &format!("Value: {v}. It must be a string."))),
            }
        };
        let port_id = field("port")?.filter(|p| !p.is_empty());
        let network_id = field("uuid")?.filter(|p| !p.is_empty());
        let fixed_ip = field("fixed_ip")?;
        if let Some(ip) = &fixed_ip {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(NovaError::BadRequest(format!("Invalid fixed IP address ({ip})")));
            }
        }
        if let Some(id) = network_id.as_ref().filter(|_| port_id.is_none()) {
            if uuid::Uuid::parse_str(id).is_err() {
                return Err(NovaError::BadRequest(format!("Bad networks format: network uuid is not in proper format ({id})")));
            }
        }
        if port_id.is_none() && network_id.is_none() {
            return Err(NovaError::BadRequest("Bad network format: missing uuid or port".into()));
        }
        let tag = if mv.0.at_least(2, 32) { field("tag")? } else { None };
        out.push(RequestedNetwork { network_id: if port_id.is_some() { None } else { network_id }, port_id, fixed_ip, tag });
    }
    let mut ips: Vec<&String> = out.iter().filter_map(|r| r.fixed_ip.as_ref()).collect();
    ips.sort();
    if ips.windows(2).any(|w| w[0] == w[1]) {
        return Err(NovaError::BadRequest(format!("Duplicate fixed IP address ({})", ips.windows(2).find(|w| w[0] == w[1]).map(|w| w[0].as_str()).unwrap_or_default())));
    }
    Ok(NetworkRequest::List(out))
}

/// `OS-DCF:diskConfig`: AUTO or MANUAL (whether the root partition is grown to the disk).
pub(super) fn disk_config(v: Option<&Value>) -> Result<Option<bool>> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) if s == "AUTO" => Ok(Some(true)),
        Some(Value::String(s)) if s == "MANUAL" => Ok(Some(false)),
        Some(other) => Err(invalid("OS-DCF:diskConfig", &format!("Value: {other}. {other} is not one of ['AUTO', 'MANUAL']"))),
    }
}

/// The `OS-DCF:diskConfig` an instance shows.
fn disk_config_of(i: &Instance) -> &'static str {
    if i.system_metadata.get("auto_disk_config").is_some_and(|v| v == "True") {
        "AUTO"
    } else {
        "MANUAL"
    }
}

/// `security_groups`: `[{"name": ...}]`, duplicates folded.
fn parse_security_groups(v: Option<&Value>) -> Result<Vec<String>> {
    let Some(v) = v else { return Ok(vec![]) };
    let list = v.as_array().ok_or_else(|| invalid("security_groups", &format!("Value: {v}. It must be a list.")))?;
    let mut out: Vec<String> = Vec::new();
    for g in list {
        let name = g.get("name").and_then(Value::as_str).ok_or_else(|| invalid("security_groups", &format!("Value: {g}. Each group needs a 'name'.")))?;
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// An access IP, validated and written the canonical way (`::babe:dc0c:1602`).
pub(super) fn ip_field(v: Option<&Value>, field: &str, v6: bool) -> Result<Option<String>> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(None) };
    let s = v.as_str().ok_or_else(|| invalid(field, &format!("Value: {v}. It must be a string.")))?;
    if s.is_empty() {
        return Ok(Some(String::new()));
    }
    let parsed = if v6 { s.parse::<std::net::Ipv6Addr>().map(|a| a.to_string()) } else { s.parse::<std::net::Ipv4Addr>().map(|a| a.to_string()) };
    parsed.map(Some).map_err(|_| invalid(field, &format!("Value: {s}. '{s}' is not a '{}'", if v6 { "ipv6" } else { "ipv4" })))
}

pub(super) fn json_body(body: &axum::body::Bytes) -> Result<Value> {
    serde_json::from_slice(body).map_err(|e| NovaError::BadRequest(format!("Malformed request body: {e}")))
}

async fn create(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let body = json_body(&body)?;
    let (req, return_reservation_id) = parse_create(&mv, &body)?;
    let admin_pass = body.pointer("/server/adminPass").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| common::ids::new_hex_id()[..12].to_string());
    let security_groups = req.security_groups.clone();
    let created = app.server_create(&ctx, req).await?;
    let base = super::base_url(&app, &headers);
    if return_reservation_id {
        return Ok((StatusCode::ACCEPTED, Json(json!({"reservation_id": created.reservation_id}))).into_response());
    }
    let first = created.instances.first().ok_or_else(|| NovaError::Internal("no instance created".into()))?;
    let body = json!({"server": {
        "id": first.uuid,
        "links": links(&base, "servers", &first.uuid),
        "OS-DCF:diskConfig": disk_config_of(first),
        "security_groups": if security_groups.is_empty() { json!([{"name": "default"}]) } else { json!(security_groups.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()) },
        "adminPass": admin_pass,
    }});
    let mut resp = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/v2.1/servers/{}", first.uuid)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

fn list_policy(app: &SharedApp, ctx: &auth::RequestContext, query: &BTreeMap<String, String>, detail: bool) -> Result<()> {
    let kind = if detail { "detail" } else { "index" };
    app.enforce(ctx, &format!("os_compute_api:servers:{kind}"), &crate::app::App::own_target(ctx))?;
    if query.contains_key("all_tenants") {
        app.enforce(ctx, &format!("os_compute_api:servers:{kind}:get_all_tenants"), &crate::app::App::own_target(ctx))?;
    }
    Ok(())
}

fn servers_links(base: &str, path: &str, query: &BTreeMap<String, String>, more: bool, last: Option<&Instance>) -> Option<Value> {
    let last = last.filter(|_| more)?;
    Some(json!([{"href": common::pagination::next_href(base, path, query, &last.uuid), "rel": "next"}]))
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx, headers: HeaderMap, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    list_policy(&app, &ctx, &query, false)?;
    let (list, more) = app.server_list(&ctx, &query).await?;
    let base = super::base_url(&app, &headers);
    let mut body = json!({"servers": list.iter().map(|i| brief(&base, i)).collect::<Vec<_>>()});
    if let Some(l) = servers_links(&base, "/v2.1/servers", &query, more, list.last()) {
        body["servers_links"] = l;
    }
    Ok(Json(body))
}

async fn detail(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    list_policy(&app, &ctx, &query, true)?;
    let (list, more) = app.server_list(&ctx, &query).await?;
    let base = super::base_url(&app, &headers);
    let groups = app.servers_security_groups(&ctx, &list.iter().collect::<Vec<_>>()).await?;
    let mut servers = Vec::new();
    for i in &list {
        servers.push(view(&app, &ctx, &base, &mv, i, groups.get(&i.uuid)).await?);
    }
    let mut body = json!({"servers": servers});
    if let Some(l) = servers_links(&base, "/v2.1/servers/detail", &query, more, list.last()) {
        body["servers_links"] = l;
    }
    Ok(Json(body))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:servers:show", &crate::app::App::server_target(&i))?;
    let base = super::base_url(&app, &headers);
    Ok(Json(json!({"server": full(&app, &ctx, &base, &mv, &i).await?})))
}

async fn update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let body = json_body(&body)?;
    let mut changes: Map<String, Value> = body.get("server").and_then(Value::as_object).cloned().ok_or_else(|| invalid("server", "'server' is a required property"))?;
    for (k, v) in changes.iter_mut() {
        let allowed = matches!(k.as_str(), "name" | "accessIPv4" | "accessIPv6" | "OS-DCF:diskConfig") || (k == "description" && mv.0.at_least(2, 19)) || (k == "hostname" && mv.0.at_least(2, 90));
        if !allowed {
            return Err(invalid("server", &format!("Additional properties are not allowed ('{k}' was unexpected)")));
        }
        match k.as_str() {
            "name" => {
                let name = v.as_str().ok_or_else(|| invalid("name", &format!("Value: {v}. It must be a string.")))?;
                if name.trim().is_empty() || name.chars().count() > 255 {
                    return Err(invalid("name", &format!("Value: {name}. The name must be 1 to 255 characters, not only spaces.")));
                }
            }
            "accessIPv4" | "accessIPv6" => *v = json!(ip_field(Some(v), k, k == "accessIPv6")?),
            "OS-DCF:diskConfig" => {
                disk_config(Some(v))?;
            }
            _ => {}
        }
    }
    let i = app.server_update(&ctx, &id, &changes).await?;
    let base = super::base_url(&app, &headers);
    Ok(Json(json!({"server": updated_view(&app, &ctx, &base, &mv, &i).await?})))
}

async fn delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<StatusCode> {
    app.server_delete(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn action(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response> {
    let body = json_body(&body)?;
    let obj = body.as_object().ok_or_else(|| NovaError::BadRequest("Malformed request body".into()))?;
    let (name, args) = obj.iter().next().ok_or_else(|| NovaError::BadRequest("Malformed request body: no action".into()))?;
    let power = |a: PowerAction| a;
    let accepted = StatusCode::ACCEPTED.into_response();
    match name.as_str() {
        "os-start" => app.server_power_action(&ctx, &id, power(PowerAction::Start)).await.map(|_| accepted),
        "os-stop" => app.server_power_action(&ctx, &id, PowerAction::Stop).await.map(|_| accepted),
        "reboot" => {
            let kind = args.get("type").and_then(Value::as_str).ok_or_else(|| invalid("reboot", "'type' is a required property"))?;
            let a = match kind.to_ascii_uppercase().as_str() {
                "SOFT" => PowerAction::RebootSoft,
                "HARD" => PowerAction::RebootHard,
                _ => return Err(invalid("type", &format!("Value: {kind}. It must be SOFT or HARD."))),
            };
            app.server_power_action(&ctx, &id, a).await.map(|_| accepted)
        }
        "pause" => app.server_power_action(&ctx, &id, PowerAction::Pause).await.map(|_| accepted),
        "unpause" => app.server_power_action(&ctx, &id, PowerAction::Unpause).await.map(|_| accepted),
        "suspend" => app.server_power_action(&ctx, &id, PowerAction::Suspend).await.map(|_| accepted),
        "resume" => app.server_power_action(&ctx, &id, PowerAction::Resume).await.map(|_| accepted),
        "forceDelete" => app.server_delete(&ctx, &id).await.map(|_| accepted),
        "lock" => {
            let reason = args.get("locked_reason").and_then(Value::as_str).map(str::to_string);
            app.server_lock(&ctx, &id, true, reason).await.map(|_| accepted)
        }
        "unlock" => app.server_lock(&ctx, &id, false, None).await.map(|_| accepted),
        "os-getConsoleOutput" => {
            let length = match args.get("length") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).ok_or_else(|| invalid("length", &format!("Value: {v}. It must be an integer.")))?),
            };
            let out = app.server_console_output(&ctx, &id, length).await?;
            Ok(Json(json!({"output": out})).into_response())
        }
        "injectNetworkInfo" => app.server_inject_network_info(&ctx, &id).await.map(|_| accepted),
        "addFloatingIp" => super::floating_ips::floating_ip_action(&app, &ctx, &mv, &id, args, true).await,
        "removeFloatingIp" => super::floating_ips::floating_ip_action(&app, &ctx, &mv, &id, args, false).await,
        "addSecurityGroup" => super::interfaces::security_group_action(&app, &ctx, &id, args, true).await,
        "removeSecurityGroup" => super::interfaces::security_group_action(&app, &ctx, &id, args, false).await,
        other => super::server_actions::lifecycle(&app, &ctx, &mv, &headers, &id, other, args).await,
    }
}

fn action_view(a: &idb::Action) -> Value {
    json!({
        "action": a.action,
        "instance_uuid": a.instance_uuid,
        "request_id": a.request_id,
        "user_id": a.user_id,
        "project_id": a.project_id,
        "start_time": common::time::iso_micros(common::time::from_micros(a.start_time)),
        "message": a.message,
    })
}

/// The server an instance-actions request is about: from 2.21 a deleted one too.
async fn actions_server(app: &SharedApp, ctx: &auth::RequestContext, mv: &Mv, id: &str) -> Result<Instance> {
    if mv.0.at_least(2, 21) {
        app.server_get_with_deleted(ctx, id).await
    } else {
        app.server_get(ctx, id).await
    }
}

async fn actions(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    let i = actions_server(&app, &ctx, &mv, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-instance-actions:list", &crate::app::App::server_target(&i))?;
    let list = idb::action_list(&app.db, &id).await?;
    Ok(Json(json!({"instanceActions": list.iter().map(action_view).collect::<Vec<_>>()})))
}

async fn action_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, request_id)): Path<(String, String)>) -> Result<Json<Value>> {
    let i = actions_server(&app, &ctx, &mv, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-instance-actions:show", &crate::app::App::server_target(&i))?;
    let a = idb::action_by_request(&app.db, &id, &request_id).await?.ok_or_else(|| NovaError::NotFound(format!("Action for request_id {request_id} on instance {id} not found")))?;
    let mut v = action_view(&a);
    let show_events = app.enforce(&ctx, "os_compute_api:os-instance-actions:events", &crate::app::App::server_target(&i)).is_ok();
    if show_events {
        let events = idb::action_events(&app.db, &a.id).await?;
        v["events"] = json!(events
            .iter()
            .map(|e| json!({
                "event": e.event,
                "start_time": common::time::iso_micros(common::time::from_micros(e.start_time)),
                "finish_time": e.finish_time.map(|t| common::time::iso_micros(common::time::from_micros(t))),
                "result": e.result,
                "traceback": e.traceback,
            }))
            .collect::<Vec<_>>());
    }
    Ok(Json(json!({"instanceAction": v})))
}
