//! The auth_token middleware, as keystonemiddleware's: reads `X-Auth-Token` (and an optional
//! `X-Service-Token`), validates it once through a [`TokenValidator`], caches the answer for
//! a bounded time (revocations are honoured within that time), and puts the
//! [`RequestContext`] on the request. An absent or invalid token is 401 in the service's own
//! error envelope.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{extract::Request, middleware::Next, response::Response};
use common::error::{Envelope, ErrorBody};
use common::RequestId;
use http::StatusCode;

use crate::context::{RequestContext, ValidatedToken};

/// Why a token was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("The request you have made requires authentication.")]
    Missing,
    #[error("The token is invalid, expired or revoked.")]
    Invalid,
    #[error("cannot reach the identity service to validate the token: {0}")]
    Unavailable(String),
}

/// Something that can tell who a token belongs to.
#[async_trait::async_trait]
pub trait TokenValidator: Send + Sync {
    async fn validate(&self, token: &str) -> Result<ValidatedToken, AuthError>;
}

/// Middleware settings for one service.
#[derive(Clone)]
pub struct AuthTokenConfig {
    pub validator: Arc<dyn TokenValidator>,
    pub envelope: Envelope,
}

/// Axum middleware putting a [`RequestContext`] on every request that carries a valid token.
pub async fn auth_token_layer(
    axum::extract::State(cfg): axum::extract::State<AuthTokenConfig>,
    mut req: Request,
    next: Next,
) -> Response {
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let Some(token) = header_str(&req, "x-auth-token") else {
        return ErrorBody::new(StatusCode::UNAUTHORIZED, AuthError::Missing.to_string()).into_response_for(cfg.envelope);
    };
    let validated = match cfg.validator.validate(&token).await {
        Ok(v) => v,
        Err(AuthError::Unavailable(m)) => {
            tracing::error!(error = %m, "token validation unavailable");
            return ErrorBody::new(StatusCode::SERVICE_UNAVAILABLE, "The identity service is unavailable.").into_response_for(cfg.envelope);
        }
        Err(e) => return ErrorBody::new(StatusCode::UNAUTHORIZED, e.to_string()).into_response_for(cfg.envelope),
    };
    let service_token = match header_str(&req, "x-service-token") {
        Some(st) => cfg.validator.validate(&st).await.ok(),
        None => None,
    };
    req.extensions_mut().insert(RequestContext {
        request_id,
        auth_token: Some(token),
        token: Some(validated),
        service_token,
    });
    next.run(req).await
}

fn header_str(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string).filter(|s| !s.is_empty())
}

/// Validates tokens against Keystone over HTTP (`GET /v3/auth/tokens`), authenticating itself
/// with a service user's token, and caches answers for `cache_time`.
pub struct KeystoneValidator {
    client: reqwest::Client,
    auth_url: String,
    service_credentials: serde_json::Value,
    service_token: tokio::sync::Mutex<Option<(String, Instant)>>,
    cache: Mutex<HashMap<String, (ValidatedToken, Instant)>>,
    cache_time: Duration,
}

impl KeystoneValidator {
    /// `auth_url` is Keystone's `.../v3`; the credentials are a service user's (as the
    /// `[keystone_authtoken]` section names them).
    pub fn new(auth_url: &str, username: &str, password: &str, project_name: &str, domain: &str, cache_time: Duration) -> Self {
        let service_credentials = serde_json::json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": username, "password": password, "domain": {"name": domain}}}},
            "scope": {"project": {"name": project_name, "domain": {"name": domain}}}
        }});
        Self {
            client: reqwest::Client::new(),
            auth_url: auth_url.trim_end_matches('/').to_string(),
            service_credentials,
            service_token: tokio::sync::Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
            cache_time,
        }
    }

    async fn service_token(&self, refresh: bool) -> Result<String, AuthError> {
        let mut guard = self.service_token.lock().await;
        if let Some((t, at)) = guard.as_ref() {
            if !refresh && at.elapsed() < Duration::from_secs(1800) {
                return Ok(t.clone());
            }
        }
        let resp = self
            .client
            .post(format!("{}/auth/tokens", self.auth_url))
            .json(&self.service_credentials)
            .send()
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(AuthError::Unavailable(format!("service user authentication failed: {}", resp.status())));
        }
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| AuthError::Unavailable("no X-Subject-Token in Keystone's answer".into()))?;
        *guard = Some((token.clone(), Instant::now()));
        Ok(token)
    }
}

#[async_trait::async_trait]
impl TokenValidator for KeystoneValidator {
    async fn validate(&self, token: &str) -> Result<ValidatedToken, AuthError> {
        if let Ok(cache) = self.cache.lock() {
            if let Some((v, at)) = cache.get(token) {
                let fresh = at.elapsed() < self.cache_time && v.expires_at.is_none_or(|e| e > chrono::Utc::now());
                if fresh {
                    return Ok(v.clone());
                }
            }
        }
        let mut refreshed = false;
        loop {
            let service = self.service_token(refreshed).await?;
            let resp = self
                .client
                .get(format!("{}/auth/tokens?nocatalog", self.auth_url))
                .header("x-auth-token", &service)
                .header("x-subject-token", token)
                .send()
                .await
                .map_err(|e| AuthError::Unavailable(e.to_string()))?;
            match resp.status().as_u16() {
                200 => {
                    let body: serde_json::Value = resp.json().await.map_err(|e| AuthError::Unavailable(e.to_string()))?;
                    let v = validated_from_body(&body).ok_or(AuthError::Invalid)?;
                    if let Ok(mut cache) = self.cache.lock() {
                        if cache.len() > 100_000 {
                            cache.clear();
                        }
                        cache.insert(token.to_string(), (v.clone(), Instant::now()));
                    }
                    return Ok(v);
                }
                401 if !refreshed => refreshed = true,
                404 | 401 => return Err(AuthError::Invalid),
                s => return Err(AuthError::Unavailable(format!("Keystone answered {s}"))),
            }
        }
    }
}

/// Reads a Keystone v3 token body (`{"token": {...}}`) into a [`ValidatedToken`].
pub fn validated_from_body(body: &serde_json::Value) -> Option<ValidatedToken> {
    let t = body.get("token")?;
    let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let user = t.get("user")?;
    let roles = t.get("roles").and_then(|r| r.as_array()).cloned().unwrap_or_default();
    let project = t.get("project");
    let domain = t.get("domain");
    Some(ValidatedToken {
        user_id: s(&user["id"])?,
        user_name: s(&user["name"]).unwrap_or_default(),
        user_domain_id: s(&user["domain"]["id"]).unwrap_or_default(),
        user_domain_name: s(&user["domain"]["name"]).unwrap_or_default(),
        project_id: project.and_then(|p| s(&p["id"])),
        project_name: project.and_then(|p| s(&p["name"])),
        project_domain_id: project.and_then(|p| s(&p["domain"]["id"])),
        project_domain_name: project.and_then(|p| s(&p["domain"]["name"])),
        domain_id: domain.and_then(|d| s(&d["id"])),
        domain_name: domain.and_then(|d| s(&d["name"])),
        system_scope: t.get("system").and_then(|sys| sys.get("all")).and_then(|a| a.as_bool()).filter(|a| *a).map(|_| "all".to_string()),
        roles: roles.iter().filter_map(|r| s(&r["name"])).collect(),
        role_ids: roles.iter().filter_map(|r| s(&r["id"])).collect(),
        is_admin_project: t.get("is_admin_project").and_then(|v| v.as_bool()).unwrap_or(false),
        expires_at: t.get("expires_at").and_then(|e| e.as_str()).and_then(common::time::parse_iso),
        audit_ids: t.get("audit_ids").and_then(|a| a.as_array()).map(|a| a.iter().filter_map(s).collect()).unwrap_or_default(),
        methods: t.get("methods").and_then(|a| a.as_array()).map(|a| a.iter().filter_map(s).collect()).unwrap_or_default(),
        app_cred_id: t.get("application_credential").and_then(|a| s(&a["id"])),
        trust_id: t.get("OS-TRUST:trust").and_then(|a| s(&a["id"])),
    })
}
