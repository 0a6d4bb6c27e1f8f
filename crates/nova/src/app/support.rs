//! What server operations need from around them: the image from Glance (with the caller's
//! token), key pairs, request specs kept for rescheduling and recovery,
//! server group membership, and availability zones from host aggregates.

use std::collections::BTreeMap;
use std::sync::Arc;

use auth::RequestContext;
use db::params;
use serde_json::Value;

use super::App;
use crate::error::{NovaError, Result};
use crate::placement::Placement;
use crate::scheduler::{GroupSpec, RequestSpec};

impl App {
    /// The bus the API casts to (set when the services start).
    pub fn bus(&self) -> Result<Arc<dyn bus::Bus>> {
        self.bus.get().cloned().ok_or_else(|| NovaError::Internal("the compute services are not running".into()))
    }

    /// Placement, once the services started.
    pub fn placement(&self) -> Option<Arc<dyn Placement>> {
        self.placement.get().cloned()
    }

    /// The Image service client, once the services started.
    pub fn images(&self) -> Result<Arc<crate::image::GlanceClient>> {
        self.images.get().cloned().ok_or_else(|| NovaError::Internal("no service credentials to find the image service".into()))
    }

    /// GET {image endpoint}/v2/images/{id} with the caller's token.
    pub async fn glance_image(&self, ctx: &RequestContext, id: &str) -> Result<Value> {
        let token = ctx.auth_token.clone().unwrap_or_default();
        self.images()?.get(&token, id).await.map_err(|e| match e {
            crate::image::ImageError::NotFound(_) => NovaError::BadRequest(format!("Image {id} could not be found.")),
            e => NovaError::Internal(e.to_string()),
        })
    }

    /// The public key of `user`'s key pair `name`, if it exists.
    pub async fn keypair_public_key(&self, user: &str, name: &str) -> Result<Option<String>> {
        let r = self.api_db.fetch_optional("SELECT public_key FROM key_pairs WHERE user_id = ? AND name = ?", params![user, name]).await?;
        Ok(r.map(|r| r.str("public_key")).transpose()?)
    }

    pub async fn request_spec_save(&self, instance: &str, spec: &RequestSpec) -> Result<()> {
        let s = serde_json::to_string(spec).map_err(|e| NovaError::Internal(e.to_string()))?;
        self.api_db.exec("INSERT INTO request_specs (instance_uuid, spec) VALUES (?, ?)", params![instance, s]).await?;
        Ok(())
    }

    pub async fn request_spec_update(&self, instance: &str, spec: &RequestSpec) -> Result<()> {
        let s = serde_json::to_string(spec).map_err(|e| NovaError::Internal(e.to_string()))?;
        self.api_db.exec("UPDATE request_specs SET spec = ? WHERE instance_uuid = ?", params![s, instance]).await?;
        Ok(())
    }

    pub async fn request_spec_get(&self, instance: &str) -> Result<Option<RequestSpec>> {
        let r = self.api_db.fetch_optional("SELECT spec FROM request_specs WHERE instance_uuid = ?", params![instance]).await?;
        match r {
            Some(r) => Ok(Some(serde_json::from_str(&r.str("spec")?).map_err(|e| NovaError::Internal(format!("request spec of {instance}: {e}")))?)),
            None => Ok(None),
        }
    }

    /// The server group a build joins: it must exist and belong to the caller's project.
    pub async fn server_group_spec(&self, ctx: &RequestContext, uuid: &str) -> Result<GroupSpec> {
        let r = self.api_db.fetch_optional("SELECT project_id, policy, rules FROM instance_groups WHERE uuid = ?", params![uuid]).await?;
        let Some(r) = r.filter(|r| self.is_admin(ctx) || r.str("project_id").ok().as_deref() == ctx.project_id()) else {
            return Err(NovaError::BadRequest(format!("Invalid input for field/attribute group. Value: {uuid}. Server group {uuid} could not be found.")));
        };
        let rules: Value = serde_json::from_str(&r.str("rules")?).unwrap_or(Value::Null);
        Ok(super::servers::group_spec(uuid, &r.str("policy")?, &rules))
    }

    pub async fn server_group_add_member(&self, group: &str, instance: &str) -> Result<()> {
        self.api_db.exec("INSERT INTO instance_group_member (group_uuid, instance_uuid) VALUES (?, ?)", params![group, instance]).await?;
        Ok(())
    }

    pub async fn server_group_remove_member(&self, instance: &str) -> Result<()> {
        self.api_db.exec("DELETE FROM instance_group_member WHERE instance_uuid = ?", params![instance]).await?;
        Ok(())
    }

    pub async fn server_group_members(&self, group: &str) -> Result<Vec<String>> {
        self.api_db.fetch_all("SELECT instance_uuid FROM instance_group_member WHERE group_uuid = ?", params![group]).await?.iter().map(|r| r.str("instance_uuid").map_err(NovaError::from)).collect()
    }

    /// host -> availability zone, from aggregates carrying `availability_zone` metadata (a
    /// host in several names them all, comma-joined, as upstream).
    pub async fn availability_zone_hosts(&self) -> Result<BTreeMap<String, String>> {
        let zones = crate::db::services::aggregate_host_zones(&self.api_db).await?;
        Ok(zones.into_iter().map(|(host, z)| (host, z.join(","))).collect())
    }

    pub async fn host_availability_zone(&self, host: &str) -> Result<String> {
        Ok(self.availability_zone_hosts().await?.remove(host).unwrap_or_else(|| self.cfg.default_availability_zone.clone()))
    }

    pub async fn availability_zone_exists(&self, az: &str) -> Result<bool> {
        Ok(az == self.cfg.default_availability_zone || self.availability_zone_hosts().await?.values().any(|z| z == az))
    }
}

impl App {
    /// PUT /os-services/{enable,disable,disable-log-reason,force-down}.
    pub async fn service_update(&self, host: &str, binary: &str, disabled: Option<bool>, reason: Option<&str>, forced_down: Option<bool>) -> Result<crate::db::compute_nodes::Service> {
        use crate::db::compute_nodes as cdb;
        let n = cdb::service_update(&self.db, host, binary, disabled, reason, forced_down, super::now()).await?;
        if n == 0 {
            return Err(NovaError::NotFound(format!("Service {binary} on host {host} could not be found.")));
        }
        cdb::service_list(&self.db).await?.into_iter().find(|s| s.host == host && s.binary == binary).ok_or_else(|| NovaError::NotFound(format!("Service {binary} on host {host} could not be found.")))
    }
}
