//! Routers and floating IPs (neutron/db/l3_db.py, extraroute_db.py): a gateway port on an
//! external network (its addresses from that network's subnets, SNAT on by default),
//! interfaces by subnet (the subnet's gateway address) or by an unused port, static routes
//! whose next hops are on the router's subnets, and floating IPs from an external network that
//! may only be associated where a router joins the port's subnet to that network.

use auth::RequestContext;
use serde_json::{json, Map, Value};

use super::input::{invalid, Input};
use super::ipam::{Cidr, Ip};
use super::subnets::cidr_of;
use super::{bump_revision, check_revision, standard_attributes, str_of, App};
use crate::db::records::{record_delete, record_get, record_get_tx, record_insert, record_list_by_tx, record_update};
use crate::db::{ipam as ipdb, Kind};
use crate::error::{NeutronError, Result};
use crate::notifiers::nova::{self, NovaEvent};

const CREATE: &[&str] = &["name", "description", "admin_state_up", "external_gateway_info", "distributed", "ha", "availability_zone_hints", "project_id", "tenant_id"];
const UPDATE: &[&str] = &["name", "description", "admin_state_up", "external_gateway_info", "distributed", "ha", "routes"];
const FIP_CREATE: &[&str] = &["floating_network_id", "floating_ip_address", "subnet_id", "port_id", "fixed_ip_address", "description", "project_id", "tenant_id"];
const FIP_UPDATE: &[&str] = &["port_id", "fixed_ip_address", "description"];

/// A requested gateway: network, SNAT and fixed IPs.
#[derive(Debug, Clone)]
struct Gateway {
    network_id: String,
    enable_snat: bool,
    external_fixed_ips: Option<Vec<Value>>,
}

fn gateway_of(v: &Value) -> Result<Option<Gateway>> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) if m.is_empty() => Ok(None),
        Value::Object(m) => {
            for k in m.keys() {
                if !["network_id", "enable_snat", "external_fixed_ips"].contains(&k.as_str()) {
                    return Err(invalid("external_gateway_info", format!("Unexpected keys supplied: {k}")));
                }
            }
            let network_id = m.get("network_id").and_then(Value::as_str).ok_or_else(|| invalid("external_gateway_info", "network_id is required"))?.to_string();
            let enable_snat = match m.get("enable_snat") {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(v) => return Err(invalid("external_gateway_info", format!("'{v}' cannot be converted to boolean"))),
            };
            let external_fixed_ips = match m.get("external_fixed_ips") {
                None | Some(Value::Null) => None,
                Some(Value::Array(a)) => Some(a.clone()),
                Some(v) => return Err(invalid("external_gateway_info", format!("'{v}' is not a list"))),
            };
            Ok(Some(Gateway { network_id, enable_snat, external_fixed_ips }))
        }
        other => Err(invalid("external_gateway_info", format!("'{other}' is not a dictionary"))),
    }
}

impl App {
    /// Creates the gateway port of `router_id` on the external network and returns the
    /// router's `external_gateway_info`.
    async fn gateway_attach(&self, tx: &mut db::Tx, router_id: &str, gw: &Gateway) -> Result<Value> {
        let network = record_get_tx(tx, Kind::Network, &gw.network_id).await?.ok_or_else(|| NeutronError::NetworkNotFound(gw.network_id.clone()))?;
        if network["router:external"] != json!(true) {
            return Err(NeutronError::bad("router", format!("Network {} is not an external network", gw.network_id)));
        }
        let port_id = common::ids::new_uuid();
        let mac = format!("fa:16:3e:{:02x}:{:02x}:{:02x}", rand::random::<u8>(), rand::random::<u8>(), rand::random::<u8>());
        let fixed_ips = Self::allocate_fixed_ips(tx, &gw.network_id, &port_id, &mac, "network:router_gateway", gw.external_fixed_ips.as_deref()).await?;
        self.service_port_insert(tx, &port_id, &gw.network_id, "", &mac, router_id, "network:router_gateway", &fixed_ips).await?;
        Ok(json!({"network_id": gw.network_id, "enable_snat": gw.enable_snat, "external_fixed_ips": fixed_ips}))
    }

    /// Inserts a port that belongs to the network's plumbing (router gateway or interface,
    /// floating IP); the fake L3 agent reports router ports up.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn service_port_insert(&self, tx: &mut db::Tx, id: &str, network_id: &str, project_id: &str, mac: &str, device_id: &str, device_owner: &str, fixed_ips: &[Value]) -> Result<Value> {
        let mut body = Map::new();
        body.insert("id".into(), json!(id));
        body.insert("name".into(), json!(""));
        body.insert("network_id".into(), json!(network_id));
        body.insert("project_id".into(), json!(project_id));
        body.insert("mac_address".into(), json!(mac));
        body.insert("admin_state_up".into(), json!(true));
        body.insert("status".into(), json!(if device_owner == "network:floatingip" { "N/A" } else { "ACTIVE" }));
        body.insert("device_id".into(), json!(device_id));
        body.insert("device_owner".into(), json!(device_owner));
        body.insert("fixed_ips".into(), json!(fixed_ips));
        body.insert("allowed_address_pairs".into(), json!([]));
        body.insert("security_groups".into(), json!([]));
        body.insert("extra_dhcp_opts".into(), json!([]));
        body.insert("port_security_enabled".into(), json!(false));
        body.insert("binding:host_id".into(), json!(""));
        body.insert("binding:vnic_type".into(), json!("normal"));
        body.insert("binding:profile".into(), json!({}));
        body.insert("binding:vif_type".into(), json!("unbound"));
        body.insert("binding:vif_details".into(), json!({}));
        standard_attributes(&mut body, None, true);
        let body = Value::Object(body);
        record_insert(tx, Kind::Port, &body).await?;
        Ok(body)
    }

    /// Removes the gateway of a router, refused while its floating IPs need it.
    async fn gateway_detach(tx: &mut db::Tx, router: &Value) -> Result<()> {
        let router_id = str_of(router, "id");
        let Some(net) = router["external_gateway_info"]["network_id"].as_str() else { return Ok(()) };
        let fips = record_list_by_tx(tx, Kind::FloatingIp, "router_id", router_id).await?;
        if !fips.is_empty() {
            return Err(NeutronError::RouterExternalGatewayInUseByFloatingIp { router_id: router_id.to_string(), net_id: net.to_string() });
        }
        for p in record_list_by_tx(tx, Kind::Port, "device_id", router_id).await? {
            if str_of(&p, "device_owner") == "network:router_gateway" {
                Self::port_delete_tx(tx, str_of(&p, "id")).await?;
            }
        }
        Ok(())
    }

    fn check_gateway_policy(&self, ctx: &RequestContext, action: &str, v: Option<&Value>, target: &Value) -> Result<Option<Option<Gateway>>> {
        let Some(v) = v else { return Ok(None) };
        let gw = gateway_of(v)?;
        if let (Some(g), Some(m)) = (&gw, v.as_object()) {
            self.enforce_attributes(
                ctx,
                action,
                &[("external_gateway_info:enable_snat", m.contains_key("enable_snat") && !g.enable_snat), ("external_gateway_info:external_fixed_ips", g.external_fixed_ips.as_ref().is_some_and(|l| !l.is_empty()))],
                target,
            )?;
        }
        Ok(Some(gw))
    }

    pub async fn router_create(&self, ctx: &RequestContext, input: Input) -> Result<Value> {
        input.check_known(CREATE, &[])?;
        let project_id = self.owner_of_new(ctx, &input, "router")?;
        let target = json!({"project_id": project_id});
        self.enforce(ctx, "create_router", &target)?;
        let distributed = input.opt_bool("distributed")?;
        let ha = input.opt_bool("ha")?;
        self.enforce_attributes(ctx, "create_router", &[("distributed", distributed.is_some()), ("ha", ha.is_some())], &target)?;
        let gw = self.check_gateway_policy(ctx, "create_router", input.get("external_gateway_info"), &target)?.flatten();
        if let Some(g) = &gw {
            // The external network must be visible to the caller.
            self.visible(ctx, Kind::Network, &g.network_id).await?;
        }
        let name = input.opt_str_max("name", 255)?.unwrap_or_default();
        let description = input.opt_str_max("description", 255)?;
        let admin_state_up = input.opt_bool("admin_state_up")?.unwrap_or(true);
        let hints = input.opt_list("availability_zone_hints")?.unwrap_or_default();
        let id = common::ids::new_uuid();
        let record = retrying!(self, tx, {
            self.quota_check(&mut tx, &project_id, "router", 1).await?;
            let info = match &gw {
                Some(g) => self.gateway_attach(&mut tx, &id, g).await?,
                None => Value::Null,
            };
            let mut body = Map::new();
            body.insert("id".into(), json!(id));
            body.insert("name".into(), json!(name));
            body.insert("project_id".into(), json!(project_id));
            body.insert("admin_state_up".into(), json!(admin_state_up));
            body.insert("status".into(), json!("ACTIVE"));
            body.insert("external_gateway_info".into(), info);
            body.insert("routes".into(), json!([]));
            body.insert("distributed".into(), json!(distributed.unwrap_or(false)));
            body.insert("ha".into(), json!(ha.unwrap_or(false)));
            body.insert("availability_zone_hints".into(), json!(hints));
            body.insert("availability_zones".into(), json!([]));
            standard_attributes(&mut body, description.clone(), true);
            let body = Value::Object(body);
            record_insert(&mut tx, Kind::Router, &body).await?;
            Ok(body)
        })?;
        self.render_one(ctx, Kind::Router, &record).await
    }

    /// The subnets a router has interfaces on.
    async fn router_subnets(tx: &mut db::Tx, router_id: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for p in record_list_by_tx(tx, Kind::Port, "device_id", router_id).await? {
            if str_of(&p, "device_owner") != "network:router_interface" {
                continue;
            }
            for f in p["fixed_ips"].as_array().cloned().unwrap_or_default() {
                if let Some(s) = record_get_tx(tx, Kind::Subnet, str_of(&f, "subnet_id")).await? {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    pub async fn router_update(&self, ctx: &RequestContext, id: &str, input: Input, if_match: Option<i64>) -> Result<Value> {
        input.check_known(UPDATE, &["id", "project_id", "tenant_id", "status"])?;
        let (_, target) = self.visible(ctx, Kind::Router, id).await?;
        self.enforce(ctx, "update_router", &target)?;
        let distributed = input.opt_bool("distributed")?;
        let ha = input.opt_bool("ha")?;
        self.enforce_attributes(ctx, "update_router", &[("distributed", distributed.is_some()), ("ha", ha.is_some())], &target)?;
        let gw_change = self.check_gateway_policy(ctx, "update_router", input.get("external_gateway_info"), &target)?;
        if let Some(Some(g)) = &gw_change {
            self.visible(ctx, Kind::Network, &g.network_id).await?;
        }
        let routes_in = input.opt_list("routes")?;
        let record = retrying!(self, tx, {
            let mut r = record_get_tx(&mut tx, Kind::Router, id).await?.ok_or_else(|| NeutronError::RouterNotFound(id.to_string()))?;
            check_revision(&r, if_match)?;
            if let Some(change) = &gw_change {
                let current_net = r["external_gateway_info"]["network_id"].as_str().map(str::to_string);
                match change {
                    Some(g) if current_net.as_deref() == Some(g.network_id.as_str()) && g.external_fixed_ips.is_none() => {
                        r["external_gateway_info"]["enable_snat"] = json!(g.enable_snat);
                    }
                    Some(g) => {
                        Self::gateway_detach(&mut tx, &r).await?;
                        r["external_gateway_info"] = self.gateway_attach(&mut tx, id, g).await?;
                    }
                    None => {
                        Self::gateway_detach(&mut tx, &r).await?;
                        r["external_gateway_info"] = Value::Null;
                    }
                }
            }
            if let Some(list) = &routes_in {
                let subnets = Self::router_subnets(&mut tx, id).await?;
                let mut routes: Vec<Value> = Vec::new();
                for route in list {
                    let (Some(d), Some(n)) = (route.get("destination").and_then(Value::as_str), route.get("nexthop").and_then(Value::as_str)) else {
                        return Err(NeutronError::InvalidRoutes { routes: route.to_string(), reason: "destination and nexthop are required".into() });
                    };
                    let dest = Cidr::parse(d).map_err(|_| NeutronError::InvalidRoutes { routes: route.to_string(), reason: format!("'{d}' is not a valid IP subnet") })?;
                    let hop = Ip::parse(n).ok_or_else(|| NeutronError::InvalidRoutes { routes: route.to_string(), reason: format!("'{n}' is not a valid IP address") })?;
                    if !subnets.iter().any(|s| cidr_of(s).is_some_and(|c| c.contains(hop))) {
                        return Err(NeutronError::InvalidRoutes { routes: route.to_string(), reason: "the nexthop is not connected with router".into() });
                    }
                    let v = json!({"destination": dest.to_string(), "nexthop": hop.to_string()});
                    if !routes.contains(&v) {
                        routes.push(v);
                    }
                }
                r["routes"] = json!(routes);
            }
            for key in ["name", "description"] {
                if let Some(v) = input.opt_str_max(key, 255)? {
                    r[key] = json!(v);
                }
            }
            for (k, v) in [("admin_state_up", input.opt_bool("admin_state_up")?), ("distributed", distributed), ("ha", ha)] {
                if let Some(v) = v {
                    r[k] = json!(v);
                }
            }
            bump_revision(&mut r);
            record_update(&mut tx, Kind::Router, &r).await?;
            Ok(r)
        })?;
        self.render_one(ctx, Kind::Router, &record).await
    }

    /// Deletes a router; refused while it has interfaces (RouterInUse) or its gateway
    /// carries floating IPs.
    pub async fn router_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (_, target) = self.visible(ctx, Kind::Router, id).await?;
        self.enforce(ctx, "delete_router", &target)?;
        retrying!(self, tx, {
            let r = record_get_tx(&mut tx, Kind::Router, id).await?.ok_or_else(|| NeutronError::RouterNotFound(id.to_string()))?;
            let ports = record_list_by_tx(&mut tx, Kind::Port, "device_id", id).await?;
            if ports.iter().any(|p| str_of(p, "device_owner") == "network:router_interface") {
                return Err(NeutronError::RouterInUse { router_id: id.to_string(), reason: "still has ports".into() });
            }
            Self::gateway_detach(&mut tx, &r).await?;
            record_delete(&mut tx, Kind::Router, id).await?;
            Ok(())
        })
    }

    fn interface_info(router: &Value, port: &Value) -> Value {
        let subnet_ids: Vec<&str> = port["fixed_ips"].as_array().map(|a| a.iter().map(|f| str_of(f, "subnet_id")).collect()).unwrap_or_default();
        json!({
            "id": str_of(router, "id"),
            "tenant_id": str_of(router, "project_id"),
            "project_id": str_of(router, "project_id"),
            "port_id": str_of(port, "id"),
            "network_id": str_of(port, "network_id"),
            "subnet_id": subnet_ids.first().copied().unwrap_or(""),
            "subnet_ids": subnet_ids,
        })
    }

    fn interface_ids(input: &Input, resource: &'static str) -> Result<(Option<String>, Option<String>)> {
        let subnet_id = input.opt_str("subnet_id")?;
        let port_id = input.opt_str("port_id")?;
        match (&subnet_id, &port_id) {
            (Some(_), Some(_)) => Err(NeutronError::bad(resource, "Cannot specify both subnet-id and port-id")),
            (None, None) => Err(NeutronError::bad(resource, "Either subnet_id or port_id must be specified")),
            _ => Ok((subnet_id, port_id)),
        }
    }

    /// `PUT /v2.0/routers/{id}/add_router_interface`.
    pub async fn router_interface_add(&self, ctx: &RequestContext, id: &str, input: Input) -> Result<Value> {
        let (_, target) = self.visible(ctx, Kind::Router, id).await?;
        self.enforce(ctx, "add_router_interface", &target)?;
        let (subnet_id, port_id) = Self::interface_ids(&input, "router")?;
        if let Some(s) = &subnet_id {
            self.visible(ctx, Kind::Subnet, s).await?;
        }
        if let Some(p) = &port_id {
            let (port, _) = self.visible(ctx, Kind::Port, p).await?;
            if str_of(&port, "project_id") != str_of(&target, "project_id") && !self.is_admin(ctx) {
                return Err(NeutronError::PortNotFound(p.clone()));
            }
        }
        retrying!(self, tx, {
            let router = record_get_tx(&mut tx, Kind::Router, id).await?.ok_or_else(|| NeutronError::RouterNotFound(id.to_string()))?;
            let existing = Self::router_subnets(&mut tx, id).await?;
            let port = match (&subnet_id, &port_id) {
                (Some(sid), _) => {
                    let subnet = record_get_tx(&mut tx, Kind::Subnet, sid).await?.ok_or_else(|| NeutronError::SubnetNotFound(sid.clone()))?;
                    let Some(gw) = subnet["gateway_ip"].as_str().map(str::to_string) else {
                        return Err(NeutronError::bad("router", "Subnet for router interface must have a gateway IP"));
                    };
                    Self::check_interface_subnet(&existing, &subnet, id)?;
                    let network_id = str_of(&subnet, "network_id").to_string();
                    let pid = common::ids::new_uuid();
                    let mac = format!("fa:16:3e:{:02x}:{:02x}:{:02x}", rand::random::<u8>(), rand::random::<u8>(), rand::random::<u8>());
                    let fixed = Self::allocate_fixed_ips(&mut tx, &network_id, &pid, &mac, "network:router_interface", Some(&[json!({"subnet_id": sid, "ip_address": gw})])).await?;
                    self.service_port_insert(&mut tx, &pid, &network_id, str_of(&router, "project_id"), &mac, id, "network:router_interface", &fixed).await?
                }
                (None, Some(pid)) => {
                    let mut port = record_get_tx(&mut tx, Kind::Port, pid).await?.ok_or_else(|| NeutronError::PortNotFound(pid.clone()))?;
                    if !str_of(&port, "device_id").is_empty() || !str_of(&port, "device_owner").is_empty() {
                        return Err(NeutronError::PortInUse { port_id: pid.clone(), net_id: str_of(&port, "network_id").to_string(), device_id: str_of(&port, "device_id").to_string() });
                    }
                    let fixed = port["fixed_ips"].as_array().cloned().unwrap_or_default();
                    if fixed.is_empty() {
                        return Err(NeutronError::bad("router", "Router port must have at least one fixed IP"));
                    }
                    for f in &fixed {
                        if let Some(s) = record_get_tx(&mut tx, Kind::Subnet, str_of(f, "subnet_id")).await? {
                            Self::check_interface_subnet(&existing, &s, id)?;
                        }
                    }
                    port["device_id"] = json!(id);
                    port["device_owner"] = json!("network:router_interface");
                    port["status"] = json!("ACTIVE");
                    bump_revision(&mut port);
                    record_update(&mut tx, Kind::Port, &port).await?;
                    port
                }
                (None, None) => return Err(NeutronError::bad("router", "Either subnet_id or port_id must be specified")),
            };
            let mut r = router.clone();
            bump_revision(&mut r);
            record_update(&mut tx, Kind::Router, &r).await?;
            Ok(Self::interface_info(&r, &port))
        })
    }

    fn check_interface_subnet(existing: &[Value], subnet: &Value, _router_id: &str) -> Result<()> {
        let sid = str_of(subnet, "id");
        if existing.iter().any(|s| str_of(s, "id") == sid) {
            return Err(NeutronError::bad("router", format!("Router already has a port on subnet {sid}")));
        }
        let cidr = cidr_of(subnet);
        for s in existing {
            if let (Some(a), Some(b)) = (cidr, cidr_of(s)) {
                if a.overlaps(&b) {
                    return Err(NeutronError::bad("router", format!("Cidr {a} of subnet {sid} overlaps with cidr {b} of subnet {}", str_of(s, "id"))));
                }
            }
        }
        Ok(())
    }

    /// `PUT /v2.0/routers/{id}/remove_router_interface`: the interface port goes; refused
    /// while a floating IP behind this router needs the subnet.
    pub async fn router_interface_remove(&self, ctx: &RequestContext, id: &str, input: Input) -> Result<Value> {
        let (_, target) = self.visible(ctx, Kind::Router, id).await?;
        self.enforce(ctx, "remove_router_interface", &target)?;
        let (subnet_id, port_id) = Self::interface_ids(&input, "router")?;
        retrying!(self, tx, {
            let router = record_get_tx(&mut tx, Kind::Router, id).await?.ok_or_else(|| NeutronError::RouterNotFound(id.to_string()))?;
            let ports: Vec<Value> = record_list_by_tx(&mut tx, Kind::Port, "device_id", id).await?.into_iter().filter(|p| str_of(p, "device_owner") == "network:router_interface").collect();
            let port = match (&subnet_id, &port_id) {
                (_, Some(pid)) => {
                    let p = ports.iter().find(|p| str_of(p, "id") == pid).cloned().ok_or_else(|| NeutronError::RouterInterfaceNotFound { router_id: id.to_string(), port_id: pid.clone() })?;
                    if let Some(sid) = &subnet_id {
                        if !p["fixed_ips"].as_array().is_some_and(|a| a.iter().any(|f| str_of(f, "subnet_id") == sid)) {
                            return Err(NeutronError::bad("router", format!("Subnet on port {pid} does not match the requested subnet {sid}")));
                        }
                    }
                    p
                }
                (Some(sid), None) => ports
                    .iter()
                    .find(|p| p["fixed_ips"].as_array().is_some_and(|a| a.iter().any(|f| str_of(f, "subnet_id") == sid)))
                    .cloned()
                    .ok_or_else(|| NeutronError::RouterInterfaceNotFoundForSubnet { router_id: id.to_string(), subnet_id: sid.clone() })?,
                (None, None) => return Err(NeutronError::bad("router", "Either subnet_id or port_id must be specified")),
            };
            // Floating IPs routed through this interface would lose their way in.
            let subnets: Vec<String> = port["fixed_ips"].as_array().map(|a| a.iter().map(|f| str_of(f, "subnet_id").to_string()).collect()).unwrap_or_default();
            for fip in record_list_by_tx(&mut tx, Kind::FloatingIp, "router_id", id).await? {
                let fixed = fip["fixed_ip_address"].as_str().and_then(Ip::parse);
                for sid in &subnets {
                    if let Some(s) = record_get_tx(&mut tx, Kind::Subnet, sid).await? {
                        if fixed.is_some_and(|ip| cidr_of(&s).is_some_and(|c| c.contains(ip))) {
                            return Err(NeutronError::RouterInterfaceInUseByFloatingIp { subnet_id: sid.clone(), router_id: id.to_string() });
                        }
                    }
                }
            }
            Self::port_delete_tx(&mut tx, str_of(&port, "id")).await?;
            let mut r = router.clone();
            bump_revision(&mut r);
            record_update(&mut tx, Kind::Router, &r).await?;
            Ok(Self::interface_info(&r, &port))
        })
    }

    /// Finds the router that joins `subnet_id` to `external_network_id`.
    async fn router_for_floating_ip(tx: &mut db::Tx, external_network_id: &str, subnet_id: &str, port_id: &str) -> Result<String> {
        for p in record_list_by_tx(tx, Kind::Port, "network_id", external_network_id).await? {
            if str_of(&p, "device_owner") != "network:router_gateway" {
                continue;
            }
            let router_id = str_of(&p, "device_id");
            for ip in record_list_by_tx(tx, Kind::Port, "device_id", router_id).await? {
                if str_of(&ip, "device_owner") == "network:router_interface" && ip["fixed_ips"].as_array().is_some_and(|a| a.iter().any(|f| str_of(f, "subnet_id") == subnet_id)) {
                    return Ok(router_id.to_string());
                }
            }
        }
        Err(NeutronError::ExternalGatewayForFloatingIpNotFound { external_network_id: external_network_id.to_string(), subnet_id: subnet_id.to_string(), port_id: port_id.to_string() })
    }

    /// Points a floating IP at a port's fixed IP (or nowhere).
    async fn floating_ip_associate(&self, ctx: &RequestContext, tx: &mut db::Tx, fip: &mut Value, port_id: Option<&str>, fixed_ip: Option<&str>) -> Result<()> {
        let Some(port_id) = port_id else {
            fip["port_id"] = Value::Null;
            fip["fixed_ip_address"] = Value::Null;
            fip["router_id"] = Value::Null;
            fip["status"] = json!("DOWN");
            return Ok(());
        };
        let port = record_get_tx(tx, Kind::Port, port_id).await?.ok_or_else(|| NeutronError::PortNotFound(port_id.to_string()))?;
        if str_of(&port, "project_id") != str_of(fip, "project_id") && !self.is_admin(ctx) {
            return Err(NeutronError::PortNotFound(port_id.to_string()));
        }
        let fixed_ips = port["fixed_ips"].as_array().cloned().unwrap_or_default();
        let chosen = match fixed_ip {
            Some(want) => {
                let want_ip = Ip::parse(want).ok_or_else(|| invalid("fixed_ip_address", format!("'{want}' is not a valid IP address")))?;
                fixed_ips
                    .iter()
                    .find(|f| Ip::parse(str_of(f, "ip_address")) == Some(want_ip))
                    .cloned()
                    .ok_or_else(|| NeutronError::bad("floatingip", format!("Port {port_id} does not have fixed ip {want}")))?
            }
            None => {
                let v4: Vec<&Value> = fixed_ips.iter().filter(|f| Ip::parse(str_of(f, "ip_address")).is_some_and(|i| !i.v6)).collect();
                match v4.as_slice() {
                    [] => return Err(NeutronError::bad("floatingip", format!("Port {port_id} does not have any IPv4 address"))),
                    [one] => (*one).clone(),
                    _ => return Err(NeutronError::bad("floatingip", format!("Port {port_id} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP"))),
                }
            }
        };
        let fixed_address = str_of(&chosen, "ip_address").to_string();
        let net = str_of(fip, "floating_network_id").to_string();
        for other in record_list_by_tx(tx, Kind::FloatingIp, "port_id", port_id).await? {
            if str_of(&other, "id") != str_of(fip, "id") && str_of(&other, "fixed_ip_address") == fixed_address && str_of(&other, "floating_network_id") == net {
                return Err(NeutronError::FloatingIpPortAlreadyAssociated {
                    floating_ip_address: str_of(fip, "floating_ip_address").to_string(),
                    fip_id: str_of(fip, "id").to_string(),
                    port_id: port_id.to_string(),
                    fixed_ip: fixed_address,
                    net_id: net,
                });
            }
        }
        let router_id = Self::router_for_floating_ip(tx, &net, str_of(&chosen, "subnet_id"), port_id).await?;
        fip["port_id"] = json!(port_id);
        fip["fixed_ip_address"] = json!(fixed_address);
        fip["router_id"] = json!(router_id);
        fip["status"] = json!("ACTIVE");
        Ok(())
    }

    pub async fn floating_ip_create(&self, ctx: &RequestContext, input: Input) -> Result<Value> {
        input.check_known(FIP_CREATE, &[])?;
        let project_id = self.owner_of_new(ctx, &input, "floatingip")?;
        let target = json!({"project_id": project_id});
        self.enforce(ctx, "create_floatingip", &target)?;
        let address = input.opt_str("floating_ip_address")?;
        self.enforce_attributes(ctx, "create_floatingip", &[("floating_ip_address", address.is_some())], &target)?;
        let network_id = input.opt_str("floating_network_id")?.ok_or_else(|| invalid("floating_network_id", "floating_network_id is required"))?;
        let (network, _) = self.visible(ctx, Kind::Network, &network_id).await?;
        if network["router:external"] != json!(true) {
            return Err(NeutronError::bad("floatingip", format!("Network {network_id} is not a valid external network")));
        }
        let subnet_id = input.opt_str("subnet_id")?;
        let port_id = input.opt_str("port_id")?;
        let fixed_ip = input.opt_str("fixed_ip_address")?;
        let description = input.opt_str_max("description", 255)?;
        let id = common::ids::new_uuid();
        let record = retrying!(self, tx, {
            self.quota_check(&mut tx, &project_id, "floatingip", 1).await?;
            let request: Vec<Value> = match (&subnet_id, &address) {
                (Some(s), Some(a)) => vec![json!({"subnet_id": s, "ip_address": a})],
                (Some(s), None) => vec![json!({"subnet_id": s})],
                (None, Some(a)) => vec![json!({"ip_address": a})],
                (None, None) => {
                    // The first IPv4 subnet of the external network with room.
                    let subnets: Vec<Value> = record_list_by_tx(&mut tx, Kind::Subnet, "network_id", &network_id).await?.into_iter().filter(|s| s["ip_version"] == json!(4)).collect();
                    if subnets.is_empty() {
                        return Err(NeutronError::ExternalIpAddressExhausted(network_id.clone()));
                    }
                    Vec::new()
                }
            };
            let pid = common::ids::new_uuid();
            let mac = format!("fa:16:3e:{:02x}:{:02x}:{:02x}", rand::random::<u8>(), rand::random::<u8>(), rand::random::<u8>());
            let fixed = if request.is_empty() {
                let subnets: Vec<Value> = record_list_by_tx(&mut tx, Kind::Subnet, "network_id", &network_id).await?.into_iter().filter(|s| s["ip_version"] == json!(4)).collect();
                let mut got = None;
                for s in &subnets {
                    match Self::allocate_fixed_ips(&mut tx, &network_id, &pid, &mac, "network:floatingip", Some(&[json!({"subnet_id": str_of(s, "id")})])).await {
                        Ok(f) => {
                            got = Some(f);
                            break;
                        }
                        Err(NeutronError::IpAddressGenerationFailure(_)) => continue,
                        Err(e) => return Err(e),
                    }
                }
                got.ok_or_else(|| NeutronError::ExternalIpAddressExhausted(network_id.clone()))?
            } else {
                Self::allocate_fixed_ips(&mut tx, &network_id, &pid, &mac, "network:floatingip", Some(&request)).await?
            };
            let floating_address = fixed.first().map(|f| str_of(f, "ip_address").to_string()).unwrap_or_default();
            self.service_port_insert(&mut tx, &pid, &network_id, "", &mac, &id, "network:floatingip", &fixed).await?;
            let mut body = Map::new();
            body.insert("id".into(), json!(id));
            body.insert("project_id".into(), json!(project_id));
            body.insert("floating_network_id".into(), json!(network_id));
            body.insert("floating_ip_address".into(), json!(floating_address));
            body.insert("port_id".into(), Value::Null);
            body.insert("fixed_ip_address".into(), Value::Null);
            body.insert("router_id".into(), Value::Null);
            body.insert("status".into(), json!("DOWN"));
            standard_attributes(&mut body, description.clone(), true);
            let mut body = Value::Object(body);
            if port_id.is_some() {
                self.floating_ip_associate(ctx, &mut tx, &mut body, port_id.as_deref(), fixed_ip.as_deref()).await?;
            }
            record_insert(&mut tx, Kind::FloatingIp, &body).await?;
            Ok(body)
        })?;
        self.floating_ip_notify(&[record["port_id"].as_str()]).await;
        self.render_one(ctx, Kind::FloatingIp, &record).await
    }

    pub async fn floating_ip_update(&self, ctx: &RequestContext, id: &str, input: Input, if_match: Option<i64>) -> Result<Value> {
        input.check_known(FIP_UPDATE, &["id", "floating_network_id", "floating_ip_address", "project_id", "tenant_id", "router_id", "status"])?;
        let (_, target) = self.visible(ctx, Kind::FloatingIp, id).await?;
        self.enforce(ctx, "update_floatingip", &target)?;
        let port_change = input.has("port_id");
        let port_id = input.opt_str("port_id")?;
        let fixed_ip = input.opt_str("fixed_ip_address")?;
        let description = input.opt_str_max("description", 255)?;
        let (before_port, record) = retrying!(self, tx, {
            let mut fip = record_get_tx(&mut tx, Kind::FloatingIp, id).await?.ok_or_else(|| NeutronError::FloatingIpNotFound(id.to_string()))?;
            let before_port = fip["port_id"].as_str().map(str::to_string);
            check_revision(&fip, if_match)?;
            if port_change {
                self.floating_ip_associate(ctx, &mut tx, &mut fip, port_id.as_deref(), fixed_ip.as_deref()).await?;
            }
            if let Some(d) = &description {
                fip["description"] = json!(d);
            }
            bump_revision(&mut fip);
            record_update(&mut tx, Kind::FloatingIp, &fip).await?;
            Ok((before_port, fip))
        })?;
        if port_change {
            // The port it left (if any) first, then the one it points at now, as upstream.
            self.floating_ip_notify(&[before_port.as_deref(), record["port_id"].as_str()]).await;
        }
        self.render_one(ctx, Kind::FloatingIp, &record).await
    }

    pub async fn floating_ip_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (_, target) = self.visible(ctx, Kind::FloatingIp, id).await?;
        self.enforce(ctx, "delete_floatingip", &target)?;
        let port_id = retrying!(self, tx, {
            let port_id = record_get_tx(&mut tx, Kind::FloatingIp, id).await?.and_then(|f| f["port_id"].as_str().map(str::to_string));
            for p in record_list_by_tx(&mut tx, Kind::Port, "device_id", id).await? {
                if str_of(&p, "device_owner") == "network:floatingip" {
                    ipdb::ipallocation_delete_by_port(&mut tx, str_of(&p, "id")).await?;
                    record_delete(&mut tx, Kind::Port, str_of(&p, "id")).await?;
                }
            }
            if !record_delete(&mut tx, Kind::FloatingIp, id).await? {
                return Err(NeutronError::FloatingIpNotFound(id.to_string()));
            }
            Ok(port_id)
        })?;
        self.floating_ip_notify(&[port_id.as_deref()]).await;
        Ok(())
    }

    /// Tells Nova that the addresses of the servers behind `ports` changed (a floating IP came
    /// or went), as upstream's `send_network_change` for floating IPs: a port deleted meanwhile
    /// is skipped, and a port named twice is told once.
    async fn floating_ip_notify(&self, ports: &[Option<&str>]) {
        if !self.cfg.notify_nova_on_port_data_changes {
            return;
        }
        let mut events: Vec<NovaEvent> = Vec::new();
        for port_id in ports.iter().flatten() {
            match record_get(&self.db, Kind::Port, port_id).await {
                Ok(Some(port)) => {
                    if let Some(e) = nova::network_changed(&port) {
                        if !events.contains(&e) {
                            events.push(e);
                        }
                    }
                }
                Ok(None) => tracing::debug!(port_id, "port deleted meanwhile; Nova needs no network-changed"),
                Err(e) => tracing::warn!(port_id, error = %e, "cannot read the port to notify Nova"),
            }
        }
        self.notify_nova(events);
    }
}
