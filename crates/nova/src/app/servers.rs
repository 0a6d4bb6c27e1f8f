//! Servers (nova/compute/api.py): create validates the request (flavor, image from Glance,
//! key pair, quota, metadata, scheduler hints), records the instances in `building /
//! scheduling` with their request spec and a `create` action, and casts the build to the
//! conductor; the other operations check the instance's state as upstream's `check_instance_state`
//! does, move it to its task state with a compare-and-set, and cast to its host.

use std::collections::BTreeMap;

use auth::RequestContext;
use serde_json::{json, Value};

use super::{now, App};
use crate::compute::{PowerAction, PowerArgs};
use crate::conductor::BuildArgs;
use crate::db::instances::{self as idb, Action, Instance};
use crate::error::{NovaError, Result};
use crate::rpc::{self, RpcContext};
use crate::scheduler::{GroupSpec, RequestSpec};

/// What `POST /servers` asked for, after the API layer parsed it.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: String,
    pub description: Option<String>,
    pub image_ref: Option<String>,
    pub flavor_ref: String,
    pub key_name: Option<String>,
    pub user_data: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub availability_zone: Option<String>,
    pub config_drive: bool,
    pub min_count: usize,
    pub max_count: usize,
    pub access_ip_v4: Option<String>,
    pub access_ip_v6: Option<String>,
    pub tags: Vec<String>,
    pub hostname: Option<String>,
    pub group: Option<String>,
    pub same_host: Vec<String>,
    pub different_host: Vec<String>,
    pub networks: crate::network::NetworkRequest,
    /// Security group names (or ids) for the server's ports.
    pub security_groups: Vec<String>,
    /// `OS-DCF:diskConfig` AUTO (true) or MANUAL (false).
    pub auto_disk_config: Option<bool>,
}

/// What a create produced.
pub struct Created {
    pub instances: Vec<Instance>,
    pub reservation_id: String,
}

impl App {
    /// The target of a server policy check.
    pub fn server_target(i: &Instance) -> Value {
        json!({"project_id": i.project_id, "user_id": i.user_id})
    }

    /// A live server the caller may see (admins see every project's), or 404.
    pub async fn server_get(&self, ctx: &RequestContext, uuid: &str) -> Result<Instance> {
        let not_found = || NovaError::NotFound(format!("Instance {uuid} could not be found."));
        let i = idb::instance_get(&self.db, uuid).await?.ok_or_else(not_found)?;
        if i.deleted || (i.project_id != ctx.project_id().unwrap_or_default() && !self.is_admin(ctx)) {
            return Err(not_found());
        }
        Ok(i)
    }

    /// A server the caller may see, deleted ones included (instance actions from 2.21).
    pub async fn server_get_with_deleted(&self, ctx: &RequestContext, uuid: &str) -> Result<Instance> {
        let not_found = || NovaError::NotFound(format!("Instance {uuid} could not be found."));
        let i = idb::instance_get(&self.db, uuid).await?.ok_or_else(not_found)?;
        if i.project_id != ctx.project_id().unwrap_or_default() && !self.is_admin(ctx) {
            return Err(not_found());
        }
        Ok(i)
    }

    /// POST /servers
    pub async fn server_create(&self, ctx: &RequestContext, req: CreateRequest) -> Result<Created> {
        let project = ctx.project_id().ok_or_else(|| NovaError::Forbidden("A project-scoped token is required to create servers.".into()))?.to_string();
        let user = ctx.user_id().unwrap_or_default().to_string();
        self.enforce(ctx, "os_compute_api:servers:create", &json!({"project_id": project, "user_id": user}))?;
        let flavor = self.flavor_get(ctx, &req.flavor_ref).await.map_err(|_| NovaError::BadRequest(format!("Flavor {} could not be found.", req.flavor_ref)))?;
        if flavor.disabled {
            return Err(NovaError::BadRequest(format!("Flavor {} could not be found.", req.flavor_ref)));
        }
        let image_ref = req.image_ref.clone().filter(|s| !s.is_empty()).ok_or_else(|| NovaError::BadRequest("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.".into()))?;
        let image = self.glance_image(ctx, &image_ref).await?;
        if image["status"] != "active" {
            return Err(NovaError::BadRequest(format!("Image {image_ref} is not active.")));
        }
        let image_size_gb = (image["size"].as_i64().unwrap_or(0) + (1 << 30) - 1) / (1 << 30);
        if flavor.memory_mb < image["min_ram"].as_i64().unwrap_or(0) {
            return Err(NovaError::BadRequest("Flavor's memory is too small for requested image.".into()));
        }
        if flavor.root_gb > 0 && (flavor.root_gb < image["min_disk"].as_i64().unwrap_or(0) || flavor.root_gb < image_size_gb) {
            return Err(NovaError::BadRequest("Flavor's disk is too small for requested image.".into()));
        }
        if flavor.root_gb == 0 && !self.is_admin(ctx) {
            self.enforce(ctx, "os_compute_api:servers:create:zero_disk_flavor", &json!({"project_id": project, "user_id": user}))?;
        }
        let key_data = match &req.key_name {
            Some(name) => Some(self.keypair_public_key(&user, name).await?.ok_or_else(|| NovaError::BadRequest("Invalid key_name provided.".to_string()))?),
            None => None,
        };
        if req.metadata.len() as i64 > self.cfg.quota.metadata_items && self.cfg.quota.metadata_items >= 0 {
            return Err(NovaError::OverQuota(format!("Quota exceeded for metadata_items: Requested {}, but already used 0 of {} metadata_items", req.metadata.len(), self.cfg.quota.metadata_items)));
        }
        if let Some(az) = &req.availability_zone {
            if !self.availability_zone_exists(az).await? {
                return Err(NovaError::BadRequest("The requested availability zone is not available".to_string()));
            }
        }
        let group = match &req.group {
            Some(g) => Some(self.server_group_spec(ctx, g).await?),
            None => None,
        };
        let (networks, security_groups) = self.validate_networks(ctx, &project, req.networks.clone(), &req.security_groups, req.max_count).await?;
        // Quota: the largest count that fits, refused if min_count does not.
        let mut count = self.quota_check_instances_range(ctx, &project, &user, req.min_count as i64, req.max_count as i64, flavor.vcpus, flavor.memory_mb).await?.max(0) as usize;
        if let Some(g) = &group {
            let limit = self.cfg.quota.server_group_members;
            let members = self.server_group_members(&g.uuid).await?.len() as i64;
            if limit >= 0 && members + req.min_count as i64 > limit {
                return Err(NovaError::OverQuota("Quota exceeded, too many servers in group".into()));
            }
            if limit >= 0 {
                count = count.min((limit - members) as usize);
            }
        }
        let reservation_id = format!("r-{}", &common::ids::new_hex_id()[..8]);
        let ts = now();
        let mut system_metadata = BTreeMap::new();
        for (k, v) in image.as_object().map(|o| o.iter()).into_iter().flatten() {
            if let Some(s) = v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string())) {
                if ["min_ram", "min_disk", "disk_format", "container_format"].contains(&k.as_str()) || !is_core_image_key(k) {
                    system_metadata.insert(format!("image_{k}"), s);
                }
            }
        }
        system_metadata.insert("image_base_image_ref".into(), image_ref.clone());
        if let Some(auto) = req.auto_disk_config {
            system_metadata.insert("auto_disk_config".into(), if auto { "True" } else { "False" }.into());
        }
        let spec = RequestSpec {
            flavor: flavor.clone(),
            project_id: project.clone(),
            user_id: user.clone(),
            image_id: Some(image_ref.clone()),
            availability_zone: req.availability_zone.clone(),
            group: group.clone(),
            same_host: req.same_host.clone(),
            different_host: req.different_host.clone(),
            requested_host: None,
            networks,
            security_groups,
        };
        let mut instances = Vec::new();
        for n in 0..count {
            let name = if count > 1 { format!("{}-{}", req.name, n + 1) } else { req.name.clone() };
            let i = Instance {
                uuid: common::ids::new_uuid(),
                display_name: name.clone(),
                display_description: req.description.clone(),
                hostname: req.hostname.clone().filter(|_| count == 1).unwrap_or_else(|| sanitize_hostname(&name)),
                project_id: project.clone(),
                user_id: user.clone(),
                image_ref: Some(image_ref.clone()),
                flavor: flavor.clone(),
                vm_state: "building".into(),
                task_state: Some("scheduling".into()),
                power_state: 0,
                host: None,
                node: None,
                availability_zone: req.availability_zone.clone(),
                key_name: req.key_name.clone(),
                key_data: key_data.clone(),
                user_data: req.user_data.clone(),
                config_drive: Some(if req.config_drive { "True".into() } else { String::new() }),
                locked_by: None,
                locked_reason: None,
                access_ip_v4: req.access_ip_v4.clone(),
                access_ip_v6: req.access_ip_v6.clone(),
                progress: 0,
                launch_index: n as i64,
                reservation_id: Some(reservation_id.clone()),
                launched_at: None,
                terminated_at: None,
                created_at: ts,
                updated_at: ts,
                deleted_at: None,
                deleted: false,
                metadata: req.metadata.clone(),
                system_metadata: system_metadata.clone(),
                tags: req.tags.clone(),
                network_info: vec![],
            };
            idb::instance_create(&self.db, &i).await?;
            self.request_spec_save(&i.uuid, &spec).await?;
            if let Some(g) = &group {
                self.server_group_add_member(&g.uuid, &i.uuid).await?;
            }
            self.action_start(ctx, &i.uuid, "create").await?;
            instances.push(i);
        }
        let args = BuildArgs { instances: instances.iter().map(|i| i.uuid.clone()).collect(), spec, excluded_hosts: vec![], attempt: 0 };
        if let Err(e) = rpc::cast(self.bus()?.as_ref(), rpc::CONDUCTOR, "build_instances", &args, &RpcContext::from_request(ctx)).await {
            // Nothing will build them: they go to ERROR now rather than sit in BUILD.
            for i in &instances {
                self.instance_error(&i.uuid, &format!("The build could not be started: {e}")).await;
            }
        }
        Ok(Created { instances, reservation_id })
    }

    /// Starts an instance action record (`os-instance-actions`).
    pub async fn action_start(&self, ctx: &RequestContext, uuid: &str, action: &str) -> Result<()> {
        let t = now();
        let a = Action {
            id: common::ids::new_uuid(),
            instance_uuid: uuid.to_string(),
            action: action.to_string(),
            request_id: ctx.request_id.clone(),
            user_id: ctx.user_id().map(str::to_string),
            project_id: ctx.project_id().map(str::to_string),
            start_time: t,
            finish_time: None,
            message: None,
            updated_at: t,
        };
        Ok(idb::action_start(&self.db, &a).await?)
    }

    /// Puts an instance in ERROR with a fault (when no service can carry it on).
    pub async fn instance_error(&self, uuid: &str, reason: &str) {
        if let Ok(Some(mut i)) = idb::instance_get(&self.db, uuid).await {
            i.vm_state = "error".into();
            i.task_state = None;
            i.updated_at = now();
            let _ = idb::instance_save(&self.db, &i, None).await;
            let f = idb::Fault { code: 500, message: reason.chars().take(255).collect(), details: Some(reason.into()), host: i.host.clone(), created_at: now() };
            let _ = idb::fault_create(&self.db, uuid, &f).await;
        }
    }

    /// Soft-deletes an instance's record (its resources are released by the caller).
    pub async fn instance_mark_deleted(&self, uuid: &str) -> Result<()> {
        let Some(mut i) = idb::instance_get(&self.db, uuid).await? else { return Ok(()) };
        if i.deleted {
            return Ok(());
        }
        let t = now();
        i.vm_state = "deleted".into();
        i.task_state = None;
        i.power_state = 0;
        i.deleted = true;
        i.deleted_at = Some(t);
        i.terminated_at = Some(t);
        i.updated_at = t;
        idb::instance_save(&self.db, &i, None).await?;
        self.server_group_remove_member(uuid).await?;
        Ok(())
    }

    /// DELETE /servers/{id} (and force delete): a server on a host is destroyed there; one
    /// that never reached a host is deleted here.
    pub async fn server_delete(&self, ctx: &RequestContext, uuid: &str) -> Result<()> {
        let mut i = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:servers:delete", &Self::server_target(&i))?;
        self.check_not_locked(ctx, &i)?;
        // A delete wins over whatever task runs (a build moving from scheduling to
        // spawning, say): the compare-and-set is tried again on a fresh read.
        let mut attempts = 0;
        loop {
            let seen = i.task_state.clone();
            i.task_state = Some("deleting".into());
            i.updated_at = now();
            let expect = [seen.as_deref()];
            if idb::instance_save(&self.db, &i, Some(&expect)).await? {
                break;
            }
            attempts += 1;
            if attempts == 10 {
                return Err(NovaError::Conflict(format!("Cannot 'delete' instance {uuid} while it is changing state; retry.")));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20 * attempts)).await;
            i = self.server_get(ctx, uuid).await?;
        }
        self.action_start(ctx, uuid, "delete").await?;
        let rctx = RpcContext::from_request(ctx);
        match i.host.clone() {
            Some(host) => {
                if let Err(e) = rpc::cast(self.bus()?.as_ref(), &rpc::compute_topic(&host), "terminate_instance", &uuid, &rctx).await {
                    // The host is gone: delete locally, as upstream does for a down host.
                    tracing::warn!(instance = uuid, %host, error = %e, "compute host unreachable; deleting locally");
                    self.local_delete(uuid).await?;
                }
            }
            None => self.local_delete(uuid).await?,
        }
        Ok(())
    }

    /// Deletes an instance no compute host will delete: its ports (a shelved offloaded one
    /// still has them), its record, its allocation.
    async fn local_delete(&self, uuid: &str) -> Result<()> {
        if let (Some(i), Some(client)) = (idb::instance_get(&self.db, uuid).await?, self.network().await?) {
            client.deallocate_for_instance(&i).await.map_err(|e| NovaError::Internal(format!("the ports of instance {uuid} could not be released: {e}")))?;
        }
        self.instance_mark_deleted(uuid).await?;
        if let Some(p) = self.placement() {
            p.delete_allocations(uuid).await.map_err(|e| NovaError::Internal(e.to_string()))?;
        }
        Ok(())
    }

    pub(crate) fn check_not_locked(&self, ctx: &RequestContext, i: &Instance) -> Result<()> {
        if i.locked_by.is_some() && !self.is_admin(ctx) {
            return Err(NovaError::Conflict(format!("Instance {} is locked", i.uuid)));
        }
        Ok(())
    }

    /// The power actions (os-start, os-stop, reboot, pause, unpause, suspend, resume).
    pub async fn server_power_action(&self, ctx: &RequestContext, uuid: &str, action: PowerAction) -> Result<()> {
        let mut i = self.server_get(ctx, uuid).await?;
        let (rule, name, allowed, task): (&str, &str, &[&str], &str) = match action {
            PowerAction::Start => ("os_compute_api:servers:start", "start", &["stopped"], "powering-on"),
            PowerAction::Stop => ("os_compute_api:servers:stop", "stop", &["active", "error"], "powering-off"),
            PowerAction::RebootSoft => ("os_compute_api:servers:reboot", "reboot", &["active"], "rebooting"),
            PowerAction::RebootHard => ("os_compute_api:servers:reboot", "reboot", &["active", "stopped", "paused", "suspended", "error"], "rebooting_hard"),
            PowerAction::Pause => ("os_compute_api:os-pause-server:pause", "pause", &["active"], "pausing"),
            PowerAction::Unpause => ("os_compute_api:os-pause-server:unpause", "unpause", &["paused"], "unpausing"),
            PowerAction::Suspend => ("os_compute_api:os-suspend-server:suspend", "suspend", &["active"], "suspending"),
            PowerAction::Resume => ("os_compute_api:os-suspend-server:resume", "resume", &["suspended"], "resuming"),
            PowerAction::Rescue => ("os_compute_api:os-rescue", "rescue", &["active", "stopped", "error"], "rescuing"),
            PowerAction::Unrescue => ("os_compute_api:os-unrescue", "unrescue", &["rescued"], "unrescuing"),
            // Upstream gives a crash dump no task state; one here keeps two from overlapping.
            PowerAction::CrashDump => ("os_compute_api:servers:trigger_crash_dump", "trigger_crash_dump", &["active"], "crash_dumping"),
        };
        self.enforce(ctx, rule, &Self::server_target(&i))?;
        self.check_not_locked(ctx, &i)?;
        let soft_reboot_ok = action == PowerAction::RebootSoft && i.vm_state == "active";
        if !allowed.contains(&i.vm_state.as_str()) || (i.task_state.is_some() && !soft_reboot_ok) || (soft_reboot_ok && i.task_state.is_some()) {
            return Err(NovaError::Conflict(format!(
                "Cannot '{name}' instance {uuid} while it is in {} {}",
                if i.task_state.is_some() { "task_state" } else { "vm_state" },
                i.task_state.clone().unwrap_or_else(|| i.vm_state.clone())
            )));
        }
        let Some(host) = i.host.clone() else { return Err(NovaError::Conflict(format!("Instance {uuid} is not on a host yet."))) };
        i.task_state = Some(task.into());
        i.updated_at = now();
        if !idb::instance_save(&self.db, &i, Some(&[None])).await? {
            return Err(NovaError::Conflict(format!("Cannot '{name}' instance {uuid} while it is changing state; retry.")));
        }
        self.action_start(ctx, uuid, name).await?;
        let args = PowerArgs { instance: uuid.to_string(), action };
        if let Err(e) = rpc::cast(self.bus()?.as_ref(), &rpc::compute_topic(&host), "power_action", &args, &RpcContext::from_request(ctx)).await {
            i.task_state = None;
            let _ = idb::instance_save(&self.db, &i, None).await;
            return Err(NovaError::Conflict(format!("Compute host {host} is not reachable: {e}")));
        }
        Ok(())
    }

    /// The lock and unlock actions: a locked server refuses changes from anyone but admins
    /// (and the project that locked it can unlock it).
    pub async fn server_lock(&self, ctx: &RequestContext, uuid: &str, lock: bool, reason: Option<String>) -> Result<()> {
        let mut i = self.server_get(ctx, uuid).await?;
        let rule = if lock { "os_compute_api:os-lock-server:lock" } else { "os_compute_api:os-lock-server:unlock" };
        self.enforce(ctx, rule, &Self::server_target(&i))?;
        if !lock && i.locked_by.as_deref() == Some("admin") && !self.is_admin(ctx) {
            return Err(NovaError::Forbidden(format!("Instance {uuid} was locked by an administrator; only an administrator can unlock it.")));
        }
        i.locked_by = if lock { Some(if self.is_admin(ctx) && ctx.project_id() != Some(i.project_id.as_str()) { "admin".into() } else { "owner".into() }) } else { None };
        i.locked_reason = if lock { reason } else { None };
        i.updated_at = now();
        idb::instance_save(&self.db, &i, None).await?;
        self.action_start(ctx, uuid, if lock { "lock" } else { "unlock" }).await?;
        Ok(())
    }

    /// POST /servers/{id}/action os-getConsoleOutput
    pub async fn server_console_output(&self, ctx: &RequestContext, uuid: &str, length: Option<i64>) -> Result<String> {
        let i = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:os-console-output", &Self::server_target(&i))?;
        let Some(host) = i.host.clone() else { return Err(NovaError::Conflict(format!("Instance {uuid} has no console yet."))) };
        let out: String = rpc::call(self.bus()?.as_ref(), &rpc::compute_topic(&host), "get_console_output", &uuid, &RpcContext::from_request(ctx))
            .await
            .map_err(|e| NovaError::Conflict(format!("Console output is not available: {e}")))?;
        Ok(match length {
            Some(n) if n >= 0 => {
                let lines: Vec<&str> = out.lines().collect();
                let start = lines.len().saturating_sub(n as usize);
                lines[start..].join("\n")
            }
            _ => out,
        })
    }

    /// PUT /servers/{id}: name, description, accessIPv4/6, hostname.
    pub async fn server_update(&self, ctx: &RequestContext, uuid: &str, changes: &serde_json::Map<String, Value>) -> Result<Instance> {
        let mut i = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, "os_compute_api:servers:update", &Self::server_target(&i))?;
        for (k, v) in changes {
            match k.as_str() {
                "name" => i.display_name = v.as_str().ok_or_else(|| NovaError::BadRequest("Invalid input for field/attribute name.".into()))?.to_string(),
                "description" => i.display_description = v.as_str().map(str::to_string),
                "accessIPv4" => i.access_ip_v4 = v.as_str().map(str::to_string),
                "accessIPv6" => i.access_ip_v6 = v.as_str().map(str::to_string),
                "hostname" => i.hostname = v.as_str().map(str::to_string).unwrap_or_default(),
                "OS-DCF:diskConfig" => {
                    i.system_metadata.insert("auto_disk_config".into(), if v == "AUTO" { "True" } else { "False" }.into());
                }
                _ => {}
            }
        }
        i.updated_at = now();
        idb::instance_save(&self.db, &i, None).await?;
        Ok(i)
    }

    /// `OS-DCF:diskConfig` given with a rebuild or resize, recorded (as one system metadata
    /// key) once the action was accepted.
    pub async fn server_set_disk_config(&self, ctx: &RequestContext, uuid: &str, auto: bool) -> Result<()> {
        let i = self.server_get(ctx, uuid).await?;
        idb::system_metadata_set(&self.db, &i.uuid, "auto_disk_config", if auto { "True" } else { "False" }).await?;
        Ok(())
    }

    /// DELETE os-server-password: the stored password is forgotten.
    pub async fn server_password_clear(&self, uuid: &str) -> Result<()> {
        for n in 0..4 {
            idb::system_metadata_delete(&self.db, uuid, &format!("password_{n}")).await?;
        }
        Ok(())
    }

    /// GET /servers and /servers/detail: the caller's servers (every project's for admins
    /// asking `all_tenants`), filtered as upstream filters.
    pub async fn server_list(&self, ctx: &RequestContext, query: &BTreeMap<String, String>) -> Result<(Vec<Instance>, bool)> {
        let admin = self.is_admin(ctx);
        let all_tenants = query.contains_key("all_tenants") && admin;
        // A project filter counts only with all_tenants (upstream ignores it otherwise).
        let project = query.get("project_id").or(query.get("tenant_id")).filter(|_| all_tenants).cloned().or_else(|| if all_tenants { None } else { ctx.project_id().map(str::to_string) });
        let deleted = query.get("deleted").is_some_and(|d| d == "true" || d == "True" || d == "1") && admin;
        let changes_since = match query.get("changes-since") {
            Some(s) => Some(common::time::parse_iso(s).map(common::time::to_micros).ok_or_else(|| NovaError::BadRequest(format!("Invalid input for query parameters changes-since. Value: {s}.")))?),
            None => None,
        };
        let name_re = match query.get("name") {
            Some(n) => Some(regex::Regex::new(n).map_err(|_| NovaError::BadRequest(format!("Invalid filter name: {n}")))?),
            None => None,
        };
        // `ip` / `ip6`: a regular expression matched (from the start, as Python's re.match)
        // against the server's fixed addresses of that version.
        let ip_filter = |k: &str| -> Result<Option<regex::Regex>> {
            match query.get(k) {
                Some(p) => Ok(Some(regex::Regex::new(&format!("^(?:{p})")).map_err(|_| NovaError::BadRequest(format!("Invalid filter {k}: {p}")))?)),
                None => Ok(None),
            }
        };
        let (ip4_re, ip6_re) = (ip_filter("ip")?, ip_filter("ip6")?);
        let has_ip = |i: &Instance, re: &Option<regex::Regex>, version: u8| re.as_ref().is_none_or(|re| i.network_info.iter().flat_map(|v| &v.fixed_ips).any(|f| f.version() == version && re.is_match(&f.address)));
        let mut list = idb::instance_list(&self.db, project.as_deref(), deleted || changes_since.is_some()).await?;
        list.retain(|i| {
            let status = crate::api::status_of(i);
            changes_since.is_none_or(|t| i.updated_at >= t)
                && name_re.as_ref().is_none_or(|re| re.is_match(&i.display_name))
                && query.get("status").is_none_or(|s| s.eq_ignore_ascii_case(status))
                && query.get("flavor").is_none_or(|f| &i.flavor.flavorid == f)
                && query.get("image").is_none_or(|im| i.image_ref.as_deref() == Some(im.as_str()))
                && query.get("reservation_id").is_none_or(|r| i.reservation_id.as_deref() == Some(r.as_str()))
                && query.get("host").filter(|_| admin).is_none_or(|h| i.host.as_deref() == Some(h.as_str()))
                && query.get("availability_zone").is_none_or(|az| i.availability_zone.as_deref() == Some(az.as_str()))
                && query.get("tags").is_none_or(|t| t.split(',').all(|t| i.tags.iter().any(|x| x == t)))
                && query.get("tags-any").is_none_or(|t| t.split(',').any(|t| i.tags.iter().any(|x| x == t)))
                && query.get("not-tags").is_none_or(|t| !t.split(',').all(|t| i.tags.iter().any(|x| x == t)))
                && query.get("not-tags-any").is_none_or(|t| !t.split(',').any(|t| i.tags.iter().any(|x| x == t)))
                && has_ip(i, &ip4_re, 4)
                && has_ip(i, &ip6_re, 6)
                && (deleted || changes_since.is_some() || !i.deleted)
        });
        let mut page = common::pagination::PageParams::from_query(query, self.cfg.max_limit).map_err(|e| NovaError::BadRequest(e.to_string()))?;
        page.limit = page.limit.or(Some(self.cfg.max_limit));
        let (list, more) = page.apply(list, |i| i.uuid.as_str()).map_err(|m| NovaError::BadRequest(format!("marker [{m}] not found")))?;
        Ok((list, more))
    }
}

/// Upstream's hostname sanitizing: lower case, letters, digits and hyphens, at most 63.
pub fn sanitize_hostname(name: &str) -> String {
    let mut h: String = name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else if c == ' ' || c == '_' || c == '.' { '-' } else { '\0' }).filter(|c| *c != '\0').collect();
    h = h.trim_matches('-').chars().take(63).collect::<String>().trim_end_matches('-').to_string();
    if h.is_empty() {
        "server".into()
    } else {
        h
    }
}

pub(crate) fn is_core_image_key(k: &str) -> bool {
    ["id", "name", "status", "visibility", "protected", "os_hidden", "owner", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "created_at", "updated_at", "tags", "self", "file", "schema", "locations", "direct_url", "stores"].contains(&k)
}

/// Used by `GroupSpec` resolution in app::groups.
pub(crate) fn group_spec(uuid: &str, policy: &str, rules: &Value) -> GroupSpec {
    GroupSpec { uuid: uuid.to_string(), policy: policy.to_string(), max_server_per_host: rules["max_server_per_host"].as_i64().or_else(|| rules["max_server_per_host"].as_str().and_then(|s| s.parse().ok())) }
}

/// A change to a server's metadata or tags.
pub enum MetaChange {
    Merge(BTreeMap<String, String>),
    Replace(BTreeMap<String, String>),
    Delete(String),
    Tags(Vec<String>),
}

impl App {
    /// Applies a metadata or tag change under `rule`, in the states upstream allows it
    /// (not while building, deleting or in a task for metadata), within the metadata quota
    /// and tag limits.
    pub async fn server_metadata_change(&self, ctx: &RequestContext, uuid: &str, rule: &str, change: MetaChange) -> Result<Instance> {
        let mut i = self.server_get(ctx, uuid).await?;
        self.enforce(ctx, rule, &Self::server_target(&i))?;
        self.check_not_locked(ctx, &i)?;
        let is_tags = matches!(change, MetaChange::Tags(_));
        let ok_states = ["active", "paused", "suspended", "stopped", "shelved", "shelved_offloaded"];
        let ok = if is_tags { i.vm_state == "active" || ok_states.contains(&i.vm_state.as_str()) || i.vm_state == "building" || i.vm_state == "error" } else { ok_states.contains(&i.vm_state.as_str()) && i.task_state.is_none() };
        if !ok {
            let what = if is_tags { "update tags" } else { "update metadata" };
            return Err(NovaError::Conflict(format!("Cannot '{what}' instance {uuid} while it is in vm_state {}", i.vm_state)));
        }
        match change {
            MetaChange::Merge(m) => i.metadata.extend(m),
            MetaChange::Replace(m) => i.metadata = m,
            MetaChange::Delete(k) => {
                if i.metadata.remove(&k).is_none() {
                    return Err(NovaError::NotFound("Metadata item was not found".into()));
                }
            }
            MetaChange::Tags(tags) => {
                if tags.len() > 50 {
                    return Err(NovaError::BadRequest("The number of tags exceeded the per-server limit 50".into()));
                }
                for t in &tags {
                    if t.is_empty() || t.len() > 60 || t.contains('/') || t.contains(',') {
                        return Err(NovaError::BadRequest(format!("Invalid input for field/attribute tags. Value: {t}. Tags are 1 to 60 characters without '/' or ','.")));
                    }
                }
                let mut dedup: Vec<String> = Vec::new();
                for t in tags {
                    if !dedup.contains(&t) {
                        dedup.push(t);
                    }
                }
                i.tags = dedup;
            }
        }
        let limit = self.cfg.quota.metadata_items;
        if limit >= 0 && i.metadata.len() as i64 > limit {
            return Err(NovaError::OverQuota(format!("Quota exceeded for metadata_items: Requested {}, but already used 0 of {limit} metadata_items", i.metadata.len())));
        }
        i.updated_at = now();
        idb::instance_save(&self.db, &i, None).await?;
        Ok(i)
    }
}
