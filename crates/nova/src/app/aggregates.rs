//! Host aggregates (nova/compute/api.py AggregateAPI, admin only): named groups of compute
//! hosts with metadata; an `availability_zone` key makes the aggregate an availability zone,
//! which the scheduler's AvailabilityZoneFilter and the server views then follow. A host may be
//! in several aggregates but in one availability zone only.

use std::collections::BTreeMap;

use auth::RequestContext;

use super::{now, App};
use crate::db::compute_nodes as cdb;
use crate::db::services::{self as sdb, Aggregate};
use crate::error::{NovaError, Result};

const AZ_KEY: &str = "availability_zone";

impl App {
    fn aggregate_policy(&self, ctx: &RequestContext, action: &str) -> Result<()> {
        self.enforce(ctx, &format!("os_compute_api:os-aggregates:{action}"), &Self::own_target(ctx))
    }

    pub async fn aggregate_list(&self, ctx: &RequestContext) -> Result<Vec<Aggregate>> {
        self.aggregate_policy(ctx, "index")?;
        Ok(sdb::aggregate_list(&self.api_db).await?)
    }

    async fn aggregate_find(&self, id: &str) -> Result<Aggregate> {
        let not_found = || NovaError::NotFound(format!("Aggregate {id} could not be found."));
        let n: i64 = id.parse().map_err(|_| not_found())?;
        sdb::aggregate_get(&self.api_db, n).await?.ok_or_else(not_found)
    }

    pub async fn aggregate_show(&self, ctx: &RequestContext, id: &str) -> Result<Aggregate> {
        self.aggregate_policy(ctx, "show")?;
        self.aggregate_find(id).await
    }

    /// An availability zone name must not be the name of another aggregate's zone it would
    /// merge with by accident: upstream only refuses the internal zone's name.
    fn check_zone_name(&self, az: &str) -> Result<()> {
        if az == "internal" {
            return Err(NovaError::BadRequest("Aggregate contains an invalid availability zone name: internal is reserved for internal services.".into()));
        }
        Ok(())
    }

    pub async fn aggregate_create(&self, ctx: &RequestContext, name: &str, az: Option<&str>) -> Result<Aggregate> {
        self.aggregate_policy(ctx, "create")?;
        let mut metadata = BTreeMap::new();
        if let Some(z) = az {
            self.check_zone_name(z)?;
            metadata.insert(AZ_KEY.to_string(), z.to_string());
        }
        let id = sdb::aggregate_create(&self.api_db, &common::ids::new_uuid(), name, &metadata, now()).await.map_err(|e| match e {
            db::DbError::Duplicate(_) => NovaError::Conflict(format!("Aggregate {name} already exists.")),
            e => e.into(),
        })?;
        self.aggregate_find(&id.to_string()).await
    }

    /// PUT: rename and/or move the aggregate to another zone (refused while one of its hosts
    /// runs servers in the old zone, as upstream).
    pub async fn aggregate_update(&self, ctx: &RequestContext, id: &str, name: Option<&str>, az: Option<Option<&str>>) -> Result<Aggregate> {
        self.aggregate_policy(ctx, "update")?;
        let a = self.aggregate_find(id).await?;
        let mut meta = BTreeMap::new();
        if let Some(z) = az {
            if let Some(z) = z {
                self.check_zone_name(z)?;
            }
            self.check_zone_change(&a, z).await?;
            meta.insert(AZ_KEY.to_string(), z.map(str::to_string));
        }
        sdb::aggregate_update(&self.api_db, a.id, name, &meta, now()).await.map_err(|e| match e {
            db::DbError::Duplicate(_) => NovaError::Conflict(format!("Aggregate {} already exists.", name.unwrap_or_default())),
            e => e.into(),
        })?;
        self.aggregate_find(id).await
    }

    pub async fn aggregate_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        self.aggregate_policy(ctx, "delete")?;
        let a = self.aggregate_find(id).await?;
        if !a.hosts.is_empty() {
            return Err(NovaError::BadRequest(format!("Cannot remove aggregate {id}: it still contains hosts ({}).", a.hosts.join(", "))));
        }
        Ok(sdb::aggregate_delete(&self.api_db, a.id).await?)
    }

    /// The zone a host would end up in must agree with the zone it is already in.
    async fn check_host_zone(&self, a: &Aggregate, host: &str) -> Result<()> {
        let Some(az) = a.metadata.get(AZ_KEY) else { return Ok(()) };
        let zones = sdb::aggregate_host_zones(&self.api_db).await?;
        if let Some(existing) = zones.get(host) {
            let others: Vec<&String> = existing.iter().filter(|z| *z != az).collect();
            if !others.is_empty() {
                let list = others.iter().map(|z| z.as_str()).collect::<Vec<_>>().join(", ");
                return Err(NovaError::Conflict(format!("Cannot add host to aggregate {}. Reason: One or more hosts already in availability zone(s) [{list}].", a.id)));
            }
        }
        Ok(())
    }

    /// Moving an aggregate's hosts to another zone is refused while they run servers there.
    async fn check_zone_change(&self, a: &Aggregate, az: Option<&str>) -> Result<()> {
        if a.metadata.get(AZ_KEY).map(String::as_str) == az {
            return Ok(());
        }
        for host in &a.hosts {
            if !crate::db::instances::instance_list_by_host(&self.db, host).await?.is_empty() {
                return Err(NovaError::BadRequest(format!("Cannot update aggregate {}. Reason: One or more hosts contain instances in this zone.", a.id)));
            }
        }
        Ok(())
    }

    pub async fn aggregate_add_host(&self, ctx: &RequestContext, id: &str, host: &str) -> Result<Aggregate> {
        self.aggregate_policy(ctx, "add_host")?;
        let a = self.aggregate_find(id).await?;
        if !cdb::service_list(&self.db).await?.iter().any(|s| s.host == host && s.binary == "nova-compute") {
            return Err(NovaError::NotFound(format!("Compute host {host} could not be found.")));
        }
        if a.hosts.iter().any(|h| h == host) {
            return Err(NovaError::Conflict(format!("Aggregate {id} already has host {host}.")));
        }
        self.check_host_zone(&a, host).await?;
        sdb::aggregate_host_add(&self.api_db, a.id, host, now()).await?;
        self.aggregate_find(id).await
    }

    pub async fn aggregate_remove_host(&self, ctx: &RequestContext, id: &str, host: &str) -> Result<Aggregate> {
        self.aggregate_policy(ctx, "remove_host")?;
        let a = self.aggregate_find(id).await?;
        if !sdb::aggregate_host_remove(&self.api_db, a.id, host, now()).await? {
            return Err(NovaError::NotFound(format!("Cannot remove host {host} in aggregate {id}: the host is not in the aggregate.")));
        }
        self.aggregate_find(id).await
    }

    /// set_metadata: `None` removes a key; an `availability_zone` change follows the zone rules.
    pub async fn aggregate_set_metadata(&self, ctx: &RequestContext, id: &str, metadata: &BTreeMap<String, Option<String>>) -> Result<Aggregate> {
        self.aggregate_policy(ctx, "set_metadata")?;
        let a = self.aggregate_find(id).await?;
        if let Some(z) = metadata.get(AZ_KEY) {
            if let Some(z) = z {
                self.check_zone_name(z)?;
            }
            self.check_zone_change(&a, z.as_deref()).await?;
        }
        sdb::aggregate_update(&self.api_db, a.id, None, metadata, now()).await?;
        self.aggregate_find(id).await
    }
}
