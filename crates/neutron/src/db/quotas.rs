//! Per-project quota limits set through `/v2.0/quotas` (neutron/db/quota/models.Quota);
//! projects without rows use `[quotas]` from config.

use db::{params, Db, DbError, Tx};

pub async fn quota_list_by_project(db: &Db, project_id: &str) -> Result<Vec<(String, i64)>, DbError> {
    db.fetch_all("SELECT resource, hard_limit FROM quotas WHERE project_id = ?", params![project_id]).await?.iter().map(|r| Ok((r.str("resource")?, r.i64("hard_limit")?))).collect()
}

pub async fn quota_get_tx(tx: &mut Tx, project_id: &str, resource: &str) -> Result<Option<i64>, DbError> {
    tx.fetch_optional("SELECT hard_limit FROM quotas WHERE project_id = ? AND resource = ?", params![project_id, resource]).await?.map(|r| r.i64("hard_limit")).transpose()
}

pub async fn quota_projects(db: &Db) -> Result<Vec<String>, DbError> {
    db.fetch_all("SELECT DISTINCT project_id FROM quotas ORDER BY project_id", params![]).await?.iter().map(|r| r.str("project_id")).collect()
}

pub async fn quota_set(tx: &mut Tx, project_id: &str, resource: &str, limit: i64) -> Result<(), DbError> {
    if tx.exec("UPDATE quotas SET hard_limit = ? WHERE project_id = ? AND resource = ?", params![limit, project_id, resource]).await? == 0 {
        tx.exec("INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)", params![project_id, resource, limit]).await?;
    }
    Ok(())
}

pub async fn quota_delete_project(tx: &mut Tx, project_id: &str) -> Result<u64, DbError> {
    tx.exec("DELETE FROM quotas WHERE project_id = ?", params![project_id]).await
}
