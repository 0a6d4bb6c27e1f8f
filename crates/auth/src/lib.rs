//! Authentication and authorization shared by every service: the request context (who is
//! calling, in which scope, with which roles), the auth_token middleware that validates a
//! Keystone token once and caches the result (keystonemiddleware's job), and the oslo.policy
//! rule engine that services enforce their RBAC defaults with, and the service user one service
//! calls another as.

pub mod context;
pub mod middleware;
pub mod policy;
pub mod service_auth;

pub use context::{RequestContext, ValidatedToken};
pub use middleware::{auth_token_layer, AuthError, AuthTokenConfig, KeystoneValidator, TokenValidator};
