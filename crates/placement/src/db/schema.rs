//! Placement's tables, in the portable subset (BIGINT integers and instants, VARCHAR keys,
//! DOUBLE PRECISION allocation ratios). Standard resource classes and traits live in code
//! (`crate::standard`); only custom ones are rows.

use db::Migration;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial placement schema",
    up: &[
        "CREATE TABLE resource_providers (uuid VARCHAR(36) NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL, generation BIGINT NOT NULL, \
         parent_provider_uuid VARCHAR(36), root_provider_uuid VARCHAR(36) NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX uniq_resource_providers0name ON resource_providers (name)",
        "CREATE INDEX resource_providers_root_idx ON resource_providers (root_provider_uuid)",
        "CREATE INDEX resource_providers_parent_idx ON resource_providers (parent_provider_uuid)",
        "CREATE TABLE resource_classes (name VARCHAR(255) NOT NULL PRIMARY KEY, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE TABLE traits (name VARCHAR(255) NOT NULL PRIMARY KEY, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE TABLE inventories (resource_provider_uuid VARCHAR(36) NOT NULL, resource_class VARCHAR(255) NOT NULL, total BIGINT NOT NULL, \
         reserved BIGINT NOT NULL, min_unit BIGINT NOT NULL, max_unit BIGINT NOT NULL, step_size BIGINT NOT NULL, allocation_ratio DOUBLE PRECISION NOT NULL, \
         created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (resource_provider_uuid, resource_class))",
        "CREATE INDEX inventories_resource_class_idx ON inventories (resource_class)",
        "CREATE TABLE consumers (uuid VARCHAR(36) NOT NULL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, user_id VARCHAR(255) NOT NULL, \
         consumer_type VARCHAR(255), generation BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE INDEX consumers_project_user_idx ON consumers (project_id, user_id)",
        "CREATE TABLE allocations (consumer_uuid VARCHAR(36) NOT NULL, resource_provider_uuid VARCHAR(36) NOT NULL, resource_class VARCHAR(255) NOT NULL, \
         used BIGINT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (consumer_uuid, resource_provider_uuid, resource_class))",
        "CREATE INDEX allocations_provider_class_idx ON allocations (resource_provider_uuid, resource_class)",
        "CREATE TABLE resource_provider_traits (resource_provider_uuid VARCHAR(36) NOT NULL, trait_name VARCHAR(255) NOT NULL, \
         PRIMARY KEY (resource_provider_uuid, trait_name))",
        "CREATE INDEX resource_provider_traits_trait_idx ON resource_provider_traits (trait_name)",
        "CREATE TABLE resource_provider_aggregates (resource_provider_uuid VARCHAR(36) NOT NULL, aggregate_uuid VARCHAR(36) NOT NULL, \
         PRIMARY KEY (resource_provider_uuid, aggregate_uuid))",
        "CREATE INDEX resource_provider_aggregates_aggregate_idx ON resource_provider_aggregates (aggregate_uuid)",
    ],
}];
