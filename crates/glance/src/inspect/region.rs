//! Capturing the few byte ranges an inspector needs from a stream that is read
//! once, front to back, in chunks of any size (upstream's `CaptureRegion` and
//! `EndCaptureRegion`).
//!
//! A [`Region`] must be created before the stream reaches its offset: a format
//! whose structures point backwards cannot be inspected while streaming, and the
//! probes refuse such images instead of guessing.

/// A fixed byte range `[offset, offset + length)` of the stream, filled as the
/// chunks covering it go by.
#[derive(Debug, Clone)]
pub(super) struct Region {
    offset: u64,
    length: usize,
    data: Vec<u8>,
}

impl Region {
    pub(super) fn new(offset: u64, length: usize) -> Self {
        Self {
            offset,
            length,
            data: Vec::new(),
        }
    }

    /// Offer the chunk that starts at stream offset `position`.
    ///
    /// Feeding the same chunk twice is harmless: only the next missing byte
    /// onwards is taken, which lets a probe create a region while handling a
    /// chunk and then hand it that same chunk.
    pub(super) fn feed(&mut self, position: u64, chunk: &[u8]) {
        if self.is_complete() {
            return;
        }
        let wanted = self.offset + self.data.len() as u64;
        let chunk_end = position + chunk.len() as u64;
        if wanted < position || wanted >= chunk_end {
            // Either not reached yet, or (for a region created too late) missed
            // for good; the region then stays incomplete and the probe reports it.
            return;
        }
        let start = (wanted - position) as usize;
        let take = (self.length - self.data.len()).min(chunk.len() - start);
        let needed = self.data.len() + take;
        if needed > self.data.capacity() {
            // Grow geometrically (tiny chunks stay cheap) but never past the
            // region's length, so the memory bound is the sum of lengths.
            let target = needed.max(self.data.capacity() * 2).min(self.length);
            self.data.reserve_exact(target - self.data.len());
        }
        self.data.extend_from_slice(&chunk[start..start + take]);
    }

    pub(super) fn is_complete(&self) -> bool {
        self.data.len() == self.length
    }

    /// The bytes captured so far (all of them once complete).
    pub(super) fn data(&self) -> &[u8] {
        &self.data
    }

    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Stop capturing: what has been captured is all the probe needs.
    pub(super) fn close(&mut self) {
        self.length = self.data.len();
        self.data.shrink_to_fit();
    }

    /// Done with this region: stop capturing and free what it held.
    pub(super) fn discard(&mut self) {
        self.data = Vec::new();
        self.length = 0;
    }

    /// Bytes held in memory, for [`super::Inspector::buffered_bytes`].
    pub(super) fn buffered(&self) -> usize {
        self.data.capacity()
    }
}

/// The last [`StreamTail::CAPACITY`] bytes of the stream: where a fixed VHD
/// keeps its footer and a streamOptimized VMDK its footer and end-of-stream
/// marker.
#[derive(Debug, Clone, Default)]
pub(super) struct StreamTail {
    bytes: Vec<u8>,
}

impl StreamTail {
    /// VMDK's footer marker + footer + end-of-stream marker: three sectors.
    pub(super) const CAPACITY: usize = 3 * 512;

    pub(super) fn feed(&mut self, chunk: &[u8]) {
        if chunk.len() >= Self::CAPACITY {
            self.bytes.clear();
            self.bytes
                .extend_from_slice(&chunk[chunk.len() - Self::CAPACITY..]);
            return;
        }
        // Let the buffer run to twice the capacity before dropping the front,
        // so that tiny chunks cost amortised O(1) each.
        if self.bytes.len() + chunk.len() > 2 * Self::CAPACITY {
            let excess = self.bytes.len() - Self::CAPACITY;
            self.bytes.drain(..excess);
        }
        self.bytes.extend_from_slice(chunk);
    }

    /// The last `length` bytes, or `None` if the stream was shorter.
    pub(super) fn last(&self, length: usize) -> Option<&[u8]> {
        debug_assert!(length <= Self::CAPACITY);
        self.bytes
            .len()
            .checked_sub(length)
            .map(|start| &self.bytes[start..])
    }

    pub(super) fn buffered(&self) -> usize {
        self.bytes.capacity()
    }
}

/// Little- and big-endian field readers over a captured header. Callers only
/// read inside regions whose length they checked, so an out-of-range read is a
/// bug; it yields zero rather than a panic.
pub(super) fn le_u16(bytes: &[u8], at: usize) -> u16 {
    array::<2>(bytes, at).map(u16::from_le_bytes).unwrap_or(0)
}

pub(super) fn le_u32(bytes: &[u8], at: usize) -> u32 {
    array::<4>(bytes, at).map(u32::from_le_bytes).unwrap_or(0)
}

pub(super) fn le_u64(bytes: &[u8], at: usize) -> u64 {
    array::<8>(bytes, at).map(u64::from_le_bytes).unwrap_or(0)
}

pub(super) fn be_u16(bytes: &[u8], at: usize) -> u16 {
    array::<2>(bytes, at).map(u16::from_be_bytes).unwrap_or(0)
}

pub(super) fn be_u32(bytes: &[u8], at: usize) -> u32 {
    array::<4>(bytes, at).map(u32::from_be_bytes).unwrap_or(0)
}

pub(super) fn be_u64(bytes: &[u8], at: usize) -> u64 {
    array::<8>(bytes, at).map(u64::from_be_bytes).unwrap_or(0)
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn region_spans_unaligned_chunks() {
        let stream: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        for chunk_size in [1, 3, 7, 100, 511, 4096, 5000] {
            let mut region = Region::new(1000, 300);
            let mut position = 0u64;
            for chunk in stream.chunks(chunk_size) {
                region.feed(position, chunk);
                region.feed(position, chunk); // re-feeding is harmless
                position += chunk.len() as u64;
            }
            assert!(region.is_complete());
            assert_eq!(region.data(), &stream[1000..1300]);
        }
    }

    #[test]
    fn region_created_late_stays_incomplete() {
        let mut region = Region::new(10, 10);
        region.feed(100, &[0u8; 50]);
        assert!(!region.is_complete());
        assert!(region.data().is_empty());
    }

    #[test]
    fn tail_keeps_last_bytes() {
        let stream: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        for chunk_size in [1, 2, 500, 1536, 1537, 10_000] {
            let mut tail = StreamTail::default();
            for chunk in stream.chunks(chunk_size) {
                tail.feed(chunk);
            }
            assert_eq!(tail.last(1536).unwrap(), &stream[10_000 - 1536..]);
            assert_eq!(tail.last(512).unwrap(), &stream[10_000 - 512..]);
        }
        let mut short = StreamTail::default();
        short.feed(&[1, 2, 3]);
        assert!(short.last(512).is_none());
    }

    #[test]
    fn field_readers() {
        let bytes = [1u8, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(le_u32(&bytes, 0), 0x0403_0201);
        assert_eq!(be_u32(&bytes, 4), 0x0506_0708);
        assert_eq!(be_u64(&bytes, 0), 0x0102_0304_0506_0708);
        assert_eq!(le_u64(&bytes, 1), 0); // out of range reads as zero
        assert_eq!(le_u16(&bytes, 6), 0x0807);
        assert_eq!(be_u16(&bytes, 0), 0x0102);
    }
}
