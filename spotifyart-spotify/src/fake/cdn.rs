//! The image CDN (Spotify's `i.scdn.co`): every album's cover at 640, 300
//! and 64 pixels, with Spotify's size prefixes in the path, served from the
//! fake's own address so clients can read them in tests. Each album's cover
//! is two bands of colours derived from its id (three quarters and one
//! quarter of the rows), so covers differ between albums and are the same
//! in every run. No token is needed, as on the real CDN.

use http::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::reply::Reply;

/// Sides and the path prefix Spotify's CDN uses for each, largest first
/// (the order album objects list them in).
const SIZES: [(u32, &str); 3] = [
    (640, "ab67616d0000b273"),
    (300, "ab67616d00001e02"),
    (64, "ab67616d00004851"),
];

/// Where the cover of `album_id` at `side` pixels is (`side` one of 640,
/// 300, 64).
pub(super) fn image_path(album_id: &str, side: u32) -> Option<String> {
    let (_, prefix) = SIZES.iter().find(|(s, _)| *s == side)?;
    Some(format!("/image/{prefix}{album_id}"))
}

/// An album object's `images`: the three sizes, largest first.
pub(super) fn album_images(base: &Url, album_id: &str) -> Value {
    let images: Vec<Value> = SIZES
        .iter()
        .map(|(side, prefix)| {
            json!({
                "url": format!("{base}image/{prefix}{album_id}"),
                "height": side,
                "width": side,
            })
        })
        .collect();
    Value::Array(images)
}

/// The side and album id an `/image/...` path names.
pub(super) fn parse(path: &str) -> Option<(u32, &str)> {
    let rest = path.strip_prefix("/image/")?;
    SIZES.iter().find_map(|(side, prefix)| {
        let id = rest.strip_prefix(prefix)?;
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some((*side, id))
    })
}

/// The two colours of an album's cover: the main one (three quarters of
/// the rows) and the accent; saturated and mid-light, so they survive JPEG
/// and differ from album to album.
pub fn album_colours(album_id: &str) -> ([u8; 3], [u8; 3]) {
    let d = Sha256::digest(album_id.as_bytes());
    let colour = |hue_byte: u8, light_byte: u8| {
        let hue = hue_byte as f32 / 256.0 * 360.0;
        let lightness = 0.35 + light_byte as f32 / 255.0 * 0.3;
        hsl(hue, 0.75, lightness)
    };
    (colour(d[0], d[1]), colour(d[2].wrapping_add(128), d[3]))
}

fn hsl(h: f32, s: f32, l: f32) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let m = l - c / 2.0;
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    [r, g, b].map(|v| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8)
}

/// The cover of `album_id` at `side` pixels, as a JPEG (as the CDN sends).
pub(super) fn cover(album_id: &str, side: u32) -> Reply {
    let (main, accent) = album_colours(album_id);
    let image = image::RgbImage::from_fn(side, side, |_, y| {
        image::Rgb(if y < side * 3 / 4 { main } else { accent })
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .expect("JPEG");
    Response::builder()
        .status(200)
        .header("content-type", "image/jpeg")
        .header("cache-control", "public, max-age=31536000")
        .body(jpeg.into_inner())
        .expect("response")
}

/// The CDN's answer for an image it does not have (no JSON error body:
/// the CDN is not the Web API).
pub(super) fn not_found() -> Reply {
    Response::builder()
        .status(404)
        .header("content-type", "text/plain")
        .body(b"Not Found".to_vec())
        .expect("response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_and_covers_decode() {
        let id = "4aawyAB9vmqN3uQ7FjRGTy";
        for side in [640, 300, 64] {
            let path = image_path(id, side).unwrap();
            assert_eq!(parse(&path), Some((side, id)));
        }
        assert_eq!(parse("/image/ab67616d00004851"), None);
        assert_eq!(parse("/image/nope"), None);
        let jpeg = cover(id, 64).into_body();
        let decoded = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 64));
        assert_ne!(album_colours(id), album_colours("another album id 00000"));
        // Padded past any cap, it is still an image (what makes the
        // oversized fault a test of the cap, not of the decoder).
        let mut padded = jpeg.clone();
        padded.resize(4 << 20, 0);
        assert!(spotifyart_core::mood::covers::dominant_colours(&padded).is_ok());
    }
}
