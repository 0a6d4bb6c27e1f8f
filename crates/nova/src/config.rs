//! Nova's options from nova.conf, under upstream's names: `[api_database] connection` (the API
//! database: flavors, key pairs, server groups, quotas, request specs), `[database]
//! connection` (the cell database: instances, actions, faults, compute nodes, services),
//! `[DEFAULT] osapi_compute_listen/osapi_compute_listen_port`, `default_availability_zone`,
//! the `initial_*_allocation_ratio` overcommit defaults, `[scheduler] max_attempts`,
//! `[quota] *`, `[api] max_limit`, `[oslo_policy] policy_file`.

use std::path::PathBuf;

use common::config::{Config, ConfigError};

#[derive(Debug, Clone)]
pub struct NovaConfig {
    pub api_connection: String,
    pub connection: String,
    pub bind: String,
    pub public_endpoint: Option<String>,
    pub policy_file: Option<PathBuf>,
    /// `[api] max_limit`: the largest page a list returns.
    pub max_limit: usize,
    pub default_availability_zone: String,
    pub cpu_allocation_ratio: f64,
    pub ram_allocation_ratio: f64,
    pub disk_allocation_ratio: f64,
    pub reserved_host_memory_mb: i64,
    pub reserved_host_disk_mb: i64,
    pub reserved_host_cpus: i64,
    /// `[scheduler] max_attempts`: builds tried on alternate hosts before ERROR.
    pub max_attempts: u32,
    /// `[DEFAULT] allow_resize_to_same_host`: a resize may land on the host it is on.
    pub allow_resize_to_same_host: bool,
    /// `[DEFAULT] shelved_offload_time`: 0 offloads a shelved server at once, -1 never.
    pub shelved_offload_time: i64,
    /// `[api] enable_instance_password`: answers carry the generated `adminPass`.
    pub enable_instance_password: bool,
    pub quota: QuotaDefaults,
}

/// `[quota]` defaults (-1 = unlimited), as upstream's.
#[derive(Debug, Clone)]
pub struct QuotaDefaults {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
    pub metadata_items: i64,
    pub key_pairs: i64,
    pub server_groups: i64,
    pub server_group_members: i64,
    pub injected_files: i64,
    pub injected_file_content_bytes: i64,
    pub injected_file_path_length: i64,
}

impl NovaConfig {
    pub fn from_config(cfg: &Config, data_dir: &std::path::Path) -> Result<Self, ConfigError> {
        let host = cfg.get_or("DEFAULT", "osapi_compute_listen", "0.0.0.0").to_string();
        let port = cfg.get_int("DEFAULT", "osapi_compute_listen_port", 8774)?;
        let sqlite = |name: &str| format!("sqlite:///{}", data_dir.join(name).display());
        let q = |key: &str, default: i64| cfg.get_int("quota", key, default);
        Ok(Self {
            api_connection: cfg.get("api_database", "connection").map(str::to_string).unwrap_or_else(|| sqlite("nova_api.db")),
            connection: cfg.get("database", "connection").map(str::to_string).unwrap_or_else(|| sqlite("nova.db")),
            bind: format!("{host}:{port}"),
            public_endpoint: cfg.get("DEFAULT", "public_endpoint").filter(|s| !s.is_empty()).map(str::to_string),
            policy_file: cfg.get("oslo_policy", "policy_file").map(PathBuf::from),
            max_limit: cfg.get_int("api", "max_limit", 1000)?.max(1) as usize,
            default_availability_zone: cfg.get_or("DEFAULT", "default_availability_zone", "nova").to_string(),
            cpu_allocation_ratio: cfg.get_float("DEFAULT", "initial_cpu_allocation_ratio", 16.0)?,
            ram_allocation_ratio: cfg.get_float("DEFAULT", "initial_ram_allocation_ratio", 1.5)?,
            disk_allocation_ratio: cfg.get_float("DEFAULT", "initial_disk_allocation_ratio", 1.0)?,
            reserved_host_memory_mb: cfg.get_int("DEFAULT", "reserved_host_memory_mb", 512)?,
            reserved_host_disk_mb: cfg.get_int("DEFAULT", "reserved_host_disk_mb", 0)?,
            reserved_host_cpus: cfg.get_int("DEFAULT", "reserved_host_cpus", 0)?,
            max_attempts: cfg.get_int("scheduler", "max_attempts", 3)?.max(1) as u32,
            allow_resize_to_same_host: cfg.get_bool("DEFAULT", "allow_resize_to_same_host", false)?,
            shelved_offload_time: cfg.get_int("DEFAULT", "shelved_offload_time", 0)?,
            enable_instance_password: cfg.get_bool("api", "enable_instance_password", true)?,
            quota: QuotaDefaults {
                instances: q("instances", 10)?,
                cores: q("cores", 20)?,
                ram: q("ram", 51200)?,
                metadata_items: q("metadata_items", 128)?,
                key_pairs: q("key_pairs", 100)?,
                server_groups: q("server_groups", 10)?,
                server_group_members: q("server_group_members", 10)?,
                injected_files: q("injected_files", 5)?,
                injected_file_content_bytes: q("injected_file_content_bytes", 10240)?,
                injected_file_path_length: q("injected_file_path_length", 255)?,
            },
        })
    }
}
