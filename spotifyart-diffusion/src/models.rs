//! The models this crate paints with: where their weights live, their
//! licences and the settings each was trained for.

use spotifyart_core::{ModelInfo, ModelKind};

use crate::clip::ClipConfig;
use crate::schedulers::{Prediction, SchedulerKind, Spacing};
use crate::tokenizer::Padding;
use crate::unet::{PerBlock, UNetConfig};
use crate::vae::VaeConfig;

/// Architecture family: decides the text encoders and conditioning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// One OpenAI CLIP encoder, last hidden state.
    Sd1,
    /// One OpenCLIP encoder, last hidden state.
    Sd2,
    /// Two encoders' penultimate states plus pooled text and size ids.
    Sdxl,
}

/// A model SpotifyArt knows how to fetch and run.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    /// Id in requests (`sd-turbo`).
    pub id: &'static str,
    /// Human name.
    pub name: &'static str,
    /// Hugging Face repository holding the diffusers layout; empty for the
    /// randomly initialised test models.
    pub repo: &'static str,
    /// Hugging Face repository of the matching TAESD decoder.
    pub taesd_repo: &'static str,
    /// Licence the user accepts by downloading the weights.
    pub licence: &'static str,
    /// Architecture family.
    pub family: Family,
    /// Default sampler.
    pub scheduler: SchedulerKind,
    /// Timestep spacing it was distilled or configured for.
    pub spacing: Spacing,
    /// What the UNet predicts.
    pub prediction: Prediction,
    /// Defaults and limits.
    pub default_steps: u32,
    /// Most steps accepted.
    pub max_steps: u32,
    /// Default guidance (≤ 1 means none).
    pub guidance: f32,
    /// Default square size.
    pub size: u32,
    /// Largest width × height.
    pub max_pixels: u64,
    /// Randomly initialised test model.
    pub test: bool,
}

const OPENRAIL_M: &str = "CreativeML OpenRAIL-M";
const OPENRAIL_PP: &str = "CreativeML OpenRAIL++-M";
const STABILITY_COMMUNITY: &str =
    "Stability AI Community License (free below US$1M annual revenue; see the model card)";

/// The image model every surface paints with unless told otherwise: the
/// one-step model gives a picture in seconds on a CPU.
pub const DEFAULT_MODEL: &str = "sd-turbo";

/// Every model, the default ([`DEFAULT_MODEL`]) first.
pub fn specs() -> &'static [ModelSpec] {
    &SPECS
}

/// The spec for `id`.
pub fn spec(id: &str) -> Option<&'static ModelSpec> {
    SPECS.iter().find(|s| s.id == id)
}

static SPECS: [ModelSpec; 7] = [
    ModelSpec {
        id: DEFAULT_MODEL,
        name: "SD-Turbo",
        repo: "stabilityai/sd-turbo",
        taesd_repo: "madebyollin/taesd",
        licence: STABILITY_COMMUNITY,
        family: Family::Sd2,
        scheduler: SchedulerKind::EulerAncestral,
        spacing: Spacing::Trailing,
        prediction: Prediction::Epsilon,
        default_steps: 1,
        max_steps: 10,
        guidance: 0.0,
        size: 512,
        max_pixels: 1024 * 1024,
        test: false,
    },
    ModelSpec {
        id: "sd-1.5",
        name: "Stable Diffusion 1.5",
        repo: "stable-diffusion-v1-5/stable-diffusion-v1-5",
        taesd_repo: "madebyollin/taesd",
        licence: OPENRAIL_M,
        family: Family::Sd1,
        scheduler: SchedulerKind::Ddim,
        spacing: Spacing::Leading,
        prediction: Prediction::Epsilon,
        default_steps: 20,
        max_steps: 150,
        guidance: 7.5,
        size: 512,
        max_pixels: 1024 * 1024,
        test: false,
    },
    ModelSpec {
        id: "sd-2.1",
        name: "Stable Diffusion 2.1",
        repo: "stabilityai/stable-diffusion-2-1",
        taesd_repo: "madebyollin/taesd",
        licence: OPENRAIL_PP,
        family: Family::Sd2,
        scheduler: SchedulerKind::Ddim,
        spacing: Spacing::Leading,
        prediction: Prediction::VPrediction,
        default_steps: 25,
        max_steps: 150,
        guidance: 7.5,
        size: 768,
        max_pixels: 1536 * 1536,
        test: false,
    },
    ModelSpec {
        id: "sdxl",
        name: "Stable Diffusion XL 1.0",
        repo: "stabilityai/stable-diffusion-xl-base-1.0",
        taesd_repo: "madebyollin/taesdxl",
        licence: OPENRAIL_PP,
        family: Family::Sdxl,
        scheduler: SchedulerKind::Euler,
        spacing: Spacing::Leading,
        prediction: Prediction::Epsilon,
        default_steps: 30,
        max_steps: 150,
        guidance: 5.0,
        size: 1024,
        max_pixels: 2048 * 2048,
        test: false,
    },
    ModelSpec {
        id: "sdxl-turbo",
        name: "SDXL-Turbo",
        repo: "stabilityai/sdxl-turbo",
        taesd_repo: "madebyollin/taesdxl",
        licence: STABILITY_COMMUNITY,
        family: Family::Sdxl,
        scheduler: SchedulerKind::EulerAncestral,
        spacing: Spacing::Trailing,
        prediction: Prediction::Epsilon,
        default_steps: 1,
        max_steps: 10,
        guidance: 0.0,
        size: 512,
        max_pixels: 1024 * 1024,
        test: false,
    },
    ModelSpec {
        id: "tiny",
        name: "Tiny random SD (tests only)",
        repo: "",
        taesd_repo: "",
        licence: "none (random weights)",
        family: Family::Sd1,
        scheduler: SchedulerKind::Ddim,
        spacing: Spacing::Leading,
        prediction: Prediction::Epsilon,
        default_steps: 2,
        max_steps: 50,
        guidance: 0.0,
        size: 64,
        max_pixels: 256 * 256,
        test: true,
    },
    ModelSpec {
        id: "tiny-xl",
        name: "Tiny random SDXL (tests only)",
        repo: "",
        taesd_repo: "",
        licence: "none (random weights)",
        family: Family::Sdxl,
        scheduler: SchedulerKind::Euler,
        spacing: Spacing::Leading,
        prediction: Prediction::Epsilon,
        default_steps: 2,
        max_steps: 50,
        guidance: 0.0,
        size: 64,
        max_pixels: 256 * 256,
        test: true,
    },
];

impl ModelSpec {
    /// The core's description of this model.
    pub fn info(&self) -> ModelInfo {
        let (kind, description) = if self.test {
            (
                ModelKind::Test,
                format!(
                    "{}: randomly initialised, real pipeline, paints noise",
                    self.name
                ),
            )
        } else {
            (
                ModelKind::StableDiffusion,
                format!("{} ({}), licence: {}", self.name, self.repo, self.licence),
            )
        };
        ModelInfo {
            id: self.id.into(),
            name: self.name.into(),
            kind,
            description,
            default_steps: self.default_steps,
            max_steps: self.max_steps,
            default_guidance: self.guidance,
            default_width: self.size,
            default_height: self.size,
            size_multiple: 8,
            max_pixels: self.max_pixels,
        }
    }

    /// Whether the model has a second text encoder.
    pub fn has_second_encoder(&self) -> bool {
        self.family == Family::Sdxl
    }

    /// Padding of each encoder's ids.
    pub fn paddings(&self) -> (Padding, Padding) {
        match self.family {
            Family::Sd1 => (Padding::EndOfText, Padding::EndOfText),
            Family::Sd2 => (Padding::Zero, Padding::Zero),
            Family::Sdxl => (Padding::EndOfText, Padding::Zero),
        }
    }

    /// Built-in configs, used when the weights folder has no config.json.
    pub fn default_configs(&self) -> (ClipConfig, Option<ClipConfig>, UNetConfig, VaeConfig) {
        if self.test {
            return tiny_configs(self.family);
        }
        match self.family {
            Family::Sd1 => (
                ClipConfig::vit_l(),
                None,
                sd_unet(768, PerBlock::One(8), false),
                VaeConfig::sd(0.18215, false),
            ),
            Family::Sd2 => (
                ClipConfig::vit_h(),
                None,
                sd_unet(1024, PerBlock::Many(vec![5, 10, 20, 20]), true),
                VaeConfig::sd(0.18215, false),
            ),
            Family::Sdxl => (
                ClipConfig::vit_l(),
                Some(ClipConfig::vit_big_g()),
                UNetConfig {
                    block_out_channels: vec![320, 640, 1280],
                    down_block_types: vec![
                        "DownBlock2D".into(),
                        "CrossAttnDownBlock2D".into(),
                        "CrossAttnDownBlock2D".into(),
                    ],
                    up_block_types: vec![
                        "CrossAttnUpBlock2D".into(),
                        "CrossAttnUpBlock2D".into(),
                        "UpBlock2D".into(),
                    ],
                    attention_head_dim: PerBlock::Many(vec![5, 10, 20]),
                    transformer_layers_per_block: PerBlock::Many(vec![1, 2, 10]),
                    addition_embed_type: Some("text_time".into()),
                    addition_time_embed_dim: Some(256),
                    projection_class_embeddings_input_dim: Some(2816),
                    ..sd_unet(2048, PerBlock::One(0), true)
                },
                VaeConfig::sd(0.13025, true),
            ),
        }
    }
}

fn sd_unet(cross: usize, heads: PerBlock, linear: bool) -> UNetConfig {
    UNetConfig {
        in_channels: 4,
        out_channels: 4,
        block_out_channels: vec![320, 640, 1280, 1280],
        down_block_types: vec![
            "CrossAttnDownBlock2D".into(),
            "CrossAttnDownBlock2D".into(),
            "CrossAttnDownBlock2D".into(),
            "DownBlock2D".into(),
        ],
        up_block_types: vec![
            "UpBlock2D".into(),
            "CrossAttnUpBlock2D".into(),
            "CrossAttnUpBlock2D".into(),
            "CrossAttnUpBlock2D".into(),
        ],
        layers_per_block: 2,
        attention_head_dim: heads,
        num_attention_heads: None,
        cross_attention_dim: cross,
        transformer_layers_per_block: PerBlock::One(1),
        use_linear_projection: linear,
        upcast_attention: false,
        addition_embed_type: None,
        addition_time_embed_dim: None,
        projection_class_embeddings_input_dim: None,
        norm_num_groups: 32,
        norm_eps: 1e-5,
        flip_sin_to_cos: true,
        freq_shift: 0.0,
    }
}

/// Tiny versions of the same architectures: every code path (cross
/// attention, resampling, SDXL's added conditioning) at a few thousand
/// parameters per layer.
fn tiny_configs(family: Family) -> (ClipConfig, Option<ClipConfig>, UNetConfig, VaeConfig) {
    let vae = VaeConfig {
        block_out_channels: vec![8, 16, 16, 16],
        layers_per_block: 1,
        latent_channels: 4,
        norm_num_groups: 4,
        scaling_factor: 0.18215,
        force_upcast: false,
    };
    let unet = |cross: usize, xl: bool| UNetConfig {
        block_out_channels: vec![16, 32],
        down_block_types: vec!["CrossAttnDownBlock2D".into(), "DownBlock2D".into()],
        up_block_types: vec!["UpBlock2D".into(), "CrossAttnUpBlock2D".into()],
        layers_per_block: 1,
        attention_head_dim: PerBlock::Many(vec![2, 4]),
        transformer_layers_per_block: PerBlock::Many(vec![1, 2]),
        norm_num_groups: 4,
        addition_embed_type: xl.then(|| "text_time".into()),
        addition_time_embed_dim: xl.then_some(8),
        projection_class_embeddings_input_dim: xl.then_some(16 + 6 * 8),
        ..sd_unet(cross, PerBlock::One(1), xl)
    };
    match family {
        Family::Sdxl => (
            ClipConfig::tiny(16),
            Some(ClipConfig::tiny(16)),
            unet(32, true),
            vae,
        ),
        _ => (ClipConfig::tiny(16), None, unet(16, false), vae),
    }
}
