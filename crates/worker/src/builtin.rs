//! Built-in diagnostic job kinds (spec and runner in one type), always registered:
//! - `noop`: does nothing and succeeds (queue benchmarks, smoke tests);
//! - `sleep`: walks through `steps` steps over `ms` milliseconds, reporting progress,
//!   honouring cancellation, and optionally writing a small text artifact or failing
//!   (`fail`: `transient` | `permanent` | `panic`). Operators use it to check a
//!   deployment end to end; the process-level tests use it as a slow job.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tintype_queue::JobOutput;

use tintype_kinds::{JobSpec, Kinds, Submit, SubmitError};

use crate::context::JobContext;
use crate::error::JobError;
use crate::runners::{JobRunner, Runners};

/// Adds the specs of `noop` and `sleep`.
pub fn specs(kinds: &mut Kinds) {
    kinds.add(Arc::new(Noop)).add(Arc::new(Sleep));
}

/// Adds the runners of `noop` and `sleep`.
pub fn runners(runners: &mut Runners) {
    runners.add(Arc::new(Noop)).add(Arc::new(Sleep));
}

/// The `noop` kind.
#[derive(Debug, Clone, Copy)]
pub struct Noop;

#[async_trait]
impl JobSpec for Noop {
    fn kind(&self) -> &'static str {
        "noop"
    }
    fn steps(&self) -> &'static [&'static str] {
        &[]
    }
    async fn validate(&self, _input: &mut serde_json::Value, _submit: Submit<'_>) -> Result<(), SubmitError> {
        Ok(())
    }
}

#[async_trait]
impl JobRunner for Noop {
    fn kind(&self) -> &'static str {
        "noop"
    }
    async fn run(&self, _ctx: JobContext) -> Result<JobOutput, JobError> {
        Ok(JobOutput::default())
    }
}

/// The `sleep` kind.
#[derive(Debug, Clone, Copy)]
pub struct Sleep;

/// Longest `sleep` job accepted.
pub const MAX_SLEEP_MS: u64 = 600_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SleepInput {
    #[serde(default)]
    ms: u64,
    #[serde(default = "default_steps")]
    steps: u32,
    #[serde(default)]
    artifact: bool,
    #[serde(default)]
    fail: Option<String>,
}

fn default_steps() -> u32 {
    4
}

impl SleepInput {
    fn parse(input: &serde_json::Value) -> Result<Self, String> {
        let parsed: SleepInput = serde_json::from_value(input.clone()).map_err(|e| e.to_string())?;
        if parsed.ms > MAX_SLEEP_MS {
            return Err(format!("ms must be at most {MAX_SLEEP_MS}"));
        }
        if !(1..=1000).contains(&parsed.steps) {
            return Err("steps must be between 1 and 1000".into());
        }
        if parsed.fail.as_deref().is_some_and(|f| !["transient", "permanent", "panic"].contains(&f)) {
            return Err("fail must be transient, permanent or panic".into());
        }
        Ok(parsed)
    }
}

#[async_trait]
impl JobSpec for Sleep {
    fn kind(&self) -> &'static str {
        "sleep"
    }
    fn steps(&self) -> &'static [&'static str] {
        &["sleeping", "storing"]
    }
    fn input_schema(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "ms": { "type": "integer", "minimum": 0, "maximum": MAX_SLEEP_MS },
                "steps": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 4 },
                "artifact": { "type": "boolean", "default": false },
                "fail": { "enum": ["transient", "permanent", "panic"] }
            }
        })
    }
    async fn validate(&self, input: &mut serde_json::Value, _submit: Submit<'_>) -> Result<(), SubmitError> {
        SleepInput::parse(input).map(|_| ()).map_err(SubmitError::invalid)
    }
}

#[async_trait]
impl JobRunner for Sleep {
    fn kind(&self) -> &'static str {
        "sleep"
    }
    async fn run(&self, ctx: JobContext) -> Result<JobOutput, JobError> {
        let input = SleepInput::parse(&ctx.job().input)
            .map_err(|e| JobError::permanent(tintype_codes::common::INVALID_INPUT, e))?;
        ctx.step("sleeping").await?;
        let slice = Duration::from_millis(input.ms / u64::from(input.steps));
        for i in 0..input.steps {
            tokio::select! {
                _ = tokio::time::sleep(slice) => {}
                _ = ctx.cancellation().cancelled() => return Err(JobError::cancelled()),
            }
            let done = f64::from(i + 1) / f64::from(input.steps);
            ctx.progress(done, Some(format!("slept {} of {} steps", i + 1, input.steps))).await?;
        }
        match input.fail.as_deref() {
            Some("transient") => {
                return Err(JobError::transient(crate::error::SLEEP_FAILED, "asked to fail (transient)"));
            }
            Some("permanent") => {
                return Err(JobError::permanent(crate::error::SLEEP_FAILED, "asked to fail (permanent)"));
            }
            Some(_) => panic!("asked to panic"),
            None => {}
        }
        let mut output = JobOutput { result: serde_json::json!({ "slept_ms": input.ms }), ..JobOutput::default() };
        if input.artifact {
            ctx.step("storing").await?;
            let text = format!("{} slept {} ms on attempt {}\n", ctx.job().id, input.ms, ctx.job().attempt);
            output
                .artifacts
                .push(ctx.put_artifact("sleep.txt", "text/plain", tintype_blobs::bytes_stream(text)).await?);
        }
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: serde_json::Value, ok: bool) {
        assert_eq!(SleepInput::parse(&input).is_ok(), ok, "{input}");
    }

    #[test]
    fn sleep_input_is_validated() {
        check(serde_json::json!({}), true);
        check(serde_json::json!({"ms": 100, "steps": 2, "artifact": true}), true);
        check(serde_json::json!({"ms": MAX_SLEEP_MS + 1}), false);
        check(serde_json::json!({"steps": 0}), false);
        check(serde_json::json!({"fail": "maybe"}), false);
        check(serde_json::json!({"unknown": 1}), false);
        check(serde_json::json!("text"), false);
    }
}
