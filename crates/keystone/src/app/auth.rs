//! Authentication (keystone/auth/plugins and keystone/api/_shared/authentication.py): the
//! `password`, `token` and `application_credential` methods, the security-compliance rules that
//! apply to passwords (lockout, expiry, first-use change), and scope resolution.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::tokens::TokenData;
use super::App;
use crate::db::{credentials as cdb, identity as idb, resource as rdb, trusts as trdb};
use crate::error::{KeystoneError, Result};
use crate::token::fernet::{TokenPayload, TokenScope};
use common::time::{from_micros, to_micros};

/// What the caller asked to be scoped to.
#[derive(Debug, Clone, PartialEq)]
pub enum ScopeRequest {
    None,
    Unscoped,
    Project(String),
    Domain(String),
    System,
    Trust(String),
}

fn unauthorized() -> KeystoneError {
    KeystoneError::unauthenticated()
}

/// A name that resolves to nothing is an authentication failure; anything else (a database
/// outage) stays what it is, so it is logged and answered as a 500.
fn not_found_is_unauthorized(e: KeystoneError) -> KeystoneError {
    match e {
        KeystoneError::NotFound { .. } | KeystoneError::NotFoundMessage(_) => unauthorized(),
        other => other,
    }
}

fn obj<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| KeystoneError::invalid_field(field, "must be an object"))
}

/// bcrypt hashing and checking off the async threads (it is deliberately slow).
pub async fn hash_password(password: String, cost: u32) -> Result<String> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|e| KeystoneError::Internal(e.to_string()))?
        .map_err(|e| KeystoneError::Internal(e.to_string()))
}

pub async fn check_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false)).await.unwrap_or(false)
}

impl App {
    /// Handles the body of POST /v3/auth/tokens; returns the new token.
    pub async fn authenticate(&self, body: &Map<String, Value>, caller_token: Option<&str>) -> Result<TokenData> {
        let auth = body.get("auth").ok_or_else(|| KeystoneError::invalid_field("auth", "'auth' is a required property"))?;
        let auth = obj(auth, "auth")?;
        let identity = auth.get("identity").ok_or_else(|| KeystoneError::invalid_field("identity", "'identity' is a required property"))?;
        let identity = obj(identity, "identity")?;
        let methods: Vec<String> = match identity.get("methods") {
            Some(Value::Array(a)) if !a.is_empty() => {
                a.iter().map(|m| m.as_str().map(str::to_string).ok_or_else(|| KeystoneError::invalid_field("methods", "items must be strings"))).collect::<Result<_>>()?
            }
            _ => return Err(KeystoneError::invalid_field("methods", "'methods' is a required property and must be a non-empty list")),
        };
        let scope = parse_scope(auth.get("scope"), self).await?;

        // Identity: each method must succeed and name the same user.
        let mut user_id: Option<String> = None;
        let mut expires_cap: Option<DateTime<Utc>> = None;
        let mut parent_audit: Option<String> = None;
        let mut app_cred: Option<cdb::ApplicationCredential> = None;
        let mut rescope_from: Option<std::sync::Arc<TokenData>> = None;
        for m in &methods {
            let data = identity.get(m).ok_or_else(|| KeystoneError::Validation(format!("Invalid input for field 'identity': '{m}' is a required property")))?;
            let uid = match m.as_str() {
                "password" => self.auth_password(obj(data, "password")?).await?,
                "token" => {
                    let id = data.get("id").and_then(Value::as_str).map(str::to_string).or_else(|| caller_token.map(str::to_string));
                    let Some(id) = id else { return Err(KeystoneError::invalid_field("token", "'id' is a required property")) };
                    let t = match self.token_validate(&id, false).await? {
                        Ok(t) => t,
                        Err(_) => return Err(KeystoneError::not_found("token", id)),
                    };
                    if t.payload.app_cred_id.is_some() {
                        return Err(KeystoneError::forbidden_action("identity:rescope_application_credential_token"));
                    }
                    if t.trust.is_some() {
                        return Err(KeystoneError::forbidden_action("identity:rescope_trust_token"));
                    }
                    if !self.cfg.allow_rescope_scoped_token && !t.is_unscoped() {
                        return Err(KeystoneError::forbidden_action("identity:rescope_scoped_token"));
                    }
                    expires_cap = Some(t.payload.expires_at);
                    parent_audit = t.payload.audit_ids.last().cloned();
                    let uid = t.user.id.clone();
                    rescope_from = Some(t);
                    uid
                }
                "application_credential" => {
                    let ac = self.auth_app_cred(obj(data, "application_credential")?).await?;
                    let uid = ac.user_id.clone();
                    expires_cap = ac.expires_at.map(from_micros);
                    app_cred = Some(ac);
                    uid
                }
                other => return Err(KeystoneError::Unauthorized(format!("Attempted to authenticate with an unsupported method: {other}."))),
            };
            if user_id.as_ref().is_some_and(|u| *u != uid) {
                return Err(unauthorized());
            }
            user_id = Some(uid);
        }
        let user_id = user_id.ok_or_else(unauthorized)?;

        // Scope: explicit, else the application credential's, else the default project.
        let scope = match (&app_cred, scope) {
            (Some(ac), ScopeRequest::None) => match (&ac.project_id, &ac.system) {
                (Some(p), _) => TokenScope::Project(p.clone()),
                (None, Some(_)) => TokenScope::System,
                _ => TokenScope::Unscoped,
            },
            (Some(ac), s) => {
                let matches = match &s {
                    ScopeRequest::Project(p) => ac.project_id.as_ref() == Some(p),
                    ScopeRequest::System => ac.system.is_some(),
                    _ => false,
                };
                if !matches {
                    return Err(KeystoneError::Unauthorized("Application credentials cannot request a scope.".into()));
                }
                if ac.project_id.is_some() { TokenScope::Project(ac.project_id.clone().unwrap_or_default()) } else { TokenScope::System }
            }
            (None, ScopeRequest::None) => match &rescope_from {
                // A token presented without a new scope keeps its own.
                Some(t) => t.payload.scope.clone(),
                None => self.default_scope(&user_id).await?,
            },
            (None, ScopeRequest::Unscoped) => TokenScope::Unscoped,
            (None, ScopeRequest::Project(p)) => TokenScope::Project(p),
            (None, ScopeRequest::Domain(d)) => TokenScope::Domain(d),
            (None, ScopeRequest::System) => TokenScope::System,
            (None, ScopeRequest::Trust(t)) => self.trust_scope(&user_id, &t).await?,
        };
        let mut methods = methods;
        if let Some(t) = &rescope_from {
            for m in &t.payload.methods {
                if !methods.contains(m) {
                    methods.push(m.clone());
                }
            }
        }
        let mut payload: TokenPayload = self.token_payload(&user_id, methods, scope.clone(), expires_cap);
        if let Some(a) = parent_audit {
            payload.audit_ids.push(a);
        }
        payload.app_cred_id = app_cred.as_ref().map(|a| a.id.clone());
        if let TokenScope::Trust { trust_id, .. } = &scope {
            if let Some(trust) = trdb::trust_get(&self.db, trust_id).await? {
                if let Some(e) = trust.expires_at {
                    payload.expires_at = payload.expires_at.min(from_micros(e));
                }
                if trust.remaining_uses.is_some() && !trdb::trust_consume_use(&self.db, trust_id).await? {
                    return Err(KeystoneError::Unauthorized("Trust has no remaining uses.".into()));
                }
            }
        }
        match self.token_issue(payload).await {
            Ok(t) => Ok(t),
            Err(KeystoneError::Unauthorized(_)) => Err(self.scope_failure(&user_id, &scope).await),
            Err(e) => Err(e),
        }
    }

    /// Explains why a scope could not be granted, as upstream does.
    async fn scope_failure(&self, user_id: &str, scope: &TokenScope) -> KeystoneError {
        match scope {
            TokenScope::Project(p) => KeystoneError::Unauthorized(format!("User {user_id} has no access to project {p}")),
            TokenScope::Domain(d) => KeystoneError::Unauthorized(format!("User {user_id} has no access to domain {d}")),
            TokenScope::System => KeystoneError::Unauthorized(format!("User {user_id} has no access to the system")),
            _ => unauthorized(),
        }
    }

    async fn default_scope(&self, user_id: &str) -> Result<TokenScope> {
        let Some(user) = idb::user_get(&self.db, user_id).await? else { return Ok(TokenScope::Unscoped) };
        let Some(pid) = user.default_project_id else { return Ok(TokenScope::Unscoped) };
        let Some(project) = rdb::project_get(&self.db, &pid).await? else { return Ok(TokenScope::Unscoped) };
        if !project.enabled {
            return Ok(TokenScope::Unscoped);
        }
        let roles = self.effective_roles(user_id, &super::assignment::RoleTarget::Project(pid.clone())).await?;
        Ok(if roles.is_empty() { TokenScope::Unscoped } else { TokenScope::Project(pid) })
    }

    async fn trust_scope(&self, user_id: &str, trust_id: &str) -> Result<TokenScope> {
        let Some(trust) = trdb::trust_get(&self.db, trust_id).await? else {
            return Err(KeystoneError::not_found("trust", trust_id));
        };
        if trust.trustee_user_id != user_id {
            return Err(KeystoneError::Forbidden("User is not a trustee.".into()));
        }
        if trust.expires_at.is_some_and(|e| e <= to_micros(Utc::now())) {
            return Err(KeystoneError::Unauthorized("Trust has expired.".into()));
        }
        match trust.project_id {
            Some(p) => Ok(TokenScope::Trust { trust_id: trust.id, project_id: p }),
            None => Err(KeystoneError::Forbidden("Trust is not scoped to a project.".into())),
        }
    }

    /// Resolves `{"user": {"id"} | {"name", "domain": {...}}}` to a user.
    async fn user_from_ref(&self, user: &Map<String, Value>) -> Result<idb::User> {
        if let Some(id) = user.get("id").and_then(Value::as_str) {
            return idb::user_get(&self.db, id).await?.ok_or_else(unauthorized);
        }
        let name = user.get("name").and_then(Value::as_str).ok_or_else(|| KeystoneError::Validation("Invalid input for field 'user': either 'id' or 'name' is required".into()))?;
        let domain = user.get("domain").and_then(Value::as_object).ok_or_else(|| KeystoneError::Validation("Invalid input for field 'user': 'domain' is required with 'name'".into()))?;
        let domain_id = self.domain_id_from_ref(domain).await.map_err(not_found_is_unauthorized)?;
        idb::user_get_by_name(&self.db, name, &domain_id).await?.ok_or_else(unauthorized)
    }

    pub(crate) async fn domain_id_from_ref(&self, domain: &Map<String, Value>) -> Result<String> {
        if let Some(id) = domain.get("id").and_then(Value::as_str) {
            let d = rdb::domain_get(&self.db, id).await?.ok_or_else(|| KeystoneError::not_found("domain", id))?;
            return Ok(d.id);
        }
        let name = domain.get("name").and_then(Value::as_str).ok_or_else(|| KeystoneError::Validation("Invalid input for field 'domain': either 'id' or 'name' is required".into()))?;
        let d = rdb::domain_get_by_name(&self.db, name).await?.ok_or_else(|| KeystoneError::not_found("domain", name))?;
        Ok(d.id)
    }

    async fn auth_password(&self, data: &Map<String, Value>) -> Result<String> {
        let user = data.get("user").and_then(Value::as_object).ok_or_else(|| KeystoneError::Validation("Invalid input for field 'password': 'user' is a required property".into()))?;
        let password = user.get("password").and_then(Value::as_str).ok_or_else(unauthorized)?.to_string();
        let u = self.user_from_ref(user).await?;
        let sc = &self.cfg.security_compliance;
        let now = to_micros(Utc::now());
        if let (Some(attempts), Some(duration)) = (sc.lockout_failure_attempts, sc.lockout_duration) {
            let locked_until = u.failed_auth_at.map(|at| at + duration * 1_000_000).unwrap_or(0);
            if u.failed_auth_count >= i64::from(attempts) && now < locked_until {
                return Err(KeystoneError::Unauthorized(format!("The account is locked for user: {}.", u.id)));
            }
        }
        let current = idb::password_history(&self.db, &u.id, 1).await?;
        let ok = match current.first() {
            Some(p) => check_password(password, p.password_hash.clone()).await,
            None => false,
        };
        if !ok {
            if sc.lockout_failure_attempts.is_some() {
                // A lockout that has run out starts the count again.
                let duration = sc.lockout_duration.unwrap_or(1800) * 1_000_000;
                let expired = u.failed_auth_at.is_some_and(|at| now >= at + duration);
                let count = if expired { 1 } else { u.failed_auth_count + 1 };
                idb::user_record_auth(&self.db, &u.id, count, Some(now), None).await?;
            }
            return Err(unauthorized());
        }
        if !u.enabled {
            return Err(KeystoneError::Unauthorized(format!("The account is disabled for user: {}.", u.id)));
        }
        if let Some(p) = current.first() {
            if p.expires_at.is_some_and(|e| e <= now) {
                return Err(KeystoneError::Unauthorized(format!("The password is expired and needs to be changed for user: {}.", u.id)));
            }
            let ignore = u.options.get("ignore_change_password_upon_first_use").and_then(Value::as_bool).unwrap_or(false);
            if sc.change_password_upon_first_use && !p.self_service && !ignore {
                return Err(KeystoneError::Unauthorized(format!("The password is expired and needs to be changed for user: {}.", u.id)));
            }
        }
        if u.failed_auth_count != 0 || sc.disable_user_account_days_inactive.is_some() {
            idb::user_record_auth(&self.db, &u.id, 0, None, Some(now)).await?;
        }
        Ok(u.id)
    }

    async fn auth_app_cred(&self, data: &Map<String, Value>) -> Result<cdb::ApplicationCredential> {
        let secret = data.get("secret").and_then(Value::as_str).ok_or_else(unauthorized)?.to_string();
        let ac = if let Some(id) = data.get("id").and_then(Value::as_str) {
            cdb::app_cred_get(&self.db, id).await?
        } else {
            let name = data.get("name").and_then(Value::as_str).ok_or_else(unauthorized)?;
            let user = data.get("user").and_then(Value::as_object).ok_or_else(unauthorized)?;
            let u = self.user_from_ref(user).await?;
            cdb::app_cred_get_by_name(&self.db, &u.id, name).await?
        };
        let ac = ac.ok_or_else(unauthorized)?;
        if ac.expires_at.is_some_and(|e| e <= to_micros(Utc::now())) {
            return Err(unauthorized());
        }
        if !check_password(secret, ac.secret_hash.clone()).await {
            return Err(unauthorized());
        }
        Ok(ac)
    }
}

async fn parse_scope(scope: Option<&Value>, app: &App) -> Result<ScopeRequest> {
    let Some(scope) = scope else { return Ok(ScopeRequest::None) };
    if scope.as_str() == Some("unscoped") {
        return Ok(ScopeRequest::Unscoped);
    }
    let scope = obj(scope, "scope")?;
    let kinds = ["project", "domain", "system", "OS-TRUST:trust"].iter().filter(|k| scope.contains_key(**k)).count();
    if kinds > 1 {
        return Err(KeystoneError::Validation("Specify a domain, a project or the system, not more than one.".into()));
    }
    if let Some(p) = scope.get("project") {
        let p = obj(p, "project")?;
        if let Some(id) = p.get("id").and_then(Value::as_str) {
            return Ok(ScopeRequest::Project(id.to_string()));
        }
        let name = p.get("name").and_then(Value::as_str).ok_or_else(|| KeystoneError::Validation("Invalid input for field 'project': either 'id' or 'name' is required".into()))?;
        let domain = p.get("domain").and_then(Value::as_object).ok_or_else(|| KeystoneError::Validation("Invalid input for field 'project': 'domain' is required with 'name'".into()))?;
        let domain_id = app.domain_id_from_ref(domain).await.map_err(not_found_is_unauthorized)?;
        let project = rdb::project_get_by_name(&app.db, name, &domain_id).await?.ok_or_else(unauthorized)?;
        return Ok(ScopeRequest::Project(project.id));
    }
    if let Some(d) = scope.get("domain") {
        let d = obj(d, "domain")?;
        let id = app.domain_id_from_ref(d).await.map_err(not_found_is_unauthorized)?;
        return Ok(ScopeRequest::Domain(id));
    }
    if let Some(s) = scope.get("system") {
        if s.get("all").and_then(Value::as_bool) == Some(true) {
            return Ok(ScopeRequest::System);
        }
        return Err(KeystoneError::invalid_field("system", "only {\"all\": true} is supported"));
    }
    if let Some(t) = scope.get("OS-TRUST:trust") {
        let id = t.get("id").and_then(Value::as_str).ok_or_else(|| KeystoneError::invalid_field("OS-TRUST:trust", "'id' is a required property"))?;
        return Ok(ScopeRequest::Trust(id.to_string()));
    }
    Ok(ScopeRequest::None)
}
