//! Neutron's tables, in the portable subset. Each resource is a row whose key columns
//! (ids the service joins or filters on) are real columns and whose remaining attributes are
//! the resource's JSON document in `body`; the constraints that must hold under concurrency are
//! unique keys on real columns: one address per network (`ipallocations`), one segment per
//! type/physnet/id (`segment_allocations`), one MAC per network, one default security group
//! per project, one auto-allocated topology per project.

use db::Migration;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial neutron schema",
    up: &[
        "CREATE TABLE networks (id VARCHAR(36) NOT NULL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE TABLE subnets (id VARCHAR(36) NOT NULL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, network_id VARCHAR(36) NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE INDEX subnets_network_idx ON subnets (network_id)",
        "CREATE TABLE ports (id VARCHAR(36) NOT NULL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, network_id VARCHAR(36) NOT NULL, \
         device_id VARCHAR(255) NOT NULL, device_owner VARCHAR(255) NOT NULL, mac_address VARCHAR(32) NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX uniq_ports0network_id0mac_address ON ports (network_id, mac_address)",
        "CREATE INDEX ports_device_idx ON ports (device_id)",
        "CREATE TABLE ipallocations (network_id VARCHAR(36) NOT NULL, ip_address VARCHAR(64) NOT NULL, subnet_id VARCHAR(36) NOT NULL, \
         port_id VARCHAR(36) NOT NULL, PRIMARY KEY (network_id, ip_address))",
        "CREATE INDEX ipallocations_subnet_idx ON ipallocations (subnet_id)",
        "CREATE INDEX ipallocations_port_idx ON ipallocations (port_id)",
        "CREATE TABLE segment_allocations (network_type VARCHAR(32) NOT NULL, physical_network VARCHAR(64) NOT NULL, segmentation_id BIGINT NOT NULL, \
         network_id VARCHAR(36) NOT NULL, PRIMARY KEY (network_type, physical_network, segmentation_id))",
        "CREATE INDEX segment_allocations_network_idx ON segment_allocations (network_id)",
        "CREATE TABLE routers (id VARCHAR(36) NOT NULL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE TABLE floatingips (id VARCHAR(36) NOT NULL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, floating_network_id VARCHAR(36) NOT NULL, \
         port_id VARCHAR(36) NOT NULL, router_id VARCHAR(36) NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE INDEX floatingips_port_idx ON floatingips (port_id)",
        "CREATE TABLE securitygroups (id VARCHAR(36) NOT NULL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE TABLE securitygrouprules (id VARCHAR(36) NOT NULL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, security_group_id VARCHAR(36) NOT NULL, \
         remote_group_id VARCHAR(36) NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE INDEX securitygrouprules_group_idx ON securitygrouprules (security_group_id)",
        "CREATE TABLE default_security_groups (project_id VARCHAR(255) NOT NULL PRIMARY KEY, security_group_id VARCHAR(36) NOT NULL)",
        "CREATE TABLE port_security_groups (port_id VARCHAR(36) NOT NULL, security_group_id VARCHAR(36) NOT NULL, PRIMARY KEY (port_id, security_group_id))",
        "CREATE INDEX port_security_groups_group_idx ON port_security_groups (security_group_id)",
        "CREATE TABLE quotas (project_id VARCHAR(255) NOT NULL, resource VARCHAR(255) NOT NULL, hard_limit BIGINT NOT NULL, PRIMARY KEY (project_id, resource))",
    ],
}, Migration {
    version: 2,
    name: "subnet pools",
    up: &[
        "CREATE TABLE subnetpools (id VARCHAR(36) NOT NULL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "ALTER TABLE subnets ADD subnetpool_id VARCHAR(36) NOT NULL DEFAULT ''",
        "CREATE INDEX subnets_subnetpool_idx ON subnets (subnetpool_id)",
    ],
}, Migration {
    version: 3,
    name: "auto-allocated topologies",
    // One topology per project: the key is what makes two concurrent first calls agree.
    up: &["CREATE TABLE auto_allocated_topologies (project_id VARCHAR(255) NOT NULL PRIMARY KEY, network_id VARCHAR(36) NOT NULL, router_id VARCHAR(36) NOT NULL)"],
}, Migration {
    version: 4,
    name: "rbac policies",
    up: &[
        "CREATE TABLE rbac_policies (id VARCHAR(36) NOT NULL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, object_id VARCHAR(36) NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE INDEX rbac_policies_object_idx ON rbac_policies (object_id)",
    ],
}];
