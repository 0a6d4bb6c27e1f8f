//! Nova's default policy rules, as nova/policies (base.py and one module per API), with
//! upstream's names and check strings. The target of a server rule is the server's project
//! (`project_id`) and user (`user_id`); of a key pair rule, its user.

use auth::policy::RuleDefault;

const ADMIN: &str = "rule:context_is_admin";
const PROJECT_MEMBER_OR_ADMIN: &str = "rule:project_member_or_admin";
const PROJECT_READER_OR_ADMIN: &str = "rule:project_reader_or_admin";
const PROJECT: &[&str] = &["project"];
const ANY: &str = "@";
const KEYPAIR_OWNER_OR_ADMIN: &str = "(rule:context_is_admin) or user_id:%(user_id)s";

const fn rule(name: &'static str, check_str: &'static str, description: &'static str) -> RuleDefault {
    RuleDefault { name, check_str, scope_types: PROJECT, description }
}

const fn base(name: &'static str, check_str: &'static str, description: &'static str) -> RuleDefault {
    RuleDefault { name, check_str, scope_types: &[], description }
}

pub const DEFAULTS: &[RuleDefault] = &[
    base("context_is_admin", "role:admin", "Decides what is required for the 'is_admin:True' check to succeed."),
    base("admin_or_owner", "is_admin:True or project_id:%(project_id)s", "Deprecated default rule for most non-Admin APIs."),
    base("admin_api", "is_admin:True", "Deprecated default rule for most Admin APIs."),
    base("project_manager_api", "role:manager and project_id:%(project_id)s", "Project level management APIs."),
    base("project_member_api", "role:member and project_id:%(project_id)s", "Project level non admin APIs."),
    base("project_reader_api", "role:reader and project_id:%(project_id)s", "Project level read only APIs."),
    base("service_api", "role:service", "Service-to-service APIs."),
    base("project_manager_or_admin", "rule:project_manager_api or rule:context_is_admin", "Project manager or admin APIs."),
    base("project_member_or_admin", "rule:project_member_api or rule:context_is_admin", "Project member or admin APIs."),
    base("project_reader_or_admin", "rule:project_reader_api or rule:context_is_admin", "Project reader or admin APIs."),
    base("service_or_admin", "rule:service_api or rule:context_is_admin", "Service or admin APIs."),
    // Flavor extra specs (nova/policies/flavor_extra_specs.py).
    rule("os_compute_api:os-flavor-extra-specs:index", PROJECT_READER_OR_ADMIN, "List a flavor's extra specs."),
    // Servers (nova/policies/servers.py).
    rule("os_compute_api:servers:index", PROJECT_READER_OR_ADMIN, "List servers."),
    rule("os_compute_api:servers:detail", PROJECT_READER_OR_ADMIN, "List servers with details."),
    rule("os_compute_api:servers:index:get_all_tenants", ADMIN, "List servers of all projects."),
    rule("os_compute_api:servers:detail:get_all_tenants", ADMIN, "List servers of all projects with details."),
    rule("os_compute_api:servers:allow_all_filters", ADMIN, "Filter the server list by any attribute."),
    rule("os_compute_api:servers:show", PROJECT_READER_OR_ADMIN, "Show a server."),
    rule("os_compute_api:servers:show:flavor-extra-specs", PROJECT_READER_OR_ADMIN, "See the flavor extra specs in a server."),
    rule("os_compute_api:servers:show:host_status", ADMIN, "See the host status of a server."),
    rule("os_compute_api:servers:show:host_status:unknown-only", ADMIN, "See only an UNKNOWN host status."),
    rule("os_compute_api:servers:create", PROJECT_MEMBER_OR_ADMIN, "Create a server."),
    rule("os_compute_api:servers:create:forced_host", ADMIN, "Create a server on a named host."),
    rule("compute:servers:create:requested_destination", ADMIN, "Create a server on a requested destination."),
    rule("os_compute_api:servers:create:attach_volume", PROJECT_MEMBER_OR_ADMIN, "Create a server with volumes."),
    rule("os_compute_api:servers:create:attach_network", PROJECT_MEMBER_OR_ADMIN, "Create a server with networks."),
    rule("os_compute_api:servers:create:trusted_certs", PROJECT_MEMBER_OR_ADMIN, "Create a server with trusted certificates."),
    rule("os_compute_api:servers:create:zero_disk_flavor", ADMIN, "Create an image-backed server with a zero-disk flavor."),
    rule("network:attach_external_network", ADMIN, "Attach a server to an external network."),
    rule("os_compute_api:servers:delete", PROJECT_MEMBER_OR_ADMIN, "Delete a server."),
    rule("os_compute_api:servers:update", PROJECT_MEMBER_OR_ADMIN, "Update a server."),
    rule("os_compute_api:servers:confirm_resize", PROJECT_MEMBER_OR_ADMIN, "Confirm a resize."),
    rule("os_compute_api:servers:revert_resize", PROJECT_MEMBER_OR_ADMIN, "Revert a resize."),
    rule("os_compute_api:servers:reboot", PROJECT_MEMBER_OR_ADMIN, "Reboot a server."),
    rule("os_compute_api:servers:resize", PROJECT_MEMBER_OR_ADMIN, "Resize a server."),
    rule("compute:servers:resize:cross_cell", "!", "Resize across cells."),
    rule("os_compute_api:servers:rebuild", PROJECT_MEMBER_OR_ADMIN, "Rebuild a server."),
    rule("os_compute_api:servers:rebuild:trusted_certs", PROJECT_MEMBER_OR_ADMIN, "Rebuild a server with trusted certificates."),
    rule("os_compute_api:servers:create_image", PROJECT_MEMBER_OR_ADMIN, "Snapshot a server into an image."),
    rule("os_compute_api:servers:create_image:allow_volume_backed", PROJECT_MEMBER_OR_ADMIN, "Snapshot a volume-backed server."),
    rule("os_compute_api:servers:start", PROJECT_MEMBER_OR_ADMIN, "Start a server."),
    rule("os_compute_api:servers:stop", PROJECT_MEMBER_OR_ADMIN, "Stop a server."),
    rule("os_compute_api:servers:trigger_crash_dump", PROJECT_MEMBER_OR_ADMIN, "Trigger a crash dump in a server."),
    rule("os_compute_api:os-lock-server:lock", PROJECT_MEMBER_OR_ADMIN, "Lock a server."),
    rule("os_compute_api:os-lock-server:unlock", PROJECT_MEMBER_OR_ADMIN, "Unlock a server."),
    rule("os_compute_api:os-pause-server:pause", PROJECT_MEMBER_OR_ADMIN, "Pause a server."),
    rule("os_compute_api:os-pause-server:unpause", PROJECT_MEMBER_OR_ADMIN, "Unpause a server."),
    rule("os_compute_api:os-suspend-server:suspend", PROJECT_MEMBER_OR_ADMIN, "Suspend a server."),
    rule("os_compute_api:os-suspend-server:resume", PROJECT_MEMBER_OR_ADMIN, "Resume a suspended server."),
    rule("os_compute_api:os-console-output", PROJECT_MEMBER_OR_ADMIN, "Show a server's console output."),
    rule("os_compute_api:os-instance-actions:list", PROJECT_READER_OR_ADMIN, "List a server's actions."),
    rule("os_compute_api:os-instance-actions:show", PROJECT_READER_OR_ADMIN, "Show a server's action."),
    rule("os_compute_api:os-instance-actions:events", ADMIN, "See the events of a server's action."),
    rule("os_compute_api:os-services:list", ADMIN, "List compute services."),
    rule("os_compute_api:os-services:update", ADMIN, "Enable, disable or force down a compute service."),
    rule("os_compute_api:os-hypervisors:list", ADMIN, "List hypervisors."),
    rule("os_compute_api:os-hypervisors:detail", ADMIN, "List hypervisors with details."),
    rule("os_compute_api:os-hypervisors:show", ADMIN, "Show a hypervisor."),
    rule("os_compute_api:os-hypervisors:statistics", ADMIN, "Show hypervisor statistics."),
    rule("os_compute_api:os-server-groups:create", PROJECT_MEMBER_OR_ADMIN, "Create a server group."),
    rule("os_compute_api:os-server-groups:delete", PROJECT_MEMBER_OR_ADMIN, "Delete a server group."),
    rule("os_compute_api:os-server-groups:index", PROJECT_READER_OR_ADMIN, "List server groups."),
    rule("os_compute_api:os-server-groups:index:all_projects", ADMIN, "List every project's server groups."),
    rule("os_compute_api:os-server-groups:show", PROJECT_READER_OR_ADMIN, "Show a server group."),
    rule("os_compute_api:server-metadata:index", PROJECT_READER_OR_ADMIN, "List a server's metadata."),
    rule("os_compute_api:server-metadata:show", PROJECT_READER_OR_ADMIN, "Show a server's metadata item."),
    rule("os_compute_api:server-metadata:create", PROJECT_MEMBER_OR_ADMIN, "Add server metadata."),
    rule("os_compute_api:server-metadata:update", PROJECT_MEMBER_OR_ADMIN, "Set a server metadata item."),
    rule("os_compute_api:server-metadata:update_all", PROJECT_MEMBER_OR_ADMIN, "Replace a server's metadata."),
    rule("os_compute_api:server-metadata:delete", PROJECT_MEMBER_OR_ADMIN, "Delete a server metadata item."),
    rule("os_compute_api:os-server-tags:index", PROJECT_READER_OR_ADMIN, "List a server's tags."),
    rule("os_compute_api:os-server-tags:show", PROJECT_READER_OR_ADMIN, "Check a server tag."),
    rule("os_compute_api:os-server-tags:update", PROJECT_MEMBER_OR_ADMIN, "Add a server tag."),
    rule("os_compute_api:os-server-tags:update_all", PROJECT_MEMBER_OR_ADMIN, "Replace a server's tags."),
    rule("os_compute_api:os-server-tags:delete", PROJECT_MEMBER_OR_ADMIN, "Delete a server tag."),
    rule("os_compute_api:os-server-tags:delete_all", PROJECT_MEMBER_OR_ADMIN, "Delete a server's tags."),
    // API-database resources: flavor management, extra specs and access, key pairs, quotas,
    // limits, availability zones (nova/policies/flavor_manage.py, flavor_extra_specs.py,
    // flavor_access.py, keypairs.py, quota_sets.py, quota_class_sets.py, limits.py,
    // availability_zone.py).
    rule("os_compute_api:os-flavor-manage:create", ADMIN, "Create a flavor."),
    rule("os_compute_api:os-flavor-manage:update", ADMIN, "Update a flavor's description."),
    rule("os_compute_api:os-flavor-manage:delete", ADMIN, "Delete a flavor."),
    rule("os_compute_api:os-flavor-extra-specs:show", PROJECT_READER_OR_ADMIN, "Show one extra spec of a flavor."),
    rule("os_compute_api:os-flavor-extra-specs:create", ADMIN, "Create extra specs for a flavor."),
    rule("os_compute_api:os-flavor-extra-specs:update", ADMIN, "Update an extra spec of a flavor."),
    rule("os_compute_api:os-flavor-extra-specs:delete", ADMIN, "Delete an extra spec of a flavor."),
    rule("os_compute_api:os-flavor-access", ADMIN, "List the projects given access to a private flavor."),
    rule("os_compute_api:os-flavor-access:add_tenant_access", ADMIN, "Give a project access to a private flavor."),
    rule("os_compute_api:os-flavor-access:remove_tenant_access", ADMIN, "Take a project's access to a private flavor away."),
    rule("os_compute_api:os-keypairs:index", KEYPAIR_OWNER_OR_ADMIN, "List key pairs."),
    rule("os_compute_api:os-keypairs:create", KEYPAIR_OWNER_OR_ADMIN, "Create or import a key pair."),
    rule("os_compute_api:os-keypairs:delete", KEYPAIR_OWNER_OR_ADMIN, "Delete a key pair."),
    rule("os_compute_api:os-keypairs:show", KEYPAIR_OWNER_OR_ADMIN, "Show a key pair."),
    rule("os_compute_api:os-quota-sets:update", ADMIN, "Update a project's (or a user's) quotas."),
    rule("os_compute_api:os-quota-sets:defaults", ANY, "Show the default quotas."),
    rule("os_compute_api:os-quota-sets:show", PROJECT_READER_OR_ADMIN, "Show a project's quotas."),
    rule("os_compute_api:os-quota-sets:delete", ADMIN, "Revert a project's quotas to the defaults."),
    rule("os_compute_api:os-quota-sets:detail", PROJECT_READER_OR_ADMIN, "Show a project's quotas with usage."),
    rule("os_compute_api:os-quota-class-sets:show", ADMIN, "Show a quota class."),
    rule("os_compute_api:os-quota-class-sets:update", ADMIN, "Update a quota class."),
    rule("os_compute_api:limits", ANY, "Show the rate and absolute limits of the caller's project."),
    rule("os_compute_api:limits:other_project", ADMIN, "Show the limits of another project."),
    rule("os_compute_api:os-availability-zone:list", ANY, "List availability zones."),
    rule("os_compute_api:os-availability-zone:detail", ADMIN, "List availability zones with their hosts and services."),
];
