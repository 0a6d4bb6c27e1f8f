//! Network IP availability (neutron/db/network_ip_availability_db.py): per network and
//! subnet, how many addresses the allocation pools hold and how many are allocated.

use auth::RequestContext;
use serde_json::{json, Value};

use super::ipam::pool_size;
use super::subnets::pools_of;
use super::{str_of, App};
use crate::db::records::{record_get, record_list, record_list_by};
use crate::db::Kind;
use crate::error::{NeutronError, Result};

impl App {
    async fn ip_availability_of(&self, network: &Value) -> Result<Value> {
        let nid = str_of(network, "id");
        let mut tx = self.db.begin().await?;
        let mut subnets = Vec::new();
        let (mut total, mut used) = (0u128, 0i64);
        for s in record_list_by(&self.db, Kind::Subnet, "network_id", nid).await? {
            let size = pool_size(&pools_of(&s));
            let n = crate::db::ipam::ipallocation_count_by_subnet(&mut tx, str_of(&s, "id")).await?;
            total = total.saturating_add(size);
            used += n;
            subnets.push(json!({
                "subnet_id": str_of(&s, "id"), "subnet_name": str_of(&s, "name"), "cidr": str_of(&s, "cidr"),
                "ip_version": s["ip_version"], "total_ips": u64::try_from(size).unwrap_or(u64::MAX), "used_ips": n,
            }));
        }
        tx.commit().await?;
        Ok(json!({
            "network_id": nid, "network_name": str_of(network, "name"), "project_id": str_of(network, "project_id"), "tenant_id": str_of(network, "project_id"),
            "total_ips": u64::try_from(total).unwrap_or(u64::MAX), "used_ips": used, "subnet_ip_availability": subnets,
        }))
    }

    /// `GET /v2.0/network-ip-availabilities` (admin by default).
    pub async fn ip_availability_list(&self, ctx: &RequestContext) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for n in record_list(&self.db, Kind::Network).await? {
            if self.allowed(ctx, "get_network_ip_availability", &n)? {
                out.push(self.ip_availability_of(&n).await?);
            }
        }
        Ok(out)
    }

    pub async fn ip_availability_show(&self, ctx: &RequestContext, network_id: &str) -> Result<Value> {
        let n = record_get(&self.db, Kind::Network, network_id).await?.ok_or_else(|| NeutronError::NetworkNotFound(network_id.to_string()))?;
        self.enforce(ctx, "get_network_ip_availability", &n)?;
        self.ip_availability_of(&n).await
    }
}
