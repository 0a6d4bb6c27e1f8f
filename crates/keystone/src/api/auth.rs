//! `/v3/auth/*` (keystone/api/auth.py): issuing tokens (201 with `X-Subject-Token`), validating
//! (GET), checking (HEAD) and revoking (DELETE) them, and the catalog, projects, domains and
//! system a token can be scoped to.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::body::JsonBody;
use super::QueryMap;
use crate::app::tokens::TokenData;
use crate::app::{query_bool, Caller, SharedApp};
use crate::db::tokens::RevocationEvent;
use crate::error::{KeystoneError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v3/auth/tokens", get(validate).head(check).delete(revoke).post(issue))
        .route("/v3/auth/catalog", get(catalog))
        .route("/v3/auth/projects", get(projects))
        .route("/v3/auth/domains", get(domains))
        .route("/v3/auth/system", get(system))
}

/// The request context a validated token gives (for other layers and the log).
pub fn context(request_id: String, token: String, t: &TokenData) -> ::auth::RequestContext {
    ::auth::RequestContext {
        request_id,
        auth_token: Some(token),
        token: Some(::auth::ValidatedToken {
            user_id: t.user.id.clone(),
            user_name: t.user.name.clone(),
            user_domain_id: t.user.domain_id.clone(),
            user_domain_name: t.user.domain_name.clone(),
            project_id: t.project.as_ref().map(|p| p.id.clone()),
            project_name: t.project.as_ref().map(|p| p.name.clone()),
            project_domain_id: t.project.as_ref().map(|p| p.domain_id.clone()),
            project_domain_name: t.project.as_ref().map(|p| p.domain_name.clone()),
            domain_id: t.domain.as_ref().map(|d| d.0.clone()),
            domain_name: t.domain.as_ref().map(|d| d.1.clone()),
            system_scope: t.system.then(|| "all".to_string()),
            roles: t.roles.iter().map(|r| r.name.clone()).collect(),
            role_ids: t.roles.iter().map(|r| r.id.clone()).collect(),
            is_admin_project: t.project.is_some(),
            expires_at: Some(t.payload.expires_at),
            audit_ids: t.payload.audit_ids.clone(),
            methods: t.payload.methods.clone(),
            app_cred_id: t.payload.app_cred_id.clone(),
            trust_id: t.trust.as_ref().map(|tr| tr.id.clone()),
        }),
        service_token: None,
    }
}

fn with_subject_token(status: StatusCode, token_id: &str, body: Value) -> Result<Response> {
    let mut resp = (status, Json(body)).into_response();
    let v = HeaderValue::from_str(token_id).map_err(|e| KeystoneError::Internal(e.to_string()))?;
    resp.headers_mut().insert("x-subject-token", v);
    Ok(resp)
}

/// POST /v3/auth/tokens
async fn issue(State(app): State<SharedApp>, headers: HeaderMap, query: QueryMap, JsonBody(body): JsonBody) -> Result<Response> {
    let caller_token = headers.get("x-auth-token").and_then(|v| v.to_str().ok());
    let token = app.authenticate(&body, caller_token).await?;
    let include_catalog = !query.contains_key("nocatalog");
    let rendered = app.token_render(&token, include_catalog).await?;
    with_subject_token(StatusCode::CREATED, &token.id, rendered)
}

async fn subject(app: &SharedApp, caller: &Caller, headers: &HeaderMap, query: &QueryMap, action: &str) -> Result<Arc<TokenData>> {
    let subject = headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| KeystoneError::Validation("X-Subject-Token is required.".into()))?;
    let allow_expired = query.get("allow_expired").is_some_and(|v| query_bool(v));
    // An invalid, expired or revoked subject is simply not found (it names nobody, so there
    // is nothing to authorize against); a valid one is checked against its owner.
    let found = app
        .token_validate(subject, allow_expired)
        .await?
        .map_err(|_| KeystoneError::NotFound { kind: "token", id: subject.to_string() })?;
    let target_user = found.user.id.clone();
    app.enforce(caller, action, json!({"target": {"token": {"user_id": target_user}}, "token": {"user_id": target_user}}))?;
    Ok(found)
}

/// GET /v3/auth/tokens
async fn validate(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, query: QueryMap) -> Result<Response> {
    let t = subject(&app, &caller, &headers, &query, "identity:validate_token").await?;
    let include_catalog = !query.contains_key("nocatalog");
    let body = app.token_render(&t, include_catalog).await?;
    with_subject_token(StatusCode::OK, &t.id, body)
}

/// HEAD /v3/auth/tokens
async fn check(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, query: QueryMap) -> Result<Response> {
    let t = subject(&app, &caller, &headers, &query, "identity:check_token").await?;
    with_subject_token(StatusCode::OK, &t.id, Value::Null).map(|mut r| {
        *r.body_mut() = axum::body::Body::empty();
        r
    })
}

/// DELETE /v3/auth/tokens: revokes the subject token (by its audit id).
async fn revoke(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, query: QueryMap) -> Result<StatusCode> {
    let t = subject(&app, &caller, &headers, &query, "identity:revoke_token").await?;
    app.revoke(RevocationEvent { audit_id: t.payload.audit_ids.first().cloned(), ..Default::default() }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /v3/auth/catalog
async fn catalog(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_auth_catalog", json!({}))?;
    if caller.token.is_unscoped() {
        return Err(KeystoneError::Forbidden("A scoped token is required to see the catalog.".into()));
    }
    let base = super::base_url(&app, &headers);
    let catalog = app.catalog_for(caller.token.project.as_ref().map(|p| p.id.as_str())).await?;
    Ok(Json(json!({"catalog": catalog.as_ref(), "links": {"self": format!("{base}/v3/auth/catalog"), "previous": null, "next": null}})))
}

/// GET /v3/auth/projects
async fn projects(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_auth_projects", json!({}))?;
    let base = super::base_url(&app, &headers);
    let mut out = Vec::new();
    for p in app.projects_for_user(&caller.token.catalog_user_id).await? {
        if !p.enabled {
            continue;
        }
        let tags = crate::db::resource::project_tags(&app.db, &p.id).await?;
        out.push(super::resource::project_view(&base, &p, &tags));
    }
    Ok(Json(super::collection("projects", out, format!("{base}/v3/auth/projects"))))
}

/// GET /v3/auth/domains
async fn domains(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_auth_domains", json!({}))?;
    let base = super::base_url(&app, &headers);
    let out = app
        .domains_for_user(&caller.token.catalog_user_id)
        .await?
        .iter()
        .filter(|d| d.enabled)
        .map(|d| super::resource::domain_view(&base, d))
        .collect();
    Ok(Json(super::collection("domains", out, format!("{base}/v3/auth/domains"))))
}

/// GET /v3/auth/system
async fn system(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_auth_system", json!({}))?;
    let base = super::base_url(&app, &headers);
    let roles = app.effective_roles(&caller.token.catalog_user_id, &crate::app::assignment::RoleTarget::System).await?;
    let system: Vec<Value> = if roles.is_empty() { vec![] } else { vec![json!({"all": true})] };
    Ok(Json(json!({"system": system, "links": {"self": format!("{base}/v3/auth/system"), "previous": null, "next": null}})))
}
