//! Streaming file I/O for the filesystem store, off the async runtime: one blocking thread per
//! transfer, connected to the request by a bounded channel so the network, the hashing and the
//! disk work at the same time instead of in turn.
//!
//! Writes are flushed in the background as they go: a flusher thread fdatasyncs the file each
//! time another window has been written, so the disk is busy for the whole upload rather than
//! only during the final fsync, which then finds little left to do. Reads run ahead of the
//! network by the channel's depth.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use bytes::Bytes;
use tokio::sync::mpsc;

/// Bytes written between background flushes.
const WINDOW: u64 = 32 << 20;
/// Chunks a transfer may run ahead of its consumer.
pub const DEPTH: usize = 8;
/// Size of a read chunk.
const READ_CHUNK: u64 = 1 << 20;

/// Writes every chunk received to `file`, then makes it durable. Runs on a blocking thread.
pub fn write_all_then_sync(mut file: File, mut rx: mpsc::Receiver<Bytes>) -> std::io::Result<()> {
    // The flusher syncs a second handle to the same file; a request is dropped while it is
    // still busy with the previous one (the next covers it).
    let (flush, requests) = std::sync::mpsc::sync_channel::<()>(1);
    let flusher = file.try_clone().map(|f| {
        std::thread::spawn(move || {
            while requests.recv().is_ok() {
                if let Err(e) = f.sync_data() {
                    tracing::warn!(error = %e, "background flush of an image file failed; the final fsync will report it");
                }
            }
        })
    });
    let mut written: u64 = 0;
    let mut flushed_at: u64 = 0;
    let outcome = (|| -> std::io::Result<()> {
        while let Some(chunk) = rx.blocking_recv() {
            file.write_all(&chunk)?;
            written += chunk.len() as u64;
            if written - flushed_at >= WINDOW {
                let _ = flush.try_send(());
                flushed_at = written;
            }
        }
        Ok(())
    })();
    drop(flush);
    if let Ok(handle) = flusher {
        let _ = handle.join();
    }
    outcome?;
    file.sync_all()
}

/// Sends `file`'s bytes from `offset`, at most `length` of them, to `tx`. Runs on a blocking
/// thread; stops early when the receiver goes away (the client hung up).
pub fn read_into(mut file: File, offset: u64, length: Option<u64>, tx: mpsc::Sender<std::io::Result<Bytes>>) {
    if offset > 0 {
        if let Err(e) = file.seek(SeekFrom::Start(offset)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    }
    let mut remaining = length.unwrap_or(u64::MAX);
    while remaining > 0 {
        let mut buf = vec![0u8; remaining.min(READ_CHUNK) as usize];
        let mut filled = 0;
        // Fill the whole chunk (short reads happen), so the network sends large writes.
        let outcome = loop {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if let Err(e) = outcome {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        if filled == 0 {
            return;
        }
        buf.truncate(filled);
        remaining -= filled as u64;
        let at_end = filled < READ_CHUNK as usize;
        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() || at_end {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_every_byte_in_order_across_windows() {
        let dir = std::env::temp_dir().join(format!("glance-io-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("img");
        let data = pattern((WINDOW * 2 + 12345) as usize);
        let (tx, rx) = mpsc::channel(DEPTH);
        let file = File::create(&path).unwrap();
        let worker = tokio::task::spawn_blocking(move || write_all_then_sync(file, rx));
        for c in data.chunks(300_000) {
            tx.send(Bytes::copy_from_slice(c)).await.unwrap();
        }
        drop(tx);
        worker.await.unwrap().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);

        // Read back whole, and a range that crosses a chunk boundary.
        for (offset, length) in [(0u64, None), (READ_CHUNK - 10, Some(READ_CHUNK + 20)), (data.len() as u64 - 5, Some(100))] {
            let (tx, mut rx) = mpsc::channel(DEPTH);
            let file = File::open(&path).unwrap();
            tokio::task::spawn_blocking(move || read_into(file, offset, length, tx));
            let mut got = Vec::new();
            while let Some(c) = rx.recv().await {
                got.extend_from_slice(&c.unwrap());
            }
            let end = length.map_or(data.len(), |l| (offset + l).min(data.len() as u64) as usize);
            assert_eq!(got, &data[offset as usize..end], "offset {offset} length {length:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn uuid_like() -> String {
        format!("{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], "")
    }
}
