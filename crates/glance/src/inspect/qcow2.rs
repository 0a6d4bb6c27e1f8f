//! QEMU copy-on-write v2/v3 (`QcowInspector` upstream; layout from qemu's
//! docs/interop/qcow2.txt).
//!
//! Only the fixed big-endian header is read:
//!
//! | offset | field                                   |
//! |-------:|-----------------------------------------|
//! |      0 | magic `QFI\xfb`                          |
//! |      4 | version (2 or 3)                         |
//! |      8 | backing_file_offset (u64, 0 = none)      |
//! |     24 | size: the virtual disk size in bytes     |
//! |     72 | incompatible_features (u64, v3 only)     |
//!
//! A backing file or an external data file makes qemu open *another path on the
//! host* when the image is used, which is how a tenant reads a compute host's
//! files through their instance's disk; both are refused. Incompatible feature
//! bits beyond the ones listed below change how qemu interprets the file in ways
//! this inspector cannot vouch for, so they are refused too (as upstream does,
//! that includes bit 4, extended L2 entries).

use super::region::{be_u32, be_u64, Region};
use super::{DiskFormat, FormatProbe, InspectError, StreamEnd};

const MAGIC: &[u8; 4] = b"QFI\xfb";
/// Version 3 header up to and including `header_length`.
const HEADER_LEN: usize = 104;
/// Version 2 ends before the feature bitfields.
const V2_HEADER_LEN: usize = 72;

const BACKING_FILE_OFFSET: usize = 8;
const SIZE: usize = 24;
const INCOMPATIBLE_FEATURES: usize = 72;

/// Incompatible feature bit 2: guest data lives in an external file.
const FEATURE_EXTERNAL_DATA_FILE: u64 = 1 << 2;
/// Bits 0-3: dirty, corrupt, external data file, compression type. Upstream
/// knows exactly these; anything higher is refused.
const KNOWN_INCOMPATIBLE_FEATURES: u64 = 0b1111;

#[derive(Debug)]
pub(super) struct Qcow2Probe {
    header: Region,
    problem: Option<InspectError>,
    checked: bool,
}

impl Qcow2Probe {
    pub(super) fn new() -> Self {
        Self {
            header: Region::new(0, HEADER_LEN),
            problem: None,
            checked: false,
        }
    }

    fn version(&self) -> u32 {
        be_u32(self.header.data(), 4)
    }

    /// The header length this file's version needs.
    fn needed(&self) -> Option<usize> {
        match self.version() {
            2 => Some(V2_HEADER_LEN),
            3 => Some(HEADER_LEN),
            _ => None,
        }
    }

    fn check(&self) -> Option<InspectError> {
        let header = self.header.data();
        let version = self.version();
        if version != 2 && version != 3 {
            return Some(InspectError::UnsupportedQcow2Version(version));
        }
        if be_u64(header, BACKING_FILE_OFFSET) != 0 {
            return Some(InspectError::UnsafeQcow2BackingFile);
        }
        if version == 3 {
            let features = be_u64(header, INCOMPATIBLE_FEATURES);
            if features & FEATURE_EXTERNAL_DATA_FILE != 0 {
                return Some(InspectError::UnsafeQcow2DataFile);
            }
            let unknown = features & !KNOWN_INCOMPATIBLE_FEATURES;
            if unknown != 0 {
                return Some(InspectError::UnsupportedQcow2Features { bits: unknown });
            }
        }
        None
    }
}

impl FormatProbe for Qcow2Probe {
    fn feed(&mut self, position: u64, chunk: &[u8]) {
        self.header.feed(position, chunk);
        if self.checked || self.matches() != Some(true) || self.header.data().len() < 8 {
            return;
        }
        // Decide as soon as the header this version needs is in; an unknown
        // version is refused from its first 8 bytes.
        let ready = match self.needed() {
            Some(needed) => self.header.data().len() >= needed,
            None => true,
        };
        if ready {
            self.problem = self.check();
            self.checked = true;
        }
    }

    fn matches(&self) -> Option<bool> {
        let data = self.header.data();
        (data.len() >= MAGIC.len()).then(|| data.starts_with(MAGIC))
    }

    fn problem(&self) -> Option<&InspectError> {
        self.problem.as_ref()
    }

    fn conclude(&self, end: &StreamEnd<'_>) -> Result<Option<u64>, InspectError> {
        if let Some(problem) = &self.problem {
            return Err(problem.clone());
        }
        if !self.checked {
            return Err(InspectError::Corrupt {
                format: DiskFormat::Qcow2,
                reason: format!(
                    "the image ends after {} bytes, inside the qcow2 header",
                    end.total
                ),
            });
        }
        Ok(Some(be_u64(self.header.data(), SIZE)))
    }

    fn buffered(&self) -> usize {
        self.header.buffered()
    }
}
