//! Trusts (OS-TRUST, keystone/trust/backends/sql.py): a trustor delegates roles on a project
//! to a trustee. Deleted trusts keep their row with `deleted_at` set, as upstream.

use db::{params, Db, DbError, Row};
use serde_json::{Map, Value as Json};

use super::{extra_of, extra_text};

#[derive(Debug, Clone)]
pub struct Trust {
    pub id: String,
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub project_id: Option<String>,
    pub impersonation: bool,
    pub expires_at: Option<i64>,
    pub remaining_uses: Option<i64>,
    pub deleted_at: Option<i64>,
    pub redelegated_trust_id: Option<String>,
    pub redelegation_count: Option<i64>,
    pub extra: Map<String, Json>,
    pub role_ids: Vec<String>,
}

const COLUMNS: &str = "id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, remaining_uses, deleted_at, redelegated_trust_id, redelegation_count, extra";

async fn from_row(db: &Db, r: &Row) -> Result<Trust, DbError> {
    let id = r.str("id")?;
    let roles = db.fetch_all("SELECT role_id FROM trust_role WHERE trust_id = ?", params![&id]).await?;
    Ok(Trust {
        trustor_user_id: r.str("trustor_user_id")?,
        trustee_user_id: r.str("trustee_user_id")?,
        project_id: r.opt_str("project_id")?,
        impersonation: r.bool("impersonation")?,
        expires_at: r.opt_i64("expires_at")?,
        remaining_uses: r.opt_i64("remaining_uses")?,
        deleted_at: r.opt_i64("deleted_at")?,
        redelegated_trust_id: r.opt_str("redelegated_trust_id")?,
        redelegation_count: r.opt_i64("redelegation_count")?,
        extra: extra_of(r.opt_str("extra")?),
        role_ids: roles.iter().map(|r| r.str("role_id")).collect::<Result<_, _>>()?,
        id,
    })
}

/// A trust that has not been deleted.
pub async fn trust_get(db: &Db, id: &str) -> Result<Option<Trust>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM trust WHERE id = ? AND deleted_at IS NULL");
    match db.fetch_optional(&sql, params![id]).await? {
        Some(r) => Ok(Some(from_row(db, &r).await?)),
        None => Ok(None),
    }
}

pub async fn trust_list(db: &Db) -> Result<Vec<Trust>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM trust WHERE deleted_at IS NULL ORDER BY id");
    let rows = db.fetch_all(&sql, params![]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(from_row(db, r).await?);
    }
    Ok(out)
}

pub async fn trust_create(db: &Db, t: &Trust) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec(
        &format!("INSERT INTO trust ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)"),
        params![&t.id, &t.trustor_user_id, &t.trustee_user_id, &t.project_id, t.impersonation, t.expires_at, t.remaining_uses, &t.redelegated_trust_id, t.redelegation_count, extra_text(&t.extra)],
    )
    .await?;
    for role in &t.role_ids {
        tx.exec("INSERT INTO trust_role (trust_id, role_id) VALUES (?, ?)", params![&t.id, role]).await?;
    }
    tx.commit().await
}

pub async fn trust_delete(db: &Db, id: &str, now: i64) -> Result<u64, DbError> {
    db.exec("UPDATE trust SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", params![now, id]).await
}

/// Uses one of a limited trust's uses; false if none remained.
pub async fn trust_consume_use(db: &Db, id: &str) -> Result<bool, DbError> {
    let n = db
        .exec("UPDATE trust SET remaining_uses = remaining_uses - 1 WHERE id = ? AND remaining_uses > 0", params![id])
        .await?;
    Ok(n == 1)
}
