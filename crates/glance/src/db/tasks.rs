//! Tasks (glance/db/sqlalchemy/api.py `task_*`): the legacy `import` tasks the admin-only
//! `/v2/tasks` API creates, and the `api_image_import` task each interoperable import records
//! (listed under `/v2/images/{id}/tasks`).

use db::{params, Db, DbError, Row};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    /// `import` or `api_image_import`.
    pub kind: String,
    /// pending, processing, success or failure.
    pub status: String,
    pub owner: Option<String>,
    pub input: Value,
    pub result: Option<Value>,
    pub message: String,
    pub image_id: Option<String>,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    /// Set when the task finishes: the task is listed until then.
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, task_type, status, owner, input, result, message, image_id, request_id, user_id, expires_at, created_at, updated_at";

fn from_row(r: &Row) -> Result<Task, DbError> {
    let json = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Value>(&s).ok());
    Ok(Task {
        id: r.str("id")?,
        kind: r.str("task_type")?,
        status: r.str("status")?,
        owner: r.opt_str("owner")?,
        input: json(r.opt_str("input")?).unwrap_or(Value::Null),
        result: json(r.opt_str("result")?),
        message: r.opt_str("message")?.unwrap_or_default(),
        image_id: r.opt_str("image_id")?,
        request_id: r.opt_str("request_id")?,
        user_id: r.opt_str("user_id")?,
        expires_at: r.opt_i64("expires_at")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

pub async fn task_create(db: &Db, t: &Task) -> Result<(), DbError> {
    db.exec(
        &format!("INSERT INTO task ({COLUMNS}, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"),
        params![
            &t.id,
            &t.kind,
            &t.status,
            &t.owner,
            t.input.to_string(),
            t.result.as_ref().map(Value::to_string),
            &t.message,
            &t.image_id,
            &t.request_id,
            &t.user_id,
            t.expires_at,
            t.created_at,
            t.updated_at
        ],
    )
    .await?;
    Ok(())
}

/// Writes a task's progress (status, result, message, image, expiry).
pub async fn task_update(db: &Db, t: &Task) -> Result<(), DbError> {
    db.exec(
        "UPDATE task SET status = ?, result = ?, message = ?, image_id = ?, expires_at = ?, updated_at = ? WHERE id = ? AND deleted = 0",
        params![&t.status, t.result.as_ref().map(Value::to_string), &t.message, &t.image_id, t.expires_at, t.updated_at, &t.id],
    )
    .await?;
    Ok(())
}

pub async fn task_get(db: &Db, id: &str) -> Result<Option<Task>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM task WHERE id = ? AND deleted = 0");
    db.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
}

/// Tasks not yet expired at `now`, oldest first (sorting and paging are the caller's).
pub async fn task_list_live(db: &Db, now: i64) -> Result<Vec<Task>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM task WHERE deleted = 0 AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at, id");
    db.fetch_all(&sql, params![now]).await?.iter().map(from_row).collect()
}

pub async fn task_list_for_image(db: &Db, image_id: &str) -> Result<Vec<Task>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM task WHERE deleted = 0 AND image_id = ? ORDER BY created_at, id");
    db.fetch_all(&sql, params![image_id]).await?.iter().map(from_row).collect()
}

/// Tasks left `pending` or `processing` by a crash: nothing will finish them.
pub async fn task_list_unfinished(db: &Db) -> Result<Vec<Task>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM task WHERE deleted = 0 AND status IN ('pending', 'processing')");
    db.fetch_all(&sql, params![]).await?.iter().map(from_row).collect()
}
