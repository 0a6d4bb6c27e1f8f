//! The image data path (glance/api/v2/image_data.py and the import flow): bytes stream from
//! the request through md5 (`checksum`), sha512 (`os_hash_value`) and the format inspector into
//! the store, never held whole; the image becomes active only once the data is durable and
//! passed inspection, and a refused or failed upload leaves neither a file nor a half-active
//! image.

use std::str::FromStr;

use auth::RequestContext;
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use sha2::Sha512;
use tokio::sync::mpsc;

use super::{now, App};
use crate::db::images::{self as idb, Image};
use crate::error::{GlanceError, Result};
use crate::inspect::{DiskFormat, Inspector};
use crate::store::{ByteStream, Store};

/// What streaming an image produced.
pub(super) struct Written {
    location: String,
    size: u64,
    checksum: String,
    sha512: String,
    virtual_size: Option<u64>,
}

impl App {
    /// Streams `body` into `store` as image `image`'s data, hashing and inspecting on the way.
    pub(super) async fn write_data<S>(&self, store: &dyn Store, image: &Image, mut body: S, inspect: bool) -> Result<Written>
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Unpin + Send,
    {
        let claimed = image.disk_format.as_deref().unwrap_or("raw");
        let mut inspector = if inspect {
            Some(Inspector::new(DiskFormat::from_str(claimed).map_err(|e| GlanceError::BadRequest(e.to_string()))?))
        } else {
            None
        };
        let quota = self.storage_quota_left(image).await?;
        let cap = self.cfg.image_size_cap.min(quota);
        let mut writer = store.writer(&image.id).await?;
        let digests = Digests::start();
        // Network chunks are small; the hashers and the store get whole blocks.
        let mut block = BytesMut::with_capacity(BLOCK);
        let mut size: u64 = 0;
        let outcome: Result<()> = async {
            loop {
                let chunk = match body.next().await {
                    Some(chunk) => chunk.map_err(|e| GlanceError::BadRequest(format!("Error reading the request body: {e}")))?,
                    None => break,
                };
                size += chunk.len() as u64;
                if size > cap {
                    return Err(GlanceError::RequestEntityTooLarge(if cap == quota {
                        format!("Denying attempt to upload image because it exceeds the quota: the project may store {quota} more bytes.")
                    } else {
                        format!("Image exceeds the storage quota / size cap of {} bytes.", self.cfg.image_size_cap)
                    }));
                }
                if let Some(i) = inspector.as_mut() {
                    if let Err(e) = i.feed(&chunk) {
                        if self.tolerated(&e) {
                            tracing::warn!(image = %image.id, error = %e, "format mismatch tolerated (require_image_format_match = false)");
                            inspector = None;
                        } else {
                            return Err(GlanceError::BadRequest(format!("Image format is not valid: {e}")));
                        }
                    }
                }
                block.extend_from_slice(&chunk);
                if block.len() >= BLOCK {
                    let full = block.split().freeze();
                    block.reserve(BLOCK);
                    digests.feed(&full).await;
                    writer.write(full).await?;
                }
            }
            if !block.is_empty() {
                let last = block.split().freeze();
                digests.feed(&last).await;
                writer.write(last).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            writer.abort().await;
            return Err(e);
        }
        let virtual_size = match inspector {
            Some(i) => match i.finish() {
                Ok(r) => r.virtual_size,
                Err(e) if self.tolerated(&e) => {
                    tracing::warn!(image = %image.id, error = %e, "format mismatch tolerated (require_image_format_match = false)");
                    None
                }
                Err(e) => {
                    writer.abort().await;
                    return Err(GlanceError::BadRequest(format!("Image format is not valid: {e}")));
                }
            },
            None => None,
        };
        let location = writer.commit().await?;
        let (checksum, sha512) = digests.finish().await?;
        Ok(Written { location, size, checksum, sha512, virtual_size })
    }

    /// Whether an inspection failure is only a format mismatch that configuration tolerates
    /// (never an unsafe image).
    fn tolerated(&self, e: &crate::inspect::InspectError) -> bool {
        use crate::inspect::InspectError as E;
        !self.cfg.require_image_format_match && matches!(e, E::FormatMismatch { .. } | E::MultipleFormats { .. } | E::Corrupt { .. })
    }

    async fn storage_quota_left(&self, image: &Image) -> Result<u64> {
        if self.cfg.user_storage_quota == 0 {
            return Ok(u64::MAX);
        }
        let used: i64 = idb::image_list_all(&self.db).await?.iter().filter(|i| i.owner == image.owner).filter_map(|i| i.size).sum();
        Ok(self.cfg.user_storage_quota.saturating_sub(used.max(0) as u64))
    }

    /// Moves an image from `from` to `saving`-like state `to`, or explains why it can't.
    pub(super) async fn transition(&self, image: &mut Image, from: &[&str], to: &str) -> Result<String> {
        if !from.contains(&image.status.as_str()) {
            return Err(GlanceError::Conflict(format!("Image status transition from {} to {to} is not allowed", image.status)));
        }
        let before = image.status.clone();
        image.status = to.to_string();
        image.updated_at = now();
        if !idb::image_update_if_status(&self.db, image, &before).await? {
            return Err(GlanceError::Conflict(format!("Image {} changed status concurrently; retry.", image.id)));
        }
        Ok(to.to_string())
    }

    /// Marks data as the image's and activates it; if the image was deleted meanwhile the data
    /// is removed again.
    pub(super) async fn activate(&self, image: &mut Image, from: &str, w: Written) -> Result<()> {
        image.status = "active".into();
        image.size = Some(w.size as i64);
        image.virtual_size = w.virtual_size.map(|v| v as i64);
        image.checksum = Some(w.checksum);
        image.os_hash_algo = Some("sha512".into());
        image.os_hash_value = Some(w.sha512);
        image.location = Some(w.location.clone());
        image.updated_at = now();
        if !idb::image_update_if_status(&self.db, image, from).await? {
            let _ = self.store.delete(&w.location).await;
            return Err(GlanceError::Conflict(format!("Image {} was deleted or changed during the upload.", image.id)));
        }
        Ok(())
    }

    /// Puts an image back to `queued` after a failed upload (its data was never kept).
    async fn requeue(&self, image: &mut Image, from: &str) {
        image.status = "queued".into();
        image.updated_at = now();
        if let Err(e) = idb::image_update_if_status(&self.db, image, from).await {
            tracing::error!(image = %image.id, error = %e, "could not requeue image after a failed upload");
        }
    }

    /// PUT /v2/images/{id}/file
    pub async fn image_upload<S>(&self, ctx: &RequestContext, id: &str, body: S) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Unpin + Send,
    {
        let (mut image, _) = self.image_for(ctx, id, "upload_image").await?;
        if image.disk_format.is_none() || image.container_format.is_none() {
            return Err(GlanceError::BadRequest("Properties disk_format, container_format must be set prior to saving data.".into()));
        }
        self.transition(&mut image, &["queued"], "saving").await?;
        match self.write_data(self.store.as_ref(), &image, body, true).await {
            Ok(w) => self.activate(&mut image, "saving", w).await,
            Err(e) => {
                self.requeue(&mut image, "saving").await;
                Err(e)
            }
        }
    }

    /// GET /v2/images/{id}/file: the stream and (size, checksum) for headers; None when the
    /// image has no data yet (204).
    pub async fn image_download(&self, ctx: &RequestContext, id: &str, range: Option<(u64, Option<u64>)>) -> Result<Option<(ByteStream, Image)>> {
        let (image, _) = self.image_for(ctx, id, "download_image").await?;
        if image.status == "deactivated" && !self.is_admin(ctx) {
            return Err(GlanceError::Forbidden("The requested image has been deactivated. Image data download is forbidden.".into()));
        }
        let Some(loc) = image.location.clone().filter(|_| image.status == "active" || image.status == "deactivated") else { return Ok(None) };
        let (offset, length) = match range {
            Some((start, end)) => (start, end.map(|e| e + 1 - start)),
            None => (0, None),
        };
        let stream = self.store.open(&loc, offset, length).await?;
        Ok(Some((stream, image)))
    }

    /// PUT /v2/images/{id}/stage: the first half of the glance-direct import.
    pub async fn image_stage<S>(&self, ctx: &RequestContext, id: &str, body: S) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Unpin + Send,
    {
        let (mut image, _) = self.image_for(ctx, id, "upload_image").await?;
        self.transition(&mut image, &["queued"], "uploading").await?;
        match self.write_data(&self.staging, &image, body, false).await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.requeue(&mut image, "uploading").await;
                Err(e)
            }
        }
    }

    /// POST /v2/images/{id}/import: validates the request and starts the import, which
    /// continues after the 202 is sent, as an `api_image_import` task.
    pub async fn image_import(self: &std::sync::Arc<Self>, ctx: &RequestContext, id: &str, import_req: &serde_json::Value) -> Result<()> {
        let method = import_req.pointer("/method/name").and_then(|v| v.as_str()).unwrap_or("");
        let all_stores = import_req.get("all_stores").and_then(|v| v.as_bool()).unwrap_or(false);
        if !self.cfg.enabled_import_methods.iter().any(|m| m == method) {
            return Err(GlanceError::BadRequest(match method {
                "" => "Import request requires a 'method' field.".to_string(),
                "glance-direct" | "web-download" | "copy-image" | "glance-download" => format!("Import method {method} is not enabled on this cloud (enabled: {}).", self.cfg.enabled_import_methods.join(", ")),
                other => format!("Unknown import method name '{other}'."),
            }));
        }
        match method {
            "glance-direct" | "web-download" => {
                let (mut image, _) = self.image_for(ctx, id, "modify_image").await?;
                if image.disk_format.is_none() || image.container_format.is_none() {
                    return Err(GlanceError::Conflict("Properties disk_format, container_format must be set prior to importing data.".into()));
                }
                let (source, from) = if method == "glance-direct" {
                    if image.status != "uploading" {
                        return Err(GlanceError::Conflict(format!("Image {id} is not in uploading status; stage its data first (it is {}).", image.status)));
                    }
                    (ImportSource::Staged, "uploading")
                } else {
                    if image.status != "queued" {
                        return Err(GlanceError::Conflict(format!("Image {id} is not in queued status; web-download fills only an image without data (it is {}).", image.status)));
                    }
                    let uri = import_req.pointer("/method/uri").and_then(|v| v.as_str()).ok_or_else(|| GlanceError::BadRequest("URI is required for web-download import method. Please specify 'method': {'name': 'web-download', 'uri': '<URI>'}".into()))?;
                    let url = super::web::validate_import_uri(&self.cfg.import_filter, uri).await.ok_or_else(|| GlanceError::BadRequest(format!("URI for web-download does not pass filtering: {uri}")))?;
                    (ImportSource::Web(url), "queued")
                };
                // Upstream's import bookkeeping, which clients poll: the stores still to do,
                // and the stores that failed.
                image.properties.insert(IMPORTING.into(), self.store.id().to_string());
                image.properties.insert(FAILED.into(), String::new());
                self.transition(&mut image, &[from], "importing").await?;
                let task = self.import_task_start(ctx, id, import_req).await?;
                let app = self.clone();
                tokio::spawn(async move { app.finish_import(image, source, task).await });
                Ok(())
            }
            "copy-image" => {
                let (mut image, _) = self.image_for(ctx, id, "copy_image").await?;
                if image.status != "active" {
                    return Err(GlanceError::Conflict(format!("Image {id} is not active.")));
                }
                // This cloud has one store and the image is in it: with all_stores there is
                // nothing left to copy (upstream answers 202 and ends the workflow); naming
                // the store it is already in is a client error.
                if all_stores {
                    image.properties.insert(IMPORTING.into(), String::new());
                    image.properties.insert(FAILED.into(), String::new());
                    image.updated_at = now();
                    idb::image_update_if_status(&self.db, &image, "active").await?;
                    let mut task = self.import_task_start(ctx, id, import_req).await?;
                    self.task_finish(&mut task, Ok(None)).await;
                    Ok(())
                } else {
                    Err(GlanceError::BadRequest(format!("Image is already present at store '{}'", self.store.id())))
                }
            }
            other => Err(GlanceError::BadRequest(format!("Import method '{other}' needs another Glance region to download from; this cloud has none."))),
        }
    }

    async fn finish_import(&self, mut image: Image, source: ImportSource, mut task: crate::db::tasks::Task) {
        let staged = format!("file://{}", self.cfg.staging_dir.join(&image.id).display());
        let result = match &source {
            ImportSource::Staged => match self.staging.open(&staged, 0, None).await {
                Ok(stream) => self.write_data(self.store.as_ref(), &image, stream, true).await,
                Err(e) => Err(e.into()),
            },
            ImportSource::Web(url) => match super::web::fetch(&self.cfg.import_filter, url.clone()).await {
                Ok(stream) => self.write_data(self.store.as_ref(), &image, stream, true).await,
                Err(message) => Err(GlanceError::BadRequest(message)),
            },
        };
        let outcome = match result {
            Ok(w) => {
                image.properties.insert(IMPORTING.into(), String::new());
                match self.activate(&mut image, "importing", w).await {
                    Ok(()) => Ok(Some(serde_json::json!({"image_id": image.id}))),
                    Err(e) => {
                        tracing::warn!(image = %image.id, error = %e, "import finished on a changed image");
                        Err(e.to_string())
                    }
                }
            }
            Err(e) => {
                tracing::warn!(image = %image.id, error = %e, "import failed; image back to queued");
                image.properties.insert(IMPORTING.into(), String::new());
                image.properties.insert(FAILED.into(), self.store.id().to_string());
                self.requeue(&mut image, "importing").await;
                Err(e.to_string())
            }
        };
        self.task_finish(&mut task, outcome).await;
        if matches!(source, ImportSource::Staged) {
            let _ = self.staging.delete(&staged).await;
        }
    }
}

/// Where an import's data comes from.
enum ImportSource {
    /// Staged with `PUT /v2/images/{id}/stage` (glance-direct).
    Staged,
    /// Fetched over HTTP (web-download).
    Web(reqwest::Url),
}

/// Image properties upstream uses to report an import's progress.
const IMPORTING: &str = "os_glance_importing_to_stores";
const FAILED: &str = "os_glance_failed_import";

/// The unit handed to the hashers and the store (upload chunks are coalesced up to it).
const BLOCK: usize = 1 << 20;
/// Blocks a hasher may lag behind the upload.
const HASH_DEPTH: usize = 8;

/// md5 and sha512 of a stream, each on its own blocking thread (each costs about as much CPU
/// as everything else in an upload together), fed the same shared blocks.
struct Digests {
    md5: Hasher,
    sha512: Hasher,
}

struct Hasher {
    tx: mpsc::Sender<Bytes>,
    done: tokio::task::JoinHandle<Vec<u8>>,
}

impl Hasher {
    fn start<D: Digest + Send + 'static>() -> Self {
        let (tx, mut rx) = mpsc::channel::<Bytes>(HASH_DEPTH);
        let done = tokio::task::spawn_blocking(move || {
            let mut d = D::new();
            while let Some(block) = rx.blocking_recv() {
                d.update(&block);
            }
            d.finalize().to_vec()
        });
        Self { tx, done }
    }

    async fn finish(self) -> Result<String> {
        drop(self.tx);
        self.done.await.map(|d| hex(&d)).map_err(|e| GlanceError::Internal(format!("image hashing failed: {e}")))
    }
}

impl Digests {
    fn start() -> Self {
        Self { md5: Hasher::start::<Md5>(), sha512: Hasher::start::<Sha512>() }
    }

    async fn feed(&self, block: &Bytes) {
        // A hasher only stops early by panicking, which `finish` reports.
        let _ = self.md5.tx.send(block.clone()).await;
        let _ = self.sha512.tx.send(block.clone()).await;
    }

    /// (md5, sha512) in hex.
    async fn finish(self) -> Result<(String, String)> {
        Ok((self.md5.finish().await?, self.sha512.finish().await?))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
