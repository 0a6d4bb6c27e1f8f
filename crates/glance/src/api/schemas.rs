//! `/v2/schemas/*`: the JSON schemas clients validate images and members against
//! (glance/api/v2/schemas.py). Written from the API reference's descriptions of each field.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::Ctx;
use crate::app::images::{CONTAINER_FORMATS, DISK_FORMATS};
use crate::app::SharedApp;

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/v2/schemas/image", get(image))
        .route("/v2/schemas/images", get(images))
        .route("/v2/schemas/member", get(member))
        .route("/v2/schemas/members", get(members))
}

fn nullable_string(description: &str, max: Option<usize>) -> Value {
    let mut v = json!({"type": ["null", "string"], "description": description});
    if let Some(m) = max {
        v["maxLength"] = json!(m);
    }
    v
}

pub fn image_schema() -> Value {
    let mut disk: Vec<Value> = vec![Value::Null];
    disk.extend(DISK_FORMATS.iter().map(|f| json!(f)));
    let mut container: Vec<Value> = vec![Value::Null];
    container.extend(CONTAINER_FORMATS.iter().map(|f| json!(f)));
    json!({
        "name": "image",
        "additionalProperties": {"type": "string"},
        "links": [
            {"href": "{self}", "rel": "self"},
            {"href": "{file}", "rel": "enclosure"},
            {"href": "{schema}", "rel": "describedby"}
        ],
        "properties": {
            "id": {"type": "string", "description": "An identifier for the image", "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
            "name": nullable_string("Descriptive name for the image", Some(255)),
            "status": {"type": "string", "readOnly": true, "description": "Status of the image", "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"]},
            "visibility": {"type": "string", "description": "Scope of image accessibility", "enum": ["community", "public", "private", "shared"]},
            "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
            "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
            "checksum": {"type": ["null", "string"], "readOnly": true, "maxLength": 32, "description": "md5 hash of image contents."},
            "os_hash_algo": {"type": ["null", "string"], "readOnly": true, "maxLength": 64, "description": "Algorithm to calculate the os_hash_value"},
            "os_hash_value": {"type": ["null", "string"], "readOnly": true, "maxLength": 128, "description": "Hexdigest of the image contents using the algorithm specified by the os_hash_algo"},
            "owner": nullable_string("Owner of the image", Some(255)),
            "size": {"type": ["null", "integer"], "readOnly": true, "description": "Size of image file in bytes"},
            "virtual_size": {"type": ["null", "integer"], "readOnly": true, "description": "Virtual size of image in bytes"},
            "container_format": {"type": ["null", "string"], "description": "Format of the container", "enum": container},
            "disk_format": {"type": ["null", "string"], "description": "Format of the disk", "enum": disk},
            "created_at": {"type": "string", "readOnly": true, "description": "Date and time of image registration"},
            "updated_at": {"type": "string", "readOnly": true, "description": "Date and time of the last image modification"},
            "tags": {"type": "array", "description": "List of strings related to the image", "items": {"type": "string", "maxLength": 255}},
            "direct_url": {"type": "string", "readOnly": true, "description": "URL to access the image file kept in external store"},
            "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
            "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
            "self": {"type": "string", "readOnly": true, "description": "An image self url"},
            "file": {"type": "string", "readOnly": true, "description": "An image file url"},
            "stores": {"type": "string", "readOnly": true, "description": "Store in which image data resides."},
            "schema": {"type": "string", "readOnly": true, "description": "An image schema url"},
            "locations": {"type": "array", "description": "A set of URLs to access the image file kept in external store", "items": {"type": "object"}}
        }
    })
}

async fn image(Ctx(_ctx): Ctx) -> Json<Value> {
    Json(image_schema())
}

async fn images(Ctx(_ctx): Ctx) -> Json<Value> {
    Json(json!({
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"}
        },
        "links": [
            {"href": "{first}", "rel": "first"},
            {"href": "{next}", "rel": "next"},
            {"href": "{schema}", "rel": "describedby"}
        ]
    }))
}

fn member_schema() -> Value {
    json!({
        "name": "member",
        "properties": {
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "image_id": {"type": "string", "description": "An identifier for the image"},
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "schema": {"type": "string", "readOnly": true},
            "status": {"type": "string", "description": "The status of this image member", "enum": ["pending", "accepted", "rejected"]},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"}
        }
    })
}

async fn member(Ctx(_ctx): Ctx) -> Json<Value> {
    Json(member_schema())
}

async fn members(Ctx(_ctx): Ctx) -> Json<Value> {
    Json(json!({
        "name": "members",
        "properties": {"members": {"type": "array", "items": member_schema()}, "schema": {"type": "string"}},
        "links": [{"href": "{schema}", "rel": "describedby"}]
    }))
}
