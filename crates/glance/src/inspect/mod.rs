//! Disk-image format inspection for Glance uploads, as oslo.utils'
//! `oslo_utils/imageutils/format_inspector.py` (formerly
//! `glance/common/format_inspector.py`) and its use in `glance/location.py`.
//!
//! # What it is
//!
//! An [`Inspector`] watches an image upload go by, chunk by chunk, and at the
//! end says what the bytes are, how large the virtual disk is, and whether the
//! image is safe to hand to qemu. It never holds the image: each format's probe
//! captures only the header ranges it needs (about 1.2 MiB at most in total,
//! see [`Inspector::buffered_bytes`]) and the stream is read once, front to
//! back. All probes run on every upload, whatever format is claimed, because
//! the point is to catch images that are not what they claim.
//!
//! One file per format: `qcow2`, `vmdk`, `vhd`, `vhdx`, `vdi`, `iso`, `gpt`
//! (MBR/GPT partition tables of raw disks) and `unsupported` (QED and LUKS,
//! recognised only to be refused); `region` captures byte ranges from the
//! stream. Each file's docs give the layout it reads and the checks it makes.
//!
//! # The exploits it closes
//!
//! Glance stores what tenants upload; Nova, Cinder and Glance's own import then
//! run `qemu-img` and qemu on it, on hosts with access to other tenants' data.
//! A disk image format is a small program for qemu, and some of its
//! instructions point outside the image:
//!
//! - **Backing files and external data files** (qcow2 `backing_file_offset`,
//!   incompatible feature bit 2 `data_file`; VMDK `parentFileNameHint`): qemu
//!   opens the named host path and the guest reads it as its disk —
//!   `/etc/nova/nova.conf`, another instance's disk, a device node
//!   (Launchpad bug 2059809, CVE-2024-32498).
//! - **VMDK extents**: a descriptor lists the files holding the disk's data
//!   (`RW 2048 FLAT "/etc/shadow" 0`); only a single-file sparse VMDK is
//!   accepted (OSSA-2023-002, CVE-2022-47951).
//! - **Differencing disks** (VHD type 4, VHDX `HasParent`): a parent locator
//!   names another file.
//! - **Format confusion**: an upload claiming `raw` that is really qcow2 (or a
//!   VMDK descriptor, ...) becomes dangerous the moment anything probes its
//!   format, and a claim that does not match the bytes makes the recorded
//!   virtual size (and with it quotas and flavor checks) a lie. Claim and
//!   content must agree; for `raw`, the content must be no known format.
//! - **Polyglots**: bytes that are valid as two formats at once (a qcow2
//!   header at 0 and an ISO volume descriptor at 32 KiB) read differently
//!   depending on who looks; they are refused, except an ISO carrying an MBR or
//!   GPT in its system area, which is how bootable "isohybrid" ISOs are made.
//! - **Unknown features**: qcow2 incompatible feature bits the inspector does
//!   not know, and unknown VMDK descriptor lines, are refused rather than
//!   guessed at.
//!
//! # How Glance uses it
//!
//! `Inspector::new(claimed disk_format)`, [`Inspector::feed`] every chunk as it
//! is written to the store (an error means: stop the upload now, the image
//! will be refused whatever follows), then [`Inspector::finish`]. On success
//! [`Inspection::virtual_size`] goes into the image record. [`detect`] names
//! the format of a prefix without a claim to check.
//!
//! # Where we differ from upstream, on purpose
//!
//! - **A claim of `raw` is held to it.** Upstream's upload path accepts a
//!   `raw` upload whose content is qcow2, VMDK, an ISO... with a warning (and
//!   that format's safety checks). Here it is a [`InspectError::FormatMismatch`]:
//!   raw means no known format, as Glance's image-conversion step already
//!   requires. A partitioned disk (MBR/GPT) is raw, with upstream's MBR checks.
//! - **`ami`/`ari`/`aki`/`ploop`** accept any content that is not a known
//!   format, like upstream, but a boot-sector signature does not count as a
//!   partition table for them (a Linux bzImage has one; upstream would call it
//!   `gpt` and refuse the kernel).
//! - **Signatures decide what the bytes are**, even when the structure behind
//!   them is broken: a damaged qcow2 header claimed as raw is a mismatch, not
//!   raw (upstream drops an inspector that errors, so the bytes read as raw).
//! - **Early refusal**: [`Inspector::feed`] fails as soon as the verdict is
//!   certain, e.g. after 104 bytes of a qcow2 with a backing file, or once
//!   34 KiB show that the content cannot match the claim. Upstream only does
//!   this when told the expected format, which Glance's upload path does not.
//! - **Stricter format checks**, each explained in its module: fixed VHDs read
//!   from their footer, VHD sizes computed as qemu does, VHD checksums and
//!   differencing disks, VHDX `HasParent` and backwards pointers, VMDK
//!   `parentFileNameHint`, one own sparse extent only, capacity 0, COWD, footer
//!   capacity, ISO both-endian fields.
//! - **Not carried over**: LUKS decryption of the first block (upstream can,
//!   given a passphrase); LUKS and QED are refused outright since Glance has no
//!   disk_format for them.

use std::fmt;
use std::str::FromStr;

use self::region::StreamTail;

mod gpt;
mod iso;
mod qcow2;
mod region;
mod unsupported;
mod vdi;
mod vhd;
mod vhdx;
mod vmdk;

#[cfg(test)]
mod tests;

/// Glance's `disk_format` values (the Image API's enumeration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskFormat {
    Raw,
    Qcow2,
    Vmdk,
    Vhd,
    Vhdx,
    Vdi,
    Iso,
    Ami,
    Ari,
    Aki,
    Ploop,
}

impl DiskFormat {
    pub const ALL: [DiskFormat; 11] = [
        DiskFormat::Raw,
        DiskFormat::Qcow2,
        DiskFormat::Vmdk,
        DiskFormat::Vhd,
        DiskFormat::Vhdx,
        DiskFormat::Vdi,
        DiskFormat::Iso,
        DiskFormat::Ami,
        DiskFormat::Ari,
        DiskFormat::Aki,
        DiskFormat::Ploop,
    ];

    /// The name as the Image API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Vmdk => "vmdk",
            DiskFormat::Vhd => "vhd",
            DiskFormat::Vhdx => "vhdx",
            DiskFormat::Vdi => "vdi",
            DiskFormat::Iso => "iso",
            DiskFormat::Ami => "ami",
            DiskFormat::Ari => "ari",
            DiskFormat::Aki => "aki",
            DiskFormat::Ploop => "ploop",
        }
    }

    /// Formats whose content Glance does not inspect (Amazon kernel, ramdisk
    /// and machine images, Virtuozzo ploop): accepted like raw as long as the
    /// bytes are not some other known format, as upstream does.
    fn is_uninspected(self) -> bool {
        matches!(
            self,
            DiskFormat::Ami | DiskFormat::Ari | DiskFormat::Aki | DiskFormat::Ploop
        )
    }
}

impl fmt::Display for DiskFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DiskFormat {
    type Err = InspectError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        DiskFormat::ALL
            .into_iter()
            .find(|format| format.as_str() == name)
            .ok_or_else(|| InspectError::UnknownDiskFormat(name.to_string()))
    }
}

/// What an image was found to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// What the bytes are: the claimed format, or `Raw` for a claim of `ami`,
    /// `ari`, `aki` or `ploop` (whose content is not inspected).
    pub detected: DiskFormat,
    /// Size of the disk the guest sees, in bytes. `None` only where the format
    /// does not record it (an ISO whose first volume descriptor is not a
    /// primary one); Glance then leaves `virtual_size` null, as upstream.
    pub virtual_size: Option<u64>,
    /// Bytes uploaded.
    pub actual_size: u64,
}

/// Why an image is refused. The messages are shown to the uploader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    #[error(
        "Image disk_format is {claimed} but its content is {detected}; \
         set disk_format to {detected}, or convert the image to {claimed} \
         (qemu-img convert -O <format>) and upload it again"
    )]
    FormatMismatch {
        claimed: DiskFormat,
        detected: DiskFormat,
    },

    #[error(
        "Image content is valid as more than one format ({}); ambiguous images are \
         refused, convert it with qemu-img convert and upload it again",
        .formats.join(", ")
    )]
    MultipleFormats { formats: Vec<&'static str> },

    #[error("Image content is {format}, which Glance does not accept; convert it to qcow2 or raw")]
    UnsupportedFormat { format: &'static str },

    #[error("Unknown disk_format {0:?}")]
    UnknownDiskFormat(String),

    #[error(
        "qcow2 image has a backing file, which would make qemu read another file on the host; \
         flatten it with qemu-img convert -O qcow2 and upload the result"
    )]
    UnsafeQcow2BackingFile,

    #[error(
        "qcow2 image keeps its data in an external data file, which would make qemu read \
         another file on the host; convert it with qemu-img convert -O qcow2 and upload the result"
    )]
    UnsafeQcow2DataFile,

    #[error(
        "qcow2 image sets incompatible feature bits {bits:#x} that Glance does not know; \
         convert it with qemu-img convert -O qcow2 and upload the result"
    )]
    UnsupportedQcow2Features { bits: u64 },

    #[error(
        "qcow2 version {0} is not supported; convert the image with qemu-img convert -O qcow2"
    )]
    UnsupportedQcow2Version(u32),

    #[error(
        "VMDK extent {0:?} is not this file's own sparse data, so qemu would read another file; \
         only single-file VMDKs are accepted: qemu-img convert -O vmdk \
         -o subformat=streamOptimized"
    )]
    UnsafeVmdkExtent(String),

    #[error(
        "VMDK image names a parent disk ({0}), which would make qemu read another file; \
         flatten it with qemu-img convert -O vmdk and upload the result"
    )]
    UnsafeVmdkBackingFile(String),

    #[error("VMDK descriptor is refused: {0}")]
    UnsafeVmdkDescriptor(String),

    #[error(
        "VMDK subformat {0:?} is not accepted; only monolithicSparse and streamOptimized \
         VMDKs are self-contained (qemu-img convert -O vmdk -o subformat=streamOptimized)"
    )]
    UnsupportedVmdkSubformat(String),

    #[error(
        "{format} image is a differencing disk that depends on a parent image; \
         merge it into a standalone image and upload that"
    )]
    UnsafeDifferencingDisk { format: DiskFormat },

    #[error("Image has an invalid MBR/GPT partition table: {0}")]
    InvalidPartitionTable(String),

    #[error("{format} image is corrupt: {reason}")]
    Corrupt { format: DiskFormat, reason: String },
}

/// The end of the stream, for probes that read footers.
struct StreamEnd<'a> {
    total: u64,
    tail: &'a StreamTail,
}

/// One format's view of the stream. Probes never fail while being fed: what
/// they find wrong they keep until asked, because it only matters if the image
/// turns out to be (or claim to be) their format.
trait FormatProbe {
    /// Offer the chunk that starts at stream offset `position`.
    fn feed(&mut self, position: u64, chunk: &[u8]);

    /// The stream has ended (called once, before the final `matches`).
    fn end_of_stream(&mut self) {}

    /// `Some(true)` once the bytes are known to be this format, `Some(false)`
    /// once known not to be; `None` while undecided (treated as no match when
    /// the stream ends). Once `Some`, it does not change.
    fn matches(&self) -> Option<bool>;

    /// A reason to refuse the image that is already certain, if it is this format.
    fn problem(&self) -> Option<&InspectError>;

    /// For an image of this format, at the end of the stream: its virtual size
    /// (`None`: the format does not say), or why it is refused.
    fn conclude(&self, end: &StreamEnd<'_>) -> Result<Option<u64>, InspectError>;

    /// Bytes held in memory.
    fn buffered(&self) -> usize;
}

/// What a probe recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Qcow2,
    Vmdk,
    Vhd,
    Vhdx,
    Vdi,
    Iso,
    PartitionTable,
    Qed,
    Luks,
}

impl Content {
    fn name(self) -> &'static str {
        match self {
            Content::Qcow2 => "qcow2",
            Content::Vmdk => "vmdk",
            Content::Vhd => "vhd",
            Content::Vhdx => "vhdx",
            Content::Vdi => "vdi",
            Content::Iso => "iso",
            Content::PartitionTable => "gpt",
            Content::Qed => "qed",
            Content::Luks => "luks",
        }
    }

    /// The disk_format this content is, if Glance has one for it.
    fn disk_format(self) -> DiskFormat {
        match self {
            Content::Qcow2 => DiskFormat::Qcow2,
            Content::Vmdk => DiskFormat::Vmdk,
            Content::Vhd => DiskFormat::Vhd,
            Content::Vhdx => DiskFormat::Vhdx,
            Content::Vdi => DiskFormat::Vdi,
            Content::Iso => DiskFormat::Iso,
            // A partitioned disk is a raw disk; QED and LUKS never get this far
            // (`classify` refuses them).
            Content::PartitionTable | Content::Qed | Content::Luks => DiskFormat::Raw,
        }
    }
}

/// Every probe, fed every chunk.
struct Probes {
    qcow2: qcow2::Qcow2Probe,
    vmdk: vmdk::VmdkProbe,
    vhd: vhd::VhdProbe,
    vhdx: vhdx::VhdxProbe,
    vdi: vdi::VdiProbe,
    iso: iso::IsoProbe,
    gpt: gpt::GptProbe,
    qed: unsupported::SignatureProbe,
    luks: unsupported::SignatureProbe,
}

impl Probes {
    fn new() -> Self {
        Self {
            qcow2: qcow2::Qcow2Probe::new(),
            vmdk: vmdk::VmdkProbe::new(),
            vhd: vhd::VhdProbe::new(),
            vhdx: vhdx::VhdxProbe::new(),
            vdi: vdi::VdiProbe::new(),
            iso: iso::IsoProbe::new(),
            gpt: gpt::GptProbe::new(),
            qed: unsupported::SignatureProbe::qed(),
            luks: unsupported::SignatureProbe::luks(),
        }
    }

    fn all(&self) -> [(Content, &dyn FormatProbe); 9] {
        [
            (Content::Qcow2, &self.qcow2),
            (Content::Vmdk, &self.vmdk),
            (Content::Vhd, &self.vhd),
            (Content::Vhdx, &self.vhdx),
            (Content::Vdi, &self.vdi),
            (Content::Iso, &self.iso),
            (Content::PartitionTable, &self.gpt),
            (Content::Qed, &self.qed),
            (Content::Luks, &self.luks),
        ]
    }

    fn all_mut(&mut self) -> [&mut dyn FormatProbe; 9] {
        [
            &mut self.qcow2,
            &mut self.vmdk,
            &mut self.vhd,
            &mut self.vhdx,
            &mut self.vdi,
            &mut self.iso,
            &mut self.gpt,
            &mut self.qed,
            &mut self.luks,
        ]
    }

    fn get(&self, content: Content) -> &dyn FormatProbe {
        match content {
            Content::Qcow2 => &self.qcow2,
            Content::Vmdk => &self.vmdk,
            Content::Vhd => &self.vhd,
            Content::Vhdx => &self.vhdx,
            Content::Vdi => &self.vdi,
            Content::Iso => &self.iso,
            Content::PartitionTable => &self.gpt,
            Content::Qed => &self.qed,
            Content::Luks => &self.luks,
        }
    }

    fn feed(&mut self, position: u64, chunk: &[u8]) {
        for probe in self.all_mut() {
            probe.feed(position, chunk);
        }
    }

    fn end_of_stream(&mut self) {
        for probe in self.all_mut() {
            probe.end_of_stream();
        }
    }

    fn all_decided(&self) -> bool {
        self.all()
            .iter()
            .all(|(_, probe)| probe.matches().is_some())
    }

    fn matched(&self) -> Vec<Content> {
        self.all()
            .iter()
            .filter(|(_, probe)| probe.matches() == Some(true))
            .map(|(content, _)| *content)
            .collect()
    }

    fn buffered(&self) -> usize {
        self.all().iter().map(|(_, probe)| probe.buffered()).sum()
    }
}

/// What the content is, from the formats whose signatures matched: `None` for
/// none (raw). Ambiguity and formats Glance refuses outright are errors.
fn classify(mut matched: Vec<Content>) -> Result<Option<Content>, InspectError> {
    if matched.contains(&Content::Iso) {
        // An ISO's system area may hold an MBR/GPT (isohybrid); upstream's
        // upload path makes the same exception.
        matched.retain(|content| *content != Content::PartitionTable);
    }
    match matched.as_slice() {
        [] => Ok(None),
        [Content::Qed | Content::Luks] => Err(InspectError::UnsupportedFormat {
            format: matched[0].name(),
        }),
        [content] => Ok(Some(*content)),
        _ => Err(InspectError::MultipleFormats {
            formats: matched.iter().map(|content| content.name()).collect(),
        }),
    }
}

/// Can content classified as `content` satisfy a claim of `claimed`? For a
/// `vhd` claim on raw-looking bytes the answer waits for the stream's end
/// (a fixed VHD's footer), so it is "possibly".
fn may_satisfy(claimed: DiskFormat, content: Option<Content>) -> bool {
    let raw_like = matches!(content, None | Some(Content::PartitionTable));
    match claimed {
        DiskFormat::Raw => raw_like,
        _ if claimed.is_uninspected() => raw_like,
        DiskFormat::Vhd => raw_like || content == Some(Content::Vhd),
        _ => content.is_some_and(|content| content.disk_format() == claimed),
    }
}

/// The probe responsible for a claimed format, if any.
fn probe_for(claimed: DiskFormat) -> Option<Content> {
    match claimed {
        DiskFormat::Qcow2 => Some(Content::Qcow2),
        DiskFormat::Vmdk => Some(Content::Vmdk),
        DiskFormat::Vhd => Some(Content::Vhd),
        DiskFormat::Vhdx => Some(Content::Vhdx),
        DiskFormat::Vdi => Some(Content::Vdi),
        DiskFormat::Iso => Some(Content::Iso),
        DiskFormat::Raw
        | DiskFormat::Ami
        | DiskFormat::Ari
        | DiskFormat::Aki
        | DiskFormat::Ploop => None,
    }
}

/// Streaming inspector for one upload; see the module docs.
pub struct Inspector {
    claimed: DiskFormat,
    position: u64,
    probes: Probes,
    tail: StreamTail,
    /// Set once the formats matched are known (all probes decided) and found
    /// compatible with the claim.
    classified: bool,
    refused: Option<InspectError>,
}

impl Inspector {
    pub fn new(claimed: DiskFormat) -> Self {
        Self {
            claimed,
            position: 0,
            probes: Probes::new(),
            tail: StreamTail::default(),
            classified: false,
            refused: None,
        }
    }

    /// Inspect the next chunk of the upload (chunks may be any size, including
    /// empty). An error means the image will be refused whatever follows: the
    /// caller should abort the upload; feeding more only repeats the error.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), InspectError> {
        if let Some(refused) = &self.refused {
            return Err(refused.clone());
        }
        self.probes.feed(self.position, chunk);
        self.tail.feed(chunk);
        self.position += chunk.len() as u64;
        if let Err(refused) = self.early_verdict() {
            self.refused = Some(refused.clone());
            return Err(refused);
        }
        Ok(())
    }

    /// Refusals that are certain before the end of the stream: a problem in
    /// the claimed format's own structures, or (once every probe has decided)
    /// content that cannot satisfy the claim.
    fn early_verdict(&mut self) -> Result<(), InspectError> {
        if let Some(probe) = probe_for(self.claimed).map(|content| self.probes.get(content)) {
            if probe.matches() == Some(true) {
                if let Some(problem) = probe.problem() {
                    return Err(problem.clone());
                }
            }
        }
        if !self.classified && self.probes.all_decided() {
            let content = classify(self.probes.matched())?;
            if !may_satisfy(self.claimed, content) {
                return Err(self.mismatch(content));
            }
            if self.claimed == DiskFormat::Raw && content == Some(Content::PartitionTable) {
                self.probes.gpt.check_partition_table()?;
            }
            self.classified = true;
        }
        Ok(())
    }

    fn mismatch(&self, content: Option<Content>) -> InspectError {
        InspectError::FormatMismatch {
            claimed: self.claimed,
            detected: content.map_or(DiskFormat::Raw, Content::disk_format),
        }
    }

    /// The upload is complete: what it is, or why it is refused.
    pub fn finish(mut self) -> Result<Inspection, InspectError> {
        if let Some(refused) = self.refused {
            return Err(refused);
        }
        self.probes.end_of_stream();
        let content = classify(self.probes.matched())?;
        let end = StreamEnd {
            total: self.position,
            tail: &self.tail,
        };
        let actual_size = self.position;
        let raw = |detected| Inspection {
            detected,
            virtual_size: Some(actual_size),
            actual_size,
        };

        match (self.claimed, content) {
            (DiskFormat::Raw, None) => Ok(raw(DiskFormat::Raw)),
            (DiskFormat::Raw, Some(Content::PartitionTable)) => {
                self.probes.gpt.check_partition_table()?;
                Ok(raw(DiskFormat::Raw))
            }
            (claimed, None | Some(Content::PartitionTable)) if claimed.is_uninspected() => {
                Ok(raw(DiskFormat::Raw))
            }
            (DiskFormat::Vhd, None | Some(Content::PartitionTable)) => {
                match self.probes.vhd.conclude_fixed(&end)? {
                    Some(virtual_size) => Ok(Inspection {
                        detected: DiskFormat::Vhd,
                        virtual_size: Some(virtual_size),
                        actual_size,
                    }),
                    None => Err(self.mismatch(content)),
                }
            }
            (claimed, Some(found)) if probe_for(claimed) == Some(found) => {
                let virtual_size = self.probes.get(found).conclude(&end)?;
                Ok(Inspection {
                    detected: claimed,
                    virtual_size,
                    actual_size,
                })
            }
            _ => Err(self.mismatch(content)),
        }
    }

    /// Bytes of the upload seen so far.
    pub fn bytes_seen(&self) -> u64 {
        self.position
    }

    /// Bytes the inspector holds in memory right now (upstream's
    /// `context_info`), for auditing the bound.
    pub fn buffered_bytes(&self) -> usize {
        self.probes.buffered() + self.tail.buffered()
    }
}

/// What the leading bytes of an image look like, without a claim to check
/// against: `Raw` when no format is recognised (or only a partition table).
/// Give it at least 34 KiB (the ISO volume descriptor ends there); a fixed VHD
/// (footer at the end only) reads as `Raw`, as qemu's probe sees it.
pub fn detect(prefix: &[u8]) -> Result<DiskFormat, InspectError> {
    let mut probes = Probes::new();
    probes.feed(0, prefix);
    probes.end_of_stream();
    Ok(classify(probes.matched())?.map_or(DiskFormat::Raw, Content::disk_format))
}
