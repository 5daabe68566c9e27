//! The submit side of `print`: the input schema, validation at submit time (the document,
//! and that a named upload is the tenant's and within the source size limit) and the
//! free plan's watermark. Api processes hold this; only workers build the runner.

use async_trait::async_trait;
use serde_json::json;
use tintype_catalog::UPLOAD_NOT_FOUND;
use tintype_imaging::Limits;
use tintype_imaging::error::FILE_TOO_LARGE;
use tintype_kinds::{JobSpec, QuotaClass, Submit, SubmitError};

use super::input::{Mode, Source};
use super::{KIND, STEPS, parse};

tintype_codes::codes! {
    /// The day's print packs of the plan are made (SnapToSize's code; 402 with the
    /// upgrade link).
    FREE_BATCH_LIMIT = ("free_batch_limit", Quota);
    /// The day's single sizes of the plan are made (SnapToSize's code).
    FREE_QUICK_LIMIT = ("free_quick_limit", Quota);
}

/// A print pack (every size of the chosen groups) counts as `print_pack`.
pub const PACK: QuotaClass = QuotaClass { name: "print_pack", over: FREE_BATCH_LIMIT };
/// One size counts as `print_single`.
pub const SINGLE: QuotaClass = QuotaClass { name: "print_single", over: FREE_QUICK_LIMIT };

/// The `print` spec.
#[derive(Debug, Clone)]
pub struct PrintSpec {
    limits: Limits,
}

impl PrintSpec {
    /// A spec that refuses uploads over `limits.max_bytes` at submit time.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }
}

#[async_trait]
impl JobSpec for PrintSpec {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn steps(&self) -> &'static [&'static str] {
        STEPS
    }

    fn input_schema(&self) -> serde_json::Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "oneOf": [{ "required": ["upload_id"] }, { "required": ["url"] }],
            "properties": {
                "upload_id": { "type": "string", "description": "an upload of your tenant" },
                "url": { "type": "string", "format": "uri", "description": "an http(s) URL, fetched safely" },
                "mode": { "enum": ["pack", "single"], "default": "pack" },
                "groups": { "type": "array", "items": { "enum": ["2x3", "3x4", "4x5", "iso", "extras", "square"] } },
                "size": { "type": "string", "description": "single mode: a catalog label such as 8x10 or A4" },
                "orientation": { "enum": ["auto", "portrait", "landscape"], "default": "auto" },
                "fit": { "enum": ["stretch", "crop"], "default": "stretch" },
                "focal": { "type": "array", "items": { "type": "number", "minimum": 0, "maximum": 1 },
                           "minItems": 2, "maxItems": 2 },
                "dpi": { "type": "integer", "minimum": 72, "maximum": 600, "default": 300 },
                "max_zip_bytes": { "type": "integer", "minimum": 1_000_000, "default": 20_000_000 },
                "watermark": { "type": "boolean", "default": false }
            }
        })
    }

    async fn validate(&self, input: &mut serde_json::Value, submit: Submit<'_>) -> Result<(), SubmitError> {
        let parsed = parse(input).map_err(SubmitError::invalid)?;
        if let Source::Upload(id) = &parsed.source {
            let upload = submit
                .catalog
                .get_upload(submit.tenant, id)
                .await
                .map_err(|e| SubmitError::coded(&e))?
                .ok_or_else(|| SubmitError::new(UPLOAD_NOT_FOUND, format!("no upload {id} for this tenant")))?;
            if upload.bytes > self.limits.max_bytes {
                let message = format!("upload {id} has {} bytes; the limit is {}", upload.bytes, self.limits.max_bytes);
                return Err(SubmitError::new(FILE_TOO_LARGE, message));
            }
        }
        Ok(())
    }

    /// A plan with `watermark` (the free plan's) marks every output (SPEC §6).
    fn apply_plan(&self, input: &mut serde_json::Value, plan: &tintype_plans::Plan) {
        if plan.watermark {
            input["watermark"] = json!(true);
        }
    }

    /// A pack or a single size.
    fn quota_class(&self, input: &serde_json::Value) -> QuotaClass {
        match parse(input).map(|p| p.mode) {
            Ok(Mode::Single) => SINGLE,
            _ => PACK,
        }
    }

    fn quota_classes(&self) -> Vec<QuotaClass> {
        vec![PACK, SINGLE]
    }
}
