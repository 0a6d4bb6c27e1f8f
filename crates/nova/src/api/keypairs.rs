//! `/os-keypairs` (nova/api/openstack/compute/keypairs.py and views/keypairs.py): create
//! (import or, below 2.92, generate), list (paged from 2.35), show, delete; `type` from 2.2,
//! `user_id` for admins from 2.10, stricter names and a required public key from 2.92.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::validation::{self as v, JsonBody};
use super::{Ctx, Mv};
use crate::app::keypairs::{KEYPAIR_TYPE_SSH, KEYPAIR_TYPE_X509};
use crate::app::SharedApp;
use crate::db::key_pairs::KeyPair;
use crate::error::Result;

pub fn routes() -> Router<SharedApp> {
    Router::new().route("/v2.1/os-keypairs", get(index).post(create)).route("/v2.1/os-keypairs/{keypair_name}", get(show).delete(delete))
}

/// Nova's naive microsecond timestamp (`2014-05-07T12:06:13.681238`).
fn timestamp(micros: i64) -> String {
    common::time::iso_micros(common::time::from_micros(micros))
}

/// The `user_id` query parameter, honoured from 2.10.
fn user_id_param<'a>(mv: &Mv, query: &'a BTreeMap<String, String>) -> Option<&'a str> {
    mv.0.at_least(2, 10).then(|| query.get("user_id").map(String::as_str)).flatten()
}

fn check_query(mv: &Mv, query: &BTreeMap<String, String>, paged: bool) -> Result<()> {
    if mv.0.at_least(2, 75) {
        let allowed: &[&str] = if paged { &["user_id", "limit", "marker"] } else { &["user_id"] };
        v::no_extra_query(query, allowed)?;
    }
    Ok(())
}

fn keypair_name(mv: &Mv, value: &Value) -> Result<String> {
    let name = v::name(value, "name")?;
    let extra: &[char] = if mv.0.at_least(2, 92) { &['_', '-', ' ', '@', '.'] } else { &['_', '-', ' '] };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(&c)) {
        let pattern = if mv.0.at_least(2, 92) { r"^[_\-\@\. a-zA-Z0-9]+$" } else { r"^[_\- a-zA-Z0-9]+$" };
        return Err(v::invalid("name", value, &format!("'{name}' does not match '{pattern}'")));
    }
    Ok(name)
}

/// POST /os-keypairs: 200 up to 2.1, 201 from 2.2.
async fn create(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, JsonBody(body): JsonBody) -> Result<Response> {
    v::no_extra(body.as_object().ok_or_else(|| v::invalid("keypair", &body, "not an object"))?, &["keypair"], "")?;
    let kp = v::object(&body, "keypair")?;
    let mut allowed = vec!["name", "public_key"];
    if mv.0.at_least(2, 2) {
        allowed.push("type");
    }
    if mv.0.at_least(2, 10) {
        allowed.push("user_id");
    }
    v::no_extra(kp, &allowed, "keypair")?;
    let name = keypair_name(&mv, v::required(kp, "name", "keypair")?)?;
    let key_type = match kp.get("type") {
        None => KEYPAIR_TYPE_SSH,
        Some(Value::String(t)) if t == KEYPAIR_TYPE_SSH => KEYPAIR_TYPE_SSH,
        Some(Value::String(t)) if t == KEYPAIR_TYPE_X509 => KEYPAIR_TYPE_X509,
        Some(other) => return Err(v::invalid("type", other, &format!("{other} is not one of ['ssh', 'x509']"))),
    };
    let public_key = match kp.get("public_key") {
        None if mv.0.at_least(2, 92) => return Err(v::invalid("keypair", &Value::Object(kp.clone()), "'public_key' is a required property")),
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => return Err(v::invalid("public_key", other, &format!("{other} is not of type 'string'"))),
    };
    let user_id = match kp.get("user_id") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => return Err(v::invalid("user_id", other, &format!("{other} is not of type 'string'"))),
    };
    let (k, private_key) = app.keypair_create(&ctx, user_id, &name, key_type, public_key).await?;
    let mut out = json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint, "user_id": k.user_id});
    if let Some(p) = private_key {
        out["private_key"] = json!(p);
    }
    if mv.0.at_least(2, 2) {
        out["type"] = json!(k.key_type);
    }
    let status = if mv.0.at_least(2, 2) { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({"keypair": out}))).into_response())
}

fn show_view(mv: &Mv, k: &KeyPair) -> Value {
    let mut out = json!({
        "name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint, "user_id": k.user_id,
        "created_at": timestamp(k.created_at), "deleted": false, "deleted_at": null, "id": k.id, "updated_at": null,
    });
    if mv.0.at_least(2, 2) {
        out["type"] = json!(k.key_type);
    }
    out
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(name): Path<String>, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    check_query(&mv, &query, false)?;
    let k = app.keypair_get(&ctx, user_id_param(&mv, &query), &name).await?;
    Ok(Json(json!({"keypair": show_view(&mv, &k)})))
}

/// DELETE /os-keypairs/{name}: 202 up to 2.1, 204 from 2.2.
async fn delete(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, Path(name): Path<String>, Query(query): Query<BTreeMap<String, String>>) -> Result<StatusCode> {
    check_query(&mv, &query, false)?;
    app.keypair_delete(&ctx, user_id_param(&mv, &query), &name).await?;
    Ok(if mv.0.at_least(2, 2) { StatusCode::NO_CONTENT } else { StatusCode::ACCEPTED })
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    check_query(&mv, &query, true)?;
    let paged = mv.0.at_least(2, 35);
    let (limit, marker) = if paged {
        let limit = match query.get("limit") {
            Some(l) => Some(v::integer(&json!(l), "limit", 0, i64::MAX, false)? as usize),
            None => None,
        };
        (limit, query.get("marker").map(String::as_str))
    } else {
        (None, None)
    };
    let page = app.keypair_list(&ctx, user_id_param(&mv, &query), limit, marker).await?;
    let list: Vec<Value> = page
        .key_pairs
        .iter()
        .map(|k| {
            let mut out = json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
            if mv.0.at_least(2, 2) {
                out["type"] = json!(k.key_type);
            }
            json!({"keypair": out})
        })
        .collect();
    let mut body = json!({"keypairs": list});
    if paged && page.more {
        if let Some(last) = page.key_pairs.last() {
            let base = super::base_url(&app, &headers);
            body["keypairs_links"] = json!([{"href": common::pagination::next_href(&base, "/v2.1/os-keypairs", &query, &last.name), "rel": "next"}]);
        }
    }
    Ok(Json(body))
}
