//! Neutron, the OpenStack Networking service (API v2.0, port 9696), as neutron-server with the
//! ML2 plugin: networks with provider segments allocated from configured ranges (local, flat,
//! VLAN, VXLAN), subnets and IPAM that never hands out one address twice, ports with MACs,
//! bindings, security groups and address pairs, security groups and rules, routers with
//! gateways, interfaces and routes, floating IPs, quotas, tags, and upstream's policy and
//! error envelope. The dataplane agents are a separate piece; see ARCHITECTURE.md.

pub mod api;
pub mod app;
pub mod config;
pub mod db;
pub mod error;
pub mod notifiers;
pub mod policy;

pub use api::router;
pub use app::{App, SharedApp};
pub use config::NeutronConfig;
pub use error::NeutronError;

/// Connects, migrates and builds the service (`neutron-db-manage upgrade heads` + the server).
pub async fn open(cfg: NeutronConfig) -> Result<SharedApp, NeutronError> {
    let db = ::db::Db::connect(&cfg.connection).await?;
    ::db::migrate::run(&db, "neutron", db::schema::MIGRATIONS).await.map_err(|e| NeutronError::Internal(e.to_string()))?;
    let nova = cfg.nova.clone();
    let app = App::new(cfg, db)?;
    match nova {
        Some(creds) => {
            tracing::info!(auth_url = %creds.auth_url, user = %creds.username, "Nova will be told about port changes (os-server-external-events)");
            let auth = std::sync::Arc::new(auth::service_auth::ServiceAuth::new(creds));
            app.set_nova_notifier(std::sync::Arc::new(notifiers::nova::RestNovaNotifier::new(auth)));
        }
        None => tracing::info!("[nova] has no auth_url: Nova will not be told about port changes"),
    }
    Ok(app)
}

/// Applies Neutron's migrations (`neutron-db-manage upgrade heads`).
pub async fn db_sync(connection: &str) -> Result<usize, NeutronError> {
    let db = ::db::Db::connect(connection).await?;
    let n = ::db::migrate::run(&db, "neutron", db::schema::MIGRATIONS).await.map_err(|e| NeutronError::Internal(e.to_string()))?;
    db.close().await;
    Ok(n)
}
