//! Flavor management, extra specs and access (nova/api/openstack/compute/flavors.py's
//! create/update/delete, flavors_extraspecs.py, flavor_access.py and nova/compute/flavors.py):
//! the writes on flavors, all admin-only by default.

use std::collections::BTreeMap;

use auth::RequestContext;
use serde_json::json;

use super::App;
use crate::db::flavors::{self as fdb, Flavor};
use crate::error::{NovaError, Result};

/// What POST /flavors asks for (already checked against the request schema).
pub struct FlavorCreate {
    pub name: String,
    pub flavorid: Option<String>,
    pub memory_mb: i64,
    pub vcpus: i64,
    pub root_gb: i64,
    pub ephemeral_gb: i64,
    pub swap: i64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub description: Option<String>,
}

impl App {
    /// POST /flavors: a new flavor (a UUID id when none is given); 409 on a taken name or id.
    pub async fn flavor_create(&self, ctx: &RequestContext, req: FlavorCreate) -> Result<Flavor> {
        self.enforce(ctx, "os_compute_api:os-flavor-manage:create", &json!({}))?;
        let name = req.name.trim().to_string();
        let flavorid = match req.flavorid.filter(|id| !id.is_empty()) {
            Some(id) => id,
            None => uuid::Uuid::new_v4().to_string(),
        };
        let exists = |e: bool, msg: String| if e { Err(NovaError::Conflict(msg)) } else { Ok(()) };
        exists(fdb::flavor_name_exists(&self.api_db, &name).await?, format!("Flavor with name {name} already exists."))?;
        exists(fdb::flavor_get_by_flavorid(&self.api_db, &flavorid).await?.is_some(), format!("Flavor with ID {flavorid} already exists."))?;
        let now = super::now();
        let mut f = Flavor {
            id: 0,
            flavorid: flavorid.clone(),
            name: name.clone(),
            memory_mb: req.memory_mb,
            vcpus: req.vcpus,
            root_gb: req.root_gb,
            ephemeral_gb: req.ephemeral_gb,
            swap: req.swap,
            rxtx_factor: req.rxtx_factor,
            vcpu_weight: None,
            disabled: false,
            is_public: req.is_public,
            description: req.description,
            extra_specs: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        };
        match fdb::flavor_create(&self.api_db, &mut f).await {
            Ok(()) => Ok(f),
            // A concurrent create took the name or the id between the checks and the insert.
            Err(db::DbError::Duplicate(_)) if fdb::flavor_name_exists(&self.api_db, &name).await? => Err(NovaError::Conflict(format!("Flavor with name {name} already exists."))),
            Err(db::DbError::Duplicate(_)) => Err(NovaError::Conflict(format!("Flavor with ID {flavorid} already exists."))),
            Err(e) => Err(e.into()),
        }
    }

    /// DELETE /flavors/{id}.
    pub async fn flavor_delete(&self, ctx: &RequestContext, flavorid: &str) -> Result<()> {
        self.enforce(ctx, "os_compute_api:os-flavor-manage:delete", &json!({}))?;
        if !fdb::flavor_destroy(&self.api_db, flavorid).await? {
            return Err(NovaError::NotFound(format!("Flavor {flavorid} could not be found.")));
        }
        Ok(())
    }

    /// PUT /flavors/{id} (2.55): the description only.
    pub async fn flavor_update_description(&self, ctx: &RequestContext, flavorid: &str, description: Option<String>) -> Result<Flavor> {
        self.enforce(ctx, "os_compute_api:os-flavor-manage:update", &json!({}))?;
        let mut f = fdb::flavor_get_by_flavorid(&self.api_db, flavorid).await?.ok_or_else(|| NovaError::NotFound(format!("Flavor {flavorid} could not be found.")))?;
        let now = super::now();
        fdb::flavor_update_description(&self.api_db, f.id, description.as_deref(), now).await?;
        f.description = description;
        f.updated_at = now;
        Ok(f)
    }

    /// GET /flavors/{id}/os-extra_specs.
    pub async fn flavor_extra_specs_get(&self, ctx: &RequestContext, flavorid: &str) -> Result<BTreeMap<String, String>> {
        self.enforce(ctx, "os_compute_api:os-flavor-extra-specs:index", &json!({"project_id": ctx.project_id()}))?;
        Ok(self.flavor_get(ctx, flavorid).await?.extra_specs)
    }

    /// GET /flavors/{id}/os-extra_specs/{key}.
    pub async fn flavor_extra_spec_get(&self, ctx: &RequestContext, flavorid: &str, key: &str) -> Result<String> {
        self.enforce(ctx, "os_compute_api:os-flavor-extra-specs:show", &json!({"project_id": ctx.project_id()}))?;
        let f = self.flavor_get(ctx, flavorid).await?;
        f.extra_specs.get(key).cloned().ok_or_else(|| NovaError::NotFound(format!("Flavor {flavorid} has no extra specs with key {key}.")))
    }

    /// POST /flavors/{id}/os-extra_specs (`rule` create) and PUT .../{key} (`rule` update):
    /// adds or replaces the given specs (already validated by the API layer).
    pub async fn flavor_extra_specs_set(&self, ctx: &RequestContext, rule: &str, flavorid: &str, specs: &BTreeMap<String, String>) -> Result<()> {
        self.enforce(ctx, rule, &json!({}))?;
        let f = self.flavor_get(ctx, flavorid).await?;
        fdb::flavor_extra_specs_update_or_create(&self.api_db, f.id, specs).await?;
        Ok(())
    }

    /// DELETE /flavors/{id}/os-extra_specs/{key}.
    pub async fn flavor_extra_spec_delete(&self, ctx: &RequestContext, flavorid: &str, key: &str) -> Result<()> {
        self.enforce(ctx, "os_compute_api:os-flavor-extra-specs:delete", &json!({}))?;
        let f = self.flavor_get(ctx, flavorid).await?;
        if !fdb::flavor_extra_spec_delete(&self.api_db, f.id, key).await? {
            return Err(NovaError::NotFound(format!("Flavor {flavorid} has no extra specs with key {key}.")));
        }
        Ok(())
    }

    /// GET /flavors/{id}/os-flavor-access: the projects of a private flavor (404 for a public
    /// one, as upstream).
    pub async fn flavor_access_list(&self, ctx: &RequestContext, flavorid: &str) -> Result<(Flavor, Vec<String>)> {
        self.enforce(ctx, "os_compute_api:os-flavor-access", &json!({"project_id": ctx.project_id()}))?;
        let f = self.flavor_get(ctx, flavorid).await?;
        if f.is_public {
            return Err(NovaError::NotFound("Access list not available for public flavors.".into()));
        }
        let projects = fdb::flavor_projects(&self.api_db, f.id).await?;
        Ok((f, projects))
    }

    /// addTenantAccess: 409 for a public flavor (from 2.7) or an existing grant.
    pub async fn flavor_access_add(&self, ctx: &RequestContext, flavorid: &str, project_id: &str, refuse_public: bool) -> Result<(Flavor, Vec<String>)> {
        self.enforce(ctx, "os_compute_api:os-flavor-access:add_tenant_access", &json!({}))?;
        let f = self.flavor_get(ctx, flavorid).await?;
        if refuse_public && f.is_public {
            return Err(NovaError::Conflict("Can not add access to a public flavor.".into()));
        }
        if !fdb::flavor_access_add(&self.api_db, f.id, project_id).await? {
            return Err(NovaError::Conflict(format!("Flavor access already exists for flavor {flavorid} and project {project_id} combination.")));
        }
        let projects = fdb::flavor_projects(&self.api_db, f.id).await?;
        Ok((f, projects))
    }

    /// removeTenantAccess: 404 when the project had no access.
    pub async fn flavor_access_remove(&self, ctx: &RequestContext, flavorid: &str, project_id: &str) -> Result<(Flavor, Vec<String>)> {
        self.enforce(ctx, "os_compute_api:os-flavor-access:remove_tenant_access", &json!({}))?;
        let f = self.flavor_get(ctx, flavorid).await?;
        if !fdb::flavor_access_remove(&self.api_db, f.id, project_id).await? {
            return Err(NovaError::NotFound(format!("Flavor access not found for {flavorid} / {project_id} combination.")));
        }
        let projects = fdb::flavor_projects(&self.api_db, f.id).await?;
        Ok((f, projects))
    }
}
