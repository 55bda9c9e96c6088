//! Colours: [`Rgb`] with its `#rrggbb` form, a perceptual distance and a
//! fixed vocabulary of colour names for prompts. Shared by listening
//! profiles (cover colours), moods (palettes) and art requests, so it
//! belongs to none of them.

use serde::{Deserialize, Serialize};

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Parses `#rrggbb`.
    pub fn parse_hex(s: &str) -> Option<Rgb> {
        let s = s.strip_prefix('#')?;
        if s.len() != 6 || !s.is_ascii() {
            return None;
        }
        let c = |i: usize| u8::from_str_radix(&s[i..i + 2], 16).ok();
        Some(Rgb(c(0)?, c(2)?, c(4)?))
    }

    /// From hue (degrees), saturation and lightness in [0, 1].
    pub fn from_hsl(h: f32, s: f32, l: f32) -> Rgb {
        let h = h.rem_euclid(360.0) / 360.0;
        let s = s.clamp(0.0, 1.0);
        let l = l.clamp(0.0, 1.0);
        let q = if l < 0.5 {
            l * (1.0 + s)
        } else {
            l + s - l * s
        };
        let p = 2.0 * l - q;
        let f = |t: f32| {
            let t = t.rem_euclid(1.0);
            let v = if t < 1.0 / 6.0 {
                p + (q - p) * 6.0 * t
            } else if t < 0.5 {
                q
            } else if t < 2.0 / 3.0 {
                p + (q - p) * (2.0 / 3.0 - t) * 6.0
            } else {
                p
            };
            (v * 255.0).round().clamp(0.0, 255.0) as u8
        };
        Rgb(f(h + 1.0 / 3.0), f(h), f(h - 1.0 / 3.0))
    }

    /// The closest name in a fixed list of colour words (for prompts).
    pub fn name(self) -> &'static str {
        COLOR_NAMES
            .iter()
            .min_by_key(|(_, c)| redmean_distance(self, *c))
            .map(|(n, _)| *n)
            .expect("colour list is not empty")
    }
}

impl Serialize for Rgb {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> Deserialize<'de> for Rgb {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Rgb::parse_hex(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a #rrggbb colour")))
    }
}

/// Whether two colours are within a just-noticeable-ish distance (used to
/// pool the same colour across covers).
pub fn close(a: Rgb, b: Rgb) -> bool {
    redmean_distance(a, b) < 40 * 40 * 3
}

/// A low-cost perceptual distance ("redmean").
fn redmean_distance(a: Rgb, b: Rgb) -> u32 {
    let rm = (a.0 as i32 + b.0 as i32) / 2;
    let dr = a.0 as i32 - b.0 as i32;
    let dg = a.1 as i32 - b.1 as i32;
    let db = a.2 as i32 - b.2 as i32;
    (((512 + rm) * dr * dr) / 256 + 4 * dg * dg + ((767 - rm) * db * db) / 256) as u32
}

const COLOR_NAMES: [(&str, Rgb); 44] = [
    ("scarlet", Rgb(220, 30, 40)),
    ("crimson", Rgb(160, 20, 50)),
    ("burgundy", Rgb(110, 20, 40)),
    ("coral", Rgb(250, 120, 100)),
    ("salmon", Rgb(240, 150, 130)),
    ("terracotta", Rgb(200, 100, 70)),
    ("rust", Rgb(160, 70, 30)),
    ("tangerine", Rgb(245, 130, 30)),
    ("amber", Rgb(240, 170, 40)),
    ("saffron", Rgb(245, 195, 50)),
    ("gold", Rgb(220, 180, 60)),
    ("lemon", Rgb(245, 235, 100)),
    ("ochre", Rgb(190, 140, 50)),
    ("olive", Rgb(120, 120, 50)),
    ("chartreuse", Rgb(170, 220, 60)),
    ("sage", Rgb(150, 180, 140)),
    ("mint", Rgb(160, 230, 190)),
    ("emerald", Rgb(40, 170, 100)),
    ("forest green", Rgb(30, 90, 50)),
    ("sea green", Rgb(60, 170, 140)),
    ("teal", Rgb(30, 130, 130)),
    ("turquoise", Rgb(60, 210, 200)),
    ("aqua", Rgb(130, 220, 230)),
    ("sky blue", Rgb(130, 190, 240)),
    ("cerulean", Rgb(40, 120, 190)),
    ("cobalt", Rgb(30, 70, 170)),
    ("navy", Rgb(20, 30, 90)),
    ("midnight blue", Rgb(25, 25, 60)),
    ("slate blue", Rgb(90, 100, 150)),
    ("periwinkle", Rgb(160, 160, 230)),
    ("indigo", Rgb(70, 40, 140)),
    ("violet", Rgb(140, 70, 200)),
    ("lavender", Rgb(200, 170, 230)),
    ("plum", Rgb(110, 50, 100)),
    ("mauve", Rgb(180, 130, 170)),
    ("magenta", Rgb(220, 40, 160)),
    ("hot pink", Rgb(250, 90, 170)),
    ("rose", Rgb(230, 130, 160)),
    ("blush", Rgb(240, 190, 200)),
    ("peach", Rgb(250, 200, 160)),
    ("cream", Rgb(245, 235, 210)),
    ("charcoal", Rgb(50, 50, 55)),
    ("slate grey", Rgb(110, 115, 125)),
    ("pearl grey", Rgb(200, 200, 205)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_have_names_and_hex_round_trips() {
        assert_eq!(Rgb(70, 40, 140).name(), "indigo");
        assert_eq!(Rgb(245, 195, 52).name(), "saffron");
        let c = Rgb(1, 2, 255);
        assert_eq!(Rgb::parse_hex(&c.hex()), Some(c));
        assert_eq!(Rgb::parse_hex("#zzzzzz"), None);
        assert_eq!(Rgb::from_hsl(0.0, 1.0, 0.5), Rgb(255, 0, 0));
        assert_eq!(Rgb::from_hsl(240.0, 1.0, 0.5), Rgb(0, 0, 255));
    }
}
