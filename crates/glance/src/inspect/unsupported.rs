//! Formats recognised only in order to refuse them: QED (`QEDInspector`
//! upstream, "banned") and LUKS (`LUKSInspector`).
//!
//! Neither is a Glance disk_format. Without recognising them an upload
//! claiming `raw` would pass, and whoever later probes the bytes (or is told
//! the wrong format) would read a different disk than Glance recorded. QED is
//! unmaintained in qemu; a LUKS container hides its payload, so nothing about
//! the disk inside can be checked without the key.

use super::region::Region;
use super::{FormatProbe, InspectError, StreamEnd};

#[derive(Debug)]
pub(super) struct SignatureProbe {
    name: &'static str,
    signature: &'static [u8],
    head: Region,
}

impl SignatureProbe {
    /// QED: `QED\0` at offset 0.
    pub(super) fn qed() -> Self {
        Self::new("qed", b"QED\0")
    }

    /// LUKS (v1 and v2 share the magic): `LUKS\xba\xbe` at offset 0.
    pub(super) fn luks() -> Self {
        Self::new("luks", b"LUKS\xba\xbe")
    }

    fn new(name: &'static str, signature: &'static [u8]) -> Self {
        Self {
            name,
            signature,
            head: Region::new(0, signature.len()),
        }
    }
}

impl FormatProbe for SignatureProbe {
    fn feed(&mut self, position: u64, chunk: &[u8]) {
        self.head.feed(position, chunk);
    }

    fn matches(&self) -> Option<bool> {
        self.head
            .is_complete()
            .then(|| self.head.data() == self.signature)
    }

    fn problem(&self) -> Option<&InspectError> {
        None
    }

    fn conclude(&self, _end: &StreamEnd<'_>) -> Result<Option<u64>, InspectError> {
        Err(InspectError::UnsupportedFormat { format: self.name })
    }

    fn buffered(&self) -> usize {
        self.head.buffered()
    }
}
