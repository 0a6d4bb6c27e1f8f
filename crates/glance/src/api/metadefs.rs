//! `/v2/metadefs/*`: the metadata definitions catalog (glance/api/v2/metadef_namespaces.py,
//! metadef_objects.py, metadef_properties.py, metadef_tags.py, metadef_resource_types.py):
//! namespaces, their objects, properties, tags and resource type associations, and the
//! resource types. Thin handlers: parse (`metadef_body`), call the app layer, render the
//! API reference's JSON (the `*_view` functions).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use super::metadef_body as body;
use super::Ctx;
use crate::app::metadefs::{NamespaceContent, NamespaceDetail, NamespaceQuery, Sort, TagQuery, NAMESPACE_SORT_KEYS, TAG_SORT_KEYS};
use crate::app::SharedApp;
use crate::db::metadefs::{Association, MetadefObject, Namespace, Property, ResourceType, Tag};
use crate::error::{GlanceError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2/metadefs/resource_types", get(resource_type_list))
        .route("/v2/metadefs/namespaces", get(namespace_list).post(namespace_create))
        .route("/v2/metadefs/namespaces/{namespace}", get(namespace_show).put(namespace_update).delete(namespace_delete))
        .route("/v2/metadefs/namespaces/{namespace}/resource_types", get(association_list).post(association_create))
        .route("/v2/metadefs/namespaces/{namespace}/resource_types/{resource_type}", delete(association_delete))
        .route("/v2/metadefs/namespaces/{namespace}/objects", get(object_list).post(object_create).delete(object_delete_all))
        .route("/v2/metadefs/namespaces/{namespace}/objects/{object_name}", get(object_show).put(object_update).delete(object_delete))
        .route("/v2/metadefs/namespaces/{namespace}/properties", get(property_list).post(property_create).delete(property_delete_all))
        .route("/v2/metadefs/namespaces/{namespace}/properties/{property_name}", get(property_show).put(property_update).delete(property_delete))
        .route("/v2/metadefs/namespaces/{namespace}/tags", get(tag_list).post(tag_create_many).delete(tag_delete_all))
        .route("/v2/metadefs/namespaces/{namespace}/tags/{tag_name}", get(tag_show).post(tag_create).put(tag_update).delete(tag_delete))
}

fn ts(us: i64) -> String {
    common::time::iso_seconds_z(common::time::from_micros(us))
}

fn namespace_href(name: &str) -> String {
    format!("/v2/metadefs/namespaces/{name}")
}

/// Adds `key` when the value is present: upstream leaves unset attributes out.
fn insert_some(v: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(x) = value {
        v.insert(key.into(), json!(x));
    }
}

/// A namespace's own attributes.
pub fn namespace_view(ns: &Namespace) -> Map<String, Value> {
    let mut v = Map::new();
    v.insert("namespace".into(), json!(ns.namespace));
    insert_some(&mut v, "display_name", &ns.display_name);
    insert_some(&mut v, "description", &ns.description);
    v.insert("visibility".into(), json!(ns.visibility));
    v.insert("protected".into(), json!(ns.protected));
    insert_some(&mut v, "owner", &ns.owner);
    v.insert("created_at".into(), json!(ts(ns.created_at)));
    v.insert("updated_at".into(), json!(ts(ns.updated_at)));
    v.insert("self".into(), json!(namespace_href(&ns.namespace)));
    v.insert("schema".into(), json!("/v2/schemas/metadefs/namespace"));
    v
}

fn association_view(a: &Association) -> Value {
    let mut v = Map::new();
    v.insert("name".into(), json!(a.resource_type));
    insert_some(&mut v, "prefix", &a.prefix);
    insert_some(&mut v, "properties_target", &a.properties_target);
    v.insert("created_at".into(), json!(ts(a.created_at)));
    v.insert("updated_at".into(), json!(ts(a.updated_at)));
    Value::Object(v)
}

fn object_view(namespace: &str, o: &MetadefObject) -> Value {
    let mut v = Map::new();
    v.insert("name".into(), json!(o.name));
    insert_some(&mut v, "description", &o.description);
    v.insert("required".into(), json!(o.required));
    v.insert("properties".into(), Value::Object(o.properties.clone()));
    v.insert("created_at".into(), json!(ts(o.created_at)));
    v.insert("updated_at".into(), json!(ts(o.updated_at)));
    v.insert("self".into(), json!(format!("{}/objects/{}", namespace_href(namespace), o.name)));
    v.insert("schema".into(), json!("/v2/schemas/metadefs/object"));
    Value::Object(v)
}

/// One property, with its name.
fn property_view(p: &Property) -> Value {
    let mut v = p.definition.clone();
    v.insert("name".into(), json!(p.name));
    Value::Object(v)
}

/// Properties as a map from name to definition.
fn properties_view(properties: &[Property]) -> Value {
    Value::Object(properties.iter().map(|p| (p.name.clone(), Value::Object(p.definition.clone()))).collect())
}

fn tag_view(t: &Tag) -> Value {
    json!({"name": t.name, "created_at": ts(t.created_at), "updated_at": ts(t.updated_at)})
}

/// Tags in lists carry only their names, as upstream shows them.
fn tag_names_view(tags: &[Tag]) -> Value {
    Value::Array(tags.iter().map(|t| json!({"name": t.name})).collect())
}

fn resource_type_view(r: &ResourceType) -> Value {
    json!({"name": r.name, "created_at": ts(r.created_at), "updated_at": ts(r.updated_at)})
}

/// A namespace with its contents; kinds of content it has none of are left out.
pub fn namespace_detail_view(d: &NamespaceDetail) -> Value {
    let mut v = namespace_view(&d.namespace);
    if !d.associations.is_empty() {
        v.insert("resource_type_associations".into(), Value::Array(d.associations.iter().map(association_view).collect()));
    }
    if !d.properties.is_empty() {
        v.insert("properties".into(), properties_view(&d.properties));
    }
    if !d.objects.is_empty() {
        v.insert("objects".into(), Value::Array(d.objects.iter().map(|o| object_view(&d.namespace.namespace, o)).collect()));
    }
    if !d.tags.is_empty() {
        v.insert("tags".into(), tag_names_view(&d.tags));
    }
    Value::Object(v)
}

/// What Python's `urlencode` does to a query value (links keep the client's parameters).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn query_string(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, QUERY_VALUE), utf8_percent_encode(v, QUERY_VALUE)))
        .collect::<Vec<_>>()
        .join("&")
}

fn last_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn parse_sort(pairs: &[(String, String)], keys: &[&str]) -> Result<Sort> {
    let key = last_value(pairs, "sort_key").unwrap_or("created_at");
    if !keys.contains(&key) {
        return Err(GlanceError::BadRequest(format!("Invalid sort key: {key}. It must be one of the following: {}.", keys.join(", "))));
    }
    let ascending = match last_value(pairs, "sort_dir").unwrap_or("desc") {
        "asc" => true,
        "desc" => false,
        other => return Err(GlanceError::BadRequest(format!("Invalid sort direction: {other}"))),
    };
    Ok(Sort { key: key.to_string(), ascending })
}

fn parse_limit(value: &str) -> Result<usize> {
    let n: i64 = value.trim().parse().map_err(|_| GlanceError::BadRequest(format!("limit param must be an integer, not '{value}'")))?;
    usize::try_from(n).map_err(|_| GlanceError::BadRequest("limit param must be positive".into()))
}

async fn resource_type_list(State(app): State<SharedApp>, Ctx(ctx): Ctx) -> Result<Json<Value>> {
    let types = app.metadef_resource_type_list(&ctx).await?;
    Ok(Json(json!({"resource_types": types.iter().map(resource_type_view).collect::<Vec<_>>()})))
}

/// GET /v2/metadefs/namespaces?limit&marker&sort_key&sort_dir&visibility&resource_types
async fn namespace_list(State(app): State<SharedApp>, Ctx(ctx): Ctx, Query(pairs): Query<Vec<(String, String)>>) -> Result<Json<Value>> {
    let limit = match last_value(&pairs, "limit") {
        Some(l) => parse_limit(l)?.min(app.cfg.api_limit_max),
        None => app.cfg.limit_param_default.min(app.cfg.api_limit_max),
    };
    let visibility = last_value(&pairs, "visibility").filter(|v| !v.is_empty()).map(str::to_string);
    if let Some(v) = &visibility {
        if v != "public" && v != "private" {
            return Err(GlanceError::BadRequest(format!("Invalid visibility value: {v}")));
        }
    }
    let query = NamespaceQuery {
        limit,
        marker: last_value(&pairs, "marker").map(str::to_string),
        sort: parse_sort(&pairs, NAMESPACE_SORT_KEYS)?,
        visibility,
        resource_types: last_value(&pairs, "resource_types").map(|r| r.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default(),
    };
    let page = app.metadef_namespace_list(&ctx, &query).await?;
    let kept: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "marker").cloned().collect();
    let link = |pairs: &[(String, String)]| if pairs.is_empty() { "/v2/metadefs/namespaces".to_string() } else { format!("/v2/metadefs/namespaces?{}", query_string(pairs)) };
    let namespaces: Vec<Value> = page
        .namespaces
        .iter()
        .map(|(ns, associations)| {
            let mut v = namespace_view(ns);
            if !associations.is_empty() {
                v.insert("resource_type_associations".into(), Value::Array(associations.iter().map(association_view).collect()));
            }
            Value::Object(v)
        })
        .collect();
    let mut out = json!({"namespaces": namespaces, "first": link(&kept), "schema": "/v2/schemas/metadefs/namespaces"});
    if let Some(marker) = page.next_marker {
        let mut next = kept.clone();
        next.push(("marker".into(), marker));
        out["next"] = json!(link(&next));
    }
    Ok(Json(out))
}

async fn namespace_create(State(app): State<SharedApp>, Ctx(ctx): Ctx, headers: HeaderMap, raw: axum::body::Bytes) -> Result<Response> {
    let input = body::namespace(&body::parse(&raw)?)?;
    let detail = app.metadef_namespace_create(&ctx, input).await?;
    let mut resp = (StatusCode::CREATED, Json(namespace_detail_view(&detail))).into_response();
    let base = common::version::base_url(app.cfg.public_endpoint.as_deref(), &headers, "localhost:9292");
    let location = format!("{base}/v2/metadefs/namespaces/{}", utf8_percent_encode(&detail.namespace.namespace, QUERY_VALUE));
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn namespace_show(
    State(app): State<SharedApp>,
    Ctx(ctx): Ctx,
    Path(namespace): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>> {
    let resource_type = query.get("resource_type").map(String::as_str).filter(|s| !s.is_empty());
    let detail = app.metadef_namespace_get(&ctx, &namespace, resource_type).await?;
    Ok(Json(namespace_detail_view(&detail)))
}

async fn namespace_update(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>, raw: axum::body::Bytes) -> Result<Json<Value>> {
    // The body follows the namespace schema; only the namespace's own attributes change.
    let input = body::namespace(&body::parse(&raw)?)?;
    let ns = app.metadef_namespace_update(&ctx, &namespace, input.attributes).await?;
    Ok(Json(Value::Object(namespace_view(&ns))))
}

async fn namespace_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>) -> Result<StatusCode> {
    app.metadef_namespace_delete(&ctx, &namespace).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn association_list(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>) -> Result<Json<Value>> {
    let associations = app.metadef_association_list(&ctx, &namespace).await?;
    Ok(Json(json!({"resource_type_associations": associations.iter().map(association_view).collect::<Vec<_>>()})))
}

async fn association_create(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>, raw: axum::body::Bytes) -> Result<(StatusCode, Json<Value>)> {
    let input = body::resource_type_association(&body::parse(&raw)?)?;
    let association = app.metadef_association_create(&ctx, &namespace, input).await?;
    Ok((StatusCode::CREATED, Json(association_view(&association))))
}

async fn association_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((namespace, resource_type)): Path<(String, String)>) -> Result<StatusCode> {
    app.metadef_association_delete(&ctx, &namespace, &resource_type).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn object_list(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>) -> Result<Json<Value>> {
    let objects = app.metadef_object_list(&ctx, &namespace).await?;
    Ok(Json(json!({
        "objects": objects.iter().map(|o| object_view(&namespace, o)).collect::<Vec<_>>(),
        "schema": "/v2/schemas/metadefs/objects",
    })))
}

async fn object_create(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>, raw: axum::body::Bytes) -> Result<(StatusCode, Json<Value>)> {
    let input = body::metadef_object(&body::parse(&raw)?)?;
    let object = app.metadef_object_create(&ctx, &namespace, input).await?;
    Ok((StatusCode::CREATED, Json(object_view(&namespace, &object))))
}

async fn object_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((namespace, name)): Path<(String, String)>) -> Result<Json<Value>> {
    let object = app.metadef_object_get(&ctx, &namespace, &name).await?;
    Ok(Json(object_view(&namespace, &object)))
}

async fn object_update(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((namespace, name)): Path<(String, String)>, raw: axum::body::Bytes) -> Result<Json<Value>> {
    let input = body::metadef_object(&body::parse(&raw)?)?;
    let object = app.metadef_object_update(&ctx, &namespace, &name, input).await?;
    Ok(Json(object_view(&namespace, &object)))
}

async fn object_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((namespace, name)): Path<(String, String)>) -> Result<StatusCode> {
    app.metadef_object_delete(&ctx, &namespace, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn object_delete_all(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>) -> Result<StatusCode> {
    app.metadef_namespace_clear(&ctx, &namespace, NamespaceContent::Objects).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn property_list(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>) -> Result<Json<Value>> {
    let properties = app.metadef_property_list(&ctx, &namespace).await?;
    Ok(Json(json!({"properties": properties_view(&properties)})))
}

async fn property_create(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>, raw: axum::body::Bytes) -> Result<(StatusCode, Json<Value>)> {
    let input = body::property(&body::parse(&raw)?)?;
    let property = app.metadef_property_create(&ctx, &namespace, input).await?;
    Ok((StatusCode::CREATED, Json(property_view(&property))))
}

async fn property_show(
    State(app): State<SharedApp>,
    Ctx(ctx): Ctx,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>> {
    let resource_type = query.get("resource_type").map(String::as_str).filter(|s| !s.is_empty());
    let property = app.metadef_property_get(&ctx, &namespace, &name, resource_type).await?;
    Ok(Json(property_view(&property)))
}

async fn property_update(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((namespace, name)): Path<(String, String)>, raw: axum::body::Bytes) -> Result<Json<Value>> {
    let input = body::property(&body::parse(&raw)?)?;
    let property = app.metadef_property_update(&ctx, &namespace, &name, input).await?;
    Ok(Json(property_view(&property)))
}

async fn property_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((namespace, name)): Path<(String, String)>) -> Result<StatusCode> {
    app.metadef_property_delete(&ctx, &namespace, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn property_delete_all(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>) -> Result<StatusCode> {
    app.metadef_namespace_clear(&ctx, &namespace, NamespaceContent::Properties).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET .../tags?limit&marker&sort_key&sort_dir
async fn tag_list(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>, Query(pairs): Query<Vec<(String, String)>>) -> Result<Json<Value>> {
    let query = TagQuery {
        limit: last_value(&pairs, "limit").filter(|l| !l.is_empty()).map(parse_limit).transpose()?,
        marker: last_value(&pairs, "marker").filter(|m| !m.is_empty()).map(str::to_string),
        sort: parse_sort(&pairs, TAG_SORT_KEYS)?,
    };
    let tags = app.metadef_tag_list(&ctx, &namespace, &query).await?;
    Ok(Json(json!({"tags": tag_names_view(&tags)})))
}

/// `X-Openstack-Append` as oslo's bool_from_string reads it.
fn append_header(headers: &HeaderMap) -> bool {
    headers
        .get("x-openstack-append")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| ["1", "t", "true", "on", "y", "yes"].contains(&v.trim().to_ascii_lowercase().as_str()))
}

async fn tag_create_many(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>, headers: HeaderMap, raw: axum::body::Bytes) -> Result<(StatusCode, Json<Value>)> {
    let names = body::tags(&body::parse(&raw)?)?;
    let tags = app.metadef_tag_create_many(&ctx, &namespace, names, append_header(&headers)).await?;
    Ok((StatusCode::CREATED, Json(json!({"tags": tag_names_view(&tags)}))))
}

async fn tag_delete_all(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(namespace): Path<String>) -> Result<StatusCode> {
    app.metadef_namespace_clear(&ctx, &namespace, NamespaceContent::Tags).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tag_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((namespace, name)): Path<(String, String)>) -> Result<Json<Value>> {
    Ok(Json(tag_view(&app.metadef_tag_get(&ctx, &namespace, &name).await?)))
}

async fn tag_create(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((namespace, name)): Path<(String, String)>) -> Result<(StatusCode, Json<Value>)> {
    let name = body::tag_name(&name)?;
    let tag = app.metadef_tag_create(&ctx, &namespace, &name).await?;
    Ok((StatusCode::CREATED, Json(tag_view(&tag))))
}

async fn tag_update(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((namespace, name)): Path<(String, String)>, raw: axum::body::Bytes) -> Result<Json<Value>> {
    let new_name = body::tag(&body::parse(&raw)?)?;
    Ok(Json(tag_view(&app.metadef_tag_update(&ctx, &namespace, &name, new_name).await?)))
}

async fn tag_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((namespace, name)): Path<(String, String)>) -> Result<StatusCode> {
    app.metadef_tag_delete(&ctx, &namespace, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_like_python_urlencode() {
        let pairs = vec![("resource_types".to_string(), "OS::Glance::Image,OS::Nova::Flavor".to_string()), ("sort_dir".to_string(), "asc".to_string())];
        assert_eq!(query_string(&pairs), "resource_types=OS%3A%3AGlance%3A%3AImage%2COS%3A%3ANova%3A%3AFlavor&sort_dir=asc");
    }

    #[test]
    fn append_header_reads_oslo_booleans() {
        let mut h = HeaderMap::new();
        assert!(!append_header(&h));
        h.insert("x-openstack-append", HeaderValue::from_static("True"));
        assert!(append_header(&h));
        h.insert("x-openstack-append", HeaderValue::from_static("no"));
        assert!(!append_header(&h));
    }

    #[test]
    fn limits_and_sorts() {
        assert_eq!(parse_limit("5").unwrap(), 5);
        assert!(parse_limit("-1").is_err());
        assert!(parse_limit("x").is_err());
        let sort = parse_sort(&[("sort_key".into(), "namespace".into()), ("sort_dir".into(), "asc".into())], NAMESPACE_SORT_KEYS).unwrap();
        assert_eq!(sort, Sort { key: "namespace".into(), ascending: true });
        assert!(parse_sort(&[("sort_key".into(), "colour".into())], NAMESPACE_SORT_KEYS).is_err());
        assert!(parse_sort(&[("sort_dir".into(), "up".into())], NAMESPACE_SORT_KEYS).is_err());
    }
}
