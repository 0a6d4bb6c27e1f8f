//! IP allocations (neutron/db/models_v2.IPAllocation): one row per address in use on a
//! network. The primary key (network_id, ip_address) is what makes two concurrent port
//! creations unable to take the same address: the second insert fails with a unique-key
//! violation and its transaction is retried with a fresh view.

use db::{params, DbError, Tx};

pub async fn ipallocation_list_by_subnet(tx: &mut Tx, subnet_id: &str) -> Result<Vec<String>, DbError> {
    tx.fetch_all("SELECT ip_address FROM ipallocations WHERE subnet_id = ?", params![subnet_id]).await?.iter().map(|r| r.str("ip_address")).collect()
}

pub async fn ipallocation_count_by_subnet(tx: &mut Tx, subnet_id: &str) -> Result<i64, DbError> {
    let r = tx.fetch_optional("SELECT COUNT(*) AS n FROM ipallocations WHERE subnet_id = ?", params![subnet_id]).await?;
    r.map(|r| r.i64("n")).transpose().map(|n| n.unwrap_or(0))
}

/// Port ids holding an address on the subnet.
pub async fn ipallocation_ports_by_subnet(tx: &mut Tx, subnet_id: &str) -> Result<Vec<String>, DbError> {
    tx.fetch_all("SELECT DISTINCT port_id FROM ipallocations WHERE subnet_id = ?", params![subnet_id]).await?.iter().map(|r| r.str("port_id")).collect()
}

pub async fn ipallocation_create(tx: &mut Tx, network_id: &str, ip_address: &str, subnet_id: &str, port_id: &str) -> Result<(), DbError> {
    tx.exec("INSERT INTO ipallocations (network_id, ip_address, subnet_id, port_id) VALUES (?, ?, ?, ?)", params![network_id, ip_address, subnet_id, port_id]).await?;
    Ok(())
}

pub async fn ipallocation_exists(tx: &mut Tx, network_id: &str, ip_address: &str) -> Result<bool, DbError> {
    Ok(tx.fetch_optional("SELECT port_id FROM ipallocations WHERE network_id = ? AND ip_address = ?", params![network_id, ip_address]).await?.is_some())
}

pub async fn ipallocation_delete_by_port(tx: &mut Tx, port_id: &str) -> Result<u64, DbError> {
    tx.exec("DELETE FROM ipallocations WHERE port_id = ?", params![port_id]).await
}

pub async fn ipallocation_delete(tx: &mut Tx, network_id: &str, ip_address: &str) -> Result<u64, DbError> {
    tx.exec("DELETE FROM ipallocations WHERE network_id = ? AND ip_address = ?", params![network_id, ip_address]).await
}
