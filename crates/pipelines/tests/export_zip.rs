//! The export's ZIP writer against four independent readers (Python's zipfile, Info-ZIP
//! unzip, 7z, bsdtar): every ZIP64 record forced with small files, more than 65,535
//! entries for real, and (in CI, or with `TINTYPE_TEST_LARGE=1`: it writes 4.3 GB to the
//! temp dir) one real entry over 4 GiB followed by another past the 4 GiB offset.

use std::io::{self, Read};

use chrono::NaiveDate;
use tintype_pipelines::export::archive::{EntryMeta, Method, Zip64At, ZipWriter};
use tintype_test_support::zips;

fn meta(name: &str, data: &[u8]) -> EntryMeta {
    EntryMeta {
        name: name.into(),
        method: Method::Stored,
        crc32: crc32fast::hash(data),
        compressed: data.len() as u64,
        size: data.len() as u64,
        modified: NaiveDate::from_ymd_opt(2025, 1, 2).unwrap().and_hms_opt(3, 4, 6).unwrap(),
    }
}

#[test]
fn forced_zip64_records_are_read_by_every_reader() {
    let mut w = ZipWriter::with_zip64(Vec::new(), Zip64At { bytes: 100, entries: 3 });
    let files: Vec<(String, Vec<u8>)> =
        (0..6).map(|i| (format!("file-{i}.bin"), vec![b'a' + i as u8; 40 + i * 30])).collect();
    for (name, data) in &files {
        w.add(meta(name, data), &mut &data[..]).unwrap();
    }
    let bytes = w.finish().unwrap();
    assert!(bytes.windows(4).any(|x| x == 0x0606_4b50u32.to_le_bytes()), "a ZIP64 end record");
    let entries = zips::check_bytes(&bytes);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>());
    assert_eq!(entries[5].size, 190);
    assert_eq!(entries[0].date_time, (2025, 1, 2, 3, 4, 6));
}

#[test]
fn more_than_65535_entries() {
    let mut w = ZipWriter::new(Vec::new());
    for i in 0..70_000u32 {
        let data = i.to_le_bytes();
        w.add(meta(&format!("d{}/{i}.txt", i / 1000), &data), &mut &data[..]).unwrap();
    }
    let bytes = w.finish().unwrap();
    let entries = zips::check_bytes(&bytes);
    assert_eq!(entries.len(), 70_000);
    assert_eq!(entries[69_999].name, "d69/69999.txt");
}

/// `n` bytes of a repeating pattern (byte `i` is `i % 251`), without holding them.
struct Pattern {
    at: u64,
    left: u64,
}

impl Pattern {
    fn new(n: u64) -> Self {
        Pattern { at: 0, left: n }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = ((self.at + i as u64) % 251) as u8;
        }
        self.at += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn one_entry_over_4_gib() {
    if std::env::var_os("TINTYPE_TEST_REQUIRE_ALL").is_none() && std::env::var_os("TINTYPE_TEST_LARGE").is_none() {
        eprintln!("SKIPPED one_entry_over_4_gib: set TINTYPE_TEST_LARGE=1 (CI runs it)");
        return;
    }
    let size: u64 = (4 << 30) + (1 << 20) + 7;
    let mut crc = crc32fast::Hasher::new();
    let mut reader = Pattern::new(size);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.zip");
    let file = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
    let mut w = ZipWriter::new(file);
    let big = EntryMeta { crc32: crc.finalize(), compressed: size, size, ..meta("big.bin", b"") };
    w.add(big, &mut Pattern::new(size)).unwrap();
    w.add(meta("after.txt", b"past the 4 GiB offset"), &mut &b"past the 4 GiB offset"[..]).unwrap();
    drop(w.finish().unwrap());
    let entries = zips::check(&path);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].size, size);
    assert_eq!(entries[1].name, "after.txt");
}
