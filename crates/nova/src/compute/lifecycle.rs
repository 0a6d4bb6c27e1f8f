//! The compute manager's part in the lifecycle operations beyond power actions
//! (nova/compute/manager.py): rebuild and evacuation, snapshots, shelving, diagnostics, and
//! the host-side steps of resize, cold and live migration, which the conductor sequences
//! with calls to the source and destination hosts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ComputeManager;
use crate::app::now;
use crate::conductor::{InstanceUpdate, TaskPatch};
use crate::db::instances::Instance;
use crate::rpc::{self, RpcContext};
use crate::virt::PowerState;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RebuildArgs {
    pub instance: String,
    /// An evacuation: the guest is rebuilt here from nothing (its host is gone).
    pub evacuate: bool,
    /// The server was stopped and stays stopped.
    pub stopped: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotArgs {
    pub instance: String,
    pub image_id: String,
    /// createBackup: the backup type and how many backups of it to keep.
    #[serde(default)]
    pub backup: Option<(String, i64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShelveArgs {
    pub instance: String,
    pub image_id: String,
    /// Offload at once (`shelved_offload_time = 0`).
    pub offload: bool,
}

fn update(vm_state: &str, power: PowerState) -> InstanceUpdate {
    InstanceUpdate { vm_state: Some(vm_state.into()), task_state: TaskPatch::Clear, power_state: Some(power.code()), ..Default::default() }
}

impl ComputeManager {
    pub(super) async fn handle_lifecycle(&self, method: &str, m: &bus::Message) -> Result<Value, String> {
        let done = |r: Result<(), String>| r.map(|_| Value::Null);
        match method {
            "rebuild_instance" => {
                let (a, ctx): (RebuildArgs, RpcContext) = rpc::decode(m)?;
                done(self.rebuild(&ctx, &a).await)
            }
            "snapshot_instance" => {
                let (a, ctx): (SnapshotArgs, RpcContext) = rpc::decode(m)?;
                done(self.snapshot(&ctx, &a).await)
            }
            "shelve_instance" => {
                let (a, ctx): (ShelveArgs, RpcContext) = rpc::decode(m)?;
                done(self.shelve(&ctx, &a).await)
            }
            "shelve_offload_instance" => {
                let (uuid, ctx): (String, RpcContext) = rpc::decode(m)?;
                done(self.shelve_offload(&ctx, &uuid).await)
            }
            "unshelve_instance" => {
                let (uuid, ctx): (String, RpcContext) = rpc::decode(m)?;
                done(self.unshelve(&ctx, &uuid).await)
            }
            "get_host_uptime" => self.driver.host_uptime().await.map(Value::String).map_err(|e| e.to_string()),
            "external_instance_event" => {
                let ((uuid, name, status), ctx): ((String, String, String), RpcContext) = rpc::decode(m)?;
                tracing::info!(instance = %uuid, event = %name, %status, host = %self.host, "external instance event");
                // Neutron says the ports changed (a floating IP, an address, a port gone or
                // up): the info cache is read again. Nothing here waits on volume events yet.
                if name.starts_with("network-") && self.network.is_some() {
                    self.refresh_network_info(&ctx, &uuid).await?;
                }
                Ok(Value::Null)
            }
            "get_diagnostics" => {
                let (i, _): (Instance, RpcContext) = rpc::decode(m)?;
                self.driver.diagnostics(&i).await.map_err(|e| e.to_string())
            }
            // The host-side steps of a move, called by the conductor.
            "resize_instance" => {
                let (i, _): (Instance, RpcContext) = rpc::decode(m)?;
                done(self.driver.migrate_disk_and_power_off(&i).await.map_err(|e| e.to_string()))
            }
            "finish_resize" => {
                let ((i, power_on), _): ((Instance, bool), RpcContext) = rpc::decode(m)?;
                self.bind_ports(&i, Some(&self.host)).await?;
                done(self.driver.finish_migration(&i, power_on).await.map_err(|e| e.to_string()))
            }
            "confirm_resize" => {
                let (i, _): (Instance, RpcContext) = rpc::decode(m)?;
                done(self.driver.confirm_migration(&i).await.map_err(|e| e.to_string()))
            }
            "revert_resize" | "live_migration_out" => {
                let (i, _): (Instance, RpcContext) = rpc::decode(m)?;
                done(self.driver.destroy(&i).await.map_err(|e| e.to_string()))
            }
            "finish_revert_resize" => {
                let ((i, power_on), _): ((Instance, bool), RpcContext) = rpc::decode(m)?;
                self.bind_ports(&i, Some(&self.host)).await?;
                done(self.driver.finish_revert_migration(&i, power_on).await.map_err(|e| e.to_string()))
            }
            "live_migration_in" => {
                let ((i, state), _): ((Instance, PowerState), RpcContext) = rpc::decode(m)?;
                self.bind_ports(&i, Some(&self.host)).await?;
                done(self.driver.receive_live_migration(&i, state).await.map_err(|e| e.to_string()))
            }
            other => Err(format!("compute has no method {other}")),
        }
    }

    /// Rebuild (and evacuation's rebuild on the new host): the guest is recreated from the
    /// instance's (possibly new) image, then stopped again if it was stopped.
    async fn rebuild(&self, ctx: &RpcContext, a: &RebuildArgs) -> Result<(), String> {
        let start = now();
        let instance: Instance = self.conductor("instance_get", &a.instance, ctx).await?;
        let outcome = async {
            if !a.evacuate {
                self.driver.destroy(&instance).await.map_err(|e| e.to_string())?;
            } else {
                self.bind_ports(&instance, Some(&self.host)).await?;
            }
            self.update(ctx, &a.instance, InstanceUpdate { task_state: TaskPatch::Set("rebuild_spawning".into()), ..Default::default() }).await?;
            self.driver.spawn(&instance).await.map_err(|e| e.to_string())?;
            if a.stopped {
                self.driver.power_off(&instance).await.map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }
        .await;
        let u = match &outcome {
            Ok(()) if a.stopped => update("stopped", PowerState::Shutdown),
            Ok(()) => InstanceUpdate { launched_at: Some(now()), ..update("active", PowerState::Running) },
            Err(_) => update("error", PowerState::NoState),
        };
        self.update(ctx, &a.instance, u).await?;
        if let Err(e) = &outcome {
            let _ = self.conductor::<_, Value>("instance_fault", &(&a.instance, &self.host, e), ctx).await;
        }
        self.event(ctx, &a.instance, "compute_rebuild_instance", start, &outcome).await;
        outcome
    }

    /// Captures the guest's disk and uploads it to the image the API created.
    async fn capture(&self, ctx: &RpcContext, instance: &Instance, image_id: &str) -> Result<(), String> {
        let images = self.images.clone().ok_or("no image service is configured for this compute host")?;
        let token = ctx.auth_token.clone().ok_or("the request carries no token to upload the image with")?;
        let snap = self.driver.snapshot(instance).await.map_err(|e| e.to_string())?;
        self.update(ctx, &instance.uuid, InstanceUpdate { task_state: TaskPatch::Set("image_uploading".into()), ..Default::default() }).await?;
        let uploaded = async {
            images.set(&token, image_id, &[("disk_format", &snap.disk_format), ("container_format", &snap.container_format)]).await.map_err(|e| e.to_string())?;
            images.upload(&token, image_id, snap.data).await.map_err(|e| e.to_string())
        }
        .await;
        if uploaded.is_err() {
            // No half-made snapshot is left behind.
            let _ = images.delete(&token, image_id).await;
        }
        uploaded
    }

    async fn snapshot(&self, ctx: &RpcContext, a: &SnapshotArgs) -> Result<(), String> {
        let start = now();
        let instance: Instance = self.conductor("instance_get", &a.instance, ctx).await?;
        let mut outcome = self.capture(ctx, &instance, &a.image_id).await;
        if let (Ok(()), Some((kind, rotation))) = (&outcome, &a.backup) {
            outcome = self.rotate_backups(ctx, &a.instance, kind, *rotation).await;
        }
        self.update(ctx, &a.instance, InstanceUpdate { task_state: TaskPatch::Clear, ..Default::default() }).await?;
        let event = if a.backup.is_some() { "compute_backup_instance" } else { "compute_snapshot_instance" };
        self.event(ctx, &a.instance, event, start, &outcome).await;
        outcome
    }

    /// Keeps the newest `rotation` backups of `kind` of the instance and deletes the rest.
    async fn rotate_backups(&self, ctx: &RpcContext, uuid: &str, kind: &str, rotation: i64) -> Result<(), String> {
        let images = self.images.clone().ok_or("no image service is configured for this compute host")?;
        let token = ctx.auth_token.clone().ok_or("the request carries no token")?;
        let query = vec![("instance_uuid".to_string(), uuid.to_string()), ("limit".to_string(), "1000".to_string())];
        let listed = images.list(&token, &query).await.map_err(|e| e.to_string())?;
        let mut backups: Vec<&Value> = listed["images"].as_array().into_iter().flatten().filter(|i| i["instance_uuid"] == uuid && i["image_type"] == "backup" && i["backup_type"] == kind).collect();
        backups.sort_by(|a, b| b["created_at"].as_str().cmp(&a["created_at"].as_str()));
        for old in backups.into_iter().skip(rotation.max(0) as usize) {
            if let Some(id) = old["id"].as_str() {
                images.delete(&token, id).await.map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Shelve: stop the guest, keep its disk as an image, and (offloading) let go of it.
    async fn shelve(&self, ctx: &RpcContext, a: &ShelveArgs) -> Result<(), String> {
        let start = now();
        let instance: Instance = self.conductor("instance_get", &a.instance, ctx).await?;
        let outcome = async {
            if self.driver.power_state(&instance.uuid).await.map_err(|e| e.to_string())? != PowerState::Shutdown {
                self.driver.power_off(&instance).await.map_err(|e| e.to_string())?;
            }
            self.capture(ctx, &instance, &a.image_id).await
        }
        .await;
        let u = match &outcome {
            Ok(()) if a.offload => InstanceUpdate { vm_state: Some("shelved".into()), task_state: TaskPatch::Set("shelving_offloading".into()), power_state: Some(PowerState::Shutdown.code()), ..Default::default() },
            Ok(()) => update("shelved", PowerState::Shutdown),
            // The guest stays, stopped; the task ends and the event says why.
            Err(_) => InstanceUpdate { task_state: TaskPatch::Clear, power_state: self.driver.power_state(&instance.uuid).await.map(PowerState::code).ok(), ..Default::default() },
        };
        self.update(ctx, &a.instance, u).await?;
        self.event(ctx, &a.instance, "compute_shelve_instance", start, &outcome).await;
        outcome?;
        if a.offload {
            self.shelve_offload(ctx, &a.instance).await?;
        }
        Ok(())
    }

    async fn shelve_offload(&self, ctx: &RpcContext, uuid: &str) -> Result<(), String> {
        let start = now();
        let instance: Instance = self.conductor("instance_get", &uuid, ctx).await?;
        let mut outcome = self.driver.destroy(&instance).await.map_err(|e| e.to_string());
        if outcome.is_ok() {
            // The ports stay the instance's, bound to no host until it is unshelved.
            outcome = self.bind_ports(&instance, None).await;
        }
        match &outcome {
            Ok(()) => self.conductor::<_, Value>("shelve_offloaded", &uuid, ctx).await.map(|_| ())?,
            Err(_) => self.update(ctx, uuid, InstanceUpdate { task_state: TaskPatch::Clear, ..Default::default() }).await.map(|_| ())?,
        }
        self.event(ctx, uuid, "compute_shelve_offload_instance", start, &outcome).await;
        outcome
    }

    /// Unshelve: a shelved guest is started; an offloaded one is spawned here from its
    /// shelved image, which is deleted once the server runs again.
    async fn unshelve(&self, ctx: &RpcContext, uuid: &str) -> Result<(), String> {
        let start = now();
        let instance: Instance = self.conductor("instance_get", &uuid, ctx).await?;
        let shelved_image = instance.system_metadata.get("shelved_image_id").cloned();
        let offloaded = instance.vm_state == "shelved_offloaded";
        let outcome = async {
            if offloaded {
                self.update(ctx, uuid, InstanceUpdate { task_state: TaskPatch::Set("spawning".into()), ..Default::default() }).await?;
                let mut from_snapshot = instance.clone();
                if let Some(img) = &shelved_image {
                    from_snapshot.image_ref = Some(img.clone());
                }
                self.bind_ports(&instance, Some(&self.host)).await?;
                self.driver.spawn(&from_snapshot).await.map_err(|e| e.to_string())
            } else {
                self.driver.power_on(&instance).await.map_err(|e| e.to_string())
            }
        }
        .await;
        let u = match &outcome {
            Ok(()) => {
                let mut u = update("active", PowerState::Running);
                for k in ["shelved_at", "shelved_image_id", "shelved_host"] {
                    u.system_metadata.insert(k.into(), None);
                }
                u
            }
            Err(_) if offloaded => update("shelved_offloaded", PowerState::NoState),
            Err(_) => update("shelved", PowerState::Shutdown),
        };
        if outcome.is_err() && offloaded {
            // Back to where it was: nothing runs here, so nothing is held here.
            let _ = self.driver.destroy(&instance).await;
            let _ = self.conductor::<_, Value>("shelve_offloaded", &uuid, ctx).await;
        } else {
            self.update(ctx, uuid, u).await?;
        }
        if outcome.is_ok() {
            if let (Some(img), Some(images), Some(token)) = (shelved_image, self.images.clone(), ctx.auth_token.clone()) {
                if let Err(e) = images.delete(&token, &img).await {
                    tracing::warn!(instance = uuid, image = %img, error = %e, "could not delete the shelved image");
                }
            }
        }
        self.event(ctx, uuid, "compute_unshelve_instance", start, &outcome).await;
        outcome
    }

    /// After a restart: guests of instances evacuated away while this host was down are
    /// destroyed (the instance lives on elsewhere), and their source resources released.
    pub(super) async fn destroy_evacuated(&self, ctx: &RpcContext, known: &[String]) {
        let Ok(local) = self.driver.list_instances().await else { return };
        for uuid in local.into_iter().filter(|u| !known.contains(u)) {
            let evacuated: Result<Option<Instance>, String> = self.conductor("evacuated_from", &(&uuid, &self.host), ctx).await;
            if let Ok(Some(i)) = evacuated {
                tracing::warn!(instance = %uuid, host = %self.host, "destroying the local guest of an instance evacuated while this host was down");
                if self.driver.destroy(&i).await.is_ok() {
                    let _ = self.conductor::<_, Value>("evacuation_cleaned", &(&uuid, &self.host), ctx).await;
                }
            }
        }
    }
}
