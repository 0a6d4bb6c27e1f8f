//! Which groups each port uses (securitygroupportbindings) and each project's default group
//! (default_security_group, keyed by project so two requests cannot both create one).

use db::{params, DbError, Tx};

pub async fn port_security_group_set(tx: &mut Tx, port_id: &str, groups: &[String]) -> Result<(), DbError> {
    tx.exec("DELETE FROM port_security_groups WHERE port_id = ?", params![port_id]).await?;
    for g in groups {
        tx.exec("INSERT INTO port_security_groups (port_id, security_group_id) VALUES (?, ?)", params![port_id, g]).await?;
    }
    Ok(())
}

pub async fn port_security_group_ports(tx: &mut Tx, group_id: &str) -> Result<Vec<String>, DbError> {
    tx.fetch_all("SELECT port_id FROM port_security_groups WHERE security_group_id = ?", params![group_id]).await?.iter().map(|r| r.str("port_id")).collect()
}

pub async fn default_security_group_get(tx: &mut Tx, project_id: &str) -> Result<Option<String>, DbError> {
    tx.fetch_optional("SELECT security_group_id FROM default_security_groups WHERE project_id = ?", params![project_id]).await?.map(|r| r.str("security_group_id")).transpose()
}

/// The same read outside a transaction (the common case: the group exists already).
pub async fn default_security_group_lookup(db: &db::Db, project_id: &str) -> Result<Option<String>, DbError> {
    db.fetch_optional("SELECT security_group_id FROM default_security_groups WHERE project_id = ?", params![project_id]).await?.map(|r| r.str("security_group_id")).transpose()
}

pub async fn default_security_group_create(tx: &mut Tx, project_id: &str, group_id: &str) -> Result<(), DbError> {
    tx.exec("INSERT INTO default_security_groups (project_id, security_group_id) VALUES (?, ?)", params![project_id, group_id]).await?;
    Ok(())
}

pub async fn default_security_group_delete(tx: &mut Tx, group_id: &str) -> Result<u64, DbError> {
    tx.exec("DELETE FROM default_security_groups WHERE security_group_id = ?", params![group_id]).await
}
