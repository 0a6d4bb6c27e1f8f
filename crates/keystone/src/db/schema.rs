//! Keystone's schema, as keystone/common/sql/migrations, in Ferrostack's portable form
//! (see the `db` crate: BIGINT booleans and microsecond instants, JSON in TEXT). Domains are
//! projects with `is_domain = 1` under the sentinel root domain, as upstream stores them.
//! Table and column names avoid words reserved by PostgreSQL, MySQL or MariaDB (`user`,
//! `group`, `limit`, `sensitive`).

use db::Migration;

/// The sentinel `domain_id` of domains themselves (upstream's `<<keystone.domain.root>>`).
pub const DOMAIN_ROOT: &str = "<<keystone.domain.root>>";
/// The sentinel for "no domain" in unique keys (global roles), as upstream's `<<null>>`.
pub const NULL_DOMAIN: &str = "<<null>>";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial keystone schema",
    up: &[
        "CREATE TABLE project (id VARCHAR(64) PRIMARY KEY, name VARCHAR(64) NOT NULL, domain_id VARCHAR(64) NOT NULL, parent_id VARCHAR(64), description TEXT, enabled BIGINT NOT NULL, is_domain BIGINT NOT NULL, extra TEXT, UNIQUE (domain_id, name))",
        "CREATE INDEX project_parent ON project (parent_id)",
        "CREATE TABLE project_tag (project_id VARCHAR(64) NOT NULL, name VARCHAR(255) NOT NULL, PRIMARY KEY (project_id, name))",
        "CREATE TABLE identity_user (id VARCHAR(64) PRIMARY KEY, domain_id VARCHAR(64) NOT NULL, name VARCHAR(255) NOT NULL, enabled BIGINT NOT NULL, default_project_id VARCHAR(64), extra TEXT, options TEXT, created_at BIGINT NOT NULL, last_active_at BIGINT, failed_auth_count BIGINT NOT NULL DEFAULT 0, failed_auth_at BIGINT, UNIQUE (domain_id, name))",
        "CREATE TABLE local_password (id VARCHAR(64) PRIMARY KEY, user_id VARCHAR(64) NOT NULL, password_hash VARCHAR(255) NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT, self_service BIGINT NOT NULL DEFAULT 0)",
        "CREATE INDEX local_password_user ON local_password (user_id, created_at)",
        "CREATE TABLE identity_group (id VARCHAR(64) PRIMARY KEY, domain_id VARCHAR(64) NOT NULL, name VARCHAR(64) NOT NULL, description TEXT, extra TEXT, UNIQUE (domain_id, name))",
        "CREATE TABLE group_membership (user_id VARCHAR(64) NOT NULL, group_id VARCHAR(64) NOT NULL, PRIMARY KEY (user_id, group_id))",
        "CREATE INDEX group_membership_group ON group_membership (group_id)",
        "CREATE TABLE role (id VARCHAR(64) PRIMARY KEY, name VARCHAR(255) NOT NULL, domain_id VARCHAR(64) NOT NULL, description TEXT, options TEXT, extra TEXT, UNIQUE (name, domain_id))",
        "CREATE TABLE implied_role (prior_role_id VARCHAR(64) NOT NULL, implied_role_id VARCHAR(64) NOT NULL, PRIMARY KEY (prior_role_id, implied_role_id))",
        // type: UserProject, GroupProject, UserDomain, GroupDomain, UserSystem, GroupSystem
        "CREATE TABLE role_assignment (type VARCHAR(64) NOT NULL, actor_id VARCHAR(64) NOT NULL, target_id VARCHAR(64) NOT NULL, role_id VARCHAR(64) NOT NULL, inherited BIGINT NOT NULL, PRIMARY KEY (type, actor_id, target_id, role_id, inherited))",
        "CREATE INDEX role_assignment_actor ON role_assignment (actor_id)",
        "CREATE INDEX role_assignment_role ON role_assignment (role_id)",
        "CREATE TABLE region (id VARCHAR(255) PRIMARY KEY, description TEXT NOT NULL, parent_region_id VARCHAR(255), extra TEXT)",
        "CREATE TABLE catalog_service (id VARCHAR(64) PRIMARY KEY, type VARCHAR(255), enabled BIGINT NOT NULL, extra TEXT)",
        "CREATE TABLE endpoint (id VARCHAR(64) PRIMARY KEY, service_id VARCHAR(64) NOT NULL, interface VARCHAR(8) NOT NULL, region_id VARCHAR(255), url TEXT NOT NULL, enabled BIGINT NOT NULL, extra TEXT)",
        "CREATE TABLE endpoint_group (id VARCHAR(64) PRIMARY KEY, name VARCHAR(255) NOT NULL, description TEXT, filters TEXT NOT NULL)",
        "CREATE TABLE project_endpoint (endpoint_id VARCHAR(64) NOT NULL, project_id VARCHAR(64) NOT NULL, PRIMARY KEY (endpoint_id, project_id))",
        "CREATE TABLE project_endpoint_group (endpoint_group_id VARCHAR(64) NOT NULL, project_id VARCHAR(64) NOT NULL, PRIMARY KEY (endpoint_group_id, project_id))",
        "CREATE TABLE credential (id VARCHAR(64) PRIMARY KEY, user_id VARCHAR(64) NOT NULL, project_id VARCHAR(64), type VARCHAR(255) NOT NULL, encrypted_blob TEXT NOT NULL, key_hash VARCHAR(64) NOT NULL, extra TEXT)",
        "CREATE INDEX credential_user ON credential (user_id)",
        "CREATE TABLE application_credential (id VARCHAR(64) PRIMARY KEY, name VARCHAR(255) NOT NULL, secret_hash VARCHAR(255) NOT NULL, description TEXT, user_id VARCHAR(64) NOT NULL, project_id VARCHAR(64), expires_at BIGINT, system VARCHAR(64), unrestricted BIGINT NOT NULL, created_at BIGINT NOT NULL, UNIQUE (user_id, name))",
        "CREATE TABLE app_cred_role (application_credential_id VARCHAR(64) NOT NULL, role_id VARCHAR(64) NOT NULL, PRIMARY KEY (application_credential_id, role_id))",
        "CREATE TABLE access_rule (id VARCHAR(64) PRIMARY KEY, user_id VARCHAR(64) NOT NULL, service VARCHAR(64) NOT NULL, path VARCHAR(128) NOT NULL, method VARCHAR(16) NOT NULL)",
        "CREATE TABLE app_cred_access_rule (application_credential_id VARCHAR(64) NOT NULL, access_rule_id VARCHAR(64) NOT NULL, PRIMARY KEY (application_credential_id, access_rule_id))",
        "CREATE TABLE trust (id VARCHAR(64) PRIMARY KEY, trustor_user_id VARCHAR(64) NOT NULL, trustee_user_id VARCHAR(64) NOT NULL, project_id VARCHAR(64), impersonation BIGINT NOT NULL, expires_at BIGINT, remaining_uses BIGINT, deleted_at BIGINT, redelegated_trust_id VARCHAR(64), redelegation_count BIGINT, extra TEXT)",
        "CREATE TABLE trust_role (trust_id VARCHAR(64) NOT NULL, role_id VARCHAR(64) NOT NULL, PRIMARY KEY (trust_id, role_id))",
        "CREATE TABLE revocation_event (id VARCHAR(64) PRIMARY KEY, domain_id VARCHAR(64), project_id VARCHAR(64), user_id VARCHAR(64), role_id VARCHAR(64), trust_id VARCHAR(64), consumer_id VARCHAR(64), access_token_id VARCHAR(64), issued_before BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT NOT NULL, audit_id VARCHAR(32), audit_chain_id VARCHAR(32))",
        "CREATE INDEX revocation_event_revoked_at ON revocation_event (revoked_at)",
        "CREATE TABLE policy (id VARCHAR(64) PRIMARY KEY, type VARCHAR(255) NOT NULL, policy_blob {long_text} NOT NULL, extra TEXT)",
        "CREATE TABLE domain_config (domain_id VARCHAR(64) NOT NULL, group_name VARCHAR(255) NOT NULL, option_name VARCHAR(255) NOT NULL, value TEXT NOT NULL, is_sensitive BIGINT NOT NULL, PRIMARY KEY (domain_id, group_name, option_name))",
        "CREATE TABLE oauth_consumer (id VARCHAR(64) PRIMARY KEY, description VARCHAR(64), secret VARCHAR(64) NOT NULL, extra TEXT)",
        "CREATE TABLE registered_limit (id VARCHAR(64) PRIMARY KEY, service_id VARCHAR(255) NOT NULL, region_id VARCHAR(64), resource_name VARCHAR(255) NOT NULL, default_limit BIGINT NOT NULL, description TEXT)",
        "CREATE TABLE project_limit (id VARCHAR(64) PRIMARY KEY, project_id VARCHAR(64), domain_id VARCHAR(64), service_id VARCHAR(255) NOT NULL, region_id VARCHAR(64), resource_name VARCHAR(255) NOT NULL, resource_limit BIGINT NOT NULL, description TEXT)",
    ],
}];
