//! Tests against real images made by `qemu-img` (and `genisoimage`), fed in
//! chunks of random sizes; qemu-img's own `virtual-size` is the cross-check.
//! qemu-img is required: without it these tests fail, they do not skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{detect, DiskFormat, InspectError, Inspection, Inspector};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// A temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "glance-inspect-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(program: &str, args: &[&str], install_hint: &str) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|error| {
        panic!("`{program}` is required by these tests but could not be run ({error}); {install_hint}")
    });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn qemu_img(args: &[&str]) -> String {
    run(
        "qemu-img",
        args,
        "install qemu-utils (apt-get install -y qemu-utils)",
    )
}

/// Create an image with `qemu-img create -q -f <format> [options] path size`.
fn create(scratch: &Scratch, name: &str, format: &str, options: &[&str], size: &str) -> PathBuf {
    let path = scratch.path(name);
    let path_str = path.to_str().unwrap();
    let mut args = vec!["create", "-q", "-f", format];
    args.extend_from_slice(options);
    args.push(path_str);
    if !size.is_empty() {
        args.push(size);
    }
    qemu_img(&args);
    path
}

/// qemu-img's opinion of the virtual size, told the format (as Nova does).
fn qemu_virtual_size(path: &Path, qemu_format: &str) -> u64 {
    let json = qemu_img(&[
        "info",
        "-f",
        qemu_format,
        "--output=json",
        path.to_str().unwrap(),
    ]);
    // The top-level object's field (children have their own, indented deeper).
    json.lines()
        .find_map(|line| line.strip_prefix("    \"virtual-size\": "))
        .and_then(|value| value.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("no virtual-size in qemu-img info output:\n{json}"))
}

/// Deterministic xorshift64* for chunk sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Mostly tiny and small chunks, some large ones, to cross every boundary
    /// in every way.
    fn chunk_size(&mut self) -> usize {
        let roll = self.next();
        let limit = match roll % 8 {
            0..=3 => 16,
            4 | 5 => 4096,
            6 => 70_000,
            _ => 1 << 20,
        };
        1 + (self.next() % limit) as usize
    }
}

/// Upper bound on what the inspector may hold at any time.
const MEMORY_BOUND: usize = 3 << 20 >> 1; // 1.5 MiB

/// Feed `bytes` in random chunks; stop at the first refusal, as Glance would.
fn inspect_bytes(bytes: &[u8], claimed: DiskFormat, seed: u64) -> Result<Inspection, InspectError> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut inspector = Inspector::new(claimed);
    let mut rest = bytes;
    while !rest.is_empty() {
        // Seed 0: the first sectors one byte at a time, where every header is.
        let size = if seed == 0 && inspector.bytes_seen() < 2048 {
            1
        } else {
            rng.chunk_size()
        };
        let (chunk, after) = rest.split_at(size.min(rest.len()));
        inspector.feed(chunk)?;
        assert!(
            inspector.buffered_bytes() <= MEMORY_BOUND,
            "inspector holds {} bytes after {} of {} ({claimed})",
            inspector.buffered_bytes(),
            inspector.bytes_seen(),
            bytes.len()
        );
        rest = after;
    }
    assert_eq!(inspector.bytes_seen(), bytes.len() as u64);
    inspector.finish()
}

/// Inspect with several chunkings; all must agree.
fn inspect(bytes: &[u8], claimed: DiskFormat) -> Result<Inspection, InspectError> {
    let first = inspect_bytes(bytes, claimed, 1);
    for seed in [0, 2, 3, 4] {
        assert_eq!(
            inspect_bytes(bytes, claimed, seed),
            first,
            "chunking changed the verdict (seed {seed})"
        );
    }
    // And the whole image as a single chunk.
    let mut whole = Inspector::new(claimed);
    let single = whole.feed(bytes).and_then(|()| whole.finish());
    assert_eq!(single, first, "a single chunk changed the verdict");
    first
}

fn inspect_file(path: &Path, claimed: DiskFormat) -> Result<Inspection, InspectError> {
    inspect(&fs::read(path).unwrap(), claimed)
}

/// The image is accepted as `claimed`, with qemu-img's virtual size.
fn assert_matches_qemu(path: &Path, claimed: DiskFormat, qemu_format: &str) -> Inspection {
    let inspection = inspect_file(path, claimed)
        .unwrap_or_else(|error| panic!("{} refused as {claimed}: {error}", path.display()));
    let expected = qemu_virtual_size(path, qemu_format);
    assert_eq!(inspection.detected, claimed);
    assert_eq!(
        inspection.virtual_size,
        Some(expected),
        "virtual size of {}",
        path.display()
    );
    assert_eq!(inspection.actual_size, fs::metadata(path).unwrap().len());
    inspection
}

fn mismatch(claimed: DiskFormat, detected: DiskFormat) -> Result<Inspection, InspectError> {
    Err(InspectError::FormatMismatch { claimed, detected })
}

fn random_bytes(length: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    (0..length).map(|_| rng.next() as u8).collect()
}

/// Every claim other than the ones listed must be refused as a mismatch.
fn assert_only_accepted_as(bytes: &[u8], accepted: &[DiskFormat], detected: DiskFormat) {
    for claimed in DiskFormat::ALL {
        if accepted.contains(&claimed) {
            continue;
        }
        assert_eq!(
            inspect_bytes(bytes, claimed, 7),
            mismatch(claimed, detected),
            "claim {claimed}"
        );
    }
}

// ---------------------------------------------------------------------------
// raw
// ---------------------------------------------------------------------------

#[test]
fn raw_matches_qemu_and_is_raw_for_uninspected_formats() {
    let scratch = Scratch::new();
    let path = create(&scratch, "disk.raw", "raw", &[], "3M");
    let mut bytes = fs::read(&path).unwrap();
    bytes[..4096].copy_from_slice(&random_bytes(4096, 3));
    fs::write(&path, &bytes).unwrap();

    assert_matches_qemu(&path, DiskFormat::Raw, "raw");
    for claimed in [
        DiskFormat::Ami,
        DiskFormat::Ari,
        DiskFormat::Aki,
        DiskFormat::Ploop,
    ] {
        let inspection = inspect(&bytes, claimed).unwrap();
        assert_eq!(inspection.detected, DiskFormat::Raw);
        assert_eq!(inspection.virtual_size, Some(bytes.len() as u64));
    }
    assert_only_accepted_as(
        &bytes,
        &[
            DiskFormat::Raw,
            DiskFormat::Ami,
            DiskFormat::Ari,
            DiskFormat::Aki,
            DiskFormat::Ploop,
        ],
        DiskFormat::Raw,
    );
    assert_eq!(detect(&bytes), Ok(DiskFormat::Raw));
}

#[test]
fn empty_and_tiny_uploads() {
    assert_eq!(
        inspect(b"", DiskFormat::Raw).unwrap(),
        Inspection {
            detected: DiskFormat::Raw,
            virtual_size: Some(0),
            actual_size: 0
        }
    );
    assert_eq!(
        inspect(b"QFI", DiskFormat::Raw).unwrap().virtual_size,
        Some(3)
    );
    assert_eq!(
        inspect(b"", DiskFormat::Qcow2),
        mismatch(DiskFormat::Qcow2, DiskFormat::Raw)
    );
    assert_eq!(
        inspect(b"", DiskFormat::Vhd),
        mismatch(DiskFormat::Vhd, DiskFormat::Raw)
    );
}

#[test]
fn text_that_is_not_a_descriptor_is_raw() {
    // Over 1 MiB of text with no NUL: the VMDK probe buffers its limit, finds
    // no createType and lets go.
    let text = "just some text, not a descriptor\n".repeat(40_000);
    let inspection = inspect(text.as_bytes(), DiskFormat::Raw).unwrap();
    assert_eq!(inspection.virtual_size, Some(text.len() as u64));
    assert_eq!(
        inspect(b"version=1\n# short text", DiskFormat::Raw)
            .unwrap()
            .detected,
        DiskFormat::Raw
    );
}

// ---------------------------------------------------------------------------
// MBR / GPT on raw disks
// ---------------------------------------------------------------------------

/// A raw disk whose first sector is an MBR with the given partition entries
/// (boot flag, start CHS, type, start LBA, sectors).
fn mbr_disk(entries: &[(u8, [u8; 3], u8, u32, u32)], length: usize) -> Vec<u8> {
    let mut disk = random_bytes(length, 11);
    disk[..512].fill(0);
    for (index, (boot, chs, kind, lba, sectors)) in entries.iter().enumerate() {
        let entry = &mut disk[446 + 16 * index..][..16];
        entry[0] = *boot;
        entry[1..4].copy_from_slice(chs);
        entry[4] = *kind;
        entry[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
        entry[8..12].copy_from_slice(&lba.to_le_bytes());
        entry[12..16].copy_from_slice(&sectors.to_le_bytes());
    }
    disk[510] = 0x55;
    disk[511] = 0xaa;
    disk
}

#[test]
fn partitioned_raw_disks_are_raw_and_their_mbr_is_checked() {
    let msdos = mbr_disk(&[(0x80, [0, 33, 0], 0x83, 2048, 4000)], 1 << 20);
    assert_eq!(
        inspect(&msdos, DiskFormat::Raw).unwrap().detected,
        DiskFormat::Raw
    );
    let gpt = mbr_disk(&[(0, [0, 2, 0], 0xee, 1, 2047)], 1 << 20);
    assert_eq!(
        inspect(&gpt, DiskFormat::Raw).unwrap().virtual_size,
        Some(1 << 20)
    );
    assert_eq!(detect(&gpt), Ok(DiskFormat::Raw));

    let bad_flag = mbr_disk(&[(0x12, [0, 33, 0], 0x83, 2048, 4000)], 1 << 20);
    assert!(matches!(
        inspect(&bad_flag, DiskFormat::Raw),
        Err(InspectError::InvalidPartitionTable(_))
    ));
    let gpt_plus = mbr_disk(
        &[
            (0, [0, 2, 0], 0xee, 1, 2047),
            (0, [0, 33, 0], 0x83, 2048, 10),
        ],
        1 << 20,
    );
    assert!(matches!(
        inspect(&gpt_plus, DiskFormat::Raw),
        Err(InspectError::InvalidPartitionTable(_))
    ));
    let gpt_bad_lba = mbr_disk(&[(0, [0, 2, 0], 0xee, 7, 2047)], 1 << 20);
    assert!(matches!(
        inspect(&gpt_bad_lba, DiskFormat::Raw),
        Err(InspectError::InvalidPartitionTable(_))
    ));
    let empty = mbr_disk(&[], 1 << 20);
    assert!(matches!(
        inspect(&empty, DiskFormat::Raw),
        Err(InspectError::InvalidPartitionTable(_))
    ));

    // A FAT boot sector carries the same signature but is a filesystem.
    let mut fat = mbr_disk(&[], 1 << 20);
    fat[0x10] = 2;
    fat[0x15] = 0xf8;
    assert_eq!(
        inspect(&fat, DiskFormat::Raw).unwrap().detected,
        DiskFormat::Raw
    );

    // Kernel images carry a boot-sector signature too; uninspected formats
    // are not held to partition-table rules.
    assert_eq!(
        inspect(&bad_flag, DiskFormat::Aki).unwrap().detected,
        DiskFormat::Raw
    );
    // An MBR is no qcow2.
    assert_eq!(
        inspect(&msdos, DiskFormat::Qcow2),
        mismatch(DiskFormat::Qcow2, DiskFormat::Raw)
    );
}

// ---------------------------------------------------------------------------
// qcow2
// ---------------------------------------------------------------------------

#[test]
fn qcow2_virtual_size_matches_qemu() {
    let scratch = Scratch::new();
    for (name, options, size) in [
        ("v3.qcow2", &[][..], "1G"),
        ("v3-odd.qcow2", &[][..], "123456789"),
        ("v2.qcow2", &["-o", "compat=0.10"][..], "10M"),
        (
            "small-clusters.qcow2",
            &["-o", "cluster_size=512"][..],
            "5M",
        ),
        ("lazy.qcow2", &["-o", "lazy_refcounts=on"][..], "64M"),
    ] {
        let path = create(&scratch, name, "qcow2", options, size);
        assert_matches_qemu(&path, DiskFormat::Qcow2, "qcow2");
        let bytes = fs::read(&path).unwrap();
        assert_eq!(detect(&bytes), Ok(DiskFormat::Qcow2));
        assert_only_accepted_as(&bytes, &[DiskFormat::Qcow2], DiskFormat::Qcow2);
    }
}

#[test]
fn qcow2_with_data_written_matches_qemu() {
    let scratch = Scratch::new();
    let source = scratch.path("source.raw");
    fs::write(&source, random_bytes(3 << 20, 5)).unwrap();
    let path = scratch.path("converted.qcow2");
    qemu_img(&[
        "convert",
        "-q",
        "-O",
        "qcow2",
        source.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert_matches_qemu(&path, DiskFormat::Qcow2, "qcow2");
}

#[test]
fn qcow2_backing_file_is_refused_early() {
    let scratch = Scratch::new();
    let base = create(&scratch, "base.qcow2", "qcow2", &[], "10M");
    let overlay = create(
        &scratch,
        "overlay.qcow2",
        "qcow2",
        &["-b", base.to_str().unwrap(), "-F", "qcow2"],
        "",
    );
    let bytes = fs::read(&overlay).unwrap();
    assert_eq!(
        inspect(&bytes, DiskFormat::Qcow2),
        Err(InspectError::UnsafeQcow2BackingFile)
    );
    // The refusal comes from the header alone: the upload can stop there.
    let mut inspector = Inspector::new(DiskFormat::Qcow2);
    assert_eq!(
        inspector.feed(&bytes[..104]),
        Err(InspectError::UnsafeQcow2BackingFile)
    );
    assert_eq!(
        inspector.feed(&bytes[104..]),
        Err(InspectError::UnsafeQcow2BackingFile)
    );
    assert_eq!(
        inspector.finish(),
        Err(InspectError::UnsafeQcow2BackingFile)
    );
    // Claiming raw does not help.
    assert_eq!(
        inspect(&bytes, DiskFormat::Raw),
        mismatch(DiskFormat::Raw, DiskFormat::Qcow2)
    );
}

#[test]
fn qcow2_external_data_file_is_refused() {
    let scratch = Scratch::new();
    let data = scratch.path("data.raw");
    let data_option = format!("data_file={}", data.to_str().unwrap());
    let path = create(
        &scratch,
        "external.qcow2",
        "qcow2",
        &["-o", &data_option],
        "10M",
    );
    assert_eq!(
        inspect_file(&path, DiskFormat::Qcow2),
        Err(InspectError::UnsafeQcow2DataFile)
    );
}

#[test]
fn qcow2_unknown_features_and_versions_are_refused() {
    let scratch = Scratch::new();
    // Extended L2 entries (incompatible bit 4) is beyond what upstream knows.
    let path = create(
        &scratch,
        "l2.qcow2",
        "qcow2",
        &["-o", "extended_l2=on"],
        "10M",
    );
    assert_eq!(
        inspect_file(&path, DiskFormat::Qcow2),
        Err(InspectError::UnsupportedQcow2Features { bits: 1 << 4 })
    );

    // A bit nobody knows, set by hand in an otherwise valid image.
    let path = create(&scratch, "plain.qcow2", "qcow2", &[], "10M");
    let mut bytes = fs::read(&path).unwrap();
    bytes[72] |= 0x80; // bit 63
    assert_eq!(
        inspect(&bytes, DiskFormat::Qcow2),
        Err(InspectError::UnsupportedQcow2Features { bits: 1 << 63 })
    );
    // The known bits (dirty, corrupt, compression type) are fine.
    let mut bytes = fs::read(&path).unwrap();
    bytes[79] |= 0b1011;
    assert!(inspect(&bytes, DiskFormat::Qcow2).is_ok());

    // Version 1 ("qcow") shares the magic.
    let path = create(&scratch, "old.qcow", "qcow", &[], "10M");
    assert_eq!(
        inspect_file(&path, DiskFormat::Qcow2),
        Err(InspectError::UnsupportedQcow2Version(1))
    );
}

#[test]
fn qcow2_truncated_header_is_corrupt() {
    let scratch = Scratch::new();
    let path = create(&scratch, "cut.qcow2", "qcow2", &[], "10M");
    let bytes = fs::read(&path).unwrap();
    assert!(matches!(
        inspect(&bytes[..50], DiskFormat::Qcow2),
        Err(InspectError::Corrupt {
            format: DiskFormat::Qcow2,
            ..
        })
    ));
}

// ---------------------------------------------------------------------------
// vmdk
// ---------------------------------------------------------------------------

#[test]
fn vmdk_sparse_virtual_size_matches_qemu() {
    let scratch = Scratch::new();
    for (name, options, size) in [
        ("sparse.vmdk", &[][..], "10M"),
        ("big.vmdk", &[][..], "20G"),
        (
            "stream.vmdk",
            &["-o", "subformat=streamOptimized"][..],
            "100M",
        ),
    ] {
        let path = create(&scratch, name, "vmdk", options, size);
        assert_matches_qemu(&path, DiskFormat::Vmdk, "vmdk");
        let bytes = fs::read(&path).unwrap();
        assert_eq!(detect(&bytes), Ok(DiskFormat::Vmdk));
        assert_only_accepted_as(&bytes, &[DiskFormat::Vmdk], DiskFormat::Vmdk);
    }
    // With data: streamOptimized as produced by qemu-img convert.
    let source = scratch.path("source.raw");
    fs::write(&source, random_bytes(3 << 20, 9)).unwrap();
    let path = scratch.path("converted.vmdk");
    qemu_img(&[
        "convert",
        "-q",
        "-O",
        "vmdk",
        "-o",
        "subformat=streamOptimized",
        source.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert_matches_qemu(&path, DiskFormat::Vmdk, "vmdk");
}

#[test]
fn vmdk_flat_descriptor_is_refused() {
    let scratch = Scratch::new();
    let path = create(
        &scratch,
        "flat.vmdk",
        "vmdk",
        &["-o", "subformat=monolithicFlat"],
        "10M",
    );
    let refusal = inspect_file(&path, DiskFormat::Vmdk);
    assert!(
        matches!(&refusal, Err(InspectError::UnsafeVmdkExtent(line)) if line.contains("FLAT \"flat-flat.vmdk\"")),
        "{refusal:?}"
    );
    let bytes = fs::read(&path).unwrap();
    assert_eq!(detect(&bytes), Ok(DiskFormat::Vmdk));
    // A descriptor is no raw disk either.
    assert_eq!(
        inspect(&bytes, DiskFormat::Raw),
        mismatch(DiskFormat::Raw, DiskFormat::Vmdk)
    );
    // The flat extent itself is a raw disk, not a VMDK.
    let flat_extent = scratch.path("flat-flat.vmdk");
    assert_eq!(
        inspect_file(&flat_extent, DiskFormat::Vmdk),
        mismatch(DiskFormat::Vmdk, DiskFormat::Raw)
    );
}

#[test]
fn vmdk_old_cowd_extents_are_refused() {
    let mut cowd = random_bytes(64 * 1024, 23);
    cowd[..4].copy_from_slice(b"COWD");
    for claimed in [DiskFormat::Vmdk, DiskFormat::Raw] {
        let refusal = inspect(&cowd, claimed);
        assert!(
            matches!(
                (&refusal, claimed),
                (
                    Err(InspectError::UnsupportedVmdkSubformat(_)),
                    DiskFormat::Vmdk
                ) | (Err(InspectError::FormatMismatch { .. }), DiskFormat::Raw)
            ),
            "{claimed}: {refusal:?}"
        );
    }
}

#[test]
fn vmdk_split_sparse_descriptor_is_refused() {
    let scratch = Scratch::new();
    let path = create(
        &scratch,
        "split.vmdk",
        "vmdk",
        &["-o", "subformat=twoGbMaxExtentSparse"],
        "5G",
    );
    assert!(matches!(
        inspect_file(&path, DiskFormat::Vmdk),
        Err(InspectError::UnsafeVmdkExtent(line)) if line.contains("SPARSE \"split-s001.vmdk\"")
    ));
    // Its extents carry an empty descriptor: pieces, not disks (upstream: "No
    // descriptor found").
    let extent = scratch.path("split-s001.vmdk");
    assert!(matches!(
        inspect_file(&extent, DiskFormat::Vmdk),
        Err(InspectError::UnsafeVmdkDescriptor(reason)) if reason.contains("empty")
    ));
}

#[test]
fn vmdk_with_parent_is_refused() {
    let scratch = Scratch::new();
    let base = create(&scratch, "base.vmdk", "vmdk", &[], "10M");
    let child = create(
        &scratch,
        "child.vmdk",
        "vmdk",
        &["-b", base.to_str().unwrap(), "-F", "vmdk"],
        "",
    );
    // qemu follows the hint: the child has a backing file.
    let info = qemu_img(&[
        "info",
        "-f",
        "vmdk",
        "--output=json",
        child.to_str().unwrap(),
    ]);
    assert!(info.contains("\"backing-filename\""), "{info}");
    assert!(matches!(
        inspect_file(&child, DiskFormat::Vmdk),
        Err(InspectError::UnsafeVmdkBackingFile(hint)) if hint.contains("base.vmdk")
    ));
}

/// Rewrite the embedded descriptor of a qemu-made sparse VMDK in place.
fn with_descriptor(bytes: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    let sectors = u64::from_le_bytes(bytes[36..44].try_into().unwrap()) as usize;
    let area = 512..512 + sectors * 512;
    let text = String::from_utf8(
        bytes[area.clone()]
            .iter()
            .copied()
            .take_while(|byte| *byte != 0)
            .collect(),
    )
    .unwrap();
    let edited = edit(&text);
    assert!(edited.len() < area.len(), "edited descriptor does not fit");
    let mut out = bytes.to_vec();
    out[area.clone()].fill(0);
    out[area.start..area.start + edited.len()].copy_from_slice(edited.as_bytes());
    out
}

#[test]
fn vmdk_embedded_descriptor_rules() {
    let scratch = Scratch::new();
    let path = create(&scratch, "disk.vmdk", "vmdk", &[], "10M");
    let bytes = fs::read(&path).unwrap();
    let extent = "RW 20480 SPARSE \"disk.vmdk\"";
    let expect_extent_refused = |edited: Vec<u8>, offending: &str| {
        let refusal = inspect(&edited, DiskFormat::Vmdk);
        assert_eq!(
            refusal,
            Err(InspectError::UnsafeVmdkExtent(offending.to_string()))
        );
    };

    let flat = "RW 20480 FLAT \"/etc/passwd\" 0";
    expect_extent_refused(
        with_descriptor(&bytes, |text| text.replace(extent, flat)),
        flat,
    );
    let relative_flat = "RW 20480 FLAT \"nova.conf\" 0";
    expect_extent_refused(
        with_descriptor(&bytes, |text| text.replace(extent, relative_flat)),
        relative_flat,
    );
    let path_sparse = "RW 20480 SPARSE \"../../other.vmdk\"";
    expect_extent_refused(
        with_descriptor(&bytes, |text| text.replace(extent, path_sparse)),
        path_sparse,
    );
    let second = "RDONLY 100 SPARSE \"other.vmdk\"";
    expect_extent_refused(
        with_descriptor(&bytes, |text| {
            text.replace(extent, &format!("{extent}\n{second}"))
        }),
        second,
    );

    let no_extent = with_descriptor(&bytes, |text| text.replace(extent, ""));
    assert!(matches!(
        inspect(&no_extent, DiskFormat::Vmdk),
        Err(InspectError::UnsafeVmdkDescriptor(_))
    ));
    let odd_line = with_descriptor(&bytes, |text| {
        format!("{text}\nsomething unexpected here\n")
    });
    assert!(matches!(
        inspect(&odd_line, DiskFormat::Vmdk),
        Err(InspectError::UnsafeVmdkDescriptor(_))
    ));
    let subformat = with_descriptor(&bytes, |text| text.replace("monolithicSparse", "vmfs"));
    assert_eq!(
        inspect(&subformat, DiskFormat::Vmdk),
        Err(InspectError::UnsupportedVmdkSubformat("vmfs".to_string()))
    );
    // qemu finds parentFileNameHint even inside a comment.
    let hidden_parent = with_descriptor(&bytes, |text| {
        format!("# parentFileNameHint=\"/var/lib/nova/x\"\n{text}")
    });
    assert!(matches!(
        inspect(&hidden_parent, DiskFormat::Vmdk),
        Err(InspectError::UnsafeVmdkBackingFile(_))
    ));

    // Case and spacing variations of the accepted form are fine.
    let relaxed = with_descriptor(&bytes, |text| {
        text.replace(extent, "rw   20480 sparse \"disk.vmdk\"")
    });
    assert_eq!(
        inspect(&relaxed, DiskFormat::Vmdk).unwrap().virtual_size,
        Some(10 << 20)
    );
}

#[test]
fn vmdk_header_fields_qemu_acts_on() {
    let scratch = Scratch::new();
    let path = create(&scratch, "disk.vmdk", "vmdk", &[], "10M");
    let bytes = fs::read(&path).unwrap();
    let corrupt = |patched: &[u8]| {
        matches!(
            inspect(patched, DiskFormat::Vmdk),
            Err(InspectError::Corrupt {
                format: DiskFormat::Vmdk,
                ..
            })
        )
    };

    let mut zero_capacity = bytes.clone();
    zero_capacity[12..20].fill(0);
    assert!(corrupt(&zero_capacity));
    let mut version = bytes.clone();
    version[4] = 9;
    assert!(corrupt(&version));
    let mut moved_descriptor = bytes.clone();
    moved_descriptor[28] = 2;
    assert!(corrupt(&moved_descriptor));
    // A broken VMDK claimed as raw is still a VMDK, not a raw disk.
    assert_eq!(
        inspect(&version, DiskFormat::Raw),
        mismatch(DiskFormat::Raw, DiskFormat::Vmdk)
    );
    assert!(corrupt(&bytes[..700]));
}

/// Turn a qemu-made streamOptimized image into the VMware layout whose header
/// defers to a footer (grain directory offset GD_AT_END).
fn with_footer(bytes: &[u8], footer_capacity_delta: u64) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut footer = bytes[..512].to_vec();
    let capacity = u64::from_le_bytes(footer[12..20].try_into().unwrap()) + footer_capacity_delta;
    footer[12..20].copy_from_slice(&capacity.to_le_bytes());
    out[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut marker = vec![0u8; 512];
    marker[0..8].copy_from_slice(&1u64.to_le_bytes());
    marker[12..16].copy_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&marker);
    out.extend_from_slice(&footer);
    out.extend_from_slice(&[0u8; 512]);
    out
}

#[test]
fn vmdk_footer_matches_qemu_and_is_checked() {
    let scratch = Scratch::new();
    let source = scratch.path("source.raw");
    fs::write(&source, random_bytes(2 << 20, 13)).unwrap();
    let converted = scratch.path("stream.vmdk");
    qemu_img(&[
        "convert",
        "-q",
        "-O",
        "vmdk",
        "-o",
        "subformat=streamOptimized",
        source.to_str().unwrap(),
        converted.to_str().unwrap(),
    ]);
    let bytes = fs::read(&converted).unwrap();

    let footed = scratch.path("footed.vmdk");
    fs::write(&footed, with_footer(&bytes, 0)).unwrap();
    assert_matches_qemu(&footed, DiskFormat::Vmdk, "vmdk");

    let disagreeing = with_footer(&bytes, 2048);
    assert!(matches!(
        inspect(&disagreeing, DiskFormat::Vmdk),
        Err(InspectError::Corrupt { format: DiskFormat::Vmdk, reason }) if reason.contains("capacity")
    ));
    let mut bad_end = with_footer(&bytes, 0);
    let last = bad_end.len() - 1;
    bad_end[last] = 1;
    assert!(matches!(
        inspect(&bad_end, DiskFormat::Vmdk),
        Err(InspectError::Corrupt { .. })
    ));
}

// ---------------------------------------------------------------------------
// vhd (qemu: vpc)
// ---------------------------------------------------------------------------

#[test]
fn vhd_virtual_size_matches_qemu() {
    let scratch = Scratch::new();
    for (name, options, size) in [
        ("dynamic.vhd", &[][..], "10M"),
        ("dynamic-big.vhd", &[][..], "40G"),
        ("forced.vhd", &["-o", "force_size=on"][..], "10M"),
        ("fixed.vhd", &["-o", "subformat=fixed"][..], "10M"),
        (
            "fixed-forced.vhd",
            &["-o", "subformat=fixed,force_size=on"][..],
            "3M",
        ),
    ] {
        let path = create(&scratch, name, "vpc", options, size);
        assert_matches_qemu(&path, DiskFormat::Vhd, "vpc");
    }

    let dynamic = fs::read(scratch.path("dynamic.vhd")).unwrap();
    assert_eq!(detect(&dynamic), Ok(DiskFormat::Vhd));
    assert_only_accepted_as(&dynamic, &[DiskFormat::Vhd], DiskFormat::Vhd);

    // A fixed VHD is a raw disk plus a footer; qemu's probe calls it raw, and
    // so does the inspector unless the upload claims vhd.
    let fixed = fs::read(scratch.path("fixed.vhd")).unwrap();
    assert_eq!(detect(&fixed), Ok(DiskFormat::Raw));
    assert_eq!(
        inspect(&fixed, DiskFormat::Raw).unwrap().virtual_size,
        Some(fixed.len() as u64)
    );
    assert_eq!(
        inspect(&fixed, DiskFormat::Vhdx),
        mismatch(DiskFormat::Vhdx, DiskFormat::Raw)
    );
}

/// Set a VHD footer field and fix its checksum.
fn patch_vhd_footer(footer: &mut [u8], edit: impl Fn(&mut [u8])) {
    edit(footer);
    footer[64..68].fill(0);
    let sum = footer
        .iter()
        .fold(0u32, |sum, byte| sum.wrapping_add(u32::from(*byte)));
    footer[64..68].copy_from_slice(&(!sum).to_be_bytes());
}

#[test]
fn vhd_differencing_and_bad_checksums_are_refused() {
    let scratch = Scratch::new();
    let path = create(&scratch, "disk.vhd", "vpc", &[], "10M");
    let bytes = fs::read(&path).unwrap();

    let mut differencing = bytes.clone();
    patch_vhd_footer(&mut differencing[..512], |footer| {
        footer[60..64].copy_from_slice(&4u32.to_be_bytes())
    });
    assert_eq!(
        inspect(&differencing, DiskFormat::Vhd),
        Err(InspectError::UnsafeDifferencingDisk {
            format: DiskFormat::Vhd
        })
    );

    let mut bad_checksum = bytes.clone();
    bad_checksum[48] ^= 1;
    assert!(matches!(
        inspect(&bad_checksum, DiskFormat::Vhd),
        Err(InspectError::Corrupt {
            format: DiskFormat::Vhd,
            ..
        })
    ));

    // A fixed VHD whose footer claims more disk than precedes it.
    let fixed = create(
        &scratch,
        "fixed.vhd",
        "vpc",
        &["-o", "subformat=fixed"],
        "1M",
    );
    let mut oversized = fs::read(&fixed).unwrap();
    let at = oversized.len() - 512;
    patch_vhd_footer(&mut oversized[at..], |footer| {
        footer[28..32].copy_from_slice(b"win ");
        footer[48..56].copy_from_slice(&(1u64 << 40).to_be_bytes());
    });
    assert!(matches!(
        inspect(&oversized, DiskFormat::Vhd),
        Err(InspectError::Corrupt { .. })
    ));
}

// ---------------------------------------------------------------------------
// vhdx
// ---------------------------------------------------------------------------

#[test]
fn vhdx_virtual_size_matches_qemu() {
    let scratch = Scratch::new();
    for (name, options, size) in [
        ("small.vhdx", &[][..], "10M"),
        ("odd.vhdx", &[][..], "123456K"),
        ("big.vhdx", &["-o", "block_size=1M"][..], "100G"),
    ] {
        let path = create(&scratch, name, "vhdx", options, size);
        assert_matches_qemu(&path, DiskFormat::Vhdx, "vhdx");
        let bytes = fs::read(&path).unwrap();
        assert_eq!(detect(&bytes), Ok(DiskFormat::Vhdx));
        assert_only_accepted_as(&bytes, &[DiskFormat::Vhdx], DiskFormat::Vhdx);
    }
    let source = scratch.path("source.raw");
    fs::write(&source, random_bytes(3 << 20, 17)).unwrap();
    let path = scratch.path("converted.vhdx");
    qemu_img(&[
        "convert",
        "-q",
        "-O",
        "vhdx",
        source.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert_matches_qemu(&path, DiskFormat::Vhdx, "vhdx");
}

/// Offset of the File Parameters item of a qemu-made VHDX, found the long way.
fn vhdx_file_parameters_offset(bytes: &[u8]) -> usize {
    let le32 = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let le64 = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    let metadata_guid = [
        0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88,
        0x6e,
    ];
    let parameters_guid = [
        0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d, 0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7,
        0x6b,
    ];
    let table = 192 * 1024;
    let region = (0..le32(table + 8))
        .map(|index| table + 16 + index * 32)
        .find(|entry| bytes[*entry..*entry + 16] == metadata_guid)
        .unwrap();
    let metadata = le64(region + 16);
    let count =
        u16::from_le_bytes(bytes[metadata + 10..metadata + 12].try_into().unwrap()) as usize;
    let entry = (0..count)
        .map(|index| metadata + 32 + index * 32)
        .find(|entry| bytes[*entry..*entry + 16] == parameters_guid)
        .unwrap();
    metadata + le32(entry + 16)
}

#[test]
fn vhdx_differencing_and_broken_structures_are_refused() {
    let scratch = Scratch::new();
    let path = create(&scratch, "disk.vhdx", "vhdx", &[], "10M");
    let bytes = fs::read(&path).unwrap();

    let mut differencing = bytes.clone();
    differencing[vhdx_file_parameters_offset(&bytes) + 4] |= 0b10; // HasParent
    assert_eq!(
        inspect(&differencing, DiskFormat::Vhdx),
        Err(InspectError::UnsafeDifferencingDisk {
            format: DiskFormat::Vhdx
        })
    );

    let corrupt = |patched: &[u8]| {
        matches!(
            inspect(patched, DiskFormat::Vhdx),
            Err(InspectError::Corrupt {
                format: DiskFormat::Vhdx,
                ..
            })
        )
    };
    let mut no_region_table = bytes.clone();
    no_region_table[192 * 1024] = b'x';
    assert!(corrupt(&no_region_table));
    // Metadata region pointing back into the headers.
    let mut backwards = bytes.clone();
    for entry in 0..2 {
        let at = 192 * 1024 + 16 + entry * 32 + 16;
        backwards[at..at + 8].copy_from_slice(&(64u64 * 1024).to_le_bytes());
    }
    assert!(corrupt(&backwards));
    // Truncated before the metadata.
    assert!(corrupt(&bytes[..300 * 1024]));
}

// ---------------------------------------------------------------------------
// vdi
// ---------------------------------------------------------------------------

#[test]
fn vdi_virtual_size_matches_qemu() {
    let scratch = Scratch::new();
    for (name, options, size) in [
        ("dynamic.vdi", &[][..], "10M"),
        ("big.vdi", &[][..], "30G"),
        ("static.vdi", &["-o", "static=on"][..], "3M"),
    ] {
        let path = create(&scratch, name, "vdi", options, size);
        assert_matches_qemu(&path, DiskFormat::Vdi, "vdi");
        let bytes = fs::read(&path).unwrap();
        assert_eq!(detect(&bytes), Ok(DiskFormat::Vdi));
        assert_only_accepted_as(&bytes, &[DiskFormat::Vdi], DiskFormat::Vdi);
    }
}

// ---------------------------------------------------------------------------
// iso
// ---------------------------------------------------------------------------

/// An ISO 9660 image holding `files`, from genisoimage (or xorriso); `None`
/// when neither is installed.
fn make_iso(scratch: &Scratch, files: &[(&str, &[u8])]) -> Option<Vec<u8>> {
    let root = scratch.path("iso-root");
    fs::create_dir_all(&root).unwrap();
    for (name, content) in files {
        fs::write(root.join(name), content).unwrap();
    }
    let iso = scratch.path("image.iso");
    let (iso_str, root_str) = (iso.to_str().unwrap(), root.to_str().unwrap());
    for (tool, args) in [
        (
            "genisoimage",
            vec!["-quiet", "-V", "FERRO", "-o", iso_str, root_str],
        ),
        (
            "xorriso",
            vec![
                "-as", "mkisofs", "-quiet", "-V", "FERRO", "-o", iso_str, root_str,
            ],
        ),
    ] {
        if Command::new(tool).arg("-version").output().is_ok() {
            run(tool, &args, "");
            return Some(fs::read(&iso).unwrap());
        }
    }
    None
}

/// A minimal ISO 9660 image built by hand: system area, primary volume
/// descriptor, terminator.
fn handmade_iso(blocks: u32) -> Vec<u8> {
    let mut iso = vec![0u8; blocks as usize * 2048];
    let pvd = &mut iso[16 * 2048..17 * 2048];
    pvd[0] = 1;
    pvd[1..6].copy_from_slice(b"CD001");
    pvd[6] = 1;
    pvd[80..84].copy_from_slice(&blocks.to_le_bytes());
    pvd[84..88].copy_from_slice(&blocks.to_be_bytes());
    pvd[128..130].copy_from_slice(&2048u16.to_le_bytes());
    pvd[130..132].copy_from_slice(&2048u16.to_be_bytes());
    let terminator = &mut iso[17 * 2048..18 * 2048];
    terminator[0] = 255;
    terminator[1..6].copy_from_slice(b"CD001");
    terminator[6] = 1;
    iso
}

/// Put a GPT protective MBR in the system area, as isohybrid does.
fn make_hybrid(iso: &[u8]) -> Vec<u8> {
    let mut hybrid = iso.to_vec();
    let sectors = (iso.len() / 512 - 1) as u32;
    let entry = &mut hybrid[446..462];
    entry.copy_from_slice(&[0, 0, 2, 0, 0xee, 0xfe, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0]);
    entry[12..16].copy_from_slice(&sectors.to_le_bytes());
    hybrid[510] = 0x55;
    hybrid[511] = 0xaa;
    hybrid
}

#[test]
fn iso_volume_size_and_hybrids() {
    let scratch = Scratch::new();
    // An ISO may carry anything, including other disk images, after its
    // descriptors.
    let qcow2 = fs::read(create(&scratch, "inner.qcow2", "qcow2", &[], "1G")).unwrap();
    let iso = match make_iso(
        &scratch,
        &[("inner.qcow2", &qcow2), ("readme.txt", b"hello")],
    ) {
        Some(iso) => iso,
        None => {
            eprintln!("NOTE: neither genisoimage nor xorriso is installed; using a hand-made ISO");
            let mut iso = handmade_iso(200);
            iso[40 * 2048..40 * 2048 + 4].copy_from_slice(b"QFI\xfb");
            iso
        }
    };
    let inspection = inspect(&iso, DiskFormat::Iso).unwrap();
    assert_eq!(inspection.detected, DiskFormat::Iso);
    // The volume is the whole image (qemu sees an ISO as raw, so its size is
    // the file length).
    assert_eq!(inspection.virtual_size, Some(iso.len() as u64));
    assert_eq!(detect(&iso), Ok(DiskFormat::Iso));
    assert_only_accepted_as(&iso, &[DiskFormat::Iso], DiskFormat::Iso);

    let hybrid = make_hybrid(&iso);
    assert_eq!(
        inspect(&hybrid, DiskFormat::Iso).unwrap().virtual_size,
        Some(iso.len() as u64)
    );
    assert_eq!(detect(&hybrid), Ok(DiskFormat::Iso));
    assert_eq!(
        inspect(&hybrid, DiskFormat::Raw),
        mismatch(DiskFormat::Raw, DiskFormat::Iso)
    );
}

#[test]
fn handmade_iso_descriptor() {
    let iso = handmade_iso(100);
    assert_eq!(
        inspect(&iso, DiskFormat::Iso).unwrap().virtual_size,
        Some(100 * 2048)
    );
    // The volume size is read from the descriptor, not the upload length.
    let mut padded = handmade_iso(100);
    padded.extend_from_slice(&[0u8; 4096]);
    assert_eq!(
        inspect(&padded, DiskFormat::Iso).unwrap().virtual_size,
        Some(100 * 2048)
    );

    let mut disagreeing = iso.clone();
    disagreeing[16 * 2048 + 84..16 * 2048 + 88].copy_from_slice(&7u32.to_be_bytes());
    assert!(matches!(
        inspect(&disagreeing, DiskFormat::Iso),
        Err(InspectError::Corrupt { .. })
    ));

    // A descriptor set that starts with something other than a primary volume
    // descriptor: an ISO of unknown size, as upstream.
    let mut unknown = iso.clone();
    unknown[16 * 2048] = 2;
    assert_eq!(
        inspect(&unknown, DiskFormat::Iso).unwrap().virtual_size,
        None
    );

    // Too short to reach the descriptor: not an ISO.
    assert_eq!(
        inspect(&iso[..20_000], DiskFormat::Iso),
        mismatch(DiskFormat::Iso, DiskFormat::Raw)
    );
}

// ---------------------------------------------------------------------------
// Polyglots and formats Glance refuses
// ---------------------------------------------------------------------------

#[test]
fn polyglots_are_refused() {
    let scratch = Scratch::new();
    let qcow2 = fs::read(create(&scratch, "disk.qcow2", "qcow2", &[], "10M")).unwrap();
    // qcow2 header at 0 and an ISO volume descriptor at 32 KiB.
    let mut polyglot = qcow2.clone();
    polyglot[16 * 2048..18 * 2048].copy_from_slice(&handmade_iso(18)[16 * 2048..18 * 2048]);
    for claimed in [DiskFormat::Qcow2, DiskFormat::Iso, DiskFormat::Raw] {
        assert!(
            matches!(inspect(&polyglot, claimed), Err(InspectError::MultipleFormats { formats }) if formats == ["qcow2", "iso"]),
            "claim {claimed}"
        );
    }
    assert!(matches!(
        detect(&polyglot),
        Err(InspectError::MultipleFormats { .. })
    ));

    // qcow2 header with an MBR signature: upstream refuses this too.
    let mut with_mbr = qcow2.clone();
    with_mbr[446..462].copy_from_slice(&[0x80, 0, 33, 0, 0x83, 0, 0, 0, 0, 8, 0, 0, 0, 16, 0, 0]);
    with_mbr[510] = 0x55;
    with_mbr[511] = 0xaa;
    assert!(matches!(
        inspect(&with_mbr, DiskFormat::Qcow2),
        Err(InspectError::MultipleFormats { .. })
    ));
}

#[test]
fn qed_and_luks_are_refused_whatever_the_claim() {
    let scratch = Scratch::new();
    let qed = create(&scratch, "disk.qed", "qed", &[], "10M");
    let luks = create(
        &scratch,
        "disk.luks",
        "luks",
        &[
            "--object",
            "secret,id=sec0,data=secret",
            "-o",
            "key-secret=sec0,iter-time=10",
        ],
        "1M",
    );
    for (path, name) in [(qed, "qed"), (luks, "luks")] {
        let bytes = fs::read(&path).unwrap();
        for claimed in DiskFormat::ALL {
            assert_eq!(
                inspect_bytes(&bytes, claimed, 3),
                Err(InspectError::UnsupportedFormat { format: name }),
                "{name} claimed {claimed}"
            );
        }
        assert_eq!(
            detect(&bytes),
            Err(InspectError::UnsupportedFormat { format: name })
        );
    }
}

#[test]
fn mismatches_between_real_formats() {
    let scratch = Scratch::new();
    let vdi = fs::read(create(&scratch, "disk.vdi", "vdi", &[], "10M")).unwrap();
    assert_eq!(
        inspect(&vdi, DiskFormat::Vhdx),
        mismatch(DiskFormat::Vhdx, DiskFormat::Vdi)
    );
    let vhdx = fs::read(create(&scratch, "disk.vhdx", "vhdx", &[], "10M")).unwrap();
    assert_eq!(
        inspect(&vhdx, DiskFormat::Vmdk),
        mismatch(DiskFormat::Vmdk, DiskFormat::Vhdx)
    );
    assert_eq!(
        inspect(&vhdx, DiskFormat::Aki),
        mismatch(DiskFormat::Aki, DiskFormat::Vhdx)
    );
    let raw = random_bytes(100_000, 21);
    for claimed in [
        DiskFormat::Qcow2,
        DiskFormat::Vmdk,
        DiskFormat::Vhd,
        DiskFormat::Vhdx,
        DiskFormat::Vdi,
        DiskFormat::Iso,
    ] {
        assert_eq!(inspect(&raw, claimed), mismatch(claimed, DiskFormat::Raw));
    }
}

// ---------------------------------------------------------------------------
// Streaming behaviour
// ---------------------------------------------------------------------------

#[test]
fn byte_by_byte_through_the_structures() {
    // The first 300 KiB (every header, the VHDX region table) one byte at a
    // time, then the rest at once.
    let scratch = Scratch::new();
    for (name, format, disk_format, size) in [
        ("disk.vhdx", "vhdx", DiskFormat::Vhdx, "10M"),
        ("disk.vmdk", "vmdk", DiskFormat::Vmdk, "10M"),
        ("disk.qcow2", "qcow2", DiskFormat::Qcow2, "10M"),
        ("disk.vhd", "vpc", DiskFormat::Vhd, "10M"),
        ("disk.vdi", "vdi", DiskFormat::Vdi, "10M"),
    ] {
        let path = create(&scratch, name, format, &[], size);
        let bytes = fs::read(&path).unwrap();
        let split = bytes.len().min(300 * 1024);
        let mut inspector = Inspector::new(disk_format);
        for byte in &bytes[..split] {
            inspector.feed(std::slice::from_ref(byte)).unwrap();
        }
        inspector.feed(&bytes[split..]).unwrap();
        let inspection = inspector.finish().unwrap();
        assert_eq!(
            inspection.virtual_size,
            Some(qemu_virtual_size(&path, format)),
            "{name}"
        );
    }
}

#[test]
fn mismatch_is_reported_before_the_upload_ends() {
    let scratch = Scratch::new();
    let qcow2 = fs::read(create(&scratch, "disk.qcow2", "qcow2", &[], "10M")).unwrap();
    let mut inspector = Inspector::new(DiskFormat::Raw);
    // Every probe has decided once the ISO descriptor (34 KiB) has gone by.
    let refusal = qcow2
        .chunks(4096)
        .take(16)
        .try_for_each(|chunk| inspector.feed(chunk));
    assert_eq!(
        refusal,
        Err(InspectError::FormatMismatch {
            claimed: DiskFormat::Raw,
            detected: DiskFormat::Qcow2
        })
    );
    assert!(inspector.bytes_seen() <= 64 * 1024);

    let mut inspector = Inspector::new(DiskFormat::Qcow2);
    let raw = random_bytes(200_000, 1);
    assert!(raw
        .chunks(4096)
        .try_for_each(|chunk| inspector.feed(chunk))
        .is_err());
    assert!(inspector.bytes_seen() <= 64 * 1024);
}

#[test]
fn disk_format_names_round_trip() {
    for format in DiskFormat::ALL {
        assert_eq!(format.as_str().parse::<DiskFormat>(), Ok(format));
        assert_eq!(format.to_string(), format.as_str());
    }
    assert_eq!(
        "qed".parse::<DiskFormat>(),
        Err(InspectError::UnknownDiskFormat("qed".to_string()))
    );
}

#[test]
fn error_messages_say_what_to_do() {
    let message = InspectError::FormatMismatch {
        claimed: DiskFormat::Raw,
        detected: DiskFormat::Qcow2,
    }
    .to_string();
    assert!(
        message.contains("disk_format is raw") && message.contains("set disk_format to qcow2"),
        "{message}"
    );
    assert!(InspectError::UnsafeQcow2BackingFile
        .to_string()
        .contains("qemu-img convert"));
}
