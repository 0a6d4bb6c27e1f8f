//! The Image service as Nova uses it (nova/image/glance.py): find an image, create the record
//! of a snapshot, upload its bytes, delete it. Every call carries the caller's token (the
//! image belongs to them); the endpoint comes from the service user's catalog.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::service_auth::ServiceAuth;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ImageError {
    #[error("Image {0} could not be found.")]
    NotFound(String),
    #[error("the image service refused: HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("the image service is unreachable: {0}")]
    Unreachable(String),
}

pub struct GlanceClient {
    auth: Arc<ServiceAuth>,
    http: reqwest::Client,
}

impl GlanceClient {
    pub fn new(auth: Arc<ServiceAuth>) -> Self {
        Self { auth, http: reqwest::Client::new() }
    }

    async fn url(&self, path: &str) -> Result<String, ImageError> {
        let (_, endpoint) = self.auth.token_and_endpoint("image").await.map_err(ImageError::Unreachable)?;
        Ok(format!("{}{path}", endpoint.trim_end_matches('/')))
    }

    async fn answer(resp: reqwest::Response, id: &str) -> Result<Value, ImageError> {
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| ImageError::Unreachable(e.to_string()))?;
        match status {
            200..=299 => Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
            404 => Err(ImageError::NotFound(id.to_string())),
            _ => Err(ImageError::Refused { status, message: text.chars().take(300).collect() }),
        }
    }

    /// GET /v2/images/{id}; an image the token may not see is not found.
    pub async fn get(&self, token: &str, id: &str) -> Result<Value, ImageError> {
        let resp = self.http.get(self.url(&format!("/v2/images/{id}")).await?).header("x-auth-token", token).send().await.map_err(|e| ImageError::Unreachable(e.to_string()))?;
        match Self::answer(resp, id).await {
            Err(ImageError::Refused { status: 403, .. }) => Err(ImageError::NotFound(id.to_string())),
            other => other,
        }
    }

    /// POST /v2/images: a queued image record.
    pub async fn create(&self, token: &str, body: &Value) -> Result<Value, ImageError> {
        let resp = self.http.post(self.url("/v2/images").await?).header("x-auth-token", token).json(body).send().await.map_err(|e| ImageError::Unreachable(e.to_string()))?;
        Self::answer(resp, "").await
    }

    /// GET /v2/images with Glance's own filters; follows nothing (one page).
    pub async fn list(&self, token: &str, query: &[(String, String)]) -> Result<Value, ImageError> {
        let resp = self.http.get(self.url("/v2/images").await?).query(query).header("x-auth-token", token).send().await.map_err(|e| ImageError::Unreachable(e.to_string()))?;
        Self::answer(resp, "").await
    }

    /// Replaces core attributes of a queued image (JSON patch).
    pub async fn set(&self, token: &str, id: &str, changes: &[(&str, &str)]) -> Result<Value, ImageError> {
        let ops: Vec<Value> = changes.iter().map(|(k, v)| json!({"op": "replace", "path": format!("/{k}"), "value": v})).collect();
        self.patch(token, id, ops).await
    }

    /// PATCH /v2/images/{id} with JSON-patch `ops`.
    pub async fn patch(&self, token: &str, id: &str, ops: Vec<Value>) -> Result<Value, ImageError> {
        let resp = self
            .http
            .patch(self.url(&format!("/v2/images/{id}")).await?)
            .header("x-auth-token", token)
            .header("content-type", "application/openstack-images-v2.1-json-patch")
            .body(Value::Array(ops).to_string())
            .send()
            .await
            .map_err(|e| ImageError::Unreachable(e.to_string()))?;
        Self::answer(resp, id).await
    }

    /// PUT /v2/images/{id}/file: the image goes active with these bytes.
    pub async fn upload(&self, token: &str, id: &str, data: Vec<u8>) -> Result<(), ImageError> {
        let resp = self
            .http
            .put(self.url(&format!("/v2/images/{id}/file")).await?)
            .header("x-auth-token", token)
            .header("content-type", "application/octet-stream")
            .body(data)
            .send()
            .await
            .map_err(|e| ImageError::Unreachable(e.to_string()))?;
        Self::answer(resp, id).await.map(|_| ())
    }

    /// DELETE /v2/images/{id}; one already gone is fine.
    pub async fn delete(&self, token: &str, id: &str) -> Result<(), ImageError> {
        let resp = self.http.delete(self.url(&format!("/v2/images/{id}")).await?).header("x-auth-token", token).send().await.map_err(|e| ImageError::Unreachable(e.to_string()))?;
        match Self::answer(resp, id).await {
            Ok(_) | Err(ImageError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
