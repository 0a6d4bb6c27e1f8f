//! The ring builder: assigns every replica of every partition to a device, as
//! swift/common/ring/builder.py (`RingBuilder`).
//!
//! # How a rebalance works (upstream's algorithm, rewritten)
//!
//! Devices form a tree of tiers: region, zone, server (ip), device. From the weights the builder
//! makes a *replica plan*: for every tier, how many replicas of each partition it should hold
//! ("replicanths": 1.5 means half the partitions have 2 replicas there and half have 1). The plan
//! is the weighted share, pushed towards "as unique as possible" (at most one replica per failure
//! domain while there are enough domains) by the builder's overload. Each device then *wants* a
//! number of partition-replicas, and the builder:
//!
//! 1. gathers replicas from removed devices (always: those are usually failed disks),
//! 2. gathers replicas that break the plan's dispersion limits,
//! 3. gathers replicas from devices holding more than they want, preferring those whose move
//!    also improves dispersion,
//! 4. places the gathered replicas, walking down the tier tree to the tier with the most room
//!    that still has fewer replicas of the partition than the plan allows.
//!
//! Steps 3 and 4 repeat up to three times. A partition that was moved is not moved again for
//! `min_part_hours`, and at most one replica of a partition moves in one rebalance (removed
//! devices excepted), so data stays reachable while replication catches up.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::device::{Device, DeviceSearch, NewDevice};
use super::io::write_atomically;
use super::ring::RingData;
use super::RingError;

/// The balance shown for a device that has no weight but still holds partitions.
pub const MAX_BALANCE: f64 = 999.99;
/// How many gather/place rounds a rebalance tries before settling.
const MAX_BALANCE_GATHER_COUNT: usize = 3;
/// Marks a replica slot not assigned to any device, during a rebalance.
const NONE_DEV_ID: u32 = u32::MAX;
/// The largest partition power (partitions are the top bits of a 32-bit hash).
pub const MAX_PART_POWER: u32 = 32;
/// Tolerance for sums of floating-point replicanths.
const EPSILON: f64 = 1e-10;

/// What a rebalance did.
#[derive(Debug, Clone, PartialEq)]
pub struct RebalanceResult {
    /// Number of partition-replicas now on a different device than before.
    pub changed_parts: usize,
    /// The ring's balance afterwards (see [`RingBuilder::get_balance`]).
    pub balance: f64,
    /// Number of devices removed from the ring by this rebalance.
    pub removed_devices: usize,
    /// The ring's dispersion afterwards (see [`RingBuilder::dispersion`]).
    pub dispersion: f64,
}

/// Builds and changes a ring (upstream's `RingBuilder`).
#[derive(Debug, Clone)]
pub struct RingBuilder {
    part_power: u32,
    next_part_power: Option<u32>,
    replicas: f64,
    min_part_hours: u32,
    /// Devices indexed by id; `None` for ids of removed devices.
    devs: Vec<Option<Device>>,
    /// Partition-replicas assigned to each device, indexed by id; kept as long as `devs`.
    dev_parts: Vec<i64>,
    devs_changed: bool,
    version: u64,
    overload: f64,
    id: Option<String>,
    /// `replica2part2dev[replica][partition]` = device id; `None` until the first rebalance.
    replica2part2dev: Option<Vec<Vec<u32>>>,
    /// Hours since each partition last moved, saturating at 255.
    last_part_moves: Vec<u8>,
    /// The time (seconds since the epoch) `last_part_moves` counts from.
    last_part_moves_epoch: u64,
    last_part_gather_start: usize,
    dispersion: Option<f64>,
    /// Ids of devices to drop at the next rebalance.
    remove_devs: Vec<u32>,
}

impl RingBuilder {
    /// A builder for `2^part_power` partitions with `replicas` replicas each (fractional counts
    /// such as 2.5 are allowed, at least 1), where a partition moved once may not move again for
    /// `min_part_hours`.
    pub fn new(
        part_power: u32,
        replicas: f64,
        min_part_hours: u32,
    ) -> Result<RingBuilder, RingError> {
        if part_power > MAX_PART_POWER {
            return Err(RingError::InvalidValue(format!(
                "part_power must be at most 32 (was {part_power})"
            )));
        }
        if !(replicas >= 1.0 && replicas.is_finite()) {
            return Err(RingError::InvalidValue(format!(
                "replicas must be at least 1 (was {replicas:.6})"
            )));
        }
        let parts = 1usize << part_power;
        Ok(RingBuilder {
            part_power,
            next_part_power: None,
            replicas,
            min_part_hours,
            devs: Vec::new(),
            dev_parts: Vec::new(),
            devs_changed: false,
            version: 0,
            overload: 0.0,
            id: None,
            replica2part2dev: None,
            last_part_moves: vec![0; parts],
            last_part_moves_epoch: 0,
            last_part_gather_start: 0,
            dispersion: Some(0.0),
            remove_devs: Vec::new(),
        })
    }

    pub fn part_power(&self) -> u32 {
        self.part_power
    }

    pub fn next_part_power(&self) -> Option<u32> {
        self.next_part_power
    }

    /// Number of partitions, `2^part_power`.
    pub fn parts(&self) -> usize {
        1usize << self.part_power
    }

    pub fn replicas(&self) -> f64 {
        self.replicas
    }

    pub fn min_part_hours(&self) -> u32 {
        self.min_part_hours
    }

    /// The builder's version: bumped by every change and every rebalance.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// How far the builder may go past a device's weighted share to disperse replicas better,
    /// as a fraction (0.1 = 10%).
    pub fn overload(&self) -> f64 {
        self.overload
    }

    /// The builder's id, assigned when it is first saved.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Whether devices were added, removed or changed since the last rebalance.
    pub fn devs_changed(&self) -> bool {
        self.devs_changed
    }

    /// Whether the builder has ever been rebalanced.
    pub fn ever_rebalanced(&self) -> bool {
        self.replica2part2dev.is_some()
    }

    /// The percentage of partition-replicas placed less dispersed than the topology allows, as
    /// of the last rebalance (`None` only for builders that never computed it).
    pub fn dispersion(&self) -> Option<f64> {
        self.dispersion
    }

    /// Devices indexed by id; `None` for ids of removed devices.
    pub fn devs(&self) -> &[Option<Device>] {
        &self.devs
    }

    /// The devices that exist.
    pub fn iter_devs(&self) -> impl Iterator<Item = &Device> {
        self.devs.iter().flatten()
    }

    /// One device by id.
    pub fn dev(&self, id: u32) -> Option<&Device> {
        self.devs.get(id as usize).and_then(Option::as_ref)
    }

    /// How many partition-replicas a device holds.
    pub fn dev_parts(&self, id: u32) -> u64 {
        self.dev_parts
            .get(id as usize)
            .map(|&parts| parts.max(0) as u64)
            .unwrap_or(0)
    }

    /// Whether the device will be dropped at the next rebalance.
    pub fn is_marked_for_removal(&self, id: u32) -> bool {
        self.remove_devs.contains(&id)
    }

    /// The assignment table, once rebalanced.
    pub fn replica2part2dev(&self) -> Option<&[Vec<u32>]> {
        self.replica2part2dev.as_deref()
    }

    /// Hours since the partition last moved (saturating at 255), as of the last rebalance.
    pub fn last_part_move_hours(&self, part: usize) -> Option<u8> {
        self.last_part_moves.get(part).copied()
    }

    /// Devices matching a search.
    pub fn search_devs(&self, search: &DeviceSearch) -> Vec<&Device> {
        self.iter_devs().filter(|dev| search.matches(dev)).collect()
    }

    /// Seconds until every partition may move again (based on the system clock).
    pub fn min_part_seconds_left(&self) -> u64 {
        self.min_part_seconds_left_at(now_secs())
    }

    /// Seconds until every partition may move again, as of `now` (seconds since the epoch).
    pub fn min_part_seconds_left_at(&self, now: u64) -> u64 {
        let elapsed = now.saturating_sub(self.last_part_moves_epoch);
        (u64::from(self.min_part_hours) * 3600).saturating_sub(elapsed)
    }

    /// Changes `min_part_hours`.
    pub fn change_min_part_hours(&mut self, min_part_hours: u32) {
        self.min_part_hours = min_part_hours;
    }

    /// Changes the overload (a fraction, at least 0).
    pub fn set_overload(&mut self, overload: f64) -> Result<(), RingError> {
        if !(overload >= 0.0 && overload.is_finite()) {
            return Err(RingError::InvalidValue(format!(
                "Overload must be non-negative (was {overload})"
            )));
        }
        self.overload = overload;
        Ok(())
    }

    /// Changes the replica count; takes effect at the next rebalance.
    pub fn set_replicas(&mut self, replicas: f64) -> Result<(), RingError> {
        if !(replicas >= 1.0 && replicas.is_finite()) {
            return Err(RingError::InvalidValue(format!(
                "replicas must be at least 1 (was {replicas:.6})"
            )));
        }
        let parts = self.parts() as f64;
        if (parts * self.replicas).floor() != (parts * replicas).floor() {
            self.devs_changed = true;
        }
        self.replicas = replicas;
        Ok(())
    }

    /// Marks every partition as moved long ago, so the next rebalance may move anything.
    pub fn pretend_min_part_hours_passed(&mut self) {
        self.last_part_moves_epoch = 0;
        if self.replica2part2dev.is_some() {
            self.last_part_moves
                .iter_mut()
                .for_each(|hours| *hours = u8::MAX);
        }
    }

    /// Adds a device; it gets partitions at the next rebalance. Returns its id.
    pub fn add_dev(&mut self, new: NewDevice) -> Result<u32, RingError> {
        let id = match new.id {
            Some(id) => id,
            None => self
                .devs
                .iter()
                .position(Option::is_none)
                .unwrap_or(self.devs.len()) as u32,
        };
        if self.dev(id).is_some() {
            return Err(RingError::DuplicateDevice(id));
        }
        if id > super::io::MAX_V1_DEV_ID {
            return Err(RingError::InvalidValue(format!(
                "device id {id} is too large (at most {})",
                super::io::MAX_V1_DEV_ID
            )));
        }
        check_weight(new.weight)?;
        if !super::device::is_valid_device_name(&new.device) {
            return Err(RingError::InvalidValue("Invalid device name".to_string()));
        }
        let device = Device {
            id,
            region: new.region,
            zone: new.zone,
            replication_ip: new.replication_ip.unwrap_or_else(|| new.ip.clone()),
            replication_port: new.replication_port.unwrap_or(new.port),
            ip: new.ip,
            port: new.port,
            device: new.device,
            weight: new.weight,
            meta: new.meta,
        };
        let index = id as usize;
        if index >= self.devs.len() {
            self.devs.resize(index + 1, None);
            self.dev_parts.resize(index + 1, 0);
        }
        self.devs[index] = Some(device);
        self.dev_parts[index] = 0;
        self.devs_changed = true;
        self.version += 1;
        Ok(id)
    }

    /// Changes a device's weight; partitions move at the next rebalance.
    pub fn set_dev_weight(&mut self, id: u32, weight: f64) -> Result<(), RingError> {
        check_weight(weight)?;
        self.modify_dev(id, "set weight", |dev| dev.weight = weight)
    }

    /// Moves a device to another region; partitions move at the next rebalance.
    pub fn set_dev_region(&mut self, id: u32, region: u32) -> Result<(), RingError> {
        self.modify_dev(id, "set region", |dev| dev.region = region)
    }

    /// Moves a device to another zone; partitions move at the next rebalance.
    pub fn set_dev_zone(&mut self, id: u32, zone: u32) -> Result<(), RingError> {
        self.modify_dev(id, "set zone", |dev| dev.zone = zone)
    }

    fn modify_dev(
        &mut self,
        id: u32,
        action: &'static str,
        change: impl FnOnce(&mut Device),
    ) -> Result<(), RingError> {
        if self.remove_devs.contains(&id) {
            return Err(RingError::MarkedForRemoval { id, action });
        }
        let dev = self
            .devs
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or(RingError::DeviceNotFound(id))?;
        change(dev);
        self.devs_changed = true;
        self.version += 1;
        Ok(())
    }

    /// Marks a device for removal: its weight drops to 0 now, and the next rebalance moves its
    /// partitions elsewhere (ignoring `min_part_hours`, as it is usually a failed disk) and drops
    /// it from the ring.
    pub fn remove_dev(&mut self, id: u32) -> Result<(), RingError> {
        let dev = self
            .devs
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or(RingError::DeviceNotFound(id))?;
        dev.weight = 0.0;
        if !self.remove_devs.contains(&id) {
            self.remove_devs.push(id);
        }
        self.devs_changed = true;
        self.version += 1;
        Ok(())
    }

    /// Total weight of all devices.
    fn total_weight(&self) -> f64 {
        self.iter_devs().map(|dev| dev.weight).sum()
    }

    /// Partition-replicas per unit of weight.
    pub fn weight_of_one_part(&self) -> Result<f64, RingError> {
        let total = self.total_weight();
        if total <= 0.0 {
            return Err(RingError::EmptyRing);
        }
        Ok(self.parts() as f64 * self.replicas / total)
    }

    /// Each device's balance: the percentage by which the partitions it holds differ from its
    /// weighted share (+5.0 = 5% more than its share). A device with no weight but with
    /// partitions shows [`MAX_BALANCE`].
    pub fn balance_per_dev(&self) -> Result<HashMap<u32, f64>, RingError> {
        let weight_of_one_part = self.weight_of_one_part()?;
        Ok(self
            .iter_devs()
            .map(|dev| {
                let parts = self.dev_parts(dev.id) as f64;
                let balance = if dev.weight > 0.0 {
                    100.0 * parts / (dev.weight * weight_of_one_part) - 100.0
                } else if parts > 0.0 {
                    MAX_BALANCE
                } else {
                    0.0
                };
                (dev.id, balance)
            })
            .collect())
    }

    /// The ring's balance: the largest absolute device balance (see [`Self::balance_per_dev`]).
    pub fn get_balance(&self) -> Result<f64, RingError> {
        Ok(self
            .balance_per_dev()?
            .values()
            .fold(0.0, |worst: f64, balance| worst.max(balance.abs())))
    }

    /// The smallest overload that would let the ring be fully dispersed: the largest relative
    /// amount any device would have to hold above its weighted share.
    pub fn get_required_overload(&self) -> Result<f64, RingError> {
        let tree = TierTree::build(&self.devs);
        let weighted = self.weighted_replicas_by_tier(&tree)?;
        let wanted = self.wanted_replicas_by_tier(&tree, &weighted)?;
        Ok(required_overload(&tree, &weighted, &wanted))
    }

    /// The ring data to write to a ring file.
    pub fn get_ring(&self) -> RingData {
        RingData {
            devs: self.devs.clone(),
            replica2part2dev_id: self.replica2part2dev.clone().unwrap_or_default(),
            part_shift: MAX_PART_POWER - self.part_power,
            next_part_power: self.next_part_power,
            version: Some(self.version),
        }
    }

    /// Checks the assignments: every partition has its replicas on existing devices, no device
    /// holds two replicas of one partition, and the per-device counts add up (upstream's
    /// `validate`). The builder refuses to rebalance with fewer weighted devices than replicas,
    /// so a duplicate is never unavoidable.
    pub fn validate(&self) -> Result<(), RingError> {
        let Some(table) = &self.replica2part2dev else {
            return Err(RingError::Validation(
                "_replica2part2dev empty; did you forget to rebalance?".to_string(),
            ));
        };
        let parts_on_devs: i64 = self
            .iter_devs()
            .map(|dev| self.dev_parts[dev.id as usize])
            .sum();
        let parts_in_map: usize = table.iter().map(Vec::len).sum();
        if parts_on_devs != parts_in_map as i64 {
            return Err(RingError::Validation(format!(
                "All partitions are not double accounted for: {parts_on_devs} != {parts_in_map}"
            )));
        }
        let whole_replicas = self.replicas.ceil() as usize;
        if table.len() != whole_replicas {
            return Err(RingError::Validation(format!(
                "There are {} replica rows for {} replicas; did you forget to rebalance?",
                table.len(),
                self.replicas
            )));
        }
        let parts = self.parts();
        let mut devs_for_part = Vec::with_capacity(table.len());
        for part in 0..parts {
            devs_for_part.clear();
            for (replica, part2dev) in table.iter().enumerate() {
                let Some(&dev_id) = part2dev.get(part) else {
                    if replica + 1 < whole_replicas {
                        return Err(RingError::Validation(format!(
                            "The partition assignments of replica {replica} were shorter than expected ({} < {parts}) - \
                             this should only happen for the last replica",
                            part2dev.len()
                        )));
                    }
                    break;
                };
                if self.dev(dev_id).is_none() {
                    return Err(RingError::Validation(format!(
                        "Partition {part}, replica {replica} was not allocated to a device."
                    )));
                }
                if devs_for_part.contains(&dev_id) {
                    devs_for_part.push(dev_id);
                    return Err(RingError::Validation(format!(
                        "The partition {part} has been assigned to duplicate devices {devs_for_part:?}"
                    )));
                }
                devs_for_part.push(dev_id);
            }
        }
        Ok(())
    }

    /// Rebalances using the system clock; see [`Self::rebalance_at`].
    pub fn rebalance(&mut self, seed: Option<u64>) -> Result<RebalanceResult, RingError> {
        self.rebalance_at(now_secs(), seed)
    }

    /// Rebalances as of `now` (seconds since the epoch; tests pass their own clock). `seed` makes
    /// the result repeatable. On error the builder is left unchanged.
    pub fn rebalance_at(
        &mut self,
        now: u64,
        seed: Option<u64>,
    ) -> Result<RebalanceResult, RingError> {
        let mut work = self.clone();
        let result = work.rebalance_in_place(now, seed.unwrap_or_else(random_seed))?;
        *self = work;
        Ok(result)
    }

    fn rebalance_in_place(&mut self, now: u64, seed: u64) -> Result<RebalanceResult, RingError> {
        let weighted_devices = self.iter_devs().filter(|dev| dev.weight > 0.0).count();
        if (weighted_devices as f64) < self.replicas {
            return Err(RingError::Validation(format!(
                "Replica count of {} requires more than {weighted_devices} devices",
                self.replicas
            )));
        }
        let old_table = self.replica2part2dev.clone().unwrap_or_default();
        let moved = self.update_last_part_moves(now);
        let tree = TierTree::build(&self.devs);
        let plan = self.build_replica_plan(&tree)?;
        let parts_wanted = self.parts_wanted(&tree, &plan)?;
        let parts = self.parts();
        let mut rebalance = Rebalance {
            builder: self,
            tree,
            plan,
            parts_wanted,
            moved,
            rng: Rng::new(seed),
            counts: Vec::new(),
            touched: Vec::new(),
        };
        rebalance.counts = vec![0; rebalance.tree.len()];
        let mut assign = AssignParts::new(parts);
        rebalance.adjust_replica2part2dev_size(&mut assign);
        rebalance.gather_parts_from_removed_devices(&mut assign);
        rebalance.gather_parts_for_dispersion(&mut assign);
        let removed_devices = rebalance.builder.remove_devices();
        for gather_count in 0..MAX_BALANCE_GATHER_COUNT {
            rebalance.gather_parts_for_balance(&mut assign, gather_count == 0);
            if assign.is_empty() {
                // Most likely min_part_hours holds everything else in place.
                break;
            }
            let mut to_place = assign.take();
            // No preference for the order the plan is fulfilled in.
            rebalance.rng.shuffle(&mut to_place);
            rebalance.reassign_parts(&to_place)?;
            let builder = &*rebalance.builder;
            if !builder
                .iter_devs()
                .any(|dev| rebalance.parts_wanted[dev.id as usize] < 0)
            {
                break;
            }
        }
        self.devs_changed = false;
        let changed_parts = self.count_changed_parts(&old_table);
        let dispersion = self.compute_dispersion()?;
        self.dispersion = Some(dispersion);
        self.version += 1;
        Ok(RebalanceResult {
            changed_parts,
            balance: self.get_balance()?,
            removed_devices,
            dispersion,
        })
    }

    /// Ages `last_part_moves` by the hours elapsed since the last rebalance; returns a fresh
    /// "moved in this rebalance" flag per partition.
    fn update_last_part_moves(&mut self, now: u64) -> Vec<bool> {
        let parts = self.parts();
        self.last_part_moves.resize(parts, 0);
        let elapsed_hours = now.saturating_sub(self.last_part_moves_epoch) / 3600;
        if elapsed_hours > 0 {
            let elapsed = u8::try_from(elapsed_hours).unwrap_or(u8::MAX);
            for hours in &mut self.last_part_moves {
                *hours = hours.saturating_add(elapsed);
            }
            self.last_part_moves_epoch = now;
        }
        vec![false; parts]
    }

    /// Drops the devices marked for removal; returns how many.
    fn remove_devices(&mut self) -> usize {
        let removed = self.remove_devs.len();
        for id in std::mem::take(&mut self.remove_devs) {
            if let Some(slot) = self.devs.get_mut(id as usize) {
                *slot = None;
            }
            if let Some(count) = self.dev_parts.get_mut(id as usize) {
                *count = 0;
            }
        }
        while matches!(self.devs.last(), Some(None)) {
            self.devs.pop();
        }
        self.dev_parts.truncate(self.devs.len());
        removed
    }

    fn count_changed_parts(&self, old_table: &[Vec<u32>]) -> usize {
        let Some(table) = &self.replica2part2dev else {
            return 0;
        };
        table
            .iter()
            .enumerate()
            .map(|(replica, part2dev)| {
                part2dev
                    .iter()
                    .enumerate()
                    .filter(|&(part, dev_id)| {
                        old_table.get(replica).and_then(|old| old.get(part)) != Some(dev_id)
                    })
                    .count()
            })
            .sum()
    }

    /// Dispersion: the percentage of partition-replicas that sit in a tier already holding as
    /// many replicas of their partition as the topology allows (counted once per replica, at the
    /// tier where it is worst).
    pub fn compute_dispersion(&self) -> Result<f64, RingError> {
        Ok(self.dispersion_report()?.dispersion)
    }

    /// Per-tier dispersion figures, as `swift-ring-builder dispersion` shows them.
    pub fn dispersion_report(&self) -> Result<DispersionReport, RingError> {
        let tree = TierTree::build(&self.devs);
        let max_allowed = self.max_replicas_by_tier(&tree, f64::ceil);
        let whole_replicas = self.replicas.ceil() as usize;
        let parts = self.parts();
        let mut graph = vec![vec![0usize; whole_replicas + 1]; tree.len()];
        let mut present = vec![false; tree.len()];
        let mut parts_at_risk = 0.0;
        let mut counts = vec![0usize; tree.len()];
        let mut touched = Vec::new();
        if let Some(table) = &self.replica2part2dev {
            for part in 0..parts {
                for part2dev in table {
                    let Some(&dev_id) = part2dev.get(part) else {
                        continue;
                    };
                    let Some(tiers) = tree.dev_tiers(dev_id) else {
                        continue;
                    };
                    for tier in tiers {
                        if counts[tier] == 0 {
                            touched.push(tier);
                        }
                        counts[tier] += 1;
                    }
                }
                let mut risk_by_depth = [0.0f64; 5];
                for &tier in &touched {
                    let replicas = counts[tier];
                    present[tier] = true;
                    if let Some(slot) = graph[tier].get_mut(replicas) {
                        *slot += 1;
                    }
                    let allowed = max_allowed[tier];
                    if replicas as f64 > allowed {
                        risk_by_depth[tree.depth[tier]] += replicas as f64 - allowed;
                    }
                    counts[tier] = 0;
                }
                touched.clear();
                parts_at_risk += risk_by_depth
                    .iter()
                    .fold(0.0f64, |worst, &risk| worst.max(risk));
            }
        }
        let mut order: Vec<usize> = (1..tree.len()).filter(|&tier| present[tier]).collect();
        order.sort_by_cached_key(|&tier| {
            tree.path(tier)
                .into_iter()
                .map(|node| tree.key[node].clone())
                .collect::<Vec<_>>()
        });
        let mut tiers = Vec::new();
        let mut worst: Option<(f64, String)> = None;
        for tier in order {
            let mut replicas = graph[tier].clone();
            let placed_parts: usize = replicas
                .iter()
                .enumerate()
                .map(|(count, parts)| count * parts)
                .sum();
            replicas[0] = parts - replicas[1..].iter().sum::<usize>();
            let max_replicas = max_allowed[tier] as usize;
            let at_risk: usize = replicas
                .iter()
                .enumerate()
                .skip(max_replicas + 1)
                .map(|(count, parts)| parts * (count - max_replicas))
                .sum();
            let dispersion = if placed_parts > 0 {
                100.0 * at_risk as f64 / placed_parts as f64
            } else {
                0.0
            };
            let name = tree.name(tier, &self.devs);
            if dispersion > worst.as_ref().map(|(value, _)| *value).unwrap_or(0.0) {
                worst = Some((dispersion, name.clone()));
            }
            tiers.push(TierDispersion {
                name,
                placed_parts,
                dispersion,
                max_replicas,
                replicas,
            });
        }
        let dispersion = if parts > 0 {
            100.0 * parts_at_risk / (parts as f64 * self.replicas)
        } else {
            0.0
        };
        Ok(DispersionReport {
            dispersion,
            worst_tier: worst,
            tiers,
        })
    }

    // ---- the replica plan ----

    /// Each tier's share of replicas by weight alone (a device holds at most one replica of a
    /// partition; what that cap leaves over goes to the other devices in proportion).
    fn weighted_replicas_by_tier(&self, tree: &TierTree) -> Result<Vec<f64>, RingError> {
        let weight_of_one_part = self.weight_of_one_part()?;
        let parts = self.parts() as f64;
        let mut per_dev: Vec<(u32, f64)> = Vec::new();
        for dev in self.iter_devs().filter(|dev| dev.weight > 0.0) {
            per_dev.push((dev.id, (dev.weight * weight_of_one_part / parts).min(1.0)));
        }
        let mut rounds = 0;
        loop {
            let remaining = self.replicas - per_dev.iter().map(|(_, share)| share).sum::<f64>();
            if remaining < EPSILON {
                break;
            }
            let room: f64 = per_dev
                .iter()
                .filter(|(_, share)| *share < 1.0)
                .map(|(_, share)| share)
                .sum();
            rounds += 1;
            if room <= 0.0 || rounds > 1000 {
                return Err(RingError::Validation(format!(
                    "cannot spread {} replicas over the devices' weights",
                    self.replicas
                )));
            }
            let relative = remaining / room;
            for (_, share) in per_dev.iter_mut().filter(|(_, share)| *share < 1.0) {
                *share = (*share * (relative + 1.0)).min(1.0);
            }
        }
        let mut by_tier = vec![0.0; tree.len()];
        for (id, share) in per_dev {
            if let Some(tiers) = tree.dev_tiers(id) {
                by_tier[ROOT] += share;
                for tier in tiers {
                    by_tier[tier] += share;
                }
            }
        }
        validate_replicas_by_tier(tree, self.replicas, &by_tier)?;
        Ok(by_tier)
    }

    /// The most replicas of a partition each tier may hold if replicas are spread as evenly as
    /// the tree allows, `bound` rounding each level's even split (upstream's
    /// `_build_max_replicas_by_tier`). Tiers with no weighted device get 0.
    fn max_replicas_by_tier(&self, tree: &TierTree, bound: fn(f64) -> f64) -> Vec<f64> {
        let mut max = vec![0.0; tree.len()];
        fn walk(
            tree: &TierTree,
            tier: usize,
            replicas: f64,
            bound: fn(f64) -> f64,
            max: &mut [f64],
        ) {
            let replicas = if tree.depth[tier] == 4 {
                replicas.min(1.0)
            } else {
                replicas
            };
            max[tier] = replicas;
            let children = &tree.children[tier];
            for &child in children {
                walk(
                    tree,
                    child,
                    bound(replicas / children.len() as f64),
                    bound,
                    max,
                );
            }
        }
        if tree.has_weighted_devices() {
            walk(tree, ROOT, self.replicas, bound, &mut max);
        }
        max
    }

    /// Each tier's share of replicas if they were spread "as unique as possible" (no tier gets
    /// more than its even split of its parent's while others have room), guided by weight
    /// within those limits (upstream's `_build_wanted_replicas_by_tier`).
    fn wanted_replicas_by_tier(
        &self,
        tree: &TierTree,
        weighted: &[f64],
    ) -> Result<Vec<f64>, RingError> {
        let even = self.max_replicas_by_tier(tree, |replicas| replicas);
        let mut wanted = vec![0.0; tree.len()];
        if tree.has_weighted_devices() {
            self.place_wanted_replicas(tree, weighted, &even, ROOT, self.replicas, &mut wanted)?;
        }
        validate_replicas_by_tier(tree, self.replicas, &wanted)?;
        Ok(wanted)
    }

    fn place_wanted_replicas(
        &self,
        tree: &TierTree,
        weighted: &[f64],
        even: &[f64],
        tier: usize,
        replicanths: f64,
        wanted: &mut [f64],
    ) -> Result<(), RingError> {
        let devices = tree.weighted_devices[tier] as f64;
        if replicanths > devices + EPSILON {
            return Err(RingError::Validation(format!(
                "More replicanths ({replicanths}) than devices ({devices}) in tier ({})",
                tree.name(tier, &self.devs)
            )));
        }
        wanted[tier] = replicanths;
        let children = &tree.children[tier];
        if children.is_empty() {
            return Ok(());
        }
        let floor = |child: usize| even[child].floor();
        let ceil = |child: usize| even[child].ceil();
        let devices_in = |child: usize| tree.weighted_devices[child] as f64;
        let mut to_place: HashMap<usize, f64> =
            children.iter().map(|&child| (child, 0.0)).collect();
        let mut spread: Vec<usize> = children.clone();
        let mut remaining = replicanths;
        let mut device_limited = false;
        let mut rounds = 0;
        loop {
            rounds += 1;
            let weight: f64 = spread.iter().map(|&child| weighted[child]).sum();
            if spread.is_empty() || weight <= 0.0 || rounds > 1000 {
                return Err(RingError::Validation(format!(
                    "cannot place {replicanths} replicanths in tier ({})",
                    tree.name(tier, &self.devs)
                )));
            }
            let relative = remaining / weight;
            for &child in &spread {
                let mut replicas = to_place[&child] + weighted[child] * relative;
                if replicas < floor(child) {
                    replicas = floor(child);
                } else if replicas > ceil(child) && !device_limited {
                    replicas = ceil(child);
                }
                if replicas > devices_in(child) {
                    replicas = devices_in(child);
                }
                to_place.insert(child, replicas);
            }
            remaining = replicanths - children.iter().map(|child| to_place[child]).sum::<f64>();
            if remaining < -EPSILON {
                spread = children
                    .iter()
                    .copied()
                    .filter(|&child| to_place[&child] > floor(child))
                    .collect();
            } else if remaining > EPSILON {
                spread = children
                    .iter()
                    .copied()
                    .filter(|&child| {
                        devices_in(child) > to_place[&child] && to_place[&child] < ceil(child)
                    })
                    .collect();
                if spread.is_empty() {
                    device_limited = true;
                    spread = children
                        .iter()
                        .copied()
                        .filter(|&child| to_place[&child] < devices_in(child))
                        .collect();
                }
            } else {
                break;
            }
        }
        for &child in children {
            self.place_wanted_replicas(tree, weighted, even, child, to_place[&child], wanted)?;
        }
        Ok(())
    }

    /// The plan: for every tier the target replicanths (weighted share moved towards the
    /// dispersed share by as much overload as allowed), and its floor and ceiling.
    fn build_replica_plan(&self, tree: &TierTree) -> Result<Plan, RingError> {
        let weighted = self.weighted_replicas_by_tier(tree)?;
        let wanted = self.wanted_replicas_by_tier(tree, &weighted)?;
        let max_overload = required_overload(tree, &weighted, &wanted);
        let target = if max_overload <= 0.0 {
            wanted
        } else {
            let overload = self.overload.min(max_overload);
            let target: Vec<f64> = weighted
                .iter()
                .zip(&wanted)
                .map(|(&weighted, &wanted)| {
                    (wanted - weighted) / max_overload * overload + weighted
                })
                .collect();
            validate_replicas_by_tier(tree, self.replicas, &target)?;
            target
        };
        Ok(Plan {
            min: target
                .iter()
                .map(|&r| (r + EPSILON).floor() as i64)
                .collect(),
            max: target
                .iter()
                .map(|&r| (r - EPSILON).ceil() as i64)
                .collect(),
            target,
        })
    }

    /// How many partition-replicas each device wants to gain (negative: to shed), from the plan.
    fn parts_wanted(&self, tree: &TierTree, plan: &Plan) -> Result<Vec<i64>, RingError> {
        let parts = self.parts();
        let total_parts = (self.replicas * parts as f64).floor() as i64;
        let mut parts_by_tier = vec![0i64; tree.len()];
        fn place(
            tree: &TierTree,
            plan: &Plan,
            parts: usize,
            tier: usize,
            mut count: i64,
            by_tier: &mut [i64],
        ) {
            by_tier[tier] = count;
            let children = &tree.children[tier];
            if children.is_empty() {
                return;
            }
            let mut to_place = vec![0i64; children.len()];
            for (slot, &child) in to_place.iter_mut().zip(children) {
                *slot = count.min((plan.target[child] * parts as f64).floor() as i64);
                count -= *slot;
            }
            // Whatever rounding left over goes round the children, smallest target first.
            let mut order: Vec<usize> = (0..children.len()).collect();
            order.sort_by(|&a, &b| plan.target[children[a]].total_cmp(&plan.target[children[b]]));
            for &slot in order.iter().cycle() {
                if count <= 0 {
                    break;
                }
                to_place[slot] += 1;
                count -= 1;
            }
            for (&child, &count) in children.iter().zip(&to_place) {
                place(tree, plan, parts, child, count, by_tier);
            }
        }
        if tree.has_weighted_devices() {
            place(tree, plan, parts, ROOT, total_parts, &mut parts_by_tier);
        }
        for (depth, level) in TIER_LEVEL_NAMES.iter().enumerate() {
            let sum: i64 = (0..tree.len())
                .filter(|&tier| tree.depth[tier] == depth)
                .map(|tier| parts_by_tier[tier])
                .sum();
            if sum != total_parts {
                return Err(RingError::Validation(format!(
                    "{sum} != {total_parts} at tier {level}"
                )));
            }
        }
        let mut wanted = vec![0i64; self.devs.len()];
        for dev in self.iter_devs() {
            let id = dev.id as usize;
            wanted[id] = if dev.weight > 0.0 {
                tree.dev_tiers(dev.id)
                    .map(|tiers| parts_by_tier[tiers[3]])
                    .unwrap_or(0)
                    - self.dev_parts[id]
            } else {
                // No weight: drain the device, it wants to give away everything.
                -((parts as f64 * self.replicas) as i64)
            };
        }
        Ok(wanted)
    }

    // ---- builder files ----

    /// Loads a builder file.
    pub fn load(path: impl AsRef<Path>) -> Result<RingBuilder, RingError> {
        let path = path.as_ref();
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(RingError::BuilderFileNotFound(path.to_path_buf()))
            }
            Err(source) => return Err(RingError::io("read", path, source)),
        };
        let invalid = |reason: String| RingError::InvalidBuilderFile {
            path: path.to_path_buf(),
            reason,
        };
        let file: BuilderFile =
            serde_json::from_slice(&bytes).map_err(|err| invalid(err.to_string()))?;
        if file.format != BUILDER_FORMAT || file.format_version != BUILDER_FORMAT_VERSION {
            return Err(invalid(format!(
                "not a {BUILDER_FORMAT} file of version {BUILDER_FORMAT_VERSION} (found {:?} version {})",
                file.format, file.format_version
            )));
        }
        RingBuilder::from_file(file).map_err(invalid)
    }

    /// Saves the builder file atomically; assigns the builder's id on first save.
    pub fn save(&mut self, path: impl AsRef<Path>) -> Result<(), RingError> {
        if self.id.is_none() {
            self.id = Some(new_builder_id());
        }
        let file = self.to_file();
        let bytes = serde_json::to_vec(&file)
            .map_err(|err| RingError::InvalidValue(format!("cannot encode the builder: {err}")))?;
        write_atomically(path.as_ref(), &bytes)
    }

    fn to_file(&self) -> BuilderFile {
        BuilderFile {
            format: BUILDER_FORMAT.to_string(),
            format_version: BUILDER_FORMAT_VERSION,
            id: self.id.clone(),
            part_power: self.part_power,
            next_part_power: self.next_part_power,
            replicas: self.replicas,
            min_part_hours: self.min_part_hours,
            overload: self.overload,
            version: self.version,
            devs_changed: self.devs_changed,
            devs: self.devs.clone(),
            remove_devs: self.remove_devs.clone(),
            replica2part2dev: self.replica2part2dev.clone(),
            last_part_moves_epoch: self.last_part_moves_epoch,
            last_part_moves: self.last_part_moves.clone(),
            last_part_gather_start: self.last_part_gather_start,
            dispersion: self.dispersion,
        }
    }

    fn from_file(file: BuilderFile) -> Result<RingBuilder, String> {
        let mut builder = RingBuilder::new(file.part_power, file.replicas, file.min_part_hours)
            .map_err(|err| err.to_string())?;
        let parts = builder.parts();
        for (index, dev) in file.devs.iter().enumerate() {
            if let Some(dev) = dev {
                if dev.id as usize != index {
                    return Err(format!("device {} is stored at index {index}", dev.id));
                }
            }
        }
        if let Some(table) = &file.replica2part2dev {
            for part2dev in table {
                if part2dev.len() > parts {
                    return Err("a replica row is longer than the partition count".to_string());
                }
                if let Some(bad) = part2dev.iter().find(|&&id| {
                    id != NONE_DEV_ID && file.devs.get(id as usize).is_none_or(Option::is_none)
                }) {
                    return Err(format!(
                        "partitions are assigned to device {bad}, which does not exist"
                    ));
                }
            }
        }
        builder.next_part_power = file.next_part_power;
        builder.overload = file.overload;
        builder.version = file.version;
        builder.devs_changed = file.devs_changed;
        builder.id = file.id;
        builder.devs = file.devs;
        builder.remove_devs = file.remove_devs;
        builder.replica2part2dev = file.replica2part2dev;
        builder.last_part_moves_epoch = file.last_part_moves_epoch;
        builder.last_part_moves = file.last_part_moves;
        builder.last_part_moves.resize(parts, 0);
        builder.last_part_gather_start = file.last_part_gather_start;
        builder.dispersion = file.dispersion;
        builder.recount_parts();
        Ok(builder)
    }

    /// Recomputes each device's partition count from the assignment table.
    fn recount_parts(&mut self) {
        self.dev_parts = vec![0; self.devs.len()];
        if let Some(table) = &self.replica2part2dev {
            for &dev_id in table.iter().flatten() {
                if let Some(count) = self.dev_parts.get_mut(dev_id as usize) {
                    *count += 1;
                }
            }
        }
    }
}

fn check_weight(weight: f64) -> Result<(), RingError> {
    if weight >= 0.0 && weight.is_finite() {
        Ok(())
    } else {
        Err(RingError::InvalidValue(format!(
            "Invalid weight value: {weight}"
        )))
    }
}

/// The largest relative increase over its weighted share any device needs for full dispersion.
fn required_overload(tree: &TierTree, weighted: &[f64], wanted: &[f64]) -> f64 {
    let mut max_overload: f64 = 0.0;
    for tier in 0..tree.len() {
        if tree.depth[tier] == 4 && weighted[tier] > 0.0 {
            max_overload = max_overload.max((wanted[tier] - weighted[tier]) / weighted[tier]);
        }
    }
    max_overload
}

const TIER_LEVEL_NAMES: [&str; 5] = ["cluster", "regions", "zones", "servers", "devices"];

/// The sum of replicanths at every level of the tree must be the replica count.
fn validate_replicas_by_tier(
    tree: &TierTree,
    replicas: f64,
    by_tier: &[f64],
) -> Result<(), RingError> {
    if !tree.has_weighted_devices() {
        return Ok(());
    }
    for (depth, level) in TIER_LEVEL_NAMES.iter().enumerate() {
        let sum: f64 = (0..tree.len())
            .filter(|&tier| tree.depth[tier] == depth)
            .map(|tier| by_tier[tier])
            .sum();
        if (sum - replicas).abs() > 1e-9 {
            return Err(RingError::Validation(format!(
                "{sum} != {replicas} at tier {level}"
            )));
        }
    }
    Ok(())
}

/// One tier's line of the dispersion report.
#[derive(Debug, Clone, PartialEq)]
pub struct TierDispersion {
    /// `r1`, `r1z2`, `r1z2-10.0.0.1` or `r1z2-10.0.0.1/sdb1`.
    pub name: String,
    /// Partition-replicas placed in the tier.
    pub placed_parts: usize,
    /// Percentage of them that are over `max_replicas` for their partition.
    pub dispersion: f64,
    /// The most replicas of one partition the tier should hold.
    pub max_replicas: usize,
    /// `replicas[n]`: partitions with `n` replicas in the tier.
    pub replicas: Vec<usize>,
}

/// The ring's dispersion, its worst tier and every tier's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct DispersionReport {
    pub dispersion: f64,
    /// The worst tier's dispersion and name, if any tier has replicas over its maximum.
    pub worst_tier: Option<(f64, String)>,
    pub tiers: Vec<TierDispersion>,
}

// ---- the tier tree ----

const ROOT: usize = 0;

/// The last element of a tier tuple; siblings sort by it, as upstream sorts tier tuples.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum TierKey {
    Root,
    Region(u32),
    Zone(u32),
    Ip(String),
    Device(u32),
}

/// The tiers of the builder's devices, interned: node 0 is the cluster, then regions, zones,
/// servers (by ip) and devices. `children` holds only tiers with a weighted device under them,
/// sorted as upstream sorts tier tuples; devices with no weight still get nodes, so the
/// replicas they hold can be counted.
#[derive(Debug)]
struct TierTree {
    key: Vec<TierKey>,
    parent: Vec<usize>,
    depth: Vec<usize>,
    children: Vec<Vec<usize>>,
    /// Weighted devices at or under each tier.
    weighted_devices: Vec<usize>,
    /// For each device id: its region, zone, server and device tiers.
    dev_tiers: Vec<Option<[usize; 4]>>,
}

impl TierTree {
    fn build(devs: &[Option<Device>]) -> TierTree {
        let mut tree = TierTree {
            key: vec![TierKey::Root],
            parent: vec![ROOT],
            depth: vec![0],
            children: vec![Vec::new()],
            weighted_devices: vec![0],
            dev_tiers: vec![None; devs.len()],
        };
        let mut index: HashMap<(usize, TierKey), usize> = HashMap::new();
        for dev in devs.iter().flatten() {
            let keys = [
                TierKey::Region(dev.region),
                TierKey::Zone(dev.zone),
                TierKey::Ip(dev.ip.clone()),
                TierKey::Device(dev.id),
            ];
            let weighted = dev.weight > 0.0;
            if weighted {
                tree.weighted_devices[ROOT] += 1;
            }
            let mut parent = ROOT;
            let mut tiers = [ROOT; 4];
            for (level, key) in keys.into_iter().enumerate() {
                let node = *index.entry((parent, key.clone())).or_insert_with(|| {
                    tree.key.push(key);
                    tree.parent.push(parent);
                    tree.depth.push(level + 1);
                    tree.children.push(Vec::new());
                    tree.weighted_devices.push(0);
                    tree.key.len() - 1
                });
                if weighted {
                    if tree.weighted_devices[node] == 0 {
                        tree.children[parent].push(node);
                    }
                    tree.weighted_devices[node] += 1;
                }
                tiers[level] = node;
                parent = node;
            }
            tree.dev_tiers[dev.id as usize] = Some(tiers);
        }
        let keys = tree.key.clone();
        for children in &mut tree.children {
            children.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        }
        tree
    }

    fn len(&self) -> usize {
        self.key.len()
    }

    fn has_weighted_devices(&self) -> bool {
        self.weighted_devices[ROOT] > 0
    }

    fn dev_tiers(&self, id: u32) -> Option<[usize; 4]> {
        self.dev_tiers.get(id as usize).copied().flatten()
    }

    /// Upstream's tier names: `r1`, `r1z2`, `r1z2-10.0.0.1`, `r1z2-10.0.0.1/sdb1`.
    /// The tiers from the cluster down to `tier`, the cluster itself left out.
    fn path(&self, tier: usize) -> Vec<usize> {
        let mut path = Vec::new();
        let mut node = tier;
        while node != ROOT {
            path.push(node);
            node = self.parent[node];
        }
        path.reverse();
        path
    }

    fn name(&self, tier: usize, devs: &[Option<Device>]) -> String {
        let mut name = String::new();
        for node in self.path(tier) {
            match &self.key[node] {
                TierKey::Root => {}
                TierKey::Region(region) => name.push_str(&format!("r{region}")),
                TierKey::Zone(zone) => name.push_str(&format!("z{zone}")),
                TierKey::Ip(ip) => name.push_str(&format!("-{ip}")),
                TierKey::Device(id) => match devs.get(*id as usize).and_then(Option::as_ref) {
                    Some(dev) => name.push_str(&format!("/{}", dev.device)),
                    None => name.push_str(&format!("/IDd{id}")),
                },
            }
        }
        if name.is_empty() {
            name.push_str("cluster");
        }
        name
    }
}

/// The replica plan per tier; tiers with no weighted device plan for nothing.
#[derive(Debug)]
struct Plan {
    min: Vec<i64>,
    target: Vec<f64>,
    max: Vec<i64>,
}

/// Partition-replicas gathered for placement, by partition, in the order first gathered.
struct AssignParts {
    by_part: Vec<Vec<u32>>,
    order: Vec<usize>,
}

impl AssignParts {
    fn new(parts: usize) -> Self {
        AssignParts {
            by_part: vec![Vec::new(); parts],
            order: Vec::new(),
        }
    }

    fn push(&mut self, part: usize, replica: usize) {
        if self.by_part[part].is_empty() {
            self.order.push(part);
        }
        self.by_part[part].push(replica as u32);
    }

    fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn take(&mut self) -> Vec<(usize, Vec<u32>)> {
        let order = std::mem::take(&mut self.order);
        order
            .into_iter()
            .map(|part| (part, std::mem::take(&mut self.by_part[part])))
            .collect()
    }
}

/// The state of one rebalance.
struct Rebalance<'a> {
    builder: &'a mut RingBuilder,
    tree: TierTree,
    plan: Plan,
    /// Per device id: partition-replicas it still wants (negative: too many).
    parts_wanted: Vec<i64>,
    /// Partitions already moved in this rebalance.
    moved: Vec<bool>,
    rng: Rng,
    /// Scratch: replicas of the current partition per tier; `touched` lists the non-zero ones.
    counts: Vec<i64>,
    touched: Vec<usize>,
}

impl Rebalance<'_> {
    fn table(&mut self) -> &mut Vec<Vec<u32>> {
        self.builder.replica2part2dev.get_or_insert_with(Vec::new)
    }

    fn can_part_move(&self, part: usize) -> bool {
        u32::from(self.builder.last_part_moves[part]) >= self.builder.min_part_hours
            && !self.moved[part]
    }

    fn set_part_moved(&mut self, part: usize) {
        self.builder.last_part_moves[part] = 0;
        self.moved[part] = true;
    }

    /// Replica rows that have this partition (all of them, but a short last row).
    fn replicas_for_part(&self, part: usize) -> Vec<usize> {
        self.builder
            .replica2part2dev
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, part2dev)| part < part2dev.len())
            .map(|(replica, _)| replica)
            .collect()
    }

    fn dev_at(&self, replica: usize, part: usize) -> Option<u32> {
        let table = self.builder.replica2part2dev.as_ref()?;
        let dev_id = *table.get(replica)?.get(part)?;
        (dev_id != NONE_DEV_ID).then_some(dev_id)
    }

    /// Fills `counts` with the replicas of `part` in each tier.
    fn count_replicas_at_tiers(&mut self, part: usize) {
        self.clear_counts();
        let Some(table) = &self.builder.replica2part2dev else {
            return;
        };
        for part2dev in table {
            let Some(&dev_id) = part2dev.get(part) else {
                continue;
            };
            if dev_id == NONE_DEV_ID {
                continue;
            }
            if let Some(tiers) = self.tree.dev_tiers(dev_id) {
                for tier in tiers {
                    if self.counts[tier] == 0 {
                        self.touched.push(tier);
                    }
                    self.counts[tier] += 1;
                }
            }
        }
    }

    fn clear_counts(&mut self) {
        for tier in self.touched.drain(..) {
            self.counts[tier] = 0;
        }
    }

    fn dev_tiers(&self, dev_id: u32) -> [usize; 4] {
        // Every device in the table is in the tree: it was built from the same device list.
        self.tree.dev_tiers(dev_id).unwrap_or([ROOT; 4])
    }

    /// Takes one replica off its device and queues it for placement.
    fn gather(&mut self, assign: &mut AssignParts, dev_id: u32, replica: usize, part: usize) {
        self.parts_wanted[dev_id as usize] += 1;
        self.builder.dev_parts[dev_id as usize] -= 1;
        assign.push(part, replica);
        self.table()[replica][part] = NONE_DEV_ID;
        self.set_part_moved(part);
    }

    /// Grows or shrinks the replica rows to the replica count; new slots need placing.
    fn adjust_replica2part2dev_size(&mut self, assign: &mut AssignParts) {
        let parts = self.builder.parts();
        let whole = self.builder.replicas.trunc() as usize;
        let fraction = self.builder.replicas.fract();
        let mut desired = vec![parts; whole];
        if fraction > 0.0 {
            desired.push((parts as f64 * fraction) as usize);
        }
        let mut table = self.builder.replica2part2dev.take().unwrap_or_default();
        for part2dev in table.drain(desired.len().min(table.len())..) {
            for dev_id in part2dev {
                if let Some(count) = self.builder.dev_parts.get_mut(dev_id as usize) {
                    *count -= 1;
                }
            }
        }
        for (replica, &length) in desired.iter().enumerate() {
            if let Some(part2dev) = table.get_mut(replica) {
                if part2dev.len() < length {
                    for part in part2dev.len()..length {
                        assign.push(part, replica);
                    }
                    part2dev.resize(length, NONE_DEV_ID);
                } else {
                    for &dev_id in &part2dev[length..] {
                        if let Some(count) = self.builder.dev_parts.get_mut(dev_id as usize) {
                            *count -= 1;
                        }
                    }
                    part2dev.truncate(length);
                }
            } else {
                for part in 0..length {
                    assign.push(part, replica);
                }
                table.push(vec![NONE_DEV_ID; length]);
            }
        }
        self.builder.replica2part2dev = Some(table);
    }

    /// Gathers every replica on a device marked for removal, whatever `min_part_hours` says.
    fn gather_parts_from_removed_devices(&mut self, assign: &mut AssignParts) {
        let removing: Vec<u32> = self
            .builder
            .remove_devs
            .iter()
            .copied()
            .filter(|&id| self.builder.dev_parts(id) > 0)
            .collect();
        if removing.is_empty() {
            return;
        }
        let rows = self
            .builder
            .replica2part2dev
            .as_ref()
            .map(Vec::len)
            .unwrap_or(0);
        for replica in 0..rows {
            let row_len = self.table()[replica].len();
            for part in 0..row_len {
                let dev_id = self.table()[replica][part];
                if removing.contains(&dev_id) {
                    // The device is going away: no need to keep its count.
                    self.table()[replica][part] = NONE_DEV_ID;
                    self.set_part_moved(part);
                    assign.push(part, replica);
                }
            }
        }
    }

    /// Gathers replicas sitting in a tier that holds more replicas of their partition than the
    /// plan allows; at most one per partition.
    fn gather_parts_for_dispersion(&mut self, assign: &mut AssignParts) {
        for part in 0..self.builder.parts() {
            if !self.can_part_move(part) {
                continue;
            }
            self.count_replicas_at_tiers(part);
            let mut undispersed = Vec::new();
            for replica in self.replicas_for_part(part) {
                let Some(dev_id) = self.dev_at(replica, part) else {
                    continue;
                };
                if self
                    .dev_tiers(dev_id)
                    .iter()
                    .any(|&tier| self.counts[tier] > self.plan.max[tier])
                {
                    undispersed.push((dev_id, replica));
                }
            }
            undispersed.sort_by_key(|&(dev_id, _)| self.parts_wanted[dev_id as usize]);
            for (dev_id, replica) in undispersed {
                let tiers = self.dev_tiers(dev_id);
                // Only a device holding two replicas of the partition (rings from older builders)
                // gets to give up a second replica in one rebalance.
                if !self.can_part_move(part) && self.counts[tiers[3]] <= 1 {
                    continue;
                }
                self.gather(assign, dev_id, replica, part);
                for tier in tiers {
                    self.counts[tier] -= 1;
                }
            }
        }
        self.clear_counts();
    }

    /// Gathers replicas from devices holding more than they want.
    fn gather_parts_for_balance(&mut self, assign: &mut AssignParts, disperse_first: bool) {
        // Start from a random point on the other side of the ring from last time.
        let parts = self.builder.parts();
        let quarter_turn = parts / 4;
        let random_half = self.rng.below(parts as u64 / 2 + 1) as usize;
        let start = (self.builder.last_part_gather_start + quarter_turn + random_half) % parts;
        self.builder.last_part_gather_start = start;
        if disperse_first {
            self.gather_parts_for_balance_can_disperse(assign, start);
        }
        self.gather_parts_for_balance_forced(assign, start);
    }

    /// Gathers from overweight devices the replicas that can go to another failure domain
    /// without breaking the plan, where some device there wants them.
    fn gather_parts_for_balance_can_disperse(&mut self, assign: &mut AssignParts, start: usize) {
        let parts = self.builder.parts();
        let mut wanted_in_tier = vec![0i64; self.tree.len()];
        for dev in self.builder.iter_devs() {
            let wanted = self.parts_wanted[dev.id as usize].max(0);
            for tier in self.dev_tiers(dev.id) {
                wanted_in_tier[tier] += wanted;
            }
        }
        for offset in 0..parts {
            let part = (start + offset) % parts;
            if !self.can_part_move(part) {
                continue;
            }
            self.clear_counts();
            let mut overweight = Vec::new();
            for replica in self.replicas_for_part(part) {
                let Some(dev_id) = self.dev_at(replica, part) else {
                    continue;
                };
                for tier in self.dev_tiers(dev_id) {
                    if self.counts[tier] == 0 {
                        self.touched.push(tier);
                    }
                    self.counts[tier] += 1;
                }
                if self.parts_wanted[dev_id as usize] < 0 {
                    overweight.push((dev_id, replica));
                }
            }
            overweight.sort_by_key(|&(dev_id, _)| self.parts_wanted[dev_id as usize]);
            for (dev_id, replica) in overweight {
                let tiers = self.dev_tiers(dev_id);
                let plan = &self.plan;
                if tiers.iter().any(|&tier| {
                    plan.min[tier] <= self.counts[tier] && self.counts[tier] < plan.max[tier]
                }) {
                    // The plan needs this replica where it is.
                    continue;
                }
                // The widest tier this replica can leave without going below the plan.
                let mut stuck_at = tiers[0];
                for &tier in tiers.iter().rev() {
                    stuck_at = tier;
                    if self.counts[tier] - 1 < plan.min[tier] {
                        break;
                    }
                }
                let wanted_elsewhere: i64 = self.tree.children[stuck_at]
                    .iter()
                    .filter(|child| !tiers.contains(child))
                    .map(|&child| wanted_in_tier[child])
                    .sum();
                if wanted_elsewhere <= 0 {
                    // Nobody there wants it.
                    continue;
                }
                self.gather(assign, dev_id, replica, part);
                for tier in tiers {
                    self.counts[tier] -= 1;
                    wanted_in_tier[tier] -= 1;
                }
                break;
            }
        }
        self.clear_counts();
    }

    /// Gathers one replica per partition from the most overweight device holding it, wherever
    /// it may end up: the last resort that lets stuck replicas move.
    fn gather_parts_for_balance_forced(&mut self, assign: &mut AssignParts, start: usize) {
        let parts = self.builder.parts();
        for offset in 0..parts {
            let part = (start + offset) % parts;
            if !self.can_part_move(part) {
                continue;
            }
            let mut most_overweight: Option<(i64, u32, usize)> = None;
            for replica in self.replicas_for_part(part) {
                let Some(dev_id) = self.dev_at(replica, part) else {
                    continue;
                };
                let wanted = self.parts_wanted[dev_id as usize];
                if wanted < 0 && most_overweight.is_none_or(|(best, _, _)| wanted < best) {
                    most_overweight = Some((wanted, dev_id, replica));
                }
            }
            if let Some((_, dev_id, replica)) = most_overweight {
                self.gather(assign, dev_id, replica, part);
            }
        }
    }

    /// Places gathered replicas: for each, walk down from the cluster choosing, among the child
    /// tiers below the plan's maximum for this partition, the one with the most room, until a
    /// device is reached.
    fn reassign_parts(&mut self, to_place: &[(usize, Vec<u32>)]) -> Result<(), RingError> {
        let tree_len = self.tree.len();
        let mut available_in_tier = vec![0i64; tree_len];
        let mut sort_keys: HashMap<u32, (i64, u64, u32)> = HashMap::new();
        for dev in self.builder.iter_devs() {
            let wanted = self.parts_wanted[dev.id as usize];
            sort_keys.insert(dev.id, (wanted, self.rng.below(0x10000), dev.id));
            for tier in self.dev_tiers(dev.id) {
                available_in_tier[tier] += wanted.max(0);
            }
        }
        // Children are tried in the order of their most wanting device, as upstream; ties in
        // "most room" go to the first.
        let mut tier_sort_key: Vec<Option<(i64, u64, u32)>> = vec![None; tree_len];
        for dev in self.builder.iter_devs().filter(|dev| dev.weight > 0.0) {
            let key = sort_keys.get(&dev.id).copied();
            for tier in self.dev_tiers(dev.id) {
                if key > tier_sort_key[tier] {
                    tier_sort_key[tier] = key;
                }
            }
        }
        let mut children = self.tree.children.clone();
        for list in &mut children {
            list.sort_by_key(|&child| tier_sort_key[child]);
        }
        let device_of_tier: HashMap<usize, u32> = self
            .builder
            .iter_devs()
            .filter(|dev| dev.weight > 0.0)
            .map(|dev| (self.dev_tiers(dev.id)[3], dev.id))
            .collect();

        for (part, replicas) in to_place {
            let part = *part;
            self.builder.last_part_moves[part] = 0;
            self.count_replicas_at_tiers(part);
            for &replica in replicas {
                let mut tier = ROOT;
                for _ in 0..4 {
                    let mut best: Option<usize> = None;
                    for &child in &children[tier] {
                        if self.counts[child] < self.plan.max[child]
                            && best.is_none_or(|best| {
                                available_in_tier[child] > available_in_tier[best]
                            })
                        {
                            best = Some(child);
                        }
                    }
                    tier = best.ok_or_else(|| {
                        RingError::Validation(format!(
                            "no home for partition {part} replica {replica} under tier {}",
                            self.tree.name(tier, &self.builder.devs)
                        ))
                    })?;
                }
                let dev_id = *device_of_tier.get(&tier).ok_or_else(|| {
                    RingError::Validation(format!(
                        "tier {} is not a device",
                        self.tree.name(tier, &self.builder.devs)
                    ))
                })?;
                self.parts_wanted[dev_id as usize] -= 1;
                self.builder.dev_parts[dev_id as usize] += 1;
                for tier in self.dev_tiers(dev_id) {
                    available_in_tier[tier] -= 1;
                    if self.counts[tier] == 0 {
                        self.touched.push(tier);
                    }
                    self.counts[tier] += 1;
                }
                self.table()[replica as usize][part] = dev_id;
            }
        }
        self.clear_counts();
        Ok(())
    }
}

// ---- builder file format ----

const BUILDER_FORMAT: &str = "ferrostack-ring-builder";
const BUILDER_FORMAT_VERSION: u32 = 1;

/// The builder file: everything upstream pickles, as JSON.
#[derive(Serialize, Deserialize)]
struct BuilderFile {
    format: String,
    format_version: u32,
    id: Option<String>,
    part_power: u32,
    next_part_power: Option<u32>,
    replicas: f64,
    min_part_hours: u32,
    overload: f64,
    version: u64,
    devs_changed: bool,
    devs: Vec<Option<Device>>,
    remove_devs: Vec<u32>,
    replica2part2dev: Option<Vec<Vec<u32>>>,
    last_part_moves_epoch: u64,
    last_part_moves: Vec<u8>,
    last_part_gather_start: usize,
    dispersion: Option<f64>,
}

// ---- time, ids and randomness ----

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A seed that differs between calls and processes (rebalances without an explicit seed are
/// random, as upstream's).
fn random_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut md5 = Md5::new();
    md5.update(nanos.to_le_bytes());
    md5.update(std::process::id().to_le_bytes());
    md5.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let digest = md5.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

/// A fresh builder id: 32 hex digits, like upstream's `uuid4().hex`.
fn new_builder_id() -> String {
    let high = random_seed();
    let low = random_seed();
    format!("{high:016x}{low:016x}")
}

/// SplitMix64: small, fast and good enough to break ties and shuffle.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;
    const HOUR: u64 = 3600;

    fn new_dev(region: u32, zone: u32, ip: &str, device: &str, weight: f64) -> NewDevice {
        NewDevice::new(region, zone, ip, 6200, device, weight)
    }

    /// 3 zones, each one server with two devices.
    fn three_zone_builder(part_power: u32, replicas: f64, min_part_hours: u32) -> RingBuilder {
        let mut builder = RingBuilder::new(part_power, replicas, min_part_hours).unwrap();
        for zone in 1..=3 {
            for device in ["sdb", "sdc"] {
                builder
                    .add_dev(new_dev(1, zone, &format!("10.0.0.{zone}"), device, 100.0))
                    .unwrap();
            }
        }
        builder
    }

    fn table(builder: &RingBuilder) -> Vec<Vec<u32>> {
        builder.replica2part2dev().unwrap().to_vec()
    }

    fn zones_of_part(builder: &RingBuilder, part: usize) -> Vec<(u32, u32)> {
        table(builder)
            .iter()
            .map(|row| row[part])
            .map(|id| builder.dev(id).unwrap())
            .map(|d| (d.region, d.zone))
            .collect()
    }

    /// Partitions whose assignment differs between two tables, with how many replicas moved.
    fn moved_parts(before: &[Vec<u32>], after: &[Vec<u32>]) -> HashMap<usize, usize> {
        let mut moved = HashMap::new();
        for (old_row, new_row) in before.iter().zip(after) {
            for (part, (old, new)) in old_row.iter().zip(new_row).enumerate() {
                if old != new {
                    *moved.entry(part).or_insert(0) += 1;
                }
            }
        }
        moved
    }

    #[test]
    fn replicas_land_in_three_different_zones() {
        let mut builder = three_zone_builder(10, 3.0, 1);
        let result = builder.rebalance_at(T0, Some(1)).unwrap();
        builder.validate().unwrap();
        assert_eq!(result.changed_parts, 3 * 1024);
        assert_eq!(result.removed_devices, 0);
        assert!(result.balance < 1.0, "balance {}", result.balance);
        assert_eq!(result.dispersion, 0.0);
        for part in 0..builder.parts() {
            let mut zones = zones_of_part(&builder, part);
            zones.sort();
            zones.dedup();
            assert_eq!(zones.len(), 3, "partition {part}");
        }
        for dev in builder.iter_devs() {
            assert_eq!(builder.dev_parts(dev.id), 512);
        }
    }

    #[test]
    fn weights_give_proportional_partition_counts() {
        let mut builder = RingBuilder::new(10, 3.0, 1).unwrap();
        for zone in 1..=3 {
            builder
                .add_dev(new_dev(1, zone, &format!("10.0.0.{zone}"), "sdb", 100.0))
                .unwrap();
            builder
                .add_dev(new_dev(1, zone, &format!("10.0.0.{zone}"), "sdc", 200.0))
                .unwrap();
        }
        let result = builder.rebalance_at(T0, Some(7)).unwrap();
        builder.validate().unwrap();
        assert!(result.balance < 1.0, "balance {}", result.balance);
        let total_weight = 900.0;
        for dev in builder.iter_devs() {
            let fair = 3.0 * 1024.0 * dev.weight / total_weight;
            let parts = builder.dev_parts(dev.id) as f64;
            assert!(
                (parts - fair).abs() / fair < 0.01,
                "device {} has {parts}, fair share {fair}",
                dev.id
            );
        }
        let light: u64 = builder
            .iter_devs()
            .filter(|d| d.weight == 100.0)
            .map(|d| builder.dev_parts(d.id))
            .sum();
        let heavy: u64 = builder
            .iter_devs()
            .filter(|d| d.weight == 200.0)
            .map(|d| builder.dev_parts(d.id))
            .sum();
        let ratio = heavy as f64 / light as f64;
        assert!((ratio - 2.0).abs() < 0.02, "ratio {ratio}");
    }

    #[test]
    fn adding_a_device_moves_its_fair_share_and_respects_min_part_hours() {
        let mut builder = three_zone_builder(10, 3.0, 1);
        builder.rebalance_at(T0, Some(1)).unwrap();
        let initial = table(&builder);
        let new_id = builder
            .add_dev(new_dev(1, 1, "10.0.0.4", "sdb", 100.0))
            .unwrap();

        // Within min_part_hours of the first placement nothing may move.
        let result = builder.rebalance_at(T0 + HOUR / 2, Some(2)).unwrap();
        assert_eq!(result.changed_parts, 0);
        assert_eq!(builder.dev_parts(new_id), 0);
        assert_eq!(table(&builder), initial);
        assert_eq!(builder.min_part_seconds_left_at(T0 + HOUR / 2), HOUR / 2);

        // Later, the new device gets about its share, and only that much moves.
        let result = builder.rebalance_at(T0 + 2 * HOUR, Some(3)).unwrap();
        builder.validate().unwrap();
        let fair = 3.0 * 1024.0 / 7.0;
        let new_parts = builder.dev_parts(new_id) as f64;
        assert!(
            (new_parts - fair).abs() / fair < 0.02,
            "new device has {new_parts}, fair share {fair}"
        );
        let changed = result.changed_parts as f64;
        assert!(
            changed >= new_parts && changed < 1.25 * fair,
            "moved {changed} for a fair share of {fair}"
        );
        let after_add = table(&builder);
        let moved = moved_parts(&initial, &after_add);
        assert!(
            moved.values().all(|&replicas| replicas == 1),
            "a partition moved more than one replica"
        );
        assert_eq!(moved.len(), result.changed_parts);

        // A further change within the window moves none of the partitions just moved.
        builder.set_dev_weight(new_id, 200.0).unwrap();
        let result = builder.rebalance_at(T0 + 2 * HOUR + 600, Some(4)).unwrap();
        builder.validate().unwrap();
        let moved_again = moved_parts(&after_add, &table(&builder));
        assert_eq!(moved_again.len(), result.changed_parts);
        assert!(result.changed_parts > 0);
        for part in moved_again.keys() {
            assert!(
                !moved.contains_key(part),
                "partition {part} moved twice within min_part_hours"
            );
        }
    }

    #[test]
    fn removing_a_device_reassigns_only_its_partitions() {
        let mut builder = three_zone_builder(10, 3.0, 1);
        builder.rebalance_at(T0, Some(1)).unwrap();
        let before = table(&builder);
        let removed = 1;
        let removed_parts = builder.dev_parts(removed);
        builder.remove_dev(removed).unwrap();
        assert!(builder.is_marked_for_removal(removed));
        assert_eq!(builder.dev(removed).unwrap().weight, 0.0);

        // Removal ignores min_part_hours: the device is usually dead.
        let result = builder.rebalance_at(T0 + 600, Some(2)).unwrap();
        builder.validate().unwrap();
        assert_eq!(result.removed_devices, 1);
        assert!(builder.dev(removed).is_none());
        let after = table(&builder);
        let mut changed = 0;
        for (old_row, new_row) in before.iter().zip(&after) {
            for (old, new) in old_row.iter().zip(new_row) {
                if old != new {
                    assert_eq!(*old, removed, "a replica not on the removed device moved");
                    changed += 1;
                }
                assert_ne!(*new, removed);
            }
        }
        assert_eq!(changed as u64, removed_parts);
        assert_eq!(result.changed_parts as u64, removed_parts);

        // Once min_part_hours has passed, the survivors even out.
        let balance_before = result.balance;
        let result = builder.rebalance_at(T0 + 2 * HOUR, Some(3)).unwrap();
        builder.validate().unwrap();
        assert!(
            result.balance < 5.0 && result.balance < balance_before,
            "balance {}",
            result.balance
        );
    }

    #[test]
    fn zero_weight_drains_a_device() {
        let mut builder = three_zone_builder(8, 3.0, 1);
        builder
            .add_dev(new_dev(1, 1, "10.0.0.1", "sdd", 100.0))
            .unwrap();
        builder.rebalance_at(T0, Some(1)).unwrap();
        builder.set_dev_weight(6, 0.0).unwrap();
        builder.rebalance_at(T0 + 2 * HOUR, Some(2)).unwrap();
        builder.validate().unwrap();
        assert_eq!(builder.dev_parts(6), 0);
        assert!(builder.dev(6).is_some());
        assert!(builder.get_balance().unwrap() < 2.0);
    }

    #[test]
    fn realistic_ring_balances_and_disperses() {
        // part_power 14, 3 replicas, 12 devices: 2 regions, 4 zones, 8 servers.
        let mut builder = RingBuilder::new(14, 3.0, 24).unwrap();
        for zone in 1..=4 {
            let region = if zone <= 2 { 1 } else { 2 };
            for server in 1..=2 {
                let ip = format!("10.{region}.{zone}.{server}");
                let devices: &[&str] = if server == 1 {
                    &["sdb", "sdc"]
                } else {
                    &["sdb"]
                };
                for device in devices {
                    builder
                        .add_dev(new_dev(region, zone, &ip, device, 100.0))
                        .unwrap();
                }
            }
        }
        assert_eq!(builder.iter_devs().count(), 12);
        let result = builder.rebalance_at(T0, Some(42)).unwrap();
        builder.validate().unwrap();
        assert_eq!(result.changed_parts, 3 * 16384);
        assert!(result.balance < 1.0, "balance {}", result.balance);
        assert_eq!(result.dispersion, 0.0);
        for part in 0..builder.parts() {
            let mut zones = zones_of_part(&builder, part);
            zones.sort();
            zones.dedup();
            assert_eq!(zones.len(), 3, "partition {part}");
        }

        // Add a server's worth of disks later: only about their share moves.
        for device in ["sdd", "sde"] {
            builder
                .add_dev(new_dev(2, 4, "10.2.4.3", device, 100.0))
                .unwrap();
        }
        let result = builder.rebalance_at(T0 + 25 * HOUR, Some(43)).unwrap();
        builder.validate().unwrap();
        let fair = 2.0 * 3.0 * 16384.0 / 14.0;
        assert!(
            (result.changed_parts as f64) < 1.3 * fair,
            "moved {} for {fair}",
            result.changed_parts
        );
        assert!(
            result.changed_parts as f64 > 0.9 * fair,
            "moved {} for {fair}",
            result.changed_parts
        );
    }

    #[test]
    fn too_few_devices_is_an_error_and_changes_nothing() {
        let mut builder = RingBuilder::new(6, 3.0, 1).unwrap();
        builder
            .add_dev(new_dev(1, 1, "10.0.0.1", "sdb", 100.0))
            .unwrap();
        builder
            .add_dev(new_dev(1, 2, "10.0.0.2", "sdb", 100.0))
            .unwrap();
        let version = builder.version();
        let err = builder.rebalance_at(T0, Some(1)).unwrap_err();
        assert!(matches!(err, RingError::Validation(_)), "{err}");
        assert!(!builder.ever_rebalanced());
        assert_eq!(builder.version(), version);
        assert!(builder.validate().is_err());
        assert!(matches!(
            RingBuilder::new(6, 0.5, 1),
            Err(RingError::InvalidValue(_))
        ));
        assert!(matches!(
            RingBuilder::new(33, 3.0, 1),
            Err(RingError::InvalidValue(_))
        ));
    }

    #[test]
    fn fewer_zones_than_replicas_spreads_over_servers() {
        // 2 zones, 2 servers each: 3 replicas must share a zone but never a server.
        let mut builder = RingBuilder::new(8, 3.0, 1).unwrap();
        for zone in 1..=2 {
            for server in 1..=2 {
                builder
                    .add_dev(new_dev(
                        1,
                        zone,
                        &format!("10.0.{zone}.{server}"),
                        "sdb",
                        100.0,
                    ))
                    .unwrap();
            }
        }
        let result = builder.rebalance_at(T0, Some(5)).unwrap();
        builder.validate().unwrap();
        assert_eq!(result.dispersion, 0.0);
        for part in 0..builder.parts() {
            let zones = zones_of_part(&builder, part);
            assert!(
                zones.iter().filter(|z| z.1 == 1).count() >= 1
                    && zones.iter().filter(|z| z.1 == 2).count() >= 1
            );
        }
    }

    #[test]
    fn fractional_and_changed_replica_counts() {
        let mut builder = three_zone_builder(8, 2.5, 1);
        builder.rebalance_at(T0, Some(1)).unwrap();
        builder.validate().unwrap();
        let lengths: Vec<usize> = table(&builder).iter().map(Vec::len).collect();
        assert_eq!(lengths, vec![256, 256, 128]);
        let total: u64 = builder.iter_devs().map(|d| builder.dev_parts(d.id)).sum();
        assert_eq!(total, 640);
        assert_eq!(builder.get_ring().replica_count(), 2.5);

        builder.set_replicas(3.0).unwrap();
        assert!(builder.devs_changed());
        builder.rebalance_at(T0 + 2 * HOUR, Some(2)).unwrap();
        builder.validate().unwrap();
        assert_eq!(
            table(&builder).iter().map(Vec::len).collect::<Vec<_>>(),
            vec![256; 3]
        );

        builder.set_replicas(2.0).unwrap();
        builder.rebalance_at(T0 + 4 * HOUR, Some(3)).unwrap();
        builder.validate().unwrap();
        assert_eq!(table(&builder).len(), 2);
        let total: u64 = builder.iter_devs().map(|d| builder.dev_parts(d.id)).sum();
        assert_eq!(total, 512);
    }

    #[test]
    fn overload_trades_balance_for_dispersion() {
        // Zone 1 is heavier than its third: without overload it holds two replicas of some
        // partitions; with enough overload every partition is in three zones.
        let mut builder = RingBuilder::new(8, 3.0, 0).unwrap();
        builder
            .add_dev(new_dev(1, 1, "10.0.0.1", "sdb", 200.0))
            .unwrap();
        builder
            .add_dev(new_dev(1, 1, "10.0.0.11", "sdb", 200.0))
            .unwrap();
        builder
            .add_dev(new_dev(1, 2, "10.0.0.2", "sdb", 100.0))
            .unwrap();
        builder
            .add_dev(new_dev(1, 3, "10.0.0.3", "sdb", 100.0))
            .unwrap();
        let result = builder.rebalance_at(T0, Some(1)).unwrap();
        assert!(result.dispersion > 0.0);
        let required = builder.get_required_overload().unwrap();
        assert!(
            (required - 1.0).abs() < 1e-9,
            "required overload {required}"
        );
        builder.set_overload(required).unwrap();
        builder.pretend_min_part_hours_passed();
        let result = builder.rebalance_at(T0 + 1, Some(2)).unwrap();
        let result = if result.dispersion > 0.0 {
            builder.rebalance_at(T0 + 2, Some(3)).unwrap()
        } else {
            result
        };
        builder.validate().unwrap();
        assert_eq!(result.dispersion, 0.0);
        let report = builder.dispersion_report().unwrap();
        assert_eq!(report.worst_tier, None);
        assert!(report
            .tiers
            .iter()
            .any(|tier| tier.name == "r1z1-10.0.0.1/sdb"));
    }

    #[test]
    fn builder_file_round_trips() {
        let dir =
            std::env::temp_dir().join(format!("swift-ring-builder-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("object.builder");
        let mut builder = three_zone_builder(8, 3.0, 1);
        builder.rebalance_at(T0, Some(1)).unwrap();
        builder.remove_dev(2).unwrap();
        assert!(builder.id().is_none());
        builder.save(&path).unwrap();
        let id = builder.id().unwrap().to_string();
        assert_eq!(id.len(), 32);
        let loaded = RingBuilder::load(&path).unwrap();
        assert_eq!(loaded.id(), Some(id.as_str()));
        assert_eq!(loaded.get_ring(), builder.get_ring());
        assert_eq!(loaded.replicas(), 3.0);
        assert_eq!(loaded.min_part_hours(), 1);
        assert!(loaded.is_marked_for_removal(2));
        assert!(loaded.devs_changed());
        assert_eq!(loaded.last_part_moves, builder.last_part_moves);
        assert_eq!(loaded.last_part_moves_epoch, T0);
        for dev in builder.iter_devs() {
            assert_eq!(loaded.dev_parts(dev.id), builder.dev_parts(dev.id));
        }
        loaded.validate().unwrap();
        fs::write(&path, b"not json").unwrap();
        assert!(matches!(
            RingBuilder::load(&path),
            Err(RingError::InvalidBuilderFile { .. })
        ));
        assert!(matches!(
            RingBuilder::load(dir.join("missing.builder")),
            Err(RingError::BuilderFileNotFound(_))
        ));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn device_bookkeeping() {
        let mut builder = RingBuilder::new(4, 1.0, 0).unwrap();
        assert_eq!(
            builder
                .add_dev(new_dev(1, 1, "10.0.0.1", "sdb", 1.0))
                .unwrap(),
            0
        );
        let mut explicit = new_dev(1, 1, "10.0.0.1", "sdc", 1.0);
        explicit.id = Some(3);
        assert_eq!(builder.add_dev(explicit.clone()).unwrap(), 3);
        assert!(matches!(
            builder.add_dev(explicit),
            Err(RingError::DuplicateDevice(3))
        ));
        // Holes are filled first.
        assert_eq!(
            builder
                .add_dev(new_dev(1, 1, "10.0.0.1", "sdd", 1.0))
                .unwrap(),
            1
        );
        assert!(matches!(
            builder.set_dev_weight(9, 1.0),
            Err(RingError::DeviceNotFound(9))
        ));
        assert!(builder.set_dev_weight(0, -1.0).is_err());
        builder.remove_dev(3).unwrap();
        assert!(matches!(
            builder.set_dev_weight(3, 1.0),
            Err(RingError::MarkedForRemoval { id: 3, .. })
        ));
        builder.rebalance_at(T0, Some(1)).unwrap();
        assert_eq!(
            builder.devs().len(),
            2,
            "trailing removed devices are trimmed"
        );
        assert_eq!(
            builder
                .search_devs(&DeviceSearch::parse("/sdd").unwrap())
                .len(),
            1
        );
    }
}
