//! Starting Nova's internal services in a process: the conductor, the scheduler, and compute
//! managers for the given hypervisors, all on one bus, with Placement reached over REST with
//! the service user's token. `ferrostack up` runs them all beside the API.

use std::sync::Arc;

use crate::app::SharedApp;
use crate::compute::{ComputeManager, HostPolicy};
use crate::conductor::Conductor;
use crate::placement::{Placement, RestPlacement};
use crate::rpc;
use crate::scheduler::{RequestSpec, Scheduler};
use crate::service_auth::ServiceAuth;
use crate::virt::VirtDriver;

/// A hypervisor to run a compute manager for.
pub struct ComputeHost {
    pub host: String,
    pub driver: Arc<dyn VirtDriver>,
}

/// Starts the conductor and scheduler, then the compute hosts, then recovers builds a crash
/// interrupted.
pub async fn start(app: SharedApp, bus: Arc<dyn bus::Bus>, auth: Arc<ServiceAuth>, hosts: Vec<ComputeHost>) -> Result<(), String> {
    let placement: Arc<dyn Placement> = Arc::new(RestPlacement::new(auth.clone()));
    let _ = app.bus.set(bus.clone());
    let _ = app.placement.set(placement.clone());
    let images = Arc::new(crate::image::GlanceClient::new(auth.clone()));
    let _ = app.images.set(images.clone());
    let network = Arc::new(crate::network::NeutronClient::new(auth.clone()));
    let _ = app.network.set(network.clone());
    let _ = app.service_auth.set(auth);

    let conductor = Arc::new(Conductor { app: app.clone(), bus: bus.clone(), placement: placement.clone() });
    let conductor_topic = bus.consume(rpc::CONDUCTOR).await.map_err(|e| e.to_string())?;
    tokio::spawn(conductor.clone().run(conductor_topic));
    let scheduler = Arc::new(Scheduler { app: app.clone(), placement: placement.clone() });
    let mut consumer = bus.consume(rpc::SCHEDULER).await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Some(d) = consumer.next().await {
            let s = scheduler.clone();
            tokio::spawn(async move {
                let answer = match rpc::decode::<(String, RequestSpec, Vec<String>)>(&d.message) {
                    Ok(((uuid, spec, excluded), _ctx)) => serde_json::to_value(s.select_destination(&uuid, &spec, &excluded).await).map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                d.reply(answer);
            });
        }
    });

    let cfg = &app.cfg;
    let policy = HostPolicy {
        cpu_allocation_ratio: cfg.cpu_allocation_ratio,
        ram_allocation_ratio: cfg.ram_allocation_ratio,
        disk_allocation_ratio: cfg.disk_allocation_ratio,
        reserved_host_memory_mb: cfg.reserved_host_memory_mb,
        reserved_host_disk_mb: cfg.reserved_host_disk_mb,
        reserved_host_cpus: cfg.reserved_host_cpus,
    };
    for h in hosts {
        let manager = Arc::new(ComputeManager { host: h.host.clone(), driver: h.driver, bus: bus.clone(), placement: placement.clone(), images: Some(images.clone()), network: Some(network.clone()), policy: policy.clone(), group_locks: Default::default() });
        manager.start().await.map_err(|e| format!("compute host {}: {e}", h.host))?;
    }
    conductor.recover().await?;
    Ok(())
}
