//! A REST client for Placement, for the services that call it (Nova's scheduler and resource
//! tracker, Neutron and Cyborg upstream): the calls nova/scheduler/client/report.py makes,
//! over HTTP with a Keystone token, at microversion 1.39. Services never read Placement's
//! tables; this client is their only way in.
//!
//! Tokens: either a fixed token, or a service user's password credentials; a 401 fetches a
//! new token once and retries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The microversion every call asks for.
pub const MICROVERSION: &str = "placement 1.39";

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach placement: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot authenticate to keystone: {0}")]
    Auth(String),
    #[error("placement answered {status}: {detail} ({code})")]
    Status { status: u16, code: String, detail: String },
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A provider or consumer generation conflict: re-read and retry.
    pub fn is_generation_conflict(&self) -> bool {
        matches!(self, ClientError::Status { status: 409, code, .. } if code == "placement.concurrent_update")
    }
}

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    Token(String),
    /// A service user, project-scoped (as `[placement]` in nova.conf names them).
    Password { auth_url: String, username: String, password: String, project_name: String, user_domain_name: String, project_domain_name: String },
}

/// One class's inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub total: i64,
    #[serde(default)]
    pub reserved: i64,
    #[serde(default = "one")]
    pub min_unit: i64,
    #[serde(default = "max_int")]
    pub max_unit: i64,
    #[serde(default = "one")]
    pub step_size: i64,
    #[serde(default = "ratio_one")]
    pub allocation_ratio: f64,
}

fn one() -> i64 {
    1
}
fn max_int() -> i64 {
    2_147_483_647
}
fn ratio_one() -> f64 {
    1.0
}

impl Inventory {
    /// An inventory of `total` with upstream's defaults for the rest.
    pub fn of(total: i64) -> Self {
        Inventory { total, reserved: 0, min_unit: 1, max_unit: max_int(), step_size: 1, allocation_ratio: 1.0 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ResourceProvider {
    pub uuid: String,
    pub name: String,
    pub generation: i64,
    pub parent_provider_uuid: Option<String>,
    pub root_provider_uuid: String,
}

/// provider uuid → class → amount
pub type Allocations = BTreeMap<String, BTreeMap<String, i64>>;

/// A consumer's allocations as Placement holds them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumerAllocations {
    pub allocations: Allocations,
    /// None when the consumer has no allocations (claim with generation None then).
    pub consumer_generation: Option<i64>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub consumer_type: Option<String>,
}

/// One consumer's part of a `POST /allocations` (empty allocations remove them).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerClaim {
    pub consumer: String,
    pub allocations: Allocations,
    pub project_id: String,
    pub user_id: String,
    pub consumer_generation: Option<i64>,
    pub consumer_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AllocationRequest {
    pub allocations: BTreeMap<String, AllocationResources>,
    #[serde(default)]
    pub mappings: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AllocationResources {
    pub resources: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Capacity {
    pub capacity: i64,
    pub used: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProviderSummary {
    pub resources: BTreeMap<String, Capacity>,
    #[serde(default)]
    pub traits: Vec<String>,
    pub parent_provider_uuid: Option<String>,
    pub root_provider_uuid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AllocationCandidates {
    pub allocation_requests: Vec<AllocationRequest>,
    pub provider_summaries: BTreeMap<String, ProviderSummary>,
}

/// A `GET /allocation_candidates` query: `resources`, `required`, `member_of`, `in_tree`,
/// granular groups and the rest, as (key, value) pairs in upstream's syntax.
#[derive(Debug, Clone, Default)]
pub struct CandidateQuery(pub Vec<(String, String)>);

impl CandidateQuery {
    /// `resources=VCPU:1,MEMORY_MB:512,...` from a map.
    pub fn resources(resources: &BTreeMap<String, i64>) -> Self {
        let r: Vec<String> = resources.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        CandidateQuery(vec![("resources".into(), r.join(","))])
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.0.push((key.to_string(), value.to_string()));
        self
    }
}

pub struct PlacementClient {
    http: reqwest::Client,
    endpoint: String,
    credentials: Credentials,
    token: tokio::sync::Mutex<Option<String>>,
}

impl PlacementClient {
    /// `endpoint` is Placement's URL from the catalog (e.g. `http://controller:8778`).
    pub fn new(endpoint: &str, credentials: Credentials) -> Self {
        let token = match &credentials {
            Credentials::Token(t) => Some(t.clone()),
            Credentials::Password { .. } => None,
        };
        PlacementClient { http: reqwest::Client::new(), endpoint: endpoint.trim_end_matches('/').to_string(), credentials, token: tokio::sync::Mutex::new(token) }
    }

    async fn token(&self, refresh: bool) -> Result<String, ClientError> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref() {
            if !refresh || matches!(self.credentials, Credentials::Token(_)) {
                return Ok(t.clone());
            }
        }
        let Credentials::Password { auth_url, username, password, project_name, user_domain_name, project_domain_name } = &self.credentials else {
            return Err(ClientError::Auth("no token".into()));
        };
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": username, "password": password, "domain": {"name": user_domain_name}}}},
            "scope": {"project": {"name": project_name, "domain": {"name": project_domain_name}}}
        }});
        let url = format!("{}/auth/tokens", auth_url.trim_end_matches('/'));
        let url = if auth_url.trim_end_matches('/').ends_with("/v3") { url } else { format!("{}/v3/auth/tokens", auth_url.trim_end_matches('/')) };
        let resp = self.http.post(url).json(&body).send().await?;
        if !resp.status().is_success() {
            return Err(ClientError::Auth(format!("keystone answered {}", resp.status())));
        }
        let t = resp.headers().get("x-subject-token").and_then(|v| v.to_str().ok()).map(str::to_string).ok_or_else(|| ClientError::Auth("no X-Subject-Token".into()))?;
        *guard = Some(t.clone());
        Ok(t)
    }

    /// One call; returns the status and the JSON body (Null when empty).
    async fn call(&self, method: reqwest::Method, path: &str, query: &[(String, String)], body: Option<&Value>) -> Result<(u16, Value), ClientError> {
        let mut refreshed = false;
        loop {
            let token = self.token(refreshed).await?;
            let mut req = self.http.request(method.clone(), format!("{}{path}", self.endpoint)).header("x-auth-token", token).header("openstack-api-version", MICROVERSION).query(query);
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            if status == 401 && !refreshed && !matches!(self.credentials, Credentials::Token(_)) {
                refreshed = true;
                continue;
            }
            let bytes = resp.bytes().await?;
            let value: Value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
            if status >= 400 {
                let e = &value["errors"][0];
                return Err(ClientError::Status {
                    status,
                    code: e["code"].as_str().unwrap_or("placement.undefined_code").to_string(),
                    detail: e["detail"].as_str().map(str::to_string).unwrap_or_else(|| String::from_utf8_lossy(&bytes).to_string()),
                });
            }
            return Ok((status, value));
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ClientError> {
        serde_json::from_value(v).map_err(|e| ClientError::Status { status: 200, code: "client.decode".into(), detail: e.to_string() })
    }

    pub async fn resource_provider_get(&self, uuid: &str) -> Result<Option<ResourceProvider>, ClientError> {
        match self.call(reqwest::Method::GET, &format!("/resource_providers/{uuid}"), &[], None).await {
            Ok((_, v)) => Ok(Some(Self::parse(v)?)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates the provider unless it exists (what the resource tracker does for a compute
    /// node: `_ensure_resource_provider`).
    pub async fn resource_provider_ensure(&self, uuid: &str, name: &str, parent: Option<&str>) -> Result<ResourceProvider, ClientError> {
        if let Some(p) = self.resource_provider_get(uuid).await? {
            return Ok(p);
        }
        let mut body = json!({"uuid": uuid, "name": name});
        if let Some(p) = parent {
            body["parent_provider_uuid"] = json!(p);
        }
        match self.call(reqwest::Method::POST, "/resource_providers", &[], Some(&body)).await {
            Ok((_, v)) => Self::parse(v),
            // Someone else created it meanwhile.
            Err(e) if e.status() == Some(409) => self.resource_provider_get(uuid).await?.ok_or(e),
            Err(e) => Err(e),
        }
    }

    pub async fn resource_provider_delete(&self, uuid: &str) -> Result<(), ClientError> {
        self.call(reqwest::Method::DELETE, &format!("/resource_providers/{uuid}"), &[], None).await.map(|_| ())
    }

    /// The provider's generation and inventories.
    pub async fn inventories_get(&self, uuid: &str) -> Result<(i64, BTreeMap<String, Inventory>), ClientError> {
        let (_, v) = self.call(reqwest::Method::GET, &format!("/resource_providers/{uuid}/inventories"), &[], None).await?;
        Ok((v["resource_provider_generation"].as_i64().unwrap_or(0), Self::parse(v["inventories"].clone())?))
    }

    /// Replaces the inventory if the provider is still at `generation`; returns the new one.
    pub async fn inventories_put(&self, uuid: &str, generation: i64, inventories: &BTreeMap<String, Inventory>) -> Result<i64, ClientError> {
        let body = json!({"resource_provider_generation": generation, "inventories": inventories});
        let (_, v) = self.call(reqwest::Method::PUT, &format!("/resource_providers/{uuid}/inventories"), &[], Some(&body)).await?;
        Ok(v["resource_provider_generation"].as_i64().unwrap_or(generation + 1))
    }

    /// The resource tracker's update: make sure the compute node's provider exists and holds
    /// exactly `inventories`, re-reading the generation on a conflict (a few times).
    pub async fn set_compute_node_inventory(&self, uuid: &str, name: &str, inventories: &BTreeMap<String, Inventory>) -> Result<i64, ClientError> {
        self.resource_provider_ensure(uuid, name, None).await?;
        let mut last = None;
        for _ in 0..5 {
            let (generation, current) = self.inventories_get(uuid).await?;
            if &current == inventories {
                return Ok(generation);
            }
            match self.inventories_put(uuid, generation, inventories).await {
                Ok(g) => return Ok(g),
                Err(e) if e.is_generation_conflict() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Auth("unreachable".into())))
    }

    /// Replaces the provider's traits (creating custom ones first) at its current generation.
    pub async fn traits_set(&self, uuid: &str, traits: &[String]) -> Result<i64, ClientError> {
        for t in traits.iter().filter(|t| t.starts_with("CUSTOM_")) {
            self.call(reqwest::Method::PUT, &format!("/traits/{t}"), &[], None).await?;
        }
        for _ in 0..5 {
            let (_, v) = self.call(reqwest::Method::GET, &format!("/resource_providers/{uuid}/traits"), &[], None).await?;
            let generation = v["resource_provider_generation"].as_i64().unwrap_or(0);
            let body = json!({"resource_provider_generation": generation, "traits": traits});
            match self.call(reqwest::Method::PUT, &format!("/resource_providers/{uuid}/traits"), &[], Some(&body)).await {
                Ok((_, v)) => return Ok(v["resource_provider_generation"].as_i64().unwrap_or(generation + 1)),
                Err(e) if e.is_generation_conflict() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::Status { status: 409, code: "placement.concurrent_update".into(), detail: "provider kept changing".into() })
    }

    /// Replaces the provider's aggregates at its current generation.
    pub async fn aggregates_set(&self, uuid: &str, aggregates: &[String]) -> Result<i64, ClientError> {
        let (_, v) = self.call(reqwest::Method::GET, &format!("/resource_providers/{uuid}/aggregates"), &[], None).await?;
        let generation = v["resource_provider_generation"].as_i64().unwrap_or(0);
        let body = json!({"resource_provider_generation": generation, "aggregates": aggregates});
        let (_, v) = self.call(reqwest::Method::PUT, &format!("/resource_providers/{uuid}/aggregates"), &[], Some(&body)).await?;
        Ok(v["resource_provider_generation"].as_i64().unwrap_or(generation + 1))
    }

    /// Creates a custom resource class if missing.
    pub async fn resource_class_ensure(&self, name: &str) -> Result<(), ClientError> {
        self.call(reqwest::Method::PUT, &format!("/resource_classes/{name}"), &[], None).await.map(|_| ())
    }

    /// What the scheduler asks first: which providers could host the request.
    pub async fn allocation_candidates(&self, query: &CandidateQuery) -> Result<AllocationCandidates, ClientError> {
        let (_, v) = self.call(reqwest::Method::GET, "/allocation_candidates", &query.0, None).await?;
        Self::parse(v)
    }

    pub async fn allocations_get(&self, consumer: &str) -> Result<ConsumerAllocations, ClientError> {
        let (_, v) = self.call(reqwest::Method::GET, &format!("/allocations/{consumer}"), &[], None).await?;
        let mut allocations = Allocations::new();
        if let Some(m) = v["allocations"].as_object() {
            for (rp, a) in m {
                allocations.insert(rp.clone(), Self::parse(a["resources"].clone())?);
            }
        }
        Ok(ConsumerAllocations {
            allocations,
            consumer_generation: v["consumer_generation"].as_i64(),
            project_id: v["project_id"].as_str().map(str::to_string),
            user_id: v["user_id"].as_str().map(str::to_string),
            consumer_type: v["consumer_type"].as_str().map(str::to_string),
        })
    }

    /// Claims resources for a consumer (`PUT /allocations/{consumer}`): `consumer_generation`
    /// None for a new consumer, else the one last read; a 409 `placement.concurrent_update`
    /// means someone else changed the consumer, and a plain 409 that the capacity is gone.
    pub async fn allocations_put(&self, consumer: &str, allocations: &Allocations, project_id: &str, user_id: &str, consumer_generation: Option<i64>, consumer_type: &str) -> Result<(), ClientError> {
        let body = Self::consumer_body(allocations, project_id, user_id, consumer_generation, consumer_type);
        self.call(reqwest::Method::PUT, &format!("/allocations/{consumer}"), &[], Some(&body)).await.map(|_| ())
    }

    fn consumer_body(allocations: &Allocations, project_id: &str, user_id: &str, consumer_generation: Option<i64>, consumer_type: &str) -> Value {
        let allocs: serde_json::Map<String, Value> = allocations.iter().map(|(rp, r)| (rp.clone(), json!({"resources": r}))).collect();
        json!({"allocations": allocs, "project_id": project_id, "user_id": user_id, "consumer_generation": consumer_generation, "consumer_type": consumer_type})
    }

    /// Several consumers at once, all or nothing (`POST /allocations`: move operations
    /// swap an instance's allocations to its migration record this way).
    pub async fn allocations_post(&self, consumers: &[ConsumerClaim]) -> Result<(), ClientError> {
        let body: serde_json::Map<String, Value> =
            consumers.iter().map(|c| (c.consumer.clone(), Self::consumer_body(&c.allocations, &c.project_id, &c.user_id, c.consumer_generation, &c.consumer_type))).collect();
        self.call(reqwest::Method::POST, "/allocations", &[], Some(&Value::Object(body))).await.map(|_| ())
    }

    /// Removes a consumer's allocations; Ok(false) when it had none.
    pub async fn allocations_delete(&self, consumer: &str) -> Result<bool, ClientError> {
        match self.call(reqwest::Method::DELETE, &format!("/allocations/{consumer}"), &[], None).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A provider's usage per class.
    pub async fn provider_usages(&self, uuid: &str) -> Result<BTreeMap<String, i64>, ClientError> {
        let (_, v) = self.call(reqwest::Method::GET, &format!("/resource_providers/{uuid}/usages"), &[], None).await?;
        Self::parse(v["usages"].clone())
    }

    /// A project's (and optionally user's) usage per consumer type, then class (1.38 form;
    /// `consumer_count` is included per type).
    pub async fn usages(&self, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<String, BTreeMap<String, i64>>, ClientError> {
        let mut q = vec![("project_id".to_string(), project_id.to_string())];
        if let Some(u) = user_id {
            q.push(("user_id".into(), u.into()));
        }
        let (_, v) = self.call(reqwest::Method::GET, "/usages", &q, None).await?;
        Self::parse(v["usages"].clone())
    }
}
