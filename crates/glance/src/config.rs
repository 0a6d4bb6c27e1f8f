//! Glance's options from glance-api.conf, under upstream's names: `[database] connection`,
//! `[glance_store] filesystem_store_datadir`, `[DEFAULT] bind_host/bind_port`,
//! `image_size_cap`, `user_storage_quota`, `enabled_import_methods`, `task_time_to_live`,
//! `[import_filtering_opts]`, `[oslo_policy] policy_file`.

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
    /// `[DEFAULT] enabled_import_methods`, as upstream (web-download fetches over HTTP only
    /// where `[import_filtering_opts]` allows).
    pub enabled_import_methods: Vec<String>,
    pub import_filter: ImportFilter,
    /// `[DEFAULT] task_time_to_live`: hours a finished task stays listed.
    pub task_time_to_live_hours: i64,
}

/// `[import_filtering_opts]`: which URIs web-download and legacy import tasks may fetch.
/// Where both an allowed and a disallowed list are set, only the allowed list counts.
#[derive(Debug, Clone, Default)]
pub struct ImportFilter {
    pub allowed_schemes: Vec<String>,
    pub disallowed_schemes: Vec<String>,
    pub allowed_hosts: Vec<String>,
    pub disallowed_hosts: Vec<String>,
    pub allowed_ports: Vec<u16>,
    pub disallowed_ports: Vec<u16>,
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
            enabled_import_methods: list_or(cfg, "DEFAULT", "enabled_import_methods", &["glance-direct", "web-download", "copy-image"]),
            import_filter: ImportFilter {
                allowed_schemes: list_or(cfg, SECTION, "allowed_schemes", &["http", "https"]),
                disallowed_schemes: cfg.get_list(SECTION, "disallowed_schemes"),
                allowed_hosts: cfg.get_list(SECTION, "allowed_hosts"),
                disallowed_hosts: cfg.get_list(SECTION, "disallowed_hosts"),
                allowed_ports: ports(cfg, "allowed_ports", &[80, 443])?,
                disallowed_ports: ports(cfg, "disallowed_ports", &[])?,
            },
            task_time_to_live_hours: cfg.get_int("DEFAULT", "task_time_to_live", 48)?,
        })
    }
}

const SECTION: &str = "import_filtering_opts";

/// A list option, or `default` when it is not set at all (set but empty means empty).
fn list_or(cfg: &Config, section: &str, key: &str, default: &[&str]) -> Vec<String> {
    match cfg.get(section, key) {
        Some(_) => cfg.get_list(section, key),
        None => default.iter().map(|s| s.to_string()).collect(),
    }
}

fn ports(cfg: &Config, key: &str, default: &[u16]) -> Result<Vec<u16>, ConfigError> {
    let defaults: Vec<String> = default.iter().map(u16::to_string).collect();
    let defaults: Vec<&str> = defaults.iter().map(String::as_str).collect();
    list_or(cfg, SECTION, key, &defaults)
        .iter()
        .map(|p| p.parse::<u16>().map_err(|_| ConfigError::Invalid { section: SECTION.into(), key: key.into(), value: p.clone(), message: "not a port number".into() }))
        .collect()
}
