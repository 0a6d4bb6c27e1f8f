//! Migration records in the cell database (nova/objects/migration.py): one per resize, cold
//! migration, live migration or evacuation, with the source and destination, the flavors
//! before and after, and a status the move walks through. While a move is in flight the
//! migration's uuid is the Placement consumer holding the source host's resources.

use db::{params, Db, DbError, Row};

use super::flavors::Flavor;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Migration {
    pub id: i64,
    pub uuid: String,
    pub instance_uuid: String,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
    pub source_node: Option<String>,
    pub dest_node: Option<String>,
    pub old_flavor: Option<Flavor>,
    pub new_flavor: Option<Flavor>,
    /// migration (cold), resize, live-migration or evacuation.
    pub migration_type: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, uuid, instance_uuid, source_compute, dest_compute, source_node, dest_node, old_flavor, new_flavor, migration_type, status, created_at, updated_at";

fn flavor_col(r: &Row, col: &str) -> Result<Option<Flavor>, DbError> {
    match r.opt_str(col)? {
        Some(s) => serde_json::from_str(&s).map(Some).map_err(|e| DbError::Decode { column: col.into(), message: e.to_string() }),
        None => Ok(None),
    }
}

fn flavor_json(f: &Option<Flavor>) -> Result<Option<String>, DbError> {
    f.as_ref().map(serde_json::to_string).transpose().map_err(|e| DbError::Decode { column: "flavor".into(), message: e.to_string() })
}

fn from_row(r: &Row) -> Result<Migration, DbError> {
    Ok(Migration {
        id: r.i64("id")?,
        uuid: r.str("uuid")?,
        instance_uuid: r.str("instance_uuid")?,
        source_compute: r.opt_str("source_compute")?,
        dest_compute: r.opt_str("dest_compute")?,
        source_node: r.opt_str("source_node")?,
        dest_node: r.opt_str("dest_node")?,
        old_flavor: flavor_col(r, "old_flavor")?,
        new_flavor: flavor_col(r, "new_flavor")?,
        migration_type: r.str("migration_type")?,
        status: r.str("status")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

/// Records `m` (its `id` is assigned here) and returns it.
pub async fn migration_create(db: &Db, m: &Migration) -> Result<Migration, DbError> {
    let mut tx = db.begin().await?;
    let id = super::next_id(&mut tx, "migrations").await?;
    tx.exec(
        &format!("INSERT INTO migrations ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        params![id, &m.uuid, &m.instance_uuid, &m.source_compute, &m.dest_compute, &m.source_node, &m.dest_node, flavor_json(&m.old_flavor)?, flavor_json(&m.new_flavor)?, &m.migration_type, &m.status, m.created_at, m.updated_at],
    )
    .await?;
    tx.commit().await?;
    Ok(Migration { id, ..m.clone() })
}

pub async fn migration_save(db: &Db, m: &Migration) -> Result<(), DbError> {
    db.exec(
        "UPDATE migrations SET source_compute = ?, dest_compute = ?, source_node = ?, dest_node = ?, status = ?, updated_at = ? WHERE id = ?",
        params![&m.source_compute, &m.dest_compute, &m.source_node, &m.dest_node, &m.status, m.updated_at, m.id],
    )
    .await?;
    Ok(())
}

pub async fn migration_get(db: &Db, id: i64) -> Result<Option<Migration>, DbError> {
    let r = db.fetch_optional(&format!("SELECT {COLUMNS} FROM migrations WHERE id = ?"), params![id]).await?;
    r.as_ref().map(from_row).transpose()
}

/// Every migration, newest first (the API filters).
pub async fn migration_list(db: &Db) -> Result<Vec<Migration>, DbError> {
    db.fetch_all(&format!("SELECT {COLUMNS} FROM migrations ORDER BY created_at DESC, id DESC"), params![]).await?.iter().map(from_row).collect()
}

/// The instance's latest migration of one of `types` in one of `statuses`.
pub async fn migration_latest(db: &Db, instance: &str, types: &[&str], statuses: &[&str]) -> Result<Option<Migration>, DbError> {
    let rows = db.fetch_all(&format!("SELECT {COLUMNS} FROM migrations WHERE instance_uuid = ? ORDER BY id DESC"), params![instance]).await?;
    for r in &rows {
        let m = from_row(r)?;
        if types.contains(&m.migration_type.as_str()) && statuses.contains(&m.status.as_str()) {
            return Ok(Some(m));
        }
    }
    Ok(None)
}
