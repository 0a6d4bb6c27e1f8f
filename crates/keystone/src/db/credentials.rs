//! Credentials (keystone/credential/backends/sql.py, blobs encrypted at rest), application
//! credentials with their roles and access rules (keystone/application_credential).

use db::{params, Db, DbError, Row, Value};

use super::in_list;

/// An application credential; the secret is only kept as a hash.
#[derive(Debug, Clone)]
pub struct ApplicationCredential {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub description: Option<String>,
    pub user_id: String,
    pub project_id: Option<String>,
    pub expires_at: Option<i64>,
    pub system: Option<String>,
    pub unrestricted: bool,
    pub created_at: i64,
    pub role_ids: Vec<String>,
    pub access_rule_ids: Vec<String>,
}

/// An access rule limiting what an application credential may call.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRule {
    pub id: String,
    pub user_id: String,
    pub service: String,
    pub path: String,
    pub method: String,
}

const APP_CRED_COLUMNS: &str = "id, name, secret_hash, description, user_id, project_id, expires_at, system, unrestricted, created_at";

async fn app_cred_from_row(db: &Db, r: &Row) -> Result<ApplicationCredential, DbError> {
    let id = r.str("id")?;
    let roles = db.fetch_all("SELECT role_id FROM app_cred_role WHERE application_credential_id = ?", params![&id]).await?;
    let rules = db
        .fetch_all("SELECT access_rule_id FROM app_cred_access_rule WHERE application_credential_id = ?", params![&id])
        .await?;
    Ok(ApplicationCredential {
        name: r.str("name")?,
        secret_hash: r.str("secret_hash")?,
        description: r.opt_str("description")?,
        user_id: r.str("user_id")?,
        project_id: r.opt_str("project_id")?,
        expires_at: r.opt_i64("expires_at")?,
        system: r.opt_str("system")?,
        unrestricted: r.bool("unrestricted")?,
        created_at: r.i64("created_at")?,
        role_ids: roles.iter().map(|r| r.str("role_id")).collect::<Result<_, _>>()?,
        access_rule_ids: rules.iter().map(|r| r.str("access_rule_id")).collect::<Result<_, _>>()?,
        id,
    })
}

pub async fn app_cred_get(db: &Db, id: &str) -> Result<Option<ApplicationCredential>, DbError> {
    let sql = format!("SELECT {APP_CRED_COLUMNS} FROM application_credential WHERE id = ?");
    match db.fetch_optional(&sql, params![id]).await? {
        Some(r) => Ok(Some(app_cred_from_row(db, &r).await?)),
        None => Ok(None),
    }
}

pub async fn app_cred_get_by_name(db: &Db, user_id: &str, name: &str) -> Result<Option<ApplicationCredential>, DbError> {
    let sql = format!("SELECT {APP_CRED_COLUMNS} FROM application_credential WHERE user_id = ? AND name = ?");
    match db.fetch_optional(&sql, params![user_id, name]).await? {
        Some(r) => Ok(Some(app_cred_from_row(db, &r).await?)),
        None => Ok(None),
    }
}

pub async fn app_cred_list_for_user(db: &Db, user_id: &str) -> Result<Vec<ApplicationCredential>, DbError> {
    let sql = format!("SELECT {APP_CRED_COLUMNS} FROM application_credential WHERE user_id = ? ORDER BY name");
    let rows = db.fetch_all(&sql, params![user_id]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(app_cred_from_row(db, r).await?);
    }
    Ok(out)
}

/// Creates the credential, its role list and its access rules (new rules are inserted,
/// existing ones of the same user reused by id).
pub async fn app_cred_create(db: &Db, c: &ApplicationCredential, new_rules: &[AccessRule]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec(
        "INSERT INTO application_credential (id, name, secret_hash, description, user_id, project_id, expires_at, system, unrestricted, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![&c.id, &c.name, &c.secret_hash, &c.description, &c.user_id, &c.project_id, c.expires_at, &c.system, c.unrestricted, c.created_at],
    )
    .await?;
    for role in &c.role_ids {
        tx.exec("INSERT INTO app_cred_role (application_credential_id, role_id) VALUES (?, ?)", params![&c.id, role]).await?;
    }
    for rule in new_rules {
        tx.exec(
            "INSERT INTO access_rule (id, user_id, service, path, method) VALUES (?, ?, ?, ?, ?)",
            params![&rule.id, &rule.user_id, &rule.service, &rule.path, &rule.method],
        )
        .await?;
    }
    for rule_id in &c.access_rule_ids {
        tx.exec(
            "INSERT INTO app_cred_access_rule (application_credential_id, access_rule_id) VALUES (?, ?)",
            params![&c.id, rule_id],
        )
        .await?;
    }
    tx.commit().await
}

pub async fn app_cred_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    tx.exec("DELETE FROM app_cred_role WHERE application_credential_id = ?", params![id]).await?;
    tx.exec("DELETE FROM app_cred_access_rule WHERE application_credential_id = ?", params![id]).await?;
    let n = tx.exec("DELETE FROM application_credential WHERE id = ?", params![id]).await?;
    tx.commit().await?;
    Ok(n)
}

fn rule_from_row(r: &Row) -> Result<AccessRule, DbError> {
    Ok(AccessRule { id: r.str("id")?, user_id: r.str("user_id")?, service: r.str("service")?, path: r.str("path")?, method: r.str("method")? })
}

pub async fn access_rule_list_for_user(db: &Db, user_id: &str) -> Result<Vec<AccessRule>, DbError> {
    db.fetch_all("SELECT id, user_id, service, path, method FROM access_rule WHERE user_id = ? ORDER BY id", params![user_id])
        .await?
        .iter()
        .map(rule_from_row)
        .collect()
}

pub async fn access_rule_list_by_ids(db: &Db, ids: &[String]) -> Result<Vec<AccessRule>, DbError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!("SELECT id, user_id, service, path, method FROM access_rule WHERE id IN {}", in_list(ids.len()));
    db.fetch_all(&sql, ids.iter().map(Value::from).collect()).await?.iter().map(rule_from_row).collect()
}

pub async fn access_rule_in_use(db: &Db, id: &str) -> Result<bool, DbError> {
    Ok(db.fetch_optional("SELECT access_rule_id FROM app_cred_access_rule WHERE access_rule_id = ?", params![id]).await?.is_some())
}

pub async fn access_rule_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM access_rule WHERE id = ?", params![id]).await
}

/// A credential (`/v3/credentials`): the blob is stored encrypted with the credential keys,
/// and `key_hash` names the primary key that encrypted it (upstream's `key_hash` column).
#[derive(Debug, Clone)]
pub struct Credential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub credential_type: String,
    pub encrypted_blob: String,
    pub key_hash: String,
    pub extra: serde_json::Map<String, serde_json::Value>,
}

const CREDENTIAL_COLUMNS: &str = "id, user_id, project_id, type, encrypted_blob, key_hash, extra";

fn credential_from_row(r: &Row) -> Result<Credential, DbError> {
    Ok(Credential {
        id: r.str("id")?,
        user_id: r.str("user_id")?,
        project_id: r.opt_str("project_id")?,
        credential_type: r.str("type")?,
        encrypted_blob: r.str("encrypted_blob")?,
        key_hash: r.str("key_hash")?,
        extra: super::extra_of(r.opt_str("extra")?),
    })
}

pub async fn credential_get(db: &Db, id: &str) -> Result<Option<Credential>, DbError> {
    let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credential WHERE id = ?");
    db.fetch_optional(&sql, params![id]).await?.as_ref().map(credential_from_row).transpose()
}

/// Every credential, optionally only one user's and one type.
pub async fn credential_list(db: &Db, user_id: Option<&str>, credential_type: Option<&str>) -> Result<Vec<Credential>, DbError> {
    let mut sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credential WHERE 1 = 1");
    let mut args = Vec::new();
    if let Some(u) = user_id {
        sql.push_str(" AND user_id = ?");
        args.push(Value::from(u));
    }
    if let Some(t) = credential_type {
        sql.push_str(" AND type = ?");
        args.push(Value::from(t));
    }
    sql.push_str(" ORDER BY id");
    db.fetch_all(&sql, args).await?.iter().map(credential_from_row).collect()
}

pub async fn credential_create(db: &Db, c: &Credential) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO credential (id, user_id, project_id, type, encrypted_blob, key_hash, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
        params![&c.id, &c.user_id, &c.project_id, &c.credential_type, &c.encrypted_blob, &c.key_hash, super::extra_text(&c.extra)],
    )
    .await?;
    Ok(())
}

pub async fn credential_update(db: &Db, c: &Credential) -> Result<(), DbError> {
    db.exec(
        "UPDATE credential SET user_id = ?, project_id = ?, type = ?, encrypted_blob = ?, key_hash = ?, extra = ? WHERE id = ?",
        params![&c.user_id, &c.project_id, &c.credential_type, &c.encrypted_blob, &c.key_hash, super::extra_text(&c.extra), &c.id],
    )
    .await?;
    Ok(())
}

pub async fn credential_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM credential WHERE id = ?", params![id]).await
}
