//! Mood -> prompt. The composer builds text only from fixed vocabularies
//! (labels, scenes, colour names, style presets) plus mood descriptors that
//! pass a strict word filter, so no user name, email, handle or other
//! personal text can reach a prompt. Deterministic: the same mood gives the
//! same prompt.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::mood::{Mood, MoodLabel};
use crate::{Error, Result};

/// An art style preset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// Expressive oil painting (the default).
    #[default]
    Painterly,
    /// Loose watercolour.
    Watercolor,
    /// Abstract expressionism.
    Abstract,
    /// Sumi-e ink wash.
    Ink,
    /// Synthwave neon.
    Neon,
    /// Cinematic photograph.
    Cinematic,
}

impl Style {
    /// Every style.
    pub const ALL: [Style; 6] = [
        Style::Painterly,
        Style::Watercolor,
        Style::Abstract,
        Style::Ink,
        Style::Neon,
        Style::Cinematic,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Painterly => "painterly",
            Style::Watercolor => "watercolor",
            Style::Abstract => "abstract",
            Style::Ink => "ink",
            Style::Neon => "neon",
            Style::Cinematic => "cinematic",
        }
    }

    fn lead(self) -> &'static str {
        match self {
            Style::Painterly => "expressive oil painting, thick impasto brushstrokes",
            Style::Watercolor => "loose watercolor on textured paper, soft bleeding edges",
            Style::Abstract => "abstract expressionist canvas, bold shapes and gestural marks",
            Style::Ink => "sumi-e ink wash painting, flowing minimal lines",
            Style::Neon => "synthwave artwork, glowing neon lines, retro-futuristic",
            Style::Cinematic => "cinematic photograph, dramatic light, 35mm film grain",
        }
    }

    fn negative(self) -> &'static str {
        match self {
            Style::Cinematic => "cartoon, illustration, painting",
            Style::Neon => "photograph, muted colors",
            _ => "photograph, 3d render",
        }
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Style {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Style::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Style::ALL.iter().map(|s| s.as_str()).collect();
                Error::invalid(format!(
                    "unknown style {s:?}; available: {}",
                    names.join(", ")
                ))
            })
    }
}

/// A text-to-image prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// What to paint.
    pub positive: String,
    /// What to avoid.
    pub negative: String,
    /// The style preset used.
    pub style: Style,
}

/// Words every image should avoid: text and artefacts.
const BASE_NEGATIVE: &str =
    "text, letters, watermark, signature, logo, lowres, blurry, jpeg artifacts, deformed";

/// Builds prompts from moods.
#[derive(Clone, Copy, Debug, Default)]
pub struct PromptComposer {
    /// The style preset.
    pub style: Style,
}

impl PromptComposer {
    /// A composer for `style`.
    pub fn new(style: Style) -> Self {
        Self { style }
    }

    /// A prompt for one person's mood.
    pub fn for_mood(&self, mood: &Mood) -> Prompt {
        let parts = [
            self.style.lead().to_string(),
            scene(mood.label).to_string(),
            format!("{} atmosphere", words(mood).join(" and ")),
            format!("palette of {}", colours(mood, 3)),
            energy_phrase(mood).to_string(),
            "harmonious composition, highly detailed".to_string(),
        ];
        self.finish(parts.join(", "))
    }

    /// A prompt for two people: each mood as a form of its own colour,
    /// merging into the blended mood's scene. The two moods are put in a
    /// canonical order, so `(a, b)` and `(b, a)` give the same prompt.
    pub fn for_pair(&self, a: &Mood, b: &Mood, blended: &Mood) -> Prompt {
        let (first, second) = if canonical_key(a) <= canonical_key(b) {
            (a, b)
        } else {
            (b, a)
        };
        let parts = [
            self.style.lead().to_string(),
            format!(
                "two intertwined flowing forms, one {} in {}, one {} in {}",
                words(first)[0],
                colours(first, 2),
                words(second)[0],
                colours(second, 2)
            ),
            format!("merging into {}", scene(blended.label)),
            format!("{} atmosphere", words(blended).join(" and ")),
            energy_phrase(blended).to_string(),
            "harmonious composition, highly detailed".to_string(),
        ];
        self.finish(parts.join(", "))
    }

    fn finish(&self, positive: String) -> Prompt {
        Prompt {
            positive,
            negative: format!("{BASE_NEGATIVE}, {}", self.style.negative()),
            style: self.style,
        }
    }
}

fn canonical_key(m: &Mood) -> (&'static str, i32, i32) {
    (
        m.label.as_str(),
        (m.valence * 1000.0).round() as i32,
        (m.arousal * 1000.0).round() as i32,
    )
}

/// One concrete image per label, so art differs visibly across the plane.
fn scene(label: MoodLabel) -> &'static str {
    match label {
        MoodLabel::Balanced => "a quiet horizon where light and shadow rest in balance",
        MoodLabel::Tender => "soft petals drifting through warm afternoon light",
        MoodLabel::Joyful => "a sunlit meadow of swirling wildflowers",
        MoodLabel::Playful => "bouncing spheres of colour over a bright seaside",
        MoodLabel::Euphoric => "fireworks of colour bursting above a dancing crowd of shapes",
        MoodLabel::Restless => "wind-whipped grass under fast-moving clouds",
        MoodLabel::Electric => "lightning threads crackling through a pulsing night city",
        MoodLabel::Uneasy => "a flickering corridor of long shadows",
        MoodLabel::Tense => "jagged storm clouds over a churning sea",
        MoodLabel::Pensive => "a lone window glowing in a rainy evening",
        MoodLabel::Brooding => "a dark forest under heavy violet clouds",
        MoodLabel::Wistful => "faded autumn leaves on an empty boardwalk",
        MoodLabel::Melancholic => "a lone figure beneath gentle rain on an empty street",
        MoodLabel::Still => "a frosted field at first light, nothing moving",
        MoodLabel::Dreamy => "floating islands in a slow pastel mist",
        MoodLabel::Calm => "a still lake reflecting drifting clouds",
        MoodLabel::Serene => "a luminous lagoon at dawn wrapped in mist",
    }
}

/// Up to two descriptors that pass [`is_safe_word`]; the label's own words
/// when none do.
fn words(m: &Mood) -> Vec<&str> {
    let mut out: Vec<&str> = m
        .descriptors
        .iter()
        .map(String::as_str)
        .filter(|d| is_safe_word(d))
        .take(2)
        .collect();
    if out.is_empty() {
        out = m.label.descriptors()[..2].to_vec();
    }
    out
}

/// A descriptor may reach a prompt only if it is one to three short
/// lowercase words (letters, hyphen, apostrophe): no capitals (names), no
/// digits, `@`, dots or slashes (emails, handles, URLs).
pub fn is_safe_word(s: &str) -> bool {
    let words: Vec<&str> = s.split(' ').collect();
    !s.is_empty()
        && s.len() <= 32
        && words.len() <= 3
        && words.iter().all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c == '\'')
        })
}

fn colours(m: &Mood, n: usize) -> String {
    let mut names: Vec<&str> = Vec::new();
    for s in &m.palette {
        if !names.contains(&s.name.as_str()) && is_safe_word(&s.name) {
            names.push(&s.name);
        }
        if names.len() == n {
            break;
        }
    }
    match names.as_slice() {
        [] => "muted tones".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn energy_phrase(m: &Mood) -> &'static str {
    match (m.arousal, m.intensity) {
        (a, _) if a > 0.4 => "dynamic sweeping motion, vivid contrast",
        (a, _) if a < -0.4 => "slow soft gradients, gentle contrast",
        (_, i) if i < 0.3 => "subtle tones, soft contrast",
        _ => "flowing brushwork, balanced contrast",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_within_clip_budget() {
        for (v, a) in [(0.8, 0.6), (-0.7, -0.5), (0.0, 0.0), (-0.5, 0.9)] {
            let m = Mood::new(v, a, 0.8, vec![], "t");
            for style in Style::ALL {
                let c = PromptComposer::new(style);
                let p1 = c.for_mood(&m);
                assert_eq!(p1, c.for_mood(&m));
                // CLIP sees 77 tokens; ~60 words keeps the scene inside it.
                assert!(
                    p1.positive.split_whitespace().count() <= 60,
                    "{}",
                    p1.positive
                );
            }
        }
    }

    #[test]
    fn pair_prompt_is_order_independent() {
        let a = Mood::new(0.8, 0.6, 0.9, vec![], "t");
        let b = Mood::new(-0.6, -0.6, 0.4, vec![], "t");
        let blended = Mood::blend(&a, &b);
        let c = PromptComposer::default();
        assert_eq!(c.for_pair(&a, &b, &blended), c.for_pair(&b, &a, &blended));
        let p = c.for_pair(&a, &b, &blended).positive;
        assert!(p.contains("euphoric") && p.contains("melancholic"), "{p}");
    }

    #[test]
    fn personal_text_in_descriptors_never_reaches_the_prompt() {
        let mut m = Mood::new(0.5, 0.5, 0.9, vec![], "custom");
        m.descriptors = vec![
            "Alice Smith".into(),
            "alice@example.com".into(),
            "@alice_s".into(),
            "https://x.y".into(),
            "born 1994".into(),
        ];
        let p = PromptComposer::default().for_mood(&m);
        for bad in ["Alice", "alice", "example", "@", "http", "1994"] {
            assert!(!p.positive.contains(bad), "{bad} leaked: {}", p.positive);
        }
        assert!(p.positive.contains("euphoric"), "falls back to label words");
    }

    #[test]
    fn unknown_style_is_a_clear_error() {
        let e = "baroque".parse::<Style>().unwrap_err().to_string();
        assert!(e.contains("painterly, watercolor"), "{e}");
    }
}
