//! `/os-availability-zone` and `/os-availability-zone/detail`
//! (nova/api/openstack/compute/availability_zone.py).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::Ctx;
use crate::app::availability_zones::Zone;
use crate::app::SharedApp;
use crate::error::Result;

pub fn routes() -> Router<SharedApp> {
    Router::new().route("/v2.1/os-availability-zone", get(index)).route("/v2.1/os-availability-zone/detail", get(detail))
}

fn view(zones: Vec<Zone>) -> Value {
    let info: Vec<Value> = zones
        .into_iter()
        .map(|z| {
            let hosts = z.hosts.map(|hosts| {
                hosts
                    .into_iter()
                    .map(|(host, services)| {
                        let services: serde_json::Map<String, Value> = services
                            .into_iter()
                            .map(|(binary, s)| {
                                let updated = common::time::iso_micros(common::time::from_micros(s.updated_at));
                                (binary, json!({"available": s.available, "active": s.active, "updated_at": updated}))
                            })
                            .collect();
                        (host, Value::Object(services))
                    })
                    .collect::<serde_json::Map<String, Value>>()
            });
            json!({"zoneName": z.name, "zoneState": {"available": z.available}, "hosts": hosts})
        })
        .collect();
    json!({"availabilityZoneInfo": info})
}

async fn index(State(app): State<SharedApp>, Ctx(ctx): Ctx) -> Result<Json<Value>> {
    Ok(Json(view(app.availability_zones(&ctx, false).await?)))
}

async fn detail(State(app): State<SharedApp>, Ctx(ctx): Ctx) -> Result<Json<Value>> {
    Ok(Json(view(app.availability_zones(&ctx, true).await?)))
}
