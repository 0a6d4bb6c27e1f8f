//! The in-process token validator: services running in the same process as Keystone (the
//! all-in-one) validate tokens by calling it directly instead of over HTTP, with the same
//! answers (and revocations honoured at once, with no cache window).

use ::auth::{AuthError, TokenValidator, ValidatedToken};

use crate::app::SharedApp;

/// Validates tokens against an in-process Keystone.
pub struct LocalValidator(pub SharedApp);

#[async_trait::async_trait]
impl TokenValidator for LocalValidator {
    async fn validate(&self, token: &str) -> Result<ValidatedToken, AuthError> {
        match self.0.token_validate(token, false).await {
            Ok(Ok(t)) => Ok(crate::api::token_context(String::new(), token.to_string(), &t).token.unwrap_or_default()),
            Ok(Err(_)) => Err(AuthError::Invalid),
            Err(e) => Err(AuthError::Unavailable(e.to_string())),
        }
    }
}
