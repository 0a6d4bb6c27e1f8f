//! Key pairs (nova/compute/api.py KeypairAPI): import a public key or generate a key pair,
//! per user, under the `key_pairs` quota; admins may act for another user (2.10).

use auth::RequestContext;
use serde_json::json;

use super::crypto;
use super::App;
use crate::db::key_pairs::{self as kdb, KeyPair};
use crate::error::{NovaError, Result};

/// `ssh` or `x509`.
pub const KEYPAIR_TYPE_SSH: &str = "ssh";
pub const KEYPAIR_TYPE_X509: &str = "x509";

/// One page of a user's key pairs.
pub struct KeyPairPage {
    pub key_pairs: Vec<KeyPair>,
    pub more: bool,
}

impl App {
    fn keypair_user<'a>(&self, ctx: &'a RequestContext, user_id: Option<&'a str>) -> &'a str {
        user_id.unwrap_or_else(|| ctx.user_id().unwrap_or_default())
    }

    /// POST /os-keypairs: imports `public_key`, or generates a key pair when there is none
    /// (then the private key is returned once, never stored).
    pub async fn keypair_create(&self, ctx: &RequestContext, user_id: Option<&str>, name: &str, key_type: &str, public_key: Option<&str>) -> Result<(KeyPair, Option<String>)> {
        let user_id = self.keypair_user(ctx, user_id).to_string();
        self.enforce(ctx, "os_compute_api:os-keypairs:create", &json!({"user_id": user_id}))?;
        self.keypair_quota_check(ctx, &user_id).await?;
        let (public_key, fingerprint, private_key) = match public_key {
            Some(pk) => {
                let fp = if key_type == KEYPAIR_TYPE_X509 { crypto::x509_fingerprint(pk) } else { crypto::ssh_fingerprint(pk) };
                let fp = fp.map_err(|e| NovaError::BadRequest(format!("Keypair data is invalid: {e}")))?;
                (pk.to_string(), fp, None)
            }
            None => {
                let user = user_id.clone();
                let x509 = key_type == KEYPAIR_TYPE_X509;
                let generate = move || if x509 { crypto::generate_x509_key_pair(&user) } else { crypto::generate_ssh_key_pair() };
                let (private, public, fp) = tokio::task::spawn_blocking(generate)
                    .await
                    .map_err(|e| NovaError::Internal(format!("key generation task: {e}")))?
                    .map_err(|e| NovaError::Internal(e.to_string()))?;
                (public, fp, Some(private))
            }
        };
        let mut kp = KeyPair { id: 0, user_id: user_id.clone(), name: name.to_string(), fingerprint, public_key, key_type: key_type.to_string(), created_at: super::now() };
        match kdb::key_pair_create(&self.api_db, &mut kp).await {
            Ok(()) => {}
            Err(db::DbError::Duplicate(_)) => return Err(NovaError::Conflict(format!("Key pair '{name}' already exists."))),
            Err(e) => return Err(e.into()),
        }
        // Recheck after the insert, so two racing creates cannot both pass the quota.
        if let Err(e) = self.keypair_quota_recheck(ctx, &user_id).await {
            kdb::key_pair_destroy(&self.api_db, &user_id, name).await?;
            return Err(e);
        }
        Ok((kp, private_key))
    }

    /// The user's effective `key_pairs` limit: upstream merges the project-level and the
    /// user-level limit with `min` (so -1 on either side means unlimited).
    async fn keypair_limit(&self, ctx: &RequestContext, user_id: &str) -> Result<i64> {
        let project_id = ctx.project_id().unwrap_or_default();
        let project = self.quota_limits(project_id, None).await?;
        let user = self.quota_limits(project_id, Some(user_id)).await?;
        let p = project.get("key_pairs").copied().unwrap_or(-1);
        let u = user.get("key_pairs").copied().unwrap_or(-1);
        Ok(p.min(u))
    }

    async fn keypair_quota_check(&self, ctx: &RequestContext, user_id: &str) -> Result<()> {
        let limit = self.keypair_limit(ctx, user_id).await?;
        let count = kdb::key_pair_count_by_user(&self.api_db, user_id).await?;
        if limit >= 0 && count + 1 > limit {
            return Err(NovaError::OverQuota("Quota exceeded, too many key pairs.".into()));
        }
        Ok(())
    }

    async fn keypair_quota_recheck(&self, ctx: &RequestContext, user_id: &str) -> Result<()> {
        let limit = self.keypair_limit(ctx, user_id).await?;
        let count = kdb::key_pair_count_by_user(&self.api_db, user_id).await?;
        if limit >= 0 && count > limit {
            return Err(NovaError::OverQuota("Quota exceeded, too many key pairs.".into()));
        }
        Ok(())
    }

    /// GET /os-keypairs/{name}.
    pub async fn keypair_get(&self, ctx: &RequestContext, user_id: Option<&str>, name: &str) -> Result<KeyPair> {
        let user_id = self.keypair_user(ctx, user_id);
        self.enforce(ctx, "os_compute_api:os-keypairs:show", &json!({"user_id": user_id}))?;
        kdb::key_pair_get(&self.api_db, user_id, name).await?.ok_or_else(|| NovaError::NotFound(format!("Keypair {name} not found for user {user_id}")))
    }

    /// DELETE /os-keypairs/{name}.
    pub async fn keypair_delete(&self, ctx: &RequestContext, user_id: Option<&str>, name: &str) -> Result<()> {
        let user_id = self.keypair_user(ctx, user_id);
        self.enforce(ctx, "os_compute_api:os-keypairs:delete", &json!({"user_id": user_id}))?;
        if !kdb::key_pair_destroy(&self.api_db, user_id, name).await? {
            return Err(NovaError::NotFound(format!("Keypair {name} not found for user {user_id}")));
        }
        Ok(())
    }

    /// GET /os-keypairs: the user's key pairs by name, paged from 2.35 (`limit`, `marker`).
    pub async fn keypair_list(&self, ctx: &RequestContext, user_id: Option<&str>, limit: Option<usize>, marker: Option<&str>) -> Result<KeyPairPage> {
        let user_id = self.keypair_user(ctx, user_id);
        self.enforce(ctx, "os_compute_api:os-keypairs:index", &json!({"user_id": user_id}))?;
        let all = kdb::key_pair_list_by_user(&self.api_db, user_id).await?;
        let page = common::pagination::PageParams { limit: limit.map(|l| l.min(self.cfg.max_limit)).or(Some(self.cfg.max_limit)), marker: marker.map(str::to_string) };
        let (key_pairs, more) = page.apply(all, |k| k.name.as_str()).map_err(|m| NovaError::BadRequest(format!("Marker {m} could not be found.")))?;
        Ok(KeyPairPage { key_pairs, more })
    }
}
