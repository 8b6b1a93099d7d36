use bytes::Bytes;
use imagesize::ImageType;

use super::image_end::image_end;

/// An avatar whose bytes were parsed as a PNG, JPEG, GIF or WebP image with sane
/// dimensions. The declared content type is not trusted: the type comes from the bytes.
#[derive(Debug, Clone)]
pub struct AvatarImage {
    bytes: Bytes,
    content_type: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvatarError {
    #[error("the avatar is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("the avatar must be a PNG, JPEG, GIF or WebP image")]
    NotAnImage,
    #[error("the avatar is empty")]
    Empty,
    #[error("the image dimensions must be between 1 and {max} pixels per side")]
    BadDimensions { max: usize },
    #[error("the image has {pixels} pixels; at most {max} are accepted (e.g. 2048x2048)")]
    TooManyPixels { pixels: usize, max: usize },
    #[error("the avatar has {extra} bytes after the image's end")]
    TrailingData { extra: usize },
}

impl AvatarImage {
    /// The types an avatar may have, exactly: uploads are accepted under these only.
    pub const CONTENT_TYPES: [&'static str; 4] =
        ["image/png", "image/jpeg", "image/gif", "image/webp"];
    pub const MAX_SIDE: usize = 8192;
    /// Pixels at most: a header can claim any size in a few bytes, and whoever decodes
    /// the image (a browser, a thumbnailer) allocates width x height x 4 bytes.
    pub const MAX_PIXELS: usize = 2048 * 2048;

    pub fn parse(bytes: Bytes, max_bytes: usize) -> Result<Self, AvatarError> {
        if bytes.is_empty() {
            return Err(AvatarError::Empty);
        }
        if bytes.len() > max_bytes {
            return Err(AvatarError::TooLarge {
                size: bytes.len(),
                limit: max_bytes,
            });
        }
        let kind = imagesize::image_type(&bytes).map_err(|_| AvatarError::NotAnImage)?;
        let content_type = match kind {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Gif => "image/gif",
            ImageType::Webp => "image/webp",
            _ => return Err(AvatarError::NotAnImage),
        };
        // A real image with a page after it (a polyglot) is refused, not stored.
        let end = image_end(&bytes, kind).ok_or(AvatarError::NotAnImage)?;
        if end < bytes.len() {
            return Err(AvatarError::TrailingData {
                extra: bytes.len() - end,
            });
        }
        // Parsing the header for dimensions rejects files that only start like an image.
        let size = imagesize::blob_size(&bytes).map_err(|_| AvatarError::NotAnImage)?;
        let side_ok = |side: usize| (1..=Self::MAX_SIDE).contains(&side);
        if !side_ok(size.width) || !side_ok(size.height) {
            return Err(AvatarError::BadDimensions {
                max: Self::MAX_SIDE,
            });
        }
        let pixels = size.width * size.height;
        if pixels > Self::MAX_PIXELS {
            return Err(AvatarError::TooManyPixels {
                pixels,
                max: Self::MAX_PIXELS,
            });
        }
        Ok(Self {
            bytes,
            content_type,
        })
    }

    pub fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    pub fn content_type(&self) -> &'static str {
        self.content_type
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid 1x1 PNG.
    pub(crate) const PNG_1X1: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00,
        0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];

    #[test]
    fn accepts_a_real_png_and_takes_type_from_bytes() {
        let avatar = AvatarImage::parse(Bytes::from_static(PNG_1X1), 1024).unwrap();
        assert_eq!(avatar.content_type(), "image/png");
    }

    #[test]
    fn rejects_text_pretending_to_be_an_image() {
        let fake = Bytes::from_static(b"<svg onload=alert(1)>definitely a png</svg>");
        assert_eq!(
            AvatarImage::parse(fake, 1024).unwrap_err(),
            AvatarError::NotAnImage
        );
    }

    #[test]
    fn rejects_a_truncated_png_header() {
        let truncated = Bytes::from_static(&PNG_1X1[..12]);
        assert_eq!(
            AvatarImage::parse(truncated, 1024).unwrap_err(),
            AvatarError::NotAnImage
        );
    }

    #[test]
    fn refuses_a_polyglot_with_a_page_after_the_image() {
        let mut polyglot = PNG_1X1.to_vec();
        polyglot.extend_from_slice(b"<html><script>alert(1)</script></html>");
        assert_eq!(
            AvatarImage::parse(Bytes::from(polyglot), 1024).unwrap_err(),
            AvatarError::TrailingData { extra: 38 }
        );
    }

    #[test]
    fn takes_gif_jpeg_and_webp_from_their_bytes() {
        use crate::domain::image_end::tests::{GIF_1X1, JPEG_1X1, WEBP_1X1};
        for (image, kind) in [
            (GIF_1X1, "image/gif"),
            (JPEG_1X1, "image/jpeg"),
            (WEBP_1X1, "image/webp"),
        ] {
            let avatar = AvatarImage::parse(Bytes::from_static(image), 1024).unwrap();
            assert_eq!(avatar.content_type(), kind);
        }
    }

    #[test]
    fn enforces_the_size_limit_and_emptiness() {
        let err = AvatarImage::parse(Bytes::from_static(PNG_1X1), 10).unwrap_err();
        assert!(matches!(err, AvatarError::TooLarge { limit: 10, .. }));
        assert_eq!(
            AvatarImage::parse(Bytes::new(), 10).unwrap_err(),
            AvatarError::Empty
        );
    }
}
