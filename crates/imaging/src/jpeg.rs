//! JPEG container parsing: the one marker walker that both the header probe (`limits`)
//! and the decoder (`decode`) read a JPEG's structure through. [`read_header`] walks the
//! marker segments up to the first scan and returns what they say: the frame size,
//! sample precision and component count of the first SOFn, the TIFF data of the first
//! `Exif` APP1 segment (for the orientation), the `ICC_PROFILE` APP2 chunks (reassembled
//! in sequence order), and the transform of an Adobe APP14 segment (which also says that
//! CMYK samples are stored inverted). [`JpegHeader::has_end`] walks on from the first
//! scan to an end-of-image marker, to tell a truncated file from a whole one.
//!
//! The walk follows JPEG's syntax (ITU T.81 B.1) as libjpeg reads it, so that the size
//! checked here is the size the decoder allocates for. A marker is `FF` then a code
//! byte; `FF` fill bytes may precede it. SOI, EOI, TEM (`FF 01`) and RSTn (`FF D0..D7`)
//! stand alone; every other marker starts a segment whose 2-byte big-endian length
//! counts itself. `FF 00` is a stuffed data byte, never a marker. Bytes between segments
//! that are not a marker (garbage, stuffed bytes included) are skipped the way libjpeg
//! skips them (with a warning), since real files have them. What libjpeg would refuse is
//! refused here, from the header, before any pixel buffer exists: a second SOI or SOF, a
//! scan before the frame, lossless and hierarchical frames (unsupported), reserved and
//! extension markers, samples other than 8-bit, sampling factors outside 1 to 4; and so
//! are frames of 2 or more than 4 components, which the decoder cannot turn into RGB. A bad ICC profile (a chunk
//! missing, repeated or misnumbered) or EXIF block is not an error: it is ignored.

use image::metadata::Orientation;

use crate::ImagingError;

/// What a JPEG's marker segments before its first scan say, borrowing from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JpegHeader<'a> {
    /// The first (and only) frame header.
    pub(crate) frame: Frame,
    /// The transform byte of the last Adobe APP14 segment, if any: 0 for samples stored
    /// as they are (RGB or CMYK), 1 for YCbCr, 2 for YCCK. Its presence alone means CMYK
    /// samples are stored inverted (255 = no ink), as libjpeg reads them.
    pub(crate) adobe: Option<u8>,
    /// The TIFF structure of the first `Exif` APP1 segment.
    pub(crate) exif: Option<&'a [u8]>,
    /// The `ICC_PROFILE` APP2 chunks, in file order.
    pub(crate) icc_chunks: Vec<IccChunk<'a>>,
    /// How many components the first scan carries.
    pub(crate) first_scan_components: u8,
    /// Everything after the first scan header: its entropy-coded data, and the rest.
    pub(crate) after_scan: &'a [u8],
}

/// A frame header (SOFn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The marker code: `C0` baseline, `C1` extended, `C2` progressive, `C9`/`CA`
    /// arithmetic-coded.
    pub(crate) marker: u8,
    /// Width in pixels, as stored (before EXIF orientation).
    pub(crate) width: u32,
    /// Height in pixels, as stored.
    pub(crate) height: u32,
    /// Colour components: 1 grey, 3 YCbCr or RGB, 4 CMYK or YCCK.
    pub(crate) components: u8,
    /// Each component's sampling factors (horizontal, vertical), 1 to 4 each.
    pub(crate) sampling: [(u8, u8); 4],
}

impl Frame {
    /// Whether libjpeg buffers the whole image's DCT coefficients to decode it: a
    /// progressive frame, or a sequential one whose first scan does not carry every
    /// component (more scans follow).
    pub(crate) fn buffered(&self, first_scan_components: u8) -> bool {
        matches!(self.marker, 0xC2 | 0xCA) || first_scan_components < self.components
    }

    /// Bytes of that coefficient buffer: 64 coefficients of 2 bytes per 8x8 block of
    /// every component at its own sampling, the block rows rounded up to whole iMCUs as
    /// libjpeg allocates them.
    pub(crate) fn coefficient_bytes(&self) -> u64 {
        let components = &self.sampling[..usize::from(self.components)];
        let h_max = components.iter().map(|s| u64::from(s.0)).max().unwrap_or(1).max(1);
        let v_max = components.iter().map(|s| u64::from(s.1)).max().unwrap_or(1).max(1);
        let (w, h) = (u64::from(self.width), u64::from(self.height));
        components
            .iter()
            .map(|&(hs, vs)| {
                let (hs, vs) = (u64::from(hs.max(1)), u64::from(vs.max(1)));
                let across = (w * hs).div_ceil(8 * h_max).next_multiple_of(hs);
                let down = (h * vs).div_ceil(8 * v_max).next_multiple_of(vs);
                across * down * 128
            })
            .sum()
    }
}

/// What follows the first scan header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    /// An end-of-image marker follows (the file is whole).
    pub(crate) end: bool,
    /// Scans before that end (or the end of the data), the first one included.
    pub(crate) scans: u32,
}

/// One APP2 `ICC_PROFILE` chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IccChunk<'a> {
    /// Sequence number, from 1.
    pub(crate) seq: u8,
    /// How many chunks the profile has.
    pub(crate) count: u8,
    /// This chunk's part of the profile.
    pub(crate) data: &'a [u8],
}

impl JpegHeader<'_> {
    /// The ICC profile reassembled from its chunks in sequence order, when every chunk
    /// from 1 to the count is there exactly once and all agree on the count.
    pub(crate) fn icc_profile(&self) -> Option<Vec<u8>> {
        let count = usize::from(self.icc_chunks.first()?.count);
        let mut chunks = self.icc_chunks.clone();
        chunks.sort_by_key(|chunk| chunk.seq);
        let complete = chunks.len() == count
            && chunks.iter().enumerate().all(|(i, c)| usize::from(c.seq) == i + 1 && usize::from(c.count) == count);
        complete.then(|| chunks.iter().flat_map(|c| c.data).copied().collect())
    }

    /// The EXIF orientation, or none when there is no readable one.
    pub(crate) fn orientation(&self) -> Orientation {
        self.exif.and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms)
    }

    /// Whether an end-of-image marker follows the first scan. The walk goes on through
    /// entropy-coded data (where `FF 00` and RSTn belong to the data) and over whole
    /// segments (later scans, tables), so an `FF D9` inside a segment does not count and
    /// a segment cut short means the file is.
    #[cfg(test)]
    pub(crate) fn has_end(&self) -> bool {
        self.tail().end
    }

    /// The walk of [`JpegHeader::has_end`], counting the scans (SOS segments) on the way:
    /// a progressive file's decoding time grows with its scans, not its size.
    pub(crate) fn tail(&self) -> Tail {
        let mut pos = 0;
        let mut scans = 1;
        while let Some((marker, at)) = next_marker(self.after_scan, pos) {
            pos = match marker {
                EOI => return Tail { end: true, scans },
                _ if stands_alone(marker) => at,
                _ => match segment(self.after_scan, at) {
                    Ok((_, next)) => {
                        scans += u32::from(marker == SOS);
                        next
                    }
                    Err(_) => return Tail { end: false, scans },
                },
            };
        }
        Tail { end: false, scans }
    }
}

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const TEM: u8 = 0x01;

/// Markers with no length: TEM, RSTn, SOI, EOI.
fn stands_alone(marker: u8) -> bool {
    marker == TEM || (0xD0..=EOI).contains(&marker)
}

/// Walks a JPEG's marker segments from SOI up to its first scan.
///
/// Errors: [`ImagingError::Corrupt`] for a file that is not a JPEG's structure (no SOI,
/// truncated before the first scan, a length under 2, a second SOI or frame header, a
/// scan before the frame header, a malformed frame header, EOI before any scan, a
/// reserved marker); [`ImagingError::UnsupportedFormat`] for what libjpeg does not decode
/// (lossless and hierarchical frames, JPEG extension markers, samples other than 8-bit, 2
/// or more than 4 components).
pub(crate) fn read_header(bytes: &[u8]) -> Result<JpegHeader<'_>, ImagingError> {
    if !bytes.starts_with(&[0xFF, SOI]) {
        return Err(corrupt("no start-of-image marker"));
    }
    let mut pos = 2;
    let mut frame = None;
    let mut adobe = None;
    let mut exif = None;
    let mut icc_chunks = Vec::new();
    loop {
        let (marker, at) = next_marker(bytes, pos).ok_or_else(|| corrupt("truncated before the first scan"))?;
        match marker {
            SOI => return Err(corrupt("a second start-of-image marker")),
            EOI => return Err(corrupt("no image data (end of image before any scan)")),
            _ if stands_alone(marker) => {
                pos = at;
                continue;
            }
            _ => check_marker(marker)?,
        }
        let (body, next) = segment(bytes, at)?;
        match marker {
            0xC0 | 0xC1 | 0xC2 | 0xC9 | 0xCA => {
                if frame.is_some() {
                    return Err(corrupt("two frame headers"));
                }
                frame = Some(Frame::parse(marker, body)?);
            }
            SOS => {
                let frame = frame.ok_or_else(|| corrupt("a scan before the frame header"))?;
                let first_scan_components = body.first().copied().unwrap_or(0);
                return Ok(JpegHeader {
                    frame,
                    adobe,
                    exif,
                    icc_chunks,
                    first_scan_components,
                    after_scan: &bytes[next..],
                });
            }
            0xE1 if exif.is_none() && body.starts_with(b"Exif\0\0") => exif = Some(&body[6..]),
            0xE2 if body.len() >= 14 && body.starts_with(b"ICC_PROFILE\0") => {
                icc_chunks.push(IccChunk { seq: body[12], count: body[13], data: &body[14..] });
            }
            // libjpeg needs the whole 12-byte Adobe header to take it as one.
            0xEE if body.len() >= 12 && body.starts_with(b"Adobe") => adobe = Some(body[11]),
            _ => {}
        }
        pos = next;
    }
}

/// Refuses a segment marker that libjpeg refuses: lossless and hierarchical frames,
/// extension markers (DHP, EXP, JPGn, JPEG-LS's among them) and reserved ones.
fn check_marker(marker: u8) -> Result<(), ImagingError> {
    match marker {
        0xC3 | 0xC5..=0xC8 | 0xCB | 0xCD..=0xCF => Err(ImagingError::UnsupportedFormat(format!(
            "jpeg: lossless or hierarchical coding (marker FF{marker:02X}) is not supported"
        ))),
        0xDE | 0xDF | 0xF0..=0xFD => {
            Err(ImagingError::UnsupportedFormat(format!("jpeg: extension marker FF{marker:02X} is not supported")))
        }
        0x02..=0xBF => Err(corrupt(&format!("reserved marker FF{marker:02X}"))),
        _ => Ok(()),
    }
}

impl Frame {
    /// Reads a frame header's body: precision, height, width, component count, then 3
    /// bytes per component.
    fn parse(marker: u8, body: &[u8]) -> Result<Frame, ImagingError> {
        let [precision, h0, h1, w0, w1, components, ..] = *body else {
            return Err(corrupt("short frame header"));
        };
        if components == 0 || body.len() != 6 + 3 * usize::from(components) {
            return Err(corrupt(&format!("a frame header of {} bytes for {components} components", body.len())));
        }
        if precision != 8 {
            return Err(ImagingError::UnsupportedFormat(format!("jpeg: {precision}-bit samples")));
        }
        if components == 2 || components > 4 {
            return Err(ImagingError::UnsupportedFormat(format!("jpeg: {components} colour components")));
        }
        let be16 = |a: u8, b: u8| u32::from(u16::from_be_bytes([a, b]));
        let mut sampling = [(1, 1); 4];
        for (slot, spec) in sampling.iter_mut().zip(body[6..].chunks_exact(3)) {
            *slot = (spec[1] >> 4, spec[1] & 0x0F);
            if !(1..=4).contains(&slot.0) || !(1..=4).contains(&slot.1) {
                return Err(corrupt(&format!("sampling factors {}x{} (libjpeg takes 1 to 4)", slot.0, slot.1)));
            }
        }
        Ok(Frame { marker, width: be16(w0, w1), height: be16(h0, h1), components, sampling })
    }
}

/// The next marker at or after `pos` and the position just past its code, skipping what
/// libjpeg's `next_marker` skips: bytes other than `FF`, `FF` fill bytes, and `FF 00`
/// pairs. `None` at the end of the input.
fn next_marker(bytes: &[u8], mut pos: usize) -> Option<(u8, usize)> {
    loop {
        pos += bytes.get(pos..)?.iter().position(|&b| b == 0xFF)?;
        while bytes.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let code = *bytes.get(pos)?;
        pos += 1;
        if code != 0 {
            return Some((code, pos));
        }
    }
}

/// The body of the segment whose length starts at `at`, and the position after it.
fn segment(bytes: &[u8], at: usize) -> Result<(&[u8], usize), ImagingError> {
    let truncated = || corrupt("truncated before the first scan");
    let len = bytes.get(at..at + 2).ok_or_else(truncated)?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if len < 2 {
        return Err(corrupt(&format!("a segment length of {len}")));
    }
    let body = bytes.get(at + 2..at + len).ok_or_else(truncated)?;
    Ok((body, at + len))
}

fn corrupt(what: &str) -> ImagingError {
    ImagingError::Corrupt(format!("jpeg: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tintype_codes::Coded;

    /// What a header says, as the tests compare it.
    #[derive(Debug, PartialEq)]
    struct Seen {
        size: (u32, u32),
        components: u8,
        adobe: Option<u8>,
        orientation: Orientation,
        icc: Option<Vec<u8>>,
        end: bool,
    }

    /// What a header walk should give: the header, or an error's code and words from its
    /// message.
    type Expected = Result<Seen, (&'static str, &'static str)>;
    /// A case: name, input, expected.
    type Case = (&'static str, Vec<u8>, Expected);

    /// A 16x8 three-component baseline frame, nothing else.
    fn plain() -> Seen {
        Seen { size: (16, 8), components: 3, adobe: None, orientation: Orientation::NoTransforms, icc: None, end: true }
    }

    /// Walks `input` and compares what it says with `expected`.
    fn check(name: &str, input: &[u8], expected: Expected) {
        let seen = read_header(input).map(|h| Seen {
            size: (h.frame.width, h.frame.height),
            components: h.frame.components,
            adobe: h.adobe,
            orientation: h.orientation(),
            icc: h.icc_profile(),
            end: h.has_end(),
        });
        match (seen, expected) {
            (Ok(seen), Ok(expected)) => assert_eq!(seen, expected, "{name}"),
            (Err(error), Err((code, says))) => {
                assert_eq!(error.code(), code, "{name}: {error}");
                assert!(error.to_string().contains(says), "{name}: {error} should say {says:?}");
            }
            (seen, expected) => panic!("{name}: got {seen:?}, expected {expected:?}"),
        }
    }

    fn seg(marker: u8, body: &[u8]) -> Vec<u8> {
        let len = u16::try_from(body.len() + 2).expect("segment size");
        [&[0xFF, marker][..], &len.to_be_bytes(), body].concat()
    }

    fn sof_with(marker: u8, precision: u8, width: u16, height: u16, components: u8) -> Vec<u8> {
        let mut body = vec![precision];
        body.extend_from_slice(&height.to_be_bytes());
        body.extend_from_slice(&width.to_be_bytes());
        body.push(components);
        for id in 1..=components {
            body.extend_from_slice(&[id, 0x11, 0]);
        }
        seg(marker, &body)
    }

    fn sof(width: u16, height: u16, components: u8) -> Vec<u8> {
        sof_with(0xC0, 8, width, height, components)
    }

    const SOI_: [u8; 2] = [0xFF, 0xD8];
    const EOI_: [u8; 2] = [0xFF, 0xD9];

    /// A scan header for one component.
    fn sos() -> Vec<u8> {
        seg(0xDA, &[1, 1, 0, 0, 63, 0])
    }

    /// Entropy-coded data with a stuffed byte and a restart marker in it.
    const DATA: [u8; 8] = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0x78];

    /// A whole file: SOI, `before` (segments before the frame), a 16x8 frame, the scan.
    fn jpeg(before: &[Vec<u8>]) -> Vec<u8> {
        [&SOI_[..], &before.concat(), &sof(16, 8, 3), &sos(), &DATA, &EOI_].concat()
    }

    fn icc(seq: u8, count: u8, data: &[u8]) -> Vec<u8> {
        seg(0xE2, &[&b"ICC_PROFILE\0"[..], &[seq, count], data].concat())
    }

    /// An `Exif` APP1 segment with one IFD entry, Orientation = `value`.
    fn exif(value: u16, big_endian: bool) -> Vec<u8> {
        let u16b = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let u32b = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let tiff = [
            &(if big_endian { *b"MM" } else { *b"II" })[..],
            &u16b(42),
            &u32b(8),
            &u16b(1),
            &u16b(0x0112),
            &u16b(3),
            &u32b(1),
            &u16b(value),
            &[0, 0],
            &u32b(0),
        ]
        .concat();
        seg(0xE1, &[&b"Exif\0\0"[..], &tiff].concat())
    }

    fn adobe(transform: u8) -> Vec<u8> {
        seg(0xEE, &[&b"Adobe"[..], &[0, 100, 0, 0, 0, 0, transform]].concat())
    }

    #[test]
    fn walks_markers() {
        let with_end = |end: bool| Seen { end, ..plain() };
        let head = |tail: &[u8]| [&SOI_[..], &sof(16, 8, 3), &sos(), tail].concat();
        let cases: Vec<Case> = vec![
            ("plain", jpeg(&[]), Ok(plain())),
            ("tables and comments", jpeg(&[seg(0xDB, &[0; 65]), seg(0xFE, b"hi"), seg(0xDD, &[0, 4])]), Ok(plain())),
            ("fill bytes before markers", jpeg(&[vec![0xFF, 0xFF, 0xFF], seg(0xFE, b"x"), vec![0xFF]]), Ok(plain())),
            // FF 00 between segments is garbage, not a marker with a length (00 12 here).
            ("stuffed byte between segments", jpeg(&[vec![0xFF, 0x00, 0x00, 0x12]]), Ok(plain())),
            ("RSTn and TEM have no length", jpeg(&[vec![0xFF, 0xD3, 0xFF, 0x01, 0xFF, 0xD7]]), Ok(plain())),
            ("a SOF after garbage", jpeg(&[b"garbage \x00\x01".to_vec()]), Ok(plain())),
            ("a SOF after garbage with FF 00 in it", jpeg(&[vec![7, 0xFF, 0x00, 0xFF, 0xFF, 0x00, 9]]), Ok(plain())),
            ("a segment after garbage", jpeg(&[vec![1, 2, 3], adobe(2)]), Ok(Seen { adobe: Some(2), ..plain() })),
            (
                "frame from the first SOF before SOS, not one after",
                head(&[&DATA[..], &sof(9_999, 9_999, 3), &EOI_].concat()),
                Ok(plain()),
            ),
            ("progressive frame", [&SOI_[..], &sof_with(0xC2, 8, 16, 8, 3), &sos(), &EOI_].concat(), Ok(plain())),
            ("grey", [&SOI_[..], &sof(16, 8, 1), &sos(), &EOI_].concat(), Ok(Seen { components: 1, ..plain() })),
            (
                "cmyk, Adobe transform 0",
                [&SOI_[..], &adobe(0), &sof(16, 8, 4), &sos(), &EOI_].concat(),
                Ok(Seen { components: 4, adobe: Some(0), ..plain() }),
            ),
            (
                "an Adobe segment too short for libjpeg is not one",
                jpeg(&[seg(0xEE, b"Adobe\0\x64\0\0\0")]),
                Ok(plain()),
            ),
            ("no EOI", head(&DATA), Ok(with_end(false))),
            ("EOI after fill bytes", head(&[&DATA[..], &[0xFF, 0xFF], &EOI_].concat()), Ok(plain())),
            (
                "FF D9 only inside a later, cut segment",
                head(&[&DATA[..], &[0xFF, 0xFE, 0, 9, 0xFF, 0xD9]].concat()),
                Ok(with_end(false)),
            ),
            (
                "a second scan, then EOI",
                head(&[&DATA[..], &seg(0xC4, &[0; 20]), &sos(), &DATA, &EOI_].concat()),
                Ok(plain()),
            ),
            ("only SOI, EOI", [SOI_, EOI_].concat(), Err(("corrupt_image", "no image data"))),
            ("no SOI", [&[0xFF, 0xE0][..], &sof(16, 8, 3)].concat(), Err(("corrupt_image", "start-of-image"))),
            ("a second SOI", jpeg(&[SOI_.to_vec()]), Err(("corrupt_image", "second start-of-image"))),
            ("truncated length", [&SOI_[..], &[0xFF, 0xE1, 0x00]].concat(), Err(("corrupt_image", "truncated"))),
            (
                "truncated segment",
                [&SOI_[..], &[0xFF, 0xE1, 0x00, 0x20], b"Exif\0\0"].concat(),
                Err(("corrupt_image", "truncated")),
            ),
            ("truncated after a segment", [&SOI_[..], &seg(0xFE, b"x")].concat(), Err(("corrupt_image", "truncated"))),
            ("fill bytes to the end", [&SOI_[..], &[0xFF; 4]].concat(), Err(("corrupt_image", "truncated"))),
            ("length under 2", jpeg(&[vec![0xFF, 0xFE, 0x00, 0x01]]), Err(("corrupt_image", "length of 1"))),
            ("scan before frame", [&SOI_[..], &sos(), &EOI_].concat(), Err(("corrupt_image", "before the frame"))),
            ("two frames", jpeg(&[sof(32, 32, 3)]), Err(("corrupt_image", "two frame headers"))),
            ("short frame", jpeg(&[seg(0xC0, &[8, 0, 8])]), Err(("corrupt_image", "short frame header"))),
            (
                "frame length not 6 + 3 per component",
                jpeg(&[seg(0xC1, &[8, 0, 8, 0, 16, 3, 1, 0x11, 0])]),
                Err(("corrupt_image", "for 3 components")),
            ),
            ("zero components", jpeg(&[seg(0xC0, &[8, 0, 8, 0, 16, 0])]), Err(("corrupt_image", "0 components"))),
            ("12-bit samples", jpeg(&[sof_with(0xC1, 12, 16, 8, 3)]), Err(("unsupported_format", "12-bit"))),
            ("2 components", jpeg(&[sof(16, 8, 2)]), Err(("unsupported_format", "2 colour components"))),
            ("lossless (SOF3)", jpeg(&[sof_with(0xC3, 8, 16, 8, 3)]), Err(("unsupported_format", "lossless"))),
            ("hierarchical (DHP)", jpeg(&[seg(0xDE, &[0; 4])]), Err(("unsupported_format", "FFDE"))),
            (
                "JPEG-LS (SOF55)",
                [&SOI_[..], &seg(0xF7, &[8, 0, 8, 0, 16, 1, 1, 0x11, 0])].concat(),
                Err(("unsupported_format", "FFF7")),
            ),
            ("reserved marker", jpeg(&[seg(0x02, &[0; 4])]), Err(("corrupt_image", "reserved marker FF02"))),
        ];
        for (name, input, expected) in cases {
            check(name, &input, expected);
        }
    }

    #[test]
    fn reassembles_icc_chunks_in_order() {
        let profile: Vec<u8> = (0..=255).collect();
        let (a, b, c) = (&profile[..100], &profile[100..200], &profile[200..]);
        let with = |icc: Option<Vec<u8>>| Ok(Seen { icc, ..plain() });
        let cases: Vec<Case> = vec![
            ("one chunk", jpeg(&[icc(1, 1, &profile)]), with(Some(profile.clone()))),
            ("three chunks in order", jpeg(&[icc(1, 3, a), icc(2, 3, b), icc(3, 3, c)]), with(Some(profile.clone()))),
            (
                "three chunks out of order",
                jpeg(&[icc(3, 3, c), icc(1, 3, a), icc(2, 3, b)]),
                with(Some(profile.clone())),
            ),
            (
                "chunks among other segments",
                jpeg(&[icc(2, 2, &profile[128..]), seg(0xFE, b"x"), icc(1, 2, &profile[..128])]),
                with(Some(profile.clone())),
            ),
            ("a chunk missing", jpeg(&[icc(1, 3, a), icc(3, 3, c)]), with(None)),
            ("a chunk twice", jpeg(&[icc(1, 2, a), icc(1, 2, a)]), with(None)),
            ("counts disagree", jpeg(&[icc(1, 2, a), icc(2, 3, b)]), with(None)),
            ("numbered from 0", jpeg(&[icc(0, 2, a), icc(1, 2, b)]), with(None)),
            ("count 0", jpeg(&[icc(0, 0, a)]), with(None)),
            ("no chunk header", jpeg(&[seg(0xE2, b"ICC_PROFILE\0\x01")]), with(None)),
            ("another APP2", jpeg(&[seg(0xE2, b"MPF\0\0\0\0\0\0\0\0\0\0\0")]), with(None)),
        ];
        for (name, input, expected) in cases {
            check(name, &input, expected);
        }
    }

    #[test]
    fn reads_exif_orientation() {
        let with = |orientation| Ok(Seen { orientation, ..plain() });
        let not_exif = seg(0xE1, &[&b"http://ns.adobe.com/xap/1.0/\0"[..], &[0; 16]].concat());
        let cases: Vec<Case> = vec![
            ("little endian 6", jpeg(&[exif(6, false)]), with(Orientation::Rotate90)),
            ("big endian 3", jpeg(&[exif(3, true)]), with(Orientation::Rotate180)),
            ("1", jpeg(&[exif(1, true)]), with(Orientation::NoTransforms)),
            ("the first Exif segment wins", jpeg(&[exif(8, false), exif(6, false)]), with(Orientation::Rotate270)),
            ("XMP first, then Exif", jpeg(&[not_exif, exif(2, false)]), with(Orientation::FlipHorizontal)),
            ("out of range", jpeg(&[exif(9, false)]), with(Orientation::NoTransforms)),
            ("Exif without its two zeros", jpeg(&[seg(0xE1, b"ExifII*\0")]), with(Orientation::NoTransforms)),
            ("a broken TIFF", jpeg(&[seg(0xE1, b"Exif\0\0MM\0*\0\0\0\x08")]), with(Orientation::NoTransforms)),
        ];
        for (name, input, expected) in cases {
            check(name, &input, expected);
        }
    }

    #[test]
    fn counts_the_scans_to_the_end() {
        let one = jpeg(&[]);
        let tail = read_header(&one).expect("header").tail();
        assert_eq!(tail, Tail { end: true, scans: 1 });
        // Two more scans, with a table between them; an SOS inside a comment does not count.
        let comment = seg(0xFE, &[0xFF, 0xDA, 0x00, 0x02]);
        let many = [&SOI_[..], &sof(16, 8, 3), &sos(), &DATA, &sos(), &DATA, &comment, &sos(), &DATA, &EOI_].concat();
        assert_eq!(read_header(&many).expect("header").tail(), Tail { end: true, scans: 3 });
        let cut = &many[..many.len() - 2];
        assert_eq!(read_header(cut).expect("header").tail(), Tail { end: false, scans: 3 });
    }

    #[test]
    fn sizes_the_coefficient_buffer_as_libjpeg_allocates_it() {
        // 4:2:0: luma in 2x2 blocks per MCU, chroma one block each.
        let frame = |marker, width, height| Frame {
            marker,
            width,
            height,
            components: 3,
            sampling: [(2, 2), (1, 1), (1, 1), (1, 1)],
        };
        // 100x100: luma 13x13 blocks rounded up to 14x14, chroma 7x7 each.
        assert_eq!(frame(0xC2, 100, 100).coefficient_bytes(), (14 * 14 + 2 * 7 * 7) * 128);
        assert!(frame(0xC2, 100, 100).buffered(3), "progressive");
        assert!(!frame(0xC0, 100, 100).buffered(3), "baseline, interleaved");
        assert!(frame(0xC0, 100, 100).buffered(1), "baseline, one component per scan");
    }

    #[test]
    fn refuses_sampling_factors_libjpeg_refuses() {
        let mut bad = sof(16, 8, 3);
        bad[11] = 0x51; // the first component's factors: 5x1
        let input = [&SOI_[..], &bad, &sos(), &DATA, &EOI_].concat();
        let error = read_header(&input).expect_err("5x1");
        assert!(error.to_string().contains("sampling factors 5x1"), "{error}");
    }
}
