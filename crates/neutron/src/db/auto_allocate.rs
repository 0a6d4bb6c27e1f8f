//! The auto-allocated topology of each project (neutron/db/models/auto_allocate.py): which
//! network and router `GET /v2.0/auto-allocated-topology/{project_id}` made for it.

use db::{params, Db, DbError, Tx};

/// (network_id, router_id) of `project_id`'s topology.
pub async fn auto_allocated_topology_get(db: &Db, project_id: &str) -> Result<Option<(String, String)>, DbError> {
    db.fetch_optional("SELECT network_id, router_id FROM auto_allocated_topologies WHERE project_id = ?", params![project_id])
        .await?
        .map(|r| Ok((r.str("network_id")?, r.str("router_id")?)))
        .transpose()
}

/// Records a topology; `DbError::Duplicate` when the project already has one.
pub async fn auto_allocated_topology_create(tx: &mut Tx, project_id: &str, network_id: &str, router_id: &str) -> Result<(), DbError> {
    tx.exec("INSERT INTO auto_allocated_topologies (project_id, network_id, router_id) VALUES (?, ?, ?)", params![project_id, network_id, router_id]).await?;
    Ok(())
}

pub async fn auto_allocated_topology_delete(tx: &mut Tx, project_id: &str) -> Result<u64, DbError> {
    tx.exec("DELETE FROM auto_allocated_topologies WHERE project_id = ?", params![project_id]).await
}
