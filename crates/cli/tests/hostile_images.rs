//! Hostile images through the public surface, each built here from a few bytes to a few
//! MB: `tintype run print` in a child process whose peak RSS (the kernel's, read by a
//! Python parent with `getrusage(RUSAGE_CHILDREN)`) and wall time are bounded by limits
//! the code enforces, and a cancel of `tintype serve`'s job in the middle of a long
//! libjpeg call. The classes (issue "Hold under abuse", 1 and 2): decodes whose memory
//! the header does not show (16-bit samples, a PNG iCCP chunk that inflates to 1 GB, a
//! 16 MB ICC profile, a large image turned a quarter), and progressive JPEGs of thousands
//! of empty scans (each a pass over the whole image: minutes of decoding from a 2 MB file).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_tintype");

/// The ceiling the issue sets for a print job: no input, accepted or refused, above it.
const PRINT_CEILING_MB: f64 = 400.0;

/// A file refused from its header costs the process and nothing more (about 35 MB).
const REFUSED_CEILING_MB: f64 = 100.0;

/// What a measured run of `tintype run print` gave.
#[derive(Debug)]
struct Ran {
    success: bool,
    stderr: String,
    peak_mb: f64,
    secs: f64,
    out: tempfile::TempDir,
}

/// Runs `tintype run print FILE --out DIR ARGS` under a Python parent that reports the
/// child's peak RSS and wall time; `env` adds configuration.
fn run_print(file: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    const MEASURE: &str = "import resource, subprocess, sys, time\n\
        t = time.monotonic()\n\
        p = subprocess.run(sys.argv[1:], capture_output=True)\n\
        sys.stderr.buffer.write(p.stderr)\n\
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n\
        print(f'MEASURED {p.returncode} {rss} {time.monotonic() - t:.3f}', file=sys.stderr)\n";
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("python3");
    cmd.args(["-c", MEASURE, BIN, "run", "print"]).arg(file).arg("--out").arg(out.path()).args(args);
    // No backtrace: symbolising one reads the debug info, 200 MB of RSS that is not the job's.
    cmd.env_remove("TINTYPE_CONFIG").env("RUST_LOG", "warn").env("RUST_BACKTRACE", "0").env("RUST_LIB_BACKTRACE", "0");
    cmd.envs(env.iter().copied());
    let done = cmd.output().expect("python3 runs the measured child");
    let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
    let measured = stderr.lines().rev().find_map(|l| l.strip_prefix("MEASURED ")).expect("the parent's figures");
    let figures: Vec<&str> = measured.split_whitespace().collect();
    let (rc, rss_kb, secs): (i32, f64, f64) =
        (figures[0].parse().unwrap(), figures[1].parse().unwrap(), figures[2].parse().unwrap());
    eprintln!("{}: rc {rc}, peak {:.0} MB, {secs:.1} s", file.display(), rss_kb / 1024.0);
    Ran { success: rc == 0, stderr, peak_mb: rss_kb / 1024.0, secs, out }
}

/// A run that failed with `code`, its peak under `ceiling_mb`.
fn assert_refused(ran: &Ran, code: &str, ceiling_mb: f64) {
    assert!(!ran.success, "refused: {}", ran.stderr);
    assert!(ran.stderr.contains(code), "fails with {code}: {}", ran.stderr);
    assert!(ran.peak_mb < ceiling_mb, "peak {:.0} MB: {}", ran.peak_mb, ran.stderr);
}

// ---- PNG, written by hand so that huge images cost little to make ----

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// zlib of `len` zero bytes, fed in blocks (never all in memory).
fn zlib_zeros(len: u64) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        z.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    z.finish().unwrap()
}

/// A black PNG: `depth`-bit samples of `color` type (2 RGB, 6 RGBA), `before` chunks
/// ahead of the pixels.
fn png(width: u32, height: u32, depth: u8, color: u8, before: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let channels = match color {
        2 => 3,
        6 => 4,
        _ => 1,
    };
    let row = 1 + u64::from(width) * channels * u64::from(depth) / 8;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, color, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    for (kind, data) in before {
        png_chunk(&mut out, kind, data);
    }
    png_chunk(&mut out, b"IDAT", &zlib_zeros(row * u64::from(height)));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

// ---- JPEG, written by hand: grey, all blocks flat, any number of scans ----

/// Writes entropy-coded bits, stuffing a zero after every `FF`.
struct Bits {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, len: u32) {
        for i in (0..len).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.byte();
            }
        }
    }
    fn byte(&mut self) {
        let b = self.acc as u8;
        self.out.push(b);
        if b == 0xFF {
            self.out.push(0);
        }
        self.acc = 0;
        self.n = 0;
    }
    /// Pads the last byte with 1 bits, as JPEG requires.
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
        self.out
    }
}

fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&u16::try_from(body.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(body);
}

/// A flat grey `width` x `height` JPEG. Progressive (`ac_scans` > 0): a DC scan, then
/// `ac_scans` AC scans of nothing but end-of-band runs (a few dozen bytes each, and a
/// pass over every block for the decoder). Baseline (`ac_scans` == 0): one scan.
/// `before` segments (APPn) go ahead of the frame.
fn grey_jpeg(width: u16, height: u16, ac_scans: usize, before: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let blocks = u32::from(width).div_ceil(8) * u32::from(height).div_ceil(8);
    let mut out = vec![0xFF, 0xD8];
    for (marker, body) in before {
        segment(&mut out, *marker, body);
    }
    segment(&mut out, 0xDB, &[&[0u8][..], &[1u8; 64]].concat());
    let sof = if ac_scans > 0 { 0xC2 } else { 0xC0 };
    let mut frame = vec![8];
    frame.extend_from_slice(&height.to_be_bytes());
    frame.extend_from_slice(&width.to_be_bytes());
    frame.extend_from_slice(&[1, 1, 0x11, 0]);
    segment(&mut out, sof, &frame);
    // DC table 0: one code, `0`, for "difference 0". AC table 0: 4-bit codes 0..14 for
    // the end-of-band runs EOB0..EOB14 (EOB0 = end of this block, baseline's EOB).
    let mut dc = vec![0x00, 1];
    dc.extend_from_slice(&[0; 15]);
    dc.push(0);
    segment(&mut out, 0xC4, &dc);
    let mut ac = vec![0x10, 0, 0, 0, 15];
    ac.extend_from_slice(&[0; 12]);
    ac.extend((0..15u8).map(|r| r << 4));
    segment(&mut out, 0xC4, &ac);
    // First scan: every block's DC difference (and, baseline, its end of block).
    let (se, spectral) = if ac_scans > 0 { (0, 0) } else { (63, 1) };
    segment(&mut out, 0xDA, &[1, 1, 0x00, 0, se, 0]);
    let mut bits = Bits { out: Vec::new(), acc: 0, n: 0 };
    for _ in 0..blocks {
        bits.put(0, 1);
        if spectral == 1 {
            bits.put(0, 4);
        }
    }
    out.extend(bits.finish());
    for _ in 0..ac_scans {
        segment(&mut out, 0xDA, &[1, 1, 0x00, 1, 63, 0]);
        let mut bits = Bits { out: Vec::new(), acc: 0, n: 0 };
        let mut left = blocks;
        while left > 0 {
            // EOBr covers 2^r + (r extra bits) blocks, up to 32,767.
            let run = left.min(32_767);
            let r = 31 - run.leading_zeros();
            bits.put(r, 4);
            bits.put(run - (1 << r), r);
            left -= run;
        }
        out.extend(bits.finish());
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// An `Exif` APP1 body whose one IFD entry is the orientation.
fn exif_orientation(value: u16) -> (u8, Vec<u8>) {
    let mut body = b"Exif\0\0II*\0\x08\0\0\0\x01\0".to_vec();
    body.extend_from_slice(&0x0112u16.to_le_bytes());
    body.extend_from_slice(&3u16.to_le_bytes());
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&u32::from(value).to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    (0xE1, body)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn memory_the_header_does_not_show_is_refused_before_it_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    // 100 MP of 16-bit RGBA: 800 MB for the decoder's buffer alone, from 800 KB.
    let deep = write(dir.path(), "deep.png", &png(10_000, 10_000, 16, 6, &[]));
    let ran = run_print(&deep, &["--groups", "2x3"], &[]);
    assert_refused(&ran, "image_too_large", REFUSED_CEILING_MB);
    assert!(ran.stderr.contains("decoding it needs about"), "{}", ran.stderr);
    // A 3 MB progressive JPEG of 12,000 x 8,000: its 96 MP of coefficients (288 MB) and
    // its 288 MB of pixels are over the 320 MB budget together.
    let coefficients = write(dir.path(), "coefficients.jpg", &grey_jpeg(12_000, 8_000, 2, &[]));
    let ran = run_print(&coefficients, &["--groups", "2x3"], &[]);
    assert_refused(&ran, "image_too_large", REFUSED_CEILING_MB);
}

#[test]
fn metadata_bombs_cost_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A PNG whose iCCP chunk inflates to 1 GB: read up to the metadata allowance, then
    // ignored (the image decodes without a profile).
    let iccp = [&b"bomb\0\0"[..], &zlib_zeros(1 << 30)].concat();
    let bomb = write(dir.path(), "iccp.png", &png(600, 400, 8, 2, &[(*b"iCCP", iccp)]));
    let ran = run_print(&bomb, &["--groups", "2x3"], &[]);
    assert!(ran.peak_mb < PRINT_CEILING_MB, "peak {:.0} MB", ran.peak_mb);
    assert!(ran.success || ran.stderr.contains("image_too_complex"), "{}", ran.stderr);

    // A JPEG with a 16 MB "ICC profile" (255 APP2 chunks): not copied into the outputs.
    let chunk = vec![0x5Au8; 65_000];
    let mut profile_head = chunk.clone();
    let total = 255 * 65_000u32;
    profile_head[..4].copy_from_slice(&total.to_be_bytes());
    profile_head[16..20].copy_from_slice(b"RGB ");
    profile_head[36..40].copy_from_slice(b"acsp");
    let app2: Vec<(u8, Vec<u8>)> = (1..=255u8)
        .map(|seq| {
            let data = if seq == 1 { &profile_head } else { &chunk };
            (0xE2, [&b"ICC_PROFILE\0"[..], &[seq, 255], data].concat())
        })
        .collect();
    let big_icc = write(dir.path(), "icc.jpg", &grey_jpeg(1_200, 1_800, 0, &app2));
    let ran = run_print(&big_icc, &["--mode", "single", "--size", "4x6"], &[]);
    assert!(ran.success, "{}", ran.stderr);
    assert!(ran.peak_mb < PRINT_CEILING_MB, "peak {:.0} MB", ran.peak_mb);
    let outputs: Vec<u64> =
        std::fs::read_dir(ran.out.path()).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect();
    assert_eq!(outputs.len(), 1, "one JPEG");
    assert!(outputs[0] < 2_000_000, "the 16 MB profile stayed out of the output: {} bytes", outputs[0]);
}

#[test]
fn a_large_photo_turned_a_quarter_is_never_held_twice() {
    let dir = tempfile::tempdir().unwrap();
    // 100 MP, EXIF orientation 6: 300 MB upright, 600 MB if turned by copying.
    let turned = write(dir.path(), "turned.jpg", &grey_jpeg(12_500, 8_000, 0, &[exif_orientation(6)]));
    let ran = run_print(&turned, &["--mode", "single", "--size", "4x6", "--json"], &[]);
    assert!(ran.success, "{}", ran.stderr);
    assert!(ran.peak_mb < PRINT_CEILING_MB, "peak {:.0} MB", ran.peak_mb);
}

#[test]
fn thousands_of_scans_are_refused_at_once_and_a_deadline_stops_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    // 40,000 empty scans over 49 MP: about 2.6 MB, and minutes of libjpeg work.
    let scans = write(dir.path(), "scans.jpg", &grey_jpeg(7_000, 7_000, 40_000, &[]));
    let ran = run_print(&scans, &["--groups", "2x3"], &[]);
    assert_refused(&ran, "image_too_complex", REFUSED_CEILING_MB);
    assert!(ran.stderr.contains("40001 scans; the limit is 100"), "{}", ran.stderr);
    // Allowed every scan, the decode runs into its deadline (2 s) inside libjpeg's one
    // long call, and stops there: the job fails for good with `decode_timeout`.
    let lenient = [("TINTYPE_PRINT__MAX_SCANS", "1000000"), ("TINTYPE_PRINT__DECODE_TIMEOUT_SECS", "2")];
    let ran = run_print(&scans, &["--groups", "2x3"], &lenient);
    assert_refused(&ran, "decode_timeout", PRINT_CEILING_MB);
    assert!(ran.secs < 30.0, "stopped near its deadline, not after the decode: {:.1} s", ran.secs);
}

/// `tintype serve` with a data dir in `dir`, `env` added; its base URL.
fn serve(dir: &Path, env: &[(&str, &str)]) -> (std::process::Child, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(dir.join("data")).env_remove("TINTYPE_CONFIG").env("RUST_LOG", "warn");
    cmd.envs(env.iter().copied()).args(["serve", "--listen", "127.0.0.1:0"]);
    common::spawn_listening(&mut cmd, &dir.join("serve.log"))
}

/// The JSON answer to `req`.
async fn json_of(req: reqwest::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}

async fn job(client: &reqwest::Client, base: &str, id: &str) -> Value {
    json_of(client.get(format!("{base}/v1/jobs/{id}"))).await
}

#[tokio::test]
async fn a_cancel_stops_a_decode_in_the_middle() {
    let dir = tempfile::tempdir().unwrap();
    let scans = grey_jpeg(7_000, 7_000, 40_000, &[]);
    let (mut server, base) = serve(dir.path(), &[("TINTYPE_PRINT__MAX_SCANS", "1000000")]);
    let client = reqwest::Client::new();
    let upload = client.post(format!("{base}/v1/uploads")).query(&[("filename", "scans.jpg")]);
    let upload = json_of(upload.header("content-type", "image/jpeg").body(scans)).await;
    let input = json!({"upload_id": upload["upload_id"], "groups": ["2x3"]});
    let created = json_of(client.post(format!("{base}/v1/jobs")).json(&json!({"kind": "print", "input": input}))).await;
    let id = created["id"].as_str().unwrap_or_else(|| panic!("a job: {created}")).to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while job(&client, &base, &id).await["step"] != "decoding" {
        assert!(Instant::now() < deadline, "never decoding: {}", job(&client, &base, &id).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Well inside the minutes libjpeg would take.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cancelled_at = Instant::now();
    let answer = client.delete(format!("{base}/v1/jobs/{id}")).send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    let finished = loop {
        let now = job(&client, &base, &id).await;
        if now["state"] == "cancelled" {
            break now;
        }
        assert!(cancelled_at.elapsed() < Duration::from_secs(15), "the decode went on after the cancel: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(finished["state"], "cancelled", "{finished}");
    server.kill().unwrap();
    server.wait().unwrap();
}
