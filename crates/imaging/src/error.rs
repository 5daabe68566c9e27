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
    /// Recognised, but not a format this build decodes (HEIC, AVIF, GIF, ...).
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

impl ImagingError {
    /// Stable public code.
    pub fn code(&self) -> &'static str {
        match self {
            ImagingError::Empty => "empty_file",
            ImagingError::FileTooLarge { .. } => "file_too_large",
            ImagingError::ImageTooLarge { .. } => "image_too_large",
            ImagingError::UnsupportedFormat(_) => "unsupported_format",
            ImagingError::NotAnImage => "not_an_image",
            ImagingError::Corrupt(_) => "corrupt_image",
            ImagingError::InvalidGeometry(_) => "invalid_geometry",
            ImagingError::Encode(_) => "encode_failed",
        }
    }
}
