//! Placement's options from placement.conf, under upstream's names: `[placement_database]
//! connection` (upstream's section; `[database] connection` is read too), `[oslo_policy]
//! policy_file`, `[placement] randomize_allocation_candidates`, and for a standalone process
//! `[DEFAULT] bind_host/bind_port` (upstream runs under a WSGI server instead).

use std::path::PathBuf;

use common::config::{Config, ConfigError};

#[derive(Debug, Clone)]
pub struct PlacementConfig {
    pub connection: String,
    pub bind: String,
    pub policy_file: Option<PathBuf>,
    /// `[placement] randomize_allocation_candidates`: shuffle candidates so that concurrent
    /// schedulers do not all pick the first one (off by default, as upstream).
    pub randomize_allocation_candidates: bool,
}

impl PlacementConfig {
    pub fn from_config(cfg: &Config, data_dir: &std::path::Path) -> Result<Self, ConfigError> {
        let host = cfg.get_or("DEFAULT", "bind_host", "0.0.0.0").to_string();
        let port = cfg.get_int("DEFAULT", "bind_port", 8778)?;
        let connection = cfg
            .get("placement_database", "connection")
            .or_else(|| cfg.get("database", "connection"))
            .map(str::to_string)
            .unwrap_or_else(|| format!("sqlite:///{}", data_dir.join("placement.db").display()));
        Ok(Self {
            connection,
            bind: format!("{host}:{port}"),
            policy_file: cfg.get("oslo_policy", "policy_file").map(PathBuf::from),
            randomize_allocation_candidates: cfg.get_bool("placement", "randomize_allocation_candidates", false)?,
        })
    }
}
