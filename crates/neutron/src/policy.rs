//! Neutron's default policy rules (neutron/conf/policies), by upstream's names: a project
//! member manages their project's resources, a reader reads them, the admin does everything;
//! `shared` and `router:external` networks (and their subnets) are readable by everyone;
//! provider attributes, port bindings and other operator-only attributes are the admin's.
//! Upstream's `field:networks:shared=True` checks are written here as `'True':%(shared)s`
//! over the target document, which the rule engine evaluates the same way.

use auth::policy::RuleDefault;

const PROJECT: &[&str] = &["project"];
const ADMIN: &str = "rule:admin_only";
const MEMBER: &str = "rule:admin_or_project_member";
const READER: &str = "rule:admin_or_project_reader";
const NET_OWNER: &str = "rule:admin_only or rule:network_owner";
/// Nova binds ports with its service token (neutron-lib's ADMIN_OR_SERVICE and SERVICE).
const ADMIN_OR_SERVICE: &str = "rule:admin_only or rule:service_api";
const SERVICE: &str = "rule:service_api";

const fn rule(name: &'static str, check_str: &'static str, description: &'static str) -> RuleDefault {
    RuleDefault { name, check_str, scope_types: PROJECT, description }
}
const fn base(name: &'static str, check_str: &'static str) -> RuleDefault {
    RuleDefault { name, check_str, scope_types: &[], description: "" }
}

pub const DEFAULTS: &[RuleDefault] = &[
    base("context_is_admin", "role:admin"),
    base("service_api", "role:service"),
    base("admin_only", "rule:context_is_admin"),
    base("project_member_api", "role:member and project_id:%(project_id)s"),
    base("project_reader_api", "role:reader and project_id:%(project_id)s"),
    base("admin_or_project_member", "rule:admin_only or rule:project_member_api"),
    base("admin_or_project_reader", "rule:admin_only or rule:project_reader_api"),
    base("network_owner", "role:member and project_id:%(network:project_id)s"),
    base("shared", "'True':%(shared)s"),
    base("external", "'True':%(router:external)s"),
    base("sg_owner", "role:reader and project_id:%(security_group:project_id)s"),
    // networks
    rule("create_network", MEMBER, "Create a network"),
    rule("create_network:shared", ADMIN, "Create a shared network"),
    rule("create_network:router:external", ADMIN, "Create an external network"),
    rule("create_network:is_default", ADMIN, "Specify is_default attribute when creating a network"),
    rule("create_network:port_security_enabled", MEMBER, "Specify port_security_enabled when creating a network"),
    rule("create_network:segments", ADMIN, "Specify segments when creating a network"),
    rule("create_network:provider:network_type", ADMIN, "Specify provider:network_type when creating a network"),
    rule("create_network:provider:physical_network", ADMIN, "Specify provider:physical_network when creating a network"),
    rule("create_network:provider:segmentation_id", ADMIN, "Specify provider:segmentation_id when creating a network"),
    rule("get_network", "rule:admin_or_project_reader or rule:shared or rule:external", "Get a network"),
    rule("get_network:segments", ADMIN, "Get segments attribute of a network"),
    rule("get_network:provider:network_type", ADMIN, "Get provider:network_type attribute of a network"),
    rule("get_network:provider:physical_network", ADMIN, "Get provider:physical_network attribute of a network"),
    rule("get_network:provider:segmentation_id", ADMIN, "Get provider:segmentation_id attribute of a network"),
    rule("update_network", MEMBER, "Update a network"),
    rule("update_network:shared", ADMIN, "Update shared attribute of a network"),
    rule("update_network:router:external", ADMIN, "Update router:external attribute of a network"),
    rule("update_network:is_default", ADMIN, "Update is_default attribute of a network"),
    rule("update_network:provider:network_type", ADMIN, "Update provider:network_type attribute of a network"),
    rule("update_network:provider:physical_network", ADMIN, "Update provider:physical_network attribute of a network"),
    rule("update_network:provider:segmentation_id", ADMIN, "Update provider:segmentation_id attribute of a network"),
    rule("delete_network", MEMBER, "Delete a network"),
    // subnets
    rule("create_subnet", NET_OWNER, "Create a subnet"),
    rule("get_subnet", "rule:admin_or_project_reader or rule:shared", "Get a subnet"),
    rule("update_subnet", NET_OWNER, "Update a subnet"),
    rule("delete_subnet", NET_OWNER, "Delete a subnet"),
    // ports
    rule("create_port", "rule:admin_or_project_member or rule:service_api", "Create a port"),
    rule("create_port:device_owner", "rule:admin_only or rule:network_owner or 'False':%(network_device)s", "Specify device_owner attribute when creating a port"),
    rule("create_port:mac_address", NET_OWNER, "Specify mac_address attribute when creating a port"),
    rule("create_port:fixed_ips:ip_address", NET_OWNER, "Specify IP address in fixed_ips when creating a port"),
    rule("create_port:fixed_ips:subnet_id", "rule:admin_only or rule:network_owner or rule:shared", "Specify subnet ID in fixed_ips when creating a port"),
    rule("create_port:port_security_enabled", NET_OWNER, "Specify port_security_enabled attribute when creating a port"),
    rule("create_port:binding:host_id", ADMIN_OR_SERVICE, "Specify binding:host_id attribute when creating a port"),
    rule("create_port:binding:profile", SERVICE, "Specify binding:profile attribute when creating a port"),
    rule("create_port:binding:vnic_type", MEMBER, "Specify binding:vnic_type attribute when creating a port"),
    rule("create_port:allowed_address_pairs", "rule:admin_or_project_member or rule:network_owner", "Specify allowed_address_pairs attribute when creating a port"),
    rule("get_port", "rule:admin_or_project_reader or rule:service_api", "Get a port"),
    rule("get_port:binding:vif_type", ADMIN_OR_SERVICE, "Get binding:vif_type attribute of a port"),
    rule("get_port:binding:vif_details", ADMIN_OR_SERVICE, "Get binding:vif_details attribute of a port"),
    rule("get_port:binding:host_id", ADMIN_OR_SERVICE, "Get binding:host_id attribute of a port"),
    rule("get_port:binding:profile", ADMIN_OR_SERVICE, "Get binding:profile attribute of a port"),
    rule("update_port", "rule:admin_or_project_member or rule:service_api", "Update a port"),
    rule("update_port:device_owner", "rule:admin_only or rule:network_owner or 'False':%(network_device)s", "Update device_owner attribute of a port"),
    rule("update_port:mac_address", ADMIN, "Update mac_address attribute of a port"),
    rule("update_port:fixed_ips:ip_address", NET_OWNER, "Specify IP address in fixed_ips when updating a port"),
    rule("update_port:port_security_enabled", NET_OWNER, "Update port_security_enabled attribute of a port"),
    rule("update_port:binding:host_id", ADMIN_OR_SERVICE, "Update binding:host_id attribute of a port"),
    rule("update_port:binding:profile", SERVICE, "Update binding:profile attribute of a port"),
    rule("update_port:allowed_address_pairs", "rule:admin_or_project_member or rule:network_owner", "Update allowed_address_pairs attribute of a port"),
    rule("delete_port", "rule:admin_or_project_member or rule:network_owner or rule:service_api", "Delete a port"),
    // routers
    rule("create_router", MEMBER, "Create a router"),
    rule("create_router:external_gateway_info:enable_snat", ADMIN, "Specify enable_snat in external_gateway_info when creating a router"),
    rule("create_router:external_gateway_info:external_fixed_ips", ADMIN, "Specify external_fixed_ips in external_gateway_info when creating a router"),
    rule("create_router:distributed", ADMIN, "Specify distributed attribute when creating a router"),
    rule("create_router:ha", ADMIN, "Specify ha attribute when creating a router"),
    rule("get_router", READER, "Get a router"),
    rule("get_router:distributed", ADMIN, "Get distributed attribute of a router"),
    rule("get_router:ha", ADMIN, "Get ha attribute of a router"),
    rule("update_router", MEMBER, "Update a router"),
    rule("update_router:external_gateway_info:enable_snat", ADMIN, "Update enable_snat in external_gateway_info of a router"),
    rule("update_router:external_gateway_info:external_fixed_ips", ADMIN, "Update external_fixed_ips in external_gateway_info of a router"),
    rule("update_router:distributed", ADMIN, "Update distributed attribute of a router"),
    rule("update_router:ha", ADMIN, "Update ha attribute of a router"),
    rule("delete_router", MEMBER, "Delete a router"),
    rule("add_router_interface", MEMBER, "Add an interface to a router"),
    rule("remove_router_interface", MEMBER, "Remove an interface from a router"),
    // floating IPs
    rule("create_floatingip", MEMBER, "Create a floating IP"),
    rule("create_floatingip:floating_ip_address", ADMIN, "Create a floating IP with a specific IP address"),
    rule("get_floatingip", READER, "Get a floating IP"),
    rule("update_floatingip", MEMBER, "Update a floating IP"),
    rule("delete_floatingip", MEMBER, "Delete a floating IP"),
    // security groups
    rule("create_security_group", MEMBER, "Create a security group"),
    rule("get_security_group", READER, "Get a security group"),
    rule("update_security_group", MEMBER, "Update a security group"),
    rule("delete_security_group", MEMBER, "Delete a security group"),
    rule("create_security_group_rule", MEMBER, "Create a security group rule"),
    rule("get_security_group_rule", "rule:admin_or_project_reader or rule:sg_owner", "Get a security group rule"),
    rule("delete_security_group_rule", "rule:admin_or_project_member or rule:sg_owner", "Delete a security group rule"),
    // subnet pools
    base("shared_subnetpools", "'True':%(shared)s"),
    rule("create_subnetpool", MEMBER, "Create a subnetpool"),
    rule("create_subnetpool:shared", ADMIN, "Create a shared subnetpool"),
    rule("create_subnetpool:is_default", ADMIN, "Specify is_default attribute when creating a subnetpool"),
    rule("get_subnetpool", "rule:admin_or_project_reader or rule:shared_subnetpools", "Get a subnetpool"),
    rule("update_subnetpool", MEMBER, "Update a subnetpool"),
    rule("update_subnetpool:is_default", ADMIN, "Update is_default attribute of a subnetpool"),
    rule("delete_subnetpool", MEMBER, "Delete a subnetpool"),
    // rbac policies (a '*' target is the admin's, as upstream's restrict_wildcard)
    rule("create_rbac_policy", MEMBER, "Create an RBAC policy"),
    rule("create_rbac_policy:target_tenant", ADMIN, "Create an RBAC policy for every project ('*')"),
    rule("get_rbac_policy", READER, "Get an RBAC policy"),
    rule("update_rbac_policy", MEMBER, "Update an RBAC policy"),
    rule("update_rbac_policy:target_tenant", ADMIN, "Update the target of an RBAC policy to every project ('*')"),
    rule("delete_rbac_policy", MEMBER, "Delete an RBAC policy"),
    // auto-allocated topology
    rule("get_auto_allocated_topology", READER, "Get a project's auto-allocated topology"),
    rule("delete_auto_allocated_topology", MEMBER, "Delete a project's auto-allocated topology"),
    rule("get_network_ip_availability", ADMIN, "Get network IP availability"),
    // quotas
    rule("get_quota", READER, "Get a resource quota"),
    rule("update_quota", ADMIN, "Update a resource quota"),
    rule("delete_quota", ADMIN, "Delete a resource quota"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use auth::policy::Enforcer;
    use serde_json::json;

    #[test]
    fn defaults_parse_and_shape_access() {
        let e = Enforcer::new(DEFAULTS, None, true).unwrap();
        assert!(e.check_rules().is_empty());
        let admin = json!({"roles": ["admin", "member", "reader"], "project_id": "p0"});
        let member = json!({"roles": ["member", "reader"], "project_id": "p1"});
        let own = json!({"project_id": "p1", "shared": false, "router:external": false});
        let other = json!({"project_id": "p2", "shared": false, "router:external": false});
        let shared = json!({"project_id": "p2", "shared": true, "router:external": false});
        let external = json!({"project_id": "p2", "shared": false, "router:external": true});
        assert!(e.enforce("get_network", &own, &member).unwrap());
        assert!(!e.enforce("get_network", &other, &member).unwrap());
        assert!(e.enforce("get_network", &shared, &member).unwrap());
        assert!(e.enforce("get_network", &external, &member).unwrap());
        assert!(e.enforce("get_network", &other, &admin).unwrap());
        assert!(!e.enforce("update_network", &shared, &member).unwrap());
        assert!(!e.enforce("create_network:shared", &own, &member).unwrap());
        assert!(!e.enforce("get_port:binding:host_id", &own, &member).unwrap());
        let service = json!({"roles": ["service"], "project_id": "svc"});
        assert!(e.enforce("update_port:binding:host_id", &own, &service).unwrap());
        assert!(e.enforce("update_port:binding:profile", &own, &service).unwrap());
        assert!(!e.enforce("update_port:binding:profile", &own, &admin).unwrap());
        let dev = json!({"project_id": "p1", "network:project_id": "p2", "network_device": true});
        assert!(!e.enforce("create_port:device_owner", &dev, &member).unwrap());
        let dev = json!({"project_id": "p1", "network:project_id": "p1", "network_device": true});
        assert!(e.enforce("create_port:device_owner", &dev, &member).unwrap());
        let compute = json!({"project_id": "p1", "network:project_id": "p2", "network_device": false});
        assert!(e.enforce("create_port:device_owner", &compute, &member).unwrap());
    }
}
