//! Neutron's options from neutron.conf and ml2_conf.ini (read from one file, as the all-in-one
//! writes them), under upstream's names: `[database] connection`, `[DEFAULT] bind_host/bind_port`,
//! `[ml2] type_drivers, tenant_network_types`, `[ml2_type_vxlan] vni_ranges`,
//! `[ml2_type_vlan] network_vlan_ranges`, `[ml2_type_flat] flat_networks`, `[ml2] path_mtu`,
//! `[quotas] quota_*`, `[oslo_policy] policy_file`, and the Nova notifier's
//! `[DEFAULT] notify_nova_on_port_status_changes/notify_nova_on_port_data_changes` with the
//! `[nova]` section it authenticates with.

use std::path::PathBuf;

use auth::service_auth::ServiceCredentials;
use common::config::{Config, ConfigError};

/// One `physnet:min:max` entry of `network_vlan_ranges` (a physnet with no range may only
/// carry provider networks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanRange {
    pub physical_network: String,
    pub range: Option<(i64, i64)>,
}

#[derive(Debug, Clone)]
pub struct NeutronConfig {
    pub connection: String,
    pub bind: String,
    pub policy_file: Option<PathBuf>,
    /// `[ml2] type_drivers` (default: local, flat, vlan, vxlan, as upstream minus gre/geneve).
    pub type_drivers: Vec<String>,
    /// `[ml2] tenant_network_types`: tried in order for a project network.
    pub tenant_network_types: Vec<String>,
    /// `[ml2_type_vxlan] vni_ranges` as inclusive (min, max).
    pub vni_ranges: Vec<(i64, i64)>,
    pub network_vlan_ranges: Vec<VlanRange>,
    /// `[ml2_type_flat] flat_networks`; `*` allows any physical network name.
    pub flat_networks: Vec<String>,
    /// `[DEFAULT] global_physnet_mtu` (1500): the MTU of flat/vlan/local networks; VXLAN
    /// subtracts its 50-byte overhead.
    pub global_physnet_mtu: i64,
    /// `[quotas] quota_<resource>` (-1 = unlimited).
    pub quotas: Vec<(String, i64)>,
    /// `[DEFAULT] pagination_max_limit` (-1 = unlimited).
    pub pagination_max_limit: Option<usize>,
    /// `[DEFAULT] notify_nova_on_port_status_changes` (true): network-vif-plugged/unplugged.
    pub notify_nova_on_port_status_changes: bool,
    /// `[DEFAULT] notify_nova_on_port_data_changes` (true): network-changed, network-vif-deleted.
    pub notify_nova_on_port_data_changes: bool,
    /// `[nova]`: the service user Neutron tells Nova about port changes as; None without an
    /// `auth_url` (then Nova is not notified).
    pub nova: Option<ServiceCredentials>,
}

/// The resources with quotas and upstream's default limits.
pub const QUOTA_DEFAULTS: &[(&str, i64)] = &[
    ("network", 100),
    ("subnet", 100),
    ("port", 500),
    ("router", 10),
    ("floatingip", 50),
    ("security_group", 10),
    ("security_group_rule", 100),
];

fn invalid(section: &str, key: &str, value: &str, message: &str) -> ConfigError {
    ConfigError::Invalid { section: section.into(), key: key.into(), value: value.into(), message: message.into() }
}

fn parse_range(section: &str, key: &str, entry: &str, lo: &str, hi: &str, max: i64) -> Result<(i64, i64), ConfigError> {
    let a: i64 = lo.trim().parse().map_err(|_| invalid(section, key, entry, "expected MIN:MAX integers"))?;
    let b: i64 = hi.trim().parse().map_err(|_| invalid(section, key, entry, "expected MIN:MAX integers"))?;
    if a < 1 || b > max || a > b {
        return Err(invalid(section, key, entry, &format!("range must lie within 1..{max} with MIN <= MAX")));
    }
    Ok((a, b))
}

/// The `[nova]` section (keystoneauth's password plugin options, `region_name` and
/// `endpoint_type` as upstream); None when it has no `auth_url`.
fn nova_credentials(cfg: &Config) -> Result<Option<ServiceCredentials>, ConfigError> {
    ServiceCredentials::from_section(cfg, "nova", "compute").map_err(|e| invalid("nova", "", "", &e))
}

impl NeutronConfig {
    pub fn from_config(cfg: &Config, data_dir: &std::path::Path) -> Result<Self, ConfigError> {
        let host = cfg.get_or("DEFAULT", "bind_host", "0.0.0.0").to_string();
        let port = cfg.get_int("DEFAULT", "bind_port", 9696)?;
        let connection = cfg
            .get("database", "connection")
            .map(str::to_string)
            .unwrap_or_else(|| format!("sqlite:///{}", data_dir.join("neutron.db").display()));
        let mut type_drivers = cfg.get_list("ml2", "type_drivers");
        if type_drivers.is_empty() {
            type_drivers = ["local", "flat", "vlan", "vxlan"].iter().map(|s| s.to_string()).collect();
        }
        for t in &type_drivers {
            if !["local", "flat", "vlan", "vxlan"].contains(&t.as_str()) {
                return Err(invalid("ml2", "type_drivers", t, "supported type drivers are local, flat, vlan, vxlan"));
            }
        }
        let mut tenant_network_types = cfg.get_list("ml2", "tenant_network_types");
        if tenant_network_types.is_empty() {
            tenant_network_types = vec!["local".to_string()];
        }
        for t in &tenant_network_types {
            if !type_drivers.contains(t) || t == "flat" {
                return Err(invalid("ml2", "tenant_network_types", t, "must be a loaded type driver other than flat"));
            }
        }
        let mut vni_ranges = Vec::new();
        for entry in cfg.get_list("ml2_type_vxlan", "vni_ranges") {
            let (lo, hi) = entry.split_once(':').ok_or_else(|| invalid("ml2_type_vxlan", "vni_ranges", &entry, "expected MIN:MAX"))?;
            vni_ranges.push(parse_range("ml2_type_vxlan", "vni_ranges", &entry, lo, hi, (1 << 24) - 1)?);
        }
        let mut network_vlan_ranges = Vec::new();
        for entry in cfg.get_list("ml2_type_vlan", "network_vlan_ranges") {
            let parts: Vec<&str> = entry.split(':').collect();
            let vr = match parts.as_slice() {
                [p] if !p.is_empty() => VlanRange { physical_network: p.to_string(), range: None },
                [p, lo, hi] if !p.is_empty() => VlanRange { physical_network: p.to_string(), range: Some(parse_range("ml2_type_vlan", "network_vlan_ranges", &entry, lo, hi, 4094)?) },
                _ => return Err(invalid("ml2_type_vlan", "network_vlan_ranges", &entry, "expected PHYSNET or PHYSNET:MIN:MAX")),
            };
            network_vlan_ranges.push(vr);
        }
        let mut quotas = Vec::new();
        for (resource, default) in QUOTA_DEFAULTS {
            quotas.push((resource.to_string(), cfg.get_int("quotas", &format!("quota_{resource}"), *default)?));
        }
        let max = cfg.get_int("DEFAULT", "pagination_max_limit", -1)?;
        let nova = nova_credentials(cfg)?;
        Ok(Self {
            connection,
            bind: format!("{host}:{port}"),
            policy_file: cfg.get("oslo_policy", "policy_file").map(PathBuf::from),
            type_drivers,
            tenant_network_types,
            vni_ranges,
            network_vlan_ranges,
            flat_networks: cfg.get_list("ml2_type_flat", "flat_networks"),
            global_physnet_mtu: cfg.get_int("DEFAULT", "global_physnet_mtu", 1500)?,
            quotas,
            pagination_max_limit: usize::try_from(max).ok().filter(|m| *m > 0),
            notify_nova_on_port_status_changes: cfg.get_bool("DEFAULT", "notify_nova_on_port_status_changes", true)?,
            notify_nova_on_port_data_changes: cfg.get_bool("DEFAULT", "notify_nova_on_port_data_changes", true)?,
            nova,
        })
    }

    /// The default quota of `resource` from config.
    pub fn default_quota(&self, resource: &str) -> Option<i64> {
        self.quotas.iter().find(|(r, _)| r == resource).map(|(_, l)| *l)
    }

    /// Whether `physnet` may carry flat networks.
    pub fn flat_allowed(&self, physnet: &str) -> bool {
        self.flat_networks.iter().any(|p| p == "*" || p == physnet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ml2_options() {
        let cfg = Config::parse(
            "[ml2]\ntenant_network_types = vxlan,vlan\n[ml2_type_vxlan]\nvni_ranges = 1:1000, 2000:2001\n[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:100:199,physnet2\n[ml2_type_flat]\nflat_networks = *\n",
            "t",
        )
        .unwrap();
        let c = NeutronConfig::from_config(&cfg, std::path::Path::new("/tmp")).unwrap();
        assert_eq!(c.vni_ranges, vec![(1, 1000), (2000, 2001)]);
        assert_eq!(c.network_vlan_ranges[0], VlanRange { physical_network: "physnet1".into(), range: Some((100, 199)) });
        assert_eq!(c.network_vlan_ranges[1].range, None);
        assert!(c.flat_allowed("anything"));
        assert_eq!(c.default_quota("port"), Some(500));
        let bad = Config::parse("[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:200:100\n", "t").unwrap();
        assert!(NeutronConfig::from_config(&bad, std::path::Path::new("/tmp")).is_err());
        let bad = Config::parse("[ml2]\ntenant_network_types = gre\n", "t").unwrap();
        assert!(NeutronConfig::from_config(&bad, std::path::Path::new("/tmp")).is_err());
    }

    #[test]
    fn parses_the_nova_notifier_options() {
        let c = NeutronConfig::from_config(&Config::parse("", "t").unwrap(), std::path::Path::new("/tmp")).unwrap();
        assert!(c.nova.is_none() && c.notify_nova_on_port_status_changes && c.notify_nova_on_port_data_changes);
        let cfg = Config::parse(
            "[DEFAULT]\nnotify_nova_on_port_data_changes = false\n[nova]\nauth_url = http://k:5000/v3\nusername = neutron\npassword = pw\nregion_name = RegionOne\nendpoint_type = internal\n",
            "t",
        )
        .unwrap();
        let c = NeutronConfig::from_config(&cfg, std::path::Path::new("/tmp")).unwrap();
        assert!(!c.notify_nova_on_port_data_changes && c.notify_nova_on_port_status_changes);
        let n = c.nova.unwrap();
        assert_eq!((n.username.as_str(), n.project_name.as_str(), n.interface.as_str(), n.region_name.as_deref()), ("neutron", "service", "internal", Some("RegionOne")));
        let bad = Config::parse("[nova]\nauth_url = http://k:5000/v3\nusername = neutron\n", "t").unwrap();
        assert!(NeutronConfig::from_config(&bad, std::path::Path::new("/tmp")).is_err());
    }
}
