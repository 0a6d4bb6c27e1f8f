//! A server's networking (nova/api/openstack/compute/attach_interfaces.py, ips.py and the
//! server part of security_groups.py): `os-interface` list/show/attach/detach,
//! `/servers/{id}/ips`, `/servers/{id}/os-security-groups`, and the addSecurityGroup and
//! removeSecurityGroup actions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{Ctx, Mv};
use crate::app::networking::AttachRequest;
use crate::app::{App, SharedApp};
use crate::error::{NovaError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2.1/servers/{server_id}/os-interface", get(list).post(attach))
        .route("/v2.1/servers/{server_id}/os-interface/{port_id}", get(show).delete(detach))
        .route("/v2.1/servers/{server_id}/ips", get(ips))
        .route("/v2.1/servers/{server_id}/ips/{network}", get(ips_of_network))
        .route("/v2.1/servers/{server_id}/os-security-groups", get(security_groups))
        .route("/v2.1/servers/{server_id}/os-server-password", get(password).delete(password_clear))
}

fn without_tag(mv: &Mv, mut v: Value) -> Value {
    if !mv.0.at_least(2, 70) {
        if let Some(o) = v.as_object_mut() {
            o.remove("tag");
        }
    }
    v
}

async fn list(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-attach-interfaces:list", &App::server_target(&i))?;
    let list: Vec<Value> = app.interfaces(&ctx, &i).await?.into_iter().map(|v| without_tag(&mv, v)).collect();
    Ok(Json(json!({"interfaceAttachments": list})))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, port_id)): Path<(String, String)>) -> Result<Json<Value>> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-attach-interfaces:show", &App::server_target(&i))?;
    Ok(Json(json!({"interfaceAttachment": without_tag(&mv, app.interface(&ctx, &i, &port_id).await?)})))
}

async fn attach(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<Value>> {
    let body: Value = if body.is_empty() { json!({}) } else { serde_json::from_slice(&body).map_err(|e| NovaError::BadRequest(format!("Malformed request body: {e}")))? };
    let a = body.get("interfaceAttachment").cloned().unwrap_or_else(|| json!({}));
    let a = a.as_object().ok_or_else(|| super::servers::invalid("interfaceAttachment", "It must be an object."))?;
    let field = |k: &str| -> Result<Option<String>> {
        match a.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(super::servers::invalid(k, &format!("Value: {v}. It must be a string."))),
        }
    };
    let fixed_ips = a.get("fixed_ips").and_then(Value::as_array).cloned().unwrap_or_default();
    if fixed_ips.len() > 1 {
        return Err(super::servers::invalid("fixed_ips", "Only one fixed IP may be given."));
    }
    let fixed_ip = fixed_ips.first().and_then(|f| f.get("ip_address")).and_then(Value::as_str).map(str::to_string);
    if let Some(ip) = &fixed_ip {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(super::servers::invalid("ip_address", &format!("Value: {ip}. It is not an IP address.")));
        }
    }
    let port_id = field("port_id")?;
    let net_id = field("net_id")?;
    if port_id.is_some() && (net_id.is_some() || fixed_ip.is_some()) {
        return Err(NovaError::BadRequest("Must not input both network_id and port_id".into()));
    }
    if fixed_ip.is_some() && net_id.is_none() {
        return Err(NovaError::BadRequest("Must input network_id when request IP address".into()));
    }
    let req = AttachRequest { port_id, net_id, fixed_ip, tag: if mv.0.at_least(2, 49) { field("tag")? } else { None } };
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-attach-interfaces:create", &App::server_target(&i))?;
    app.check_not_locked(&ctx, &i)?;
    Ok(Json(json!({"interfaceAttachment": without_tag(&mv, app.interface_attach(&ctx, &i, req).await?)})))
}

async fn detach(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, port_id)): Path<(String, String)>) -> Result<Response> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-attach-interfaces:delete", &App::server_target(&i))?;
    app.check_not_locked(&ctx, &i)?;
    app.interface_detach(&ctx, &i, &port_id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The `addresses` of a server, from its info cache.
async fn ips(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:ips:index", &App::server_target(&i))?;
    Ok(Json(json!({"addresses": crate::network::addresses(&i.network_info, false)})))
}

async fn ips_of_network(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, network)): Path<(String, String)>) -> Result<Json<Value>> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:ips:show", &App::server_target(&i))?;
    let all = crate::network::addresses(&i.network_info, false);
    let list = all.get(&network).cloned().ok_or_else(|| NovaError::NotFound("Instance is not a member of specified network".into()))?;
    let mut out = serde_json::Map::new();
    out.insert(network, list);
    Ok(Json(Value::Object(out)))
}

async fn security_groups(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-security-groups:list", &App::server_target(&i))?;
    Ok(Json(json!({"security_groups": app.server_security_groups_detail(&ctx, &i).await?})))
}

/// The encrypted admin password a guest posted to the metadata service (system metadata
/// `password_0..3`, as upstream), or "".
async fn password(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-server-password:show", &App::server_target(&i))?;
    let pw: String = (0..4).filter_map(|n| i.system_metadata.get(&format!("password_{n}")).cloned()).collect();
    Ok(Json(json!({"password": pw})))
}

async fn password_clear(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Response> {
    let i = app.server_get(&ctx, &id).await?;
    app.enforce(&ctx, "os_compute_api:os-server-password:clear", &App::server_target(&i))?;
    app.server_password_clear(&i.uuid).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// addSecurityGroup / removeSecurityGroup.
pub(super) async fn security_group_action(app: &SharedApp, ctx: &auth::RequestContext, id: &str, args: &Value, add: bool) -> Result<Response> {
    let action = if add { "addSecurityGroup" } else { "removeSecurityGroup" };
    let name = args.get("name").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| NovaError::BadRequest(format!("Invalid input for field/attribute {action}. 'name' is a required property")))?;
    let i = app.server_get(ctx, id).await?;
    app.enforce(ctx, if add { "os_compute_api:os-security-groups:add" } else { "os_compute_api:os-security-groups:remove" }, &App::server_target(&i))?;
    app.server_security_group(ctx, &i, name, add).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
