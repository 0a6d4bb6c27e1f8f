//! Neutron's application layer (neutron/db/*_db.py and the ML2 plugin's logic): authorization
//! with upstream's policy names, request validation beyond JSON shape, IPAM, segment
//! allocation, the in-use rules, and the transactions (retried when a unique key shows that a
//! concurrent request took the same address or segment first).

/// Runs `$body` in a transaction, committed when it returns Ok and rolled back otherwise; the
/// whole block is run again (with a fresh transaction and fresh reads) when it failed in a way
/// that a retry can fix: a concurrent writer took the address, MAC or segment we chose.
macro_rules! retrying {
    ($self:ident, $tx:ident, $body:block) => {{
        let mut attempt = 0usize;
        loop {
            attempt += 1;
            let mut $tx = $self.db.begin().await?;
            let result: crate::error::Result<_> = async { $body }.await;
            let result = match result {
                Ok(v) => $tx.commit().await.map(|()| v).map_err(crate::error::NeutronError::from),
                Err(e) => {
                    if let Err(r) = $tx.rollback().await {
                        tracing::warn!(error = %r, "rollback failed");
                    }
                    Err(e)
                }
            };
            match result {
                Err(e) if e.is_retryable() && attempt < crate::app::RETRIES => {
                    tracing::debug!(error = %e, attempt, "retrying after a concurrent write");
                    let jitter = rand::random::<u64>() % (5 * attempt as u64 + 1);
                    tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
                    continue;
                }
                other => break other,
            }
        }
    }};
}

pub mod auto_allocate;
pub mod input;
pub mod ip_availability;
pub mod ipam;
pub mod listing;
pub mod networks;
pub mod ports;
pub mod quotas;
pub mod rbac_policies;
pub mod routers;
pub mod security_groups;
pub mod subnet_pools;
pub mod subnets;
pub mod tags;
pub mod views;

use std::sync::Arc;

use auth::policy::Enforcer;
use auth::RequestContext;
use db::Db;
use serde_json::{json, Value};

use crate::config::NeutronConfig;
use crate::notifiers::nova::{NovaEvent, NovaNotifier};
use crate::db::Kind;
use crate::error::{NeutronError, Result};

/// How many times a write is retried after losing a race on a unique key (upstream's
/// oslo.db retry decorator uses 10 as well).
pub const RETRIES: usize = 20;

pub struct App {
    pub db: Db,
    pub cfg: NeutronConfig,
    pub policy: Enforcer,
    /// Where port events for Nova go (none: Nova is not told).
    nova: std::sync::OnceLock<Arc<dyn NovaNotifier>>,
}

pub type SharedApp = Arc<App>;

impl App {
    pub fn new(cfg: NeutronConfig, db: Db) -> Result<SharedApp> {
        let overrides = match &cfg.policy_file {
            Some(p) if p.exists() => Some(std::fs::read_to_string(p).map_err(|e| NeutronError::Internal(format!("cannot read {}: {e}", p.display())))?),
            _ => None,
        };
        let policy = Enforcer::new(crate::policy::DEFAULTS, overrides.as_deref(), true).map_err(|e| NeutronError::Internal(format!("policy: {e}")))?;
        Ok(Arc::new(App { db, cfg, policy, nova: std::sync::OnceLock::new() }))
    }

    /// Sends Nova's events through `notifier` from now on (set once, at start-up).
    pub fn set_nova_notifier(&self, notifier: Arc<dyn NovaNotifier>) {
        if self.nova.set(notifier).is_err() {
            tracing::warn!("a Nova notifier was already set; keeping the first");
        }
    }

    /// Sends `events` to Nova from a task of its own, after the transaction that caused
    /// them committed: the API call neither waits for Nova nor fails with it.
    pub fn notify_nova(&self, events: Vec<NovaEvent>) {
        let Some(notifier) = self.nova.get().cloned() else { return };
        if events.is_empty() {
            return;
        }
        tokio::spawn(async move {
            match notifier.send_events(&events).await {
                Ok(()) => tracing::debug!(?events, "Nova notified"),
                Err(e) => {
                    let mut chain = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        chain.push_str(&format!(": {s}"));
                        source = s.source();
                    }
                    tracing::warn!(error = %chain, ?events, "failed to notify Nova of port events");
                }
            }
        });
    }

    /// Whether `rule` passes for the caller on `target`.
    pub fn allowed(&self, ctx: &RequestContext, rule: &str, target: &Value) -> Result<bool> {
        match self.policy.enforce(rule, target, &ctx.policy_creds()) {
            Ok(b) => Ok(b),
            Err(auth::policy::PolicyError::InvalidScope { .. }) => Ok(false),
            Err(e) => Err(NeutronError::Internal(format!("policy {rule}: {e}"))),
        }
    }

    /// Checks `rule` (403 PolicyNotAuthorized when it fails, as upstream).
    pub fn enforce(&self, ctx: &RequestContext, rule: &str, target: &Value) -> Result<()> {
        if self.allowed(ctx, rule, target)? {
            Ok(())
        } else {
            Err(NeutronError::PolicyNotAuthorized { rule: rule.to_string() })
        }
    }

    /// Checks the attribute rules (`create_network:shared`, ...) for the attributes the
    /// request sets to something other than their default, as upstream's policy engine does.
    pub fn enforce_attributes(&self, ctx: &RequestContext, action: &str, set: &[(&str, bool)], target: &Value) -> Result<()> {
        for (attr, explicitly_set) in set {
            if *explicitly_set {
                self.enforce(ctx, &format!("{action}:{attr}"), target)?;
            }
        }
        Ok(())
    }

    pub fn is_admin(&self, ctx: &RequestContext) -> bool {
        self.allowed(ctx, "context_is_admin", &json!({})).unwrap_or(false)
    }

    /// The project a new resource belongs to: `project_id`/`tenant_id` from the body (they must
    /// agree) or the caller's.
    pub fn owner_of_new(&self, ctx: &RequestContext, input: &input::Input, resource: &'static str) -> Result<String> {
        let p = input.opt_str("project_id")?;
        let t = input.opt_str("tenant_id")?;
        let owner = match (p, t) {
            (Some(p), Some(t)) if p != t => return Err(NeutronError::bad(resource, "project_id and tenant_id do not match")),
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => ctx.project_id().unwrap_or_default().to_string(),
        };
        if owner.is_empty() {
            return Err(NeutronError::InvalidInput("Invalid input for project_id. Reason: a project is required (use a project-scoped token).".into()));
        }
        Ok(owner)
    }
}

/// The resource's not-found error, named as upstream names it.
pub fn not_found(kind: Kind, id: &str) -> NeutronError {
    let id = id.to_string();
    match kind {
        Kind::Network => NeutronError::NetworkNotFound(id),
        Kind::Subnet => NeutronError::SubnetNotFound(id),
        Kind::Port => NeutronError::PortNotFound(id),
        Kind::Router => NeutronError::RouterNotFound(id),
        Kind::FloatingIp => NeutronError::FloatingIpNotFound(id),
        Kind::SecurityGroup => NeutronError::SecurityGroupNotFound(id),
        Kind::SecurityGroupRule => NeutronError::SecurityGroupRuleNotFound(id),
        Kind::SubnetPool => NeutronError::SubnetPoolNotFound(id),
        Kind::RbacPolicy => NeutronError::RbacPolicyNotFound { id, object_type: "network".into() },
    }
}

/// The time format of the standard attributes (`2026-01-01T00:00:00Z`).
pub fn timestamp() -> String {
    common::time::iso_seconds_z(common::time::now())
}

/// Fills the standard attributes of a new resource (neutron's standard_attr: description,
/// created_at, updated_at, revision_number, and tags where taggable).
pub fn standard_attributes(body: &mut serde_json::Map<String, Value>, description: Option<String>, taggable: bool) {
    let now = timestamp();
    body.insert("description".into(), json!(description.unwrap_or_default()));
    body.insert("created_at".into(), json!(now));
    body.insert("updated_at".into(), json!(now));
    body.insert("revision_number".into(), json!(0));
    if taggable {
        body.insert("tags".into(), json!([]));
    }
}

/// Marks a record changed: a new `updated_at` and the next `revision_number`.
pub fn bump_revision(body: &mut Value) {
    let rev = body["revision_number"].as_i64().unwrap_or(0);
    body["revision_number"] = json!(rev + 1);
    body["updated_at"] = json!(timestamp());
}

/// Checks an `If-Match: revision_number=N` constraint (412 when the record moved on).
pub fn check_revision(body: &Value, if_match: Option<i64>) -> Result<()> {
    let current = body["revision_number"].as_i64().unwrap_or(0);
    match if_match {
        Some(expected) if expected != current => Err(NeutronError::RevisionNumberConstraintFailed(expected, current)),
        _ => Ok(()),
    }
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}
