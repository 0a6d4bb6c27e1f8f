//! Users, their password history, groups and membership (keystone/identity/backends/sql.py).

use db::{params, Db, DbError, Row, Value};
use serde_json::{Map, Value as Json};

use super::{extra_of, extra_text, in_list};

/// A local user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub extra: Map<String, Json>,
    pub options: Map<String, Json>,
    pub created_at: i64,
    pub last_active_at: Option<i64>,
    pub failed_auth_count: i64,
    pub failed_auth_at: Option<i64>,
}

/// One entry of a user's password history; the newest is the current password.
#[derive(Debug, Clone)]
pub struct Password {
    pub id: String,
    pub user_id: String,
    pub password_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub self_service: bool,
}

/// A group of users.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub description: String,
    pub extra: Map<String, Json>,
}

const USER_COLUMNS: &str = "id, domain_id, name, enabled, default_project_id, extra, options, created_at, last_active_at, failed_auth_count, failed_auth_at";

fn user_from_row(r: &Row) -> Result<User, DbError> {
    Ok(User {
        id: r.str("id")?,
        domain_id: r.str("domain_id")?,
        name: r.str("name")?,
        enabled: r.bool("enabled")?,
        default_project_id: r.opt_str("default_project_id")?,
        extra: extra_of(r.opt_str("extra")?),
        options: extra_of(r.opt_str("options")?),
        created_at: r.i64("created_at")?,
        last_active_at: r.opt_i64("last_active_at")?,
        failed_auth_count: r.i64("failed_auth_count")?,
        failed_auth_at: r.opt_i64("failed_auth_at")?,
    })
}

pub async fn user_get(db: &Db, id: &str) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM identity_user WHERE id = ?");
    db.fetch_optional(&sql, params![id]).await?.as_ref().map(user_from_row).transpose()
}

pub async fn user_get_by_name(db: &Db, name: &str, domain_id: &str) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM identity_user WHERE name = ? AND domain_id = ?");
    db.fetch_optional(&sql, params![name, domain_id]).await?.as_ref().map(user_from_row).transpose()
}

pub async fn user_list(db: &Db, domain_id: Option<&str>) -> Result<Vec<User>, DbError> {
    match domain_id {
        Some(d) => {
            let sql = format!("SELECT {USER_COLUMNS} FROM identity_user WHERE domain_id = ? ORDER BY name");
            db.fetch_all(&sql, params![d]).await?.iter().map(user_from_row).collect()
        }
        None => {
            let sql = format!("SELECT {USER_COLUMNS} FROM identity_user ORDER BY name");
            db.fetch_all(&sql, params![]).await?.iter().map(user_from_row).collect()
        }
    }
}

pub async fn user_list_in_group(db: &Db, group_id: &str) -> Result<Vec<User>, DbError> {
    let cols = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT {cols} FROM identity_user u JOIN group_membership m ON m.user_id = u.id WHERE m.group_id = ? ORDER BY u.name");
    db.fetch_all(&sql, params![group_id]).await?.iter().map(user_from_row).collect()
}

pub async fn user_create(db: &Db, u: &User, password: Option<&Password>) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec(
        "INSERT INTO identity_user (id, domain_id, name, enabled, default_project_id, extra, options, created_at, last_active_at, failed_auth_count, failed_auth_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL)",
        params![&u.id, &u.domain_id, &u.name, u.enabled, &u.default_project_id, extra_text(&u.extra), extra_text(&u.options), u.created_at, u.last_active_at],
    )
    .await?;
    if let Some(p) = password {
        insert_password(&mut tx, p).await?;
    }
    tx.commit().await
}

async fn insert_password(tx: &mut db::Tx, p: &Password) -> Result<(), DbError> {
    tx.exec(
        "INSERT INTO local_password (id, user_id, password_hash, created_at, expires_at, self_service) VALUES (?, ?, ?, ?, ?, ?)",
        params![&p.id, &p.user_id, &p.password_hash, p.created_at, p.expires_at, p.self_service],
    )
    .await?;
    Ok(())
}

/// Updates the user's attributes and, if given, appends a new current password, keeping at
/// most `keep_history` older entries.
pub async fn user_update(db: &Db, u: &User, password: Option<&Password>, keep_history: usize) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec(
        "UPDATE identity_user SET name = ?, enabled = ?, default_project_id = ?, extra = ?, options = ?, failed_auth_count = ?, failed_auth_at = ?, last_active_at = ? WHERE id = ?",
        params![&u.name, u.enabled, &u.default_project_id, extra_text(&u.extra), extra_text(&u.options), u.failed_auth_count, u.failed_auth_at, u.last_active_at, &u.id],
    )
    .await?;
    if let Some(p) = password {
        insert_password(&mut tx, p).await?;
        let rows = tx
            .fetch_all("SELECT id FROM local_password WHERE user_id = ? ORDER BY created_at DESC", params![&u.id])
            .await?;
        for r in rows.iter().skip(keep_history.max(1)) {
            tx.exec("DELETE FROM local_password WHERE id = ?", params![r.str("id")?]).await?;
        }
    }
    tx.commit().await
}

/// Records an authentication outcome without touching other attributes.
pub async fn user_record_auth(db: &Db, user_id: &str, failed_count: i64, failed_at: Option<i64>, last_active_at: Option<i64>) -> Result<(), DbError> {
    db.exec(
        "UPDATE identity_user SET failed_auth_count = ?, failed_auth_at = ?, last_active_at = COALESCE(?, last_active_at) WHERE id = ?",
        params![failed_count, failed_at, last_active_at, user_id],
    )
    .await?;
    Ok(())
}

pub async fn user_delete(db: &Db, user_id: &str) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for stmt in [
        "DELETE FROM local_password WHERE user_id = ?",
        "DELETE FROM group_membership WHERE user_id = ?",
        "DELETE FROM role_assignment WHERE actor_id = ?",
        "DELETE FROM credential WHERE user_id = ?",
        "DELETE FROM app_cred_role WHERE application_credential_id IN (SELECT id FROM application_credential WHERE user_id = ?)",
        "DELETE FROM app_cred_access_rule WHERE application_credential_id IN (SELECT id FROM application_credential WHERE user_id = ?)",
        "DELETE FROM application_credential WHERE user_id = ?",
        "DELETE FROM access_rule WHERE user_id = ?",
        "DELETE FROM trust_role WHERE trust_id IN (SELECT id FROM trust WHERE trustor_user_id = ? OR trustee_user_id = ?)",
        "DELETE FROM trust WHERE trustor_user_id = ? OR trustee_user_id = ?",
        "DELETE FROM identity_user WHERE id = ?",
    ] {
        let n = stmt.matches('?').count();
        tx.exec(stmt, vec![Value::from(user_id); n]).await?;
    }
    tx.commit().await
}

fn password_from_row(r: &Row) -> Result<Password, DbError> {
    Ok(Password {
        id: r.str("id")?,
        user_id: r.str("user_id")?,
        password_hash: r.str("password_hash")?,
        created_at: r.i64("created_at")?,
        expires_at: r.opt_i64("expires_at")?,
        self_service: r.bool("self_service")?,
    })
}

/// The user's passwords, newest (current) first.
pub async fn password_history(db: &Db, user_id: &str, limit: usize) -> Result<Vec<Password>, DbError> {
    let rows = db
        .fetch_all(
            "SELECT id, user_id, password_hash, created_at, expires_at, self_service FROM local_password WHERE user_id = ? ORDER BY created_at DESC",
            params![user_id],
        )
        .await?;
    rows.iter().take(limit.max(1)).map(password_from_row).collect()
}

/// Current passwords' expiry for every user (for list views): user_id -> expires_at.
pub async fn password_expiry_all(db: &Db) -> Result<std::collections::HashMap<String, Option<i64>>, DbError> {
    let rows = db.fetch_all("SELECT user_id, created_at, expires_at FROM local_password ORDER BY created_at", params![]).await?;
    let mut out = std::collections::HashMap::new();
    for r in rows {
        out.insert(r.str("user_id")?, r.opt_i64("expires_at")?);
    }
    Ok(out)
}

const GROUP_COLUMNS: &str = "id, domain_id, name, description, extra";

fn group_from_row(r: &Row) -> Result<Group, DbError> {
    Ok(Group {
        id: r.str("id")?,
        domain_id: r.str("domain_id")?,
        name: r.str("name")?,
        description: r.opt_str("description")?.unwrap_or_default(),
        extra: extra_of(r.opt_str("extra")?),
    })
}

pub async fn group_get(db: &Db, id: &str) -> Result<Option<Group>, DbError> {
    let sql = format!("SELECT {GROUP_COLUMNS} FROM identity_group WHERE id = ?");
    db.fetch_optional(&sql, params![id]).await?.as_ref().map(group_from_row).transpose()
}

pub async fn group_get_by_name(db: &Db, name: &str, domain_id: &str) -> Result<Option<Group>, DbError> {
    let sql = format!("SELECT {GROUP_COLUMNS} FROM identity_group WHERE name = ? AND domain_id = ?");
    db.fetch_optional(&sql, params![name, domain_id]).await?.as_ref().map(group_from_row).transpose()
}

pub async fn group_list(db: &Db, domain_id: Option<&str>) -> Result<Vec<Group>, DbError> {
    match domain_id {
        Some(d) => {
            let sql = format!("SELECT {GROUP_COLUMNS} FROM identity_group WHERE domain_id = ? ORDER BY name");
            db.fetch_all(&sql, params![d]).await?.iter().map(group_from_row).collect()
        }
        None => {
            let sql = format!("SELECT {GROUP_COLUMNS} FROM identity_group ORDER BY name");
            db.fetch_all(&sql, params![]).await?.iter().map(group_from_row).collect()
        }
    }
}

pub async fn group_list_for_user(db: &Db, user_id: &str) -> Result<Vec<Group>, DbError> {
    let sql = "SELECT g.id, g.domain_id, g.name, g.description, g.extra FROM identity_group g JOIN group_membership m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.name";
    db.fetch_all(sql, params![user_id]).await?.iter().map(group_from_row).collect()
}

pub async fn group_ids_for_user(db: &Db, user_id: &str) -> Result<Vec<String>, DbError> {
    let rows = db.fetch_all("SELECT group_id FROM group_membership WHERE user_id = ?", params![user_id]).await?;
    rows.iter().map(|r| r.str("group_id")).collect()
}

pub async fn group_create(db: &Db, g: &Group) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO identity_group (id, domain_id, name, description, extra) VALUES (?, ?, ?, ?, ?)",
        params![&g.id, &g.domain_id, &g.name, &g.description, extra_text(&g.extra)],
    )
    .await?;
    Ok(())
}

pub async fn group_update(db: &Db, g: &Group) -> Result<(), DbError> {
    db.exec(
        "UPDATE identity_group SET name = ?, description = ?, extra = ? WHERE id = ?",
        params![&g.name, &g.description, extra_text(&g.extra), &g.id],
    )
    .await?;
    Ok(())
}

pub async fn group_delete(db: &Db, group_id: &str) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec("DELETE FROM group_membership WHERE group_id = ?", params![group_id]).await?;
    tx.exec("DELETE FROM role_assignment WHERE actor_id = ?", params![group_id]).await?;
    tx.exec("DELETE FROM identity_group WHERE id = ?", params![group_id]).await?;
    tx.commit().await
}

pub async fn group_add_user(db: &Db, group_id: &str, user_id: &str) -> Result<(), DbError> {
    let exists = db
        .fetch_optional("SELECT user_id FROM group_membership WHERE user_id = ? AND group_id = ?", params![user_id, group_id])
        .await?
        .is_some();
    if !exists {
        db.exec("INSERT INTO group_membership (user_id, group_id) VALUES (?, ?)", params![user_id, group_id]).await?;
    }
    Ok(())
}

pub async fn group_remove_user(db: &Db, group_id: &str, user_id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM group_membership WHERE user_id = ? AND group_id = ?", params![user_id, group_id]).await
}

pub async fn group_has_user(db: &Db, group_id: &str, user_id: &str) -> Result<bool, DbError> {
    Ok(db
        .fetch_optional("SELECT user_id FROM group_membership WHERE user_id = ? AND group_id = ?", params![user_id, group_id])
        .await?
        .is_some())
}

/// Users in any of the given groups.
pub async fn user_ids_in_groups(db: &Db, group_ids: &[String]) -> Result<Vec<String>, DbError> {
    if group_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!("SELECT DISTINCT user_id FROM group_membership WHERE group_id IN {}", in_list(group_ids.len()));
    let rows = db.fetch_all(&sql, group_ids.iter().map(Value::from).collect()).await?;
    rows.iter().map(|r| r.str("user_id")).collect()
}
