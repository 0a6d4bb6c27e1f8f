//! An instance's ports, on its compute host (nova/network/neutron.py's
//! `allocate_for_instance`, `deallocate_for_instance`, the info cache refresh, and the compute
//! manager's interface attach/detach): ports are created with the user's token (so Neutron's
//! policy and quotas apply to them) and bound to this host with the service user's; the
//! resulting VIFs are written to the info cache through the conductor.

use serde_json::{json, Value};

use super::ComputeManager;
use crate::conductor::InstanceUpdate;
use crate::db::instances::Instance;
use crate::network::{NetworkRequest, NeutronClient, RequestedNetwork, Vif};
use crate::rpc::RpcContext;
use crate::scheduler::RequestSpec;

impl ComputeManager {
    fn network_client(&self) -> Result<&NeutronClient, String> {
        self.network.as_deref().ok_or_else(|| "this compute host has no Networking service client".to_string())
    }

    /// The token to act for the user with: theirs when the request carried one, else the
    /// service user's (then the port is created in the instance's project explicitly).
    async fn user_token(&self, ctx: &RpcContext) -> Result<(String, bool), String> {
        match &ctx.auth_token {
            Some(t) if !t.is_empty() => Ok((t.clone(), false)),
            _ => Ok((self.network_client()?.service_token().await.map_err(|e| e.to_string())?, true)),
        }
    }

    /// Creates (or binds the given) port for one requested network and describes it.
    async fn allocate_one(&self, ctx: &RpcContext, i: &Instance, r: &RequestedNetwork, security_groups: &[String], created: &mut Vec<String>) -> Result<Vif, String> {
        let net = self.network_client()?;
        let svc = net.service_token().await.map_err(|e| e.to_string())?;
        let owner = format!("compute:{}", i.availability_zone.as_deref().unwrap_or("nova"));
        let (port, preserve) = match (&r.port_id, &r.network_id) {
            (Some(port_id), _) => (net.update_port(&svc, port_id, json!({"device_id": i.uuid, "device_owner": owner, "binding:host_id": self.host})).await.map_err(|e| e.to_string())?, true),
            (None, Some(network_id)) => {
                let (token, as_service) = self.user_token(ctx).await?;
                let mut body = json!({"network_id": network_id, "device_id": i.uuid, "device_owner": owner, "admin_state_up": true});
                if as_service {
                    body["project_id"] = json!(i.project_id);
                }
                if !security_groups.is_empty() {
                    body["security_groups"] = json!(security_groups);
                }
                if let Some(ip) = &r.fixed_ip {
                    body["fixed_ips"] = json!([{"ip_address": ip}]);
                }
                let port = net.create_port(&token, body).await.map_err(|e| e.to_string())?;
                let id = port["id"].as_str().unwrap_or_default().to_string();
                created.push(id.clone());
                (net.update_port(&svc, &id, json!({"binding:host_id": self.host})).await.map_err(|e| e.to_string())?, false)
            }
            (None, None) => return Err("a requested network names neither a network nor a port".into()),
        };
        net.vif(&port, preserve, r.tag.clone()).await.map_err(|e| e.to_string())
    }

    /// The instance's ports for a build, in the order asked. On a failure, what was made is
    /// undone and the build fails.
    pub(crate) async fn allocate_for_instance(&self, ctx: &RpcContext, i: &Instance, spec: &RequestSpec) -> Result<Vec<Vif>, String> {
        let requests = match &spec.networks {
            NetworkRequest::Unspecified | NetworkRequest::None => return Ok(vec![]),
            NetworkRequest::Auto => {
                let (token, _) = self.user_token(ctx).await?;
                let id = self.network_client()?.auto_allocated_network(&token, &i.project_id).await.map_err(|e| format!("Unable to automatically allocate a network for project {}: {e}", i.project_id))?;
                vec![RequestedNetwork { network_id: Some(id), ..Default::default() }]
            }
            NetworkRequest::List(l) => l.clone(),
        };
        // Ports an interrupted attempt already made for this instance are taken over, not
        // made twice.
        let net = self.network_client()?;
        let svc = net.service_token().await.map_err(|e| e.to_string())?;
        let mut existing = net.ports(&svc, &[("device_id", &i.uuid)]).await.map_err(|e| e.to_string())?;
        let mut vifs = Vec::new();
        let mut created = Vec::new();
        for r in &requests {
            let taken = existing.iter().position(|p| match (&r.port_id, &r.network_id) {
                (Some(id), _) => p["id"].as_str() == Some(id.as_str()),
                (None, Some(net_id)) => p["network_id"].as_str() == Some(net_id.as_str()),
                _ => false,
            });
            if let Some(k) = taken {
                let port = existing.remove(k);
                let port = net.update_port(&svc, port["id"].as_str().unwrap_or_default(), json!({"binding:host_id": self.host})).await.map_err(|e| e.to_string())?;
                vifs.push(net.vif(&port, r.port_id.is_some(), r.tag.clone()).await.map_err(|e| e.to_string())?);
                continue;
            }
            match self.allocate_one(ctx, i, r, &spec.security_groups, &mut created).await {
                Ok(v) => vifs.push(v),
                Err(e) => {
                    let mut partial = i.clone();
                    partial.network_info = vifs;
                    if let Some(p) = &r.port_id {
                        partial.network_info.push(Vif { id: p.clone(), preserve_on_delete: true, ..Default::default() });
                    }
                    for id in created {
                        if !partial.network_info.iter().any(|v| v.id == id) {
                            partial.network_info.push(Vif { id, ..Default::default() });
                        }
                    }
                    if let Err(e2) = self.deallocate_for_instance(&partial).await {
                        tracing::error!(instance = %i.uuid, error = %e2, "could not undo a partial network allocation");
                    }
                    return Err(format!("Network allocation failed: {e}"));
                }
            }
        }
        Ok(vifs)
    }

    /// Deletes the ports Nova made for the instance and unbinds the ones the user gave.
    pub(crate) async fn deallocate_for_instance(&self, i: &Instance) -> Result<(), String> {
        let Some(net) = self.network.as_deref() else { return Ok(()) };
        // Without a cache and a host, nothing was allocated.
        if i.network_info.is_empty() && i.host.is_none() {
            return Ok(());
        }
        net.deallocate_for_instance(i).await.map_err(|e| e.to_string())
    }

    /// Reads the instance's ports again and writes the info cache (on `network-changed` and
    /// the other network events Neutron sends).
    pub(crate) async fn refresh_network_info(&self, ctx: &RpcContext, uuid: &str) -> Result<Vec<Vif>, String> {
        let net = self.network_client()?;
        let i: Instance = self.conductor("instance_get", &uuid, ctx).await?;
        if i.deleted || i.task_state.as_deref() == Some("deleting") {
            // Its ports are going with it (the events are Neutron's answer to that).
            return Ok(i.network_info);
        }
        let svc = net.service_token().await.map_err(|e| e.to_string())?;
        let ports = net.ports(&svc, &[("device_id", uuid)]).await.map_err(|e| e.to_string())?;
        let position = |p: &Value| i.network_info.iter().position(|v| p["id"].as_str() == Some(v.id.as_str())).unwrap_or(usize::MAX);
        let mut ports = ports;
        ports.sort_by_key(position);
        let mut vifs = Vec::new();
        for p in &ports {
            let old = i.network_info.iter().find(|v| p["id"].as_str() == Some(v.id.as_str()));
            vifs.push(net.vif(p, old.is_some_and(|v| v.preserve_on_delete), old.and_then(|v| v.tag.clone())).await.map_err(|e| e.to_string())?);
        }
        if vifs != i.network_info {
            self.update(ctx, uuid, InstanceUpdate { network_info: Some(vifs.clone()), ..Default::default() }).await?;
        }
        Ok(vifs)
    }

    /// os-interface attach: a port for `r`, plugged into the guest, added to the cache.
    pub(crate) async fn attach_interface(&self, ctx: &RpcContext, uuid: &str, r: &RequestedNetwork) -> Result<Value, String> {
        let start = crate::app::now();
        let i: Instance = self.conductor("instance_get", &uuid, ctx).await?;
        let mut created = Vec::new();
        let outcome = async {
            let vif = self.allocate_one(ctx, &i, r, &[], &mut created).await?;
            if let Err(e) = self.driver.attach_interface(&i, &vif).await {
                self.network_client()?.unplug_port(&self.network_client()?.service_token().await.map_err(|e| e.to_string())?, &vif.id, vif.preserve_on_delete).await.map_err(|e| e.to_string())?;
                return Err(e.to_string());
            }
            let mut vifs = i.network_info.clone();
            vifs.push(vif.clone());
            self.update(ctx, uuid, InstanceUpdate { network_info: Some(vifs), ..Default::default() }).await?;
            let svc = self.network_client()?.service_token().await.map_err(|e| e.to_string())?;
            self.network_client()?.port(&svc, &vif.id).await.map_err(|e| e.to_string())
        }
        .await;
        if outcome.is_err() {
            let net = self.network_client()?;
            let svc = net.service_token().await.map_err(|e| e.to_string())?;
            for id in &created {
                let _ = net.delete_port(&svc, id).await;
            }
        }
        self.event(ctx, uuid, "compute_attach_interface", start, &outcome.as_ref().map(|_| ()).map_err(Clone::clone)).await;
        outcome
    }

    /// os-interface detach: unplugged from the guest, then deleted (or unbound if the user
    /// gave it), and out of the cache.
    pub(crate) async fn detach_interface(&self, ctx: &RpcContext, uuid: &str, port_id: &str) -> Result<Value, String> {
        let start = crate::app::now();
        let i: Instance = self.conductor("instance_get", &uuid, ctx).await?;
        let outcome = async {
            self.driver.detach_interface(&i, port_id).await.map_err(|e| e.to_string())?;
            let net = self.network_client()?;
            let svc = net.service_token().await.map_err(|e| e.to_string())?;
            let preserve = i.network_info.iter().find(|v| v.id == port_id).is_some_and(|v| v.preserve_on_delete);
            net.unplug_port(&svc, port_id, preserve).await.map_err(|e| e.to_string())?;
            let vifs: Vec<Vif> = i.network_info.iter().filter(|v| v.id != port_id).cloned().collect();
            self.update(ctx, uuid, InstanceUpdate { network_info: Some(vifs), ..Default::default() }).await.map(|_| ())
        }
        .await;
        self.event(ctx, uuid, "compute_detach_interface", start, &outcome).await;
        outcome.map(|_| Value::Null)
    }

    /// Moves the instance's port bindings to this host (after a move lands here) or off any
    /// host (`None`, when it is shelved offloaded).
    pub(crate) async fn bind_ports(&self, i: &Instance, host: Option<&str>) -> Result<(), String> {
        let Some(net) = self.network.as_deref() else { return Ok(()) };
        if i.network_info.is_empty() {
            return Ok(());
        }
        let svc = net.service_token().await.map_err(|e| e.to_string())?;
        for v in &i.network_info {
            net.update_port(&svc, &v.id, json!({"binding:host_id": host.unwrap_or("")})).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
