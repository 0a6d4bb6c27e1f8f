//! Tags on networks, subnets, ports, routers, floating IPs and security groups (the
//! standard-attr-tag extension): replace all, add one, remove one or all; changing tags is
//! an update of the resource (its policy, a new revision).

use auth::RequestContext;
use serde_json::{json, Value};

use super::{bump_revision, not_found, App};
use crate::db::records::{record_get_tx, record_update};
use crate::db::Kind;
use crate::error::{NeutronError, Result};

fn check_tag(t: &str) -> Result<()> {
    if t.is_empty() || t.chars().count() > 255 || t.contains(',') {
        return Err(NeutronError::InvalidInput(format!("Invalid input for tags. Reason: '{t}' is not a valid tag.")));
    }
    Ok(())
}

impl App {
    pub async fn tags_get(&self, ctx: &RequestContext, kind: Kind, id: &str) -> Result<Vec<String>> {
        let (record, _) = self.visible(ctx, kind, id).await?;
        Ok(record["tags"].as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default())
    }

    /// Applies `change` to the tag list (None from `change` = tag not found).
    async fn tags_change(&self, ctx: &RequestContext, kind: Kind, id: &str, change: impl Fn(Vec<String>) -> Option<Vec<String>>) -> Result<Vec<String>> {
        let (_, target) = self.visible(ctx, kind, id).await?;
        self.enforce(ctx, &format!("update_{}", kind.singular()), &target)?;
        retrying!(self, tx, {
            let mut r = record_get_tx(&mut tx, kind, id).await?.ok_or_else(|| not_found(kind, id))?;
            let current: Vec<String> = r["tags"].as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default();
            let next = change(current).ok_or_else(|| NeutronError::NotFound(format!("Tag could not be found for {} {id}.", kind.singular())))?;
            r["tags"] = json!(next);
            bump_revision(&mut r);
            record_update(&mut tx, kind, &r).await?;
            Ok(next)
        })
    }

    pub async fn tags_replace(&self, ctx: &RequestContext, kind: Kind, id: &str, tags: Vec<String>) -> Result<Vec<String>> {
        for t in &tags {
            check_tag(t)?;
        }
        let mut unique: Vec<String> = Vec::new();
        for t in tags {
            if !unique.contains(&t) {
                unique.push(t);
            }
        }
        self.tags_change(ctx, kind, id, move |_| Some(unique.clone())).await
    }

    pub async fn tag_add(&self, ctx: &RequestContext, kind: Kind, id: &str, tag: &str) -> Result<()> {
        check_tag(tag)?;
        let tag = tag.to_string();
        self.tags_change(ctx, kind, id, move |mut t| {
            if !t.contains(&tag) {
                t.push(tag.clone());
            }
            Some(t)
        })
        .await
        .map(|_| ())
    }

    pub async fn tag_remove(&self, ctx: &RequestContext, kind: Kind, id: &str, tag: Option<&str>) -> Result<()> {
        let tag = tag.map(str::to_string);
        self.tags_change(ctx, kind, id, move |t| match &tag {
            None => Some(Vec::new()),
            Some(x) if t.contains(x) => Some(t.into_iter().filter(|y| y != x).collect()),
            Some(_) => None,
        })
        .await
        .map(|_| ())
    }
}
