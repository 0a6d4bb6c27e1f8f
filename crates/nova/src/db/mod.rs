//! Nova's named queries and schemas (nova/db/api and nova/db/main).

pub mod compute_nodes;
pub mod flavors;
pub mod instances;
pub mod key_pairs;
pub mod migrations;
pub mod quotas;
pub mod schema;
pub mod services;

/// The next integer id of `table` (one more than the largest), inside the writing
/// transaction; `table` is always one of this crate's literals.
pub(crate) async fn next_id(tx: &mut ::db::Tx, table: &str) -> Result<i64, ::db::DbError> {
    let row = tx.fetch_optional(&format!("SELECT MAX(id) AS m FROM {table}"), ::db::params![]).await?;
    Ok(row.and_then(|r| r.opt_i64("m").ok().flatten()).unwrap_or(0) + 1)
}
