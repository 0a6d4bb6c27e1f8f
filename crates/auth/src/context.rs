//! The request context: what a validated token says about the caller, in the form policy
//! checks read it (oslo.context's `RequestContext.to_policy_values()`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a token validation tells about the caller.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ValidatedToken {
    pub user_id: String,
    pub user_name: String,
    pub user_domain_id: String,
    pub user_domain_name: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub project_domain_id: Option<String>,
    pub project_domain_name: Option<String>,
    pub domain_id: Option<String>,
    pub domain_name: Option<String>,
    /// `Some("all")` for a system-scoped token.
    pub system_scope: Option<String>,
    pub roles: Vec<String>,
    pub role_ids: Vec<String>,
    pub is_admin_project: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub audit_ids: Vec<String>,
    pub methods: Vec<String>,
    pub app_cred_id: Option<String>,
    pub trust_id: Option<String>,
}

/// The caller of one request.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: String,
    /// The raw token the caller sent (to pass on to other services).
    pub auth_token: Option<String>,
    pub token: Option<ValidatedToken>,
    /// A valid `X-Service-Token`, when another service acts for the user.
    pub service_token: Option<ValidatedToken>,
}

impl RequestContext {
    pub fn user_id(&self) -> Option<&str> {
        self.token.as_ref().map(|t| t.user_id.as_str())
    }

    pub fn project_id(&self) -> Option<&str> {
        self.token.as_ref().and_then(|t| t.project_id.as_deref())
    }

    pub fn is_system_scoped(&self) -> bool {
        self.token.as_ref().is_some_and(|t| t.system_scope.is_some())
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.token.as_ref().is_some_and(|t| t.roles.iter().any(|r| r.eq_ignore_ascii_case(role)))
    }

    /// The credentials dictionary policy rules are checked against.
    pub fn policy_creds(&self) -> serde_json::Value {
        let Some(t) = &self.token else {
            return serde_json::json!({"roles": []});
        };
        serde_json::json!({
            "user_id": t.user_id,
            "user_domain_id": t.user_domain_id,
            "project_id": t.project_id,
            "project_domain_id": t.project_domain_id,
            "domain_id": t.domain_id,
            "system_scope": t.system_scope,
            "roles": t.roles,
            "is_admin_project": t.is_admin_project,
            "service_roles": self.service_token.as_ref().map(|s| s.roles.clone()).unwrap_or_default(),
            "trust_id": t.trust_id,
        })
    }
}
