//! The job-input parsers every submit and every run goes through: any JSON document to a
//! typed input or an error message, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tintype_pipelines::{export, ingest, print};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = print::parse(&doc);
    let _ = ingest::spec::IngestInput::parse(&doc);
    let _ = export::spec::ExportInput::parse(&doc, 100);
});
