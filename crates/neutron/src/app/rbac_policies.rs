//! RBAC policies (neutron/db/rbac_db_mixin.py and the network's rbac callbacks): an owner
//! shares a network with one project or, as the admin, with every project (`*`), through
//! `access_as_shared`; `access_as_external` with `*` makes it an external network for all.
//!
//! A network's `shared` and `router:external` attributes are its `*` policies: setting them on
//! the network creates or deletes those policies, and creating or deleting the policies sets
//! them. A policy for one project makes the network (and its subnets) visible to that project,
//! shown there as `shared: true`, and lets it create ports on it. Removing a share that a
//! project's ports depend on is refused (`RbacPolicyInUse`).

use auth::RequestContext;
use serde_json::{json, Map, Value};

use super::input::{invalid, Input};
use super::{bump_revision, standard_attributes, str_of, App};
use crate::db::records::{record_delete, record_get_tx, record_insert, record_list_by_tx, record_update};
use crate::db::Kind;
use crate::error::{NeutronError, Result};

const CREATE: &[&str] = &["object_type", "object_id", "action", "target_tenant", "target_project", "project_id", "tenant_id"];
const UPDATE: &[&str] = &["target_tenant", "target_project"];
const ACTIONS: &[&str] = &["access_as_external", "access_as_shared"];

/// The network attribute a `*` policy of `action` stands for.
fn flag_of(action: &str) -> &'static str {
    if action == "access_as_shared" {
        "shared"
    } else {
        "router:external"
    }
}

impl App {
    pub async fn rbac_policy_create(&self, ctx: &RequestContext, input: Input) -> Result<Value> {
        input.check_known(CREATE, &["id"])?;
        let project_id = self.owner_of_new(ctx, &input, "rbac_policy")?;
        let object_type = input.opt_str("object_type")?.ok_or_else(|| invalid("object_type", "object_type is required"))?;
        if object_type != "network" {
            return Err(invalid("object_type", format!("'{object_type}' is not in ['network']")));
        }
        let action = input.opt_str("action")?.ok_or_else(|| invalid("action", "action is required"))?;
        if !ACTIONS.contains(&action.as_str()) {
            return Err(NeutronError::InvalidActionForType { action, object_type, valid_actions: format!("{ACTIONS:?}") });
        }
        let target_tenant = input.opt_str("target_tenant")?.or(input.opt_str("target_project")?).ok_or_else(|| invalid("target_tenant", "target_tenant is required"))?;
        let object_id = input.opt_str("object_id")?.ok_or_else(|| invalid("object_id", "object_id is required"))?;
        let target = json!({"project_id": project_id, "target_tenant": target_tenant});
        self.enforce(ctx, "create_rbac_policy", &target)?;
        self.enforce_attributes(ctx, "create_rbac_policy", &[("target_tenant", target_tenant == "*")], &target)?;
        let (network, _) = self.visible(ctx, Kind::Network, &object_id).await?;
        if str_of(&network, "project_id") != project_id && !self.is_admin(ctx) {
            return Err(NeutronError::InvalidInput("Only admins can manipulate policies on networks they do not own".into()));
        }
        if action == "access_as_external" && target_tenant != "*" {
            return Err(NeutronError::InvalidInput("access_as_external is supported for every project ('*') only on this cloud".into()));
        }
        let id = common::ids::new_uuid();
        let record = retrying!(self, tx, {
            let mut body = Map::new();
            body.insert("id".into(), json!(id));
            body.insert("project_id".into(), json!(project_id));
            body.insert("object_type".into(), json!(object_type));
            body.insert("object_id".into(), json!(object_id));
            body.insert("action".into(), json!(action));
            body.insert("target_tenant".into(), json!(target_tenant));
            standard_attributes(&mut body, None, false);
            let body = Value::Object(body);
            Self::rbac_policy_insert(&mut tx, &body).await?;
            Ok(body)
        })?;
        self.render_one(ctx, Kind::RbacPolicy, &record).await
    }

    /// Inserts a policy (DuplicateRbacPolicy when the same one exists) and sets the network's
    /// attribute for a `*` policy.
    async fn rbac_policy_insert(tx: &mut db::Tx, body: &Value) -> Result<()> {
        let (object_id, action, target) = (str_of(body, "object_id"), str_of(body, "action"), str_of(body, "target_tenant"));
        if record_list_by_tx(tx, Kind::RbacPolicy, "object_id", object_id).await?.iter().any(|p| str_of(p, "action") == action && str_of(p, "target_tenant") == target) {
            return Err(NeutronError::DuplicateRbacPolicy);
        }
        record_insert(tx, Kind::RbacPolicy, body).await?;
        if target == "*" {
            let mut n = record_get_tx(tx, Kind::Network, object_id).await?.ok_or_else(|| NeutronError::NetworkNotFound(object_id.to_string()))?;
            if n[flag_of(action)] != json!(true) {
                n[flag_of(action)] = json!(true);
                bump_revision(&mut n);
                record_update(tx, Kind::Network, &n).await?;
            }
        }
        Ok(())
    }

    /// Refuses to stop sharing `network` when a project other than the owner has ports on it
    /// that `remaining` policies no longer cover (upstream's RbacPolicyInUse).
    pub(crate) async fn rbac_check_unshare(tx: &mut db::Tx, network: &Value, remaining: &[Value]) -> Result<()> {
        let network_id = str_of(network, "id");
        let owner = str_of(network, "project_id");
        let covered = |project: &str| remaining.iter().any(|p| str_of(p, "action") == "access_as_shared" && (str_of(p, "target_tenant") == "*" || str_of(p, "target_tenant") == project));
        for port in record_list_by_tx(tx, Kind::Port, "network_id", network_id).await? {
            let project = str_of(&port, "project_id");
            if !project.is_empty() && project != owner && !covered(project) {
                return Err(NeutronError::RbacPolicyInUse { object_id: network_id.to_string(), details: format!("Project {project} has ports on network {network_id}") });
            }
        }
        Ok(())
    }

    /// Deletes one policy inside `tx`: refused while in use; a `*` policy clears the
    /// network's attribute.
    async fn rbac_policy_remove(tx: &mut db::Tx, policy: &Value) -> Result<()> {
        let (id, object_id, action) = (str_of(policy, "id"), str_of(policy, "object_id"), str_of(policy, "action"));
        let mut network = record_get_tx(tx, Kind::Network, object_id).await?.ok_or_else(|| NeutronError::NetworkNotFound(object_id.to_string()))?;
        let remaining: Vec<Value> = record_list_by_tx(tx, Kind::RbacPolicy, "object_id", object_id).await?.into_iter().filter(|p| str_of(p, "id") != id).collect();
        if action == "access_as_shared" {
            Self::rbac_check_unshare(tx, &network, &remaining).await?;
        } else if str_of(policy, "target_tenant") == "*" {
            let ports = record_list_by_tx(tx, Kind::Port, "network_id", object_id).await?;
            if ports.iter().any(|p| matches!(str_of(p, "device_owner"), "network:router_gateway" | "network:floatingip")) {
                return Err(NeutronError::RbacPolicyInUse { object_id: object_id.to_string(), details: "routers or floating IPs use it as an external network".into() });
            }
        }
        if !record_delete(tx, Kind::RbacPolicy, id).await? {
            return Err(NeutronError::RbacPolicyNotFound { id: id.to_string(), object_type: "network".into() });
        }
        if str_of(policy, "target_tenant") == "*" && !remaining.iter().any(|p| str_of(p, "action") == action && str_of(p, "target_tenant") == "*") {
            network[flag_of(action)] = json!(false);
            bump_revision(&mut network);
            record_update(tx, Kind::Network, &network).await?;
        }
        Ok(())
    }

    pub async fn rbac_policy_update(&self, ctx: &RequestContext, id: &str, input: Input) -> Result<Value> {
        input.check_known(UPDATE, &["id", "object_type", "object_id", "action", "project_id", "tenant_id"])?;
        let (_, target) = self.visible(ctx, Kind::RbacPolicy, id).await?;
        self.enforce(ctx, "update_rbac_policy", &target)?;
        let new_target = input.opt_str("target_tenant")?.or(input.opt_str("target_project")?);
        self.enforce_attributes(ctx, "update_rbac_policy", &[("target_tenant", new_target.as_deref() == Some("*"))], &target)?;
        let record = retrying!(self, tx, {
            let current = record_get_tx(&mut tx, Kind::RbacPolicy, id).await?.ok_or_else(|| NeutronError::RbacPolicyNotFound { id: id.to_string(), object_type: "network".into() })?;
            let Some(t) = &new_target else { return Ok(current) };
            if t == str_of(&current, "target_tenant") {
                return Ok(current);
            }
            if str_of(&current, "action") == "access_as_external" && t != "*" {
                return Err(NeutronError::InvalidInput("access_as_external is supported for every project ('*') only on this cloud".into()));
            }
            // A new target is the old policy removed (with its in-use check) and the new added.
            Self::rbac_policy_remove(&mut tx, &current).await?;
            let mut updated = current.clone();
            updated["target_tenant"] = json!(t);
            bump_revision(&mut updated);
            Self::rbac_policy_insert(&mut tx, &updated).await?;
            Ok(updated)
        })?;
        self.render_one(ctx, Kind::RbacPolicy, &record).await
    }

    pub async fn rbac_policy_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (_, target) = self.visible(ctx, Kind::RbacPolicy, id).await?;
        self.enforce(ctx, "delete_rbac_policy", &target)?;
        retrying!(self, tx, {
            let policy = record_get_tx(&mut tx, Kind::RbacPolicy, id).await?.ok_or_else(|| NeutronError::RbacPolicyNotFound { id: id.to_string(), object_type: "network".into() })?;
            Self::rbac_policy_remove(&mut tx, &policy).await
        })
    }

    /// Keeps a network's `*` policy of `action` in step with its attribute (`shared`,
    /// `router:external`) when the network API sets it.
    pub(crate) async fn rbac_wildcard_sync(tx: &mut db::Tx, network: &Value, action: &str, on: bool) -> Result<()> {
        let network_id = str_of(network, "id");
        let existing: Vec<Value> = record_list_by_tx(tx, Kind::RbacPolicy, "object_id", network_id).await?.into_iter().filter(|p| str_of(p, "action") == action && str_of(p, "target_tenant") == "*").collect();
        if on && existing.is_empty() {
            let mut body = Map::new();
            body.insert("id".into(), json!(common::ids::new_uuid()));
            body.insert("project_id".into(), json!(str_of(network, "project_id")));
            body.insert("object_type".into(), json!("network"));
            body.insert("object_id".into(), json!(network_id));
            body.insert("action".into(), json!(action));
            body.insert("target_tenant".into(), json!("*"));
            standard_attributes(&mut body, None, false);
            record_insert(tx, Kind::RbacPolicy, &Value::Object(body)).await?;
        }
        if !on {
            for p in existing {
                record_delete(tx, Kind::RbacPolicy, str_of(&p, "id")).await?;
            }
        }
        Ok(())
    }
}
