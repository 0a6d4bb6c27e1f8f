//! Reads and writes of resource records for every [`Kind`]: `record_get`, `record_list`,
//! `record_list_by`, `record_insert`, `record_update`, `record_delete`, `record_count`.

use db::{params, Db, DbError, Row, Tx, Value as P};
use serde_json::Value;

use super::Kind;

fn body_of(r: &Row) -> Result<Value, DbError> {
    let s = r.str("body")?;
    serde_json::from_str(&s).map_err(|e| DbError::Decode { column: "body".into(), message: e.to_string() })
}

fn column_value(body: &Value, col: &str) -> String {
    match body.get(col) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

pub async fn record_get(db: &Db, kind: Kind, id: &str) -> Result<Option<Value>, DbError> {
    db.fetch_optional(&format!("SELECT body FROM {} WHERE id = ?", kind.table()), params![id]).await?.as_ref().map(body_of).transpose()
}

pub async fn record_get_tx(tx: &mut Tx, kind: Kind, id: &str) -> Result<Option<Value>, DbError> {
    tx.fetch_optional(&format!("SELECT body FROM {} WHERE id = ?", kind.table()), params![id]).await?.as_ref().map(body_of).transpose()
}

/// Every record of a kind, oldest first.
pub async fn record_list(db: &Db, kind: Kind) -> Result<Vec<Value>, DbError> {
    db.fetch_all(&format!("SELECT body FROM {} ORDER BY created_at, id", kind.table()), params![]).await?.iter().map(body_of).collect()
}

/// Records whose key column `column` equals `value` (column must be a key column, id or project_id).
pub async fn record_list_by(db: &Db, kind: Kind, column: &str, value: &str) -> Result<Vec<Value>, DbError> {
    debug_assert!(column == "project_id" || column == "id" || kind.key_columns().contains(&column));
    db.fetch_all(&format!("SELECT body FROM {} WHERE {column} = ? ORDER BY created_at, id", kind.table()), params![value]).await?.iter().map(body_of).collect()
}

pub async fn record_list_by_tx(tx: &mut Tx, kind: Kind, column: &str, value: &str) -> Result<Vec<Value>, DbError> {
    debug_assert!(column == "project_id" || column == "id" || kind.key_columns().contains(&column));
    tx.fetch_all(&format!("SELECT body FROM {} WHERE {column} = ? ORDER BY created_at, id", kind.table()), params![value]).await?.iter().map(body_of).collect()
}

pub async fn record_count_tx(tx: &mut Tx, kind: Kind, project_id: &str) -> Result<i64, DbError> {
    let r = tx.fetch_optional(&format!("SELECT COUNT(*) AS n FROM {} WHERE project_id = ?", kind.table()), params![project_id]).await?;
    r.map(|r| r.i64("n")).transpose().map(|n| n.unwrap_or(0))
}

pub async fn record_insert(tx: &mut Tx, kind: Kind, body: &Value) -> Result<(), DbError> {
    let cols = kind.key_columns();
    let mut names = vec!["id", "project_id"];
    names.extend_from_slice(cols);
    names.extend_from_slice(&["body", "created_at"]);
    let mut values: Vec<P> = vec![column_value(body, "id").into(), column_value(body, "project_id").into()];
    values.extend(cols.iter().map(|c| P::from(column_value(body, c))));
    values.push(body.to_string().into());
    values.push(super::now_micros().into());
    let marks = vec!["?"; names.len()].join(", ");
    tx.exec(&format!("INSERT INTO {} ({}) VALUES ({marks})", kind.table(), names.join(", ")), values).await?;
    Ok(())
}

/// Rewrites a record (its key columns follow the body); false when it is gone.
pub async fn record_update(tx: &mut Tx, kind: Kind, body: &Value) -> Result<bool, DbError> {
    let cols = kind.key_columns();
    let mut sets: Vec<String> = vec!["project_id = ?".into()];
    let mut values: Vec<P> = vec![column_value(body, "project_id").into()];
    for c in cols {
        sets.push(format!("{c} = ?"));
        values.push(column_value(body, c).into());
    }
    sets.push("body = ?".into());
    values.push(body.to_string().into());
    values.push(column_value(body, "id").into());
    Ok(tx.exec(&format!("UPDATE {} SET {} WHERE id = ?", kind.table(), sets.join(", ")), values).await? > 0)
}

/// Rewrites a record only if it still reads `expected` (what the caller read in this
/// transaction); false when a concurrent writer changed it first.
pub async fn record_update_if(tx: &mut Tx, kind: Kind, body: &Value, expected: &Value) -> Result<bool, DbError> {
    let n = tx
        .exec(&format!("UPDATE {} SET body = ? WHERE id = ? AND body = ?", kind.table()), vec![body.to_string().into(), column_value(body, "id").into(), expected.to_string().into()])
        .await?;
    Ok(n > 0)
}

pub async fn record_delete(tx: &mut Tx, kind: Kind, id: &str) -> Result<bool, DbError> {
    Ok(tx.exec(&format!("DELETE FROM {} WHERE id = ?", kind.table()), params![id]).await? > 0)
}
