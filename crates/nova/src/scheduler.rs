//! nova-scheduler (nova/scheduler/manager.py and filters/, weights/): asks Placement for the
//! compute nodes that can hold an instance's flavor, keeps those the filters accept (service
//! up and enabled, availability zone, server group (anti-)affinity, same/different host, hosts
//! that already failed this build), orders them by the weighers (free RAM, free vCPUs, soft
//! (anti-)affinity), and claims the instance's resources on the first that still has room: a
//! claim is atomic in Placement, so two schedulers can never over-commit a host.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::app::{now, SharedApp};
use crate::db::compute_nodes as cdb;
use crate::db::flavors::Flavor;
use crate::db::instances as idb;
use crate::placement::{Placement, Resources};

/// What one build asks for (nova/objects/request_spec.py).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestSpec {
    pub flavor: Flavor,
    pub project_id: String,
    pub user_id: String,
    pub image_id: Option<String>,
    pub availability_zone: Option<String>,
    /// The server group the instance joins, with its policy.
    pub group: Option<GroupSpec>,
    pub same_host: Vec<String>,
    pub different_host: Vec<String>,
    /// A destination an admin asked for (migrations, evacuation): only that host passes.
    #[serde(default)]
    pub requested_host: Option<String>,
    /// The networks and ports the instance gets, resolved by the API.
    #[serde(default)]
    pub networks: crate::network::NetworkRequest,
    /// Security group ids for the ports Nova creates (empty: Neutron's default group).
    #[serde(default)]
    pub security_groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupSpec {
    pub uuid: String,
    /// affinity, anti-affinity, soft-affinity or soft-anti-affinity.
    pub policy: String,
    /// `max_server_per_host` for anti-affinity.
    pub max_server_per_host: Option<i64>,
}

/// Where an instance goes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Destination {
    pub host: String,
    pub node: String,
    pub node_uuid: String,
}

/// The Placement resources a flavor needs.
pub fn flavor_resources(f: &Flavor) -> Resources {
    let mut r = Resources::new();
    r.insert("VCPU".into(), f.vcpus);
    r.insert("MEMORY_MB".into(), f.memory_mb);
    let disk = f.root_gb + f.ephemeral_gb + (f.swap + 1023) / 1024;
    if disk > 0 {
        r.insert("DISK_GB".into(), disk);
    }
    r
}

pub struct Scheduler {
    pub app: SharedApp,
    pub placement: Arc<dyn Placement>,
}

impl Scheduler {
    /// Picks and claims a host for `instance`, avoiding `excluded` hosts. `Err` carries the
    /// reason no host would do ("No valid host was found. ...").
    pub async fn select_destination(&self, instance: &str, spec: &RequestSpec, excluded: &[String]) -> Result<Destination, String> {
        let resources = flavor_resources(&spec.flavor);
        let candidates = self.placement.candidates(&resources, 1000).await.map_err(|e| format!("No valid host was found. {e}"))?;
        if candidates.is_empty() {
            return Err("No valid host was found. There are not enough hosts available.".into());
        }
        let nodes: BTreeMap<String, cdb::ComputeNode> = cdb::compute_node_list(&self.app.db).await.map_err(|e| e.to_string())?.into_iter().map(|n| (n.uuid.clone(), n)).collect();
        let services: BTreeMap<String, cdb::Service> =
            cdb::service_list(&self.app.db).await.map_err(|e| e.to_string())?.into_iter().filter(|s| s.binary == "nova-compute").map(|s| (s.host.clone(), s)).collect();
        let group_hosts = self.group_hosts(spec, instance).await?;
        let same: BTreeSet<String> = self.hosts_of(&spec.same_host).await?;
        let different: BTreeSet<String> = self.hosts_of(&spec.different_host).await?;
        let az_hosts = self.app.availability_zone_hosts().await.map_err(|e| e.to_string())?;
        let now = now();

        let mut passed = Vec::new();
        let mut why: BTreeMap<&'static str, usize> = BTreeMap::new();
        for c in candidates {
            let Some(node) = nodes.get(&c.provider) else { continue };
            let verdict: Result<(), &'static str> = (|| {
                let svc = services.get(&node.host).ok_or("ComputeFilter")?;
                if svc.disabled || !svc.is_up(now) {
                    return Err("ComputeFilter");
                }
                if excluded.contains(&node.host) {
                    return Err("RetryFilter");
                }
                if spec.requested_host.as_ref().is_some_and(|h| h != &node.host) {
                    return Err("RequestedHost");
                }
                if let Some(az) = &spec.availability_zone {
                    let host_az = az_hosts.get(&node.host).cloned().unwrap_or_else(|| self.app.cfg.default_availability_zone.clone());
                    if &host_az != az {
                        return Err("AvailabilityZoneFilter");
                    }
                }
                if let Some(g) = &spec.group {
                    let here = group_hosts.get(&node.host).copied().unwrap_or(0);
                    let others = group_hosts.values().sum::<i64>();
                    match g.policy.as_str() {
                        "affinity" if others > 0 && here == 0 => return Err("ServerGroupAffinityFilter"),
                        "anti-affinity" if here >= g.max_server_per_host.unwrap_or(1) => return Err("ServerGroupAntiAffinityFilter"),
                        _ => {}
                    }
                }
                if !spec.same_host.is_empty() && !same.contains(&node.host) {
                    return Err("SameHostFilter");
                }
                if different.contains(&node.host) {
                    return Err("DifferentHostFilter");
                }
                Ok(())
            })();
            match verdict {
                Ok(()) => passed.push((c, node.clone())),
                Err(f) => *why.entry(f).or_default() += 1,
            }
        }
        if passed.is_empty() {
            let filters: Vec<String> = why.iter().map(|(f, n)| format!("{f} removed {n}")).collect();
            return Err(format!("No valid host was found. There are not enough hosts available. ({})", filters.join(", ")));
        }
        // Weighers: soft (anti-)affinity first, then the most free RAM, then vCPUs.
        let soft = spec.group.as_ref().map(|g| g.policy.clone());
        passed.sort_by(|(a, na), (b, nb)| {
            let members = |n: &cdb::ComputeNode| group_hosts.get(&n.host).copied().unwrap_or(0);
            let soft_ord = match soft.as_deref() {
                Some("soft-affinity") => members(nb).cmp(&members(na)),
                Some("soft-anti-affinity") => members(na).cmp(&members(nb)),
                _ => std::cmp::Ordering::Equal,
            };
            let free = |c: &crate::placement::Candidate, rc: &str| c.free.get(rc).copied().unwrap_or(0);
            soft_ord.then_with(|| free(b, "MEMORY_MB").cmp(&free(a, "MEMORY_MB"))).then_with(|| free(b, "VCPU").cmp(&free(a, "VCPU"))).then_with(|| na.hypervisor_hostname.cmp(&nb.hypervisor_hostname))
        });
        for (c, node) in passed {
            match self.placement.claim(instance, &c.provider, &resources, &spec.project_id, &spec.user_id).await {
                Ok(true) => return Ok(Destination { host: node.host.clone(), node: node.hypervisor_hostname.clone(), node_uuid: node.uuid.clone() }),
                Ok(false) => continue,
                Err(e) => return Err(format!("No valid host was found. Claiming resources failed: {e}")),
            }
        }
        Err("No valid host was found. Every candidate host filled up while claiming.".into())
    }

    /// Hosts of the other live members of the instance's server group, with their counts.
    async fn group_hosts(&self, spec: &RequestSpec, instance: &str) -> Result<BTreeMap<String, i64>, String> {
        let mut out = BTreeMap::new();
        let Some(g) = &spec.group else { return Ok(out) };
        for member in self.app.server_group_members(&g.uuid).await.map_err(|e| e.to_string())? {
            if member == instance {
                continue;
            }
            if let Some(i) = idb::instance_get(&self.app.db, &member).await.map_err(|e| e.to_string())? {
                if let (false, Some(h)) = (i.deleted, i.host) {
                    *out.entry(h).or_default() += 1;
                }
            }
        }
        Ok(out)
    }

    async fn hosts_of(&self, uuids: &[String]) -> Result<BTreeSet<String>, String> {
        let mut out = BTreeSet::new();
        for u in uuids {
            if let Some(i) = idb::instance_get(&self.app.db, u).await.map_err(|e| e.to_string())? {
                if let Some(h) = i.host {
                    out.insert(h);
                }
            }
        }
        Ok(out)
    }
}
