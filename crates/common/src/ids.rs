//! Identifier formats used across OpenStack services.

/// A new identifier in Keystone's form: a UUID4 as 32 lowercase hex digits without dashes.
pub fn new_hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A new identifier in Nova/Neutron/Glance form: a dashed UUID4.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A request id as OpenStack's oslo.middleware makes them: `req-` and a dashed UUID4.
pub fn new_request_id() -> String {
    format!("req-{}", uuid::Uuid::new_v4())
}
