//! Users, passwords and groups (keystone/identity/core.py): password rules from
//! `[security_compliance]` (regex, history, minimum age, expiry), self-service password change,
//! and the token revocations that follow disabling, deleting or changing a user.

use chrono::{Duration, Utc};
use serde_json::Value;

use super::auth::{check_password, hash_password};
use super::App;
use crate::db::identity::{self as idb, Group, Password, User};
use crate::db::tokens::RevocationEvent;
use crate::error::{KeystoneError, Result};
use common::time::to_micros;

impl App {
    pub async fn user_get_checked(&self, id: &str) -> Result<User> {
        idb::user_get(&self.db, id).await?.ok_or_else(|| KeystoneError::not_found("user", id))
    }

    pub async fn group_get_checked(&self, id: &str) -> Result<Group> {
        idb::group_get(&self.db, id).await?.ok_or_else(|| KeystoneError::not_found("group", id))
    }

    fn check_password_rules(&self, password: &str) -> Result<()> {
        if password.len() > self.cfg.max_password_length {
            return Err(KeystoneError::invalid_field("password", "is too long"));
        }
        if let Some(re) = &self.cfg.security_compliance.password_regex {
            let ok = regex::Regex::new(re).map(|r| r.is_match(password)).unwrap_or(true);
            if !ok {
                let why = self.cfg.security_compliance.password_regex_description.clone().unwrap_or_else(|| format!("it must match {re}"));
                return Err(KeystoneError::Validation(format!("Password validation error: The password does not meet the requirements: {why}.")));
            }
        }
        Ok(())
    }

    /// A new password entry, hashed, with the configured expiry.
    async fn new_password(&self, user: &User, password: &str, self_service: bool) -> Result<Password> {
        self.check_password_rules(password)?;
        let now = common::time::now();
        let ignore_expiry = user.options.get("ignore_password_expiry").and_then(Value::as_bool).unwrap_or(false);
        let expires_at = match self.cfg.security_compliance.password_expires_days {
            Some(days) if !ignore_expiry => Some(to_micros(now + Duration::days(days))),
            _ => None,
        };
        Ok(Password {
            id: common::ids::new_hex_id(),
            user_id: user.id.clone(),
            password_hash: hash_password(password.to_string(), self.cfg.password_hash_rounds).await?,
            created_at: to_micros(now),
            expires_at,
            self_service,
        })
    }

    /// Refuses a password used among the last `unique_last_password_count` ones.
    async fn check_history(&self, user: &User, password: &str) -> Result<()> {
        let count = self.cfg.security_compliance.unique_last_password_count as usize;
        let ignore = user.options.get("ignore_password_history").and_then(Value::as_bool).unwrap_or(false);
        if count == 0 || ignore {
            return Ok(());
        }
        // The current password counts among the last `count` (upstream's rule).
        for old in idb::password_history(&self.db, &user.id, count).await? {
            if check_password(password.to_string(), old.password_hash).await {
                return Err(KeystoneError::Validation(format!(
                    "Password validation error: The new password cannot be identical to a previous password. The total number which includes the new password must be unique is {count}."
                )));
            }
        }
        Ok(())
    }

    fn history_to_keep(&self) -> usize {
        self.cfg.security_compliance.unique_last_password_count as usize + 1
    }

    pub async fn user_create(&self, user: User, password: Option<&str>) -> Result<User> {
        self.domain_get_checked(&user.domain_id).await?;
        if idb::user_get_by_name(&self.db, &user.name, &user.domain_id).await?.is_some() {
            return Err(KeystoneError::duplicate("user", format!("Duplicate entry found with name {} at domain ID {}.", user.name, user.domain_id)));
        }
        let pw = match password {
            Some(p) => Some(self.new_password(&user, p, false).await?),
            None => None,
        };
        idb::user_create(&self.db, &user, pw.as_ref()).await?;
        self.bump();
        Ok(user)
    }

    /// Admin update; a new password here is an administrative reset (not self-service).
    pub async fn user_update(&self, old: &User, new: User, password: Option<&str>) -> Result<User> {
        if new.name != old.name {
            if let Some(other) = idb::user_get_by_name(&self.db, &new.name, &new.domain_id).await? {
                if other.id != new.id {
                    return Err(KeystoneError::duplicate("user", format!("Duplicate entry found with name {} at domain ID {}.", new.name, new.domain_id)));
                }
            }
        }
        let pw = match password {
            // An administrative reset is not held to the password history (upstream's rule).
            Some(p) => Some(self.new_password(&new, p, false).await?),
            None => None,
        };
        idb::user_update(&self.db, &new, pw.as_ref(), self.history_to_keep()).await?;
        if (old.enabled && !new.enabled) || pw.is_some() {
            self.revoke(RevocationEvent { user_id: Some(new.id.clone()), ..Default::default() }).await?;
        }
        self.bump();
        Ok(new)
    }

    /// POST /v3/users/{id}/password: the user changes their own password.
    pub async fn user_change_password(&self, user_id: &str, original: &str, password: &str) -> Result<()> {
        let user = idb::user_get(&self.db, user_id).await?.ok_or_else(KeystoneError::unauthenticated)?;
        let current = idb::password_history(&self.db, user_id, 1).await?;
        let ok = match current.first() {
            Some(p) => check_password(original.to_string(), p.password_hash.clone()).await,
            None => false,
        };
        if !ok {
            return Err(KeystoneError::unauthenticated());
        }
        let min_age = self.cfg.security_compliance.minimum_password_age;
        if min_age > 0 {
            if let Some(p) = current.first() {
                let allowed_at = p.created_at + min_age * 86_400 * 1_000_000;
                if to_micros(Utc::now()) < allowed_at && p.self_service {
                    return Err(KeystoneError::Validation(format!(
                        "You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for {min_age} day(s) before it can be changed. Please try again later."
                    )));
                }
            }
        }
        self.check_history(&user, password).await?;
        let pw = self.new_password(&user, password, true).await?;
        idb::user_update(&self.db, &user, Some(&pw), self.history_to_keep()).await?;
        self.revoke(RevocationEvent { user_id: Some(user.id.clone()), ..Default::default() }).await?;
        Ok(())
    }

    pub async fn user_delete(&self, user: &User) -> Result<()> {
        idb::user_delete(&self.db, &user.id).await?;
        self.revoke(RevocationEvent { user_id: Some(user.id.clone()), ..Default::default() }).await?;
        Ok(())
    }

    pub async fn group_create(&self, g: Group) -> Result<Group> {
        self.domain_get_checked(&g.domain_id).await?;
        if idb::group_get_by_name(&self.db, &g.name, &g.domain_id).await?.is_some() {
            return Err(KeystoneError::duplicate("group", format!("Duplicate entry found with name {} at domain ID {}.", g.name, g.domain_id)));
        }
        idb::group_create(&self.db, &g).await?;
        self.bump();
        Ok(g)
    }

    pub async fn group_update(&self, g: Group) -> Result<Group> {
        if let Some(other) = idb::group_get_by_name(&self.db, &g.name, &g.domain_id).await? {
            if other.id != g.id {
                return Err(KeystoneError::duplicate("group", format!("Duplicate entry found with name {} at domain ID {}.", g.name, g.domain_id)));
            }
        }
        idb::group_update(&self.db, &g).await?;
        self.bump();
        Ok(g)
    }

    pub async fn group_delete(&self, g: &Group) -> Result<()> {
        let members = idb::user_list_in_group(&self.db, &g.id).await?;
        idb::group_delete(&self.db, &g.id).await?;
        for u in members {
            self.revoke(RevocationEvent { user_id: Some(u.id), ..Default::default() }).await?;
        }
        Ok(())
    }

    pub async fn group_remove_user(&self, g: &Group, user: &User) -> Result<()> {
        if idb::group_remove_user(&self.db, &g.id, &user.id).await? == 0 {
            return Err(KeystoneError::NotFoundMessage(format!("{} is not a member of group {}.", user.id, g.id)));
        }
        self.revoke(RevocationEvent { user_id: Some(user.id.clone()), ..Default::default() }).await?;
        Ok(())
    }
}
