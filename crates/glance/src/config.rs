//! Glance's options from glance-api.conf, under upstream's names: `[database] connection`,
//! `[glance_store] filesystem_store_datadir`, `[DEFAULT] bind_host/bind_port`,
//! `image_size_cap`, `user_storage_quota`, `[oslo_policy] policy_file`.

use std::path::PathBuf;

use common::config::{Config, ConfigError};

#[derive(Debug, Clone)]
pub struct GlanceConfig {
    pub connection: String,
    pub filesystem_store_datadir: PathBuf,
    pub staging_dir: PathBuf,
    pub bind: String,
    /// Largest image accepted, in bytes (upstream default 1 TiB).
    pub image_size_cap: u64,
    /// Per-project storage quota in bytes (0 = unlimited), as `user_storage_quota`.
    pub user_storage_quota: u64,
    /// Per-project image count limit (-1 = unlimited).
    pub image_count_quota: i64,
    pub policy_file: Option<PathBuf>,
    pub public_endpoint: Option<String>,
    pub limit_param_default: usize,
    /// `[image_format] require_image_format_match`: refuse data whose format contradicts
    /// `disk_format` (on by default). Unsafe images (qcow2 backing files, ...) are refused
    /// either way.
    pub require_image_format_match: bool,
    pub api_limit_max: usize,
}

impl GlanceConfig {
    pub fn from_config(cfg: &Config, data_dir: &std::path::Path) -> Result<Self, ConfigError> {
        let host = cfg.get_or("DEFAULT", "bind_host", "0.0.0.0").to_string();
        let port = cfg.get_int("DEFAULT", "bind_port", 9292)?;
        Ok(Self {
            connection: cfg
                .get("database", "connection")
                .map(str::to_string)
                .unwrap_or_else(|| format!("sqlite:///{}", data_dir.join("glance.db").display())),
            filesystem_store_datadir: cfg
                .get("glance_store", "filesystem_store_datadir")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("images")),
            staging_dir: cfg.get("os_glance_staging_store", "filesystem_store_datadir").map(PathBuf::from).unwrap_or_else(|| data_dir.join("image-staging")),
            bind: format!("{host}:{port}"),
            image_size_cap: cfg.get_int("DEFAULT", "image_size_cap", 1 << 40)? as u64,
            user_storage_quota: cfg.get_int("DEFAULT", "user_storage_quota", 0)? as u64,
            image_count_quota: cfg.get_int("DEFAULT", "image_count_quota", -1)?,
            policy_file: cfg.get("oslo_policy", "policy_file").map(PathBuf::from),
            public_endpoint: cfg.get("DEFAULT", "public_endpoint").filter(|s| !s.is_empty()).map(str::to_string),
            limit_param_default: cfg.get_int("DEFAULT", "limit_param_default", 25)?.max(1) as usize,
            require_image_format_match: cfg.get_bool("image_format", "require_image_format_match", true)?,
            api_limit_max: cfg.get_int("DEFAULT", "api_limit_max", 1000)?.max(1) as usize,
        })
    }
}
