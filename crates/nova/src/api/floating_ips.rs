//! `/os-floating-ips`, `/os-floating-ip-pools`, `/os-networks` and `/os-tenant-networks`
//! (Nova's proxies to Neutron, gone from 2.36) and the addFloatingIp / removeFloatingIp
//! server actions (up to 2.43).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::images::deprecated;
use super::{Ctx, Mv};
use crate::app::{App, SharedApp};
use crate::error::{NovaError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2.1/os-floating-ips", get(index).post(allocate))
        .route("/v2.1/os-floating-ips/{id}", get(show).delete(release))
        .route("/v2.1/os-floating-ip-pools", get(pools))
        .route("/v2.1/os-networks", get(networks))
        .route("/v2.1/os-networks/{id}", get(network))
        .route("/v2.1/os-tenant-networks", get(tenant_networks))
        .route("/v2.1/os-tenant-networks/{id}", get(tenant_network))
}

fn allow(app: &App, ctx: &auth::RequestContext, mv: &Mv, rule: &str) -> Result<()> {
    deprecated(mv)?;
    app.enforce(ctx, rule, &App::own_target(ctx))
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv) -> Result<Json<Value>> {
    allow(&app, &ctx, &mv, "os_compute_api:os-floating-ips:list")?;
    Ok(Json(json!({"floating_ips": app.floating_ip_list(&ctx).await?})))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    allow(&app, &ctx, &mv, "os_compute_api:os-floating-ips:show")?;
    Ok(Json(json!({"floating_ip": app.floating_ip_show(&ctx, &id).await?})))
}

async fn allocate(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, body: axum::body::Bytes) -> Result<Json<Value>> {
    allow(&app, &ctx, &mv, "os_compute_api:os-floating-ips:create")?;
    let body: Value = if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).map_err(|e| NovaError::BadRequest(format!("Malformed request body: {e}")))? };
    let pool = body.get("pool").and_then(Value::as_str).filter(|p| !p.is_empty());
    Ok(Json(json!({"floating_ip": app.floating_ip_allocate(&ctx, pool).await?})))
}

async fn release(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Response> {
    allow(&app, &ctx, &mv, "os_compute_api:os-floating-ips:delete")?;
    app.floating_ip_release(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn pools(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv) -> Result<Json<Value>> {
    allow(&app, &ctx, &mv, "os_compute_api:os-floating-ip-pools:list")?;
    Ok(Json(json!({"floating_ip_pools": app.floating_ip_pools(&ctx).await?})))
}

async fn networks(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv) -> Result<Json<Value>> {
    allow(&app, &ctx, &mv, "os_compute_api:os-networks:list")?;
    Ok(Json(json!({"networks": app.legacy_networks(&ctx, None).await?})))
}

async fn network(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    allow(&app, &ctx, &mv, "os_compute_api:os-networks:view")?;
    let mut list = app.legacy_networks(&ctx, Some(&id)).await?;
    Ok(Json(json!({"network": list.pop()})))
}

/// os-tenant-networks shows only id, label and cidr.
fn tenant_view(n: &Value) -> Value {
    json!({"id": n["id"], "label": n["label"], "cidr": "None"})
}

async fn tenant_networks(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv) -> Result<Json<Value>> {
    allow(&app, &ctx, &mv, "os_compute_api:os-tenant-networks:list")?;
    Ok(Json(json!({"networks": app.legacy_networks(&ctx, None).await?.iter().map(tenant_view).collect::<Vec<_>>()})))
}

async fn tenant_network(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>) -> Result<Json<Value>> {
    allow(&app, &ctx, &mv, "os_compute_api:os-tenant-networks:show")?;
    let list = app.legacy_networks(&ctx, Some(&id)).await?;
    Ok(Json(json!({"network": list.first().map(tenant_view)})))
}

/// addFloatingIp / removeFloatingIp (up to 2.43).
pub(super) async fn floating_ip_action(app: &SharedApp, ctx: &auth::RequestContext, mv: &Mv, id: &str, args: &Value, add: bool) -> Result<Response> {
    let action = if add { "addFloatingIp" } else { "removeFloatingIp" };
    if mv.0.at_least(2, 44) {
        return Err(NovaError::BadRequest(format!("There is no such action: {action}")));
    }
    let address = args.get("address").and_then(Value::as_str).ok_or_else(|| NovaError::BadRequest(format!("Invalid input for field/attribute {action}. 'address' is a required property")))?;
    if address.parse::<std::net::IpAddr>().is_err() {
        return Err(NovaError::BadRequest(format!("Invalid input for field/attribute address. Value: {address}. '{address}' is not a 'ipv4'")));
    }
    let i = app.server_get(ctx, id).await?;
    app.enforce(ctx, if add { "os_compute_api:os-floating-ips:add" } else { "os_compute_api:os-floating-ips:remove" }, &App::server_target(&i))?;
    if add {
        let fixed = args.get("fixed_address").and_then(Value::as_str);
        app.server_add_floating_ip(ctx, &i, address, fixed).await?;
    } else {
        app.server_remove_floating_ip(ctx, &i, address).await?;
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
