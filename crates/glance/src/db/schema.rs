//! Glance's schema in Ferrostack's portable form (see the `db` crate). Images are soft-deleted
//! as upstream (`deleted = 1`, `status = 'deleted'`), so a deleted id answers 404 and is never
//! reused.
//!
//! Metadata definitions (migration 2, as glance/db/sqlalchemy/models_metadef.py): namespaces
//! are keyed by a generated id so a rename keeps their contents; objects, properties, tags and
//! resource type associations hang off that id and go with their namespace. Property
//! definitions are stored as the JSON the API shows. Tag names are unique per namespace
//! ignoring case (`name_folded`), as the API promises on every engine.

use db::Migration;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial glance schema",
    up: &[
        "CREATE TABLE image (id VARCHAR(36) PRIMARY KEY, name VARCHAR(255), status VARCHAR(30) NOT NULL, visibility VARCHAR(20) NOT NULL, protected BIGINT NOT NULL, os_hidden BIGINT NOT NULL, owner VARCHAR(255), disk_format VARCHAR(20), container_format VARCHAR(20), size BIGINT, virtual_size BIGINT, checksum VARCHAR(32), os_hash_algo VARCHAR(64), os_hash_value VARCHAR(128), min_disk BIGINT NOT NULL, min_ram BIGINT NOT NULL, location TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, deleted_at BIGINT, deleted BIGINT NOT NULL)",
        "CREATE INDEX image_owner ON image (owner)",
        "CREATE INDEX image_visibility ON image (visibility)",
        "CREATE TABLE image_property (image_id VARCHAR(36) NOT NULL, name VARCHAR(255) NOT NULL, value TEXT, PRIMARY KEY (image_id, name))",
        "CREATE TABLE image_tag (image_id VARCHAR(36) NOT NULL, value VARCHAR(255) NOT NULL, PRIMARY KEY (image_id, value))",
        "CREATE TABLE image_member (image_id VARCHAR(36) NOT NULL, member VARCHAR(255) NOT NULL, status VARCHAR(20) NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (image_id, member))",
        "CREATE INDEX image_member_member ON image_member (member)",
    ],
}, Migration {
    version: 2,
    name: "metadata definitions",
    up: &[
        "CREATE TABLE metadef_namespace (id VARCHAR(36) PRIMARY KEY, namespace VARCHAR(80) NOT NULL, display_name VARCHAR(80), description TEXT, visibility VARCHAR(32) NOT NULL, protected BIGINT NOT NULL, owner VARCHAR(255), created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX metadef_namespace_namespace ON metadef_namespace (namespace)",
        "CREATE INDEX metadef_namespace_owner ON metadef_namespace (owner)",
        "CREATE TABLE metadef_object (id VARCHAR(36) PRIMARY KEY, namespace_id VARCHAR(36) NOT NULL, name VARCHAR(80) NOT NULL, description TEXT, required_properties TEXT NOT NULL, json_schema TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX metadef_object_namespace_name ON metadef_object (namespace_id, name)",
        "CREATE TABLE metadef_property (id VARCHAR(36) PRIMARY KEY, namespace_id VARCHAR(36) NOT NULL, name VARCHAR(80) NOT NULL, json_schema TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX metadef_property_namespace_name ON metadef_property (namespace_id, name)",
        "CREATE TABLE metadef_tag (id VARCHAR(36) PRIMARY KEY, namespace_id VARCHAR(36) NOT NULL, name VARCHAR(80) NOT NULL, name_folded VARCHAR(160) NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX metadef_tag_namespace_name ON metadef_tag (namespace_id, name_folded)",
        "CREATE TABLE metadef_resource_type (name VARCHAR(80) PRIMARY KEY, protected BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE TABLE metadef_namespace_resource_type (namespace_id VARCHAR(36) NOT NULL, resource_type VARCHAR(80) NOT NULL, prefix VARCHAR(80), properties_target VARCHAR(80), created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (namespace_id, resource_type))",
        "CREATE INDEX metadef_namespace_resource_type_name ON metadef_namespace_resource_type (resource_type)",
        // The resource types of the services that read metadata definitions (images,
        // volumes, flavors, host aggregates, servers), so a new cloud lists them before any
        // namespace is associated, as one where `glance-manage db_load_metadefs` ran.
        // Others are created when first associated. Stamped 2026-11-23T00:00:00Z, a
        // microsecond apart so they list in this order.
        "INSERT INTO metadef_resource_type (name, protected, created_at, updated_at) VALUES ('OS::Glance::Image', 1, 1795392000000000, 1795392000000000)",
        "INSERT INTO metadef_resource_type (name, protected, created_at, updated_at) VALUES ('OS::Cinder::Volume', 1, 1795392000000001, 1795392000000001)",
        "INSERT INTO metadef_resource_type (name, protected, created_at, updated_at) VALUES ('OS::Nova::Flavor', 1, 1795392000000002, 1795392000000002)",
        "INSERT INTO metadef_resource_type (name, protected, created_at, updated_at) VALUES ('OS::Nova::Aggregate', 1, 1795392000000003, 1795392000000003)",
        "INSERT INTO metadef_resource_type (name, protected, created_at, updated_at) VALUES ('OS::Nova::Server', 1, 1795392000000004, 1795392000000004)",
    ],
}, Migration {
    version: 3,
    name: "tasks",
    up: &[
        "CREATE TABLE task (id VARCHAR(36) PRIMARY KEY, task_type VARCHAR(30) NOT NULL, status VARCHAR(30) NOT NULL, owner VARCHAR(255), input TEXT, result TEXT, message TEXT, image_id VARCHAR(36), request_id VARCHAR(64), user_id VARCHAR(64), expires_at BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, deleted BIGINT NOT NULL)",
        "CREATE INDEX task_image_id ON task (image_id)",
    ],
}];
