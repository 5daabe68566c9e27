//! The JPEG marker walker and libjpeg behind it: the input after a start-of-image marker
//! is walked (header, scans, end), the frame size cross-checked with libjpeg's, and
//! decoded within small limits (so each run is quick and a bomb shows as a slow unit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tintype_imaging::Limits;
use tintype_imaging::decode::decode;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_side: 4096,
        max_pixels: 1 << 22,
        max_decode_bytes: 96 << 20,
        max_scans: 100,
    };
    let bytes = [&[0xFF, 0xD8][..], data].concat();
    let _ = decode(&bytes, &limits);
});
