//! Request bodies of the metadata definitions API, checked against the schemas
//! `/v2/schemas/metadefs/*` publishes (see `metadef_schemas`) and turned into the app
//! layer's inputs. As glance/api/v2/metadef_*.py's RequestDeserializers: read-only
//! attributes are refused with 403 before anything else, then a body that does not match the
//! schema (unknown attribute, wrong type, too long, missing name) is a 400 that says which
//! attribute and why.

use serde_json::{Map, Value};

use crate::app::metadefs::{AssociationInput, NamespaceCreate, NamespaceInput, ObjectInput, PropertyInput};
use crate::error::{GlanceError, Result};

/// Attributes the server sets on namespaces and objects.
const READ_ONLY_WITH_LINKS: &[&str] = &["self", "schema", "created_at", "updated_at"];
/// Attributes the server sets on properties, tags and resource type associations.
const READ_ONLY_TIMESTAMPS: &[&str] = &["created_at", "updated_at"];

/// The JSON types a property definition may declare.
pub const PROPERTY_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

/// Parses a JSON request body (an empty body is a 400, as upstream's "Body expected").
pub fn parse(body: &[u8]) -> Result<Value> {
    if body.is_empty() {
        return Err(GlanceError::BadRequest("Body expected in request.".into()));
    }
    serde_json::from_slice(body).map_err(|e| GlanceError::BadRequest(format!("Malformed JSON in request body: {e}")))
}

/// One JSON object being checked against the schema named `schema`.
struct Fields<'a> {
    schema: &'static str,
    /// Where in the body this object is (`properties.hw_disk_bus`), for messages.
    at: String,
    map: &'a Map<String, Value>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl<'a> Fields<'a> {
    fn of(schema: &'static str, at: String, value: &'a Value) -> Result<Fields<'a>> {
        match value {
            Value::Object(map) => Ok(Fields { schema, at, map }),
            other => {
                let what = if at.is_empty() { "the body".to_string() } else { format!("'{at}'") };
                Err(invalid(schema, &format!("{what} must be of type 'object', not '{}'", type_name(other))))
            }
        }
    }

    /// Where `key` of this object is in the body (`objects.0.name`).
    fn child(&self, key: &str) -> String {
        if self.at.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.at)
        }
    }

    fn path(&self, key: &str) -> String {
        format!("'{}'", self.child(key))
    }

    fn invalid(&self, reason: String) -> GlanceError {
        invalid(self.schema, &reason)
    }

    fn read_only(&self, keys: &[&str]) -> Result<()> {
        match keys.iter().find(|k| self.map.contains_key(**k)) {
            Some(k) => Err(GlanceError::Forbidden(format!("Attribute '{k}' is read-only."))),
            None => Ok(()),
        }
    }

    fn only(&self, allowed: &[&str]) -> Result<()> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.invalid(format!("additional properties are not allowed ({} was unexpected)", self.path(k)))),
            None => Ok(()),
        }
    }

    fn typed(&self, key: &str, want: &str, ok: impl Fn(&Value) -> bool) -> Result<Option<&'a Value>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) if ok(v) => Ok(Some(v)),
            Some(v) => Err(self.invalid(format!("{} must be of type '{want}', not '{}'", self.path(key), type_name(v)))),
        }
    }

    fn string(&self, key: &str, max: Option<usize>) -> Result<Option<String>> {
        let Some(v) = self.typed(key, "string", Value::is_string)? else { return Ok(None) };
        let s = v.as_str().unwrap_or_default();
        if let Some(max) = max {
            if s.chars().count() > max {
                return Err(self.invalid(format!("{} is longer than {max} characters", self.path(key))));
            }
        }
        Ok(Some(s.to_string()))
    }

    fn required_string(&self, key: &str, max: Option<usize>) -> Result<String> {
        let s = self.string(key, max)?.ok_or_else(|| self.invalid(format!("{} is a required property", self.path(key))))?;
        if s.is_empty() {
            return Err(self.invalid(format!("{} must not be empty", self.path(key))));
        }
        Ok(s)
    }

    fn one_of(&self, key: &str, allowed: &[&str]) -> Result<Option<String>> {
        match self.string(key, None)? {
            Some(s) if !allowed.contains(&s.as_str()) => Err(self.invalid(format!("{} must be one of {}, not '{s}'", self.path(key), allowed.join(", ")))),
            other => Ok(other),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>> {
        Ok(self.typed(key, "boolean", Value::is_boolean)?.and_then(Value::as_bool))
    }

    fn non_negative(&self, key: &str) -> Result<()> {
        match self.map.get(key) {
            None => Ok(()),
            Some(v) if v.as_u64().is_some() => Ok(()),
            Some(v) => Err(self.invalid(format!("{} must be an integer of at least 0, not {v}", self.path(key)))),
        }
    }

    fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        Ok(self.typed(key, "array", Value::is_array)?.and_then(Value::as_array))
    }

    /// A list of distinct strings.
    fn string_array(&self, key: &str) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for v in self.array(key)?.into_iter().flatten() {
            let s = v.as_str().ok_or_else(|| self.invalid(format!("{} must hold strings, not '{}'", self.path(key), type_name(v))))?;
            if out.iter().any(|o| o == s) {
                return Err(self.invalid(format!("{} has non-unique elements ('{s}')", self.path(key))));
            }
            out.push(s.to_string());
        }
        Ok(out)
    }
}

fn invalid(schema: &str, reason: &str) -> GlanceError {
    GlanceError::BadRequest(format!("Provided object does not match schema '{schema}': {reason}"))
}

/// Checks a property definition (`/v2/schemas/metadefs/property`) and returns its name (when
/// the definition carries one) and the definition without it.
fn property_definition(schema: &'static str, at: String, value: &Value, require_name: bool) -> Result<(Option<String>, Map<String, Value>)> {
    let f = Fields::of(schema, at, value)?;
    f.only(&[
        "name", "title", "description", "operators", "type", "required", "minimum", "maximum", "maxLength", "minLength", "pattern", "enum", "readonly", "default", "items",
        "maxItems", "minItems", "uniqueItems", "additionalItems", "confidential",
    ])?;
    let name = if require_name { Some(f.required_string("name", Some(80))?) } else { f.string("name", Some(80))? };
    f.string("title", None)?.ok_or_else(|| f.invalid(format!("{} is a required property", f.path("title"))))?;
    f.one_of("type", PROPERTY_TYPES)?.ok_or_else(|| f.invalid(format!("{} is a required property", f.path("type"))))?;
    f.string("description", None)?;
    f.string("pattern", None)?;
    for key in ["operators", "required"] {
        f.string_array(key)?;
    }
    f.array("enum")?;
    for key in ["minimum", "maximum"] {
        f.typed(key, "number", Value::is_number)?;
    }
    for key in ["maxLength", "minLength", "maxItems", "minItems"] {
        f.non_negative(key)?;
    }
    for key in ["readonly", "uniqueItems", "additionalItems", "confidential"] {
        f.boolean(key)?;
    }
    if let Some(items) = f.map.get("items") {
        let inner = Fields::of(schema, f.child("items"), items)?;
        inner.only(&["type", "enum"])?;
        inner.one_of("type", PROPERTY_TYPES)?;
        inner.array("enum")?;
    }
    let mut definition = f.map.clone();
    definition.remove("name");
    Ok((name, definition))
}

/// A `properties` object: property name → definition.
fn property_map(schema: &'static str, at: &str, value: &Value) -> Result<Vec<PropertyInput>> {
    let Value::Object(map) = value else {
        return Err(invalid(schema, &format!("'{at}' must be of type 'object', not '{}'", type_name(value))));
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, definition) in map {
        if name.is_empty() || name.chars().count() > 80 {
            return Err(invalid(schema, &format!("property names in '{at}' must be 1 to 80 characters, not '{name}'")));
        }
        let (_, definition) = property_definition(schema, format!("{at}.{name}"), definition, false)?;
        out.push(PropertyInput { name: name.clone(), definition });
    }
    Ok(out)
}

/// An object (`/v2/schemas/metadefs/object`), top level or inside a namespace.
fn object(schema: &'static str, at: String, value: &Value) -> Result<ObjectInput> {
    let f = Fields::of(schema, at, value)?;
    f.read_only(READ_ONLY_WITH_LINKS)?;
    f.only(&["name", "description", "required", "properties"])?;
    let properties_at = f.child("properties");
    Ok(ObjectInput {
        name: f.required_string("name", Some(80))?,
        description: f.string("description", None)?,
        required: f.string_array("required")?,
        properties: match f.map.get("properties") {
            Some(p) => property_map(schema, &properties_at, p)?.into_iter().map(|p| (p.name, Value::Object(p.definition))).collect(),
            None => Map::new(),
        },
    })
}

fn association(schema: &'static str, at: String, value: &Value) -> Result<AssociationInput> {
    let f = Fields::of(schema, at, value)?;
    f.read_only(READ_ONLY_TIMESTAMPS)?;
    f.only(&["name", "prefix", "properties_target"])?;
    Ok(AssociationInput { name: f.required_string("name", Some(80))?, prefix: f.string("prefix", Some(80))?, properties_target: f.string("properties_target", Some(80))? })
}

/// `POST /v2/metadefs/namespaces` (and, for its attributes, `PUT .../{namespace}`).
pub fn namespace(body: &Value) -> Result<NamespaceCreate> {
    const SCHEMA: &str = "namespace";
    let f = Fields::of(SCHEMA, String::new(), body)?;
    f.read_only(READ_ONLY_WITH_LINKS)?;
    f.only(&["namespace", "display_name", "description", "visibility", "protected", "owner", "resource_type_associations", "properties", "objects", "tags"])?;
    let attributes = NamespaceInput {
        namespace: f.required_string("namespace", Some(80))?,
        display_name: f.string("display_name", Some(80))?,
        description: f.string("description", Some(500))?,
        visibility: f.one_of("visibility", &["public", "private"])?,
        protected: f.boolean("protected")?,
        owner: f.string("owner", Some(255))?,
    };
    let mut out = NamespaceCreate { attributes, ..Default::default() };
    for (i, a) in f.array("resource_type_associations")?.into_iter().flatten().enumerate() {
        out.associations.push(association(SCHEMA, format!("resource_type_associations.{i}"), a)?);
    }
    if let Some(p) = f.map.get("properties") {
        out.properties = property_map(SCHEMA, "properties", p)?;
    }
    for (i, o) in f.array("objects")?.into_iter().flatten().enumerate() {
        out.objects.push(object(SCHEMA, format!("objects.{i}"), o)?);
    }
    for (i, t) in f.array("tags")?.into_iter().flatten().enumerate() {
        out.tags.push(tag_name_in(SCHEMA, format!("tags.{i}"), t)?);
    }
    Ok(out)
}

/// `POST /v2/metadefs/namespaces/{namespace}/objects` and `PUT .../objects/{object}`.
pub fn metadef_object(body: &Value) -> Result<ObjectInput> {
    object("object", String::new(), body)
}

/// `POST /v2/metadefs/namespaces/{namespace}/properties` and `PUT .../properties/{property}`.
pub fn property(body: &Value) -> Result<PropertyInput> {
    if let Value::Object(map) = body {
        if let Some(k) = READ_ONLY_TIMESTAMPS.iter().find(|k| map.contains_key(**k)) {
            return Err(GlanceError::Forbidden(format!("Attribute '{k}' is read-only.")));
        }
    }
    let (name, definition) = property_definition("property", String::new(), body, true)?;
    Ok(PropertyInput { name: name.unwrap_or_default(), definition })
}

/// `POST /v2/metadefs/namespaces/{namespace}/resource_types`.
pub fn resource_type_association(body: &Value) -> Result<AssociationInput> {
    association("resource_type_association", String::new(), body)
}

fn tag_name_in(schema: &'static str, at: String, value: &Value) -> Result<String> {
    let f = Fields::of(schema, at, value)?;
    f.read_only(READ_ONLY_TIMESTAMPS)?;
    f.only(&["name"])?;
    f.required_string("name", Some(80))
}

/// `PUT /v2/metadefs/namespaces/{namespace}/tags/{tag}`: the new name.
pub fn tag(body: &Value) -> Result<String> {
    tag_name_in("tag", String::new(), body)
}

/// A tag name given in the URL (`POST .../tags/{tag}`).
pub fn tag_name(name: &str) -> Result<String> {
    tag_name_in("tag", String::new(), &serde_json::json!({ "name": name }))
}

/// `POST /v2/metadefs/namespaces/{namespace}/tags`: `{"tags": [{"name": ...}, ...]}`.
pub fn tags(body: &Value) -> Result<Vec<String>> {
    let f = Fields::of("tags", String::new(), body)?;
    f.read_only(READ_ONLY_TIMESTAMPS)?;
    f.only(&["tags"])?;
    let list = f.array("tags")?.ok_or_else(|| f.invalid("'tags' is a required property".into()))?;
    list.iter().enumerate().map(|(i, t)| tag_name_in("tags", format!("tags.{i}"), t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(r: Result<impl std::fmt::Debug>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(GlanceError::BadRequest(_)) => 400,
            Err(GlanceError::Forbidden(_)) => 403,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn namespace_bodies() {
        let full = json!({
            "namespace": "OS::Compute::Example", "display_name": "Example", "description": "d", "visibility": "public", "protected": true,
            "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
            "properties": {"hw_disk_bus": {"title": "Disk bus", "type": "string", "enum": ["scsi", "virtio"]}},
            "objects": [{"name": "CPU Limits", "required": ["quota:cpu_period"], "properties": {"quota:cpu_period": {"title": "Period", "type": "integer", "minimum": 1000}}}],
            "tags": [{"name": "a"}, {"name": "b"}]
        });
        let n = namespace(&full).unwrap();
        assert_eq!(n.attributes.visibility.as_deref(), Some("public"));
        assert_eq!(n.associations[0].prefix.as_deref(), Some("hw_"));
        assert_eq!(n.properties[0].name, "hw_disk_bus");
        assert_eq!(n.objects[0].properties["quota:cpu_period"]["minimum"], 1000);
        assert_eq!(n.tags, ["a", "b"]);

        assert_eq!(status(namespace(&json!({"display_name": "x"}))), 400, "namespace is required");
        assert_eq!(status(namespace(&json!({"namespace": "x", "visibility": "shared"}))), 400);
        assert_eq!(status(namespace(&json!({"namespace": "x", "protected": "yes"}))), 400);
        assert_eq!(status(namespace(&json!({"namespace": "x".repeat(81)}))), 400);
        assert_eq!(status(namespace(&json!({"namespace": "x", "colour": "red"}))), 400);
        assert_eq!(status(namespace(&json!({"namespace": "x", "created_at": "now"}))), 403);
        assert_eq!(status(namespace(&json!({"namespace": "x", "self": "/"}))), 403);
        assert_eq!(status(namespace(&json!({"namespace": "x", "properties": {"p": {"type": "string"}}}))), 400, "title is required");
        assert_eq!(status(namespace(&json!({"namespace": "x", "properties": {"p": {"title": "P", "type": "str"}}}))), 400);
        assert_eq!(status(namespace(&json!(["x"]))), 400);
    }

    #[test]
    fn property_bodies() {
        let p = property(&json!({"name": "hypervisor_type", "title": "Hypervisor", "type": "string", "enum": ["kvm", "qemu"]})).unwrap();
        assert_eq!(p.name, "hypervisor_type");
        assert!(!p.definition.contains_key("name"));
        assert_eq!(status(property(&json!({"title": "T", "type": "string"}))), 400, "name is required");
        assert_eq!(status(property(&json!({"name": "n", "title": "T", "type": "string", "minLength": -1}))), 400);
        assert_eq!(status(property(&json!({"name": "n", "title": "T", "type": "array", "items": {"type": "string", "x": 1}}))), 400);
        assert_eq!(status(property(&json!({"name": "n", "title": "T", "type": "string", "created_at": "x"}))), 403);
        assert_eq!(status(property(&json!({"name": "n", "title": "T", "type": "string", "operators": ["<or>", "<or>"]}))), 400);
    }

    #[test]
    fn tag_and_association_bodies() {
        assert_eq!(tags(&json!({"tags": [{"name": "a"}, {"name": "b"}]})).unwrap(), ["a", "b"]);
        assert_eq!(status(tags(&json!({"tags": [{"name": "a", "x": 1}]}))), 400);
        assert_eq!(status(tags(&json!({}))), 400);
        assert_eq!(status(tag_name(&"t".repeat(81))), 400);
        assert_eq!(tag(&json!({"name": "new"})).unwrap(), "new");
        assert_eq!(resource_type_association(&json!({"name": "OS::Nova::Flavor", "prefix": "hw:"})).unwrap().prefix.as_deref(), Some("hw:"));
        assert_eq!(status(resource_type_association(&json!({"prefix": "hw:"}))), 400);
        assert_eq!(status(resource_type_association(&json!({"name": "x", "updated_at": "x"}))), 403);
    }
}
