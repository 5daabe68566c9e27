//! Everything imaging can fail with. Each variant has a stable public code; all are
//! permanent (the same input fails the same way every time).

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
        }
    }
}
