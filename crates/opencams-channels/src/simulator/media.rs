//! The Media API (whatsapp-cloud-api.md §6): multipart upload, `GET /{media-id}` returning a
//! download URL valid for five minutes, the download itself (bearer token required), delete.

use axum::body::Bytes;
use axum::extract::Multipart;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::errors::GraphError;
use super::webhooks::sign;
use super::{Simulator, ids};

/// URLs from `GET /{media-id}` expire after this long.
pub const URL_TTL_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub id: String,
    pub phone_number_id: String,
    pub mime_type: String,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub bytes: Bytes,
    pub created_ms: i64,
}

impl Media {
    pub fn new(phone_number_id: &str, mime_type: &str, bytes: Vec<u8>, now_ms: i64) -> Self {
        Self {
            id: ids::object_id().to_string(),
            phone_number_id: phone_number_id.to_string(),
            mime_type: mime_type.to_string(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes: Bytes::from(bytes),
            created_ms: now_ms,
        }
    }
}

/// Accepted MIME types and their size caps (§1.11).
fn max_size(mime: &str) -> Option<usize> {
    const MB: usize = 1024 * 1024;
    let base = mime.split(';').next().unwrap_or("").trim();
    match base {
        "image/jpeg" | "image/png" => Some(5 * MB),
        "video/mp4" | "video/3gpp" | "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4"
        | "audio/ogg" => Some(16 * MB),
        "image/webp" => Some(500 * 1024),
        "text/plain"
        | "application/pdf"
        | "application/msword"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.ms-excel"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.ms-powerpoint"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
            Some(100 * MB)
        }
        _ => None,
    }
}

/// The largest upload the router accepts (documents).
pub const MAX_UPLOAD: usize = 100 * 1024 * 1024 + 64 * 1024;

impl Simulator {
    pub(super) async fn upload(
        &self,
        phone_number_id: &str,
        mut form: Multipart,
    ) -> Result<Value, GraphError> {
        let mut file: Option<(Option<String>, Bytes)> = None;
        let mut mime_field = None;
        let mut product = None;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| GraphError::param(format!("Malformed multipart body: {e}")))?
        {
            let name = field.name().unwrap_or("").to_string();
            let ctype = field.content_type().map(str::to_string);
            let data = field
                .bytes()
                .await
                .map_err(|e| GraphError::param(format!("Malformed multipart body: {e}")))?;
            match name.as_str() {
                "file" => file = Some((ctype, data)),
                "type" => mime_field = Some(String::from_utf8_lossy(&data).trim().to_string()),
                "messaging_product" => {
                    product = Some(String::from_utf8_lossy(&data).trim().to_string())
                }
                _ => {}
            }
        }
        if product.as_deref() != Some("whatsapp") {
            return Err(GraphError::param(
                "The parameter messaging_product is required and must be \"whatsapp\".",
            ));
        }
        let (ctype, data) = file.ok_or_else(|| GraphError::missing("file"))?;
        let mime = mime_field
            .or(ctype)
            .ok_or_else(|| GraphError::missing("type"))?;
        let cap = max_size(&mime).ok_or_else(|| GraphError::param(format!("Param file must be a file with one of the supported types; {mime} is not supported.")))?;
        if data.len() > cap {
            return Err(GraphError::param(format!(
                "The file is {} bytes; the maximum for {mime} is {cap} bytes.",
                data.len()
            )));
        }
        let media = Media::new(phone_number_id, &mime, data.to_vec(), self.clock.now_ms());
        let id = media.id.clone();
        self.lock().media.insert(id.clone(), media);
        Ok(json!({ "id": id }))
    }

    pub(super) fn media_owner(&self, media_id: &str) -> Option<String> {
        self.lock()
            .media
            .get(media_id)
            .map(|m| m.phone_number_id.clone())
    }

    pub(super) fn media_info(&self, media_id: &str, base: &str) -> Result<Value, GraphError> {
        let st = self.lock();
        let m = st
            .media
            .get(media_id)
            .ok_or_else(|| unknown_object(media_id))?;
        let exp = self.clock.now_ms() + URL_TTL_MS;
        let sig = url_sig(&self.cfg.app_secret, media_id, exp);
        Ok(json!({
            "messaging_product": "whatsapp",
            "url": format!("{base}/sim-media/{media_id}?exp={exp}&sig={sig}"),
            "mime_type": m.mime_type,
            "sha256": m.sha256,
            "file_size": m.bytes.len().to_string(),
            "id": m.id,
        }))
    }

    pub(super) fn delete_media(&self, media_id: &str) -> Result<Value, GraphError> {
        match self.lock().media.remove(media_id) {
            Some(_) => Ok(json!({ "success": true })),
            None => Err(unknown_object(media_id)),
        }
    }

    /// `GET <url>`: needs a valid, unexpired signed URL and the owner's bearer token.
    pub(super) async fn download(
        &self,
        media_id: &str,
        exp: i64,
        sig: &str,
        headers: &HeaderMap,
    ) -> Response {
        if sig != url_sig(&self.cfg.app_secret, media_id, exp) || exp < self.clock.now_ms() {
            return (
                StatusCode::NOT_FOUND,
                "URL expired or invalid; call GET /{media-id} again",
            )
                .into_response();
        }
        let Some(owner) = self.media_owner(media_id) else {
            return (StatusCode::NOT_FOUND, "media not found").into_response();
        };
        if let Err(e) = self.auth_number(headers, &owner).await {
            return e.into_response();
        }
        let st = self.lock();
        match st.media.get(media_id) {
            Some(m) => ([("content-type", m.mime_type.clone())], m.bytes.clone()).into_response(),
            None => (StatusCode::NOT_FOUND, "media not found").into_response(),
        }
    }
}

fn url_sig(secret: &str, media_id: &str, exp: i64) -> String {
    let s = sign(secret, format!("{media_id}:{exp}").as_bytes());
    s.trim_start_matches("sha256=").chars().take(32).collect()
}

pub fn unknown_object(id: &str) -> GraphError {
    GraphError::param(format!(
        "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
    ))
    .with_subcode(33)
}
