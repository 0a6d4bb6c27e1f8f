//! The token provider (keystone/token/provider.py with the Fernet formatter): issues tokens,
//! validates them (decrypt, expiry, revocation events, then re-reads the user, scope and roles
//! so a disabled user or removed role invalidates existing tokens), and renders the v3 token
//! body (keystone/common/render_token.py).

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::App;
use crate::db::{assignment as adb, identity as idb, resource as rdb, tokens as tdb};
use crate::error::{KeystoneError, Result};
use crate::token::fernet::{new_audit_id, TokenPayload, TokenScope};
use common::time::{from_micros, iso_micros_z, to_micros};

#[derive(Debug, Clone, PartialEq)]
pub struct UserRef {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub domain_name: String,
    pub password_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectRef {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub domain_name: String,
    pub is_domain: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleRef {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppCredRef {
    pub id: String,
    pub name: String,
    pub restricted: bool,
    pub access_rules: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrustRef {
    pub id: String,
    pub impersonation: bool,
    pub trustor_id: String,
    pub trustee_id: String,
}

/// A validated token with everything its body shows.
#[derive(Debug, Clone)]
pub struct TokenData {
    pub id: String,
    pub payload: TokenPayload,
    pub user: UserRef,
    pub project: Option<ProjectRef>,
    /// (id, name) of the domain of a domain-scoped token.
    pub domain: Option<(String, String)>,
    pub system: bool,
    pub roles: Vec<RoleRef>,
    pub app_cred: Option<AppCredRef>,
    pub trust: Option<TrustRef>,
    /// The user the token acts as (the trustor for impersonating trusts).
    pub catalog_user_id: String,
}

impl TokenData {
    pub fn is_unscoped(&self) -> bool {
        matches!(self.payload.scope, TokenScope::Unscoped)
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.payload.expires_at
    }
}

/// Revocation events held in memory (loaded at start, appended on revoke, refreshed from the
/// database so events written by another Keystone process are seen).
#[derive(Default)]
pub struct RevocationList {
    events: RwLock<Vec<tdb::RevocationEvent>>,
    last_refresh: RwLock<Option<std::time::Instant>>,
}

impl RevocationList {
    fn matches(&self, t: &TokenData) -> bool {
        let Ok(events) = self.events.read() else { return true };
        let issued = to_micros(t.payload.issued_at);
        let project_id = t.project.as_ref().map(|p| p.id.as_str());
        let domain_id = t.domain.as_ref().map(|d| d.0.as_str()).or(t.project.as_ref().map(|p| p.domain_id.as_str()));
        let audit = t.payload.audit_ids.first().map(String::as_str);
        let chain = t.payload.audit_ids.last().map(String::as_str);
        let role_ids: Vec<&str> = t.roles.iter().map(|r| r.id.as_str()).collect();
        let trust_id = t.trust.as_ref().map(|tr| tr.id.as_str());
        events.iter().any(|e| {
            issued <= e.issued_before
                && e.user_id.as_deref().is_none_or(|u| u == t.user.id || t.trust.as_ref().is_some_and(|tr| tr.trustor_id == u || tr.trustee_id == u))
                && e.project_id.as_deref().is_none_or(|p| Some(p) == project_id)
                && e.domain_id.as_deref().is_none_or(|d| Some(d) == domain_id || d == t.user.domain_id)
                && e.role_id.as_deref().is_none_or(|r| role_ids.contains(&r))
                && e.trust_id.as_deref().is_none_or(|tr| Some(tr) == trust_id)
                && e.audit_id.as_deref().is_none_or(|a| Some(a) == audit)
                && e.audit_chain_id.as_deref().is_none_or(|a| Some(a) == chain)
                && e.expires_at.is_none_or(|x| x == to_micros(t.payload.expires_at))
                && e.consumer_id.is_none()
                && e.access_token_id.is_none()
        })
    }
}

/// Why a token did not validate (the API turns these into 401 or 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenInvalid {
    Malformed,
    Expired,
    Revoked,
    /// The user, scope or roles it names are gone or disabled.
    Stale,
}

impl App {
    pub(crate) async fn revocations_reload(&self) -> Result<()> {
        let horizon = to_micros(Utc::now() - Duration::seconds(self.cfg.token_expiration + self.cfg.allow_expired_window));
        let fetched = tdb::revocation_event_list_since(&self.db, horizon).await?;
        // Merge rather than replace: an event recorded by `revoke` while this query ran is
        // already in memory but may be missing from what was read, and dropping it would let
        // a just-revoked token validate until the next refresh.
        if let Ok(mut g) = self.revocations.events.write() {
            let mut merged: Vec<tdb::RevocationEvent> = g.drain(..).filter(|e| e.revoked_at >= horizon).collect();
            for e in fetched {
                if !merged.iter().any(|m| m.id == e.id) {
                    merged.push(e);
                }
            }
            *g = merged;
        }
        if let Ok(mut g) = self.revocations.last_refresh.write() {
            *g = Some(std::time::Instant::now());
        }
        Ok(())
    }

    /// Records a revocation event; tokens matching it stop validating at once.
    pub async fn revoke(&self, mut event: tdb::RevocationEvent) -> Result<()> {
        let now = to_micros(common::time::now());
        event.id = common::ids::new_hex_id();
        event.revoked_at = now;
        if event.issued_before == 0 {
            event.issued_before = now;
        }
        tdb::revocation_event_create(&self.db, &event).await?;
        if let Ok(mut g) = self.revocations.events.write() {
            g.push(event);
        }
        self.bump();
        Ok(())
    }

    /// Issues a token for an authenticated user and scope, and resolves its body.
    pub async fn token_issue(&self, mut payload: TokenPayload) -> Result<TokenData> {
        if payload.audit_ids.is_empty() {
            payload.audit_ids.push(new_audit_id());
        }
        let id = self.fernet.create_token(&payload).map_err(|e| KeystoneError::Internal(e.to_string()))?;
        match self.token_resolve(id, payload).await? {
            Ok(t) => Ok(t),
            Err(_) => Err(KeystoneError::Unauthorized("The request you have made requires authentication.".into())),
        }
    }

    /// A new payload for `user_id` with the configured lifetime (capped by `cap`).
    pub fn token_payload(&self, user_id: &str, methods: Vec<String>, scope: TokenScope, cap: Option<DateTime<Utc>>) -> TokenPayload {
        let now = common::time::now();
        let mut expires_at = now + Duration::seconds(self.cfg.token_expiration);
        if let Some(c) = cap {
            expires_at = expires_at.min(c);
        }
        TokenPayload {
            user_id: user_id.to_string(),
            methods,
            scope,
            expires_at,
            issued_at: now,
            audit_ids: vec![new_audit_id()],
            app_cred_id: None,
            thumbprint: None,
        }
    }

    /// Validates a token id. `allow_expired` accepts tokens expired less than the configured
    /// window ago (`?allow_expired=1` for services).
    pub async fn token_validate(&self, token_id: &str, allow_expired: bool) -> Result<std::result::Result<Arc<TokenData>, TokenInvalid>> {
        self.revocations_refresh_if_stale().await;
        let generation = self.generation();
        let cached = self.token_cache.lock().ok().and_then(|c| c.get(token_id).cloned());
        let data = match cached {
            Some((g, d)) if g == generation => d,
            _ => {
                let payload = match self.fernet.validate_token(token_id) {
                    Ok(p) => p,
                    Err(_) => return Ok(Err(TokenInvalid::Malformed)),
                };
                match self.token_resolve(token_id.to_string(), payload).await? {
                    Ok(d) => {
                        let d = Arc::new(d);
                        if let Ok(mut c) = self.token_cache.lock() {
                            if c.len() > 50_000 {
                                c.clear();
                            }
                            c.insert(token_id.to_string(), (generation, d.clone()));
                        }
                        d
                    }
                    Err(e) => return Ok(Err(e)),
                }
            }
        };
        let now = Utc::now();
        if data.payload.expires_at <= now {
            let within = allow_expired && data.payload.expires_at + Duration::seconds(self.cfg.allow_expired_window) > now;
            if !within {
                return Ok(Err(TokenInvalid::Expired));
            }
        }
        if self.revocations.matches(&data) {
            return Ok(Err(TokenInvalid::Revoked));
        }
        Ok(Ok(data))
    }

    async fn revocations_refresh_if_stale(&self) {
        let stale = self.revocations.last_refresh.read().ok().and_then(|g| *g).is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(5));
        if stale {
            if let Err(e) = self.revocations_reload().await {
                tracing::warn!(error = %e, "could not refresh revocation events");
            }
        }
    }

    /// Looks up everything a payload names; `Err(Stale)` when any of it is gone or disabled.
    async fn token_resolve(&self, id: String, payload: TokenPayload) -> Result<std::result::Result<TokenData, TokenInvalid>> {
        let Some(user) = idb::user_get(&self.db, &payload.user_id).await? else { return Ok(Err(TokenInvalid::Stale)) };
        if !user.enabled {
            return Ok(Err(TokenInvalid::Stale));
        }
        let Some(user_domain) = rdb::domain_get(&self.db, &user.domain_id).await? else { return Ok(Err(TokenInvalid::Stale)) };
        if !user_domain.enabled {
            return Ok(Err(TokenInvalid::Stale));
        }
        let password = idb::password_history(&self.db, &user.id, 1).await?;
        let user_ref = UserRef {
            id: user.id.clone(),
            name: user.name.clone(),
            domain_id: user_domain.id.clone(),
            domain_name: user_domain.name.clone(),
            password_expires_at: password.first().and_then(|p| p.expires_at).map(from_micros),
        };
        let mut data = TokenData {
            id,
            payload: payload.clone(),
            user: user_ref,
            project: None,
            domain: None,
            system: false,
            roles: vec![],
            app_cred: None,
            trust: None,
            catalog_user_id: user.id.clone(),
        };
        let mut role_owner = user.id.clone();
        let project_id = match &payload.scope {
            TokenScope::Unscoped => None,
            TokenScope::System => {
                data.system = true;
                None
            }
            TokenScope::Domain(d) => {
                let Some(dom) = rdb::domain_get(&self.db, d).await? else { return Ok(Err(TokenInvalid::Stale)) };
                if !dom.enabled {
                    return Ok(Err(TokenInvalid::Stale));
                }
                data.domain = Some((dom.id, dom.name));
                None
            }
            TokenScope::Project(p) => Some(p.clone()),
            TokenScope::Trust { trust_id, project_id } => {
                let Some(trust) = crate::db::trusts::trust_get(&self.db, trust_id).await? else { return Ok(Err(TokenInvalid::Stale)) };
                if trust.expires_at.is_some_and(|e| e <= to_micros(Utc::now())) {
                    return Ok(Err(TokenInvalid::Stale));
                }
                let Some(trustor) = idb::user_get(&self.db, &trust.trustor_user_id).await? else { return Ok(Err(TokenInvalid::Stale)) };
                if !trustor.enabled {
                    return Ok(Err(TokenInvalid::Stale));
                }
                if trust.impersonation {
                    let dom = rdb::domain_get(&self.db, &trustor.domain_id).await?;
                    let pw = idb::password_history(&self.db, &trustor.id, 1).await?;
                    data.user = UserRef {
                        id: trustor.id.clone(),
                        name: trustor.name.clone(),
                        domain_id: trustor.domain_id.clone(),
                        domain_name: dom.map(|d| d.name).unwrap_or_default(),
                        password_expires_at: pw.first().and_then(|p| p.expires_at).map(from_micros),
                    };
                }
                data.catalog_user_id = trustor.id.clone();
                role_owner = trustor.id.clone();
                data.trust = Some(TrustRef {
                    id: trust.id.clone(),
                    impersonation: trust.impersonation,
                    trustor_id: trust.trustor_user_id.clone(),
                    trustee_id: trust.trustee_user_id.clone(),
                });
                Some(project_id.clone())
            }
        };
        if let Some(pid) = &project_id {
            let Some(project) = rdb::project_or_domain_get(&self.db, pid).await? else { return Ok(Err(TokenInvalid::Stale)) };
            let domain = if project.is_domain { Some(project.clone()) } else { rdb::domain_get(&self.db, &project.domain_id).await? };
            let Some(domain) = domain else { return Ok(Err(TokenInvalid::Stale)) };
            if !project.enabled || !domain.enabled {
                return Ok(Err(TokenInvalid::Stale));
            }
            data.project = Some(ProjectRef {
                id: project.id.clone(),
                name: project.name.clone(),
                domain_id: domain.id.clone(),
                domain_name: domain.name.clone(),
                is_domain: project.is_domain,
            });
        }
        // Roles: what the (acting) user holds on the scope, narrowed by a trust or an
        // application credential to what it delegates.
        if !matches!(payload.scope, TokenScope::Unscoped) {
            let target = match &payload.scope {
                TokenScope::System => super::assignment::RoleTarget::System,
                TokenScope::Domain(d) => super::assignment::RoleTarget::Domain(d.clone()),
                _ => super::assignment::RoleTarget::Project(project_id.clone().unwrap_or_default()),
            };
            let mut roles = self.effective_roles(&role_owner, &target).await?;
            if let TokenScope::Trust { trust_id, .. } = &payload.scope {
                if let Some(trust) = crate::db::trusts::trust_get(&self.db, trust_id).await? {
                    let delegated = self.expand_role_ids(&trust.role_ids).await?;
                    roles.retain(|r| delegated.contains(&r.id));
                }
            }
            if let Some(ac_id) = &payload.app_cred_id {
                let Some(ac) = crate::db::credentials::app_cred_get(&self.db, ac_id).await? else { return Ok(Err(TokenInvalid::Stale)) };
                if ac.expires_at.is_some_and(|e| e <= to_micros(Utc::now())) {
                    return Ok(Err(TokenInvalid::Stale));
                }
                let delegated = self.expand_role_ids(&ac.role_ids).await?;
                roles.retain(|r| delegated.contains(&r.id));
                let rules = crate::db::credentials::access_rule_list_by_ids(&self.db, &ac.access_rule_ids).await?;
                data.app_cred = Some(AppCredRef {
                    id: ac.id.clone(),
                    name: ac.name.clone(),
                    restricted: !ac.unrestricted,
                    access_rules: rules.iter().map(|r| json!({"id": r.id, "service": r.service, "path": r.path, "method": r.method})).collect(),
                });
            }
            if roles.is_empty() {
                return Ok(Err(TokenInvalid::Stale));
            }
            data.roles = roles;
        }
        Ok(Ok(data))
    }

    /// The v3 token body (`{"token": {...}}`).
    pub async fn token_render(&self, t: &TokenData, include_catalog: bool) -> Result<Value> {
        let mut body = json!({
            "methods": t.payload.methods,
            "user": {
                "domain": {"id": t.user.domain_id, "name": t.user.domain_name},
                "id": t.user.id,
                "name": t.user.name,
                "password_expires_at": t.user.password_expires_at.map(iso_micros_z),
            },
            "audit_ids": t.payload.audit_ids,
            "expires_at": iso_micros_z(t.payload.expires_at),
            "issued_at": iso_micros_z(t.payload.issued_at),
        });
        let roles: Vec<Value> = t.roles.iter().map(|r| json!({"id": r.id, "name": r.name})).collect();
        if t.system {
            body["roles"] = json!(roles);
            body["system"] = json!({"all": true});
        } else if let Some((id, name)) = &t.domain {
            body["domain"] = json!({"id": id, "name": name});
            body["roles"] = json!(roles);
        } else if let Some(p) = &t.project {
            if let Some(tr) = &t.trust {
                body["OS-TRUST:trust"] = json!({
                    "id": tr.id,
                    "trustor_user": {"id": tr.trustor_id},
                    "trustee_user": {"id": tr.trustee_id},
                    "impersonation": tr.impersonation,
                });
            } else {
                body["is_domain"] = json!(p.is_domain);
            }
            body["project"] = json!({"domain": {"id": p.domain_id, "name": p.domain_name}, "id": p.id, "name": p.name});
            body["roles"] = json!(roles);
        }
        if include_catalog && !t.is_unscoped() {
            body["catalog"] = Value::Array(self.catalog_for(t.project.as_ref().map(|p| p.id.as_str())).await?.as_ref().clone());
        }
        if let Some(ac) = &t.app_cred {
            let mut v = json!({"id": ac.id, "name": ac.name, "restricted": ac.restricted});
            if !ac.access_rules.is_empty() {
                v["access_rules"] = json!(ac.access_rules);
            }
            body["application_credential"] = v;
        }
        Ok(json!({"token": body}))
    }

    /// Roles by id with implied roles added (for trusts and application credentials).
    pub(crate) async fn expand_role_ids(&self, ids: &[String]) -> Result<Vec<String>> {
        let implied = adb::implied_role_list_all(&self.db).await?;
        let mut out: Vec<String> = ids.to_vec();
        let mut i = 0;
        while i < out.len() {
            let cur = out[i].clone();
            for (prior, imp) in &implied {
                if *prior == cur && !out.contains(imp) {
                    out.push(imp.clone());
                }
            }
            i += 1;
        }
        Ok(out)
    }
}
