//! Flavors, their extra specs and project access (nova/objects/flavor.py, API database).

use std::collections::BTreeMap;

use db::{params, Db, DbError, Row};

/// A flavor as stored; an instance keeps a copy of the flavor it was built with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Flavor {
    /// Internal id (upstream's `flavors.id`).
    pub id: i64,
    /// The id the API shows (`flavorid`, any string).
    pub flavorid: String,
    pub name: String,
    pub memory_mb: i64,
    pub vcpus: i64,
    pub root_gb: i64,
    pub ephemeral_gb: i64,
    pub swap: i64,
    pub rxtx_factor: f64,
    pub vcpu_weight: Option<i64>,
    pub disabled: bool,
    pub is_public: bool,
    pub description: Option<String>,
    pub extra_specs: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, flavorid, name, memory_mb, vcpus, root_gb, ephemeral_gb, swap, rxtx_factor, vcpu_weight, disabled, is_public, description, created_at, updated_at";

fn from_row(r: &Row) -> Result<Flavor, DbError> {
    Ok(Flavor {
        id: r.i64("id")?,
        flavorid: r.str("flavorid")?,
        name: r.str("name")?,
        memory_mb: r.i64("memory_mb")?,
        vcpus: r.i64("vcpus")?,
        root_gb: r.i64("root_gb")?,
        ephemeral_gb: r.i64("ephemeral_gb")?,
        swap: r.i64("swap")?,
        rxtx_factor: r.f64("rxtx_factor")?,
        vcpu_weight: r.opt_i64("vcpu_weight")?,
        disabled: r.bool("disabled")?,
        is_public: r.bool("is_public")?,
        description: r.opt_str("description")?,
        extra_specs: BTreeMap::new(),
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

async fn with_specs(db: &Db, mut f: Flavor) -> Result<Flavor, DbError> {
    for r in db.fetch_all("SELECT spec_key, spec_value FROM flavor_extra_specs WHERE flavor_id = ?", params![f.id]).await? {
        f.extra_specs.insert(r.str("spec_key")?, r.opt_str("spec_value")?.unwrap_or_default());
    }
    Ok(f)
}

/// The flavor with API id `flavorid`, with its extra specs.
pub async fn flavor_get_by_flavorid(db: &Db, flavorid: &str) -> Result<Option<Flavor>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM flavors WHERE flavorid = ?");
    match db.fetch_optional(&sql, params![flavorid]).await? {
        Some(r) => Ok(Some(with_specs(db, from_row(&r)?).await?)),
        None => Ok(None),
    }
}

/// Every flavor (filtering, access and paging are the caller's), without extra specs.
pub async fn flavor_list_all(db: &Db) -> Result<Vec<Flavor>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM flavors ORDER BY flavorid");
    db.fetch_all(&sql, params![]).await?.iter().map(from_row).collect()
}

/// Projects given access to a private flavor.
pub async fn flavor_projects(db: &Db, flavor_id: i64) -> Result<Vec<String>, DbError> {
    db.fetch_all("SELECT project_id FROM flavor_projects WHERE flavor_id = ? ORDER BY project_id", params![flavor_id]).await?.iter().map(|r| r.str("project_id")).collect()
}

/// Stores a new flavor (its `id` chosen here as one more than the largest).
pub async fn flavor_create(db: &Db, f: &mut Flavor) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    let next = super::next_id(&mut tx, "flavors").await?;
    f.id = next;
    tx.exec(
        &format!("INSERT INTO flavors ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        params![f.id, &f.flavorid, &f.name, f.memory_mb, f.vcpus, f.root_gb, f.ephemeral_gb, f.swap, f.rxtx_factor, f.vcpu_weight, f.disabled, f.is_public, &f.description, f.created_at, f.updated_at],
    )
    .await?;
    for (k, v) in &f.extra_specs {
        tx.exec("INSERT INTO flavor_extra_specs (flavor_id, spec_key, spec_value) VALUES (?, ?, ?)", params![f.id, k, v]).await?;
    }
    tx.commit().await
}

/// Removes a flavor with its extra specs and project access; false when there was none.
pub async fn flavor_destroy(db: &Db, flavorid: &str) -> Result<bool, DbError> {
    let mut tx = db.begin().await?;
    let Some(row) = tx.fetch_optional("SELECT id FROM flavors WHERE flavorid = ?", params![flavorid]).await? else {
        return Ok(false);
    };
    let id = row.i64("id")?;
    tx.exec("DELETE FROM flavor_extra_specs WHERE flavor_id = ?", params![id]).await?;
    tx.exec("DELETE FROM flavor_projects WHERE flavor_id = ?", params![id]).await?;
    tx.exec("DELETE FROM flavors WHERE id = ?", params![id]).await?;
    tx.commit().await?;
    Ok(true)
}

/// Sets a flavor's description (the only attribute the API lets change).
pub async fn flavor_update_description(db: &Db, id: i64, description: Option<&str>, now: i64) -> Result<(), DbError> {
    db.exec("UPDATE flavors SET description = ?, updated_at = ? WHERE id = ?", params![description, now, id]).await?;
    Ok(())
}

/// Creates or replaces extra specs of a flavor, all in one transaction.
pub async fn flavor_extra_specs_update_or_create(db: &Db, flavor_id: i64, specs: &BTreeMap<String, String>) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for (k, v) in specs {
        tx.exec("DELETE FROM flavor_extra_specs WHERE flavor_id = ? AND spec_key = ?", params![flavor_id, k]).await?;
        tx.exec("INSERT INTO flavor_extra_specs (flavor_id, spec_key, spec_value) VALUES (?, ?, ?)", params![flavor_id, k, v]).await?;
    }
    tx.commit().await
}

/// Removes one extra spec; false when the flavor had no such key.
pub async fn flavor_extra_spec_delete(db: &Db, flavor_id: i64, key: &str) -> Result<bool, DbError> {
    Ok(db.exec("DELETE FROM flavor_extra_specs WHERE flavor_id = ? AND spec_key = ?", params![flavor_id, key]).await? > 0)
}

/// Gives a project access to a private flavor; false when it already had it.
pub async fn flavor_access_add(db: &Db, flavor_id: i64, project_id: &str) -> Result<bool, DbError> {
    match db.exec("INSERT INTO flavor_projects (flavor_id, project_id) VALUES (?, ?)", params![flavor_id, project_id]).await {
        Ok(_) => Ok(true),
        Err(DbError::Duplicate(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes a project's access away; false when it had none.
pub async fn flavor_access_remove(db: &Db, flavor_id: i64, project_id: &str) -> Result<bool, DbError> {
    Ok(db.exec("DELETE FROM flavor_projects WHERE flavor_id = ? AND project_id = ?", params![flavor_id, project_id]).await? > 0)
}

/// Whether a flavor named `name` exists.
pub async fn flavor_name_exists(db: &Db, name: &str) -> Result<bool, DbError> {
    Ok(db.fetch_optional("SELECT id FROM flavors WHERE name = ?", params![name]).await?.is_some())
}
