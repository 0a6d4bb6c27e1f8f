//! Placement's application layer (placement/handlers' rules and placement/objects' logic):
//! authorization, validation beyond shape, provider trees, the capacity rules and the
//! transactions that make allocation writes safe under concurrency, and allocation
//! candidates.

/// Runs `$body` (a block that may use `$tx` and `?`/`return` with the app's errors) in a
/// transaction: committed when the block returns Ok, rolled back at once otherwise (see
/// `db::Tx::rollback` for why not on drop).
macro_rules! in_tx {
    ($db:expr, $tx:ident, $body:block) => {{
        let mut $tx = $db.begin().await?;
        let result: crate::error::Result<_> = async { $body }.await;
        match result {
            Ok(v) => {
                $tx.commit().await?;
                Ok(v)
            }
            Err(e) => {
                if let Err(r) = $tx.rollback().await {
                    tracing::warn!(error = %r, "rollback failed");
                }
                Err(e)
            }
        }
    }};
}

pub mod allocations;
pub mod candidates;
pub mod inventories;
pub mod providers;
pub mod reshaper;
pub mod traits;

use std::sync::Arc;

use auth::policy::Enforcer;
use auth::RequestContext;
use db::Db;
use serde_json::{json, Value};

use crate::config::PlacementConfig;
use crate::error::{PlacementError, Result};

pub struct App {
    pub db: Db,
    pub cfg: PlacementConfig,
    pub policy: Enforcer,
}

pub type SharedApp = Arc<App>;

/// How many times a write is retried when a provider generation moved under it (a concurrent
/// allocation on the same provider), as upstream's RP_CONFLICT_RETRY_COUNT.
pub const RETRIES: usize = 10;

impl App {
    pub fn new(cfg: PlacementConfig, db: Db) -> Result<SharedApp> {
        let overrides = match &cfg.policy_file {
            Some(p) if p.exists() => Some(std::fs::read_to_string(p).map_err(|e| PlacementError::Internal(format!("cannot read {}: {e}", p.display())))?),
            _ => None,
        };
        let policy = Enforcer::new(crate::policy::DEFAULTS, overrides.as_deref(), true).map_err(|e| PlacementError::Internal(format!("policy: {e}")))?;
        Ok(Arc::new(App { db, cfg, policy }))
    }

    /// Checks `rule` for the caller; the target is the caller's own project and user, as
    /// upstream's handlers pass it (`{"project_id": ..., "user_id": ...}`).
    pub fn enforce(&self, ctx: &RequestContext, rule: &str) -> Result<()> {
        self.enforce_target(ctx, rule, &json!({"project_id": ctx.project_id(), "user_id": ctx.user_id()}))
    }

    pub fn enforce_target(&self, ctx: &RequestContext, rule: &str, target: &Value) -> Result<()> {
        match self.policy.enforce(rule, target, &ctx.policy_creds()) {
            Ok(true) => Ok(()),
            Ok(false) | Err(auth::policy::PolicyError::InvalidScope { .. }) => Err(PlacementError::Forbidden(rule.to_string())),
            Err(e) => Err(PlacementError::Internal(format!("policy {rule}: {e}"))),
        }
    }
}

/// Whether `s` is a UUID in any of the forms upstream accepts (with or without dashes);
/// returns the canonical dashed lower-case form.
pub fn normalize_uuid(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let dashes = s.len() - hex.len();
    if dashes != 0 && (dashes != 4 || s.len() != 36) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        assert_eq!(normalize_uuid("5E5CD0A6-7F4B-4F1E-9C6B-1D2E3F405060").unwrap(), "5e5cd0a6-7f4b-4f1e-9c6b-1d2e3f405060");
        assert_eq!(normalize_uuid("5e5cd0a67f4b4f1e9c6b1d2e3f405060").unwrap(), "5e5cd0a6-7f4b-4f1e-9c6b-1d2e3f405060");
        assert!(normalize_uuid("not-a-uuid").is_none());
    }
}
