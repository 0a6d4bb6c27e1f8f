//! Keystone's application layer: the rules of each resource, authorization (policy checks) and
//! the token provider, over the named queries in `db`. Handlers in `api` call into this and
//! never touch SQL.

pub mod assignment;
pub mod auth;
pub mod catalog;
pub mod catalog_admin;
pub mod credentials;
pub mod identity;
pub mod resource;
pub mod tokens;
pub mod trusts;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ::auth::policy::Enforcer;
use ::auth::RequestContext;
use db::Db;
use serde_json::{json, Value};

use crate::config::KeystoneConfig;
use crate::error::{KeystoneError, Result};
use crate::token::fernet::TokenFormatter;
use crate::token::key_repository::KeyRepository;
use tokens::TokenData;

/// Keystone's shared state.
pub struct App {
    pub db: Db,
    pub cfg: KeystoneConfig,
    pub policy: Enforcer,
    pub fernet: TokenFormatter,
    pub fernet_keys: KeyRepository,
    pub credential_keys: KeyRepository,
    /// Bumped by every write; cached token validations made under an older generation are
    /// recomputed, so a disabled user or removed role takes effect on the next request.
    generation: AtomicU64,
    pub(crate) token_cache: Mutex<HashMap<String, (u64, Arc<TokenData>)>>,
    pub(crate) revocations: tokens::RevocationList,
    /// Rendered catalogs by project ("" for none), valid for one write generation.
    pub(crate) catalog_cache: Mutex<HashMap<String, (u64, RenderedCatalog)>>,
}

pub type SharedApp = Arc<App>;

/// A catalog as rendered for a token body, shared between the requests that need it.
pub type RenderedCatalog = Arc<Vec<Value>>;

impl App {
    pub async fn new(cfg: KeystoneConfig, db: Db) -> Result<SharedApp> {
        let overrides = match &cfg.policy_file {
            Some(p) if p.exists() => Some(
                std::fs::read_to_string(p).map_err(|e| KeystoneError::Internal(format!("cannot read policy file {}: {e}", p.display())))?,
            ),
            _ => None,
        };
        let policy = Enforcer::new(crate::policy::DEFAULTS, overrides.as_deref(), cfg.enforce_scope)
            .map_err(|e| KeystoneError::Internal(format!("policy: {e}")))?;
        let internal = |e: crate::token::key_repository::KeyRepositoryError| KeystoneError::Internal(e.to_string());
        let fernet_keys = KeyRepository::new(cfg.fernet_key_repository.clone(), cfg.fernet_max_active_keys).map_err(internal)?;
        fernet_keys.setup().map_err(|e| KeystoneError::Internal(e.to_string()))?;
        let credential_keys = KeyRepository::new(cfg.credential_key_repository.clone(), 3).map_err(internal)?;
        credential_keys.setup().map_err(|e| KeystoneError::Internal(e.to_string()))?;
        let formatter = TokenFormatter::new(fernet_keys.load().map_err(|e| KeystoneError::Internal(e.to_string()))?)
            .map_err(|e| KeystoneError::Internal(e.to_string()))?;
        let app = Arc::new(App {
            db,
            cfg,
            policy,
            fernet: formatter,
            fernet_keys,
            credential_keys,
            generation: AtomicU64::new(1),
            token_cache: Mutex::new(HashMap::new()),
            revocations: tokens::RevocationList::default(),
            catalog_cache: Mutex::new(HashMap::new()),
        });
        app.revocations_reload().await?;
        Ok(app)
    }

    /// Marks that identity, assignment or catalog data changed.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Reloads the Fernet keys from the repository (after `fernet-rotate`).
    pub fn reload_fernet_keys(&self) -> Result<()> {
        let keys = self.fernet_keys.load().map_err(|e| KeystoneError::Internal(e.to_string()))?;
        self.fernet.reload_keys(keys).map_err(|e| KeystoneError::Internal(e.to_string()))
    }

    /// Checks a policy rule for the caller against `target` (the resource, as upstream
    /// passes it: `{"target": {"user": {...}}}` or flat keys like `{"user_id": ...}`).
    pub fn enforce(&self, caller: &Caller, action: &str, target: Value) -> Result<()> {
        let creds = caller.policy_creds();
        match self.policy.enforce(action, &target, &creds) {
            Ok(true) => Ok(()),
            Ok(false) => Err(KeystoneError::forbidden_action(action)),
            Err(::auth::policy::PolicyError::InvalidScope { .. }) => Err(KeystoneError::forbidden_action(action)),
            Err(e) => Err(KeystoneError::Internal(format!("policy {action}: {e}"))),
        }
    }

    /// Like [`App::enforce`] but answers true/false (for filtering lists).
    pub fn allowed(&self, caller: &Caller, action: &str, target: &Value) -> bool {
        matches!(self.policy.enforce(action, target, &caller.policy_creds()), Ok(true))
    }
}

/// The authenticated caller of a Keystone API: the validated token and the request context.
#[derive(Clone)]
pub struct Caller {
    pub ctx: RequestContext,
    pub token: Arc<TokenData>,
}

impl Caller {
    pub fn user_id(&self) -> &str {
        &self.token.user.id
    }

    pub fn policy_creds(&self) -> Value {
        let t = &self.token;
        let project_domain = t.project.as_ref().map(|p| p.domain_id.clone());
        json!({
            "user_id": t.user.id,
            "user_domain_id": t.user.domain_id,
            "project_id": t.project.as_ref().map(|p| p.id.clone()),
            "project_domain_id": project_domain,
            "domain_id": t.domain.as_ref().map(|d| d.0.clone()),
            "system_scope": if t.system { Some("all") } else { None },
            "roles": t.roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "is_admin_project": t.project.is_some(),
            "token": {"project": {"domain": {"id": project_domain}}, "user": {"id": t.user.id}},
            "trust_id": t.trust.as_ref().map(|tr| tr.id.clone()),
        })
    }
}

/// Reads a boolean-ish query parameter as Keystone does (`?enabled`, `?enabled=true`, `=1`).
pub fn query_bool(v: &str) -> bool {
    !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off")
}
