//! A service user's Keystone token and the catalog it came with (keystoneauth's job for a
//! service's sections that name another service, such as nova's `[placement]` or neutron's
//! `[nova]`): password authentication scoped to the service project, renewed before it
//! expires, endpoints looked up by service type (or taken from `endpoint_override`).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use tokio::sync::Mutex;

/// How to authenticate (upstream's `[placement]` options).
#[derive(Debug, Clone)]
pub struct ServiceCredentials {
    pub auth_url: String,
    pub username: String,
    pub password: String,
    pub project_name: String,
    pub user_domain_name: String,
    pub project_domain_name: String,
    pub region_name: Option<String>,
    pub interface: String,
    /// Fixed endpoints by service type, bypassing the catalog.
    pub endpoint_overrides: BTreeMap<String, String>,
}

impl ServiceCredentials {
    /// keystoneauth's password options of a config section that names another service
    /// (nova's `[placement]`, neutron's `[nova]`): `auth_url`, `username`, `password`,
    /// `project_name`, the domains, `region_name`, the interface (`valid_interfaces` or
    /// `endpoint_type`, `publicURL` style accepted) and an `endpoint_override` for
    /// `service_type`. `None` when the section has no `auth_url`; an error names what is
    /// missing or wrong.
    pub fn from_section(cfg: &common::config::Config, section: &str, service_type: &str) -> Result<Option<Self>, String> {
        let s = section;
        let Some(auth_url) = cfg.get(s, "auth_url").filter(|u| !u.trim().is_empty()) else { return Ok(None) };
        let need = |k: &str| cfg.get(s, k).map(str::to_string).ok_or_else(|| format!("[{s}] {k} is required when [{s}] auth_url is set"));
        let interface = cfg.get(s, "valid_interfaces").or(cfg.get(s, "endpoint_type")).unwrap_or("public");
        let interface = match interface.split(',').next().unwrap_or("public").trim() {
            "public" | "publicURL" => "public",
            "internal" | "internalURL" => "internal",
            "admin" | "adminURL" => "admin",
            other => return Err(format!("[{s}] interface {other}: expected public, internal or admin")),
        };
        Ok(Some(ServiceCredentials {
            auth_url: auth_url.to_string(),
            username: need("username")?,
            password: need("password")?,
            project_name: cfg.get_or(s, "project_name", "service").to_string(),
            user_domain_name: cfg.get_or(s, "user_domain_name", "Default").to_string(),
            project_domain_name: cfg.get_or(s, "project_domain_name", "Default").to_string(),
            region_name: cfg.get(s, "region_name").map(str::to_string),
            interface: interface.to_string(),
            endpoint_overrides: cfg.get(s, "endpoint_override").map(|e| [(service_type.to_string(), e.to_string())].into_iter().collect()).unwrap_or_default(),
        }))
    }
}

struct Cached {
    token: String,
    expires_at: i64,
    catalog: Value,
}

pub struct ServiceAuth {
    creds: ServiceCredentials,
    http: reqwest::Client,
    cached: Mutex<Option<Cached>>,
}

impl ServiceAuth {
    pub fn new(creds: ServiceCredentials) -> Self {
        Self { creds, http: reqwest::Client::new(), cached: Mutex::new(None) }
    }

    /// A valid token and the endpoint of `service_type`.
    pub async fn token_and_endpoint(&self, service_type: &str) -> Result<(String, String), String> {
        let cached = self.fresh().await?;
        let c = cached.as_ref().ok_or("no token")?;
        let endpoint = match self.creds.endpoint_overrides.get(service_type) {
            Some(e) => e.clone(),
            None => self.find_endpoint(&c.catalog, service_type).ok_or_else(|| format!("no {service_type} endpoint ({}) in the catalog", self.creds.interface))?,
        };
        Ok((c.token.clone(), endpoint))
    }

    /// Whether the deployment has a `service_type` service (an override, or an endpoint in
    /// the catalog for this interface and region).
    pub async fn has_service(&self, service_type: &str) -> Result<bool, String> {
        if self.creds.endpoint_overrides.contains_key(service_type) {
            return Ok(true);
        }
        let cached = self.fresh().await?;
        Ok(cached.as_ref().and_then(|c| self.find_endpoint(&c.catalog, service_type)).is_some())
    }

    /// The cached token, renewed first if it expires within five minutes.
    async fn fresh(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Cached>>, String> {
        let mut cached = self.cached.lock().await;
        let now = common::time::to_micros(common::time::now());
        if cached.as_ref().is_none_or(|c| c.expires_at - 300_000_000 < now) {
            *cached = Some(self.authenticate().await?);
        }
        Ok(cached)
    }

    /// Forgets the token (after a 401, say).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    fn find_endpoint(&self, catalog: &Value, service_type: &str) -> Option<String> {
        let service = catalog.as_array()?.iter().find(|s| s["type"] == service_type)?;
        service["endpoints"].as_array()?.iter().find(|e| e["interface"] == self.creds.interface.as_str() && self.creds.region_name.as_ref().is_none_or(|r| e["region_id"] == r.as_str() || e["region"] == r.as_str())).and_then(|e| e["url"].as_str()).map(str::to_string)
    }

    async fn authenticate(&self) -> Result<Cached, String> {
        let c = &self.creds;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": c.username, "domain": {"name": c.user_domain_name}, "password": c.password}}},
            "scope": {"project": {"name": c.project_name, "domain": {"name": c.project_domain_name}}}
        }});
        let url = format!("{}/auth/tokens", c.auth_url.trim_end_matches('/'));
        let resp = self.http.post(&url).json(&body).send().await.map_err(|e| format!("{url}: {e}"))?;
        if resp.status().as_u16() != 201 {
            return Err(format!("{url}: HTTP {} for service user {}", resp.status(), c.username));
        }
        let token = resp.headers().get("x-subject-token").and_then(|v| v.to_str().ok()).ok_or("no X-Subject-Token in Keystone's answer")?.to_string();
        let v: Value = resp.json().await.map_err(|e| e.to_string())?;
        let expires_at = v["token"]["expires_at"].as_str().and_then(common::time::parse_iso).map(common::time::to_micros).unwrap_or(0);
        Ok(Cached { token, expires_at, catalog: v["token"]["catalog"].clone() })
    }
}
