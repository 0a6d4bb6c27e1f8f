//! The ring as its users see it: which partition a name hashes to, which devices hold that
//! partition, and where to hand off when they fail. As swift/common/ring/ring.py (`RingData`,
//! `Ring`) and `hash_path` of swift/common/utils.
//!
//! Reloading is the caller's choice: [`Ring::has_changed`] tells whether the file on disk differs
//! from the one loaded (upstream checks every 15 seconds), and the caller swaps in a freshly
//! [`Ring::load`]ed ring, which keeps `Ring` free of locks.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use md5::{Digest, Md5};

use super::device::Device;
use super::io::{decode_ring, encode_ring_v1, write_atomically};
use super::RingError;

/// What a ring file holds: the devices, the replica -> partition -> device id table and the
/// partition shift (upstream's `RingData`).
#[derive(Debug, Clone, PartialEq)]
pub struct RingData {
    /// Devices indexed by id; `None` where a device was removed.
    pub devs: Vec<Option<Device>>,
    /// `replica2part2dev_id[replica][partition]` is the id of the device holding that replica.
    /// With a fractional replica count the last row is shorter than the others.
    pub replica2part2dev_id: Vec<Vec<u32>>,
    /// `32 - part_power`: a name's partition is the top `part_power` bits of its hash.
    pub part_shift: u32,
    /// Set while a partition power increase is under way.
    pub next_part_power: Option<u32>,
    /// The builder's version when this ring was made.
    pub version: Option<u64>,
}

impl RingData {
    /// Reads a ring file (`object.ring.gz`).
    pub fn load(path: impl AsRef<Path>) -> Result<RingData, RingError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|source| RingError::io("read", path, source))?;
        decode_ring(&bytes, path)
    }

    /// Writes the ring file atomically, in upstream's v1 format (see the module docs of
    /// [`super`]). The same ring always gives the same bytes.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), RingError> {
        let bytes = encode_ring_v1(self)?;
        write_atomically(path.as_ref(), &bytes)
    }

    /// Number of partitions (`2^part_power`).
    pub fn partition_count(&self) -> usize {
        self.replica2part2dev_id.first().map(Vec::len).unwrap_or(0)
    }

    /// Number of replicas, fractional when the last row is short.
    pub fn replica_count(&self) -> f64 {
        replica_count(&self.replica2part2dev_id)
    }

    /// The partition power.
    pub fn part_power(&self) -> u32 {
        32 - self.part_shift
    }
}

pub(crate) fn replica_count(replica2part2dev: &[Vec<u32>]) -> f64 {
    match (replica2part2dev.first(), replica2part2dev.last()) {
        (Some(first), Some(last)) if !first.is_empty() => {
            (replica2part2dev.len() - 1) as f64 + last.len() as f64 / first.len() as f64
        }
        _ => 0.0,
    }
}

/// The cluster's secret salt for name hashing: `swift_hash_path_prefix` and
/// `swift_hash_path_suffix` from the `[swift-hash]` section of swift.conf. Every node of a
/// cluster must use the same values, or they will disagree on where everything lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashPathConfig {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
}

impl HashPathConfig {
    /// At least one of the two must be non-empty, as upstream's `validate_configuration` requires.
    pub fn new(prefix: &str, suffix: &str) -> Result<Self, RingError> {
        if prefix.is_empty() && suffix.is_empty() {
            return Err(RingError::HashPathNotConfigured);
        }
        Ok(HashPathConfig {
            prefix: prefix.as_bytes().to_vec(),
            suffix: suffix.as_bytes().to_vec(),
        })
    }

    /// The MD5 of `prefix + "/account[/container[/object]]" + suffix` (upstream's `hash_path`
    /// with `raw_digest=True`). As upstream, an empty container counts as none.
    pub fn hash_path(
        &self,
        account: &str,
        container: Option<&str>,
        object: Option<&str>,
    ) -> Result<[u8; 16], RingError> {
        let container = container.filter(|c| !c.is_empty());
        let object = object.filter(|o| !o.is_empty());
        if object.is_some() && container.is_none() {
            return Err(RingError::ObjectWithoutContainer);
        }
        let mut md5 = Md5::new();
        md5.update(&self.prefix);
        md5.update(b"/");
        md5.update(account.as_bytes());
        for part in [container, object].into_iter().flatten() {
            md5.update(b"/");
            md5.update(part.as_bytes());
        }
        md5.update(&self.suffix);
        Ok(md5.finalize().into())
    }
}

/// A primary node for a partition: the device and its position among the primaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub device: Device,
    /// Offset into the partition's primary node list.
    pub index: usize,
}

/// A handoff node for a partition, in the order handoffs should be tried.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffNode {
    pub device: Device,
    /// 0 for the first handoff, then 1, 2...
    pub handoff_index: usize,
}

/// A loaded ring (upstream's `Ring`).
#[derive(Debug, Clone)]
pub struct Ring {
    data: RingData,
    hash_path: HashPathConfig,
    source: Option<(PathBuf, Option<SystemTime>)>,
    num_devs: usize,
    num_weighted_devs: usize,
    num_assigned_devs: usize,
    num_regions: usize,
    num_zones: usize,
    num_ips: usize,
}

impl Ring {
    /// Loads a ring file (`/etc/swift/object.ring.gz`).
    pub fn load(path: impl AsRef<Path>, hash_path: HashPathConfig) -> Result<Ring, RingError> {
        let path = path.as_ref();
        let mtime = fs::metadata(path).and_then(|meta| meta.modified()).ok();
        let data = RingData::load(path)?;
        let mut ring = Ring::from_ring_data(data, hash_path).map_err(|err| match err {
            RingError::Validation(reason) => RingError::InvalidRingFile {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        })?;
        ring.source = Some((path.to_path_buf(), mtime));
        Ok(ring)
    }

    /// Loads `<swift_dir>/<ring_name>.ring.gz`, e.g. ring name `object` or `object-1`.
    pub fn load_named(
        swift_dir: impl AsRef<Path>,
        ring_name: &str,
        hash_path: HashPathConfig,
    ) -> Result<Ring, RingError> {
        Ring::load(
            swift_dir.as_ref().join(format!("{ring_name}.ring.gz")),
            hash_path,
        )
    }

    /// A ring from data in memory. Every assignment must name an existing device.
    pub fn from_ring_data(data: RingData, hash_path: HashPathConfig) -> Result<Ring, RingError> {
        if data.partition_count() == 0 {
            return Err(RingError::Validation(
                "the ring has no partition assignments; run rebalance before writing it"
                    .to_string(),
            ));
        }
        let mut assigned = vec![false; data.devs.len()];
        for part2dev in &data.replica2part2dev_id {
            for &dev_id in part2dev {
                match data.devs.get(dev_id as usize) {
                    Some(Some(_)) => assigned[dev_id as usize] = true,
                    _ => {
                        return Err(RingError::Validation(format!(
                            "a partition is assigned to device {dev_id}, which is not in the ring"
                        )))
                    }
                }
            }
        }
        let (mut regions, mut zones, mut ips) = (HashSet::new(), HashSet::new(), HashSet::new());
        let (mut num_devs, mut num_weighted_devs, mut num_assigned_devs) = (0, 0, 0);
        for dev in data.devs.iter().flatten() {
            num_devs += 1;
            if dev.weight > 0.0 {
                num_weighted_devs += 1;
            }
            // Only devices holding partitions count, so the handoff search can stop early.
            if assigned.get(dev.id as usize).copied().unwrap_or(false) {
                regions.insert(dev.region);
                zones.insert((dev.region, dev.zone));
                ips.insert((dev.region, dev.zone, dev.ip.clone()));
                num_assigned_devs += 1;
            }
        }
        Ok(Ring {
            num_regions: regions.len(),
            num_zones: zones.len(),
            num_ips: ips.len(),
            num_devs,
            num_weighted_devs,
            num_assigned_devs,
            data,
            hash_path,
            source: None,
        })
    }

    /// Whether the ring file this ring was loaded from has been replaced since (by mtime, as
    /// upstream). Always false for a ring made in memory.
    pub fn has_changed(&self) -> bool {
        match &self.source {
            Some((path, mtime)) => {
                fs::metadata(path).and_then(|meta| meta.modified()).ok() != *mtime
            }
            None => false,
        }
    }

    /// The ring file this ring was loaded from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.source.as_ref().map(|(path, _)| path.as_path())
    }

    pub fn data(&self) -> &RingData {
        &self.data
    }

    /// Devices indexed by id; `None` where a device was removed.
    pub fn devs(&self) -> &[Option<Device>] {
        &self.data.devs
    }

    pub fn part_power(&self) -> u32 {
        self.data.part_power()
    }

    pub fn next_part_power(&self) -> Option<u32> {
        self.data.next_part_power
    }

    pub fn version(&self) -> Option<u64> {
        self.data.version
    }

    /// Number of replicas (full or partial).
    pub fn replica_count(&self) -> f64 {
        self.data.replica_count()
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> usize {
        self.data.partition_count()
    }

    /// Number of devices in the ring.
    pub fn device_count(&self) -> usize {
        self.num_devs
    }

    /// Number of devices with weight.
    pub fn weighted_device_count(&self) -> usize {
        self.num_weighted_devs
    }

    /// Number of devices holding at least one partition.
    pub fn assigned_device_count(&self) -> usize {
        self.num_assigned_devs
    }

    /// The partition of an account, container or object: the top `part_power` bits of the
    /// name's hash path, read as a big-endian integer.
    pub fn get_part(
        &self,
        account: &str,
        container: Option<&str>,
        object: Option<&str>,
    ) -> Result<u32, RingError> {
        let key = self.hash_path.hash_path(account, container, object)?;
        Ok(top_bits(&key, self.data.part_shift))
    }

    /// The primary nodes of a partition, in replica order; a device holding more than one
    /// replica appears once. Empty for a partition outside the ring.
    pub fn get_part_nodes(&self, part: u32) -> Vec<Node> {
        let part = part as usize;
        let mut seen = HashSet::new();
        let mut nodes = Vec::new();
        for part2dev in &self.data.replica2part2dev_id {
            if let Some(&dev_id) = part2dev.get(part) {
                if seen.insert(dev_id) {
                    if let Some(Some(device)) = self.data.devs.get(dev_id as usize) {
                        nodes.push(Node {
                            device: device.clone(),
                            index: nodes.len(),
                        });
                    }
                }
            }
        }
        nodes
    }

    /// The partition and primary nodes of an account, container or object.
    pub fn get_nodes(
        &self,
        account: &str,
        container: Option<&str>,
        object: Option<&str>,
    ) -> Result<(u32, Vec<Node>), RingError> {
        let part = self.get_part(account, container, object)?;
        Ok((part, self.get_part_nodes(part)))
    }

    /// Handoff nodes for a partition, lazily, in upstream's order: first devices in regions the
    /// primaries are not in, then in new zones, then on new servers, then any other device. Each
    /// pass walks the ring's partitions from a start derived from the partition number, so the
    /// order is deterministic and mostly survives ring changes. Never yields a primary or the
    /// same device twice.
    pub fn get_more_nodes(&self, part: u32) -> MoreNodes<'_> {
        let primaries = self.get_part_nodes(part);
        let mut used = HashSet::new();
        let mut regions = HashSet::new();
        let mut zones = HashSet::new();
        let mut ips = HashSet::new();
        for node in &primaries {
            let dev = &node.device;
            used.insert(dev.id);
            regions.insert(dev.region);
            zones.insert((dev.region, dev.zone));
            ips.insert((dev.region, dev.zone, dev.ip.clone()));
        }
        let parts = self.partition_count();
        let part_hash: [u8; 16] = Md5::digest(part.to_string().as_bytes()).into();
        let start = (top_bits(&part_hash, self.data.part_shift) as usize).min(parts);
        let inc = (parts / 65536).max(1);
        MoreNodes {
            ring: self,
            used,
            regions,
            zones,
            ips,
            parts,
            start,
            inc,
            pass: HandoffPass::Regions,
            pass_started: false,
            position: 0,
            replica: 0,
            next_index: 0,
        }
    }
}

/// The top bits of the first four bytes of a hash, as upstream's `unpack_from('>I') >> shift`.
fn top_bits(hash: &[u8; 16], part_shift: u32) -> u32 {
    let word = u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]);
    (u64::from(word) >> part_shift) as u32
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HandoffPass {
    Regions,
    Zones,
    Ips,
    Devices,
    Done,
}

impl HandoffPass {
    fn next(self) -> HandoffPass {
        match self {
            HandoffPass::Regions => HandoffPass::Zones,
            HandoffPass::Zones => HandoffPass::Ips,
            HandoffPass::Ips => HandoffPass::Devices,
            HandoffPass::Devices | HandoffPass::Done => HandoffPass::Done,
        }
    }
}

/// Iterator over a partition's handoff nodes; see [`Ring::get_more_nodes`].
#[derive(Debug)]
pub struct MoreNodes<'a> {
    ring: &'a Ring,
    used: HashSet<u32>,
    regions: HashSet<u32>,
    zones: HashSet<(u32, u32)>,
    ips: HashSet<(u32, u32, String)>,
    parts: usize,
    start: usize,
    inc: usize,
    pass: HandoffPass,
    pass_started: bool,
    /// Position in the walk over partitions of the current pass.
    position: usize,
    /// Next replica row to look at for the partition at `position`.
    replica: usize,
    next_index: usize,
}

impl MoreNodes<'_> {
    /// The `position`th partition of upstream's walk:
    /// `chain(range(start, parts, inc), range(inc - ((parts - start) % inc), start, inc))`.
    /// (With `inc == 1` the second range starts at 1, so partition 0 is never visited unless
    /// `start` is 0; matched on purpose so handoffs agree with Python Swift.)
    fn walk(&self, position: usize) -> Option<usize> {
        let first_len = (self.parts - self.start).div_ceil(self.inc);
        if position < first_len {
            return Some(self.start + position * self.inc);
        }
        let second_start = self.inc - ((self.parts - self.start) % self.inc);
        let part = second_start + (position - first_len) * self.inc;
        (part < self.start).then_some(part)
    }

    fn pass_complete(&self) -> bool {
        match self.pass {
            HandoffPass::Regions => self.regions.len() >= self.ring.num_regions,
            HandoffPass::Zones => self.zones.len() >= self.ring.num_zones,
            HandoffPass::Ips => self.ips.len() >= self.ring.num_ips,
            HandoffPass::Devices => self.used.len() >= self.ring.num_assigned_devs,
            HandoffPass::Done => true,
        }
    }

    fn end_pass(&mut self) {
        self.pass = self.pass.next();
        self.pass_started = false;
    }
}

impl Iterator for MoreNodes<'_> {
    type Item = HandoffNode;

    fn next(&mut self) -> Option<HandoffNode> {
        let ring = self.ring;
        let rows = &ring.data.replica2part2dev_id;
        loop {
            if self.pass == HandoffPass::Done {
                return None;
            }
            if !self.pass_started {
                self.pass_started = true;
                self.position = 0;
                self.replica = 0;
                if self.pass_complete() {
                    self.end_pass();
                    continue;
                }
            }
            let Some(handoff_part) = self.walk(self.position) else {
                self.end_pass();
                continue;
            };
            let Some(row) = rows.get(self.replica) else {
                self.position += 1;
                self.replica = 0;
                continue;
            };
            self.replica += 1;
            let Some(&dev_id) = row.get(handoff_part) else {
                continue;
            };
            let Some(Some(dev)) = ring.data.devs.get(dev_id as usize) else {
                continue;
            };
            if self.used.contains(&dev_id) {
                continue;
            }
            let zone = (dev.region, dev.zone);
            let ip = (dev.region, dev.zone, dev.ip.clone());
            let fresh = match self.pass {
                HandoffPass::Regions => !self.regions.contains(&dev.region),
                HandoffPass::Zones => !self.zones.contains(&zone),
                HandoffPass::Ips => !self.ips.contains(&ip),
                HandoffPass::Devices | HandoffPass::Done => true,
            };
            if !fresh {
                continue;
            }
            self.used.insert(dev_id);
            self.regions.insert(dev.region);
            self.zones.insert(zone);
            self.ips.insert(ip);
            let node = HandoffNode {
                device: dev.clone(),
                handoff_index: self.next_index,
            };
            self.next_index += 1;
            if self.pass_complete() {
                self.end_pass();
            }
            return Some(node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::builder::RingBuilder;
    use super::super::device::NewDevice;
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("swift-ring-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A small ring laid out by hand: 2 regions, 4 zones, 6 servers, a hole at id 4 and a device
    /// with no weight and no partitions.
    fn hand_ring() -> RingData {
        type Spec = Option<(u32, u32, &'static str, &'static str, f64)>;
        let spec: [Spec; 9] = [
            Some((1, 1, "10.0.1.1", "sda", 100.0)),
            Some((1, 1, "10.0.1.1", "sdb", 100.0)),
            Some((1, 2, "10.0.2.1", "sda", 100.0)),
            Some((1, 2, "10.0.2.2", "sda", 100.0)),
            None,
            Some((2, 1, "10.1.1.1", "sda", 100.0)),
            Some((2, 1, "10.1.1.1", "sdb", 100.0)),
            Some((2, 3, "10.1.3.1", "sda", 100.0)),
            Some((2, 3, "10.1.3.1", "sdb", 0.0)),
        ];
        let devs = spec
            .iter()
            .enumerate()
            .map(|(id, spec)| {
                spec.map(|(region, zone, ip, device, weight)| Device {
                    id: id as u32,
                    region,
                    zone,
                    ip: ip.into(),
                    port: 6200,
                    replication_ip: ip.into(),
                    replication_port: 6200,
                    device: device.into(),
                    weight,
                    meta: String::new(),
                })
            })
            .collect();
        let ids = [0u32, 1, 2, 3, 5, 6, 7];
        let table = (0..3)
            .map(|r| (0..32).map(|p| ids[(p * 3 + r * 5 + p / 7) % 7]).collect())
            .collect();
        RingData {
            devs,
            replica2part2dev_id: table,
            part_shift: 27,
            next_part_power: None,
            version: Some(7),
        }
    }

    fn ids(nodes: &[Node]) -> Vec<u32> {
        nodes.iter().map(|node| node.device.id).collect()
    }

    #[test]
    fn hash_path_matches_upstream() {
        // Computed with upstream's formula: md5(prefix + "/" + "/".join(paths) + suffix).
        let config = HashPathConfig::new("", "changeme").unwrap();
        let hex = |digest: [u8; 16]| {
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(
            hex(config.hash_path("AUTH_test", None, None).unwrap()),
            "9d00c9d091fea9ea855f29c22714dc83"
        );
        assert_eq!(
            hex(config
                .hash_path("AUTH_test", Some("photos"), Some("cat.jpg"))
                .unwrap()),
            "8b4260ec308084d1df5dcd9b53f979d7"
        );
        let config = HashPathConfig::new("startcap", "endcap").unwrap();
        assert_eq!(
            hex(config.hash_path("a", Some("c"), Some("ø/ö")).unwrap()),
            "d60e24b21553c43bfa90eaea2fb057c0"
        );
        assert!(matches!(
            config.hash_path("a", None, Some("o")),
            Err(RingError::ObjectWithoutContainer)
        ));
        // An empty container is no container, as upstream.
        assert_eq!(
            config.hash_path("a", Some(""), None).unwrap(),
            config.hash_path("a", None, None).unwrap()
        );
        assert!(matches!(
            HashPathConfig::new("", ""),
            Err(RingError::HashPathNotConfigured)
        ));
    }

    #[test]
    fn get_part_matches_upstream() {
        let ring_with = |part_power: u32, prefix: &str, suffix: &str| {
            let parts = 1usize << part_power;
            let devs = hand_ring().devs;
            let data = RingData {
                devs,
                replica2part2dev_id: vec![vec![0; parts]],
                part_shift: 32 - part_power,
                next_part_power: None,
                version: None,
            };
            Ring::from_ring_data(data, HashPathConfig::new(prefix, suffix).unwrap()).unwrap()
        };
        let ring = ring_with(14, "", "changeme");
        assert_eq!(ring.get_part("AUTH_test", None, None).unwrap(), 10048);
        assert_eq!(
            ring.get_part("AUTH_test", Some("photos"), None).unwrap(),
            7634
        );
        assert_eq!(
            ring.get_part("AUTH_test", Some("photos"), Some("cat.jpg"))
                .unwrap(),
            8912
        );
        let ring = ring_with(10, "startcap", "endcap");
        assert_eq!(
            ring.get_part("AUTH_test", Some("photos"), Some("cat.jpg"))
                .unwrap(),
            504
        );
        let ring = ring_with(18, "startcap", "endcap");
        assert_eq!(ring.get_part("a", Some("c"), Some("ø/ö")).unwrap(), 219192);
        let ring = ring_with(0, "", "changeme");
        assert_eq!(
            ring.get_part("AUTH_test", Some("photos"), Some("cat.jpg"))
                .unwrap(),
            0
        );
    }

    #[test]
    fn nodes_and_handoffs_match_upstream() {
        // Expected values from upstream's Ring (swift/common/ring/ring.py) loading this ring file.
        let ring = Ring::from_ring_data(hand_ring(), HashPathConfig::new("", "changeme").unwrap())
            .unwrap();
        assert_eq!(ring.partition_count(), 32);
        assert_eq!(ring.replica_count(), 3.0);
        assert_eq!(ring.device_count(), 8);
        assert_eq!(ring.weighted_device_count(), 7);
        assert_eq!(ring.assigned_device_count(), 7);
        let expected: [(u32, [u32; 3], [u32; 4]); 5] = [
            (0, [0, 6, 3], [7, 2, 1, 5]),
            (1, [3, 1, 7], [6, 2, 5, 0]),
            (5, [1, 7, 5], [2, 3, 0, 6]),
            (19, [3, 1, 7], [6, 2, 0, 5]),
            (31, [7, 5, 2], [1, 3, 6, 0]),
        ];
        for (part, primaries, handoffs) in expected {
            let nodes = ring.get_part_nodes(part);
            assert_eq!(ids(&nodes), primaries, "primaries of {part}");
            assert_eq!(
                nodes.iter().map(|n| n.index).collect::<Vec<_>>(),
                vec![0, 1, 2]
            );
            let more: Vec<HandoffNode> = ring.get_more_nodes(part).collect();
            assert_eq!(
                more.iter().map(|n| n.device.id).collect::<Vec<_>>(),
                handoffs,
                "handoffs of {part}"
            );
            assert_eq!(
                more.iter().map(|n| n.handoff_index).collect::<Vec<_>>(),
                vec![0, 1, 2, 3]
            );
        }
        let (part, nodes) = ring
            .get_nodes("AUTH_test", Some("photos"), Some("cat.jpg"))
            .unwrap();
        assert_eq!((part, ids(&nodes)), (17, vec![5, 2, 0]));
        let (part, nodes) = ring.get_nodes("AUTH_test", None, None).unwrap();
        assert_eq!((part, ids(&nodes)), (19, vec![3, 1, 7]));
        assert!(ring.get_part_nodes(32).is_empty());
    }

    #[test]
    fn handoffs_prefer_new_failure_domains() {
        let mut builder = RingBuilder::new(10, 3.0, 1).unwrap();
        for zone in 1..=4 {
            for device in ["sdb", "sdc"] {
                builder
                    .add_dev(NewDevice::new(
                        1,
                        zone,
                        &format!("10.0.0.{zone}"),
                        6200,
                        device,
                        100.0,
                    ))
                    .unwrap();
            }
        }
        builder.rebalance(Some(9)).unwrap();
        let ring = Ring::from_ring_data(builder.get_ring(), HashPathConfig::new("", "x").unwrap())
            .unwrap();
        for part in 0..ring.partition_count() as u32 {
            let primaries = ring.get_part_nodes(part);
            let handoffs: Vec<HandoffNode> = ring.get_more_nodes(part).collect();
            let primary_zones: HashSet<u32> = primaries.iter().map(|n| n.device.zone).collect();
            assert_eq!(primary_zones.len(), 3);
            // The first handoff is in the zone no primary is in.
            assert!(
                !primary_zones.contains(&handoffs[0].device.zone),
                "partition {part}"
            );
            let mut all: Vec<u32> = ids(&primaries);
            all.extend(handoffs.iter().map(|n| n.device.id));
            let unique: HashSet<u32> = all.iter().copied().collect();
            assert_eq!(
                unique.len(),
                all.len(),
                "a device came twice for partition {part}"
            );
            assert!(
                all.len() >= 7,
                "partition {part} sees only {} devices",
                all.len()
            );
        }
    }

    #[test]
    fn ring_file_round_trips_and_is_deterministic() {
        let dir = temp_dir("roundtrip");
        let path = dir.join("object.ring.gz");
        let data = hand_ring();
        data.save(&path).unwrap();
        let first = fs::read(&path).unwrap();
        assert_eq!(&first[..2], &[0x1f, 0x8b], "ring files are gzip");
        assert_eq!(RingData::load(&path).unwrap(), data);
        data.save(&path).unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            first,
            "the same ring gives the same bytes"
        );

        // Fractional replicas: the last row is short.
        let mut builder = RingBuilder::new(6, 2.25, 1).unwrap();
        for zone in 1..=3 {
            builder
                .add_dev(NewDevice::new(
                    1,
                    zone,
                    &format!("10.0.0.{zone}"),
                    6200,
                    "sdb",
                    100.0,
                ))
                .unwrap();
        }
        builder.rebalance(Some(1)).unwrap();
        let fractional = builder.get_ring();
        fractional.save(&path).unwrap();
        let loaded = RingData::load(&path).unwrap();
        assert_eq!(loaded, fractional);
        assert_eq!(loaded.replica_count(), 2.25);

        let ring = Ring::load_named(&dir, "object", HashPathConfig::new("", "x").unwrap()).unwrap();
        assert_eq!(ring.part_power(), 6);
        assert_eq!(ring.path(), Some(path.as_path()));
        assert!(!ring.has_changed());
        std::thread::sleep(std::time::Duration::from_millis(20));
        data.save(&path).unwrap();
        assert!(ring.has_changed());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_ring_files_are_refused() {
        let dir = temp_dir("bad");
        let path = dir.join("bad.ring.gz");
        let hash = || HashPathConfig::new("", "x").unwrap();
        fs::write(&path, b"not gzip").unwrap();
        assert!(matches!(
            Ring::load(&path, hash()),
            Err(RingError::InvalidRingFile { .. })
        ));
        let gzip = |bytes: &[u8]| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            std::io::Write::write_all(&mut encoder, bytes).unwrap();
            encoder.finish().unwrap()
        };
        fs::write(&path, gzip(b"R1NG\x00\x02rest")).unwrap();
        let err = Ring::load(&path, hash()).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
        fs::write(&path, gzip(b"NOPE\x00\x01")).unwrap();
        assert!(matches!(
            RingData::load(&path),
            Err(RingError::InvalidRingFile { .. })
        ));
        assert!(matches!(
            RingData::load(dir.join("missing.ring.gz")),
            Err(RingError::Io { .. })
        ));

        let mut empty = hand_ring();
        empty.replica2part2dev_id.clear();
        empty.save(&path).unwrap();
        assert!(matches!(
            Ring::load(&path, hash()),
            Err(RingError::InvalidRingFile { .. })
        ));
        let mut dangling = hand_ring();
        dangling.replica2part2dev_id[0][0] = 4;
        assert!(matches!(
            Ring::from_ring_data(dangling, hash()),
            Err(RingError::Validation(_))
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
