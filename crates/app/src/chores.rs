//! The sweeper's chores that belong to other components (see [`tintype_worker::Chore`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tintype_blobs::{BlobError, BlobKey, BlobStore};
use tintype_catalog::Catalog;
use tintype_worker::Chore;

/// How long after its URL expired a presigned upload may still be confirmed: a client
/// that PUT in time and confirms late (a phone woken up) still gets its photo.
pub const PRESIGN_GRACE: Duration = Duration::from_secs(3600);

/// Rows removed per query.
const BATCH: u32 = 500;

/// Removes presigned uploads never confirmed, [`PRESIGN_GRACE`] after their URL expired,
/// with the bytes a client PUT for them unless a filed upload holds the same content
/// (the key is the content's hash, shared by every upload of it).
pub struct ExpiredPresigns {
    catalog: Arc<dyn Catalog>,
    blobs: Arc<dyn BlobStore>,
}

impl ExpiredPresigns {
    /// The chore over the catalog and the blob store.
    pub fn new(catalog: Arc<dyn Catalog>, blobs: Arc<dyn BlobStore>) -> Self {
        Self { catalog, blobs }
    }
}

#[async_trait]
impl Chore for ExpiredPresigns {
    fn name(&self) -> &'static str {
        "expired presigned uploads"
    }

    async fn run(&self) -> Result<u64, String> {
        let grace = chrono::Duration::from_std(PRESIGN_GRACE).map_err(|e| e.to_string())?;
        let before = chrono::Utc::now() - grace;
        let mut removed = 0;
        loop {
            let purged = self.catalog.purge_pending_uploads(before, BATCH).await.map_err(|e| e.to_string())?;
            for pending in &purged {
                removed += 1;
                let filed = self
                    .catalog
                    .find_upload_by_sha256(&pending.tenant, &pending.sha256)
                    .await
                    .map_err(|e| e.to_string())?;
                if filed.is_some_and(|u| u.blob_key == pending.blob_key) {
                    continue;
                }
                let key = BlobKey::new(pending.blob_key.clone()).map_err(|e| e.to_string())?;
                match self.blobs.delete(&key).await {
                    Ok(()) | Err(BlobError::NotFound) => {}
                    Err(e) => return Err(format!("{}: {e}", pending.blob_key)),
                }
            }
            if purged.len() < BATCH as usize {
                return Ok(removed);
            }
        }
    }
}
