//! The filesystem store (glance_store/_drivers/filesystem.py): one file per image under the
//! data directory, written to `<id>.partial` and renamed into place on commit (after fsync of
//! the file, then of the directory), so a crash or failed upload never leaves a half image under the final name.

use std::path::PathBuf;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{io, ByteStream, Store, StoreError, StoreWriter};

pub struct FilesystemStore {
    dir: PathBuf,
}

impl FilesystemStore {
    /// Opens the store, creating the directory and removing partial files an earlier crash
    /// left behind (their images were never marked active).
    pub fn new(dir: PathBuf) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Write { path: dir.display().to_string(), source })?;
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "partial") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(Self { dir })
    }

    fn path_of(&self, location: &str) -> Result<PathBuf, StoreError> {
        let path = location.strip_prefix("file://").ok_or_else(|| StoreError::BadLocation(location.to_string()))?;
        let path = PathBuf::from(path);
        // Only files inside our directory are ours to read or delete.
        if !path.starts_with(&self.dir) {
            return Err(StoreError::BadLocation(location.to_string()));
        }
        Ok(path)
    }
}

/// An image being written: the bytes go to a blocking thread through a bounded channel
/// (see [`super::io`]); dropping the writer without `commit` stops that thread, and `abort`
/// removes the partial file.
struct FileWriter {
    tx: Option<mpsc::Sender<Bytes>>,
    worker: tokio::task::JoinHandle<std::io::Result<()>>,
    partial: PathBuf,
    target: PathBuf,
}

impl FileWriter {
    fn error(&self, source: std::io::Error) -> StoreError {
        StoreError::Write { path: self.partial.display().to_string(), source }
    }

    /// Ends the writer thread and returns how it ended.
    async fn finish(&mut self) -> std::io::Result<()> {
        self.tx = None;
        match (&mut self.worker).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(format!("image writer thread failed: {e}"))),
        }
    }
}

#[async_trait::async_trait]
impl StoreWriter for FileWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        let sent = match &self.tx {
            Some(tx) => tx.send(chunk).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The thread stopped: it says why.
        let e = self.finish().await.err().unwrap_or_else(|| std::io::Error::other("image writer stopped early"));
        Err(self.error(e))
    }

    async fn commit(mut self: Box<Self>) -> Result<String, StoreError> {
        if let Err(e) = self.finish().await {
            let _ = tokio::fs::remove_file(&self.partial).await;
            return Err(self.error(e));
        }
        tokio::fs::rename(&self.partial, &self.target).await.map_err(|source| StoreError::Write { path: self.target.display().to_string(), source })?;
        // The rename is durable only once the directory is.
        if let Some(dir) = self.target.parent() {
            let dir = dir.to_path_buf();
            let synced = tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all())).await;
            if let Ok(Err(e)) = synced {
                tracing::warn!(error = %e, "could not fsync the image directory after a rename");
            }
        }
        Ok(format!("file://{}", self.target.display()))
    }

    async fn abort(mut self: Box<Self>) {
        let _ = self.finish().await;
        let _ = tokio::fs::remove_file(&self.partial).await;
    }
}

#[async_trait::async_trait]
impl Store for FilesystemStore {
    fn id(&self) -> &str {
        "file"
    }

    async fn writer(&self, image_id: &str) -> Result<Box<dyn StoreWriter>, StoreError> {
        let target = self.dir.join(image_id);
        let partial = self.dir.join(format!("{image_id}.partial"));
        let file = tokio::fs::File::create(&partial).await.map_err(|source| StoreError::Write { path: partial.display().to_string(), source })?.into_std().await;
        let (tx, rx) = mpsc::channel(io::DEPTH);
        let worker = tokio::task::spawn_blocking(move || io::write_all_then_sync(file, rx));
        Ok(Box::new(FileWriter { tx: Some(tx), worker, partial, target }))
    }

    async fn open(&self, location: &str, offset: u64, length: Option<u64>) -> Result<ByteStream, StoreError> {
        let path = self.path_of(location)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f.into_std().await,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NotFound(location.to_string())),
            Err(source) => return Err(StoreError::Read { path: path.display().to_string(), source }),
        };
        let (tx, rx) = mpsc::channel(io::DEPTH);
        tokio::task::spawn_blocking(move || io::read_into(file, offset, length, tx));
        let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
        Ok(Box::pin(stream))
    }

    async fn delete(&self, location: &str) -> Result<(), StoreError> {
        let path = self.path_of(location)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Write { path: path.display().to_string(), source }),
        }
    }
}
