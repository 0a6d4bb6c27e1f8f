//! `/v3/credentials` (keystone/api/credentials.py) and the per-user credential APIs of
//! keystone/api/users.py: OS-EC2 credentials, application credentials and access rules.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::body::{check_name, Fields, JsonBody};
use super::{collection, links, matches_filter, self_href, QueryMap};
use crate::app::credentials::{parse_expiration, AccessRuleSpec, AppCredRequest, CredentialRef, RoleSpec, ACCESS_RULE_METHODS, CRED_TYPE_EC2};
use crate::app::{Caller, SharedApp};
use crate::db::credentials::{self as cdb, AccessRule, ApplicationCredential};
use crate::error::{KeystoneError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v3/credentials", get(credential_list).post(credential_create))
        .route("/v3/credentials/{credential_id}", get(credential_show).patch(credential_update).delete(credential_delete))
        .route("/v3/users/{user_id}/credentials/OS-EC2", get(ec2_list).post(ec2_create))
        .route("/v3/users/{user_id}/credentials/OS-EC2/{credential_id}", get(ec2_show).delete(ec2_delete))
        .route("/v3/users/{user_id}/application_credentials", get(app_cred_list).post(app_cred_create))
        .route("/v3/users/{user_id}/application_credentials/{application_credential_id}", get(app_cred_show).delete(app_cred_delete))
        .route("/v3/users/{user_id}/access_rules", get(access_rule_list))
        .route("/v3/users/{user_id}/access_rules/{access_rule_id}", get(access_rule_show).delete(access_rule_delete))
}

// -------------------------------------------------------------------------------- credentials

pub fn credential_view(base: &str, c: &CredentialRef) -> Value {
    let mut v = c.extra.clone();
    v.insert("id".into(), json!(c.id));
    v.insert("user_id".into(), json!(c.user_id));
    v.insert("project_id".into(), json!(c.project_id));
    v.insert("type".into(), json!(c.credential_type));
    v.insert("blob".into(), json!(c.blob));
    v.insert("links".into(), links(base, &format!("credentials/{}", c.id)));
    Value::Object(v)
}

/// The policy target of a credential (`{"target": {"credential": ...}}`, read as
/// `target.credential.*`).
fn credential_target(c: &CredentialRef) -> Value {
    json!({"target": {"credential": {"id": c.id, "user_id": c.user_id, "project_id": c.project_id, "type": c.credential_type}}})
}

const DELEGATED_CREDENTIAL: &str = "Credential project does not match the project scope of the delegated token";

/// The typed attributes of a credential body.
fn check_credential_fields(body: &Map<String, Value>) -> Result<()> {
    body.opt_str("blob", usize::MAX)?;
    body.opt_str("type", 255)?;
    body.opt_str("user_id", 64)?;
    body.nullable_str("project_id", 64)?;
    Ok(())
}

async fn credential_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    let target = if caller.token.system { json!({}) } else { json!({"target": {"credential": {"user_id": caller.user_id()}}}) };
    app.enforce(&caller, "identity:list_credentials", target)?;
    let base = super::base_url(&app, &headers);
    let mut out = Vec::new();
    for c in app.credential_list(query.get("user_id").map(String::as_str), query.get("type").map(String::as_str)).await? {
        if !matches_filter(Some(&c.credential_type), "type", &query) || !matches_filter(Some(&c.user_id), "user_id", &query) {
            continue;
        }
        // Only the credentials the caller may read, and for delegated tokens only those of
        // the delegated project.
        if !app.allowed(&caller, "identity:get_credential", &credential_target(&c)) || caller.check_credential_project_scope(c.project_id.as_deref(), DELEGATED_CREDENTIAL).is_err() {
            continue;
        }
        out.push(credential_view(&base, &c));
    }
    Ok(Json(collection("credentials", out, self_href(&base, &uri))))
}

async fn credential_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    let body = body.entity("credential")?;
    app.enforce(&caller, "identity:create_credential", json!({"target": {"credential": body}}))?;
    let blob = body.req_str("blob", usize::MAX)?;
    let credential_type = body.req_str("type", 255)?;
    let user_id = body.req_str("user_id", 64)?;
    check_credential_fields(&body)?;
    let project_id = body.nullable_str("project_id", 64)?.flatten();
    if credential_type == CRED_TYPE_EC2 && body.get("project_id").is_none() {
        return Err(KeystoneError::invalid_field("project_id", "'project_id' is a required property"));
    }
    if credential_type.eq_ignore_ascii_case(CRED_TYPE_EC2) {
        caller.check_unrestricted_app_cred("credentials.")?;
    }
    caller.check_credential_project_scope(project_id.as_deref(), DELEGATED_CREDENTIAL)?;
    let c = CredentialRef {
        id: common::ids::new_hex_id(),
        user_id,
        project_id,
        credential_type,
        blob,
        extra: body.iter().filter(|(k, _)| !matches!(k.as_str(), "id" | "user_id" | "project_id" | "type" | "blob" | "links")).map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    let c = app.credential_create(&caller, c).await?;
    Ok((StatusCode::CREATED, Json(json!({"credential": credential_view(&super::base_url(&app, &headers), &c)}))))
}

/// Enforces `action` on the credential (the target is empty when it does not exist, so the
/// policy answers before the 404, as upstream's `_build_target_enforcement`).
async fn credential_checked(app: &SharedApp, caller: &Caller, action: &str, id: &str) -> Result<CredentialRef> {
    let c = app.credential_get(id).await?;
    app.enforce(caller, action, c.as_ref().map(credential_target).unwrap_or_else(|| json!({})))?;
    let c = c.ok_or_else(|| KeystoneError::not_found("credential", id))?;
    caller.check_credential_project_scope(c.project_id.as_deref(), DELEGATED_CREDENTIAL)?;
    Ok(c)
}

async fn credential_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let c = credential_checked(&app, &caller, "identity:get_credential", &id).await?;
    Ok(Json(json!({"credential": credential_view(&super::base_url(&app, &headers), &c)})))
}

async fn credential_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    let current = credential_checked(&app, &caller, "identity:update_credential", &id).await?;
    let body = body.entity("credential")?;
    if body.is_empty() {
        return Err(KeystoneError::invalid_field("credential", "{} does not have enough properties"));
    }
    check_credential_fields(&body)?;
    if body.get("id").is_some_and(|v| !v.is_null() && v.as_str() != Some(id.as_str())) {
        return Err(KeystoneError::Validation("Cannot change ID".into()));
    }
    // The caller must also be allowed to own the credential as it will be after the update.
    let mut merged = credential_target(&current);
    for k in ["user_id", "project_id", "type"] {
        if let Some(v) = body.get(k) {
            merged["target"]["credential"][k] = v.clone();
        }
    }
    app.enforce(&caller, "identity:update_credential", merged)?;
    let c = app.credential_update(current, &body).await?;
    Ok(Json(json!({"credential": credential_view(&super::base_url(&app, &headers), &c)})))
}

async fn credential_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    credential_checked(&app, &caller, "identity:delete_credential", &id).await?;
    app.credential_delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------------------------ OS-EC2

/// The EC2 view of a credential (upstream's `_convert_v3_to_ec2_credential`).
fn ec2_view(base: &str, c: &CredentialRef) -> Value {
    let blob: Map<String, Value> = serde_json::from_str(&c.blob).unwrap_or_default();
    let access = blob.get("access").cloned().unwrap_or(Value::Null);
    let access_text = access.as_str().map(str::to_string).unwrap_or_else(|| access.to_string());
    json!({
        "user_id": c.user_id,
        "tenant_id": c.project_id,
        "access": access,
        "secret": blob.get("secret").cloned().unwrap_or(Value::Null),
        "trust_id": blob.get("trust_id").cloned().unwrap_or(Value::Null),
        "links": links(base, &format!("users/{}/credentials/OS-EC2/{}", c.user_id, access_text)),
    })
}

const DELEGATED_EC2: &str = "EC2 credential project does not match the project scope of the delegated token";

async fn user_exists(app: &SharedApp, user_id: &str) -> Result<()> {
    crate::db::identity::user_get(&app.db, user_id).await?.ok_or_else(|| KeystoneError::not_found("user", user_id))?;
    Ok(())
}

async fn ec2_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(user_id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:ec2_list_credentials", json!({"user_id": user_id}))?;
    user_exists(&app, &user_id).await?;
    let base = super::base_url(&app, &headers);
    let items = app
        .credential_list(Some(&user_id), Some(CRED_TYPE_EC2))
        .await?
        .iter()
        .filter(|c| caller.check_credential_project_scope(c.project_id.as_deref(), DELEGATED_EC2).is_ok())
        .map(|c| ec2_view(&base, c))
        .collect();
    Ok(Json(collection("credentials", items, self_href(&base, &uri))))
}

async fn ec2_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(user_id): Path<String>, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:ec2_create_credential", json!({"target": {"credential": {"user_id": user_id}}}))?;
    let tenant_id = body.0.nullable_str("tenant_id", 64)?.flatten();
    let c = app.ec2_credential_create(&caller, &user_id, tenant_id.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json!({"credential": ec2_view(&super::base_url(&app, &headers), &c)}))))
}

/// Looks up an EC2 credential by its access key, with upstream's order of checks.
async fn ec2_checked(app: &SharedApp, caller: &Caller, action: &str, user_id: &str, access: &str) -> Result<CredentialRef> {
    let id = crate::app::credentials::ec2_credential_id(access);
    let c = app.credential_get_checked(&id).await?;
    app.enforce(caller, action, credential_target(&c))?;
    user_exists(app, user_id).await?;
    if c.credential_type != CRED_TYPE_EC2 {
        return Err(KeystoneError::Unauthorized("EC2 access key not found.".into()));
    }
    caller.check_credential_project_scope(c.project_id.as_deref(), DELEGATED_EC2)?;
    Ok(c)
}

async fn ec2_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path((user_id, access)): Path<(String, String)>) -> Result<Json<Value>> {
    let c = ec2_checked(&app, &caller, "identity:ec2_get_credential", &user_id, &access).await?;
    Ok(Json(json!({"credential": ec2_view(&super::base_url(&app, &headers), &c)})))
}

async fn ec2_delete(State(app): State<SharedApp>, caller: Caller, Path((user_id, access)): Path<(String, String)>) -> Result<StatusCode> {
    let c = ec2_checked(&app, &caller, "identity:ec2_delete_credential", &user_id, &access).await?;
    app.credential_delete(&c.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------- application credentials

fn access_rule_view(base: &str, r: &AccessRule) -> Value {
    json!({"id": r.id, "service": r.service, "path": r.path, "method": r.method, "links": links(base, &format!("access_rules/{}", r.id))})
}

async fn app_cred_view(app: &SharedApp, base: &str, c: &ApplicationCredential) -> Result<Value> {
    let mut roles = Vec::new();
    for id in &c.role_ids {
        if let Some(r) = crate::db::assignment::role_get(&app.db, id).await? {
            roles.push(json!({"id": r.id, "name": r.name, "domain_id": r.domain_id, "description": r.description, "options": r.options}));
        }
    }
    let mut v = json!({
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "system": c.system,
        // Upstream renders application credential expiry without a zone designator.
        "expires_at": c.expires_at.map(|t| common::time::iso_micros(common::time::from_micros(t))),
        "unrestricted": c.unrestricted,
        "roles": roles,
        "links": links(base, &format!("application_credentials/{}", c.id)),
    });
    if !c.access_rule_ids.is_empty() {
        let rules = cdb::access_rule_list_by_ids(&app.db, &c.access_rule_ids).await?;
        v["access_rules"] = Value::Array(rules.iter().map(|r| json!({"id": r.id, "service": r.service, "path": r.path, "method": r.method})).collect());
    }
    Ok(v)
}

const APP_CRED_KEYS: [&str; 10] = ["id", "name", "description", "secret", "expires_at", "project_id", "roles", "unrestricted", "access_rules", "system"];

/// Reads the create body under upstream's schema (no attributes beyond the known ones).
fn app_cred_request(body: &Map<String, Value>) -> Result<AppCredRequest> {
    if let Some(k) = body.keys().find(|k| !APP_CRED_KEYS.contains(&k.as_str())) {
        return Err(KeystoneError::Validation(format!("Additional properties are not allowed ('{k}' was unexpected)")));
    }
    let name = body.req_str("name", 255)?;
    check_name("name", &name)?;
    let unrestricted = match body.get("unrestricted") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(KeystoneError::invalid_field("unrestricted", format!("{other} is not of type 'boolean', 'null'"))),
    };
    let expires_at = match body.nullable_str("expires_at", 255)?.flatten() {
        Some(t) => Some(parse_expiration(&t)?),
        None => None,
    };
    let mut roles = Vec::new();
    match body.get("roles") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                let obj = item.as_object().filter(|o| o.len() == 1).ok_or_else(|| KeystoneError::invalid_field("roles", format!("{item} must be an object with exactly one of 'id' or 'name'")))?;
                if let Some(id) = obj.opt_str("id", 64)? {
                    roles.push(RoleSpec::Id(id));
                } else if let Some(n) = obj.opt_str("name", 255)? {
                    roles.push(RoleSpec::Name(n));
                } else {
                    return Err(KeystoneError::invalid_field("roles", format!("Additional properties are not allowed in {item}")));
                }
            }
        }
        Some(other) => return Err(KeystoneError::invalid_field("roles", format!("{other} is not of type 'array'"))),
    }
    let mut access_rules = Vec::new();
    match body.get("access_rules") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                let obj = item.as_object().ok_or_else(|| KeystoneError::invalid_field("access_rules", format!("{item} is not of type 'object'")))?;
                access_rules.push(access_rule_spec(obj)?);
            }
        }
        Some(other) => return Err(KeystoneError::invalid_field("access_rules", format!("{other} is not of type 'array'"))),
    }
    Ok(AppCredRequest {
        name,
        description: body.nullable_str("description", 65535)?.flatten(),
        secret: body.nullable_str("secret", 65535)?.flatten(),
        expires_at,
        roles,
        unrestricted,
        access_rules,
    })
}

/// One access rule of a create body, checked as upstream's schema does.
fn access_rule_spec(obj: &Map<String, Value>) -> Result<AccessRuleSpec> {
    let id = obj.opt_str("id", 64)?;
    let service = obj.opt_str("service", 64)?;
    if let Some(s) = &service {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(KeystoneError::invalid_field("service", format!("'{s}' does not match '^[a-zA-Z0-9-]+$'")));
        }
    }
    let path = obj.opt_str("path", 225)?;
    if let Some(p) = &path {
        if !p.starts_with('/') {
            return Err(KeystoneError::invalid_field("path", format!("'{p}' does not match '^/\\.*'")));
        }
    }
    let method = obj.opt_str("method", 16)?;
    if let Some(m) = &method {
        if !ACCESS_RULE_METHODS.contains(&m.as_str()) {
            return Err(KeystoneError::invalid_field("method", format!("'{m}' is not one of ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT']")));
        }
    }
    Ok(AccessRuleSpec { id, service, path, method })
}

async fn app_cred_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(user_id): Path<String>, query: QueryMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_application_credentials", json!({"user_id": user_id}))?;
    caller.block_trust_for_app_creds()?;
    let base = super::base_url(&app, &headers);
    let mut out = Vec::new();
    for c in cdb::app_cred_list_for_user(&app.db, &user_id).await? {
        if matches_filter(Some(&c.name), "name", &query) {
            out.push(app_cred_view(&app, &base, &c).await?);
        }
    }
    Ok(Json(collection("application_credentials", out, self_href(&base, &uri))))
}

async fn app_cred_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(user_id): Path<String>, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_application_credential", json!({"user_id": user_id}))?;
    let body = body.entity("application_credential")?;
    caller.block_trust_for_app_creds()?;
    caller.check_unrestricted_app_cred("application credentials.")?;
    if caller.user_id() != user_id {
        return Err(KeystoneError::forbidden_action("Cannot create an application credential for another user."));
    }
    let req = app_cred_request(&body)?;
    let (c, secret) = app.app_cred_create(&caller, &user_id, req).await?;
    let mut v = app_cred_view(&app, &super::base_url(&app, &headers), &c).await?;
    v["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(json!({"application_credential": v}))))
}

/// Enforces `action` with the owner taken from the application credential itself, never from
/// the path (upstream's `_update_request_user_id_attribute`).
async fn app_cred_checked(app: &SharedApp, caller: &Caller, action: &str, user_id: &str, id: &str) -> Result<ApplicationCredential> {
    let c = cdb::app_cred_get(&app.db, id).await?;
    let owner = c.as_ref().map(|c| c.user_id.clone()).unwrap_or_else(|| user_id.to_string());
    app.enforce(caller, action, json!({"user_id": owner}))?;
    caller.block_trust_for_app_creds()?;
    c.ok_or_else(|| KeystoneError::NotFoundMessage(format!("Could not find Application Credential: {id}.")))
}

async fn app_cred_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path((user_id, id)): Path<(String, String)>) -> Result<Json<Value>> {
    let c = app_cred_checked(&app, &caller, "identity:get_application_credential", &user_id, &id).await?;
    Ok(Json(json!({"application_credential": app_cred_view(&app, &super::base_url(&app, &headers), &c).await?})))
}

async fn app_cred_delete(State(app): State<SharedApp>, caller: Caller, Path((user_id, id)): Path<(String, String)>) -> Result<StatusCode> {
    app_cred_checked(&app, &caller, "identity:delete_application_credential", &user_id, &id).await?;
    caller.check_unrestricted_app_cred("application credentials.")?;
    app.app_cred_delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------------------- access rules

/// The policy target of the per-user APIs: `{"user": {...}}` when the user exists.
async fn user_target(app: &SharedApp, user_id: &str) -> Result<Value> {
    Ok(match crate::db::identity::user_get(&app.db, user_id).await? {
        Some(u) => json!({"target": {"user": {"id": u.id, "domain_id": u.domain_id, "name": u.name}}}),
        None => json!({}),
    })
}

async fn access_rule_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(user_id): Path<String>, query: QueryMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_access_rules", user_target(&app, &user_id).await?)?;
    caller.block_trust_for_app_creds()?;
    let base = super::base_url(&app, &headers);
    let items = cdb::access_rule_list_for_user(&app.db, &user_id)
        .await?
        .iter()
        .filter(|r| matches_filter(Some(&r.service), "service", &query) && matches_filter(Some(&r.path), "path", &query) && matches_filter(Some(&r.method), "method", &query))
        .map(|r| access_rule_view(&base, r))
        .collect();
    Ok(Json(collection("access_rules", items, self_href(&base, &uri))))
}

async fn access_rule_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path((user_id, id)): Path<(String, String)>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_access_rule", user_target(&app, &user_id).await?)?;
    caller.block_trust_for_app_creds()?;
    let r = app.access_rule_get_checked(&user_id, &id).await?;
    Ok(Json(json!({"access_rule": access_rule_view(&super::base_url(&app, &headers), &r)})))
}

async fn access_rule_delete(State(app): State<SharedApp>, caller: Caller, Path((user_id, id)): Path<(String, String)>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:delete_access_rule", user_target(&app, &user_id).await?)?;
    caller.block_trust_for_app_creds()?;
    app.access_rule_delete(&user_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End-to-end checks of the catalog, credential and misc APIs through the router, over a
/// throw-away SQLite database.
#[cfg(test)]
mod smoke_tests {
    use axum::body::Body;
    use http::Request;
    use http_body_util::BodyExt;
    use serde_json::{json, Map, Value};
    use tower::ServiceExt;

    use crate::app::SharedApp;
    use crate::db::schema::DOMAIN_ROOT;
    use crate::token::fernet::TokenScope;

    struct Cloud {
        app: SharedApp,
        token: String,
        user_id: String,
        project_id: String,
    }

    async fn cloud() -> Cloud {
        let dir = std::env::temp_dir().join(format!("ks-smoke-{}", common::ids::new_hex_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cfg = common::config::Config::parse("", "test").unwrap();
        cfg.set("identity", "password_hash_rounds", "4");
        let kcfg = crate::KeystoneConfig::from_config(&cfg, &dir).unwrap();
        let app = crate::open(kcfg).await.unwrap();
        let db = &app.db;
        let project = |id: &str, domain: &str, is_domain: bool| crate::db::resource::Project {
            id: id.into(),
            name: id.into(),
            domain_id: domain.into(),
            parent_id: (!is_domain).then(|| domain.to_string()),
            description: String::new(),
            enabled: true,
            is_domain,
            extra: Map::new(),
        };
        crate::db::resource::project_create(db, &project("default", DOMAIN_ROOT, true), &[]).await.unwrap();
        crate::db::resource::project_create(db, &project("p1", "default", false), &[]).await.unwrap();
        let user = crate::db::identity::User {
            id: "u1".into(),
            domain_id: "default".into(),
            name: "admin".into(),
            enabled: true,
            default_project_id: None,
            extra: Map::new(),
            options: Map::new(),
            created_at: 0,
            last_active_at: None,
            failed_auth_count: 0,
            failed_auth_at: None,
        };
        crate::db::identity::user_create(db, &user, None).await.unwrap();
        for r in ["admin", "member", "reader"] {
            let role = crate::db::assignment::Role { id: format!("r-{r}"), name: r.into(), domain_id: None, description: None, options: Map::new(), extra: Map::new() };
            crate::db::assignment::role_create(db, &role).await.unwrap();
        }
        crate::db::assignment::implied_role_create(db, "r-admin", "r-member").await.unwrap();
        crate::db::assignment::implied_role_create(db, "r-member", "r-reader").await.unwrap();
        let a = crate::db::assignment::Assignment { kind: "UserProject".into(), actor_id: "u1".into(), target_id: "p1".into(), role_id: "r-admin".into(), inherited: false };
        crate::db::assignment::assignment_create(db, &a).await.unwrap();
        let payload = app.token_payload("u1", vec!["password".into()], TokenScope::Project("p1".into()), None);
        let token = app.token_issue(payload).await.unwrap().id;
        Cloud { app, token, user_id: "u1".into(), project_id: "p1".into() }
    }

    /// A second, non-admin user with the member role on the same project.
    async fn member(c: &Cloud) -> Cloud {
        let db = &c.app.db;
        let mut user = crate::db::identity::user_get(db, "u1").await.unwrap().unwrap();
        user.id = "u2".into();
        user.name = "demo".into();
        crate::db::identity::user_create(db, &user, None).await.unwrap();
        let a = crate::db::assignment::Assignment { kind: "UserProject".into(), actor_id: "u2".into(), target_id: "p1".into(), role_id: "r-member".into(), inherited: false };
        crate::db::assignment::assignment_create(db, &a).await.unwrap();
        c.app.bump();
        let payload = c.app.token_payload("u2", vec!["password".into()], TokenScope::Project("p1".into()), None);
        let token = c.app.token_issue(payload).await.unwrap().id;
        Cloud { app: c.app.clone(), token, user_id: "u2".into(), project_id: "p1".into() }
    }

    #[tokio::test]
    async fn members_manage_only_their_own_credentials() {
        let admin = cloud().await;
        let m = member(&admin).await;
        let (s, _) = admin.call("POST", "/v3/credentials", Some(json!({"credential": {"type": "totp", "user_id": "u1", "blob": "x"}}))).await;
        assert_eq!(s, 201);
        let (s, v) = m.call("POST", "/v3/credentials", Some(json!({"credential": {"type": "totp", "user_id": "u2", "blob": "y"}}))).await;
        assert_eq!(s, 201, "{v}");
        let own = v["credential"]["id"].as_str().unwrap().to_string();
        assert_eq!(m.call("POST", "/v3/credentials", Some(json!({"credential": {"type": "totp", "user_id": "u1", "blob": "z"}}))).await.0, 403);
        let (s, v) = m.call("GET", "/v3/credentials", None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["credentials"].as_array().unwrap().len(), 1);
        assert_eq!(m.call("GET", &format!("/v3/credentials/{own}"), None).await.0, 200);
        assert_eq!(m.call("PATCH", &format!("/v3/credentials/{own}"), Some(json!({"credential": {"user_id": "u1"}}))).await.0, 403);
        let (_, v) = admin.call("GET", "/v3/credentials", None).await;
        assert_eq!(v["credentials"].as_array().unwrap().len(), 2);
        // Application credentials: only for oneself, and only with roles the token carries.
        assert_eq!(m.call("POST", "/v3/users/u1/application_credentials", Some(json!({"application_credential": {"name": "a"}}))).await.0, 403);
        let (s, v) = m.call("POST", "/v3/users/u2/application_credentials", Some(json!({"application_credential": {"name": "a", "roles": [{"name": "admin"}]}}))).await;
        assert_eq!(s, 400, "{v}");
        let (s, v) = m.call("POST", "/v3/users/u2/application_credentials", Some(json!({"application_credential": {"name": "a"}}))).await;
        assert_eq!(s, 201, "{v}");
        let ac = v["application_credential"]["id"].as_str().unwrap().to_string();
        assert_eq!(m.call("GET", "/v3/users/u1/application_credentials", None).await.0, 403);
        // The owner comes from the credential, not from the path.
        assert_eq!(m.call("GET", &format!("/v3/users/u2/application_credentials/{ac}"), None).await.0, 200);
        assert_eq!(m.call("GET", "/v3/users/u2/access_rules", None).await.0, 200);
        assert_eq!(m.call("GET", "/v3/users/u1/access_rules", None).await.0, 403);
        assert_eq!(m.call("GET", "/v3/regions", None).await.0, 200);
        assert_eq!(m.call("GET", "/v3/services", None).await.0, 403);
        assert_eq!(m.call("GET", "/v3/limits", None).await.0, 200);
    }

    impl Cloud {
        async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
            let req = Request::builder()
                .method(method)
                .uri(path)
                .header("x-auth-token", &self.token)
                .header("content-type", "application/json")
                .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
                .unwrap();
            let res = crate::api::router(self.app.clone()).oneshot(req).await.unwrap();
            let status = res.status().as_u16();
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        }
    }

    #[tokio::test]
    async fn catalog_flow() {
        let c = cloud().await;
        let (s, _) = c.call("POST", "/v3/regions", Some(json!({"region": {"id": "RegionOne"}}))).await;
        assert_eq!(s, 201);
        let (s, v) = c.call("PUT", "/v3/regions/child", Some(json!({"region": {"parent_region_id": "RegionOne", "description": "c"}}))).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["region"]["parent_region_id"], "RegionOne");
        let (s, _) = c.call("POST", "/v3/regions", Some(json!({"region": {"id": "RegionOne"}}))).await;
        assert_eq!(s, 409);
        let (s, v) = c.call("PATCH", "/v3/regions/RegionOne", Some(json!({"region": {"parent_region_id": "child"}}))).await;
        assert_eq!(s, 400, "{v}");
        let (s, v) = c.call("POST", "/v3/services", Some(json!({"service": {"type": "compute", "name": "nova"}}))).await;
        assert_eq!(s, 201);
        let service_id = v["service"]["id"].as_str().unwrap().to_string();
        let (s, v) = c.call("POST", "/v3/endpoints", Some(json!({"endpoint": {"interface": "public", "service_id": service_id, "url": "http://x:8774/v2.1/$(project_id)s", "region_id": "child"}}))).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["endpoint"]["region"], "child");
        let endpoint_id = v["endpoint"]["id"].as_str().unwrap().to_string();
        let (s, _) = c.call("POST", "/v3/endpoints", Some(json!({"endpoint": {"interface": "public", "service_id": "nope", "url": "http://x"}}))).await;
        assert_eq!(s, 400);
        let (s, _) = c.call("POST", "/v3/endpoints", Some(json!({"endpoint": {"interface": "private", "service_id": service_id, "url": "http://x"}}))).await;
        assert_eq!(s, 400);
        let (s, v) = c.call("POST", "/v3/endpoints", Some(json!({"endpoint": {"interface": "admin", "service_id": service_id, "url": "http://x", "region": "Legacy"}}))).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(c.call("GET", "/v3/regions/Legacy", None).await.0, 200);
        let (s, v) = c.call("DELETE", "/v3/regions/RegionOne", None).await;
        assert_eq!(s, 403, "{v}");
        let (_, v) = c.call("GET", "/v3/endpoints?interface=public", None).await;
        assert_eq!(v["endpoints"].as_array().unwrap().len(), 1);
        let (s, v) = c.call("POST", "/v3/OS-EP-FILTER/endpoint_groups", Some(json!({"endpoint_group": {"name": "pub", "filters": {"interface": "public"}}}))).await;
        assert_eq!(s, 201, "{v}");
        let group_id = v["endpoint_group"]["id"].as_str().unwrap().to_string();
        let (s, _) = c.call("POST", "/v3/OS-EP-FILTER/endpoint_groups", Some(json!({"endpoint_group": {"name": "bad", "filters": {"url": "x"}}}))).await;
        assert_eq!(s, 400);
        let path = format!("/v3/OS-EP-FILTER/endpoint_groups/{group_id}/projects/{}", c.project_id);
        assert_eq!(c.call("PUT", &path, None).await.0, 204);
        assert_eq!(c.call("PUT", &path, None).await.0, 409);
        let (s, v) = c.call("GET", &path, None).await;
        assert_eq!(s, 200, "{v}");
        let (_, v) = c.call("GET", &format!("/v3/OS-EP-FILTER/projects/{}/endpoints", c.project_id), None).await;
        assert_eq!(v["endpoints"].as_array().unwrap().len(), 1);
        let (_, v) = c.call("GET", &format!("/v3/OS-EP-FILTER/endpoint_groups/{group_id}/projects"), None).await;
        assert_eq!(v["projects"][0]["id"], "p1");
        let path = format!("/v3/OS-EP-FILTER/projects/{}/endpoints/{endpoint_id}", c.project_id);
        assert_eq!(c.call("HEAD", &path, None).await.0, 404);
        assert_eq!(c.call("PUT", &path, None).await.0, 204);
        assert_eq!(c.call("HEAD", &path, None).await.0, 204);
        let (_, v) = c.call("GET", &format!("/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects"), None).await;
        assert_eq!(v["projects"].as_array().unwrap().len(), 1);
        assert_eq!(c.call("DELETE", &path, None).await.0, 204);
        assert_eq!(c.call("DELETE", &format!("/v3/endpoints/{endpoint_id}"), None).await.0, 204);
        assert_eq!(c.call("DELETE", "/v3/regions/RegionOne", None).await.0, 204);
        assert_eq!(c.call("GET", "/v3/regions/child", None).await.0, 404);
        assert_eq!(c.call("DELETE", &format!("/v3/services/{service_id}"), None).await.0, 204);
    }

    #[tokio::test]
    async fn credential_flow() {
        let c = cloud().await;
        let blob = json!({"access": "a", "secret": "s"}).to_string();
        let (s, v) = c.call("POST", "/v3/credentials", Some(json!({"credential": {"type": "ec2", "user_id": c.user_id, "project_id": c.project_id, "blob": blob}}))).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["credential"]["id"], crate::app::credentials::ec2_credential_id("a"));
        let (s, _) = c.call("POST", "/v3/credentials", Some(json!({"credential": {"type": "ec2", "user_id": c.user_id, "blob": blob}}))).await;
        assert_eq!(s, 400);
        let (s, v) = c.call("POST", "/v3/credentials", Some(json!({"credential": {"type": "totp", "user_id": c.user_id, "blob": "secret"}}))).await;
        assert_eq!(s, 201);
        let totp = v["credential"]["id"].as_str().unwrap().to_string();
        let (_, v) = c.call("GET", &format!("/v3/credentials/{totp}"), None).await;
        assert_eq!(v["credential"]["blob"], "secret");
        let (s, v) = c.call("PATCH", &format!("/v3/credentials/{totp}"), Some(json!({"credential": {"blob": "other"}}))).await;
        assert_eq!(s, 200, "{v}");
        let (_, v) = c.call("GET", "/v3/credentials?type=totp", None).await;
        assert_eq!(v["credentials"].as_array().unwrap().len(), 1);
        assert_eq!(v["credentials"][0]["blob"], "other");
        let (s, v) = c.call("POST", &format!("/v3/users/{}/credentials/OS-EC2", c.user_id), Some(json!({"tenant_id": c.project_id}))).await;
        assert_eq!(s, 201, "{v}");
        let access = v["credential"]["access"].as_str().unwrap().to_string();
        assert_eq!(c.call("GET", &format!("/v3/users/{}/credentials/OS-EC2/{access}", c.user_id), None).await.0, 200);
        let (_, v) = c.call("GET", &format!("/v3/users/{}/credentials/OS-EC2", c.user_id), None).await;
        assert_eq!(v["credentials"].as_array().unwrap().len(), 2);
        assert_eq!(c.call("DELETE", &format!("/v3/users/{}/credentials/OS-EC2/{access}", c.user_id), None).await.0, 204);
        assert_eq!(c.call("DELETE", &format!("/v3/credentials/{totp}"), None).await.0, 204);
        assert_eq!(c.call("GET", &format!("/v3/credentials/{totp}"), None).await.0, 404);

        let base = format!("/v3/users/{}/application_credentials", c.user_id);
        let body = json!({"application_credential": {"name": "ac", "roles": [{"name": "member"}], "access_rules": [{"service": "compute", "path": "/v2.1/servers", "method": "GET"}]}});
        let (s, v) = c.call("POST", &base, Some(body.clone())).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["application_credential"]["secret"].as_str().unwrap().len(), 86);
        assert_eq!(v["application_credential"]["roles"].as_array().unwrap().len(), 2);
        let ac_id = v["application_credential"]["id"].as_str().unwrap().to_string();
        assert_eq!(c.call("POST", &base, Some(body)).await.0, 409);
        let (s, _) = c.call("POST", &base, Some(json!({"application_credential": {"name": "x", "bogus": 1}}))).await;
        assert_eq!(s, 400);
        let (_, v) = c.call("GET", &format!("{base}?name=ac"), None).await;
        assert_eq!(v["application_credentials"].as_array().unwrap().len(), 1);
        assert!(v["application_credentials"][0].get("secret").is_none());
        let (_, v) = c.call("GET", &format!("/v3/users/{}/access_rules", c.user_id), None).await;
        let rule_id = v["access_rules"][0]["id"].as_str().unwrap().to_string();
        let rule = format!("/v3/users/{}/access_rules/{rule_id}", c.user_id);
        assert_eq!(c.call("DELETE", &rule, None).await.0, 403);
        assert_eq!(c.call("GET", &format!("{base}/{ac_id}"), None).await.0, 200);
        assert_eq!(c.call("DELETE", &format!("{base}/{ac_id}"), None).await.0, 204);
        assert_eq!(c.call("DELETE", &rule, None).await.0, 204);
        assert_eq!(c.call("GET", &rule, None).await.0, 404);
    }

    #[tokio::test]
    async fn misc_flow() {
        let c = cloud().await;
        let (s, v) = c.call("POST", "/v3/policies", Some(json!({"policy": {"type": "application/json", "blob": "{}"}}))).await;
        assert_eq!(s, 201, "{v}");
        let pid = v["policy"]["id"].as_str().unwrap().to_string();
        assert_eq!(c.call("PATCH", &format!("/v3/policies/{pid}"), Some(json!({"policy": {"blob": "{\"a\": 1}"}}))).await.0, 200);
        assert_eq!(c.call("DELETE", &format!("/v3/policies/{pid}"), None).await.0, 204);

        let (s, v) = c.call("PUT", "/v3/domains/default/config", Some(json!({"config": {"ldap": {"url": "ldap://h", "password": "p"}}}))).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["config"], json!({"ldap": {"url": "ldap://h"}}));
        assert_eq!(c.call("PUT", "/v3/domains/default/config", Some(json!({"config": {"ldap": {"url": "ldap://h"}}}))).await.0, 200);
        let (s, v) = c.call("PATCH", "/v3/domains/default/config/ldap/url", Some(json!({"config": {"url": "ldap://g"}}))).await;
        assert_eq!(s, 200, "{v}");
        let (_, v) = c.call("GET", "/v3/domains/default/config/ldap/url", None).await;
        assert_eq!(v, json!({"config": {"url": "ldap://g"}}));
        assert_eq!(c.call("GET", "/v3/domains/default/config/identity", None).await.0, 404);
        assert_eq!(c.call("GET", "/v3/domains/default/config/token", None).await.0, 403);
        let (s, v) = c.call("GET", "/v3/domains/config/ldap/default", None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["config"]["ldap"]["url"], "ldap://localhost");
        assert_eq!(c.call("GET", "/v3/domains/config/default", None).await.0, 200);
        assert_eq!(c.call("GET", "/v3/domains/config/ldap/url/default", None).await.0, 200);
        assert_eq!(c.call("GET", "/v3/domains/default/config/security_compliance", None).await.0, 200);
        assert_eq!(c.call("DELETE", "/v3/domains/default/config/ldap/url", None).await.0, 204);
        assert_eq!(c.call("DELETE", "/v3/domains/default/config", None).await.0, 204);

        let (_, v) = c.call("POST", "/v3/services", Some(json!({"service": {"type": "compute"}}))).await;
        let sid = v["service"]["id"].as_str().unwrap().to_string();
        let (s, v) = c.call("POST", "/v3/registered_limits", Some(json!({"registered_limits": [{"service_id": sid, "resource_name": "cores", "default_limit": 10}]}))).await;
        assert_eq!(s, 201, "{v}");
        let rl = v["registered_limits"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(c.call("POST", "/v3/registered_limits", Some(json!({"registered_limits": [{"service_id": sid, "resource_name": "cores", "default_limit": 5}]}))).await.0, 409);
        assert_eq!(c.call("POST", "/v3/limits", Some(json!({"limits": [{"service_id": sid, "resource_name": "ram", "resource_limit": 5, "project_id": c.project_id}]}))).await.0, 403);
        let (s, v) = c.call("POST", "/v3/limits", Some(json!({"limits": [{"service_id": sid, "resource_name": "cores", "resource_limit": 5, "project_id": c.project_id}]}))).await;
        assert_eq!(s, 201, "{v}");
        let lid = v["limits"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(c.call("DELETE", &format!("/v3/registered_limits/{rl}"), None).await.0, 403);
        let (_, v) = c.call("GET", "/v3/limits", None).await;
        assert_eq!(v["limits"].as_array().unwrap().len(), 1);
        assert_eq!(c.call("GET", &format!("/v3/limits/{lid}"), None).await.0, 200);
        let (_, v) = c.call("GET", "/v3/limits/model", None).await;
        assert_eq!(v["model"]["name"], "flat");
        assert_eq!(c.call("PATCH", &format!("/v3/limits/{lid}"), Some(json!({"limit": {"resource_limit": 7}}))).await.0, 200);
        assert_eq!(c.call("DELETE", &format!("/v3/limits/{lid}"), None).await.0, 204);
        assert_eq!(c.call("DELETE", &format!("/v3/registered_limits/{rl}"), None).await.0, 204);

        let (s, v) = c.call("POST", "/v3/OS-OAUTH1/consumers", Some(json!({"consumer": {"description": "d"}}))).await;
        assert_eq!(s, 201, "{v}");
        assert!(v["consumer"]["secret"].is_string());
        let cid = v["consumer"]["id"].as_str().unwrap().to_string();
        let (_, v) = c.call("GET", &format!("/v3/OS-OAUTH1/consumers/{cid}"), None).await;
        assert!(v["consumer"].get("secret").is_none());
        assert_eq!(c.call("PATCH", &format!("/v3/OS-OAUTH1/consumers/{cid}"), Some(json!({"consumer": {"secret": "x"}}))).await.0, 400);
        assert_eq!(c.call("DELETE", &format!("/v3/OS-OAUTH1/consumers/{cid}"), None).await.0, 204);
        assert_eq!(c.call("GET", &format!("/v3/OS-OAUTH1/consumers/{cid}"), None).await.0, 404);
    }
}
