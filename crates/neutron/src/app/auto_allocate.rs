//! The auto-allocated topology (neutron/services/auto_allocate/db.py), what Nova asks for when
//! a server is booted with `networks: "auto"`: for a project, a network
//! `auto_allocated_network` with a subnet from each default subnet pool, and a router
//! `auto_allocated_router` with its gateway on the default external network and an interface
//! on each subnet. The first call builds it, later calls return the same network.
//!
//! Requirements: one `router:external` network with `is_default: true` and an IPv4 or IPv6
//! subnet pool with `is_default: true` the project can use (AutoAllocationFailure 409
//! otherwise, with upstream's reasons); `?fields=dry-run` checks them without building.
//!
//! Concurrent first calls: each builds its own topology (its network stays
//! `admin_state_up: false` until it is saved, as upstream, so a listing of usable networks does
//! not show the duplicate); the `auto_allocated_topologies` row is keyed by project, so only one
//! is saved and the losers tear theirs down and answer with the winner's network.

use auth::RequestContext;
use serde_json::{json, Value};

use super::input::Input;
use super::{bump_revision, str_of, App};
use crate::db::auto_allocate::{auto_allocated_topology_create, auto_allocated_topology_delete, auto_allocated_topology_get};
use crate::db::records::{record_get, record_get_tx, record_list, record_update};
use crate::db::Kind;
use crate::error::{NeutronError, Result};

/// The `fields` value that asks only for a check of the requirements.
const CHECK_REQUIREMENTS: &str = "dry-run";

fn input(v: Value) -> Input {
    Input(v.as_object().cloned().unwrap_or_default())
}

fn response(network_id: &str, project_id: &str) -> Value {
    json!({"id": network_id, "project_id": project_id, "tenant_id": project_id})
}

/// What was built so far, for the teardown after a failure or a lost race.
#[derive(Default)]
struct Built {
    network_id: Option<String>,
    router_id: Option<String>,
    attached_subnets: Vec<String>,
}

impl App {
    /// The project the call is about (`None`, as clients send without one, is the caller's).
    fn auto_allocate_project(&self, ctx: &RequestContext, project_id: &str, rule: &str) -> Result<String> {
        let project_id = if project_id == "None" { ctx.project_id().unwrap_or_default().to_string() } else { project_id.to_string() };
        self.enforce(ctx, rule, &json!({"project_id": project_id}))?;
        Ok(project_id)
    }

    /// `GET /v2.0/auto-allocated-topology/{project_id}`: the project's network, built first if
    /// it has none.
    pub async fn auto_allocated_topology_get(&self, ctx: &RequestContext, project_id: &str, fields: &[String]) -> Result<Value> {
        let project_id = self.auto_allocate_project(ctx, project_id, "get_auto_allocated_topology")?;
        if fields.iter().any(|f| f == CHECK_REQUIREMENTS) {
            self.default_external_network().await?;
            if self.default_subnet_pools(ctx).await?.is_empty() {
                return Err(NeutronError::AutoAllocationFailure("No default subnetpools defined".into()));
            }
            return Ok(json!({"id": "dry-run=pass", "project_id": project_id, "tenant_id": project_id}));
        }
        if !fields.is_empty() {
            return Err(NeutronError::bad("auto_allocate", "Unrecognized field"));
        }
        if let Some((network_id, _)) = self.auto_allocated_topology_of(&project_id).await? {
            return Ok(response(&network_id, &project_id));
        }
        let external = self.default_external_network().await?;
        let network_id = self.auto_allocate_build(ctx, &project_id, &external).await?;
        Ok(response(&network_id, &project_id))
    }

    /// `DELETE /v2.0/auto-allocated-topology/{project_id}`: takes the topology down (refused
    /// as the pieces refuse, e.g. NetworkInUse while servers still have ports on it).
    pub async fn auto_allocated_topology_delete(&self, ctx: &RequestContext, project_id: &str) -> Result<()> {
        let project_id = self.auto_allocate_project(ctx, project_id, "delete_auto_allocated_topology")?;
        let Some((network_id, router_id)) = self.auto_allocated_topology_of(&project_id).await? else { return Ok(()) };
        let subnets = crate::db::records::record_list_by(&self.db, Kind::Subnet, "network_id", &network_id).await?;
        let built = Built { network_id: Some(network_id), router_id: Some(router_id), attached_subnets: subnets.iter().map(|s| str_of(s, "id").to_string()).collect() };
        self.auto_allocate_teardown(ctx, &built).await?;
        let mut tx = self.db.begin().await?;
        auto_allocated_topology_delete(&mut tx, &project_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The saved topology, if its network still exists (a row left by a network deleted
    /// through the network API is dropped, as upstream's foreign key cascades).
    async fn auto_allocated_topology_of(&self, project_id: &str) -> Result<Option<(String, String)>> {
        let Some((network_id, router_id)) = auto_allocated_topology_get(&self.db, project_id).await? else { return Ok(None) };
        if record_get(&self.db, Kind::Network, &network_id).await?.is_some() {
            return Ok(Some((network_id, router_id)));
        }
        let mut tx = self.db.begin().await?;
        auto_allocated_topology_delete(&mut tx, project_id).await?;
        tx.commit().await?;
        Ok(None)
    }

    /// The deployment's default external network.
    async fn default_external_network(&self) -> Result<String> {
        let mut defaults: Vec<Value> = record_list(&self.db, Kind::Network).await?.into_iter().filter(|n| n["router:external"] == json!(true) && n["is_default"] == json!(true)).collect();
        defaults.sort_by(|a, b| str_of(a, "created_at").cmp(str_of(b, "created_at")));
        match defaults.first() {
            Some(n) => Ok(str_of(n, "id").to_string()),
            None => {
                tracing::error!("no default external network: create one (router:external, is_default) for auto-allocation to work");
                Err(NeutronError::AutoAllocationFailure("No default router:external network".into()))
            }
        }
    }

    /// The default subnet pool of each IP version that the caller can use.
    async fn default_subnet_pools(&self, ctx: &RequestContext) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for version in [4, 6] {
            for pool in record_list(&self.db, Kind::SubnetPool).await?.into_iter().filter(|p| p["is_default"] == json!(true) && p["ip_version"] == json!(version)) {
                if self.visible(ctx, Kind::SubnetPool, str_of(&pool, "id")).await.is_ok() {
                    out.push(pool);
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn auto_allocate_build(&self, ctx: &RequestContext, project_id: &str, external: &str) -> Result<String> {
        let mut built = Built::default();
        match self.auto_allocate_steps(ctx, project_id, external, &mut built).await {
            Ok(network_id) => Ok(network_id),
            Err(e) => {
                tracing::error!(project_id, error = %e, "unable to auto-allocate a topology; tearing down what was built");
                if let Err(t) = self.auto_allocate_teardown(ctx, &built).await {
                    tracing::warn!(project_id, error = %t, "teardown of a partial auto-allocated topology failed");
                }
                Err(e)
            }
        }
    }

    async fn auto_allocate_steps(&self, ctx: &RequestContext, project_id: &str, external: &str, built: &mut Built) -> Result<String> {
        let pools = self.default_subnet_pools(ctx).await?;
        if pools.is_empty() {
            tracing::error!("no default subnet pools: create one (is_default, shared) for auto-allocation to work");
            return Err(NeutronError::AutoAllocationFailure("Unable to provide project private network".into()));
        }
        let network = self.network_create(ctx, input(json!({"name": "auto_allocated_network", "admin_state_up": false, "project_id": project_id, "shared": false}))).await?;
        let network_id = str_of(&network, "id").to_string();
        built.network_id = Some(network_id.clone());
        let mut subnets = Vec::new();
        for pool in &pools {
            let version = pool["ip_version"].as_i64().unwrap_or(4);
            let args = json!({"name": format!("auto_allocated_subnet_v{version}"), "network_id": network_id, "project_id": project_id, "ip_version": version, "subnetpool_id": pool["id"]});
            match self.subnet_create(ctx, input(args)).await {
                Ok(s) => subnets.push(str_of(&s, "id").to_string()),
                Err(e @ (NeutronError::SubnetAllocationError(_) | NeutronError::BadRequest { .. } | NeutronError::InvalidInput(_) | NeutronError::SubnetPoolNotFound(_))) => {
                    tracing::error!(project_id, error = %e, "no subnet from the default pool");
                    return Err(NeutronError::AutoAllocationFailure("Unable to provide project private network".into()));
                }
                Err(e) => return Err(e),
            }
        }
        let router = self
            .router_create(ctx, input(json!({"name": "auto_allocated_router", "external_gateway_info": {"network_id": external}, "project_id": project_id, "admin_state_up": true})))
            .await
            .map_err(Self::connectivity_failure)?;
        let router_id = str_of(&router, "id").to_string();
        built.router_id = Some(router_id.clone());
        for subnet_id in subnets {
            self.router_interface_add(ctx, &router_id, input(json!({"subnet_id": subnet_id}))).await.map_err(Self::connectivity_failure)?;
            built.attached_subnets.push(subnet_id);
        }
        // Save, and only then let the network carry traffic; a concurrent call that saved
        // first wins, and ours is torn down.
        let mut tx = self.db.begin().await?;
        let saved = match auto_allocated_topology_create(&mut tx, project_id, &network_id, &router_id).await {
            Ok(()) => {
                if let Some(mut n) = record_get_tx(&mut tx, Kind::Network, &network_id).await? {
                    n["admin_state_up"] = json!(true);
                    bump_revision(&mut n);
                    record_update(&mut tx, Kind::Network, &n).await?;
                }
                tx.commit().await?;
                true
            }
            Err(db::DbError::Duplicate(_)) => {
                tx.rollback().await?;
                false
            }
            Err(e) => return Err(e.into()),
        };
        if saved {
            return Ok(network_id);
        }
        tracing::debug!(project_id, network_id, router_id, "a concurrent request saved its topology first; removing ours");
        self.auto_allocate_teardown(ctx, built).await?;
        auto_allocated_topology_get(&self.db, project_id).await?.map(|(n, _)| n).ok_or_else(|| NeutronError::AutoAllocationFailure("Unable to provide project private network".into()))
    }

    /// A router error becomes upstream's "Unable to provide external connectivity" when it is
    /// the request's fault (a 400), and stays itself otherwise.
    fn connectivity_failure(e: NeutronError) -> NeutronError {
        if e.status() == http::StatusCode::BAD_REQUEST {
            tracing::error!(error = %e, "router errors while auto-allocating");
            NeutronError::AutoAllocationFailure("Unable to provide external connectivity".into())
        } else {
            e
        }
    }

    /// Removes interfaces, router and network, ignoring what is already gone.
    async fn auto_allocate_teardown(&self, ctx: &RequestContext, built: &Built) -> Result<()> {
        let gone = |r: Result<()>| match r {
            Err(e) if e.status() == http::StatusCode::NOT_FOUND => Ok(()),
            other => other,
        };
        if let Some(router_id) = &built.router_id {
            for subnet_id in &built.attached_subnets {
                gone(self.router_interface_remove(ctx, router_id, input(json!({"subnet_id": subnet_id}))).await.map(|_| ()))?;
            }
            gone(self.router_delete(ctx, router_id).await)?;
        }
        if let Some(network_id) = &built.network_id {
            gone(self.network_delete(ctx, network_id).await)?;
        }
        Ok(())
    }
}
