//! Subnets (neutron/db/db_base_plugin_v2.py, ipam_backend_mixin.py): the CIDR in canonical
//! form and of the subnet's IP version, no overlap with the network's other subnets, the
//! gateway (default: the first address; `null` for none), allocation pools (default: the
//! whole range minus network, broadcast and gateway; given ones inside the CIDR, not
//! overlapping, not holding the gateway), DNS servers, host routes, IPv6 modes.

use auth::RequestContext;
use serde_json::{json, Map, Value};

use super::input::{invalid, Input};
use super::ipam::{default_pools, Cidr, CidrError, Ip, Range};
use super::{bump_revision, check_revision, standard_attributes, str_of, App};
use crate::db::records::{record_delete, record_get_tx, record_insert, record_list_by_tx, record_update};
use crate::db::{ipam as ipdb, Kind};
use crate::error::{NeutronError, Result};

const CREATE: &[&str] = &[
    "name", "description", "network_id", "ip_version", "cidr", "gateway_ip", "allocation_pools", "enable_dhcp", "dns_nameservers", "host_routes",
    "ipv6_ra_mode", "ipv6_address_mode", "service_types", "segment_id", "subnetpool_id", "use_default_subnetpool", "prefixlen", "project_id", "tenant_id",
];
const UPDATE: &[&str] = &["name", "description", "gateway_ip", "allocation_pools", "enable_dhcp", "dns_nameservers", "host_routes", "service_types"];
const READ_ONLY: &[&str] = &["id", "network_id", "ip_version", "cidr", "ipv6_ra_mode", "ipv6_address_mode", "project_id", "tenant_id", "subnetpool_id", "created_at", "updated_at", "revision_number", "tags"];
const IPV6_MODES: &[&str] = &["slaac", "dhcpv6-stateful", "dhcpv6-stateless"];

/// The allocation pools stored on a subnet.
pub fn pools_of(subnet: &Value) -> Vec<Range> {
    subnet["allocation_pools"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| Some(Range { start: Ip::parse(p["start"].as_str()?)?, end: Ip::parse(p["end"].as_str()?)? })).collect())
        .unwrap_or_default()
}

pub fn cidr_of(subnet: &Value) -> Option<Cidr> {
    Cidr::parse(str_of(subnet, "cidr")).ok()
}

fn parse_ip(attr: &str, v: &Value, version: i64) -> Result<Ip> {
    let s = v.as_str().ok_or_else(|| invalid(attr, format!("'{v}' is not a valid IP address")))?;
    let ip = Ip::parse(s).ok_or_else(|| invalid(attr, format!("'{s}' is not a valid IP address")))?;
    if ip.version() != version {
        return Err(NeutronError::InvalidInput(format!("{attr} '{s}' does not match the ip_version '{version}'")));
    }
    Ok(ip)
}

fn parse_pools(list: &[Value], cidr: &Cidr) -> Result<Vec<Range>> {
    let mut pools = Vec::new();
    for p in list {
        let (Some(s), Some(e)) = (p.get("start").and_then(Value::as_str), p.get("end").and_then(Value::as_str)) else {
            return Err(invalid("allocation_pools", format!("Invalid data format for IP pool: '{p}'")));
        };
        let pool_str = format!("{s}-{e}");
        let (Some(start), Some(end)) = (Ip::parse(s), Ip::parse(e)) else {
            return Err(NeutronError::InvalidAllocationPool(format!("{{'start': '{s}', 'end': '{e}'}}")));
        };
        if start.v6 != cidr.network.v6 || end.v6 != cidr.network.v6 || start.value > end.value {
            return Err(NeutronError::InvalidAllocationPool(format!("{{'start': '{s}', 'end': '{e}'}}")));
        }
        if !cidr.contains(start) || !cidr.contains(end) {
            return Err(NeutronError::OutOfBoundsAllocationPool { pool: pool_str, cidr: cidr.to_string() });
        }
        pools.push(Range { start, end });
    }
    for (i, a) in pools.iter().enumerate() {
        for b in &pools[i + 1..] {
            if a.overlaps(b) {
                return Err(NeutronError::OverlappingAllocationPools { pool_1: a.to_string(), pool_2: b.to_string(), subnet_cidr: cidr.to_string() });
            }
        }
    }
    Ok(pools)
}

fn pools_json(pools: &[Range]) -> Value {
    json!(pools.iter().map(|p| json!({"start": p.start.to_string(), "end": p.end.to_string()})).collect::<Vec<_>>())
}

fn check_gateway(gw: Ip, cidr: &Cidr, pools: &[Range]) -> Result<()> {
    if !gw.v6 && cidr.prefix < 31 && (gw == cidr.first() || gw == cidr.last()) {
        return Err(NeutronError::bad("subnet", format!("Gateway is not valid on subnet {cidr}")));
    }
    if let Some(p) = pools.iter().find(|p| p.contains(gw)) {
        return Err(NeutronError::GatewayConflictWithAllocationPools { ip_address: gw.to_string(), pool: p.to_string() });
    }
    Ok(())
}

fn dns_nameservers(list: &[Value], version: i64) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for v in list {
        let ip = parse_ip("dns_nameservers", v, version).or_else(|_| {
            // Upstream accepts name servers of either version on any subnet.
            v.as_str().and_then(Ip::parse).ok_or_else(|| invalid("dns_nameservers", format!("'{v}' is not a valid nameserver")))
        })?;
        let s = ip.to_string();
        if out.contains(&s) {
            return Err(invalid("dns_nameservers", format!("Duplicate nameserver '{s}'")));
        }
        out.push(s);
    }
    Ok(out)
}

fn host_routes(list: &[Value], version: i64) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for r in list {
        let (Some(d), Some(n)) = (r.get("destination").and_then(Value::as_str), r.get("nexthop").and_then(Value::as_str)) else {
            return Err(invalid("host_routes", format!("Invalid data format for hostroute: '{r}'")));
        };
        let dest = Cidr::parse(d).map_err(|_| invalid("host_routes", format!("'{d}' is not a valid IP subnet")))?;
        let hop = Ip::parse(n).ok_or_else(|| invalid("host_routes", format!("'{n}' is not a valid IP address")))?;
        if dest.version() != version || hop.version() != version {
            return Err(NeutronError::InvalidInput(format!("host_routes '{d}' via '{n}' does not match the ip_version '{version}'")));
        }
        let route = json!({"destination": dest.to_string(), "nexthop": hop.to_string()});
        if out.contains(&route) {
            return Err(invalid("host_routes", format!("Duplicate hostroute '{r}'")));
        }
        out.push(route);
    }
    Ok(out)
}

/// The gateway (default: the first address; `null` for none) and allocation pools (default:
/// the whole range minus network, broadcast and gateway) of a subnet on `cidr`.
fn subnet_layout(input: &Input, cidr: &Cidr, ip_version: i64, pools_in: Option<&[Value]>) -> Result<(Option<Ip>, Vec<Range>)> {
    let gateway = match input.get("gateway_ip") {
        None => Some(cidr.first().offset(1)).filter(|_| cidr.first() != cidr.last()),
        Some(Value::Null) => None,
        Some(v) => Some(parse_ip("gateway_ip", v, ip_version)?),
    };
    let pools = match pools_in {
        Some(list) if !list.is_empty() => {
            let pools = parse_pools(list, cidr)?;
            if let Some(g) = gateway {
                check_gateway(g, cidr, &pools)?;
            }
            pools
        }
        _ => {
            if let Some(g) = gateway {
                check_gateway(g, cidr, &[])?;
            }
            default_pools(cidr, gateway)
        }
    };
    Ok((gateway, pools))
}

impl App {
    pub async fn subnet_create(&self, ctx: &RequestContext, input: Input) -> Result<Value> {
        input.check_known(CREATE, &[])?;
        let network_id = input.opt_str("network_id")?.ok_or_else(|| invalid("network_id", "a network_id is required"))?;
        let project_id = self.owner_of_new(ctx, &input, "subnet")?;
        let (network, _) = self.visible(ctx, Kind::Network, &network_id).await?;
        let target = json!({"project_id": project_id, "network:project_id": str_of(&network, "project_id"), "shared": network["shared"], "router:external": network["router:external"]});
        self.enforce(ctx, "create_subnet", &target)?;
        let use_default_pool = input.opt_bool("use_default_subnetpool")? == Some(true);
        if input.opt_str("segment_id")?.is_some() {
            return Err(NeutronError::bad("subnet", "segment_id is not supported by this cloud (no routed networks)"));
        }
        let ip_version = input.opt_int("ip_version")?.ok_or_else(|| invalid("ip_version", "ip_version is required"))?;
        if ip_version != 4 && ip_version != 6 {
            return Err(invalid("ip_version", format!("{ip_version} is not in [4, 6]")));
        }
        let mut pool_id = input.opt_str("subnetpool_id")?;
        if use_default_pool {
            if pool_id.is_some() {
                return Err(NeutronError::bad("subnets", "subnetpool_id and use_default_subnetpool cannot both be specified"));
            }
            let pool = self.default_subnet_pool(ctx, ip_version).await?.ok_or_else(|| NeutronError::bad("subnets", format!("No default subnetpool found for IPv{ip_version}")))?;
            pool_id = Some(str_of(&pool, "id").to_string());
        }
        if let Some(p) = &pool_id {
            let (pool, _) = self.visible(ctx, Kind::SubnetPool, p).await?;
            if pool["ip_version"] != json!(ip_version) {
                return Err(NeutronError::bad("subnet", format!("Cannot allocate IPv{ip_version} subnet from IPv{} subnet pool", pool["ip_version"])));
            }
        }
        let requested_cidr = match input.opt_str("cidr")? {
            Some(cidr_s) => {
                let cidr = match Cidr::parse(&cidr_s) {
                    Ok(c) => c,
                    Err(CidrError::Invalid) => return Err(invalid("cidr", format!("'{cidr_s}' is not a valid IP subnet"))),
                    Err(CidrError::NotCanonical(c)) => return Err(invalid("cidr", format!("'{cidr_s}' isn't a recognized IP subnet cidr, '{c}' is recommended"))),
                };
                if cidr.version() != ip_version {
                    return Err(NeutronError::InvalidInput(format!("cidr '{cidr_s}' does not match the ip_version '{ip_version}'")));
                }
                if ip_version == 4 && cidr.prefix == 0 {
                    return Err(NeutronError::bad("subnet", "0.0.0.0/0 is not a valid subnet for a network"));
                }
                Some(cidr)
            }
            None if pool_id.is_some() => None,
            None => return Err(NeutronError::bad("subnet", "a subnetpool must be specified in the absence of a cidr")),
        };
        let prefixlen = input.opt_int("prefixlen")?;
        let ra_mode = input.opt_str("ipv6_ra_mode")?;
        let address_mode = input.opt_str("ipv6_address_mode")?;
        for (attr, m) in [("ipv6_ra_mode", &ra_mode), ("ipv6_address_mode", &address_mode)] {
            if let Some(m) = m {
                if !IPV6_MODES.contains(&m.as_str()) {
                    return Err(invalid(attr, format!("'{m}' is not in {IPV6_MODES:?}")));
                }
                if ip_version == 4 {
                    return Err(NeutronError::bad("subnet", format!("Cannot disable enable_dhcp with ipv6 attributes set: {attr} set to '{m}' with ip_version 4")));
                }
            }
        }
        if let (Some(r), Some(a)) = (&ra_mode, &address_mode) {
            if r != a {
                return Err(NeutronError::bad("subnet", format!("ipv6_ra_mode set to '{r}' with ipv6_address_mode set to '{a}' is not valid. If both attributes are set, they must be the same value")));
            }
        }
        let pools_in = input.opt_list("allocation_pools")?;
        if let Some(c) = &requested_cidr {
            subnet_layout(&input, c, ip_version, pools_in.as_deref())?;
        }
        let dns = dns_nameservers(&input.opt_list("dns_nameservers")?.unwrap_or_default(), ip_version)?;
        let routes = host_routes(&input.opt_list("host_routes")?.unwrap_or_default(), ip_version)?;
        let enable_dhcp = input.opt_bool("enable_dhcp")?.unwrap_or(true);
        let name = input.opt_str_max("name", 255)?.unwrap_or_default();
        let description = input.opt_str_max("description", 255)?;
        let service_types = input.opt_list("service_types")?.unwrap_or_default();
        let id = common::ids::new_uuid();
        let record = retrying!(self, tx, {
            record_get_tx(&mut tx, Kind::Network, &network_id).await?.ok_or_else(|| NeutronError::NetworkNotFound(network_id.clone()))?;
            let cidr = match (&pool_id, requested_cidr) {
                (Some(p), c) => Self::subnet_pool_allocate(&mut tx, p, c, prefixlen).await?,
                (None, Some(c)) => c,
                (None, None) => return Err(NeutronError::bad("subnet", "a subnetpool must be specified in the absence of a cidr")),
            };
            let (gateway, pools) = subnet_layout(&input, &cidr, ip_version, pools_in.as_deref())?;
            for other in record_list_by_tx(&mut tx, Kind::Subnet, "network_id", &network_id).await? {
                if cidr_of(&other).is_some_and(|c| c.overlaps(&cidr)) {
                    return Err(NeutronError::bad("subnet", format!("Invalid input for operation: Requested subnet with cidr: {cidr} for network: {network_id} overlaps with another subnet")));
                }
            }
            self.quota_check(&mut tx, &project_id, "subnet", 1).await?;
            let mut body = Map::new();
            body.insert("id".into(), json!(id));
            body.insert("name".into(), json!(name));
            body.insert("network_id".into(), json!(network_id));
            body.insert("project_id".into(), json!(project_id));
            body.insert("ip_version".into(), json!(ip_version));
            body.insert("cidr".into(), json!(cidr.to_string()));
            body.insert("gateway_ip".into(), json!(gateway.map(|g| g.to_string())));
            body.insert("allocation_pools".into(), pools_json(&pools));
            body.insert("enable_dhcp".into(), json!(enable_dhcp));
            body.insert("dns_nameservers".into(), json!(dns));
            body.insert("host_routes".into(), json!(routes));
            body.insert("ipv6_ra_mode".into(), json!(ra_mode));
            body.insert("ipv6_address_mode".into(), json!(address_mode));
            body.insert("subnetpool_id".into(), json!(pool_id));
            body.insert("service_types".into(), json!(service_types));
            body.insert("segment_id".into(), Value::Null);
            standard_attributes(&mut body, description.clone(), true);
            let body = Value::Object(body);
            record_insert(&mut tx, Kind::Subnet, &body).await?;
            Ok(body)
        })?;
        self.render_one(ctx, Kind::Subnet, &record).await
    }

    pub async fn subnet_update(&self, ctx: &RequestContext, id: &str, input: Input, if_match: Option<i64>) -> Result<Value> {
        input.check_known(UPDATE, READ_ONLY)?;
        let (current, target) = self.visible(ctx, Kind::Subnet, id).await?;
        self.enforce(ctx, "update_subnet", &target)?;
        let cidr = cidr_of(&current).ok_or_else(|| NeutronError::Internal(format!("subnet {id} has a bad cidr")))?;
        let version = cidr.version();
        let record = retrying!(self, tx, {
            let mut s = record_get_tx(&mut tx, Kind::Subnet, id).await?.ok_or_else(|| NeutronError::SubnetNotFound(id.to_string()))?;
            check_revision(&s, if_match)?;
            let mut gateway = s["gateway_ip"].as_str().and_then(Ip::parse);
            if let Some(v) = input.get("gateway_ip") {
                gateway = match v {
                    Value::Null => None,
                    v => Some(parse_ip("gateway_ip", v, version)?),
                };
            }
            let mut pools = pools_of(&s);
            if let Some(list) = input.opt_list("allocation_pools")? {
                pools = if list.is_empty() { default_pools(&cidr, gateway) } else { parse_pools(&list, &cidr)? };
            }
            if let Some(g) = gateway {
                check_gateway(g, &cidr, &pools)?;
            }
            s["gateway_ip"] = json!(gateway.map(|g| g.to_string()));
            s["allocation_pools"] = pools_json(&pools);
            if let Some(list) = input.opt_list("dns_nameservers")? {
                s["dns_nameservers"] = json!(dns_nameservers(&list, version)?);
            }
            if let Some(list) = input.opt_list("host_routes")? {
                s["host_routes"] = json!(host_routes(&list, version)?);
            }
            if let Some(list) = input.opt_list("service_types")? {
                s["service_types"] = json!(list);
            }
            if let Some(v) = input.opt_bool("enable_dhcp")? {
                s["enable_dhcp"] = json!(v);
            }
            if let Some(v) = input.opt_str_max("name", 255)? {
                s["name"] = json!(v);
            }
            if let Some(v) = input.opt_str_max("description", 255)? {
                s["description"] = json!(v);
            }
            bump_revision(&mut s);
            record_update(&mut tx, Kind::Subnet, &s).await?;
            Ok(s)
        })?;
        self.render_one(ctx, Kind::Subnet, &record).await
    }

    /// Deletes a subnet; refused while a port other than a DHCP port holds one of its
    /// addresses (upstream's SubnetInUse), a router interface included.
    pub async fn subnet_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (current, target) = self.visible(ctx, Kind::Subnet, id).await?;
        self.enforce(ctx, "delete_subnet", &target)?;
        // Addresses on SLAAC and DHCPv6-stateless subnets are derived, not handed out: upstream
        // removes them from ports (other than router ports) with the subnet.
        let auto_address = matches!(str_of(&current, "ipv6_address_mode"), "slaac" | "dhcpv6-stateless");
        retrying!(self, tx, {
            let port_ids = ipdb::ipallocation_ports_by_subnet(&mut tx, id).await?;
            for pid in &port_ids {
                let owner = record_get_tx(&mut tx, Kind::Port, pid).await?.map(|p| str_of(&p, "device_owner").to_string()).unwrap_or_default();
                let releasable = owner == "network:dhcp" || (auto_address && !super::ports::is_router_port(&owner));
                if !releasable {
                    return Err(NeutronError::SubnetInUse { subnet_id: id.to_string(), reason: "One or more ports have an IP allocation from this subnet".into() });
                }
            }
            for pid in &port_ids {
                if let Some(mut p) = record_get_tx(&mut tx, Kind::Port, pid).await? {
                    let kept: Vec<Value> = p["fixed_ips"].as_array().cloned().unwrap_or_default().into_iter().filter(|f| str_of(f, "subnet_id") != id).collect();
                    for f in p["fixed_ips"].as_array().cloned().unwrap_or_default() {
                        if str_of(&f, "subnet_id") == id {
                            ipdb::ipallocation_delete(&mut tx, str_of(&p, "network_id"), str_of(&f, "ip_address")).await?;
                        }
                    }
                    p["fixed_ips"] = json!(kept);
                    bump_revision(&mut p);
                    record_update(&mut tx, Kind::Port, &p).await?;
                }
            }
            if !record_delete(&mut tx, Kind::Subnet, id).await? {
                return Err(NeutronError::SubnetNotFound(id.to_string()));
            }
            Ok(())
        })
    }
}
