//! A short-lived in-process cache of API key lookups, so that a request does not read
//! the database for its key every time (`GET /v1/jobs/{id}` at tens of thousands a
//! second). A live key is kept for [`TTL`]; a revoked key stops working in every
//! process within that time. Unknown keys are never cached (a key made a moment ago
//! works at once), and once any key exists the server stays closed, so that answer is
//! kept for good.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tintype_catalog::{ApiKey, Catalog};
use tintype_db::DbError;

/// How long a looked-up key is trusted without asking the database again.
pub const TTL: Duration = Duration::from_secs(10);

/// Most keys held; past it the cache starts over (a bound, not an eviction policy).
const CAPACITY: usize = 10_000;

/// The cache.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, (ApiKey, Instant)>>,
    any_key: AtomicBool,
}

impl KeyCache {
    /// The live key with this hash, from the cache while fresh, else from the catalog.
    pub async fn find(&self, catalog: &dyn Catalog, key_hash: &str) -> Result<Option<ApiKey>, DbError> {
        if let Some((key, at)) = self.keys.lock().expect("key cache lock").get(key_hash)
            && at.elapsed() < TTL
        {
            return Ok(Some(key.clone()));
        }
        let found = catalog.find_api_key(key_hash).await?;
        let mut keys = self.keys.lock().expect("key cache lock");
        match &found {
            Some(key) => {
                if keys.len() >= CAPACITY {
                    keys.clear();
                }
                keys.insert(key_hash.to_owned(), (key.clone(), Instant::now()));
            }
            None => {
                keys.remove(key_hash);
            }
        }
        Ok(found)
    }

    /// Whether any key was ever made (kept once true: keys are never deleted).
    pub async fn any_key(&self, catalog: &dyn Catalog) -> Result<bool, DbError> {
        if self.any_key.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let any = catalog.has_api_keys().await?;
        if any {
            self.any_key.store(true, Ordering::Relaxed);
        }
        Ok(any)
    }
}
