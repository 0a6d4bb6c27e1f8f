//! Keystone's options, read from the oslo.config-style file under upstream's own section and
//! option names (`[token] expiration`, `[fernet_tokens] key_repository`, `[security_compliance]`
//! ...), with upstream's defaults.

use std::path::PathBuf;

use common::config::{Config, ConfigError};

/// Keystone's `[security_compliance]` options (all off by default, as upstream).
#[derive(Debug, Clone, Default)]
pub struct SecurityCompliance {
    pub lockout_failure_attempts: Option<u32>,
    pub lockout_duration: Option<i64>,
    pub disable_user_account_days_inactive: Option<i64>,
    pub password_expires_days: Option<i64>,
    pub unique_last_password_count: u32,
    pub minimum_password_age: i64,
    pub password_regex: Option<String>,
    pub password_regex_description: Option<String>,
    pub change_password_upon_first_use: bool,
}

/// Everything Keystone reads from configuration.
#[derive(Debug, Clone)]
pub struct KeystoneConfig {
    pub connection: String,
    /// Token lifetime in seconds (`[token] expiration`).
    pub token_expiration: i64,
    pub allow_rescope_scoped_token: bool,
    pub fernet_key_repository: PathBuf,
    pub fernet_max_active_keys: usize,
    pub credential_key_repository: PathBuf,
    /// bcrypt cost (`[identity] password_hash_rounds`).
    pub password_hash_rounds: u32,
    pub max_password_length: usize,
    pub list_limit: Option<usize>,
    pub security_compliance: SecurityCompliance,
    /// Public endpoint used in links (`[DEFAULT] public_endpoint`), else the request's Host.
    pub public_endpoint: Option<String>,
    pub policy_file: Option<PathBuf>,
    pub enforce_scope: bool,
    pub return_all_endpoints_if_no_filter: bool,
    pub max_project_tree_depth: usize,
    pub allow_expired_window: i64,
    pub bind: String,
}

impl KeystoneConfig {
    /// Reads the options; `data_dir` anchors the defaults for files (DB, key repositories).
    pub fn from_config(cfg: &Config, data_dir: &std::path::Path) -> Result<Self, ConfigError> {
        let opt_u32 = |section: &str, key: &str| -> Result<Option<u32>, ConfigError> {
            match cfg.get(section, key) {
                None | Some("") => Ok(None),
                Some(_) => Ok(Some(cfg.get_int(section, key, 0)? as u32)),
            }
        };
        let opt_i64 = |section: &str, key: &str| -> Result<Option<i64>, ConfigError> {
            match cfg.get(section, key) {
                None | Some("") => Ok(None),
                Some(_) => Ok(Some(cfg.get_int(section, key, 0)?)),
            }
        };
        let sc = SecurityCompliance {
            lockout_failure_attempts: opt_u32("security_compliance", "lockout_failure_attempts")?,
            lockout_duration: Some(cfg.get_int("security_compliance", "lockout_duration", 1800)?),
            disable_user_account_days_inactive: opt_i64("security_compliance", "disable_user_account_days_inactive")?,
            password_expires_days: opt_i64("security_compliance", "password_expires_days")?,
            unique_last_password_count: cfg.get_int("security_compliance", "unique_last_password_count", 0)? as u32,
            minimum_password_age: cfg.get_int("security_compliance", "minimum_password_age", 0)?,
            password_regex: cfg.get("security_compliance", "password_regex").filter(|s| !s.is_empty()).map(str::to_string),
            password_regex_description: cfg.get("security_compliance", "password_regex_description").map(str::to_string),
            change_password_upon_first_use: cfg.get_bool("security_compliance", "change_password_upon_first_use", false)?,
        };
        let default_db = format!("sqlite:///{}", data_dir.join("keystone.db").display());
        Ok(Self {
            connection: cfg.get("database", "connection").map(str::to_string).unwrap_or(default_db),
            token_expiration: cfg.get_int("token", "expiration", 3600)?,
            allow_rescope_scoped_token: cfg.get_bool("token", "allow_rescope_scoped_token", true)?,
            fernet_key_repository: cfg
                .get("fernet_tokens", "key_repository")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("fernet-keys")),
            fernet_max_active_keys: cfg.get_int("fernet_tokens", "max_active_keys", 3)?.max(1) as usize,
            credential_key_repository: cfg
                .get("credential", "key_repository")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("credential-keys")),
            password_hash_rounds: cfg.get_int("identity", "password_hash_rounds", 12)?.clamp(4, 31) as u32,
            max_password_length: cfg.get_int("identity", "max_password_length", 4096)? as usize,
            list_limit: cfg.get("DEFAULT", "list_limit").and_then(|v| v.parse().ok()),
            security_compliance: sc,
            public_endpoint: cfg.get("DEFAULT", "public_endpoint").filter(|s| !s.is_empty()).map(str::to_string),
            policy_file: cfg.get("oslo_policy", "policy_file").map(PathBuf::from),
            enforce_scope: cfg.get_bool("oslo_policy", "enforce_scope", true)?,
            return_all_endpoints_if_no_filter: cfg.get_bool("endpoint_filter", "return_all_endpoints_if_no_filter", true)?,
            max_project_tree_depth: cfg.get_int("DEFAULT", "max_project_tree_depth", 5)? as usize,
            allow_expired_window: cfg.get_int("token", "allow_expired_window", 48 * 3600)?,
            bind: cfg.get("keystone", "bind").unwrap_or("0.0.0.0:5000").to_string(),
        })
    }
}
