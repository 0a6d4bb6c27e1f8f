//! Bringing services up: the all-in-one (`up`), split serving (`serve`), and the operator
//! commands that work on a service's configuration (db sync, bootstrap, fernet rotation).

use std::path::{Path, PathBuf};

use clap::Args;
use common::config::Config;
use common::request_id::RequestIdHeaders;
use common::server::{Shutdown, ShutdownTrigger};
use keystone::bootstrap::Bootstrap;
use keystone::{KeystoneConfig, SharedApp};

use crate::CliError;

#[derive(Args, Clone)]
pub struct UpArgs {
    /// Where all state lives (databases, keys, config, admin-openrc).
    #[arg(long, default_value = "./ferrostack-data")]
    pub data_dir: PathBuf,
    /// The address services listen on and put in the catalog.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Keystone's port (5000 as upstream).
    #[arg(long, default_value_t = 5000)]
    pub keystone_port: u16,
    /// Glance's port (9292 as upstream).
    #[arg(long, default_value_t = 9292)]
    pub glance_port: u16,
    /// Placement's port (8778 as upstream).
    #[arg(long, default_value_t = 8778)]
    pub placement_port: u16,
    /// Nova's compute API port (8774 as upstream).
    #[arg(long, default_value_t = 8774)]
    pub nova_port: u16,
    /// Neutron's networking API port (9696 as upstream).
    #[arg(long, default_value_t = 9696)]
    pub neutron_port: u16,
    /// Fake compute hosts to run (the fake hypervisor; the QEMU driver comes later).
    #[arg(long, default_value_t = 1)]
    pub fake_computes: usize,
    /// The admin password on first start (default: a random one, kept in DIR/admin-openrc).
    #[arg(long)]
    pub admin_password: Option<String>,
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Comma-separated services to run (keystone, glance, placement, nova, neutron), each configured by its file.
    #[arg(long, value_delimiter = ',', default_value = "keystone")]
    pub services: Vec<String>,
    /// A service config file (oslo.config INI), e.g. keystone.conf.
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Args, Clone)]
pub struct ConfigArgs {
    /// The service's config file (keystone.conf).
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Args, Clone)]
pub struct BootstrapArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, env = "OS_BOOTSTRAP_PASSWORD")]
    pub bootstrap_password: String,
    #[arg(long, default_value = "admin")]
    pub bootstrap_username: String,
    #[arg(long, default_value = "admin")]
    pub bootstrap_project_name: String,
    #[arg(long, default_value = "RegionOne")]
    pub bootstrap_region_id: String,
    #[arg(long)]
    pub bootstrap_public_url: String,
    #[arg(long)]
    pub bootstrap_internal_url: Option<String>,
    #[arg(long)]
    pub bootstrap_admin_url: Option<String>,
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
    let context = context.into();
    move |source| CliError::Io { context, source }
}

/// The data dir a config belongs to (its `[DEFAULT] state_path`, else the file's parent's parent).
fn state_path(cfg: &Config, config_file: &Path) -> PathBuf {
    if let Some(p) = cfg.get("DEFAULT", "state_path") {
        return PathBuf::from(p);
    }
    config_file.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

async fn open_keystone(config_file: &Path) -> Result<(SharedApp, Config), CliError> {
    let cfg = Config::load(config_file)?;
    let kcfg = KeystoneConfig::from_config(&cfg, &state_path(&cfg, config_file))?;
    Ok((keystone::open(kcfg).await?, cfg))
}

fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// The keystone.conf the all-in-one writes on first start (upstream option names).
fn default_keystone_conf(data_dir: &Path, host: &str, port: u16) -> String {
    format!(
        "# Keystone configuration for the Ferrostack all-in-one (oslo.config INI, upstream option names).\n\
[DEFAULT]\n\
state_path = {dir}\n\
# public_endpoint = http://{host}:{port}\n\
\n\
[keystone]\n\
bind = {host}:{port}\n\
\n\
[database]\n\
connection = sqlite:///{dir}/keystone.db\n\
# connection = postgresql://user@127.0.0.1/keystone\n\
# connection = mysql+pymysql://root@127.0.0.1/keystone\n\
\n\
[token]\n\
expiration = 3600\n\
\n\
[fernet_tokens]\n\
key_repository = {dir}/fernet-keys\n\
max_active_keys = 3\n\
\n\
[credential]\n\
key_repository = {dir}/credential-keys\n\
\n\
[identity]\n\
password_hash_rounds = 12\n\
\n\
[security_compliance]\n\
# lockout_failure_attempts = 2\n\
# lockout_duration = 10\n\
# unique_last_password_count = 2\n\
# minimum_password_age = 0\n",
        dir = data_dir.display()
    )
}

/// The glance-api.conf the all-in-one writes on first start.
fn default_glance_conf(data_dir: &Path, host: &str, port: u16) -> String {
    format!(
        "# Glance configuration for the Ferrostack all-in-one (upstream option names).\n\
[DEFAULT]\n\
bind_host = {host}\n\
bind_port = {port}\n\
# image_size_cap = 1099511627776\n\
# user_storage_quota = 0\n\
\n\
[database]\n\
connection = sqlite:///{dir}/glance.db\n\
\n\
[glance_store]\n\
default_store = file\n\
filesystem_store_datadir = {dir}/images\n\
\n\
[os_glance_staging_store]\n\
filesystem_store_datadir = {dir}/image-staging\n\
\n\
# Used by `ferrostack serve --services glance` (the all-in-one validates tokens in-process).\n\
[keystone_authtoken]\n\
# www_authenticate_uri = http://{host}:5000\n\
# auth_url = http://{host}:5000\n\
# username = glance\n\
# password = GLANCE_PASS\n\
# project_name = service\n\
# user_domain_name = Default\n\
# project_domain_name = Default\n",
        dir = data_dir.display()
    )
}

/// The nova.conf the all-in-one writes on first start.
fn default_nova_conf(data_dir: &Path, host: &str, port: u16, keystone_port: u16, password: &str) -> String {
    format!(
        "# Nova configuration for the Ferrostack all-in-one (upstream option names).\n\
[DEFAULT]\n\
osapi_compute_listen = {host}\n\
osapi_compute_listen_port = {port}\n\
# default_availability_zone = nova\n\
# initial_cpu_allocation_ratio = 16.0\n\
# initial_ram_allocation_ratio = 1.5\n\
# initial_disk_allocation_ratio = 1.0\n\
# An all-in-one has one host: a resize may stay on it.\n\
allow_resize_to_same_host = True\n\
# 0: a shelved server lets go of its host at once; -1: never.\n\
# shelved_offload_time = 0\n\
\n\
[api_database]\n\
connection = sqlite:///{dir}/nova_api.db\n\
\n\
[database]\n\
connection = sqlite:///{dir}/nova.db\n\
\n\
[placement]\n\
# The service user Nova reaches Placement (and finds Glance) as; ferrostack up keeps it.\n\
auth_url = http://{host}:{keystone_port}/v3\n\
username = nova\n\
password = {password}\n\
project_name = service\n\
user_domain_name = Default\n\
project_domain_name = Default\n\
region_name = RegionOne\n\
valid_interfaces = public\n\
\n\
[fake_driver]\n\
# What each fake compute host offers, and how it behaves.\n\
vcpus = 8\n\
memory_mb = 16384\n\
local_gb = 200\n\
# op_delay_ms = 0\n\
# fail_spawn = ^doomed\n\
\n\
[quota]\n\
# instances = 10\n\
# cores = 20\n\
# ram = 51200\n\
\n\
# Used by `ferrostack serve --services nova` (the all-in-one validates tokens in-process).\n\
[keystone_authtoken]\n\
# auth_url = http://{host}:5000\n\
# username = nova\n\
# password = NOVA_PASS\n\
# project_name = service\n\
# user_domain_name = Default\n",
        dir = data_dir.display()
    )
}

/// Nova's `[placement]` service credentials.
fn service_credentials(cfg: &Config) -> Result<nova::service_auth::ServiceCredentials, CliError> {
    nova::service_auth::ServiceCredentials::from_section(cfg, "placement", "placement")
        .map_err(|e| CliError::Other(format!("nova.conf: {e}")))?
        .ok_or_else(|| CliError::Other("nova.conf: [placement] auth_url is required".into()))
}

/// `count` fake compute hosts, configured by nova.conf's `[fake_driver]`, their state under
/// the data dir.
fn fake_compute_hosts(cfg: &Config, data_dir: &Path, count: usize) -> Result<Vec<nova::services::ComputeHost>, CliError> {
    let s = "fake_driver";
    let base = cfg.get_or("DEFAULT", "host", "ferrostack").to_string();
    let fail_spawn = match cfg.get(s, "fail_spawn").filter(|p| !p.is_empty()) {
        Some(p) => Some(regex::Regex::new(p).map_err(|e| CliError::Other(format!("nova.conf: [{s}] fail_spawn: {e}")))?),
        None => None,
    };
    let dir = data_dir.join("fake-hypervisors");
    std::fs::create_dir_all(&dir).map_err(io("cannot create the fake hypervisor dir"))?;
    let mut hosts = Vec::new();
    for n in 1..=count {
        let host = if count == 1 { base.clone() } else { format!("{base}-{n}") };
        let driver = nova::virt::fake::FakeDriver::new(nova::virt::fake::FakeConfig {
            hypervisor_hostname: host.clone(),
            vcpus: cfg.get_int(s, "vcpus", 8)?,
            memory_mb: cfg.get_int(s, "memory_mb", 16384)?,
            local_gb: cfg.get_int(s, "local_gb", 200)?,
            op_delay: std::time::Duration::from_millis(cfg.get_int(s, "op_delay_ms", 0)?.max(0) as u64),
            fail_spawn: fail_spawn.clone(),
            state_file: Some(dir.join(format!("{host}.json"))),
        });
        hosts.push(nova::services::ComputeHost { host, driver: std::sync::Arc::new(driver) });
    }
    Ok(hosts)
}

/// Opens Nova (both databases) from its config file.
async fn open_nova(config_file: &Path) -> Result<(nova::SharedApp, Config), CliError> {
    let cfg = Config::load(config_file)?;
    let ncfg = nova::NovaConfig::from_config(&cfg, &state_path(&cfg, config_file))?;
    let app = nova::open(ncfg).await.map_err(|e| CliError::Other(format!("nova: {e}")))?;
    Ok((app, cfg))
}

/// Serves Nova's compute API on `bind` with `validator` checking tokens.
pub async fn start_nova(app: nova::SharedApp, bind: &str, validator: std::sync::Arc<dyn auth::TokenValidator>, shutdown: Shutdown) -> Result<Running, CliError> {
    let (listener, addr) = common::server::bind("nova", bind).await?;
    let router = nova::api::router(app, validator);
    let task = tokio::spawn(common::server::serve_with(
        "nova",
        listener,
        router,
        // Nova also answers with its legacy header (clients and Tempest read it).
        RequestIdHeaders(&["x-openstack-request-id", "x-compute-request-id"]),
        common::server::ServeOptions { strip_trailing_slash: true, rewrite: Some(nova::api::strip_project_id) },
        shutdown,
    ));
    Ok(Running { url: format!("http://{addr}"), task })
}

/// Opens Glance from its config file.
async fn open_glance(config_file: &Path) -> Result<(glance::SharedApp, Config), CliError> {
    let cfg = Config::load(config_file)?;
    let gcfg = glance::GlanceConfig::from_config(&cfg, &state_path(&cfg, config_file))?;
    let app = glance::open(gcfg).await.map_err(|e| CliError::Other(format!("glance: {e}")))?;
    Ok((app, cfg))
}

/// Serves Glance on `bind` with `validator` checking tokens.
pub async fn start_glance(app: glance::SharedApp, bind: &str, validator: std::sync::Arc<dyn auth::TokenValidator>, shutdown: Shutdown) -> Result<Running, CliError> {
    let (listener, addr) = common::server::bind("glance", bind).await?;
    let router = glance::api::router(app, validator);
    let task = tokio::spawn(common::server::serve_with(
        "glance",
        listener,
        router,
        RequestIdHeaders::default(),
        common::server::ServeOptions { strip_trailing_slash: false, rewrite: None },
        shutdown,
    ));
    Ok(Running { url: format!("http://{addr}"), task })
}

/// The placement.conf the all-in-one writes on first start (upstream option names; upstream
/// runs under a WSGI server, so `bind_host`/`bind_port` are ours).
fn default_placement_conf(data_dir: &Path, host: &str, port: u16) -> String {
    format!(
        "# Placement configuration for the Ferrostack all-in-one (upstream option names).\n\
[DEFAULT]\n\
bind_host = {host}\n\
bind_port = {port}\n\
\n\
[placement_database]\n\
connection = sqlite:///{dir}/placement.db\n\
# connection = postgresql://user@127.0.0.1/placement\n\
# connection = mysql+pymysql://root@127.0.0.1/placement\n\
\n\
[placement]\n\
# randomize_allocation_candidates = false\n\
\n\
# Used by `ferrostack serve --services placement` (the all-in-one validates tokens in-process).\n\
[keystone_authtoken]\n\
# auth_url = http://{host}:5000\n\
# username = placement\n\
# password = PLACEMENT_PASS\n\
# project_name = service\n\
# user_domain_name = Default\n\
# project_domain_name = Default\n",
        dir = data_dir.display()
    )
}

/// Opens Placement from its config file.
async fn open_placement(config_file: &Path) -> Result<(placement::SharedApp, Config), CliError> {
    let cfg = Config::load(config_file)?;
    let pcfg = placement::PlacementConfig::from_config(&cfg, &state_path(&cfg, config_file))?;
    let app = placement::open(pcfg).await.map_err(|e| CliError::Other(format!("placement: {e}")))?;
    Ok((app, cfg))
}

/// Serves Placement on `bind` with `validator` checking tokens.
pub async fn start_placement(app: placement::SharedApp, bind: &str, validator: std::sync::Arc<dyn auth::TokenValidator>, shutdown: Shutdown) -> Result<Running, CliError> {
    let (listener, addr) = common::server::bind("placement", bind).await?;
    let router = placement::api::router(app, validator);
    let task = tokio::spawn(common::server::serve("placement", listener, router, RequestIdHeaders::default(), shutdown));
    Ok(Running { url: format!("http://{addr}"), task })
}

/// The neutron.conf the all-in-one writes on first start: neutron.conf and ml2_conf.ini's
/// options in one file, under upstream's names. Project networks are VXLAN (VNIs 1-1000),
/// and any physical network may carry a flat provider network (the install guide's
/// `provider` network), as the self-service option of the install guide sets up.
/// The `[nova]` section names the `neutron` service user that tells Nova about ports
/// (`ferrostack up` keeps it); without an `auth_url` there, Nova is not notified.
fn default_neutron_conf(data_dir: &Path, host: &str, port: u16, keystone_port: u16, password: &str) -> String {
    format!(
        "# Neutron configuration for the Ferrostack all-in-one (neutron.conf + ml2_conf.ini, upstream option names).\n\
[DEFAULT]\n\
bind_host = {host}\n\
bind_port = {port}\n\
# global_physnet_mtu = 1500\n\
\n\
[database]\n\
connection = sqlite:///{dir}/neutron.db\n\
# connection = postgresql://user@127.0.0.1/neutron\n\
# connection = mysql+pymysql://root@127.0.0.1/neutron\n\
\n\
[ml2]\n\
type_drivers = local,flat,vlan,vxlan\n\
tenant_network_types = vxlan\n\
\n\
[ml2_type_flat]\n\
flat_networks = *\n\
\n\
[ml2_type_vlan]\n\
# network_vlan_ranges = physnet1:100:199\n\
\n\
[ml2_type_vxlan]\n\
vni_ranges = 1:1000\n\
\n\
[quotas]\n\
# quota_network = 100\n\
# quota_port = 500\n\
\n\
[nova]\n\
# The service user Neutron tells Nova about port changes as (os-server-external-events);\n\
# ferrostack up keeps it. [DEFAULT] notify_nova_on_port_status_changes and\n\
# notify_nova_on_port_data_changes (both true) choose which changes.\n\
auth_url = http://{host}:{keystone_port}/v3\n\
username = neutron\n\
password = {password}\n\
project_name = service\n\
user_domain_name = Default\n\
project_domain_name = Default\n\
region_name = RegionOne\n\
endpoint_type = public\n\
\n\
# Used by `ferrostack serve --services neutron` (the all-in-one validates tokens in-process).\n\
[keystone_authtoken]\n\
# auth_url = http://{host}:5000\n\
# username = neutron\n\
# password = NEUTRON_PASS\n\
# project_name = service\n\
# user_domain_name = Default\n\
# project_domain_name = Default\n",
        dir = data_dir.display()
    )
}

/// Opens Neutron from its config file.
async fn open_neutron(config_file: &Path) -> Result<(neutron::SharedApp, Config), CliError> {
    let cfg = Config::load(config_file)?;
    let ncfg = neutron::NeutronConfig::from_config(&cfg, &state_path(&cfg, config_file))?;
    let app = neutron::open(ncfg).await.map_err(|e| CliError::Other(format!("neutron: {e}")))?;
    Ok((app, cfg))
}

/// Serves Neutron on `bind` with `validator` checking tokens.
pub async fn start_neutron(app: neutron::SharedApp, bind: &str, validator: std::sync::Arc<dyn auth::TokenValidator>, shutdown: Shutdown) -> Result<Running, CliError> {
    let (listener, addr) = common::server::bind("neutron", bind).await?;
    let router = neutron::router(app, validator);
    let task = tokio::spawn(common::server::serve("neutron", listener, router, RequestIdHeaders::default(), shutdown));
    Ok(Running { url: format!("http://{addr}"), task })
}

/// The `[keystone_authtoken]` validator for a split deployment.
fn remote_validator(cfg: &Config) -> Result<std::sync::Arc<dyn auth::TokenValidator>, CliError> {
    let s = "keystone_authtoken";
    let need = |k: &str| cfg.get(s, k).map(str::to_string).ok_or_else(|| CliError::Other(format!("[{s}] {k} is required to validate tokens against Keystone")));
    let auth_url = need("auth_url")?;
    let auth_url = if auth_url.trim_end_matches('/').ends_with("/v3") { auth_url } else { format!("{}/v3", auth_url.trim_end_matches('/')) };
    let cache = cfg.get_int(s, "token_cache_time", 300)?.max(0) as u64;
    Ok(std::sync::Arc::new(auth::KeystoneValidator::new(
        &auth_url,
        &need("username")?,
        &need("password")?,
        &need("project_name")?,
        cfg.get_or(s, "user_domain_name", "Default"),
        std::time::Duration::from_secs(cache),
    )))
}

fn admin_openrc(host: &str, port: u16, password: &str) -> String {
    format!(
        "export OS_PROJECT_DOMAIN_NAME=Default\n\
export OS_USER_DOMAIN_NAME=Default\n\
export OS_PROJECT_NAME=admin\n\
export OS_USERNAME=admin\n\
export OS_PASSWORD={password}\n\
export OS_AUTH_URL=http://{host}:{port}/v3\n\
export OS_IDENTITY_API_VERSION=3\n\
export OS_IMAGE_API_VERSION=2\n\
export OS_REGION_NAME=RegionOne\n"
    )
}

fn password_from_openrc(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| l.strip_prefix("export OS_PASSWORD=").map(str::to_string))
}

/// A running Keystone listener.
pub struct Running {
    pub url: String,
    pub task: tokio::task::JoinHandle<Result<(), common::server::ServeError>>,
}

/// Serves Keystone on `bind`; returns once listening.
pub async fn start_keystone(app: SharedApp, bind: &str, shutdown: Shutdown) -> Result<Running, CliError> {
    let (listener, addr) = common::server::bind("keystone", bind).await?;
    let router = keystone::api::router(app);
    let task = tokio::spawn(common::server::serve("keystone", listener, router, RequestIdHeaders::default(), shutdown));
    Ok(Running { url: format!("http://{addr}"), task })
}

pub async fn wait_for_signal(trigger: ShutdownTrigger) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                let _ = ctrl_c.await;
                trigger.trigger();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    trigger.trigger();
}

pub async fn up(a: UpArgs) -> Result<(), CliError> {
    std::fs::create_dir_all(&a.data_dir).map_err(io(format!("cannot create data dir {}", a.data_dir.display())))?;
    let data_dir = std::fs::canonicalize(&a.data_dir).map_err(io("cannot resolve the data dir"))?;
    let etc = data_dir.join("etc");
    std::fs::create_dir_all(&etc).map_err(io("cannot create the config dir"))?;
    let kconf = crate::config_path(&etc, "keystone");
    if !kconf.exists() {
        std::fs::write(&kconf, default_keystone_conf(&data_dir, &a.host, a.keystone_port)).map_err(io("cannot write keystone.conf"))?;
    }
    let (app, cfg) = open_keystone(&kconf).await?;
    let openrc = data_dir.join("admin-openrc");
    let password = password_from_openrc(&openrc).or(a.admin_password.clone()).unwrap_or_else(random_password);
    let bind = cfg.get("keystone", "bind").map(str::to_string).unwrap_or_else(|| format!("{}:{}", a.host, a.keystone_port));
    let public = format!("http://{}:{}", a.host, bind.rsplit(':').next().unwrap_or("5000"));
    app.bootstrap(&Bootstrap {
        admin_username: "admin".into(),
        admin_password: password.clone(),
        project_name: "admin".into(),
        region_id: "RegionOne".into(),
        public_url: format!("{public}/v3/"),
        internal_url: format!("{public}/v3/"),
        admin_url: format!("{public}/v3/"),
    })
    .await?;
    let port: u16 = bind.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(a.keystone_port);
    std::fs::write(&openrc, admin_openrc(&a.host, port, &password)).map_err(io("cannot write admin-openrc"))?;
    let gconf = crate::config_path(&etc, "glance-api");
    if !gconf.exists() {
        std::fs::write(&gconf, default_glance_conf(&data_dir, &a.host, a.glance_port)).map_err(io("cannot write glance-api.conf"))?;
    }
    let (glance_app, gcfg) = open_glance(&gconf).await?;
    let glance_port = gcfg.get_int("DEFAULT", "bind_port", i64::from(a.glance_port))?;
    let glance_bind = format!("{}:{}", gcfg.get_or("DEFAULT", "bind_host", &a.host), glance_port);
    let glance_url = format!("http://{}:{}", a.host, glance_port);
    app.register_service("glance", "image", "OpenStack Image", "RegionOne", &[("public", &glance_url), ("internal", &glance_url), ("admin", &glance_url)]).await?;
    let pconf = crate::config_path(&etc, "placement");
    if !pconf.exists() {
        std::fs::write(&pconf, default_placement_conf(&data_dir, &a.host, a.placement_port)).map_err(io("cannot write placement.conf"))?;
    }
    let (placement_app, pcfg) = open_placement(&pconf).await?;
    let placement_port = pcfg.get_int("DEFAULT", "bind_port", i64::from(a.placement_port))?;
    let placement_bind = format!("{}:{}", pcfg.get_or("DEFAULT", "bind_host", &a.host), placement_port);
    let placement_url = format!("http://{}:{}", a.host, placement_port);
    app.register_service("placement", "placement", "Placement API", "RegionOne", &[("public", &placement_url), ("internal", &placement_url), ("admin", &placement_url)]).await?;
    let nconf = crate::config_path(&etc, "nova");
    if !nconf.exists() {
        std::fs::write(&nconf, default_nova_conf(&data_dir, &a.host, a.nova_port, port, &random_password())).map_err(io("cannot write nova.conf"))?;
    }
    let (nova_app, ncfg) = open_nova(&nconf).await?;
    let nova_port = ncfg.get_int("DEFAULT", "osapi_compute_listen_port", i64::from(a.nova_port))?;
    let nova_bind = format!("{}:{}", ncfg.get_or("DEFAULT", "osapi_compute_listen", &a.host), nova_port);
    let nova_url = format!("http://{}:{}/v2.1", a.host, nova_port);
    app.register_service("nova", "compute", "OpenStack Compute", "RegionOne", &[("public", &nova_url), ("internal", &nova_url), ("admin", &nova_url)]).await?;
    let nova_creds = service_credentials(&ncfg)?;
    app.ensure_service_user(&nova_creds.username, &nova_creds.password).await?;
    let qconf = crate::config_path(&etc, "neutron");
    if !qconf.exists() {
        std::fs::write(&qconf, default_neutron_conf(&data_dir, &a.host, a.neutron_port, port, &random_password())).map_err(io("cannot write neutron.conf"))?;
    }
    let (neutron_app, qcfg) = open_neutron(&qconf).await?;
    if let Some(n) = &neutron_app.cfg.nova {
        app.ensure_service_user(&n.username, &n.password).await?;
    }
    let neutron_port = qcfg.get_int("DEFAULT", "bind_port", i64::from(a.neutron_port))?;
    let neutron_bind = format!("{}:{}", qcfg.get_or("DEFAULT", "bind_host", &a.host), neutron_port);
    let neutron_url = format!("http://{}:{}", a.host, neutron_port);
    app.register_service("neutron", "network", "OpenStack Networking", "RegionOne", &[("public", &neutron_url), ("internal", &neutron_url), ("admin", &neutron_url)]).await?;

    let (trigger, shutdown) = Shutdown::new();
    let ks = start_keystone(app.clone(), &bind, shutdown.clone()).await?;
    let validator: std::sync::Arc<dyn auth::TokenValidator> = std::sync::Arc::new(keystone::validator::LocalValidator(app.clone()));
    let gl = start_glance(glance_app.clone(), &glance_bind, validator.clone(), shutdown.clone()).await?;
    let pl = start_placement(placement_app.clone(), &placement_bind, validator.clone(), shutdown.clone()).await?;
    let nv = start_nova(nova_app.clone(), &nova_bind, validator.clone(), shutdown.clone()).await?;
    let nt = start_neutron(neutron_app.clone(), &neutron_bind, validator, shutdown.clone()).await?;
    let hosts = fake_compute_hosts(&ncfg, &data_dir, a.fake_computes)?;
    let host_count = hosts.len();
    let nova_auth = std::sync::Arc::new(nova::service_auth::ServiceAuth::new(nova_creds));
    nova::services::start(nova_app.clone(), std::sync::Arc::new(bus::InProcessBus::new()), nova_auth, hosts).await.map_err(|e| CliError::Other(format!("nova services: {e}")))?;
    println!("Ferrostack is up. Data dir: {}", data_dir.display());
    println!("  keystone  (identity v3)   {}/v3", ks.url);
    println!("  glance    (image v2)      {}", gl.url);
    println!("  placement (placement 1.x) {}", pl.url);
    println!("  nova      (compute v2.1)  {}/v2.1   ({host_count} fake compute host(s))", nv.url);
    println!("  neutron   (network v2.0)  {}", nt.url);
    println!("Credentials: . {}", openrc.display());
    tokio::spawn(wait_for_signal(trigger));
    for (name, task) in [("keystone", ks.task), ("glance", gl.task), ("placement", pl.task), ("nova", nv.task), ("neutron", nt.task)] {
        match task.await {
            Ok(r) => r?,
            Err(e) => return Err(CliError::Other(format!("{name} task failed: {e}"))),
        }
    }
    app.db.close().await;
    glance_app.db.close().await;
    placement_app.db.close().await;
    nova_app.api_db.close().await;
    nova_app.db.close().await;
    neutron_app.db.close().await;
    println!("Ferrostack stopped.");
    Ok(())
}

pub async fn serve(a: ServeArgs) -> Result<(), CliError> {
    let (trigger, shutdown) = Shutdown::new();
    let mut tasks = Vec::new();
    for s in &a.services {
        match s.as_str() {
            "keystone" => {
                let (app, cfg) = open_keystone(&a.config).await?;
                let bind = cfg.get("keystone", "bind").unwrap_or("0.0.0.0:5000").to_string();
                let r = start_keystone(app, &bind, shutdown.clone()).await?;
                println!("keystone listening on {}", r.url);
                tasks.push(r.task);
            }
            "glance" => {
                let (app, cfg) = open_glance(&a.config).await?;
                let bind = format!("{}:{}", cfg.get_or("DEFAULT", "bind_host", "0.0.0.0"), cfg.get_int("DEFAULT", "bind_port", 9292)?);
                let r = start_glance(app, &bind, remote_validator(&cfg)?, shutdown.clone()).await?;
                println!("glance listening on {}", r.url);
                tasks.push(r.task);
            }
            "placement" => {
                let (app, cfg) = open_placement(&a.config).await?;
                let bind = format!("{}:{}", cfg.get_or("DEFAULT", "bind_host", "0.0.0.0"), cfg.get_int("DEFAULT", "bind_port", 8778)?);
                let r = start_placement(app, &bind, remote_validator(&cfg)?, shutdown.clone()).await?;
                println!("placement listening on {}", r.url);
                tasks.push(r.task);
            }
            "nova" => {
                let (app, cfg) = open_nova(&a.config).await?;
                let bind = format!("{}:{}", cfg.get_or("DEFAULT", "osapi_compute_listen", "0.0.0.0"), cfg.get_int("DEFAULT", "osapi_compute_listen_port", 8774)?);
                let r = start_nova(app, &bind, remote_validator(&cfg)?, shutdown.clone()).await?;
                println!("nova listening on {}", r.url);
                tasks.push(r.task);
            }
            "neutron" => {
                let (app, cfg) = open_neutron(&a.config).await?;
                let bind = format!("{}:{}", cfg.get_or("DEFAULT", "bind_host", "0.0.0.0"), cfg.get_int("DEFAULT", "bind_port", 9696)?);
                let r = start_neutron(app, &bind, remote_validator(&cfg)?, shutdown.clone()).await?;
                println!("neutron listening on {}", r.url);
                tasks.push(r.task);
            }
            other => return Err(CliError::Other(format!("unknown service '{other}' (available: keystone, glance, placement, nova, neutron)"))),
        }
    }
    tokio::spawn(wait_for_signal(trigger));
    for t in tasks {
        match t.await {
            Ok(r) => r?,
            Err(e) => return Err(CliError::Other(format!("service task failed: {e}"))),
        }
    }
    Ok(())
}

pub async fn db_sync(a: ConfigArgs) -> Result<(), CliError> {
    let cfg = Config::load(&a.config)?;
    // placement.conf (upstream's `placement-manage db sync`): known by its database section.
    if cfg.get("placement_database", "connection").is_some() || a.config.file_stem().is_some_and(|s| s == "placement") {
        let pcfg = placement::PlacementConfig::from_config(&cfg, &state_path(&cfg, &a.config))?;
        let n = placement::db_sync(&pcfg.connection).await.map_err(|e| CliError::Other(format!("placement: {e}")))?;
        println!("placement database is up to date ({n} migrations applied)");
        return Ok(());
    }
    // neutron.conf (upstream's `neutron-db-manage upgrade heads`): known by its ML2 section or name.
    if cfg.get("ml2", "tenant_network_types").is_some() || cfg.get("ml2", "type_drivers").is_some() || a.config.file_stem().is_some_and(|s| s == "neutron") {
        let ncfg = neutron::NeutronConfig::from_config(&cfg, &state_path(&cfg, &a.config))?;
        let n = neutron::db_sync(&ncfg.connection).await.map_err(|e| CliError::Other(format!("neutron: {e}")))?;
        println!("neutron database is up to date ({n} migrations applied)");
        return Ok(());
    }
    let kcfg = KeystoneConfig::from_config(&cfg, &state_path(&cfg, &a.config))?;
    keystone::db_sync(&kcfg.connection).await?;
    println!("keystone database is up to date");
    Ok(())
}

pub async fn bootstrap(a: BootstrapArgs) -> Result<(), CliError> {
    let (app, _) = open_keystone(&a.config).await?;
    let public = a.bootstrap_public_url.clone();
    app.bootstrap(&Bootstrap {
        admin_username: a.bootstrap_username,
        admin_password: a.bootstrap_password,
        project_name: a.bootstrap_project_name,
        region_id: a.bootstrap_region_id,
        internal_url: a.bootstrap_internal_url.unwrap_or_else(|| public.clone()),
        admin_url: a.bootstrap_admin_url.unwrap_or_else(|| public.clone()),
        public_url: public,
    })
    .await?;
    println!("bootstrap complete");
    Ok(())
}

pub async fn fernet_rotate(a: ConfigArgs) -> Result<(), CliError> {
    let (app, _) = open_keystone(&a.config).await?;
    app.fernet_keys.rotate().map_err(|e| CliError::Other(e.to_string()))?;
    println!("rotated Fernet keys in {}", app.fernet_keys.dir().display());
    Ok(())
}

pub async fn fernet_setup(a: ConfigArgs) -> Result<(), CliError> {
    let (app, _) = open_keystone(&a.config).await?;
    println!("Fernet key repository ready in {}", app.fernet_keys.dir().display());
    Ok(())
}

/// Builds an all-in-one Keystone in `data_dir` on an ephemeral port (for benchmarks and tests).
pub async fn ephemeral_keystone(data_dir: &Path, password: &str, hash_rounds: u32, shutdown: Shutdown) -> Result<(SharedApp, Running), CliError> {
    let etc = data_dir.join("etc");
    std::fs::create_dir_all(&etc).map_err(io("cannot create the config dir"))?;
    let kconf = crate::config_path(&etc, "keystone");
    let text = default_keystone_conf(data_dir, "127.0.0.1", 0).replace("password_hash_rounds = 12", &format!("password_hash_rounds = {hash_rounds}"));
    std::fs::write(&kconf, text).map_err(io("cannot write keystone.conf"))?;
    let (app, _) = open_keystone(&kconf).await?;
    let running = start_keystone(app.clone(), "127.0.0.1:0", shutdown).await?;
    app.bootstrap(&Bootstrap {
        admin_username: "admin".into(),
        admin_password: password.into(),
        project_name: "admin".into(),
        region_id: "RegionOne".into(),
        public_url: format!("{}/v3/", running.url),
        internal_url: format!("{}/v3/", running.url),
        admin_url: format!("{}/v3/", running.url),
    })
    .await?;
    Ok((app, running))
}
