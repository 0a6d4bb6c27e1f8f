//! Projects and domains (keystone/resource/core.py): hierarchy rules (a parent in the same
//! domain, bounded depth, no enabling under a disabled parent, no disabling over an enabled
//! subtree, delete only leaves unless cascading), domains deleted only once disabled, and the
//! token revocations that follow disabling or deleting.

use serde_json::{Map, Value};

use super::{App, Caller};
use crate::db::resource::{self as rdb, Project};
use crate::db::schema::DOMAIN_ROOT;
use crate::db::tokens::RevocationEvent;
use crate::error::{KeystoneError, Result};

/// Checks project tags as upstream's schema does.
pub fn validate_tags(tags: &[String]) -> Result<()> {
    if tags.len() > 80 {
        return Err(KeystoneError::invalid_field("tags", "at most 80 tags are allowed"));
    }
    for t in tags {
        if t.is_empty() || t.chars().count() > 255 || t.contains('/') || t.contains(',') {
            return Err(KeystoneError::invalid_field("tags", format!("'{t}' is not a valid tag (1-255 characters, no '/' or ',')")));
        }
    }
    Ok(())
}

impl App {
    /// The domain a new project or user goes to when the request names none: the caller's
    /// scope's domain, else `default`.
    pub fn default_domain_for(&self, caller: &Caller) -> String {
        if let Some((d, _)) = &caller.token.domain {
            return d.clone();
        }
        if let Some(p) = &caller.token.project {
            return p.domain_id.clone();
        }
        "default".to_string()
    }

    pub async fn project_get_checked(&self, id: &str) -> Result<Project> {
        rdb::project_get(&self.db, id).await?.ok_or_else(|| KeystoneError::not_found("project", id))
    }

    pub async fn domain_get_checked(&self, id: &str) -> Result<Project> {
        rdb::domain_get(&self.db, id).await?.ok_or_else(|| KeystoneError::not_found("domain", id))
    }

    /// Creates a project (or, with `is_domain`, a domain) after checking the hierarchy.
    pub async fn project_create(&self, mut p: Project, tags: Vec<String>) -> Result<Project> {
        validate_tags(&tags)?;
        if p.is_domain {
            return self.domain_create(p, tags).await;
        }
        let domain = self.domain_get_checked(&p.domain_id).await?;
        match p.parent_id.clone() {
            Some(parent_id) if parent_id != domain.id => {
                let parent = rdb::project_get(&self.db, &parent_id).await?.ok_or_else(|| KeystoneError::Validation(format!("Could not find parent project: {parent_id}.")))?;
                if parent.domain_id != p.domain_id {
                    return Err(KeystoneError::Validation("Cannot create project, the parent is in a different domain.".into()));
                }
                if !parent.enabled && p.enabled {
                    return Err(KeystoneError::Forbidden(format!("Cannot create project, since its parent ({parent_id}) is disabled.")));
                }
                let depth = rdb::project_ancestors(&self.db, &parent).await?.len() + 2;
                if depth > self.cfg.max_project_tree_depth {
                    return Err(KeystoneError::Forbidden(format!(
                        "Max hierarchy depth reached for {parent_id} branch."
                    )));
                }
            }
            _ => p.parent_id = Some(domain.id.clone()),
        }
        if rdb::project_get_by_name(&self.db, &p.name, &p.domain_id).await?.is_some() {
            return Err(KeystoneError::duplicate("project", format!("it is not permitted to have two projects with the same name in the same domain : {}", p.name)));
        }
        rdb::project_create(&self.db, &p, &tags).await?;
        self.bump();
        Ok(p)
    }

    pub async fn domain_create(&self, mut d: Project, tags: Vec<String>) -> Result<Project> {
        d.domain_id = DOMAIN_ROOT.to_string();
        d.parent_id = None;
        d.is_domain = true;
        if rdb::domain_get_by_name(&self.db, &d.name).await?.is_some() {
            return Err(KeystoneError::duplicate("domain", format!("It is not permitted to have two projects acting as domains with the same name: {}", d.name)));
        }
        rdb::project_create(&self.db, &d, &tags).await?;
        self.bump();
        Ok(d)
    }

    /// Applies an update; `tags` replaces the tag list when given.
    pub async fn project_update(&self, mut p: Project, changes: &Map<String, Value>, tags: Option<Vec<String>>) -> Result<Project> {
        if let Some(t) = &tags {
            validate_tags(t)?;
        }
        let was_enabled = p.enabled;
        if let Some(Value::String(n)) = changes.get("name") {
            if *n != p.name {
                let clash = if p.is_domain { rdb::domain_get_by_name(&self.db, n).await? } else { rdb::project_get_by_name(&self.db, n, &p.domain_id).await? };
                if clash.is_some_and(|c| c.id != p.id) {
                    return Err(KeystoneError::duplicate(if p.is_domain { "domain" } else { "project" }, format!("it is not permitted to have two projects with the same name in the same domain : {n}")));
                }
                p.name = n.clone();
            }
        }
        if let Some(v) = changes.get("description") {
            p.description = v.as_str().unwrap_or_default().to_string();
        }
        if let Some(Value::Bool(e)) = changes.get("enabled") {
            p.enabled = *e;
        }
        for (k, v) in changes {
            if !matches!(k.as_str(), "name" | "description" | "enabled" | "tags" | "options" | "id" | "domain_id" | "parent_id" | "is_domain" | "links") {
                p.extra.insert(k.clone(), v.clone());
            }
        }
        if !p.is_domain && p.enabled && !was_enabled {
            if let Some(parent) = p.parent_id.as_deref().filter(|x| *x != p.domain_id) {
                if let Some(parent) = rdb::project_get(&self.db, parent).await? {
                    if !parent.enabled {
                        return Err(KeystoneError::Forbidden(format!("Cannot enable project {} since it has disabled parents", p.id)));
                    }
                }
            }
        }
        if !p.is_domain && !p.enabled && was_enabled && rdb::project_descendants(&self.db, &p.id).await?.iter().any(|c| c.enabled) {
            return Err(KeystoneError::Forbidden(format!("Cannot disable project {} since its subtree contains enabled projects.", p.id)));
        }
        rdb::project_update(&self.db, &p, tags.as_deref()).await?;
        if was_enabled && !p.enabled {
            let ev = if p.is_domain { RevocationEvent { domain_id: Some(p.id.clone()), ..Default::default() } } else { RevocationEvent { project_id: Some(p.id.clone()), ..Default::default() } };
            self.revoke(ev).await?;
        }
        self.bump();
        Ok(p)
    }

    /// Deletes a project; with `cascade`, its whole subtree (which must be disabled).
    pub async fn project_delete(&self, p: &Project, cascade: bool) -> Result<()> {
        let subtree = rdb::project_descendants(&self.db, &p.id).await?;
        if !subtree.is_empty() && !cascade {
            return Err(KeystoneError::Forbidden(format!(
                "Cannot delete the project {} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.",
                p.id
            )));
        }
        if cascade && subtree.iter().any(|c| c.enabled) {
            return Err(KeystoneError::Forbidden(format!("Cannot delete project {} since its subtree contains enabled projects.", p.id)));
        }
        let mut ids: Vec<String> = subtree.iter().map(|c| c.id.clone()).collect();
        ids.push(p.id.clone());
        rdb::project_delete_many(&self.db, &ids).await?;
        for id in ids {
            self.revoke(RevocationEvent { project_id: Some(id), ..Default::default() }).await?;
        }
        Ok(())
    }

    /// Deletes a disabled domain with its projects, users and groups.
    pub async fn domain_delete(&self, d: &Project) -> Result<()> {
        if d.enabled {
            return Err(KeystoneError::Forbidden("Cannot delete a domain that is enabled, please disable it first.".into()));
        }
        let projects = rdb::project_list(&self.db, Some(&d.id)).await?;
        let ids: Vec<String> = projects.iter().map(|p| p.id.clone()).collect();
        rdb::project_delete_many(&self.db, &ids).await?;
        for u in crate::db::identity::user_list(&self.db, Some(&d.id)).await? {
            crate::db::identity::user_delete(&self.db, &u.id).await?;
        }
        for g in crate::db::identity::group_list(&self.db, Some(&d.id)).await? {
            crate::db::identity::group_delete(&self.db, &g.id).await?;
        }
        for r in crate::db::assignment::role_list_all(&self.db).await?.into_iter().filter(|r| r.domain_id.as_deref() == Some(d.id.as_str())) {
            crate::db::assignment::role_delete(&self.db, &r.id).await?;
        }
        crate::db::misc::domain_config_delete(&self.db, &d.id, None, None).await?;
        rdb::project_delete_many(&self.db, std::slice::from_ref(&d.id)).await?;
        self.revoke(RevocationEvent { domain_id: Some(d.id.clone()), ..Default::default() }).await?;
        Ok(())
    }
}
