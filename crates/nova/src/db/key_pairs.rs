//! Key pairs (nova/objects/keypair.py, API database): owned by a user, named uniquely per
//! user, listed in name order.

use db::{params, Db, DbError, Row};

/// A stored key pair.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPair {
    pub id: i64,
    pub user_id: String,
    pub name: String,
    pub fingerprint: String,
    pub public_key: String,
    /// `ssh` or `x509`.
    pub key_type: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, user_id, name, fingerprint, public_key, key_type, created_at";

fn from_row(r: &Row) -> Result<KeyPair, DbError> {
    Ok(KeyPair {
        id: r.i64("id")?,
        user_id: r.str("user_id")?,
        name: r.str("name")?,
        fingerprint: r.str("fingerprint")?,
        public_key: r.str("public_key")?,
        key_type: r.str("key_type")?,
        created_at: r.i64("created_at")?,
    })
}

/// Stores a new key pair, choosing its `id`; a duplicate name for the user is
/// `DbError::Duplicate`.
pub async fn key_pair_create(db: &Db, kp: &mut KeyPair) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    kp.id = super::next_id(&mut tx, "key_pairs").await?;
    tx.exec(
        &format!("INSERT INTO key_pairs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"),
        params![kp.id, &kp.user_id, &kp.name, &kp.fingerprint, &kp.public_key, &kp.key_type, kp.created_at],
    )
    .await?;
    tx.commit().await
}

/// The user's key pair called `name`.
pub async fn key_pair_get(db: &Db, user_id: &str, name: &str) -> Result<Option<KeyPair>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM key_pairs WHERE user_id = ? AND name = ?");
    db.fetch_optional(&sql, params![user_id, name]).await?.as_ref().map(from_row).transpose()
}

/// The user's key pairs, by name.
pub async fn key_pair_list_by_user(db: &Db, user_id: &str) -> Result<Vec<KeyPair>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM key_pairs WHERE user_id = ? ORDER BY name");
    db.fetch_all(&sql, params![user_id]).await?.iter().map(from_row).collect()
}

/// How many key pairs the user has (the `key_pairs` quota counts per user).
pub async fn key_pair_count_by_user(db: &Db, user_id: &str) -> Result<i64, DbError> {
    let row = db.fetch_optional("SELECT COUNT(*) AS n FROM key_pairs WHERE user_id = ?", params![user_id]).await?;
    row.map(|r| r.i64("n")).transpose().map(|n| n.unwrap_or(0))
}

/// Deletes the user's key pair called `name`; false when there was none.
pub async fn key_pair_destroy(db: &Db, user_id: &str, name: &str) -> Result<bool, DbError> {
    Ok(db.exec("DELETE FROM key_pairs WHERE user_id = ? AND name = ?", params![user_id, name]).await? > 0)
}
