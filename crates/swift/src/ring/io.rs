//! Ring files on disk: upstream's v1 ring format (swift/common/ring/ring.py `serialize_v1` /
//! `deserialize_v1`, swift/common/ring/io.py) and atomic file replacement.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::read::MultiGzDecoder;
use flate2::{Compression, GzBuilder};
use serde::{Deserialize, Serialize};

use super::device::Device;
use super::ring::RingData;
use super::RingError;

/// The magic at the start of an uncompressed ring file.
const RING_MAGIC: &[u8; 4] = b"R1NG";
/// The only ring format version read and written here.
const RING_FORMAT_V1: u16 = 1;
/// Upstream pins the gzip header's mtime so the same ring always compresses to the same bytes, and
/// a checksum tells whether two nodes have the same ring. Same value as upstream.
const RING_GZIP_MTIME: u32 = 1_300_507_380;
/// v1 stores device ids as `u16`; the largest value is upstream's "no device" marker.
pub(crate) const MAX_V1_DEV_ID: u32 = u16::MAX as u32 - 1;

/// The JSON header of a v1 ring file. Fields are in alphabetical order, as upstream writes them.
#[derive(Serialize, Deserialize)]
struct RingHeaderV1 {
    #[serde(default)]
    byteorder: Option<String>,
    devs: Vec<Option<Device>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_part_power: Option<u32>,
    part_shift: u32,
    replica_count: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
}

/// Encodes a ring as a gzip'd v1 ring file.
pub(crate) fn encode_ring_v1(ring: &RingData) -> Result<Vec<u8>, RingError> {
    let header = RingHeaderV1 {
        byteorder: Some("little".to_string()),
        devs: ring.devs.clone(),
        next_part_power: ring.next_part_power,
        part_shift: ring.part_shift,
        replica_count: ring.replica2part2dev_id.len(),
        version: ring.version,
    };
    let json = serde_json::to_vec(&header).map_err(|err| {
        RingError::InvalidValue(format!("cannot encode the ring's devices: {err}"))
    })?;
    let json_len = u32::try_from(json.len())
        .map_err(|_| RingError::InvalidValue("the ring's device list is too large".to_string()))?;
    let mut raw = Vec::with_capacity(
        10 + json.len() + 2 * ring.replica2part2dev_id.iter().map(Vec::len).sum::<usize>(),
    );
    raw.extend_from_slice(RING_MAGIC);
    raw.extend_from_slice(&RING_FORMAT_V1.to_be_bytes());
    raw.extend_from_slice(&json_len.to_be_bytes());
    raw.extend_from_slice(&json);
    for part2dev in &ring.replica2part2dev_id {
        for &dev_id in part2dev {
            let dev_id = u16::try_from(dev_id)
                .ok()
                .filter(|id| u32::from(*id) <= MAX_V1_DEV_ID)
                .ok_or_else(|| {
                    RingError::InvalidValue(format!(
                    "device id {dev_id} does not fit the ring file format (at most {MAX_V1_DEV_ID})"
                ))
                })?;
            raw.extend_from_slice(&dev_id.to_le_bytes());
        }
    }
    let mut encoder = GzBuilder::new()
        .mtime(RING_GZIP_MTIME)
        .write(Vec::new(), Compression::default());
    let compressed = encoder.write_all(&raw).and_then(|()| encoder.finish());
    compressed.map_err(|err| RingError::InvalidValue(format!("cannot compress the ring: {err}")))
}

/// Decodes a gzip'd v1 ring file; `path` is only for messages.
pub(crate) fn decode_ring(compressed: &[u8], path: &Path) -> Result<RingData, RingError> {
    let invalid = |reason: String| RingError::InvalidRingFile {
        path: path.to_path_buf(),
        reason,
    };
    let mut raw = Vec::new();
    MultiGzDecoder::new(compressed)
        .read_to_end(&mut raw)
        .map_err(|err| invalid(format!("not a gzip stream: {err}")))?;
    if raw.len() < 6 || &raw[..4] != RING_MAGIC {
        return Err(invalid(
            "bad ring magic (not a ring file, or a pre-2012 pickled ring)".to_string(),
        ));
    }
    let version = u16::from_be_bytes([raw[4], raw[5]]);
    if version != RING_FORMAT_V1 {
        return Err(invalid(format!(
            "ring format version {version} is not supported; write the ring with --format-version=1"
        )));
    }
    let rest = &raw[6..];
    let (len_bytes, rest) =
        split(rest, 4).ok_or_else(|| invalid("truncated header".to_string()))?;
    let json_len =
        u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
    let (json, mut rest) =
        split(rest, json_len).ok_or_else(|| invalid("truncated header".to_string()))?;
    let header: RingHeaderV1 =
        serde_json::from_slice(json).map_err(|err| invalid(format!("bad header: {err}")))?;
    if header.part_shift > 32 {
        return Err(invalid(format!(
            "part_shift {} is above 32",
            header.part_shift
        )));
    }
    let big_endian = match header.byteorder.as_deref() {
        None | Some("little") => false,
        Some("big") => true,
        Some(other) => return Err(invalid(format!("unknown byteorder {other:?}"))),
    };
    let partition_count = 1u64 << (32 - header.part_shift);
    let mut replica2part2dev_id = Vec::with_capacity(header.replica_count);
    for replica in 0..header.replica_count {
        // As upstream, the last replica may be short (a fractional replica count).
        let want = usize::try_from(partition_count.saturating_mul(2)).unwrap_or(usize::MAX);
        let take = want.min(rest.len());
        if take % 2 != 0 || (replica == 0 && take != want) {
            return Err(invalid("truncated partition assignments".to_string()));
        }
        let (bytes, after) = rest.split_at(take);
        rest = after;
        let part2dev = bytes
            .chunks_exact(2)
            .map(|pair| {
                let id = if big_endian {
                    u16::from_be_bytes([pair[0], pair[1]])
                } else {
                    u16::from_le_bytes([pair[0], pair[1]])
                };
                u32::from(id)
            })
            .collect();
        replica2part2dev_id.push(part2dev);
    }
    Ok(RingData {
        devs: header.devs,
        replica2part2dev_id,
        part_shift: header.part_shift,
        next_part_power: header.next_part_power,
        version: header.version,
    })
}

fn split(bytes: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= at).then(|| bytes.split_at(at))
}

/// Replaces `path` with `contents` so that a reader sees either the old file or the new one,
/// never a part: write a temporary file beside it, flush it to disk, rename it over `path`.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), RingError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let temp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(RingError::io("write", path, source));
    }
    // Make the rename itself durable; not every filesystem lets a directory be synced.
    if let Ok(dir) = fs::File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}
