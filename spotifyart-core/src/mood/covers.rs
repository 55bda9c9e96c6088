//! Cover colours: the dominant colours of album covers, when the caller has
//! the image bytes (the core never fetches: the Web API source in
//! `spotifyart-spotify` reads Spotify's image CDN, tests use local images). They feed the palette of `auto`
//! moods and, through the `covers` model, nudge the mood: lighter covers
//! read as more pleasant, more saturated ones as more aroused (Valdez &
//! Mehrabian 1994, "Effects of color on emotions": pleasure ≈
//! 0.69·brightness plus 0.22·saturation, arousal ≈ 0.60·saturation minus
//! 0.31·brightness). No
//! public data pairs covers with measured valence, so the model's weight is
//! a heuristic, like behaviour's, and kept small.

use image::ImageReader;

use super::circumplex::{Rgb, Swatch};
use super::{Mood, MoodModel, PointMean};
use crate::profile::{CoverColour, ListeningProfile, Signal};
use crate::{Error, Result};

/// Cover bytes accepted (Spotify's 640² JPEGs are ~100 KB).
pub const MAX_COVER_BYTES: usize = 8 << 20;
/// Largest cover side decoded.
const MAX_SIDE: u32 = 4096;
/// Colours kept per cover.
const CLUSTERS: usize = 4;
/// Typical cover lightness and saturation (the neutral point).
const NEUTRAL_LIGHTNESS: f32 = 0.45;
const NEUTRAL_SATURATION: f32 = 0.35;
/// Confidence of a profile fully covered by many covers.
const MAX_CONFIDENCE: f32 = 0.3;

/// The dominant colours of an image (JPEG or PNG), largest share first:
/// k-means over a 48² thumbnail, seeded deterministically, so the same
/// bytes always give the same colours.
pub fn dominant_colours(bytes: &[u8]) -> Result<Vec<CoverColour>> {
    if bytes.len() > MAX_COVER_BYTES {
        return Err(Error::invalid(format!(
            "cover image is {} bytes; the limit is {MAX_COVER_BYTES}",
            bytes.len()
        )));
    }
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::invalid(format!("cover image: {e}")))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_SIDE as u64 * MAX_SIDE as u64 * 4);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| Error::invalid(format!("cover image: {e}")))?;
    let thumb = image::imageops::thumbnail(&image.to_rgb8(), 48, 48);
    let pixels: Vec<[f32; 3]> = thumb
        .pixels()
        .map(|p| [p[0] as f32, p[1] as f32, p[2] as f32])
        .collect();
    Ok(kmeans(&pixels))
}

fn dist2(a: [f32; 3], b: [f32; 3]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)
}

fn kmeans(pixels: &[[f32; 3]]) -> Vec<CoverColour> {
    if pixels.is_empty() {
        return Vec::new();
    }
    let n = pixels.len() as f32;
    let mean = pixels.iter().fold([0.0; 3], |acc, p| {
        [acc[0] + p[0] / n, acc[1] + p[1] / n, acc[2] + p[2] / n]
    });
    // Farthest-point seeding from the mean: deterministic and spread out.
    let mut centres: Vec<[f32; 3]> = Vec::with_capacity(CLUSTERS);
    while centres.len() < CLUSTERS {
        let next = pixels.iter().copied().max_by(|a, b| {
            let d = |p: &[f32; 3]| {
                centres
                    .iter()
                    .map(|c| dist2(*p, *c))
                    .fold(dist2(*p, mean), f32::min)
            };
            d(a).total_cmp(&d(b))
        });
        match next {
            Some(p) if !centres.contains(&p) => centres.push(p),
            _ => break,
        }
    }
    let mut counts = vec![0usize; centres.len()];
    for _ in 0..10 {
        let mut sums = vec![[0f32; 3]; centres.len()];
        counts.iter_mut().for_each(|c| *c = 0);
        for p in pixels {
            let k = (0..centres.len())
                .min_by(|&i, &j| dist2(*p, centres[i]).total_cmp(&dist2(*p, centres[j])))
                .unwrap_or(0);
            counts[k] += 1;
            for (s, v) in sums[k].iter_mut().zip(p) {
                *s += v;
            }
        }
        for (k, c) in centres.iter_mut().enumerate() {
            if counts[k] > 0 {
                let m = counts[k] as f32;
                *c = [sums[k][0] / m, sums[k][1] / m, sums[k][2] / m];
            }
        }
    }
    let mut out: Vec<CoverColour> = centres
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 0)
        .map(|(c, k)| CoverColour {
            color: Rgb(c[0].round() as u8, c[1].round() as u8, c[2].round() as u8),
            share: *k as f32 / n,
        })
        .collect();
    out.sort_by(|a, b| b.share.total_cmp(&a.share));
    out
}

/// HSL lightness and saturation in [0, 1].
fn lightness_saturation(c: Rgb) -> (f32, f32) {
    let [r, g, b] = [c.0, c.1, c.2].map(|v| v as f32 / 255.0);
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let l = (max + min) / 2.0;
    let s = if max == min {
        0.0
    } else {
        (max - min) / (1.0 - (2.0 * l - 1.0).abs()).max(1e-6)
    };
    (l, s.min(1.0))
}

/// Valence and arousal in [-1, 1] that a cover's colours suggest.
pub fn colour_point(colours: &[CoverColour]) -> Option<(f32, f32)> {
    let total: f32 = colours.iter().map(|c| c.share).sum();
    if total <= 0.0 {
        return None;
    }
    let (mut v, mut a) = (0.0f32, 0.0f32);
    for c in colours {
        let (l, s) = lightness_saturation(c.color);
        let (dl, ds) = (l - NEUTRAL_LIGHTNESS, s - NEUTRAL_SATURATION);
        v += c.share * 2.0 * (0.69 * dl + 0.22 * ds);
        a += c.share * 2.0 * (-0.31 * dl + 0.60 * ds);
    }
    Some(((v / total).clamp(-1.0, 1.0), (a / total).clamp(-1.0, 1.0)))
}

/// Reads the covers of `profile`'s most-played tracks through `fetch`
/// (cover URL → image bytes; `None` when unavailable) and stores their
/// dominant colours on the tracks. At most `max_covers` distinct images
/// are read; unreadable ones are skipped. Returns how many were read.
///
/// For a caller that reads synchronously; one that reads asynchronously
/// (the Web API source) calls the two halves itself: [`covers_to_read`],
/// then [`set_cover_colours`] with the colours [`dominant_colours`] found.
pub fn attach_cover_colours(
    profile: &mut ListeningProfile,
    mut fetch: impl FnMut(&str) -> Option<Vec<u8>>,
    max_covers: usize,
) -> usize {
    let mut read: Vec<(String, Vec<CoverColour>)> = Vec::new();
    for url in covers_to_read(profile, max_covers) {
        let Some(bytes) = fetch(&url) else { continue };
        match dominant_colours(&bytes) {
            Ok(colours) if !colours.is_empty() => read.push((url, colours)),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "cover skipped"),
        }
    }
    set_cover_colours(profile, &read)
}

/// The cover URLs worth reading: those of `profile`'s tracks without
/// colours yet, each once, most-played first (a cover's weight is the sum
/// of its tracks'), at most `max_covers`. The covers that shape the
/// palette most are read first, so a small budget loses little.
pub fn covers_to_read(profile: &ListeningProfile, max_covers: usize) -> Vec<String> {
    let mut urls: Vec<(String, f32)> = Vec::new();
    for (t, w) in profile.weighted_tracks() {
        if let Some(url) = &t.cover_url
            && t.cover_colours.is_empty()
        {
            match urls.iter_mut().find(|(u, _)| u == url) {
                Some((_, total)) => *total += w,
                None => urls.push((url.clone(), w)),
            }
        }
    }
    // Stable: equal weights keep the profile's order.
    urls.sort_by(|a, b| b.1.total_cmp(&a.1));
    urls.into_iter()
        .take(max_covers)
        .map(|(url, _)| url)
        .collect()
}

/// Stores `read` (cover URL → its dominant colours) on every track with
/// that cover, in every time range, and updates the profile's signals.
/// Returns how many covers had colours to store.
pub fn set_cover_colours(
    profile: &mut ListeningProfile,
    read: &[(String, Vec<CoverColour>)],
) -> usize {
    let read: Vec<&(String, Vec<CoverColour>)> =
        read.iter().filter(|(_, c)| !c.is_empty()).collect();
    for range in crate::profile::TimeRange::ALL {
        for t in profile.top_tracks.get_mut(range).iter_mut() {
            if let Some((_, colours)) = read.iter().find(|(u, _)| Some(u) == t.cover_url.as_ref()) {
                t.cover_colours = colours.clone();
            }
        }
    }
    profile.signals = profile.detect_signals();
    read.len()
}

/// The profile's dominant cover colours over its listening, largest first.
pub fn profile_colours(profile: &ListeningProfile, n: usize) -> Vec<Rgb> {
    let mut pooled: Vec<(Rgb, f32)> = Vec::new();
    for (t, w) in profile.weighted_tracks() {
        for c in &t.cover_colours {
            match pooled
                .iter_mut()
                .find(|(p, _)| super::circumplex::close(*p, c.color))
            {
                Some((_, s)) => *s += w * c.share,
                None => pooled.push((c.color, w * c.share)),
            }
        }
    }
    pooled.sort_by(|a, b| b.1.total_cmp(&a.1));
    pooled.into_iter().take(n).map(|(c, _)| c).collect()
}

/// `mood` with its last two swatches replaced by the profile's dominant
/// cover colours, when it has any.
pub fn with_cover_palette(mut mood: Mood, profile: &ListeningProfile) -> Mood {
    let covers = profile_colours(profile, 2);
    if !covers.is_empty() && mood.palette.len() >= covers.len() {
        mood.palette.truncate(mood.palette.len() - covers.len());
        mood.palette.extend(covers.into_iter().map(|color| Swatch {
            color,
            name: color.name().to_string(),
        }));
    }
    mood
}

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoverModel;

impl MoodModel for CoverModel {
    fn name(&self) -> &str {
        "covers"
    }

    fn signals(&self) -> &[Signal] {
        &[Signal::Covers]
    }

    fn mood(&self, profile: &ListeningProfile) -> Result<Mood> {
        let mut mean = PointMean::default();
        for (t, w) in profile.weighted_tracks() {
            mean.add(w, colour_point(&t.cover_colours));
        }
        let mood = mean.mood(MAX_CONFIDENCE, vec![Signal::Covers], self.name());
        Ok(with_cover_palette(mood, profile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{TimeRange, TrackStat};

    /// A PNG of horizontal stripes: (colour, share of rows).
    fn png(stripes: &[([u8; 3], u32)]) -> Vec<u8> {
        let height: u32 = stripes.iter().map(|s| s.1).sum();
        let mut img = image::RgbImage::new(64, height);
        let mut y = 0;
        for (rgb, rows) in stripes {
            for yy in y..y + rows {
                for x in 0..64 {
                    img.put_pixel(x, yy, image::Rgb(*rgb));
                }
            }
            y += rows;
        }
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn dominant_colours_are_found_with_their_shares() {
        let bytes = png(&[([250, 200, 40], 48), ([20, 20, 60], 16)]);
        let colours = dominant_colours(&bytes).unwrap();
        assert_eq!(colours, dominant_colours(&bytes).unwrap(), "deterministic");
        let top = colours[0];
        assert!((top.share - 0.75).abs() < 0.05, "{colours:?}");
        assert!(top.color.0 > 230 && top.color.2 < 60, "{colours:?}");
        let total: f32 = colours.iter().map(|c| c.share).sum();
        assert!((total - 1.0).abs() < 1e-4);
    }

    #[test]
    fn bad_bytes_are_refused_clearly() {
        let err = dominant_colours(b"not an image").unwrap_err().to_string();
        assert!(err.contains("cover image"), "{err}");
        let huge = vec![0u8; MAX_COVER_BYTES + 1];
        assert!(
            dominant_colours(&huge)
                .unwrap_err()
                .to_string()
                .contains("limit")
        );
    }

    fn profile(covers: &[(&str, Vec<u8>)]) -> ListeningProfile {
        let mut p = ListeningProfile::empty("test");
        *p.top_tracks.get_mut(TimeRange::MediumTerm) = covers
            .iter()
            .enumerate()
            .map(|(i, (url, _))| TrackStat {
                name: format!("song {i}"),
                artists: vec!["Someone".into()],
                cover_url: Some(url.to_string()),
                ..Default::default()
            })
            .collect();
        p.normalize().unwrap();
        let images: Vec<(String, Vec<u8>)> = covers
            .iter()
            .map(|(u, b)| (u.to_string(), b.clone()))
            .collect();
        let read = attach_cover_colours(
            &mut p,
            |url| {
                images
                    .iter()
                    .find(|(u, _)| u == url)
                    .map(|(_, b)| b.clone())
            },
            50,
        );
        let readable = covers.iter().filter(|(_, b)| dominant_colours(b).is_ok());
        assert_eq!(read, readable.count());
        p
    }

    #[test]
    fn bright_saturated_covers_read_happier_and_livelier_than_dark_grey_ones() {
        let bright = profile(&[
            ("https://i.scdn.co/image/a", png(&[([255, 220, 60], 64)])),
            ("https://i.scdn.co/image/b", png(&[([255, 120, 180], 64)])),
        ]);
        let dark = profile(&[
            ("https://i.scdn.co/image/c", png(&[([40, 40, 48], 64)])),
            ("https://i.scdn.co/image/d", png(&[([70, 70, 70], 64)])),
        ]);
        let (b, d) = (
            CoverModel.mood(&bright).unwrap(),
            CoverModel.mood(&dark).unwrap(),
        );
        assert!(
            b.valence > d.valence && b.arousal > d.arousal,
            "{b:?} {d:?}"
        );
        assert_eq!(b.signals, vec![Signal::Covers]);
        assert!(b.confidence > 0.0 && b.confidence <= MAX_CONFIDENCE);
        // The covers are in the palette.
        assert!(b.palette.iter().any(|s| s.color.0 > 240 && s.color.1 > 200));
        assert_eq!(b.palette.len(), 5);
    }

    #[test]
    fn the_most_played_covers_are_read_first_and_each_once() {
        let mut p = ListeningProfile::empty("test");
        let track = |i: usize, cover: &str| TrackStat {
            name: format!("song {i}"),
            artists: vec!["Someone".into()],
            cover_url: Some(cover.to_string()),
            ..Default::default()
        };
        // Ranks give weights; "b" is on two tracks, so it outweighs "a".
        *p.top_tracks.get_mut(TimeRange::MediumTerm) =
            vec![track(0, "a"), track(1, "b"), track(2, "c"), track(3, "b")];
        for (i, t) in p
            .top_tracks
            .get_mut(TimeRange::MediumTerm)
            .iter_mut()
            .enumerate()
        {
            t.weight = 1.0 / (i as f32 + 3.0);
        }
        p.normalize().unwrap();
        assert_eq!(covers_to_read(&p, 10), ["b", "a", "c"]);
        assert_eq!(covers_to_read(&p, 2), ["b", "a"]);
        assert!(covers_to_read(&p, 0).is_empty());

        let yellow = dominant_colours(&png(&[([250, 200, 40], 64)])).unwrap();
        let stored = set_cover_colours(
            &mut p,
            &[("b".into(), yellow.clone()), ("c".into(), Vec::new())],
        );
        assert_eq!(stored, 1, "empty colours are not stored");
        let tracks = p.top_tracks.get(TimeRange::MediumTerm);
        assert_eq!(tracks[1].cover_colours, yellow);
        assert_eq!(
            tracks[3].cover_colours, yellow,
            "every track with the cover"
        );
        assert!(tracks[0].cover_colours.is_empty() && tracks[2].cover_colours.is_empty());
        assert!(p.has(Signal::Covers));
        // Covers with colours are not read again.
        assert_eq!(covers_to_read(&p, 10), ["a", "c"]);
    }

    #[test]
    fn missing_or_broken_covers_change_nothing() {
        let p = profile(&[
            ("https://i.scdn.co/image/x", Vec::new()),
            ("https://i.scdn.co/image/y", b"garbage".to_vec()),
        ]);
        assert!(
            p.weighted_tracks()
                .iter()
                .all(|(t, _)| t.cover_colours.is_empty())
        );
        assert_eq!(CoverModel.mood(&p).unwrap(), Mood::neutral("covers"));
    }
}
