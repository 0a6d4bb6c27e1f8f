//! Glance's application layer (glance/api/v2 and glance/domain): visibility and membership
//! rules, the image state machine (queued → saving → active, uploading → importing → active,
//! active ⇄ deactivated, killed on failed data, deleted), authorization, and the data path
//! that streams bytes through hashing and format inspection into the store; and the
//! metadata definitions catalog (metadefs).

pub mod data;
pub mod images;
pub mod metadefs;
pub mod tasks;
mod web;

use std::sync::Arc;

use auth::policy::Enforcer;
use auth::RequestContext;
use db::Db;
use serde_json::{json, Value};

use crate::config::GlanceConfig;
use crate::db::images::{self as idb, Image, Member};
use crate::error::{GlanceError, Result};
use crate::store::{FilesystemStore, Store};

pub struct App {
    pub db: Db,
    pub cfg: GlanceConfig,
    pub policy: Enforcer,
    pub store: Arc<dyn Store>,
    /// The staging area for the interoperable import (`/stage`).
    pub staging: FilesystemStore,
}

pub type SharedApp = Arc<App>;

impl App {
    pub async fn new(cfg: GlanceConfig, db: Db) -> Result<SharedApp> {
        let overrides = match &cfg.policy_file {
            Some(p) if p.exists() => Some(std::fs::read_to_string(p).map_err(|e| GlanceError::Internal(format!("cannot read {}: {e}", p.display())))?),
            _ => None,
        };
        let policy = Enforcer::new(crate::policy::DEFAULTS, overrides.as_deref(), true).map_err(|e| GlanceError::Internal(format!("policy: {e}")))?;
        let store = Arc::new(FilesystemStore::new(cfg.filesystem_store_datadir.clone())?);
        let staging = FilesystemStore::new(cfg.staging_dir.clone())?;
        let app = Arc::new(App { db, cfg, policy, store, staging });
        app.recover_interrupted().await?;
        app.fail_interrupted_tasks().await?;
        Ok(app)
    }

    /// After a crash, images caught mid-upload or mid-import go back to where a client can
    /// retry (queued), as their partial data was removed by the store.
    async fn recover_interrupted(&self) -> Result<()> {
        for mut i in idb::image_list_all(&self.db).await? {
            let from = i.status.clone();
            if from == "saving" || from == "importing" || from == "uploading" {
                i.status = "queued".into();
                i.updated_at = now();
                idb::image_update_if_status(&self.db, &i, &from).await?;
                tracing::warn!(image = %i.id, from = %from, "reset an interrupted upload to queued");
            }
        }
        Ok(())
    }

    pub fn is_admin(&self, ctx: &RequestContext) -> bool {
        matches!(self.policy.check_str("rule:context_is_admin", &json!({}), &ctx.policy_creds()), Ok(true))
    }

    /// The policy target of an image, as Glance's ImageTarget.
    pub fn image_target(&self, image: &Image, member: Option<&Member>) -> Value {
        let member_id = member.map(|m| m.member.clone());
        json!({
            "project_id": image.owner,
            "owner": image.owner,
            "visibility": image.visibility,
            "member_id": member_id,
            "id": image.id,
        })
    }

    pub fn enforce(&self, ctx: &RequestContext, rule: &str, target: &Value) -> Result<()> {
        match self.policy.enforce(rule, target, &ctx.policy_creds()) {
            Ok(true) => Ok(()),
            Ok(false) | Err(auth::policy::PolicyError::InvalidScope { .. }) => Err(GlanceError::Forbidden(format!("You are not authorized to complete {rule} action."))),
            Err(e) => Err(GlanceError::Internal(format!("policy {rule}: {e}"))),
        }
    }

    /// The caller's membership of an image, if any.
    pub async fn membership(&self, ctx: &RequestContext, image: &Image) -> Result<Option<Member>> {
        match ctx.project_id() {
            Some(p) => Ok(idb::member_get(&self.db, &image.id, p).await?),
            None => Ok(None),
        }
    }

    /// Whether the caller may see the image at all (else it is "not found" to them).
    pub async fn visible(&self, ctx: &RequestContext, image: &Image) -> Result<bool> {
        if self.is_admin(ctx) || image.owner.as_deref() == ctx.project_id() {
            return Ok(true);
        }
        Ok(match image.visibility.as_str() {
            "public" | "community" => true,
            "shared" => self.membership(ctx, image).await?.is_some(),
            _ => false,
        })
    }

    /// Loads an image the caller can see and checks `rule` on it.
    pub async fn image_for(&self, ctx: &RequestContext, id: &str, rule: &str) -> Result<(Image, Option<Member>)> {
        let image = idb::image_get(&self.db, id).await?.ok_or_else(|| GlanceError::ImageNotFound(id.to_string()))?;
        if !self.visible(ctx, &image).await? {
            return Err(GlanceError::ImageNotFound(id.to_string()));
        }
        let member = self.membership(ctx, &image).await?;
        self.enforce(ctx, rule, &self.image_target(&image, member.as_ref()))?;
        Ok((image, member))
    }
}

/// Now, in stored microseconds.
pub fn now() -> i64 {
    common::time::to_micros(common::time::now())
}
