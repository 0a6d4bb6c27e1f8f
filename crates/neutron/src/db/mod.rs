//! Neutron's named queries. Resources are stored as rows of key columns plus a JSON `body`
//! (see `schema`); `records` reads and writes them for every kind, `ipam` holds the address
//! allocations, `segments` the provider segment allocations, `quotas` the per-project limits.

pub mod auto_allocate;
pub mod ipam;
pub mod quotas;
pub mod records;
pub mod schema;
pub mod security_groups;
pub mod segments;

/// The resources Neutron stores as records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Network,
    Subnet,
    Port,
    Router,
    FloatingIp,
    SecurityGroup,
    SecurityGroupRule,
    SubnetPool,
    RbacPolicy,
}

impl Kind {
    pub fn table(self) -> &'static str {
        match self {
            Kind::Network => "networks",
            Kind::Subnet => "subnets",
            Kind::Port => "ports",
            Kind::Router => "routers",
            Kind::FloatingIp => "floatingips",
            Kind::SecurityGroup => "securitygroups",
            Kind::SecurityGroupRule => "securitygrouprules",
            Kind::SubnetPool => "subnetpools",
            Kind::RbacPolicy => "rbac_policies",
        }
    }

    /// The resource's name in request/response bodies (`network`, `floatingip`).
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Network => "network",
            Kind::Subnet => "subnet",
            Kind::Port => "port",
            Kind::Router => "router",
            Kind::FloatingIp => "floatingip",
            Kind::SecurityGroup => "security_group",
            Kind::SecurityGroupRule => "security_group_rule",
            Kind::SubnetPool => "subnetpool",
            Kind::RbacPolicy => "rbac_policy",
        }
    }

    /// The collection's name (`networks`, `floatingips`) in paths and list bodies.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Network => "networks",
            Kind::Subnet => "subnets",
            Kind::Port => "ports",
            Kind::Router => "routers",
            Kind::FloatingIp => "floatingips",
            Kind::SecurityGroup => "security_groups",
            Kind::SecurityGroupRule => "security_group_rules",
            Kind::SubnetPool => "subnetpools",
            Kind::RbacPolicy => "rbac_policies",
        }
    }

    /// The key columns copied out of the body on every write (besides id and project_id).
    pub fn key_columns(self) -> &'static [&'static str] {
        match self {
            Kind::Subnet => &["network_id", "subnetpool_id"],
            Kind::Port => &["network_id", "device_id", "device_owner", "mac_address"],
            Kind::FloatingIp => &["floating_network_id", "port_id", "router_id"],
            Kind::SecurityGroupRule => &["security_group_id", "remote_group_id"],
            Kind::RbacPolicy => &["object_id"],
            Kind::Network | Kind::Router | Kind::SecurityGroup | Kind::SubnetPool => &[],
        }
    }
}

pub fn now_micros() -> i64 {
    common::time::to_micros(common::time::now())
}
