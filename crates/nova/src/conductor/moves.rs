//! The conductor's move operations (nova/conductor/tasks/migrate.py, live_migrate.py and
//! manager.py's rebuild/unshelve): resize and cold migration with confirm and revert, live
//! migration, evacuation and unshelving an offloaded server. Each is a sequence of calls to
//! the scheduler and to the source and destination compute hosts; the conductor records
//! every step (the instance, its migration record) and keeps Placement true throughout:
//! while an instance moves, its migration holds the source host's resources and the instance
//! holds the destination's, so neither host can be overcommitted meanwhile, and a failed or
//! reverted move hands the source's back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Conductor, EventArgs, InstanceUpdate, TaskPatch};
use crate::app::now;
use crate::db::flavors::Flavor;
use crate::db::instances::{self as idb, Fault, Instance};
use crate::db::migrations::{self as mdb, Migration};
use crate::rpc::{self, RpcContext};
use crate::scheduler::{Destination, RequestSpec};
use crate::virt::PowerState;

/// A resize, cold or live migration, or evacuation the API recorded and hands over.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MoveArgs {
    pub instance: String,
    /// The migration record the API created.
    pub migration: i64,
    /// A resize's new flavor (`None`: the instance keeps its flavor).
    pub flavor: Option<Flavor>,
    /// The destination the admin asked for (`None`: the scheduler picks).
    pub host: Option<String>,
}

fn power_state_of(code: i64) -> PowerState {
    match code {
        1 => PowerState::Running,
        3 => PowerState::Paused,
        4 => PowerState::Shutdown,
        6 => PowerState::Crashed,
        7 => PowerState::Suspended,
        _ => PowerState::NoState,
    }
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Conductor {
    pub(super) async fn handle_moves(&self, method: &str, m: &bus::Message) -> Result<Value, String> {
        match method {
            "migrate_server" => {
                let (a, ctx): (MoveArgs, RpcContext) = rpc::decode(m)?;
                self.migrate_server(&ctx, &a).await.map(|_| Value::Null)
            }
            "confirm_resize" => {
                let (uuid, ctx): (String, RpcContext) = rpc::decode(m)?;
                self.confirm_resize(&ctx, &uuid).await.map(|_| Value::Null)
            }
            "revert_resize" => {
                let (uuid, ctx): (String, RpcContext) = rpc::decode(m)?;
                self.revert_resize(&ctx, &uuid).await.map(|_| Value::Null)
            }
            "live_migrate" => {
                let (a, ctx): (MoveArgs, RpcContext) = rpc::decode(m)?;
                self.live_migrate(&ctx, &a).await.map(|_| Value::Null)
            }
            "evacuate" => {
                let ((a, stopped), ctx): ((MoveArgs, bool), RpcContext) = rpc::decode(m)?;
                self.evacuate(&ctx, &a, stopped).await.map(|_| Value::Null)
            }
            "unshelve" => {
                let ((uuid, az), ctx): ((String, Option<String>), RpcContext) = rpc::decode(m)?;
                self.unshelve(&ctx, &uuid, az).await.map(|_| Value::Null)
            }
            "shelve_offloaded" => {
                let (uuid, _): (String, RpcContext) = rpc::decode(m)?;
                self.shelve_offloaded(&uuid).await.map(|_| Value::Null)
            }
            "instance_fault" => {
                let ((uuid, host, message), _): ((String, String, String), RpcContext) = rpc::decode(m)?;
                self.fault(&uuid, Some(&host), &message).await;
                Ok(Value::Null)
            }
            "evacuated_from" => {
                let ((uuid, host), _): ((String, String), RpcContext) = rpc::decode(m)?;
                serde_json::to_value(self.evacuated_from(&uuid, &host).await?).map_err(s)
            }
            "evacuation_cleaned" => {
                let ((uuid, host), _): ((String, String), RpcContext) = rpc::decode(m)?;
                if let Some(mut mig) = self.evacuation_from(&uuid, &host).await? {
                    self.placement.delete_allocations(&mig.uuid).await.map_err(s)?;
                    self.migration_status(&mut mig, "completed").await?;
                }
                Ok(Value::Null)
            }
            other => Err(format!("the conductor has no method {other}")),
        }
    }

    async fn instance(&self, uuid: &str) -> Result<Instance, String> {
        idb::instance_get(&self.app.db, uuid).await.map_err(s)?.filter(|i| !i.deleted).ok_or_else(|| format!("instance {uuid} not found"))
    }

    async fn migration(&self, id: i64) -> Result<Migration, String> {
        mdb::migration_get(&self.app.db, id).await.map_err(s)?.ok_or_else(|| format!("migration {id} not found"))
    }

    async fn migration_status(&self, m: &mut Migration, status: &str) -> Result<(), String> {
        m.status = status.to_string();
        m.updated_at = now();
        mdb::migration_save(&self.app.db, m).await.map_err(s)
    }

    /// Changes an instance's placement-bearing fields (host, node, flavor) and states.
    async fn relocate(&self, uuid: &str, change: impl FnOnce(&mut Instance)) -> Result<Instance, String> {
        let mut i = self.instance(uuid).await?;
        change(&mut i);
        i.updated_at = now();
        idb::instance_save(&self.app.db, &i, None).await.map_err(s)?;
        Ok(i)
    }

    async fn fault(&self, uuid: &str, host: Option<&str>, message: &str) {
        let f = Fault { code: 500, message: message.chars().take(255).collect(), details: Some(message.to_string()), host: host.map(str::to_string), created_at: now() };
        if let Err(e) = idb::fault_create(&self.app.db, uuid, &f).await {
            tracing::error!(instance = uuid, error = %e, "could not record a fault");
        }
    }

    async fn event(&self, ctx: &RpcContext, uuid: &str, event: &str, start: i64, outcome: &Result<(), String>) {
        let e = EventArgs { instance: uuid.to_string(), event: event.to_string(), ok: outcome.is_ok(), host: "conductor".into(), start, detail: outcome.clone().err() };
        self.action_event(ctx, &e).await;
    }

    async fn compute<A: Serialize, R: serde::de::DeserializeOwned>(&self, host: &str, method: &str, args: &A, ctx: &RpcContext) -> Result<R, String> {
        rpc::call(self.bus.as_ref(), &rpc::compute_topic(host), method, args, ctx).await
    }

    async fn select(&self, ctx: &RpcContext, uuid: &str, spec: &RequestSpec, excluded: &[String]) -> Result<Destination, String> {
        rpc::call(self.bus.as_ref(), rpc::SCHEDULER, "select_destination", &(uuid, spec, excluded), ctx).await.and_then(|r: Result<Destination, String>| r)
    }

    /// The instance's request spec, or one rebuilt from the instance.
    async fn spec_of(&self, i: &Instance) -> Result<RequestSpec, String> {
        Ok(match self.app.request_spec_get(&i.uuid).await.map_err(s)? {
            Some(spec) => spec,
            None => RequestSpec {
                flavor: i.flavor.clone(),
                project_id: i.project_id.clone(),
                user_id: i.user_id.clone(),
                image_id: i.image_ref.clone(),
                availability_zone: i.availability_zone.clone(),
                group: None,
                same_host: vec![],
                different_host: vec![],
                requested_host: None,
                networks: Default::default(),
                security_groups: vec![],
            },
        })
    }

    /// A move that got nowhere: the source's resources go back to the instance, the
    /// migration is in error and the instance's task ends where it was.
    async fn abandon_move(&self, ctx: &RpcContext, m: &mut Migration, uuid: &str, claimed_destination: bool, (event, start): (&str, i64), why: &str) -> Result<(), String> {
        tracing::warn!(instance = uuid, migration = m.id, %why, "move abandoned");
        if claimed_destination {
            self.placement.delete_allocations(uuid).await.map_err(s)?;
        }
        self.placement.move_allocations(&m.uuid, uuid).await.map_err(s)?;
        self.migration_status(m, "error").await?;
        self.instance_update(uuid, &InstanceUpdate { task_state: TaskPatch::Clear, ..Default::default() }).await?;
        self.event(ctx, uuid, event, start, &Err(why.to_string())).await;
        Ok(())
    }

    /// The common start of a move: the instance's source allocations go to its migration
    /// and the scheduler claims a destination for it (with `flavor`, and never the source
    /// unless `source_allowed`). `None`: no host would do, and the move was abandoned.
    async fn claim_destination(&self, ctx: &RpcContext, a: &MoveArgs, flavor: Option<&Flavor>, source_allowed: bool, step: (&str, i64)) -> Result<Option<(Migration, Instance, String, Destination)>, String> {
        let mut m = self.migration(a.migration).await?;
        let i = self.instance(&a.instance).await?;
        let source = i.host.clone().ok_or("the instance is on no host")?;
        self.placement.move_allocations(&i.uuid, &m.uuid).await.map_err(s)?;
        let mut spec = self.spec_of(&i).await?;
        if let Some(f) = flavor {
            spec.flavor = f.clone();
        }
        spec.requested_host = a.host.clone();
        let excluded = if source_allowed { vec![] } else { vec![source.clone()] };
        match self.select(ctx, &i.uuid, &spec, &excluded).await {
            Ok(dest) => Ok(Some((m, i, source, dest))),
            Err(why) => {
                self.abandon_move(ctx, &mut m, &i.uuid, false, step, &why).await?;
                Ok(None)
            }
        }
    }

    /// Resize and cold migration, up to VERIFY_RESIZE.
    async fn migrate_server(&self, ctx: &RpcContext, a: &MoveArgs) -> Result<(), String> {
        let start = now();
        let event = "conductor_migrate_server";
        let same_host_ok = a.flavor.is_some() && self.app.cfg.allow_resize_to_same_host;
        let Some((mut m, i, source, dest)) = self.claim_destination(ctx, a, a.flavor.as_ref(), same_host_ok, (event, start)).await? else { return Ok(()) };
        let new_flavor = a.flavor.clone().unwrap_or_else(|| i.flavor.clone());
        m.dest_compute = Some(dest.host.clone());
        m.dest_node = Some(dest.node.clone());
        self.migration_status(&mut m, "migrating").await?;
        self.instance_update(&i.uuid, &InstanceUpdate { task_state: TaskPatch::Set("resize_migrating".into()), ..Default::default() }).await?;
        if let Err(why) = self.compute::<_, Value>(&source, "resize_instance", &i, ctx).await {
            return self.abandon_move(ctx, &mut m, &i.uuid, true, (event, start), &why).await;
        }
        self.migration_status(&mut m, "post-migrating").await?;
        self.instance_update(&i.uuid, &InstanceUpdate { task_state: TaskPatch::Set("resize_finish".into()), ..Default::default() }).await?;
        let power_on = i.vm_state != "stopped";
        let mut moved = i.clone();
        moved.flavor = new_flavor.clone();
        moved.host = Some(dest.host.clone());
        moved.node = Some(dest.node.clone());
        if let Err(why) = self.compute::<_, Value>(&dest.host, "finish_resize", &(&moved, power_on), ctx).await {
            // The guest is stopped on the source and failed to start on the destination:
            // upstream's ERROR, from which a revert brings it back.
            self.migration_status(&mut m, "error").await?;
            self.instance_update(&i.uuid, &InstanceUpdate { vm_state: Some("error".into()), task_state: TaskPatch::Clear, ..Default::default() }).await?;
            self.fault(&i.uuid, Some(&dest.host), &why).await;
            self.event(ctx, &i.uuid, event, start, &Err(why.clone())).await;
            return Err(why);
        }
        let old_vm_state = i.vm_state.clone();
        self.relocate(&i.uuid, |x| {
            x.host = Some(dest.host.clone());
            x.node = Some(dest.node.clone());
            x.flavor = new_flavor;
            x.vm_state = "resized".into();
            x.task_state = None;
            x.power_state = if power_on { PowerState::Running.code() } else { PowerState::Shutdown.code() };
            x.system_metadata.insert("old_vm_state".into(), old_vm_state);
        })
        .await?;
        self.migration_status(&mut m, "finished").await?;
        self.event(ctx, &i.uuid, event, start, &Ok(())).await;
        Ok(())
    }

    async fn finished_migration(&self, uuid: &str) -> Result<Migration, String> {
        mdb::migration_latest(&self.app.db, uuid, &["resize", "migration"], &["finished"]).await.map_err(s)?.ok_or_else(|| format!("Migration for instance {uuid} could not be found."))
    }

    /// confirmResize: the source's copy and resources go; the new flavor is the flavor.
    async fn confirm_resize(&self, ctx: &RpcContext, uuid: &str) -> Result<(), String> {
        let start = now();
        let mut m = self.finished_migration(uuid).await?;
        let i = self.instance(uuid).await?;
        let outcome = self.finish_confirm(ctx, &mut m, &i).await;
        let vm_state = i.system_metadata.get("old_vm_state").cloned().filter(|s| s == "stopped").unwrap_or_else(|| "active".into());
        let mut u = InstanceUpdate { vm_state: Some(vm_state), task_state: TaskPatch::Clear, ..Default::default() };
        u.system_metadata.insert("old_vm_state".into(), None);
        self.instance_update(uuid, &u).await?;
        if let Some(mut spec) = self.app.request_spec_get(uuid).await.map_err(s)? {
            spec.flavor = i.flavor.clone();
            self.app.request_spec_update(uuid, &spec).await.map_err(s)?;
        }
        self.event(ctx, uuid, "compute_confirm_resize", start, &outcome).await;
        outcome
    }

    async fn finish_confirm(&self, ctx: &RpcContext, m: &mut Migration, i: &Instance) -> Result<(), String> {
        if let Some(source) = &m.source_compute {
            self.compute::<_, Value>(source, "confirm_resize", i, ctx).await?;
        }
        self.placement.delete_allocations(&m.uuid).await.map_err(s)?;
        self.migration_status(m, "confirmed").await
    }

    /// An instance deleted while waiting in VERIFY_RESIZE: its resize is confirmed first.
    pub(super) async fn confirm_resize_on_delete(&self, uuid: &str) {
        let Ok(Some(mut m)) = mdb::migration_latest(&self.app.db, uuid, &["resize", "migration"], &["finished"]).await else { return };
        let Ok(Some(i)) = idb::instance_get(&self.app.db, uuid).await else { return };
        if let Err(e) = self.finish_confirm(&RpcContext::internal("delete-resized"), &mut m, &i).await {
            tracing::warn!(instance = uuid, error = %e, "could not confirm the resize of a deleted instance");
        }
    }

    /// revertResize: the destination's guest and resources go, the source's come back.
    async fn revert_resize(&self, ctx: &RpcContext, uuid: &str) -> Result<(), String> {
        let start = now();
        let mut m = self.finished_migration(uuid).await?;
        let i = self.instance(uuid).await?;
        let source = m.source_compute.clone().ok_or("the migration has no source host")?;
        let old_flavor = m.old_flavor.clone().unwrap_or_else(|| i.flavor.clone());
        let old_vm_state = i.system_metadata.get("old_vm_state").cloned().unwrap_or_else(|| "active".into());
        let power_on = old_vm_state != "stopped";
        let outcome = async {
            if let Some(dest) = &i.host {
                self.compute::<_, Value>(dest, "revert_resize", &i, ctx).await?;
            }
            self.placement.delete_allocations(uuid).await.map_err(s)?;
            self.placement.move_allocations(&m.uuid, uuid).await.map_err(s)?;
            let mut back = i.clone();
            back.flavor = old_flavor.clone();
            back.host = Some(source.clone());
            back.node = m.source_node.clone();
            self.compute::<_, Value>(&source, "finish_revert_resize", &(&back, power_on), ctx).await
        }
        .await;
        match &outcome {
            Ok(_) => {
                self.relocate(uuid, |x| {
                    x.host = Some(source.clone());
                    x.node = m.source_node.clone();
                    x.flavor = old_flavor;
                    x.vm_state = old_vm_state;
                    x.task_state = None;
                    x.power_state = if power_on { PowerState::Running.code() } else { PowerState::Shutdown.code() };
                    x.system_metadata.remove("old_vm_state");
                })
                .await?;
                self.migration_status(&mut m, "reverted").await?;
            }
            Err(why) => {
                self.migration_status(&mut m, "error").await?;
                self.instance_update(uuid, &InstanceUpdate { vm_state: Some("error".into()), task_state: TaskPatch::Clear, ..Default::default() }).await?;
                self.fault(uuid, Some(&source), why).await;
            }
        }
        let outcome = outcome.map(|_| ());
        self.event(ctx, uuid, "compute_revert_resize", start, &outcome).await;
        outcome
    }

    /// os-migrateLive: the running guest moves; its state does not change.
    async fn live_migrate(&self, ctx: &RpcContext, a: &MoveArgs) -> Result<(), String> {
        let start = now();
        let event = "conductor_live_migrate_instance";
        let Some((mut m, i, source, dest)) = self.claim_destination(ctx, a, None, false, (event, start)).await? else { return Ok(()) };
        m.dest_compute = Some(dest.host.clone());
        m.dest_node = Some(dest.node.clone());
        self.migration_status(&mut m, "running").await?;
        let mut moved = i.clone();
        moved.host = Some(dest.host.clone());
        moved.node = Some(dest.node.clone());
        if let Err(why) = self.compute::<_, Value>(&dest.host, "live_migration_in", &(&moved, power_state_of(i.power_state)), ctx).await {
            return self.abandon_move(ctx, &mut m, &i.uuid, true, (event, start), &why).await;
        }
        if let Err(e) = self.compute::<_, Value>(&source, "live_migration_out", &i, ctx).await {
            tracing::warn!(instance = %i.uuid, %source, error = %e, "the source guest could not be cleaned up after a live migration");
        }
        self.relocate(&i.uuid, |x| {
            x.host = Some(dest.host.clone());
            x.node = Some(dest.node.clone());
            x.task_state = None;
        })
        .await?;
        self.placement.delete_allocations(&m.uuid).await.map_err(s)?;
        self.migration_status(&mut m, "completed").await?;
        self.event(ctx, &i.uuid, event, start, &Ok(())).await;
        Ok(())
    }

    /// Evacuate: rebuild the instance on another host while its own is down. The source's
    /// resources stay with the migration until the source comes back and destroys its copy.
    async fn evacuate(&self, ctx: &RpcContext, a: &MoveArgs, stopped: bool) -> Result<(), String> {
        let start = now();
        let event = "conductor_rebuild_server";
        let Some((mut m, i, _source, dest)) = self.claim_destination(ctx, a, None, false, (event, start)).await? else { return Ok(()) };
        m.dest_compute = Some(dest.host.clone());
        m.dest_node = Some(dest.node.clone());
        self.migration_status(&mut m, "pre-migrating").await?;
        self.relocate(&i.uuid, |x| {
            x.host = Some(dest.host.clone());
            x.node = Some(dest.node.clone());
            x.task_state = Some("rebuilding".into());
        })
        .await?;
        let args = crate::compute::RebuildArgs { instance: i.uuid.clone(), evacuate: true, stopped };
        let outcome = self.compute::<_, Value>(&dest.host, "rebuild_instance", &args, ctx).await.map(|_| ());
        self.migration_status(&mut m, if outcome.is_ok() { "done" } else { "failed" }).await?;
        self.event(ctx, &i.uuid, event, start, &outcome).await;
        outcome
    }

    /// The evacuation of `uuid` away from `host` not yet cleaned up there.
    async fn evacuation_from(&self, uuid: &str, host: &str) -> Result<Option<Migration>, String> {
        Ok(mdb::migration_latest(&self.app.db, uuid, &["evacuation"], &["done", "pre-migrating"]).await.map_err(s)?.filter(|m| m.source_compute.as_deref() == Some(host)))
    }

    async fn evacuated_from(&self, uuid: &str, host: &str) -> Result<Option<Instance>, String> {
        if self.evacuation_from(uuid, host).await?.is_none() {
            return Ok(None);
        }
        idb::instance_get(&self.app.db, uuid).await.map_err(s)
    }

    /// unshelve: an offloaded server is scheduled again (optionally into another zone),
    /// then its new host spawns it from the shelved image; a shelved one just starts.
    async fn unshelve(&self, ctx: &RpcContext, uuid: &str, az: Option<String>) -> Result<(), String> {
        let start = now();
        let i = self.instance(uuid).await?;
        let host = if i.vm_state == "shelved_offloaded" {
            let mut spec = self.spec_of(&i).await?;
            if az.is_some() {
                spec.availability_zone = az.clone();
            }
            let dest = match self.select(ctx, uuid, &spec, &[]).await {
                Ok(d) => d,
                Err(why) => {
                    self.instance_update(uuid, &InstanceUpdate { task_state: TaskPatch::Clear, ..Default::default() }).await?;
                    self.fault(uuid, None, &why).await;
                    self.event(ctx, uuid, "schedule_instances", start, &Err(why.clone())).await;
                    return Err(why);
                }
            };
            let zone = match az {
                Some(z) => Some(z),
                None => Some(self.app.host_availability_zone(&dest.host).await.map_err(s)?),
            };
            self.relocate(uuid, |x| {
                x.host = Some(dest.host.clone());
                x.node = Some(dest.node.clone());
                x.availability_zone = zone;
            })
            .await?;
            dest.host
        } else {
            i.host.clone().ok_or("the shelved instance is on no host")?
        };
        rpc::cast(self.bus.as_ref(), &rpc::compute_topic(&host), "unshelve_instance", &uuid, ctx).await
    }

    /// A shelved guest was let go: the instance is on no host and holds nothing.
    async fn shelve_offloaded(&self, uuid: &str) -> Result<(), String> {
        self.relocate(uuid, |x| {
            x.host = None;
            x.node = None;
            x.vm_state = "shelved_offloaded".into();
            x.task_state = None;
            x.power_state = PowerState::NoState.code();
        })
        .await?;
        self.placement.delete_allocations(uuid).await.map_err(s)
    }
}

