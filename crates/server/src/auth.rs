//! Who is calling: the [`Tenant`] extractor turns `Authorization: Bearer <key>` into a
//! tenant by looking up the key's SHA-256 (through [`crate::keys`]' short-lived cache). With no key configured at all and the server
//! allowed to run open (loopback only), requests act for the `local` tenant.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::error::{INVALID_API_KEY, MISSING_API_KEY};

/// Tenant of open (keyless, loopback) mode.
pub const OPEN_TENANT: &str = "local";

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Tenant id: every read and write is scoped to it.
    pub id: String,
    /// Plan name.
    pub plan: String,
    /// The API key's id (`None` in open mode): what rate limits count by.
    pub key_id: Option<String>,
}

/// Hex SHA-256 of an API key, as stored.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A fresh API key: `tt_` and 32 random bytes in hex.
pub fn generate_key() -> String {
    format!("tt_{}", hex::encode(rand::random::<[u8; 32]>()))
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // A layer before the handler (rate limits) may have looked the key up already.
        if let Some(tenant) = parts.extensions.get::<Tenant>() {
            return Ok(tenant.clone());
        }
        let unauthorized = |code, detail: &str| ApiError::new(code, detail);
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            if state.config.allow_open && !state.keys.any_key(&*state.catalog).await? {
                return Ok(Tenant { id: OPEN_TENANT.into(), plan: tintype_plans::LOCAL.into(), key_id: None });
            }
            return Err(unauthorized(MISSING_API_KEY, "send Authorization: Bearer <api key>"));
        };
        let key = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| unauthorized(INVALID_API_KEY, "malformed Authorization header"))?;
        match state.keys.find(&*state.catalog, &hash_key(key)).await? {
            Some(k) => Ok(Tenant { id: k.tenant, plan: k.plan, key_id: Some(k.id) }),
            None => Err(unauthorized(INVALID_API_KEY, "unknown or revoked API key")),
        }
    }
}
