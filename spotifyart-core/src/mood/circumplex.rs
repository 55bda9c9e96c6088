//! Russell's circumplex of affect: a point (valence, arousal) in [-1, 1]²
//! gives the label, the words and the colours. Everything here is a pure
//! function of the point, so the same mood always looks the same.
//!
//! Sectors follow the angles Russell (1980) measured for emotion words:
//! happy ~8°, excited ~49°, tense/alarmed ~92°, distressed ~138°,
//! miserable ~189°, sad/gloomy ~208°, tired/sleepy ~270°, calm/serene ~320°.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::colour::{Rgb, close};

/// Below this distance from the origin a mood is "balanced".
pub const NEUTRAL_RADIUS: f32 = 0.15;
/// From this distance on, the strong word of a sector is used.
pub const STRONG_RADIUS: f32 = 0.45;

/// A named region of the valence/arousal plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum MoodLabel {
    Balanced,
    Tender,
    Joyful,
    Playful,
    Euphoric,
    Restless,
    Electric,
    Uneasy,
    Tense,
    Pensive,
    Brooding,
    Wistful,
    Melancholic,
    Still,
    Dreamy,
    Calm,
    Serene,
}

/// (soft, strong) label per 45° sector, starting at 0° (positive valence)
/// and turning towards positive arousal.
const SECTORS: [(MoodLabel, MoodLabel); 8] = [
    (MoodLabel::Tender, MoodLabel::Joyful),
    (MoodLabel::Playful, MoodLabel::Euphoric),
    (MoodLabel::Restless, MoodLabel::Electric),
    (MoodLabel::Uneasy, MoodLabel::Tense),
    (MoodLabel::Pensive, MoodLabel::Brooding),
    (MoodLabel::Wistful, MoodLabel::Melancholic),
    (MoodLabel::Still, MoodLabel::Dreamy),
    (MoodLabel::Calm, MoodLabel::Serene),
];

/// Hue (degrees) anchored at each sector's centre: warm gold for joy,
/// magenta for euphoria, violet for electric, red for tension, deep indigo
/// for brooding, blue for melancholy, teal for dreamy, sea green for serene.
const SECTOR_HUES: [f32; 8] = [42.0, 330.0, 280.0, 358.0, 250.0, 218.0, 190.0, 150.0];

impl MoodLabel {
    /// Every label.
    pub const ALL: [MoodLabel; 17] = [
        MoodLabel::Balanced,
        MoodLabel::Tender,
        MoodLabel::Joyful,
        MoodLabel::Playful,
        MoodLabel::Euphoric,
        MoodLabel::Restless,
        MoodLabel::Electric,
        MoodLabel::Uneasy,
        MoodLabel::Tense,
        MoodLabel::Pensive,
        MoodLabel::Brooding,
        MoodLabel::Wistful,
        MoodLabel::Melancholic,
        MoodLabel::Still,
        MoodLabel::Dreamy,
        MoodLabel::Calm,
        MoodLabel::Serene,
    ];

    /// The label of a point.
    pub fn of(valence: f32, arousal: f32) -> MoodLabel {
        let r = valence.hypot(arousal);
        if r < NEUTRAL_RADIUS {
            return MoodLabel::Balanced;
        }
        let (soft, strong) = SECTORS[sector(valence, arousal)];
        if r >= STRONG_RADIUS { strong } else { soft }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MoodLabel::Balanced => "balanced",
            MoodLabel::Tender => "tender",
            MoodLabel::Joyful => "joyful",
            MoodLabel::Playful => "playful",
            MoodLabel::Euphoric => "euphoric",
            MoodLabel::Restless => "restless",
            MoodLabel::Electric => "electric",
            MoodLabel::Uneasy => "uneasy",
            MoodLabel::Tense => "tense",
            MoodLabel::Pensive => "pensive",
            MoodLabel::Brooding => "brooding",
            MoodLabel::Wistful => "wistful",
            MoodLabel::Melancholic => "melancholic",
            MoodLabel::Still => "still",
            MoodLabel::Dreamy => "dreamy",
            MoodLabel::Calm => "calm",
            MoodLabel::Serene => "serene",
        }
    }

    /// Words for prompts and explanations, from a fixed vocabulary.
    pub fn descriptors(self) -> [&'static str; 3] {
        match self {
            MoodLabel::Balanced => ["balanced", "poised", "even"],
            MoodLabel::Tender => ["tender", "warm", "gentle"],
            MoodLabel::Joyful => ["joyful", "sunny", "bright"],
            MoodLabel::Playful => ["playful", "bouncy", "light-hearted"],
            MoodLabel::Euphoric => ["euphoric", "ecstatic", "radiant"],
            MoodLabel::Restless => ["restless", "buzzing", "alert"],
            MoodLabel::Electric => ["electric", "charged", "pulsing"],
            MoodLabel::Uneasy => ["uneasy", "edgy", "unsettled"],
            MoodLabel::Tense => ["tense", "fierce", "stormy"],
            MoodLabel::Pensive => ["pensive", "introspective", "hushed"],
            MoodLabel::Brooding => ["brooding", "shadowed", "heavy"],
            MoodLabel::Wistful => ["wistful", "bittersweet", "nostalgic"],
            MoodLabel::Melancholic => ["melancholic", "aching", "rain-soaked"],
            MoodLabel::Still => ["still", "drowsy", "soft-focus"],
            MoodLabel::Dreamy => ["dreamy", "weightless", "slow-breathing"],
            MoodLabel::Calm => ["calm", "easy", "unhurried"],
            MoodLabel::Serene => ["serene", "tranquil", "luminous"],
        }
    }
}

impl fmt::Display for MoodLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The 45° sector (0..8) a point falls in.
fn sector(valence: f32, arousal: f32) -> usize {
    let deg = arousal.atan2(valence).to_degrees().rem_euclid(360.0);
    ((deg / 45.0).round() as usize) % 8
}

/// A palette colour with its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Swatch {
    /// The colour, serialised as `#rrggbb`.
    pub color: Rgb,
    /// Its name from a fixed vocabulary.
    pub name: String,
}

/// Five colours for a point: base, two neighbours, a shadow and an accent.
/// Arousal drives saturation, valence lightness.
pub fn palette(valence: f32, arousal: f32) -> Vec<Swatch> {
    let hue = hue_of(valence, arousal);
    let r = valence.hypot(arousal).min(1.0);
    let sat = (0.25 + 0.35 * (arousal + 1.0) / 2.0 + 0.3 * r).min(0.95);
    let light = 0.32 + 0.3 * (valence + 1.0) / 2.0;
    let colors = [
        Rgb::from_hsl(hue, sat, light),
        Rgb::from_hsl(hue + 28.0, sat * 0.9, light + 0.1),
        Rgb::from_hsl(hue - 28.0, sat, light - 0.08),
        Rgb::from_hsl(hue + 8.0, sat * 0.7, light * 0.4),
        Rgb::from_hsl(hue + 180.0, sat * 0.75, (light + 0.22).min(0.85)),
    ];
    colors
        .into_iter()
        .map(|color| Swatch {
            color,
            name: color.name().to_string(),
        })
        .collect()
}

/// Hue interpolated between the two nearest sector anchors, along the
/// shorter way round the colour wheel.
fn hue_of(valence: f32, arousal: f32) -> f32 {
    if valence.hypot(arousal) < 1e-6 {
        return 35.0; // a warm neutral for the origin
    }
    let deg = arousal.atan2(valence).to_degrees().rem_euclid(360.0);
    let pos = deg / 45.0;
    let i = pos.floor() as usize % 8;
    let t = pos - pos.floor();
    let (a, b) = (SECTOR_HUES[i], SECTOR_HUES[(i + 1) % 8]);
    let mut d = b - a;
    if d > 180.0 {
        d -= 360.0;
    } else if d < -180.0 {
        d += 360.0;
    }
    (a + d * t).rem_euclid(360.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_russell_sectors() {
        assert_eq!(MoodLabel::of(0.0, 0.05), MoodLabel::Balanced);
        assert_eq!(MoodLabel::of(0.8, 0.05), MoodLabel::Joyful);
        assert_eq!(MoodLabel::of(0.3, 0.0), MoodLabel::Tender);
        assert_eq!(MoodLabel::of(0.6, 0.6), MoodLabel::Euphoric);
        assert_eq!(MoodLabel::of(0.0, 0.9), MoodLabel::Electric);
        assert_eq!(MoodLabel::of(-0.6, 0.6), MoodLabel::Tense);
        assert_eq!(MoodLabel::of(-0.8, 0.0), MoodLabel::Brooding);
        assert_eq!(MoodLabel::of(-0.6, -0.6), MoodLabel::Melancholic);
        assert_eq!(MoodLabel::of(0.0, -0.8), MoodLabel::Dreamy);
        assert_eq!(MoodLabel::of(0.6, -0.6), MoodLabel::Serene);
        assert_eq!(MoodLabel::of(0.2, -0.2), MoodLabel::Calm);
    }

    #[test]
    fn palette_is_deterministic_and_tracks_the_plane() {
        assert_eq!(palette(0.5, 0.5), palette(0.5, 0.5));
        assert_eq!(palette(0.1, 0.1).len(), 5);
        let happy = palette(0.9, 0.1)[0].color;
        let sad = palette(-0.7, -0.7)[0].color;
        // Joy is warm (red/green high), melancholy is blue.
        assert!(happy.0 > happy.2, "{happy:?}");
        assert!(sad.2 > sad.0, "{sad:?}");
        // Higher valence is lighter.
        let lum = |c: Rgb| c.0 as u32 + c.1 as u32 + c.2 as u32;
        assert!(lum(happy) > lum(sad));
    }
}
