//! ISO 9660 / UDF optical-disc images (`ISOInspector` upstream; layout from
//! ECMA-119).
//!
//! The first 16 sectors of 2048 bytes are a "system area" that the standard
//! leaves to the platform, so a bootable ISO may carry an MBR or GPT there
//! (isohybrid images boot from a USB stick as well as a CD). The volume
//! descriptor set starts at sector 16 (byte 32768) with a type byte and the
//! standard identifier `CD001` (`NSR02`/`NSR03` for UDF bridges). Because of the
//! system area, an ISO that also looks like a partitioned disk is still an ISO;
//! the dispatcher in `mod.rs` lets that one overlap through, as Glance's
//! upload path does.
//!
//! The primary volume descriptor (type 1) gives the volume size: the volume
//! space size (blocks, both-endian u32 at 80) times the logical block size
//! (both-endian u16 at 128). ISO 9660 stores each such number twice, little-
//! then big-endian; upstream reads the little-endian half, and we additionally
//! refuse descriptors whose two halves disagree, since a reader trusting the
//! other half would see a different disk.

use super::region::{be_u16, be_u32, le_u16, le_u32, Region};
use super::{DiskFormat, FormatProbe, InspectError, StreamEnd};

const DESCRIPTOR_AT: u64 = 16 * 2048;
const DESCRIPTOR_LEN: usize = 2048;
const IDENTIFIERS: [&[u8; 5]; 3] = [b"CD001", b"NSR02", b"NSR03"];
const PRIMARY_VOLUME_DESCRIPTOR: u8 = 1;
const VOLUME_SPACE_SIZE: usize = 80;
const LOGICAL_BLOCK_SIZE: usize = 128;

#[derive(Debug)]
pub(super) struct IsoProbe {
    descriptor: Region,
}

impl IsoProbe {
    pub(super) fn new() -> Self {
        Self {
            descriptor: Region::new(DESCRIPTOR_AT, DESCRIPTOR_LEN),
        }
    }
}

impl FormatProbe for IsoProbe {
    fn feed(&mut self, position: u64, chunk: &[u8]) {
        self.descriptor.feed(position, chunk);
    }

    fn matches(&self) -> Option<bool> {
        let data = self.descriptor.data();
        self.descriptor
            .is_complete()
            .then(|| IDENTIFIERS.iter().any(|id| &data[1..6] == id.as_slice()))
    }

    fn problem(&self) -> Option<&InspectError> {
        None
    }

    fn conclude(&self, _end: &StreamEnd<'_>) -> Result<Option<u64>, InspectError> {
        let data = self.descriptor.data();
        if data[0] != PRIMARY_VOLUME_DESCRIPTOR {
            // Upstream reports an unknown (zero) virtual size here; so do we.
            return Ok(None);
        }
        let blocks = le_u32(data, VOLUME_SPACE_SIZE);
        let block_size = le_u16(data, LOGICAL_BLOCK_SIZE);
        if blocks != be_u32(data, VOLUME_SPACE_SIZE + 4)
            || block_size != be_u16(data, LOGICAL_BLOCK_SIZE + 2)
        {
            return Err(InspectError::Corrupt {
                format: DiskFormat::Iso,
                reason: "the primary volume descriptor's little- and big-endian volume size \
                         fields disagree"
                    .to_string(),
            });
        }
        Ok(Some(u64::from(blocks) * u64::from(block_size)))
    }

    fn buffered(&self) -> usize {
        self.descriptor.buffered()
    }
}
