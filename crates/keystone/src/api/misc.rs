//! The smaller Keystone APIs: policy blobs (keystone/api/policy.py), domain-specific
//! configuration (the config resources of keystone/api/domains.py with the rules of
//! keystone/resource/core.py's DomainConfigManager), unified limits
//! (keystone/api/registered_limits.py, limits.py with keystone/limit/core.py and the flat
//! enforcement model), and OAuth1 consumers (keystone/api/os_oauth1.py).
//!
//! These resources have no rules beyond validation and existence checks, so the few rules
//! there are live here beside the handlers rather than in an `app` module of their own.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::body::{Fields, JsonBody, extra_from, matching_id, not_empty};
use super::{collection, links, matches_filter, self_href, QueryMap};
use crate::app::catalog_admin::expecting;
use crate::app::{Caller, SharedApp};
use crate::db::misc::{self as mdb, Consumer, DomainConfigOption, Policy, ProjectLimit, RegisteredLimit};
use crate::error::{KeystoneError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v3/policies", get(policy_list).post(policy_create))
        .route("/v3/policies/{policy_id}", get(policy_show).patch(policy_update).delete(policy_delete))
        .route("/v3/domains/{domain_id}/config", get(config_get).put(config_create).patch(config_update).delete(config_delete))
        .route("/v3/domains/{domain_id}/config/{group}", get(config_group_get).patch(config_group_update).delete(config_group_delete))
        .route(
            "/v3/domains/{domain_id}/config/{group}/{option}",
            get(config_option_get).patch(config_option_update).delete(config_option_delete),
        )
        .route("/v3/domains/config/default", get(config_default))
        .route("/v3/domains/config/{group}/default", get(config_group_default))
        .route("/v3/domains/config/{group}/{option}/default", get(config_option_default))
        .route("/v3/registered_limits", get(registered_limit_list).post(registered_limit_create))
        .route("/v3/registered_limits/{registered_limit_id}", get(registered_limit_show).patch(registered_limit_update).delete(registered_limit_delete))
        .route("/v3/limits", get(limit_list).post(limit_create))
        .route("/v3/limits/model", get(limit_model))
        .route("/v3/limits/{limit_id}", get(limit_show).patch(limit_update).delete(limit_delete))
        .route("/v3/OS-OAUTH1/consumers", get(consumer_list).post(consumer_create))
        .route("/v3/OS-OAUTH1/consumers/{consumer_id}", get(consumer_show).patch(consumer_update).delete(consumer_delete))
}




fn no_additional(body: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(KeystoneError::Validation(format!("Additional properties are not allowed ('{k}' was unexpected)"))),
        None => Ok(()),
    }
}

// ----------------------------------------------------------------------------------- policies

fn policy_view(base: &str, p: &Policy) -> Value {
    let mut v = p.extra.clone();
    v.insert("id".into(), json!(p.id));
    v.insert("type".into(), json!(p.policy_type));
    v.insert("blob".into(), json!(p.blob));
    v.insert("links".into(), links(base, &format!("policies/{}", p.id)));
    Value::Object(v)
}

async fn policy_get_checked(app: &SharedApp, id: &str) -> Result<Policy> {
    mdb::policy_get(&app.db, id).await?.ok_or_else(|| KeystoneError::not_found("policy", id))
}

async fn policy_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_policies", json!({}))?;
    let base = super::base_url(&app, &headers);
    let items = mdb::policy_list(&app.db).await?.iter().filter(|p| matches_filter(Some(&p.policy_type), "type", &query)).map(|p| policy_view(&base, p)).collect();
    Ok(Json(collection("policies", items, self_href(&base, &uri))))
}

async fn policy_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_policy", json!({}))?;
    let body = body.entity("policy")?;
    let blob = body.req_str("blob", usize::MAX)?;
    let policy_type = body.req_str("type", 255)?;
    let p = Policy { id: common::ids::new_hex_id(), policy_type, blob, extra: extra_from(&body, &["id", "type", "blob", "links"]) };
    mdb::policy_create(&app.db, &p).await?;
    app.bump();
    Ok((StatusCode::CREATED, Json(json!({"policy": policy_view(&super::base_url(&app, &headers), &p)}))))
}

async fn policy_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_policy", json!({}))?;
    let p = policy_get_checked(&app, &id).await?;
    Ok(Json(json!({"policy": policy_view(&super::base_url(&app, &headers), &p)})))
}

async fn policy_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:update_policy", json!({}))?;
    let body = body.entity("policy")?;
    not_empty("policy", &body)?;
    let blob = body.opt_str("blob", usize::MAX)?;
    let policy_type = body.opt_str("type", 255)?;
    let mut p = policy_get_checked(&app, &id).await?;
    if let Some(b) = blob {
        p.blob = b;
    }
    if let Some(t) = policy_type {
        p.policy_type = t;
    }
    p.extra.extend(extra_from(&body, &["id", "type", "blob", "links"]));
    mdb::policy_update(&app.db, &p).await?;
    app.bump();
    Ok(Json(json!({"policy": policy_view(&super::base_url(&app, &headers), &p)})))
}

async fn policy_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:delete_policy", json!({}))?;
    if mdb::policy_delete(&app.db, &id).await? == 0 {
        return Err(KeystoneError::not_found("policy", &id));
    }
    app.bump();
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------------------ domain config

/// Options a domain may set, per group (upstream's `whitelisted_options`), with the defaults
/// `GET /v3/domains/config/default` reports (keystone.conf's, as keystone/conf/ldap.py and
/// identity.py declare them).
fn whitelisted_defaults() -> Vec<(&'static str, Vec<(&'static str, Value)>)> {
    vec![
        ("identity", vec![("driver", json!("sql")), ("list_limit", Value::Null)]),
        (
            "ldap",
            vec![
                ("url", json!("ldap://localhost")),
                ("user", Value::Null),
                ("suffix", json!("cn=example,cn=com")),
                ("query_scope", json!("one")),
                ("page_size", json!(0)),
                ("alias_dereferencing", json!("default")),
                ("debug_level", Value::Null),
                ("chase_referrals", Value::Null),
                ("user_tree_dn", Value::Null),
                ("user_filter", Value::Null),
                ("user_objectclass", json!("inetOrgPerson")),
                ("user_id_attribute", json!("cn")),
                ("user_name_attribute", json!("sn")),
                ("user_mail_attribute", json!("mail")),
                ("user_description_attribute", json!("description")),
                ("user_pass_attribute", json!("userPassword")),
                ("user_enabled_attribute", json!("enabled")),
                ("user_enabled_invert", json!(false)),
                ("user_enabled_mask", json!(0)),
                ("user_enabled_default", json!("True")),
                ("user_attribute_ignore", json!(["default_project_id"])),
                ("user_default_project_id_attribute", Value::Null),
                ("user_enabled_emulation", json!(false)),
                ("user_enabled_emulation_dn", Value::Null),
                ("user_enabled_emulation_use_group_config", json!(false)),
                ("user_additional_attribute_mapping", json!([])),
                ("group_tree_dn", Value::Null),
                ("group_filter", Value::Null),
                ("group_objectclass", json!("groupOfNames")),
                ("group_id_attribute", json!("cn")),
                ("group_name_attribute", json!("ou")),
                ("group_members_are_ids", json!(false)),
                ("group_member_attribute", json!("member")),
                ("group_desc_attribute", json!("description")),
                ("group_attribute_ignore", json!([])),
                ("group_additional_attribute_mapping", json!([])),
                ("tls_cacertfile", Value::Null),
                ("tls_cacertdir", Value::Null),
                ("use_tls", json!(false)),
                ("tls_req_cert", json!("demand")),
                ("use_pool", json!(true)),
                ("pool_size", json!(10)),
                ("pool_retry_max", json!(3)),
                ("pool_retry_delay", json!(0.1)),
                ("pool_connection_timeout", json!(-1)),
                ("pool_connection_lifetime", json!(600)),
                ("use_auth_pool", json!(true)),
                ("auth_pool_size", json!(100)),
                ("auth_pool_connection_lifetime", json!(60)),
            ],
        ),
    ]
}

/// Options that are stored but never returned (upstream's `sensitive_options`).
const SENSITIVE_OPTIONS: &[(&str, &str)] = &[("ldap", "password")];

fn is_whitelisted(group: &str, option: &str) -> bool {
    whitelisted_defaults().iter().any(|(g, opts)| *g == group && opts.iter().any(|(o, _)| *o == option))
}

fn is_sensitive(group: &str, option: &str) -> bool {
    SENSITIVE_OPTIONS.contains(&(group, option))
}

fn invalid_config(reason: impl std::fmt::Display) -> KeystoneError {
    KeystoneError::Forbidden(format!("Invalid domain specific configuration: {reason}."))
}

fn config_not_found(domain_id: &str, what: String) -> KeystoneError {
    KeystoneError::NotFoundMessage(format!("Could not find {what} in domain configuration for domain {domain_id}."))
}

fn what(group: Option<&str>, option: Option<&str>) -> String {
    match (group, option) {
        (Some(g), Some(o)) => format!("option {o} in group {g}"),
        (Some(g), None) => format!("group {g}"),
        _ => "any options".to_string(),
    }
}

/// Upstream's `_assert_valid_group_and_option`.
pub fn check_group_and_option(group: Option<&str>, option: Option<&str>) -> Result<()> {
    let Some(group) = group else { return Ok(()) };
    let known = whitelisted_defaults().iter().any(|(g, _)| *g == group) || SENSITIVE_OPTIONS.iter().any(|(g, _)| *g == group);
    if !known {
        return Err(invalid_config(format!("Group {group} is not supported for domain specific configurations")));
    }
    if let Some(option) = option {
        if !is_whitelisted(group, option) && !is_sensitive(group, option) {
            return Err(invalid_config(format!("Option {option} in group {group} is not supported for domain specific configurations")));
        }
    }
    Ok(())
}

/// Upstream's `_assert_valid_config`: a non-empty object of non-empty group objects of
/// supported options; returns them as rows.
pub fn config_to_options(config: &Map<String, Value>) -> Result<Vec<DomainConfigOption>> {
    if config.is_empty() {
        return Err(invalid_config("No options specified"));
    }
    let mut out = Vec::new();
    for (group, options) in config {
        let options = options
            .as_object()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| invalid_config(format!("The value of group {group} specified in the config should be a dictionary of options")))?;
        for (option, value) in options {
            check_group_and_option(Some(group), Some(option))?;
            out.push(DomainConfigOption { group: group.clone(), option: option.clone(), value: value.clone(), sensitive: is_sensitive(group, option) });
        }
    }
    Ok(out)
}

/// Rows to `{group: {option: value}}`, or `{option: value}` for a single requested option.
fn options_to_config(options: &[DomainConfigOption], option: Option<&str>) -> Value {
    if let (Some(o), Some(first)) = (option, options.first()) {
        if first.option == o {
            return json!({o: first.value});
        }
    }
    let mut groups: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for o in options {
        groups.entry(o.group.clone()).or_default().insert(o.option.clone(), o.value.clone());
    }
    json!(groups)
}

fn config_body(body: JsonBody) -> Result<Map<String, Value>> {
    body.entity("config")
}

async fn config_read(app: &SharedApp, caller: &Caller, domain_id: &str, group: Option<&str>, option: Option<&str>) -> Result<Json<Value>> {
    if group == Some("security_compliance") {
        app.enforce(caller, "identity:get_security_compliance_domain_config", json!({}))?;
        app.domain_get_checked(domain_id).await?;
        if domain_id != "default" {
            return Err(invalid_config("Reading security compliance information for any domain other than the default domain is not allowed or supported."));
        }
        let sc = &app.cfg.security_compliance;
        let readable = [("password_regex", json!(sc.password_regex)), ("password_regex_description", json!(sc.password_regex_description))];
        return match option {
            Some(o) => match readable.iter().find(|(k, _)| *k == o) {
                Some((k, v)) => Ok(Json(json!({"config": {*k: v}}))),
                None => Err(invalid_config("Reading security compliance values other than password_regex and password_regex_description is not allowed.")),
            },
            None => Ok(Json(json!({"config": {"security_compliance": {"password_regex": readable[0].1, "password_regex_description": readable[1].1}}}))),
        };
    }
    app.enforce(caller, "identity:get_domain_config", json!({}))?;
    app.domain_get_checked(domain_id).await?;
    check_group_and_option(group, option)?;
    let options = mdb::domain_config_list(&app.db, domain_id, group, option, false).await?;
    if options.is_empty() {
        return Err(config_not_found(domain_id, what(group, option)));
    }
    Ok(Json(json!({"config": options_to_config(&options, option)})))
}

/// The domain's readable (non-sensitive) configuration after a write.
async fn config_current(app: &SharedApp, domain_id: &str) -> Result<Value> {
    Ok(options_to_config(&mdb::domain_config_list(&app.db, domain_id, None, None, false).await?, None))
}

async fn config_get(State(app): State<SharedApp>, caller: Caller, Path(domain_id): Path<String>) -> Result<Json<Value>> {
    config_read(&app, &caller, &domain_id, None, None).await
}

async fn config_group_get(State(app): State<SharedApp>, caller: Caller, Path((domain_id, group)): Path<(String, String)>) -> Result<Json<Value>> {
    config_read(&app, &caller, &domain_id, Some(&group), None).await
}

async fn config_option_get(State(app): State<SharedApp>, caller: Caller, Path((domain_id, group, option)): Path<(String, String, String)>) -> Result<Json<Value>> {
    config_read(&app, &caller, &domain_id, Some(&group), Some(&option)).await
}

/// PUT: replaces the configuration; 201 when the domain had none, else 200.
async fn config_create(State(app): State<SharedApp>, caller: Caller, Path(domain_id): Path<String>, body: JsonBody) -> Result<Response> {
    app.enforce(&caller, "identity:create_domain_config", json!({}))?;
    app.domain_get_checked(&domain_id).await?;
    let options = config_to_options(&config_body(body)?)?;
    let had = !mdb::domain_config_list(&app.db, &domain_id, None, None, false).await?.is_empty()
        || !mdb::domain_config_list(&app.db, &domain_id, None, None, true).await?.is_empty();
    mdb::domain_config_replace(&app.db, &domain_id, &options).await?;
    app.bump();
    let body = Json(json!({"config": config_current(&app, &domain_id).await?}));
    Ok(if had { body.into_response() } else { (StatusCode::CREATED, body).into_response() })
}

async fn config_write(app: &SharedApp, caller: &Caller, domain_id: &str, group: Option<&str>, option: Option<&str>, body: JsonBody) -> Result<Json<Value>> {
    app.enforce(caller, "identity:update_domain_config", json!({}))?;
    app.domain_get_checked(domain_id).await?;
    let mut config = config_body(body)?;
    if let (Some(g), Some(_)) = (group, option) {
        let mut wrapped = Map::new();
        wrapped.insert(g.to_string(), Value::Object(config));
        config = wrapped;
    }
    let options = config_to_options(&config)?;
    check_group_and_option(group, option)?;
    if let Some(g) = group {
        let only = |msg: String| invalid_config(msg);
        let group_options = config.get(g).and_then(Value::as_object);
        if config.len() != 1 || (option.is_some() && group_options.is_some_and(|o| o.len() != 1)) {
            return Err(only(match option {
                Some(o) => format!("Trying to update option {o} in group {g}, so that, and only that, option must be specified  in the config"),
                None => format!("Trying to update group {g}, so that, and only that, group must be specified in the config"),
            }));
        }
        let Some(group_options) = group_options else {
            let other = config.keys().next().cloned().unwrap_or_default();
            return Err(only(format!("request to update group {g}, but config provided contains group {other} instead")));
        };
        if let Some(o) = option {
            if !group_options.contains_key(o) {
                let other = group_options.keys().next().cloned().unwrap_or_default();
                return Err(only(format!("Trying to update option {o} in group {g}, but config provided contains option {other} instead")));
            }
        }
        let existing = mdb::domain_config_list(&app.db, domain_id, Some(g), option, false).await?.len()
            + mdb::domain_config_list(&app.db, domain_id, Some(g), option, true).await?.len();
        if existing == 0 {
            return Err(config_not_found(domain_id, what(Some(g), option)));
        }
    }
    mdb::domain_config_upsert(&app.db, domain_id, &options).await?;
    app.bump();
    Ok(Json(json!({"config": config_current(app, domain_id).await?})))
}

async fn config_update(State(app): State<SharedApp>, caller: Caller, Path(domain_id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    config_write(&app, &caller, &domain_id, None, None, body).await
}

async fn config_group_update(State(app): State<SharedApp>, caller: Caller, Path((domain_id, group)): Path<(String, String)>, body: JsonBody) -> Result<Json<Value>> {
    config_write(&app, &caller, &domain_id, Some(&group), None, body).await
}

async fn config_option_update(State(app): State<SharedApp>, caller: Caller, Path((domain_id, group, option)): Path<(String, String, String)>, body: JsonBody) -> Result<Json<Value>> {
    config_write(&app, &caller, &domain_id, Some(&group), Some(&option), body).await
}

async fn config_remove(app: &SharedApp, caller: &Caller, domain_id: &str, group: Option<&str>, option: Option<&str>) -> Result<StatusCode> {
    app.enforce(caller, "identity:delete_domain_config", json!({}))?;
    app.domain_get_checked(domain_id).await?;
    check_group_and_option(group, option)?;
    if let Some(g) = group {
        let existing = mdb::domain_config_list(&app.db, domain_id, Some(g), None, false).await?.len()
            + mdb::domain_config_list(&app.db, domain_id, Some(g), None, true).await?.len();
        if existing == 0 {
            return Err(config_not_found(domain_id, what(Some(g), None)));
        }
        if let Some(o) = option {
            let existing = mdb::domain_config_list(&app.db, domain_id, Some(g), Some(o), false).await?.len()
                + mdb::domain_config_list(&app.db, domain_id, Some(g), Some(o), true).await?.len();
            if existing == 0 {
                return Err(config_not_found(domain_id, what(Some(g), Some(o))));
            }
        }
    }
    mdb::domain_config_delete(&app.db, domain_id, group, option).await?;
    app.bump();
    Ok(StatusCode::NO_CONTENT)
}

async fn config_delete(State(app): State<SharedApp>, caller: Caller, Path(domain_id): Path<String>) -> Result<StatusCode> {
    config_remove(&app, &caller, &domain_id, None, None).await
}

async fn config_group_delete(State(app): State<SharedApp>, caller: Caller, Path((domain_id, group)): Path<(String, String)>) -> Result<StatusCode> {
    config_remove(&app, &caller, &domain_id, Some(&group), None).await
}

async fn config_option_delete(State(app): State<SharedApp>, caller: Caller, Path((domain_id, group, option)): Path<(String, String, String)>) -> Result<StatusCode> {
    config_remove(&app, &caller, &domain_id, Some(&group), Some(&option)).await
}

/// The defaults of the whitelisted options (upstream's `get_config_default`).
pub fn config_defaults(group: Option<&str>, option: Option<&str>) -> Result<Value> {
    check_group_and_option(group, option)?;
    let mut rows = Vec::new();
    for (g, opts) in whitelisted_defaults() {
        if group.is_some_and(|want| want != g) {
            continue;
        }
        for (o, v) in opts {
            if option.is_none_or(|want| want == o) {
                rows.push(DomainConfigOption { group: g.to_string(), option: o.to_string(), value: v, sensitive: false });
            }
        }
    }
    if let (Some(g), Some(o)) = (group, option) {
        if rows.is_empty() {
            return Err(invalid_config(format!("Reading the default for option {o} in group {g} is not supported")));
        }
    }
    Ok(options_to_config(&rows, option))
}

async fn config_default(State(app): State<SharedApp>, caller: Caller) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_domain_config_default", json!({}))?;
    Ok(Json(json!({"config": config_defaults(None, None)?})))
}

async fn config_group_default(State(app): State<SharedApp>, caller: Caller, Path(group): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_domain_config_default", json!({}))?;
    Ok(Json(json!({"config": config_defaults(Some(&group), None)?})))
}

async fn config_option_default(State(app): State<SharedApp>, caller: Caller, Path((group, option)): Path<(String, String)>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_domain_config_default", json!({}))?;
    Ok(Json(json!({"config": config_defaults(Some(&group), Some(&option))?})))
}

// ----------------------------------------------------------------------------- unified limits

const LIMIT_MAX: i64 = 0x7FFF_FFFF;
const FLAT_MODEL_DESCRIPTION: &str = "Limit enforcement and validation does not take project hierarchy into consideration.";

fn limit_value(body: &Map<String, Value>, key: &str) -> Result<Option<i64>> {
    let v = body.opt_i64(key)?;
    if let Some(n) = v {
        if n < -1 {
            return Err(KeystoneError::invalid_field(key, format!("{n} is less than the minimum of -1")));
        }
        if n > LIMIT_MAX {
            return Err(KeystoneError::invalid_field(key, format!("{n} is greater than the maximum of {LIMIT_MAX}")));
        }
    }
    Ok(v)
}

fn resource_name(body: &Map<String, Value>) -> Result<Option<String>> {
    let n = body.opt_str("resource_name", 255)?;
    if let Some(s) = &n {
        super::body::check_name("resource_name", s)?;
    }
    Ok(n)
}

fn registered_limit_view(base: &str, l: &RegisteredLimit) -> Value {
    json!({
        "id": l.id,
        "service_id": l.service_id,
        "region_id": l.region_id,
        "resource_name": l.resource_name,
        "default_limit": l.default_limit,
        "description": l.description,
        "links": links(base, &format!("registered_limits/{}", l.id)),
    })
}

fn limit_view(base: &str, l: &ProjectLimit) -> Value {
    json!({
        "id": l.id,
        "project_id": l.project_id,
        "domain_id": l.domain_id,
        "service_id": l.service_id,
        "region_id": l.region_id,
        "resource_name": l.resource_name,
        "resource_limit": l.resource_limit,
        "description": l.description,
        "links": links(base, &format!("limits/{}", l.id)),
    })
}

/// The service and region a limit names must exist (400 otherwise, as upstream's
/// `_assert_resource_exist`).
async fn check_service_region(app: &SharedApp, service_id: &str, region_id: Option<&str>, target: &str) -> Result<()> {
    if crate::db::catalog::service_get(&app.db, service_id).await?.is_none() {
        return Err(expecting("service_id", target));
    }
    if let Some(r) = region_id {
        if crate::db::catalog::region_get(&app.db, r).await?.is_none() {
            return Err(expecting("region_id", target));
        }
    }
    Ok(())
}

fn same_resource(a: (&str, Option<&str>, &str), b: (&str, Option<&str>, &str)) -> bool {
    a == b
}

async fn registered_limit_get_checked(app: &SharedApp, id: &str) -> Result<RegisteredLimit> {
    mdb::registered_limit_get(&app.db, id).await?.ok_or_else(|| KeystoneError::NotFoundMessage(format!("Could not find registered limit for {id}.")))
}

async fn registered_limit_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_registered_limits", json!({}))?;
    let base = super::base_url(&app, &headers);
    let items = mdb::registered_limit_list(&app.db)
        .await?
        .iter()
        .filter(|l| {
            matches_filter(Some(&l.service_id), "service_id", &query)
                && matches_filter(l.region_id.as_deref(), "region_id", &query)
                && matches_filter(Some(&l.resource_name), "resource_name", &query)
        })
        .map(|l| registered_limit_view(&base, l))
        .collect();
    Ok(Json(collection("registered_limits", items, self_href(&base, &uri))))
}

async fn registered_limit_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_registered_limits", json!({}))?;
    let items = match body.0.get("registered_limits") {
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        Some(Value::Array(_)) => return Err(KeystoneError::invalid_field("registered_limits", "[] is too short")),
        Some(other) => return Err(KeystoneError::invalid_field("registered_limits", format!("{other} is not of type 'array'"))),
        None => return Err(KeystoneError::invalid_field("registered_limits", "'registered_limits' is a required property")),
    };
    let existing = mdb::registered_limit_list(&app.db).await?;
    let mut new: Vec<RegisteredLimit> = Vec::new();
    for item in &items {
        let m = item.as_object().ok_or_else(|| KeystoneError::invalid_field("registered_limits", format!("{item} is not of type 'object'")))?;
        no_additional(m, &["service_id", "region_id", "resource_name", "default_limit", "description"])?;
        let service_id = m.req_str("service_id", 255)?;
        let resource_name = resource_name(m)?.ok_or_else(|| KeystoneError::invalid_field("resource_name", "'resource_name' is a required property"))?;
        let default_limit = limit_value(m, "default_limit")?.ok_or_else(|| KeystoneError::invalid_field("default_limit", "'default_limit' is a required property"))?;
        let region_id = m.nullable_str("region_id", 255)?.flatten();
        check_service_region(&app, &service_id, region_id.as_deref(), "registered_limit").await?;
        let key = (service_id.as_str(), region_id.as_deref(), resource_name.as_str());
        if existing.iter().chain(new.iter()).any(|l| same_resource((&l.service_id, l.region_id.as_deref(), &l.resource_name), key)) {
            return Err(KeystoneError::duplicate("registered_limit", "Duplicate entry"));
        }
        new.push(RegisteredLimit {
            id: common::ids::new_hex_id(),
            service_id: service_id.clone(),
            region_id: region_id.clone(),
            resource_name: resource_name.clone(),
            default_limit,
            description: m.nullable_str("description", 65535)?.flatten(),
        });
    }
    mdb::registered_limit_create_many(&app.db, &new).await?;
    app.bump();
    let base = super::base_url(&app, &headers);
    Ok((StatusCode::CREATED, Json(json!({"registered_limits": new.iter().map(|l| registered_limit_view(&base, l)).collect::<Vec<_>>()}))))
}

async fn registered_limit_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_registered_limit", json!({}))?;
    let l = registered_limit_get_checked(&app, &id).await?;
    Ok(Json(json!({"registered_limit": registered_limit_view(&super::base_url(&app, &headers), &l)})))
}

/// Registered limits with project limits under them can be neither changed nor deleted.
async fn registered_limit_unreferenced(app: &SharedApp, l: &RegisteredLimit) -> Result<()> {
    let key = (l.service_id.as_str(), l.region_id.as_deref(), l.resource_name.as_str());
    if mdb::limit_list(&app.db).await?.iter().any(|p| same_resource((&p.service_id, p.region_id.as_deref(), &p.resource_name), key)) {
        return Err(KeystoneError::Forbidden(format!(
            "Unable to update or delete registered limit {} because there are project limits associated with it.",
            l.id
        )));
    }
    Ok(())
}

async fn registered_limit_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:update_registered_limit", json!({}))?;
    let m = body.entity("registered_limit")?;
    no_additional(&m, &["id", "service_id", "region_id", "resource_name", "default_limit", "description"])?;
    matching_id(&m, &id)?;
    let service_id = m.opt_str("service_id", 255)?;
    let region_id = m.nullable_str("region_id", 255)?;
    let name = resource_name(&m)?;
    let default_limit = limit_value(&m, "default_limit")?;
    let description = m.nullable_str("description", 65535)?;
    let mut l = registered_limit_get_checked(&app, &id).await?;
    registered_limit_unreferenced(&app, &l).await?;
    let before = l.clone();
    if let Some(s) = service_id {
        l.service_id = s;
    }
    if let Some(r) = region_id {
        l.region_id = r;
    }
    if let Some(n) = name {
        l.resource_name = n;
    }
    if let Some(d) = default_limit {
        l.default_limit = d;
    }
    if let Some(d) = description {
        l.description = d;
    }
    check_service_region(&app, &l.service_id, l.region_id.as_deref(), "registered_limit").await?;
    let key = (l.service_id.as_str(), l.region_id.as_deref(), l.resource_name.as_str());
    let moved = (before.service_id.as_str(), before.region_id.as_deref(), before.resource_name.as_str()) != key;
    if moved && mdb::registered_limit_list(&app.db).await?.iter().any(|o| o.id != l.id && same_resource((&o.service_id, o.region_id.as_deref(), &o.resource_name), key)) {
        return Err(KeystoneError::duplicate("registered_limit", "Duplicate entry"));
    }
    mdb::registered_limit_update(&app.db, &l).await?;
    app.bump();
    Ok(Json(json!({"registered_limit": registered_limit_view(&super::base_url(&app, &headers), &l)})))
}

async fn registered_limit_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:delete_registered_limit", json!({}))?;
    let l = registered_limit_get_checked(&app, &id).await?;
    registered_limit_unreferenced(&app, &l).await?;
    mdb::registered_limit_delete(&app.db, &id).await?;
    app.bump();
    Ok(StatusCode::NO_CONTENT)
}

async fn limit_get_checked(app: &SharedApp, id: &str) -> Result<ProjectLimit> {
    mdb::limit_get(&app.db, id).await?.ok_or_else(|| KeystoneError::NotFoundMessage(format!("Could not find limit for {id}.")))
}

async fn limit_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_limits", json!({}))?;
    let base = super::base_url(&app, &headers);
    let roles: Vec<&str> = caller.token.roles.iter().map(|r| r.name.as_str()).collect();
    let superuser = caller.token.system || roles.contains(&"admin") || roles.contains(&"service");
    let domain_projects: Option<(String, Vec<String>)> = match (&caller.token.domain, superuser) {
        (Some((d, _)), false) => Some((d.clone(), crate::db::resource::project_list(&app.db, Some(d)).await?.into_iter().map(|p| p.id).collect())),
        _ => None,
    };
    let token_project = caller.token.project.as_ref().map(|p| p.id.clone());
    let items = mdb::limit_list(&app.db)
        .await?
        .iter()
        .filter(|l| {
            let visible = if superuser {
                true
            } else if let Some((d, projects)) = &domain_projects {
                match (&l.project_id, &l.domain_id) {
                    (Some(p), _) => projects.contains(p),
                    (None, Some(ld)) => ld == d,
                    _ => false,
                }
            } else {
                token_project.is_some() && l.project_id == token_project
            };
            visible
                && matches_filter(Some(&l.service_id), "service_id", &query)
                && matches_filter(l.region_id.as_deref(), "region_id", &query)
                && matches_filter(Some(&l.resource_name), "resource_name", &query)
                && matches_filter(l.project_id.as_deref(), "project_id", &query)
                && matches_filter(l.domain_id.as_deref(), "domain_id", &query)
        })
        .map(|l| limit_view(&base, l))
        .collect();
    Ok(Json(collection("limits", items, self_href(&base, &uri))))
}

async fn limit_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_limits", json!({}))?;
    let items = match body.0.get("limits") {
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        Some(Value::Array(_)) => return Err(KeystoneError::invalid_field("limits", "[] is too short")),
        Some(other) => return Err(KeystoneError::invalid_field("limits", format!("{other} is not of type 'array'"))),
        None => return Err(KeystoneError::invalid_field("limits", "'limits' is a required property")),
    };
    let registered = mdb::registered_limit_list(&app.db).await?;
    let existing = mdb::limit_list(&app.db).await?;
    let mut new: Vec<ProjectLimit> = Vec::new();
    for item in &items {
        let m = item.as_object().ok_or_else(|| KeystoneError::invalid_field("limits", format!("{item} is not of type 'object'")))?;
        no_additional(m, &["project_id", "domain_id", "service_id", "region_id", "resource_name", "resource_limit", "description"])?;
        let service_id = m.req_str("service_id", 255)?;
        let resource_name = resource_name(m)?.ok_or_else(|| KeystoneError::invalid_field("resource_name", "'resource_name' is a required property"))?;
        let resource_limit = limit_value(m, "resource_limit")?.ok_or_else(|| KeystoneError::invalid_field("resource_limit", "'resource_limit' is a required property"))?;
        let region_id = m.nullable_str("region_id", 255)?.flatten();
        let mut project_id = m.nullable_str("project_id", 64)?.flatten();
        let mut domain_id = m.nullable_str("domain_id", 64)?.flatten();
        if m.contains_key("project_id") == m.contains_key("domain_id") {
            return Err(KeystoneError::Validation(format!("Invalid input for field 'limits': {item} is valid under each of, or is not valid under any of, the given schemas (exactly one of 'project_id' or 'domain_id' is required)")));
        }
        check_service_region(&app, &service_id, region_id.as_deref(), "limit").await?;
        if let Some(p) = project_id.clone() {
            let proj = crate::db::resource::project_or_domain_get(&app.db, &p).await?.ok_or_else(|| expecting("project_id", "limit"))?;
            // A project acting as a domain gets a domain limit, as upstream.
            if proj.is_domain {
                domain_id = project_id.take();
            }
        } else if let Some(d) = &domain_id {
            crate::db::resource::domain_get(&app.db, d).await?.ok_or_else(|| expecting("domain_id", "limit"))?;
        }
        let key = (service_id.as_str(), region_id.as_deref(), resource_name.as_str());
        if !registered.iter().any(|r| same_resource((&r.service_id, r.region_id.as_deref(), &r.resource_name), key)) {
            return Err(KeystoneError::Forbidden("Unable to create a limit that has no corresponding registered limit.".into()));
        }
        let clash = existing.iter().chain(new.iter()).any(|l| {
            same_resource((&l.service_id, l.region_id.as_deref(), &l.resource_name), key) && l.project_id == project_id && l.domain_id == domain_id
        });
        if clash {
            return Err(KeystoneError::duplicate("limit", "Duplicate entry"));
        }
        new.push(ProjectLimit {
            id: common::ids::new_hex_id(),
            project_id,
            domain_id,
            service_id: service_id.clone(),
            region_id: region_id.clone(),
            resource_name: resource_name.clone(),
            resource_limit,
            description: m.nullable_str("description", 65535)?.flatten(),
        });
    }
    mdb::limit_create_many(&app.db, &new).await?;
    app.bump();
    let base = super::base_url(&app, &headers);
    Ok((StatusCode::CREATED, Json(json!({"limits": new.iter().map(|l| limit_view(&base, l)).collect::<Vec<_>>()}))))
}

async fn limit_model(State(app): State<SharedApp>, caller: Caller) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_limit_model", json!({}))?;
    Ok(Json(json!({"model": {"name": "flat", "description": FLAT_MODEL_DESCRIPTION}})))
}

async fn limit_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let l = mdb::limit_get(&app.db, &id).await?;
    // The target carries the limit with its project (or domain), as upstream's
    // `_build_limit_enforcement_target`.
    let mut target = json!({});
    if let Some(l) = &l {
        let mut limit = limit_view("", l);
        if let Some(p) = &l.project_id {
            if let Some(p) = crate::db::resource::project_get(&app.db, p).await? {
                limit["project"] = json!({"id": p.id, "domain_id": p.domain_id});
            }
        } else if let Some(d) = &l.domain_id {
            limit["domain"] = json!({"id": d});
        }
        target = json!({"target": {"limit": limit}});
    }
    app.enforce(&caller, "identity:get_limit", target)?;
    let l = l.ok_or_else(|| KeystoneError::NotFoundMessage(format!("Could not find limit for {id}.")))?;
    Ok(Json(json!({"limit": limit_view(&super::base_url(&app, &headers), &l)})))
}

async fn limit_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:update_limit", json!({}))?;
    let m = body.entity("limit")?;
    no_additional(&m, &["id", "resource_limit", "description"])?;
    matching_id(&m, &id)?;
    let resource_limit = limit_value(&m, "resource_limit")?;
    let description = m.nullable_str("description", 65535)?;
    let mut l = limit_get_checked(&app, &id).await?;
    if let Some(r) = resource_limit {
        l.resource_limit = r;
    }
    if let Some(Some(d)) = description {
        l.description = Some(d);
    }
    mdb::limit_update(&app.db, &l).await?;
    app.bump();
    Ok(Json(json!({"limit": limit_view(&super::base_url(&app, &headers), &l)})))
}

async fn limit_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:delete_limit", json!({}))?;
    if mdb::limit_delete(&app.db, &id).await? == 0 {
        return Err(KeystoneError::NotFoundMessage(format!("Could not find limit for {id}.")));
    }
    app.bump();
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------- OAuth1 consumers

fn consumer_view(base: &str, c: &Consumer, with_secret: bool) -> Value {
    let mut v = c.extra.clone();
    v.insert("id".into(), json!(c.id));
    v.insert("description".into(), json!(c.description));
    if with_secret {
        v.insert("secret".into(), json!(c.secret));
    }
    v.insert("links".into(), links(base, &format!("OS-OAUTH1/consumers/{}", c.id)));
    Value::Object(v)
}

async fn consumer_get_checked(app: &SharedApp, id: &str) -> Result<Consumer> {
    mdb::consumer_get(&app.db, id).await?.ok_or_else(|| KeystoneError::NotFoundMessage("Consumer not found".into()))
}

async fn consumer_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_consumers", json!({}))?;
    let base = super::base_url(&app, &headers);
    let items = mdb::consumer_list(&app.db).await?.iter().map(|c| consumer_view(&base, c, false)).collect();
    Ok(Json(collection("consumers", items, self_href(&base, &uri))))
}

async fn consumer_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    app.enforce(&caller, "identity:create_consumer", json!({}))?;
    let m = match body.0.get("consumer") {
        Some(Value::Object(m)) => m.clone(),
        None => Map::new(),
        Some(_) => return Err(KeystoneError::invalid_field("consumer", "must be an object")),
    };
    let c = Consumer {
        id: common::ids::new_hex_id(),
        description: m.nullable_str("description", 65535)?.flatten(),
        secret: common::ids::new_hex_id(),
        extra: extra_from(&m, &["id", "description", "secret", "links"]),
    };
    mdb::consumer_create(&app.db, &c).await?;
    app.bump();
    Ok((StatusCode::CREATED, Json(json!({"consumer": consumer_view(&super::base_url(&app, &headers), &c, true)}))))
}

async fn consumer_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:get_consumer", json!({}))?;
    let c = consumer_get_checked(&app, &id).await?;
    Ok(Json(json!({"consumer": consumer_view(&super::base_url(&app, &headers), &c, false)})))
}

async fn consumer_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:update_consumer", json!({}))?;
    let m = body.entity("consumer")?;
    not_empty("consumer", &m)?;
    if m.contains_key("secret") {
        return Err(KeystoneError::invalid_field("consumer", "the secret of a consumer cannot be updated"));
    }
    let description = m.nullable_str("description", 65535)?;
    matching_id(&m, &id)?;
    let mut c = consumer_get_checked(&app, &id).await?;
    if let Some(d) = description {
        c.description = d;
    }
    c.extra.extend(extra_from(&m, &["id", "description", "secret", "links"]));
    mdb::consumer_update(&app.db, &c).await?;
    app.bump();
    Ok(Json(json!({"consumer": consumer_view(&super::base_url(&app, &headers), &c, false)})))
}

async fn consumer_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    app.enforce(&caller, "identity:delete_consumer", json!({}))?;
    if mdb::consumer_delete(&app.db, &id).await? == 0 {
        return Err(KeystoneError::NotFoundMessage("Consumer not found".into()));
    }
    app.bump();
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_config_groups_and_options_are_whitelisted() {
        assert!(check_group_and_option(Some("ldap"), Some("url")).is_ok());
        assert!(check_group_and_option(Some("ldap"), Some("password")).is_ok());
        assert!(check_group_and_option(Some("identity"), Some("driver")).is_ok());
        let e = check_group_and_option(Some("token"), None).unwrap_err();
        assert_eq!(e.to_string(), "Invalid domain specific configuration: Group token is not supported for domain specific configurations.");
        assert!(check_group_and_option(Some("ldap"), Some("nope")).is_err());
    }

    #[test]
    fn config_bodies_mark_sensitive_options() {
        let config = json!({"ldap": {"url": "ldap://x", "password": "p"}, "identity": {"driver": "ldap"}});
        let rows = config_to_options(config.as_object().unwrap()).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().any(|r| r.option == "password" && r.sensitive));
        assert!(rows.iter().any(|r| r.option == "url" && !r.sensitive));
        assert!(config_to_options(&Map::new()).is_err());
        assert!(config_to_options(json!({"ldap": {}}).as_object().unwrap()).is_err());
    }

    #[test]
    fn config_defaults_render_like_upstream() {
        let all = config_defaults(None, None).unwrap();
        assert_eq!(all["identity"]["driver"], json!("sql"));
        assert_eq!(all["ldap"]["url"], json!("ldap://localhost"));
        assert!(all["ldap"].get("password").is_none());
        assert_eq!(config_defaults(Some("ldap"), Some("user_tree_dn")).unwrap(), json!({"user_tree_dn": null}));
        assert!(config_defaults(Some("ldap"), Some("password")).is_err());
    }
}
