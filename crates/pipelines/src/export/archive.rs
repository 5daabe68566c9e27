//! A streaming ZIP writer for exports (APPNOTE 6.3.10), synchronous, over any
//! `std::io::Write`: it never seeks, and never writes a data descriptor. Every entry is
//! handed over complete (its CRC-32 and both sizes known, its bytes already compressed
//! when deflated: see `spool.rs`), so the local header carries the real CRC and sizes:
//! the layout every reader accepts, macOS Archive Utility included (it trusts local
//! headers and refuses some data-descriptor layouts; the `zip` crate's stream mode
//! writes those).
//!
//! ZIP64 appears only where needed: a ZIP64 extra field on an entry whose size or
//! offset reaches 4 GiB (in its local header too when a size does), and the ZIP64 end of
//! central directory when there are more than 65,535 entries or the directory starts or
//! ends past 4 GiB. [`Zip64At`] lowers those thresholds so tests can force every ZIP64
//! record with small files. Names are UTF-8 and flagged so (bit 11).

use std::io::{self, Read, Write};

use bytes::Bytes;
use chrono::{Datelike, NaiveDateTime, Timelike};

/// How an entry's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// As they are (JPEG, PNG, WebP, AVIF, HEIC, video: already compressed).
    Stored,
    /// Deflated (raw DEFLATE, RFC 1951).
    Deflated,
}

impl Method {
    fn code(self) -> u16 {
        match self {
            Method::Stored => 0,
            Method::Deflated => 8,
        }
    }
}

/// One entry, complete: what its headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    /// Its path in the archive (already sanitised: see `names.rs`).
    pub name: String,
    /// How the bytes are stored.
    pub method: Method,
    /// CRC-32 of the uncompressed bytes.
    pub crc32: u32,
    /// Bytes as stored (after compression).
    pub compressed: u64,
    /// Bytes once extracted.
    pub size: u64,
    /// Modification time, local wall time (DOS time has no zone), clamped to 1980-2107.
    pub modified: NaiveDateTime,
}

/// Where ZIP64 starts: the real limits, or lower ones for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zip64At {
    /// A size or offset at or past this needs ZIP64 (the format's: `0xFFFF_FFFF`).
    pub bytes: u64,
    /// More entries than this need the ZIP64 end record (the format's: 65,535).
    pub entries: u64,
}

impl Zip64At {
    /// The format's own limits.
    pub const FORMAT: Zip64At = Zip64At { bytes: 0xFFFF_FFFF, entries: 0xFFFF };
}

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
const UTF8: u16 = 1 << 11;
/// Version 2.0 (deflate) or 4.5 (ZIP64) needed; made by Unix (3) with spec 4.5.
const V20: u16 = 20;
const V45: u16 = 45;
const MADE_BY: u16 = (3 << 8) | 45;
/// `-rw-r--r--` regular file, in the high half of the external attributes.
const UNIX_FILE: u32 = 0o100_644 << 16;
const FULL: u32 = 0xFFFF_FFFF;

/// What the central directory needs of an entry written earlier.
struct Written {
    meta: EntryMeta,
    offset: u64,
}

/// Counts what passes through.
struct Counting<W> {
    inner: W,
    at: u64,
}

/// An entry whose data came short of its size.
fn short(meta: &EntryMeta, got: u64) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, format!("{}: {got} of {} bytes", meta.name, meta.compressed))
}

/// A sink that can take an owned chunk without copying it (the store's channel); the
/// default copies.
pub trait ChunkSink: Write {
    /// Writes all of `chunk`.
    fn write_chunk(&mut self, chunk: Bytes) -> io::Result<()> {
        self.write_all(&chunk)
    }
}

impl ChunkSink for Vec<u8> {}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.at += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a ZIP entry by entry; [`finish`](ZipWriter::finish) writes the directory.
pub struct ZipWriter<W: Write> {
    out: Counting<W>,
    entries: Vec<Written>,
    zip64: Zip64At,
}

impl<W: Write> ZipWriter<W> {
    /// A writer at the start of `out`, with the format's ZIP64 limits.
    pub fn new(out: W) -> Self {
        Self::with_zip64(out, Zip64At::FORMAT)
    }

    /// A writer with other ZIP64 thresholds (tests).
    pub fn with_zip64(out: W, zip64: Zip64At) -> Self {
        Self { out: Counting { inner: out, at: 0 }, entries: Vec::new(), zip64 }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.out.at
    }

    /// Entries written so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry was written.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes one entry: its local header, then exactly `meta.compressed` bytes of `data`
    /// (fewer is an error, and the archive is then unusable: drop it).
    pub fn add(&mut self, meta: EntryMeta, data: &mut impl Read) -> io::Result<()> {
        let offset = self.write_header(&meta)?;
        let copied = io::copy(&mut data.take(meta.compressed), &mut self.out)?;
        if copied != meta.compressed {
            return Err(short(&meta, copied));
        }
        self.entries.push(Written { meta, offset });
        Ok(())
    }

    /// [`add`](ZipWriter::add) for data already in owned chunks: they are handed to the
    /// sink as they are (not copied, when the sink takes chunks).
    pub fn add_chunks(&mut self, meta: EntryMeta, chunks: Vec<Bytes>) -> io::Result<()>
    where
        W: ChunkSink,
    {
        let total: u64 = chunks.iter().map(|c| c.len() as u64).sum();
        if total != meta.compressed {
            return Err(short(&meta, total));
        }
        let offset = self.write_header(&meta)?;
        for chunk in chunks {
            self.out.at += chunk.len() as u64;
            self.out.inner.write_chunk(chunk)?;
        }
        self.entries.push(Written { meta, offset });
        Ok(())
    }

    /// Writes an entry's local header; returns its offset.
    fn write_header(&mut self, meta: &EntryMeta) -> io::Result<u64> {
        let offset = self.out.at;
        let big = meta.size >= self.zip64.bytes || meta.compressed >= self.zip64.bytes;
        let name = meta.name.as_bytes();
        let name_len = u16::try_from(name.len()).map_err(|_| invalid("entry name longer than 65,535 bytes"))?;
        let (time, date) = dos_time(meta.modified);
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        put32(&mut h, LOCAL);
        put16(&mut h, if big { V45 } else { V20 });
        put16(&mut h, UTF8);
        put16(&mut h, meta.method.code());
        put16(&mut h, time);
        put16(&mut h, date);
        put32(&mut h, meta.crc32);
        if big {
            put32(&mut h, FULL);
            put32(&mut h, FULL);
        } else {
            put32(&mut h, meta.compressed as u32);
            put32(&mut h, meta.size as u32);
        }
        put16(&mut h, name_len);
        put16(&mut h, if big { 20 } else { 0 });
        h.extend_from_slice(name);
        if big {
            // The local ZIP64 extra holds both sizes, uncompressed first.
            put16(&mut h, 0x0001);
            put16(&mut h, 16);
            put64(&mut h, meta.size);
            put64(&mut h, meta.compressed);
        }
        self.out.write_all(&h)?;
        Ok(offset)
    }

    /// Writes the central directory and the end records; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        let start = self.out.at;
        for e in &self.entries {
            let m = &e.meta;
            let (size64, comp64, off64) =
                (m.size >= self.zip64.bytes, m.compressed >= self.zip64.bytes, e.offset >= self.zip64.bytes);
            let mut extra = Vec::new();
            if size64 || comp64 || off64 {
                let mut fields = Vec::new();
                if size64 {
                    put64(&mut fields, m.size);
                }
                if comp64 {
                    put64(&mut fields, m.compressed);
                }
                if off64 {
                    put64(&mut fields, e.offset);
                }
                put16(&mut extra, 0x0001);
                put16(&mut extra, fields.len() as u16);
                extra.extend_from_slice(&fields);
            }
            let name = m.name.as_bytes();
            let (time, date) = dos_time(m.modified);
            let mut h = Vec::with_capacity(46 + name.len() + extra.len());
            put32(&mut h, CENTRAL);
            put16(&mut h, MADE_BY);
            put16(&mut h, if extra.is_empty() { V20 } else { V45 });
            put16(&mut h, UTF8);
            put16(&mut h, m.method.code());
            put16(&mut h, time);
            put16(&mut h, date);
            put32(&mut h, m.crc32);
            put32(&mut h, if comp64 { FULL } else { m.compressed as u32 });
            put32(&mut h, if size64 { FULL } else { m.size as u32 });
            put16(&mut h, name.len() as u16);
            put16(&mut h, extra.len() as u16);
            put16(&mut h, 0); // comment
            put16(&mut h, 0); // disk
            put16(&mut h, 0); // internal attributes
            put32(&mut h, UNIX_FILE);
            put32(&mut h, if off64 { FULL } else { e.offset as u32 });
            h.extend_from_slice(name);
            h.extend_from_slice(&extra);
            self.out.write_all(&h)?;
        }
        let end = self.out.at;
        let (count, size) = (self.entries.len() as u64, end - start);
        let zip64 = count > self.zip64.entries || start >= self.zip64.bytes || size >= self.zip64.bytes;
        let mut t = Vec::with_capacity(98);
        if zip64 {
            put32(&mut t, END64);
            put64(&mut t, 44); // the record's size after this field
            put16(&mut t, MADE_BY);
            put16(&mut t, V45);
            put32(&mut t, 0); // this disk
            put32(&mut t, 0); // the directory's disk
            put64(&mut t, count);
            put64(&mut t, count);
            put64(&mut t, size);
            put64(&mut t, start);
            put32(&mut t, LOCATOR64);
            put32(&mut t, 0);
            put64(&mut t, end);
            put32(&mut t, 1); // disks
        }
        put32(&mut t, END);
        put16(&mut t, 0);
        put16(&mut t, 0);
        let n16 = if zip64 { 0xFFFF } else { count as u16 };
        put16(&mut t, n16);
        put16(&mut t, n16);
        put32(&mut t, if zip64 { FULL } else { size as u32 });
        put32(&mut t, if zip64 { FULL } else { start as u32 });
        put16(&mut t, 0); // comment
        self.out.write_all(&t)?;
        self.out.flush()?;
        Ok(self.out.inner)
    }
}

/// DOS time and date of a wall time, clamped to what DOS dates can say (1980-2107).
pub fn dos_time(t: NaiveDateTime) -> (u16, u16) {
    let year = t.year().clamp(1980, 2107);
    let (month, day, hour, minute, second) = if t.year() < 1980 {
        (1, 1, 0, 0, 0)
    } else if t.year() > 2107 {
        (12, 31, 23, 59, 58)
    } else {
        (t.month(), t.day(), t.hour(), t.minute(), t.second())
    };
    let time = ((hour << 11) | (minute << 5) | (second / 2)) as u16;
    let date = (((year - 1980) as u32) << 9) | (month << 5) | day;
    (time, date as u16)
}

fn invalid(m: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, m.to_owned())
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn when() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 7, 14).unwrap().and_hms_opt(18, 30, 41).unwrap()
    }

    fn stored(name: &str, data: &[u8]) -> EntryMeta {
        EntryMeta {
            name: name.into(),
            method: Method::Stored,
            crc32: crc32fast::hash(data),
            compressed: data.len() as u64,
            size: data.len() as u64,
            modified: when(),
        }
    }

    fn archive(zip64: Zip64At, files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = ZipWriter::with_zip64(Vec::new(), zip64);
        for (name, data) in files {
            w.add(stored(name, data), &mut &data[..]).unwrap();
        }
        w.finish().unwrap()
    }

    /// Name, bytes and (year, month, day, hour, minute) of every entry.
    type Entry = (String, Vec<u8>, (u16, u16, u16, u8, u8));

    fn read_back(bytes: &[u8]) -> Vec<Entry> {
        let mut z = zip::ZipArchive::new(io::Cursor::new(bytes.to_vec())).expect("the zip crate reads it");
        (0..z.len())
            .map(|i| {
                let mut f = z.by_index(i).unwrap();
                let mut data = Vec::new();
                f.read_to_end(&mut data).unwrap();
                let t = f.last_modified().unwrap();
                (
                    f.name().unwrap().into_owned(),
                    data,
                    (t.year(), t.month() as u16, t.day() as u16, t.hour(), t.minute()),
                )
            })
            .collect()
    }

    #[test]
    fn chunks_make_the_same_archive_as_a_reader_and_a_short_one_fails() {
        let data = b"first chunk, second chunk".to_vec();
        let by_reader = archive(Zip64At::FORMAT, &[("a.jpg", &data), ("b.txt", b"b")]);
        let mut w = ZipWriter::new(Vec::new());
        let chunks = vec![Bytes::copy_from_slice(&data[..12]), Bytes::copy_from_slice(&data[12..])];
        w.add_chunks(stored("a.jpg", &data), chunks).unwrap();
        w.add(stored("b.txt", b"b"), &mut &b"b"[..]).unwrap();
        assert_eq!(w.finish().unwrap(), by_reader);
        let mut w = ZipWriter::new(Vec::new());
        let err = w.add_chunks(stored("a.jpg", &data), vec![Bytes::from_static(b"first")]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(w.is_empty() && w.written() == 0, "nothing written for a short entry");
    }

    #[test]
    fn entries_round_trip_with_times_and_utf8_names() {
        let bytes = archive(Zip64At::FORMAT, &[("a.jpg", b"jpeg"), ("Ünïcødé/日本.txt", b"text"), ("empty", b"")]);
        let back = read_back(&bytes);
        assert_eq!(back.len(), 3);
        assert_eq!(back[0].0, "a.jpg");
        assert_eq!(back[1].0, "Ünïcødé/日本.txt");
        assert_eq!(back[1].1, b"text");
        assert_eq!(back[0].2, (2024, 7, 14, 18, 30));
        // Bit 11 in the local header; sizes and CRC in it too (no data descriptor).
        assert_eq!(u16::from_le_bytes([bytes[6], bytes[7]]) & (1 << 11 | 1 << 3), 1 << 11);
        assert_eq!(u32::from_le_bytes(bytes[14..18].try_into().unwrap()), crc32fast::hash(b"jpeg"));
        assert_eq!(u32::from_le_bytes(bytes[18..22].try_into().unwrap()), 4);
        assert!(!bytes.windows(4).any(|w| w == 0x0606_4b50u32.to_le_bytes()), "no ZIP64 end record when small");
    }

    #[test]
    fn forced_zip64_thresholds_write_every_zip64_record() {
        let zip64 = Zip64At { bytes: 8, entries: 2 };
        let files: [(&str, &[u8]); 3] = [("one", b"0123456789"), ("two", b"abc"), ("three", b"0123456789abcdef")];
        let bytes = archive(zip64, &files);
        assert!(bytes.windows(4).any(|w| w == 0x0606_4b50u32.to_le_bytes()), "ZIP64 end record");
        assert!(bytes.windows(4).any(|w| w == 0x0706_4b50u32.to_le_bytes()), "ZIP64 locator");
        // The first local header has 0xFFFFFFFF sizes and the ZIP64 extra with both.
        assert_eq!(&bytes[18..26], &[0xFF; 8]);
        assert_eq!(u16::from_le_bytes([bytes[28], bytes[29]]), 20);
        let back = read_back(&bytes);
        let names: Vec<&str> = back.iter().map(|b| b.0.as_str()).collect();
        assert_eq!(names, ["one", "two", "three"]);
        assert_eq!(back[2].1, b"0123456789abcdef");
    }

    #[test]
    fn deflated_entries_are_read_back() {
        use flate2::{Compression, write::DeflateEncoder};
        let data = b"hello hello hello hello hello".repeat(100);
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&data).unwrap();
        let packed = enc.finish().unwrap();
        let meta = EntryMeta {
            name: "report.txt".into(),
            method: Method::Deflated,
            crc32: crc32fast::hash(&data),
            compressed: packed.len() as u64,
            size: data.len() as u64,
            modified: when(),
        };
        let mut w = ZipWriter::new(Vec::new());
        w.add(meta, &mut &packed[..]).unwrap();
        // (This build's `zip` has no inflater: read the raw entry and inflate it here;
        // the integration tests run real readers on deflated entries.)
        let mut z = zip::ZipArchive::new(io::Cursor::new(w.finish().unwrap())).unwrap();
        let f = z.by_index_raw(0).unwrap();
        assert_eq!((f.crc32(), f.size()), (crc32fast::hash(&data), 2900));
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(f).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn a_short_body_is_an_error() {
        let mut w = ZipWriter::new(Vec::new());
        let mut meta = stored("a", b"abc");
        meta.compressed = 10;
        assert_eq!(w.add(meta, &mut &b"abc"[..]).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn dos_times_are_clamped() {
        let old = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        assert_eq!(dos_time(old), (0, 1 << 5 | 1));
        let (_, date) = dos_time(NaiveDate::from_ymd_opt(2200, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap());
        assert_eq!(date >> 9, 127);
    }
}
