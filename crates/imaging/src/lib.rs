//! Pure, synchronous image algorithms for Tintype's pipelines. No I/O, no async, no jobs:
//! bytes and pixels in, pixels and bytes out, so every function can be tested and
//! benchmarked alone. Callers run them on a blocking pool.
//!
//! - [`error`]: [`ImagingError`], each variant with a stable code (all permanent).
//! - [`limits`]: [`Limits`] and [`probe`]: format and dimensions from the header, checked
//!   before any pixel is decoded.
//! - [`interrupt`]: [`Interrupt`], a cancel flag and a deadline that long steps check
//!   (decoders on every read of their input, encoders between bands).
//! - [`decode`]: decode to 8-bit RGB with EXIF orientation applied, alpha flattened onto
//!   white, CMYK/grayscale/16-bit converted, an RGB ICC profile kept.
//! - `jpeg` (internal): the JPEG marker walker both of the above read JPEGs with.
//! - `orient` (internal): EXIF orientation applied row by row as pixels are produced.
//! - `cmyk` (internal): CMYK to sRGB through the embedded profile (`moxcms`), or naively.
//! - `heic` (internal, `heic` feature): HEIC/HEIF through the system libheif.
//! - [`exif`]: EXIF into typed fields (time taken, camera, lens, exposure, GPS).
//! - [`colour`]: RGB in an embedded ICC profile (Display P3, Adobe RGB) to sRGB.
//! - [`thumbnail`]: a photo's renditions: one reduced decode, a resize cascade, JPEG /
//!   WebP / AVIF encodes in parallel, and a DCT perceptual hash.
//! - [`catalog`]: the print catalog of SPEC §5 as data.
//! - [`geometry`]: stretch or crop (with a focal point) from a source to a target size.
//! - [`resize`]: Lanczos3 resampling in bands of output rows.
//! - [`encode`]: baseline JPEG encoding with JFIF density, ICC profile and quality, fed band
//!   by band.
//! - [`watermark`]: a visible watermark drawn onto output rows.

pub mod catalog;
mod cmyk;
pub mod colour;
pub mod decode;
pub mod encode;
pub mod error;
pub mod exif;
pub mod geometry;
#[cfg(feature = "heic")]
mod heic;
pub mod interrupt;
mod jpeg;
pub mod limits;
mod orient;
pub mod resize;
pub mod thumbnail;
pub mod watermark;

pub use error::{ImagingError, Step};
pub use interrupt::Interrupt;
pub use limits::{ImageInfo, Limits, probe};
