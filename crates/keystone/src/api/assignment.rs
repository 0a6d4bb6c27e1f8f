//! `/v3/roles`, implied roles, grants on projects/domains/system (with OS-INHERIT) and
//! `/v3/role_assignments` (keystone/api/roles.py, role_inferences.py, role_assignments.py,
//! os_inherit.py, projects.py and domains.py grant resources).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::body::{check_name, Fields, JsonBody};
use super::{links, matches_filter, QueryMap};
use crate::app::{query_bool, Caller, SharedApp};
use crate::db::assignment::{self as adb, Assignment, Role, SYSTEM_TARGET};
use crate::db::tokens::RevocationEvent;
use crate::db::{identity as idb, resource as rdb};
use crate::error::{KeystoneError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v3/roles", get(role_list).post(role_create))
        .route("/v3/roles/{role_id}", get(role_show).patch(role_update).delete(role_delete))
        .route("/v3/roles/{prior}/implies", get(implied_list))
        .route("/v3/roles/{prior}/implies/{implied}", get(implied_show).head(implied_check).put(implied_create).delete(implied_delete))
        .route("/v3/role_inferences", get(role_inferences))
        .route("/v3/role_assignments", get(role_assignments))
        .route("/v3/{target_kind}/{target_id}/{actor_kind}/{actor_id}/roles", get(grant_list))
        .route("/v3/{target_kind}/{target_id}/{actor_kind}/{actor_id}/roles/{role_id}", get(grant_check).head(grant_check).put(grant_create).delete(grant_delete))
        .route("/v3/system/{actor_kind}/{actor_id}/roles", get(system_grant_list))
        .route("/v3/system/{actor_kind}/{actor_id}/roles/{role_id}", get(system_grant_check).head(system_grant_check).put(system_grant_create).delete(system_grant_delete))
        .route("/v3/OS-INHERIT/{target_kind}/{target_id}/{actor_kind}/{actor_id}/roles/inherited_to_projects", get(inherited_list))
        .route(
            "/v3/OS-INHERIT/{target_kind}/{target_id}/{actor_kind}/{actor_id}/roles/{role_id}/inherited_to_projects",
            get(inherited_check).head(inherited_check).put(inherited_create).delete(inherited_delete),
        )
}

pub fn role_view(base: &str, r: &Role) -> Value {
    let mut v = Map::new();
    for (k, x) in &r.extra {
        v.insert(k.clone(), x.clone());
    }
    v.insert("id".into(), json!(r.id));
    v.insert("name".into(), json!(r.name));
    v.insert("domain_id".into(), json!(r.domain_id));
    v.insert("description".into(), json!(r.description));
    v.insert("options".into(), Value::Object(r.options.clone()));
    v.insert("links".into(), links(base, &format!("roles/{}", r.id)));
    Value::Object(v)
}

fn role_target(r: Option<&Role>, id: &str) -> Value {
    json!({"target": {"role": {"id": id, "domain_id": r.and_then(|r| r.domain_id.clone()), "name": r.map(|r| r.name.clone())}}})
}

async fn role_checked(app: &SharedApp, id: &str) -> Result<Role> {
    adb::role_get(&app.db, id).await?.ok_or_else(|| KeystoneError::not_found("role", id))
}

// ------------------------------------------------------------------------------------- roles

async fn role_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    let domain = query.get("domain_id").cloned();
    let action = if domain.is_some() { "identity:list_domain_roles" } else { "identity:list_roles" };
    app.enforce(&caller, action, super::domain_filter_target(domain.as_deref()))?;
    let base = super::base_url(&app, &headers);
    let out = adb::role_list_all(&app.db)
        .await?
        .iter()
        .filter(|r| r.domain_id == domain)
        .filter(|r| matches_filter(Some(&r.name), "name", &query))
        .map(|r| role_view(&base, r))
        .collect();
    Ok(Json(super::collection("roles", out, super::self_href(&base, &uri))))
}

async fn role_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let r = adb::role_get(&app.db, &id).await?;
    let action = if r.as_ref().is_some_and(|r| r.domain_id.is_some()) { "identity:get_domain_role" } else { "identity:get_role" };
    app.enforce(&caller, action, role_target(r.as_ref(), &id))?;
    let r = r.ok_or_else(|| KeystoneError::not_found("role", &id))?;
    Ok(Json(json!({"role": role_view(&super::base_url(&app, &headers), &r)})))
}

async fn role_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, body: JsonBody) -> Result<(StatusCode, Json<Value>)> {
    let body = body.entity("role")?;
    let name = body.req_str("name", 255)?;
    check_name("name", &name)?;
    let domain_id = body.nullable_str("domain_id", 64)?.flatten();
    let action = if domain_id.is_some() { "identity:create_domain_role" } else { "identity:create_role" };
    app.enforce(&caller, action, json!({"target": {"role": {"domain_id": domain_id, "name": name}}}))?;
    if let Some(d) = &domain_id {
        app.domain_get_checked(d).await?;
    }
    if adb::role_get_by_name(&app.db, &name, domain_id.as_deref()).await?.is_some() {
        return Err(KeystoneError::duplicate("role", format!("Duplicate entry found with name {name}")));
    }
    let options = match body.get("options") {
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(KeystoneError::invalid_field("options", "must be an object")),
        None => Map::new(),
    };
    let r = Role {
        id: common::ids::new_hex_id(),
        name,
        domain_id,
        description: body.nullable_str("description", 255)?.flatten(),
        options,
        extra: body.iter().filter(|(k, _)| !["id", "name", "domain_id", "description", "options", "links"].contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    adb::role_create(&app.db, &r).await?;
    app.bump();
    Ok((StatusCode::CREATED, Json(json!({"role": role_view(&super::base_url(&app, &headers), &r)}))))
}

async fn role_update(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(id): Path<String>, body: JsonBody) -> Result<Json<Value>> {
    let body = body.entity("role")?;
    let r = adb::role_get(&app.db, &id).await?;
    let action = if r.as_ref().is_some_and(|r| r.domain_id.is_some()) { "identity:update_domain_role" } else { "identity:update_role" };
    app.enforce(&caller, action, role_target(r.as_ref(), &id))?;
    let mut r = r.ok_or_else(|| KeystoneError::not_found("role", &id))?;
    if let Some(n) = body.opt_str("name", 255)? {
        check_name("name", &n)?;
        if n != r.name && adb::role_get_by_name(&app.db, &n, r.domain_id.as_deref()).await?.is_some() {
            return Err(KeystoneError::duplicate("role", format!("Duplicate entry found with name {n}")));
        }
        r.name = n;
    }
    if body.get("domain_id").is_some_and(|d| d.as_str() != r.domain_id.as_deref()) {
        return Err(KeystoneError::Validation("Update of `domain_id` is not allowed.".into()));
    }
    if let Some(d) = body.nullable_str("description", 255)? {
        r.description = d;
    }
    if let Some(Value::Object(o)) = body.get("options") {
        for (k, v) in o {
            r.options.insert(k.clone(), v.clone());
        }
    }
    adb::role_update(&app.db, &r).await?;
    app.bump();
    Ok(Json(json!({"role": role_view(&super::base_url(&app, &headers), &r)})))
}

async fn role_delete(State(app): State<SharedApp>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode> {
    let r = adb::role_get(&app.db, &id).await?;
    let action = if r.as_ref().is_some_and(|r| r.domain_id.is_some()) { "identity:delete_domain_role" } else { "identity:delete_role" };
    app.enforce(&caller, action, role_target(r.as_ref(), &id))?;
    let r = r.ok_or_else(|| KeystoneError::not_found("role", &id))?;
    if r.options.get("immutable").and_then(Value::as_bool) == Some(true) {
        return Err(KeystoneError::Forbidden(format!("Role {} is immutable and cannot be deleted.", r.id)));
    }
    adb::role_delete(&app.db, &r.id).await?;
    app.revoke(RevocationEvent { role_id: Some(r.id), ..Default::default() }).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----------------------------------------------------------------------------- implied roles

fn role_brief(base: &str, r: &Role) -> Value {
    json!({"id": r.id, "name": r.name, "links": links(base, &format!("roles/{}", r.id))})
}

async fn implied_pair(app: &SharedApp, caller: &Caller, prior: &str, implied: &str, action: &str) -> Result<(Role, Role)> {
    app.enforce(caller, action, json!({"prior_role_id": prior, "implied_role_id": implied}))?;
    let p = role_checked(app, prior).await?;
    let i = role_checked(app, implied).await?;
    Ok((p, i))
}

async fn implied_create(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path((prior, implied)): Path<(String, String)>) -> Result<(StatusCode, Json<Value>)> {
    let (p, i) = implied_pair(&app, &caller, &prior, &implied, "identity:create_implied_role").await?;
    // Upstream's `prohibited_implied_role` default: nothing may imply admin.
    if i.name == "admin" {
        return Err(KeystoneError::Forbidden(format!("{} may not be an implied role.", i.name)));
    }
    if p.id == i.id {
        return Err(KeystoneError::Forbidden("A role cannot imply itself.".into()));
    }
    let all = adb::implied_role_list_all(&app.db).await?;
    // Refuse cycles: the prior must not be reachable from the implied role.
    let mut frontier = vec![i.id.clone()];
    let mut seen = std::collections::HashSet::new();
    while let Some(cur) = frontier.pop() {
        if cur == p.id {
            return Err(KeystoneError::Forbidden(format!("Role {} implies {} and would create a cycle.", i.id, p.id)));
        }
        if seen.insert(cur.clone()) {
            frontier.extend(all.iter().filter(|(a, _)| *a == cur).map(|(_, b)| b.clone()));
        }
    }
    if !all.contains(&(p.id.clone(), i.id.clone())) {
        adb::implied_role_create(&app.db, &p.id, &i.id).await?;
    }
    app.bump();
    let base = super::base_url(&app, &headers);
    Ok((StatusCode::CREATED, Json(json!({"role_inference": {"prior_role": role_brief(&base, &p), "implies": role_brief(&base, &i)}, "links": links(&base, &format!("roles/{}/implies/{}", p.id, i.id))}))))
}

async fn implied_show(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path((prior, implied)): Path<(String, String)>) -> Result<Json<Value>> {
    let (p, i) = implied_pair(&app, &caller, &prior, &implied, "identity:get_implied_role").await?;
    if !adb::implied_role_list_all(&app.db).await?.contains(&(p.id.clone(), i.id.clone())) {
        return Err(KeystoneError::NotFoundMessage(format!("{} is not an implied role of {}.", i.id, p.id)));
    }
    let base = super::base_url(&app, &headers);
    Ok(Json(json!({"role_inference": {"prior_role": role_brief(&base, &p), "implies": role_brief(&base, &i)}, "links": links(&base, &format!("roles/{}/implies/{}", p.id, i.id))})))
}

async fn implied_check(State(app): State<SharedApp>, caller: Caller, Path((prior, implied)): Path<(String, String)>) -> Result<StatusCode> {
    let (p, i) = implied_pair(&app, &caller, &prior, &implied, "identity:check_implied_role").await?;
    if adb::implied_role_list_all(&app.db).await?.contains(&(p.id, i.id)) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(KeystoneError::NotFoundMessage("Implied role not found.".into()))
    }
}

async fn implied_delete(State(app): State<SharedApp>, caller: Caller, Path((prior, implied)): Path<(String, String)>) -> Result<StatusCode> {
    let (p, i) = implied_pair(&app, &caller, &prior, &implied, "identity:delete_implied_role").await?;
    if adb::implied_role_delete(&app.db, &p.id, &i.id).await? == 0 {
        return Err(KeystoneError::NotFoundMessage(format!("{} is not an implied role of {}.", i.id, p.id)));
    }
    app.bump();
    Ok(StatusCode::NO_CONTENT)
}

async fn implied_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, Path(prior): Path<String>) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_implied_roles", json!({"prior_role_id": prior}))?;
    let p = role_checked(&app, &prior).await?;
    let base = super::base_url(&app, &headers);
    let roles: HashMap<String, Role> = adb::role_list_all(&app.db).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let implies: Vec<Value> = adb::implied_role_list_all(&app.db)
        .await?
        .iter()
        .filter(|(a, _)| *a == p.id)
        .filter_map(|(_, b)| roles.get(b))
        .map(|r| role_brief(&base, r))
        .collect();
    Ok(Json(json!({"role_inference": {"prior_role": role_brief(&base, &p), "implies": implies}, "links": links(&base, &format!("roles/{}/implies", p.id))})))
}

async fn role_inferences(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap) -> Result<Json<Value>> {
    app.enforce(&caller, "identity:list_role_inference_rules", json!({}))?;
    let base = super::base_url(&app, &headers);
    let roles: HashMap<String, Role> = adb::role_list_all(&app.db).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let mut by_prior: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (a, b) in adb::implied_role_list_all(&app.db).await? {
        if let Some(r) = roles.get(&b) {
            by_prior.entry(a).or_default().push(role_brief(&base, r));
        }
    }
    let out: Vec<Value> = by_prior
        .into_iter()
        .filter_map(|(p, implies)| roles.get(&p).map(|pr| json!({"prior_role": role_brief(&base, pr), "implies": implies})))
        .collect();
    Ok(Json(json!({"role_inferences": out, "links": {"self": format!("{base}/v3/role_inferences"), "previous": null, "next": null}})))
}

// ------------------------------------------------------------------------------------ grants

/// The pieces of a grant URL, resolved and checked.
struct Grant {
    assignment: Assignment,
    target: Value,
    user_ids: Vec<String>,
    project_scope: Option<String>,
}

async fn resolve_grant(app: &SharedApp, target_kind: &str, target_id: &str, actor_kind: &str, actor_id: &str, role_id: Option<&str>, inherited: bool) -> Result<Grant> {
    let (kind_target, target_json, project_scope) = match target_kind {
        "projects" => {
            let p = rdb::project_get(&app.db, target_id).await?;
            let dom = p.as_ref().map(|p| p.domain_id.clone());
            ("Project", json!({"project": {"id": target_id, "domain_id": dom}}), Some(target_id.to_string()))
        }
        "domains" => ("Domain", json!({"domain": {"id": target_id}}), None),
        "system" => ("System", json!({"system": "all"}), None),
        other => return Err(KeystoneError::NotFoundMessage(format!("The resource could not be found: /v3/{other}"))),
    };
    let (kind_actor, actor_json, user_ids) = match actor_kind {
        "users" => {
            let u = idb::user_get(&app.db, actor_id).await?;
            ("User", json!({"id": actor_id, "domain_id": u.as_ref().map(|u| u.domain_id.clone())}), vec![actor_id.to_string()])
        }
        "groups" => {
            let g = idb::group_get(&app.db, actor_id).await?;
            let members = idb::user_list_in_group(&app.db, actor_id).await?.into_iter().map(|u| u.id).collect();
            ("Group", json!({"id": actor_id, "domain_id": g.as_ref().map(|g| g.domain_id.clone())}), members)
        }
        other => return Err(KeystoneError::NotFoundMessage(format!("The resource could not be found: {other}"))),
    };
    let role = match role_id {
        Some(r) => adb::role_get(&app.db, r).await?,
        None => None,
    };
    let mut target = target_json;
    target[if kind_actor == "User" { "user" } else { "group" }] = actor_json;
    if let Some(r) = &role {
        target["role"] = json!({"id": r.id, "name": r.name, "domain_id": r.domain_id});
    }
    Ok(Grant {
        assignment: Assignment {
            kind: format!("{kind_actor}{kind_target}"),
            actor_id: actor_id.to_string(),
            target_id: if kind_target == "System" { SYSTEM_TARGET.to_string() } else { target_id.to_string() },
            role_id: role_id.unwrap_or_default().to_string(),
            inherited,
        },
        target: json!({"target": target}),
        user_ids,
        project_scope,
    })
}

async fn check_grant_parts(app: &SharedApp, g: &Grant, target_kind: &str, target_id: &str, actor_kind: &str, actor_id: &str, role_id: Option<&str>) -> Result<()> {
    match target_kind {
        "projects" => {
            app.project_get_checked(target_id).await?;
        }
        "domains" => {
            app.domain_get_checked(target_id).await?;
        }
        _ => {}
    }
    if actor_kind == "users" {
        app.user_get_checked(actor_id).await?;
    } else {
        app.group_get_checked(actor_id).await?;
    }
    if let Some(r) = role_id {
        let role = role_checked(app, r).await?;
        // A domain-specific role may only be granted within its own domain.
        if let Some(rd) = &role.domain_id {
            let target_domain = match target_kind {
                "projects" => rdb::project_get(&app.db, target_id).await?.map(|p| p.domain_id),
                "domains" => Some(target_id.to_string()),
                _ => None,
            };
            if target_domain.as_deref() != Some(rd.as_str()) {
                return Err(KeystoneError::Forbidden(format!("Cannot grant domain-specific role {} outside its domain {rd}.", role.id)));
            }
        }
    }
    let _ = g;
    Ok(())
}

async fn grant_do(app: &SharedApp, caller: &Caller, path: &GrantPath<'_>, role_id: &str, inherited: bool, op: GrantOp) -> Result<StatusCode> {
    let GrantPath { target_kind, target_id, actor_kind, actor_id } = *path;
    let g = resolve_grant(app, target_kind, target_id, actor_kind, actor_id, Some(role_id), inherited).await?;
    let action = match op {
        GrantOp::Create => "identity:create_grant",
        GrantOp::Check => "identity:check_grant",
        GrantOp::Delete => "identity:revoke_grant",
    };
    app.enforce(caller, action, g.target.clone())?;
    check_grant_parts(app, &g, target_kind, target_id, actor_kind, actor_id, Some(role_id)).await?;
    apply_grant(app, &g, op).await
}

/// Creates, checks or deletes a resolved grant; deleting revokes the affected users' tokens
/// (on the project for a direct project grant, everywhere otherwise).
async fn apply_grant(app: &SharedApp, g: &Grant, op: GrantOp) -> Result<StatusCode> {
    let a = &g.assignment;
    let missing = || {
        KeystoneError::NotFoundMessage(format!(
            "Could not find role assignment with role: {}, user or group: {}, project, domain, or system: {}.",
            a.role_id, a.actor_id, a.target_id
        ))
    };
    match op {
        GrantOp::Create => {
            adb::assignment_create(&app.db, a).await?;
            app.bump();
        }
        GrantOp::Check => {
            if !adb::assignment_exists(&app.db, a).await? {
                return Err(missing());
            }
        }
        GrantOp::Delete => {
            if adb::assignment_delete(&app.db, a).await? == 0 {
                return Err(missing());
            }
            let project_id = if a.inherited { None } else { g.project_scope.clone() };
            for u in &g.user_ids {
                app.revoke(RevocationEvent { user_id: Some(u.clone()), project_id: project_id.clone(), ..Default::default() }).await?;
            }
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The four parts of a grant URL: `/v3/{target_kind}/{target_id}/{actor_kind}/{actor_id}/roles`.
#[derive(Clone, Copy)]
struct GrantPath<'a> {
    target_kind: &'a str,
    target_id: &'a str,
    actor_kind: &'a str,
    actor_id: &'a str,
}

impl<'a> GrantPath<'a> {
    fn of(p: &'a (String, String, String, String)) -> Self {
        GrantPath { target_kind: &p.0, target_id: &p.1, actor_kind: &p.2, actor_id: &p.3 }
    }
}

#[derive(Clone, Copy)]
enum GrantOp {
    Create,
    Check,
    Delete,
}

async fn grant_listing(app: &SharedApp, caller: &Caller, (headers, uri): (&HeaderMap, &Uri), path: &GrantPath<'_>, inherited: bool) -> Result<Json<Value>> {
    let GrantPath { target_kind, target_id, actor_kind, actor_id } = *path;
    let g = resolve_grant(app, target_kind, target_id, actor_kind, actor_id, None, inherited).await?;
    app.enforce(caller, "identity:list_grants", g.target.clone())?;
    check_grant_parts(app, &g, target_kind, target_id, actor_kind, actor_id, None).await?;
    let base = super::base_url(app, headers);
    let roles: HashMap<String, Role> = adb::role_list_all(&app.db).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let out: Vec<Value> = adb::assignment_list_for_actors(&app.db, &[actor_id.to_string()])
        .await?
        .iter()
        .filter(|a| a.kind == g.assignment.kind && a.target_id == g.assignment.target_id && a.inherited == inherited)
        .filter_map(|a| roles.get(&a.role_id))
        .map(|r| role_view(&base, r))
        .collect();
    Ok(Json(super::collection("roles", out, super::self_href(&base, uri))))
}

async fn grant_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(p): Path<(String, String, String, String)>) -> Result<Json<Value>> {
    grant_listing(&app, &caller, (&headers, &uri), &GrantPath::of(&p), false).await
}
async fn grant_check(State(app): State<SharedApp>, caller: Caller, Path((tk, tid, ak, aid, rid)): Path<(String, String, String, String, String)>) -> Result<StatusCode> {
    let p = (tk, tid, ak, aid);
    grant_do(&app, &caller, &GrantPath::of(&p), &rid, false, GrantOp::Check).await
}
async fn grant_create(State(app): State<SharedApp>, caller: Caller, Path((tk, tid, ak, aid, rid)): Path<(String, String, String, String, String)>) -> Result<StatusCode> {
    let p = (tk, tid, ak, aid);
    grant_do(&app, &caller, &GrantPath::of(&p), &rid, false, GrantOp::Create).await
}
async fn grant_delete(State(app): State<SharedApp>, caller: Caller, Path((tk, tid, ak, aid, rid)): Path<(String, String, String, String, String)>) -> Result<StatusCode> {
    let p = (tk, tid, ak, aid);
    grant_do(&app, &caller, &GrantPath::of(&p), &rid, false, GrantOp::Delete).await
}
async fn system_grant_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path((ak, aid)): Path<(String, String)>) -> Result<Json<Value>> {
    let action = if ak == "users" { "identity:list_system_grants_for_user" } else { "identity:list_system_grants_for_group" };
    app.enforce(&caller, action, json!({}))?;
    let path = GrantPath { target_kind: "system", target_id: SYSTEM_TARGET, actor_kind: &ak, actor_id: &aid };
    grant_listing(&app, &caller, (&headers, &uri), &path, false).await
}
async fn system_grant_op(app: &SharedApp, caller: &Caller, ak: &str, aid: &str, rid: &str, op: GrantOp) -> Result<StatusCode> {
    let actor = if ak == "users" { "user" } else { "group" };
    let action = match op {
        GrantOp::Create => format!("identity:create_system_grant_for_{actor}"),
        GrantOp::Check => format!("identity:check_system_grant_for_{actor}"),
        GrantOp::Delete => format!("identity:revoke_system_grant_for_{actor}"),
    };
    app.enforce(caller, &action, json!({}))?;
    let g = resolve_grant(app, "system", SYSTEM_TARGET, ak, aid, Some(rid), false).await?;
    check_grant_parts(app, &g, "system", SYSTEM_TARGET, ak, aid, Some(rid)).await?;
    apply_grant(app, &g, op).await
}
async fn system_grant_check(State(app): State<SharedApp>, caller: Caller, Path((ak, aid, rid)): Path<(String, String, String)>) -> Result<StatusCode> {
    system_grant_op(&app, &caller, &ak, &aid, &rid, GrantOp::Check).await
}
async fn system_grant_create(State(app): State<SharedApp>, caller: Caller, Path((ak, aid, rid)): Path<(String, String, String)>) -> Result<StatusCode> {
    system_grant_op(&app, &caller, &ak, &aid, &rid, GrantOp::Create).await
}
async fn system_grant_delete(State(app): State<SharedApp>, caller: Caller, Path((ak, aid, rid)): Path<(String, String, String)>) -> Result<StatusCode> {
    system_grant_op(&app, &caller, &ak, &aid, &rid, GrantOp::Delete).await
}
async fn inherited_list(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, Path(p): Path<(String, String, String, String)>) -> Result<Json<Value>> {
    grant_listing(&app, &caller, (&headers, &uri), &GrantPath::of(&p), true).await
}
async fn inherited_check(State(app): State<SharedApp>, caller: Caller, Path((tk, tid, ak, aid, rid)): Path<(String, String, String, String, String)>) -> Result<StatusCode> {
    let p = (tk, tid, ak, aid);
    grant_do(&app, &caller, &GrantPath::of(&p), &rid, true, GrantOp::Check).await
}
async fn inherited_create(State(app): State<SharedApp>, caller: Caller, Path((tk, tid, ak, aid, rid)): Path<(String, String, String, String, String)>) -> Result<StatusCode> {
    let p = (tk, tid, ak, aid);
    grant_do(&app, &caller, &GrantPath::of(&p), &rid, true, GrantOp::Create).await
}
async fn inherited_delete(State(app): State<SharedApp>, caller: Caller, Path((tk, tid, ak, aid, rid)): Path<(String, String, String, String, String)>) -> Result<StatusCode> {
    let p = (tk, tid, ak, aid);
    grant_do(&app, &caller, &GrantPath::of(&p), &rid, true, GrantOp::Delete).await
}

// -------------------------------------------------------------------------- role_assignments

/// One row of the listing before rendering.
#[derive(Clone)]
struct Entry {
    role_id: String,
    user_id: Option<String>,
    group_id: Option<String>,
    /// "project" | "domain" | "system"
    scope_kind: &'static str,
    scope_id: String,
    inherited: bool,
    /// For effective group expansion: the group the user got it through.
    via_group: Option<String>,
    /// For implied roles: the prior role.
    prior_role: Option<String>,
    /// The original grant's target (for inherited grants expanded to projects).
    source_scope: Option<(&'static str, String)>,
}

async fn role_assignments(State(app): State<SharedApp>, caller: Caller, headers: HeaderMap, uri: Uri, query: QueryMap) -> Result<Json<Value>> {
    let q = |k: &str| query.get(k).cloned();
    let effective = query.contains_key("effective");
    let include_names = query.get("include_names").is_some_and(|v| query_bool(v));
    let include_subtree = query.get("include_subtree").is_some_and(|v| query_bool(v));
    let (f_user, f_group, f_role) = (q("user.id"), q("group.id"), q("role.id"));
    let (f_project, f_domain) = (q("scope.project.id"), q("scope.domain.id"));
    let f_system = q("scope.system");
    let f_inherited = q("scope.OS-INHERIT:inherited_to");
    if effective && f_group.is_some() {
        return Err(KeystoneError::Validation("Specifying group.id is not permitted with effective.".into()));
    }
    if include_subtree && f_project.is_none() {
        return Err(KeystoneError::Validation("scope.project.id must be specified if include_subtree is also specified".into()));
    }
    let (action, target) = if include_subtree {
        ("identity:list_role_assignments_for_tree", json!({"target": {"project": {"id": f_project}}, "project_id": f_project}))
    } else {
        ("identity:list_role_assignments", super::domain_filter_target(f_domain.as_deref()))
    };
    app.enforce(&caller, action, target)?;

    let raw = adb::assignment_list_all(&app.db).await?;
    let mut entries: Vec<Entry> = raw
        .iter()
        .map(|a| Entry {
            role_id: a.role_id.clone(),
            user_id: a.kind.starts_with("User").then(|| a.actor_id.clone()),
            group_id: a.kind.starts_with("Group").then(|| a.actor_id.clone()),
            scope_kind: if a.kind.ends_with("Project") { "project" } else if a.kind.ends_with("Domain") { "domain" } else { "system" },
            scope_id: a.target_id.clone(),
            inherited: a.inherited,
            via_group: None,
            prior_role: None,
            source_scope: None,
        })
        .collect();

    if effective {
        // Groups become their members.
        let mut expanded = Vec::new();
        for e in entries {
            if let Some(g) = &e.group_id {
                for u in idb::user_list_in_group(&app.db, g).await? {
                    let mut x = e.clone();
                    x.user_id = Some(u.id);
                    x.group_id = None;
                    x.via_group = Some(g.clone());
                    expanded.push(x);
                }
            } else {
                expanded.push(e);
            }
        }
        // Inherited grants become grants on the projects below them.
        let mut flat = Vec::new();
        for e in expanded {
            if !e.inherited {
                flat.push(e);
                continue;
            }
            let projects = if e.scope_kind == "domain" {
                rdb::project_list(&app.db, Some(&e.scope_id)).await?
            } else {
                rdb::project_descendants(&app.db, &e.scope_id).await?
            };
            for p in projects {
                let mut x = e.clone();
                x.source_scope = Some((e.scope_kind, e.scope_id.clone()));
                x.scope_kind = "project";
                x.scope_id = p.id;
                x.inherited = false;
                flat.push(x);
            }
        }
        // Implied roles are added (and domain-specific roles, which only imply, removed).
        let implied = adb::implied_role_list_all(&app.db).await?;
        let roles: HashMap<String, Role> = adb::role_list_all(&app.db).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut with_implied = Vec::new();
        for e in flat {
            let mut frontier = vec![e.role_id.clone()];
            let mut seen = std::collections::HashSet::new();
            while let Some(r) = frontier.pop() {
                if !seen.insert(r.clone()) {
                    continue;
                }
                for (_, imp) in implied.iter().filter(|(p, _)| *p == r) {
                    let mut x = e.clone();
                    x.prior_role = Some(r.clone());
                    x.role_id = imp.clone();
                    with_implied.push(x);
                    frontier.push(imp.clone());
                }
            }
            with_implied.push(e);
        }
        with_implied.retain(|e| roles.get(&e.role_id).is_some_and(|r| r.domain_id.is_none()));
        entries = with_implied;
    }

    let subtree: Option<Vec<String>> = if include_subtree {
        let root = f_project.clone().unwrap_or_default();
        let mut ids = vec![root.clone()];
        ids.extend(rdb::project_descendants(&app.db, &root).await?.into_iter().map(|p| p.id));
        Some(ids)
    } else {
        None
    };
    entries.retain(|e| {
        f_user.as_ref().is_none_or(|u| e.user_id.as_ref() == Some(u))
            && f_group.as_ref().is_none_or(|g| e.group_id.as_ref() == Some(g))
            && f_role.as_ref().is_none_or(|r| &e.role_id == r)
            && match (&subtree, &f_project) {
                (Some(ids), _) => e.scope_kind == "project" && ids.contains(&e.scope_id),
                (None, Some(p)) => e.scope_kind == "project" && &e.scope_id == p,
                _ => true,
            }
            && f_domain.as_ref().is_none_or(|d| e.scope_kind == "domain" && &e.scope_id == d)
            && f_system.as_ref().is_none_or(|_| e.scope_kind == "system")
            && f_inherited.as_ref().is_none_or(|_| e.inherited)
    });

    let base = super::base_url(&app, &headers);
    let mut out = Vec::with_capacity(entries.len());
    for e in &entries {
        out.push(render_entry(&app, &base, e, include_names).await?);
    }
    Ok(Json(json!({"role_assignments": out, "links": {"self": super::self_href(&base, &uri), "previous": null, "next": null}})))
}

async fn render_entry(app: &SharedApp, base: &str, e: &Entry, names: bool) -> Result<Value> {
    let (grant_scope_kind, grant_scope_id) = e.source_scope.clone().unwrap_or((e.scope_kind, e.scope_id.clone()));
    let inherited = e.inherited || e.source_scope.is_some();
    let actor = match (&e.via_group, &e.user_id, &e.group_id) {
        (Some(g), _, _) => format!("groups/{g}"),
        (None, Some(u), _) => format!("users/{u}"),
        (None, None, Some(g)) => format!("groups/{g}"),
        _ => String::new(),
    };
    let role_for_link = e.prior_role.clone().unwrap_or(e.role_id.clone());
    let assignment = match grant_scope_kind {
        "system" => format!("{base}/v3/system/{actor}/roles/{role_for_link}"),
        k if inherited => format!("{base}/v3/OS-INHERIT/{k}s/{grant_scope_id}/{actor}/roles/{role_for_link}/inherited_to_projects"),
        k => format!("{base}/v3/{k}s/{grant_scope_id}/{actor}/roles/{role_for_link}"),
    };
    let mut links = json!({"assignment": assignment});
    if let (Some(g), Some(u)) = (&e.via_group, &e.user_id) {
        links["membership"] = json!(format!("{base}/v3/groups/{g}/users/{u}"));
    }
    if let Some(p) = &e.prior_role {
        links["prior_role"] = json!(format!("{base}/v3/roles/{p}"));
    }
    let mut role = json!({"id": e.role_id});
    let mut scope = match e.scope_kind {
        "system" => json!({"system": {"all": true}}),
        k => json!({ k: {"id": e.scope_id} }),
    };
    if e.inherited {
        scope["OS-INHERIT:inherited_to"] = json!("projects");
    }
    let mut v = json!({"role": role.clone(), "scope": scope.clone(), "links": links});
    if names {
        if let Some(r) = adb::role_get(&app.db, &e.role_id).await? {
            role["name"] = json!(r.name);
            if let Some(d) = &r.domain_id {
                role["domain"] = domain_ref(app, d).await?;
            }
        }
        v["role"] = role;
        match e.scope_kind {
            "project" => {
                if let Some(p) = rdb::project_or_domain_get(&app.db, &e.scope_id).await? {
                    scope["project"]["name"] = json!(p.name);
                    scope["project"]["domain"] = domain_ref(app, &p.domain_id).await?;
                }
            }
            "domain" => {
                if let Some(d) = rdb::domain_get(&app.db, &e.scope_id).await? {
                    scope["domain"]["name"] = json!(d.name);
                }
            }
            _ => {}
        }
        v["scope"] = scope;
    }
    if let Some(u) = &e.user_id {
        let mut user = json!({"id": u});
        if names {
            if let Some(x) = idb::user_get(&app.db, u).await? {
                user["name"] = json!(x.name);
                user["domain"] = domain_ref(app, &x.domain_id).await?;
            }
        }
        v["user"] = user;
    } else if let Some(g) = &e.group_id {
        let mut group = json!({"id": g});
        if names {
            if let Some(x) = idb::group_get(&app.db, g).await? {
                group["name"] = json!(x.name);
                group["domain"] = domain_ref(app, &x.domain_id).await?;
            }
        }
        v["group"] = group;
    }
    Ok(v)
}

async fn domain_ref(app: &SharedApp, id: &str) -> Result<Value> {
    let name = rdb::domain_get(&app.db, id).await?.map(|d| d.name).unwrap_or_default();
    Ok(json!({"id": id, "name": name}))
}
