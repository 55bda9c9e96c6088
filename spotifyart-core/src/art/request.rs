//! What to paint: the full [`ArtRequest`] a generator receives, the
//! [`ArtParams`] a caller may override, and the [`ModelInfo`] limits a
//! request is checked against.

use serde::{Deserialize, Serialize};

use crate::mood::Rgb;
use crate::prompt::Style;
use crate::{Error, Result};

/// Everything a generator needs to paint one image. Deterministic for a
/// fixed request, model and device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtRequest {
    /// What to paint.
    pub prompt: String,
    /// What to avoid.
    #[serde(default)]
    pub negative_prompt: String,
    /// Random seed.
    pub seed: u64,
    /// Denoising steps (or layers, for procedural painters).
    pub steps: u32,
    /// Classifier-free guidance scale; 0 disables guidance.
    pub guidance: f32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Model id, e.g. `sd-turbo`.
    pub model: String,
    /// Colour hints from the mood; generators that cannot use them ignore them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub palette: Vec<Rgb>,
}

/// Optional overrides for an art request; unset fields take the model's
/// defaults (or, for the seed, one derived from the subject).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtParams {
    /// Model id; the generator's default when unset.
    #[serde(default)]
    pub model: Option<String>,
    /// Seed; derived from the moods when unset, so the same people get the
    /// same picture.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Steps.
    #[serde(default)]
    pub steps: Option<u32>,
    /// Guidance scale.
    #[serde(default)]
    pub guidance: Option<f32>,
    /// Width.
    #[serde(default)]
    pub width: Option<u32>,
    /// Height.
    #[serde(default)]
    pub height: Option<u32>,
    /// Replaces the composed negative prompt (what the picture should
    /// avoid).
    #[serde(default)]
    pub negative_prompt: Option<String>,
    /// Style preset.
    #[serde(default)]
    pub style: Option<Style>,
}

/// What kind of painter a model is, so no one mistakes a procedural
/// painter for Stable Diffusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Hand-written drawing code; no machine learning.
    Procedural,
    /// A Stable Diffusion pipeline with real weights.
    StableDiffusion,
    /// A randomly initialised network on the real code path (paints noise).
    Test,
}

/// A model a generator offers, with its defaults and limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Id used in requests (`sd-turbo`, `palette`, ...).
    pub id: String,
    /// Human name.
    pub name: String,
    /// What it is.
    pub kind: ModelKind,
    /// One line for `--help` and the API.
    pub description: String,
    /// Steps when the request does not say.
    pub default_steps: u32,
    /// Most steps accepted.
    pub max_steps: u32,
    /// Guidance when the request does not say.
    pub default_guidance: f32,
    /// Width when the request does not say.
    pub default_width: u32,
    /// Height when the request does not say.
    pub default_height: u32,
    /// Width and height must be multiples of this.
    pub size_multiple: u32,
    /// Largest width × height accepted.
    pub max_pixels: u64,
}

impl ModelInfo {
    /// Checks a request against this model's limits.
    pub fn validate(&self, r: &ArtRequest) -> Result<()> {
        if r.model != self.id {
            return Err(Error::invalid(format!(
                "request is for model {:?}, not {:?}",
                r.model, self.id
            )));
        }
        if r.steps == 0 || r.steps > self.max_steps {
            return Err(Error::invalid(format!(
                "steps must be between 1 and {} for {}, got {}",
                self.max_steps, self.id, r.steps
            )));
        }
        if !(r.guidance.is_finite() && (0.0..=30.0).contains(&r.guidance)) {
            return Err(Error::invalid(format!(
                "guidance must be between 0 and 30, got {}",
                r.guidance
            )));
        }
        let m = self.size_multiple.max(1);
        for (name, v) in [("width", r.width), ("height", r.height)] {
            if v < m.max(16) || v % m != 0 {
                return Err(Error::invalid(format!(
                    "{name} must be a positive multiple of {m} (at least {}), got {v}",
                    m.max(16)
                )));
            }
        }
        if r.width as u64 * r.height as u64 > self.max_pixels {
            return Err(Error::invalid(format!(
                "{}x{} is larger than {} allows ({} pixels at most)",
                r.width, r.height, self.id, self.max_pixels
            )));
        }
        if r.prompt.trim().is_empty() {
            return Err(Error::invalid("prompt is empty"));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::art::{ImageGeneratorExt, PalettePainter};

    /// A small palette request the art tests vary.
    pub(crate) fn request() -> ArtRequest {
        ArtRequest {
            prompt: "a lake".into(),
            negative_prompt: String::new(),
            seed: 1,
            steps: 4,
            guidance: 0.0,
            width: 64,
            height: 64,
            model: "palette".into(),
            palette: vec![],
        }
    }

    #[test]
    fn validation_names_the_limit() {
        let info = PalettePainter.model_info(None).unwrap();
        let mut r = request();
        r.steps = 0;
        let e = info.validate(&r).unwrap_err().to_string();
        assert!(e.contains("steps must be between 1 and"), "{e}");
        let mut r = request();
        r.width = 100;
        let e = info.validate(&r).unwrap_err().to_string();
        assert!(e.contains("width must be a positive multiple of 8"), "{e}");
        let mut r = request();
        r.width = 8192;
        r.height = 8192;
        assert!(
            info.validate(&r)
                .unwrap_err()
                .to_string()
                .contains("larger")
        );
        let e = PalettePainter
            .model_info(Some("sd-9"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("this build offers: palette"), "{e}");
    }
}
