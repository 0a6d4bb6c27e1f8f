//! The `availability_zone` metadata of the aggregates hosts are in (API database), which
//! nova/availability_zones.py combines with the services of the cell database
//! (`compute_nodes::service_list`).

use std::collections::BTreeMap;

use db::{params, Db, DbError};

/// host -> availability zones named by the aggregates it is in.
pub async fn aggregate_host_zones(api: &Db) -> Result<BTreeMap<String, Vec<String>>, DbError> {
    let rows = api
        .fetch_all(
            "SELECT h.host AS host, m.meta_value AS zone FROM aggregate_hosts h JOIN aggregate_metadata m ON m.aggregate_id = h.aggregate_id WHERE m.meta_key = 'availability_zone' ORDER BY h.host, m.meta_value",
            params![],
        )
        .await?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.str("host")?).or_default().push(r.str("zone")?);
    }
    Ok(out)
}
