//! `/v2.0/agents` and `/v2.0/service-providers`. Agents register with the server over the bus
//! when the dataplane lands (a separate issue); until then none has registered, and the list
//! says so rather than inventing any (the `agent` extension is not advertised, since agents
//! cannot be managed yet). The one service provider is the L3 router this server implements.

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Value};

use super::Ctx;
use crate::error::{NeutronError, Result};

/// `GET /v2.0/agents`: the registered agents (none yet).
pub async fn list(_ctx: Ctx) -> Json<Value> {
    Json(json!({"agents": []}))
}

/// `GET /v2.0/agents/{id}`.
pub async fn show(_ctx: Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    Err(NeutronError::AgentNotFound(id))
}

/// `GET /v2.0/service-providers` (service-type): the router service's single-node NAT driver.
pub async fn service_providers(_ctx: Ctx) -> Json<Value> {
    Json(json!({"service_providers": [{"service_type": "L3_ROUTER_NAT", "name": "single_node", "default": true}]}))
}
