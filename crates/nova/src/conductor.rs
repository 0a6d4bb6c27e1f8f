//! nova-conductor (nova/conductor/manager.py): the only writer of compute state. It runs
//! builds (ask the scheduler, record the host, hand the instance to that host's compute
//! manager, reschedule to another host when a build fails, up to `[scheduler] max_attempts`),
//! and carries out the database work compute managers ask for over the bus, which never
//! touch a database themselves. On start it takes over builds a crash interrupted.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::app::{now, SharedApp};
use crate::db::compute_nodes as cdb;
use crate::db::instances::{self as idb, ActionEvent, Fault, Instance};
use crate::placement::Placement;
use crate::rpc::{self, RpcContext};
use crate::scheduler::{Destination, RequestSpec};
use crate::virt::HostResources;

mod moves;
pub use moves::MoveArgs;

/// A change to a task state: keep it, set it, or clear it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub enum TaskPatch {
    #[default]
    Keep,
    Set(String),
    Clear,
}

/// The fields a compute manager may change on an instance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InstanceUpdate {
    #[serde(default)]
    pub vm_state: Option<String>,
    #[serde(default)]
    pub task_state: TaskPatch,
    #[serde(default)]
    pub power_state: Option<i64>,
    #[serde(default)]
    pub launched_at: Option<i64>,
    #[serde(default)]
    pub progress: Option<i64>,
    /// Only apply while the task state is one of these (`None` = no task).
    #[serde(default)]
    pub expected_task_state: Option<Vec<Option<String>>>,
    /// System metadata to set (`None` removes the key).
    #[serde(default)]
    pub system_metadata: std::collections::BTreeMap<String, Option<String>>,
    /// A new info cache (the instance's ports).
    #[serde(default)]
    pub network_info: Option<Vec<crate::network::Vif>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildArgs {
    pub instances: Vec<String>,
    pub spec: RequestSpec,
    /// Hosts that already failed this build.
    #[serde(default)]
    pub excluded_hosts: Vec<String>,
    #[serde(default)]
    pub attempt: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunArgs {
    pub instance: String,
    pub spec: RequestSpec,
    pub attempt: u32,
    pub excluded_hosts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildFailedArgs {
    pub instance: String,
    pub host: String,
    pub reason: String,
    /// Whether another host might succeed.
    pub retry: bool,
    pub run: RunArgs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventArgs {
    pub instance: String,
    pub event: String,
    pub ok: bool,
    pub host: String,
    pub start: i64,
    pub detail: Option<String>,
}

pub struct Conductor {
    pub app: SharedApp,
    pub bus: Arc<dyn bus::Bus>,
    pub placement: Arc<dyn Placement>,
}

impl Conductor {
    /// Serves the conductor topic (consumed by the caller first, so nothing sent after
    /// start is lost) until the bus closes.
    pub async fn run(self: Arc<Self>, mut consumer: bus::Consumer) {
        while let Some(d) = consumer.next().await {
            let me = self.clone();
            tokio::spawn(async move {
                let m = d.message.clone();
                let result = me.handle(&m).await;
                if let Err(e) = &result {
                    tracing::warn!(method = %m.method, error = %e, "conductor request failed");
                }
                d.reply(result);
            });
        }
    }

    async fn handle(&self, m: &bus::Message) -> Result<Value, String> {
        match m.method.as_str() {
            "build_instances" => {
                let (args, ctx): (BuildArgs, RpcContext) = rpc::decode(m)?;
                for instance in &args.instances {
                    let run = RunArgs { instance: instance.clone(), spec: args.spec.clone(), attempt: args.attempt, excluded_hosts: args.excluded_hosts.clone() };
                    self.schedule_and_run(&ctx, run).await;
                }
                Ok(Value::Null)
            }
            "instance_get" => {
                let (uuid, _): (String, RpcContext) = rpc::decode(m)?;
                let i = idb::instance_get(&self.app.db, &uuid).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("instance {uuid} not found"))?;
                serde_json::to_value(i).map_err(|e| e.to_string())
            }
            "instance_update" => {
                let ((uuid, update), _): ((String, InstanceUpdate), RpcContext) = rpc::decode(m)?;
                let i = self.instance_update(&uuid, &update).await?;
                serde_json::to_value(i).map_err(|e| e.to_string())
            }
            "instances_on_host" => {
                let (host, _): (String, RpcContext) = rpc::decode(m)?;
                let list = idb::instance_list_by_host(&self.app.db, &host).await.map_err(|e| e.to_string())?;
                serde_json::to_value(list).map_err(|e| e.to_string())
            }
            "service_heartbeat" => {
                let (host, _): (String, RpcContext) = rpc::decode(m)?;
                cdb::service_heartbeat(&self.app.db, &host, "nova-compute", "compute", now()).await.map_err(|e| e.to_string())?;
                Ok(Value::Null)
            }
            "compute_node_update" => {
                let ((host, res), _): ((String, HostResources), RpcContext) = rpc::decode(m)?;
                let node = self.compute_node_update(&host, &res).await?;
                Ok(json!(node.uuid))
            }
            "build_failed" => {
                let (args, ctx): (BuildFailedArgs, RpcContext) = rpc::decode(m)?;
                self.build_failed(&ctx, args).await;
                Ok(Value::Null)
            }
            "instance_destroyed" => {
                let (uuid, _): (String, RpcContext) = rpc::decode(m)?;
                self.instance_destroyed(&uuid).await?;
                Ok(Value::Null)
            }
            "group_policy_violation" => {
                let ((uuid, host, group), _): ((String, String, crate::scheduler::GroupSpec), RpcContext) = rpc::decode(m)?;
                Ok(json!(self.group_policy_violation(&uuid, &host, &group).await?))
            }
            "request_spec_get" => {
                let (uuid, _): (String, RpcContext) = rpc::decode(m)?;
                let spec = self.app.request_spec_get(&uuid).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("no request spec for {uuid}"))?;
                serde_json::to_value(spec).map_err(|e| e.to_string())
            }
            "action_event" => {
                let (e, ctx): (EventArgs, RpcContext) = rpc::decode(m)?;
                self.action_event(&ctx, &e).await;
                Ok(Value::Null)
            }
            other => self.handle_moves(other, m).await,
        }
    }

    /// Applies `u` to an instance (refused when its task state moved on).
    pub async fn instance_update(&self, uuid: &str, u: &InstanceUpdate) -> Result<Instance, String> {
        for _ in 0..3 {
            let mut i = idb::instance_get(&self.app.db, uuid).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("instance {uuid} not found"))?;
            if i.deleted {
                return Err(format!("instance {uuid} was deleted"));
            }
            if let Some(expected) = &u.expected_task_state {
                if !expected.contains(&i.task_state) {
                    return Err(format!("UnexpectedTaskStateError: instance {uuid} has task state {:?}, expected one of {expected:?}", i.task_state));
                }
            }
            let seen = i.task_state.clone();
            if let Some(v) = &u.vm_state {
                i.vm_state = v.clone();
            }
            match &u.task_state {
                TaskPatch::Keep => {}
                TaskPatch::Set(t) => i.task_state = Some(t.clone()),
                TaskPatch::Clear => i.task_state = None,
            }
            if let Some(p) = u.power_state {
                i.power_state = p;
            }
            if let Some(t) = u.launched_at {
                i.launched_at = Some(t);
            }
            if let Some(p) = u.progress {
                i.progress = p;
            }
            for (k, v) in &u.system_metadata {
                match v {
                    Some(v) => i.system_metadata.insert(k.clone(), v.clone()),
                    None => i.system_metadata.remove(k),
                };
            }
            i.updated_at = now();
            let expect = [seen.as_deref()];
            if idb::instance_save(&self.app.db, &i, Some(&expect)).await.map_err(|e| e.to_string())? {
                if let Some(nw) = &u.network_info {
                    idb::info_cache_update(&self.app.db, uuid, nw, i.updated_at).await.map_err(|e| e.to_string())?;
                    i.network_info = nw.clone();
                }
                return Ok(i);
            }
        }
        Err(format!("instance {uuid} kept changing; update abandoned"))
    }

    async fn compute_node_update(&self, host: &str, r: &HostResources) -> Result<cdb::ComputeNode, String> {
        let t = now();
        let svc = cdb::service_heartbeat(&self.app.db, host, "nova-compute", "compute", t).await.map_err(|e| e.to_string())?;
        let existing = cdb::compute_node_get_by_hostname(&self.app.db, &r.hypervisor_hostname).await.map_err(|e| e.to_string())?;
        let cfg = &self.app.cfg;
        let node = cdb::ComputeNode {
            uuid: existing.as_ref().map(|n| n.uuid.clone()).unwrap_or_else(common::ids::new_uuid),
            id: existing.as_ref().map(|n| n.id).unwrap_or(0),
            service_id: svc.id,
            host: host.to_string(),
            hypervisor_hostname: r.hypervisor_hostname.clone(),
            hypervisor_type: r.hypervisor_type.clone(),
            hypervisor_version: r.hypervisor_version,
            host_ip: Some("127.0.0.1".into()),
            vcpus: r.vcpus,
            memory_mb: r.memory_mb,
            local_gb: r.local_gb,
            cpu_allocation_ratio: cfg.cpu_allocation_ratio,
            ram_allocation_ratio: cfg.ram_allocation_ratio,
            disk_allocation_ratio: cfg.disk_allocation_ratio,
            cpu_info: Some(r.cpu_info.to_string()),
            created_at: existing.as_ref().map(|n| n.created_at).unwrap_or(t),
            updated_at: t,
        };
        cdb::compute_node_upsert(&self.app.db, &node).await.map_err(|e| e.to_string())
    }

    /// The late group policy check (upstream's `_validate_instance_group_policy`): whether
    /// `instance` landing on `host` breaks its group's policy given where the other members
    /// are now. Two builds scheduled at the same moment can both pass the scheduler's filter;
    /// this catches the second.
    async fn group_policy_violation(&self, instance: &str, host: &str, g: &crate::scheduler::GroupSpec) -> Result<Option<String>, String> {
        let mut here = 0;
        let mut elsewhere = 0;
        for member in self.app.server_group_members(&g.uuid).await.map_err(|e| e.to_string())? {
            if member == instance {
                continue;
            }
            if let Some(i) = idb::instance_get(&self.app.db, &member).await.map_err(|e| e.to_string())? {
                // A member still being scheduled or checked does not count yet; once it
                // passed its own check it is spawning, and counts.
                let placed = i.vm_state != "building" || i.task_state.as_deref() == Some("spawning");
                match (&i.host, i.deleted, placed) {
                    (Some(h), false, true) if h == host => here += 1,
                    (Some(_), false, true) => elsewhere += 1,
                    _ => {}
                }
            }
        }
        Ok(match g.policy.as_str() {
            "anti-affinity" if here >= g.max_server_per_host.unwrap_or(1) => Some("Anti-affinity instance group policy was violated.".into()),
            "affinity" if elsewhere > 0 => Some("Affinity instance group policy was violated.".into()),
            _ => None,
        })
    }

    /// Schedules one instance and hands it to its host, or puts it in ERROR with a fault.
    pub async fn schedule_and_run(&self, ctx: &RpcContext, run: RunArgs) {
        let uuid = run.instance.clone();
        let scheduled: Result<Destination, String> = rpc::call(self.bus.as_ref(), rpc::SCHEDULER, "select_destination", &(&uuid, &run.spec, &run.excluded_hosts), ctx).await.and_then(|r: Result<Destination, String>| r);
        let dest = match scheduled {
            Ok(d) => d,
            Err(reason) => {
                self.fail_build(&uuid, &reason, None, 500).await;
                return;
            }
        };
        // Record the host, then cast to it; an instance deleted meanwhile is left alone.
        let recorded = async {
            let mut i = idb::instance_get(&self.app.db, &uuid).await.map_err(|e| e.to_string())?.ok_or("gone")?;
            if i.deleted || i.task_state.as_deref() == Some("deleting") {
                return Err("deleted while scheduling".to_string());
            }
            let seen = i.task_state.clone();
            i.host = Some(dest.host.clone());
            i.node = Some(dest.node.clone());
            if i.availability_zone.is_none() {
                i.availability_zone = Some(self.app.host_availability_zone(&dest.host).await.map_err(|e| e.to_string())?);
            }
            i.task_state = None;
            i.updated_at = now();
            let expect = [seen.as_deref()];
            if !idb::instance_save(&self.app.db, &i, Some(&expect)).await.map_err(|e| e.to_string())? {
                return Err("instance changed while scheduling".to_string());
            }
            Ok(())
        }
        .await;
        if let Err(why) = recorded {
            tracing::info!(instance = %uuid, %why, "not building");
            let _ = self.placement.delete_allocations(&uuid).await;
            return;
        }
        if let Err(e) = rpc::cast(self.bus.as_ref(), &rpc::compute_topic(&dest.host), "build_and_run_instance", &run, ctx).await {
            self.fail_build(&uuid, &format!("Build of instance {uuid} could not start on {}: {e}", dest.host), Some(&dest.host), 500).await;
        }
    }

    /// A compute host could not build: try another host while attempts remain.
    async fn build_failed(&self, ctx: &RpcContext, a: BuildFailedArgs) {
        let _ = self.placement.delete_allocations(&a.instance).await;
        let attempts = a.run.attempt + 1;
        if a.retry && attempts < self.app.cfg.max_attempts {
            let mut run = a.run.clone();
            run.attempt = attempts;
            run.excluded_hosts.push(a.host.clone());
            tracing::info!(instance = %a.instance, host = %a.host, attempt = attempts + 1, "rescheduling a failed build");
            let reset = InstanceUpdate { task_state: TaskPatch::Set("scheduling".into()), ..Default::default() };
            if self.instance_update(&a.instance, &reset).await.is_ok() {
                if let Ok(Some(mut inst)) = idb::instance_get(&self.app.db, &a.instance).await {
                    inst.host = None;
                    inst.node = None;
                    let _ = idb::instance_save(&self.app.db, &inst, None).await;
                }
                self.schedule_and_run(ctx, run).await;
                return;
            }
        }
        let reason = if a.retry { format!("Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance {}. Last failure: {}", a.instance, a.reason) } else { a.reason.clone() };
        self.fail_build(&a.instance, &reason, Some(&a.host), 500).await;
    }

    /// Puts a build in ERROR with a fault; its resources are released.
    pub(crate) async fn fail_build(&self, uuid: &str, reason: &str, host: Option<&str>, code: i64) {
        tracing::warn!(instance = %uuid, %reason, "build failed");
        let _ = self.placement.delete_allocations(uuid).await;
        let update = InstanceUpdate { vm_state: Some("error".into()), task_state: TaskPatch::Clear, ..Default::default() };
        if self.instance_update(uuid, &update).await.is_ok() {
            let fault = Fault { code, message: reason.chars().take(255).collect(), details: Some(reason.to_string()), host: host.map(str::to_string), created_at: now() };
            if let Err(e) = idb::fault_create(&self.app.db, uuid, &fault).await {
                tracing::error!(instance = %uuid, error = %e, "could not record a fault");
            }
        }
    }

    /// The hypervisor has let go of an instance: it is deleted and its resources released.
    async fn instance_destroyed(&self, uuid: &str) -> Result<(), String> {
        self.confirm_resize_on_delete(uuid).await;
        self.app.instance_mark_deleted(uuid).await.map_err(|e| e.to_string())?;
        self.placement.delete_allocations(uuid).await.map_err(|e| e.to_string())
    }

    pub(crate) async fn action_event(&self, ctx: &RpcContext, e: &EventArgs) {
        let Ok(Some(action)) = idb::action_by_request(&self.app.db, &e.instance, &ctx.request_id).await else { return };
        let ev = ActionEvent { event: e.event.clone(), result: Some(if e.ok { "Success" } else { "Error" }.into()), traceback: e.detail.clone(), host: Some(e.host.clone()), start_time: e.start, finish_time: Some(now()) };
        if let Err(err) = idb::action_event_finish(&self.app.db, &action.id, &ev).await {
            tracing::warn!(instance = %e.instance, error = %err, "could not record an action event");
        }
    }

    /// After a restart: builds caught before they reached a host are scheduled again, and
    /// deletes of instances that never reached a host finish. What a host holds is its
    /// compute manager's to recover when it starts.
    pub async fn recover(&self) -> Result<(), String> {
        for i in idb::instance_list_unfinished(&self.app.db).await.map_err(|e| e.to_string())? {
            if i.host.is_some() {
                continue;
            }
            let ctx = RpcContext::internal("conductor-recovery");
            if i.task_state.as_deref() == Some("deleting") {
                tracing::warn!(instance = %i.uuid, "finishing a delete interrupted by a restart");
                let _ = self.instance_destroyed(&i.uuid).await;
                continue;
            }
            if i.vm_state == "building" {
                let Some(spec) = self.app.request_spec_get(&i.uuid).await.map_err(|e| e.to_string())? else {
                    self.fail_build(&i.uuid, "Build interrupted by a restart and its request spec is gone.", None, 500).await;
                    continue;
                };
                tracing::warn!(instance = %i.uuid, "rescheduling a build interrupted by a restart");
                let _ = self.placement.delete_allocations(&i.uuid).await;
                self.schedule_and_run(&ctx, RunArgs { instance: i.uuid.clone(), spec, attempt: 0, excluded_hosts: vec![] }).await;
            }
        }
        Ok(())
    }
}
