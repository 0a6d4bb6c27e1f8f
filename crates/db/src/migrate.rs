//! Per-service schema migrations, recorded in a shared `ferrostack_migrations` table so each
//! service's database knows which of its own versions it has (what `db sync` applies).

use crate::{params, Db, DbError};

/// One schema step: statements run in order, once.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub up: &'static [&'static str],
}

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("migration {service} #{version} ({name}) failed: {source}")]
    Step { service: String, version: i64, name: String, #[source] source: DbError },
    #[error("cannot read the migration history: {0}")]
    History(#[source] DbError),
}

/// Applies the migrations of `service` that this database has not seen yet.
pub async fn run(db: &Db, service: &str, migrations: &[Migration]) -> Result<usize, MigrationError> {
    db.exec(
        "CREATE TABLE IF NOT EXISTS ferrostack_migrations (service VARCHAR(64) NOT NULL, version BIGINT NOT NULL, name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (service, version))",
        params![],
    )
    .await
    .map_err(MigrationError::History)?;
    let rows = db
        .fetch_all("SELECT version FROM ferrostack_migrations WHERE service = ?", params![service])
        .await
        .map_err(MigrationError::History)?;
    let mut done = Vec::with_capacity(rows.len());
    for r in rows {
        done.push(r.i64("version").map_err(MigrationError::History)?);
    }
    let mut applied = 0;
    for m in migrations {
        if done.contains(&m.version) {
            continue;
        }
        let step = |source| MigrationError::Step { service: service.into(), version: m.version, name: m.name.into(), source };
        // MySQL commits DDL implicitly, so a transaction would not make a step atomic there;
        // each statement is idempotent-safe by being recorded only after all have run.
        for stmt in m.up {
            db.exec(&db.dialect().ddl(stmt), params![]).await.map_err(step)?;
        }
        db.exec(
            "INSERT INTO ferrostack_migrations (service, version, name, applied_at) VALUES (?, ?, ?, ?)",
            params![service, m.version, m.name, chrono::Utc::now().timestamp_micros()],
        )
        .await
        .map_err(step)?;
        tracing::info!(service, version = m.version, name = m.name, "applied migration");
        applied += 1;
    }
    Ok(applied)
}
