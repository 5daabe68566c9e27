//! EXIF read into typed fields (`kamadak-exif`): when and with what a photo was taken and
//! where. [`read`] never fails: a file without EXIF, or with a damaged block, gives what
//! could be read (fields it cannot parse stay `None`), since a photo library keeps a photo
//! whatever its metadata says.
//!
//! Where the block comes from: a JPEG's first `Exif` APP1 segment, as the `jpeg` marker
//! walker finds it (the same walk the decoder trusts); the container for PNG (`eXIf`),
//! WebP (`EXIF` chunk), TIFF (the file is the block) and HEIF. Times: `DateTimeOriginal`
//! (else `DateTimeDigitized`, else `DateTime`) with its sub-seconds, and the offset from
//! `OffsetTimeOriginal` (else `OffsetTime`); without an offset the wall time is kept as if
//! it were UTC and [`ExifFields::taken_offset_minutes`] is `None`. GPS: degrees, minutes
//! and seconds to signed decimal degrees; the altitude is negative below sea level.

use std::io::Cursor;

use chrono::{DateTime, NaiveDate, Utc};
use exif::{Exif, In, Tag, Value};

use crate::jpeg;
use crate::limits::Format;

/// The EXIF fields a photo library keeps, each `None` when absent or unreadable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExifFields {
    /// When the photo was taken (UTC when the offset is known; otherwise the camera's
    /// wall time read as UTC).
    pub taken_at: Option<DateTime<Utc>>,
    /// The camera's UTC offset in minutes, when the file says.
    pub taken_offset_minutes: Option<i32>,
    /// Camera maker (`Make`).
    pub make: Option<String>,
    /// Camera model (`Model`).
    pub model: Option<String>,
    /// Lens (`LensModel`).
    pub lens: Option<String>,
    /// Exposure time in seconds.
    pub exposure_time: Option<f64>,
    /// Aperture (`FNumber`).
    pub f_number: Option<f64>,
    /// ISO (`PhotographicSensitivity`).
    pub iso: Option<u32>,
    /// Focal length in millimetres.
    pub focal_length_mm: Option<f64>,
    /// Latitude in decimal degrees, north positive.
    pub gps_latitude: Option<f64>,
    /// Longitude in decimal degrees, east positive.
    pub gps_longitude: Option<f64>,
    /// Altitude in metres, negative below sea level.
    pub gps_altitude: Option<f64>,
    /// The EXIF orientation, 1..=8.
    pub orientation: Option<u16>,
}

/// Reads the EXIF fields of an image of `format` (as [`crate::probe`] named it).
pub fn read(bytes: &[u8], format: Format) -> ExifFields {
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    let parsed = match format {
        Format::Jpeg => match jpeg::read_header(bytes).ok().and_then(|h| h.exif) {
            Some(tiff) => reader.read_raw(tiff.to_vec()),
            None => return ExifFields::default(),
        },
        _ => reader.read_from_container(&mut Cursor::new(bytes)),
    };
    let exif = match parsed {
        Ok(exif) => exif,
        Err(exif::Error::PartialResult(partial)) => partial.into_inner().0,
        Err(_) => return ExifFields::default(),
    };
    fields(&exif)
}

/// The typed fields of a parsed block.
fn fields(exif: &Exif) -> ExifFields {
    let field = |tag| exif.get_field(tag, In::PRIMARY).map(|f| &f.value);
    let text = |tag| field(tag).and_then(ascii);
    let rational = |tag| field(tag).and_then(first_rational);
    let (taken_at, taken_offset_minutes) = taken(exif);
    ExifFields {
        taken_at,
        taken_offset_minutes,
        make: text(Tag::Make),
        model: text(Tag::Model),
        lens: text(Tag::LensModel),
        exposure_time: rational(Tag::ExposureTime),
        f_number: rational(Tag::FNumber),
        iso: field(Tag::PhotographicSensitivity).and_then(|v| v.get_uint(0)).filter(|&iso| iso > 0),
        focal_length_mm: rational(Tag::FocalLength),
        gps_latitude: coordinate(exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S', 90.0),
        gps_longitude: coordinate(exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W', 180.0),
        gps_altitude: altitude(exif),
        orientation: field(Tag::Orientation)
            .and_then(|v| v.get_uint(0))
            .and_then(|o| u16::try_from(o).ok())
            .filter(|o| (1..=8).contains(o)),
    }
}

/// The first ASCII value, trimmed of spaces and NULs; `None` when empty or not UTF-8.
fn ascii(value: &Value) -> Option<String> {
    let Value::Ascii(parts) = value else { return None };
    let text = std::str::from_utf8(parts.first()?).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    // A library column, not a document: keep it short and printable.
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    (!text.is_empty()).then_some(text)
}

/// The first value as a float, for RATIONAL, SRATIONAL and integer fields; `None` for a
/// zero denominator or a value that is not finite and positive-or-zero.
fn first_rational(value: &Value) -> Option<f64> {
    let v = match value {
        Value::Rational(r) => r.first().filter(|r| r.denom != 0)?.to_f64(),
        Value::SRational(r) => r.first().filter(|r| r.denom != 0)?.to_f64(),
        other => f64::from(other.get_uint(0)?),
    };
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// When the photo was taken, and the offset if known.
fn taken(exif: &Exif) -> (Option<DateTime<Utc>>, Option<i32>) {
    let pairs = [
        (Tag::DateTimeOriginal, Tag::SubSecTimeOriginal, Tag::OffsetTimeOriginal),
        (Tag::DateTimeDigitized, Tag::SubSecTimeDigitized, Tag::OffsetTimeDigitized),
        (Tag::DateTime, Tag::SubSecTime, Tag::OffsetTime),
    ];
    let raw = |tag| match exif.get_field(tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Ascii(parts)) => parts.first().cloned(),
        _ => None,
    };
    for (time_tag, subsec_tag, offset_tag) in pairs {
        let Some(mut time) = raw(time_tag).and_then(|t| exif::DateTime::from_ascii(&t).ok()) else { continue };
        if let Some(subsec) = raw(subsec_tag) {
            let _ = time.parse_subsec(&subsec);
        }
        if let Some(offset) = raw(offset_tag).or_else(|| raw(Tag::OffsetTime)) {
            let _ = time.parse_offset(&offset);
        }
        if let Some(at) = instant(&time) {
            return (Some(at), time.offset.map(i32::from));
        }
    }
    (None, None)
}

/// The instant an EXIF time names: its wall time minus its offset (none: as UTC).
fn instant(t: &exif::DateTime) -> Option<DateTime<Utc>> {
    let date = NaiveDate::from_ymd_opt(i32::from(t.year), u32::from(t.month), u32::from(t.day))?;
    let wall = date.and_hms_nano_opt(
        u32::from(t.hour),
        u32::from(t.minute),
        u32::from(t.second),
        t.nanosecond.unwrap_or(0).min(999_999_999),
    )?;
    let offset = chrono::Duration::minutes(i64::from(t.offset.unwrap_or(0)));
    Some(wall.checked_sub_signed(offset)?.and_utc())
}

/// A GPS coordinate as signed decimal degrees, within ±`max`.
fn coordinate(exif: &Exif, tag: Tag, ref_tag: Tag, negative: u8, max: f64) -> Option<f64> {
    let Value::Rational(dms) = &exif.get_field(tag, In::PRIMARY)?.value else { return None };
    let part = |i: usize| dms.get(i).filter(|r| r.denom != 0).map(|r| r.to_f64());
    let degrees = part(0)? + part(1).unwrap_or(0.0) / 60.0 + part(2).unwrap_or(0.0) / 3600.0;
    let sign = match exif.get_field(ref_tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Ascii(parts)) if parts.first().and_then(|p| p.first()) == Some(&negative) => -1.0,
        _ => 1.0,
    };
    let value = sign * degrees;
    (value.is_finite() && value.abs() <= max).then_some(value)
}

/// The GPS altitude in metres (reference 1 = below sea level).
fn altitude(exif: &Exif) -> Option<f64> {
    let metres = first_rational(&exif.get_field(Tag::GPSAltitude, In::PRIMARY)?.value)?;
    let below = matches!(
        exif.get_field(Tag::GPSAltitudeRef, In::PRIMARY).map(|f| &f.value),
        Some(Value::Byte(b)) if b.first() == Some(&1)
    );
    Some(if below { -metres } else { metres })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_read_is_all_none() {
        assert_eq!(read(b"\xFF\xD8\xFF\xD9", Format::Jpeg), ExifFields::default());
        assert_eq!(read(b"not a tiff at all", Format::Tiff), ExifFields::default());
    }

    #[test]
    fn instants_subtract_the_offset() {
        let mut t = exif::DateTime::from_ascii(b"2024:07:14 18:30:05").unwrap();
        assert_eq!(instant(&t).unwrap().to_rfc3339(), "2024-07-14T18:30:05+00:00");
        t.parse_offset(b"+02:00").unwrap();
        assert_eq!(instant(&t).unwrap().to_rfc3339(), "2024-07-14T16:30:05+00:00");
        let bad = exif::DateTime::from_ascii(b"2024:13:40 25:61:61").unwrap();
        assert_eq!(instant(&bad), None, "out-of-range parts are not a time");
    }
}
