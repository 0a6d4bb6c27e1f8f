//! The server lifecycle operations beyond power actions (nova/compute/api.py): rebuild,
//! snapshots (createImage), shelve / shelveOffload / unshelve, resize with confirm and
//! revert, cold and live migration, evacuation, diagnostics and resetState. Each checks the
//! instance's state as upstream's `check_instance_state` does, moves it into its task with a
//! compare-and-set (so two requests can never both start), records the instance action, and
//! hands the work to the host's compute manager or, for moves, to the conductor.

use std::collections::BTreeMap;

use auth::RequestContext;
use serde_json::{json, Value};

use super::{now, App};
use crate::compute::{RebuildArgs, ShelveArgs, SnapshotArgs};
use crate::conductor::MoveArgs;
use crate::db::compute_nodes as cdb;
use crate::db::instances::{self as idb, Instance};
use crate::db::migrations::{self as mdb, Migration};
use crate::error::{NovaError, Result};
use crate::rpc::{self, RpcContext};

/// What a rebuild asked to change besides the image.
#[derive(Debug, Clone, Default)]
pub struct RebuildRequest {
    pub image_ref: String,
    pub name: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub access_ip_v4: Option<String>,
    pub access_ip_v6: Option<String>,
    pub description: Option<Option<String>>,
    pub key_name: Option<Option<String>>,
    pub user_data: Option<Option<String>>,
    pub hostname: Option<String>,
}

/// Image properties a snapshot does not inherit from the image its server was built from
/// (`[DEFAULT] non_inheritable_image_properties` and Glance's own attributes).
const NOT_INHERITED: &[&str] = &["cache_in_nova", "bittorrent", "img_signature", "img_signature_hash_method", "img_signature_key_type", "img_signature_certificate_uuid", "base_image_ref", "container_format", "disk_format", "min_ram", "min_disk"];

fn conflict(action: &str, i: &Instance) -> NovaError {
    let (what, state) = match &i.task_state {
        Some(t) => ("task_state", t.clone()),
        None => ("vm_state", i.vm_state.clone()),
    };
    NovaError::Conflict(format!("Cannot '{action}' instance {} while it is in {what} {state}", i.uuid))
}

impl App {
    /// The common start of an operation: the caller may see and act on the server, it is
    /// not locked, it is in one of `vm_states` with no task, and it moves into `task`
    /// (`None`: the operation has no task state) before anything else can start.
    async fn begin(&self, ctx: &RequestContext, uuid: &str, rule: &str, action: &str, vm_states: &[&str], task: Option<&str>) -> Result<Instance> {
        let mut i = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, rule, &Self::server_target(&i))?;
        self.check_not_locked(ctx, &i)?;
        if !vm_states.contains(&i.vm_state.as_str()) || i.task_state.is_some() {
            return Err(conflict(action, &i));
        }
        if let Some(t) = task {
            i.task_state = Some(t.to_string());
            i.updated_at = now();
            if !idb::instance_save(&self.db, &i, Some(&[None])).await? {
                return Err(NovaError::Conflict(format!("Cannot '{action}' instance {uuid} while it is changing state; retry.")));
            }
        }
        Ok(i)
    }

    /// Ends a task that could not be handed on.
    async fn abort_task(&self, uuid: &str, why: String) -> NovaError {
        if let Ok(Some(mut i)) = idb::instance_get(&self.db, uuid).await {
            i.task_state = None;
            let _ = idb::instance_save(&self.db, &i, None).await;
        }
        NovaError::Conflict(why)
    }

    async fn cast_compute<A: serde::Serialize>(&self, ctx: &RequestContext, i: &Instance, method: &str, args: &A) -> Result<()> {
        let Some(host) = i.host.clone() else { return Err(self.abort_task(&i.uuid, format!("Instance {} is not on a host.", i.uuid)).await) };
        if let Err(e) = rpc::cast(self.bus()?.as_ref(), &rpc::compute_topic(&host), method, args, &RpcContext::from_request(ctx)).await {
            return Err(self.abort_task(&i.uuid, format!("Compute host {host} is not reachable: {e}")).await);
        }
        Ok(())
    }

    async fn cast_conductor<A: serde::Serialize>(&self, ctx: &RequestContext, uuid: &str, method: &str, args: &A) -> Result<()> {
        if let Err(e) = rpc::cast(self.bus()?.as_ref(), rpc::CONDUCTOR, method, args, &RpcContext::from_request(ctx)).await {
            return Err(self.abort_task(uuid, format!("The conductor is not reachable: {e}")).await);
        }
        Ok(())
    }

    /// POST /servers/{id}/action rebuild: the server is rebuilt from `image_ref`, keeping
    /// its id, host, flavor and addresses.
    pub async fn server_rebuild(&self, ctx: &RequestContext, uuid: &str, req: RebuildRequest) -> Result<Instance> {
        let i = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:servers:rebuild", &Self::server_target(&i))?;
        let image = self.glance_image(ctx, &req.image_ref).await?;
        if image["status"] != "active" {
            return Err(NovaError::BadRequest(format!("Image {} is not active.", req.image_ref)));
        }
        if i.flavor.memory_mb < image["min_ram"].as_i64().unwrap_or(0) {
            return Err(NovaError::BadRequest("Flavor's memory is too small for requested image.".into()));
        }
        if i.flavor.root_gb > 0 && i.flavor.root_gb < image["min_disk"].as_i64().unwrap_or(0) {
            return Err(NovaError::BadRequest("Flavor's disk is too small for requested image.".into()));
        }
        if let Some(m) = &req.metadata {
            let limit = self.cfg.quota.metadata_items;
            if limit >= 0 && m.len() as i64 > limit {
                return Err(NovaError::OverQuota(format!("Quota exceeded for metadata_items: Requested {}, but already used 0 of {limit} metadata_items", m.len())));
            }
        }
        let key_data = match &req.key_name {
            Some(Some(name)) => Some(Some(self.keypair_public_key(&i.user_id, name).await?.ok_or_else(|| NovaError::BadRequest("Invalid key_name provided.".to_string()))?)),
            Some(None) => Some(None),
            None => None,
        };
        let mut i = self.begin(ctx, uuid, "os_compute_api:servers:rebuild", "rebuild", &["active", "stopped", "error"], Some("rebuilding")).await?;
        let stopped = i.vm_state == "stopped";
        i.image_ref = Some(req.image_ref.clone());
        if let Some(n) = req.name {
            i.display_name = n;
        }
        if let Some(m) = req.metadata {
            i.metadata = m;
        }
        if let Some(v) = req.access_ip_v4 {
            i.access_ip_v4 = Some(v);
        }
        if let Some(v) = req.access_ip_v6 {
            i.access_ip_v6 = Some(v);
        }
        if let Some(d) = req.description {
            i.display_description = d;
        }
        if let (Some(k), Some(d)) = (req.key_name, key_data) {
            i.key_name = k;
            i.key_data = d;
        }
        if let Some(u) = req.user_data {
            i.user_data = u;
        }
        if let Some(h) = req.hostname {
            i.hostname = h;
        }
        i.system_metadata.retain(|k, _| !k.starts_with("image_"));
        for (k, v) in image.as_object().into_iter().flatten() {
            if let Some(s) = v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string())) {
                if ["min_ram", "min_disk", "disk_format", "container_format"].contains(&k.as_str()) || !super::servers::is_core_image_key(k) {
                    i.system_metadata.insert(format!("image_{k}"), s);
                }
            }
        }
        i.system_metadata.insert("image_base_image_ref".into(), req.image_ref.clone());
        i.updated_at = now();
        idb::instance_save(&self.db, &i, Some(&[Some("rebuilding")])).await?;
        if let Some(mut spec) = self.request_spec_get(uuid).await? {
            spec.image_id = Some(req.image_ref.clone());
            self.request_spec_update(uuid, &spec).await?;
        }
        self.action_start(ctx, uuid, "rebuild").await?;
        self.cast_compute(ctx, &i, "rebuild_instance", &RebuildArgs { instance: uuid.to_string(), evacuate: false, stopped }).await?;
        Ok(i)
    }

    /// The Glance record of a snapshot of `i`, created with the caller's token.
    async fn snapshot_record(&self, ctx: &RequestContext, i: &Instance, name: &str, image_type: &str, extra: &BTreeMap<String, String>) -> Result<String> {
        let mut body = serde_json::Map::new();
        for (k, v) in &i.system_metadata {
            if let Some(prop) = k.strip_prefix("image_") {
                if !NOT_INHERITED.contains(&prop) {
                    body.insert(prop.to_string(), json!(v));
                }
            }
        }
        let sm = |k: &str| i.system_metadata.get(k).cloned();
        body.insert("name".into(), json!(name));
        body.insert("visibility".into(), json!("private"));
        body.insert("container_format".into(), json!(sm("image_container_format").unwrap_or_else(|| "bare".into())));
        body.insert("disk_format".into(), json!(sm("image_disk_format").unwrap_or_else(|| "raw".into())));
        body.insert("min_ram".into(), json!(sm("image_min_ram").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0)));
        body.insert("min_disk".into(), json!(sm("image_min_disk").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0).max(i.flavor.root_gb)));
        body.insert("image_type".into(), json!(image_type));
        body.insert("instance_uuid".into(), json!(i.uuid));
        body.insert("user_id".into(), json!(ctx.user_id()));
        if let Some(base) = &i.image_ref {
            body.insert("base_image_ref".into(), json!(base));
        }
        // The request's metadata wins, `image_type` included (upstream updates the
        // properties with it last).
        for (k, v) in extra {
            body.insert(k.clone(), json!(v));
        }
        let token = ctx.auth_token.clone().unwrap_or_default();
        let image = self.images()?.create(&token, &Value::Object(body)).await.map_err(|e| match e {
            crate::image::ImageError::Refused { status: 400, message } => NovaError::BadRequest(format!("The image could not be created: {message}")),
            crate::image::ImageError::Refused { status: 403 | 413, message } => NovaError::OverQuota(format!("The image could not be created: {message}")),
            e => NovaError::Internal(e.to_string()),
        })?;
        image["id"].as_str().map(str::to_string).ok_or_else(|| NovaError::Internal("the image service returned no image id".into()))
    }

    /// createImage: a snapshot of the server's disk becomes a private image; returns its id.
    pub async fn server_create_image(&self, ctx: &RequestContext, uuid: &str, name: &str, metadata: &BTreeMap<String, String>) -> Result<String> {
        self.snapshot_action(ctx, uuid, "os_compute_api:servers:create_image", "createImage", name, metadata, None).await
    }

    /// createBackup: a snapshot kept in a rotation of `rotation` backups of `backup_type`.
    pub async fn server_create_backup(&self, ctx: &RequestContext, uuid: &str, name: &str, backup_type: &str, rotation: i64, metadata: &BTreeMap<String, String>) -> Result<String> {
        let mut meta = metadata.clone();
        meta.insert("backup_type".into(), backup_type.to_string());
        self.snapshot_action(ctx, uuid, "os_compute_api:os-create-backup", "createBackup", name, &meta, Some((backup_type.to_string(), rotation))).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn snapshot_action(&self, ctx: &RequestContext, uuid: &str, rule: &str, action: &str, name: &str, metadata: &BTreeMap<String, String>, backup: Option<(String, i64)>) -> Result<String> {
        let i = self.begin(ctx, uuid, rule, action, &["active", "stopped", "paused", "suspended"], Some(if backup.is_some() { "image_backup" } else { "image_snapshot" })).await?;
        let image_type = if backup.is_some() { "backup" } else { "snapshot" };
        let image_id = match self.snapshot_record(ctx, &i, name, image_type, metadata).await {
            Ok(id) => id,
            Err(e) => {
                self.abort_task(uuid, String::new()).await;
                return Err(e);
            }
        };
        self.action_start(ctx, uuid, action).await?;
        self.cast_compute(ctx, &i, "snapshot_instance", &SnapshotArgs { instance: uuid.to_string(), image_id: image_id.clone(), backup }).await?;
        Ok(image_id)
    }

    /// restore: only a soft-deleted server can be restored; with `reclaim_instance_interval`
    /// 0 (the default, and all this cloud supports) a delete is immediate, so none is.
    pub async fn server_restore(&self, ctx: &RequestContext, uuid: &str) -> Result<()> {
        self.begin(ctx, uuid, "os_compute_api:os-admin-actions:restore", "restore", &["soft-delete"], None).await.map(|_| ())
    }

    /// os-server-external-events: each event goes to its server's host; returns each with
    /// its code (200 delivered, 404 no such server, 422 the server is on no host).
    pub async fn external_events(&self, ctx: &RequestContext, events: Vec<Value>) -> Result<Vec<Value>> {
        self.enforce(ctx, "os_compute_api:os-server-external-events:create", &Self::own_target(ctx))?;
        let mut out = Vec::new();
        for mut e in events {
            let uuid = e["server_uuid"].as_str().unwrap_or_default().to_string();
            let name = e["name"].as_str().unwrap_or_default().to_string();
            let status = e["status"].as_str().unwrap_or("completed").to_string();
            e["status"] = json!(status);
            let code = match idb::instance_get(&self.db, &uuid).await? {
                Some(i) if !i.deleted => match &i.host {
                    Some(host) => match rpc::cast(self.bus()?.as_ref(), &rpc::compute_topic(host), "external_instance_event", &(&uuid, &name, &status), &RpcContext::from_request(ctx)).await {
                        Ok(()) => 200,
                        Err(_) => 422,
                    },
                    None => 422,
                },
                _ => 404,
            };
            e["code"] = json!(code);
            out.push(e);
        }
        Ok(out)
    }

    /// shelve: the server stops and its disk is kept as an image; with
    /// `shelved_offload_time = 0` its host lets go of it at once.
    pub async fn server_shelve(&self, ctx: &RequestContext, uuid: &str) -> Result<()> {
        let mut i = self.begin(ctx, uuid, "os_compute_api:os-shelve:shelve", "shelve", &["active", "stopped", "paused", "suspended"], Some("shelving")).await?;
        let image_id = match self.snapshot_record(ctx, &i, &format!("{}-shelved", i.display_name), "snapshot", &BTreeMap::new()).await {
            Ok(id) => id,
            Err(e) => {
                self.abort_task(uuid, String::new()).await;
                return Err(e);
            }
        };
        i.system_metadata.insert("shelved_at".into(), common::time::iso_micros(common::time::now()));
        i.system_metadata.insert("shelved_image_id".into(), image_id.clone());
        i.system_metadata.insert("shelved_host".into(), i.host.clone().unwrap_or_default());
        idb::instance_save(&self.db, &i, Some(&[Some("shelving")])).await?;
        self.action_start(ctx, uuid, "shelve").await?;
        let offload = self.cfg.shelved_offload_time == 0;
        self.cast_compute(ctx, &i, "shelve_instance", &ShelveArgs { instance: uuid.to_string(), image_id, offload }).await
    }

    pub async fn server_shelve_offload(&self, ctx: &RequestContext, uuid: &str) -> Result<()> {
        let i = self.begin(ctx, uuid, "os_compute_api:os-shelve:shelve_offload", "shelveOffload", &["shelved"], Some("shelving_offloading")).await?;
        self.action_start(ctx, uuid, "shelveOffload").await?;
        self.cast_compute(ctx, &i, "shelve_offload_instance", &uuid).await
    }

    /// unshelve (an availability zone may be named for an offloaded server from 2.77).
    pub async fn server_unshelve(&self, ctx: &RequestContext, uuid: &str, availability_zone: Option<String>) -> Result<()> {
        let current = self.server_get(ctx, uuid).await?;
        if let Some(az) = &availability_zone {
            if current.vm_state != "shelved_offloaded" {
                return Err(NovaError::Conflict(format!("The availability_zone can be specified only for an instance in shelved_offloaded state; instance {uuid} is {}.", current.vm_state)));
            }
            if !self.availability_zone_exists(az).await? {
                return Err(NovaError::BadRequest(format!("The requested availability zone {az} is not available")));
            }
        }
        self.begin(ctx, uuid, "os_compute_api:os-shelve:unshelve", "unshelve", &["shelved", "shelved_offloaded"], Some("unshelving")).await?;
        self.action_start(ctx, uuid, "unshelve").await?;
        self.cast_conductor(ctx, uuid, "unshelve", &(uuid, availability_zone)).await
    }

    async fn migration_record(&self, i: &Instance, migration_type: &str, new_flavor: Option<&crate::db::flavors::Flavor>) -> Result<Migration> {
        let t = now();
        let m = Migration {
            id: 0,
            uuid: common::ids::new_uuid(),
            instance_uuid: i.uuid.clone(),
            source_compute: i.host.clone(),
            dest_compute: None,
            source_node: i.node.clone(),
            dest_node: None,
            old_flavor: Some(i.flavor.clone()),
            new_flavor: Some(new_flavor.cloned().unwrap_or_else(|| i.flavor.clone())),
            migration_type: migration_type.to_string(),
            status: if migration_type == "resize" || migration_type == "migration" { "pre-migrating".into() } else { "accepted".into() },
            created_at: t,
            updated_at: t,
        };
        Ok(mdb::migration_create(&self.db, &m).await?)
    }

    async fn check_host_exists(&self, host: &str) -> Result<()> {
        if cdb::service_list(&self.db).await?.iter().any(|s| s.host == host && s.binary == "nova-compute") {
            Ok(())
        } else {
            Err(NovaError::BadRequest(format!("Compute host {host} could not be found.")))
        }
    }

    /// resize: the server moves to the new flavor (on whatever host fits it) and waits in
    /// VERIFY_RESIZE for confirmResize or revertResize.
    pub async fn server_resize(&self, ctx: &RequestContext, uuid: &str, flavor_ref: &str) -> Result<()> {
        let current = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:servers:resize", &Self::server_target(&current))?;
        let flavor = self.flavor_get(ctx, flavor_ref).await.map_err(|_| NovaError::BadRequest("Unable to locate requested flavor.".into()))?;
        if flavor.disabled {
            return Err(NovaError::BadRequest("Unable to locate requested flavor.".into()));
        }
        if flavor.id == current.flavor.id {
            return Err(NovaError::BadRequest("When resizing, instances must change flavor!".into()));
        }
        if flavor.root_gb < current.flavor.root_gb && flavor.root_gb != 0 {
            return Err(NovaError::BadRequest(format!("Resize error: Unable to resize disk down. Server disk was unable to be resized because the new flavor's root disk ({} GB) is smaller than the current one ({} GB).", flavor.root_gb, current.flavor.root_gb)));
        }
        let (dv, dr) = (flavor.vcpus - current.flavor.vcpus, flavor.memory_mb - current.flavor.memory_mb);
        if dv > 0 || dr > 0 {
            self.quota_check_resize(ctx, &current.project_id, &current.user_id, dv.max(0), dr.max(0)).await?;
        }
        let i = self.begin(ctx, uuid, "os_compute_api:servers:resize", "resize", &["active", "stopped"], Some("resize_prep")).await?;
        let m = self.migration_record(&i, "resize", Some(&flavor)).await?;
        self.action_start(ctx, uuid, "resize").await?;
        self.cast_conductor(ctx, uuid, "migrate_server", &MoveArgs { instance: uuid.to_string(), migration: m.id, flavor: Some(flavor), host: None }).await
    }

    /// migrate (cold, admin): the same flavor on another host, then VERIFY_RESIZE.
    pub async fn server_migrate(&self, ctx: &RequestContext, uuid: &str, host: Option<String>) -> Result<()> {
        let current = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:os-migrate-server:migrate", &Self::server_target(&current))?;
        if let Some(h) = &host {
            self.enforce(ctx, "os_compute_api:os-migrate-server:migrate:host", &Self::server_target(&current))?;
            self.check_host_exists(h).await?;
        }
        let i = self.begin(ctx, uuid, "os_compute_api:os-migrate-server:migrate", "migrate", &["active", "stopped"], Some("resize_prep")).await?;
        let m = self.migration_record(&i, "migration", None).await?;
        self.action_start(ctx, uuid, "migrate").await?;
        self.cast_conductor(ctx, uuid, "migrate_server", &MoveArgs { instance: uuid.to_string(), migration: m.id, flavor: None, host }).await
    }

    /// confirmResize and revertResize.
    pub async fn server_finish_resize(&self, ctx: &RequestContext, uuid: &str, confirm: bool) -> Result<()> {
        let (rule, action, task) = if confirm { ("os_compute_api:servers:confirm_resize", "confirmResize", None) } else { ("os_compute_api:servers:revert_resize", "revertResize", Some("resize_reverting")) };
        let current = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, rule, &Self::server_target(&current))?;
        if mdb::migration_latest(&self.db, uuid, &["resize", "migration"], &["finished"]).await?.is_none() {
            return Err(NovaError::BadRequest("Instance has not been resized.".into()));
        }
        self.begin(ctx, uuid, rule, action, &["resized"], task).await?;
        self.action_start(ctx, uuid, action).await?;
        self.cast_conductor(ctx, uuid, if confirm { "confirm_resize" } else { "revert_resize" }, &uuid).await
    }

    /// os-migrateLive (admin): the running server moves without stopping.
    pub async fn server_live_migrate(&self, ctx: &RequestContext, uuid: &str, host: Option<String>) -> Result<()> {
        let current = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:os-migrate-server:migrate_live", &Self::server_target(&current))?;
        if let Some(h) = &host {
            self.check_host_exists(h).await?;
            if current.host.as_deref() == Some(h.as_str()) {
                return Err(NovaError::BadRequest(format!("The supplied hypervisor type of is invalid. Unable to migrate instance ({uuid}) to current host ({h}).")));
            }
        }
        let i = self.begin(ctx, uuid, "os_compute_api:os-migrate-server:migrate_live", "os-migrateLive", &["active", "paused"], Some("migrating")).await?;
        let m = self.migration_record(&i, "live-migration", None).await?;
        self.action_start(ctx, uuid, "live-migration").await?;
        self.cast_conductor(ctx, uuid, "live_migrate", &MoveArgs { instance: uuid.to_string(), migration: m.id, flavor: None, host }).await
    }

    /// evacuate (admin): rebuild the server elsewhere because its host is down.
    pub async fn server_evacuate(&self, ctx: &RequestContext, uuid: &str, host: Option<String>) -> Result<()> {
        let current = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:os-evacuate", &Self::server_target(&current))?;
        if let Some(h) = &host {
            self.check_host_exists(h).await?;
        }
        let source = current.host.clone().ok_or_else(|| conflict("evacuate", &current))?;
        let up = cdb::service_list(&self.db).await?.into_iter().find(|s| s.host == source && s.binary == "nova-compute").is_some_and(|s| s.is_up(now()));
        if up {
            return Err(NovaError::Conflict(format!("Compute service of {source} is still in use.")));
        }
        if host.as_deref() == Some(source.as_str()) {
            return Err(NovaError::BadRequest(format!("The target host can't be the same one ({source}).")));
        }
        let i = self.begin(ctx, uuid, "os_compute_api:os-evacuate", "evacuate", &["active", "stopped", "error"], Some("rebuilding")).await?;
        let stopped = i.vm_state == "stopped";
        let m = self.migration_record(&i, "evacuation", None).await?;
        self.action_start(ctx, uuid, "evacuate").await?;
        self.cast_conductor(ctx, uuid, "evacuate", &(MoveArgs { instance: uuid.to_string(), migration: m.id, flavor: None, host }, stopped)).await
    }

    /// GET /servers/{id}/diagnostics (admin), from the hypervisor.
    pub async fn server_diagnostics(&self, ctx: &RequestContext, uuid: &str) -> Result<Value> {
        let i = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:os-server-diagnostics", &Self::server_target(&i))?;
        let host = match (&i.host, i.vm_state.as_str()) {
            (Some(h), s) if s != "building" => h.clone(),
            _ => return Err(conflict("get_diagnostics", &i)),
        };
        rpc::call(self.bus()?.as_ref(), &rpc::compute_topic(&host), "get_diagnostics", &i, &RpcContext::from_request(ctx)).await.map_err(|e| NovaError::Conflict(format!("Diagnostics are not available: {e}")))
    }

    /// os-resetState (admin): sets vm_state to active or error and ends any task.
    pub async fn server_reset_state(&self, ctx: &RequestContext, uuid: &str, state: &str) -> Result<()> {
        let mut i = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:os-admin-actions:reset_state", &Self::server_target(&i))?;
        i.vm_state = state.to_string();
        i.task_state = None;
        i.updated_at = now();
        idb::instance_save(&self.db, &i, None).await?;
        self.action_start(ctx, uuid, "resetState").await
    }

    /// GET /os-migrations (admin), filtered as upstream.
    pub async fn migrations_list(&self, ctx: &RequestContext, query: &BTreeMap<String, String>) -> Result<Vec<(Migration, Option<Instance>)>> {
        self.enforce(ctx, "os_compute_api:os-migrations:index", &Self::own_target(ctx))?;
        let changes_since = query.get("changes-since").map(|s| common::time::parse_iso(s).map(common::time::to_micros).ok_or_else(|| NovaError::BadRequest(format!("Invalid input for query parameters changes-since. Value: {s}.")))).transpose()?;
        let changes_before = query.get("changes-before").map(|s| common::time::parse_iso(s).map(common::time::to_micros).ok_or_else(|| NovaError::BadRequest(format!("Invalid input for query parameters changes-before. Value: {s}.")))).transpose()?;
        let mut out = Vec::new();
        for m in mdb::migration_list(&self.db).await? {
            let keep = query.get("status").is_none_or(|s| &m.status == s)
                && query.get("instance_uuid").is_none_or(|u| &m.instance_uuid == u)
                && query.get("migration_type").is_none_or(|t| &m.migration_type == t)
                && query.get("source_compute").is_none_or(|h| m.source_compute.as_ref() == Some(h))
                && query.get("host").is_none_or(|h| m.source_compute.as_ref() == Some(h) || m.dest_compute.as_ref() == Some(h))
                && changes_since.is_none_or(|t| m.updated_at >= t)
                && changes_before.is_none_or(|t| m.updated_at <= t);
            if !keep {
                continue;
            }
            let i = idb::instance_get(&self.db, &m.instance_uuid).await?;
            let owner_ok = query.get("project_id").is_none_or(|p| i.as_ref().is_some_and(|i| &i.project_id == p)) && query.get("user_id").is_none_or(|u| i.as_ref().is_some_and(|i| &i.user_id == u));
            if owner_ok {
                out.push((m, i));
            }
        }
        Ok(out)
    }

    /// GET /servers/{id}/migrations: the server's live migrations still in progress.
    pub async fn server_migrations(&self, ctx: &RequestContext, uuid: &str) -> Result<Vec<Migration>> {
        let i = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:servers:migrations:index", &Self::server_target(&i))?;
        Ok(mdb::migration_list(&self.db).await?.into_iter().filter(|m| m.instance_uuid == uuid && m.migration_type == "live-migration" && ["queued", "preparing", "running", "accepted"].contains(&m.status.as_str())).collect())
    }

    /// The compute host's IP (a migration's `dest_host`).
    pub async fn host_ip(&self, node: Option<&str>) -> Result<Option<String>> {
        let Some(n) = node else { return Ok(None) };
        Ok(cdb::compute_node_get_by_hostname(&self.db, n).await?.and_then(|c| c.host_ip))
    }
}
