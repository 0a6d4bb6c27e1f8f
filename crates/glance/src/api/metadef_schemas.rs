//! `/v2/schemas/metadefs/*`: the JSON schemas of the metadata definitions API (namespace,
//! object, property, resource type association, tag, and their collections), as
//! glance/api/v2/schemas.py serves them. Written from the API reference's description of
//! each attribute; `metadef_body` checks request bodies against the same rules.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::metadef_body::PROPERTY_TYPES;
use super::Ctx;
use crate::app::SharedApp;

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2/schemas/metadefs/namespace", get(|Ctx(_): Ctx| async { Json(namespace()) }))
        .route("/v2/schemas/metadefs/namespaces", get(|Ctx(_): Ctx| async { Json(namespaces()) }))
        .route("/v2/schemas/metadefs/object", get(|Ctx(_): Ctx| async { Json(object()) }))
        .route("/v2/schemas/metadefs/objects", get(|Ctx(_): Ctx| async { Json(objects()) }))
        .route("/v2/schemas/metadefs/property", get(|Ctx(_): Ctx| async { Json(property()) }))
        .route("/v2/schemas/metadefs/properties", get(|Ctx(_): Ctx| async { Json(properties()) }))
        .route("/v2/schemas/metadefs/resource_type", get(|Ctx(_): Ctx| async { Json(resource_type()) }))
        .route("/v2/schemas/metadefs/resource_types", get(|Ctx(_): Ctx| async { Json(resource_types()) }))
        .route("/v2/schemas/metadefs/tag", get(|Ctx(_): Ctx| async { Json(tag()) }))
        .route("/v2/schemas/metadefs/tags", get(|Ctx(_): Ctx| async { Json(tags()) }))
}

fn timestamp(description: &str) -> Value {
    json!({"type": "string", "readOnly": true, "description": description, "format": "date-time"})
}

fn property_type_enum() -> Value {
    let mut types: Vec<Value> = PROPERTY_TYPES.iter().map(|t| json!(t)).collect();
    types.push(Value::Null);
    json!({"type": "string", "enum": types})
}

/// The attributes of one property definition.
fn property_attributes() -> Value {
    json!({
        "name": {"type": "string", "maxLength": 80},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": property_type_enum(),
        "required": {"$ref": "#/definitions/stringArray"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": {"$ref": "#/definitions/positiveInteger"},
        "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {"type": "object", "properties": {"type": property_type_enum(), "enum": {"type": "array"}}},
        "maxItems": {"$ref": "#/definitions/positiveInteger"},
        "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "uniqueItems": {"type": "boolean", "default": false},
        "additionalItems": {"type": "boolean"}
    })
}

/// Definitions shared by the namespace and object schemas (`property` is a map of
/// property definitions).
fn definitions(string_array_min_items: Option<u64>, with_property: bool) -> Value {
    let mut string_array = json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true});
    if let Some(min) = string_array_min_items {
        string_array["minItems"] = json!(min);
    }
    let mut d = json!({
        "positiveInteger": {"type": "integer", "minimum": 0},
        "positiveIntegerDefault0": {"allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]},
        "stringArray": string_array
    });
    if with_property {
        d["property"] = json!({
            "type": "object",
            "additionalProperties": {"type": "object", "required": ["title", "type"], "properties": property_attributes()}
        });
    }
    d
}

/// A schema for one resource; `definitions` go at the top level of the document.
fn item(name: &str, properties: Value, required: &[&str]) -> Value {
    let mut s = json!({"name": name, "properties": properties, "additionalProperties": false});
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s
}

/// A list of `item`s with paging links; shared definitions move to the top.
fn collection(name: &str, item: Value, definitions: Option<Value>) -> Value {
    let mut s = json!({
        "name": name,
        "properties": {
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"}
        },
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"}, {"rel": "describedby", "href": "{schema}"}]
    });
    s["properties"][name] = json!({"type": "array", "items": item});
    if let Some(d) = definitions {
        s["definitions"] = d;
    }
    s
}

fn with_definitions(mut schema: Value, definitions: Value) -> Value {
    schema["definitions"] = definitions;
    schema
}

fn namespace_item() -> Value {
    item(
        "namespace",
        json!({
            "namespace": {"type": "string", "maxLength": 80, "description": "The namespace's name, unique across the cloud."},
            "display_name": {"type": "string", "maxLength": 80, "description": "A friendlier name for user interfaces."},
            "description": {"type": "string", "maxLength": 500, "description": "What the namespace's definitions are for."},
            "visibility": {"type": "string", "enum": ["public", "private"], "description": "Who can see the namespace: everyone, or its owner's project."},
            "protected": {"type": "boolean", "description": "When true, the namespace and its contents cannot be deleted."},
            "owner": {"type": "string", "maxLength": 255, "description": "The project that owns the namespace."},
            "created_at": timestamp("When the namespace was created."),
            "updated_at": timestamp("When the namespace was last changed."),
            "schema": {"type": "string", "readOnly": true},
            "self": {"type": "string", "readOnly": true},
            "resource_type_associations": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "prefix": {"type": "string"}, "properties_target": {"type": "string"}}}
            },
            "properties": {"$ref": "#/definitions/property"},
            "objects": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "required": {"$ref": "#/definitions/stringArray"},
                        "properties": {"$ref": "#/definitions/property"}
                    }
                }
            },
            "tags": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
        }),
        &["namespace"],
    )
}

pub fn namespace() -> Value {
    with_definitions(namespace_item(), definitions(None, true))
}

pub fn namespaces() -> Value {
    collection("namespaces", namespace_item(), Some(definitions(None, true)))
}

fn object_item() -> Value {
    item(
        "object",
        json!({
            "name": {"type": "string", "maxLength": 80},
            "description": {"type": "string"},
            "required": {"$ref": "#/definitions/stringArray"},
            "properties": {"$ref": "#/definitions/property"},
            "schema": {"type": "string", "readOnly": true},
            "self": {"type": "string", "readOnly": true},
            "created_at": timestamp("When the object was created."),
            "updated_at": timestamp("When the object was last changed.")
        }),
        &["name"],
    )
}

pub fn object() -> Value {
    with_definitions(object_item(), definitions(None, true))
}

pub fn objects() -> Value {
    collection("objects", object_item(), Some(definitions(None, true)))
}

fn property_item(required: &[&str]) -> Value {
    item("property", property_attributes(), required)
}

pub fn property() -> Value {
    with_definitions(property_item(&["type", "title", "name"]), definitions(Some(1), false))
}

/// Properties are listed as a map from name to definition, so the name is not required in
/// the items.
pub fn properties() -> Value {
    json!({
        "name": "properties",
        "properties": {
            "properties": {"type": "object", "additionalProperties": property_item(&["type", "title"])},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"}
        },
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"}, {"rel": "describedby", "href": "{schema}"}],
        "definitions": definitions(Some(1), false)
    })
}

fn resource_type_item() -> Value {
    item(
        "resource_type_association",
        json!({
            "name": {
                "type": "string", "maxLength": 80,
                "description": "The resource type, named as Heat names OpenStack resources where it can (OS::Glance::Image, OS::Nova::Flavor, ...)."
            },
            "prefix": {
                "type": "string", "maxLength": 80,
                "description": "What the namespace's property names are prefixed with on this resource type, separator included (hw_, hw:)."
            },
            "properties_target": {
                "type": "string", "maxLength": 80,
                "description": "Which key/value set of the resource the properties go to, for resource types with several (a volume's image metadata: image)."
            },
            "created_at": timestamp("When the association was created."),
            "updated_at": timestamp("When the association was last changed.")
        }),
        &["name"],
    )
}

pub fn resource_type() -> Value {
    resource_type_item()
}

pub fn resource_types() -> Value {
    collection("resource_type_associations", resource_type_item(), None)
}

fn tag_item() -> Value {
    item(
        "tag",
        json!({
            "name": {"type": "string", "maxLength": 80},
            "created_at": timestamp("When the tag was created."),
            "updated_at": timestamp("When the tag was last changed.")
        }),
        &["name"],
    )
}

pub fn tag() -> Value {
    tag_item()
}

pub fn tags() -> Value {
    collection("tags", tag_item(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_is_named_as_clients_expect() {
        for (schema, name) in [
            (namespace(), "namespace"),
            (namespaces(), "namespaces"),
            (object(), "object"),
            (objects(), "objects"),
            (property(), "property"),
            (properties(), "properties"),
            (resource_type(), "resource_type_association"),
            (resource_types(), "resource_type_associations"),
            (tag(), "tag"),
            (tags(), "tags"),
        ] {
            assert_eq!(schema["name"], name);
        }
        assert_eq!(namespaces()["properties"]["namespaces"]["items"]["required"], json!(["namespace"]));
        assert!(namespaces()["properties"]["namespaces"]["items"].get("definitions").is_none(), "definitions sit at the top of a collection");
        assert_eq!(properties()["properties"]["properties"]["additionalProperties"]["required"], json!(["type", "title"]));
    }
}
