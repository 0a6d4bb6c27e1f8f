//! Flavor writes (the create/update/delete half of nova/api/openstack/compute/flavors.py,
//! formerly flavor_manage.py), the extra specs API (flavors_extraspecs.py) and flavor
//! access (flavor_access.py), with upstream's request schemas per microversion.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::validation::{self as v, JsonBody};
use super::{Ctx, Mv};
use crate::app::extra_specs;
use crate::app::flavor_manage::FlavorCreate;
use crate::app::SharedApp;
use crate::error::{NovaError, Result};

const MAX_INT: i64 = 0x7FFF_FFFF;
const SQL_SP_FLOAT_MAX: f64 = 3.40282e38;

fn flavor_id_param(value: &Value) -> Result<Option<String>> {
    let id = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return Err(v::invalid("id", other, &format!("{other} is not of type 'string', 'number', 'null'"))),
    };
    let ok_chars = id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ' ' | '_' | '-'));
    if id.is_empty() || id.chars().count() > 255 || !ok_chars || id.starts_with(' ') || id.ends_with(' ') {
        return Err(v::invalid("id", value, &format!("'{id}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'")));
    }
    Ok(Some(id))
}

fn rxtx_factor(value: &Value) -> Result<f64> {
    let f = match value {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => {
            let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
            let digits = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
            if !digits(int) || frac.is_some_and(|f| !digits(f)) {
                return Err(v::invalid("rxtx_factor", value, &format!("'{s}' does not match '^[0-9]+(\\.[0-9]+)?$'")));
            }
            s.parse().unwrap_or(0.0)
        }
        other => return Err(v::invalid("rxtx_factor", other, &format!("{other} is not of type 'number', 'string'"))),
    };
    if f <= 0.0 || f > SQL_SP_FLOAT_MAX {
        return Err(NovaError::BadRequest(format!("Invalid input received: 'rxtx_factor' argument must be a float between 0 and {SQL_SP_FLOAT_MAX:e}")));
    }
    Ok(f)
}

/// POST /flavors (200, as upstream keeps for compatibility).
pub async fn create(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, JsonBody(body): JsonBody) -> Result<Json<Value>> {
    v::no_extra(body.as_object().ok_or_else(|| v::invalid("flavor", &body, "not an object"))?, &["flavor"], "")?;
    let f = v::object(&body, "flavor")?;
    let mut allowed = vec!["name", "id", "ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap", "rxtx_factor", "os-flavor-access:is_public"];
    if mv.0.at_least(2, 55) {
        allowed.push("description");
    }
    v::no_extra(f, &allowed, "flavor")?;
    let req = FlavorCreate {
        name: v::name(v::required(f, "name", "flavor")?, "name")?,
        flavorid: f.get("id").map(flavor_id_param).transpose()?.flatten(),
        memory_mb: v::integer(v::required(f, "ram", "flavor")?, "ram", 1, MAX_INT, false)?,
        vcpus: v::integer(v::required(f, "vcpus", "flavor")?, "vcpus", 1, MAX_INT, false)?,
        root_gb: v::integer(v::required(f, "disk", "flavor")?, "disk", 0, MAX_INT, false)?,
        ephemeral_gb: f.get("OS-FLV-EXT-DATA:ephemeral").map(|x| v::integer(x, "OS-FLV-EXT-DATA:ephemeral", 0, MAX_INT, false)).transpose()?.unwrap_or(0),
        swap: f.get("swap").map(|x| v::integer(x, "swap", 0, MAX_INT, false)).transpose()?.unwrap_or(0),
        rxtx_factor: f.get("rxtx_factor").map(rxtx_factor).transpose()?.unwrap_or(1.0),
        is_public: f.get("os-flavor-access:is_public").map(|x| v::boolean(x, "os-flavor-access:is_public")).transpose()?.unwrap_or(true),
        description: f.get("description").map(|x| v::description(x, "description", 65535)).transpose()?.flatten(),
    };
    let flavor = app.flavor_create(&ctx, req).await?;
    let base = super::base_url(&app, &headers);
    Ok(Json(json!({"flavor": super::flavors::full(&base, &mv, &flavor, app.can_see_flavor_extra_specs(&ctx))})))
}

/// PUT /flavors/{id} (2.55): the description.
pub async fn update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Path(id): Path<String>, JsonBody(body): JsonBody) -> Result<Response> {
    if !mv.0.at_least(2, 55) {
        // Before 2.55 the method does not exist: upstream's VersionNotFoundForAPIMethod.
        return Err(NovaError::NotFound("The resource could not be found.".into()));
    }
    v::no_extra(body.as_object().ok_or_else(|| v::invalid("flavor", &body, "not an object"))?, &["flavor"], "")?;
    let f = v::object(&body, "flavor")?;
    v::no_extra(f, &["description"], "flavor")?;
    let description = v::description(v::required(f, "description", "flavor")?, "description", 65535)?;
    let flavor = app.flavor_update_description(&ctx, &id, description).await?;
    let base = super::base_url(&app, &headers);
    Ok(Json(json!({"flavor": super::flavors::full(&base, &mv, &flavor, app.can_see_flavor_extra_specs(&ctx))})).into_response())
}

/// DELETE /flavors/{id} (202, as upstream keeps for compatibility).
pub async fn delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<StatusCode> {
    app.flavor_delete(&ctx, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

const SPEC_KEY_CHARS: &str = "^[a-zA-Z0-9-_:. ]{1,255}$";

/// Checks one extra spec (key pattern, value type and length, and from 2.86 the known
/// namespaces); returns the value as stored.
fn extra_spec(mv: &Mv, key: &str, value: &Value) -> Result<String> {
    let key_ok = !key.is_empty() && key.chars().count() <= 255 && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | ' '));
    if !key_ok {
        return Err(NovaError::BadRequest(format!("Invalid input for field/attribute extra_specs. Value: {key}. '{key}' does not match any of the regexes: '{SPEC_KEY_CHARS}'")));
    }
    let stored = match value {
        Value::String(s) => {
            if s.chars().count() > 255 {
                return Err(v::invalid(&format!("extra_specs.{key}"), value, &format!("'{s}' is too long")));
            }
            s.clone()
        }
        Value::Number(n) => {
            let s = n.to_string();
            if s.chars().count() > 255 {
                return Err(NovaError::BadRequest("Invalid input received: extra_specs value has more than 255 characters.".into()));
            }
            s
        }
        other => return Err(v::invalid(&format!("extra_specs.{key}"), other, &format!("{other} is not of type 'string', 'number'"))),
    };
    if mv.0.at_least(2, 86) {
        extra_specs::validate(key, &stored).map_err(NovaError::BadRequest)?;
    }
    Ok(stored)
}

fn specs_from(mv: &Mv, obj: &Map<String, Value>) -> Result<BTreeMap<String, String>> {
    obj.iter().map(|(k, val)| Ok((k.clone(), extra_spec(mv, k, val)?))).collect()
}

/// GET /flavors/{id}/os-extra_specs.
pub async fn extra_specs_index(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!({"extra_specs": app.flavor_extra_specs_get(&ctx, &id).await?})))
}

/// POST /flavors/{id}/os-extra_specs (200; the body is echoed back as sent).
pub async fn extra_specs_create(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>, JsonBody(body): JsonBody) -> Result<Json<Value>> {
    v::no_extra(body.as_object().ok_or_else(|| v::invalid("extra_specs", &body, "not an object"))?, &["extra_specs"], "")?;
    let specs = specs_from(&mv, v::object(&body, "extra_specs")?)?;
    app.flavor_extra_specs_set(&ctx, "os_compute_api:os-flavor-extra-specs:create", &id, &specs).await?;
    Ok(Json(body))
}

/// GET /flavors/{id}/os-extra_specs/{key}.
pub async fn extra_specs_show(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, key)): Path<(String, String)>) -> Result<Json<Value>> {
    let value = app.flavor_extra_spec_get(&ctx, &id, &key).await?;
    Ok(Json(json!({ key: value })))
}

/// PUT /flavors/{id}/os-extra_specs/{key}: exactly that one key in the body.
pub async fn extra_specs_update(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path((id, key)): Path<(String, String)>, JsonBody(body): JsonBody) -> Result<Json<Value>> {
    let obj = body.as_object().ok_or_else(|| v::invalid("", &body, &format!("{body} is not of type 'object'")))?;
    if obj.len() != 1 {
        let why = if obj.is_empty() { "does not have enough properties" } else { "has too many properties" };
        return Err(NovaError::BadRequest(format!("Invalid input for field/attribute . Value: {body}. {body} {why}")));
    }
    let specs = specs_from(&mv, obj)?;
    if !obj.contains_key(&key) {
        return Err(NovaError::BadRequest("Request body and URI mismatch".into()));
    }
    app.flavor_extra_specs_set(&ctx, "os_compute_api:os-flavor-extra-specs:update", &id, &specs).await?;
    Ok(Json(body))
}

/// DELETE /flavors/{id}/os-extra_specs/{key} (200, empty body).
pub async fn extra_specs_delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path((id, key)): Path<(String, String)>) -> Result<StatusCode> {
    app.flavor_extra_spec_delete(&ctx, &id, &key).await?;
    Ok(StatusCode::OK)
}

fn access_body(flavorid: &str, projects: &[String]) -> Value {
    json!({"flavor_access": projects.iter().map(|p| json!({"flavor_id": flavorid, "tenant_id": p})).collect::<Vec<_>>()})
}

/// GET /flavors/{id}/os-flavor-access.
pub async fn access_index(State(app): State<SharedApp>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let (f, projects) = app.flavor_access_list(&ctx, &id).await?;
    Ok(Json(access_body(&f.flavorid, &projects)))
}

fn tenant_of(body: &Value, action: &str) -> Result<String> {
    let obj = v::object(body, action)?;
    v::no_extra(obj, &["tenant"], action)?;
    match v::required(obj, "tenant", action)? {
        Value::String(s) if !s.is_empty() && s.chars().count() <= 255 => Ok(s.clone()),
        other => Err(v::invalid(&format!("{action}/tenant"), other, "must be a string of 1 to 255 characters")),
    }
}

/// POST /flavors/{id}/action: addTenantAccess or removeTenantAccess.
pub async fn action(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(id): Path<String>, JsonBody(body): JsonBody) -> Result<Json<Value>> {
    let obj = body.as_object().ok_or_else(|| NovaError::BadRequest("Malformed request body".into()))?;
    let (f, projects) = if obj.contains_key("addTenantAccess") {
        v::no_extra(obj, &["addTenantAccess"], "")?;
        let tenant = tenant_of(&body, "addTenantAccess")?;
        app.flavor_access_add(&ctx, &id, &tenant, mv.0.at_least(2, 7)).await?
    } else if obj.contains_key("removeTenantAccess") {
        v::no_extra(obj, &["removeTenantAccess"], "")?;
        let tenant = tenant_of(&body, "removeTenantAccess")?;
        app.flavor_access_remove(&ctx, &id, &tenant).await?
    } else {
        return Err(NovaError::BadRequest("There is no such action: ".to_string() + &obj.keys().cloned().collect::<Vec<_>>().join(",")));
    };
    Ok(Json(access_body(&f.flavorid, &projects)))
}
