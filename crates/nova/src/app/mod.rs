//! Nova's application layer: authorization, the API-database resources (flavors, key pairs,
//! quotas) and the server lifecycle that nova-api starts and the conductor, scheduler and
//! compute manager carry on.

pub mod aggregates;
pub mod availability_zones;
pub mod crypto;
pub mod extra_specs;
pub mod flavor_manage;
pub mod flavors;
pub mod floating_ips;
pub mod keypairs;
pub mod lifecycle;
pub mod networking;
pub mod quotas;
pub mod server_groups;
pub mod servers;
pub mod usage;
mod support;

use std::sync::Arc;

use auth::policy::Enforcer;
use auth::RequestContext;
use db::Db;
use serde_json::{json, Value};

use crate::config::NovaConfig;
use crate::error::{NovaError, Result};

pub struct App {
    /// nova_api: flavors, key pairs, quotas, server groups, aggregates, request specs.
    pub api_db: Db,
    /// nova (the cell): instances, actions, faults, services, compute nodes.
    pub db: Db,
    pub cfg: NovaConfig,
    pub policy: Enforcer,
    /// Set when the conductor, scheduler and computes start (`crate::services`).
    pub bus: std::sync::OnceLock<Arc<dyn bus::Bus>>,
    pub placement: std::sync::OnceLock<Arc<dyn crate::placement::Placement>>,
    pub service_auth: std::sync::OnceLock<Arc<crate::service_auth::ServiceAuth>>,
    /// The Image service, once the services started.
    pub images: std::sync::OnceLock<Arc<crate::image::GlanceClient>>,
    /// The Networking service, once the services started.
    pub network: std::sync::OnceLock<Arc<crate::network::NeutronClient>>,
}

pub type SharedApp = Arc<App>;

impl App {
    pub async fn new(cfg: NovaConfig, api_db: Db, db: Db) -> Result<SharedApp> {
        let overrides = match &cfg.policy_file {
            Some(p) if p.exists() => Some(std::fs::read_to_string(p).map_err(|e| NovaError::Internal(format!("cannot read {}: {e}", p.display())))?),
            _ => None,
        };
        let policy = Enforcer::new(crate::policy::DEFAULTS, overrides.as_deref(), true).map_err(|e| NovaError::Internal(format!("policy: {e}")))?;
        Ok(Arc::new(App {
            api_db,
            db,
            cfg,
            policy,
            bus: std::sync::OnceLock::new(),
            placement: std::sync::OnceLock::new(),
            service_auth: std::sync::OnceLock::new(),
            images: std::sync::OnceLock::new(),
            network: std::sync::OnceLock::new(),
        }))
    }

    pub fn is_admin(&self, ctx: &RequestContext) -> bool {
        matches!(self.policy.check_str("rule:context_is_admin", &json!({}), &ctx.policy_creds()), Ok(true))
    }

    /// Enforces `rule` on `target`; Nova answers a refusal with 403 and this message.
    pub fn enforce(&self, ctx: &RequestContext, rule: &str, target: &Value) -> Result<()> {
        match self.policy.enforce(rule, target, &ctx.policy_creds()) {
            Ok(true) => Ok(()),
            Ok(false) | Err(auth::policy::PolicyError::InvalidScope { .. }) => Err(NovaError::Forbidden(format!("Policy doesn't allow {rule} to be performed."))),
            Err(e) => Err(NovaError::Internal(format!("policy {rule}: {e}"))),
        }
    }

    /// Whether the caller sees flavor extra specs (`os_compute_api:os-flavor-extra-specs:index`).
    pub fn can_see_flavor_extra_specs(&self, ctx: &RequestContext) -> bool {
        self.enforce(ctx, "os_compute_api:os-flavor-extra-specs:index", &Self::own_target(ctx)).is_ok()
    }

    /// The default target: the caller's own project and user.
    pub fn own_target(ctx: &RequestContext) -> Value {
        json!({"project_id": ctx.project_id(), "user_id": ctx.user_id()})
    }
}

/// Now, in microseconds since the epoch (how timestamps are stored).
pub fn now() -> i64 {
    common::time::to_micros(common::time::now())
}
