//! What nova's services say to each other over the bus (nova/compute/rpcapi.py,
//! conductor/rpcapi.py, scheduler/rpcapi.py): topics, method names and argument shapes, and
//! the request context that travels with every message so logs, instance actions and calls to
//! other services keep the caller's identity.

use std::time::Duration;

use auth::RequestContext;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

/// The conductor's topic (one or more conductors consume it).
pub const CONDUCTOR: &str = "conductor";
/// The scheduler's topic.
pub const SCHEDULER: &str = "scheduler";

/// A compute host's own topic.
pub fn compute_topic(host: &str) -> String {
    format!("compute.{host}")
}

/// How long a call waits for its answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The caller, as it travels on the bus.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RpcContext {
    pub request_id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    /// The user's token, for calls to Glance made on their behalf.
    pub auth_token: Option<String>,
    pub roles: Vec<String>,
}

impl RpcContext {
    pub fn from_request(ctx: &RequestContext) -> Self {
        Self {
            request_id: ctx.request_id.clone(),
            user_id: ctx.user_id().map(str::to_string),
            project_id: ctx.project_id().map(str::to_string),
            auth_token: ctx.auth_token.clone(),
            roles: ctx.token.as_ref().map(|t| t.roles.clone()).unwrap_or_default(),
        }
    }

    /// A context for work a service starts itself (periodic tasks, recovery).
    pub fn internal(what: &str) -> Self {
        Self { request_id: format!("req-{}", common::ids::new_uuid()), roles: vec![format!("internal:{what}")], ..Default::default() }
    }
}

/// Builds a bus message carrying `ctx`.
pub fn message(method: &str, args: &impl Serialize, ctx: &RpcContext) -> Result<bus::Message, String> {
    let mut m = bus::Message::new(method, serde_json::to_value(args).map_err(|e| e.to_string())?);
    m.context = serde_json::to_value(ctx).map_err(|e| e.to_string())?;
    Ok(m)
}

/// Decodes a message's arguments and context.
pub fn decode<T: DeserializeOwned>(m: &bus::Message) -> Result<(T, RpcContext), String> {
    let args = serde_json::from_value(m.args.clone()).map_err(|e| format!("bad arguments for {}: {e}", m.method))?;
    let ctx = serde_json::from_value(m.context.clone()).unwrap_or_default();
    Ok((args, ctx))
}

/// Calls `method` on `topic` and decodes the answer.
pub async fn call<A: Serialize, R: DeserializeOwned>(bus: &dyn bus::Bus, topic: &str, method: &str, args: &A, ctx: &RpcContext) -> Result<R, String> {
    let m = message(method, args, ctx)?;
    let v: Value = bus.call(topic, m, CALL_TIMEOUT).await.map_err(|e| format!("{method} on {topic}: {e}"))?;
    serde_json::from_value(v).map_err(|e| format!("bad answer to {method}: {e}"))
}

/// Casts `method` to `topic`.
pub async fn cast<A: Serialize>(bus: &dyn bus::Bus, topic: &str, method: &str, args: &A, ctx: &RpcContext) -> Result<(), String> {
    let m = message(method, args, ctx)?;
    bus.cast(topic, m).await.map_err(|e| format!("{method} to {topic}: {e}"))
}
