//! Subnet pools (neutron/db/db_base_plugin_v2.py's subnetpool calls and
//! neutron/ipam/subnet_alloc.py): prefixes of one IP version with prefix-length bounds, and
//! allocation of a subnet from a pool — a given CIDR inside one prefix, or the first free
//! block of the requested (or default) length. Two subnets allocated at once from one pool
//! cannot overlap: each allocation compares-and-sets the pool record in its transaction (as
//! upstream's `_lock_subnetpool`), so the loser runs again and sees the winner's subnet.

use auth::RequestContext;
use serde_json::{json, Map, Value};

use super::input::{invalid, Input};
use super::ipam::{Cidr, CidrError, Ip};
use super::{bump_revision, check_revision, standard_attributes, str_of, App};
use crate::db::records::{record_delete, record_get_tx, record_insert, record_list_by_tx, record_update, record_update_if};
use crate::db::Kind;
use crate::error::{NeutronError, Result};

const CREATE: &[&str] = &["name", "description", "prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen", "shared", "is_default", "address_scope_id", "default_quota", "project_id", "tenant_id"];
const UPDATE: &[&str] = &["name", "description", "prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen", "is_default", "address_scope_id", "default_quota"];

fn parse_prefixes(list: &[Value]) -> Result<Vec<Cidr>> {
    if list.is_empty() {
        return Err(NeutronError::EmptySubnetPoolPrefixList);
    }
    let mut out: Vec<Cidr> = Vec::new();
    for p in list {
        let s = p.as_str().ok_or_else(|| invalid("prefixes", format!("'{p}' is not a valid IP subnet")))?;
        let c = match Cidr::parse(s) {
            Ok(c) => c,
            Err(CidrError::NotCanonical(c)) => Cidr::parse(&c).map_err(|_| NeutronError::InvalidCidr(s.to_string()))?,
            Err(CidrError::Invalid) => return Err(NeutronError::InvalidCidr(s.to_string())),
        };
        if out.first().is_some_and(|f| f.network.v6 != c.network.v6) {
            return Err(NeutronError::PrefixVersionMismatch);
        }
        // Prefixes inside another one add nothing (upstream compacts with cidr_merge).
        if out.iter().any(|o| o.contains(c.first()) && o.prefix <= c.prefix) {
            continue;
        }
        out.retain(|o| !(c.contains(o.first()) && c.prefix <= o.prefix));
        out.push(c);
    }
    out.sort_by_key(|c| (c.network.value, c.prefix));
    Ok(out)
}

fn prefixes_of(pool: &Value) -> Vec<Cidr> {
    pool["prefixes"].as_array().map(|a| a.iter().filter_map(|p| p.as_str().and_then(|s| Cidr::parse(s).ok())).collect()).unwrap_or_default()
}

/// Checks min <= default <= max <= the version's bits.
fn check_bounds(min: i64, default: i64, max: i64, bits: i64) -> Result<()> {
    if max > bits {
        return Err(NeutronError::IllegalSubnetPoolPrefixBounds { prefix_type: "max_prefixlen", prefixlen: max, base_prefix_type: "ip_version_max", base_prefixlen: bits });
    }
    if min < 0 || min > max {
        return Err(NeutronError::IllegalSubnetPoolPrefixBounds { prefix_type: "min_prefixlen", prefixlen: min, base_prefix_type: "max_prefixlen", base_prefixlen: max });
    }
    if default < min || default > max {
        return Err(NeutronError::IllegalSubnetPoolPrefixBounds { prefix_type: "default_prefixlen", prefixlen: default, base_prefix_type: "min_prefixlen", base_prefixlen: min });
    }
    Ok(())
}

/// The first block of length `prefixlen` inside `prefixes` that overlaps none of `used`.
pub fn first_free_block(prefixes: &[Cidr], used: &[Cidr], prefixlen: u32) -> Option<Cidr> {
    for p in prefixes {
        if p.prefix > prefixlen {
            continue;
        }
        let bits = if p.network.v6 { 128 } else { 32 };
        let size: u128 = if bits - prefixlen >= 128 { u128::MAX } else { 1u128 << (bits - prefixlen) };
        let mut start = p.first().value;
        loop {
            let candidate = Cidr { network: Ip { value: start, v6: p.network.v6 }, prefix: prefixlen };
            if !p.contains(candidate.last()) {
                break;
            }
            match used.iter().filter(|u| u.overlaps(&candidate)).map(|u| u.last().value).max() {
                None => return Some(candidate),
                Some(end) => {
                    // Jump past the block in the way, to the next aligned start.
                    let next = end.checked_add(1)?;
                    let aligned = next.checked_add(size - 1).map(|v| v / size * size)?;
                    if aligned <= start {
                        break;
                    }
                    start = aligned;
                }
            }
        }
    }
    None
}

impl App {
    pub async fn subnet_pool_create(&self, ctx: &RequestContext, input: Input) -> Result<Value> {
        input.check_known(CREATE, &[])?;
        let project_id = self.owner_of_new(ctx, &input, "subnetpool")?;
        let shared = input.opt_bool("shared")?.unwrap_or(false);
        let is_default = input.opt_bool("is_default")?.unwrap_or(false);
        let target = json!({"project_id": project_id, "shared": shared});
        self.enforce(ctx, "create_subnetpool", &target)?;
        self.enforce_attributes(ctx, "create_subnetpool", &[("shared", shared), ("is_default", is_default)], &target)?;
        if input.opt_str("address_scope_id")?.is_some() {
            return Err(NeutronError::bad("subnetpool", "address scopes are not supported by this cloud"));
        }
        let prefixes = parse_prefixes(&input.opt_list("prefixes")?.ok_or_else(|| invalid("prefixes", "prefixes is required"))?)?;
        let v6 = prefixes.first().is_some_and(|p| p.network.v6);
        let bits = if v6 { 128 } else { 32 };
        let min = input.opt_int("min_prefixlen")?.unwrap_or(if v6 { 64 } else { 8 });
        let max = input.opt_int("max_prefixlen")?.unwrap_or(bits);
        let default = input.opt_int("default_prefixlen")?.unwrap_or(min);
        check_bounds(min, default, max, bits)?;
        if is_default {
            self.check_one_default_subnet_pool(if v6 { 6 } else { 4 }, None).await?;
        }
        let name = input.opt_str_max("name", 255)?.unwrap_or_default();
        let description = input.opt_str_max("description", 255)?;
        let default_quota = input.opt_int("default_quota")?;
        let id = common::ids::new_uuid();
        let mut body = Map::new();
        body.insert("id".into(), json!(id));
        body.insert("name".into(), json!(name));
        body.insert("project_id".into(), json!(project_id));
        body.insert("prefixes".into(), json!(prefixes.iter().map(ToString::to_string).collect::<Vec<_>>()));
        body.insert("ip_version".into(), json!(if v6 { 6 } else { 4 }));
        body.insert("min_prefixlen".into(), json!(min));
        body.insert("max_prefixlen".into(), json!(max));
        body.insert("default_prefixlen".into(), json!(default));
        body.insert("default_quota".into(), json!(default_quota));
        body.insert("shared".into(), json!(shared));
        body.insert("is_default".into(), json!(is_default));
        body.insert("address_scope_id".into(), Value::Null);
        standard_attributes(&mut body, description, true);
        let body = Value::Object(body);
        let record = retrying!(self, tx, {
            record_insert(&mut tx, Kind::SubnetPool, &body).await?;
            Ok(body.clone())
        })?;
        self.render_one(ctx, Kind::SubnetPool, &record).await
    }

    pub async fn subnet_pool_update(&self, ctx: &RequestContext, id: &str, input: Input, if_match: Option<i64>) -> Result<Value> {
        input.check_known(UPDATE, &["id", "ip_version", "project_id", "tenant_id", "shared"])?;
        let (_, target) = self.visible(ctx, Kind::SubnetPool, id).await?;
        self.enforce(ctx, "update_subnetpool", &target)?;
        let is_default = input.opt_bool("is_default")?;
        self.enforce_attributes(ctx, "update_subnetpool", &[("is_default", is_default.is_some())], &target)?;
        if input.opt_str("address_scope_id")?.is_some() {
            return Err(NeutronError::bad("subnetpool", "address scopes are not supported by this cloud"));
        }
        let record = retrying!(self, tx, {
            let mut p = record_get_tx(&mut tx, Kind::SubnetPool, id).await?.ok_or_else(|| NeutronError::SubnetPoolNotFound(id.to_string()))?;
            check_revision(&p, if_match)?;
            let bits = if p["ip_version"] == json!(6) { 128 } else { 32 };
            if let Some(list) = input.opt_list("prefixes")? {
                let new = parse_prefixes(&list)?;
                if new.first().is_some_and(|c| (c.network.v6 && bits == 32) || (!c.network.v6 && bits == 128)) {
                    return Err(NeutronError::PrefixVersionMismatch);
                }
                // Prefixes may grow, never shrink (upstream refuses removing address space).
                for old in prefixes_of(&p) {
                    if !new.iter().any(|n| n.contains(old.first()) && n.contains(old.last())) {
                        return Err(NeutronError::IllegalSubnetPoolPrefixUpdate(format!("Existing prefix {old} is not a subset of the new prefixes")));
                    }
                }
                p["prefixes"] = json!(new.iter().map(ToString::to_string).collect::<Vec<_>>());
            }
            let min = input.opt_int("min_prefixlen")?.unwrap_or_else(|| p["min_prefixlen"].as_i64().unwrap_or(0));
            let max = input.opt_int("max_prefixlen")?.unwrap_or_else(|| p["max_prefixlen"].as_i64().unwrap_or(bits));
            let default = input.opt_int("default_prefixlen")?.unwrap_or_else(|| p["default_prefixlen"].as_i64().unwrap_or(min));
            check_bounds(min, default, max, bits)?;
            p["min_prefixlen"] = json!(min);
            p["max_prefixlen"] = json!(max);
            p["default_prefixlen"] = json!(default);
            for key in ["name", "description"] {
                if let Some(v) = input.opt_str_max(key, 255)? {
                    p[key] = json!(v);
                }
            }
            if let Some(v) = is_default {
                if v && p["is_default"] != json!(true) {
                    self.check_one_default_subnet_pool(p["ip_version"].as_i64().unwrap_or(4), Some(id)).await?;
                }
                p["is_default"] = json!(v);
            }
            if input.has("default_quota") {
                p["default_quota"] = json!(input.opt_int("default_quota")?);
            }
            bump_revision(&mut p);
            record_update(&mut tx, Kind::SubnetPool, &p).await?;
            Ok(p)
        })?;
        self.render_one(ctx, Kind::SubnetPool, &record).await
    }

    /// There is at most one default pool per IP version (upstream's
    /// `_check_default_subnetpool_exists`).
    async fn check_one_default_subnet_pool(&self, ip_version: i64, except: Option<&str>) -> Result<()> {
        let pools = crate::db::records::record_list(&self.db, Kind::SubnetPool).await?;
        if pools.iter().any(|p| p["is_default"] == json!(true) && p["ip_version"] == json!(ip_version) && Some(str_of(p, "id")) != except) {
            return Err(NeutronError::InvalidInput("A default subnetpool for this IP family has already been set. Only one default may exist per IP family".into()));
        }
        Ok(())
    }

    /// The default pool of `ip_version` the caller can use (upstream's `get_default_subnetpool`).
    pub(crate) async fn default_subnet_pool(&self, ctx: &RequestContext, ip_version: i64) -> Result<Option<Value>> {
        for pool in crate::db::records::record_list(&self.db, Kind::SubnetPool).await? {
            if pool["is_default"] == json!(true) && pool["ip_version"] == json!(ip_version) && self.visible(ctx, Kind::SubnetPool, str_of(&pool, "id")).await.is_ok() {
                return Ok(Some(pool));
            }
        }
        Ok(None)
    }

    pub async fn subnet_pool_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (_, target) = self.visible(ctx, Kind::SubnetPool, id).await?;
        self.enforce(ctx, "delete_subnetpool", &target)?;
        retrying!(self, tx, {
            if !record_list_by_tx(&mut tx, Kind::Subnet, "subnetpool_id", id).await?.is_empty() {
                return Err(NeutronError::SubnetPoolDeleteError("Subnet pool has existing allocations".into()));
            }
            if !record_delete(&mut tx, Kind::SubnetPool, id).await? {
                return Err(NeutronError::SubnetPoolNotFound(id.to_string()));
            }
            Ok(())
        })
    }

    /// Reserves a CIDR from `pool_id` for a new subnet (inside the subnet's transaction):
    /// `cidr` when given, else the first free block of `prefixlen` (default: the pool's).
    pub(crate) async fn subnet_pool_allocate(tx: &mut db::Tx, pool_id: &str, cidr: Option<Cidr>, prefixlen: Option<i64>) -> Result<Cidr> {
        let pool = record_get_tx(tx, Kind::SubnetPool, pool_id).await?.ok_or_else(|| NeutronError::SubnetPoolNotFound(pool_id.to_string()))?;
        let prefixes = prefixes_of(&pool);
        let min = pool["min_prefixlen"].as_i64().unwrap_or(0);
        let max = pool["max_prefixlen"].as_i64().unwrap_or(128);
        let want = match (&cidr, prefixlen) {
            (Some(c), _) => i64::from(c.prefix),
            (None, Some(p)) => p,
            (None, None) => pool["default_prefixlen"].as_i64().unwrap_or(min),
        };
        if want > max {
            return Err(NeutronError::MaxPrefixSubnetAllocationError { prefixlen: want, max_prefixlen: max });
        }
        if want < min {
            return Err(NeutronError::MinPrefixSubnetAllocationError { prefixlen: want, min_prefixlen: min });
        }
        let used: Vec<Cidr> = record_list_by_tx(tx, Kind::Subnet, "subnetpool_id", pool_id).await?.iter().filter_map(super::subnets::cidr_of).collect();
        let chosen = match cidr {
            Some(c) => {
                let inside = prefixes.iter().any(|p| p.contains(c.first()) && p.contains(c.last()));
                if !inside || used.iter().any(|u| u.overlaps(&c)) {
                    return Err(NeutronError::SubnetAllocationError("Cannot allocate requested subnet from the available set of prefixes".into()));
                }
                c
            }
            None => {
                let len = u32::try_from(want).map_err(|_| invalid("prefixlen", format!("'{want}' is not a valid prefix length")))?;
                first_free_block(&prefixes, &used, len).ok_or_else(|| NeutronError::SubnetAllocationError(format!("Insufficient prefix space to allocate subnet size /{want}")))?
            }
        };
        // Compare-and-set the pool: a concurrent allocation from it makes one of us retry.
        let mut next = pool.clone();
        bump_revision(&mut next);
        if !record_update_if(tx, Kind::SubnetPool, &next, &pool).await? {
            return Err(NeutronError::ConcurrentUpdate(format!("subnetpool {}", str_of(&pool, "id"))));
        }
        Ok(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_past_used_ones() {
        let p = [Cidr::parse("10.0.0.0/16").unwrap()];
        let used = [Cidr::parse("10.0.0.0/24").unwrap(), Cidr::parse("10.0.1.0/25").unwrap()];
        assert_eq!(first_free_block(&p, &used, 24).unwrap().to_string(), "10.0.2.0/24");
        assert_eq!(first_free_block(&p, &used, 25).unwrap().to_string(), "10.0.1.128/25");
        assert_eq!(first_free_block(&p, &[Cidr::parse("10.0.0.0/16").unwrap()], 24), None);
        assert_eq!(first_free_block(&p, &[], 8), None);
        let v6 = [Cidr::parse("2001:db8::/48").unwrap()];
        assert_eq!(first_free_block(&v6, &[Cidr::parse("2001:db8::/64").unwrap()], 64).unwrap().to_string(), "2001:db8:0:1::/64");
        let merged = parse_prefixes(&[serde_json::json!("10.0.0.0/24"), serde_json::json!("10.0.0.0/16")]).unwrap();
        assert_eq!(merged.len(), 1);
        assert!(matches!(parse_prefixes(&[serde_json::json!("10.0.0.0/24"), serde_json::json!("2001:db8::/64")]), Err(NeutronError::PrefixVersionMismatch)));
    }
}
