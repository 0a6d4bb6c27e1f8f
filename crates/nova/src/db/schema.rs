//! Nova's two schemas in Ferrostack's portable form (see the `db` crate): the API database
//! (nova_api: what is global to the deployment) and the cell database (nova: instances and the
//! hosts that run them). Instances are soft-deleted as upstream (`deleted` = 1), so a deleted
//! server still answers `GET` with `DELETED` to admins and `changes-since` lists it.

use db::Migration;

pub const API_MIGRATIONS: &[Migration] = &[
    Migration {
    version: 1,
    name: "initial nova_api schema",
    up: &[
        "CREATE TABLE flavors (id BIGINT PRIMARY KEY, flavorid VARCHAR(255) NOT NULL, name VARCHAR(255) NOT NULL, memory_mb BIGINT NOT NULL, vcpus BIGINT NOT NULL, root_gb BIGINT NOT NULL, ephemeral_gb BIGINT NOT NULL, swap BIGINT NOT NULL, rxtx_factor REAL NOT NULL, vcpu_weight BIGINT, disabled BIGINT NOT NULL, is_public BIGINT NOT NULL, description TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX flavors_flavorid ON flavors (flavorid)",
        "CREATE UNIQUE INDEX flavors_name ON flavors (name)",
        "CREATE TABLE flavor_extra_specs (flavor_id BIGINT NOT NULL, spec_key VARCHAR(255) NOT NULL, spec_value VARCHAR(255), PRIMARY KEY (flavor_id, spec_key))",
        "CREATE TABLE flavor_projects (flavor_id BIGINT NOT NULL, project_id VARCHAR(255) NOT NULL, PRIMARY KEY (flavor_id, project_id))",
        "CREATE TABLE key_pairs (user_id VARCHAR(255) NOT NULL, name VARCHAR(255) NOT NULL, fingerprint VARCHAR(255) NOT NULL, public_key TEXT NOT NULL, key_type VARCHAR(10) NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (user_id, name))",
        "CREATE TABLE quotas (project_id VARCHAR(255) NOT NULL, resource VARCHAR(255) NOT NULL, hard_limit BIGINT NOT NULL, PRIMARY KEY (project_id, resource))",
        "CREATE TABLE project_user_quotas (project_id VARCHAR(255) NOT NULL, user_id VARCHAR(255) NOT NULL, resource VARCHAR(255) NOT NULL, hard_limit BIGINT NOT NULL, PRIMARY KEY (project_id, user_id, resource))",
        "CREATE TABLE quota_classes (class_name VARCHAR(255) NOT NULL, resource VARCHAR(255) NOT NULL, hard_limit BIGINT NOT NULL, PRIMARY KEY (class_name, resource))",
        "CREATE TABLE request_specs (instance_uuid VARCHAR(36) PRIMARY KEY, spec TEXT NOT NULL)",
        "CREATE TABLE instance_groups (uuid VARCHAR(36) PRIMARY KEY, name VARCHAR(255), project_id VARCHAR(255) NOT NULL, user_id VARCHAR(255) NOT NULL, policy VARCHAR(255) NOT NULL, rules TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE TABLE instance_group_member (group_uuid VARCHAR(36) NOT NULL, instance_uuid VARCHAR(36) NOT NULL, PRIMARY KEY (group_uuid, instance_uuid))",
        "CREATE TABLE aggregates (id BIGINT PRIMARY KEY, uuid VARCHAR(36) NOT NULL, name VARCHAR(255) NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX aggregates_name ON aggregates (name)",
        "CREATE TABLE aggregate_hosts (aggregate_id BIGINT NOT NULL, host VARCHAR(255) NOT NULL, PRIMARY KEY (aggregate_id, host))",
        "CREATE TABLE aggregate_metadata (aggregate_id BIGINT NOT NULL, meta_key VARCHAR(255) NOT NULL, meta_value VARCHAR(255) NOT NULL, PRIMARY KEY (aggregate_id, meta_key))",
    ],
    },
    // Key pairs show an integer `id` (upstream's key_pairs.id), assigned as one more than the
    // largest, like flavors.id.
    Migration { version: 2, name: "key_pairs.id", up: &["ALTER TABLE key_pairs ADD COLUMN id BIGINT NOT NULL DEFAULT 0"] },
];

pub const CELL_MIGRATIONS: &[Migration] = &[
Migration {
    version: 1,
    name: "initial nova (cell) schema",
    up: &[
        "CREATE TABLE instances (uuid VARCHAR(36) PRIMARY KEY, display_name VARCHAR(255), display_description TEXT, hostname VARCHAR(255), project_id VARCHAR(255) NOT NULL, user_id VARCHAR(255) NOT NULL, image_ref VARCHAR(255), flavor TEXT NOT NULL, vm_state VARCHAR(255) NOT NULL, task_state VARCHAR(255), power_state BIGINT NOT NULL, host VARCHAR(255), node VARCHAR(255), availability_zone VARCHAR(255), key_name VARCHAR(255), key_data TEXT, user_data TEXT, config_drive VARCHAR(255), locked_by VARCHAR(255), locked_reason TEXT, access_ip_v4 VARCHAR(64), access_ip_v6 VARCHAR(64), progress BIGINT NOT NULL, launch_index BIGINT NOT NULL, reservation_id VARCHAR(255), launched_at BIGINT, terminated_at BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, deleted_at BIGINT, deleted BIGINT NOT NULL)",
        "CREATE INDEX instances_project ON instances (project_id)",
        "CREATE INDEX instances_host ON instances (host)",
        "CREATE TABLE instance_metadata (instance_uuid VARCHAR(36) NOT NULL, meta_key VARCHAR(255) NOT NULL, meta_value VARCHAR(255), PRIMARY KEY (instance_uuid, meta_key))",
        "CREATE TABLE instance_system_metadata (instance_uuid VARCHAR(36) NOT NULL, meta_key VARCHAR(255) NOT NULL, meta_value TEXT, PRIMARY KEY (instance_uuid, meta_key))",
        "CREATE TABLE tags (resource_id VARCHAR(36) NOT NULL, tag VARCHAR(80) NOT NULL, PRIMARY KEY (resource_id, tag))",
        "CREATE TABLE instance_actions (id VARCHAR(36) PRIMARY KEY, instance_uuid VARCHAR(36) NOT NULL, action VARCHAR(255) NOT NULL, request_id VARCHAR(255) NOT NULL, user_id VARCHAR(255), project_id VARCHAR(255), start_time BIGINT NOT NULL, finish_time BIGINT, message TEXT, updated_at BIGINT NOT NULL)",
        "CREATE INDEX instance_actions_instance ON instance_actions (instance_uuid)",
        "CREATE TABLE instance_actions_events (id VARCHAR(36) PRIMARY KEY, action_id VARCHAR(36) NOT NULL, event VARCHAR(255) NOT NULL, result VARCHAR(255), traceback TEXT, host VARCHAR(255), start_time BIGINT NOT NULL, finish_time BIGINT)",
        "CREATE INDEX instance_actions_events_action ON instance_actions_events (action_id)",
        "CREATE TABLE instance_faults (id VARCHAR(36) PRIMARY KEY, instance_uuid VARCHAR(36) NOT NULL, code BIGINT NOT NULL, message TEXT NOT NULL, details TEXT, host VARCHAR(255), created_at BIGINT NOT NULL)",
        "CREATE INDEX instance_faults_instance ON instance_faults (instance_uuid)",
        "CREATE TABLE services (id BIGINT PRIMARY KEY, uuid VARCHAR(36) NOT NULL, host VARCHAR(255) NOT NULL, service_binary VARCHAR(255) NOT NULL, topic VARCHAR(255), disabled BIGINT NOT NULL, disabled_reason TEXT, forced_down BIGINT NOT NULL, last_seen_up BIGINT, report_count BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX services_host_binary ON services (host, service_binary)",
        "CREATE TABLE compute_nodes (uuid VARCHAR(36) PRIMARY KEY, id BIGINT NOT NULL, service_id BIGINT NOT NULL, host VARCHAR(255) NOT NULL, hypervisor_hostname VARCHAR(255) NOT NULL, hypervisor_type VARCHAR(255) NOT NULL, hypervisor_version BIGINT NOT NULL, host_ip VARCHAR(64), vcpus BIGINT NOT NULL, memory_mb BIGINT NOT NULL, local_gb BIGINT NOT NULL, cpu_allocation_ratio REAL NOT NULL, ram_allocation_ratio REAL NOT NULL, disk_allocation_ratio REAL NOT NULL, cpu_info TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE UNIQUE INDEX compute_nodes_hostname ON compute_nodes (hypervisor_hostname)",
        "CREATE TABLE migrations (id BIGINT PRIMARY KEY, uuid VARCHAR(36) NOT NULL, instance_uuid VARCHAR(36) NOT NULL, source_compute VARCHAR(255), dest_compute VARCHAR(255), source_node VARCHAR(255), dest_node VARCHAR(255), old_flavor TEXT, new_flavor TEXT, migration_type VARCHAR(32) NOT NULL, status VARCHAR(255) NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE INDEX migrations_instance ON migrations (instance_uuid)",
    ],
},
// The info cache (upstream's instance_info_caches): the instance's ports as JSON.
Migration { version: 2, name: "instance_info_caches", up: &["CREATE TABLE instance_info_caches (instance_uuid VARCHAR(36) PRIMARY KEY, network_info TEXT NOT NULL, updated_at BIGINT NOT NULL)"] },
];
