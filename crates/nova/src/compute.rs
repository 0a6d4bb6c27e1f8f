//! nova-compute (nova/compute/manager.py and resource_tracker.py): one manager per hypervisor
//! host, consuming its own topic. It reports the host (service heartbeat and compute node
//! through the conductor, inventory to Placement), builds instances with its `VirtDriver` and
//! performs the power actions, asking the conductor for every state change, since it never
//! touches a database. On start it reconciles what the hypervisor runs with what the
//! database says, so no instance stays stuck in a task after a crash.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::now;
use crate::conductor::{BuildFailedArgs, EventArgs, InstanceUpdate, RunArgs, TaskPatch};
use crate::db::instances::Instance;
use crate::placement::{Inventory, Placement};
use crate::rpc::{self, RpcContext};
use crate::virt::{PowerState, VirtDriver, VirtError};

mod lifecycle;
mod network;
pub use lifecycle::{RebuildArgs, ShelveArgs, SnapshotArgs};

/// How often a compute host reports in.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// The overcommit and reservations a host reports to Placement.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    pub cpu_allocation_ratio: f64,
    pub ram_allocation_ratio: f64,
    pub disk_allocation_ratio: f64,
    pub reserved_host_memory_mb: i64,
    pub reserved_host_disk_mb: i64,
    pub reserved_host_cpus: i64,
}

/// A power or boot action a user asked for: the guest stays where it is and only its
/// running state changes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PowerAction {
    Start,
    Stop,
    RebootSoft,
    RebootHard,
    Pause,
    Unpause,
    Suspend,
    Resume,
    Rescue,
    Unrescue,
    CrashDump,
}

impl PowerAction {
    /// (event name, vm_state after, power_state after).
    fn outcome(self) -> (&'static str, &'static str, PowerState) {
        match self {
            PowerAction::Start => ("compute_start_instance", "active", PowerState::Running),
            PowerAction::Stop => ("compute_stop_instance", "stopped", PowerState::Shutdown),
            PowerAction::RebootSoft | PowerAction::RebootHard => ("compute_reboot_instance", "active", PowerState::Running),
            PowerAction::Pause => ("compute_pause_instance", "paused", PowerState::Paused),
            PowerAction::Unpause => ("compute_unpause_instance", "active", PowerState::Running),
            PowerAction::Suspend => ("compute_suspend_instance", "suspended", PowerState::Suspended),
            PowerAction::Resume => ("compute_resume_instance", "active", PowerState::Running),
            PowerAction::Rescue => ("compute_rescue_instance", "rescued", PowerState::Running),
            PowerAction::Unrescue => ("compute_unrescue_instance", "active", PowerState::Running),
            PowerAction::CrashDump => ("compute_trigger_crash_dump", "active", PowerState::Running),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PowerArgs {
    pub instance: String,
    pub action: PowerAction,
}

pub struct ComputeManager {
    pub host: String,
    pub driver: Arc<dyn VirtDriver>,
    pub bus: Arc<dyn bus::Bus>,
    pub placement: Arc<dyn Placement>,
    /// Where snapshots are uploaded (with the caller's token).
    pub images: Option<Arc<crate::image::GlanceClient>>,
    /// The Networking service, for the instances' ports (none: servers get no network).
    pub network: Option<Arc<crate::network::NeutronClient>>,
    pub policy: HostPolicy,
    /// One lock per server group: builds of one group on this host check its policy in turn.
    pub group_locks: tokio::sync::Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ComputeManager {
    /// Starts the host: consume its topic, report it, recover its instances, keep reporting.
    pub async fn start(self: Arc<Self>) -> Result<tokio::task::JoinHandle<()>, String> {
        self.driver.init_host().await.map_err(|e| e.to_string())?;
        let mut consumer = self.bus.consume(&rpc::compute_topic(&self.host)).await.map_err(|e| e.to_string())?;
        let me = self.clone();
        let handle = tokio::spawn(async move {
            while let Some(d) = consumer.next().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let result = me.handle(&d.message).await;
                    if let Err(e) = &result {
                        tracing::warn!(host = %me.host, method = %d.message.method, error = %e, "compute request failed");
                    }
                    d.reply(result);
                });
            }
        });
        // Placement may not be up yet: the periodic report keeps trying, as nova-compute does.
        if let Err(e) = self.report().await {
            tracing::warn!(host = %self.host, error = %e, "first compute host report failed; retrying every {:?}", REPORT_INTERVAL);
        }
        self.recover().await;
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REPORT_INTERVAL).await;
                if let Err(e) = me.report().await {
                    tracing::warn!(host = %me.host, error = %e, "compute host report failed");
                }
            }
        });
        Ok(handle)
    }

    pub(crate) async fn conductor<A: Serialize, R: serde::de::DeserializeOwned>(&self, method: &str, args: &A, ctx: &RpcContext) -> Result<R, String> {
        rpc::call(self.bus.as_ref(), rpc::CONDUCTOR, method, args, ctx).await
    }

    pub(crate) async fn update(&self, ctx: &RpcContext, uuid: &str, u: InstanceUpdate) -> Result<Instance, String> {
        self.conductor("instance_update", &(uuid, u), ctx).await
    }

    /// Heartbeat, compute node record and Placement inventory (the resource tracker).
    pub async fn report(&self) -> Result<(), String> {
        let ctx = RpcContext::internal("resource-tracker");
        let r = self.driver.available_resource().await.map_err(|e| e.to_string())?;
        let node_uuid: String = self.conductor("compute_node_update", &(&self.host, &r), &ctx).await?;
        self.placement.ensure_provider(&node_uuid, &r.hypervisor_hostname).await.map_err(|e| e.to_string())?;
        let p = &self.policy;
        let mut inv = BTreeMap::new();
        inv.insert("VCPU".to_string(), Inventory { total: r.vcpus, reserved: p.reserved_host_cpus, min_unit: 1, max_unit: r.vcpus, step_size: 1, allocation_ratio: p.cpu_allocation_ratio });
        inv.insert("MEMORY_MB".to_string(), Inventory { total: r.memory_mb, reserved: p.reserved_host_memory_mb, min_unit: 1, max_unit: r.memory_mb, step_size: 1, allocation_ratio: p.ram_allocation_ratio });
        if r.local_gb > 0 {
            inv.insert("DISK_GB".to_string(), Inventory { total: r.local_gb, reserved: (p.reserved_host_disk_mb + 1023) / 1024, min_unit: 1, max_unit: r.local_gb, step_size: 1, allocation_ratio: p.disk_allocation_ratio });
        }
        self.placement.set_inventory(&node_uuid, &inv).await.map_err(|e| e.to_string())
    }

    async fn handle(&self, m: &bus::Message) -> Result<Value, String> {
        match m.method.as_str() {
            "build_and_run_instance" => {
                let (run, ctx): (RunArgs, RpcContext) = rpc::decode(m)?;
                self.build_and_run(&ctx, run).await;
                Ok(Value::Null)
            }
            "terminate_instance" => {
                let (uuid, ctx): (String, RpcContext) = rpc::decode(m)?;
                self.terminate(&ctx, &uuid).await
            }
            "power_action" => {
                let (a, ctx): (PowerArgs, RpcContext) = rpc::decode(m)?;
                self.power_action(&ctx, &a).await
            }
            "attach_interface" => {
                let ((uuid, r), ctx): ((String, crate::network::RequestedNetwork), RpcContext) = rpc::decode(m)?;
                self.attach_interface(&ctx, &uuid, &r).await
            }
            "detach_interface" => {
                let ((uuid, port), ctx): ((String, String), RpcContext) = rpc::decode(m)?;
                self.detach_interface(&ctx, &uuid, &port).await
            }
            "get_console_output" => {
                let (uuid, _): (String, RpcContext) = rpc::decode(m)?;
                self.driver.console_output(&uuid).await.map(Value::String).map_err(|e| e.to_string())
            }
            other => self.handle_lifecycle(other, m).await,
        }
    }

    pub(crate) async fn event(&self, ctx: &RpcContext, instance: &str, event: &str, start: i64, outcome: &Result<(), String>) {
        let args = EventArgs { instance: instance.to_string(), event: event.to_string(), ok: outcome.is_ok(), host: self.host.clone(), start, detail: outcome.clone().err() };
        if let Err(e) = self.conductor::<_, Value>("action_event", &args, ctx).await {
            tracing::warn!(instance, error = %e, "could not record an action event");
        }
    }

    async fn build_and_run(&self, ctx: &RpcContext, run: RunArgs) {
        let start = now();
        let uuid = run.instance.clone();
        let spawning = InstanceUpdate { task_state: TaskPatch::Set("spawning".into()), expected_task_state: Some(vec![None, Some("scheduling".into()), Some("spawning".into())]), ..Default::default() };
        // A group member checks its group's policy and is marked spawning under the group's
        // lock on this host: members building here at the same moment pass in turn, and each
        // sees the ones before it (the conductor counts a building member once it spawns).
        let lock = match &run.spec.group {
            Some(g) => Some(self.group_locks.lock().await.entry(g.uuid.clone()).or_default().clone()),
            None => None,
        };
        let guard = match &lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        if let Some(g) = &run.spec.group {
            let violation = match self.conductor::<_, Option<String>>("group_policy_violation", &(&uuid, &self.host, g), ctx).await {
                Ok(v) => v,
                Err(e) => Some(format!("the group policy could not be checked: {e}")),
            };
            if let Some(why) = violation {
                drop(guard);
                let reason = format!("Build of instance {uuid} was re-scheduled: {why}");
                self.event(ctx, &uuid, "compute_build_and_run_instance", start, &Err(reason.clone())).await;
                let args = BuildFailedArgs { instance: uuid.clone(), host: self.host.clone(), reason, retry: true, run };
                if let Err(err) = self.conductor::<_, Value>("build_failed", &args, ctx).await {
                    tracing::error!(instance = %uuid, error = %err, "could not report a failed build");
                }
                return;
            }
        }
        let instance = match self.update(ctx, &uuid, spawning).await {
            Ok(i) => i,
            Err(e) => {
                tracing::info!(instance = %uuid, error = %e, "not building (deleted or changed meanwhile)");
                return;
            }
        };
        drop(guard);
        let mut instance = instance;
        let allocated = match self.allocate_for_instance(ctx, &instance, &run.spec).await {
            Ok(vifs) if vifs.is_empty() => Ok(()),
            Ok(vifs) => self.update(ctx, &uuid, InstanceUpdate { network_info: Some(vifs.clone()), ..Default::default() }).await.map(|_| instance.network_info = vifs),
            Err(e) => Err(e),
        };
        if let Err(reason) = allocated {
            // Networking fails the same way on every host: no reschedule.
            self.event(ctx, &uuid, "compute_build_and_run_instance", start, &Err(reason.clone())).await;
            let args = BuildFailedArgs { instance: uuid.clone(), host: self.host.clone(), reason, retry: false, run };
            if let Err(err) = self.conductor::<_, Value>("build_failed", &args, ctx).await {
                tracing::error!(instance = %uuid, error = %err, "could not report a failed build");
            }
            return;
        }
        let built = self.driver.spawn(&instance).await;
        match built {
            Ok(()) => {
                let done = InstanceUpdate {
                    vm_state: Some("active".into()),
                    task_state: TaskPatch::Clear,
                    power_state: Some(PowerState::Running.code()),
                    launched_at: Some(now()),
                    expected_task_state: Some(vec![Some("spawning".into())]),
                    ..Default::default()
                };
                if let Err(e) = self.update(ctx, &uuid, done).await {
                    // Deleted while spawning: the guest must not outlive its record.
                    tracing::info!(instance = %uuid, error = %e, "built an instance that was deleted meanwhile; destroying it");
                    let _ = self.driver.destroy(&instance).await;
                    if let Err(e) = self.deallocate_for_instance(&instance).await {
                        tracing::error!(instance = %uuid, error = %e, "could not release the ports of a deleted instance");
                    }
                }
                self.event(ctx, &uuid, "compute_build_and_run_instance", start, &Ok(())).await;
            }
            Err(e) => {
                let _ = self.driver.destroy(&instance).await;
                // Another host (if any) allocates again.
                if let Err(e) = self.deallocate_for_instance(&instance).await {
                    tracing::error!(instance = %uuid, error = %e, "could not release the ports of a failed build");
                }
                let retry = matches!(e, VirtError::BuildFailed { .. });
                self.event(ctx, &uuid, "compute_build_and_run_instance", start, &Err(e.to_string())).await;
                let args = BuildFailedArgs { instance: uuid.clone(), host: self.host.clone(), reason: e.to_string(), retry, run };
                if let Err(err) = self.conductor::<_, Value>("build_failed", &args, ctx).await {
                    tracing::error!(instance = %uuid, error = %err, "could not report a failed build");
                }
            }
        }
    }

    async fn terminate(&self, ctx: &RpcContext, uuid: &str) -> Result<Value, String> {
        let start = now();
        let instance: Instance = self.conductor("instance_get", &uuid, ctx).await?;
        let mut outcome = self.driver.destroy(&instance).await.map_err(|e| e.to_string());
        if outcome.is_ok() {
            // A copy a resize on this host set aside goes with it.
            outcome = self.driver.confirm_migration(&instance).await.map_err(|e| e.to_string());
        }
        if outcome.is_ok() {
            outcome = self.deallocate_for_instance(&instance).await.map_err(|e| format!("the instance's ports could not be released: {e}"));
        }
        if outcome.is_ok() {
            self.conductor::<_, Value>("instance_destroyed", &uuid, ctx).await?;
        }
        self.event(ctx, uuid, "compute_terminate_instance", start, &outcome).await;
        outcome.map(|_| Value::Null)
    }

    async fn power_action(&self, ctx: &RpcContext, a: &PowerArgs) -> Result<Value, String> {
        let start = now();
        let instance: Instance = self.conductor("instance_get", &a.instance, ctx).await?;
        let (event, vm_state, power) = a.action.outcome();
        let outcome = match a.action {
            PowerAction::Start => self.driver.power_on(&instance).await,
            PowerAction::Stop => self.driver.power_off(&instance).await,
            PowerAction::RebootSoft => self.driver.reboot(&instance, false).await,
            PowerAction::RebootHard => self.driver.reboot(&instance, true).await,
            PowerAction::Pause => self.driver.pause(&instance).await,
            PowerAction::Unpause => self.driver.unpause(&instance).await,
            PowerAction::Suspend => self.driver.suspend(&instance).await,
            PowerAction::Resume => self.driver.resume(&instance).await,
            PowerAction::Rescue => self.driver.rescue(&instance).await,
            PowerAction::Unrescue => self.driver.unrescue(&instance).await,
            PowerAction::CrashDump => self.driver.trigger_crash_dump(&instance).await,
        }
        .map_err(|e| e.to_string());
        let update = match &outcome {
            Ok(()) => InstanceUpdate { vm_state: Some(vm_state.into()), task_state: TaskPatch::Clear, power_state: Some(power.code()), ..Default::default() },
            // The action failed: the instance keeps its state, the task ends, the error is
            // in the action's event.
            Err(_) => {
                let actual = self.driver.power_state(&instance.uuid).await.map(PowerState::code).ok();
                InstanceUpdate { task_state: TaskPatch::Clear, power_state: actual, ..Default::default() }
            }
        };
        self.update(ctx, &a.instance, update).await?;
        self.event(ctx, &a.instance, event, start, &outcome).await;
        outcome.map(|_| Value::Null)
    }

    /// nova-compute's `init_host`: reconcile each instance the database puts here with the
    /// hypervisor, finishing or rolling back whatever task a crash interrupted.
    async fn recover(self: &Arc<Self>) {
        let ctx = RpcContext::internal("compute-recovery");
        let instances: Vec<Instance> = match self.conductor("instances_on_host", &self.host, &ctx).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(host = %self.host, error = %e, "cannot list this host's instances to recover them");
                return;
            }
        };
        let known: Vec<String> = instances.iter().map(|i| i.uuid.clone()).collect();
        self.destroy_evacuated(&ctx, &known).await;
        for i in instances {
            let actual = self.driver.power_state(&i.uuid).await.ok();
            let task = i.task_state.clone();
            let result = match (task.as_deref(), actual) {
                (None, _) if i.vm_state != "building" => continue,
                (Some("deleting"), _) => self.terminate(&ctx, &i.uuid).await.map(|_| ()),
                // The guest exists: the build got far enough. Otherwise build it now.
                (_, Some(p)) if i.vm_state == "building" => self
                    .update(&ctx, &i.uuid, InstanceUpdate { vm_state: Some("active".into()), task_state: TaskPatch::Clear, power_state: Some(p.code()), launched_at: Some(now()), ..Default::default() })
                    .await
                    .map(|_| ()),
                // Built again from scratch, all at once (each build is its own task, as
                // builds are when they arrive over the bus).
                (_, None) if i.vm_state == "building" => match self.conductor::<_, Value>("request_spec_get", &i.uuid, &ctx).await {
                    Ok(spec) => match serde_json::from_value(spec) {
                        Ok(spec) => {
                            let (me, ctx, run) = (self.clone(), ctx.clone(), RunArgs { instance: i.uuid.clone(), spec, attempt: 0, excluded_hosts: vec![] });
                            tokio::spawn(async move { me.build_and_run(&ctx, run).await });
                            Ok(())
                        }
                        Err(e) => Err(e.to_string()),
                    },
                    Err(e) => Err(e),
                },
                // Any other interrupted task: the instance is in whatever state the
                // hypervisor says, and the task is over.
                (_, p) => {
                    let (vm_state, power) = match p {
                        Some(PowerState::Running) => ("active", PowerState::Running),
                        Some(PowerState::Paused) => ("paused", PowerState::Paused),
                        Some(PowerState::Suspended) => ("suspended", PowerState::Suspended),
                        Some(_) => ("stopped", PowerState::Shutdown),
                        None => ("error", PowerState::NoState),
                    };
                    self.update(&ctx, &i.uuid, InstanceUpdate { vm_state: Some(vm_state.into()), task_state: TaskPatch::Clear, power_state: Some(power.code()), ..Default::default() }).await.map(|_| ())
                }
            };
            match result {
                Ok(()) => tracing::warn!(instance = %i.uuid, task = ?task, "recovered an instance after a restart"),
                Err(e) => tracing::error!(instance = %i.uuid, error = %e, "could not recover an instance after a restart"),
            }
        }
    }
}
