//! `/flavors` reads (nova/api/openstack/compute/flavors.py and views/flavors.py): the brief
//! and detailed lists with `flavors_links` paging, and show, shaped by microversion; the
//! routes of the flavor writes, extra specs and access (in `flavor_manage`) are listed here too.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{links, Ctx, Mv};
use crate::app::SharedApp;
use crate::db::flavors::Flavor;
use crate::error::Result;

pub fn routes() -> Router<SharedApp> {
    use super::flavor_manage as manage;
    Router::new()
        .route("/v2.1/flavors", get(index).post(manage::create))
        .route("/v2.1/flavors/detail", get(detail))
        .route("/v2.1/flavors/{flavor_id}", get(show).put(manage::update).delete(manage::delete))
        .route("/v2.1/flavors/{flavor_id}/action", axum::routing::post(manage::action))
        .route("/v2.1/flavors/{flavor_id}/os-flavor-access", get(manage::access_index))
        .route("/v2.1/flavors/{flavor_id}/os-extra_specs", get(manage::extra_specs_index).post(manage::extra_specs_create))
        .route("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", get(manage::extra_specs_show).put(manage::extra_specs_update).delete(manage::extra_specs_delete))
}

fn brief(base: &str, mv: &Mv, f: &Flavor) -> Value {
    let mut v = json!({"id": f.flavorid, "name": f.name, "links": links(base, "flavors", &f.flavorid)});
    if mv.0.at_least(2, 55) {
        v["description"] = json!(f.description);
    }
    v
}

/// The full view of a flavor (`extra_specs` from 2.61, for callers allowed to see them).
pub fn full(base: &str, mv: &Mv, f: &Flavor, extra_specs: bool) -> Value {
    let mut v = json!({
        "id": f.flavorid,
        "name": f.name,
        "ram": f.memory_mb,
        "disk": f.root_gb,
        "swap": if f.swap == 0 { json!("") } else { json!(f.swap) },
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": f.disabled,
        "vcpus": f.vcpus,
        "os-flavor-access:is_public": f.is_public,
        "rxtx_factor": f.rxtx_factor,
        "links": links(base, "flavors", &f.flavorid),
    });
    if mv.0.at_least(2, 55) {
        v["description"] = json!(f.description);
    }
    if mv.0.at_least(2, 61) && extra_specs {
        v["extra_specs"] = json!(f.extra_specs);
    }
    if mv.0.at_least(2, 75) {
        v["swap"] = json!(f.swap);
    }
    v
}

fn page_links(base: &str, path: &str, query: &BTreeMap<String, String>, more: bool, last: Option<&Flavor>) -> Option<Value> {
    let last = last.filter(|_| more)?;
    Some(json!([{"href": common::pagination::next_href(base, path, query, &last.flavorid), "rel": "next"}]))
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    let page = app.flavor_list(&ctx, &query).await?;
    let base = super::base_url(&app, &headers);
    let mut body = json!({"flavors": page.flavors.iter().map(|f| brief(&base, &mv, f)).collect::<Vec<_>>()});
    if let Some(l) = page_links(&base, "/v2.1/flavors", &query, page.more, page.flavors.last()) {
        body["flavors_links"] = l;
    }
    Ok(Json(body))
}

async fn detail(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    let page = app.flavor_list(&ctx, &query).await?;
    let base = super::base_url(&app, &headers);
    let specs = app.can_see_flavor_extra_specs(&ctx);
    let mut body = json!({"flavors": page.flavors.iter().map(|f| full(&base, &mv, f, specs)).collect::<Vec<_>>()});
    if let Some(l) = page_links(&base, "/v2.1/flavors/detail", &query, page.more, page.flavors.last()) {
        body["flavors_links"] = l;
    }
    Ok(Json(body))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>> {
    let f = app.flavor_get(&ctx, &id).await?;
    let base = super::base_url(&app, &headers);
    Ok(Json(json!({"flavor": full(&base, &mv, &f, app.can_see_flavor_extra_specs(&ctx))})))
}
