//! Keystone's HTTP API: thin axum handlers per upstream area (keystone/api/*.py) that parse
//! requests, call the application layer and render upstream's JSON.

mod assignment;
mod auth;
pub mod body;
mod catalog;
mod credentials;
mod discovery;
mod identity;
mod misc;
mod resource;
mod trusts;

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::Router;
use serde_json::{json, Value};

use crate::app::{Caller, SharedApp};
use crate::error::KeystoneError;

/// The whole Keystone router (version documents at `/` and `/v3`, everything else under `/v3`).
pub fn router(app: SharedApp) -> Router {
    Router::new()
        .merge(discovery::routes())
        .merge(auth::routes())
        .merge(resource::routes())
        .merge(identity::routes())
        .merge(assignment::routes())
        .merge(catalog::routes())
        .merge(credentials::routes())
        .merge(trusts::routes())
        .merge(misc::routes())
        .fallback(not_found)
        .with_state(app)
}

async fn not_found(uri: axum::http::Uri) -> KeystoneError {
    KeystoneError::NotFoundMessage(format!("The resource could not be found: {}", uri.path()))
}

impl FromRequestParts<SharedApp> for Caller {
    type Rejection = KeystoneError;

    async fn from_request_parts(parts: &mut Parts, app: &SharedApp) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .filter(|s| !s.is_empty())
            .ok_or_else(KeystoneError::unauthenticated)?
            .to_string();
        let data = app.token_validate(&token, false).await?.map_err(|_| KeystoneError::unauthenticated())?;
        let request_id = parts.extensions.get::<common::RequestId>().map(|r| r.0.clone()).unwrap_or_default();
        Ok(Caller {
            ctx: self::auth::context(request_id, token, &data),
            token: data,
        })
    }
}

/// The request context a validated token gives (used by in-process services too).
pub fn token_context(request_id: String, token: String, t: &crate::app::tokens::TokenData) -> ::auth::RequestContext {
    self::auth::context(request_id, token, t)
}

/// Decoded query parameters.
pub type QueryMap = Query<BTreeMap<String, String>>;

/// The base URL for links (`http://host:5000`).
pub fn base_url(app: &SharedApp, headers: &axum::http::HeaderMap) -> String {
    common::version::base_url(app.cfg.public_endpoint.as_deref(), headers, "localhost:5000")
}

/// Keystone's collection envelope: `{"users": [...], "links": {"self", "previous", "next"}}`.
pub fn collection(key: &str, items: Vec<Value>, self_url: String) -> Value {
    json!({ key: items, "links": {"self": self_url, "previous": null, "next": null} })
}

/// The href of the request itself.
pub fn self_href(base: &str, uri: &axum::http::Uri) -> String {
    format!("{}{}", base, uri.path_and_query().map(|p| p.as_str()).unwrap_or(""))
}

/// `{"self": href}` links of an entity.
pub fn links(base: &str, path: &str) -> Value {
    json!({"self": format!("{base}/v3/{path}")})
}

/// The policy target of a list call filtered (or not) by `?domain_id=`: the key is absent
/// without the filter, so `domain_id:%(target.domain_id)s` cannot match a token without a
/// domain (null would equal null).
pub fn domain_filter_target(domain_id: Option<&str>) -> Value {
    match domain_id {
        Some(d) => json!({"target": {"domain_id": d}, "domain_id": d}),
        None => json!({"target": {}}),
    }
}

/// Filters a list by `name` (and other exact-match string keys) the way Keystone's driver
/// hints do, including `name__contains` style operators.
pub fn matches_filter(value: Option<&str>, key: &str, query: &BTreeMap<String, String>) -> bool {
    for (k, want) in query {
        let (field, op) = k.split_once("__").unwrap_or((k.as_str(), "equals"));
        if field != key {
            continue;
        }
        let Some(v) = value else { return false };
        let ok = match op {
            "contains" => v.contains(want.as_str()),
            "icontains" => v.to_lowercase().contains(&want.to_lowercase()),
            "startswith" => v.starts_with(want.as_str()),
            "istartswith" => v.to_lowercase().starts_with(&want.to_lowercase()),
            "endswith" => v.ends_with(want.as_str()),
            "iendswith" => v.to_lowercase().ends_with(&want.to_lowercase()),
            "iexact" => v.eq_ignore_ascii_case(want),
            _ => v == want,
        };
        if !ok {
            return false;
        }
    }
    true
}
