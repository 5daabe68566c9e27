//! The header probes: any bytes, any format's magic, to a format and size or a coded
//! refusal, never a panic, and never more than the header read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tintype_imaging::{Limits, probe};

fuzz_target!(|data: &[u8]| {
    let _ = probe(data, &Limits::default());
});
