//! Flavor extra spec validation from microversion 2.86, as nova/api/validation/extra_specs:
//! a key in a namespace Nova knows must be a key Nova knows, with a value of the right kind;
//! keys outside those namespaces (and keys without a namespace) pass untouched.
//!
//! The subset implemented here: every validator of `hw:`, `hw_rng:`, `hw_video:`, `quota:`,
//! `os:`, `accel:`, `pci_passthrough:`, `vmware:`, `capabilities:`,
//! `aggregate_instance_extra_specs:`, the un-namespaced `hide_hypervisor_id` and
//! `group_policy`, `resources{group}:` with the standard resource classes and `CUSTOM_*`, and
//! `trait{group}:`. One difference: upstream checks trait names against the os-traits
//! catalog; here any upper-case trait name (`[A-Z0-9_]+`) is accepted, since the catalog is
//! not shipped.

use std::sync::OnceLock;

use regex::Regex;

/// What a value must be.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Bool,
    Int { min: Option<i64>, max: Option<i64> },
    Str,
    Enum(&'static [&'static str]),
    Pattern(&'static str),
}

struct Validator {
    /// The key as a regular expression (matched whole).
    name: Regex,
    kind: Kind,
    value_regex: Option<Regex>,
}

const GROUP: &str = "([a-zA-Z0-9_-]{1,64})?";
const CPU_MASK: &str = r"\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*";

/// The standard resource classes (os-resource-classes).
const RESOURCE_CLASSES: &[&str] = &[
    "VCPU", "MEMORY_MB", "DISK_GB", "PCI_DEVICE", "SRIOV_NET_VF", "NUMA_SOCKET", "NUMA_CORE", "NUMA_THREAD", "NUMA_MEMORY_MB", "IPV4_ADDRESS",
    "VGPU", "VGPU_DISPLAY_HEAD", "NET_BW_EGR_KILOBIT_PER_SEC", "NET_BW_IGR_KILOBIT_PER_SEC", "PCPU", "MEM_ENCRYPTION_CONTEXT", "FPGA", "PGPU",
    "NET_PACKET_RATE_KILOPACKET_PER_SEC", "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC", "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
];

const CAPABILITIES: &[&str] = &[
    "id", "uuid", "service_id", "host", "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used", "hypervisor_type",
    "hypervisor_version", "hypervisor_hostname", "free_ram_mb", "free_disk_gb", "current_workload", "running_vms", "disk_available_least", "host_ip",
    "mapped", "cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio", "total_usable_ram_mb", "total_usable_disk_gb", "disk_mb_used",
    "free_disk_mb", "vcpus_total", "num_instances", "num_io_ops", "failed_builds", "aggregates", "cell_uuid", "updated",
];

const CAPABILITIES_WITH_FILTER: &[&str] =
    &["cpu_info", "metrics", "stats", "numa_topology", "supported_hv_specs", "pci_device_pools", "nodename", "pci_stats", "supported_instances", "limits", "instances"];

fn definitions() -> Vec<(String, Kind)> {
    let min = |m: i64| Kind::Int { min: Some(m), max: None };
    let any_int = Kind::Int { min: None, max: None };
    let mut d: Vec<(String, Kind)> = vec![
        ("hw:cpu_realtime".into(), Kind::Bool),
        ("hw:cpu_realtime_mask".into(), Kind::Pattern(r"(\^)?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*")),
        ("hw:hide_hypervisor_id".into(), Kind::Bool),
        ("hw:cpu_policy".into(), Kind::Enum(&["dedicated", "shared", "mixed"])),
        ("hw:cpu_thread_policy".into(), Kind::Enum(&["prefer", "isolate", "require"])),
        ("hw:emulator_threads_policy".into(), Kind::Enum(&["isolate", "share"])),
        ("hw:cpu_dedicated_mask".into(), Kind::Pattern(CPU_MASK)),
        ("hw:mem_page_size".into(), Kind::Pattern(r"(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)")),
        ("hw:locked_memory".into(), Kind::Bool),
        ("hw:numa_nodes".into(), min(1)),
        (r"hw:numa_cpus\.\d+".into(), Kind::Pattern(CPU_MASK)),
        (r"hw:numa_mem\.\d+".into(), min(1)),
        ("hw:pci_numa_affinity_policy".into(), Kind::Enum(&["required", "preferred", "legacy", "socket"])),
        ("hw:cpu_sockets".into(), min(1)),
        ("hw:cpu_cores".into(), min(1)),
        ("hw:cpu_threads".into(), min(1)),
        ("hw:cpu_max_sockets".into(), min(1)),
        ("hw:cpu_max_cores".into(), min(1)),
        ("hw:cpu_max_threads".into(), min(1)),
        ("hw:boot_menu".into(), Kind::Bool),
        ("hw:vif_multiqueue_enabled".into(), Kind::Bool),
        ("hw:mem_encryption".into(), Kind::Bool),
        ("hw:mem_encryption_model".into(), Kind::Enum(&["amd-sev", "amd-sev-es", "amd-sev-snp"])),
        ("hw:pmem".into(), Kind::Pattern("([a-zA-Z0-9_]+(,)?)+")),
        ("hw:pmu".into(), Kind::Bool),
        ("hw:serial_port_count".into(), min(0)),
        ("hw:tpm_model".into(), Kind::Enum(&["tpm-tis", "tpm-crb"])),
        ("hw:tpm_version".into(), Kind::Enum(&["1.2", "2.0"])),
        ("hw:tpm_secret_security".into(), Kind::Enum(&["user", "host", "deployment"])),
        ("hw:watchdog_action".into(), Kind::Enum(&["none", "pause", "poweroff", "reset", "disabled"])),
        ("hw:viommu_model".into(), Kind::Enum(&["intel", "smmuv3", "virtio", "auto"])),
        ("hw:virtio_packed_ring".into(), Kind::Bool),
        ("hw:sound_model".into(), Kind::Enum(&["sb16", "es1370", "pcspk", "ac97", "ich6", "ich9", "usb", "virtio"])),
        ("hw:usb_model".into(), Kind::Enum(&["none", "nec-xhci", "qemu-xhci"])),
        ("hw:redirected_usb_ports".into(), Kind::Int { min: Some(0), max: Some(15) }),
        ("hw:ephemeral_encryption".into(), Kind::Bool),
        ("hw:ephemeral_encryption_format".into(), Kind::Enum(&["plain", "luks", "luksv2"])),
        ("hw_rng:allowed".into(), Kind::Bool),
        ("hw_rng:rate_bytes".into(), min(0)),
        ("hw_rng:rate_period".into(), min(0)),
        ("hw_video:ram_max_mb".into(), min(0)),
        ("os:secure_boot".into(), Kind::Enum(&["disabled", "required"])),
        ("accel:device_profile".into(), Kind::Str),
        ("pci_passthrough:alias".into(), Kind::Pattern(r"[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*")),
        ("vmware:hw_version".into(), Kind::Str),
        ("vmware:storage_policy".into(), Kind::Str),
        ("hide_hypervisor_id".into(), Kind::Bool),
        ("group_policy".into(), Kind::Enum(&["isolate", "none"])),
        ("aggregate_instance_extra_specs:.+".into(), Kind::Str),
        ("quota:cpu_shares".into(), min(0)),
        ("quota:cpu_period".into(), min(0)),
        ("quota:cpu_quota".into(), any_int),
    ];
    for key in ["cpu", "memory", "disk_io", "vif"] {
        d.push((format!("quota:{key}_limit"), min(0)));
        d.push((format!("quota:{key}_reservation"), any_int));
        d.push((format!("quota:{key}_shares_level"), Kind::Enum(&["custom", "high", "normal", "low"])));
        d.push((format!("quota:{key}_shares_share"), min(0)));
    }
    for stat in ["read", "write", "total"] {
        for metric in ["bytes", "iops"] {
            d.push((format!("quota:disk_{stat}_{metric}_sec"), min(0)));
        }
    }
    for stat in ["inbound", "outbound"] {
        for metric in ["average", "peak", "burst"] {
            d.push((format!("quota:vif_{stat}_{metric}"), min(0)));
        }
    }
    for rc in RESOURCE_CLASSES {
        d.push((format!("resources{GROUP}:{rc}"), any_int));
    }
    d.push((format!("resources{GROUP}:CUSTOM_[A-Z0-9_]+"), any_int));
    d.push((format!("trait{GROUP}:[A-Z0-9_]+"), Kind::Enum(&["required", "forbidden"])));
    for c in CAPABILITIES {
        d.push((format!("capabilities:{c}"), Kind::Str));
    }
    for c in CAPABILITIES_WITH_FILTER {
        d.push((format!(r"capabilities:{c}(:\w+)*"), Kind::Str));
    }
    d
}

struct Registry {
    validators: Vec<Validator>,
    namespaces: Vec<Regex>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut validators = Vec::new();
        let mut namespaces: Vec<String> = Vec::new();
        for (name, kind) in definitions() {
            if let Some((ns, _)) = name.split_once(':') {
                if !namespaces.iter().any(|n| n == ns) {
                    namespaces.push(ns.to_string());
                }
            }
            let value_regex = match kind {
                Kind::Pattern(p) => Regex::new(&format!("^(?:{p})$")).ok(),
                _ => None,
            };
            if let Ok(re) = Regex::new(&format!("^(?:{name})$")) {
                validators.push(Validator { name: re, kind, value_regex });
            }
        }
        let namespaces = namespaces.iter().filter_map(|ns| Regex::new(&format!("^(?:{ns})$")).ok()).collect();
        Registry { validators, namespaces }
    })
}

fn bool_like(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "t" | "true" | "on" | "y" | "yes" | "0" | "f" | "false" | "off" | "n" | "no")
}

fn check_value(kind: Kind, value_regex: Option<&Regex>, pattern: &str, value: &str) -> Result<(), String> {
    match kind {
        Kind::Bool if !bool_like(value) => Err(format!("Validation failed; '{value}' is not a valid boolean-like value.")),
        Kind::Int { min, max } => {
            let n: i64 = value.trim().parse().map_err(|_| format!("Validation failed; '{value}' is not a valid integer value."))?;
            if let Some(m) = max.filter(|m| *m < n) {
                return Err(format!("Validation failed; '{n}' is greater than the max value of '{m}'."));
            }
            if let Some(m) = min.filter(|m| *m > n) {
                return Err(format!("Validation failed; '{n}' is less than the min value of '{m}'."));
            }
            Ok(())
        }
        Kind::Enum(values) if !values.contains(&value) => Err(format!("Validation failed; '{value}' is not one of: {}.", values.join(", "))),
        Kind::Pattern(_) if !value_regex.is_some_and(|r| r.is_match(value)) => Err(format!("Validation failed; '{value}' is not of the format '{pattern}'.")),
        _ => Ok(()),
    }
}

/// Validates one extra spec; the error is upstream's message.
pub fn validate(name: &str, value: &str) -> Result<(), String> {
    let reg = registry();
    if let Some(v) = reg.validators.iter().find(|v| v.name.is_match(name)) {
        let pattern = match v.kind {
            Kind::Pattern(p) => p,
            _ => "",
        };
        return check_value(v.kind, v.value_regex.as_ref(), pattern, value);
    }
    let Some((ns, _)) = name.split_once(':') else { return Ok(()) };
    if reg.namespaces.iter().any(|re| re.is_match(ns)) {
        return Err(format!("Validation failed; extra spec '{name}' does not appear to be a valid extra spec."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn known_namespaces_are_checked_and_others_pass() {
        assert!(validate("hw:cpu_policy", "dedicated").is_ok());
        assert!(validate("hw:cpu_policy", "sometimes").is_err());
        assert!(validate("hw:numa_nodes", "0").is_err());
        assert!(validate("hw:numa_cpus.0", "0-3,^2").is_ok());
        assert!(validate("hw:no_such_thing", "1").is_err());
        assert!(validate("hw_rng:allowed", "yes").is_ok());
        assert!(validate("hw_rng:allowed", "maybe").is_err());
        assert!(validate("resources:VCPU", "2").is_ok());
        assert!(validate("resources1:CUSTOM_GOLD", "1").is_ok());
        assert!(validate("resources:NOT_A_CLASS", "1").is_err());
        assert!(validate("trait:HW_CPU_X86_AVX", "required").is_ok());
        assert!(validate("trait:HW_CPU_X86_AVX", "wanted").is_err());
        assert!(validate("quota:disk_read_bytes_sec", "-1").is_err());
        assert!(validate("aggregate_instance_extra_specs:ssd", "true").is_ok());
        assert!(validate("capabilities:cpu_info:arch", "x86_64").is_ok());
        assert!(validate("my_own:key", "anything").is_ok());
        assert!(validate("plainkey", "anything").is_ok());
        assert!(validate("group_policy", "isolate").is_ok());
        assert!(validate("group_policy", "share").is_err());
    }
}
