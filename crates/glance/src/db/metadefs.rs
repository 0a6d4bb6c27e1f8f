//! Metadata definitions: namespaces and what they hold (objects, properties, tags, resource
//! type associations), as glance/db/sqlalchemy/metadef_api. Queries only; visibility,
//! protection and policy are the app layer's.

use db::{params, Db, DbError, Row, Tx};
use serde_json::{Map, Value};

/// A namespace: a named, owned group of definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Namespace {
    /// Internal key (never shown): a rename keeps the contents attached.
    pub id: String,
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// `public` or `private`.
    pub visibility: String,
    pub protected: bool,
    pub owner: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An object: a named group of property definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadefObject {
    pub id: String,
    pub namespace_id: String,
    pub name: String,
    pub description: Option<String>,
    /// Names of the object's properties that are required.
    pub required: Vec<String>,
    /// Property name → definition (the JSON the API shows, without the name).
    pub properties: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A property definition at the top level of a namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub id: String,
    pub namespace_id: String,
    pub name: String,
    /// The definition (type, title, enum, ...), without the name.
    pub definition: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A tag definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub id: String,
    pub namespace_id: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A kind of resource definitions apply to (`OS::Glance::Image`, `OS::Nova::Flavor`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub name: String,
    /// Seeded types; nothing deletes resource types today, kept as upstream keeps it.
    pub protected: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A namespace's association with a resource type, with the prefix its property names take
/// on that resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    pub namespace_id: String,
    pub resource_type: String,
    pub prefix: Option<String>,
    pub properties_target: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Everything a namespace holds, written with it when a namespace is created whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespaceContents {
    pub associations: Vec<Association>,
    pub properties: Vec<Property>,
    pub objects: Vec<MetadefObject>,
    pub tags: Vec<Tag>,
}

/// Which namespaces a listing may return.
#[derive(Debug, Clone, Copy)]
pub enum NamespaceScope<'a> {
    /// Every namespace (an admin).
    All,
    /// Public namespaces, those without owner, and those the project owns.
    VisibleTo(Option<&'a str>),
}

fn decode_error(column: &str, e: serde_json::Error) -> DbError {
    DbError::Decode { column: column.to_string(), message: e.to_string() }
}

fn json_map(r: &Row, column: &str) -> Result<Map<String, Value>, DbError> {
    serde_json::from_str(&r.str(column)?).map_err(|e| decode_error(column, e))
}

fn to_json_text(v: &impl serde::Serialize) -> String {
    // Maps and string lists always serialize.
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// Tags are unique per namespace regardless of case.
fn fold(name: &str) -> String {
    name.to_lowercase()
}

const NAMESPACE_COLUMNS: &str = "id, namespace, display_name, description, visibility, protected, owner, created_at, updated_at";

fn namespace_from_row(r: &Row) -> Result<Namespace, DbError> {
    Ok(Namespace {
        id: r.str("id")?,
        namespace: r.str("namespace")?,
        display_name: r.opt_str("display_name")?,
        description: r.opt_str("description")?,
        visibility: r.str("visibility")?,
        protected: r.bool("protected")?,
        owner: r.opt_str("owner")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

pub async fn namespace_get(db: &Db, name: &str) -> Result<Option<Namespace>, DbError> {
    let sql = format!("SELECT {NAMESPACE_COLUMNS} FROM metadef_namespace WHERE namespace = ?");
    db.fetch_optional(&sql, params![name]).await?.as_ref().map(namespace_from_row).transpose()
}

/// The namespaces in `scope` (ordering and paging are the caller's).
pub async fn namespace_list(db: &Db, scope: NamespaceScope<'_>) -> Result<Vec<Namespace>, DbError> {
    let rows = match scope {
        NamespaceScope::All => db.fetch_all(&format!("SELECT {NAMESPACE_COLUMNS} FROM metadef_namespace"), params![]).await?,
        NamespaceScope::VisibleTo(Some(project)) => {
            let sql = format!("SELECT {NAMESPACE_COLUMNS} FROM metadef_namespace WHERE visibility = 'public' OR owner IS NULL OR owner = ?");
            db.fetch_all(&sql, params![project]).await?
        }
        NamespaceScope::VisibleTo(None) => {
            let sql = format!("SELECT {NAMESPACE_COLUMNS} FROM metadef_namespace WHERE visibility = 'public' OR owner IS NULL");
            db.fetch_all(&sql, params![]).await?
        }
    };
    rows.iter().map(namespace_from_row).collect()
}

/// Ids of the namespaces associated with any of `resource_types`.
pub async fn namespace_ids_with_resource_types(db: &Db, resource_types: &[String]) -> Result<Vec<String>, DbError> {
    if resource_types.is_empty() {
        return Ok(vec![]);
    }
    let marks = vec!["?"; resource_types.len()].join(", ");
    let sql = format!("SELECT DISTINCT namespace_id FROM metadef_namespace_resource_type WHERE resource_type IN ({marks})");
    let values = resource_types.iter().map(db::Value::from).collect();
    db.fetch_all(&sql, values).await?.iter().map(|r| r.str("namespace_id")).collect()
}

/// Creates a namespace with its contents, all or nothing.
pub async fn namespace_create(db: &Db, ns: &Namespace, contents: &NamespaceContents) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec(
        &format!("INSERT INTO metadef_namespace ({NAMESPACE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        params![&ns.id, &ns.namespace, &ns.display_name, &ns.description, &ns.visibility, ns.protected, &ns.owner, ns.created_at, ns.updated_at],
    )
    .await?;
    for a in &contents.associations {
        insert_association(&mut tx, a).await?;
    }
    for p in &contents.properties {
        insert_property(&mut tx, p).await?;
    }
    for o in &contents.objects {
        insert_object(&mut tx, o).await?;
    }
    for t in &contents.tags {
        insert_tag(&mut tx, t).await?;
    }
    tx.commit().await
}

/// Rewrites a namespace's attributes (a rename included); returns the rows changed.
pub async fn namespace_update(db: &Db, ns: &Namespace) -> Result<u64, DbError> {
    db.exec(
        "UPDATE metadef_namespace SET namespace = ?, display_name = ?, description = ?, visibility = ?, protected = ?, owner = ?, updated_at = ? WHERE id = ?",
        params![&ns.namespace, &ns.display_name, &ns.description, &ns.visibility, ns.protected, &ns.owner, ns.updated_at, &ns.id],
    )
    .await
}

/// Deletes a namespace and everything in it.
pub async fn namespace_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    for table in ["metadef_tag", "metadef_object", "metadef_property", "metadef_namespace_resource_type"] {
        tx.exec(&format!("DELETE FROM {table} WHERE namespace_id = ?"), params![id]).await?;
    }
    let n = tx.exec("DELETE FROM metadef_namespace WHERE id = ?", params![id]).await?;
    tx.commit().await?;
    Ok(n)
}

const OBJECT_COLUMNS: &str = "id, namespace_id, name, description, required_properties, json_schema, created_at, updated_at";

fn object_from_row(r: &Row) -> Result<MetadefObject, DbError> {
    Ok(MetadefObject {
        id: r.str("id")?,
        namespace_id: r.str("namespace_id")?,
        name: r.str("name")?,
        description: r.opt_str("description")?,
        required: serde_json::from_str(&r.str("required_properties")?).map_err(|e| decode_error("required_properties", e))?,
        properties: json_map(r, "json_schema")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

async fn insert_object(tx: &mut Tx, o: &MetadefObject) -> Result<(), DbError> {
    tx.exec(
        &format!("INSERT INTO metadef_object ({OBJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
        params![&o.id, &o.namespace_id, &o.name, &o.description, to_json_text(&o.required), to_json_text(&o.properties), o.created_at, o.updated_at],
    )
    .await?;
    Ok(())
}

/// A namespace's objects, oldest first.
pub async fn object_list(db: &Db, namespace_id: &str) -> Result<Vec<MetadefObject>, DbError> {
    let sql = format!("SELECT {OBJECT_COLUMNS} FROM metadef_object WHERE namespace_id = ? ORDER BY created_at, name");
    db.fetch_all(&sql, params![namespace_id]).await?.iter().map(object_from_row).collect()
}

pub async fn object_get(db: &Db, namespace_id: &str, name: &str) -> Result<Option<MetadefObject>, DbError> {
    let sql = format!("SELECT {OBJECT_COLUMNS} FROM metadef_object WHERE namespace_id = ? AND name = ?");
    db.fetch_optional(&sql, params![namespace_id, name]).await?.as_ref().map(object_from_row).transpose()
}

pub async fn object_create(db: &Db, o: &MetadefObject) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    insert_object(&mut tx, o).await?;
    tx.commit().await
}

/// Rewrites an object (a rename included), found by its id.
pub async fn object_update(db: &Db, o: &MetadefObject) -> Result<u64, DbError> {
    db.exec(
        "UPDATE metadef_object SET name = ?, description = ?, required_properties = ?, json_schema = ?, updated_at = ? WHERE id = ?",
        params![&o.name, &o.description, to_json_text(&o.required), to_json_text(&o.properties), o.updated_at, &o.id],
    )
    .await
}

pub async fn object_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM metadef_object WHERE id = ?", params![id]).await
}

pub async fn object_delete_all(db: &Db, namespace_id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM metadef_object WHERE namespace_id = ?", params![namespace_id]).await
}

const PROPERTY_COLUMNS: &str = "id, namespace_id, name, json_schema, created_at, updated_at";

fn property_from_row(r: &Row) -> Result<Property, DbError> {
    Ok(Property {
        id: r.str("id")?,
        namespace_id: r.str("namespace_id")?,
        name: r.str("name")?,
        definition: json_map(r, "json_schema")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

async fn insert_property(tx: &mut Tx, p: &Property) -> Result<(), DbError> {
    tx.exec(
        &format!("INSERT INTO metadef_property ({PROPERTY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"),
        params![&p.id, &p.namespace_id, &p.name, to_json_text(&p.definition), p.created_at, p.updated_at],
    )
    .await?;
    Ok(())
}

/// A namespace's properties, by name.
pub async fn property_list(db: &Db, namespace_id: &str) -> Result<Vec<Property>, DbError> {
    let sql = format!("SELECT {PROPERTY_COLUMNS} FROM metadef_property WHERE namespace_id = ? ORDER BY name");
    db.fetch_all(&sql, params![namespace_id]).await?.iter().map(property_from_row).collect()
}

pub async fn property_get(db: &Db, namespace_id: &str, name: &str) -> Result<Option<Property>, DbError> {
    let sql = format!("SELECT {PROPERTY_COLUMNS} FROM metadef_property WHERE namespace_id = ? AND name = ?");
    db.fetch_optional(&sql, params![namespace_id, name]).await?.as_ref().map(property_from_row).transpose()
}

pub async fn property_create(db: &Db, p: &Property) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    insert_property(&mut tx, p).await?;
    tx.commit().await
}

/// Rewrites a property (a rename included), found by its id.
pub async fn property_update(db: &Db, p: &Property) -> Result<u64, DbError> {
    db.exec(
        "UPDATE metadef_property SET name = ?, json_schema = ?, updated_at = ? WHERE id = ?",
        params![&p.name, to_json_text(&p.definition), p.updated_at, &p.id],
    )
    .await
}

pub async fn property_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM metadef_property WHERE id = ?", params![id]).await
}

pub async fn property_delete_all(db: &Db, namespace_id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM metadef_property WHERE namespace_id = ?", params![namespace_id]).await
}

const TAG_COLUMNS: &str = "id, namespace_id, name, created_at, updated_at";

fn tag_from_row(r: &Row) -> Result<Tag, DbError> {
    Ok(Tag {
        id: r.str("id")?,
        namespace_id: r.str("namespace_id")?,
        name: r.str("name")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

async fn insert_tag(tx: &mut Tx, t: &Tag) -> Result<(), DbError> {
    tx.exec(
        "INSERT INTO metadef_tag (id, namespace_id, name, name_folded, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        params![&t.id, &t.namespace_id, &t.name, fold(&t.name), t.created_at, t.updated_at],
    )
    .await?;
    Ok(())
}

/// A namespace's tags (ordering and paging are the caller's).
pub async fn tag_list(db: &Db, namespace_id: &str) -> Result<Vec<Tag>, DbError> {
    let sql = format!("SELECT {TAG_COLUMNS} FROM metadef_tag WHERE namespace_id = ?");
    db.fetch_all(&sql, params![namespace_id]).await?.iter().map(tag_from_row).collect()
}

pub async fn tag_get(db: &Db, namespace_id: &str, name: &str) -> Result<Option<Tag>, DbError> {
    let sql = format!("SELECT {TAG_COLUMNS} FROM metadef_tag WHERE namespace_id = ? AND name = ?");
    db.fetch_optional(&sql, params![namespace_id, name]).await?.as_ref().map(tag_from_row).transpose()
}

pub async fn tag_create(db: &Db, t: &Tag) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    insert_tag(&mut tx, t).await?;
    tx.commit().await
}

/// Adds `tags` to a namespace; unless `append`, the namespace's tags are replaced. A name
/// already present (ignoring case) fails the whole call.
pub async fn tag_create_many(db: &Db, namespace_id: &str, tags: &[Tag], append: bool) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    if !append {
        tx.exec("DELETE FROM metadef_tag WHERE namespace_id = ?", params![namespace_id]).await?;
    }
    for t in tags {
        insert_tag(&mut tx, t).await?;
    }
    tx.commit().await
}

/// Renames a tag, found by its id.
pub async fn tag_update(db: &Db, t: &Tag) -> Result<u64, DbError> {
    db.exec("UPDATE metadef_tag SET name = ?, name_folded = ?, updated_at = ? WHERE id = ?", params![&t.name, fold(&t.name), t.updated_at, &t.id]).await
}

pub async fn tag_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM metadef_tag WHERE id = ?", params![id]).await
}

pub async fn tag_delete_all(db: &Db, namespace_id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM metadef_tag WHERE namespace_id = ?", params![namespace_id]).await
}

fn resource_type_from_row(r: &Row) -> Result<ResourceType, DbError> {
    Ok(ResourceType { name: r.str("name")?, protected: r.bool("protected")?, created_at: r.i64("created_at")?, updated_at: r.i64("updated_at")? })
}

/// Every resource type, oldest first.
pub async fn resource_type_list(db: &Db) -> Result<Vec<ResourceType>, DbError> {
    db.fetch_all("SELECT name, protected, created_at, updated_at FROM metadef_resource_type ORDER BY created_at, name", params![])
        .await?
        .iter()
        .map(resource_type_from_row)
        .collect()
}

const ASSOCIATION_COLUMNS: &str = "namespace_id, resource_type, prefix, properties_target, created_at, updated_at";

fn association_from_row(r: &Row) -> Result<Association, DbError> {
    Ok(Association {
        namespace_id: r.str("namespace_id")?,
        resource_type: r.str("resource_type")?,
        prefix: r.opt_str("prefix")?,
        properties_target: r.opt_str("properties_target")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

/// Inserts an association, creating its resource type first if it is new (as upstream
/// does: associating is how resource types come to exist).
async fn insert_association(tx: &mut Tx, a: &Association) -> Result<(), DbError> {
    let known = tx.fetch_optional("SELECT name FROM metadef_resource_type WHERE name = ?", params![&a.resource_type]).await?;
    if known.is_none() {
        tx.exec(
            "INSERT INTO metadef_resource_type (name, protected, created_at, updated_at) VALUES (?, 0, ?, ?)",
            params![&a.resource_type, a.created_at, a.created_at],
        )
        .await?;
    }
    tx.exec(
        &format!("INSERT INTO metadef_namespace_resource_type ({ASSOCIATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"),
        params![&a.namespace_id, &a.resource_type, &a.prefix, &a.properties_target, a.created_at, a.updated_at],
    )
    .await?;
    Ok(())
}

/// A namespace's resource type associations, oldest first.
pub async fn association_list(db: &Db, namespace_id: &str) -> Result<Vec<Association>, DbError> {
    let sql = format!("SELECT {ASSOCIATION_COLUMNS} FROM metadef_namespace_resource_type WHERE namespace_id = ? ORDER BY created_at, resource_type");
    db.fetch_all(&sql, params![namespace_id]).await?.iter().map(association_from_row).collect()
}

/// The associations of several namespaces at once (for a listing page).
pub async fn association_list_for(db: &Db, namespace_ids: &[String]) -> Result<Vec<Association>, DbError> {
    if namespace_ids.is_empty() {
        return Ok(vec![]);
    }
    let marks = vec!["?"; namespace_ids.len()].join(", ");
    let sql = format!("SELECT {ASSOCIATION_COLUMNS} FROM metadef_namespace_resource_type WHERE namespace_id IN ({marks}) ORDER BY created_at, resource_type");
    let values = namespace_ids.iter().map(db::Value::from).collect();
    db.fetch_all(&sql, values).await?.iter().map(association_from_row).collect()
}

pub async fn association_get(db: &Db, namespace_id: &str, resource_type: &str) -> Result<Option<Association>, DbError> {
    let sql = format!("SELECT {ASSOCIATION_COLUMNS} FROM metadef_namespace_resource_type WHERE namespace_id = ? AND resource_type = ?");
    db.fetch_optional(&sql, params![namespace_id, resource_type]).await?.as_ref().map(association_from_row).transpose()
}

pub async fn association_create(db: &Db, a: &Association) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    insert_association(&mut tx, a).await?;
    tx.commit().await
}

pub async fn association_delete(db: &Db, namespace_id: &str, resource_type: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM metadef_namespace_resource_type WHERE namespace_id = ? AND resource_type = ?", params![namespace_id, resource_type]).await
}
