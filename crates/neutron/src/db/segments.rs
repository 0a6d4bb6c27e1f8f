//! Segment allocations (ml2's vlan/vxlan allocation tables, folded into one): a row per
//! segmentation id in use, keyed by (network_type, physical_network, segmentation_id) so two
//! networks can never get the same one. Flat networks use id 0 on their physical network;
//! local networks take nothing.

use db::{params, DbError, Tx};

/// Ids in use of a type on a physical network ("" for tunnels) within [min, max].
pub async fn segment_allocation_used(tx: &mut Tx, network_type: &str, physical_network: &str, min: i64, max: i64) -> Result<Vec<i64>, DbError> {
    tx.fetch_all(
        "SELECT segmentation_id FROM segment_allocations WHERE network_type = ? AND physical_network = ? AND segmentation_id >= ? AND segmentation_id <= ? ORDER BY segmentation_id",
        params![network_type, physical_network, min, max],
    )
    .await?
    .iter()
    .map(|r| r.i64("segmentation_id"))
    .collect()
}

pub async fn segment_allocation_exists(tx: &mut Tx, network_type: &str, physical_network: &str, segmentation_id: i64) -> Result<bool, DbError> {
    Ok(tx
        .fetch_optional("SELECT network_id FROM segment_allocations WHERE network_type = ? AND physical_network = ? AND segmentation_id = ?", params![network_type, physical_network, segmentation_id])
        .await?
        .is_some())
}

pub async fn segment_allocation_create(tx: &mut Tx, network_type: &str, physical_network: &str, segmentation_id: i64, network_id: &str) -> Result<(), DbError> {
    tx.exec(
        "INSERT INTO segment_allocations (network_type, physical_network, segmentation_id, network_id) VALUES (?, ?, ?, ?)",
        params![network_type, physical_network, segmentation_id, network_id],
    )
    .await?;
    Ok(())
}

pub async fn segment_allocation_release(tx: &mut Tx, network_id: &str) -> Result<u64, DbError> {
    tx.exec("DELETE FROM segment_allocations WHERE network_id = ?", params![network_id]).await
}
