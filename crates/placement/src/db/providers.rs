//! Resource providers, their traits and aggregates, and the custom resource classes and
//! traits (placement/objects/resource_provider.py, trait.py, resource_class.py).

use std::collections::{BTreeMap, BTreeSet};

use db::{params, Db, DbError, Row, Tx};

/// A stored resource provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub uuid: String,
    pub name: String,
    pub generation: i64,
    pub parent_provider_uuid: Option<String>,
    pub root_provider_uuid: String,
    pub updated_at: i64,
}

const PROVIDER_COLUMNS: &str = "uuid, name, generation, parent_provider_uuid, root_provider_uuid, updated_at";

fn provider_of(r: &Row) -> Result<Provider, DbError> {
    Ok(Provider {
        uuid: r.str("uuid")?,
        name: r.str("name")?,
        generation: r.i64("generation")?,
        parent_provider_uuid: r.opt_str("parent_provider_uuid")?,
        root_provider_uuid: r.str("root_provider_uuid")?,
        updated_at: r.i64("updated_at")?,
    })
}

pub async fn provider_get(db: &Db, uuid: &str) -> Result<Option<Provider>, DbError> {
    db.fetch_optional(&format!("SELECT {PROVIDER_COLUMNS} FROM resource_providers WHERE uuid = ?"), params![uuid]).await?.as_ref().map(provider_of).transpose()
}

pub async fn provider_get_tx(tx: &mut Tx, uuid: &str) -> Result<Option<Provider>, DbError> {
    tx.fetch_optional(&format!("SELECT {PROVIDER_COLUMNS} FROM resource_providers WHERE uuid = ?"), params![uuid]).await?.as_ref().map(provider_of).transpose()
}

pub async fn provider_get_by_name_tx(tx: &mut Tx, name: &str) -> Result<Option<Provider>, DbError> {
    tx.fetch_optional(&format!("SELECT {PROVIDER_COLUMNS} FROM resource_providers WHERE name = ?"), params![name]).await?.as_ref().map(provider_of).transpose()
}

pub async fn provider_list(db: &Db) -> Result<Vec<Provider>, DbError> {
    db.fetch_all(&format!("SELECT {PROVIDER_COLUMNS} FROM resource_providers ORDER BY created_at, uuid"), params![]).await?.iter().map(provider_of).collect()
}

pub async fn provider_create(tx: &mut Tx, p: &Provider) -> Result<(), DbError> {
    let now = super::now();
    tx.exec(
        "INSERT INTO resource_providers (uuid, name, generation, parent_provider_uuid, root_provider_uuid, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        params![&p.uuid, &p.name, p.generation, &p.parent_provider_uuid, &p.root_provider_uuid, now, now],
    )
    .await?;
    Ok(())
}

/// Renames/reparents a provider if it still has `expected_generation` (upstream does not bump
/// the generation for this); returns false when someone else changed it first.
pub async fn provider_update(tx: &mut Tx, p: &Provider, expected_generation: i64) -> Result<bool, DbError> {
    let n = tx
        .exec(
            "UPDATE resource_providers SET name = ?, parent_provider_uuid = ?, root_provider_uuid = ?, updated_at = ? WHERE uuid = ? AND generation = ?",
            params![&p.name, &p.parent_provider_uuid, &p.root_provider_uuid, super::now(), &p.uuid, expected_generation],
        )
        .await?;
    Ok(n == 1)
}

/// The compare-and-set every write to a provider's inventory, traits, aggregates or
/// allocations ends with: it both detects a concurrent writer and makes the next one detect us.
pub async fn provider_bump_generation(tx: &mut Tx, uuid: &str, expected_generation: i64) -> Result<bool, DbError> {
    let n = tx
        .exec("UPDATE resource_providers SET generation = generation + 1, updated_at = ? WHERE uuid = ? AND generation = ?", params![super::now(), uuid, expected_generation])
        .await?;
    Ok(n == 1)
}

pub async fn provider_set_root(tx: &mut Tx, uuid: &str, root: &str) -> Result<(), DbError> {
    tx.exec("UPDATE resource_providers SET root_provider_uuid = ? WHERE uuid = ?", params![root, uuid]).await?;
    Ok(())
}

pub async fn provider_children_tx(tx: &mut Tx, uuid: &str) -> Result<Vec<String>, DbError> {
    tx.fetch_all("SELECT uuid FROM resource_providers WHERE parent_provider_uuid = ?", params![uuid]).await?.iter().map(|r| r.str("uuid")).collect()
}

pub async fn provider_delete(tx: &mut Tx, uuid: &str) -> Result<(), DbError> {
    tx.exec("DELETE FROM inventories WHERE resource_provider_uuid = ?", params![uuid]).await?;
    tx.exec("DELETE FROM resource_provider_traits WHERE resource_provider_uuid = ?", params![uuid]).await?;
    tx.exec("DELETE FROM resource_provider_aggregates WHERE resource_provider_uuid = ?", params![uuid]).await?;
    tx.exec("DELETE FROM resource_providers WHERE uuid = ?", params![uuid]).await?;
    Ok(())
}

// Traits and aggregates of providers.

pub async fn provider_traits(db: &Db, uuid: &str) -> Result<Vec<String>, DbError> {
    db.fetch_all("SELECT trait_name FROM resource_provider_traits WHERE resource_provider_uuid = ? ORDER BY trait_name", params![uuid]).await?.iter().map(|r| r.str("trait_name")).collect()
}

pub async fn provider_traits_replace(tx: &mut Tx, uuid: &str, traits: &BTreeSet<String>) -> Result<(), DbError> {
    tx.exec("DELETE FROM resource_provider_traits WHERE resource_provider_uuid = ?", params![uuid]).await?;
    for t in traits {
        tx.exec("INSERT INTO resource_provider_traits (resource_provider_uuid, trait_name) VALUES (?, ?)", params![uuid, t]).await?;
    }
    Ok(())
}

pub async fn provider_aggregates(db: &Db, uuid: &str) -> Result<Vec<String>, DbError> {
    db.fetch_all("SELECT aggregate_uuid FROM resource_provider_aggregates WHERE resource_provider_uuid = ? ORDER BY aggregate_uuid", params![uuid])
        .await?
        .iter()
        .map(|r| r.str("aggregate_uuid"))
        .collect()
}

pub async fn provider_aggregates_replace(tx: &mut Tx, uuid: &str, aggregates: &BTreeSet<String>) -> Result<(), DbError> {
    tx.exec("DELETE FROM resource_provider_aggregates WHERE resource_provider_uuid = ?", params![uuid]).await?;
    for a in aggregates {
        tx.exec("INSERT INTO resource_provider_aggregates (resource_provider_uuid, aggregate_uuid) VALUES (?, ?)", params![uuid, a]).await?;
    }
    Ok(())
}

// Custom resource classes and traits.

pub async fn resource_class_list(db: &Db) -> Result<Vec<String>, DbError> {
    db.fetch_all("SELECT name FROM resource_classes ORDER BY name", params![]).await?.iter().map(|r| r.str("name")).collect()
}

pub async fn resource_class_exists(db: &Db, name: &str) -> Result<bool, DbError> {
    Ok(db.fetch_optional("SELECT name FROM resource_classes WHERE name = ?", params![name]).await?.is_some())
}

pub async fn resource_class_create(db: &Db, name: &str) -> Result<(), DbError> {
    let now = super::now();
    db.exec("INSERT INTO resource_classes (name, created_at, updated_at) VALUES (?, ?, ?)", params![name, now, now]).await?;
    Ok(())
}

pub async fn resource_class_rename(db: &Db, from: &str, to: &str) -> Result<bool, DbError> {
    Ok(db.exec("UPDATE resource_classes SET name = ?, updated_at = ? WHERE name = ?", params![to, super::now(), from]).await? == 1)
}

pub async fn resource_class_delete(db: &Db, name: &str) -> Result<bool, DbError> {
    Ok(db.exec("DELETE FROM resource_classes WHERE name = ?", params![name]).await? == 1)
}

pub async fn resource_class_in_use(db: &Db, name: &str) -> Result<bool, DbError> {
    Ok(db.fetch_optional("SELECT resource_provider_uuid FROM inventories WHERE resource_class = ?", params![name]).await?.is_some()
        || db.fetch_optional("SELECT consumer_uuid FROM allocations WHERE resource_class = ?", params![name]).await?.is_some())
}

pub async fn trait_list(db: &Db) -> Result<Vec<String>, DbError> {
    db.fetch_all("SELECT name FROM traits ORDER BY name", params![]).await?.iter().map(|r| r.str("name")).collect()
}

pub async fn trait_exists(db: &Db, name: &str) -> Result<bool, DbError> {
    Ok(db.fetch_optional("SELECT name FROM traits WHERE name = ?", params![name]).await?.is_some())
}

pub async fn trait_create(db: &Db, name: &str) -> Result<(), DbError> {
    let now = super::now();
    db.exec("INSERT INTO traits (name, created_at, updated_at) VALUES (?, ?, ?)", params![name, now, now]).await?;
    Ok(())
}

pub async fn trait_delete(db: &Db, name: &str) -> Result<bool, DbError> {
    Ok(db.exec("DELETE FROM traits WHERE name = ?", params![name]).await? == 1)
}

pub async fn trait_in_use(db: &Db, name: &str) -> Result<bool, DbError> {
    Ok(db.fetch_optional("SELECT resource_provider_uuid FROM resource_provider_traits WHERE trait_name = ?", params![name]).await?.is_some())
}

/// Traits that are set on at least one provider.
pub async fn trait_associated(db: &Db) -> Result<BTreeSet<String>, DbError> {
    db.fetch_all("SELECT DISTINCT trait_name FROM resource_provider_traits", params![]).await?.iter().map(|r| r.str("trait_name")).collect()
}

/// Every provider's traits and aggregates (for listing filters and allocation candidates).
pub async fn provider_traits_all(db: &Db) -> Result<BTreeMap<String, BTreeSet<String>>, DbError> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in db.fetch_all("SELECT resource_provider_uuid, trait_name FROM resource_provider_traits", params![]).await? {
        out.entry(r.str("resource_provider_uuid")?).or_default().insert(r.str("trait_name")?);
    }
    Ok(out)
}

pub async fn provider_aggregates_all(db: &Db) -> Result<BTreeMap<String, BTreeSet<String>>, DbError> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in db.fetch_all("SELECT resource_provider_uuid, aggregate_uuid FROM resource_provider_aggregates", params![]).await? {
        out.entry(r.str("resource_provider_uuid")?).or_default().insert(r.str("aggregate_uuid")?);
    }
    Ok(out)
}
