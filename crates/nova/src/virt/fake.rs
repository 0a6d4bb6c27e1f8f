//! The fake hypervisor (nova/virt/fake.py, but keeping real state): instances with power
//! states, disks sized from their flavor, and a console log, persisted as JSON under the data
//! dir so a restart finds what was running. Operations can take a configurable time, and
//! spawns of instances whose name matches a pattern fail, to exercise rescheduling and faults.
//!
//! Its "disk" is a 1 MiB raw image that names the instance and the image it was built from,
//! so a snapshot is a real image Glance can inspect and a server can boot from. A resize or
//! cold migration sets the source guest aside under `<uuid>.resize` until it is confirmed or
//! reverted, on the same host or another.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{HostResources, PowerState, Snapshot, VirtDriver, VirtError};
use crate::db::instances::Instance;

/// How a fake host behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub hypervisor_hostname: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    /// Time each operation takes.
    pub op_delay: Duration,
    /// Spawning an instance whose name matches fails (a "hardware" fault on this host).
    pub fail_spawn: Option<regex::Regex>,
    /// Where the state is kept (`None`: memory only).
    pub state_file: Option<PathBuf>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FakeInstance {
    name: String,
    power_state: PowerState,
    vcpus: i64,
    memory_mb: i64,
    disk_gb: i64,
    console: Vec<String>,
    #[serde(default)]
    image_ref: Option<String>,
    #[serde(default)]
    spawned_at: i64,
    #[serde(default)]
    rescued: bool,
    #[serde(default)]
    config_drive: bool,
    /// The MAC addresses of the plugged VIFs, by port id.
    #[serde(default)]
    vifs: BTreeMap<String, String>,
}

/// The fake disk's size: small, but a real raw image.
const DISK_BYTES: usize = 1 << 20;

/// Where a guest set aside by a resize or cold migration is kept.
fn resize_key(uuid: &str) -> String {
    format!("{uuid}.resize")
}

pub struct FakeDriver {
    cfg: FakeConfig,
    instances: Mutex<BTreeMap<String, FakeInstance>>,
    /// When this fake host "booted" (its uptime counts from here).
    booted: std::time::Instant,
}

impl FakeDriver {
    pub fn new(cfg: FakeConfig) -> Self {
        let instances = cfg
            .state_file
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self { cfg, instances: Mutex::new(instances), booted: std::time::Instant::now() }
    }

    async fn settle(&self) {
        if !self.cfg.op_delay.is_zero() {
            tokio::time::sleep(self.cfg.op_delay).await;
        }
    }

    /// Writes the state file (atomically: a temporary file renamed into place).
    async fn persist(&self, all: &BTreeMap<String, FakeInstance>) -> Result<(), VirtError> {
        let Some(path) = &self.cfg.state_file else { return Ok(()) };
        let bytes = serde_json::to_vec(all).map_err(|e| VirtError::Failed(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, bytes).await.map_err(|e| VirtError::Failed(format!("cannot save fake hypervisor state: {e}")))?;
        tokio::fs::rename(&tmp, path).await.map_err(|e| VirtError::Failed(format!("cannot save fake hypervisor state: {e}")))
    }

    /// A new guest for `instance` (its current flavor and image).
    fn guest(&self, instance: &Instance, power_state: PowerState, how: &str) -> FakeInstance {
        let f = &instance.flavor;
        FakeInstance {
            name: instance.display_name.clone(),
            power_state,
            vcpus: f.vcpus,
            memory_mb: f.memory_mb,
            disk_gb: f.root_gb + f.ephemeral_gb,
            console: vec![format!("fake hypervisor {}: {how} {} ({})", self.cfg.hypervisor_hostname, instance.display_name, instance.uuid), "login: ".into()],
            image_ref: instance.image_ref.clone(),
            spawned_at: crate::app::now(),
            rescued: false,
            config_drive: instance.config_drive.as_deref().is_some_and(|c| !c.is_empty()),
            vifs: instance.network_info.iter().map(|v| (v.id.clone(), v.address.clone())).collect(),
        }
    }

    /// Moves an instance from one of `from` to `to`, logging `line` on its console.
    async fn transition(&self, uuid: &str, from: &[PowerState], to: PowerState, line: &str) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        let inst = all.get_mut(uuid).ok_or_else(|| VirtError::NotFound(uuid.to_string()))?;
        if !from.contains(&inst.power_state) {
            return Err(VirtError::Failed(format!("instance {uuid} is {:?}, cannot go to {to:?}", inst.power_state)));
        }
        inst.power_state = to;
        inst.console.push(line.to_string());
        self.persist(&all).await
    }
}

#[async_trait]
impl VirtDriver for FakeDriver {
    async fn init_host(&self) -> Result<(), VirtError> {
        Ok(())
    }

    async fn available_resource(&self) -> Result<HostResources, VirtError> {
        Ok(HostResources {
            hypervisor_hostname: self.cfg.hypervisor_hostname.clone(),
            hypervisor_type: "fake".into(),
            hypervisor_version: 1000,
            vcpus: self.cfg.vcpus,
            memory_mb: self.cfg.memory_mb,
            local_gb: self.cfg.local_gb,
            cpu_info: serde_json::json!({"arch": "x86_64", "model": "fake", "vendor": "ferrostack", "topology": {"sockets": 1, "cores": self.cfg.vcpus, "threads": 1}, "features": []}),
        })
    }

    async fn list_instances(&self) -> Result<Vec<String>, VirtError> {
        Ok(self.instances.lock().await.keys().filter(|k| !k.ends_with(".resize")).cloned().collect())
    }

    async fn spawn(&self, instance: &Instance) -> Result<(), VirtError> {
        self.settle().await;
        if self.cfg.fail_spawn.as_ref().is_some_and(|re| re.is_match(&instance.display_name)) {
            return Err(VirtError::BuildFailed { uuid: instance.uuid.clone(), reason: format!("fake hypervisor {} refused to spawn it (fail_spawn)", self.cfg.hypervisor_hostname) });
        }
        let mut all = self.instances.lock().await;
        all.insert(instance.uuid.clone(), self.guest(instance, PowerState::Running, "booting"));
        self.persist(&all).await
    }

    async fn destroy(&self, instance: &Instance) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        if all.remove(&instance.uuid).is_some() {
            self.persist(&all).await?;
        }
        Ok(())
    }

    async fn power_off(&self, instance: &Instance) -> Result<(), VirtError> {
        self.transition(&instance.uuid, &[PowerState::Running, PowerState::Paused, PowerState::Shutdown, PowerState::Crashed], PowerState::Shutdown, "reboot: Power down").await
    }

    async fn power_on(&self, instance: &Instance) -> Result<(), VirtError> {
        self.transition(&instance.uuid, &[PowerState::Shutdown, PowerState::Running, PowerState::Crashed], PowerState::Running, "booting").await
    }

    async fn reboot(&self, instance: &Instance, hard: bool) -> Result<(), VirtError> {
        let line = if hard { "reset: hard reboot" } else { "reboot: Restarting system" };
        let from: &[PowerState] = if hard { &[PowerState::Running, PowerState::Shutdown, PowerState::Paused, PowerState::Suspended, PowerState::Crashed] } else { &[PowerState::Running] };
        self.transition(&instance.uuid, from, PowerState::Running, line).await
    }

    async fn pause(&self, instance: &Instance) -> Result<(), VirtError> {
        self.transition(&instance.uuid, &[PowerState::Running], PowerState::Paused, "paused").await
    }

    async fn unpause(&self, instance: &Instance) -> Result<(), VirtError> {
        self.transition(&instance.uuid, &[PowerState::Paused], PowerState::Running, "unpaused").await
    }

    async fn suspend(&self, instance: &Instance) -> Result<(), VirtError> {
        self.transition(&instance.uuid, &[PowerState::Running, PowerState::Paused], PowerState::Suspended, "PM: suspend").await
    }

    async fn resume(&self, instance: &Instance) -> Result<(), VirtError> {
        self.transition(&instance.uuid, &[PowerState::Suspended], PowerState::Running, "PM: resume").await
    }

    async fn power_state(&self, uuid: &str) -> Result<PowerState, VirtError> {
        self.instances.lock().await.get(uuid).map(|i| i.power_state).ok_or_else(|| VirtError::NotFound(uuid.to_string()))
    }

    async fn console_output(&self, uuid: &str) -> Result<String, VirtError> {
        self.instances.lock().await.get(uuid).map(|i| i.console.join("\n") + "\n").ok_or_else(|| VirtError::NotFound(uuid.to_string()))
    }

    async fn snapshot(&self, instance: &Instance) -> Result<Snapshot, VirtError> {
        self.settle().await;
        let all = self.instances.lock().await;
        let g = all.get(&instance.uuid).ok_or_else(|| VirtError::NotFound(instance.uuid.clone()))?;
        let mut data = format!("FERROSTACK FAKE DISK\ninstance={}\nname={}\nimage={}\nhypervisor={}\n", instance.uuid, g.name, g.image_ref.as_deref().unwrap_or(""), self.cfg.hypervisor_hostname).into_bytes();
        data.resize(DISK_BYTES, 0);
        Ok(Snapshot { disk_format: "raw".into(), container_format: "bare".into(), data })
    }

    async fn rescue(&self, instance: &Instance) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        let g = all.get_mut(&instance.uuid).ok_or_else(|| VirtError::NotFound(instance.uuid.clone()))?;
        if g.rescued {
            return Err(VirtError::Failed(format!("instance {} is already rescued", instance.uuid)));
        }
        g.rescued = true;
        g.power_state = PowerState::Running;
        g.console.push("booting the rescue image".into());
        self.persist(&all).await
    }

    async fn unrescue(&self, instance: &Instance) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        let g = all.get_mut(&instance.uuid).ok_or_else(|| VirtError::NotFound(instance.uuid.clone()))?;
        if !g.rescued {
            return Err(VirtError::Failed(format!("instance {} is not rescued", instance.uuid)));
        }
        g.rescued = false;
        g.power_state = PowerState::Running;
        g.console.push("booting".into());
        self.persist(&all).await
    }

    async fn trigger_crash_dump(&self, instance: &Instance) -> Result<(), VirtError> {
        self.transition(&instance.uuid, &[PowerState::Running, PowerState::Paused], PowerState::Running, "Kernel panic - not syncing: NMI: Not continuing").await
    }

    async fn diagnostics(&self, instance: &Instance) -> Result<serde_json::Value, VirtError> {
        let all = self.instances.lock().await;
        let g = all.get(&instance.uuid).ok_or_else(|| VirtError::NotFound(instance.uuid.clone()))?;
        let state = match g.power_state {
            PowerState::Running => "running",
            PowerState::Paused => "paused",
            PowerState::Shutdown => "shutdown",
            PowerState::Crashed => "crashed",
            PowerState::Suspended => "suspended",
            PowerState::NoState => "pending",
        };
        let uptime = (crate::app::now() - g.spawned_at).max(0) / 1_000_000;
        let cpus: Vec<serde_json::Value> = (0..g.vcpus).map(|id| serde_json::json!({"id": id, "time": 0, "utilisation": null})).collect();
        Ok(serde_json::json!({
            "state": state,
            "driver": "fake",
            "hypervisor": "fake",
            "hypervisor_os": "ferrostack",
            "uptime": uptime,
            "config_drive": g.config_drive,
            "num_cpus": g.vcpus,
            "num_nics": 0,
            "num_disks": 1,
            "cpu_details": cpus,
            "nic_details": [],
            "disk_details": [{"read_bytes": 0, "read_requests": 0, "write_bytes": 0, "write_requests": 0, "errors_count": 0}],
            "memory_details": {"maximum": g.memory_mb, "used": 0}
        }))
    }

    async fn migrate_disk_and_power_off(&self, instance: &Instance) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        let mut g = all.remove(&instance.uuid).ok_or_else(|| VirtError::NotFound(instance.uuid.clone()))?;
        g.power_state = PowerState::Shutdown;
        g.console.push("reboot: Power down (migrating)".into());
        all.insert(resize_key(&instance.uuid), g);
        self.persist(&all).await
    }

    async fn finish_migration(&self, instance: &Instance, power_on: bool) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        let power = if power_on { PowerState::Running } else { PowerState::Shutdown };
        all.insert(instance.uuid.clone(), self.guest(instance, power, "migrated in"));
        self.persist(&all).await
    }

    async fn confirm_migration(&self, instance: &Instance) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        if all.remove(&resize_key(&instance.uuid)).is_some() {
            self.persist(&all).await?;
        }
        Ok(())
    }

    async fn finish_revert_migration(&self, instance: &Instance, power_on: bool) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        let mut g = all.remove(&resize_key(&instance.uuid)).ok_or_else(|| VirtError::NotFound(instance.uuid.clone()))?;
        g.power_state = if power_on { PowerState::Running } else { PowerState::Shutdown };
        g.console.push("booting (resize reverted)".into());
        all.insert(instance.uuid.clone(), g);
        self.persist(&all).await
    }

    async fn host_uptime(&self) -> Result<String, VirtError> {
        let up = self.booted.elapsed().as_secs();
        let now = chrono::Utc::now().format("%H:%M:%S");
        let guests = self.instances.lock().await.len();
        Ok(format!(" {now} up {} days, {:2}:{:02},  {guests} guests,  load average: 0.00, 0.00, 0.00", up / 86400, (up % 86400) / 3600, (up % 3600) / 60))
    }

    async fn receive_live_migration(&self, instance: &Instance, state: PowerState) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        all.insert(instance.uuid.clone(), self.guest(instance, state, "live-migrated in"));
        self.persist(&all).await
    }

    async fn attach_interface(&self, instance: &Instance, vif: &crate::network::Vif) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        let g = all.get_mut(&instance.uuid).ok_or_else(|| VirtError::NotFound(instance.uuid.clone()))?;
        if g.vifs.contains_key(&vif.id) {
            return Err(VirtError::Failed(format!("interface {} is already plugged into {}", vif.id, instance.uuid)));
        }
        g.vifs.insert(vif.id.clone(), vif.address.clone());
        g.console.push(format!("virtio-net: link up on {} ({})", vif.devname, vif.address));
        self.persist(&all).await
    }

    async fn detach_interface(&self, instance: &Instance, vif_id: &str) -> Result<(), VirtError> {
        self.settle().await;
        let mut all = self.instances.lock().await;
        let g = all.get_mut(&instance.uuid).ok_or_else(|| VirtError::NotFound(instance.uuid.clone()))?;
        if let Some(mac) = g.vifs.remove(vif_id) {
            g.console.push(format!("virtio-net: {mac} removed"));
        }
        self.persist(&all).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn instance(name: &str) -> Instance {
        let flavor = crate::db::flavors::Flavor {
            id: 1,
            flavorid: "1".into(),
            name: "m1.tiny".into(),
            memory_mb: 512,
            vcpus: 1,
            root_gb: 1,
            ephemeral_gb: 0,
            swap: 0,
            rxtx_factor: 1.0,
            vcpu_weight: None,
            disabled: false,
            is_public: true,
            description: None,
            extra_specs: Default::default(),
            created_at: 0,
            updated_at: 0,
        };
        Instance {
            uuid: common::ids::new_uuid(),
            display_name: name.into(),
            display_description: None,
            hostname: name.into(),
            project_id: "p".into(),
            user_id: "u".into(),
            image_ref: None,
            flavor,
            vm_state: "building".into(),
            task_state: None,
            power_state: 0,
            host: None,
            node: None,
            availability_zone: None,
            key_name: None,
            key_data: None,
            user_data: None,
            config_drive: None,
            locked_by: None,
            locked_reason: None,
            access_ip_v4: None,
            access_ip_v6: None,
            progress: 0,
            launch_index: 0,
            reservation_id: None,
            launched_at: None,
            terminated_at: None,
            created_at: 0,
            updated_at: 0,
            deleted_at: None,
            deleted: false,
            metadata: Default::default(),
            system_metadata: Default::default(),
            tags: vec![],
            network_info: vec![],
        }
    }

    #[tokio::test]
    async fn keeps_power_state_across_a_restart_and_refuses_impossible_moves() {
        let dir = std::env::temp_dir().join(format!("fake-virt-{}", common::ids::new_hex_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = FakeConfig {
            hypervisor_hostname: "fake-1".into(),
            vcpus: 4,
            memory_mb: 8192,
            local_gb: 100,
            op_delay: Duration::ZERO,
            fail_spawn: Some(regex::Regex::new("^doomed").unwrap()),
            state_file: Some(dir.join("fake-1.json")),
        };
        let d = FakeDriver::new(cfg.clone());
        let vm = instance("vm1");
        d.spawn(&vm).await.unwrap();
        d.power_off(&vm).await.unwrap();
        assert!(d.pause(&vm).await.is_err(), "a stopped guest cannot be paused");
        assert!(matches!(d.spawn(&instance("doomed-1")).await, Err(VirtError::BuildFailed { .. })));

        let again = FakeDriver::new(cfg);
        assert_eq!(again.power_state(&vm.uuid).await.unwrap(), PowerState::Shutdown);
        again.power_on(&vm).await.unwrap();
        assert!(again.console_output(&vm.uuid).await.unwrap().contains("booting"));
        again.destroy(&vm).await.unwrap();
        assert!(again.list_instances().await.unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
