//! Pure, synchronous image algorithms for Tintype's pipelines. No I/O, no async, no jobs:
//! bytes and pixels in, pixels and bytes out, so every function can be tested and
//! benchmarked alone. Callers run them on a blocking pool.
//!
//! - [`error`]: [`ImagingError`], each variant with a stable code (all permanent).
//! - [`limits`]: [`Limits`] and [`probe`]: format and dimensions from the header, checked
//!   before any pixel is decoded.
//! - [`decode`]: decode to 8-bit RGB with EXIF orientation applied, alpha flattened onto
//!   white, CMYK/grayscale/16-bit converted, the ICC profile kept.
//! - [`catalog`]: the print catalog of SPEC §5 as data.
//! - [`geometry`]: stretch or crop (with a focal point) from a source to a target size.
//! - [`resize`]: Lanczos3 resampling in bands of output rows.
//! - [`encode`]: baseline JPEG encoding with JFIF density, ICC profile and quality, fed band
//!   by band.
//! - [`watermark`]: a visible watermark drawn onto output rows.

pub mod catalog;
pub mod decode;
pub mod encode;
pub mod error;
pub mod geometry;
pub mod limits;
pub mod resize;
pub mod watermark;

pub use error::ImagingError;
pub use limits::{ImageInfo, Limits, probe};
