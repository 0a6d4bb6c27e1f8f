//! Neutron's HTTP API (neutron/api/v2 and the extensions' controllers): the version
//! document at `/`, `/v2.0` and `/v2.0/extensions`, one set of thin handlers for every
//! collection (list, create (single or bulk), show, update, delete, tags), the router
//! interface actions and quotas. Handlers parse, call the app layer and render; every
//! error leaves through `NeutronError`'s one envelope.

mod agents;
mod extensions;

use std::sync::Arc;

use auth::{auth_token_layer, AuthTokenConfig, RequestContext, TokenValidator};
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use bytes_body::Body;
use common::error::Envelope;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

use crate::app::input::Input;
use crate::app::listing::ListQuery;
use crate::app::SharedApp;
use crate::db::Kind;
use crate::error::{NeutronError, Result};

/// The request body, read whole (Neutron bodies are small JSON documents).
mod bytes_body {
    pub type Body = axum::body::Bytes;
}

/// The caller, as the auth_token middleware put it on the request.
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = NeutronError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<RequestContext>().cloned().map(Ctx).ok_or(NeutronError::Unauthorized)
    }
}

const COLLECTIONS: &[(Kind, &str)] = &[
    (Kind::Network, "networks"),
    (Kind::Subnet, "subnets"),
    (Kind::Port, "ports"),
    (Kind::Router, "routers"),
    (Kind::FloatingIp, "floatingips"),
    (Kind::SecurityGroup, "security-groups"),
    (Kind::SecurityGroupRule, "security-group-rules"),
    (Kind::SubnetPool, "subnetpools"),
    (Kind::RbacPolicy, "rbac-policies"),
];

/// The whole Neutron router; `validator` checks tokens (in-process Keystone or over HTTP).
pub fn router(app: SharedApp, validator: Arc<dyn TokenValidator>) -> Router {
    let mut protected = Router::new()
        .route("/v2.0", get(v2_root))
        .route("/v2.0/extensions", get(extensions::list))
        .route("/v2.0/extensions/{alias}", get(extensions::show))
        .route("/v2.0/routers/{id}/add_router_interface", put(add_router_interface))
        .route("/v2.0/routers/{id}/remove_router_interface", put(remove_router_interface))
        .route("/v2.0/agents", get(agents::list))
        .route("/v2.0/agents/{id}", get(agents::show))
        .route("/v2.0/service-providers", get(agents::service_providers))
        .route("/v2.0/network-ip-availabilities", get(ip_availability_list))
        .route("/v2.0/network-ip-availabilities/{network_id}", get(ip_availability_show))
        .route("/v2.0/quotas", get(quota_list))
        .route("/v2.0/quotas/{project_id}", get(quota_show).put(quota_update).delete(quota_delete))
        .route("/v2.0/quotas/{project_id}/default", get(quota_default))
        .route("/v2.0/quotas/{project_id}/details", get(quota_details))
        .route("/v2.0/auto-allocated-topology/{project_id}", get(auto_allocated_topology_show).delete(auto_allocated_topology_delete));
    for (kind, path) in COLLECTIONS {
        protected = protected.merge(collection(*kind, path));
    }
    let protected = protected.layer(axum::middleware::from_fn_with_state(AuthTokenConfig { validator, envelope: Envelope::Neutron }, auth_token_layer));
    Router::new()
        .route("/", get(versions))
        .merge(protected)
        .fallback(|| async { NeutronError::NotFound("The resource could not be found.".into()) })
        .method_not_allowed_fallback(|| async { NeutronError::MethodNotAllowed })
        .with_state(app)
}

fn base_url(headers: &HeaderMap) -> String {
    common::version::base_url(None, headers, "localhost:9696")
}

/// `GET /`: the versions document.
async fn versions(headers: HeaderMap) -> Response {
    let href = format!("{}/v2.0/", base_url(&headers));
    Json(json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"href": href, "rel": "self"}]}]})).into_response()
}

/// `GET /v2.0`: the core resources.
async fn v2_root(_ctx: Ctx, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let resources: Vec<Value> = COLLECTIONS
        .iter()
        .map(|(kind, path)| json!({"name": kind.singular(), "collection": kind.plural(), "links": [{"href": format!("{base}/v2.0/{path}"), "rel": "self"}]}))
        .collect();
    Json(json!({"resources": resources})).into_response()
}

fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    raw.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

fn fields_of(raw: Option<String>) -> Vec<String> {
    query_pairs(raw).into_iter().filter(|(k, _)| k == "fields").flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>()).collect()
}

/// `If-Match: revision_number=N` (revision-if-match).
fn if_match(headers: &HeaderMap) -> Result<Option<i64>> {
    let Some(v) = headers.get(http::header::IF_MATCH) else { return Ok(None) };
    let s = v.to_str().unwrap_or_default();
    match s.strip_prefix("revision_number=") {
        Some(n) => n.trim().parse().map(Some).map_err(|_| NeutronError::HttpBadRequest(format!("Could not parse If-Match header: {s}"))),
        None => Ok(None),
    }
}

/// Parses `{"<resource>": {...}}`; also `{"<resources>": [...]}` when `bulk`.
fn parse_body(body: &[u8], kind: Kind, bulk: bool) -> Result<Vec<Input>> {
    if body.is_empty() {
        return Err(NeutronError::HttpBadRequest("Resource body required".into()));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| NeutronError::MalformedRequestBody(format!("Cannot understand JSON: {e}")))?;
    if let Some(obj) = v.get(kind.singular()) {
        return match obj {
            Value::Object(m) => Ok(vec![Input(m.clone())]),
            _ => Err(NeutronError::HttpBadRequest(format!("Unable to find '{}' in request body", kind.singular()))),
        };
    }
    if bulk {
        if let Some(Value::Array(items)) = v.get(kind.plural()) {
            return items
                .iter()
                .map(|i| match i {
                    Value::Object(m) => Ok(Input(m.clone())),
                    _ => Err(NeutronError::HttpBadRequest(format!("Unable to find '{}' in request body", kind.singular()))),
                })
                .collect();
        }
    }
    Err(NeutronError::HttpBadRequest(format!("Unable to find '{}' in request body", kind.singular())))
}

async fn create_one(app: &SharedApp, ctx: &RequestContext, kind: Kind, input: Input) -> Result<Value> {
    match kind {
        Kind::Network => app.network_create(ctx, input).await,
        Kind::Subnet => app.subnet_create(ctx, input).await,
        Kind::Port => app.port_create(ctx, input).await,
        Kind::Router => app.router_create(ctx, input).await,
        Kind::FloatingIp => app.floating_ip_create(ctx, input).await,
        Kind::SecurityGroup => app.security_group_create(ctx, input).await,
        Kind::SecurityGroupRule => app.security_group_rule_create(ctx, input).await,
        Kind::SubnetPool => app.subnet_pool_create(ctx, input).await,
        Kind::RbacPolicy => app.rbac_policy_create(ctx, input).await,
    }
}

async fn update_one(app: &SharedApp, ctx: &RequestContext, kind: Kind, id: &str, input: Input, rev: Option<i64>) -> Result<Value> {
    match kind {
        Kind::Network => app.network_update(ctx, id, input, rev).await,
        Kind::Subnet => app.subnet_update(ctx, id, input, rev).await,
        Kind::Port => app.port_update(ctx, id, input, rev).await,
        Kind::Router => app.router_update(ctx, id, input, rev).await,
        Kind::FloatingIp => app.floating_ip_update(ctx, id, input, rev).await,
        Kind::SecurityGroup => app.security_group_update(ctx, id, input, rev).await,
        Kind::SecurityGroupRule => Err(NeutronError::MethodNotAllowed),
        Kind::SubnetPool => app.subnet_pool_update(ctx, id, input, rev).await,
        Kind::RbacPolicy => app.rbac_policy_update(ctx, id, input).await,
    }
}

async fn delete_one(app: &SharedApp, ctx: &RequestContext, kind: Kind, id: &str) -> Result<()> {
    match kind {
        Kind::Network => app.network_delete(ctx, id).await,
        Kind::Subnet => app.subnet_delete(ctx, id).await,
        Kind::Port => app.port_delete(ctx, id).await,
        Kind::Router => app.router_delete(ctx, id).await,
        Kind::FloatingIp => app.floating_ip_delete(ctx, id).await,
        Kind::SecurityGroup => app.security_group_delete(ctx, id).await,
        Kind::SecurityGroupRule => app.security_group_rule_delete(ctx, id).await,
        Kind::SubnetPool => app.subnet_pool_delete(ctx, id).await,
        Kind::RbacPolicy => app.rbac_policy_delete(ctx, id).await,
    }
}

fn taggable(kind: Kind) -> bool {
    !matches!(kind, Kind::SecurityGroupRule | Kind::RbacPolicy)
}

/// The routes of one collection: `/v2.0/<path>`, `/v2.0/<path>/{id}` and its tags.
fn collection(kind: Kind, path: &str) -> Router<SharedApp> {
    let base = format!("/v2.0/{path}");
    let list_path = base.clone();
    let mut r = Router::new()
        .route(
            &base,
            get(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                let max = app.cfg.pagination_max_limit;
                let query = ListQuery::parse(query_pairs(q), max)?;
                let href = format!("{}{}", base_url(&headers), list_path);
                let (items, links) = app.list(&ctx, kind, &query, &href).await?;
                let mut body = Map::new();
                body.insert(kind.plural().into(), json!(items));
                if !links.is_empty() {
                    body.insert(format!("{}_links", kind.plural()), json!(links));
                }
                Ok::<_, NeutronError>(Json(Value::Object(body)))
            })
            .post(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, body: Body| async move {
                let bulk_requested = serde_json::from_slice::<Value>(&body).ok().is_some_and(|v| v.get(kind.plural()).is_some());
                let inputs = parse_body(&body, kind, true)?;
                if bulk_requested {
                    // Bulk create is not atomic here (upstream's is): created items stay if a later one fails.
                    let mut out = Vec::new();
                    for i in inputs {
                        out.push(create_one(&app, &ctx, kind, i).await?);
                    }
                    return Ok::<_, NeutronError>((StatusCode::CREATED, Json(json!({kind.plural(): out}))).into_response());
                }
                let mut inputs = inputs;
                let input = inputs.pop().ok_or_else(|| NeutronError::HttpBadRequest("Resource body required".into()))?;
                let v = create_one(&app, &ctx, kind, input).await?;
                Ok((StatusCode::CREATED, Json(json!({kind.singular(): v}))).into_response())
            }),
        )
        .route(
            &format!("{base}/{{id}}"),
            get(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(id): Path<String>, RawQuery(q): RawQuery| async move {
                let v = app.show(&ctx, kind, &id, &fields_of(q)).await?;
                Ok::<_, NeutronError>(Json(json!({kind.singular(): v})))
            })
            .put(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(id): Path<String>, headers: HeaderMap, body: Body| async move {
                let rev = if_match(&headers)?;
                let mut inputs = parse_body(&body, kind, false)?;
                let input = inputs.pop().ok_or_else(|| NeutronError::HttpBadRequest("Resource body required".into()))?;
                let v = update_one(&app, &ctx, kind, &id, input, rev).await?;
                Ok::<_, NeutronError>(Json(json!({kind.singular(): v})))
            })
            .delete(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(id): Path<String>| async move {
                delete_one(&app, &ctx, kind, &id).await?;
                Ok::<_, NeutronError>(StatusCode::NO_CONTENT)
            }),
        );
    if taggable(kind) {
        r = r
            .route(
                &format!("{base}/{{id}}/tags"),
                get(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(id): Path<String>| async move {
                    let tags = app.tags_get(&ctx, kind, &id).await?;
                    Ok::<_, NeutronError>(Json(json!({"tags": tags})))
                })
                .put(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(id): Path<String>, body: Body| async move {
                    let v: Value = serde_json::from_slice(&body).map_err(|e| NeutronError::MalformedRequestBody(format!("Cannot understand JSON: {e}")))?;
                    let tags = v.get("tags").and_then(Value::as_array).ok_or_else(|| NeutronError::HttpBadRequest("Invalid tags body".into()))?;
                    let tags: Vec<String> = tags.iter().map(|t| t.as_str().map(str::to_string).ok_or_else(|| NeutronError::InvalidInput(format!("Invalid input for tags. Reason: '{t}' is not a valid string.")))).collect::<Result<_>>()?;
                    let tags = app.tags_replace(&ctx, kind, &id, tags).await?;
                    Ok::<_, NeutronError>(Json(json!({"tags": tags})))
                })
                .delete(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(id): Path<String>| async move {
                    app.tag_remove(&ctx, kind, &id, None).await?;
                    Ok::<_, NeutronError>(StatusCode::NO_CONTENT)
                }),
            )
            .route(
                &format!("{base}/{{id}}/tags/{{tag}}"),
                get(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, Path((id, tag)): Path<(String, String)>| async move {
                    if app.tags_get(&ctx, kind, &id).await?.contains(&tag) {
                        Ok(StatusCode::NO_CONTENT)
                    } else {
                        Err(NeutronError::NotFound(format!("Tag {tag} could not be found for {} {id}.", kind.singular())))
                    }
                })
                .put(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, Path((id, tag)): Path<(String, String)>| async move {
                    app.tag_add(&ctx, kind, &id, &tag).await?;
                    Ok::<_, NeutronError>(StatusCode::CREATED)
                })
                .delete(move |Ctx(ctx): Ctx, State(app): State<SharedApp>, Path((id, tag)): Path<(String, String)>| async move {
                    app.tag_remove(&ctx, kind, &id, Some(&tag)).await?;
                    Ok::<_, NeutronError>(StatusCode::NO_CONTENT)
                }),
            );
    }
    r
}

fn plain_body(body: &[u8]) -> Result<Input> {
    let v: Value = serde_json::from_slice(body).map_err(|e| NeutronError::MalformedRequestBody(format!("Cannot understand JSON: {e}")))?;
    match v {
        Value::Object(m) => Ok(Input(m)),
        _ => Err(NeutronError::HttpBadRequest("Resource body required".into())),
    }
}

/// `PUT /v2.0/routers/{id}/add_router_interface`
async fn add_router_interface(Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(id): Path<String>, body: Body) -> Result<Json<Value>> {
    Ok(Json(app.router_interface_add(&ctx, &id, plain_body(&body)?).await?))
}

/// `PUT /v2.0/routers/{id}/remove_router_interface`
async fn remove_router_interface(Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(id): Path<String>, body: Body) -> Result<Json<Value>> {
    Ok(Json(app.router_interface_remove(&ctx, &id, plain_body(&body)?).await?))
}

async fn ip_availability_list(Ctx(ctx): Ctx, State(app): State<SharedApp>, headers: HeaderMap, RawQuery(q): RawQuery) -> Result<Json<Value>> {
    let query = ListQuery::parse(query_pairs(q), app.cfg.pagination_max_limit)?;
    let href = format!("{}/v2.0/network-ip-availabilities", base_url(&headers));
    let (items, _) = crate::app::listing::apply(app.ip_availability_list(&ctx).await?, &query, &href)?;
    Ok(Json(json!({"network_ip_availabilities": items})))
}

async fn ip_availability_show(Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(network_id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!({"network_ip_availability": app.ip_availability_show(&ctx, &network_id).await?})))
}

async fn quota_list(Ctx(ctx): Ctx, State(app): State<SharedApp>) -> Result<Json<Value>> {
    Ok(Json(json!({"quotas": app.quota_list(&ctx).await?})))
}

async fn quota_show(Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(project): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!({"quota": app.quota_show(&ctx, &project).await?})))
}

async fn quota_default(Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(project): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!({"quota": app.quota_defaults(&ctx, &project)?})))
}

async fn quota_details(Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(project): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!({"quota": app.quota_details(&ctx, &project).await?})))
}

async fn quota_update(Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(project): Path<String>, body: Body) -> Result<Json<Value>> {
    let v: Value = serde_json::from_slice(&body).map_err(|e| NeutronError::MalformedRequestBody(format!("Cannot understand JSON: {e}")))?;
    let Some(Value::Object(m)) = v.get("quota") else {
        return Err(NeutronError::HttpBadRequest("Unable to find 'quota' in request body".into()));
    };
    Ok(Json(json!({"quota": app.quota_update(&ctx, &project, Input(m.clone())).await?})))
}

async fn quota_delete(Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(project): Path<String>) -> Result<StatusCode> {
    app.quota_delete(&ctx, &project).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v2.0/auto-allocated-topology/{project_id}` (builds it on first call; `?fields=dry-run`
/// only checks the requirements).
async fn auto_allocated_topology_show(Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(project): Path<String>, RawQuery(q): RawQuery) -> Result<Json<Value>> {
    Ok(Json(json!({"auto_allocated_topology": app.auto_allocated_topology_get(&ctx, &project, &fields_of(q)).await?})))
}

/// `DELETE /v2.0/auto-allocated-topology/{project_id}`
async fn auto_allocated_topology_delete(Ctx(ctx): Ctx, State(app): State<SharedApp>, Path(project): Path<String>) -> Result<StatusCode> {
    app.auto_allocated_topology_delete(&ctx, &project).await?;
    Ok(StatusCode::NO_CONTENT)
}
