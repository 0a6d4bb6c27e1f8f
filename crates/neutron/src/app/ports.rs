//! Ports (neutron/db/db_base_plugin_v2.py, ipam_pluggable_backend.py, ML2's port binding):
//! MACs on upstream's `fa:16:3e` base, fixed IPs from IPAM, security groups (the project's
//! default group unless told otherwise), allowed address pairs, port security, and the
//! binding attributes. Without a dataplane agent, a port bound to a host is reported bound by
//! the all-in-one's fake L2 agent (its `binding:vif_details` say so) and goes ACTIVE.
//!
//! Never the same address twice: an address is taken by inserting its `ipallocations` row,
//! whose key is (network_id, ip_address); a concurrent request that picked the same address
//! fails on that key and runs again with a fresh view of what is free.
//!
//! After each committed change, Nova is told what it cares about (the port of a server going
//! ACTIVE, its addresses changing, its deletion): see `notifiers::nova`.

use std::collections::HashSet;

use auth::RequestContext;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::input::{invalid, Input};
use super::ipam::{free_addresses, Cidr, Ip};
use super::subnets::{cidr_of, pools_of};
use super::{bump_revision, check_revision, standard_attributes, str_of, App};
use crate::db::records::{record_delete, record_get_tx, record_insert, record_list_by_tx, record_update};
use crate::db::security_groups::port_security_group_set;
use crate::db::{ipam as ipdb, Kind};
use crate::error::{NeutronError, Result};
use crate::notifiers::nova::{self, NovaEvent};

const CREATE: &[&str] = &[
    "name", "description", "network_id", "admin_state_up", "mac_address", "fixed_ips", "device_id", "device_owner", "binding:host_id", "binding:vnic_type",
    "binding:profile", "security_groups", "allowed_address_pairs", "port_security_enabled", "extra_dhcp_opts", "project_id", "tenant_id",
];
const UPDATE: &[&str] = &[
    "name", "description", "admin_state_up", "mac_address", "fixed_ips", "device_id", "device_owner", "binding:host_id", "binding:vnic_type", "binding:profile",
    "security_groups", "allowed_address_pairs", "port_security_enabled", "extra_dhcp_opts",
];
const READ_ONLY: &[&str] = &["id", "network_id", "status", "project_id", "tenant_id", "binding:vif_type", "binding:vif_details", "created_at", "updated_at", "revision_number", "tags"];
const VNIC_TYPES: &[&str] = &["normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder", "smart-nic", "vdpa", "accelerator-direct", "accelerator-direct-physical", "remote-managed"];

/// Owners whose ports are the network's own plumbing (routers, DHCP, floating IPs).
pub fn is_network_owned(device_owner: &str) -> bool {
    device_owner.starts_with("network:")
}

pub fn is_router_port(device_owner: &str) -> bool {
    matches!(device_owner, "network:router_interface" | "network:router_interface_distributed" | "network:ha_router_replicated_interface" | "network:router_gateway")
}

fn random_mac() -> String {
    let mut rng = rand::thread_rng();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", rng.gen::<u8>(), rng.gen::<u8>(), rng.gen::<u8>())
}

fn valid_mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 || !parts.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit())) {
        return None;
    }
    let mac = parts.join(":").to_ascii_lowercase();
    // Multicast and all-zero addresses cannot be a port's.
    let first = u8::from_str_radix(parts[0], 16).ok()?;
    if first & 1 == 1 || mac == "00:00:00:00:00:00" {
        return None;
    }
    Some(mac)
}

/// An EUI-64 address from the MAC for SLAAC subnets (RFC 4291 appendix A, as netaddr).
fn eui64(cidr: &Cidr, mac: &str) -> Option<Ip> {
    let b: Vec<u8> = mac.split(':').map(|p| u8::from_str_radix(p, 16)).collect::<Result<_, _>>().ok()?;
    let iid: u128 = (u128::from(b[0] ^ 0x02) << 56) | (u128::from(b[1]) << 48) | (u128::from(b[2]) << 40) | (0xfffe_u128 << 24) | (u128::from(b[3]) << 16) | (u128::from(b[4]) << 8) | u128::from(b[5]);
    Some(Ip { value: cidr.network.value | iid, v6: true })
}

fn is_slaac(subnet: &Value) -> bool {
    matches!(str_of(subnet, "ipv6_address_mode"), "slaac" | "dhcpv6-stateless")
}

/// Applies requested `extra_dhcp_opts` to `current` (the extra_dhcp_opt extension): an
/// option is keyed by name and IP version; a null value removes it.
fn dhcp_opts(list: &[Value], current: &[Value]) -> Result<Vec<Value>> {
    let mut out: Vec<Value> = current.to_vec();
    for o in list {
        let name = o.get("opt_name").and_then(Value::as_str).filter(|n| !n.trim().is_empty()).ok_or_else(|| invalid("extra_dhcp_opts", format!("Invalid data format for extra-dhcp-opt: {o}")))?;
        let version = match o.get("ip_version") {
            None | Some(Value::Null) => 4,
            Some(v) => super::input::int_of(v).filter(|v| *v == 4 || *v == 6).ok_or_else(|| invalid("extra_dhcp_opts", format!("'{v}' is not in [4, 6]")))?,
        };
        out.retain(|e| !(str_of(e, "opt_name") == name && e["ip_version"] == json!(version)));
        match o.get("opt_value") {
            None | Some(Value::Null) => {}
            Some(Value::String(v)) => out.push(json!({"opt_name": name, "opt_value": v, "ip_version": version})),
            Some(v) => return Err(invalid("extra_dhcp_opts", format!("'{v}' is not a valid string"))),
        }
    }
    Ok(out)
}

/// What a request asks for in one `fixed_ips` entry.
#[derive(Debug, Clone)]
struct FixedIpRequest {
    subnet_id: Option<String>,
    ip_address: Option<String>,
}

fn fixed_ip_requests(list: &[Value]) -> Result<Vec<FixedIpRequest>> {
    list.iter()
        .map(|f| {
            let subnet_id = f.get("subnet_id").and_then(Value::as_str).map(str::to_string);
            let ip_address = f.get("ip_address").and_then(Value::as_str).map(str::to_string);
            if subnet_id.is_none() && ip_address.is_none() {
                return Err(invalid("fixed_ips", format!("Invalid data format for fixed IP: '{f}'")));
            }
            if let Some(ip) = &ip_address {
                if Ip::parse(ip).is_none() {
                    return Err(invalid("fixed_ips", format!("'{ip}' is not a valid IP address")));
                }
            }
            Ok(FixedIpRequest { subnet_id, ip_address })
        })
        .collect()
}

impl App {
    /// One free address of `subnet`, taken for `port_id`; None when the pools are full.
    async fn allocate_from_subnet(tx: &mut db::Tx, subnet: &Value, port_id: &str) -> Result<Option<Ip>> {
        let subnet_id = str_of(subnet, "id");
        let mut taken: HashSet<u128> = ipdb::ipallocation_list_by_subnet(tx, subnet_id).await?.iter().filter_map(|s| Ip::parse(s)).map(|i| i.value).collect();
        if let Some(g) = subnet["gateway_ip"].as_str().and_then(Ip::parse) {
            taken.insert(g.value);
        }
        // Pick among the first few free addresses so that concurrent requests on a server
        // database rarely collide; a collision is caught by the key and retried.
        let free = free_addresses(&pools_of(subnet), &taken, 8);
        if free.is_empty() {
            return Ok(None);
        }
        let ip = free[rand::thread_rng().gen_range(0..free.len())];
        ipdb::ipallocation_create(tx, str_of(subnet, "network_id"), &ip.to_string(), subnet_id, port_id).await?;
        Ok(Some(ip))
    }

    /// Takes the addresses a port asks for (or the defaults: one from the first IPv4 subnet
    /// with room, one from the first stateful IPv6 subnet with room, and the EUI-64 address
    /// on each SLAAC subnet) and returns its `fixed_ips`.
    pub(crate) async fn allocate_fixed_ips(tx: &mut db::Tx, network_id: &str, port_id: &str, mac: &str, device_owner: &str, requested: Option<&[Value]>) -> Result<Vec<Value>> {
        let subnets = record_list_by_tx(tx, Kind::Subnet, "network_id", network_id).await?;
        let mut out = Vec::new();
        match requested {
            Some(list) => {
                for req in fixed_ip_requests(list)? {
                    let subnet = match (&req.subnet_id, &req.ip_address) {
                        (Some(sid), _) => subnets.iter().find(|s| str_of(s, "id") == sid).ok_or_else(|| {
                            NeutronError::InvalidInput(format!("Failed to create port on network {network_id}, because fixed_ips included invalid subnet {sid}"))
                        })?,
                        (None, Some(ip)) => {
                            let parsed = Ip::parse(ip).ok_or_else(|| invalid("fixed_ips", format!("'{ip}' is not a valid IP address")))?;
                            subnets
                                .iter()
                                .find(|s| cidr_of(s).is_some_and(|c| c.contains(parsed)))
                                .ok_or_else(|| NeutronError::InvalidIpForNetwork { ip_address: ip.clone() })?
                        }
                        (None, None) => continue,
                    };
                    match &req.ip_address {
                        Some(ip) => {
                            let parsed = Ip::parse(ip).ok_or_else(|| invalid("fixed_ips", format!("'{ip}' is not a valid IP address")))?;
                            let cidr = cidr_of(subnet).ok_or_else(|| NeutronError::Internal("bad stored cidr".into()))?;
                            if !cidr.contains(parsed) || (!parsed.v6 && cidr.prefix < 31 && (parsed == cidr.first() || parsed == cidr.last())) {
                                return Err(NeutronError::InvalidIpForSubnet { ip_address: ip.clone() });
                            }
                            let text = parsed.to_string();
                            let is_gateway = subnet["gateway_ip"].as_str() == Some(text.as_str());
                            if (is_gateway && !is_router_port(device_owner)) || ipdb::ipallocation_exists(tx, network_id, &text).await? {
                                return Err(NeutronError::IpAddressInUse { net_id: network_id.to_string(), ip_address: text });
                            }
                            ipdb::ipallocation_create(tx, network_id, &text, str_of(subnet, "id"), port_id).await?;
                            out.push(json!({"subnet_id": str_of(subnet, "id"), "ip_address": text}));
                        }
                        None => {
                            let ip = match cidr_of(subnet).filter(|_| is_slaac(subnet)).and_then(|c| eui64(&c, mac)) {
                                Some(ip) => {
                                    ipdb::ipallocation_create(tx, network_id, &ip.to_string(), str_of(subnet, "id"), port_id).await?;
                                    ip
                                }
                                None => Self::allocate_from_subnet(tx, subnet, port_id).await?.ok_or_else(|| NeutronError::IpAddressGenerationFailure(network_id.to_string()))?,
                            };
                            out.push(json!({"subnet_id": str_of(subnet, "id"), "ip_address": ip.to_string()}));
                        }
                    }
                }
            }
            None => {
                let v4: Vec<&Value> = subnets.iter().filter(|s| s["ip_version"] == json!(4)).collect();
                if !v4.is_empty() {
                    let mut got = None;
                    for s in &v4 {
                        if let Some(ip) = Self::allocate_from_subnet(tx, s, port_id).await? {
                            got = Some((str_of(s, "id").to_string(), ip));
                            break;
                        }
                    }
                    let (sid, ip) = got.ok_or_else(|| NeutronError::IpAddressGenerationFailure(network_id.to_string()))?;
                    out.push(json!({"subnet_id": sid, "ip_address": ip.to_string()}));
                }
                let v6: Vec<&Value> = subnets.iter().filter(|s| s["ip_version"] == json!(6)).collect();
                let mut stateful_done = false;
                for s in v6 {
                    if is_slaac(s) {
                        if let Some(ip) = cidr_of(s).and_then(|c| eui64(&c, mac)) {
                            ipdb::ipallocation_create(tx, network_id, &ip.to_string(), str_of(s, "id"), port_id).await?;
                            out.push(json!({"subnet_id": str_of(s, "id"), "ip_address": ip.to_string()}));
                        }
                    } else if !stateful_done {
                        if let Some(ip) = Self::allocate_from_subnet(tx, s, port_id).await? {
                            out.push(json!({"subnet_id": str_of(s, "id"), "ip_address": ip.to_string()}));
                            stateful_done = true;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Checks the groups a port asks for exist and belong to the port's project (or are
    /// visible to an admin).
    async fn port_groups(&self, ctx: &RequestContext, tx: &mut db::Tx, project_id: &str, list: &[Value]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for g in list {
            let id = g.as_str().ok_or_else(|| invalid("security_groups", format!("'{g}' is not a valid UUID")))?;
            let group = record_get_tx(tx, Kind::SecurityGroup, id).await?.ok_or_else(|| NeutronError::SecurityGroupNotFound(id.to_string()))?;
            if str_of(&group, "project_id") != project_id && !self.is_admin(ctx) {
                return Err(NeutronError::SecurityGroupNotFound(id.to_string()));
            }
            if !out.iter().any(|x: &String| x == id) {
                out.push(id.to_string());
            }
        }
        Ok(out)
    }

    fn address_pairs(list: &[Value], mac: &str) -> Result<Vec<Value>> {
        let mut out: Vec<Value> = Vec::new();
        for p in list {
            let ip = p.get("ip_address").and_then(Value::as_str).ok_or_else(|| NeutronError::InvalidInput("AllowedAddressPair must contain ip_address".into()))?;
            if Ip::parse(ip).is_none() && Cidr::parse(ip).is_err() {
                return Err(invalid("allowed_address_pairs", format!("'{ip}' is not a valid IP address")));
            }
            let m = match p.get("mac_address").and_then(Value::as_str) {
                Some(m) => valid_mac(m).ok_or_else(|| invalid("allowed_address_pairs", format!("'{m}' is not a valid MAC address")))?,
                None => mac.to_string(),
            };
            let pair = json!({"ip_address": ip, "mac_address": m});
            if out.contains(&pair) {
                return Err(NeutronError::InvalidInput(format!("Request contains duplicate address pair: mac_address {m} ip_address {ip}.")));
            }
            out.push(pair);
        }
        Ok(out)
    }

    /// The binding attributes and status for a port bound (or not) to `host`.
    fn bind(body: &mut Value) {
        let host = str_of(body, "binding:host_id").to_string();
        let owner = str_of(body, "device_owner").to_string();
        if host.is_empty() {
            body["binding:vif_type"] = json!("unbound");
            body["binding:vif_details"] = json!({});
        } else {
            body["binding:vif_type"] = json!("bridge");
            body["binding:vif_details"] =
                json!({"port_filter": true, "connectivity": "l2", "bridge_name": format!("brq{}", &str_of(body, "network_id").chars().take(11).collect::<String>()), "bound_by": "ferrostack fake L2 agent (no dataplane yet)"});
        }
        let up = body["admin_state_up"] == json!(true) && (!host.is_empty() || is_router_port(&owner));
        body["status"] = json!(if up { "ACTIVE" } else { "DOWN" });
    }

    pub async fn port_create(&self, ctx: &RequestContext, input: Input) -> Result<Value> {
        input.check_known(CREATE, &[])?;
        let network_id = input.opt_str("network_id")?.ok_or_else(|| invalid("network_id", "a network_id is required"))?;
        let project_id = self.owner_of_new(ctx, &input, "port")?;
        let (network, _) = self.visible(ctx, Kind::Network, &network_id).await?;
        let device_owner = input.opt_str_max("device_owner", 255)?.unwrap_or_default();
        let target = json!({"project_id": project_id, "network:project_id": str_of(&network, "project_id"), "shared": network["shared"], "router:external": network["router:external"], "network_device": is_network_owned(&device_owner)});
        self.enforce(ctx, "create_port", &target)?;
        let fixed = input.opt_list("fixed_ips")?;
        self.enforce_attributes(
            ctx,
            "create_port",
            &[
                ("device_owner", !device_owner.is_empty()),
                ("mac_address", input.has("mac_address")),
                ("fixed_ips:ip_address", fixed.as_ref().is_some_and(|l| l.iter().any(|f| f.get("ip_address").is_some()))),
                ("fixed_ips:subnet_id", fixed.as_ref().is_some_and(|l| l.iter().any(|f| f.get("subnet_id").is_some()))),
                ("port_security_enabled", input.has("port_security_enabled")),
                ("binding:host_id", input.opt_str("binding:host_id")?.is_some_and(|h| !h.is_empty())),
                ("binding:profile", input.get("binding:profile").is_some_and(|p| p.as_object().is_some_and(|o| !o.is_empty()))),
                ("allowed_address_pairs", input.has("allowed_address_pairs")),
            ],
            &target,
        )?;
        let mac = match input.opt_str("mac_address")? {
            Some(m) => Some(valid_mac(&m).ok_or_else(|| invalid("mac_address", format!("'{m}' is not a valid MAC address")))?),
            None => None,
        };
        let vnic = input.opt_str("binding:vnic_type")?.unwrap_or_else(|| "normal".into());
        if !VNIC_TYPES.contains(&vnic.as_str()) {
            return Err(invalid("binding:vnic_type", format!("'{vnic}' is not in {VNIC_TYPES:?}")));
        }
        let profile = match input.get("binding:profile") {
            None | Some(Value::Null) => json!({}),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(v) => return Err(invalid("binding:profile", format!("'{v}' is not a dictionary"))),
        };
        let port_security = input.opt_bool("port_security_enabled")?.unwrap_or(network["port_security_enabled"] != json!(false));
        let requested_groups = input.opt_list("security_groups")?;
        let pairs_in = input.opt_list("allowed_address_pairs")?.unwrap_or_default();
        let extra_dhcp_opts = dhcp_opts(&input.opt_list("extra_dhcp_opts")?.unwrap_or_default(), &[])?;
        if !port_security {
            if requested_groups.as_ref().is_some_and(|g| !g.is_empty()) {
                return Err(NeutronError::PortSecurityAndIpRequiredForSecurityGroups);
            }
            if !pairs_in.is_empty() {
                return Err(NeutronError::AddressPairAndPortSecurityRequired);
            }
        }
        let name = input.opt_str_max("name", 255)?.unwrap_or_default();
        let description = input.opt_str_max("description", 255)?;
        let device_id = input.opt_str_max("device_id", 255)?.unwrap_or_default();
        let host = input.opt_str_max("binding:host_id", 255)?.unwrap_or_default();
        let admin_state_up = input.opt_bool("admin_state_up")?.unwrap_or(true);
        // The default group is made outside the port's transaction (it has its own retry).
        let default_group = if port_security && requested_groups.is_none() && !is_network_owned(&device_owner) { Some(self.ensure_default_security_group(&project_id).await?) } else { None };
        let id = common::ids::new_uuid();
        let record = retrying!(self, tx, {
            record_get_tx(&mut tx, Kind::Network, &network_id).await?.ok_or_else(|| NeutronError::NetworkNotFound(network_id.clone()))?;
            self.quota_check(&mut tx, &project_id, "port", 1).await?;
            let mac = match &mac {
                Some(m) => {
                    if record_list_by_tx(&mut tx, Kind::Port, "network_id", &network_id).await?.iter().any(|p| str_of(p, "mac_address") == m) {
                        return Err(NeutronError::MacAddressInUse { net_id: network_id.clone(), mac: m.clone() });
                    }
                    m.clone()
                }
                None => random_mac(),
            };
            let groups = match (&requested_groups, &default_group) {
                (Some(list), _) => self.port_groups(ctx, &mut tx, &project_id, list).await?,
                (None, Some(d)) => vec![d.clone()],
                (None, None) => Vec::new(),
            };
            let fixed_ips = Self::allocate_fixed_ips(&mut tx, &network_id, &id, &mac, &device_owner, fixed.as_deref()).await?;
            let pairs = Self::address_pairs(&pairs_in, &mac)?;
            let mut body = Map::new();
            body.insert("id".into(), json!(id));
            body.insert("name".into(), json!(name));
            body.insert("network_id".into(), json!(network_id));
            body.insert("project_id".into(), json!(project_id));
            body.insert("mac_address".into(), json!(mac));
            body.insert("admin_state_up".into(), json!(admin_state_up));
            body.insert("status".into(), json!("DOWN"));
            body.insert("device_id".into(), json!(device_id));
            body.insert("device_owner".into(), json!(device_owner));
            body.insert("fixed_ips".into(), json!(fixed_ips));
            body.insert("allowed_address_pairs".into(), json!(pairs));
            body.insert("security_groups".into(), json!(groups));
            body.insert("port_security_enabled".into(), json!(port_security));
            body.insert("extra_dhcp_opts".into(), json!(extra_dhcp_opts));
            body.insert("binding:host_id".into(), json!(host));
            body.insert("binding:vnic_type".into(), json!(vnic));
            body.insert("binding:profile".into(), profile.clone());
            standard_attributes(&mut body, description.clone(), true);
            let mut body = Value::Object(body);
            Self::bind(&mut body);
            record_insert(&mut tx, Kind::Port, &body).await?;
            port_security_group_set(&mut tx, &id, &groups).await?;
            Ok(body)
        })?;
        self.notify_nova(self.port_events(None, Some(&record)));
        self.render_one(ctx, Kind::Port, &record).await
    }

    pub async fn port_update(&self, ctx: &RequestContext, id: &str, input: Input, if_match: Option<i64>) -> Result<Value> {
        input.check_known(UPDATE, READ_ONLY)?;
        let (current, mut target) = self.visible(ctx, Kind::Port, id).await?;
        self.enforce(ctx, "update_port", &target)?;
        let device_owner = input.opt_str_max("device_owner", 255)?;
        if let Some(o) = &device_owner {
            target["network_device"] = json!(is_network_owned(o));
        }
        let fixed = input.opt_list("fixed_ips")?;
        self.enforce_attributes(
            ctx,
            "update_port",
            &[
                ("device_owner", device_owner.is_some()),
                ("mac_address", input.has("mac_address")),
                ("fixed_ips:ip_address", fixed.as_ref().is_some_and(|l| l.iter().any(|f| f.get("ip_address").is_some()))),
                ("port_security_enabled", input.has("port_security_enabled")),
                ("binding:host_id", input.has("binding:host_id")),
                ("binding:profile", input.has("binding:profile")),
                ("allowed_address_pairs", input.has("allowed_address_pairs")),
            ],
            &target,
        )?;
        let network_id = str_of(&current, "network_id").to_string();
        let (before, record) = retrying!(self, tx, {
            let mut p = record_get_tx(&mut tx, Kind::Port, id).await?.ok_or_else(|| NeutronError::PortNotFound(id.to_string()))?;
            let before = p.clone();
            check_revision(&p, if_match)?;
            if let Some(m) = input.opt_str("mac_address")? {
                let m = valid_mac(&m).ok_or_else(|| invalid("mac_address", format!("'{m}' is not a valid MAC address")))?;
                if m != str_of(&p, "mac_address") {
                    if !str_of(&p, "binding:host_id").is_empty() {
                        return Err(NeutronError::Conflict(format!("Unable to update MAC address of bound port {id}")));
                    }
                    if record_list_by_tx(&mut tx, Kind::Port, "network_id", &network_id).await?.iter().any(|o| str_of(o, "mac_address") == m) {
                        return Err(NeutronError::MacAddressInUse { net_id: network_id.clone(), mac: m });
                    }
                    p["mac_address"] = json!(m);
                }
            }
            if let Some(list) = &fixed {
                // Keep what is asked for again, release the rest, take the new ones.
                let old: Vec<Value> = p["fixed_ips"].as_array().cloned().unwrap_or_default();
                let mut keep = Vec::new();
                let mut new_requests = Vec::new();
                for req in list {
                    let hit = old.iter().find(|o| {
                        req.get("ip_address").and_then(Value::as_str).is_some_and(|ip| Ip::parse(ip).map(|i| i.to_string()).as_deref() == Some(str_of(o, "ip_address")))
                            && req.get("subnet_id").and_then(Value::as_str).is_none_or(|s| s == str_of(o, "subnet_id"))
                    });
                    match hit {
                        Some(o) => keep.push(o.clone()),
                        None => new_requests.push(req.clone()),
                    }
                }
                for o in &old {
                    if !keep.contains(o) {
                        ipdb::ipallocation_delete(&mut tx, &network_id, str_of(o, "ip_address")).await?;
                    }
                }
                let owner = device_owner.clone().unwrap_or_else(|| str_of(&p, "device_owner").to_string());
                let mac = str_of(&p, "mac_address").to_string();
                let mut added = if new_requests.is_empty() { Vec::new() } else { Self::allocate_fixed_ips(&mut tx, &network_id, id, &mac, &owner, Some(&new_requests)).await? };
                keep.append(&mut added);
                p["fixed_ips"] = json!(keep);
            }
            let port_security = input.opt_bool("port_security_enabled")?.unwrap_or(p["port_security_enabled"] != json!(false));
            p["port_security_enabled"] = json!(port_security);
            if let Some(list) = input.opt_list("security_groups")? {
                let project = str_of(&p, "project_id").to_string();
                let groups = self.port_groups(ctx, &mut tx, &project, &list).await?;
                port_security_group_set(&mut tx, id, &groups).await?;
                p["security_groups"] = json!(groups);
            }
            if let Some(list) = input.opt_list("extra_dhcp_opts")? {
                let current = p["extra_dhcp_opts"].as_array().cloned().unwrap_or_default();
                p["extra_dhcp_opts"] = json!(dhcp_opts(&list, &current)?);
            }
            if let Some(list) = input.opt_list("allowed_address_pairs")? {
                let mac = str_of(&p, "mac_address").to_string();
                p["allowed_address_pairs"] = json!(Self::address_pairs(&list, &mac)?);
            }
            if !port_security {
                if p["security_groups"].as_array().is_some_and(|g| !g.is_empty()) {
                    return Err(NeutronError::Conflict("Port has security group associated. Cannot disable port security or IP address until security group is removed.".into()));
                }
                if p["allowed_address_pairs"].as_array().is_some_and(|g| !g.is_empty()) {
                    return Err(NeutronError::AddressPairAndPortSecurityRequired);
                }
            }
            for key in ["name", "description"] {
                if let Some(v) = input.opt_str_max(key, 255)? {
                    p[key] = json!(v);
                }
            }
            if let Some(v) = input.opt_str_max("device_id", 255)? {
                p["device_id"] = json!(v);
            }
            if let Some(v) = &device_owner {
                p["device_owner"] = json!(v);
            }
            if let Some(v) = input.opt_str_max("binding:host_id", 255)? {
                p["binding:host_id"] = json!(v);
            } else if input.get("binding:host_id") == Some(&Value::Null) {
                p["binding:host_id"] = json!("");
            }
            if let Some(v) = input.opt_str("binding:vnic_type")? {
                if !VNIC_TYPES.contains(&v.as_str()) {
                    return Err(invalid("binding:vnic_type", format!("'{v}' is not in {VNIC_TYPES:?}")));
                }
                p["binding:vnic_type"] = json!(v);
            }
            match input.get("binding:profile") {
                None => {}
                Some(Value::Null) => p["binding:profile"] = json!({}),
                Some(v @ Value::Object(_)) => p["binding:profile"] = v.clone(),
                Some(v) => return Err(invalid("binding:profile", format!("'{v}' is not a dictionary"))),
            }
            if let Some(v) = input.opt_bool("admin_state_up")? {
                p["admin_state_up"] = json!(v);
            }
            Self::bind(&mut p);
            bump_revision(&mut p);
            record_update(&mut tx, Kind::Port, &p).await?;
            Ok((before, p))
        })?;
        self.notify_nova(self.port_events(Some(&before), Some(&record)));
        self.render_one(ctx, Kind::Port, &record).await
    }

    /// Deletes a port: its addresses go back to the pools and floating IPs on it are
    /// disassociated. Router ports belong to their router (remove the interface instead).
    pub async fn port_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (port, target) = self.visible(ctx, Kind::Port, id).await?;
        self.enforce(ctx, "delete_port", &target)?;
        let owner = str_of(&port, "device_owner");
        if is_router_port(owner) || owner == "network:floatingip" {
            return Err(NeutronError::Conflict(format!("Port {id} cannot be deleted directly via the port API: has device owner {owner}.")));
        }
        retrying!(self, tx, {
            Self::port_delete_tx(&mut tx, id).await?;
            Ok(())
        })?;
        self.notify_nova(self.port_events(Some(&port), None));
        Ok(())
    }

    /// What Nova is told about a port that went from `before` to `after` (None: it was just
    /// created, or deleted), as the config asks (see `notifiers::nova`).
    pub(crate) fn port_events(&self, before: Option<&Value>, after: Option<&Value>) -> Vec<NovaEvent> {
        let (status, data) = (self.cfg.notify_nova_on_port_status_changes, self.cfg.notify_nova_on_port_data_changes);
        let mut events = Vec::new();
        match (before, after) {
            (before, Some(after)) => {
                if status {
                    events.extend(nova::port_status_event(before.map(|b| str_of(b, "status")), after));
                }
                if data && before.is_some_and(|b| nova::fixed_ips_changed(b, after)) {
                    events.extend(nova::network_changed(after));
                }
            }
            (Some(before), None) if data => events.extend(nova::vif_deleted(before)),
            _ => {}
        }
        events
    }

    /// The deletion itself, for the port API and for routers and floating IPs removing
    /// their own ports.
    pub(crate) async fn port_delete_tx(tx: &mut db::Tx, id: &str) -> Result<()> {
        for mut fip in record_list_by_tx(tx, Kind::FloatingIp, "port_id", id).await? {
            fip["port_id"] = Value::Null;
            fip["fixed_ip_address"] = Value::Null;
            fip["router_id"] = Value::Null;
            fip["status"] = json!("DOWN");
            bump_revision(&mut fip);
            record_update(tx, Kind::FloatingIp, &fip).await?;
        }
        ipdb::ipallocation_delete_by_port(tx, id).await?;
        port_security_group_set(tx, id, &[]).await?;
        if !record_delete(tx, Kind::Port, id).await? {
            return Err(NeutronError::PortNotFound(id.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        let m = random_mac();
        assert!(m.starts_with("fa:16:3e:"));
        assert_eq!(valid_mac(&m), Some(m.clone()));
        assert_eq!(valid_mac("FA-16-3E-00-00-01").as_deref(), Some("fa:16:3e:00:00:01"));
        assert!(valid_mac("01:00:5e:00:00:01").is_none());
        assert!(valid_mac("zz:16:3e:00:00:01").is_none());
        let c = Cidr::parse("2001:db8::/64").unwrap();
        assert_eq!(eui64(&c, "fa:16:3e:12:34:56").unwrap().to_string(), "2001:db8::f816:3eff:fe12:3456");
    }
}
