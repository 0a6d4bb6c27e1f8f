//! Placement, the OpenStack resource-tracking service (API 1.x, port 8778), as
//! openstack/placement: resource providers in trees, their inventories, traits and
//! aggregates, resource classes, allocations of consumers against providers with capacity
//! checks that hold under concurrency (provider generations compared-and-set in the same
//! transaction as the writes), usages, allocation candidates for the scheduler, the reshaper,
//! and a REST client ([`client::PlacementClient`]) for the services that call Placement.

pub mod api;
pub mod app;
pub mod client;
pub mod config;
pub mod db;
pub mod error;
pub mod policy;
pub mod standard;

pub use app::{App, SharedApp};
pub use config::PlacementConfig;
pub use error::PlacementError;

use common::error::Envelope;
use common::microversion::{MicroversionSpec, Version};

/// The microversions this Placement speaks: 1.0 to 1.39 (see ARCHITECTURE.md for what each
/// adds and how ours follows it).
pub const MICROVERSIONS: MicroversionSpec = MicroversionSpec {
    service_type: "placement",
    legacy_header: None,
    min: Version::new(1, 0),
    max: Version::new(1, 39),
    envelope: Envelope::Placement,
};

/// Connects, migrates and builds the service (`placement-manage db sync` + the API).
pub async fn open(cfg: PlacementConfig) -> Result<SharedApp, PlacementError> {
    let db = ::db::Db::connect(&cfg.connection).await?;
    ::db::migrate::run(&db, "placement", db::schema::MIGRATIONS).await.map_err(|e| PlacementError::Internal(e.to_string()))?;
    App::new(cfg, db)
}

/// Applies Placement's migrations (`placement-manage db sync`).
pub async fn db_sync(connection: &str) -> Result<usize, PlacementError> {
    let db = ::db::Db::connect(connection).await?;
    let n = ::db::migrate::run(&db, "placement", db::schema::MIGRATIONS).await.map_err(|e| PlacementError::Internal(e.to_string()))?;
    db.close().await;
    Ok(n)
}
