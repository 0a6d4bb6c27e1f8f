//! A storage device in a ring, and the ways operators name devices on the `swift-ring-builder`
//! command line: search values (`d74`, `z1-1.2.3.4:6200`, `r1z1-127.0.0.1:6200/sdb1`) and add values
//! (`r1z1-127.0.0.1:6200R127.0.0.1:6300/sdb1_meta`). As the device dicts of
//! swift/common/ring/builder.py and the parsers of swift/common/ring/utils.py.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::RingError;

/// One device (a disk, usually) of a ring, as stored in builder and ring files.
///
/// The JSON shape is upstream's device dict, so ring files can be exchanged with Python Swift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredDevice")]
pub struct Device {
    /// Unique among the ring's devices; also the index into the ring's device list.
    pub id: u32,
    /// The region, the widest failure domain.
    pub region: u32,
    /// The zone within the region.
    pub zone: u32,
    /// Address (IP, normalized; or host name) of the server holding the device.
    pub ip: String,
    /// TCP port of the storage server for this device.
    pub port: u16,
    /// Address replication traffic to this device goes to (defaults to `ip`).
    pub replication_ip: String,
    /// Port replication traffic to this device goes to (defaults to `port`).
    pub replication_port: u16,
    /// The device's name on disk under the server's devices root (`sdb1`).
    pub device: String,
    /// Relative weight: how many partitions the builder gives this device compared to others.
    pub weight: f64,
    /// Free-form operator notes.
    pub meta: String,
}

/// What may be in a stored device dict: older upstream files lack the replication address and
/// even the region.
#[derive(Deserialize)]
struct StoredDevice {
    id: u32,
    #[serde(default = "default_region")]
    region: u32,
    zone: u32,
    ip: String,
    port: u16,
    #[serde(default)]
    replication_ip: Option<String>,
    #[serde(default)]
    replication_port: Option<u16>,
    device: String,
    weight: f64,
    #[serde(default)]
    meta: String,
}

fn default_region() -> u32 {
    1
}

impl From<StoredDevice> for Device {
    fn from(stored: StoredDevice) -> Self {
        Device {
            id: stored.id,
            region: stored.region,
            zone: stored.zone,
            replication_ip: stored.replication_ip.unwrap_or_else(|| stored.ip.clone()),
            replication_port: stored.replication_port.unwrap_or(stored.port),
            ip: stored.ip,
            port: stored.port,
            device: stored.device,
            weight: stored.weight,
            meta: stored.meta,
        }
    }
}

impl Device {
    /// The device as the CLI prints it:
    /// `d<id>r<region>z<zone>-<ip>:<port>R<replication_ip>:<replication_port>/<device>_"<meta>"`.
    pub fn display_name(&self) -> String {
        format!(
            "d{}r{}z{}-{}:{}R{}:{}/{}_\"{}\"",
            self.id,
            self.region,
            self.zone,
            bracket_ipv6(&self.ip),
            self.port,
            bracket_ipv6(&self.replication_ip),
            self.replication_port,
            self.device,
            self.meta
        )
    }

    /// The short form upstream uses in tier names and logs: `r1z1-127.0.0.1/sdb1`.
    pub fn tier_name(&self) -> String {
        format!("r{}z{}-{}/{}", self.region, self.zone, self.ip, self.device)
    }
}

/// A device to add to a builder (upstream's dict given to `RingBuilder.add_dev`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewDevice {
    /// The id to use; the lowest free id when `None`.
    pub id: Option<u32>,
    pub region: u32,
    pub zone: u32,
    pub ip: String,
    pub port: u16,
    /// Defaults to `ip`.
    pub replication_ip: Option<String>,
    /// Defaults to `port`.
    pub replication_port: Option<u16>,
    pub device: String,
    pub weight: f64,
    pub meta: String,
}

impl NewDevice {
    /// A device with the required fields; the rest take their defaults.
    pub fn new(region: u32, zone: u32, ip: &str, port: u16, device: &str, weight: f64) -> Self {
        NewDevice {
            id: None,
            region,
            zone,
            ip: ip.to_string(),
            port,
            replication_ip: None,
            replication_port: None,
            device: device.to_string(),
            weight,
            meta: String::new(),
        }
    }
}

/// An add value as the CLI takes it: `[r<region>]z<zone>-<ip>:<port>[R<r_ip>:<r_port>]/<name>[_<meta>]`
/// (upstream's `parse_add_value`). The region is `None` when not given, so the CLI can warn
/// before defaulting it to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct AddValue {
    pub region: Option<u32>,
    pub zone: u32,
    pub ip: String,
    pub port: u16,
    pub replication_ip: Option<String>,
    pub replication_port: Option<u16>,
    pub device: String,
    pub meta: String,
}

impl AddValue {
    /// Parses an add value such as `r1z2-10.1.2.3:6200/sdf` or `z1-[::1]:6200R[::2]:6300/sdb_fast`.
    pub fn parse(value: &str) -> Result<Self, RingError> {
        let invalid = || RingError::InvalidValue(format!("Invalid add value: {value}"));
        let mut rest = value;
        let mut region = None;
        if let Some(after) = rest.strip_prefix('r') {
            let (number, after) = take_number(after).map_err(|_| invalid())?;
            region = Some(number);
            rest = after;
        }
        let after = rest.strip_prefix('z').ok_or_else(invalid)?;
        let (zone, after) = take_number(after).map_err(|_| invalid())?;
        let after = after.strip_prefix('-').ok_or_else(invalid)?;
        let (ip, port, mut rest) = parse_address(after)?;
        let (mut replication_ip, mut replication_port) = (None, None);
        if let Some(after) = rest.strip_prefix('R') {
            let (r_ip, r_port, after) = parse_address(after)?;
            replication_ip = Some(r_ip);
            replication_port = Some(r_port);
            rest = after;
        }
        let rest = rest.strip_prefix('/').ok_or_else(invalid)?;
        let (device, meta) = match rest.find('_') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, ""),
        };
        if !is_valid_device_name(device) {
            return Err(RingError::InvalidValue("Invalid device name".to_string()));
        }
        Ok(AddValue {
            region,
            zone,
            ip,
            port,
            replication_ip,
            replication_port,
            device: device.to_string(),
            meta: meta.to_string(),
        })
    }
}

/// `<ip>:<port>` up to the next `R` or `/` (upstream's `parse_address`), the IP normalized, and
/// what follows.
fn parse_address(value: &str) -> Result<(String, u16, String), RingError> {
    // Upstream drops the first pair of brackets wherever they are, then splits at the last ':'.
    let value = if value.starts_with('[') {
        value.replacen('[', "", 1).replacen(']', "", 1)
    } else {
        value.to_string()
    };
    let end = value.find(['R', '/']).unwrap_or(value.len());
    let (address, rest) = value.split_at(end);
    let colon = address
        .rfind(':')
        .ok_or_else(|| RingError::InvalidValue("Invalid port in add value".to_string()))?;
    let port = address[colon + 1..].parse::<u16>().map_err(|_| {
        RingError::InvalidValue(format!("Invalid port {} in add value", &address[colon..]))
    })?;
    let ip = normalize_ip(&address[..colon])?;
    Ok((ip, port, rest.to_string()))
}

/// A search for devices (upstream's search values): every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceSearch {
    pub id: Option<u32>,
    pub region: Option<u32>,
    pub zone: Option<u32>,
    /// Normalized, as [`normalize_address`] gives it.
    pub ip: Option<String>,
    pub port: Option<u16>,
    pub replication_ip: Option<String>,
    pub replication_port: Option<u16>,
    pub device: Option<String>,
    pub weight: Option<f64>,
    /// Matches devices whose meta contains this text.
    pub meta: Option<String>,
}

impl DeviceSearch {
    /// Parses a search value (upstream's `parse_search_value`):
    ///
    /// `d<device_id>r<region>z<zone>-<ip>:<port>R<r_ip>:<r_port>/<device_name>_<meta>`, every part
    /// optional: `d74`, `r4`, `z1`, `z1-1.2.3.4`, `1.2.3.4`, `z1:5678`, `:5678`, `R5.6.7.8`,
    /// `R:5678`, `/sdb1`, `_shiny`, `[::1]`, `z1-[::1]:5678`.
    pub fn parse(value: &str) -> Result<Self, RingError> {
        let invalid = || RingError::InvalidValue(format!("Invalid <search-value>: {value:?}"));
        let mut search = DeviceSearch::default();
        let mut rest = value;
        if let Some(after) = rest.strip_prefix('d') {
            let (number, after) = take_number(after).map_err(|_| invalid())?;
            search.id = Some(number);
            rest = after;
        }
        if let Some(after) = rest.strip_prefix('r') {
            let (number, after) = take_number(after).map_err(|_| invalid())?;
            search.region = Some(number);
            rest = after;
        }
        if let Some(after) = rest.strip_prefix('z') {
            let (number, after) = take_number(after).map_err(|_| invalid())?;
            search.zone = Some(number);
            rest = after;
        }
        rest = rest.strip_prefix('-').unwrap_or(rest);
        let (ip, after) = take_ip(rest);
        if let Some(ip) = ip {
            search.ip = Some(normalize_ip(&ip)?);
        }
        rest = after;
        if let Some(after) = rest.strip_prefix(':') {
            let (port, after) = take_number(after).map_err(|_| invalid())?;
            search.port = Some(u16::try_from(port).map_err(|_| invalid())?);
            rest = after;
        }
        if let Some(after) = rest.strip_prefix('R') {
            let (ip, after) = take_ip(after);
            if let Some(ip) = ip {
                search.replication_ip = Some(normalize_ip(&ip)?);
            }
            rest = after;
            if let Some(after) = rest.strip_prefix(':') {
                let (port, after) = take_number(after).map_err(|_| invalid())?;
                search.replication_port = Some(u16::try_from(port).map_err(|_| invalid())?);
                rest = after;
            }
        }
        if let Some(after) = rest.strip_prefix('/') {
            let end = after.find('_').unwrap_or(after.len());
            search.device = Some(after[..end].to_string());
            rest = &after[end..];
        }
        if let Some(after) = rest.strip_prefix('_') {
            search.meta = Some(after.to_string());
            rest = "";
        }
        if !rest.is_empty() {
            return Err(invalid());
        }
        Ok(search)
    }

    /// Whether no field is set (such a search matches every device).
    pub fn is_empty(&self) -> bool {
        *self == DeviceSearch::default()
    }

    /// Whether `device` matches every field that is set.
    pub fn matches(&self, device: &Device) -> bool {
        fn same<T: PartialEq>(wanted: &Option<T>, have: &T) -> bool {
            wanted.as_ref().is_none_or(|wanted| wanted == have)
        }
        fn same_address(wanted: &Option<String>, have: &str) -> bool {
            wanted.as_ref().is_none_or(|wanted| {
                normalize_address(have)
                    .map(|have| have == *wanted)
                    .unwrap_or(false)
            })
        }
        same(&self.id, &device.id)
            && same(&self.region, &device.region)
            && same(&self.zone, &device.zone)
            && same_address(&self.ip, &device.ip)
            && same(&self.port, &device.port)
            && same_address(&self.replication_ip, &device.replication_ip)
            && same(&self.replication_port, &device.replication_port)
            && same(&self.device, &device.device)
            && same(&self.weight, &device.weight)
            && self
                .meta
                .as_ref()
                .is_none_or(|meta| device.meta.contains(meta.as_str()))
    }
}

/// Leading decimal digits as a number, and the rest. Upstream's `int('')` fails, so must this.
fn take_number(value: &str) -> Result<(u32, &str), std::num::ParseIntError> {
    let end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let number = value[..end].parse::<u32>()?;
    Ok((number, &value[end..]))
}

/// A leading IPv4-looking run (digits and dots) or a bracketed IPv6 address, and the rest.
fn take_ip(value: &str) -> (Option<String>, &str) {
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        let end = value
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(value.len());
        (Some(value[..end].to_string()), &value[end..])
    } else if let Some(after) = value.strip_prefix('[') {
        let end = after.find(']').map(|at| at + 1).unwrap_or(after.len());
        let ip = after[..end].trim_end_matches(']');
        (Some(ip.to_string()), &after[end..])
    } else {
        (None, value)
    }
}

/// Normalizes an IP address: lower case, and IPv6 in its canonical form, so searches and
/// duplicate checks compare like with like (upstream's `validate_and_normalize_ip`).
pub fn normalize_ip(ip: &str) -> Result<String, RingError> {
    let lower = ip.to_lowercase();
    if lower.parse::<Ipv4Addr>().is_ok() {
        Ok(lower)
    } else if let Ok(v6) = lower.parse::<Ipv6Addr>() {
        Ok(v6.to_string())
    } else {
        Err(RingError::InvalidValue(format!("Invalid ip {ip}")))
    }
}

/// Normalizes an IP address or host name (upstream's `validate_and_normalize_address`):
/// `[...]` must hold an IP; otherwise an IPv4, IPv6 or RFC 1123 host name, in lower case.
pub fn normalize_address(address: &str) -> Result<String, RingError> {
    let stripped = address.trim_start_matches('[').trim_end_matches(']');
    if address.starts_with('[') && address.ends_with(']') {
        return normalize_ip(stripped);
    }
    let lower = stripped.to_lowercase();
    if lower.parse::<Ipv4Addr>().is_ok() {
        Ok(lower)
    } else if let Ok(v6) = lower.parse::<Ipv6Addr>() {
        Ok(v6.to_string())
    } else if is_valid_hostname(&lower) {
        Ok(lower)
    } else {
        Err(RingError::InvalidValue(format!(
            "Invalid address {address}"
        )))
    }
}

/// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
pub fn is_valid_hostname(hostname: &str) -> bool {
    if hostname.is_empty() || hostname.len() > 255 {
        return false;
    }
    let hostname = hostname.strip_suffix('.').unwrap_or(hostname);
    hostname.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// A device name may not be empty nor start or end with a space.
pub fn is_valid_device_name(name: &str) -> bool {
    !(name.is_empty() || name.starts_with(' ') || name.ends_with(' '))
}

/// IPv6 addresses are shown in brackets so the port that follows stays readable.
pub(crate) fn bracket_ipv6(ip: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device {
            id: 3,
            region: 1,
            zone: 2,
            ip: "127.0.0.1".into(),
            port: 6200,
            replication_ip: "10.0.0.1".into(),
            replication_port: 6300,
            device: "sdb1".into(),
            weight: 100.0,
            meta: "fast disk".into(),
        }
    }

    #[test]
    fn search_values_parse_like_upstream() {
        let search = DeviceSearch::parse("d74r4z1-1.2.3.4:5678R5.6.7.8:9/sdb1_snet: x").unwrap();
        assert_eq!(search.id, Some(74));
        assert_eq!(search.region, Some(4));
        assert_eq!(search.zone, Some(1));
        assert_eq!(search.ip.as_deref(), Some("1.2.3.4"));
        assert_eq!(search.port, Some(5678));
        assert_eq!(search.replication_ip.as_deref(), Some("5.6.7.8"));
        assert_eq!(search.replication_port, Some(9));
        assert_eq!(search.device.as_deref(), Some("sdb1"));
        assert_eq!(search.meta.as_deref(), Some("snet: x"));

        let search = DeviceSearch::parse("z1-[::1]:5678").unwrap();
        assert_eq!(search.ip.as_deref(), Some("::1"));
        assert_eq!(search.port, Some(5678));
        assert_eq!(DeviceSearch::parse(":5678").unwrap().port, Some(5678));
        assert_eq!(
            DeviceSearch::parse("R:5678").unwrap().replication_port,
            Some(5678)
        );
        assert!(DeviceSearch::parse("").unwrap().is_empty());
        assert!(DeviceSearch::parse("d").is_err());
        assert!(DeviceSearch::parse("bogus").is_err());
        assert!(DeviceSearch::parse("1.2.3.4.5").is_err());
    }

    #[test]
    fn search_matches_set_fields_only() {
        let dev = device();
        for value in [
            "d3",
            "z2",
            "r1z2-127.0.0.1:6200/sdb1",
            "127.0.0.1",
            "R10.0.0.1:6300",
            "_fast",
            "",
        ] {
            assert!(DeviceSearch::parse(value).unwrap().matches(&dev), "{value}");
        }
        for value in ["d4", "z1", "r1z2-127.0.0.2", ":6201", "/sdc1", "_slow"] {
            assert!(
                !DeviceSearch::parse(value).unwrap().matches(&dev),
                "{value}"
            );
        }
    }

    #[test]
    fn add_values_parse_like_upstream() {
        let add = AddValue::parse("r1z2-10.1.2.3:6200/sdf").unwrap();
        assert_eq!(add.region, Some(1));
        assert_eq!(add.zone, 2);
        assert_eq!(add.ip, "10.1.2.3");
        assert_eq!(add.port, 6200);
        assert_eq!(add.device, "sdf");
        assert_eq!(add.meta, "");
        assert_eq!(add.replication_ip, None);

        let add = AddValue::parse("z1-[::1]:6200R[::2]:6300/sdb_fast one").unwrap();
        assert_eq!(add.region, None);
        assert_eq!(add.ip, "::1");
        assert_eq!(add.replication_ip.as_deref(), Some("::2"));
        assert_eq!(add.replication_port, Some(6300));
        assert_eq!(add.device, "sdb");
        assert_eq!(add.meta, "fast one");

        let add = AddValue::parse("r1z1-[FE80:0000::1]:6200/sdb").unwrap();
        assert_eq!(add.ip, "fe80::1");

        for bad in [
            "z1",
            "1.2.3.4:6200/sdb",
            "z1-1.2.3.4/sdb",
            "z1-1.2.3.4:x/sdb",
            "z1-1.2.3.4:6200",
            "z1-1.2.3.4:6200/",
            "z1-host:6200/sdb",
        ] {
            assert!(AddValue::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_normalize() {
        assert_eq!(normalize_address("[::1]").unwrap(), "::1");
        assert_eq!(
            normalize_address("Storage-1.Example.COM").unwrap(),
            "storage-1.example.com"
        );
        assert_eq!(normalize_address("0:0:0:0:0:0:0:1").unwrap(), "::1");
        assert!(normalize_address("-bad-.example").is_err());
        assert!(normalize_address("[host]").is_err());
    }

    #[test]
    fn device_json_defaults_replication_address() {
        let dev: Device = serde_json::from_str(
            r#"{"id": 0, "zone": 1, "ip": "1.2.3.4", "port": 6200, "device": "sda", "weight": 1.0}"#,
        )
        .unwrap();
        assert_eq!(dev.region, 1);
        assert_eq!(dev.replication_ip, "1.2.3.4");
        assert_eq!(dev.replication_port, 6200);
        assert_eq!(dev.meta, "");
        assert_eq!(
            device().display_name(),
            "d3r1z2-127.0.0.1:6200R10.0.0.1:6300/sdb1_\"fast disk\""
        );
    }
}
