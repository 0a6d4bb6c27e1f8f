//! Keystone, the OpenStack Identity v3 service: users, groups, projects, domains, roles and
//! their assignments, the service catalog, credentials, application credentials, trusts, and
//! Fernet tokens. Wire-compatible with upstream Keystone so the `openstack` CLI, SDKs and
//! Tempest work against it unchanged.

pub mod api;
pub mod app;
pub mod bootstrap;
pub mod config;
pub mod db;
pub mod error;
pub mod policy;
pub mod token;
pub mod validator;

pub use app::{App, SharedApp};
pub use config::KeystoneConfig;
pub use error::KeystoneError;

/// Connects to the database, applies migrations and builds the service.
pub async fn open(cfg: KeystoneConfig) -> Result<SharedApp, KeystoneError> {
    let db = db_sync(&cfg.connection).await?;
    App::new(cfg, db).await
}

/// Applies Keystone's migrations (`keystone-manage db_sync`).
pub async fn db_sync(connection: &str) -> Result<::db::Db, KeystoneError> {
    let db = ::db::Db::connect(connection).await?;
    ::db::migrate::run(&db, "keystone", db::schema::MIGRATIONS)
        .await
        .map_err(|e| KeystoneError::Internal(e.to_string()))?;
    Ok(db)
}
