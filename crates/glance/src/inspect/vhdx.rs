//! Microsoft VHDX (`VHDXInspector` upstream; layout from [MS-VHDX]).
//!
//! VHDX is little-endian and GUID-addressed. The pieces the inspector follows,
//! in stream order:
//!
//! 1. offset 0: the file identifier, `vhdxfile`;
//! 2. offset 192 KiB: region table 1, a 16-byte header (`regi`, checksum,
//!    entry count) and up to 2047 32-byte entries (GUID, file offset, length,
//!    required). The entry for the metadata region gives its offset;
//! 3. the metadata region starts with a 32-byte header (`metadata`, entry
//!    count) and up to 2047 32-byte entries (GUID, offset relative to the
//!    region, length, flags);
//! 4. the *Virtual Disk Size* item (a u64) and the *File Parameters* item
//!    (block size u32, flags u32) at the offsets those entries give.
//!
//! Each structure must lie after the one that points to it, since a stream
//! cannot go back; the specification places them so (regions at 1 MiB or
//! later, metadata items after the 64 KiB table), and an image that points
//! backwards is refused as corrupt rather than guessed at.
//!
//! Beyond upstream, which reads only the virtual size, we also refuse a
//! differencing VHDX (File Parameters flag `HasParent`): its parent locator
//! names another file on the host. qemu does not open those today; the check
//! keeps that true whichever tool reads the image next.

use super::region::{le_u16, le_u32, le_u64, Region};
use super::{DiskFormat, FormatProbe, InspectError, StreamEnd};

const IDENTIFIER: &[u8; 8] = b"vhdxfile";
const REGION_TABLE_AT: u64 = 192 * 1024;
const REGION_TABLE_LEN: usize = 64 * 1024;
const REGION_TABLE_SIGNATURE: &[u8; 4] = b"regi";
const METADATA_TABLE_LEN: usize = 64 * 1024;
const METADATA_TABLE_SIGNATURE: &[u8; 8] = b"metadata";
const TABLE_HEADER_LEN: usize = 32;
const REGION_TABLE_HEADER_LEN: usize = 16;
const ENTRY_LEN: usize = 32;
/// Both tables hold at most 2047 entries.
const MAX_ENTRIES: usize = 2047;
const FILE_PARAMETERS_HAS_PARENT: u32 = 1 << 1;

const METADATA_REGION: [u8; 16] = guid(
    0x8b7c_a206,
    0x4790,
    0x4b9a,
    [0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e],
);
const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2fa5_4224,
    0xcd1b,
    0x4876,
    [0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8],
);
const FILE_PARAMETERS: [u8; 16] = guid(
    0xcaa1_6737,
    0xfa36,
    0x4d43,
    [0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b],
);

/// A GUID as stored on disk: the first three fields little-endian.
const fn guid(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> [u8; 16] {
    let a = data1.to_le_bytes();
    let b = data2.to_le_bytes();
    let c = data3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], data4[0], data4[1], data4[2], data4[3],
        data4[4], data4[5], data4[6], data4[7],
    ]
}

#[derive(Debug)]
pub(super) struct VhdxProbe {
    identifier: Region,
    region_table: Region,
    metadata_table: Option<Region>,
    virtual_disk_size: Option<Region>,
    file_parameters: Option<Region>,
    problem: Option<InspectError>,
}

impl VhdxProbe {
    pub(super) fn new() -> Self {
        Self {
            identifier: Region::new(0, IDENTIFIER.len()),
            region_table: Region::new(REGION_TABLE_AT, REGION_TABLE_LEN),
            metadata_table: None,
            virtual_disk_size: None,
            file_parameters: None,
            problem: None,
        }
    }

    fn advance(&mut self, position: u64, chunk: &[u8]) -> Result<(), InspectError> {
        if self.metadata_table.is_none() {
            self.region_table.feed(position, chunk);
            if !self.region_table.is_complete() {
                return Ok(());
            }
            let offset = self.find_metadata_region()?;
            self.region_table.discard();
            self.metadata_table = Some(Region::new(offset, METADATA_TABLE_LEN));
        }
        if let Some(table) = &mut self.metadata_table {
            if self.virtual_disk_size.is_none() {
                table.feed(position, chunk);
                if let Some((size_item, parameters_item)) = find_metadata_items(table)? {
                    table.discard();
                    self.virtual_disk_size = Some(size_item);
                    self.file_parameters = Some(parameters_item);
                }
            }
        }
        if let Some(size_item) = &mut self.virtual_disk_size {
            size_item.feed(position, chunk);
        }
        if let Some(parameters_item) = &mut self.file_parameters {
            let was_complete = parameters_item.is_complete();
            parameters_item.feed(position, chunk);
            if !was_complete && parameters_item.is_complete() {
                let flags = le_u32(parameters_item.data(), 4);
                if flags & FILE_PARAMETERS_HAS_PARENT != 0 {
                    return Err(InspectError::UnsafeDifferencingDisk {
                        format: DiskFormat::Vhdx,
                    });
                }
            }
        }
        Ok(())
    }

    /// Region table 1 → the offset of the metadata region.
    fn find_metadata_region(&self) -> Result<u64, InspectError> {
        let table = self.region_table.data();
        if !table.starts_with(REGION_TABLE_SIGNATURE) {
            return Err(corrupt(
                "region table signature 'regi' not found at 192 KiB".to_string(),
            ));
        }
        let count = le_u32(table, 8) as usize;
        if count > MAX_ENTRIES {
            return Err(corrupt(format!(
                "region table has {count} entries (limit {MAX_ENTRIES})"
            )));
        }
        let entry = table[REGION_TABLE_HEADER_LEN..]
            .chunks_exact(ENTRY_LEN)
            .take(count)
            .find(|entry| entry[..16] == METADATA_REGION)
            .ok_or_else(|| corrupt("region table has no metadata region".to_string()))?;
        let offset = le_u64(entry, 16);
        let table_end = REGION_TABLE_AT + REGION_TABLE_LEN as u64;
        if offset < table_end {
            return Err(corrupt(format!(
                "metadata region at offset {offset} precedes the end of the region table ({table_end})"
            )));
        }
        Ok(offset)
    }

    fn is_identified(&self) -> bool {
        self.matches() == Some(true)
    }
}

/// Once the metadata table header and all its entries are in: the regions of
/// the Virtual Disk Size and File Parameters items. `Ok(None)`: not all in yet.
fn find_metadata_items(table: &Region) -> Result<Option<(Region, Region)>, InspectError> {
    let data = table.data();
    if data.len() < TABLE_HEADER_LEN {
        return Ok(None);
    }
    if !data.starts_with(METADATA_TABLE_SIGNATURE) {
        return Err(corrupt(format!(
            "metadata table signature 'metadata' not found at offset {}",
            table.offset()
        )));
    }
    let count = usize::from(le_u16(data, 10));
    if count > MAX_ENTRIES {
        return Err(corrupt(format!(
            "metadata table has {count} entries (limit {MAX_ENTRIES})"
        )));
    }
    let entries_end = TABLE_HEADER_LEN + count * ENTRY_LEN;
    if data.len() < entries_end {
        return Ok(None);
    }
    let item = |wanted: &[u8; 16], name: &str| -> Result<Region, InspectError> {
        let entry = data[TABLE_HEADER_LEN..entries_end]
            .chunks_exact(ENTRY_LEN)
            .find(|entry| entry[..16] == *wanted)
            .ok_or_else(|| corrupt(format!("metadata table has no {name} item")))?;
        let offset = le_u32(entry, 16) as usize;
        let length = le_u32(entry, 20);
        if length != 8 {
            return Err(corrupt(format!(
                "{name} item is {length} bytes long, not 8"
            )));
        }
        if offset < entries_end {
            return Err(corrupt(format!(
                "{name} item at metadata offset {offset} overlaps the metadata table"
            )));
        }
        Ok(Region::new(table.offset() + offset as u64, 8))
    };
    Ok(Some((
        item(&VIRTUAL_DISK_SIZE, "Virtual Disk Size")?,
        item(&FILE_PARAMETERS, "File Parameters")?,
    )))
}

impl FormatProbe for VhdxProbe {
    fn feed(&mut self, position: u64, chunk: &[u8]) {
        self.identifier.feed(position, chunk);
        if self.problem.is_some() || !self.is_identified() {
            return;
        }
        if let Err(problem) = self.advance(position, chunk) {
            self.problem = Some(problem);
        }
    }

    fn matches(&self) -> Option<bool> {
        self.identifier
            .is_complete()
            .then(|| self.identifier.data() == IDENTIFIER)
    }

    fn problem(&self) -> Option<&InspectError> {
        self.problem.as_ref()
    }

    fn conclude(&self, end: &StreamEnd<'_>) -> Result<Option<u64>, InspectError> {
        if let Some(problem) = &self.problem {
            return Err(problem.clone());
        }
        let complete = |item: &Option<Region>| item.as_ref().is_some_and(Region::is_complete);
        match &self.virtual_disk_size {
            Some(size) if complete(&self.virtual_disk_size) && complete(&self.file_parameters) => {
                Ok(Some(le_u64(size.data(), 0)))
            }
            _ => Err(corrupt(format!(
                "the image ends after {} bytes, before the virtual disk size could be read",
                end.total
            ))),
        }
    }

    fn buffered(&self) -> usize {
        self.identifier.buffered()
            + self.region_table.buffered()
            + [
                &self.metadata_table,
                &self.virtual_disk_size,
                &self.file_parameters,
            ]
            .into_iter()
            .flatten()
            .map(Region::buffered)
            .sum::<usize>()
    }
}

fn corrupt(reason: String) -> InspectError {
    InspectError::Corrupt {
        format: DiskFormat::Vhdx,
        reason,
    }
}
