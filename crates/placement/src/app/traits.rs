//! Traits and resource classes (placement/handlers/trait.py and resource_class.py): the
//! standard ones from code, custom ones (`CUSTOM_*`) as rows; standard names are read-only.

use auth::RequestContext;

use super::App;
use crate::db::providers as pdb;
use crate::error::{PlacementError, Result};
use crate::standard;

/// `GET /traits` filters.
#[derive(Debug, Default)]
pub struct TraitQuery {
    /// `name=in:A,B`
    pub names_in: Option<Vec<String>>,
    /// `name=startswith:PREFIX`
    pub starts_with: Option<String>,
    /// `associated=true|false`
    pub associated: Option<bool>,
}

/// What `PUT` of a trait or resource class did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Created,
    Existed,
}

impl App {
    pub async fn trait_known(&self, name: &str) -> Result<bool> {
        Ok(standard::is_standard_trait(name) || pdb::trait_exists(&self.db, name).await?)
    }

    pub async fn trait_list(&self, ctx: &RequestContext, q: &TraitQuery) -> Result<Vec<String>> {
        self.enforce(ctx, "placement:traits:list")?;
        let mut all: Vec<String> = standard::TRAITS.iter().map(|s| s.to_string()).collect();
        all.extend(pdb::trait_list(&self.db).await?);
        all.sort();
        if let Some(names) = &q.names_in {
            all.retain(|t| names.contains(t));
        }
        if let Some(prefix) = &q.starts_with {
            all.retain(|t| t.starts_with(prefix.as_str()));
        }
        if let Some(want) = q.associated {
            let associated = pdb::trait_associated(&self.db).await?;
            all.retain(|t| associated.contains(t) == want);
        }
        Ok(all)
    }

    pub async fn trait_show(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        self.enforce(ctx, "placement:traits:show")?;
        if self.trait_known(name).await? {
            Ok(())
        } else {
            Err(PlacementError::NotFound(format!("No such trait(s): {name}")))
        }
    }

    pub async fn trait_put(&self, ctx: &RequestContext, name: &str) -> Result<Put> {
        self.enforce(ctx, "placement:traits:update")?;
        if self.trait_known(name).await? {
            return Ok(Put::Existed);
        }
        if !standard::is_custom_name(name) {
            return Err(PlacementError::BadRequest(format!("The trait {name} is invalid: a custom trait must start with 'CUSTOM_' followed by upper-case letters, digits and underscores.")));
        }
        match pdb::trait_create(&self.db, name).await {
            Ok(()) => Ok(Put::Created),
            Err(db::DbError::Duplicate(_)) => Ok(Put::Existed),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn trait_delete(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        self.enforce(ctx, "placement:traits:delete")?;
        if standard::is_standard_trait(name) {
            return Err(PlacementError::BadRequest(format!("Cannot delete standard trait {name}.")));
        }
        if !pdb::trait_exists(&self.db, name).await? {
            return Err(PlacementError::NotFound(format!("No such trait(s): {name}")));
        }
        if pdb::trait_in_use(&self.db, name).await? {
            return Err(PlacementError::Conflict(format!("The trait {name} is in use by a resource provider.")));
        }
        pdb::trait_delete(&self.db, name).await?;
        Ok(())
    }

    /// 400 unless `rc` is a known resource class (used to validate requests).
    pub async fn resource_class_check(&self, rc: &str) -> Result<()> {
        if standard::is_standard_class(rc) || pdb::resource_class_exists(&self.db, rc).await? {
            Ok(())
        } else {
            Err(PlacementError::BadRequest(format!("Invalid resource class in resources parameter: No such resource class {rc}.")))
        }
    }

    pub async fn resource_class_list(&self, ctx: &RequestContext) -> Result<Vec<String>> {
        self.enforce(ctx, "placement:resource_classes:list")?;
        let mut all: Vec<String> = standard::RESOURCE_CLASSES.iter().map(|s| s.to_string()).collect();
        all.extend(pdb::resource_class_list(&self.db).await?);
        Ok(all)
    }

    pub async fn resource_class_show(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        self.enforce(ctx, "placement:resource_classes:show")?;
        if standard::is_standard_class(name) || pdb::resource_class_exists(&self.db, name).await? {
            Ok(())
        } else {
            Err(PlacementError::NotFound(format!("No such resource class {name}.")))
        }
    }

    fn custom_class_name(name: &str) -> Result<()> {
        if standard::is_custom_name(name) {
            Ok(())
        } else {
            Err(PlacementError::BadRequest(format!(
                "JSON does not validate: '{name}' does not match '^CUSTOM\\_[A-Z0-9_]+$': a custom resource class must start with 'CUSTOM_'."
            )))
        }
    }

    /// `POST /resource_classes`.
    pub async fn resource_class_create(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        self.enforce(ctx, "placement:resource_classes:create")?;
        Self::custom_class_name(name)?;
        if pdb::resource_class_exists(&self.db, name).await? {
            return Err(PlacementError::Conflict(format!("Conflicting resource class already exists: {name}")));
        }
        pdb::resource_class_create(&self.db, name).await.map_err(|e| match e {
            db::DbError::Duplicate(_) => PlacementError::Conflict(format!("Conflicting resource class already exists: {name}")),
            e => e.into(),
        })
    }

    /// `PUT /resource_classes/{name}` from 1.7: create if missing.
    pub async fn resource_class_put(&self, ctx: &RequestContext, name: &str) -> Result<Put> {
        self.enforce(ctx, "placement:resource_classes:update")?;
        if standard::is_standard_class(name) || pdb::resource_class_exists(&self.db, name).await? {
            return Ok(Put::Existed);
        }
        Self::custom_class_name(name)?;
        match pdb::resource_class_create(&self.db, name).await {
            Ok(()) => Ok(Put::Created),
            Err(db::DbError::Duplicate(_)) => Ok(Put::Existed),
            Err(e) => Err(e.into()),
        }
    }

    /// `PUT /resource_classes/{name}` before 1.7: rename a custom class.
    pub async fn resource_class_rename(&self, ctx: &RequestContext, name: &str, new_name: &str) -> Result<()> {
        self.enforce(ctx, "placement:resource_classes:update")?;
        if standard::is_standard_class(name) {
            return Err(PlacementError::BadRequest(format!("Cannot update standard resource class {name}")));
        }
        Self::custom_class_name(new_name)?;
        if !pdb::resource_class_exists(&self.db, name).await? {
            return Err(PlacementError::NotFound(format!("No such resource class {name}.")));
        }
        if pdb::resource_class_exists(&self.db, new_name).await? {
            return Err(PlacementError::Conflict(format!("Resource class already exists: {new_name}")));
        }
        pdb::resource_class_rename(&self.db, name, new_name).await?;
        Ok(())
    }

    pub async fn resource_class_delete(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        self.enforce(ctx, "placement:resource_classes:delete")?;
        if standard::is_standard_class(name) {
            return Err(PlacementError::BadRequest(format!("Cannot delete standard resource class {name}: ")));
        }
        if !pdb::resource_class_exists(&self.db, name).await? {
            return Err(PlacementError::NotFound(format!("No such resource class {name}.")));
        }
        if pdb::resource_class_in_use(&self.db, name).await? {
            return Err(PlacementError::Conflict(format!("Unable to delete resource class {name}: Cannot delete resource class {name}. Class is in use in inventory.")));
        }
        pdb::resource_class_delete(&self.db, name).await?;
        Ok(())
    }
}
