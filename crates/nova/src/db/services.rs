//! The `availability_zone` metadata of the aggregates hosts are in (API database), which
//! nova/availability_zones.py combines with the services of the cell database
//! (`compute_nodes::service_list`).

use std::collections::BTreeMap;

use db::{params, Db, DbError};

/// host -> availability zones named by the aggregates it is in.
pub async fn aggregate_host_zones(api: &Db) -> Result<BTreeMap<String, Vec<String>>, DbError> {
    let rows = api
        .fetch_all(
            "SELECT h.host AS host, m.meta_value AS zone FROM aggregate_hosts h JOIN aggregate_metadata m ON m.aggregate_id = h.aggregate_id WHERE m.meta_key = 'availability_zone' ORDER BY h.host, m.meta_value",
            params![],
        )
        .await?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.str("host")?).or_default().push(r.str("zone")?);
    }
    Ok(out)
}

/// A host aggregate (nova/objects/aggregate.py) with its hosts and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub hosts: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

async fn aggregate_children(api: &Db, mut a: Aggregate) -> Result<Aggregate, DbError> {
    a.hosts = api.fetch_all("SELECT host FROM aggregate_hosts WHERE aggregate_id = ? ORDER BY host", params![a.id]).await?.iter().map(|r| r.str("host")).collect::<Result<_, _>>()?;
    for r in api.fetch_all("SELECT meta_key, meta_value FROM aggregate_metadata WHERE aggregate_id = ?", params![a.id]).await? {
        a.metadata.insert(r.str("meta_key")?, r.str("meta_value")?);
    }
    Ok(a)
}

fn aggregate_from_row(r: &db::Row) -> Result<Aggregate, DbError> {
    Ok(Aggregate { id: r.i64("id")?, uuid: r.str("uuid")?, name: r.str("name")?, hosts: vec![], metadata: BTreeMap::new(), created_at: r.i64("created_at")?, updated_at: r.i64("updated_at")? })
}

pub async fn aggregate_list(api: &Db) -> Result<Vec<Aggregate>, DbError> {
    let mut out = Vec::new();
    for r in api.fetch_all("SELECT id, uuid, name, created_at, updated_at FROM aggregates ORDER BY id", params![]).await? {
        out.push(aggregate_children(api, aggregate_from_row(&r)?).await?);
    }
    Ok(out)
}

pub async fn aggregate_get(api: &Db, id: i64) -> Result<Option<Aggregate>, DbError> {
    match api.fetch_optional("SELECT id, uuid, name, created_at, updated_at FROM aggregates WHERE id = ?", params![id]).await? {
        Some(r) => Ok(Some(aggregate_children(api, aggregate_from_row(&r)?).await?)),
        None => Ok(None),
    }
}

/// Creates an aggregate (the unique name index refuses a duplicate) and returns its id.
pub async fn aggregate_create(api: &Db, uuid: &str, name: &str, metadata: &BTreeMap<String, String>, now: i64) -> Result<i64, DbError> {
    let mut tx = api.begin().await?;
    let id = super::next_id(&mut tx, "aggregates").await?;
    tx.exec("INSERT INTO aggregates (id, uuid, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", params![id, uuid, name, now, now]).await?;
    for (k, v) in metadata {
        tx.exec("INSERT INTO aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (?, ?, ?)", params![id, k, v]).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Renames and/or changes metadata (`None` value: remove the key).
pub async fn aggregate_update(api: &Db, id: i64, name: Option<&str>, metadata: &BTreeMap<String, Option<String>>, now: i64) -> Result<(), DbError> {
    let mut tx = api.begin().await?;
    if let Some(n) = name {
        tx.exec("UPDATE aggregates SET name = ? WHERE id = ?", params![n, id]).await?;
    }
    for (k, v) in metadata {
        tx.exec("DELETE FROM aggregate_metadata WHERE aggregate_id = ? AND meta_key = ?", params![id, k]).await?;
        if let Some(v) = v {
            tx.exec("INSERT INTO aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (?, ?, ?)", params![id, k, v]).await?;
        }
    }
    tx.exec("UPDATE aggregates SET updated_at = ? WHERE id = ?", params![now, id]).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn aggregate_delete(api: &Db, id: i64) -> Result<(), DbError> {
    let mut tx = api.begin().await?;
    tx.exec("DELETE FROM aggregate_metadata WHERE aggregate_id = ?", params![id]).await?;
    tx.exec("DELETE FROM aggregate_hosts WHERE aggregate_id = ?", params![id]).await?;
    tx.exec("DELETE FROM aggregates WHERE id = ?", params![id]).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn aggregate_host_add(api: &Db, id: i64, host: &str, now: i64) -> Result<(), DbError> {
    let mut tx = api.begin().await?;
    tx.exec("INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (?, ?)", params![id, host]).await?;
    tx.exec("UPDATE aggregates SET updated_at = ? WHERE id = ?", params![now, id]).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes `host`; returns whether it was a member.
pub async fn aggregate_host_remove(api: &Db, id: i64, host: &str, now: i64) -> Result<bool, DbError> {
    let mut tx = api.begin().await?;
    let n = tx.exec("DELETE FROM aggregate_hosts WHERE aggregate_id = ? AND host = ?", params![id, host]).await?;
    tx.exec("UPDATE aggregates SET updated_at = ? WHERE id = ?", params![now, id]).await?;
    tx.commit().await?;
    Ok(n > 0)
}
