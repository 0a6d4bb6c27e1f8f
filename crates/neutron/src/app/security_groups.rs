//! Security groups and rules (neutron/db/securitygroups_db.py): every project gets a
//! `default` group on first need, with upstream's rules (egress anywhere for IPv4 and IPv6,
//! ingress from members of the same group); every new group gets the two egress rules;
//! rules are validated as upstream (protocol by name or number, port ranges only for
//! protocols with ports, ICMP type/code, one remote, ethertype matching the prefix) and a
//! duplicate is refused with the id of the rule it repeats.

use auth::RequestContext;
use serde_json::{json, Map, Value};

use super::input::{invalid, Input};
use super::ipam::{Cidr, CidrError};
use super::{bump_revision, standard_attributes, str_of, App};
use crate::db::records::{record_delete, record_get_tx, record_insert, record_list_by_tx, record_update};
use crate::db::security_groups::{default_security_group_create, default_security_group_delete, default_security_group_get, port_security_group_ports};
use crate::db::Kind;
use crate::error::{NeutronError, Result};

const CREATE: &[&str] = &["name", "description", "stateful", "project_id", "tenant_id"];
const UPDATE: &[&str] = &["name", "description", "stateful"];
const RULE_CREATE: &[&str] = &[
    "security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id",
    "remote_address_group_id", "description", "project_id", "tenant_id",
];

/// Protocol names upstream accepts (neutron_lib.constants.IP_PROTOCOL_MAP) and their numbers.
const PROTOCOLS: &[(&str, i64)] = &[
    ("ah", 51), ("dccp", 33), ("egp", 8), ("esp", 50), ("gre", 47), ("hopopt", 0), ("icmp", 1), ("igmp", 2), ("ipip", 4), ("ipv6-encap", 41),
    ("ipv6-frag", 44), ("ipv6-icmp", 58), ("icmpv6", 58), ("ipv6-nonxt", 59), ("ipv6-opts", 60), ("ipv6-route", 43), ("ospf", 89), ("pgm", 113),
    ("rsvp", 46), ("sctp", 132), ("tcp", 6), ("udp", 17), ("udplite", 136), ("vrrp", 112),
];
const PORT_PROTOCOLS: &[i64] = &[6, 17, 33, 132, 136];

fn protocol_number(p: &str) -> Option<i64> {
    PROTOCOLS.iter().find(|(n, _)| *n == p).map(|(_, v)| *v).or_else(|| p.parse::<i64>().ok().filter(|n| (0..=255).contains(n)))
}

/// One new rule's stored form (shared by the defaults and the API).
#[allow(clippy::too_many_arguments)]
fn rule_body(id: &str, project_id: &str, group_id: &str, direction: &str, ethertype: &str, protocol: Option<String>, ports: (Option<i64>, Option<i64>), remote_ip_prefix: Option<String>, normalized: Option<String>, remote_group_id: Option<String>, description: Option<String>) -> Value {
    let mut b = Map::new();
    b.insert("id".into(), json!(id));
    b.insert("project_id".into(), json!(project_id));
    b.insert("security_group_id".into(), json!(group_id));
    b.insert("direction".into(), json!(direction));
    b.insert("ethertype".into(), json!(ethertype));
    b.insert("protocol".into(), json!(protocol));
    b.insert("port_range_min".into(), json!(ports.0));
    b.insert("port_range_max".into(), json!(ports.1));
    b.insert("remote_ip_prefix".into(), json!(remote_ip_prefix));
    b.insert("normalized_cidr".into(), json!(normalized));
    b.insert("remote_group_id".into(), json!(remote_group_id));
    b.insert("remote_address_group_id".into(), Value::Null);
    standard_attributes(&mut b, description, false);
    Value::Object(b)
}

fn egress_defaults(project_id: &str, group_id: &str) -> Vec<Value> {
    ["IPv4", "IPv6"].iter().map(|e| rule_body(&common::ids::new_uuid(), project_id, group_id, "egress", e, None, (None, None), None, None, None, None)).collect()
}

/// Whether two rules are the same rule (upstream's `_check_for_duplicate_rules`).
fn same_rule(a: &Value, b: &Value) -> bool {
    let proto = |v: &Value| v["protocol"].as_str().and_then(protocol_number);
    ["direction", "ethertype", "port_range_min", "port_range_max", "remote_group_id", "security_group_id"].iter().all(|k| a[*k] == b[*k])
        && a["normalized_cidr"] == b["normalized_cidr"]
        && proto(a) == proto(b)
}

impl App {
    /// The project's default group, created (with its rules) if it does not exist yet.
    pub async fn ensure_default_security_group(&self, project_id: &str) -> Result<String> {
        // Most calls find it: a plain read, without taking SQLite's writer lock.
        if let Some(id) = crate::db::security_groups::default_security_group_lookup(&self.db, project_id).await? {
            return Ok(id);
        }
        retrying!(self, tx, {
            if let Some(id) = default_security_group_get(&mut tx, project_id).await? {
                return Ok(id);
            }
            let id = common::ids::new_uuid();
            // The key on default_security_groups makes a concurrent creator lose and retry.
            default_security_group_create(&mut tx, project_id, &id).await?;
            let mut g = Map::new();
            g.insert("id".into(), json!(id));
            g.insert("name".into(), json!("default"));
            g.insert("project_id".into(), json!(project_id));
            g.insert("stateful".into(), json!(true));
            g.insert("shared".into(), json!(false));
            standard_attributes(&mut g, Some("Default security group".into()), true);
            record_insert(&mut tx, Kind::SecurityGroup, &Value::Object(g)).await?;
            let mut rules = egress_defaults(project_id, &id);
            for e in ["IPv4", "IPv6"] {
                rules.push(rule_body(&common::ids::new_uuid(), project_id, &id, "ingress", e, None, (None, None), None, None, Some(id.clone()), None));
            }
            for r in &rules {
                record_insert(&mut tx, Kind::SecurityGroupRule, r).await?;
            }
            Ok(id)
        })
    }

    pub async fn security_group_create(&self, ctx: &RequestContext, input: Input) -> Result<Value> {
        input.check_known(CREATE, &[])?;
        let project_id = self.owner_of_new(ctx, &input, "security_group")?;
        self.enforce(ctx, "create_security_group", &json!({"project_id": project_id}))?;
        let name = input.opt_str_max("name", 255)?.unwrap_or_default();
        if name == "default" {
            return Err(NeutronError::Conflict("Default security group already exists.".into()));
        }
        let description = input.opt_str_max("description", 255)?;
        let stateful = input.opt_bool("stateful")?.unwrap_or(true);
        self.ensure_default_security_group(&project_id).await?;
        let id = common::ids::new_uuid();
        let record = retrying!(self, tx, {
            self.quota_check(&mut tx, &project_id, "security_group", 1).await?;
            let mut g = Map::new();
            g.insert("id".into(), json!(id));
            g.insert("name".into(), json!(name));
            g.insert("project_id".into(), json!(project_id));
            g.insert("stateful".into(), json!(stateful));
            g.insert("shared".into(), json!(false));
            standard_attributes(&mut g, description.clone(), true);
            let g = Value::Object(g);
            record_insert(&mut tx, Kind::SecurityGroup, &g).await?;
            for r in egress_defaults(&project_id, &id) {
                record_insert(&mut tx, Kind::SecurityGroupRule, &r).await?;
            }
            Ok(g)
        })?;
        self.render_one(ctx, Kind::SecurityGroup, &record).await
    }

    pub async fn security_group_update(&self, ctx: &RequestContext, id: &str, input: Input, if_match: Option<i64>) -> Result<Value> {
        input.check_known(UPDATE, &["id", "project_id", "tenant_id", "security_group_rules"])?;
        let (_, target) = self.visible(ctx, Kind::SecurityGroup, id).await?;
        self.enforce(ctx, "update_security_group", &target)?;
        let record = retrying!(self, tx, {
            let mut g = record_get_tx(&mut tx, Kind::SecurityGroup, id).await?.ok_or_else(|| NeutronError::SecurityGroupNotFound(id.to_string()))?;
            super::check_revision(&g, if_match)?;
            if let Some(n) = input.opt_str_max("name", 255)? {
                if g["name"] == json!("default") && n != "default" {
                    return Err(NeutronError::SecurityGroupCannotUpdateDefault);
                }
                if g["name"] != json!("default") && n == "default" {
                    return Err(NeutronError::Conflict("Default security group already exists.".into()));
                }
                g["name"] = json!(n);
            }
            if let Some(d) = input.opt_str_max("description", 255)? {
                g["description"] = json!(d);
            }
            if let Some(s) = input.opt_bool("stateful")? {
                if !port_security_group_ports(&mut tx, id).await?.is_empty() && g["stateful"] != json!(s) {
                    return Err(NeutronError::SecurityGroupInUse { id: id.to_string(), reason: "in use".into() });
                }
                g["stateful"] = json!(s);
            }
            bump_revision(&mut g);
            record_update(&mut tx, Kind::SecurityGroup, &g).await?;
            Ok(g)
        })?;
        self.render_one(ctx, Kind::SecurityGroup, &record).await
    }

    pub async fn security_group_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (group, target) = self.visible(ctx, Kind::SecurityGroup, id).await?;
        self.enforce(ctx, "delete_security_group", &target)?;
        if group["name"] == json!("default") && !self.is_admin(ctx) {
            return Err(NeutronError::SecurityGroupCannotRemoveDefault);
        }
        retrying!(self, tx, {
            if !port_security_group_ports(&mut tx, id).await?.is_empty() {
                return Err(NeutronError::SecurityGroupInUse { id: id.to_string(), reason: "in use".into() });
            }
            for r in record_list_by_tx(&mut tx, Kind::SecurityGroupRule, "security_group_id", id).await? {
                record_delete(&mut tx, Kind::SecurityGroupRule, str_of(&r, "id")).await?;
            }
            // Rules of other groups that name this one as their remote go with it.
            for r in record_list_by_tx(&mut tx, Kind::SecurityGroupRule, "remote_group_id", id).await? {
                record_delete(&mut tx, Kind::SecurityGroupRule, str_of(&r, "id")).await?;
            }
            default_security_group_delete(&mut tx, id).await?;
            if !record_delete(&mut tx, Kind::SecurityGroup, id).await? {
                return Err(NeutronError::SecurityGroupNotFound(id.to_string()));
            }
            Ok(())
        })
    }

    pub async fn security_group_rule_create(&self, ctx: &RequestContext, input: Input) -> Result<Value> {
        input.check_known(RULE_CREATE, &[])?;
        let group_id = input.opt_str("security_group_id")?.ok_or_else(|| invalid("security_group_id", "a security_group_id is required"))?;
        let (group, _) = self.visible(ctx, Kind::SecurityGroup, &group_id).await?;
        let project_id = match (input.opt_str("project_id")?, input.opt_str("tenant_id")?) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => str_of(&group, "project_id").to_string(),
        };
        self.enforce(ctx, "create_security_group_rule", &json!({"project_id": project_id, "security_group:project_id": str_of(&group, "project_id")}))?;
        let direction = input.opt_str("direction")?.ok_or_else(|| invalid("direction", "direction is required"))?;
        if direction != "ingress" && direction != "egress" {
            return Err(invalid("direction", format!("'{direction}' is not in ['ingress', 'egress']")));
        }
        let ethertype = input.opt_str("ethertype")?.unwrap_or_else(|| "IPv4".into());
        let ethertype = match ethertype.to_ascii_lowercase().as_str() {
            "ipv4" => "IPv4".to_string(),
            "ipv6" => "IPv6".to_string(),
            _ => return Err(NeutronError::SecurityGroupRuleInvalidEtherType(ethertype)),
        };
        let protocol = match input.get("protocol") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::String(s)) if s.is_empty() || s.eq_ignore_ascii_case("any") => None,
            Some(Value::String(s)) => Some(s.to_ascii_lowercase()),
            Some(v) => return Err(NeutronError::SecurityGroupRuleInvalidProtocol(v.to_string())),
        };
        let proto_num = match &protocol {
            Some(p) => Some(protocol_number(p).ok_or_else(|| NeutronError::SecurityGroupRuleInvalidProtocol(p.clone()))?),
            None => None,
        };
        if ethertype == "IPv4" && proto_num == Some(58) {
            return Err(NeutronError::InvalidInput(format!("Invalid ethertype {ethertype} for protocol {}.", protocol.clone().unwrap_or_default())));
        }
        let min = input.opt_int("port_range_min")?;
        let max = input.opt_int("port_range_max")?;
        match proto_num {
            None if min.is_some() || max.is_some() => return Err(NeutronError::SecurityGroupProtocolRequiredWithPorts),
            Some(n) if PORT_PROTOCOLS.contains(&n) => {
                for (v, _) in [(min, "port_range_min"), (max, "port_range_max")] {
                    if let Some(v) = v {
                        if !(1..=65535).contains(&v) {
                            return Err(NeutronError::SecurityGroupInvalidPortValue(v.to_string()));
                        }
                    }
                }
                // Upstream wants both ends (or neither) with min <= max.
                match (min, max) {
                    (Some(a), Some(b)) if a > b => return Err(NeutronError::SecurityGroupInvalidPortRange),
                    (None, Some(_)) | (Some(_), None) => return Err(NeutronError::SecurityGroupInvalidPortRange),
                    _ => {}
                }
            }
            Some(1) | Some(58) => {
                for (v, field, attr) in [(min, "type", "port_range_min"), (max, "code", "port_range_max")] {
                    if let Some(v) = v {
                        if !(0..=255).contains(&v) {
                            return Err(NeutronError::SecurityGroupInvalidIcmpValue { field, attr, value: v.to_string() });
                        }
                    }
                }
                if min.is_none() {
                    if let Some(m) = max {
                        return Err(NeutronError::SecurityGroupMissingIcmpType(m.to_string()));
                    }
                }
            }
            Some(_) if min.is_some() || max.is_some() => {
                return Err(NeutronError::InvalidInput(format!(
                    "Ports cannot be specified for protocol {}. Ports are only supported for ['tcp', 'udp', 'dccp', 'sctp', 'udplite', '6', '17', '33', '132', '136'].",
                    protocol.clone().unwrap_or_default()
                )))
            }
            _ => {}
        }
        let remote_ip_prefix = input.opt_str("remote_ip_prefix")?;
        let remote_group_id = input.opt_str("remote_group_id")?;
        if input.opt_str("remote_address_group_id")?.is_some() {
            return Err(NeutronError::bad("security_group_rule", "address groups are not supported by this cloud"));
        }
        if remote_ip_prefix.is_some() && remote_group_id.is_some() {
            return Err(NeutronError::SecurityGroupMultipleRemoteEntites);
        }
        let normalized = match &remote_ip_prefix {
            Some(p) => {
                let c = match Cidr::parse(p) {
                    Ok(c) => c,
                    Err(CidrError::NotCanonical(c)) => Cidr::parse(&c).map_err(|_| invalid("remote_ip_prefix", format!("'{p}' is not a valid IP subnet")))?,
                    Err(CidrError::Invalid) => return Err(invalid("remote_ip_prefix", format!("'{p}' is not a valid IP subnet"))),
                };
                let want = if ethertype == "IPv4" { 4 } else { 6 };
                if c.version() != want {
                    return Err(NeutronError::SecurityGroupRuleParameterConflict { ethertype: ethertype.clone(), cidr: p.clone() });
                }
                Some(c.to_string())
            }
            None => None,
        };
        let description = input.opt_str_max("description", 255)?;
        let id = common::ids::new_uuid();
        let rule = rule_body(&id, &project_id, &group_id, &direction, &ethertype, protocol, (min, max), remote_ip_prefix, normalized, remote_group_id.clone(), description);
        let record = retrying!(self, tx, {
            record_get_tx(&mut tx, Kind::SecurityGroup, &group_id).await?.ok_or_else(|| NeutronError::SecurityGroupNotFound(group_id.clone()))?;
            if let Some(r) = &remote_group_id {
                record_get_tx(&mut tx, Kind::SecurityGroup, r).await?.ok_or_else(|| NeutronError::SecurityGroupNotFound(r.clone()))?;
            }
            for existing in record_list_by_tx(&mut tx, Kind::SecurityGroupRule, "security_group_id", &group_id).await? {
                if same_rule(&existing, &rule) {
                    return Err(NeutronError::SecurityGroupRuleExists(str_of(&existing, "id").to_string()));
                }
            }
            self.quota_check(&mut tx, &project_id, "security_group_rule", 1).await?;
            record_insert(&mut tx, Kind::SecurityGroupRule, &rule).await?;
            let mut g = record_get_tx(&mut tx, Kind::SecurityGroup, &group_id).await?.ok_or_else(|| NeutronError::SecurityGroupNotFound(group_id.clone()))?;
            bump_revision(&mut g);
            record_update(&mut tx, Kind::SecurityGroup, &g).await?;
            Ok(rule.clone())
        })?;
        self.render_one(ctx, Kind::SecurityGroupRule, &record).await
    }

    pub async fn security_group_rule_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (rule, target) = self.visible(ctx, Kind::SecurityGroupRule, id).await?;
        self.enforce(ctx, "delete_security_group_rule", &target)?;
        let group_id = str_of(&rule, "security_group_id").to_string();
        retrying!(self, tx, {
            if !record_delete(&mut tx, Kind::SecurityGroupRule, id).await? {
                return Err(NeutronError::SecurityGroupRuleNotFound(id.to_string()));
            }
            if let Some(mut g) = record_get_tx(&mut tx, Kind::SecurityGroup, &group_id).await? {
                bump_revision(&mut g);
                record_update(&mut tx, Kind::SecurityGroup, &g).await?;
            }
            Ok(())
        })
    }
}
