//! Microsoft/Connectix Virtual Hard Disk, qemu's `vpc` (`VHDInspector`
//! upstream; layout from the VHD specification and qemu's block/vpc.c).
//!
//! Every VHD ends with a 512-byte big-endian footer (`conectix` cookie, sizes,
//! CHS geometry, disk type, checksum). A *dynamic* or *differencing* VHD also
//! keeps a copy of it at offset 0, which is where upstream and qemu's probe
//! look. A *fixed* VHD is a raw disk followed by the footer, with nothing at
//! offset 0; upstream therefore cannot recognise it at all. We accept it when
//! the upload claims `vhd`, by reading the footer from the end of the stream,
//! exactly as qemu does when told the format is vpc. When the claim is not
//! `vhd`, a trailing footer alone does not make an image a VHD: qemu's probe
//! would not call it one either, and the bytes before it are a plain raw disk.
//!
//! The virtual size follows qemu, not upstream's "original size" field: images
//! written by Virtual PC and older qemu (`vpc `, `qemu`) are sized by their CHS
//! geometry unless that geometry is the maximum; all others by "current size".
//!
//! Refused: a differencing disk (type 4) names a parent image on the host;
//! and a footer whose checksum is wrong, which qemu refuses as well.

use super::region::{be_u16, be_u32, be_u64, Region};
use super::{DiskFormat, FormatProbe, InspectError, StreamEnd};

const FOOTER_LEN: usize = 512;
const COOKIE: &[u8; 8] = b"conectix";
const CREATOR_APPLICATION: usize = 28;
const CURRENT_SIZE: usize = 48;
const CYLINDERS: usize = 56;
const HEADS: usize = 58;
const SECTORS_PER_TRACK: usize = 59;
const DISK_TYPE: usize = 60;
const CHECKSUM: usize = 64;

const DISK_TYPE_FIXED: u32 = 2;
const DISK_TYPE_DYNAMIC: u32 = 3;
const DISK_TYPE_DIFFERENCING: u32 = 4;
/// qemu uses "current size" when the CHS geometry is pinned at its maximum.
const MAX_CHS_SECTORS: u64 = 65535 * 16 * 255;

#[derive(Debug)]
pub(super) struct VhdProbe {
    head: Region,
}

impl VhdProbe {
    pub(super) fn new() -> Self {
        Self {
            head: Region::new(0, FOOTER_LEN),
        }
    }

    /// A fixed VHD: no footer copy at offset 0, the footer is the last sector.
    /// `Ok(None)` means there is no footer there either (not a VHD at all).
    pub(super) fn conclude_fixed(&self, end: &StreamEnd<'_>) -> Result<Option<u64>, InspectError> {
        let Some(footer) = end.tail.last(FOOTER_LEN) else {
            return Ok(None);
        };
        if !footer.starts_with(COOKIE) {
            return Ok(None);
        }
        check_footer(footer)?;
        match be_u32(footer, DISK_TYPE) {
            DISK_TYPE_FIXED => {}
            DISK_TYPE_DYNAMIC | DISK_TYPE_DIFFERENCING => {
                return Err(corrupt(
                    "the image has a dynamic-disk footer at its end but no copy of it at offset 0"
                        .to_string(),
                ))
            }
            other => return Err(corrupt(format!("unknown disk type {other}"))),
        }
        let virtual_size = virtual_size(footer);
        let data_length = end.total - FOOTER_LEN as u64;
        if virtual_size > data_length {
            return Err(corrupt(format!(
                "the footer declares a {virtual_size}-byte disk but only {data_length} bytes of disk data precede it"
            )));
        }
        Ok(Some(virtual_size))
    }
}

impl FormatProbe for VhdProbe {
    fn feed(&mut self, position: u64, chunk: &[u8]) {
        self.head.feed(position, chunk);
    }

    fn matches(&self) -> Option<bool> {
        let data = self.head.data();
        (data.len() >= COOKIE.len()).then(|| data.starts_with(COOKIE))
    }

    fn problem(&self) -> Option<&InspectError> {
        None
    }

    fn conclude(&self, end: &StreamEnd<'_>) -> Result<Option<u64>, InspectError> {
        if !self.head.is_complete() {
            return Err(corrupt(format!(
                "the image ends after {} bytes, inside the VHD footer copy",
                end.total
            )));
        }
        let footer = self.head.data();
        check_footer(footer)?;
        match be_u32(footer, DISK_TYPE) {
            DISK_TYPE_DIFFERENCING => Err(InspectError::UnsafeDifferencingDisk {
                format: DiskFormat::Vhd,
            }),
            DISK_TYPE_FIXED | DISK_TYPE_DYNAMIC => Ok(Some(virtual_size(footer))),
            other => Err(corrupt(format!("unknown disk type {other}"))),
        }
    }

    fn buffered(&self) -> usize {
        self.head.buffered()
    }
}

/// The footer checksum: one's complement of the byte sum, checksum field excluded.
fn check_footer(footer: &[u8]) -> Result<(), InspectError> {
    let sum = footer
        .iter()
        .enumerate()
        .filter(|(at, _)| !(CHECKSUM..CHECKSUM + 4).contains(at))
        .fold(0u32, |sum, (_, byte)| sum.wrapping_add(u32::from(*byte)));
    let stored = be_u32(footer, CHECKSUM);
    if !sum != stored {
        return Err(corrupt(format!(
            "footer checksum is {stored:#010x} but the footer sums to {:#010x}",
            !sum
        )));
    }
    Ok(())
}

/// The disk size as qemu's vpc driver computes it.
fn virtual_size(footer: &[u8]) -> u64 {
    let chs_sectors = u64::from(be_u16(footer, CYLINDERS))
        * u64::from(footer[HEADS])
        * u64::from(footer[SECTORS_PER_TRACK]);
    let creator = &footer[CREATOR_APPLICATION..CREATOR_APPLICATION + 4];
    let sized_by_geometry = creator == b"vpc " || creator == b"qemu";
    if sized_by_geometry && chs_sectors != MAX_CHS_SECTORS {
        chs_sectors * 512
    } else {
        be_u64(footer, CURRENT_SIZE) / 512 * 512
    }
}

fn corrupt(reason: String) -> InspectError {
    InspectError::Corrupt {
        format: DiskFormat::Vhd,
        reason,
    }
}
