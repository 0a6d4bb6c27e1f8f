//! Glance's schema in Ferrostack's portable form (see the `db` crate). Images are soft-deleted
//! as upstream (`deleted = 1`, `status = 'deleted'`), so a deleted id answers 404 and is never
//! reused.

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
}];
