//! Quota limits and the usage they are checked against (nova/objects/quotas.py,
//! nova/db/api quota tables, nova/quota.py's counting functions). Limits live in the API
//! database: per project (`quotas`), per user within a project (`project_user_quotas`) and
//! per class (`quota_classes`, only `default` is used). Usage is counted, never stored:
//! instances, cores and RAM from the cell database's live instances, server groups and key
//! pairs from the API database.

use std::collections::BTreeMap;

use db::{params, Db, DbError};

use super::flavors::Flavor;

/// Instances, cores and RAM in use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceUsage {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
}

fn limits(rows: Vec<db::Row>) -> Result<BTreeMap<String, i64>, DbError> {
    rows.iter().map(|r| Ok((r.str("resource")?, r.i64("hard_limit")?))).collect()
}

/// Limits set for a project (resources not set fall back to the class, then the config).
pub async fn quota_get_all_by_project(db: &Db, project_id: &str) -> Result<BTreeMap<String, i64>, DbError> {
    limits(db.fetch_all("SELECT resource, hard_limit FROM quotas WHERE project_id = ?", params![project_id]).await?)
}

/// Limits set for one user of a project.
pub async fn quota_get_all_by_project_and_user(db: &Db, project_id: &str, user_id: &str) -> Result<BTreeMap<String, i64>, DbError> {
    limits(db.fetch_all("SELECT resource, hard_limit FROM project_user_quotas WHERE project_id = ? AND user_id = ?", params![project_id, user_id]).await?)
}

/// Sum of every user's limit per resource in a project (what is already handed out).
pub async fn quota_user_limits_sum(db: &Db, project_id: &str) -> Result<BTreeMap<String, i64>, DbError> {
    limits(db.fetch_all("SELECT resource, SUM(hard_limit) AS hard_limit FROM project_user_quotas WHERE project_id = ? GROUP BY resource", params![project_id]).await?)
}

/// Sets project limits (and user limits when `user_id` is given), all or nothing.
pub async fn quota_set(db: &Db, project_id: &str, user_id: Option<&str>, values: &BTreeMap<String, i64>) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for (resource, limit) in values {
        match user_id {
            Some(u) => {
                tx.exec("DELETE FROM project_user_quotas WHERE project_id = ? AND user_id = ? AND resource = ?", params![project_id, u, resource]).await?;
                tx.exec("INSERT INTO project_user_quotas (project_id, user_id, resource, hard_limit) VALUES (?, ?, ?, ?)", params![project_id, u, resource, *limit]).await?;
            }
            None => {
                tx.exec("DELETE FROM quotas WHERE project_id = ? AND resource = ?", params![project_id, resource]).await?;
                tx.exec("INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)", params![project_id, resource, *limit]).await?;
            }
        }
    }
    tx.commit().await
}

/// Forgets a project's limits and all its users' (`destroy_all_by_project`), or one user's.
pub async fn quota_destroy_all(db: &Db, project_id: &str, user_id: Option<&str>) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    match user_id {
        Some(u) => {
            tx.exec("DELETE FROM project_user_quotas WHERE project_id = ? AND user_id = ?", params![project_id, u]).await?;
        }
        None => {
            tx.exec("DELETE FROM project_user_quotas WHERE project_id = ?", params![project_id]).await?;
            tx.exec("DELETE FROM quotas WHERE project_id = ?", params![project_id]).await?;
        }
    }
    tx.commit().await
}

/// The limits of a quota class.
pub async fn quota_class_get_all(db: &Db, class_name: &str) -> Result<BTreeMap<String, i64>, DbError> {
    let rows = db.fetch_all("SELECT resource, hard_limit FROM quota_classes WHERE class_name = ?", params![class_name]).await?;
    rows.iter().map(|r| Ok((r.str("resource")?, r.i64("hard_limit")?))).collect()
}

/// Sets limits of a quota class.
pub async fn quota_class_set(db: &Db, class_name: &str, values: &BTreeMap<String, i64>) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for (resource, limit) in values {
        tx.exec("DELETE FROM quota_classes WHERE class_name = ? AND resource = ?", params![class_name, resource]).await?;
        tx.exec("INSERT INTO quota_classes (class_name, resource, hard_limit) VALUES (?, ?, ?)", params![class_name, resource, *limit]).await?;
    }
    tx.commit().await
}

/// Instances, cores and RAM of a project's live instances (cell database), and of one of its
/// users when `user_id` is given: (project, user). Soft-deleted instances do not count, as
/// upstream's `InstanceList.get_counts`.
pub async fn instance_usage_by_project(cell: &Db, project_id: &str, user_id: Option<&str>) -> Result<(InstanceUsage, InstanceUsage), DbError> {
    let rows = cell.fetch_all("SELECT user_id, flavor FROM instances WHERE project_id = ? AND deleted = 0 AND vm_state <> 'soft-delete'", params![project_id]).await?;
    let (mut project, mut user) = (InstanceUsage::default(), InstanceUsage::default());
    for r in rows {
        let flavor: Flavor = serde_json::from_str(&r.str("flavor")?).map_err(|e| DbError::Decode { column: "instances.flavor".into(), message: e.to_string() })?;
        project.instances += 1;
        project.cores += flavor.vcpus;
        project.ram += flavor.memory_mb;
        if user_id.is_some_and(|u| r.str("user_id").is_ok_and(|ru| ru == u)) {
            user.instances += 1;
            user.cores += flavor.vcpus;
            user.ram += flavor.memory_mb;
        }
    }
    Ok((project, user))
}

/// Server groups of a project (and of one of its users): (project, user).
pub async fn server_group_count(db: &Db, project_id: &str, user_id: Option<&str>) -> Result<(i64, i64), DbError> {
    let project = db.fetch_optional("SELECT COUNT(*) AS n FROM instance_groups WHERE project_id = ?", params![project_id]).await?.map(|r| r.i64("n")).transpose()?.unwrap_or(0);
    let user = match user_id {
        Some(u) => db.fetch_optional("SELECT COUNT(*) AS n FROM instance_groups WHERE project_id = ? AND user_id = ?", params![project_id, u]).await?.map(|r| r.i64("n")).transpose()?.unwrap_or(0),
        None => 0,
    };
    Ok((project, user))
}
