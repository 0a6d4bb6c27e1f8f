//! Nova, the OpenStack Compute service (API v2.1 with microversions): flavors, key pairs and
//! servers in the API database; instances, their actions and faults, compute nodes and services
//! in the cell database; the scheduler (placement allocation candidates, then filters and
//! weighers), the conductor, and the compute manager driving a `VirtDriver`, connected by the bus
//! as upstream's nova-api → nova-conductor → nova-scheduler → nova-compute.

pub mod api;
pub mod app;
pub mod compute;
pub mod conductor;
pub mod config;
pub mod db;
pub mod error;
pub mod image;
pub mod network;
pub mod placement;
pub mod policy;
pub mod rpc;
pub mod scheduler;
/// The service user's token and catalog; shared with the other services.
pub use auth::service_auth;
pub mod services;
pub mod virt;

pub use app::{App, SharedApp};
pub use config::NovaConfig;
pub use error::NovaError;

/// Connects to both databases, migrates them (`nova-manage api_db sync` + `db sync`) and
/// builds the API service.
pub async fn open(cfg: NovaConfig) -> Result<SharedApp, NovaError> {
    let api_db = ::db::Db::connect(&cfg.api_connection).await?;
    ::db::migrate::run(&api_db, "nova_api", db::schema::API_MIGRATIONS).await.map_err(|e| NovaError::Internal(e.to_string()))?;
    let cell_db = ::db::Db::connect(&cfg.connection).await?;
    ::db::migrate::run(&cell_db, "nova", db::schema::CELL_MIGRATIONS).await.map_err(|e| NovaError::Internal(e.to_string()))?;
    App::new(cfg, api_db, cell_db).await
}
