//! Nova's view of Placement (nova/scheduler/client/report.py): the calls the resource tracker
//! and the scheduler make, over Placement's REST API with a service token, as upstream. The
//! trait is what the scheduler and compute manager use; [`RestPlacement`] is the only
//! implementation the service runs with.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::service_auth::ServiceAuth;

/// Amounts per resource class (`{"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}`).
pub type Resources = BTreeMap<String, i64>;

/// One inventory record of a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub total: i64,
    pub reserved: i64,
    pub min_unit: i64,
    pub max_unit: i64,
    pub step_size: i64,
    pub allocation_ratio: f64,
}

/// A provider that could satisfy a request, with what it has left of each class it offers
/// (capacity × allocation ratio − reserved − used), for the weighers.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub provider: String,
    pub resources: Resources,
    pub free: Resources,
}

#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error("placement is unreachable: {0}")]
    Unreachable(String),
    #[error("placement refused {what}: HTTP {status}: {body}")]
    Refused { what: String, status: u16, body: String },
    #[error("cannot authenticate to placement: {0}")]
    Auth(String),
}

#[async_trait]
pub trait Placement: Send + Sync {
    /// Creates the compute node's provider unless it exists.
    async fn ensure_provider(&self, uuid: &str, name: &str) -> Result<(), PlacementError>;
    /// Replaces the provider's inventory (retrying generation conflicts).
    async fn set_inventory(&self, uuid: &str, inventory: &BTreeMap<String, Inventory>) -> Result<(), PlacementError>;
    /// Providers able to host `resources`, at most `limit` of them.
    async fn candidates(&self, resources: &Resources, limit: usize) -> Result<Vec<Candidate>, PlacementError>;
    /// Claims `resources` on `provider` for `consumer` (a new consumer); false when the
    /// provider no longer has room (someone else claimed first).
    async fn claim(&self, consumer: &str, provider: &str, resources: &Resources, project_id: &str, user_id: &str) -> Result<bool, PlacementError>;
    /// Drops every allocation of `consumer` (nothing to drop is fine).
    async fn delete_allocations(&self, consumer: &str) -> Result<(), PlacementError>;
    /// The providers `consumer` holds allocations against, with what it holds.
    async fn allocations(&self, consumer: &str) -> Result<BTreeMap<String, Resources>, PlacementError>;
    /// Hands every allocation of `from` to `to` in one atomic write (upstream's
    /// `move_allocations`: an instance's source-host resources go to its migration while it
    /// moves, and back if the move is reverted). `to` must hold nothing.
    async fn move_allocations(&self, from: &str, to: &str) -> Result<(), PlacementError>;
}

/// Placement over HTTP, with the service user's token.
pub struct RestPlacement {
    auth: Arc<ServiceAuth>,
    http: reqwest::Client,
}

/// The microversion spoken: 1.28 has consumer generations and the dict allocation format.
const VERSION: &str = "placement 1.28";

impl RestPlacement {
    pub fn new(auth: Arc<ServiceAuth>) -> Self {
        Self { auth, http: reqwest::Client::new() }
    }

    /// One request, retried once with a fresh token when the token was refused.
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<(u16, Value), PlacementError> {
        let (status, v) = self.send_once(method.clone(), path, body).await?;
        if status != 401 {
            return Ok((status, v));
        }
        self.auth.invalidate().await;
        self.send_once(method, path, body).await
    }

    async fn send_once(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<(u16, Value), PlacementError> {
        let (token, base) = self.auth.token_and_endpoint("placement").await.map_err(PlacementError::Auth)?;
        let mut req = self.http.request(method, format!("{}{path}", base.trim_end_matches('/'))).header("x-auth-token", token).header("openstack-api-version", VERSION).header("accept", "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| PlacementError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| PlacementError::Unreachable(e.to_string()))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    fn refused(what: &str, status: u16, body: &Value) -> PlacementError {
        PlacementError::Refused { what: what.to_string(), status, body: body.to_string() }
    }
}

#[async_trait]
impl Placement for RestPlacement {
    async fn ensure_provider(&self, uuid: &str, name: &str) -> Result<(), PlacementError> {
        let (status, body) = self.send(reqwest::Method::GET, &format!("/resource_providers/{uuid}"), None).await?;
        if status == 200 {
            return Ok(());
        }
        let (status, body2) = self.send(reqwest::Method::POST, "/resource_providers", Some(&json!({"uuid": uuid, "name": name}))).await?;
        match status {
            200 | 201 | 204 => Ok(()),
            // Created concurrently by another report: fine.
            409 => Ok(()),
            _ => Err(Self::refused("creating the resource provider", status, if body2.is_null() { &body } else { &body2 })),
        }
    }

    async fn set_inventory(&self, uuid: &str, inventory: &BTreeMap<String, Inventory>) -> Result<(), PlacementError> {
        let inventories: serde_json::Map<String, Value> = inventory
            .iter()
            .map(|(rc, i)| (rc.clone(), json!({"total": i.total, "reserved": i.reserved, "min_unit": i.min_unit, "max_unit": i.max_unit, "step_size": i.step_size, "allocation_ratio": i.allocation_ratio})))
            .collect();
        for _ in 0..5 {
            let (status, rp) = self.send(reqwest::Method::GET, &format!("/resource_providers/{uuid}"), None).await?;
            if status != 200 {
                return Err(Self::refused("reading the resource provider", status, &rp));
            }
            let generation = rp["generation"].as_i64().unwrap_or(0);
            let body = json!({"resource_provider_generation": generation, "inventories": inventories});
            let (status, resp) = self.send(reqwest::Method::PUT, &format!("/resource_providers/{uuid}/inventories"), Some(&body)).await?;
            match status {
                200 => return Ok(()),
                409 if resp.to_string().contains("concurrent") || resp.to_string().contains("generation") => continue,
                _ => return Err(Self::refused("setting inventory", status, &resp)),
            }
        }
        Err(PlacementError::Refused { what: "setting inventory".into(), status: 409, body: "generation conflicts kept happening".into() })
    }

    async fn candidates(&self, resources: &Resources, limit: usize) -> Result<Vec<Candidate>, PlacementError> {
        let req: Vec<String> = resources.iter().filter(|(_, n)| **n > 0).map(|(rc, n)| format!("{rc}:{n}")).collect();
        let (status, body) = self.send(reqwest::Method::GET, &format!("/allocation_candidates?resources={}&limit={limit}", req.join(",")), None).await?;
        if status != 200 {
            return Err(Self::refused("listing allocation candidates", status, &body));
        }
        let summaries = body["provider_summaries"].as_object().cloned().unwrap_or_default();
        let free_of = |rp: &str| -> Resources {
            summaries
                .get(rp)
                .and_then(|s| s["resources"].as_object())
                .map(|m| m.iter().map(|(rc, v)| (rc.clone(), v["capacity"].as_i64().unwrap_or(0) - v["used"].as_i64().unwrap_or(0))).collect())
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        for ar in body["allocation_requests"].as_array().cloned().unwrap_or_default() {
            // Only single-provider requests: compute nodes without nested or sharing providers.
            let Some(allocs) = ar["allocations"].as_object() else { continue };
            if allocs.len() != 1 {
                continue;
            }
            for (rp, a) in allocs {
                let res: Resources = a["resources"].as_object().map(|m| m.iter().filter_map(|(k, v)| v.as_i64().map(|n| (k.clone(), n))).collect()).unwrap_or_default();
                out.push(Candidate { provider: rp.clone(), resources: res, free: free_of(rp) });
            }
        }
        Ok(out)
    }

    async fn claim(&self, consumer: &str, provider: &str, resources: &Resources, project_id: &str, user_id: &str) -> Result<bool, PlacementError> {
        let mut generation = Value::Null;
        for _ in 0..3 {
            let body = json!({
                "allocations": {provider: {"resources": resources}},
                "project_id": project_id,
                "user_id": user_id,
                "consumer_generation": generation
            });
            let (status, resp) = self.send(reqwest::Method::PUT, &format!("/allocations/{consumer}"), Some(&body)).await?;
            match status {
                204 | 200 => return Ok(true),
                // The consumer exists already (an instance whose allocations moved to its
                // migration): claim with the generation it has.
                409 if resp.to_string().contains("consumer generation conflict") => generation = self.consumer(consumer).await?.1,
                409 => return Ok(false),
                _ => return Err(Self::refused("claiming resources", status, &resp)),
            }
        }
        Ok(false)
    }

    async fn delete_allocations(&self, consumer: &str) -> Result<(), PlacementError> {
        let (status, resp) = self.send(reqwest::Method::DELETE, &format!("/allocations/{consumer}"), None).await?;
        match status {
            204 | 404 => Ok(()),
            _ => Err(Self::refused("deleting allocations", status, &resp)),
        }
    }

    async fn allocations(&self, consumer: &str) -> Result<BTreeMap<String, Resources>, PlacementError> {
        Ok(self.consumer(consumer).await?.0.into_iter().map(|(rp, a)| (rp, resources_of(&a))).collect())
    }

    async fn move_allocations(&self, from: &str, to: &str) -> Result<(), PlacementError> {
        for _ in 0..5 {
            let (source, source_gen, body) = self.consumer_full(from).await?;
            if source.is_empty() {
                return Ok(());
            }
            let (_, target_gen, _) = self.consumer_full(to).await?;
            let allocations: serde_json::Map<String, Value> = source.iter().map(|(rp, a)| (rp.clone(), json!({"resources": a["resources"].clone()}))).collect();
            let move_body = json!({
                to: {"allocations": allocations, "project_id": body["project_id"], "user_id": body["user_id"], "consumer_generation": target_gen},
                from: {"allocations": {}, "project_id": body["project_id"], "user_id": body["user_id"], "consumer_generation": source_gen},
            });
            let (status, resp) = self.send(reqwest::Method::POST, "/allocations", Some(&move_body)).await?;
            match status {
                204 | 200 => return Ok(()),
                409 => continue,
                _ => return Err(Self::refused("moving allocations", status, &resp)),
            }
        }
        Err(PlacementError::Refused { what: "moving allocations".into(), status: 409, body: "the consumers kept changing".into() })
    }
}

fn resources_of(a: &Value) -> Resources {
    a["resources"].as_object().map(|m| m.iter().filter_map(|(k, v)| v.as_i64().map(|n| (k.clone(), n))).collect()).unwrap_or_default()
}

impl RestPlacement {
    /// A consumer's allocations (provider → its allocation object) and generation (`null`
    /// when the consumer does not exist).
    async fn consumer(&self, consumer: &str) -> Result<(serde_json::Map<String, Value>, Value), PlacementError> {
        let (allocations, generation, _) = self.consumer_full(consumer).await?;
        Ok((allocations, generation))
    }

    async fn consumer_full(&self, consumer: &str) -> Result<(serde_json::Map<String, Value>, Value, Value), PlacementError> {
        let (status, body) = self.send(reqwest::Method::GET, &format!("/allocations/{consumer}"), None).await?;
        if status != 200 {
            return Err(Self::refused("reading allocations", status, &body));
        }
        let allocations = body["allocations"].as_object().cloned().unwrap_or_default();
        let generation = body.get("consumer_generation").cloned().unwrap_or(Value::Null);
        Ok((allocations, generation, body))
    }
}
