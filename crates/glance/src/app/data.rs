//! The image data path (glance/api/v2/image_data.py and the import flow): bytes stream from
//! the request through md5 (`checksum`), sha512 (`os_hash_value`) and the format inspector into
//! the store, never held whole; the image becomes active only once the data is durable and
//! passed inspection, and a refused or failed upload leaves neither a file nor a half-active
//! image.

use std::str::FromStr;

use auth::RequestContext;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use sha2::Sha512;

use super::{now, App};
use crate::db::images::{self as idb, Image};
use crate::error::{GlanceError, Result};
use crate::inspect::{DiskFormat, Inspector};
use crate::store::{ByteStream, Store};

/// What streaming an image produced.
struct Written {
    location: String,
    size: u64,
    checksum: String,
    sha512: String,
    virtual_size: Option<u64>,
}

impl App {
    /// Streams `body` into `store` as image `image`'s data, hashing and inspecting on the way.
    async fn write_data<S>(&self, store: &dyn Store, image: &Image, mut body: S, inspect: bool) -> Result<Written>
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
        let (mut md5, mut sha) = (Md5::new(), Sha512::new());
        let mut size: u64 = 0;
        let outcome: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| GlanceError::BadRequest(format!("Error reading the request body: {e}")))?;
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
                md5.update(&chunk);
                sha.update(&chunk);
                writer.write(&chunk).await?;
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
        Ok(Written { location, size, checksum: hex(&md5.finalize()), sha512: hex(&sha.finalize()), virtual_size })
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
    async fn transition(&self, image: &mut Image, from: &[&str], to: &str) -> Result<String> {
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
    async fn activate(&self, image: &mut Image, from: &str, w: Written) -> Result<()> {
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
    /// continues after the 202 is sent.
    pub async fn image_import(self: &std::sync::Arc<Self>, ctx: &RequestContext, id: &str, method: &str, all_stores: bool) -> Result<()> {
        match method {
            "glance-direct" => {
                let (mut image, _) = self.image_for(ctx, id, "modify_image").await?;
                if image.disk_format.is_none() || image.container_format.is_none() {
                    return Err(GlanceError::Conflict("Properties disk_format, container_format must be set prior to importing data.".into()));
                }
                if image.status != "uploading" {
                    return Err(GlanceError::Conflict(format!("Image {id} is not in uploading status; stage its data first (it is {}).", image.status)));
                }
                // Upstream's import bookkeeping, which clients poll: the stores still to do,
                // and the stores that failed.
                image.properties.insert(IMPORTING.into(), self.store.id().to_string());
                image.properties.insert(FAILED.into(), String::new());
                self.transition(&mut image, &["uploading"], "importing").await?;
                let app = self.clone();
                tokio::spawn(async move { app.finish_import(image).await });
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
                    Ok(())
                } else {
                    Err(GlanceError::BadRequest(format!("Image is already present at store '{}'", self.store.id())))
                }
            }
            "web-download" | "glance-download" => Err(GlanceError::BadRequest(format!(
                "Import method '{method}' is not enabled on this cloud: it has no outside network access. Use glance-direct (stage the data, then import)."
            ))),
            other => Err(GlanceError::BadRequest(format!("Unknown import method name '{other}'."))),
        }
    }

    async fn finish_import(&self, mut image: Image) {
        let staged = format!("file://{}", self.cfg.staging_dir.join(&image.id).display());
        let result = match self.staging.open(&staged, 0, None).await {
            Ok(stream) => self.write_data(self.store.as_ref(), &image, stream, true).await,
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(w) => {
                image.properties.insert(IMPORTING.into(), String::new());
                if let Err(e) = self.activate(&mut image, "importing", w).await {
                    tracing::warn!(image = %image.id, error = %e, "import finished on a changed image");
                }
            }
            Err(e) => {
                tracing::warn!(image = %image.id, error = %e, "import failed; image back to queued");
                image.properties.insert(IMPORTING.into(), String::new());
                image.properties.insert(FAILED.into(), self.store.id().to_string());
                self.requeue(&mut image, "importing").await;
            }
        }
        let _ = self.staging.delete(&staged).await;
    }
}

/// Image properties upstream uses to report an import's progress.
const IMPORTING: &str = "os_glance_importing_to_stores";
const FAILED: &str = "os_glance_failed_import";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
