//! The legacy network proxies Nova kept up to 2.35 (nova/api/openstack/compute/
//! floating_ips.py, floating_ip_pools.py, networks.py, tenant_networks.py) and the
//! addFloatingIp / removeFloatingIp actions (up to 2.43): each is the Neutron call it stands
//! for, made with the caller's token, its answer in Nova's shape.

use auth::RequestContext;
use serde_json::{json, Value};

use super::networking::unavailable;
use super::App;
use crate::db::instances::Instance;
use crate::error::{NovaError, Result};
use crate::network::{NetworkError, NeutronClient};

fn token(ctx: &RequestContext) -> String {
    ctx.auth_token.clone().unwrap_or_default()
}

impl App {
    async fn proxy_client(&self) -> Result<std::sync::Arc<NeutronClient>> {
        self.network().await?.ok_or_else(|| NovaError::NotFound("This cloud has no Networking service.".into()))
    }

    /// A Neutron floating IP as `floating_ip`: its pool is its network's name, its instance
    /// the device of the port it is associated with.
    async fn legacy_floating_ip(&self, client: &NeutronClient, t: &str, f: &Value) -> Value {
        let pool = match f["floating_network_id"].as_str() {
            Some(id) => client.network(t, id).await.ok().and_then(|n| n["name"].as_str().filter(|s| !s.is_empty()).map(str::to_string)).unwrap_or_else(|| id.to_string()),
            None => String::new(),
        };
        let instance_id = match f["port_id"].as_str() {
            Some(p) => client.port(t, p).await.ok().and_then(|p| p["device_id"].as_str().filter(|d| !d.is_empty()).map(str::to_string)),
            None => None,
        };
        json!({"fixed_ip": f["fixed_ip_address"], "id": f["id"], "instance_id": instance_id, "ip": f["floating_ip_address"], "pool": pool})
    }

    pub async fn floating_ip_list(&self, ctx: &RequestContext) -> Result<Vec<Value>> {
        let client = self.proxy_client().await?;
        let t = token(ctx);
        let project = ctx.project_id().unwrap_or_default().to_string();
        let mut out = Vec::new();
        for f in client.floating_ips(&t, &[("project_id", &project)]).await.map_err(unavailable)? {
            out.push(self.legacy_floating_ip(&client, &t, &f).await);
        }
        Ok(out)
    }

    pub async fn floating_ip_show(&self, ctx: &RequestContext, id: &str) -> Result<Value> {
        let client = self.proxy_client().await?;
        let t = token(ctx);
        let f = client.send(reqwest::Method::GET, &t, &format!("/v2.0/floatingips/{id}"), None, "Floating IP", id).await.map_err(|e| match e {
            NetworkError::NotFound { .. } | NetworkError::Refused { status: 400, .. } => NovaError::NotFound(format!("Floating IP not found for ID {id}")),
            e => unavailable(e),
        })?;
        Ok(self.legacy_floating_ip(&client, &t, &f["floatingip"]).await)
    }

    /// POST os-floating-ips: one address from `pool` (an external network's name or id), or
    /// from the only external network when no pool is named.
    pub async fn floating_ip_allocate(&self, ctx: &RequestContext, pool: Option<&str>) -> Result<Value> {
        let client = self.proxy_client().await?;
        let t = token(ctx);
        let externals = client.networks(&t, &[("router:external", "true")]).await.map_err(unavailable)?;
        let net = match pool {
            Some(p) => externals.iter().find(|n| n["name"].as_str() == Some(p) || n["id"].as_str() == Some(p)),
            None if externals.len() == 1 => externals.first(),
            None => None,
        };
        let net = net.ok_or_else(|| NovaError::NotFound(format!("Floating IP pool not found: {}", pool.unwrap_or("no pool named and no single external network"))))?;
        let net_id = net["id"].as_str().unwrap_or_default();
        let f = client.send(reqwest::Method::POST, &t, "/v2.0/floatingips", Some(&json!({"floatingip": {"floating_network_id": net_id}})), "Floating IP", "").await.map_err(|e| match e {
            NetworkError::Refused { kind, .. } if kind == "OverQuota" => NovaError::Forbidden(match pool {
                Some(p) => format!("IP allocation over quota in pool {p}."),
                None => "IP allocation over quota.".into(),
            }),
            NetworkError::Refused { kind, .. } if kind == "ExternalIpAddressExhausted" || kind == "IpAddressGenerationFailure" => NovaError::NotFound(match pool {
                Some(p) => format!("No more floating IPs in pool {p}."),
                None => "No more floating IPs available.".into(),
            }),
            e => unavailable(e),
        })?;
        Ok(self.legacy_floating_ip(&client, &t, &f["floatingip"]).await)
    }

    pub async fn floating_ip_release(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let client = self.proxy_client().await?;
        client.send(reqwest::Method::DELETE, &token(ctx), &format!("/v2.0/floatingips/{id}"), None, "Floating IP", id).await.map(|_| ()).map_err(|e| match e {
            NetworkError::NotFound { .. } | NetworkError::Refused { status: 400, .. } => NovaError::NotFound(format!("Floating IP not found for ID {id}")),
            e => unavailable(e),
        })
    }

    /// `GET os-floating-ip-pools`: the external networks.
    pub async fn floating_ip_pools(&self, ctx: &RequestContext) -> Result<Vec<Value>> {
        let client = self.proxy_client().await?;
        let nets = client.networks(&token(ctx), &[("router:external", "true")]).await.map_err(unavailable)?;
        Ok(nets.iter().map(|n| json!({"name": n["name"].as_str().filter(|s| !s.is_empty()).or(n["id"].as_str())})).collect())
    }

    async fn floating_ip_by_address(&self, client: &NeutronClient, t: &str, address: &str) -> Result<Value> {
        let found = client.floating_ips(t, &[("floating_ip_address", address)]).await.map_err(unavailable)?;
        match found.len() {
            0 => Err(NovaError::NotFound("floating IP not found".into())),
            1 => Ok(found[0].clone()),
            _ => Err(NovaError::Conflict(format!("Multiple floating IPs are found for address {address}."))),
        }
    }

    /// addFloatingIp: the address goes to the server's port holding `fixed_address` (or its
    /// first IPv4 address).
    pub async fn server_add_floating_ip(&self, ctx: &RequestContext, i: &Instance, address: &str, fixed_address: Option<&str>) -> Result<()> {
        let client = self.proxy_client().await?;
        let t = token(ctx);
        let f = self.floating_ip_by_address(&client, &t, address).await?;
        let ports = client.ports(&t, &[("device_id", &i.uuid)]).await.map_err(unavailable)?;
        if ports.is_empty() {
            return Err(NovaError::BadRequest("Instance network is not ready yet".into()));
        }
        let fixed: Vec<(String, String)> = ports
            .iter()
            .flat_map(|p| p["fixed_ips"].as_array().cloned().unwrap_or_default().into_iter().map(move |ip| (p["id"].as_str().unwrap_or_default().to_string(), ip["ip_address"].as_str().unwrap_or_default().to_string())))
            .collect();
        if fixed.is_empty() {
            return Err(NovaError::BadRequest("No fixed IPs associated to instance".into()));
        }
        let (port, ip) = match fixed_address {
            Some(a) => fixed.iter().find(|(_, ip)| ip == a).cloned().ok_or_else(|| NovaError::BadRequest("Specified fixed address not assigned to instance".into()))?,
            None => fixed.iter().find(|(_, ip)| !ip.contains(':')).cloned().ok_or_else(|| NovaError::BadRequest(format!("Unable to associate floating IP {address} to any fixed IPs for instance {}. Instance has no fixed IPv4 addresses to associate.", i.uuid)))?,
        };
        // An address associated elsewhere moves here (Neutron tells both servers' hosts).
        let id = f["id"].as_str().unwrap_or_default();
        client.send(reqwest::Method::PUT, &t, &format!("/v2.0/floatingips/{id}"), Some(&json!({"floatingip": {"port_id": port, "fixed_ip_address": ip}})), "Floating IP", id).await.map(|_| ()).map_err(|e| match e {
            NetworkError::Refused { status: 400 | 404 | 409, message, .. } => NovaError::BadRequest(format!("Unable to associate floating IP {address} to fixed IP {ip} for instance {}. Error: {message}", i.uuid)),
            e => unavailable(e),
        })
    }

    /// removeFloatingIp: only an address associated with this server (409 otherwise).
    pub async fn server_remove_floating_ip(&self, ctx: &RequestContext, i: &Instance, address: &str) -> Result<()> {
        let client = self.proxy_client().await?;
        let t = token(ctx);
        let f = self.floating_ip_by_address(&client, &t, address).await?;
        let owner = match f["port_id"].as_str() {
            Some(p) => client.port(&t, p).await.ok().and_then(|p| p["device_id"].as_str().map(str::to_string)),
            None => None,
        };
        if owner.as_deref() != Some(i.uuid.as_str()) {
            return Err(NovaError::Conflict(format!("Floating IP {address} is not associated with instance {}.", i.uuid)));
        }
        let id = f["id"].as_str().unwrap_or_default();
        client.send(reqwest::Method::PUT, &t, &format!("/v2.0/floatingips/{id}"), Some(&json!({"floatingip": {"port_id": null}})), "Floating IP", id).await.map(|_| ()).map_err(unavailable)
    }

    /// os-networks and os-tenant-networks: the networks the caller sees, as `label` and `id`
    /// (every other attribute of nova-network is gone: null, and only for admins).
    pub async fn legacy_networks(&self, ctx: &RequestContext, id: Option<&str>) -> Result<Vec<Value>> {
        let client = self.proxy_client().await?;
        let t = token(ctx);
        let nets = match id {
            Some(id) => vec![client.network(&t, id).await.map_err(|e| match e {
                NetworkError::NotFound { .. } => NovaError::NotFound(format!("Network {id} could not be found.")),
                e => unavailable(e),
            })?],
            None => client.networks(&t, &[]).await.map_err(unavailable)?,
        };
        let admin = self.is_admin(ctx);
        Ok(nets
            .iter()
            .map(|n| {
                let mut v = json!({"id": n["id"], "label": n["name"]});
                let mut fields = vec!["cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6", "gateway_v6", "netmask_v6"];
                if admin {
                    fields.extend(["created_at", "updated_at", "deleted_at", "deleted", "injected", "bridge", "vlan", "vpn_public_address", "vpn_public_port", "vpn_private_address", "dhcp_start", "project_id", "host", "bridge_interface", "multi_host", "priority", "rxtx_base", "mtu", "dhcp_server", "enable_dhcp", "share_address"]);
                }
                for f in fields {
                    v[f] = Value::Null;
                }
                v
            })
            .collect())
    }
}
