//! Metadata definitions (glance/api/v2/metadef_*.py and the metadef parts of glance/domain):
//! who sees a namespace, who may change it, what `protected` forbids, duplicate names, the
//! resource-type prefixes applied to property names, and namespace listing with its
//! filters, sorting and marker paging.
//!
//! Visibility first, policy second, as upstream: a namespace the caller cannot see is "not
//! found" whatever the operation; on one they can see, a refused write is 403.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use auth::RequestContext;
use db::DbError;
use serde_json::{json, Map, Value};

use super::{now, App};
use crate::db::metadefs::{self as mdb, Association, MetadefObject, Namespace, NamespaceContents, NamespaceScope, Property, ResourceType, Tag};
use crate::error::{GlanceError, Result};

/// What can go wrong with metadata definitions, with the names a person needs to act.
#[derive(Debug, thiserror::Error)]
pub enum MetadefError {
    #[error("Metadata definition namespace={0} was not found.")]
    NamespaceNotFound(String),
    #[error("The metadata definition object with name={name} was not found in namespace={namespace}.")]
    ObjectNotFound { namespace: String, name: String },
    #[error("The metadata definition property with name={name} was not found in namespace={namespace}.")]
    PropertyNotFound { namespace: String, name: String },
    #[error("The metadata definition tag with name={name} was not found in namespace={namespace}.")]
    TagNotFound { namespace: String, name: String },
    #[error("The metadata definition resource-type association of resource-type={resource_type} to namespace={namespace} was not found.")]
    AssociationNotFound { namespace: String, resource_type: String },
    #[error("Property {name} does not start with the prefix '{prefix}' of its resource type association.")]
    PrefixMismatch { name: String, prefix: String },
    #[error("The metadata definition namespace={0} already exists.")]
    DuplicateNamespace(String),
    #[error("A metadata definition object with name={name} already exists in namespace={namespace}.")]
    DuplicateObject { namespace: String, name: String },
    #[error("A metadata definition property with name={name} already exists in namespace={namespace}.")]
    DuplicateProperty { namespace: String, name: String },
    #[error("A metadata tag with name={name} already exists in namespace={namespace} (tag names are compared ignoring case).")]
    DuplicateTag { namespace: String, name: String },
    #[error("The metadata definition resource-type association of resource-type={resource_type} to namespace={namespace} already exists.")]
    DuplicateAssociation { namespace: String, resource_type: String },
    #[error("Metadata definition namespace {0} is protected and cannot be deleted. Update it with protected=false first.")]
    NamespaceProtected(String),
    #[error("Metadata definition namespace {namespace} is protected: its {what} cannot be deleted. Update the namespace with protected=false first.")]
    ContentProtected { namespace: String, what: String },
}

/// The attributes of a namespace as a client sends them (create and update).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespaceInput {
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<String>,
    pub protected: Option<bool>,
    pub owner: Option<String>,
}

/// A resource type association as a client sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssociationInput {
    pub name: String,
    pub prefix: Option<String>,
    pub properties_target: Option<String>,
}

/// A property definition as a client sends it (already checked against the property schema).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropertyInput {
    pub name: String,
    pub definition: Map<String, Value>,
}

/// An object as a client sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectInput {
    pub name: String,
    pub description: Option<String>,
    pub required: Vec<String>,
    pub properties: Map<String, Value>,
}

/// A whole namespace to create: its attributes and, optionally, its contents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespaceCreate {
    pub attributes: NamespaceInput,
    pub associations: Vec<AssociationInput>,
    pub properties: Vec<PropertyInput>,
    pub objects: Vec<ObjectInput>,
    pub tags: Vec<String>,
}

/// A namespace with everything in it, as `GET /v2/metadefs/namespaces/{name}` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceDetail {
    pub namespace: Namespace,
    pub associations: Vec<Association>,
    pub properties: Vec<Property>,
    pub objects: Vec<MetadefObject>,
    pub tags: Vec<Tag>,
}

/// Sort order of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub key: String,
    pub ascending: bool,
}

/// `GET /v2/metadefs/namespaces` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceQuery {
    pub limit: usize,
    /// Name of the last namespace of the previous page.
    pub marker: Option<String>,
    pub sort: Sort,
    pub visibility: Option<String>,
    pub resource_types: Vec<String>,
}

/// One page of namespaces, each with its resource type associations.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespacePage {
    pub namespaces: Vec<(Namespace, Vec<Association>)>,
    /// The marker of the next page, when there is one.
    pub next_marker: Option<String>,
}

/// `GET .../tags` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct TagQuery {
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub sort: Sort,
}

/// What `DELETE /v2/metadefs/namespaces/{name}/{objects,properties,tags}` empties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceContent {
    Objects,
    Properties,
    Tags,
}

/// Attributes a namespace listing may be sorted by.
pub const NAMESPACE_SORT_KEYS: &[&str] = &["namespace", "display_name", "description", "visibility", "protected", "owner", "created_at", "updated_at"];
/// Attributes a tag listing may be sorted by.
pub const TAG_SORT_KEYS: &[&str] = &["name", "created_at", "updated_at"];

/// A value to order by: text (absent first) or a number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Text(Option<String>),
    Number(i64),
}

fn namespace_sort_value(ns: &Namespace, key: &str) -> SortValue {
    match key {
        "namespace" => SortValue::Text(Some(ns.namespace.clone())),
        "display_name" => SortValue::Text(ns.display_name.clone()),
        "description" => SortValue::Text(ns.description.clone()),
        "visibility" => SortValue::Text(Some(ns.visibility.clone())),
        "owner" => SortValue::Text(ns.owner.clone()),
        "protected" => SortValue::Number(i64::from(ns.protected)),
        "updated_at" => SortValue::Number(ns.updated_at),
        _ => SortValue::Number(ns.created_at),
    }
}

/// Orders by the sort key, then creation time, then name (unique), all in one direction, as
/// oslo.db's paginate_query does; the same order decides what comes after a marker.
fn namespace_order(a: &Namespace, b: &Namespace, sort: &Sort) -> Ordering {
    let o = namespace_sort_value(a, &sort.key)
        .cmp(&namespace_sort_value(b, &sort.key))
        .then(a.created_at.cmp(&b.created_at))
        .then_with(|| a.namespace.cmp(&b.namespace));
    if sort.ascending {
        o
    } else {
        o.reverse()
    }
}

fn tag_order(a: &Tag, b: &Tag, sort: &Sort) -> Ordering {
    let key = |t: &Tag| match sort.key.as_str() {
        "name" => SortValue::Text(Some(t.name.clone())),
        "updated_at" => SortValue::Number(t.updated_at),
        _ => SortValue::Number(t.created_at),
    };
    let o = key(a).cmp(&key(b)).then(a.created_at.cmp(&b.created_at)).then_with(|| a.name.cmp(&b.name));
    if sort.ascending {
        o
    } else {
        o.reverse()
    }
}

/// The policy target of a namespace, as glance's MetadefAPIPolicy builds it.
fn namespace_target(ns: &Namespace) -> Value {
    json!({"project_id": ns.owner, "visibility": ns.visibility})
}

/// Turns a unique-key violation into the conflict the caller should see.
fn on_duplicate(e: DbError, conflict: impl FnOnce() -> MetadefError) -> GlanceError {
    match e {
        DbError::Duplicate(_) => GlanceError::Metadef(conflict()),
        other => GlanceError::Db(other),
    }
}

/// Checks names that must be unique within one request before anything is written.
fn first_duplicate<'a>(names: impl IntoIterator<Item = &'a str>, fold_case: bool) -> Option<&'a str> {
    let mut seen = HashSet::new();
    names.into_iter().find(|n| !seen.insert(if fold_case { n.to_lowercase() } else { n.to_string() }))
}

/// Applies a resource type's prefix to a namespace's property names (and its objects'), as
/// `GET /v2/metadefs/namespaces/{name}?resource_type=...` shows them.
fn apply_prefix(detail: &mut NamespaceDetail, prefix: &str) {
    for p in &mut detail.properties {
        p.name = format!("{prefix}{}", p.name);
    }
    for o in &mut detail.objects {
        o.properties = std::mem::take(&mut o.properties).into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)).collect();
        o.required = o.required.iter().map(|r| format!("{prefix}{r}")).collect();
    }
}

impl App {
    /// Evaluates a rule without failing: `false` for a refusal or a scope mismatch.
    fn metadef_allowed(&self, ctx: &RequestContext, rule: &str, target: &Value) -> bool {
        matches!(self.policy.enforce(rule, target, &ctx.policy_creds()), Ok(true))
    }

    /// Whether the caller may see a namespace at all (glance's `_is_namespace_visible`).
    fn namespace_visible(&self, ctx: &RequestContext, ns: &Namespace) -> bool {
        self.is_admin(ctx) || ns.owner.is_none() || ns.visibility == "public" || ns.owner.as_deref() == ctx.project_id()
    }

    /// Checks `rule` on a namespace the caller can see. A refusal is 403, unless the caller
    /// could not read the namespace either: then it is "not found", so that policy never
    /// reveals a namespace the caller has no business knowing about.
    fn enforce_on_namespace(&self, ctx: &RequestContext, rule: &str, ns: &Namespace) -> Result<()> {
        let target = namespace_target(ns);
        match self.enforce(ctx, rule, &target) {
            Err(GlanceError::Forbidden(msg)) => {
                if rule == "get_metadef_namespace" || !self.metadef_allowed(ctx, "get_metadef_namespace", &target) {
                    Err(MetadefError::NamespaceNotFound(ns.namespace.clone()).into())
                } else {
                    Err(GlanceError::Forbidden(msg))
                }
            }
            other => other,
        }
    }

    /// Loads a namespace the caller can see and checks `rule` on it.
    async fn namespace_for(&self, ctx: &RequestContext, name: &str, rule: &str) -> Result<Namespace> {
        let ns = mdb::namespace_get(&self.db, name)
            .await?
            .filter(|ns| self.namespace_visible(ctx, ns))
            .ok_or_else(|| MetadefError::NamespaceNotFound(name.to_string()))?;
        self.enforce_on_namespace(ctx, rule, &ns)?;
        Ok(ns)
    }

    /// GET /v2/metadefs/namespaces
    pub async fn metadef_namespace_list(&self, ctx: &RequestContext, query: &NamespaceQuery) -> Result<NamespacePage> {
        let caller = json!({"project_id": ctx.project_id()});
        self.enforce(ctx, "get_metadef_namespaces", &caller)?;
        self.enforce(ctx, "list_metadef_resource_types", &caller)?;
        let scope = if self.is_admin(ctx) { NamespaceScope::All } else { NamespaceScope::VisibleTo(ctx.project_id()) };
        let mut namespaces = mdb::namespace_list(&self.db, scope).await?;
        if let Some(v) = &query.visibility {
            namespaces.retain(|ns| &ns.visibility == v);
        }
        if !query.resource_types.is_empty() {
            let ids: HashSet<String> = mdb::namespace_ids_with_resource_types(&self.db, &query.resource_types).await?.into_iter().collect();
            namespaces.retain(|ns| ids.contains(&ns.id));
        }
        namespaces.retain(|ns| self.metadef_allowed(ctx, "get_metadef_namespace", &namespace_target(ns)));
        namespaces.sort_by(|a, b| namespace_order(a, b, &query.sort));
        if let Some(marker) = &query.marker {
            // The marker need not pass this page's filters, only be visible: it is a
            // position in the order.
            let marker_ns = mdb::namespace_get(&self.db, marker)
                .await?
                .filter(|ns| self.namespace_visible(ctx, ns))
                .ok_or_else(|| MetadefError::NamespaceNotFound(marker.clone()))?;
            namespaces.retain(|ns| namespace_order(ns, &marker_ns, &query.sort) == Ordering::Greater);
        }
        let more = namespaces.len() > query.limit;
        namespaces.truncate(query.limit);
        let next_marker = if more { namespaces.last().map(|ns| ns.namespace.clone()) } else { None };
        let ids: Vec<String> = namespaces.iter().map(|ns| ns.id.clone()).collect();
        let mut associations: BTreeMap<String, Vec<Association>> = BTreeMap::new();
        for a in mdb::association_list_for(&self.db, &ids).await? {
            associations.entry(a.namespace_id.clone()).or_default().push(a);
        }
        let namespaces = namespaces
            .into_iter()
            .map(|ns| {
                let a = associations.remove(&ns.id).unwrap_or_default();
                (ns, a)
            })
            .collect();
        Ok(NamespacePage { namespaces, next_marker })
    }

    /// POST /v2/metadefs/namespaces: the namespace and, optionally, its contents at once.
    pub async fn metadef_namespace_create(&self, ctx: &RequestContext, input: NamespaceCreate) -> Result<NamespaceDetail> {
        let caller = json!({"project_id": ctx.project_id()});
        self.enforce(ctx, "add_metadef_namespace", &caller)?;
        for (present, rule) in [
            (!input.associations.is_empty(), "add_metadef_resource_type_association"),
            (!input.objects.is_empty(), "add_metadef_object"),
            (!input.properties.is_empty(), "add_metadef_property"),
            (!input.tags.is_empty(), "add_metadef_tag"),
        ] {
            if present {
                self.enforce(ctx, rule, &caller)?;
            }
        }
        let name = input.attributes.namespace.clone();
        if let Some(dup) = first_duplicate(input.objects.iter().map(|o| o.name.as_str()), false) {
            return Err(MetadefError::DuplicateObject { namespace: name, name: dup.to_string() }.into());
        }
        if let Some(dup) = first_duplicate(input.tags.iter().map(String::as_str), true) {
            return Err(MetadefError::DuplicateTag { namespace: name, name: dup.to_string() }.into());
        }
        if let Some(dup) = first_duplicate(input.associations.iter().map(|a| a.name.as_str()), false) {
            return Err(MetadefError::DuplicateAssociation { namespace: name, resource_type: dup.to_string() }.into());
        }
        let ts = now();
        let a = input.attributes;
        let ns = Namespace {
            id: common::ids::new_uuid(),
            namespace: a.namespace,
            display_name: a.display_name,
            description: a.description,
            visibility: a.visibility.unwrap_or_else(|| "private".into()),
            protected: a.protected.unwrap_or(false),
            owner: a.owner.or_else(|| ctx.project_id().map(str::to_string)),
            created_at: ts,
            updated_at: ts,
        };
        let contents = NamespaceContents {
            associations: input
                .associations
                .into_iter()
                .map(|a| Association { namespace_id: ns.id.clone(), resource_type: a.name, prefix: a.prefix, properties_target: a.properties_target, created_at: ts, updated_at: ts })
                .collect(),
            properties: input
                .properties
                .into_iter()
                .map(|p| Property { id: common::ids::new_uuid(), namespace_id: ns.id.clone(), name: p.name, definition: p.definition, created_at: ts, updated_at: ts })
                .collect(),
            objects: input.objects.into_iter().map(|o| new_object(&ns, o, ts)).collect(),
            tags: input.tags.into_iter().map(|t| new_tag(&ns, t, ts)).collect(),
        };
        mdb::namespace_create(&self.db, &ns, &contents).await.map_err(|e| on_duplicate(e, || MetadefError::DuplicateNamespace(ns.namespace.clone())))?;
        let NamespaceContents { associations, properties, objects, tags } = contents;
        Ok(NamespaceDetail { namespace: ns, associations, properties, objects, tags })
    }

    /// GET /v2/metadefs/namespaces/{name}, property names prefixed for `resource_type` when
    /// the namespace's association with it has a prefix.
    pub async fn metadef_namespace_get(&self, ctx: &RequestContext, name: &str, resource_type: Option<&str>) -> Result<NamespaceDetail> {
        let ns = self.namespace_for(ctx, name, "get_metadef_namespace").await?;
        for rule in ["list_metadef_resource_types", "get_metadef_objects", "get_metadef_properties", "get_metadef_tags"] {
            self.enforce_on_namespace(ctx, rule, &ns)?;
        }
        let mut detail = NamespaceDetail {
            associations: mdb::association_list(&self.db, &ns.id).await?,
            properties: mdb::property_list(&self.db, &ns.id).await?,
            objects: mdb::object_list(&self.db, &ns.id).await?,
            tags: mdb::tag_list(&self.db, &ns.id).await?,
            namespace: ns,
        };
        detail.tags.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.name.cmp(&b.name)));
        let prefix = resource_type.and_then(|rt| detail.associations.iter().find(|a| a.resource_type == rt)).and_then(|a| a.prefix.clone());
        if let Some(prefix) = prefix {
            apply_prefix(&mut detail, &prefix);
        }
        Ok(detail)
    }

    /// PUT /v2/metadefs/namespaces/{name}. Attributes the body leaves out go back to their
    /// defaults (as upstream; the API reference warns about it), contents are untouched.
    pub async fn metadef_namespace_update(&self, ctx: &RequestContext, name: &str, input: NamespaceInput) -> Result<Namespace> {
        let mut ns = self.namespace_for(ctx, name, "modify_metadef_namespace").await?;
        ns.namespace = input.namespace;
        ns.display_name = input.display_name;
        ns.description = input.description;
        ns.visibility = input.visibility.unwrap_or_else(|| "private".into());
        ns.protected = input.protected.unwrap_or(false);
        ns.owner = input.owner.or_else(|| ctx.project_id().map(str::to_string));
        ns.updated_at = now();
        mdb::namespace_update(&self.db, &ns).await.map_err(|e| on_duplicate(e, || MetadefError::DuplicateNamespace(ns.namespace.clone())))?;
        Ok(ns)
    }

    /// DELETE /v2/metadefs/namespaces/{name}: refused while protected.
    pub async fn metadef_namespace_delete(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        let ns = self.namespace_for(ctx, name, "delete_metadef_namespace").await?;
        if ns.protected {
            return Err(MetadefError::NamespaceProtected(ns.namespace).into());
        }
        mdb::namespace_delete(&self.db, &ns.id).await?;
        Ok(())
    }

    /// DELETE /v2/metadefs/namespaces/{name}/{objects,properties,tags}: empties the
    /// namespace of one kind of content; refused while the namespace is protected. Upstream
    /// checks the namespace's delete rule for all three (and the tags rule for tags).
    pub async fn metadef_namespace_clear(&self, ctx: &RequestContext, name: &str, content: NamespaceContent) -> Result<()> {
        let ns = self.namespace_for(ctx, name, "delete_metadef_namespace").await?;
        if content == NamespaceContent::Tags {
            self.enforce_on_namespace(ctx, "delete_metadef_tags", &ns)?;
        }
        let what = match content {
            NamespaceContent::Objects => "objects",
            NamespaceContent::Properties => "properties",
            NamespaceContent::Tags => "tags",
        };
        if ns.protected {
            return Err(MetadefError::ContentProtected { namespace: ns.namespace, what: what.into() }.into());
        }
        match content {
            NamespaceContent::Objects => mdb::object_delete_all(&self.db, &ns.id).await?,
            NamespaceContent::Properties => mdb::property_delete_all(&self.db, &ns.id).await?,
            NamespaceContent::Tags => mdb::tag_delete_all(&self.db, &ns.id).await?,
        };
        Ok(())
    }

    /// GET /v2/metadefs/namespaces/{name}/objects
    pub async fn metadef_object_list(&self, ctx: &RequestContext, namespace: &str) -> Result<Vec<MetadefObject>> {
        let ns = self.namespace_for(ctx, namespace, "get_metadef_objects").await?;
        if !self.metadef_allowed(ctx, "get_metadef_object", &namespace_target(&ns)) {
            return Ok(vec![]);
        }
        Ok(mdb::object_list(&self.db, &ns.id).await?)
    }

    /// GET /v2/metadefs/namespaces/{name}/objects/{object}
    pub async fn metadef_object_get(&self, ctx: &RequestContext, namespace: &str, name: &str) -> Result<MetadefObject> {
        let ns = self.namespace_for(ctx, namespace, "get_metadef_object").await?;
        self.object_in(&ns, name).await
    }

    async fn object_in(&self, ns: &Namespace, name: &str) -> Result<MetadefObject> {
        mdb::object_get(&self.db, &ns.id, name).await?.ok_or_else(|| MetadefError::ObjectNotFound { namespace: ns.namespace.clone(), name: name.to_string() }.into())
    }

    /// POST /v2/metadefs/namespaces/{name}/objects
    pub async fn metadef_object_create(&self, ctx: &RequestContext, namespace: &str, input: ObjectInput) -> Result<MetadefObject> {
        let ns = self.namespace_for(ctx, namespace, "add_metadef_object").await?;
        let object = new_object(&ns, input, now());
        mdb::object_create(&self.db, &object)
            .await
            .map_err(|e| on_duplicate(e, || MetadefError::DuplicateObject { namespace: ns.namespace.clone(), name: object.name.clone() }))?;
        Ok(object)
    }

    /// PUT /v2/metadefs/namespaces/{name}/objects/{object}: replaces the object (a rename
    /// included).
    pub async fn metadef_object_update(&self, ctx: &RequestContext, namespace: &str, name: &str, input: ObjectInput) -> Result<MetadefObject> {
        let ns = self.namespace_for(ctx, namespace, "modify_metadef_object").await?;
        let mut object = self.object_in(&ns, name).await?;
        object.name = input.name;
        object.description = input.description;
        object.required = input.required;
        object.properties = input.properties;
        object.updated_at = now();
        mdb::object_update(&self.db, &object)
            .await
            .map_err(|e| on_duplicate(e, || MetadefError::DuplicateObject { namespace: ns.namespace.clone(), name: object.name.clone() }))?;
        Ok(object)
    }

    /// DELETE /v2/metadefs/namespaces/{name}/objects/{object}: refused in a protected namespace.
    pub async fn metadef_object_delete(&self, ctx: &RequestContext, namespace: &str, name: &str) -> Result<()> {
        let ns = self.namespace_for(ctx, namespace, "delete_metadef_object").await?;
        let object = self.object_in(&ns, name).await?;
        if ns.protected {
            return Err(MetadefError::ContentProtected { namespace: ns.namespace, what: format!("object {name}") }.into());
        }
        mdb::object_delete(&self.db, &object.id).await?;
        Ok(())
    }

    /// GET /v2/metadefs/namespaces/{name}/properties
    pub async fn metadef_property_list(&self, ctx: &RequestContext, namespace: &str) -> Result<Vec<Property>> {
        let ns = self.namespace_for(ctx, namespace, "get_metadef_properties").await?;
        Ok(mdb::property_list(&self.db, &ns.id).await?)
    }

    /// GET /v2/metadefs/namespaces/{name}/properties/{property}. With `resource_type`, the
    /// name is given with that association's prefix, which is removed before the lookup.
    pub async fn metadef_property_get(&self, ctx: &RequestContext, namespace: &str, name: &str, resource_type: Option<&str>) -> Result<Property> {
        let ns = self.namespace_for(ctx, namespace, "get_metadef_property").await?;
        let mut lookup = name;
        if let Some(rt) = resource_type {
            self.enforce_on_namespace(ctx, "get_metadef_resource_type", &ns)?;
            let association = mdb::association_get(&self.db, &ns.id, rt)
                .await?
                .ok_or_else(|| MetadefError::AssociationNotFound { namespace: ns.namespace.clone(), resource_type: rt.to_string() })?;
            let prefix = association.prefix.unwrap_or_default();
            lookup = match name.strip_prefix(prefix.as_str()) {
                Some(rest) if !prefix.is_empty() => rest,
                _ => return Err(MetadefError::PrefixMismatch { name: name.to_string(), prefix }.into()),
            };
        }
        self.property_in(&ns, lookup).await
    }

    async fn property_in(&self, ns: &Namespace, name: &str) -> Result<Property> {
        mdb::property_get(&self.db, &ns.id, name).await?.ok_or_else(|| MetadefError::PropertyNotFound { namespace: ns.namespace.clone(), name: name.to_string() }.into())
    }

    /// POST /v2/metadefs/namespaces/{name}/properties
    pub async fn metadef_property_create(&self, ctx: &RequestContext, namespace: &str, input: PropertyInput) -> Result<Property> {
        let ns = self.namespace_for(ctx, namespace, "add_metadef_property").await?;
        let ts = now();
        let property = Property { id: common::ids::new_uuid(), namespace_id: ns.id.clone(), name: input.name, definition: input.definition, created_at: ts, updated_at: ts };
        mdb::property_create(&self.db, &property)
            .await
            .map_err(|e| on_duplicate(e, || MetadefError::DuplicateProperty { namespace: ns.namespace.clone(), name: property.name.clone() }))?;
        Ok(property)
    }

    /// PUT /v2/metadefs/namespaces/{name}/properties/{property}: replaces the definition (a
    /// rename included).
    pub async fn metadef_property_update(&self, ctx: &RequestContext, namespace: &str, name: &str, input: PropertyInput) -> Result<Property> {
        let ns = self.namespace_for(ctx, namespace, "modify_metadef_property").await?;
        let mut property = self.property_in(&ns, name).await?;
        property.name = input.name;
        property.definition = input.definition;
        property.updated_at = now();
        mdb::property_update(&self.db, &property)
            .await
            .map_err(|e| on_duplicate(e, || MetadefError::DuplicateProperty { namespace: ns.namespace.clone(), name: property.name.clone() }))?;
        Ok(property)
    }

    /// DELETE /v2/metadefs/namespaces/{name}/properties/{property}: refused in a protected
    /// namespace.
    pub async fn metadef_property_delete(&self, ctx: &RequestContext, namespace: &str, name: &str) -> Result<()> {
        let ns = self.namespace_for(ctx, namespace, "remove_metadef_property").await?;
        let property = self.property_in(&ns, name).await?;
        if ns.protected {
            return Err(MetadefError::ContentProtected { namespace: ns.namespace, what: format!("property {name}") }.into());
        }
        mdb::property_delete(&self.db, &property.id).await?;
        Ok(())
    }

    /// GET /v2/metadefs/namespaces/{name}/tags, sorted and paged by tag name markers.
    pub async fn metadef_tag_list(&self, ctx: &RequestContext, namespace: &str, query: &TagQuery) -> Result<Vec<Tag>> {
        let ns = self.namespace_for(ctx, namespace, "get_metadef_tags").await?;
        let mut tags = mdb::tag_list(&self.db, &ns.id).await?;
        tags.sort_by(|a, b| tag_order(a, b, &query.sort));
        if let Some(marker) = &query.marker {
            let pos = tags
                .iter()
                .position(|t| &t.name == marker)
                .ok_or_else(|| MetadefError::TagNotFound { namespace: ns.namespace.clone(), name: marker.clone() })?;
            tags.drain(..=pos);
        }
        if let Some(limit) = query.limit {
            tags.truncate(limit);
        }
        Ok(tags)
    }

    /// GET /v2/metadefs/namespaces/{name}/tags/{tag}
    pub async fn metadef_tag_get(&self, ctx: &RequestContext, namespace: &str, name: &str) -> Result<Tag> {
        let ns = self.namespace_for(ctx, namespace, "get_metadef_tag").await?;
        self.tag_in(&ns, name).await
    }

    async fn tag_in(&self, ns: &Namespace, name: &str) -> Result<Tag> {
        mdb::tag_get(&self.db, &ns.id, name).await?.ok_or_else(|| MetadefError::TagNotFound { namespace: ns.namespace.clone(), name: name.to_string() }.into())
    }

    /// POST /v2/metadefs/namespaces/{name}/tags/{tag}
    pub async fn metadef_tag_create(&self, ctx: &RequestContext, namespace: &str, name: &str) -> Result<Tag> {
        let ns = self.namespace_for(ctx, namespace, "add_metadef_tag").await?;
        let tag = new_tag(&ns, name.to_string(), now());
        mdb::tag_create(&self.db, &tag).await.map_err(|e| on_duplicate(e, || MetadefError::DuplicateTag { namespace: ns.namespace.clone(), name: tag.name.clone() }))?;
        Ok(tag)
    }

    /// POST /v2/metadefs/namespaces/{name}/tags: replaces the namespace's tags with `names`,
    /// or adds them when `append` (`X-Openstack-Append: true`). An empty list changes
    /// nothing, as upstream.
    pub async fn metadef_tag_create_many(&self, ctx: &RequestContext, namespace: &str, names: Vec<String>, append: bool) -> Result<Vec<Tag>> {
        let ns = self.namespace_for(ctx, namespace, "add_metadef_tags").await?;
        if names.is_empty() {
            return Ok(vec![]);
        }
        if let Some(dup) = first_duplicate(names.iter().map(String::as_str), true) {
            return Err(MetadefError::DuplicateTag { namespace: ns.namespace, name: dup.to_string() }.into());
        }
        let ts = now();
        let tags: Vec<Tag> = names.into_iter().map(|n| new_tag(&ns, n, ts)).collect();
        match mdb::tag_create_many(&self.db, &ns.id, &tags, append).await {
            Ok(()) => Ok(tags),
            Err(DbError::Duplicate(_)) => {
                // Only an appended name can collide with a stored one: say which.
                let existing = mdb::tag_list(&self.db, &ns.id).await?;
                let clash = tags.iter().find(|t| existing.iter().any(|x| x.name.to_lowercase() == t.name.to_lowercase())).map(|t| t.name.clone()).unwrap_or_default();
                Err(MetadefError::DuplicateTag { namespace: ns.namespace, name: clash }.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// PUT /v2/metadefs/namespaces/{name}/tags/{tag}: renames a tag.
    pub async fn metadef_tag_update(&self, ctx: &RequestContext, namespace: &str, name: &str, new_name: String) -> Result<Tag> {
        let ns = self.namespace_for(ctx, namespace, "modify_metadef_tag").await?;
        let mut tag = self.tag_in(&ns, name).await?;
        tag.name = new_name;
        tag.updated_at = now();
        mdb::tag_update(&self.db, &tag).await.map_err(|e| on_duplicate(e, || MetadefError::DuplicateTag { namespace: ns.namespace.clone(), name: tag.name.clone() }))?;
        Ok(tag)
    }

    /// DELETE /v2/metadefs/namespaces/{name}/tags/{tag}: refused in a protected namespace.
    pub async fn metadef_tag_delete(&self, ctx: &RequestContext, namespace: &str, name: &str) -> Result<()> {
        let ns = self.namespace_for(ctx, namespace, "delete_metadef_tag").await?;
        let tag = self.tag_in(&ns, name).await?;
        if ns.protected {
            return Err(MetadefError::ContentProtected { namespace: ns.namespace, what: format!("tag {name}") }.into());
        }
        mdb::tag_delete(&self.db, &tag.id).await?;
        Ok(())
    }

    /// GET /v2/metadefs/resource_types
    pub async fn metadef_resource_type_list(&self, ctx: &RequestContext) -> Result<Vec<ResourceType>> {
        self.enforce(ctx, "list_metadef_resource_types", &json!({"project_id": ctx.project_id()}))?;
        Ok(mdb::resource_type_list(&self.db).await?)
    }

    /// GET /v2/metadefs/namespaces/{name}/resource_types
    pub async fn metadef_association_list(&self, ctx: &RequestContext, namespace: &str) -> Result<Vec<Association>> {
        let ns = self.namespace_for(ctx, namespace, "list_metadef_resource_types").await?;
        if !self.metadef_allowed(ctx, "get_metadef_resource_type", &namespace_target(&ns)) {
            return Ok(vec![]);
        }
        Ok(mdb::association_list(&self.db, &ns.id).await?)
    }

    /// POST /v2/metadefs/namespaces/{name}/resource_types: associates the namespace with a
    /// resource type, creating the type if it is new.
    pub async fn metadef_association_create(&self, ctx: &RequestContext, namespace: &str, input: AssociationInput) -> Result<Association> {
        let ns = self.namespace_for(ctx, namespace, "add_metadef_resource_type_association").await?;
        let ts = now();
        let association = Association { namespace_id: ns.id.clone(), resource_type: input.name, prefix: input.prefix, properties_target: input.properties_target, created_at: ts, updated_at: ts };
        mdb::association_create(&self.db, &association)
            .await
            .map_err(|e| on_duplicate(e, || MetadefError::DuplicateAssociation { namespace: ns.namespace.clone(), resource_type: association.resource_type.clone() }))?;
        Ok(association)
    }

    /// DELETE /v2/metadefs/namespaces/{name}/resource_types/{resource_type}: refused in a
    /// protected namespace. The resource type itself stays.
    pub async fn metadef_association_delete(&self, ctx: &RequestContext, namespace: &str, resource_type: &str) -> Result<()> {
        let ns = self.namespace_for(ctx, namespace, "remove_metadef_resource_type_association").await?;
        if mdb::association_get(&self.db, &ns.id, resource_type).await?.is_none() {
            return Err(MetadefError::AssociationNotFound { namespace: ns.namespace, resource_type: resource_type.to_string() }.into());
        }
        if ns.protected {
            return Err(MetadefError::ContentProtected { namespace: ns.namespace, what: format!("resource type association {resource_type}") }.into());
        }
        mdb::association_delete(&self.db, &ns.id, resource_type).await?;
        Ok(())
    }
}

fn new_object(ns: &Namespace, input: ObjectInput, ts: i64) -> MetadefObject {
    MetadefObject {
        id: common::ids::new_uuid(),
        namespace_id: ns.id.clone(),
        name: input.name,
        description: input.description,
        required: input.required,
        properties: input.properties,
        created_at: ts,
        updated_at: ts,
    }
}

fn new_tag(ns: &Namespace, name: String, ts: i64) -> Tag {
    Tag { id: common::ids::new_uuid(), namespace_id: ns.id.clone(), name, created_at: ts, updated_at: ts }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(name: &str, created_at: i64, display_name: Option<&str>) -> Namespace {
        Namespace {
            id: name.into(),
            namespace: name.into(),
            display_name: display_name.map(str::to_string),
            description: None,
            visibility: "public".into(),
            protected: false,
            owner: Some("p".into()),
            created_at,
            updated_at: created_at,
        }
    }

    #[test]
    fn namespaces_order_by_key_then_creation_then_name() {
        let mut list = [ns("b", 2, Some("x")), ns("a", 2, Some("x")), ns("c", 1, None), ns("d", 3, Some("a"))];
        let asc = Sort { key: "display_name".into(), ascending: true };
        list.sort_by(|a, b| namespace_order(a, b, &asc));
        let names: Vec<_> = list.iter().map(|n| n.namespace.as_str()).collect();
        assert_eq!(names, ["c", "d", "a", "b"], "absent display names first, ties by creation then name");
        let desc = Sort { key: "created_at".into(), ascending: false };
        list.sort_by(|a, b| namespace_order(a, b, &desc));
        let names: Vec<_> = list.iter().map(|n| n.namespace.as_str()).collect();
        assert_eq!(names, ["d", "b", "a", "c"]);
    }

    #[test]
    fn duplicates_in_one_request_are_found_ignoring_case_for_tags() {
        assert_eq!(first_duplicate(["a", "B", "b"], true), Some("b"));
        assert_eq!(first_duplicate(["a", "B", "b"], false), None);
    }

    #[test]
    fn prefix_applies_to_properties_object_properties_and_required() {
        let n = ns("n", 1, None);
        let mut object = new_object(&n, ObjectInput { name: "o".into(), required: vec!["size".into()], ..Default::default() }, 1);
        object.properties.insert("size".into(), json!({"type": "integer", "title": "Size"}));
        let mut detail = NamespaceDetail {
            properties: vec![Property { id: "1".into(), namespace_id: "n".into(), name: "bus".into(), definition: Map::new(), created_at: 1, updated_at: 1 }],
            objects: vec![object],
            associations: vec![],
            tags: vec![],
            namespace: n,
        };
        apply_prefix(&mut detail, "hw_");
        assert_eq!(detail.properties[0].name, "hw_bus");
        assert!(detail.objects[0].properties.contains_key("hw_size"));
        assert_eq!(detail.objects[0].required, ["hw_size"]);
    }
}
