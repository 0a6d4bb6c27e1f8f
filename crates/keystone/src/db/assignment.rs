//! Roles, implied roles and role assignments (keystone/assignment/backends/sql.py and
//! role_backends/sql.py). One table holds every assignment; `type` says which actor and
//! target kinds it joins: UserProject, GroupProject, UserDomain, GroupDomain, UserSystem,
//! GroupSystem (system assignments use the target id `system`).

use db::{params, Db, DbError, Row, Value};
use serde_json::{Map, Value as Json};

use super::schema::NULL_DOMAIN;
use super::{extra_of, extra_text, in_list};

/// A role: global (`domain_id` None) or domain-specific.
#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub options: Map<String, Json>,
    pub extra: Map<String, Json>,
}

/// One row of `role_assignment`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Assignment {
    pub kind: String,
    pub actor_id: String,
    pub target_id: String,
    pub role_id: String,
    pub inherited: bool,
}

pub const SYSTEM_TARGET: &str = "system";

fn role_from_row(r: &Row) -> Result<Role, DbError> {
    let domain_id = r.str("domain_id")?;
    Ok(Role {
        id: r.str("id")?,
        name: r.str("name")?,
        domain_id: (domain_id != NULL_DOMAIN).then_some(domain_id),
        description: r.opt_str("description")?,
        options: extra_of(r.opt_str("options")?),
        extra: extra_of(r.opt_str("extra")?),
    })
}

const ROLE_COLUMNS: &str = "id, name, domain_id, description, options, extra";

pub async fn role_get(db: &Db, id: &str) -> Result<Option<Role>, DbError> {
    let sql = format!("SELECT {ROLE_COLUMNS} FROM role WHERE id = ?");
    db.fetch_optional(&sql, params![id]).await?.as_ref().map(role_from_row).transpose()
}

pub async fn role_get_by_name(db: &Db, name: &str, domain_id: Option<&str>) -> Result<Option<Role>, DbError> {
    let sql = format!("SELECT {ROLE_COLUMNS} FROM role WHERE name = ? AND domain_id = ?");
    db.fetch_optional(&sql, params![name, domain_id.unwrap_or(NULL_DOMAIN)]).await?.as_ref().map(role_from_row).transpose()
}

pub async fn role_list_all(db: &Db) -> Result<Vec<Role>, DbError> {
    let sql = format!("SELECT {ROLE_COLUMNS} FROM role ORDER BY name");
    db.fetch_all(&sql, params![]).await?.iter().map(role_from_row).collect()
}

pub async fn role_create(db: &Db, r: &Role) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO role (id, name, domain_id, description, options, extra) VALUES (?, ?, ?, ?, ?, ?)",
        params![&r.id, &r.name, r.domain_id.as_deref().unwrap_or(NULL_DOMAIN), &r.description, extra_text(&r.options), extra_text(&r.extra)],
    )
    .await?;
    Ok(())
}

pub async fn role_update(db: &Db, r: &Role) -> Result<(), DbError> {
    db.exec(
        "UPDATE role SET name = ?, description = ?, options = ?, extra = ? WHERE id = ?",
        params![&r.name, &r.description, extra_text(&r.options), extra_text(&r.extra), &r.id],
    )
    .await?;
    Ok(())
}

pub async fn role_delete(db: &Db, role_id: &str) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec("DELETE FROM role_assignment WHERE role_id = ?", params![role_id]).await?;
    tx.exec("DELETE FROM implied_role WHERE prior_role_id = ? OR implied_role_id = ?", params![role_id, role_id]).await?;
    tx.exec("DELETE FROM app_cred_role WHERE role_id = ?", params![role_id]).await?;
    tx.exec("DELETE FROM trust_role WHERE role_id = ?", params![role_id]).await?;
    tx.exec("DELETE FROM role WHERE id = ?", params![role_id]).await?;
    tx.commit().await
}

/// Every implication: (prior_role_id, implied_role_id).
pub async fn implied_role_list_all(db: &Db) -> Result<Vec<(String, String)>, DbError> {
    let rows = db.fetch_all("SELECT prior_role_id, implied_role_id FROM implied_role", params![]).await?;
    rows.iter().map(|r| Ok((r.str("prior_role_id")?, r.str("implied_role_id")?))).collect()
}

pub async fn implied_role_create(db: &Db, prior: &str, implied: &str) -> Result<(), DbError> {
    db.exec("INSERT INTO implied_role (prior_role_id, implied_role_id) VALUES (?, ?)", params![prior, implied]).await?;
    Ok(())
}

pub async fn implied_role_delete(db: &Db, prior: &str, implied: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM implied_role WHERE prior_role_id = ? AND implied_role_id = ?", params![prior, implied]).await
}

fn assignment_from_row(r: &Row) -> Result<Assignment, DbError> {
    Ok(Assignment {
        kind: r.str("type")?,
        actor_id: r.str("actor_id")?,
        target_id: r.str("target_id")?,
        role_id: r.str("role_id")?,
        inherited: r.bool("inherited")?,
    })
}

/// Assignments whose actor is any of `actor_ids`.
pub async fn assignment_list_for_actors(db: &Db, actor_ids: &[String]) -> Result<Vec<Assignment>, DbError> {
    if actor_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!("SELECT type, actor_id, target_id, role_id, inherited FROM role_assignment WHERE actor_id IN {}", in_list(actor_ids.len()));
    db.fetch_all(&sql, actor_ids.iter().map(Value::from).collect()).await?.iter().map(assignment_from_row).collect()
}

pub async fn assignment_list_all(db: &Db) -> Result<Vec<Assignment>, DbError> {
    db.fetch_all("SELECT type, actor_id, target_id, role_id, inherited FROM role_assignment", params![])
        .await?
        .iter()
        .map(assignment_from_row)
        .collect()
}

pub async fn assignment_create(db: &Db, a: &Assignment) -> Result<(), DbError> {
    let exists = assignment_exists(db, a).await?;
    if !exists {
        db.exec(
            "INSERT INTO role_assignment (type, actor_id, target_id, role_id, inherited) VALUES (?, ?, ?, ?, ?)",
            params![&a.kind, &a.actor_id, &a.target_id, &a.role_id, a.inherited],
        )
        .await?;
    }
    Ok(())
}

pub async fn assignment_exists(db: &Db, a: &Assignment) -> Result<bool, DbError> {
    Ok(db
        .fetch_optional(
            "SELECT role_id FROM role_assignment WHERE type = ? AND actor_id = ? AND target_id = ? AND role_id = ? AND inherited = ?",
            params![&a.kind, &a.actor_id, &a.target_id, &a.role_id, a.inherited],
        )
        .await?
        .is_some())
}

pub async fn assignment_delete(db: &Db, a: &Assignment) -> Result<u64, DbError> {
    db.exec(
        "DELETE FROM role_assignment WHERE type = ? AND actor_id = ? AND target_id = ? AND role_id = ? AND inherited = ?",
        params![&a.kind, &a.actor_id, &a.target_id, &a.role_id, a.inherited],
    )
    .await
}
