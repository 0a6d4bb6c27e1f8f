//! Projects and domains (keystone/resource/backends/sql.py): one table, domains being projects
//! with `is_domain = 1` whose `domain_id` is the root sentinel.

use db::{params, Db, DbError, Row, Value};
use serde_json::{Map, Value as Json};

use super::schema::DOMAIN_ROOT;
use super::{extra_of, extra_text, in_list};

/// A project (or a domain, when `is_domain`).
#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub parent_id: Option<String>,
    pub description: String,
    pub enabled: bool,
    pub is_domain: bool,
    pub extra: Map<String, Json>,
}

const COLUMNS: &str = "id, name, domain_id, parent_id, description, enabled, is_domain, extra";

fn from_row(r: &Row) -> Result<Project, DbError> {
    Ok(Project {
        id: r.str("id")?,
        name: r.str("name")?,
        domain_id: r.str("domain_id")?,
        parent_id: r.opt_str("parent_id")?,
        description: r.opt_str("description")?.unwrap_or_default(),
        enabled: r.bool("enabled")?,
        is_domain: r.bool("is_domain")?,
        extra: extra_of(r.opt_str("extra")?),
    })
}

pub async fn project_get(db: &Db, id: &str) -> Result<Option<Project>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM project WHERE id = ? AND domain_id <> ?");
    db.fetch_optional(&sql, params![id, DOMAIN_ROOT]).await?.as_ref().map(from_row).transpose()
}

/// A project or a domain by id (domains acting as projects, `is_domain` projects).
pub async fn project_or_domain_get(db: &Db, id: &str) -> Result<Option<Project>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM project WHERE id = ?");
    db.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
}

pub async fn project_get_by_name(db: &Db, name: &str, domain_id: &str) -> Result<Option<Project>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM project WHERE name = ? AND domain_id = ?");
    db.fetch_optional(&sql, params![name, domain_id]).await?.as_ref().map(from_row).transpose()
}

pub async fn domain_get(db: &Db, id: &str) -> Result<Option<Project>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM project WHERE id = ? AND domain_id = ?");
    db.fetch_optional(&sql, params![id, DOMAIN_ROOT]).await?.as_ref().map(from_row).transpose()
}

pub async fn domain_get_by_name(db: &Db, name: &str) -> Result<Option<Project>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM project WHERE name = ? AND domain_id = ?");
    db.fetch_optional(&sql, params![name, DOMAIN_ROOT]).await?.as_ref().map(from_row).transpose()
}

pub async fn domain_list(db: &Db) -> Result<Vec<Project>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM project WHERE domain_id = ? ORDER BY name");
    db.fetch_all(&sql, params![DOMAIN_ROOT]).await?.iter().map(from_row).collect()
}

/// Every project (not domains), optionally within a domain; filtering beyond that is done by
/// the caller on the (small) result.
pub async fn project_list(db: &Db, domain_id: Option<&str>) -> Result<Vec<Project>, DbError> {
    match domain_id {
        Some(d) => {
            let sql = format!("SELECT {COLUMNS} FROM project WHERE domain_id = ? ORDER BY name");
            db.fetch_all(&sql, params![d]).await?.iter().map(from_row).collect()
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM project WHERE domain_id <> ? ORDER BY name");
            db.fetch_all(&sql, params![DOMAIN_ROOT]).await?.iter().map(from_row).collect()
        }
    }
}

pub async fn project_list_by_ids(db: &Db, ids: &[String]) -> Result<Vec<Project>, DbError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!("SELECT {COLUMNS} FROM project WHERE id IN {} ORDER BY name", in_list(ids.len()));
    db.fetch_all(&sql, ids.iter().map(Value::from).collect()).await?.iter().map(from_row).collect()
}

pub async fn project_children(db: &Db, parent_id: &str) -> Result<Vec<Project>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM project WHERE parent_id = ? ORDER BY name");
    db.fetch_all(&sql, params![parent_id]).await?.iter().map(from_row).collect()
}

pub async fn project_create(db: &Db, p: &Project, tags: &[String]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec(
        "INSERT INTO project (id, name, domain_id, parent_id, description, enabled, is_domain, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        params![&p.id, &p.name, &p.domain_id, &p.parent_id, &p.description, p.enabled, p.is_domain, extra_text(&p.extra)],
    )
    .await?;
    for t in tags {
        tx.exec("INSERT INTO project_tag (project_id, name) VALUES (?, ?)", params![&p.id, t]).await?;
    }
    tx.commit().await
}

pub async fn project_update(db: &Db, p: &Project, tags: Option<&[String]>) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec(
        "UPDATE project SET name = ?, description = ?, enabled = ?, extra = ?, parent_id = ? WHERE id = ?",
        params![&p.name, &p.description, p.enabled, extra_text(&p.extra), &p.parent_id, &p.id],
    )
    .await?;
    if let Some(tags) = tags {
        tx.exec("DELETE FROM project_tag WHERE project_id = ?", params![&p.id]).await?;
        for t in tags {
            tx.exec("INSERT INTO project_tag (project_id, name) VALUES (?, ?)", params![&p.id, t]).await?;
        }
    }
    tx.commit().await
}

/// Deletes projects and everything that hangs off them (tags, assignments on them, endpoint
/// associations, limits, app credentials and trusts scoped to them).
pub async fn project_delete_many(db: &Db, ids: &[String]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = in_list(ids.len());
    let vals: Vec<Value> = ids.iter().map(Value::from).collect();
    let mut tx = db.begin().await?;
    for stmt in [
        format!("DELETE FROM project_tag WHERE project_id IN {list}"),
        format!("DELETE FROM role_assignment WHERE target_id IN {list}"),
        format!("DELETE FROM project_endpoint WHERE project_id IN {list}"),
        format!("DELETE FROM project_endpoint_group WHERE project_id IN {list}"),
        format!("DELETE FROM project_limit WHERE project_id IN {list}"),
        format!("DELETE FROM app_cred_role WHERE application_credential_id IN (SELECT id FROM application_credential WHERE project_id IN {list})"),
        format!("DELETE FROM app_cred_access_rule WHERE application_credential_id IN (SELECT id FROM application_credential WHERE project_id IN {list})"),
        format!("DELETE FROM credential WHERE project_id IN {list}"),
        format!("DELETE FROM project_limit WHERE domain_id IN {list}"),
        format!("DELETE FROM application_credential WHERE project_id IN {list}"),
        format!("DELETE FROM trust_role WHERE trust_id IN (SELECT id FROM trust WHERE project_id IN {list})"),
        format!("DELETE FROM trust WHERE project_id IN {list}"),
        format!("DELETE FROM project WHERE id IN {list}"),
    ] {
        tx.exec(&stmt, vals.clone()).await?;
    }
    tx.commit().await
}

pub async fn project_tags(db: &Db, project_id: &str) -> Result<Vec<String>, DbError> {
    let rows = db.fetch_all("SELECT name FROM project_tag WHERE project_id = ? ORDER BY name", params![project_id]).await?;
    rows.iter().map(|r| r.str("name")).collect()
}

/// Tags for many projects at once: (project_id, tag) pairs.
pub async fn project_tags_all(db: &Db) -> Result<Vec<(String, String)>, DbError> {
    let rows = db.fetch_all("SELECT project_id, name FROM project_tag ORDER BY name", params![]).await?;
    rows.iter().map(|r| Ok((r.str("project_id")?, r.str("name")?))).collect()
}

/// The chain of ancestors of a project, nearest first (stops at the domain).
pub async fn project_ancestors(db: &Db, project: &Project) -> Result<Vec<Project>, DbError> {
    let mut out = Vec::new();
    let mut next = project.parent_id.clone();
    while let Some(pid) = next {
        if pid == project.domain_id || out.len() > 64 {
            break;
        }
        match project_get(db, &pid).await? {
            Some(p) => {
                next = p.parent_id.clone();
                out.push(p);
            }
            None => break,
        }
    }
    Ok(out)
}

/// Every descendant of a project (breadth first).
pub async fn project_descendants(db: &Db, project_id: &str) -> Result<Vec<Project>, DbError> {
    let mut out = Vec::new();
    let mut frontier = vec![project_id.to_string()];
    while let Some(id) = frontier.pop() {
        for c in project_children(db, &id).await? {
            frontier.push(c.id.clone());
            out.push(c);
        }
        if out.len() > 100_000 {
            break;
        }
    }
    Ok(out)
}
