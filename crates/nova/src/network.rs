//! The Networking service as Nova uses it (nova/network/neutron.py and model.py): find the
//! networks, ports and security groups a request names, create and bind an instance's
//! ports, unbind or delete them when it goes, and describe them as the instance's network
//! info (its "info cache"), which the API shows as `addresses`.
//!
//! Calls made for a user carry their token, so Neutron's policy decides what they may use;
//! binding a port to a host and reading what the user may not (`binding:*`) use the service
//! user's token, as upstream's admin client does. The endpoint comes from the service
//! user's catalog (`network`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::service_auth::ServiceAuth;

#[derive(Debug, Clone, thiserror::Error)]
pub enum NetworkError {
    #[error("{kind} {id} could not be found.")]
    NotFound { kind: &'static str, id: String },
    /// Neutron refused: its error type (`IpAddressAlreadyAllocated`, ...) and message.
    #[error("{message}")]
    Refused { status: u16, kind: String, message: String },
    #[error("the network service is unreachable: {0}")]
    Unreachable(String),
}

/// One address of a VIF, with the floating addresses mapped to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    pub address: String,
    pub subnet_id: String,
    #[serde(default)]
    pub floating_ips: Vec<String>,
}

impl FixedIp {
    pub fn version(&self) -> u8 {
        if self.address.contains(':') {
            6
        } else {
            4
        }
    }
}

/// A virtual interface: one port of the instance, as the info cache keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Vif {
    /// The port's id.
    pub id: String,
    /// The MAC address.
    pub address: String,
    pub network_id: String,
    /// The network's name (the key of `addresses`).
    pub network_label: String,
    #[serde(default)]
    pub mtu: Option<i64>,
    pub fixed_ips: Vec<FixedIp>,
    /// The port was given by the user: detach it on delete instead of deleting it.
    #[serde(default)]
    pub preserve_on_delete: bool,
    /// `binding:vif_type` (`ovs`, `bridge`, `tap`, `unbound`...).
    #[serde(default)]
    pub vif_type: String,
    /// The tap device name on the host (`tap` + the port id's first 11 characters).
    #[serde(default)]
    pub devname: String,
    #[serde(default)]
    pub active: bool,
    /// The device tag a user gave (2.32).
    #[serde(default)]
    pub tag: Option<String>,
}

/// What a user asked for in `networks`: a network (maybe with a fixed address) or a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RequestedNetwork {
    #[serde(default)]
    pub network_id: Option<String>,
    #[serde(default)]
    pub port_id: Option<String>,
    #[serde(default)]
    pub fixed_ip: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
}

/// The networks a build asked for, as the API resolved them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NetworkRequest {
    /// No `networks` given (before 2.37): the one network the project has, if any.
    #[default]
    Unspecified,
    /// `"none"`: no networking at all.
    None,
    /// `"auto"`: the project's network, or one Neutron allocates for it.
    Auto,
    /// Networks and ports, in order.
    List(Vec<RequestedNetwork>),
}

pub struct NeutronClient {
    auth: Arc<ServiceAuth>,
    http: reqwest::Client,
}

/// `?a=1&a=2&b=3` from pairs.
fn query_string(q: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in q {
        s.append_pair(k, v);
    }
    s.finish()
}

impl NeutronClient {
    pub fn new(auth: Arc<ServiceAuth>) -> Self {
        Self { auth, http: reqwest::Client::new() }
    }

    async fn url(&self, path: &str) -> Result<String, NetworkError> {
        let (_, endpoint) = self.auth.token_and_endpoint("network").await.map_err(NetworkError::Unreachable)?;
        Ok(format!("{}{path}", endpoint.trim_end_matches('/')))
    }

    /// The service user's token (upstream's admin client).
    pub async fn service_token(&self) -> Result<String, NetworkError> {
        self.auth.token_and_endpoint("network").await.map(|(t, _)| t).map_err(NetworkError::Unreachable)
    }

    /// Any call to Neutron: `kind` and `id` name what a 404 did not find.
    pub async fn send(&self, method: reqwest::Method, token: &str, path: &str, body: Option<&Value>, kind: &'static str, id: &str) -> Result<Value, NetworkError> {
        let mut req = self.http.request(method, self.url(path).await?).header("x-auth-token", token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| NetworkError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| NetworkError::Unreachable(e.to_string()))?;
        match status {
            200..=299 => Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
            404 => Err(NetworkError::NotFound { kind, id: id.to_string() }),
            _ => {
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let e = &v["NeutronError"];
                Err(NetworkError::Refused {
                    status,
                    kind: e["type"].as_str().unwrap_or("").to_string(),
                    message: e["message"].as_str().map(str::to_string).unwrap_or_else(|| text.chars().take(300).collect()),
                })
            }
        }
    }

    async fn get(&self, token: &str, path: &str, kind: &'static str, id: &str) -> Result<Value, NetworkError> {
        self.send(reqwest::Method::GET, token, path, None, kind, id).await
    }

    pub async fn network(&self, token: &str, id: &str) -> Result<Value, NetworkError> {
        Ok(self.get(token, &format!("/v2.0/networks/{id}"), "Network", id).await?["network"].take())
    }

    pub async fn networks(&self, token: &str, q: &[(&str, &str)]) -> Result<Vec<Value>, NetworkError> {
        let v = self.get(token, &format!("/v2.0/networks?{}", query_string(q)), "Network", "").await?;
        Ok(v["networks"].as_array().cloned().unwrap_or_default())
    }

    pub async fn port(&self, token: &str, id: &str) -> Result<Value, NetworkError> {
        Ok(self.get(token, &format!("/v2.0/ports/{id}"), "Port", id).await?["port"].take())
    }

    pub async fn ports(&self, token: &str, q: &[(&str, &str)]) -> Result<Vec<Value>, NetworkError> {
        let v = self.get(token, &format!("/v2.0/ports?{}", query_string(q)), "Port", "").await?;
        Ok(v["ports"].as_array().cloned().unwrap_or_default())
    }

    pub async fn create_port(&self, token: &str, port: Value) -> Result<Value, NetworkError> {
        Ok(self.send(reqwest::Method::POST, token, "/v2.0/ports", Some(&json!({"port": port})), "Port", "").await?["port"].take())
    }

    pub async fn update_port(&self, token: &str, id: &str, port: Value) -> Result<Value, NetworkError> {
        Ok(self.send(reqwest::Method::PUT, token, &format!("/v2.0/ports/{id}"), Some(&json!({"port": port})), "Port", id).await?["port"].take())
    }

    pub async fn delete_port(&self, token: &str, id: &str) -> Result<(), NetworkError> {
        match self.send(reqwest::Method::DELETE, token, &format!("/v2.0/ports/{id}"), None, "Port", id).await {
            Ok(_) | Err(NetworkError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn floating_ips(&self, token: &str, q: &[(&str, &str)]) -> Result<Vec<Value>, NetworkError> {
        let v = self.get(token, &format!("/v2.0/floatingips?{}", query_string(q)), "Floating IP", "").await?;
        Ok(v["floatingips"].as_array().cloned().unwrap_or_default())
    }

    pub async fn security_groups(&self, token: &str, q: &[(&str, &str)]) -> Result<Vec<Value>, NetworkError> {
        let v = self.get(token, &format!("/v2.0/security-groups?{}", query_string(q)), "Security group", "").await?;
        Ok(v["security_groups"].as_array().cloned().unwrap_or_default())
    }

    /// The project's auto-allocated network (upstream's get-me-a-network): Neutron makes a
    /// network, subnet and router on first use.
    pub async fn auto_allocated_network(&self, token: &str, project_id: &str) -> Result<String, NetworkError> {
        let v = self.get(token, &format!("/v2.0/auto-allocated-topology/{project_id}"), "Auto-allocated topology", project_id).await?;
        v["auto_allocated_topology"]["id"].as_str().map(str::to_string).ok_or_else(|| NetworkError::Unreachable("auto-allocated-topology answered without an id".into()))
    }

    /// Deletes a port, or (for a port the user gave) gives it back unbound.
    pub async fn unplug_port(&self, svc: &str, id: &str, preserve: bool) -> Result<(), NetworkError> {
        if preserve {
            self.update_port(svc, id, json!({"device_id": "", "device_owner": "", "binding:host_id": ""})).await.map(|_| ())
        } else {
            self.delete_port(svc, id).await
        }
    }

    /// Deletes the ports Nova made for an instance and unbinds the ones the user gave (their
    /// `preserve_on_delete` in the info cache), with the service user's token.
    pub async fn deallocate_for_instance(&self, i: &crate::db::instances::Instance) -> Result<(), NetworkError> {
        let svc = self.service_token().await?;
        for p in self.ports(&svc, &[("device_id", &i.uuid)]).await? {
            let id = p["id"].as_str().unwrap_or_default();
            let preserve = i.network_info.iter().find(|v| v.id == id).is_some_and(|v| v.preserve_on_delete);
            self.unplug_port(&svc, id, preserve).await?;
        }
        Ok(())
    }

    /// The info cache entry of a port: its addresses with their floating IPs and its
    /// network's name (read with the service user's token, which sees them all).
    pub async fn vif(&self, port: &Value, preserve_on_delete: bool, tag: Option<String>) -> Result<Vif, NetworkError> {
        let token = self.service_token().await?;
        let port_id = port["id"].as_str().unwrap_or_default().to_string();
        let network_id = port["network_id"].as_str().unwrap_or_default().to_string();
        let network = self.network(&token, &network_id).await?;
        let floating = self.floating_ips(&token, &[("port_id", &port_id)]).await?;
        let fixed_ips = port["fixed_ips"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        let address = f["ip_address"].as_str().unwrap_or_default().to_string();
                        let floating_ips = floating.iter().filter(|fip| fip["fixed_ip_address"].as_str() == Some(address.as_str())).filter_map(|fip| fip["floating_ip_address"].as_str().map(str::to_string)).collect();
                        FixedIp { address, subnet_id: f["subnet_id"].as_str().unwrap_or_default().to_string(), floating_ips }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Vif {
            devname: format!("tap{}", &port_id.chars().take(11).collect::<String>()),
            id: port_id,
            address: port["mac_address"].as_str().unwrap_or_default().to_string(),
            network_id,
            network_label: network["name"].as_str().unwrap_or_default().to_string(),
            mtu: network["mtu"].as_i64(),
            fixed_ips,
            preserve_on_delete,
            vif_type: port["binding:vif_type"].as_str().unwrap_or("unbound").to_string(),
            active: port["status"] == "ACTIVE",
            tag,
        })
    }
}

/// `addresses` of the server view: per network name, each fixed address then its floating
/// ones, in the order of the VIFs; `extended` adds the type and MAC (the full server view
/// does, `/ips` and the update and rebuild answers before 2.75 do not).
pub fn addresses(vifs: &[Vif], extended: bool) -> Value {
    let mut out = serde_json::Map::new();
    for v in vifs {
        let entry = out.entry(v.network_label.clone()).or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            for ip in &v.fixed_ips {
                let entry = |version: u8, addr: &str, kind: &str| {
                    if extended {
                        json!({"version": version, "addr": addr, "OS-EXT-IPS:type": kind, "OS-EXT-IPS-MAC:mac_addr": v.address})
                    } else {
                        json!({"version": version, "addr": addr})
                    }
                };
                list.push(entry(ip.version(), &ip.address, "fixed"));
                for f in &ip.floating_ips {
                    list.push(entry(if f.contains(':') { 6 } else { 4 }, f, "floating"));
                }
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_group_by_network_with_floating_after_fixed() {
        let vif = |id: &str, net: &str, ips: Vec<FixedIp>| Vif { id: id.into(), address: format!("fa:16:3e:00:00:0{id}"), network_id: net.into(), network_label: net.into(), mtu: None, fixed_ips: ips, preserve_on_delete: false, vif_type: "ovs".into(), devname: String::new(), active: true, tag: None };
        let a = addresses(&[
            vif("1", "private", vec![FixedIp { address: "10.0.0.5".into(), subnet_id: "s".into(), floating_ips: vec!["172.24.4.9".into()] }, FixedIp { address: "fd00::5".into(), subnet_id: "s6".into(), floating_ips: vec![] }]),
            vif("2", "other", vec![FixedIp { address: "192.168.1.3".into(), subnet_id: "t".into(), floating_ips: vec![] }]),
        ], true);
        let private = a["private"].as_array().unwrap();
        assert_eq!(private.len(), 3);
        assert_eq!(private[0]["addr"], "10.0.0.5");
        assert_eq!(private[1]["OS-EXT-IPS:type"], "floating");
        assert_eq!(private[2]["version"], 6);
        assert_eq!(a["other"][0]["OS-EXT-IPS-MAC:mac_addr"], "fa:16:3e:00:00:02");
        let plain = addresses(&[vif("3", "n", vec![FixedIp { address: "10.0.0.7".into(), subnet_id: "s".into(), floating_ips: vec![] }])], false);
        assert_eq!(plain["n"][0], json!({"version": 4, "addr": "10.0.0.7"}));
    }
}
