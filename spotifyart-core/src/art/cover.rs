//! A painting as a playlist cover: a square JPEG whose base64 form fits a
//! byte budget (Spotify takes at most 256 KB of base64). The quality is
//! lowered step by step until it fits, then the side halved, so the
//! largest picture that fits is the one kept.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageReader, RgbImage};

use crate::{Error, Result};

/// A cover ready to upload or write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoverJpeg {
    /// The JPEG file.
    pub bytes: Vec<u8>,
    /// Its side in pixels (covers are square).
    pub side: u32,
    /// The JPEG quality it was encoded at (1–100).
    pub quality: u8,
}

impl CoverJpeg {
    /// Bytes of the base64 form (what Spotify's limit counts).
    pub fn base64_len(&self) -> usize {
        base64_len(self.bytes.len())
    }
}

/// Qualities tried, best first; below 40 blocks show, so a smaller side
/// is tried instead.
const QUALITIES: [u8; 6] = [92, 85, 75, 65, 55, 45];
/// The smallest side tried.
const MIN_SIDE: u32 = 64;

fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// `png` cropped to its centred square and encoded as the best JPEG whose
/// base64 form takes at most `max_base64` bytes.
pub fn cover_jpeg(png: &[u8], max_base64: usize) -> Result<CoverJpeg> {
    let image = ImageReader::new(Cursor::new(png))
        .with_guessed_format()
        .map_err(|e| Error::invalid(format!("the painting cannot be read: {e}")))?
        .decode()
        .map_err(|e| Error::invalid(format!("the painting cannot be read: {e}")))?;
    let (w, h) = (image.width(), image.height());
    let side = w.min(h);
    if side == 0 {
        return Err(Error::invalid("the painting is empty"));
    }
    let square = image
        .crop_imm((w - side) / 2, (h - side) / 2, side, side)
        .to_rgb8();
    let mut side = side;
    loop {
        let scaled = if side == square.width() {
            square.clone()
        } else {
            DynamicImage::ImageRgb8(square.clone())
                .resize_exact(side, side, image::imageops::FilterType::Lanczos3)
                .to_rgb8()
        };
        for quality in QUALITIES {
            let bytes = encode(&scaled, quality)?;
            if base64_len(bytes.len()) <= max_base64 {
                return Ok(CoverJpeg {
                    bytes,
                    side,
                    quality,
                });
            }
        }
        if side / 2 < MIN_SIDE {
            return Err(Error::invalid(format!(
                "no JPEG of the painting fits {max_base64} bytes of base64, \
                 even at {side}×{side} pixels and quality {}",
                QUALITIES[QUALITIES.len() - 1]
            )));
        }
        side /= 2;
    }
}

fn encode(image: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .map_err(|e| Error::internal(format!("encoding the cover: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noisy 300×200 PNG (noise is what compresses worst).
    fn noisy_png() -> Vec<u8> {
        let mut s = 7u32;
        let img = RgbImage::from_fn(300, 200, |_, _| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            image::Rgb([(s >> 24) as u8, (s >> 16) as u8, (s >> 8) as u8])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn covers_are_square_jpegs_within_the_budget() {
        let png = noisy_png();
        let roomy = cover_jpeg(&png, 256 * 1024).unwrap();
        assert_eq!((roomy.side, roomy.quality), (200, 92));
        assert_eq!(&roomy.bytes[..2], &[0xFF, 0xD8], "a JPEG");
        let decoded = image::load_from_memory(&roomy.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (200, 200));

        // A tight budget lowers the quality, then the side.
        let tight = cover_jpeg(&png, roomy.base64_len() * 2 / 3).unwrap();
        assert!(tight.quality < 92 || tight.side < 200, "{tight:?}");
        assert!(tight.base64_len() <= roomy.base64_len() * 2 / 3);
        let smaller = cover_jpeg(&png, 12_000).unwrap();
        assert!(
            smaller.side < 200 && smaller.base64_len() <= 12_000,
            "{:?}",
            (smaller.side, smaller.quality)
        );

        let e = cover_jpeg(&png, 100).unwrap_err().to_string();
        assert!(e.contains("no JPEG of the painting fits 100 bytes"), "{e}");
        let e = cover_jpeg(b"not a png", 1000).unwrap_err().to_string();
        assert!(e.contains("cannot be read"), "{e}");
    }
}
