//! Regions, services, endpoints and the endpoint filter's project associations
//! (keystone/catalog/backends/sql.py, keystone/catalog endpoint filtering).

use db::{params, Db, DbError, Row};
use serde_json::{Map, Value as Json};

use super::{extra_of, extra_text};

#[derive(Debug, Clone)]
pub struct Region {
    pub id: String,
    pub description: String,
    pub parent_region_id: Option<String>,
    pub extra: Map<String, Json>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub service_type: String,
    pub enabled: bool,
    /// name, description and any other attributes.
    pub extra: Map<String, Json>,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub interface: String,
    pub region_id: Option<String>,
    pub url: String,
    pub enabled: bool,
    pub extra: Map<String, Json>,
}

#[derive(Debug, Clone)]
pub struct EndpointGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub filters: Map<String, Json>,
}

fn region_from_row(r: &Row) -> Result<Region, DbError> {
    Ok(Region {
        id: r.str("id")?,
        description: r.opt_str("description")?.unwrap_or_default(),
        parent_region_id: r.opt_str("parent_region_id")?,
        extra: extra_of(r.opt_str("extra")?),
    })
}

pub async fn region_get(db: &Db, id: &str) -> Result<Option<Region>, DbError> {
    db.fetch_optional("SELECT id, description, parent_region_id, extra FROM region WHERE id = ?", params![id])
        .await?
        .as_ref()
        .map(region_from_row)
        .transpose()
}

pub async fn region_list(db: &Db) -> Result<Vec<Region>, DbError> {
    db.fetch_all("SELECT id, description, parent_region_id, extra FROM region ORDER BY id", params![])
        .await?
        .iter()
        .map(region_from_row)
        .collect()
}

pub async fn region_create(db: &Db, r: &Region) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO region (id, description, parent_region_id, extra) VALUES (?, ?, ?, ?)",
        params![&r.id, &r.description, &r.parent_region_id, extra_text(&r.extra)],
    )
    .await?;
    Ok(())
}

pub async fn region_update(db: &Db, r: &Region) -> Result<(), DbError> {
    db.exec(
        "UPDATE region SET description = ?, parent_region_id = ?, extra = ? WHERE id = ?",
        params![&r.description, &r.parent_region_id, extra_text(&r.extra), &r.id],
    )
    .await?;
    Ok(())
}

pub async fn region_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM region WHERE id = ?", params![id]).await
}

fn service_from_row(r: &Row) -> Result<Service, DbError> {
    Ok(Service {
        id: r.str("id")?,
        service_type: r.opt_str("type")?.unwrap_or_default(),
        enabled: r.bool("enabled")?,
        extra: extra_of(r.opt_str("extra")?),
    })
}

pub async fn service_get(db: &Db, id: &str) -> Result<Option<Service>, DbError> {
    db.fetch_optional("SELECT id, type, enabled, extra FROM catalog_service WHERE id = ?", params![id])
        .await?
        .as_ref()
        .map(service_from_row)
        .transpose()
}

pub async fn service_list(db: &Db) -> Result<Vec<Service>, DbError> {
    db.fetch_all("SELECT id, type, enabled, extra FROM catalog_service ORDER BY id", params![])
        .await?
        .iter()
        .map(service_from_row)
        .collect()
}

pub async fn service_create(db: &Db, s: &Service) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO catalog_service (id, type, enabled, extra) VALUES (?, ?, ?, ?)",
        params![&s.id, &s.service_type, s.enabled, extra_text(&s.extra)],
    )
    .await?;
    Ok(())
}

pub async fn service_update(db: &Db, s: &Service) -> Result<(), DbError> {
    db.exec(
        "UPDATE catalog_service SET type = ?, enabled = ?, extra = ? WHERE id = ?",
        params![&s.service_type, s.enabled, extra_text(&s.extra), &s.id],
    )
    .await?;
    Ok(())
}

pub async fn service_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    tx.exec("DELETE FROM project_endpoint WHERE endpoint_id IN (SELECT id FROM endpoint WHERE service_id = ?)", params![id]).await?;
    tx.exec("DELETE FROM endpoint WHERE service_id = ?", params![id]).await?;
    let n = tx.exec("DELETE FROM catalog_service WHERE id = ?", params![id]).await?;
    tx.commit().await?;
    Ok(n)
}

fn endpoint_from_row(r: &Row) -> Result<Endpoint, DbError> {
    Ok(Endpoint {
        id: r.str("id")?,
        service_id: r.str("service_id")?,
        interface: r.str("interface")?,
        region_id: r.opt_str("region_id")?,
        url: r.str("url")?,
        enabled: r.bool("enabled")?,
        extra: extra_of(r.opt_str("extra")?),
    })
}

pub async fn endpoint_get(db: &Db, id: &str) -> Result<Option<Endpoint>, DbError> {
    db.fetch_optional("SELECT id, service_id, interface, region_id, url, enabled, extra FROM endpoint WHERE id = ?", params![id])
        .await?
        .as_ref()
        .map(endpoint_from_row)
        .transpose()
}

pub async fn endpoint_list(db: &Db) -> Result<Vec<Endpoint>, DbError> {
    db.fetch_all("SELECT id, service_id, interface, region_id, url, enabled, extra FROM endpoint ORDER BY id", params![])
        .await?
        .iter()
        .map(endpoint_from_row)
        .collect()
}

pub async fn endpoint_create(db: &Db, e: &Endpoint) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO endpoint (id, service_id, interface, region_id, url, enabled, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
        params![&e.id, &e.service_id, &e.interface, &e.region_id, &e.url, e.enabled, extra_text(&e.extra)],
    )
    .await?;
    Ok(())
}

pub async fn endpoint_update(db: &Db, e: &Endpoint) -> Result<(), DbError> {
    db.exec(
        "UPDATE endpoint SET service_id = ?, interface = ?, region_id = ?, url = ?, enabled = ?, extra = ? WHERE id = ?",
        params![&e.service_id, &e.interface, &e.region_id, &e.url, e.enabled, extra_text(&e.extra), &e.id],
    )
    .await?;
    Ok(())
}

pub async fn endpoint_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    tx.exec("DELETE FROM project_endpoint WHERE endpoint_id = ?", params![id]).await?;
    let n = tx.exec("DELETE FROM endpoint WHERE id = ?", params![id]).await?;
    tx.commit().await?;
    Ok(n)
}

fn endpoint_group_from_row(r: &Row) -> Result<EndpointGroup, DbError> {
    Ok(EndpointGroup {
        id: r.str("id")?,
        name: r.str("name")?,
        description: r.opt_str("description")?.unwrap_or_default(),
        filters: extra_of(r.opt_str("filters")?),
    })
}

pub async fn endpoint_group_get(db: &Db, id: &str) -> Result<Option<EndpointGroup>, DbError> {
    db.fetch_optional("SELECT id, name, description, filters FROM endpoint_group WHERE id = ?", params![id])
        .await?
        .as_ref()
        .map(endpoint_group_from_row)
        .transpose()
}

pub async fn endpoint_group_list(db: &Db) -> Result<Vec<EndpointGroup>, DbError> {
    db.fetch_all("SELECT id, name, description, filters FROM endpoint_group ORDER BY name", params![])
        .await?
        .iter()
        .map(endpoint_group_from_row)
        .collect()
}

pub async fn endpoint_group_create(db: &Db, g: &EndpointGroup) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO endpoint_group (id, name, description, filters) VALUES (?, ?, ?, ?)",
        params![&g.id, &g.name, &g.description, extra_text(&g.filters)],
    )
    .await?;
    Ok(())
}

pub async fn endpoint_group_update(db: &Db, g: &EndpointGroup) -> Result<(), DbError> {
    db.exec(
        "UPDATE endpoint_group SET name = ?, description = ?, filters = ? WHERE id = ?",
        params![&g.name, &g.description, extra_text(&g.filters), &g.id],
    )
    .await?;
    Ok(())
}

pub async fn endpoint_group_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    tx.exec("DELETE FROM project_endpoint_group WHERE endpoint_group_id = ?", params![id]).await?;
    let n = tx.exec("DELETE FROM endpoint_group WHERE id = ?", params![id]).await?;
    tx.commit().await?;
    Ok(n)
}

/// Endpoint ids directly associated with a project.
pub async fn project_endpoint_ids(db: &Db, project_id: &str) -> Result<Vec<String>, DbError> {
    let rows = db.fetch_all("SELECT endpoint_id FROM project_endpoint WHERE project_id = ?", params![project_id]).await?;
    rows.iter().map(|r| r.str("endpoint_id")).collect()
}

pub async fn project_endpoint_group_ids(db: &Db, project_id: &str) -> Result<Vec<String>, DbError> {
    let rows = db.fetch_all("SELECT endpoint_group_id FROM project_endpoint_group WHERE project_id = ?", params![project_id]).await?;
    rows.iter().map(|r| r.str("endpoint_group_id")).collect()
}

pub async fn project_endpoint_add(db: &Db, project_id: &str, endpoint_id: &str) -> Result<(), DbError> {
    db.exec("DELETE FROM project_endpoint WHERE project_id = ? AND endpoint_id = ?", params![project_id, endpoint_id]).await?;
    db.exec("INSERT INTO project_endpoint (endpoint_id, project_id) VALUES (?, ?)", params![endpoint_id, project_id]).await?;
    Ok(())
}

pub async fn project_endpoint_remove(db: &Db, project_id: &str, endpoint_id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM project_endpoint WHERE project_id = ? AND endpoint_id = ?", params![project_id, endpoint_id]).await
}

pub async fn projects_for_endpoint(db: &Db, endpoint_id: &str) -> Result<Vec<String>, DbError> {
    let rows = db.fetch_all("SELECT project_id FROM project_endpoint WHERE endpoint_id = ?", params![endpoint_id]).await?;
    rows.iter().map(|r| r.str("project_id")).collect()
}

pub async fn project_endpoint_group_add(db: &Db, project_id: &str, group_id: &str) -> Result<(), DbError> {
    db.exec("DELETE FROM project_endpoint_group WHERE project_id = ? AND endpoint_group_id = ?", params![project_id, group_id]).await?;
    db.exec("INSERT INTO project_endpoint_group (endpoint_group_id, project_id) VALUES (?, ?)", params![group_id, project_id]).await?;
    Ok(())
}

pub async fn project_endpoint_group_remove(db: &Db, project_id: &str, group_id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM project_endpoint_group WHERE project_id = ? AND endpoint_group_id = ?", params![project_id, group_id]).await
}

pub async fn projects_for_endpoint_group(db: &Db, group_id: &str) -> Result<Vec<String>, DbError> {
    let rows = db.fetch_all("SELECT project_id FROM project_endpoint_group WHERE endpoint_group_id = ?", params![group_id]).await?;
    rows.iter().map(|r| r.str("project_id")).collect()
}

/// Whether an endpoint is directly associated with a project.
pub async fn project_endpoint_exists(db: &Db, project_id: &str, endpoint_id: &str) -> Result<bool, DbError> {
    Ok(db
        .fetch_optional("SELECT endpoint_id FROM project_endpoint WHERE project_id = ? AND endpoint_id = ?", params![project_id, endpoint_id])
        .await?
        .is_some())
}

/// Whether an endpoint group is associated with a project.
pub async fn project_endpoint_group_exists(db: &Db, project_id: &str, group_id: &str) -> Result<bool, DbError> {
    Ok(db
        .fetch_optional(
            "SELECT endpoint_group_id FROM project_endpoint_group WHERE project_id = ? AND endpoint_group_id = ?",
            params![project_id, group_id],
        )
        .await?
        .is_some())
}

/// Deletes regions (a region and its descendants) in one transaction.
pub async fn region_delete_many(db: &Db, ids: &[String]) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    let mut n = 0;
    for id in ids {
        n += tx.exec("DELETE FROM region WHERE id = ?", params![id]).await?;
    }
    tx.commit().await?;
    Ok(n)
}
