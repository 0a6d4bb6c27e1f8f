//! Image data stores, as glance_store: a [`Store`] writes an image's bytes as they stream in
//! (never holding the image in memory), serves them back (with ranges), and deletes them.
//! The filesystem store is the default; a Swift store fills the same trait once Swift exists.

mod filesystem;
mod io;

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

pub use filesystem::FilesystemStore;

/// A stream of image bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write image data to {path}: {source}")]
    Write { path: String, #[source] source: std::io::Error },
    #[error("cannot read image data from {path}: {source}")]
    Read { path: String, #[source] source: std::io::Error },
    #[error("image data not found at {0}")]
    NotFound(String),
    #[error("unsupported location {0}")]
    BadLocation(String),
}

/// One image being written; dropping it without `commit` must leave nothing behind.
#[async_trait::async_trait]
pub trait StoreWriter: Send {
    /// Queues `chunk` for writing; a store may write it in the background, so an error can
    /// surface on a later `write` or on `commit`.
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError>;
    /// Makes the data durable and returns its location (`file:///...`).
    async fn commit(self: Box<Self>) -> Result<String, StoreError>;
    /// Removes whatever was written.
    async fn abort(self: Box<Self>);
}

#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// The store id shown in `/v2/info/stores` and an image's `stores`.
    fn id(&self) -> &str;
    async fn writer(&self, image_id: &str) -> Result<Box<dyn StoreWriter>, StoreError>;
    /// The bytes at `location`, from `offset` for `length` bytes (all of it when `None`).
    async fn open(&self, location: &str, offset: u64, length: Option<u64>) -> Result<ByteStream, StoreError>;
    async fn delete(&self, location: &str) -> Result<(), StoreError>;
}
