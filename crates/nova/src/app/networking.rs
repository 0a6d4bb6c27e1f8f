//! Servers and the Networking service on the API side (nova/network/neutron.py's checks,
//! os-interface, and the security group actions): what a create may ask for, the ports and
//! security groups of a server, attaching and detaching interfaces (done by the server's
//! compute host), adding and removing security groups (on the server's ports).

use std::collections::BTreeMap;
use std::sync::Arc;

use auth::RequestContext;
use serde_json::{json, Value};

use super::App;
use crate::db::instances::Instance;
use crate::error::{NovaError, Result};
use crate::network::{NetworkError, NetworkRequest, NeutronClient, RequestedNetwork};
use crate::rpc::{self, RpcContext};

/// What an interface attach asks for (`interfaceAttachment`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AttachRequest {
    pub port_id: Option<String>,
    pub net_id: Option<String>,
    pub fixed_ip: Option<String>,
    pub tag: Option<String>,
}

fn token(ctx: &RequestContext) -> String {
    ctx.auth_token.clone().unwrap_or_default()
}

/// A failure of the network service, where the user could not have known better.
pub(crate) fn unavailable(e: NetworkError) -> NovaError {
    NovaError::Internal(format!("network service: {e}"))
}

impl App {
    /// The Networking service client, if this deployment has one (a `network` endpoint).
    pub async fn network(&self) -> Result<Option<Arc<NeutronClient>>> {
        let (Some(client), Some(auth)) = (self.network.get(), self.service_auth.get()) else { return Ok(None) };
        match auth.has_service("network").await {
            Ok(true) => Ok(Some(client.clone())),
            Ok(false) => Ok(None),
            Err(e) => Err(NovaError::Internal(format!("cannot read the service catalog: {e}"))),
        }
    }

    async fn network_required(&self) -> Result<Arc<NeutronClient>> {
        self.network().await?.ok_or_else(|| NovaError::BadRequest("This cloud has no Networking service (no 'network' endpoint in the catalog).".into()))
    }

    /// The networks the project may boot on without naming one: its own and the shared ones
    /// (upstream's `_get_available_networks`).
    async fn available_networks(&self, client: &NeutronClient, ctx: &RequestContext, project: &str) -> Result<Vec<Value>> {
        let t = token(ctx);
        let mut nets = client.networks(&t, &[("project_id", project), ("shared", "false")]).await.map_err(unavailable)?;
        nets.extend(client.networks(&t, &[("shared", "true")]).await.map_err(unavailable)?);
        Ok(nets)
    }

    /// Checks a create's `networks` and `security_groups` with the caller's token and
    /// resolves them: a request without networks gets the project's one network, ports must
    /// be free, security groups are found by name or id in the project.
    pub async fn validate_networks(&self, ctx: &RequestContext, project: &str, req: NetworkRequest, security_groups: &[String], max_count: usize) -> Result<(NetworkRequest, Vec<String>)> {
        let Some(client) = self.network().await? else {
            return match req {
                NetworkRequest::Unspecified | NetworkRequest::None => Ok((NetworkRequest::None, vec![])),
                NetworkRequest::Auto => Err(NovaError::BadRequest("Unable to automatically allocate a network for project: this cloud has no Networking service; use 'networks': 'none'.".into())),
                NetworkRequest::List(_) => Err(self.network_required().await.err().unwrap_or_else(|| NovaError::BadRequest("no Networking service".into()))),
            };
        };
        let t = token(ctx);
        let resolved = match req {
            NetworkRequest::None => return Ok((NetworkRequest::None, vec![])),
            NetworkRequest::List(list) => {
                let mut out = Vec::new();
                for mut r in list {
                    if let Some(port_id) = &r.port_id {
                        let port = client.port(&t, port_id).await.map_err(|e| match e {
                            NetworkError::NotFound { .. } => NovaError::BadRequest(format!("Port {port_id} could not be found.")),
                            e => unavailable(e),
                        })?;
                        if port["device_id"].as_str().is_some_and(|d| !d.is_empty()) {
                            return Err(NovaError::Conflict(format!("Port {port_id} is still in use.")));
                        }
                        if max_count > 1 {
                            return Err(NovaError::BadRequest("Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.".into()));
                        }
                        r.network_id = port["network_id"].as_str().map(str::to_string);
                    } else if let Some(net_id) = &r.network_id {
                        let net = client.network(&t, net_id).await.map_err(|e| match e {
                            NetworkError::NotFound { .. } => NovaError::BadRequest(format!("Network {net_id} could not be found.")),
                            e => unavailable(e),
                        })?;
                        self.check_external_attach(ctx, &net)?;
                        if r.fixed_ip.is_some() && max_count > 1 {
                            return Err(NovaError::BadRequest("max_count cannot be greater than 1 if an fixed_ip is specified.".into()));
                        }
                    }
                    out.push(r);
                }
                NetworkRequest::List(out)
            }
            NetworkRequest::Unspecified | NetworkRequest::Auto => {
                let nets = self.available_networks(&client, ctx, project).await?;
                match nets.len() {
                    0 if req == NetworkRequest::Auto => NetworkRequest::Auto,
                    0 => NetworkRequest::None,
                    1 => {
                        self.check_external_attach(ctx, &nets[0])?;
                        NetworkRequest::List(vec![RequestedNetwork { network_id: nets[0]["id"].as_str().map(str::to_string), ..Default::default() }])
                    }
                    _ => return Err(NovaError::Conflict("Multiple possible networks found, use a Network ID to be more specific.".into())),
                }
            }
        };
        let mut group_ids = Vec::new();
        if !security_groups.is_empty() && resolved != NetworkRequest::None {
            let groups = client.security_groups(&t, &[("project_id", project)]).await.map_err(unavailable)?;
            for name in security_groups {
                group_ids.push(pick_group(&groups, name, project)?);
            }
        }
        Ok((resolved, group_ids))
    }

    /// Only admins may put a server on an external network that is not shared.
    fn check_external_attach(&self, ctx: &RequestContext, net: &Value) -> Result<()> {
        if net["router:external"] == true && net["shared"] != true && !self.is_admin(ctx) {
            return Err(NovaError::Forbidden(format!("It is not allowed to create an interface on external network {}", net["id"].as_str().unwrap_or_default())));
        }
        Ok(())
    }

    /// The security groups of servers (by id), read from their ports, for the server view:
    /// `[{"name": ...}]` per server that has ports.
    pub async fn servers_security_groups(&self, ctx: &RequestContext, servers: &[&Instance]) -> Result<BTreeMap<String, Vec<Value>>> {
        let mut out = BTreeMap::new();
        let with_ports: Vec<&&Instance> = servers.iter().filter(|i| !i.network_info.is_empty()).collect();
        if with_ports.is_empty() {
            return Ok(out);
        }
        let Some(client) = self.network().await? else { return Ok(out) };
        let t = token(ctx);
        for chunk in with_ports.chunks(50) {
            let mut q: Vec<(&str, &str)> = chunk.iter().map(|i| ("device_id", i.uuid.as_str())).collect();
            q.push(("fields", "device_id"));
            q.push(("fields", "security_groups"));
            let ports = client.ports(&t, &q).await.map_err(unavailable)?;
            let mut ids: Vec<String> = ports.iter().flat_map(|p| p["security_groups"].as_array().cloned().unwrap_or_default()).filter_map(|g| g.as_str().map(str::to_string)).collect();
            ids.sort();
            ids.dedup();
            if ids.is_empty() {
                continue;
            }
            let mut gq: Vec<(&str, &str)> = ids.iter().map(|id| ("id", id.as_str())).collect();
            gq.push(("fields", "id"));
            gq.push(("fields", "name"));
            let names: BTreeMap<String, String> = client.security_groups(&t, &gq).await.map_err(unavailable)?.iter().filter_map(|g| Some((g["id"].as_str()?.to_string(), g["name"].as_str()?.to_string()))).collect();
            for p in &ports {
                let Some(device) = p["device_id"].as_str() else { continue };
                let list: &mut Vec<Value> = out.entry(device.to_string()).or_default();
                for g in p["security_groups"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    let entry = json!({"name": names.get(g).cloned().unwrap_or_else(|| g.to_string())});
                    if !list.contains(&entry) {
                        list.push(entry);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The ports of a server as `interfaceAttachment`s (GET os-interface).
    pub async fn interfaces(&self, ctx: &RequestContext, i: &Instance) -> Result<Vec<Value>> {
        let client = self.network_required().await?;
        let ports = client.ports(&token(ctx), &[("device_id", &i.uuid)]).await.map_err(unavailable)?;
        Ok(ports.iter().map(|p| interface_view(p, i)).collect())
    }

    /// One port of a server (404 when the port is not the server's).
    pub async fn interface(&self, ctx: &RequestContext, i: &Instance, port_id: &str) -> Result<Value> {
        let client = self.network_required().await?;
        let not_found = || NovaError::NotFound(format!("Port {port_id} is not attached"));
        let port = client.port(&token(ctx), port_id).await.map_err(|e| match e {
            NetworkError::NotFound { .. } => not_found(),
            e => unavailable(e),
        })?;
        if port["device_id"].as_str() != Some(i.uuid.as_str()) {
            return Err(not_found());
        }
        Ok(interface_view(&port, i))
    }

    /// POST os-interface: the server's host creates or binds the port and plugs it.
    pub async fn interface_attach(&self, ctx: &RequestContext, i: &Instance, req: AttachRequest) -> Result<Value> {
        let client = self.network_required().await?;
        if !["active", "paused", "stopped"].contains(&i.vm_state.as_str()) || i.task_state.is_some() {
            return Err(NovaError::Conflict(format!("Cannot 'attach_interface' instance {} while it is in vm_state {}", i.uuid, i.vm_state)));
        }
        let t = token(ctx);
        let mut req = req;
        let request = match (&req.port_id, &req.net_id) {
            (Some(port_id), _) => {
                let port = client.port(&t, port_id).await.map_err(|e| match e {
                    NetworkError::NotFound { .. } => NovaError::NotFound(format!("Port {port_id} could not be found.")),
                    e => unavailable(e),
                })?;
                if port["device_id"].as_str().is_some_and(|d| !d.is_empty()) {
                    return Err(NovaError::Conflict(format!("Port {port_id} is still in use.")));
                }
                RequestedNetwork { port_id: Some(port_id.clone()), network_id: port["network_id"].as_str().map(str::to_string), fixed_ip: None, tag: req.tag.take() }
            }
            (None, Some(net_id)) => {
                let net = client.network(&t, net_id).await.map_err(|e| match e {
                    NetworkError::NotFound { .. } => NovaError::NotFound(format!("Network {net_id} could not be found.")),
                    e => unavailable(e),
                })?;
                self.check_external_attach(ctx, &net)?;
                RequestedNetwork { port_id: None, network_id: Some(net_id.clone()), fixed_ip: req.fixed_ip.take(), tag: req.tag.take() }
            }
            (None, None) => match self.validate_networks(ctx, &i.project_id, NetworkRequest::Unspecified, &[], 1).await? {
                (NetworkRequest::List(mut l), _) if !l.is_empty() => l.remove(0),
                _ => return Err(NovaError::BadRequest("No network is available to attach an interface to: give net_id or port_id.".into())),
            },
        };
        let host = i.host.clone().ok_or_else(|| NovaError::Conflict(format!("Cannot 'attach_interface' instance {} while it is in vm_state {}", i.uuid, i.vm_state)))?;
        self.action_start(ctx, &i.uuid, "attach_interface").await?;
        let port: Value = rpc::call(self.bus()?.as_ref(), &rpc::compute_topic(&host), "attach_interface", &(&i.uuid, &request), &RpcContext::from_request(ctx))
            .await
            .map_err(|e| NovaError::BadRequest(format!("Failed to attach network adapter device to {}: {e}", i.uuid)))?;
        Ok(interface_view(&port, i))
    }

    /// DELETE os-interface/{port_id}: the host unplugs it; a port Nova created is deleted,
    /// one the user gave is unbound.
    pub async fn interface_detach(&self, ctx: &RequestContext, i: &Instance, port_id: &str) -> Result<()> {
        if !i.network_info.iter().any(|v| v.id == port_id) {
            // Maybe the cache is behind: the port says whose it is.
            self.interface(ctx, i, port_id).await?;
        }
        if !["active", "paused", "stopped"].contains(&i.vm_state.as_str()) || i.task_state.is_some() {
            return Err(NovaError::Conflict(format!("Cannot 'detach_interface' instance {} while it is in vm_state {}", i.uuid, i.vm_state)));
        }
        let host = i.host.clone().ok_or_else(|| NovaError::Conflict(format!("Cannot 'detach_interface' instance {} while it is in vm_state {}", i.uuid, i.vm_state)))?;
        self.action_start(ctx, &i.uuid, "detach_interface").await?;
        rpc::cast(self.bus()?.as_ref(), &rpc::compute_topic(&host), "detach_interface", &(&i.uuid, port_id), &RpcContext::from_request(ctx)).await.map_err(|e| NovaError::Internal(e.to_string()))
    }

    /// addSecurityGroup / removeSecurityGroup: the group (by name or id, in the server's
    /// project) is added to or removed from every port of the server.
    pub async fn server_security_group(&self, ctx: &RequestContext, i: &Instance, name: &str, add: bool) -> Result<()> {
        let client = self.network_required().await?;
        let t = token(ctx);
        let groups = client.security_groups(&t, &[("project_id", &i.project_id)]).await.map_err(unavailable)?;
        let group = pick_group(&groups, name, &i.project_id).map_err(|e| match e {
            NovaError::BadRequest(m) => NovaError::NotFound(m),
            e => e,
        })?;
        let ports = client.ports(&t, &[("device_id", &i.uuid)]).await.map_err(unavailable)?;
        if ports.is_empty() {
            return Err(NovaError::BadRequest(format!("Instance {} has no network ports to {} security group {name} on.", i.uuid, if add { "add" } else { "remove" })));
        }
        let has = |p: &Value| p["security_groups"].as_array().is_some_and(|a| a.iter().any(|g| g.as_str() == Some(group.as_str())));
        if add && ports.iter().all(has) {
            return Err(NovaError::BadRequest(format!("Security group {name} is already associated with the instance {}", i.uuid)));
        }
        if !add && !ports.iter().any(has) {
            return Err(NovaError::BadRequest(format!("Security group {name} not associated with the instance {}", i.uuid)));
        }
        for p in &ports {
            let mut list: Vec<String> = p["security_groups"].as_array().into_iter().flatten().filter_map(|g| g.as_str().map(str::to_string)).collect();
            if add && !list.contains(&group) {
                list.push(group.clone());
            } else if !add {
                list.retain(|g| *g != group);
            } else {
                continue;
            }
            let id = p["id"].as_str().unwrap_or_default();
            client.update_port(&t, id, json!({"security_groups": list})).await.map_err(|e| match e {
                NetworkError::Refused { status: 400 | 409, message, .. } => NovaError::BadRequest(message),
                e => unavailable(e),
            })?;
        }
        Ok(())
    }

    /// injectNetworkInfo (admin): the server's host reads its ports again into the info
    /// cache (the guest learns its addresses from DHCP or the metadata service).
    pub async fn server_inject_network_info(&self, ctx: &RequestContext, uuid: &str) -> Result<()> {
        let i = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:os-admin-actions:inject_network_info", &Self::server_target(&i))?;
        let host = i.host.clone().ok_or_else(|| NovaError::Conflict(format!("Cannot 'inject_network_info' instance {uuid} while it is in vm_state {}", i.vm_state)))?;
        self.action_start(ctx, uuid, "inject_network_info").await?;
        rpc::cast(self.bus()?.as_ref(), &rpc::compute_topic(&host), "external_instance_event", &(&i.uuid, "network-changed", "completed"), &RpcContext::from_request(ctx)).await.map_err(|e| NovaError::Internal(e.to_string()))
    }

    /// The security groups of one server in the legacy Nova shape (os-security-groups).
    pub async fn server_security_groups_detail(&self, ctx: &RequestContext, i: &Instance) -> Result<Vec<Value>> {
        let client = self.network_required().await?;
        let t = token(ctx);
        let ports = client.ports(&t, &[("device_id", &i.uuid)]).await.map_err(unavailable)?;
        let mut ids: Vec<String> = ports.iter().flat_map(|p| p["security_groups"].as_array().cloned().unwrap_or_default()).filter_map(|g| g.as_str().map(str::to_string)).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let q: Vec<(&str, &str)> = ids.iter().map(|id| ("id", id.as_str())).collect();
        let groups = client.security_groups(&t, &q).await.map_err(unavailable)?;
        Ok(groups.iter().map(legacy_security_group).collect())
    }
}

/// `address/prefix` with a prefix that fits the address.
fn is_cidr(c: &str) -> bool {
    let Some((addr, len)) = c.split_once('/') else { return false };
    match (addr.parse::<std::net::IpAddr>(), len.parse::<u8>()) {
        (Ok(std::net::IpAddr::V4(_)), Ok(l)) => l <= 32,
        (Ok(std::net::IpAddr::V6(_)), Ok(l)) => l <= 128,
        _ => false,
    }
}

/// A security group by id, or by name among `groups`.
fn pick_group(groups: &[Value], name: &str, project: &str) -> Result<String> {
    if let Some(g) = groups.iter().find(|g| g["id"].as_str() == Some(name)) {
        return Ok(g["id"].as_str().unwrap_or_default().to_string());
    }
    let named: Vec<&Value> = groups.iter().filter(|g| g["name"].as_str() == Some(name)).collect();
    match named.len() {
        0 => Err(NovaError::BadRequest(format!("Security group {name} not found for project {project}."))),
        1 => Ok(named[0]["id"].as_str().unwrap_or_default().to_string()),
        _ => Err(NovaError::Conflict(format!("Multiple security groups found matching '{name}'. Use an ID to be more specific."))),
    }
}

/// A Neutron security group as Nova's legacy API shows it.
pub fn legacy_security_group(g: &Value) -> Value {
    let id = g["id"].clone();
    let rules: Vec<Value> = g["security_group_rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["direction"] == "ingress")
        .map(|r| {
            json!({
                "id": r["id"],
                "parent_group_id": id,
                "ip_protocol": r["protocol"],
                "from_port": r["port_range_min"].as_i64().unwrap_or(-1),
                "to_port": r["port_range_max"].as_i64().unwrap_or(-1),
                "ip_range": r["remote_ip_prefix"].as_str().map(|c| json!({"cidr": c})).unwrap_or_else(|| json!({})),
                "group": if r["remote_group_id"].is_string() { json!({"tenant_id": g["project_id"], "name": r["remote_group_id"]}) } else { json!({}) },
            })
        })
        .collect();
    json!({"id": id, "name": g["name"], "description": g["description"], "tenant_id": g["project_id"], "rules": rules})
}

/// A port as an `interfaceAttachment`.
pub fn interface_view(port: &Value, i: &Instance) -> Value {
    let tag = i.network_info.iter().find(|v| port["id"].as_str() == Some(v.id.as_str())).and_then(|v| v.tag.clone());
    json!({
        "port_state": port["status"],
        "fixed_ips": port["fixed_ips"].as_array().into_iter().flatten().map(|f| json!({"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]})).collect::<Vec<_>>(),
        "port_id": port["id"],
        "net_id": port["network_id"],
        "mac_addr": port["mac_address"],
        "tag": tag,
    })
}

/// The legacy security group proxy (os-security-groups and os-security-group-rules, up to
/// 2.35): each call is the Neutron call it stands for, with the caller's token, its answer in
/// Nova's shape.
impl App {
    fn sg_error(id: &str) -> impl Fn(NetworkError) -> NovaError + '_ {
        move |e| match e {
            NetworkError::NotFound { .. } => NovaError::NotFound(format!("Security group {id} not found.")),
            NetworkError::Refused { kind, message, .. } if kind == "OverQuota" => NovaError::Forbidden(format!("Quota exceeded, too many security groups. {message}")),
            NetworkError::Refused { status: 400 | 409, message, .. } => NovaError::BadRequest(message),
            e => unavailable(e),
        }
    }

    /// A group in Nova's shape, its rules' remote groups shown by name.
    async fn legacy_group(&self, client: &NeutronClient, t: &str, g: &Value) -> Value {
        let mut v = legacy_security_group(g);
        let remote: Vec<String> = v["rules"].as_array().into_iter().flatten().filter_map(|r| r["group"]["name"].as_str().map(str::to_string)).collect();
        if remote.is_empty() {
            return v;
        }
        let q: Vec<(&str, &str)> = remote.iter().map(|id| ("id", id.as_str())).collect();
        let names: BTreeMap<String, String> = client.security_groups(t, &q).await.unwrap_or_default().iter().filter_map(|g| Some((g["id"].as_str()?.to_string(), g["name"].as_str()?.to_string()))).collect();
        for r in v["rules"].as_array_mut().into_iter().flatten() {
            if let Some(id) = r["group"]["name"].as_str().map(str::to_string) {
                r["group"]["name"] = json!(names.get(&id).cloned().unwrap_or(id));
            }
        }
        v
    }

    pub async fn security_group_list(&self, ctx: &RequestContext, all_tenants: bool) -> Result<Vec<Value>> {
        let client = self.network_required().await?;
        let t = token(ctx);
        let project = ctx.project_id().unwrap_or_default().to_string();
        let q: Vec<(&str, &str)> = if all_tenants && self.is_admin(ctx) { vec![] } else { vec![("project_id", project.as_str())] };
        let groups = client.security_groups(&t, &q).await.map_err(unavailable)?;
        let mut out = Vec::new();
        for g in &groups {
            out.push(self.legacy_group(&client, &t, g).await);
        }
        Ok(out)
    }

    /// Neutron's groups are named by UUID (upstream's `validate_id`).
    fn check_group_id(id: &str) -> Result<()> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(NovaError::BadRequest(format!("Security group id should be uuid: {id}")));
        }
        Ok(())
    }

    pub async fn security_group_show(&self, ctx: &RequestContext, id: &str) -> Result<Value> {
        Self::check_group_id(id)?;
        let client = self.network_required().await?;
        let t = token(ctx);
        let g = client.send(reqwest::Method::GET, &t, &format!("/v2.0/security-groups/{id}"), None, "Security group", id).await.map_err(Self::sg_error(id))?;
        Ok(self.legacy_group(&client, &t, &g["security_group"]).await)
    }

    /// Create (`id` None) or update a group's name and description.
    pub async fn security_group_write(&self, ctx: &RequestContext, id: Option<&str>, name: &str, description: &str) -> Result<Value> {
        let client = self.network_required().await?;
        let t = token(ctx);
        if let Some(id) = id {
            Self::check_group_id(id)?;
        }
        let body = json!({"security_group": {"name": name, "description": description}});
        let g = match id {
            None => client.send(reqwest::Method::POST, &t, "/v2.0/security-groups", Some(&body), "Security group", "").await.map_err(Self::sg_error(""))?,
            Some(id) => client.send(reqwest::Method::PUT, &t, &format!("/v2.0/security-groups/{id}"), Some(&body), "Security group", id).await.map_err(Self::sg_error(id))?,
        };
        Ok(self.legacy_group(&client, &t, &g["security_group"]).await)
    }

    pub async fn security_group_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        Self::check_group_id(id)?;
        let client = self.network_required().await?;
        client.send(reqwest::Method::DELETE, &token(ctx), &format!("/v2.0/security-groups/{id}"), None, "Security group", id).await.map_err(Self::sg_error(id)).map(|_| ())
    }

    /// os-security-group-rules create: an ingress rule from a CIDR (default 0.0.0.0/0) or a
    /// group, for tcp/udp ports or icmp type/code (-1: any).
    pub async fn security_group_rule_create(&self, ctx: &RequestContext, r: &Value) -> Result<Value> {
        let client = self.network_required().await?;
        let t = token(ctx);
        let parent = r["parent_group_id"].as_str().map(str::to_string).or_else(|| r["parent_group_id"].as_i64().map(|n| n.to_string())).ok_or_else(|| NovaError::BadRequest("Invalid input for field/attribute parent_group_id. 'parent_group_id' is a required property".into()))?;
        Self::check_group_id(&parent)?;
        let group = client.send(reqwest::Method::GET, &t, &format!("/v2.0/security-groups/{parent}"), None, "Security group", &parent).await.map_err(Self::sg_error(&parent))?;
        let protocol = r["ip_protocol"].as_str().map(str::to_ascii_lowercase);
        let port = |k: &str| -> Result<Option<i64>> {
            match &r[k] {
                Value::Null => Ok(None),
                v => v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).map(Some).ok_or_else(|| NovaError::BadRequest(format!("Invalid input for field/attribute {k}. Value: {v}."))),
            }
        };
        let (from, to) = (port("from_port")?, port("to_port")?);
        let (min, max) = match protocol.as_deref() {
            None => (None, None),
            Some("tcp" | "udp") => {
                let (f, t) = (from.unwrap_or(1), to.unwrap_or(65535));
                if !(1..=65535).contains(&f) || !(1..=65535).contains(&t) || f > t {
                    return Err(NovaError::BadRequest(format!("Invalid port range {f}:{t}. Valid TCP ports should be between 1-65535")));
                }
                (Some(f), Some(t))
            }
            Some("icmp") => {
                let (f, t) = (from.unwrap_or(-1), to.unwrap_or(-1));
                if !(-1..=255).contains(&f) || !(-1..=255).contains(&t) {
                    return Err(NovaError::BadRequest(format!("Invalid port range {f}:{t}. For ICMP, the type and code must be between -1 and 255")));
                }
                (Some(f).filter(|n| *n >= 0), Some(t).filter(|n| *n >= 0))
            }
            Some(p) => return Err(NovaError::BadRequest(format!("Invalid IP protocol {p}."))),
        };
        let cidr = r["cidr"].as_str().filter(|c| !c.is_empty());
        let remote_group = r["group_id"].as_str().filter(|g| !g.is_empty());
        if cidr.is_some() && remote_group.is_some() {
            return Err(NovaError::BadRequest("Bad prefix or group".into()));
        }
        if let Some(c) = cidr {
            if !is_cidr(c) {
                return Err(NovaError::BadRequest(format!("Invalid cidr {c}.")));
            }
        }
        let ethertype = if cidr.is_some_and(|c| c.contains(':')) { "IPv6" } else { "IPv4" };
        let mut rule = json!({"security_group_id": parent, "direction": "ingress", "ethertype": ethertype, "protocol": protocol, "port_range_min": min, "port_range_max": max});
        match remote_group {
            Some(g) => rule["remote_group_id"] = json!(g),
            None => rule["remote_ip_prefix"] = json!(cidr.unwrap_or("0.0.0.0/0")),
        }
        let created = client.send(reqwest::Method::POST, &t, "/v2.0/security-group-rules", Some(&json!({"security_group_rule": rule})), "Security group", &parent).await.map_err(|e| match e {
            NetworkError::Refused { kind, message, .. } if kind == "SecurityGroupRuleExists" => NovaError::BadRequest(format!("This rule already exists in group {parent}. {message}")),
            e => Self::sg_error(&parent)(e),
        })?;
        let mut g = group["security_group"].clone();
        g["security_group_rules"] = json!([created["security_group_rule"]]);
        let v = self.legacy_group(&client, &t, &g).await;
        Ok(v["rules"][0].clone())
    }

    pub async fn security_group_rule_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let client = self.network_required().await?;
        client
            .send(reqwest::Method::DELETE, &token(ctx), &format!("/v2.0/security-group-rules/{id}"), None, "Security group rule", id)
            .await
            .map_err(|e| match e {
                NetworkError::NotFound { .. } => NovaError::NotFound(format!("Security group rule {id} not found.")),
                e => Self::sg_error(id)(e),
            })
            .map(|_| ())
    }
}
