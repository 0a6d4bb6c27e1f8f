//! Glance, the OpenStack Image service (API v2): image records and their data in a store
//! (filesystem by default), the interoperable import (`/stage` + `/import`), members for
//! shared images, tags, schemas, inspection of uploaded bytes so an image is what its
//! `disk_format` claims (and is not one of the known exploit shapes), and the metadata
//! definitions catalog (`/v2/metadefs`).

pub mod api;
pub mod app;
pub mod config;
pub mod db;
pub mod error;
pub mod inspect;
pub mod policy;
pub mod store;

pub use app::{App, SharedApp};
pub use config::GlanceConfig;
pub use error::GlanceError;

/// Connects, migrates and builds the service (`glance-manage db_sync` + the API).
pub async fn open(cfg: GlanceConfig) -> Result<SharedApp, GlanceError> {
    let db = ::db::Db::connect(&cfg.connection).await.map_err(GlanceError::Db)?;
    ::db::migrate::run(&db, "glance", db::schema::MIGRATIONS).await.map_err(|e| GlanceError::Internal(e.to_string()))?;
    App::new(cfg, db).await
}
