//! Everything imaging can fail with. Each variant has a stable public code; all are
//! permanent (the same input fails the same way every time), but for
//! [`ImagingError::Cancelled`], which is the caller's own doing.

/// An imaging failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImagingError {
    /// The input has no bytes.
    #[error("the file is empty")]
    Empty,
    /// The input is larger than the byte limit.
    #[error("the file has {bytes} bytes; the limit is {limit}")]
    FileTooLarge {
        /// Size of the input.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A side or the pixel count is over the limit (checked from the header).
    #[error("the image is {width}x{height}; {reason}")]
    ImageTooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// Which limit.
        reason: String,
    },
    /// Recognised, but not a format this build decodes (AVIF, GIF, ...).
    #[error("unsupported image format: {0}")]
    UnsupportedFormat(String),
    /// Not an image at all.
    #[error("not an image")]
    NotAnImage,
    /// An image whose data is damaged or truncated.
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// A target or crop that cannot be made (zero size, focal point outside 0..1, ...).
    #[error("invalid geometry: {0}")]
    InvalidGeometry(String),
    /// The encoder failed.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// Decoding would cost more than the limits allow although the size is within them:
    /// too many progressive scans, metadata too large to read.
    #[error("the image is too complex to decode: {0}")]
    TooComplex(String),
    /// A step ran past its deadline ([`crate::Interrupt::within`]).
    #[error("{} took longer than its limit of {limit_secs} s", step.name())]
    TimedOut {
        /// The step that ran out of time.
        step: Step,
        /// Its limit, in seconds.
        limit_secs: u64,
    },
    /// The caller asked the work to stop ([`crate::Interrupt::when`]). Callers turn this
    /// into their own cancellation; it is not an input's fault.
    #[error("stopped on request")]
    Cancelled,
}

/// A long step that an [`crate::Interrupt`] can stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Decoding an input.
    Decode,
    /// Resizing and encoding outputs.
    Encode,
}

impl Step {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Step::Decode => "decoding",
            Step::Encode => "encoding",
        }
    }
}

tintype_codes::codes! {
    /// The input has no bytes.
    EMPTY_FILE = ("empty_file", InvalidInput);
    /// The input is larger than the byte limit.
    FILE_TOO_LARGE = ("file_too_large", TooLarge);
    /// A side or the pixel count is over the limit (from the header, before decoding).
    IMAGE_TOO_LARGE = ("image_too_large", TooLarge);
    /// A format this build does not decode (AVIF, GIF, BMP, SVG; HEIC without the `heic` feature).
    UNSUPPORTED_FORMAT = ("unsupported_format", Unsupported);
    /// Not an image at all.
    NOT_AN_IMAGE = ("not_an_image", Unsupported);
    /// Damaged or truncated image data.
    CORRUPT_IMAGE = ("corrupt_image", InvalidInput);
    /// A target or crop that cannot be made.
    INVALID_GEOMETRY = ("invalid_geometry", InvalidInput);
    /// The encoder failed.
    ENCODE_FAILED = ("encode_failed", Internal);
    /// Within the size limits, but too costly to decode (progressive scans over the limit, oversized metadata).
    IMAGE_TOO_COMPLEX = ("image_too_complex", TooLarge);
    /// Decoding ran past its deadline (`decode_timeout_secs`).
    DECODE_TIMEOUT = ("decode_timeout", TooLarge);
    /// Resizing and encoding ran past its deadline (`encode_timeout_secs`).
    ENCODE_TIMEOUT = ("encode_timeout", TooLarge);
    /// The work was stopped by its caller (a job's cancel); never a job's final error.
    IMAGING_STOPPED = ("imaging_stopped", Conflict);
}

impl tintype_codes::Coded for ImagingError {
    fn code(&self) -> tintype_codes::Code {
        match self {
            ImagingError::Empty => EMPTY_FILE,
            ImagingError::FileTooLarge { .. } => FILE_TOO_LARGE,
            ImagingError::ImageTooLarge { .. } => IMAGE_TOO_LARGE,
            ImagingError::UnsupportedFormat(_) => UNSUPPORTED_FORMAT,
            ImagingError::NotAnImage => NOT_AN_IMAGE,
            ImagingError::Corrupt(_) => CORRUPT_IMAGE,
            ImagingError::InvalidGeometry(_) => INVALID_GEOMETRY,
            ImagingError::Encode(_) => ENCODE_FAILED,
            ImagingError::TooComplex(_) => IMAGE_TOO_COMPLEX,
            ImagingError::TimedOut { step: Step::Decode, .. } => DECODE_TIMEOUT,
            ImagingError::TimedOut { step: Step::Encode, .. } => ENCODE_TIMEOUT,
            ImagingError::Cancelled => IMAGING_STOPPED,
        }
    }
}
