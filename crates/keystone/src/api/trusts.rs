//! `/v3/OS-TRUST/trusts` (keystone/api/trusts.py).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::body::JsonBody;
use super::{links, QueryMap};
use crate::app::{Caller, SharedApp};
use crate::db::assignment as adb;
use crate::db::trusts::{self as trdb, Trust};
use crate::error::{KeystoneError, Result};
use common::time::{from_micros, iso_micros_z};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v3/OS-TRUST/trusts", get(trust_list).post(trust_create))
        .route("/v3/OS-TRUST/trusts/{trust_id}", get(trust_show).delete(trust_delete))
        .route("/v3/OS-TRUST/trusts/{trust_id}/roles", get(trust_roles))
        .route("/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}", get(trust_role).head(trust_role))
}

async fn trust_view(app: &SharedApp, base: &str, t: &Trust, summary: bool) -> Result<Value> {
    let mut v = json!({
        "id": t.id,
        "trustor_user_id": t.trustor_user_id,
        "trustee_user_id": t.trustee_user_id,
        "project_id": t.project_id,
        "impersonation": t.impersonation,
        "expires_at": t.expires_at.map(|e| iso_micros_z(from_micros(e))),
        "remaining_uses": t.remaining_uses,
        "redelegated_trust_id": t.redelegated_trust_id,
        "redelegation_count": t.redelegation_count.unwrap_or(0),
        "links": links(base, &format!("OS-TRUST/trusts/{}", t.id)),
    });
    if !summary {
        let mut roles = Vec::new();
        for r in &t.role_ids {
            if let Some(role) = adb::role_get(&app.db, r).await? {
                roles.push(super::assignment::role_view(base, &role));
            }
        }
        v["roles"] = json!(roles);
        v["roles_links"] = json!({"self": format!("{base}/v3/OS-TRUST/trusts/{}/roles", t.id), "previous": null, "next": null});
    }
    Ok(v)
}

fn trust_target(t: &Trust) -> Value {
    json!({"target": {"trust": {"id": t.id, "trustor_user_id": t.trustor_user_id, "trustee_user_id": t.trustee_user_id}}})
}

async fn trust_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    let body = body.entity("trust")?;
    let trustor = body.get("trustor_user_id").cloned().unwrap_or(Value::Null);
    app.enforce(&caller, "identity:create_trust", json!({"target": {"trust": {"trustor_user_id": trustor}}}))?;
    if caller.token.trust.is_some() || caller.token.app_cred.is_some() {
        return Err(KeystoneError::Forbidden("Cannot create a trust with a trust-scoped or application credential token.".into()));
    }
    let t = app.trust_create(caller.user_id(), &body).await?;
    let base = super::base_url(&app, &headers);
    Ok((StatusCode::CREATED, Json(json!({"trust": trust_view(&app, &base, &t, false).await?}))))
}

async fn trust_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    let trustor = query.get("trustor_user_id").cloned();
    let trustee = query.get("trustee_user_id").cloned();
    match (&trustor, &trustee) {
        (Some(u), _) => app.enforce(&caller, "identity:list_trusts_for_trustor", json!({"target": {"trust": {"trustor_user_id": u}}}))?,
        (None, Some(u)) => app.enforce(&caller, "identity:list_trusts_for_trustee", json!({"target": {"trust": {"trustee_user_id": u}}}))?,
        (None, None) => app.enforce(&caller, "identity:list_trusts", json!({}))?,
    }
    let base = super::base_url(&app, &headers);
    let now = common::time::to_micros(common::time::now());
    let mut out = Vec::new();
    for t in trdb::trust_list(&app.db).await? {
        if trustor.as_ref().is_some_and(|u| *u != t.trustor_user_id) || trustee.as_ref().is_some_and(|u| *u != t.trustee_user_id) {
            continue;
        }
        if t.expires_at.is_some_and(|e| e <= now) {
            continue;
        }
        out.push(trust_view(&app, &base, &t, true).await?);
    }
    Ok(Json(super::collection("trusts", out, super::self_href(&base, &uri))))
}

async fn trust_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    // A missing trust is 404 before policy: it has no trustor or trustee to check against.
    let t = app.trust_get_checked(&id).await?;
    let target = trust_target(&t);
    app.enforce(&caller, "identity:get_trust", target)?;
    Ok(Json(json!({"trust": trust_view(&app, &super::base_url(&app, &headers), &t, false).await?})))
}

async fn trust_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    // A missing trust is 404 before policy: it has no trustor or trustee to check against.
    let t = app.trust_get_checked(&id).await?;
    let target = trust_target(&t);
    app.enforce(&caller, "identity:delete_trust", target)?;
    app.trust_delete(&t).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn trust_roles(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(id): Path<String>) -> Result<Json<Value>> {
    // A missing trust is 404 before policy: it has no trustor or trustee to check against.
    let t = app.trust_get_checked(&id).await?;
    let target = trust_target(&t);
    app.enforce(&caller, "identity:list_roles_for_trust", target)?;
    let base = super::base_url(&app, &headers);
    let mut out = Vec::new();
    for r in &t.role_ids {
        if let Some(role) = adb::role_get(&app.db, r).await? {
            out.push(super::assignment::role_view(&base, &role));
        }
    }
    Ok(Json(super::collection("roles", out, super::self_href(&base, &uri))))
}

async fn trust_role(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path((id, role_id)): Path<(String, String)>) -> Result<Json<Value>> {
    // A missing trust is 404 before policy: it has no trustor or trustee to check against.
    let t = app.trust_get_checked(&id).await?;
    let target = trust_target(&t);
    app.enforce(&caller, "identity:get_role_for_trust", target)?;
    if !t.role_ids.contains(&role_id) {
        return Err(KeystoneError::not_found("role", role_id));
    }
    let role = adb::role_get(&app.db, &role_id).await?.ok_or_else(|| KeystoneError::not_found("role", &role_id))?;
    Ok(Json(json!({"role": super::assignment::role_view(&super::base_url(&app, &headers), &role)})))
}
