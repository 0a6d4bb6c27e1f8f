//! The hypervisor boundary (nova/virt/driver.py): everything nova-compute asks of a
//! hypervisor goes through [`VirtDriver`]. The fake driver keeps real state for tests and
//! scale runs; the QEMU driver (a later issue) implements the same trait.

pub mod fake;

use async_trait::async_trait;

use crate::db::instances::Instance;

/// Power states as nova/compute/power_state.py numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PowerState {
    NoState = 0,
    Running = 1,
    Paused = 3,
    Shutdown = 4,
    Crashed = 6,
    Suspended = 7,
}

impl PowerState {
    pub fn code(self) -> i64 {
        self as i64
    }
}

/// What a hypervisor host offers (the compute node record and the placement inventory).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HostResources {
    pub hypervisor_hostname: String,
    pub hypervisor_type: String,
    pub hypervisor_version: i64,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub cpu_info: serde_json::Value,
}

#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum VirtError {
    #[error("instance {0} is not on this hypervisor")]
    NotFound(String),
    /// The build failed in a way another host might not (rescheduled).
    #[error("build of instance {uuid} failed: {reason}")]
    BuildFailed { uuid: String, reason: String },
    #[error("{0}")]
    Failed(String),
}

#[async_trait]
pub trait VirtDriver: Send + Sync {
    /// Called once when the compute service starts.
    async fn init_host(&self) -> Result<(), VirtError>;
    async fn available_resource(&self) -> Result<HostResources, VirtError>;
    /// The uuids of the instances this hypervisor runs.
    async fn list_instances(&self) -> Result<Vec<String>, VirtError>;
    async fn spawn(&self, instance: &Instance) -> Result<(), VirtError>;
    /// Removes an instance and its disks; an instance that is not there is already gone.
    async fn destroy(&self, instance: &Instance) -> Result<(), VirtError>;
    async fn power_off(&self, instance: &Instance) -> Result<(), VirtError>;
    async fn power_on(&self, instance: &Instance) -> Result<(), VirtError>;
    async fn reboot(&self, instance: &Instance, hard: bool) -> Result<(), VirtError>;
    async fn pause(&self, instance: &Instance) -> Result<(), VirtError>;
    async fn unpause(&self, instance: &Instance) -> Result<(), VirtError>;
    async fn suspend(&self, instance: &Instance) -> Result<(), VirtError>;
    async fn resume(&self, instance: &Instance) -> Result<(), VirtError>;
    async fn power_state(&self, uuid: &str) -> Result<PowerState, VirtError>;
    async fn console_output(&self, uuid: &str) -> Result<String, VirtError>;
    /// The guest's root disk as an image (the guest keeps running, or was stopped first).
    async fn snapshot(&self, instance: &Instance) -> Result<Snapshot, VirtError>;
    /// Boots the guest from a rescue disk, its own disk attached second.
    async fn rescue(&self, instance: &Instance) -> Result<(), VirtError>;
    async fn unrescue(&self, instance: &Instance) -> Result<(), VirtError>;
    /// Injects an NMI so the guest kernel dumps its memory.
    async fn trigger_crash_dump(&self, instance: &Instance) -> Result<(), VirtError>;
    /// The guest's diagnostics in upstream's 2.48 shape.
    async fn diagnostics(&self, instance: &Instance) -> Result<serde_json::Value, VirtError>;
    /// Resize and cold migration, on the source: stop the guest and set its disks aside
    /// (kept until the move is confirmed or reverted).
    async fn migrate_disk_and_power_off(&self, instance: &Instance) -> Result<(), VirtError>;
    /// On the destination: the guest with the instance's (new) flavor, running if `power_on`.
    async fn finish_migration(&self, instance: &Instance, power_on: bool) -> Result<(), VirtError>;
    /// On the source, once the move is confirmed: drop what was set aside.
    async fn confirm_migration(&self, instance: &Instance) -> Result<(), VirtError>;
    /// On the source, when the move is reverted: bring back what was set aside.
    async fn finish_revert_migration(&self, instance: &Instance, power_on: bool) -> Result<(), VirtError>;
    /// The host's `uptime` line (`os-hypervisors/{id}/uptime`).
    async fn host_uptime(&self) -> Result<String, VirtError>;
    /// Live migration, on the destination: take over the running guest in `state`.
    async fn receive_live_migration(&self, instance: &Instance, state: PowerState) -> Result<(), VirtError>;
    /// Plugs a VIF into a running (or stopped) guest (os-interface attach). `spawn` plugs
    /// the VIFs of `instance.network_info` itself.
    async fn attach_interface(&self, instance: &Instance, vif: &crate::network::Vif) -> Result<(), VirtError>;
    /// Unplugs a VIF; one that is not plugged is already gone.
    async fn detach_interface(&self, instance: &Instance, vif_id: &str) -> Result<(), VirtError>;
}

/// A guest disk captured as an image.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub disk_format: String,
    pub container_format: String,
    pub data: Vec<u8>,
}
