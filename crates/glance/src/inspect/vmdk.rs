//! VMware VMDK (`VMDKInspector` upstream; layout from VMware's "Virtual Disk
//! Format 5.0" and qemu's block/vmdk.c).
//!
//! A VMDK is described by a text *descriptor*: a `createType`, header fields,
//! `ddb.*` lines and one *extent* line per piece of disk data, each naming a
//! file (`RW 20480 SPARSE "disk.vmdk"`, `RW 20480 FLAT "disk-flat.vmdk" 0`).
//! The descriptor is either
//!
//! - embedded in a *hosted sparse extent*: a 512-byte little-endian header
//!   (`KDMV`, version, flags, capacity in sectors, descriptor offset and size
//!   in sectors, grain directory offset...) with the descriptor at sector 1 —
//!   the self-contained `monolithicSparse` and `streamOptimized` subformats; or
//! - a file of its own, with the disk data in the files its extents name.
//!
//! qemu opens every extent a descriptor names, relative to the image's
//! directory or by absolute path, and follows `parentFileNameHint` to a parent
//! disk. An uploaded VMDK can therefore make a compute or volume host read any
//! file it can reach (OSSA-2023-002, CVE-2022-47951). We accept only a hosted sparse extent
//! whose descriptor says `monolithicSparse` or `streamOptimized`, contains only
//! lines we understand, and has exactly one `SPARSE` extent with a bare file
//! name (the file itself). Upstream accepts any number of extents without a
//! `/`, and does not look at `parentFileNameHint`; both are stricter here (a
//! `qemu-img create -b` child VMDK carries a bare parent name, which qemu
//! resolves next to the image).
//!
//! The older `COWD` sparse extent (VMDK3) is refused: qemu's probe calls it a
//! VMDK, so it cannot pass as raw, and its header is not inspected.
//!
//! A descriptor file is read from offset 0 up to its first NUL, the first
//! non-text byte, 1 MiB - 1 (qemu's limit) or the end of the stream, however
//! the chunks fall (upstream parses whatever arrived with the first chunk).
//!
//! Two more cases qemu reads differently from the header, both handled:
//! a header with capacity 0 makes qemu treat the embedded descriptor as a
//! descriptor *file* (refused); and a grain directory offset of
//! `GD_AT_END` (streamOptimized written by VMware tools) makes qemu take every
//! field from the footer in the last three sectors, so the footer is checked
//! against the header, as upstream does, and must agree on the capacity too.

use super::region::{le_u32, le_u64, Region, StreamTail};
use super::{DiskFormat, FormatProbe, InspectError, StreamEnd};

const MAGIC: &[u8; 4] = b"KDMV";
/// The older VMware ESX/GSX sparse extent ("COWD").
const VMDK3_MAGIC: &[u8; 4] = b"COWD";
const SECTOR: u64 = 512;
const HEADER_LEN: usize = 512;
/// qemu reads at most 1 MiB - 1 of descriptor; so does upstream.
const DESCRIPTOR_MAX: usize = (1 << 20) - 1;
const GD_AT_END: u64 = u64::MAX;
const MARKER_END_OF_STREAM: u32 = 0;
const MARKER_FOOTER: u32 = 3;
const CREATE_TYPE: &str = "createtype=\"";
const PARENT_HINT: &str = "parentfilenamehint";
const SUBFORMATS: [&str; 2] = ["monolithicsparse", "streamoptimized"];
const EXTENT_ACCESS: [&str; 3] = ["rw", "rdonly", "noaccess"];

/// The fields of a hosted sparse extent header that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SparseHeader {
    version: u32,
    capacity: u64,
    descriptor_offset: u64,
    descriptor_size: u64,
    grain_directory_offset: u64,
}

impl SparseHeader {
    fn parse(bytes: &[u8]) -> Self {
        Self {
            version: le_u32(bytes, 4),
            capacity: le_u64(bytes, 12),
            descriptor_offset: le_u64(bytes, 28),
            descriptor_size: le_u64(bytes, 36),
            grain_directory_offset: le_u64(bytes, 56),
        }
    }
}

#[derive(Debug)]
enum Layout {
    /// Not enough bytes yet to tell.
    Unknown,
    /// `KDMV` at offset 0.
    Sparse { header: Option<SparseHeader> },
    /// Text from offset 0: possibly a descriptor file; `scanned` bytes checked.
    Text { scanned: usize, ended: bool },
    /// Neither: not a VMDK.
    NotVmdk,
}

#[derive(Debug)]
pub(super) struct VmdkProbe {
    head: Region,
    layout: Layout,
    descriptor: Option<Region>,
    /// Set once the descriptor has been read and checked.
    checked: bool,
    problem: Option<InspectError>,
}

impl VmdkProbe {
    pub(super) fn new() -> Self {
        Self {
            head: Region::new(0, HEADER_LEN),
            layout: Layout::Unknown,
            descriptor: None,
            checked: false,
            problem: None,
        }
    }

    fn advance(&mut self, position: u64, chunk: &[u8]) -> Result<(), InspectError> {
        if let Layout::Unknown = self.layout {
            let head = self.head.data();
            if head.len() < MAGIC.len() {
                return Ok(());
            }
            let binary = head
                .iter()
                .find(|byte| !is_text(**byte))
                .is_some_and(|byte| *byte != 0);
            self.layout = if head.starts_with(MAGIC) {
                Layout::Sparse { header: None }
            } else if head.starts_with(VMDK3_MAGIC) {
                // qemu's probe calls it a VMDK, so it cannot pass as raw; and
                // nothing checks what its header points at, so it is refused.
                self.checked = true;
                return Err(InspectError::UnsupportedVmdkSubformat(
                    "COWD (VMDK version 3 sparse extent)".to_string(),
                ));
            } else if binary {
                // The common case for anything that is not a VMDK: decided
                // without buffering a possible descriptor.
                Layout::NotVmdk
            } else {
                // The descriptor starts at 0: seed it with what the head has
                // captured, since earlier chunks are gone.
                let mut descriptor = Region::new(0, DESCRIPTOR_MAX);
                descriptor.feed(0, head);
                self.descriptor = Some(descriptor);
                Layout::Text {
                    scanned: 0,
                    ended: false,
                }
            };
        }
        match &mut self.layout {
            Layout::Sparse { header } => {
                if header.is_none() && self.head.is_complete() {
                    let parsed = SparseHeader::parse(self.head.data());
                    *header = Some(parsed);
                    self.descriptor = Some(descriptor_region(&parsed)?);
                }
                if let Some(descriptor) = &mut self.descriptor {
                    descriptor.feed(position, chunk);
                    if descriptor.is_complete() && !self.checked {
                        self.checked = true;
                        check_descriptor(descriptor.data(), true)?;
                    }
                }
            }
            Layout::Text { scanned, ended } => {
                let Some(descriptor) = &mut self.descriptor else {
                    return Ok(());
                };
                descriptor.feed(position, chunk);
                let data = descriptor.data();
                match data[*scanned..].iter().position(|byte| !is_text(*byte)) {
                    Some(at) if data[*scanned + at] == 0 => {
                        // A NUL ends the descriptor text (qemu reads it as a C string).
                        *scanned += at;
                        *ended = true;
                    }
                    Some(_) => {
                        self.layout = Layout::NotVmdk;
                        self.descriptor = None;
                        return Ok(());
                    }
                    None => {
                        *scanned = data.len();
                        *ended = descriptor.is_complete();
                    }
                }
                if *ended {
                    let text_end = *scanned;
                    descriptor.close();
                    self.decide_text(text_end)?;
                }
            }
            Layout::Unknown | Layout::NotVmdk => {}
        }
        Ok(())
    }

    /// The text from offset 0 has ended: it is a descriptor file if it names a
    /// `createType`, and then it is refused (its data lives in other files).
    fn decide_text(&mut self, text_end: usize) -> Result<(), InspectError> {
        let Some(descriptor) = &self.descriptor else {
            return Ok(());
        };
        let text = &descriptor.data()[..text_end];
        if !contains(&text.to_ascii_lowercase(), CREATE_TYPE) {
            self.layout = Layout::NotVmdk;
            self.descriptor = None;
            return Ok(());
        }
        self.checked = true;
        check_descriptor(text, false)?;
        // Every extent of a descriptor file is another file, and one without
        // extents is no disk at all: `check_descriptor` cannot pass it.
        Err(InspectError::UnsafeVmdkDescriptor(
            "a descriptor file without extents describes no disk".to_string(),
        ))
    }

    fn header(&self) -> Option<SparseHeader> {
        match self.layout {
            Layout::Sparse { header } => header,
            _ => None,
        }
    }
}

impl FormatProbe for VmdkProbe {
    fn feed(&mut self, position: u64, chunk: &[u8]) {
        self.head.feed(position, chunk);
        if self.problem.is_some() {
            return;
        }
        if let Err(problem) = self.advance(position, chunk) {
            self.problem = Some(problem);
        }
    }

    fn end_of_stream(&mut self) {
        if self.problem.is_some() {
            return;
        }
        if let Layout::Text {
            scanned,
            ended: false,
        } = self.layout
        {
            if let Err(problem) = self.decide_text(scanned) {
                self.problem = Some(problem);
            }
        }
    }

    fn matches(&self) -> Option<bool> {
        match self.layout {
            Layout::Unknown if self.checked => Some(true),
            Layout::Unknown => None,
            Layout::Sparse { .. } => Some(true),
            Layout::Text { ended, .. } => (ended || self.problem.is_some()).then_some(true),
            Layout::NotVmdk => Some(false),
        }
    }

    fn problem(&self) -> Option<&InspectError> {
        self.problem.as_ref()
    }

    fn conclude(&self, end: &StreamEnd<'_>) -> Result<Option<u64>, InspectError> {
        if let Some(problem) = &self.problem {
            return Err(problem.clone());
        }
        let (Some(header), true) = (self.header(), self.checked) else {
            return Err(corrupt(format!(
                "the image ends after {} bytes, before the end of its header and descriptor",
                end.total
            )));
        };
        let capacity = if header.grain_directory_offset == GD_AT_END {
            check_footer(&header, end.tail)?
        } else {
            header.capacity
        };
        capacity
            .checked_mul(SECTOR)
            .map(Some)
            .ok_or_else(|| corrupt(format!("capacity of {capacity} sectors overflows")))
    }

    fn buffered(&self) -> usize {
        self.head.buffered() + self.descriptor.as_ref().map_or(0, Region::buffered)
    }
}

/// Where the embedded descriptor is, after checking the header fields qemu
/// would act on.
fn descriptor_region(header: &SparseHeader) -> Result<Region, InspectError> {
    if !(1..=3).contains(&header.version) {
        return Err(corrupt(format!(
            "unsupported sparse extent version {}",
            header.version
        )));
    }
    if header.capacity == 0 {
        return Err(corrupt(
            "capacity is 0, which makes qemu read the embedded descriptor as a separate \
             descriptor file"
                .to_string(),
        ));
    }
    if header.descriptor_offset != 1 {
        return Err(corrupt(format!(
            "the embedded descriptor must start at sector 1, not {}",
            header.descriptor_offset
        )));
    }
    let length = header
        .descriptor_size
        .saturating_mul(SECTOR)
        .min(DESCRIPTOR_MAX as u64);
    if length == 0 {
        return Err(InspectError::UnsafeVmdkDescriptor(
            "no embedded descriptor".to_string(),
        ));
    }
    Ok(Region::new(SECTOR, length as usize))
}

/// Printable ASCII or whitespace: what a descriptor is made of.
fn is_text(byte: u8) -> bool {
    matches!(byte, b' '..=b'~' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Upstream's cautious descriptor parse: every line must be a comment, a
/// `ddb` entry, a `key=value` header field or an extent, or the image is
/// refused. `embedded`: the descriptor sits inside a hosted sparse extent.
fn check_descriptor(bytes: &[u8], embedded: bool) -> Result<(), InspectError> {
    let bytes = bytes.split(|byte| *byte == 0).next().unwrap_or_default();
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|text| text.is_ascii())
        .ok_or_else(|| {
            InspectError::UnsafeVmdkDescriptor("the descriptor is not ASCII text".to_string())
        })?;

    if text.trim().is_empty() {
        return Err(InspectError::UnsafeVmdkDescriptor(
            "the embedded descriptor is empty (is this one extent of a split VMDK?)".to_string(),
        ));
    }
    // qemu finds `parentFileNameHint` (and `createType`) with strstr over the
    // whole descriptor, comments included, so search the same way.
    let lower_text = text.to_ascii_lowercase();
    if let Some(at) = lower_text.find(PARENT_HINT) {
        let hint = text[at..].lines().next().unwrap_or_default();
        return Err(InspectError::UnsafeVmdkBackingFile(hint.trim().to_string()));
    }
    let create_type = lower_text.find(CREATE_TYPE).and_then(|at| {
        let value = &lower_text[at + CREATE_TYPE.len()..];
        value
            .find('"')
            .filter(|end| *end < 64)
            .map(|end| value[..end].to_string())
    });

    let mut extents = Vec::new();
    for line in text.lines().map(str::trim) {
        let lower = line.to_ascii_lowercase();
        if lower.is_empty() || lower.starts_with('#') || lower.starts_with("ddb") {
            continue;
        }
        if lower
            .split_once('=')
            .is_some_and(|(key, _)| !key.contains(' '))
        {
            continue;
        }
        if lower
            .split(' ')
            .next()
            .is_some_and(|word| EXTENT_ACCESS.contains(&word))
        {
            extents.push(line);
            continue;
        }
        return Err(InspectError::UnsafeVmdkDescriptor(format!(
            "line {line:?} is not understood"
        )));
    }

    if !embedded {
        if let Some(extent) = extents.first() {
            return Err(InspectError::UnsafeVmdkExtent(extent.to_string()));
        }
    }
    for extent in &extents {
        if !is_own_sparse_extent(extent) {
            return Err(InspectError::UnsafeVmdkExtent(extent.to_string()));
        }
    }
    match extents.as_slice() {
        [] => {
            return Err(InspectError::UnsafeVmdkDescriptor(
                "the descriptor has no extents".to_string(),
            ))
        }
        [_] => {}
        [_, second, ..] => return Err(InspectError::UnsafeVmdkExtent(second.to_string())),
    }
    match create_type {
        None => Err(InspectError::UnsafeVmdkDescriptor(
            "the descriptor has no createType".to_string(),
        )),
        Some(subformat) if SUBFORMATS.contains(&subformat.as_str()) => Ok(()),
        Some(subformat) => Err(InspectError::UnsupportedVmdkSubformat(subformat)),
    }
}

/// `<access> <sectors> SPARSE "<bare file name>"` and nothing more.
fn is_own_sparse_extent(line: &str) -> bool {
    let Some((_access, rest)) = next_word(line) else {
        return false;
    };
    let Some((sectors, rest)) = next_word(rest) else {
        return false;
    };
    let Some((kind, rest)) = next_word(rest) else {
        return false;
    };
    let Some(name) = rest
        .trim()
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    sectors.parse::<u64>().is_ok()
        && kind.eq_ignore_ascii_case("sparse")
        && !name.is_empty()
        && !name.contains(['/', '\\', '"'])
}

/// The first whitespace-separated word of `text` and what follows it.
fn next_word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    let end = text.find(char::is_whitespace)?;
    Some(text.split_at(end))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// The footer of a streamOptimized image whose header defers to it: footer
/// marker, a copy of the header, end-of-stream marker. Returns the capacity.
fn check_footer(header: &SparseHeader, tail: &StreamTail) -> Result<u64, InspectError> {
    let Some(tail) = tail.last(StreamTail::CAPACITY) else {
        return Err(corrupt(
            "the header defers to a footer but the image is too short for one".to_string(),
        ));
    };
    let (marker, rest) = tail.split_at(512);
    let (footer, end_of_stream) = rest.split_at(512);
    let zero_padding = |sector: &[u8]| sector[16..].iter().all(|byte| *byte == 0);

    if le_u32(marker, 8) != 0 || le_u32(marker, 12) != MARKER_FOOTER || !zero_padding(marker) {
        return Err(corrupt("the footer marker is invalid".to_string()));
    }
    if le_u64(end_of_stream, 0) != 0
        || le_u32(end_of_stream, 8) != 0
        || le_u32(end_of_stream, 12) != MARKER_END_OF_STREAM
        || !zero_padding(end_of_stream)
    {
        return Err(corrupt("the end-of-stream marker is invalid".to_string()));
    }
    if !footer.starts_with(MAGIC) {
        return Err(corrupt("the footer does not start with KDMV".to_string()));
    }
    let footer = SparseHeader::parse(footer);
    if footer.version != header.version {
        return Err(corrupt("header and footer versions differ".to_string()));
    }
    if (footer.descriptor_offset, footer.descriptor_size)
        != (header.descriptor_offset, header.descriptor_size)
    {
        return Err(corrupt(
            "the footer points at a different descriptor than the header".to_string(),
        ));
    }
    if footer.grain_directory_offset == GD_AT_END {
        return Err(corrupt("the footer defers to another footer".to_string()));
    }
    if footer.capacity != header.capacity {
        return Err(corrupt(format!(
            "header capacity ({} sectors) and footer capacity ({} sectors) differ",
            header.capacity, footer.capacity
        )));
    }
    Ok(footer.capacity)
}

fn corrupt(reason: String) -> InspectError {
    InspectError::Corrupt {
        format: DiskFormat::Vmdk,
        reason,
    }
}
