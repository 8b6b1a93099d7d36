//! Where an image file ends by its own structure, so bytes after it (an HTML or SVG page
//! appended to a real PNG: a polyglot, security review I2) are refused. Only the
//! containers are walked, never the pixels: no allocation beyond the bytes themselves.
//! Each walker follows its format's specification: PNG (ISO/IEC 15948, chunks up to
//! `IEND`), GIF89a (blocks up to the trailer `0x3B`), JPEG (ITU T.81 B.1: marker segments,
//! entropy-coded data up to `EOI`), WebP (RIFF: the size in its header).
use imagesize::ImageType;

/// The length of the image at the start of `bytes`, or `None` when its structure is
/// broken (truncated, or a block that is none of the format's).
pub fn image_end(bytes: &[u8], kind: ImageType) -> Option<usize> {
    match kind {
        ImageType::Png => png_end(bytes),
        ImageType::Gif => gif_end(bytes),
        ImageType::Jpeg => jpeg_end(bytes),
        ImageType::Webp => webp_end(bytes),
        _ => None,
    }
}

fn u32_be(bytes: &[u8], at: usize) -> Option<usize> {
    let word = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes(word.try_into().ok()?) as usize)
}

fn png_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 8; // the signature
    loop {
        let length = u32_be(bytes, at)?;
        let kind = bytes.get(at + 4..at + 8)?;
        let next = at.checked_add(12)?.checked_add(length)?; // length, type, data, CRC
        if next > bytes.len() {
            return None;
        }
        if kind == b"IEND" {
            return Some(next);
        }
        at = next;
    }
}

/// Skips a GIF's data sub-blocks (a size byte, that many bytes, ... a zero size).
fn gif_sub_blocks(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let size = *bytes.get(at)? as usize;
        at += 1 + size;
        if size == 0 {
            return Some(at);
        }
    }
}

fn gif_end(bytes: &[u8]) -> Option<usize> {
    let color_table = |packed: u8| {
        if packed & 0x80 != 0 {
            3 << ((packed & 0x07) + 1)
        } else {
            0
        }
    };
    // Header (6) and logical screen descriptor (7), then the global color table.
    let mut at = 13 + color_table(*bytes.get(10)?);
    loop {
        match *bytes.get(at)? {
            0x3B => return Some(at + 1),
            // An extension: its label, then its sub-blocks.
            0x21 => at = gif_sub_blocks(bytes, at + 2)?,
            // An image: its descriptor, local color table, LZW code size, sub-blocks.
            0x2C => {
                let packed = *bytes.get(at + 9)?;
                at = gif_sub_blocks(bytes, at + 10 + color_table(packed) + 1)?;
            }
            _ => return None,
        }
    }
}

fn jpeg_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 2; // SOI
    loop {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        // Markers may be preceded by fill bytes 0xFF.
        while *bytes.get(at + 1)? == 0xFF {
            at += 1;
        }
        let marker = *bytes.get(at + 1)?;
        at += 2;
        match marker {
            0xD9 => return Some(at),        // EOI
            0x01 | 0xD0..=0xD7 => continue, // TEM, RSTn: no length
            _ => {}
        }
        let length = u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as usize;
        at = at.checked_add(length)?;
        if marker == 0xDA {
            // Entropy-coded data: a 0xFF in it is followed by 0x00 (stuffing) or a
            // restart marker; anything else is the next marker.
            loop {
                let found = bytes.get(at..)?.iter().position(|&b| b == 0xFF)?;
                at += found;
                match *bytes.get(at + 1)? {
                    0x00 | 0xD0..=0xD7 => at += 2,
                    _ => break,
                }
            }
        }
    }
}

fn webp_end(bytes: &[u8]) -> Option<usize> {
    let size = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
    let end = size.checked_add(8)?;
    (end <= bytes.len()).then_some(end)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::avatar::tests::PNG_1X1;

    /// A 1x1 GIF89a: header, screen with a 2-color table, a graphic control extension,
    /// one image, the trailer.
    pub(crate) const GIF_1X1: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00\
!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

    /// A JPEG's structure: SOI, SOF0 (1x1, one component), SOS, entropy data with a
    /// stuffed 0xFF00 and a restart marker, EOI.
    pub(crate) const JPEG_1X1: &[u8] = &[
        0xFF, 0xD8, // SOI
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00, // SOF0
        0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, // SOS
        0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, // entropy-coded data
        0xFF, 0xD9, // EOI
    ];

    /// A 1x1 lossless WebP: RIFF, `VP8L` chunk of 5 bytes (padded to 6).
    pub(crate) const WEBP_1X1: &[u8] =
        b"RIFF\x12\x00\x00\x00WEBPVP8L\x05\x00\x00\x00\x2f\x00\x00\x00\x00\x00";

    #[test]
    fn each_format_ends_where_its_structure_says() {
        for (image, kind) in [
            (PNG_1X1, ImageType::Png),
            (GIF_1X1, ImageType::Gif),
            (JPEG_1X1, ImageType::Jpeg),
            (WEBP_1X1, ImageType::Webp),
        ] {
            assert_eq!(image_end(image, kind), Some(image.len()), "{kind:?}");
            let mut polyglot = image.to_vec();
            polyglot.extend_from_slice(b"<svg onload=alert(1)>");
            assert_eq!(image_end(&polyglot, kind), Some(image.len()), "{kind:?}");
            let truncated = &image[..image.len() - 1];
            assert_eq!(image_end(truncated, kind), None, "{kind:?} truncated");
        }
    }
}
