//! The filesystem store (glance_store/_drivers/filesystem.py): one file per image under the
//! data directory, written to `<id>.partial` and renamed into place on commit (after fsync),
//! so a crash or failed upload never leaves a half image under the final name.

use std::path::PathBuf;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{ByteStream, Store, StoreError, StoreWriter};

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

struct FileWriter {
    file: tokio::fs::File,
    partial: PathBuf,
    target: PathBuf,
}

#[async_trait::async_trait]
impl StoreWriter for FileWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.file.write_all(chunk).await.map_err(|source| StoreError::Write { path: self.partial.display().to_string(), source })
    }

    async fn commit(mut self: Box<Self>) -> Result<String, StoreError> {
        let err = |p: &PathBuf| {
            let path = p.display().to_string();
            move |source| StoreError::Write { path, source }
        };
        self.file.flush().await.map_err(err(&self.partial))?;
        self.file.sync_all().await.map_err(err(&self.partial))?;
        tokio::fs::rename(&self.partial, &self.target).await.map_err(err(&self.target))?;
        Ok(format!("file://{}", self.target.display()))
    }

    async fn abort(self: Box<Self>) {
        drop(self.file);
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
        let file = tokio::fs::File::create(&partial).await.map_err(|source| StoreError::Write { path: partial.display().to_string(), source })?;
        Ok(Box::new(FileWriter { file, partial, target }))
    }

    async fn open(&self, location: &str, offset: u64, length: Option<u64>) -> Result<ByteStream, StoreError> {
        let path = self.path_of(location)?;
        let read_err = |source| StoreError::Read { path: path.display().to_string(), source };
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NotFound(location.to_string())),
            Err(e) => return Err(read_err(e)),
        };
        file.seek(std::io::SeekFrom::Start(offset)).await.map_err(read_err)?;
        let remaining = length.unwrap_or(u64::MAX);
        let stream = futures::stream::unfold((file, remaining), |(mut file, remaining)| async move {
            if remaining == 0 {
                return None;
            }
            let want = remaining.min(1 << 20) as usize;
            let mut buf = vec![0u8; want];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (file, remaining - n as u64)))
                }
                Err(e) => Some((Err(e), (file, 0))),
            }
        });
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
