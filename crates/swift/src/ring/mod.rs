//! Swift's consistent-hashing ring: the ring builder operators drive with `swift-ring-builder`, and
//! the ring the proxy, replicators and auditors read to find where an account, container or
//! object lives. This mirrors swift/common/ring (builder.py, ring.py, utils.py, io.py) and
//! swift/cli/ringbuilder.py.
//!
//! - [`device`]: a storage device in the ring (region, zone, ip, port, device name, weight...), the
//!   search values (`d1`, `r1z1-127.0.0.1:6200/sdb1`, `z1`) and add values of the CLI.
//! - [`builder`]: [`RingBuilder`], which assigns the `2^part_power` partitions' replicas to devices
//!   by weight while keeping each partition's replicas as far apart as the topology allows
//!   (regions, then zones, then servers, then devices), moves as little as it can on a change and
//!   never moves more than one replica of a partition within `min_part_hours`.
//! - [`ring`]: [`RingData`] (what a ring file holds) and [`Ring`], the read side:
//!   [`Ring::get_part`], [`Ring::get_part_nodes`], [`Ring::get_more_nodes`].
//! - [`cli`]: the `swift-ring-builder` verbs as one function, [`cli::run`].
//!
//! # Files
//!
//! As upstream, a builder file (`object.builder`) and a ring file (`object.ring.gz`) are separate:
//! the builder file keeps what only the builder needs (when each partition last moved, devices
//! marked for removal...), the ring file is what is pushed to every node.
//!
//! - Ring file: upstream's *v1* ring format, so rings are interchangeable with Python Swift: a
//!   gzip stream (with a fixed gzip mtime, so the same ring always gives the same bytes) holding
//!   the magic `R1NG`, the format version as a big-endian `u16` (1), a big-endian `u32` length and
//!   that many bytes of JSON (`devs`, `part_shift`, `replica_count`, `byteorder`, `version`,
//!   `next_part_power`), then one array of `u16` device ids per replica, in the byte order the JSON
//!   names (we write `little`). Device ids must therefore stay below 65535. Upstream's newer v2
//!   format (sectioned, for 4-byte device ids) is not read or written.
//! - Builder file: our own JSON document (`"format": "ferrostack-ring-builder"`, format version 1)
//!   instead of upstream's Python pickle, which Rust cannot read safely.
//!
//! Both are written atomically: to a temporary file in the same directory, flushed to disk, then
//! renamed over the target.

pub mod builder;
pub mod cli;
pub mod device;
mod io;
// The runtime ring is `ring::ring`, as upstream's swift/common/ring/ring.py.
#[allow(clippy::module_inception)]
pub mod ring;

pub use builder::{RebalanceResult, RingBuilder};
pub use device::{Device, DeviceSearch, NewDevice};
pub use ring::{HandoffNode, HashPathConfig, MoreNodes, Node, Ring, RingData};

use std::path::PathBuf;

/// Errors of the ring, the builder and the `swift-ring-builder` CLI.
///
/// Messages follow upstream's where upstream has one, so an operator who knows
/// `swift-ring-builder` recognises them.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// A value given to the builder or the CLI is not acceptable (upstream's `ValueError`).
    #[error("{0}")]
    InvalidValue(String),

    /// The command line was not understood; the message is the usage text of the verb.
    #[error("{0}")]
    Usage(String),

    /// A CLI verb could not do what was asked; the message says what and that nothing changed.
    #[error("{0}")]
    Command(String),

    /// The builder has no device with weight (upstream's `EmptyRingError`).
    #[error("There are no devices in this ring, or all devices have been deleted")]
    EmptyRing,

    /// `add_dev` was given an id that is already in use.
    #[error("Duplicate device id: {0}")]
    DuplicateDevice(u32),

    /// No device has this id.
    #[error("No device with id {0} in the ring builder")]
    DeviceNotFound(u32),

    /// The device is marked for removal at the next rebalance and can no longer be changed.
    #[error("Can not {action} of dev_id {id} because it is marked for removal")]
    MarkedForRemoval { id: u32, action: &'static str },

    /// The ring, or the plan the builder made for it, breaks one of the ring's rules
    /// (upstream's `RingValidationError`).
    #[error("{0}")]
    Validation(String),

    /// The builder file does not exist (the CLI's `create` makes one).
    #[error("Ring Builder file does not exist: {}", .0.display())]
    BuilderFileNotFound(PathBuf),

    /// The builder file is not a builder file this code wrote.
    #[error("Ring Builder file is invalid: {}: {reason}", path.display())]
    InvalidBuilderFile { path: PathBuf, reason: String },

    /// The ring file cannot be read as a ring.
    #[error("Ring file {} is invalid: {reason}", path.display())]
    InvalidRingFile { path: PathBuf, reason: String },

    /// Reading or writing a file failed; the operating system's error is the source.
    #[error("could not {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `hash_path` was given an object without a container.
    #[error("container is required if object is provided")]
    ObjectWithoutContainer,

    /// Neither `swift_hash_path_prefix` nor `swift_hash_path_suffix` is set.
    #[error(
        "swift_hash_path_suffix and/or swift_hash_path_prefix are missing from the [swift-hash] \
         section of swift.conf; set at least one (to a secret value) before using a ring"
    )]
    HashPathNotConfigured,
}

impl RingError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        RingError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
