//! Networks with the provider extension (neutron/db/db_base_plugin_v2.py + ML2's type
//! managers): a segment is chosen from the configured ranges for project networks
//! (`tenant_network_types` in order), or checked and reserved for provider networks; the MTU
//! follows the type (VXLAN carries 50 bytes of overhead); deleting releases the segment.

use auth::RequestContext;
use serde_json::{json, Map, Value};

use super::input::{invalid, Input};
use super::{bump_revision, check_revision, standard_attributes, str_of, App};
use crate::db::records::{record_delete, record_get_tx, record_insert, record_list_by_tx, record_update};
use crate::db::segments::{segment_allocation_create, segment_allocation_exists, segment_allocation_release, segment_allocation_used};
use crate::db::{ipam as ipdb, Kind};
use crate::error::{NeutronError, Result};

const CREATE: &[&str] = &[
    "name", "description", "admin_state_up", "shared", "router:external", "port_security_enabled", "mtu", "provider:network_type",
    "provider:physical_network", "provider:segmentation_id", "availability_zone_hints", "is_default", "project_id", "tenant_id",
];
const UPDATE: &[&str] = &["name", "description", "admin_state_up", "shared", "router:external", "port_security_enabled", "mtu", "is_default"];
const READ_ONLY: &[&str] = &["id", "status", "subnets", "project_id", "tenant_id", "provider:network_type", "provider:physical_network", "provider:segmentation_id", "created_at", "updated_at", "revision_number", "tags"];

/// A segment: what carries a network on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub network_type: String,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<i64>,
}

impl App {
    /// The MTU a network of this type gets (`global_physnet_mtu`, minus VXLAN's overhead).
    pub fn mtu_for(&self, network_type: &str) -> i64 {
        match network_type {
            "vxlan" => self.cfg.global_physnet_mtu - 50,
            _ => self.cfg.global_physnet_mtu,
        }
    }

    /// Lowest free id of `network_type` on `physnet` ("" for tunnels) within `ranges`.
    async fn first_free(tx: &mut db::Tx, network_type: &str, physnet: &str, ranges: &[(i64, i64)]) -> Result<Option<i64>> {
        for (lo, hi) in ranges {
            let used = segment_allocation_used(tx, network_type, physnet, *lo, *hi).await?;
            let mut candidate = *lo;
            for u in used {
                if u == candidate {
                    candidate += 1;
                } else if u > candidate {
                    break;
                }
            }
            if candidate <= *hi {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    /// Reserves the requested provider segment, or allocates a project segment.
    async fn segment_reserve(&self, tx: &mut db::Tx, requested: Option<Segment>, network_id: &str) -> Result<Segment> {
        let Some(seg) = requested else {
            for t in &self.cfg.tenant_network_types {
                match t.as_str() {
                    "local" => return Ok(Segment { network_type: "local".into(), physical_network: None, segmentation_id: None }),
                    "vxlan" => {
                        if let Some(id) = Self::first_free(tx, "vxlan", "", &self.cfg.vni_ranges).await? {
                            segment_allocation_create(tx, "vxlan", "", id, network_id).await?;
                            return Ok(Segment { network_type: "vxlan".into(), physical_network: None, segmentation_id: Some(id) });
                        }
                    }
                    "vlan" => {
                        for vr in &self.cfg.network_vlan_ranges {
                            let Some(range) = vr.range else { continue };
                            if let Some(id) = Self::first_free(tx, "vlan", &vr.physical_network, &[range]).await? {
                                segment_allocation_create(tx, "vlan", &vr.physical_network, id, network_id).await?;
                                return Ok(Segment { network_type: "vlan".into(), physical_network: Some(vr.physical_network.clone()), segmentation_id: Some(id) });
                            }
                        }
                    }
                    _ => {}
                }
            }
            return Err(NeutronError::NoNetworkAvailable);
        };
        match seg.network_type.as_str() {
            "local" => Ok(seg),
            "flat" => {
                let physnet = seg.physical_network.clone().unwrap_or_default();
                if segment_allocation_exists(tx, "flat", &physnet, 0).await? {
                    return Err(NeutronError::FlatNetworkInUse(physnet));
                }
                segment_allocation_create(tx, "flat", &physnet, 0, network_id).await?;
                Ok(seg)
            }
            "vlan" => {
                let physnet = seg.physical_network.clone().unwrap_or_default();
                match seg.segmentation_id {
                    Some(id) => {
                        if segment_allocation_exists(tx, "vlan", &physnet, id).await? {
                            return Err(NeutronError::VlanIdInUse { vlan_id: id, physical_network: physnet });
                        }
                        segment_allocation_create(tx, "vlan", &physnet, id, network_id).await?;
                        Ok(seg)
                    }
                    None => {
                        let ranges: Vec<(i64, i64)> = self.cfg.network_vlan_ranges.iter().filter(|v| v.physical_network == physnet).filter_map(|v| v.range).collect();
                        let id = Self::first_free(tx, "vlan", &physnet, &ranges).await?.ok_or(NeutronError::NoNetworkAvailable)?;
                        segment_allocation_create(tx, "vlan", &physnet, id, network_id).await?;
                        Ok(Segment { segmentation_id: Some(id), ..seg })
                    }
                }
            }
            _ => match seg.segmentation_id {
                Some(id) => {
                    if segment_allocation_exists(tx, "vxlan", "", id).await? {
                        return Err(NeutronError::TunnelIdInUse(id));
                    }
                    segment_allocation_create(tx, "vxlan", "", id, network_id).await?;
                    Ok(seg)
                }
                None => {
                    let id = Self::first_free(tx, "vxlan", "", &self.cfg.vni_ranges).await?.ok_or(NeutronError::NoNetworkAvailable)?;
                    segment_allocation_create(tx, "vxlan", "", id, network_id).await?;
                    Ok(Segment { segmentation_id: Some(id), ..seg })
                }
            },
        }
    }

    /// Validates the provider attributes of a request (ML2's type drivers' validate_provider_segment).
    fn provider_segment(&self, input: &Input) -> Result<Option<Segment>> {
        let network_type = input.opt_str("provider:network_type")?;
        let physnet = input.opt_str("provider:physical_network")?.filter(|p| !p.is_empty());
        let segid = input.opt_int("provider:segmentation_id")?;
        let Some(t) = network_type else {
            if physnet.is_some() || segid.is_some() {
                return Err(NeutronError::InvalidInput("provider:network_type required".into()));
            }
            return Ok(None);
        };
        if !self.cfg.type_drivers.contains(&t) {
            return Err(NeutronError::InvalidInput(format!("network_type value '{t}' not supported")));
        }
        match t.as_str() {
            "local" => {
                if physnet.is_some() || segid.is_some() {
                    return Err(NeutronError::InvalidInput("physical_network and segmentation_id prohibited for local provider network".into()));
                }
            }
            "flat" => {
                let Some(p) = &physnet else {
                    return Err(NeutronError::InvalidInput("physical_network required for flat provider network".into()));
                };
                if segid.is_some() {
                    return Err(NeutronError::InvalidInput("segmentation_id prohibited for flat provider network".into()));
                }
                if !self.cfg.flat_allowed(p) {
                    return Err(NeutronError::InvalidInput(format!("physical_network '{p}' unknown for flat provider network")));
                }
            }
            "vlan" => {
                let Some(p) = &physnet else {
                    return Err(NeutronError::InvalidInput("physical_network required for VLAN provider network".into()));
                };
                if !self.cfg.network_vlan_ranges.iter().any(|v| &v.physical_network == p) {
                    return Err(NeutronError::InvalidInput(format!("physical_network '{p}' unknown for VLAN provider network")));
                }
                if let Some(id) = segid {
                    if !(1..=4094).contains(&id) {
                        return Err(NeutronError::InvalidInput("segmentation_id out of range (1 through 4094)".into()));
                    }
                }
            }
            _ => {
                if physnet.is_some() {
                    return Err(NeutronError::InvalidInput(format!("provider:physical_network specified for {t} network")));
                }
                if let Some(id) = segid {
                    if !(1..=(1 << 24) - 1).contains(&id) {
                        return Err(NeutronError::InvalidInput(format!("{t} network segmentation_id {id} out of range (1 through 16777215)")));
                    }
                }
            }
        }
        Ok(Some(Segment { network_type: t, physical_network: physnet, segmentation_id: segid }))
    }

    pub async fn network_create(&self, ctx: &RequestContext, input: Input) -> Result<Value> {
        input.check_known(CREATE, &[])?;
        let project_id = self.owner_of_new(ctx, &input, "network")?;
        let shared = input.opt_bool("shared")?;
        let external = input.opt_bool("router:external")?;
        let is_default = input.opt_bool("is_default")?;
        let target = json!({"project_id": project_id, "shared": shared.unwrap_or(false), "router:external": external.unwrap_or(false)});
        self.enforce(ctx, "create_network", &target)?;
        self.enforce_attributes(
            ctx,
            "create_network",
            &[
                ("shared", shared == Some(true)),
                ("router:external", external == Some(true)),
                ("is_default", is_default == Some(true)),
                ("provider:network_type", input.has("provider:network_type")),
                ("provider:physical_network", input.has("provider:physical_network")),
                ("provider:segmentation_id", input.has("provider:segmentation_id")),
            ],
            &target,
        )?;
        let requested = self.provider_segment(&input)?;
        let name = input.opt_str_max("name", 255)?.unwrap_or_default();
        let description = input.opt_str_max("description", 255)?;
        let admin_state_up = input.opt_bool("admin_state_up")?.unwrap_or(true);
        let port_security = input.opt_bool("port_security_enabled")?.unwrap_or(true);
        let mtu = input.opt_int("mtu")?;
        let hints = input.opt_list("availability_zone_hints")?.unwrap_or_default();
        let id = common::ids::new_uuid();
        if is_default == Some(true) && external == Some(true) {
            self.check_one_default_external_network(&id).await?;
        }
        let record = retrying!(self, tx, {
            self.quota_check(&mut tx, &project_id, "network", 1).await?;
            let seg = self.segment_reserve(&mut tx, requested.clone(), &id).await?;
            let max_mtu = self.mtu_for(&seg.network_type);
            if let Some(m) = mtu {
                if m > max_mtu {
                    return Err(NeutronError::InvalidInput(format!("Requested MTU is too big, maximum is {max_mtu}")));
                }
                if m < 68 {
                    return Err(invalid("mtu", format!("'{m}' is too small - must be at least '68'")));
                }
            }
            let mut body = Map::new();
            body.insert("id".into(), json!(id));
            body.insert("name".into(), json!(name));
            body.insert("project_id".into(), json!(project_id));
            body.insert("admin_state_up".into(), json!(admin_state_up));
            body.insert("status".into(), json!("ACTIVE"));
            body.insert("shared".into(), json!(shared.unwrap_or(false)));
            body.insert("router:external".into(), json!(external.unwrap_or(false)));
            body.insert("port_security_enabled".into(), json!(port_security));
            body.insert("mtu".into(), json!(mtu.unwrap_or(max_mtu)));
            body.insert("provider:network_type".into(), json!(seg.network_type));
            body.insert("provider:physical_network".into(), json!(seg.physical_network));
            body.insert("provider:segmentation_id".into(), json!(seg.segmentation_id));
            body.insert("availability_zone_hints".into(), json!(hints));
            body.insert("availability_zones".into(), json!([]));
            body.insert("is_default".into(), json!(is_default.unwrap_or(false)));
            body.insert("ipv4_address_scope".into(), Value::Null);
            body.insert("ipv6_address_scope".into(), Value::Null);
            standard_attributes(&mut body, description.clone(), true);
            let body = Value::Object(body);
            record_insert(&mut tx, Kind::Network, &body).await?;
            Self::rbac_wildcard_sync(&mut tx, &body, "access_as_shared", shared == Some(true)).await?;
            Self::rbac_wildcard_sync(&mut tx, &body, "access_as_external", external == Some(true)).await?;
            Ok(body)
        })?;
        self.render_one(ctx, Kind::Network, &record).await
    }

    pub async fn network_update(&self, ctx: &RequestContext, id: &str, input: Input, if_match: Option<i64>) -> Result<Value> {
        input.check_known(UPDATE, READ_ONLY)?;
        let (_, target) = self.visible(ctx, Kind::Network, id).await?;
        self.enforce(ctx, "update_network", &target)?;
        let shared = input.opt_bool("shared")?;
        let external = input.opt_bool("router:external")?;
        let is_default = input.opt_bool("is_default")?;
        self.enforce_attributes(
            ctx,
            "update_network",
            &[("shared", shared.is_some()), ("router:external", external.is_some()), ("is_default", is_default.is_some())],
            &target,
        )?;
        let name = input.opt_str_max("name", 255)?;
        let description = input.opt_str_max("description", 255)?;
        let admin_state_up = input.opt_bool("admin_state_up")?;
        let port_security = input.opt_bool("port_security_enabled")?;
        let mtu = input.opt_int("mtu")?;
        let record = retrying!(self, tx, {
            let mut n = record_get_tx(&mut tx, Kind::Network, id).await?.ok_or_else(|| NeutronError::NetworkNotFound(id.to_string()))?;
            check_revision(&n, if_match)?;
            if is_default == Some(true) && external.unwrap_or(n["router:external"] == json!(true)) {
                self.check_one_default_external_network(id).await?;
            }
            if shared == Some(false) && n["shared"] == json!(true) {
                // Projects with their own access_as_shared policy keep their ports.
                let remaining: Vec<Value> = record_list_by_tx(&mut tx, Kind::RbacPolicy, "object_id", id).await?.into_iter().filter(|p| str_of(p, "target_tenant") != "*").collect();
                if Self::rbac_check_unshare(&mut tx, &n, &remaining).await.is_err() {
                    return Err(NeutronError::InvalidSharedSetting { network: id.to_string() });
                }
            }
            if external == Some(false) && n["router:external"] == json!(true) {
                let ports = record_list_by_tx(&mut tx, Kind::Port, "network_id", id).await?;
                if ports.iter().any(|p| matches!(str_of(p, "device_owner"), "network:router_gateway" | "network:floatingip")) {
                    return Err(NeutronError::ExternalNetworkInUse(id.to_string()));
                }
            }
            if let Some(m) = mtu {
                let max = self.mtu_for(str_of(&n, "provider:network_type"));
                if m > max {
                    return Err(NeutronError::InvalidInput(format!("Requested MTU is too big, maximum is {max}")));
                }
                n["mtu"] = json!(m);
            }
            if let Some(v) = &name {
                n["name"] = json!(v);
            }
            if let Some(v) = &description {
                n["description"] = json!(v);
            }
            for (k, v) in [("admin_state_up", admin_state_up), ("shared", shared), ("router:external", external), ("port_security_enabled", port_security), ("is_default", is_default)] {
                if let Some(v) = v {
                    n[k] = json!(v);
                }
            }
            bump_revision(&mut n);
            record_update(&mut tx, Kind::Network, &n).await?;
            if let Some(v) = shared {
                Self::rbac_wildcard_sync(&mut tx, &n, "access_as_shared", v).await?;
            }
            if let Some(v) = external {
                Self::rbac_wildcard_sync(&mut tx, &n, "access_as_external", v).await?;
            }
            Ok(n)
        })?;
        self.render_one(ctx, Kind::Network, &record).await
    }

    /// There is at most one default external network (the one auto-allocation uplinks to).
    async fn check_one_default_external_network(&self, id: &str) -> Result<()> {
        let networks = crate::db::records::record_list(&self.db, Kind::Network).await?;
        match networks.iter().find(|n| n["router:external"] == json!(true) && n["is_default"] == json!(true) && str_of(n, "id") != id) {
            Some(n) => Err(NeutronError::DefaultExternalNetworkExists(str_of(n, "id").to_string())),
            None => Ok(()),
        }
    }

    /// Deletes a network and its subnets; refused while ports other than DHCP ports remain
    /// (upstream's NetworkInUse), including router interfaces, gateways and floating IPs.
    pub async fn network_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (_, target) = self.visible(ctx, Kind::Network, id).await?;
        self.enforce(ctx, "delete_network", &target)?;
        retrying!(self, tx, {
            // Unassociated floating IPs go with their external network, as upstream.
            for fip in record_list_by_tx(&mut tx, Kind::FloatingIp, "floating_network_id", id).await? {
                if fip["port_id"].is_null() {
                    for p in record_list_by_tx(&mut tx, Kind::Port, "device_id", str_of(&fip, "id")).await? {
                        if str_of(&p, "device_owner") == "network:floatingip" {
                            ipdb::ipallocation_delete_by_port(&mut tx, str_of(&p, "id")).await?;
                            record_delete(&mut tx, Kind::Port, str_of(&p, "id")).await?;
                        }
                    }
                    record_delete(&mut tx, Kind::FloatingIp, str_of(&fip, "id")).await?;
                }
            }
            let ports = record_list_by_tx(&mut tx, Kind::Port, "network_id", id).await?;
            if ports.iter().any(|p| str_of(p, "device_owner") != "network:dhcp") {
                return Err(NeutronError::NetworkInUse { net_id: id.to_string(), reason: "There are one or more ports still in use on the network".into() });
            }
            for p in &ports {
                ipdb::ipallocation_delete_by_port(&mut tx, str_of(p, "id")).await?;
                record_delete(&mut tx, Kind::Port, str_of(p, "id")).await?;
            }
            for s in record_list_by_tx(&mut tx, Kind::Subnet, "network_id", id).await? {
                record_delete(&mut tx, Kind::Subnet, str_of(&s, "id")).await?;
            }
            segment_allocation_release(&mut tx, id).await?;
            for p in record_list_by_tx(&mut tx, Kind::RbacPolicy, "object_id", id).await? {
                record_delete(&mut tx, Kind::RbacPolicy, str_of(&p, "id")).await?;
            }
            if !record_delete(&mut tx, Kind::Network, id).await? {
                return Err(NeutronError::NetworkNotFound(id.to_string()));
            }
            Ok(())
        })
    }
}
