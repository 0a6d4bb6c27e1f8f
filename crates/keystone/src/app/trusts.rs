//! Trusts (OS-TRUST, keystone/trust/core.py): a trustor delegates some of their roles on a
//! project to a trustee, optionally with impersonation, an expiry and a number of uses.
//! Deleting a trust revokes the tokens issued through it.

use serde_json::{Map, Value};

use super::assignment::RoleTarget;
use super::App;
use crate::db::assignment as adb;
use crate::db::tokens::RevocationEvent;
use crate::db::trusts::{self as trdb, Trust};
use crate::error::{KeystoneError, Result};
use common::time::{parse_iso, to_micros};

impl App {
    /// Creates a trust from the request body; the caller must be the trustor.
    pub async fn trust_create(&self, caller_user: &str, body: &Map<String, Value>) -> Result<Trust> {
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let trustor = s("trustor_user_id").ok_or_else(|| KeystoneError::invalid_field("trustor_user_id", "'trustor_user_id' is a required property"))?;
        let trustee = s("trustee_user_id").ok_or_else(|| KeystoneError::invalid_field("trustee_user_id", "'trustee_user_id' is a required property"))?;
        let impersonation = match body.get("impersonation") {
            Some(Value::Bool(b)) => *b,
            None => false,
            Some(_) => return Err(KeystoneError::invalid_field("impersonation", "must be a boolean")),
        };
        if trustor != caller_user {
            return Err(KeystoneError::Forbidden("The authenticated user should match the trustor.".into()));
        }
        self.user_get_checked(&trustee).await.map_err(|_| KeystoneError::Validation(format!("Could not find trustee: {trustee}.")))?;
        let expires_at = match body.get("expires_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(to_micros(parse_iso(t).ok_or_else(|| KeystoneError::invalid_field("expires_at", format!("'{t}' is not a valid timestamp")))?)),
            Some(_) => return Err(KeystoneError::invalid_field("expires_at", "must be a string")),
        };
        let remaining_uses = match body.get("remaining_uses") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v > 0) => n.as_i64(),
            Some(_) => return Err(KeystoneError::invalid_field("remaining_uses", "must be a positive integer or null")),
        };
        let project_id = s("project_id");
        let mut role_ids = Vec::new();
        if let Some(Value::Array(roles)) = body.get("roles") {
            for r in roles {
                let role = if let Some(id) = r.get("id").and_then(Value::as_str) {
                    adb::role_get(&self.db, id).await?
                } else if let Some(name) = r.get("name").and_then(Value::as_str) {
                    adb::role_get_by_name(&self.db, name, None).await?
                } else {
                    None
                };
                let role = role.ok_or_else(|| KeystoneError::NotFoundMessage(format!("Role {r} is not defined")))?;
                role_ids.push(role.id);
            }
        }
        if let Some(p) = &project_id {
            self.project_get_checked(p).await?;
            let held = self.effective_roles(&trustor, &RoleTarget::Project(p.clone())).await?;
            for r in &role_ids {
                if !held.iter().any(|h| &h.id == r) {
                    return Err(KeystoneError::Forbidden(format!("Trustor does not hold role {r} on project {p}.")));
                }
            }
        } else if !role_ids.is_empty() {
            return Err(KeystoneError::Forbidden("Trusts without a project cannot delegate roles.".into()));
        }
        let t = Trust {
            id: common::ids::new_hex_id(),
            trustor_user_id: trustor,
            trustee_user_id: trustee,
            project_id,
            impersonation,
            expires_at,
            remaining_uses,
            deleted_at: None,
            redelegated_trust_id: None,
            redelegation_count: None,
            extra: Map::new(),
            role_ids,
        };
        trdb::trust_create(&self.db, &t).await?;
        self.bump();
        Ok(t)
    }

    pub async fn trust_get_checked(&self, id: &str) -> Result<Trust> {
        let t = trdb::trust_get(&self.db, id).await?.ok_or_else(|| KeystoneError::not_found("trust", id))?;
        if t.expires_at.is_some_and(|e| e <= to_micros(common::time::now())) {
            return Err(KeystoneError::not_found("trust", id));
        }
        Ok(t)
    }

    pub async fn trust_delete(&self, t: &Trust) -> Result<()> {
        trdb::trust_delete(&self.db, &t.id, to_micros(common::time::now())).await?;
        self.revoke(RevocationEvent { trust_id: Some(t.id.clone()), ..Default::default() }).await?;
        Ok(())
    }
}
