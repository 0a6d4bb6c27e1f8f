//! Nova's HTTP API v2.1 (nova/api/openstack): thin handlers over the app layer, behind the
//! auth_token middleware and microversion negotiation, except for the version documents.
//! Paths work with and without the legacy project id segment (`/v2.1/{project_id}/servers`).

mod aggregates;
mod availability_zones;
mod flavor_manage;
mod flavors;
mod hosts;
mod images;
mod keypairs;
mod os_hosts;
mod quotas;
mod server_groups;
mod server_meta;
mod server_actions;
mod servers;
mod interfaces;
mod floating_ips;
mod security_groups;
mod usage;
pub mod validation;
mod versions;

pub use servers::status_of;

use std::sync::Arc;

use auth::{auth_token_layer, AuthTokenConfig, RequestContext, TokenValidator};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::error::Envelope;
use common::microversion::{microversion_layer, Microversion, MicroversionSpec, Version};

use crate::app::SharedApp;
use crate::error::NovaError;

/// The microversions this API implements. Up to 2.37, every behaviour change of the APIs
/// that exist here is built (2.3 extended server attributes, 2.9 `locked`, 2.16
/// `host_status`, 2.19 descriptions, 2.26 tags in the server view, 2.37 `networks`
/// required with `none`/`auto`); APIs that do not exist yet (remote consoles, migrations,
/// volume attachments, ...) answer 404 at every version.
pub const MIN_VERSION: Version = Version::new(2, 1);
pub const MAX_VERSION: Version = Version::new(2, 37);

pub const SPEC: MicroversionSpec = MicroversionSpec {
    service_type: "compute",
    legacy_header: Some("X-OpenStack-Nova-API-Version"),
    min: MIN_VERSION,
    max: MAX_VERSION,
    envelope: Envelope::Compute,
};

/// The caller, as the auth_token middleware put it on the request.
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = NovaError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<RequestContext>().cloned().map(Ctx).ok_or(NovaError::Unauthorized)
    }
}

/// The negotiated microversion.
pub struct Mv(pub Microversion);

impl<S: Send + Sync> FromRequestParts<S> for Mv {
    type Rejection = NovaError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Mv(parts.extensions.get::<Microversion>().copied().unwrap_or(Microversion(MIN_VERSION))))
    }
}

/// The project id a legacy URL carried, checked against the token once it is validated.
#[derive(Debug, Clone)]
struct UrlProjectId(String);

/// Drops the legacy `/{project_id}` segment after `/v2.1` (or `/v2`) before routing, keeping
/// it for [`check_url_project`]. A segment counts as a project id when it looks like one
/// (Keystone's 32 hex digits or a UUID), so collection names are never mistaken for it.
pub fn strip_project_id(mut req: Request) -> Request {
    let path = req.uri().path().to_string();
    // The legacy v2.0 endpoint is v2.1 at its minimum microversion.
    if path == "/v2/" {
        return req;
    }
    let Some((prefix, rest)) = path.strip_prefix("/v2.1/").or_else(|| path.strip_prefix("/v2/")).map(|r| ("/v2.1", r)) else { return req };
    let (segment, tail) = rest.split_once('/').map_or((rest, ""), |(s, t)| (s, t));
    let looks_like_id = (segment.len() == 32 && segment.chars().all(|c| c.is_ascii_hexdigit())) || (segment.len() == 36 && segment.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    if !looks_like_id {
        if path.starts_with("/v2/") {
            let pq = match req.uri().query() {
                Some(q) => format!("{prefix}/{rest}?{q}"),
                None => format!("{prefix}/{rest}"),
            };
            if let Ok(uri) = pq.parse::<http::Uri>() {
                *req.uri_mut() = uri;
            }
        }
        return req;
    }
    let new_path = if tail.is_empty() { prefix.to_string() } else { format!("{prefix}/{tail}") };
    let pq = match req.uri().query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(p) = pq.parse() {
        parts.path_and_query = Some(p);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            req.extensions_mut().insert(UrlProjectId(segment.to_string()));
            *req.uri_mut() = uri;
        }
    }
    req
}

/// A URL's project id must be the token's project (admins may name any).
async fn check_url_project(req: Request, next: Next) -> Response {
    if let (Some(UrlProjectId(url)), Some(ctx)) = (req.extensions().get::<UrlProjectId>(), req.extensions().get::<RequestContext>()) {
        let scoped = ctx.project_id().unwrap_or_default();
        if url != scoped && !ctx.has_role("admin") {
            return NovaError::BadRequest(format!("Malformed request URL: URL's project_id '{url}' doesn't match Context's project_id '{scoped}'")).into_response();
        }
    }
    next.run(req).await
}

/// The endpoint's base URL (the configured public endpoint, else the request's host).
pub fn base_url(app: &SharedApp, headers: &http::HeaderMap) -> String {
    common::version::base_url(app.cfg.public_endpoint.as_deref(), headers, "localhost:8774")
}

/// Nova's `self` and `bookmark` links for a resource.
pub fn links(base: &str, collection: &str, id: &str) -> serde_json::Value {
    serde_json::json!([
        {"href": format!("{base}/v2.1/{collection}/{id}"), "rel": "self"},
        {"href": format!("{base}/{collection}/{id}"), "rel": "bookmark"}
    ])
}

/// The whole Nova router; `validator` checks tokens (in-process Keystone or over HTTP).
pub fn router(app: SharedApp, validator: Arc<dyn TokenValidator>) -> Router {
    router_with_max(app, validator, MAX_VERSION)
}

/// The router negotiating microversions up to `max` instead of [`MAX_VERSION`]: for tests of
/// behaviour already built for microversions not yet advertised.
pub fn router_with_max(app: SharedApp, validator: Arc<dyn TokenValidator>, max: Version) -> Router {
    let spec = MicroversionSpec { max, ..SPEC };
    let protected = Router::new()
        .merge(flavors::routes())
        .merge(keypairs::routes())
        .merge(quotas::routes())
        .merge(availability_zones::routes())
        .merge(servers::routes())
        .merge(interfaces::routes())
        .merge(floating_ips::routes())
        .merge(security_groups::routes())
        .merge(server_meta::routes())
        .merge(server_groups::routes())
        .merge(hosts::routes())
        .merge(aggregates::routes())
        .merge(images::routes())
        .merge(os_hosts::routes())
        .merge(usage::routes())
        .layer(axum::middleware::from_fn(check_url_project))
        .layer(axum::middleware::from_fn_with_state(AuthTokenConfig { validator, envelope: Envelope::Compute }, auth_token_layer))
        .layer(axum::middleware::from_fn_with_state(spec, microversion_layer));
    Router::new()
        .route("/", get(versions::root))
        .route("/v2.1", get(versions::v21))
        .route("/v2", get(versions::v20))
        .merge(protected)
        .fallback(|| async { NovaError::NotFound("The resource could not be found.".into()) })
        .with_state(app)
}
