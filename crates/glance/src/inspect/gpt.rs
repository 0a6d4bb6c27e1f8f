//! Partitioned raw disks: the MBR, and GPT behind its protective MBR
//! (`GPTInspector` upstream; layout from the UEFI specification, chapter 5).
//!
//! Glance has no `gpt` disk_format: a partitioned disk is `raw`. The probe exists
//! for three reasons, all as upstream:
//!
//! - an upload claiming `raw` whose first sector is an MBR gets the MBR checked
//!   (boot flags, the protective-MBR rules of GPT, at least one partition);
//! - an image whose first sector both is an MBR and carries another format's
//!   header is ambiguous and refused by the dispatcher, except for an ISO, which
//!   may legitimately carry an MBR/GPT in its system area (isohybrid);
//! - a FAT boot sector looks like an MBR but is a filesystem, so it is excluded.

use super::region::{le_u16, le_u32, Region};
use super::{FormatProbe, InspectError, StreamEnd};

const SECTOR: usize = 512;
const MBR_SIGNATURE: u16 = 0xaa55;
const PARTITION_TABLE_AT: usize = 446;
const PROTECTIVE_MBR_TYPE: u8 = 0xee;
/// BPB fields of a FAT volume boot record: number of FATs and media descriptor.
const FAT_NUMBER_OF_FATS_AT: usize = 0x10;
const FAT_MEDIA_DESCRIPTOR_AT: usize = 0x15;
const MEDIA_FIXED_DISK: u8 = 0xf8;

#[derive(Debug)]
pub(super) struct GptProbe {
    sector: Region,
}

impl GptProbe {
    pub(super) fn new() -> Self {
        Self {
            sector: Region::new(0, SECTOR),
        }
    }

    /// Upstream's MBR checks, run when a `raw` upload starts with an MBR.
    pub(super) fn check_partition_table(&self) -> Result<(), InspectError> {
        let sector = self.sector.data();
        let mut used = Vec::new();
        let mut protective = false;
        for index in 0..4 {
            let entry = &sector[PARTITION_TABLE_AT + 16 * index..][..16];
            let boot_flag = entry[0];
            let start_chs = (entry[1], entry[2], entry[3]);
            let partition_type = entry[4];
            let start_lba = le_u32(entry, 8);
            if boot_flag != 0x00 && boot_flag != 0x80 {
                return Err(InspectError::InvalidPartitionTable(format!(
                    "MBR partition entry {index} has boot flag {boot_flag:#04x} (only 0x00 and 0x80 are valid)"
                )));
            }
            if partition_type != 0 {
                used.push(index);
            }
            if partition_type == PROTECTIVE_MBR_TYPE {
                protective = true;
                if start_chs != (0x00, 0x02, 0x00) {
                    return Err(InspectError::InvalidPartitionTable(
                        "the GPT protective MBR entry does not start at CHS 0/0/2".to_string(),
                    ));
                }
                if start_lba != 1 {
                    return Err(InspectError::InvalidPartitionTable(format!(
                        "the GPT protective MBR entry starts at LBA {start_lba}, not 1"
                    )));
                }
            }
        }
        if protective && used != [0] {
            return Err(InspectError::InvalidPartitionTable(
                "a GPT protective MBR must define exactly one partition, in the first entry"
                    .to_string(),
            ));
        }
        if used.is_empty() {
            return Err(InspectError::InvalidPartitionTable(
                "the MBR signature is present but no partition is defined".to_string(),
            ));
        }
        Ok(())
    }
}

impl FormatProbe for GptProbe {
    fn feed(&mut self, position: u64, chunk: &[u8]) {
        self.sector.feed(position, chunk);
    }

    fn matches(&self) -> Option<bool> {
        if !self.sector.is_complete() {
            return None;
        }
        let sector = self.sector.data();
        let is_fat = sector[FAT_NUMBER_OF_FATS_AT] == 2
            && sector[FAT_MEDIA_DESCRIPTOR_AT] == MEDIA_FIXED_DISK;
        Some(le_u16(sector, SECTOR - 2) == MBR_SIGNATURE && !is_fat)
    }

    fn problem(&self) -> Option<&InspectError> {
        None
    }

    fn conclude(&self, _end: &StreamEnd<'_>) -> Result<Option<u64>, InspectError> {
        // A partitioned disk is raw: its virtual size is its length, which the
        // dispatcher fills in.
        self.check_partition_table().map(|()| None)
    }

    fn buffered(&self) -> usize {
        self.sector.buffered()
    }
}
