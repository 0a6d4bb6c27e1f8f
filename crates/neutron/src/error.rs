//! Neutron's errors and their envelope, in one place: `{"NeutronError": {"type", "message",
//! "detail"}}`, where `type` is the name of upstream's exception class (neutron_lib.exceptions
//! and the extensions' exceptions) because clients pick their exception class from it, and
//! the status is the one upstream's class maps to (NotFound 404, InUse/Conflict 409,
//! BadRequest/InvalidInput 400, ServiceUnavailable 503).

use axum::response::{IntoResponse, Response};
use common::error::{Envelope, ErrorBody};
use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum NeutronError {
    // 400
    /// A request the API layer refuses before any resource logic (unknown or read-only
    /// attributes, a body that is not the resource), as webob's HTTPBadRequest.
    #[error("{0}")]
    HttpBadRequest(String),
    #[error("Bad {resource} request: {message}.")]
    BadRequest { resource: &'static str, message: String },
    #[error("Invalid input for operation: {0}.")]
    InvalidInput(String),
    #[error("Malformed request body: {0}.")]
    MalformedRequestBody(String),
    #[error("Invalid CIDR {0} given as IP prefix.")]
    InvalidCidr(String),
    #[error("The allocation pool {0} is not valid.")]
    InvalidAllocationPool(String),
    #[error("The allocation pool {pool} spans beyond the subnet cidr {cidr}.")]
    OutOfBoundsAllocationPool { pool: String, cidr: String },
    #[error("IP address {ip_address} is not a valid IP for the specified subnet.")]
    InvalidIpForSubnet { ip_address: String },
    #[error("IP address {ip_address} is not a valid IP for any of the subnets on the specified network.")]
    InvalidIpForNetwork { ip_address: String },
    #[error("Security group rule protocol {0} not supported. Only protocol values [None, 'ah', 'dccp', 'egp', 'esp', 'gre', 'hopopt', 'icmp', 'igmp', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp'] and integer representations [0 to 255] are supported.")]
    SecurityGroupRuleInvalidProtocol(String),
    #[error("For TCP/UDP protocols, port_range_min must be <= port_range_max")]
    SecurityGroupInvalidPortRange,
    #[error("Invalid value for port {0}")]
    SecurityGroupInvalidPortValue(String),
    #[error("Invalid value for ICMP {field} ({attr}) {value}. It must be 0 to 255.")]
    SecurityGroupInvalidIcmpValue { field: &'static str, attr: &'static str, value: String },
    #[error("ICMP code (port-range-max) {0} is provided but ICMP type (port-range-min) is missing.")]
    SecurityGroupMissingIcmpType(String),
    #[error("Must also specify protocol if port range is given.")]
    SecurityGroupProtocolRequiredWithPorts,
    #[error("Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.")]
    SecurityGroupMultipleRemoteEntites,
    #[error("Conflicting value ethertype {ethertype} for CIDR {cidr}")]
    SecurityGroupRuleParameterConflict { ethertype: String, cidr: String },
    #[error("Security group rule for ethertype '{0}' not supported. Allowed values are ['IPv4', 'IPv6'].")]
    SecurityGroupRuleInvalidEtherType(String),
    #[error("Unable to find any IP address on external network {0}.")]
    ExternalIpAddressExhausted(String),
    #[error("Port Security must be enabled in order to have allowed address pairs on a port.")]
    AddressPairAndPortSecurityRequired,
    #[error("Port security must be enabled and port must have an IP address in order to use security groups.")]
    PortSecurityAndIpRequiredForSecurityGroups,
    #[error("Invalid format for routes: {routes}, {reason}")]
    InvalidRoutes { routes: String, reason: String },
    #[error("Empty subnet pool prefix list.")]
    EmptySubnetPoolPrefixList,
    #[error("Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")]
    PrefixVersionMismatch,
    #[error("Illegal prefix bounds: {prefix_type}={prefixlen}, {base_prefix_type}={base_prefixlen}.")]
    IllegalSubnetPoolPrefixBounds { prefix_type: &'static str, prefixlen: i64, base_prefix_type: &'static str, base_prefixlen: i64 },
    #[error("Unable to allocate subnet with prefix length {prefixlen}, minimum allowed prefix is {min_prefixlen}.")]
    MinPrefixSubnetAllocationError { prefixlen: i64, min_prefixlen: i64 },
    #[error("Unable to allocate subnet with prefix length {prefixlen}, maximum allowed prefix is {max_prefixlen}.")]
    MaxPrefixSubnetAllocationError { prefixlen: i64, max_prefixlen: i64 },
    #[error("Failed to allocate subnet: {0}.")]
    SubnetAllocationError(String),
    #[error("Unable to delete subnet pool: {0}.")]
    SubnetPoolDeleteError(String),
    #[error("Illegal update to prefixes: {0}.")]
    IllegalSubnetPoolPrefixUpdate(String),
    // 401 / 403
    #[error("Authentication required")]
    Unauthorized,
    #[error("({rule}) is disallowed by policy")]
    PolicyNotAuthorized { rule: String },
    // 404
    #[error("Network {0} could not be found.")]
    NetworkNotFound(String),
    #[error("Subnet {0} could not be found.")]
    SubnetNotFound(String),
    #[error("Port {0} could not be found.")]
    PortNotFound(String),
    #[error("Router {0} could not be found")]
    RouterNotFound(String),
    #[error("Floating IP {0} could not be found")]
    FloatingIpNotFound(String),
    #[error("Security group {0} does not exist")]
    SecurityGroupNotFound(String),
    #[error("Security group rule {0} does not exist")]
    SecurityGroupRuleNotFound(String),
    #[error("Subnet pool {0} could not be found.")]
    SubnetPoolNotFound(String),
    #[error("Router {router_id} does not have an interface with id {port_id}")]
    RouterInterfaceNotFound { router_id: String, port_id: String },
    #[error("Router {router_id} has no interface on subnet {subnet_id}")]
    RouterInterfaceNotFoundForSubnet { router_id: String, subnet_id: String },
    #[error("External network {external_network_id} is not reachable from subnet {subnet_id}.  Therefore, cannot associate Port {port_id} with a Floating IP.")]
    ExternalGatewayForFloatingIpNotFound { external_network_id: String, subnet_id: String, port_id: String },
    #[error("Agent {0} could not be found.")]
    AgentNotFound(String),
    #[error("Extension with alias {0} does not exist")]
    ExtensionNotFound(String),
    #[error("RBAC policy of type {object_type} with ID {id} not found")]
    RbacPolicyNotFound { id: String, object_type: String },
    #[error("Invalid action '{action}' for object type '{object_type}'. Valid actions: {valid_actions}")]
    InvalidActionForType { action: String, object_type: String, valid_actions: String },
    #[error("Quota for project {0} could not be found.")]
    ProjectQuotaNotFound(String),
    #[error("{0}")]
    NotFound(String),
    // 409
    #[error("Unable to complete operation on network {net_id}. {reason}.")]
    NetworkInUse { net_id: String, reason: String },
    #[error("Unable to complete operation on subnet {subnet_id}: {reason}.")]
    SubnetInUse { subnet_id: String, reason: String },
    #[error("Router {router_id} {reason}")]
    RouterInUse { router_id: String, reason: String },
    #[error("Unable to complete operation on port {port_id} for network {net_id}. Port already has an attached device {device_id}.")]
    PortInUse { port_id: String, net_id: String, device_id: String },
    #[error("Security Group {id} {reason}.")]
    SecurityGroupInUse { id: String, reason: String },
    #[error("Insufficient rights for removing default security group.")]
    SecurityGroupCannotRemoveDefault,
    #[error("Updating default security group not allowed.")]
    SecurityGroupCannotUpdateDefault,
    #[error("Security group rule already exists. Rule id is {0}.")]
    SecurityGroupRuleExists(String),
    #[error("Duplicate Security Group Rule in POST.")]
    DuplicateSecurityGroupRuleInPost,
    #[error("Unable to complete operation for network {net_id}. The IP address {ip_address} is in use.")]
    IpAddressInUse { net_id: String, ip_address: String },
    #[error("Unable to complete operation for network {net_id}. The mac address {mac} is in use.")]
    MacAddressInUse { net_id: String, mac: String },
    #[error("No more IP addresses available on network {0}.")]
    IpAddressGenerationFailure(String),
    #[error("Unable to create the network. The VLAN {vlan_id} on physical network {physical_network} is in use.")]
    VlanIdInUse { vlan_id: i64, physical_network: String },
    #[error("Unable to create the network. The tunnel ID {0} is in use.")]
    TunnelIdInUse(i64),
    #[error("Unable to create the flat network. Physical network {0} is in use.")]
    FlatNetworkInUse(String),
    #[error("Quota exceeded for resources: {0}.")]
    OverQuota(String),
    #[error("Found overlapping allocation pools: {pool_1} {pool_2} for subnet {subnet_cidr}.")]
    OverlappingAllocationPools { pool_1: String, pool_2: String, subnet_cidr: String },
    #[error("Gateway ip {ip_address} conflicts with allocation pool {pool}.")]
    GatewayConflictWithAllocationPools { ip_address: String, pool: String },
    #[error("Cannot associate floating IP {floating_ip_address} ({fip_id}) with port {port_id} using fixed IP {fixed_ip}, as that fixed IP already has a floating IP on external network {net_id}.")]
    FloatingIpPortAlreadyAssociated { floating_ip_address: String, fip_id: String, port_id: String, fixed_ip: String, net_id: String },
    #[error("Gateway cannot be updated for router {router_id}, since a gateway to external network {net_id} is required by one or more floating IPs.")]
    RouterExternalGatewayInUseByFloatingIp { router_id: String, net_id: String },
    #[error("Router interface for subnet {subnet_id} on router {router_id} cannot be deleted, as it is required by one or more floating IPs.")]
    RouterInterfaceInUseByFloatingIp { subnet_id: String, router_id: String },
    #[error("External network {0} cannot be updated to be made non-external, since it has existing gateway ports.")]
    ExternalNetworkInUse(String),
    #[error("Unable to reconfigure sharing settings for network {network}. Multiple tenants are using it.")]
    InvalidSharedSetting { network: String },
    #[error("{0}")]
    Conflict(String),
    #[error("Deployment error: {0}.")]
    AutoAllocationFailure(String),
    #[error("A default external network already exists: {0}.")]
    DefaultExternalNetworkExists(String),
    #[error("RBAC policy on object {object_id} cannot be removed because other objects depend on it.\nDetails: {details}")]
    RbacPolicyInUse { object_id: String, details: String },
    #[error("An RBAC policy already exists with those values.")]
    DuplicateRbacPolicy,
    #[error("Operation {op} is not supported for device_owner {device_owner} on port {port_id}.")]
    UnsupportedPortDeviceOwner { op: String, device_owner: String, port_id: String },
    #[error("Unable to complete the operation on port {0} because the port still has an associated floating IP.")]
    FipAssociated(String),
    #[error("Error {0} while attempting the operation.")]
    RouterInterfaceAttachmentConflict(String),
    // 405 / 412 / 415
    #[error("The method is not allowed for this resource.")]
    MethodNotAllowed,
    #[error("Constrained to {0}, but current revision is {1}")]
    RevisionNumberConstraintFailed(i64, i64),
    // 503
    #[error("Unable to create the network. No project network is available for allocation.")]
    NoNetworkAvailable,
    /// A compare-and-set lost to a concurrent writer; the operation is run again.
    #[error("The resource {0} was changed by another request; try again.")]
    ConcurrentUpdate(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error")]
    Db(#[from] db::DbError),
}

impl NeutronError {
    pub fn status(&self) -> StatusCode {
        use NeutronError as E;
        match self {
            E::BadRequest { .. }
            | E::HttpBadRequest(_)
            | E::InvalidInput(_)
            | E::MalformedRequestBody(_)
            | E::InvalidCidr(_)
            | E::InvalidAllocationPool(_)
            | E::OutOfBoundsAllocationPool { .. }
            | E::InvalidIpForSubnet { .. }
            | E::InvalidIpForNetwork { .. }
            | E::SecurityGroupRuleInvalidProtocol(_)
            | E::SecurityGroupInvalidPortRange
            | E::SecurityGroupInvalidPortValue(_)
            | E::SecurityGroupInvalidIcmpValue { .. }
            | E::SecurityGroupMissingIcmpType(_)
            | E::SecurityGroupProtocolRequiredWithPorts
            | E::SecurityGroupMultipleRemoteEntites
            | E::SecurityGroupRuleParameterConflict { .. }
            | E::SecurityGroupRuleInvalidEtherType(_)
            | E::ExternalIpAddressExhausted(_)
            | E::PortSecurityAndIpRequiredForSecurityGroups
            | E::InvalidRoutes { .. }
            | E::EmptySubnetPoolPrefixList
            | E::PrefixVersionMismatch
            | E::IllegalSubnetPoolPrefixBounds { .. }
            | E::SubnetAllocationError(_)
            | E::MinPrefixSubnetAllocationError { .. }
            | E::MaxPrefixSubnetAllocationError { .. }
            | E::SubnetPoolDeleteError(_)
            | E::IllegalSubnetPoolPrefixUpdate(_)
            | E::InvalidActionForType { .. } => StatusCode::BAD_REQUEST,
            E::Unauthorized => StatusCode::UNAUTHORIZED,
            E::PolicyNotAuthorized { .. } => StatusCode::FORBIDDEN,
            E::NetworkNotFound(_)
            | E::SubnetNotFound(_)
            | E::PortNotFound(_)
            | E::RouterNotFound(_)
            | E::FloatingIpNotFound(_)
            | E::SecurityGroupNotFound(_)
            | E::SecurityGroupRuleNotFound(_)
            | E::SubnetPoolNotFound(_)
            | E::RouterInterfaceNotFound { .. }
            | E::RouterInterfaceNotFoundForSubnet { .. }
            | E::ExternalGatewayForFloatingIpNotFound { .. }
            | E::ExtensionNotFound(_)
            | E::AgentNotFound(_)
            | E::ProjectQuotaNotFound(_)
            | E::RbacPolicyNotFound { .. }
            | E::NotFound(_) => StatusCode::NOT_FOUND,
            E::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            E::RevisionNumberConstraintFailed(..) => StatusCode::PRECONDITION_FAILED,
            E::NoNetworkAvailable => StatusCode::SERVICE_UNAVAILABLE,
            E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            E::Db(db::DbError::Duplicate(_)) => StatusCode::CONFLICT,
            E::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::CONFLICT,
        }
    }

    /// Upstream's exception class name, the envelope's `type`.
    pub fn kind(&self) -> &'static str {
        use NeutronError as E;
        match self {
            E::BadRequest { .. } => "BadRequest",
            E::HttpBadRequest(_) => "HTTPBadRequest",
            E::InvalidInput(_) => "InvalidInput",
            E::MalformedRequestBody(_) => "MalformedRequestBody",
            E::InvalidCidr(_) => "InvalidCIDR",
            E::InvalidAllocationPool(_) => "InvalidAllocationPool",
            E::OutOfBoundsAllocationPool { .. } => "OutOfBoundsAllocationPool",
            E::InvalidIpForSubnet { .. } => "InvalidIpForSubnet",
            E::InvalidIpForNetwork { .. } => "InvalidIpForNetwork",
            E::SecurityGroupRuleInvalidProtocol(_) => "SecurityGroupRuleInvalidProtocol",
            E::SecurityGroupInvalidPortRange => "SecurityGroupInvalidPortRange",
            E::SecurityGroupInvalidPortValue(_) => "SecurityGroupInvalidPortValue",
            E::SecurityGroupInvalidIcmpValue { .. } => "SecurityGroupInvalidIcmpValue",
            E::SecurityGroupMissingIcmpType(_) => "SecurityGroupMissingIcmpType",
            E::SecurityGroupProtocolRequiredWithPorts => "SecurityGroupProtocolRequiredWithPorts",
            E::SecurityGroupMultipleRemoteEntites => "SecurityGroupMultipleRemoteEntites",
            E::SecurityGroupRuleParameterConflict { .. } => "SecurityGroupRuleParameterConflict",
            E::SecurityGroupRuleInvalidEtherType(_) => "SecurityGroupRuleInvalidEtherType",
            E::ExternalIpAddressExhausted(_) => "ExternalIpAddressExhausted",
            E::AddressPairAndPortSecurityRequired => "AddressPairAndPortSecurityRequired",
            E::PortSecurityAndIpRequiredForSecurityGroups => "PortSecurityAndIPRequiredForSecurityGroups",
            E::InvalidRoutes { .. } => "InvalidRoutes",
            E::EmptySubnetPoolPrefixList => "EmptySubnetPoolPrefixList",
            E::PrefixVersionMismatch => "PrefixVersionMismatch",
            E::IllegalSubnetPoolPrefixBounds { .. } => "IllegalSubnetPoolPrefixBounds",
            E::SubnetAllocationError(_) => "SubnetAllocationError",
            E::MinPrefixSubnetAllocationError { .. } => "MinPrefixSubnetAllocationError",
            E::MaxPrefixSubnetAllocationError { .. } => "MaxPrefixSubnetAllocationError",
            E::SubnetPoolDeleteError(_) => "SubnetPoolDeleteError",
            E::IllegalSubnetPoolPrefixUpdate(_) => "IllegalSubnetPoolPrefixUpdate",
            E::ConcurrentUpdate(_) => "Conflict",
            E::Unauthorized => "HTTPUnauthorized",
            E::PolicyNotAuthorized { .. } => "PolicyNotAuthorized",
            E::NetworkNotFound(_) => "NetworkNotFound",
            E::SubnetNotFound(_) => "SubnetNotFound",
            E::PortNotFound(_) => "PortNotFound",
            E::RouterNotFound(_) => "RouterNotFound",
            E::FloatingIpNotFound(_) => "FloatingIPNotFound",
            E::SecurityGroupNotFound(_) => "SecurityGroupNotFound",
            E::SecurityGroupRuleNotFound(_) => "SecurityGroupRuleNotFound",
            E::SubnetPoolNotFound(_) => "SubnetPoolNotFound",
            E::RouterInterfaceNotFound { .. } => "RouterInterfaceNotFound",
            E::RouterInterfaceNotFoundForSubnet { .. } => "RouterInterfaceNotFoundForSubnet",
            E::ExternalGatewayForFloatingIpNotFound { .. } => "ExternalGatewayForFloatingIPNotFound",
            E::ExtensionNotFound(_) => "ExtensionNotFound",
            E::AgentNotFound(_) => "AgentNotFound",
            E::ProjectQuotaNotFound(_) => "ProjectQuotaNotFound",
            E::NotFound(_) => "HTTPNotFound",
            E::NetworkInUse { .. } => "NetworkInUse",
            E::SubnetInUse { .. } => "SubnetInUse",
            E::RouterInUse { .. } => "RouterInUse",
            E::PortInUse { .. } => "PortInUse",
            E::SecurityGroupInUse { .. } => "SecurityGroupInUse",
            E::SecurityGroupCannotRemoveDefault => "SecurityGroupCannotRemoveDefault",
            E::SecurityGroupCannotUpdateDefault => "SecurityGroupCannotUpdateDefault",
            E::SecurityGroupRuleExists(_) => "SecurityGroupRuleExists",
            E::DuplicateSecurityGroupRuleInPost => "DuplicateSecurityGroupRuleInPost",
            E::IpAddressInUse { .. } => "IpAddressInUse",
            E::MacAddressInUse { .. } => "MacAddressInUse",
            E::IpAddressGenerationFailure(_) => "IpAddressGenerationFailure",
            E::VlanIdInUse { .. } => "VlanIdInUse",
            E::TunnelIdInUse(_) => "TunnelIdInUse",
            E::FlatNetworkInUse(_) => "FlatNetworkInUse",
            E::OverQuota(_) => "OverQuota",
            E::OverlappingAllocationPools { .. } => "OverlappingAllocationPools",
            E::GatewayConflictWithAllocationPools { .. } => "GatewayConflictWithAllocationPools",
            E::FloatingIpPortAlreadyAssociated { .. } => "FloatingIPPortAlreadyAssociated",
            E::RouterExternalGatewayInUseByFloatingIp { .. } => "RouterExternalGatewayInUseByFloatingIp",
            E::RouterInterfaceInUseByFloatingIp { .. } => "RouterInterfaceInUseByFloatingIP",
            E::ExternalNetworkInUse(_) => "ExternalNetworkInUse",
            E::InvalidSharedSetting { .. } => "InvalidSharedSetting",
            E::Conflict(_) => "Conflict",
            E::AutoAllocationFailure(_) => "AutoAllocationFailure",
            E::DefaultExternalNetworkExists(_) => "DefaultExternalNetworkExists",
            E::RbacPolicyInUse { .. } => "RbacPolicyInUse",
            E::DuplicateRbacPolicy => "DuplicateRbacPolicy",
            E::RbacPolicyNotFound { .. } => "RbacPolicyNotFound",
            E::InvalidActionForType { .. } => "InvalidActionForType",
            E::UnsupportedPortDeviceOwner { .. } => "UnsupportedPortDeviceOwner",
            E::FipAssociated(_) => "FipAssociated",
            E::RouterInterfaceAttachmentConflict(_) => "RouterInterfaceAttachmentConflict",
            E::MethodNotAllowed => "HTTPMethodNotAllowed",
            E::RevisionNumberConstraintFailed(..) => "RevisionNumberConstraintFailed",
            E::NoNetworkAvailable => "NoNetworkAvailable",
            E::Internal(_) | E::Db(_) => "HTTPInternalServerError",
        }
    }

    /// A 400 about one resource's request body (upstream's `BadRequest(resource=..., msg=...)`).
    pub fn bad(resource: &'static str, message: impl Into<String>) -> Self {
        NeutronError::BadRequest { resource, message: message.into() }
    }

    /// Whether the whole operation may be retried: a unique key (an address or segment
    /// someone else took first) or the engine chose us as a deadlock victim.
    pub fn is_retryable(&self) -> bool {
        match self {
            NeutronError::Db(db::DbError::Duplicate(_)) | NeutronError::ConcurrentUpdate(_) => true,
            NeutronError::Db(db::DbError::Sql(e)) => {
                let m = e.to_string().to_ascii_lowercase();
                m.contains("deadlock") || m.contains("could not serialize") || m.contains("lock wait timeout") || m.contains("database is locked")
            }
            _ => false,
        }
    }
}

impl IntoResponse for NeutronError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = ?self, "unexpected error");
            "Request Failed: internal server error while processing your request.".to_string()
        } else if let NeutronError::Db(db::DbError::Duplicate(_)) = self {
            "A resource with the same unique key already exists.".to_string()
        } else {
            self.to_string()
        };
        let kind = if matches!(self, NeutronError::Db(db::DbError::Duplicate(_))) { "Conflict" } else { self.kind() };
        ErrorBody::new(status, message).with_kind(kind).into_response_for(Envelope::Neutron)
    }
}

pub type Result<T, E = NeutronError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_statuses_as_upstream() {
        let e = NeutronError::NetworkInUse { net_id: "n1".into(), reason: "There are one or more ports still in use on the network".into() };
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert_eq!(e.kind(), "NetworkInUse");
        assert_eq!(e.to_string(), "Unable to complete operation on network n1. There are one or more ports still in use on the network.");
        assert_eq!(NeutronError::NoNetworkAvailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(NeutronError::IpAddressGenerationFailure("n".into()).status(), StatusCode::CONFLICT);
        assert_eq!(NeutronError::ExternalGatewayForFloatingIpNotFound { external_network_id: "e".into(), subnet_id: "s".into(), port_id: "p".into() }.status(), StatusCode::NOT_FOUND);
    }
}
