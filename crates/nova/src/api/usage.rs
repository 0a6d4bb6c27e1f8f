//! `/os-simple-tenant-usage` (nova/api/openstack/compute/simple_tenant_usage.py): every
//! project's usage over a period (admin), or one project's, with per-server detail; paged by
//! instance from 2.40.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{Ctx, Mv};
use crate::app::usage::TenantUsage;
use crate::app::SharedApp;
use crate::error::{NovaError, Result};

pub fn routes() -> Router<SharedApp> {
    Router::new().route("/v2.1/os-simple-tenant-usage", get(index)).route("/v2.1/os-simple-tenant-usage/{tenant_id}", get(show))
}

fn ts(us: i64) -> String {
    common::time::iso_micros(common::time::from_micros(us))
}

/// `start` / `end`: upstream's three formats; missing means now.
fn period(query: &BTreeMap<String, String>) -> Result<(i64, i64)> {
    let now = crate::app::now();
    let parse = |key: &str| -> Result<i64> {
        match query.get(key) {
            None => Ok(now),
            Some(s) => {
                let t = s.replace(' ', "T");
                common::time::parse_iso(&t).map(common::time::to_micros).ok_or_else(|| NovaError::BadRequest(format!("Invalid input for query parameters {key}. Value: {s}. It must be a date-time (YYYY-MM-DDTHH:MM:SS[.ffffff]).")))
            }
        }
    };
    Ok((parse("start")?, parse("end")?))
}

fn usage_view(u: &TenantUsage, start: i64, end: i64, detailed: bool) -> Value {
    let mut v = json!({
        "tenant_id": u.tenant_id,
        "start": ts(start),
        "stop": ts(end),
        "total_hours": u.servers.iter().map(|s| s.hours).sum::<f64>(),
        "total_vcpus_usage": u.total(|i| i.flavor.vcpus),
        "total_memory_mb_usage": u.total(|i| i.flavor.memory_mb),
        "total_local_gb_usage": u.total(|i| i.flavor.root_gb + i.flavor.ephemeral_gb),
    });
    if detailed {
        v["server_usages"] = json!(u
            .servers
            .iter()
            .map(|s| {
                let i = &s.instance;
                json!({
                    "instance_id": i.uuid,
                    "name": i.display_name,
                    "tenant_id": i.project_id,
                    "flavor": i.flavor.name,
                    "vcpus": i.flavor.vcpus,
                    "memory_mb": i.flavor.memory_mb,
                    "local_gb": i.flavor.root_gb + i.flavor.ephemeral_gb,
                    "hours": s.hours,
                    "started_at": i.launched_at.map(ts),
                    "ended_at": i.terminated_at.map(ts),
                    "state": if i.deleted { "terminated".to_string() } else { i.vm_state.clone() },
                    "uptime": s.uptime,
                })
            })
            .collect::<Vec<_>>());
    }
    v
}

fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|d| matches!(d.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// 2.40 pages by server: `limit` servers after the server `marker`.
fn page(mut list: Vec<TenantUsage>, mv: &Mv, query: &BTreeMap<String, String>, max: usize) -> Result<(Vec<TenantUsage>, Option<String>)> {
    if !mv.0.at_least(2, 40) {
        return Ok((list, None));
    }
    let params = common::pagination::PageParams::from_query(query, max).map_err(|e| NovaError::BadRequest(e.to_string()))?;
    let mut flat: Vec<(String, crate::app::usage::ServerUsage)> = list.drain(..).flat_map(|u| u.servers.into_iter().map(move |s| (u.tenant_id.clone(), s))).collect();
    if let Some(m) = &params.marker {
        let pos = flat.iter().position(|(_, s)| &s.instance.uuid == m).ok_or_else(|| NovaError::BadRequest(format!("marker [{m}] not found")))?;
        flat.drain(..=pos);
    }
    let limit = params.limit.unwrap_or(max);
    let more = flat.len() > limit;
    flat.truncate(limit);
    let last = flat.last().map(|(_, s)| s.instance.uuid.clone()).filter(|_| more);
    let mut out: Vec<TenantUsage> = Vec::new();
    for (t, s) in flat {
        match out.last_mut() {
            Some(u) if u.tenant_id == t => u.servers.push(s),
            _ => out.push(TenantUsage { tenant_id: t, servers: vec![s] }),
        }
    }
    Ok((out, last))
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    let (start, end) = period(&query)?;
    let detailed = truthy(query.get("detailed"));
    let list = app.tenant_usage(&ctx, None, start, end).await?;
    let (list, last) = page(list, &mv, &query, app.cfg.max_limit)?;
    let mut body = json!({"tenant_usages": list.iter().map(|u| usage_view(u, start, end, detailed)).collect::<Vec<_>>()});
    if let Some(m) = last {
        let base = super::base_url(&app, &headers);
        body["tenant_usages_links"] = json!([{"href": common::pagination::next_href(&base, "/v2.1/os-simple-tenant-usage", &query, &m), "rel": "next"}]);
    }
    Ok(Json(body))
}

async fn show(State(app): State<SharedApp>, Ctx(ctx): Ctx, mv: Mv, headers: HeaderMap, Path(tenant_id): Path<String>, Query(query): Query<BTreeMap<String, String>>) -> Result<Json<Value>> {
    let (start, end) = period(&query)?;
    let list = app.tenant_usage(&ctx, Some(&tenant_id), start, end).await?;
    let (list, last) = page(list, &mv, &query, app.cfg.max_limit)?;
    let mut body = match list.first() {
        Some(u) => json!({"tenant_usage": usage_view(u, start, end, true)}),
        None => json!({"tenant_usage": {}}),
    };
    if let Some(m) = last {
        let base = super::base_url(&app, &headers);
        body["tenant_usage_links"] = json!([{"href": common::pagination::next_href(&base, &format!("/v2.1/os-simple-tenant-usage/{tenant_id}"), &query, &m), "rel": "next"}]);
    }
    Ok(Json(body))
}
