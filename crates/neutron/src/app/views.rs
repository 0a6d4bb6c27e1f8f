//! What a caller sees of a record: whether `get_<resource>` lets them see it at all (shared
//! and external networks and their subnets for everyone), the computed attributes (a
//! network's `subnets`, a group's `security_group_rules`, `tenant_id`), and the attributes
//! their policy hides (provider attributes and port bindings are the admin's).

use std::collections::HashMap;

use auth::RequestContext;
use serde_json::{json, Value};

use super::listing::{self, ListQuery};
use super::{not_found, str_of, App};
use crate::db::records::{record_get, record_list};
use crate::db::Kind;
use crate::error::Result;

/// The attributes a `get_<resource>:<attribute>` rule may hide.
const GUARDED: &[(Kind, &str)] = &[
    (Kind::Network, "provider:network_type"),
    (Kind::Network, "provider:physical_network"),
    (Kind::Network, "provider:segmentation_id"),
    (Kind::Network, "segments"),
    (Kind::Port, "binding:host_id"),
    (Kind::Port, "binding:vif_type"),
    (Kind::Port, "binding:vif_details"),
    (Kind::Port, "binding:profile"),
    (Kind::Router, "distributed"),
    (Kind::Router, "ha"),
];

/// Related records a rendering needs, loaded once per request.
#[derive(Default)]
pub struct Related {
    pub networks: HashMap<String, Value>,
    pub subnets_by_network: HashMap<String, Vec<String>>,
    pub groups: HashMap<String, Value>,
    pub rules_by_group: HashMap<String, Vec<Value>>,
    /// The projects each network is shared with by an `access_as_shared` RBAC policy.
    pub shared_with: HashMap<String, Vec<String>>,
}

impl Related {
    async fn load_shares(&mut self, app: &App, network_id: Option<&str>) -> Result<()> {
        let policies = match network_id {
            Some(id) => crate::db::records::record_list_by(&app.db, Kind::RbacPolicy, "object_id", id).await?,
            None => record_list(&app.db, Kind::RbacPolicy).await?,
        };
        for p in policies.iter().filter(|p| str_of(p, "action") == "access_as_shared") {
            self.shared_with.entry(str_of(p, "object_id").to_string()).or_default().push(str_of(p, "target_tenant").to_string());
        }
        Ok(())
    }
}

impl App {
    pub async fn related(&self, kind: Kind) -> Result<Related> {
        let mut r = Related::default();
        if matches!(kind, Kind::Network | Kind::Subnet | Kind::Port) {
            for n in record_list(&self.db, Kind::Network).await? {
                r.networks.insert(str_of(&n, "id").to_string(), n);
            }
        }
        if matches!(kind, Kind::Network | Kind::Subnet | Kind::Port) {
            r.load_shares(self, None).await?;
        }
        if kind == Kind::Network {
            for s in record_list(&self.db, Kind::Subnet).await? {
                r.subnets_by_network.entry(str_of(&s, "network_id").to_string()).or_default().push(str_of(&s, "id").to_string());
            }
        }
        if matches!(kind, Kind::SecurityGroup | Kind::SecurityGroupRule) {
            for g in record_list(&self.db, Kind::SecurityGroup).await? {
                r.groups.insert(str_of(&g, "id").to_string(), g);
            }
        }
        if kind == Kind::SecurityGroup {
            for rule in record_list(&self.db, Kind::SecurityGroupRule).await? {
                r.rules_by_group.entry(str_of(&rule, "security_group_id").to_string()).or_default().push(rule);
            }
        }
        Ok(r)
    }

    /// The policy target of a record: the record plus the attributes of its parents that
    /// upstream's rules refer to.
    pub fn target_of(kind: Kind, record: &Value, related: &Related) -> Value {
        let mut t = record.clone();
        match kind {
            Kind::Subnet | Kind::Port => {
                let net = related.networks.get(str_of(record, "network_id"));
                t["network:project_id"] = json!(net.map(|n| str_of(n, "project_id")).unwrap_or(""));
                t["shared"] = json!(net.is_some_and(|n| n["shared"] == json!(true)));
                t["router:external"] = json!(net.is_some_and(|n| n["router:external"] == json!(true)));
                t["network_device"] = json!(str_of(record, "device_owner").starts_with("network:"));
            }
            Kind::SecurityGroupRule => {
                let g = related.groups.get(str_of(record, "security_group_id"));
                t["security_group:project_id"] = json!(g.map(|g| str_of(g, "project_id")).unwrap_or(""));
            }
            _ => {}
        }
        t
    }

    /// A network (or a subnet's or port's network) is shared with the caller when it is
    /// shared with everyone or an RBAC policy shares it with the caller's project (upstream
    /// shows such a network as `shared: true` to that project).
    fn share_for_caller(ctx: &RequestContext, kind: Kind, record: &Value, target: &mut Value, related: &Related) {
        let network_id = match kind {
            Kind::Network => str_of(record, "id"),
            Kind::Subnet | Kind::Port => str_of(record, "network_id"),
            _ => return,
        };
        let project = ctx.project_id().unwrap_or_default();
        if related.shared_with.get(network_id).is_some_and(|targets| targets.iter().any(|t| t == "*" || (!project.is_empty() && t == project))) {
            target["shared"] = json!(true);
        }
    }

    /// The caller's view of a record, or None when they may not see it.
    pub fn render(&self, ctx: &RequestContext, kind: Kind, record: &Value, related: &Related) -> Result<Option<Value>> {
        let mut target = Self::target_of(kind, record, related);
        Self::share_for_caller(ctx, kind, record, &mut target, related);
        if !self.allowed(ctx, &format!("get_{}", kind.singular()), &target)? {
            return Ok(None);
        }
        let mut v = record.clone();
        v["tenant_id"] = v.get("project_id").cloned().unwrap_or(json!(""));
        match kind {
            Kind::Network => {
                v["subnets"] = json!(related.subnets_by_network.get(str_of(record, "id")).cloned().unwrap_or_default());
                v["shared"] = target["shared"].clone();
            }
            Kind::SecurityGroup => {
                let mut rules = Vec::new();
                for rule in related.rules_by_group.get(str_of(record, "id")).map(Vec::as_slice).unwrap_or_default() {
                    if let Some(r) = self.render(ctx, Kind::SecurityGroupRule, rule, related)? {
                        rules.push(r);
                    }
                }
                v["security_group_rules"] = json!(rules);
            }
            _ => {}
        }
        if let Some(obj) = v.as_object_mut() {
            for (k, attr) in GUARDED {
                if *k == kind && obj.contains_key(*attr) && !self.allowed(ctx, &format!("get_{}:{attr}", kind.singular()), &target)? {
                    obj.remove(*attr);
                }
            }
        }
        Ok(Some(v))
    }

    /// `GET /v2.0/<resources>`: what the caller may see, filtered, sorted and paged.
    pub async fn list(&self, ctx: &RequestContext, kind: Kind, query: &ListQuery, base_href: &str) -> Result<(Vec<Value>, Vec<Value>)> {
        if kind == Kind::SecurityGroup {
            if let Some(p) = ctx.project_id() {
                self.ensure_default_security_group(p).await?;
            }
        }
        let related = self.related(kind).await?;
        let mut items = Vec::new();
        for r in record_list(&self.db, kind).await? {
            if let Some(v) = self.render(ctx, kind, &r, &related)? {
                items.push(v);
            }
        }
        listing::apply(items, query, base_href)
    }

    /// `GET /v2.0/<resources>/{id}`: 404 when it does not exist or the caller may not see it.
    pub async fn show(&self, ctx: &RequestContext, kind: Kind, id: &str, fields: &[String]) -> Result<Value> {
        let record = record_get(&self.db, kind, id).await?.ok_or_else(|| not_found(kind, id))?;
        let related = self.related(kind).await?;
        let v = self.render(ctx, kind, &record, &related)?.ok_or_else(|| not_found(kind, id))?;
        Ok(if fields.is_empty() { v } else { listing::project(v, fields) })
    }

    /// The record if the caller may see it (else the resource's 404), with its policy target.
    pub async fn visible(&self, ctx: &RequestContext, kind: Kind, id: &str) -> Result<(Value, Value)> {
        let record = record_get(&self.db, kind, id).await?.ok_or_else(|| not_found(kind, id))?;
        let related = self.related_for(kind, &record).await?;
        let mut target = Self::target_of(kind, &record, &related);
        Self::share_for_caller(ctx, kind, &record, &mut target, &related);
        if !self.allowed(ctx, &format!("get_{}", kind.singular()), &target)? {
            return Err(not_found(kind, id));
        }
        Ok((record, target))
    }

    /// Just the parents one record's target needs.
    pub async fn related_for(&self, kind: Kind, record: &Value) -> Result<Related> {
        let mut r = Related::default();
        match kind {
            Kind::Subnet | Kind::Port => {
                let id = str_of(record, "network_id");
                if let Some(n) = record_get(&self.db, Kind::Network, id).await? {
                    r.networks.insert(id.to_string(), n);
                }
                r.load_shares(self, Some(id)).await?;
            }
            Kind::Network => r.load_shares(self, Some(str_of(record, "id"))).await?,
            Kind::SecurityGroupRule => {
                let id = str_of(record, "security_group_id");
                if let Some(g) = record_get(&self.db, Kind::SecurityGroup, id).await? {
                    r.groups.insert(id.to_string(), g);
                }
            }
            _ => {}
        }
        Ok(r)
    }

    /// Renders one record for the response of a create or update.
    pub async fn render_one(&self, ctx: &RequestContext, kind: Kind, record: &Value) -> Result<Value> {
        let mut related = self.related_for(kind, record).await?;
        match kind {
            Kind::Network => {
                let subnets = crate::db::records::record_list_by(&self.db, Kind::Subnet, "network_id", str_of(record, "id")).await?;
                related.subnets_by_network.insert(str_of(record, "id").to_string(), subnets.iter().map(|s| str_of(s, "id").to_string()).collect());
            }
            Kind::SecurityGroup => {
                let rules = crate::db::records::record_list_by(&self.db, Kind::SecurityGroupRule, "security_group_id", str_of(record, "id")).await?;
                related.groups.insert(str_of(record, "id").to_string(), record.clone());
                related.rules_by_group.insert(str_of(record, "id").to_string(), rules);
            }
            _ => {}
        }
        // A creator always sees what they created, even where the read rule is narrower.
        let mut v = match self.render(ctx, kind, record, &related)? {
            Some(v) => v,
            None => {
                let mut v = record.clone();
                v["tenant_id"] = v.get("project_id").cloned().unwrap_or(json!(""));
                v
            }
        };
        if kind == Kind::Network && v.get("subnets").is_none() {
            v["subnets"] = json!([]);
        }
        Ok(v)
    }
}
