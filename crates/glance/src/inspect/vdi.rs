//! VirtualBox VDI (`VDIInspector` upstream; layout as qemu's block/vdi.c reads
//! it).
//!
//! A little-endian header at offset 0: the signature `0xbeda107f` at 0x40 and
//! the disk size in bytes at 0x170. VDI has no way to name another file that
//! qemu would follow, so (as upstream) there is no safety check beyond the
//! format matching its claim.

use super::region::{le_u32, le_u64, Region};
use super::{DiskFormat, FormatProbe, InspectError, StreamEnd};

const SIGNATURE_AT: usize = 0x40;
const SIGNATURE: u32 = 0xbeda_107f;
const DISK_SIZE_AT: usize = 0x170;
const HEADER_LEN: usize = DISK_SIZE_AT + 8;

#[derive(Debug)]
pub(super) struct VdiProbe {
    header: Region,
}

impl VdiProbe {
    pub(super) fn new() -> Self {
        Self {
            header: Region::new(0, HEADER_LEN),
        }
    }
}

impl FormatProbe for VdiProbe {
    fn feed(&mut self, position: u64, chunk: &[u8]) {
        self.header.feed(position, chunk);
    }

    fn matches(&self) -> Option<bool> {
        let data = self.header.data();
        (data.len() >= SIGNATURE_AT + 4).then(|| le_u32(data, SIGNATURE_AT) == SIGNATURE)
    }

    fn problem(&self) -> Option<&InspectError> {
        None
    }

    fn conclude(&self, end: &StreamEnd<'_>) -> Result<Option<u64>, InspectError> {
        if !self.header.is_complete() {
            return Err(InspectError::Corrupt {
                format: DiskFormat::Vdi,
                reason: format!(
                    "the image ends after {} bytes, inside the VDI header",
                    end.total
                ),
            });
        }
        Ok(Some(le_u64(self.header.data(), DISK_SIZE_AT)))
    }

    fn buffered(&self) -> usize {
        self.header.buffered()
    }
}
