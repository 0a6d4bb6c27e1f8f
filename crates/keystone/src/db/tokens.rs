//! Token revocation events (keystone/revoke/backends/sql.py). Fernet tokens are not stored;
//! a token is revoked when an event matches it.

use db::{params, Db, DbError, Row};

/// A revocation event: every set field must match the token for it to be revoked, and the
/// token must have been issued at or before `issued_before`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RevocationEvent {
    pub id: String,
    pub domain_id: Option<String>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub role_id: Option<String>,
    pub trust_id: Option<String>,
    pub consumer_id: Option<String>,
    pub access_token_id: Option<String>,
    pub issued_before: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: i64,
    pub audit_id: Option<String>,
    pub audit_chain_id: Option<String>,
}

fn from_row(r: &Row) -> Result<RevocationEvent, DbError> {
    Ok(RevocationEvent {
        id: r.str("id")?,
        domain_id: r.opt_str("domain_id")?,
        project_id: r.opt_str("project_id")?,
        user_id: r.opt_str("user_id")?,
        role_id: r.opt_str("role_id")?,
        trust_id: r.opt_str("trust_id")?,
        consumer_id: r.opt_str("consumer_id")?,
        access_token_id: r.opt_str("access_token_id")?,
        issued_before: r.i64("issued_before")?,
        expires_at: r.opt_i64("expires_at")?,
        revoked_at: r.i64("revoked_at")?,
        audit_id: r.opt_str("audit_id")?,
        audit_chain_id: r.opt_str("audit_chain_id")?,
    })
}

/// Events revoked after `since` (microseconds), oldest first.
pub async fn revocation_event_list_since(db: &Db, since: i64) -> Result<Vec<RevocationEvent>, DbError> {
    db.fetch_all(
        "SELECT id, domain_id, project_id, user_id, role_id, trust_id, consumer_id, access_token_id, issued_before, expires_at, revoked_at, audit_id, audit_chain_id FROM revocation_event WHERE revoked_at > ? ORDER BY revoked_at",
        params![since],
    )
    .await?
    .iter()
    .map(from_row)
    .collect()
}

pub async fn revocation_event_create(db: &Db, e: &RevocationEvent) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO revocation_event (id, domain_id, project_id, user_id, role_id, trust_id, consumer_id, access_token_id, issued_before, expires_at, revoked_at, audit_id, audit_chain_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![&e.id, &e.domain_id, &e.project_id, &e.user_id, &e.role_id, &e.trust_id, &e.consumer_id, &e.access_token_id, e.issued_before, e.expires_at, e.revoked_at, &e.audit_id, &e.audit_chain_id],
    )
    .await?;
    Ok(())
}

/// Removes events older than any token that could still be valid (expiry + the window for
/// validating expired tokens).
pub async fn revocation_event_prune(db: &Db, before: i64) -> Result<u64, DbError> {
    db.exec("DELETE FROM revocation_event WHERE revoked_at < ?", params![before]).await
}
