//! Credentials, EC2 credentials, application credentials and access rules
//! (keystone/credential/core.py with the Fernet credential provider in
//! keystone/credential/providers/fernet, keystone/application_credential/core.py, and the
//! rules keystone/api/credentials.py and users.py add on top).
//!
//! Credential blobs are encrypted at rest with the credential key repository (a
//! [`MultiFernet`], primary key first) and each row records the SHA-1 of the primary key that
//! encrypted it, as upstream's `primary_key_hash`, so `credential_migrate`-style re-encryption
//! can find rows made with older keys. Application credential secrets are kept only as bcrypt
//! hashes.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::assignment::RoleTarget;
use super::{App, Caller};
use crate::db::credentials::{self as cdb, AccessRule, ApplicationCredential, Credential};
use crate::error::{KeystoneError, Result};
use crate::token::fernet::{encode_key, MultiFernet};

/// Upstream's `CRED_TYPE_EC2`.
pub const CRED_TYPE_EC2: &str = "ec2";
/// The methods an access rule may allow.
pub const ACCESS_RULE_METHODS: [&str; 6] = ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The id of an EC2 credential: the SHA-256 of its access key (upstream's `hash_access_key`).
pub fn ec2_credential_id(access: &str) -> String {
    hex(&Sha256::digest(access.as_bytes()))
}

/// The `key_hash` stored beside an encrypted blob: SHA-1 of the primary key's text, as
/// upstream's `primary_key_hash`.
pub fn primary_key_hash(key: &[u8; 32]) -> String {
    hex(&Sha1::digest(encode_key(key).as_bytes()))
}

/// A new application credential secret: 64 random bytes, url-safe base64 without padding,
/// as upstream's `_generate_secret`.
pub fn generate_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 64];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads an ec2 credential blob: JSON with an `access` key (upstream's `_validate_blob_json`).
pub fn ec2_blob(blob: &str) -> Result<Map<String, Value>> {
    let v: Value = serde_json::from_str(blob).map_err(|_| KeystoneError::Validation("Invalid blob in credential".into()))?;
    let m = match v {
        Value::Object(m) if !m.is_empty() => m,
        _ => return Err(super::catalog_admin::expecting("blob", "credential")),
    };
    if m.get("access").is_none_or(Value::is_null) {
        return Err(super::catalog_admin::expecting("access", "credential"));
    }
    Ok(m)
}

/// Upstream's `parse_expiration_date`: ISO 8601, taken as UTC, not in the past.
pub fn parse_expiration(text: &str) -> Result<DateTime<Utc>> {
    let t = common::time::parse_iso(text).ok_or_else(|| {
        KeystoneError::Validation(
            "Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.".into(),
        )
    })?;
    if t < Utc::now() {
        return Err(KeystoneError::Validation(
            "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.".into(),
        ));
    }
    Ok(t)
}

/// A credential with its blob in the clear.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialRef {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub credential_type: String,
    pub blob: String,
    pub extra: Map<String, Value>,
}

/// A role an application credential asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum RoleSpec {
    Id(String),
    Name(String),
}

/// An access rule an application credential asks for: an existing one by id, or a new
/// (service, path, method) triple.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessRuleSpec {
    pub id: Option<String>,
    pub service: Option<String>,
    pub path: Option<String>,
    pub method: Option<String>,
}

/// What POST /v3/users/{user_id}/application_credentials asks for.
#[derive(Debug, Clone)]
pub struct AppCredRequest {
    pub name: String,
    pub description: Option<String>,
    pub secret: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub roles: Vec<RoleSpec>,
    pub unrestricted: bool,
    pub access_rules: Vec<AccessRuleSpec>,
}

impl Caller {
    /// A trust or application credential token (upstream's "delegated" tokens).
    pub fn is_delegated(&self) -> bool {
        self.token.trust.is_some() || self.token.payload.app_cred_id.is_some()
    }

    /// Refuses a restricted application credential token for managing credentials.
    pub fn check_unrestricted_app_cred(&self, what: &str) -> Result<()> {
        let restricted = self.token.app_cred.as_ref().is_some_and(|a| a.restricted);
        if self.token.payload.methods.iter().any(|m| m == "application_credential") && restricted {
            return Err(KeystoneError::forbidden_action(&format!("Using method 'application_credential' is not allowed for managing additional {what}")));
        }
        Ok(())
    }

    /// Delegated tokens may only touch credentials of the project they are scoped to
    /// (upstream's `_check_credential_project_scope`).
    pub fn check_credential_project_scope(&self, project_id: Option<&str>, message: &str) -> Result<()> {
        if !self.is_delegated() {
            return Ok(());
        }
        let token_project = self.token.project.as_ref().map(|p| p.id.as_str());
        if project_id.is_none() || project_id != token_project {
            return Err(KeystoneError::forbidden_action(message));
        }
        Ok(())
    }

    /// Trust-scoped tokens may not manage application credentials or access rules.
    pub fn block_trust_for_app_creds(&self) -> Result<()> {
        if self.token.trust.is_some() {
            return Err(KeystoneError::Forbidden("Cannot manage application credentials with a token issued via delegation.".into()));
        }
        Ok(())
    }
}

impl App {
    // --------------------------------------------------------------------------- credentials

    fn credential_crypto(&self) -> Result<(MultiFernet, String)> {
        let keys = self.credential_keys.load().map_err(|e| KeystoneError::Internal(format!("credential keys: {e}")))?;
        let hash = keys.first().map(primary_key_hash).ok_or_else(|| KeystoneError::Internal("no credential keys".into()))?;
        let crypto = MultiFernet::new(&keys).map_err(|e| KeystoneError::Internal(format!("credential keys: {e}")))?;
        Ok((crypto, hash))
    }

    fn credential_seal(&self, c: &CredentialRef) -> Result<Credential> {
        let (crypto, key_hash) = self.credential_crypto()?;
        Ok(Credential {
            id: c.id.clone(),
            user_id: c.user_id.clone(),
            project_id: c.project_id.clone(),
            credential_type: c.credential_type.clone(),
            encrypted_blob: crypto.encrypt(c.blob.as_bytes()),
            key_hash,
            extra: c.extra.clone(),
        })
    }

    fn credential_open(&self, c: Credential, crypto: &MultiFernet) -> Result<CredentialRef> {
        let blob = crypto
            .decrypt(&c.encrypted_blob)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| KeystoneError::Internal(format!("Credential could not be decrypted. Please contact the administrator (credential {})", c.id)))?;
        Ok(CredentialRef { id: c.id, user_id: c.user_id, project_id: c.project_id, credential_type: c.credential_type, blob, extra: c.extra })
    }

    pub async fn credential_get(&self, id: &str) -> Result<Option<CredentialRef>> {
        match cdb::credential_get(&self.db, id).await? {
            Some(c) => {
                let (crypto, _) = self.credential_crypto()?;
                Ok(Some(self.credential_open(c, &crypto)?))
            }
            None => Ok(None),
        }
    }

    pub async fn credential_get_checked(&self, id: &str) -> Result<CredentialRef> {
        self.credential_get(id).await?.ok_or_else(|| KeystoneError::not_found("credential", id))
    }

    pub async fn credential_list(&self, user_id: Option<&str>, credential_type: Option<&str>) -> Result<Vec<CredentialRef>> {
        let rows = cdb::credential_list(&self.db, user_id, credential_type).await?;
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let (crypto, _) = self.credential_crypto()?;
        rows.into_iter().map(|c| self.credential_open(c, &crypto)).collect()
    }

    /// Stores a new credential. For `ec2` the id is the hash of the access key and the blob
    /// records the trust or application credential of a delegated token, so EC2 tokens made
    /// from it are delegated the same way.
    pub async fn credential_create(&self, caller: &Caller, mut c: CredentialRef) -> Result<CredentialRef> {
        if c.credential_type.eq_ignore_ascii_case(CRED_TYPE_EC2) {
            let mut blob = ec2_blob(&c.blob)?;
            let access = match blob.get("access") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            c.id = ec2_credential_id(&access);
            let mut changed = false;
            if let Some(t) = &caller.token.trust {
                blob.insert("trust_id".into(), Value::String(t.id.clone()));
                changed = true;
            }
            if let Some(a) = &caller.token.payload.app_cred_id {
                blob.insert("app_cred_id".into(), Value::String(a.clone()));
                changed = true;
            }
            if changed {
                c.blob = Value::Object(blob).to_string();
            }
        }
        if cdb::credential_get(&self.db, &c.id).await?.is_some() {
            return Err(KeystoneError::duplicate("credential", format!("Duplicate entry found with ID {}", c.id)));
        }
        cdb::credential_create(&self.db, &self.credential_seal(&c)?).await?;
        self.bump();
        Ok(c)
    }

    /// Applies a PATCH to a credential (the blob is re-encrypted with the current primary key).
    pub async fn credential_update(&self, mut c: CredentialRef, changes: &Map<String, Value>) -> Result<CredentialRef> {
        let new_type = changes.get("type").and_then(Value::as_str).unwrap_or(&c.credential_type).to_string();
        if new_type.eq_ignore_ascii_case(CRED_TYPE_EC2) {
            let project = match changes.get("project_id") {
                Some(v) => v.as_str().map(str::to_string),
                None => c.project_id.clone(),
            };
            if project.as_deref().is_none_or(str::is_empty) {
                return Err(super::catalog_admin::expecting("project_id", "credential"));
            }
        }
        if c.credential_type.eq_ignore_ascii_case(CRED_TYPE_EC2) {
            if let Some(Value::String(new_blob)) = changes.get("blob") {
                // A delegated scope recorded in the blob can be neither changed nor dropped.
                let new = ec2_blob(new_blob)?;
                let old: Map<String, Value> = serde_json::from_str(&c.blob).unwrap_or_default();
                for key in ["trust_id", "app_cred_id", "access_token_id", "access_id"] {
                    if old.get(key) != new.get(key) {
                        return Err(KeystoneError::Validation(format!("{key} can not be updated for credential")));
                    }
                }
            }
        }
        for (k, v) in changes {
            match k.as_str() {
                "id" | "links" => {}
                "user_id" => c.user_id = v.as_str().unwrap_or_default().to_string(),
                "project_id" => c.project_id = v.as_str().map(str::to_string),
                "type" => c.credential_type = v.as_str().unwrap_or_default().to_string(),
                "blob" => c.blob = v.as_str().unwrap_or_default().to_string(),
                _ => {
                    c.extra.insert(k.clone(), v.clone());
                }
            }
        }
        cdb::credential_update(&self.db, &self.credential_seal(&c)?).await?;
        self.bump();
        Ok(c)
    }

    pub async fn credential_delete(&self, id: &str) -> Result<()> {
        if cdb::credential_delete(&self.db, id).await? == 0 {
            return Err(KeystoneError::not_found("credential", id));
        }
        self.bump();
        Ok(())
    }

    /// POST /v3/users/{user_id}/credentials/OS-EC2: a new access/secret pair for a project.
    pub async fn ec2_credential_create(&self, caller: &Caller, user_id: &str, tenant_id: Option<&str>) -> Result<CredentialRef> {
        caller.check_unrestricted_app_cred("application credentials.")?;
        crate::db::identity::user_get(&self.db, user_id).await?.ok_or_else(|| KeystoneError::not_found("user", user_id))?;
        let project_id = tenant_id.unwrap_or("None");
        crate::db::resource::project_get(&self.db, project_id).await?.ok_or_else(|| KeystoneError::not_found("project", project_id))?;
        caller.check_credential_project_scope(Some(project_id), "EC2 credential project does not match the project scope of the delegated token")?;
        let access = common::ids::new_hex_id();
        let blob = serde_json::json!({
            "access": access,
            "secret": common::ids::new_hex_id(),
            "trust_id": caller.token.trust.as_ref().map(|t| t.id.clone()),
        });
        let c = CredentialRef {
            id: ec2_credential_id(&access),
            user_id: user_id.to_string(),
            project_id: Some(project_id.to_string()),
            credential_type: CRED_TYPE_EC2.to_string(),
            blob: blob.to_string(),
            extra: Map::new(),
        };
        cdb::credential_create(&self.db, &self.credential_seal(&c)?).await?;
        self.bump();
        Ok(c)
    }

    // ---------------------------------------------------------------- application credentials

    pub async fn app_cred_get_checked(&self, id: &str) -> Result<ApplicationCredential> {
        cdb::app_cred_get(&self.db, id).await?.ok_or_else(|| KeystoneError::NotFoundMessage(format!("Could not find Application Credential: {id}.")))
    }

    /// The roles of the application credential: the ones asked for (with what they imply),
    /// each of which the caller's token must carry, or else all of the token's roles.
    async fn app_cred_roles(&self, caller: &Caller, specs: &[RoleSpec]) -> Result<Vec<String>> {
        let token_roles: Vec<String> = caller.token.roles.iter().map(|r| r.id.clone()).collect();
        if specs.is_empty() {
            return Ok(token_roles);
        }
        let mut ids = Vec::new();
        for s in specs {
            let id = match s {
                RoleSpec::Id(id) => id.clone(),
                RoleSpec::Name(name) => {
                    crate::db::assignment::role_get_by_name(&self.db, name, None).await?.ok_or_else(|| KeystoneError::not_found("role", name))?.id
                }
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let ids = self.expand_role_ids(&ids).await?;
        if ids.iter().any(|r| !token_roles.contains(r)) {
            return Err(KeystoneError::Validation("Invalid application credential: Cannot create an application credential with unassigned role".into()));
        }
        Ok(ids)
    }

    /// Resolves the access rules asked for into ids, reusing the user's identical rules and
    /// returning the rules that must be created.
    async fn app_cred_access_rules(&self, user_id: &str, specs: &[AccessRuleSpec]) -> Result<(Vec<String>, Vec<AccessRule>)> {
        let existing = cdb::access_rule_list_for_user(&self.db, user_id).await?;
        let mut ids: Vec<String> = Vec::new();
        let mut new_rules: Vec<AccessRule> = Vec::new();
        for s in specs {
            let by_id = s.id.as_ref().and_then(|id| existing.iter().chain(new_rules.iter()).find(|r| &r.id == id));
            let rule_id = match (by_id, &s.service, &s.path, &s.method) {
                (Some(r), _, _, _) => r.id.clone(),
                (None, Some(service), Some(path), Some(method)) => {
                    let same = |r: &&AccessRule| r.service == *service && r.path == *path && r.method == *method;
                    match existing.iter().chain(new_rules.iter()).find(same) {
                        Some(r) => r.id.clone(),
                        None => {
                            let id = s.id.clone().unwrap_or_else(common::ids::new_hex_id);
                            if !cdb::access_rule_list_by_ids(&self.db, std::slice::from_ref(&id)).await?.is_empty() {
                                return Err(KeystoneError::duplicate("access_rule", format!("Duplicate entry found with ID {id}")));
                            }
                            new_rules.push(AccessRule { id: id.clone(), user_id: user_id.to_string(), service: service.clone(), path: path.clone(), method: method.clone() });
                            id
                        }
                    }
                }
                (None, _, _, _) => {
                    let id = s.id.clone().unwrap_or_default();
                    return Err(KeystoneError::NotFoundMessage(format!("Could not find Access Rule: {id}.")));
                }
            };
            if !ids.contains(&rule_id) {
                ids.push(rule_id);
            }
        }
        Ok((ids, new_rules))
    }

    /// Creates an application credential for the caller on the caller's project; returns it
    /// with the secret in the clear (shown once).
    pub async fn app_cred_create(&self, caller: &Caller, user_id: &str, req: AppCredRequest) -> Result<(ApplicationCredential, String)> {
        let project_id = caller
            .token
            .project
            .as_ref()
            .map(|p| p.id.clone())
            .ok_or_else(|| KeystoneError::Validation("Invalid application credential: a project-scoped token is required".into()))?;
        let role_ids = self.app_cred_roles(caller, &req.roles).await?;
        let held = self.effective_roles(user_id, &RoleTarget::Project(project_id.clone())).await?;
        if let Some(missing) = role_ids.iter().find(|r| !held.iter().any(|h| h.id == **r)) {
            return Err(KeystoneError::Validation(format!(
                "Invalid application credential: Could not find role assignment with role: {missing}, user or group: {user_id}, project, domain, or system: {project_id}."
            )));
        }
        if cdb::app_cred_get_by_name(&self.db, user_id, &req.name).await?.is_some() {
            return Err(KeystoneError::duplicate("application_credential", format!("Duplicate entry found with name {}", req.name)));
        }
        let (access_rule_ids, new_rules) = self.app_cred_access_rules(user_id, &req.access_rules).await?;
        let secret = req.secret.filter(|s| !s.is_empty()).unwrap_or_else(generate_secret);
        let secret_hash = super::auth::hash_password(secret.clone(), self.cfg.password_hash_rounds).await?;
        let c = ApplicationCredential {
            id: common::ids::new_hex_id(),
            name: req.name,
            secret_hash,
            description: req.description,
            user_id: user_id.to_string(),
            project_id: Some(project_id),
            expires_at: req.expires_at.map(common::time::to_micros),
            system: None,
            unrestricted: req.unrestricted,
            created_at: common::time::to_micros(common::time::now()),
            role_ids,
            access_rule_ids,
        };
        cdb::app_cred_create(&self.db, &c, &new_rules).await?;
        self.bump();
        Ok((c, secret))
    }

    /// Deletes an application credential. Its tokens stop validating at once: validation
    /// re-reads the credential (gone now) once `bump` has invalidated the token cache, which is
    /// how upstream invalidates them too, without a revocation event that would also catch the
    /// user's own tokens on the project.
    pub async fn app_cred_delete(&self, id: &str) -> Result<()> {
        if cdb::app_cred_delete(&self.db, id).await? == 0 {
            return Err(KeystoneError::NotFoundMessage(format!("Could not find Application Credential: {id}.")));
        }
        self.bump();
        Ok(())
    }

    // -------------------------------------------------------------------------- access rules

    /// A user's access rule (rules of other users are not found under this user).
    pub async fn access_rule_get_checked(&self, user_id: &str, id: &str) -> Result<AccessRule> {
        cdb::access_rule_list_by_ids(&self.db, &[id.to_string()])
            .await?
            .into_iter()
            .find(|r| r.user_id == user_id)
            .ok_or_else(|| KeystoneError::NotFoundMessage(format!("Could not find Access Rule: {id}.")))
    }

    /// Deletes an access rule no application credential uses.
    pub async fn access_rule_delete(&self, user_id: &str, id: &str) -> Result<()> {
        self.access_rule_get_checked(user_id, id).await?;
        if cdb::access_rule_in_use(&self.db, id).await? {
            return Err(KeystoneError::Forbidden("May not delete access rule in use".into()));
        }
        cdb::access_rule_delete(&self.db, id).await?;
        self.bump();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_id_is_sha256_of_access() {
        assert_eq!(ec2_credential_id("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn key_hash_is_sha1_of_the_key_text() {
        let key = [0u8; 32];
        // sha1("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        assert_eq!(primary_key_hash(&key).len(), 40);
        assert_eq!(primary_key_hash(&key), hex(&Sha1::digest(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")));
    }

    #[test]
    fn secrets_are_url_safe_and_long() {
        let s = generate_secret();
        assert_eq!(s.len(), 86);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(s, generate_secret());
    }

    #[test]
    fn ec2_blobs_need_access() {
        assert!(ec2_blob(r#"{"access": "a", "secret": "s"}"#).is_ok());
        assert_eq!(ec2_blob("not json").unwrap_err().to_string(), "Invalid blob in credential");
        assert!(ec2_blob(r#"{"secret": "s"}"#).unwrap_err().to_string().starts_with("Expecting to find access in credential."));
        assert!(ec2_blob("[]").is_err());
    }

    #[test]
    fn expiration_must_be_in_the_future() {
        assert!(parse_expiration("2999-01-01T00:00:00").is_ok());
        assert!(parse_expiration("2999-01-01T00:00:00Z").is_ok());
        assert!(parse_expiration("2000-01-01T00:00:00Z").unwrap_err().to_string().starts_with("The 'expires_at' must not be before now."));
        assert!(parse_expiration("soon").unwrap_err().to_string().starts_with("Timestamp not in expected format."));
    }
}
