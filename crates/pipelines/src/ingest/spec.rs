//! The submit side of `ingest`: the input (one upload of the tenant's, within the photo
//! size limit), checked at submit time so a bad id makes no job. Api processes hold this;
//! only workers build the runner. Jobs of this kind are usually made by the upload routes
//! (`POST /v1/uploads/{id}/confirm`, `POST /v1/uploads?ingest=true`), keyed by the upload
//! id so that confirming twice is one job.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use tintype_catalog::UPLOAD_NOT_FOUND;
use tintype_imaging::error::FILE_TOO_LARGE;
use tintype_kinds::{JobSpec, Submit, SubmitError};

use super::{KIND, STEPS};

/// The input document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestInput {
    /// The upload to add to the library.
    pub upload_id: String,
}

impl IngestInput {
    /// Parses and checks the document.
    pub fn parse(doc: &serde_json::Value) -> Result<IngestInput, String> {
        let input: IngestInput = serde_json::from_value(doc.clone()).map_err(|e| format!("ingest input: {e}"))?;
        if input.upload_id.is_empty() || input.upload_id.len() > 64 {
            return Err("upload_id must be 1 to 64 characters".into());
        }
        Ok(input)
    }
}

/// The `ingest` spec.
#[derive(Debug, Clone)]
pub struct IngestSpec {
    max_bytes: u64,
}

impl IngestSpec {
    /// A spec refusing uploads over `max_bytes` at submit time.
    pub fn new(max_bytes: u64) -> Self {
        Self { max_bytes }
    }
}

#[async_trait]
impl JobSpec for IngestSpec {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn steps(&self) -> &'static [&'static str] {
        STEPS
    }

    fn default_queue(&self) -> &'static str {
        "high"
    }

    fn input_schema(&self) -> serde_json::Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["upload_id"],
            "properties": { "upload_id": { "type": "string", "description": "an upload of your tenant" } }
        })
    }

    async fn validate(&self, input: &mut serde_json::Value, submit: Submit<'_>) -> Result<(), SubmitError> {
        let parsed = IngestInput::parse(input).map_err(SubmitError::invalid)?;
        let id = &parsed.upload_id;
        let upload = submit
            .catalog
            .get_upload(submit.tenant, id)
            .await
            .map_err(|e| SubmitError::coded(&e))?
            .ok_or_else(|| SubmitError::new(UPLOAD_NOT_FOUND, format!("no upload {id} for this tenant")))?;
        if upload.bytes > self.max_bytes {
            let message = format!("upload {id} has {} bytes; photos are limited to {}", upload.bytes, self.max_bytes);
            return Err(SubmitError::new(FILE_TOO_LARGE, message));
        }
        Ok(())
    }
}
