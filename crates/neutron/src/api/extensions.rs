//! `/v2.0/extensions`: the API extensions this server implements, and only those (clients
//! such as Tempest and openstacksdk decide what to call from this list).

use axum::extract::Path;
use axum::Json;
use serde_json::{json, Value};

use super::Ctx;
use crate::error::{NeutronError, Result};

/// (alias, name, description) of each implemented extension.
pub const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("auto-allocated-topology", "Auto Allocated Topology Services", "Auto Allocated Topology Services."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)"),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    ("fields", "Fields", "Responses can be restricted to the attributes named in fields query parameters"),
    ("ip-substring-filtering", "IP address substring filtering", "Provides IP address substring filtering when listing ports"),
    ("network-ip-availability", "Network IP Availability", "Provides IP availability data for each network and subnet."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("port-security", "Port Security", "Provides port security"),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    ("quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"),
    ("rbac-policies", "RBAC Policies", "Allows creation and modification of policies that control tenant access to resources."),
    ("revision-if-match", "If-Match constraints based on revision_number", "Extension indicating that If-Match based on revision_number is supported."),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."),
    ("security-group", "security-group", "The security groups extension."),
    ("service-type", "Neutron Service Type Management", "API for retrieving service providers for Neutron advanced services"),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."),
    ("tag", "Tag support", "Enables to set tag on resources."),
    ("standard-attr-tag", "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip", "Enables to set tag on resources with standard attribute."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    ("stateful-security-group", "Stateful security group", "Indicates if the security group is stateful or not"),
];

fn view(alias: &str, name: &str, description: &str) -> Value {
    json!({"alias": alias, "name": name, "description": description, "updated": "2013-01-01T00:00:00-00:00", "links": []})
}

pub async fn list(_ctx: Ctx) -> Json<Value> {
    Json(json!({"extensions": EXTENSIONS.iter().map(|(a, n, d)| view(a, n, d)).collect::<Vec<_>>()}))
}

pub async fn show(_ctx: Ctx, Path(alias): Path<String>) -> Result<Json<Value>> {
    let (a, n, d) = EXTENSIONS.iter().find(|(a, _, _)| *a == alias).ok_or(NeutronError::ExtensionNotFound(alias))?;
    Ok(Json(json!({"extension": view(a, n, d)})))
}
