//! Image records: create, list (filters, sorting, paging), JSON-patch updates with Glance's
//! read-only and reserved attributes, delete (refused when protected), tags, deactivation and
//! members.

use std::collections::BTreeMap;

use auth::RequestContext;
use serde_json::{Map, Value};

use super::{now, App};
use crate::db::images::{self as idb, Image, Member};
use crate::error::{GlanceError, Result};
use crate::store::Store;

pub const DISK_FORMATS: &[&str] = &["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"];
pub const CONTAINER_FORMATS: &[&str] = &["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"];
pub const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];
/// Attributes a client may never set.
pub const READ_ONLY: &[&str] = &["id", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size", "created_at", "updated_at", "self", "file", "schema", "direct_url", "stores"];
/// Attributes Glance keeps for itself.
pub const RESERVED: &[&str] = &["deleted", "deleted_at", "location", "locations"];
/// Core attributes (everything else is a custom property).
pub const CORE: &[&str] = &["name", "visibility", "protected", "os_hidden", "owner", "disk_format", "container_format", "min_disk", "min_ram", "tags"];

fn bad(msg: impl Into<String>) -> GlanceError {
    GlanceError::BadRequest(msg.into())
}

/// Applies one attribute to an image (create and patch share this), with Glance's checks.
fn set_attribute(image: &mut Image, key: &str, value: &Value) -> Result<()> {
    if READ_ONLY.contains(&key) {
        return Err(GlanceError::Forbidden(format!("Attribute '{key}' is read-only.")));
    }
    // The `os_glance` namespace belongs to Glance itself (import bookkeeping).
    if RESERVED.contains(&key) || key.starts_with("os_glance") {
        return Err(GlanceError::Forbidden(format!("Attribute '{key}' is reserved.")));
    }
    let opt_str = |max: usize| -> Result<Option<String>> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
            Value::String(_) => Err(bad(format!("Provided object does not match schema 'image': '{key}' is too long (at most {max} characters)"))),
            other => Err(bad(format!("Provided object does not match schema 'image': {other} is not of type 'string' for '{key}'"))),
        }
    };
    let boolean = || -> Result<bool> {
        value.as_bool().ok_or_else(|| bad(format!("Provided object does not match schema 'image': {value} is not of type 'boolean' for '{key}'")))
    };
    let non_negative = || -> Result<i64> {
        value.as_i64().filter(|v| *v >= 0).ok_or_else(|| bad(format!("Provided object does not match schema 'image': {value} is not a non-negative integer for '{key}'")))
    };
    match key {
        "name" => image.name = opt_str(255)?,
        "visibility" => {
            let v = value.as_str().unwrap_or_default();
            if !VISIBILITIES.contains(&v) {
                return Err(bad(format!("Invalid visibility value: {value}")));
            }
            image.visibility = v.to_string();
        }
        "protected" => image.protected = boolean()?,
        "os_hidden" => image.os_hidden = boolean()?,
        "owner" => image.owner = opt_str(255)?,
        "disk_format" => {
            let v = opt_str(32)?;
            if let Some(f) = &v {
                if !DISK_FORMATS.contains(&f.as_str()) {
                    return Err(bad(format!("Invalid disk format '{f}' for image. Valid formats: {}", DISK_FORMATS.join(", "))));
                }
            }
            image.disk_format = v;
        }
        "container_format" => {
            let v = opt_str(32)?;
            if let Some(f) = &v {
                if !CONTAINER_FORMATS.contains(&f.as_str()) {
                    return Err(bad(format!("Invalid container format '{f}' for image. Valid formats: {}", CONTAINER_FORMATS.join(", "))));
                }
            }
            image.container_format = v;
        }
        "min_disk" => image.min_disk = non_negative()?,
        "min_ram" => image.min_ram = non_negative()?,
        "tags" => {
            let tags = value.as_array().ok_or_else(|| bad("tags must be a list of strings"))?;
            let mut out: Vec<String> = Vec::new();
            for t in tags {
                let t = t.as_str().ok_or_else(|| bad("tags must be a list of strings"))?;
                if t.chars().count() > 255 {
                    return Err(bad(format!("Tag '{t}' is longer than 255 characters")));
                }
                if !out.iter().any(|x| x == t) {
                    out.push(t.to_string());
                }
            }
            image.tags = out;
        }
        custom => {
            if custom.chars().count() > 255 {
                return Err(bad("Property names are at most 255 characters"));
            }
            match value {
                Value::String(s) => {
                    image.properties.insert(custom.to_string(), s.clone());
                }
                Value::Null => {
                    image.properties.remove(custom);
                }
                other => return Err(bad(format!("Provided object does not match schema 'image': {other} is not of type 'string' for '{custom}'"))),
            }
        }
    }
    Ok(())
}

impl App {
    /// POST /v2/images
    pub async fn image_create(&self, ctx: &RequestContext, body: &Map<String, Value>) -> Result<Image> {
        let ts = now();
        let mut image = Image {
            id: common::ids::new_uuid(),
            name: None,
            status: "queued".into(),
            visibility: "shared".into(),
            protected: false,
            os_hidden: false,
            owner: ctx.project_id().map(str::to_string),
            disk_format: None,
            container_format: None,
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            min_disk: 0,
            min_ram: 0,
            location: None,
            created_at: ts,
            updated_at: ts,
            properties: BTreeMap::new(),
            tags: vec![],
        };
        for (k, v) in body {
            if k == "id" {
                let id = v.as_str().ok_or_else(|| bad("id must be a UUID string"))?;
                if uuid_like(id).is_none() {
                    return Err(bad(format!("Provided object does not match schema 'image': '{id}' is not a valid UUID")));
                }
                if idb::image_get(&self.db, id).await?.is_some() || self.id_was_used(id).await? {
                    return Err(GlanceError::Conflict(format!("An image with identifier {id} already exists")));
                }
                image.id = id.to_string();
                continue;
            }
            set_attribute(&mut image, k, v)?;
        }
        let target = serde_json::json!({"project_id": ctx.project_id(), "owner": image.owner, "visibility": image.visibility});
        self.enforce(ctx, "add_image", &target)?;
        if image.owner.as_deref() != ctx.project_id() && !self.is_admin(ctx) {
            return Err(GlanceError::Forbidden("You are not permitted to create images owned by another project.".into()));
        }
        self.check_visibility_change(ctx, &image, None)?;
        if self.cfg.image_count_quota >= 0 {
            let owned = idb::image_list_all(&self.db).await?.iter().filter(|i| i.owner == image.owner).count() as i64;
            if owned >= self.cfg.image_count_quota {
                return Err(GlanceError::RequestEntityTooLarge(format!("Maximum number of images ({}) exceeded for this project.", self.cfg.image_count_quota)));
            }
        }
        idb::image_create(&self.db, &image).await?;
        Ok(image)
    }

    async fn id_was_used(&self, id: &str) -> Result<bool> {
        Ok(self.db.fetch_optional("SELECT id FROM image WHERE id = ?", db::params![id]).await?.is_some())
    }

    fn check_visibility_change(&self, ctx: &RequestContext, image: &Image, before: Option<&str>) -> Result<()> {
        if before == Some(image.visibility.as_str()) {
            return Ok(());
        }
        let target = serde_json::json!({"project_id": image.owner, "owner": image.owner, "visibility": image.visibility});
        match image.visibility.as_str() {
            "public" => self.enforce(ctx, "publicize_image", &target),
            "community" => self.enforce(ctx, "communitize_image", &target),
            _ => Ok(()),
        }
    }

    /// PATCH /v2/images/{id} with a JSON-patch document.
    pub async fn image_patch(&self, ctx: &RequestContext, id: &str, ops: &[Value]) -> Result<Image> {
        let (mut image, _) = self.image_for(ctx, id, "modify_image").await?;
        let before = image.clone();
        for op in ops {
            // Two spellings: RFC 6902 (`{"op": "replace", "path": "/name"}`, the v2.1 media
            // type) and Glance's v2.0 one (`{"replace": "/name"}`).
            let (kind, path) = match op.get("op").and_then(Value::as_str) {
                Some(kind) => (kind, op.get("path").and_then(Value::as_str).ok_or_else(|| bad("Unable to find 'path' in JSON Schema change"))?),
                None => ["add", "replace", "remove"]
                    .iter()
                    .find_map(|k| op.get(*k).and_then(Value::as_str).map(|p| (*k, p)))
                    .ok_or_else(|| bad("Unable to find 'op' in JSON Schema change"))?,
            };
            let key = path.strip_prefix('/').filter(|k| !k.is_empty() && !k.contains('/')).ok_or_else(|| bad(format!("Invalid JSON pointer for this resource: '{path}'")))?;
            let key = key.replace("~1", "/").replace("~0", "~");
            match kind {
                "add" | "replace" => {
                    let value = op.get("value").ok_or_else(|| bad("Unable to find 'value' in JSON Schema change"))?;
                    if kind == "replace" && !CORE.contains(&key.as_str()) && !READ_ONLY.contains(&key.as_str()) && !RESERVED.contains(&key.as_str()) && !image.properties.contains_key(&key) {
                        return Err(GlanceError::Conflict(format!("Property {key} does not exist.")));
                    }
                    if (key == "disk_format" || key == "container_format") && image.status != "queued" && value.as_str() != field_str(&image, &key) {
                        return Err(GlanceError::Forbidden(format!("Attribute {key} can be only replaced for a queued image.")));
                    }
                    set_attribute(&mut image, &key, value)?;
                }
                "remove" => {
                    if READ_ONLY.contains(&key.as_str()) {
                        return Err(GlanceError::Forbidden(format!("Attribute '{key}' is read-only.")));
                    }
                    if RESERVED.contains(&key.as_str()) || key.starts_with("os_glance") {
                        return Err(GlanceError::Forbidden(format!("Attribute '{key}' is reserved.")));
                    }
                    if CORE.contains(&key.as_str()) {
                        return Err(GlanceError::Forbidden(format!("Properties {key} cannot be removed.")));
                    }
                    if image.properties.remove(&key).is_none() {
                        return Err(GlanceError::Conflict(format!("Property {key} does not exist.")));
                    }
                }
                other => return Err(bad(format!("Invalid operation: `{other}`: must be one of add, replace, remove"))),
            }
        }
        if image.owner != before.owner && !self.is_admin(ctx) {
            return Err(GlanceError::Forbidden("Only an administrator can change an image's owner.".into()));
        }
        self.check_visibility_change(ctx, &image, Some(&before.visibility))?;
        if before.visibility == "shared" && image.visibility != "shared" {
            for m in idb::member_list(&self.db, &image.id).await? {
                idb::member_delete(&self.db, &image.id, &m.member).await?;
            }
        }
        image.updated_at = now();
        if !idb::image_update_if_status(&self.db, &image, &before.status).await? {
            return Err(GlanceError::Conflict(format!("Image {id} changed while it was being updated; retry.")));
        }
        Ok(image)
    }

    /// DELETE /v2/images/{id}
    pub async fn image_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (image, _) = self.image_for(ctx, id, "delete_image").await?;
        if image.protected {
            return Err(GlanceError::Forbidden(format!("Image {id} is protected and cannot be deleted.")));
        }
        if idb::image_delete(&self.db, id, now()).await? == 0 {
            return Err(GlanceError::ImageNotFound(id.to_string()));
        }
        if let Some(loc) = &image.location {
            // The record is gone already; a store failure leaves an orphan file, which is logged.
            if let Err(e) = self.store.delete(loc).await {
                tracing::error!(image = id, error = %e, "could not delete image data");
            }
        }
        let staged = format!("file://{}", self.cfg.staging_dir.join(id).display());
        let _ = self.staging.delete(&staged).await;
        Ok(())
    }

    /// Images the caller can list, filtered as the query asks (sorting and paging are the
    /// handler's).
    pub async fn image_list(&self, ctx: &RequestContext, query: &BTreeMap<String, String>) -> Result<Vec<Image>> {
        self.enforce(ctx, "get_images", &serde_json::json!({"project_id": ctx.project_id(), "owner": ctx.project_id()}))?;
        let admin = self.is_admin(ctx);
        let project = ctx.project_id().map(str::to_string);
        let memberships: BTreeMap<String, Member> = match &project {
            Some(p) => idb::member_list_for_project(&self.db, p).await?.into_iter().map(|m| (m.image_id.clone(), m)).collect(),
            None => BTreeMap::new(),
        };
        let visibility = query.get("visibility").map(String::as_str);
        if let Some(v) = visibility {
            if v != "all" && !VISIBILITIES.contains(&v) {
                return Err(bad(format!("Invalid visibility value: {v}")));
            }
        }
        let member_status = query.get("member_status").map(String::as_str).unwrap_or("accepted");
        if !["accepted", "pending", "rejected", "all"].contains(&member_status) {
            return Err(bad(format!("Invalid status value: {member_status}")));
        }
        let os_hidden = match query.get("os_hidden").map(String::as_str) {
            None => Some(false),
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => return Err(bad(format!("Invalid value for os_hidden: {other}"))),
        };
        let size_bound = |k: &str| -> Result<Option<i64>> {
            query.get(k).map(|v| v.parse::<i64>().map_err(|_| bad(format!("Invalid value for {k}: {v}")))).transpose()
        };
        let (size_min, size_max, size_exact) = (size_bound("size_min")?, size_bound("size_max")?, size_bound("size")?);
        let mut out = Vec::new();
        for i in idb::image_list_all(&self.db).await? {
            let own = project.is_some() && i.owner == project;
            let membership = memberships.get(&i.id);
            let listed = match visibility {
                Some("all") => admin || own || i.visibility == "public" || i.visibility == "community" || membership.is_some(),
                Some(v) => {
                    i.visibility == v
                        && (admin || own || v == "public" || v == "community" || (v == "shared" && membership.is_some_and(|m| member_status == "all" || m.status == member_status)))
                }
                None => {
                    own || i.visibility == "public"
                        || (i.visibility == "shared" && membership.is_some_and(|m| member_status == "all" || m.status == member_status))
                        || (admin && i.visibility != "community")
                }
            };
            if !listed {
                continue;
            }
            if os_hidden.is_some_and(|h| h != i.os_hidden) && !query.contains_key("id") {
                continue;
            }
            let eq = |k: &str, v: Option<&str>| query.get(k).is_none_or(|want| in_filter(want, v));
            if !(eq("name", i.name.as_deref())
                && eq("status", Some(&i.status))
                && eq("owner", i.owner.as_deref())
                && eq("disk_format", i.disk_format.as_deref())
                && eq("container_format", i.container_format.as_deref())
                && eq("checksum", i.checksum.as_deref())
                && eq("id", Some(&i.id))
                && eq("os_hash_value", i.os_hash_value.as_deref()))
            {
                continue;
            }
            if let Some(p) = query.get("protected") {
                if (p == "true") != i.protected {
                    continue;
                }
            }
            if size_min.is_some_and(|m| i.size.is_none_or(|s| s < m))
                || size_max.is_some_and(|m| i.size.is_none_or(|s| s > m))
                || size_exact.is_some_and(|m| i.size != Some(m))
            {
                continue;
            }
            if let Some(tags) = query.get("tag") {
                if !tags.split(',').all(|t| i.tags.iter().any(|x| x == t)) {
                    continue;
                }
            }
            if !time_filter(query.get("created_at"), i.created_at)? || !time_filter(query.get("updated_at"), i.updated_at)? {
                continue;
            }
            // Any other parameter filters on a custom property of that name.
            let custom_ok = query.iter().all(|(k, v)| {
                LIST_PARAMS.contains(&k.as_str()) || i.properties.get(k).is_some_and(|p| p == v)
            });
            if custom_ok {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// PUT/DELETE /v2/images/{id}/tags/{tag}
    pub async fn image_tag(&self, ctx: &RequestContext, id: &str, tag: &str, add: bool) -> Result<()> {
        let (mut image, _) = self.image_for(ctx, id, "modify_image").await?;
        let status = image.status.clone();
        if add {
            if tag.chars().count() > 255 {
                return Err(bad("Tags are at most 255 characters"));
            }
            if !image.tags.iter().any(|t| t == tag) {
                image.tags.push(tag.to_string());
            }
        } else {
            let before = image.tags.len();
            image.tags.retain(|t| t != tag);
            if image.tags.len() == before {
                return Err(GlanceError::NotFound(format!("Tag {tag} not found")));
            }
        }
        image.updated_at = now();
        if !idb::image_update_if_status(&self.db, &image, &status).await? {
            return Err(GlanceError::Conflict("Image changed while tagging; retry.".into()));
        }
        Ok(())
    }

    /// POST /v2/images/{id}/actions/{deactivate|reactivate}
    pub async fn image_set_active(&self, ctx: &RequestContext, id: &str, active: bool) -> Result<()> {
        let rule = if active { "reactivate" } else { "deactivate" };
        let (mut image, _) = self.image_for(ctx, id, rule).await?;
        let (from, to) = if active { ("deactivated", "active") } else { ("active", "deactivated") };
        if image.status == to {
            return Ok(());
        }
        if image.status != from {
            return Err(GlanceError::Forbidden(format!("Not allowed to {rule} image in status '{}'", image.status)));
        }
        image.status = to.into();
        image.updated_at = now();
        if !idb::image_update_if_status(&self.db, &image, from).await? {
            return Err(GlanceError::Conflict("Image changed concurrently; retry.".into()));
        }
        Ok(())
    }

    // ----------------------------------------------------------------------------- members

    pub async fn member_add(&self, ctx: &RequestContext, id: &str, member: &str) -> Result<Member> {
        let (image, _) = self.image_for(ctx, id, "add_member").await?;
        if image.visibility != "shared" {
            return Err(GlanceError::Forbidden(format!("Image {id} is not a shared image; only shared images have members.")));
        }
        if image.owner.as_deref() == Some(member) {
            return Err(GlanceError::Forbidden("The image owner cannot be a member of the image.".into()));
        }
        if idb::member_get(&self.db, id, member).await?.is_some() {
            return Err(GlanceError::Conflict(format!("Member {member} already exists for image {id}")));
        }
        let ts = now();
        let m = Member { image_id: id.to_string(), member: member.to_string(), status: "pending".into(), created_at: ts, updated_at: ts };
        idb::member_create(&self.db, &m).await?;
        Ok(m)
    }

    /// Members the caller may see: all of them for the owner, only itself for a member.
    pub async fn member_list(&self, ctx: &RequestContext, id: &str) -> Result<Vec<Member>> {
        let (image, me) = self.image_for(ctx, id, "get_members").await?;
        if image.visibility != "shared" {
            return Err(GlanceError::Forbidden(format!("Image {id} is not a shared image; only shared images have members.")));
        }
        let all = idb::member_list(&self.db, id).await?;
        if self.is_admin(ctx) || image.owner.as_deref() == ctx.project_id() {
            return Ok(all);
        }
        Ok(me.into_iter().collect())
    }

    pub async fn member_get(&self, ctx: &RequestContext, id: &str, member: &str) -> Result<Member> {
        let (image, me) = self.image_for(ctx, id, "get_member").await?;
        let owner = self.is_admin(ctx) || image.owner.as_deref() == ctx.project_id();
        if !owner && me.as_ref().is_none_or(|m| m.member != member) {
            return Err(GlanceError::NotFound(format!("Member {member} not found for image {id}")));
        }
        idb::member_get(&self.db, id, member).await?.ok_or_else(|| GlanceError::NotFound(format!("Member {member} not found for image {id}")))
    }

    pub async fn member_update(&self, ctx: &RequestContext, id: &str, member: &str, status: &str) -> Result<Member> {
        if !["accepted", "rejected", "pending"].contains(&status) {
            return Err(bad(format!("Invalid status: {status}")));
        }
        let image = idb::image_get(&self.db, id).await?.ok_or_else(|| GlanceError::ImageNotFound(id.to_string()))?;
        if !self.visible(ctx, &image).await? {
            return Err(GlanceError::ImageNotFound(id.to_string()));
        }
        let mut m = idb::member_get(&self.db, id, member).await?.ok_or_else(|| GlanceError::NotFound(format!("Member {member} not found for image {id}")))?;
        self.enforce(ctx, "modify_member", &self.image_target(&image, Some(&m)))?;
        if ctx.project_id() != Some(member) && !self.is_admin(ctx) {
            return Err(GlanceError::Forbidden("Only the member itself can accept or reject a shared image.".into()));
        }
        m.status = status.to_string();
        m.updated_at = now();
        idb::member_update(&self.db, &m).await?;
        Ok(m)
    }

    pub async fn member_delete(&self, ctx: &RequestContext, id: &str, member: &str) -> Result<()> {
        let (image, _) = self.image_for(ctx, id, "delete_member").await?;
        if image.visibility != "shared" {
            return Err(GlanceError::Forbidden(format!("Image {id} is not a shared image; only shared images have members.")));
        }
        if idb::member_delete(&self.db, id, member).await? == 0 {
            return Err(GlanceError::NotFound(format!("Member {member} not found for image {id}")));
        }
        Ok(())
    }
}

/// Query parameters that are not custom-property filters.
const LIST_PARAMS: &[&str] = &[
    "limit", "marker", "sort", "sort_key", "sort_dir", "visibility", "member_status", "os_hidden", "name", "status", "owner", "disk_format", "container_format",
    "checksum", "id", "os_hash_value", "protected", "size", "size_min", "size_max", "tag", "created_at", "updated_at",
];

fn field_str<'a>(image: &'a Image, key: &str) -> Option<&'a str> {
    match key {
        "disk_format" => image.disk_format.as_deref(),
        "container_format" => image.container_format.as_deref(),
        _ => None,
    }
}

/// `name=x` or `name=in:a,b` (Glance's "in" operator; values may be quoted).
fn in_filter(want: &str, value: Option<&str>) -> bool {
    let Some(v) = value else { return false };
    match want.strip_prefix("in:") {
        Some(list) => list.split(',').map(|s| s.trim_matches('"')).any(|x| x == v),
        None => want == v,
    }
}

/// `created_at=gte:2026-01-01T00:00:00Z` and friends.
fn time_filter(filter: Option<&String>, value: i64) -> Result<bool> {
    match filter {
        None => Ok(true),
        Some(f) => common::time::matches_time_filter(f, value).map_err(|ts| bad(format!("Invalid timestamp in filter: {ts}"))),
    }
}

/// Checks the UUID shape Glance requires for client-chosen ids.
pub fn uuid_like(s: &str) -> Option<()> {
    let hex = s.replace('-', "");
    (hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(())
}
