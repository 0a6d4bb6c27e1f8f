//! Inventories, consumers, allocations and usages (placement/objects/inventory.py,
//! allocation.py, consumer.py, usage.py).

use std::collections::BTreeMap;

use db::{params, Db, DbError, Row, Tx};

/// One resource class's inventory on a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub resource_class: String,
    pub total: i64,
    pub reserved: i64,
    pub min_unit: i64,
    pub max_unit: i64,
    pub step_size: i64,
    pub allocation_ratio: f64,
}

impl Inventory {
    /// What may be allocated in all: (total - reserved) * allocation_ratio, rounded down as
    /// upstream's int() does.
    pub fn capacity(&self) -> i64 {
        ((self.total - self.reserved) as f64 * self.allocation_ratio) as i64
    }
}

const INVENTORY_COLUMNS: &str = "resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio";

fn inventory_of(r: &Row) -> Result<Inventory, DbError> {
    Ok(Inventory {
        resource_class: r.str("resource_class")?,
        total: r.i64("total")?,
        reserved: r.i64("reserved")?,
        min_unit: r.i64("min_unit")?,
        max_unit: r.i64("max_unit")?,
        step_size: r.i64("step_size")?,
        allocation_ratio: r.f64("allocation_ratio")?,
    })
}

pub async fn inventory_list(db: &Db, provider: &str) -> Result<Vec<Inventory>, DbError> {
    db.fetch_all(&format!("SELECT {INVENTORY_COLUMNS} FROM inventories WHERE resource_provider_uuid = ? ORDER BY resource_class"), params![provider])
        .await?
        .iter()
        .map(inventory_of)
        .collect()
}

pub async fn inventory_list_tx(tx: &mut Tx, provider: &str) -> Result<Vec<Inventory>, DbError> {
    tx.fetch_all(&format!("SELECT {INVENTORY_COLUMNS} FROM inventories WHERE resource_provider_uuid = ? ORDER BY resource_class"), params![provider])
        .await?
        .iter()
        .map(inventory_of)
        .collect()
}

/// Every provider's inventories.
pub async fn inventory_list_all(db: &Db) -> Result<BTreeMap<String, Vec<Inventory>>, DbError> {
    let mut out: BTreeMap<String, Vec<Inventory>> = BTreeMap::new();
    for r in db.fetch_all(&format!("SELECT resource_provider_uuid, {INVENTORY_COLUMNS} FROM inventories ORDER BY resource_class"), params![]).await? {
        out.entry(r.str("resource_provider_uuid")?).or_default().push(inventory_of(&r)?);
    }
    Ok(out)
}

/// Replaces a provider's whole inventory (rows not in `inventories` are removed).
pub async fn inventory_replace(tx: &mut Tx, provider: &str, inventories: &[Inventory]) -> Result<(), DbError> {
    tx.exec("DELETE FROM inventories WHERE resource_provider_uuid = ?", params![provider]).await?;
    let now = super::now();
    for i in inventories {
        tx.exec(
            "INSERT INTO inventories (resource_provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params![provider, &i.resource_class, i.total, i.reserved, i.min_unit, i.max_unit, i.step_size, i.allocation_ratio, now, now],
        )
        .await?;
    }
    Ok(())
}

/// A consumer: whoever holds allocations (an instance, a migration, a port...).
#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub uuid: String,
    pub project_id: String,
    pub user_id: String,
    pub consumer_type: Option<String>,
    pub generation: i64,
}

fn consumer_of(r: &Row) -> Result<Consumer, DbError> {
    Ok(Consumer {
        uuid: r.str("uuid")?,
        project_id: r.str("project_id")?,
        user_id: r.str("user_id")?,
        consumer_type: r.opt_str("consumer_type")?,
        generation: r.i64("generation")?,
    })
}

pub async fn consumer_get(db: &Db, uuid: &str) -> Result<Option<Consumer>, DbError> {
    db.fetch_optional("SELECT uuid, project_id, user_id, consumer_type, generation FROM consumers WHERE uuid = ?", params![uuid]).await?.as_ref().map(consumer_of).transpose()
}

pub async fn consumer_get_tx(tx: &mut Tx, uuid: &str) -> Result<Option<Consumer>, DbError> {
    tx.fetch_optional("SELECT uuid, project_id, user_id, consumer_type, generation FROM consumers WHERE uuid = ?", params![uuid]).await?.as_ref().map(consumer_of).transpose()
}

/// Creates a consumer at generation 0; a concurrent creator makes this fail with Duplicate.
pub async fn consumer_create(tx: &mut Tx, c: &Consumer) -> Result<(), DbError> {
    let now = super::now();
    tx.exec(
        "INSERT INTO consumers (uuid, project_id, user_id, consumer_type, generation, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
        params![&c.uuid, &c.project_id, &c.user_id, &c.consumer_type, now, now],
    )
    .await?;
    Ok(())
}

/// Updates project/user/type and bumps the generation if it is still `expected`.
pub async fn consumer_update(tx: &mut Tx, c: &Consumer, expected: i64) -> Result<bool, DbError> {
    let n = tx
        .exec(
            "UPDATE consumers SET project_id = ?, user_id = ?, consumer_type = ?, generation = generation + 1, updated_at = ? WHERE uuid = ? AND generation = ?",
            params![&c.project_id, &c.user_id, &c.consumer_type, super::now(), &c.uuid, expected],
        )
        .await?;
    Ok(n == 1)
}

pub async fn consumer_delete(tx: &mut Tx, uuid: &str) -> Result<(), DbError> {
    tx.exec("DELETE FROM consumers WHERE uuid = ?", params![uuid]).await?;
    Ok(())
}

/// One allocation row: `used` units of a class on a provider, held by a consumer.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    pub consumer_uuid: String,
    pub resource_provider_uuid: String,
    pub resource_class: String,
    pub used: i64,
}

fn allocation_of(r: &Row) -> Result<Allocation, DbError> {
    Ok(Allocation {
        consumer_uuid: r.str("consumer_uuid")?,
        resource_provider_uuid: r.str("resource_provider_uuid")?,
        resource_class: r.str("resource_class")?,
        used: r.i64("used")?,
    })
}

pub async fn allocation_list_by_consumer(db: &Db, consumer: &str) -> Result<Vec<Allocation>, DbError> {
    db.fetch_all("SELECT consumer_uuid, resource_provider_uuid, resource_class, used FROM allocations WHERE consumer_uuid = ? ORDER BY resource_provider_uuid, resource_class", params![consumer])
        .await?
        .iter()
        .map(allocation_of)
        .collect()
}

pub async fn allocation_list_by_consumer_tx(tx: &mut Tx, consumer: &str) -> Result<Vec<Allocation>, DbError> {
    tx.fetch_all("SELECT consumer_uuid, resource_provider_uuid, resource_class, used FROM allocations WHERE consumer_uuid = ?", params![consumer])
        .await?
        .iter()
        .map(allocation_of)
        .collect()
}

pub async fn allocation_list_by_provider(db: &Db, provider: &str) -> Result<Vec<Allocation>, DbError> {
    db.fetch_all("SELECT consumer_uuid, resource_provider_uuid, resource_class, used FROM allocations WHERE resource_provider_uuid = ? ORDER BY consumer_uuid, resource_class", params![provider])
        .await?
        .iter()
        .map(allocation_of)
        .collect()
}

pub async fn allocation_delete_by_consumer(tx: &mut Tx, consumer: &str) -> Result<(), DbError> {
    tx.exec("DELETE FROM allocations WHERE consumer_uuid = ?", params![consumer]).await?;
    Ok(())
}

pub async fn allocation_create(tx: &mut Tx, a: &Allocation) -> Result<(), DbError> {
    tx.exec(
        "INSERT INTO allocations (consumer_uuid, resource_provider_uuid, resource_class, used, created_at) VALUES (?, ?, ?, ?, ?)",
        params![&a.consumer_uuid, &a.resource_provider_uuid, &a.resource_class, a.used, super::now()],
    )
    .await?;
    Ok(())
}

pub async fn provider_has_allocations_tx(tx: &mut Tx, provider: &str) -> Result<bool, DbError> {
    Ok(tx.fetch_optional("SELECT consumer_uuid FROM allocations WHERE resource_provider_uuid = ?", params![provider]).await?.is_some())
}

/// Usage per resource class on one provider. (Summed here rather than with SUM(), whose
/// result type differs per engine: NUMERIC on PostgreSQL, DECIMAL on MySQL.)
pub async fn usage_by_provider(db: &Db, provider: &str) -> Result<BTreeMap<String, i64>, DbError> {
    let mut out = BTreeMap::new();
    for r in db.fetch_all("SELECT resource_class, used FROM allocations WHERE resource_provider_uuid = ?", params![provider]).await? {
        *out.entry(r.str("resource_class")?).or_insert(0) += r.i64("used")?;
    }
    Ok(out)
}

pub async fn usage_by_provider_tx(tx: &mut Tx, provider: &str) -> Result<BTreeMap<String, i64>, DbError> {
    let mut out = BTreeMap::new();
    for r in tx.fetch_all("SELECT resource_class, used FROM allocations WHERE resource_provider_uuid = ?", params![provider]).await? {
        *out.entry(r.str("resource_class")?).or_insert(0) += r.i64("used")?;
    }
    Ok(out)
}

/// Usage per (provider, resource class) over all providers.
pub async fn usage_all(db: &Db) -> Result<BTreeMap<(String, String), i64>, DbError> {
    let mut out = BTreeMap::new();
    for r in db.fetch_all("SELECT resource_provider_uuid, resource_class, used FROM allocations", params![]).await? {
        *out.entry((r.str("resource_provider_uuid")?, r.str("resource_class")?)).or_insert(0) += r.i64("used")?;
    }
    Ok(out)
}

/// Usage rows of a project (optionally one user), by consumer type, with the number of
/// consumers of each type: (consumer_type, resource_class, used) and (consumer_type, count).
pub async fn usage_by_project(db: &Db, project_id: &str, user_id: Option<&str>) -> Result<Vec<(Option<String>, String, i64, String)>, DbError> {
    let (sql, p) = match user_id {
        Some(u) => (
            "SELECT c.consumer_type, a.resource_class, a.used, c.uuid FROM allocations a JOIN consumers c ON c.uuid = a.consumer_uuid WHERE c.project_id = ? AND c.user_id = ?",
            params![project_id, u],
        ),
        None => ("SELECT c.consumer_type, a.resource_class, a.used, c.uuid FROM allocations a JOIN consumers c ON c.uuid = a.consumer_uuid WHERE c.project_id = ?", params![project_id]),
    };
    let mut out = Vec::new();
    for r in db.fetch_all(sql, p).await? {
        out.push((r.opt_str("consumer_type")?, r.str("resource_class")?, r.i64("used")?, r.str("uuid")?));
    }
    Ok(out)
}

