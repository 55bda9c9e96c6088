//! Text to image: encode the prompt, denoise seeded latents with the UNet
//! under a scheduler (with classifier-free guidance when asked), decode.
//! A loaded [`Pipeline`] is immutable, so one copy serves every request and
//! worker at once.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use spotifyart_core::{ArtRequest, Error, GeneratedImage, GenerationContext, Result, Stage};

use crate::clip::ClipTextModel;
use crate::device::DeviceChoice;
use crate::layer_weights::LayerWeights;
use crate::models::{Family, ModelSpec};
use crate::schedulers::{Scheduler, SchedulerKind, gaussian};
use crate::tensor_file::TensorFile;
use crate::tokenizer::ClipTokenizer;
use crate::unet::{AddedCond, UNet};
use crate::vae::{TinyDecoder, TinyVaeConfig, VaeDecoder};
use crate::weights::{self, WeightSource};

/// How latents become pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decoder {
    /// Full VAE, in one piece up to 1024² on CPUs (512² on GPUs), in
    /// tiles beyond.
    #[default]
    Auto,
    /// Full VAE in one pass.
    Full,
    /// Full VAE in overlapping tiles of this many latent pixels.
    Tiled(usize),
    /// TAESD: fast and light, slightly soft. Needs its own weights.
    Tiny,
}

impl std::str::FromStr for Decoder {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "full" => Ok(Self::Full),
            "tiled" => Ok(Self::Tiled(DEFAULT_TILE)),
            "tiny" | "taesd" => Ok(Self::Tiny),
            _ => Err(format!(
                "unknown decoder {s:?}; choose auto, full, tiled or tiny"
            )),
        }
    }
}

/// What the CPU multiplies matrices in. GPUs run f16 whatever this says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// bf16 for the VAE decoder where the CPU has AMX, f32 for the rest
    /// and elsewhere: what measured fastest for a whole painting.
    #[default]
    Auto,
    /// f32 throughout.
    F32,
    /// Weights and activations rounded to bf16 for the convolutions and
    /// linear layers, products accumulated in f32; needs AMX.
    Bf16,
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "f32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            _ => Err(format!("unknown precision {s:?}; choose auto, f32 or bf16")),
        }
    }
}

impl Precision {
    /// Whether CPU matrix products run in bf16 on this machine: `(the
    /// VAE decoder, everything else)`. `Auto` takes bf16 only for the VAE,
    /// whose convolutions do the most arithmetic per weight (full-size
    /// feature maps): there bf16 pays for packing its weights many times
    /// over, while in a one-step process the UNet's 865M weights cost more
    /// to pack than bf16 saves (docs/models.md has the figures).
    fn bf16(self) -> Result<(bool, bool)> {
        let amx = crate::kernels::amx::available();
        match self {
            Self::Auto => Ok((amx, false)),
            Self::F32 => Ok((false, false)),
            Self::Bf16 if amx => Ok((true, true)),
            Self::Bf16 => Err(Error::model(
                "bf16 precision needs a CPU with AMX (Intel Xeon 4th generation or later); \
                 this one has none: use --precision f32 or auto",
            )),
        }
    }
}

/// Tile side in latent pixels for tiled decoding: 32 latent pixels = 256
/// image pixels per tile.
pub const DEFAULT_TILE: usize = 32;
/// Latent pixels each tile shares with its neighbours.
pub const TILE_OVERLAP: usize = 8;

/// How to load a pipeline.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Where weights come from.
    pub weights: WeightSource,
    /// Which device runs it.
    pub device: DeviceChoice,
    /// Which decoder; `Tiny` loads TAESD too.
    pub decoder: Decoder,
    /// Overrides the model's default sampler.
    pub scheduler: Option<SchedulerKind>,
    /// What CPU matrix products run in.
    pub precision: Precision,
}

/// A loaded text-to-image pipeline.
#[derive(Debug)]
pub struct Pipeline {
    spec: &'static ModelSpec,
    device: Device,
    dtype: DType,
    tokenizer: ClipTokenizer,
    text: ClipTextModel,
    text2: Option<ClipTextModel>,
    unet: UNet,
    vae: VaeDecoder,
    vae_dtype: DType,
    taesd: Option<TinyDecoder>,
    decoder: Decoder,
    scheduler: SchedulerKind,
}

fn model_err(what: impl std::fmt::Display) -> impl FnOnce(candle_core::Error) -> Error {
    move |e| {
        // candle appends a backtrace to some errors; users get the cause.
        let text = e.to_string();
        let cause = text.lines().next().unwrap_or_default();
        Error::Model {
            message: format!("{what}: {cause}"),
            source: None,
        }
    }
}

fn read_config<T: DeserializeOwned>(path: Option<&Path>, fallback: T) -> Result<T> {
    let Some(path) = path else {
        return Ok(fallback);
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::model(format!(
            "{} is not a config this pipeline reads: {e}",
            path.display()
        ))
    })
}

fn load_weights(path: &Path, dtype: DType, device: &Device) -> Result<LayerWeights<'static>> {
    let started = Instant::now();
    let file = TensorFile::open(path)?;
    tracing::info!(
        phase = "load",
        file = %path.display(),
        seconds = started.elapsed().as_secs_f32(),
        "weights mapped"
    );
    Ok(LayerWeights::mapped(file, dtype, device))
}

/// Logs how long one part took to load (`-v`).
fn loaded(part: &str, started: Instant) {
    tracing::info!(
        phase = "load",
        part,
        seconds = started.elapsed().as_secs_f32(),
        "part loaded"
    );
}

/// Logs how long one phase of painting took (`-v`).
fn phase(name: &'static str, started: Instant) {
    tracing::info!(
        phase = name,
        seconds = started.elapsed().as_secs_f32(),
        "phase done"
    );
}

impl Pipeline {
    /// Loads `spec`'s weights (or, for test models, builds random ones).
    pub fn load(spec: &'static ModelSpec, opts: &LoadOptions) -> Result<Self> {
        let device = opts.device.device()?;
        // f16 on GPUs; CPUs have no fast f16 arithmetic, so f32 there.
        let dtype = if device.is_cpu() {
            DType::F32
        } else {
            DType::F16
        };
        let (vae_bf16, bf16) = match device.is_cpu() {
            true => opts.precision.bf16()?,
            false => (false, false),
        };
        if spec.test {
            // Test models stay f32 unless bf16 is asked for by name, so
            // their pictures are the same on every CPU.
            return Self::random(spec, device, dtype, bf16, opts);
        }
        let dir = opts.weights.model_dir.as_deref();
        let files = weights::resolve(
            spec.name,
            spec.repo,
            &weights::components(spec),
            &opts.weights,
            dir,
        )?;
        let (clip_d, clip2_d, unet_d, vae_d) = spec.default_configs();
        let clip_c = read_config(files.get("text encoder config"), clip_d)?;
        let unet_c = read_config(files.get("UNet config"), unet_d)?;
        let vae_c = read_config(files.get("VAE config"), vae_d)?;
        let tokenizer = match files
            .get("tokenizer merges")
            .and_then(|p| p.parent()?.parent())
        {
            Some(root) => ClipTokenizer::from_model_dir(root)?,
            None => ClipTokenizer::bundled(),
        };
        let started = Instant::now();
        let text = ClipTextModel::new(
            load_weights(files.required("text encoder")?, dtype, &device)?.with_bf16(bf16),
            &clip_c,
            false,
        )
        .map_err(model_err("text encoder weights do not fit the model"))?;
        loaded("text encoder", started);
        let text2 = match clip2_d {
            None => None,
            Some(d) => {
                let c = read_config(files.get("second text encoder config"), d)?;
                let vb = load_weights(files.required("second text encoder")?, dtype, &device)?
                    .with_bf16(bf16);
                Some(ClipTextModel::new(vb, &c, true).map_err(model_err(
                    "second text encoder weights do not fit the model",
                ))?)
            }
        };
        let started = Instant::now();
        let unet = UNet::new(
            load_weights(files.required("UNet")?, dtype, &device)?.with_bf16(bf16),
            &unet_c,
        )
        .map_err(model_err("UNet weights do not fit the model"))?;
        loaded("UNet", started);
        let vae_dtype = if vae_c.force_upcast {
            DType::F32
        } else {
            dtype
        };
        let started = Instant::now();
        let vae = VaeDecoder::new(
            load_weights(files.required("VAE")?, vae_dtype, &device)?.with_bf16(vae_bf16),
            &vae_c,
        )
        .map_err(model_err("VAE weights do not fit the model"))?;
        loaded("VAE", started);
        let started = Instant::now();
        let taesd = if opts.decoder == Decoder::Tiny {
            let taesd_dir = dir.map(|d| d.join("taesd"));
            let files = weights::resolve(
                "TAESD",
                spec.taesd_repo,
                &weights::taesd_components(),
                &opts.weights,
                taesd_dir.as_deref(),
            )?;
            let c = read_config(files.get("TAESD config"), TinyVaeConfig::default())?;
            let vb =
                load_weights(files.required("TAESD decoder")?, dtype, &device)?.with_bf16(bf16);
            Some(
                TinyDecoder::new(vb, &c)
                    .map_err(model_err("TAESD weights do not fit the model"))?,
            )
        } else {
            None
        };
        if taesd.is_some() {
            loaded("TAESD", started);
        }
        Ok(Self {
            spec,
            device,
            dtype,
            tokenizer,
            text,
            text2,
            unet,
            vae,
            vae_dtype,
            taesd,
            decoder: opts.decoder,
            scheduler: opts.scheduler.unwrap_or(spec.scheduler),
        })
    }

    fn random(
        spec: &'static ModelSpec,
        device: Device,
        dtype: DType,
        bf16: bool,
        opts: &LoadOptions,
    ) -> Result<Self> {
        let (clip_c, clip2_c, unet_c, vae_c) = spec.default_configs();
        let vb = |part: &str| {
            LayerWeights::from(VarBuilder::from_backend(
                Box::new(RandomInit::new(spec.id, part)),
                dtype,
                device.clone(),
            ))
            .with_bf16(bf16)
        };
        let build = || -> candle_core::Result<_> {
            let text = ClipTextModel::new(vb("text_encoder"), &clip_c, false)?;
            let text2 = clip2_c
                .as_ref()
                .map(|c| ClipTextModel::new(vb("text_encoder_2"), c, true))
                .transpose()?;
            let unet = UNet::new(vb("unet"), &unet_c)?;
            let vae = VaeDecoder::new(vb("vae"), &vae_c)?;
            let taesd = TinyDecoder::new(
                vb("taesd"),
                &TinyVaeConfig {
                    decoder_block_out_channels: vec![8, 8, 8, 8],
                    num_decoder_blocks: vec![1, 1, 1, 1],
                    latent_channels: 4,
                },
            )?;
            Ok((text, text2, unet, vae, taesd))
        };
        let (text, text2, unet, vae, taesd) =
            build().map_err(model_err("building the test model failed"))?;
        Ok(Self {
            spec,
            device,
            dtype,
            tokenizer: ClipTokenizer::bundled(),
            text,
            text2,
            unet,
            vae,
            vae_dtype: dtype,
            taesd: Some(taesd),
            decoder: opts.decoder,
            scheduler: opts.scheduler.unwrap_or(spec.scheduler),
        })
    }

    /// Largest latent area `Decoder::Auto` decodes in one piece.
    fn whole_decode_limit(&self) -> usize {
        if self.device.is_cpu() {
            128 * 128
        } else {
            64 * 64
        }
    }

    /// The model this pipeline runs.
    pub fn spec(&self) -> &'static ModelSpec {
        self.spec
    }

    /// The device it runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The dtype the UNet and text encoders compute in.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The (first) text encoder, for benchmarks and parity checks.
    pub fn text_encoder(&self) -> &ClipTextModel {
        &self.text
    }

    /// The UNet, for benchmarks and parity checks.
    pub fn unet(&self) -> &UNet {
        &self.unet
    }

    /// The full VAE decoder.
    pub fn vae(&self) -> &VaeDecoder {
        &self.vae
    }

    /// The TAESD decoder, when loaded.
    pub fn taesd(&self) -> Option<&TinyDecoder> {
        self.taesd.as_ref()
    }

    /// The text conditioning for `prompt`: `(1, 77, dim)` and, for SDXL,
    /// the pooled embedding.
    fn encode(&self, prompt: &str) -> candle_core::Result<(Tensor, Option<Tensor>)> {
        let (pad1, pad2) = self.spec.paddings();
        let ids = |pad| -> candle_core::Result<Tensor> {
            let e = self.tokenizer.encode(prompt, pad);
            if e.truncated > 0 {
                tracing::warn!(
                    dropped_tokens = e.truncated,
                    "prompt longer than 77 tokens was truncated"
                );
            }
            Tensor::new(e.ids.as_slice(), &self.device)?.unsqueeze(0)
        };
        let first = self.text.forward(&ids(pad1)?)?;
        match (&self.text2, self.spec.family) {
            (Some(text2), _) => {
                let second = text2.forward(&ids(pad2)?)?;
                let ctx = Tensor::cat(&[first.penultimate, second.penultimate], 2)?;
                Ok((ctx, second.pooled))
            }
            (None, Family::Sdxl) => candle_core::bail!("SDXL needs its second text encoder"),
            (None, _) => Ok((first.last, None)),
        }
    }

    /// Paints `request`, reporting each step to `ctx` and stopping when it
    /// is cancelled.
    pub fn generate(
        &self,
        request: &ArtRequest,
        ctx: &GenerationContext,
    ) -> Result<GeneratedImage> {
        self.generate_with(request, self.scheduler, ctx)
    }

    /// [`Pipeline::generate`] with a chosen sampler.
    pub fn generate_with(
        &self,
        request: &ArtRequest,
        scheduler: SchedulerKind,
        ctx: &GenerationContext,
    ) -> Result<GeneratedImage> {
        let pixels = self.pixels(request, scheduler, ctx)?;
        ctx.check()?;
        let started = Instant::now();
        let png = encode_png(&pixels, request, self.spec);
        phase("png", started);
        png
    }

    /// The image as `(3, height, width)` u8 values.
    pub fn pixels(
        &self,
        r: &ArtRequest,
        scheduler: SchedulerKind,
        ctx: &GenerationContext,
    ) -> Result<Tensor> {
        self.spec.info().validate(r)?;
        ctx.report(Stage::Encoding, 0, 1)?;
        let started = Instant::now();
        let guided = r.guidance > 1.0;
        let run = |what: &str| model_err(format!("{} failed while {what}", self.spec.id));
        let (cond, pooled) = self.encode(&r.prompt).map_err(run("encoding the prompt"))?;
        let (ctx_states, added) = if guided {
            let (uncond, upooled) =
                if self.spec.family == Family::Sdxl && r.negative_prompt.trim().is_empty() {
                    // SDXL conditions on zeros, not an encoded empty prompt.
                    (
                        cond.zeros_like(),
                        pooled.as_ref().map(Tensor::zeros_like).transpose(),
                    )
                } else {
                    let (u, p) = self
                        .encode(&r.negative_prompt)
                        .map_err(run("encoding the negative prompt"))?;
                    (Ok(u), Ok(p))
                };
            let uncond = uncond.map_err(run("encoding the negative prompt"))?;
            let upooled = upooled.map_err(run("encoding the negative prompt"))?;
            let states = Tensor::cat(&[uncond, cond], 0).map_err(run("batching"))?;
            let pooled = match (upooled, pooled) {
                (Some(u), Some(c)) => Some(Tensor::cat(&[u, c], 0).map_err(run("batching"))?),
                _ => None,
            };
            (states, pooled)
        } else {
            (cond, pooled)
        };
        let batch = if guided { 2 } else { 1 };
        let added = match added {
            None => None,
            Some(text_embeds) => {
                let (h, w) = (r.height as f32, r.width as f32);
                let ids = Tensor::new(&[h, w, 0.0, 0.0, h, w], &self.device)
                    .and_then(|t| t.unsqueeze(0)?.repeat((batch, 1)))
                    .map_err(run("building size ids"))?;
                Some(AddedCond {
                    text_embeds,
                    time_ids: ids,
                })
            }
        };
        ctx.report(Stage::Encoding, 1, 1)?;
        phase("text encoding", started);

        let down = self.vae.config().downscale();
        let shape = (1, 4, r.height as usize / down, r.width as usize / down);
        let mut sched = Scheduler::new(
            scheduler,
            self.spec.prediction,
            self.spec.spacing,
            r.steps as usize,
            r.seed ^ 0x005E_ED0F_A110_155E,
        );
        let mut rng = ChaCha8Rng::seed_from_u64(r.seed);
        let noise = gaussian(
            &mut rng,
            Shape::from(shape).dims(),
            &self.device,
            self.dtype,
        )
        .map_err(run("drawing noise"))?;
        let mut latents = (noise * sched.init_noise_sigma()).map_err(run("drawing noise"))?;
        let steps = sched.timesteps().len();
        ctx.step(0, steps as u32)?;
        for i in 0..steps {
            let started = Instant::now();
            let t = sched.timesteps()[i];
            let step = || -> candle_core::Result<Tensor> {
                let input = sched.scale_model_input(&latents, i)?;
                if !guided {
                    return self
                        .unet
                        .forward(&input, t as f64, &ctx_states, added.as_ref());
                }
                let (uncond, cond) = if self.device.is_cpu() {
                    // Two passes of one: measured on 2 cores, a batch of two
                    // takes 2.4-3x one pass (memory traffic), two passes 2x.
                    let half = |i: usize| -> candle_core::Result<Tensor> {
                        let added = added
                            .as_ref()
                            .map(|a| -> candle_core::Result<AddedCond> {
                                Ok(AddedCond {
                                    text_embeds: a.text_embeds.narrow(0, i, 1)?,
                                    time_ids: a.time_ids.narrow(0, i, 1)?,
                                })
                            })
                            .transpose()?;
                        let ctx = ctx_states.narrow(0, i, 1)?;
                        self.unet.forward(&input, t as f64, &ctx, added.as_ref())
                    };
                    (half(0)?, half(1)?)
                } else {
                    let both = Tensor::cat(&[&input, &input], 0)?;
                    let out = self
                        .unet
                        .forward(&both, t as f64, &ctx_states, added.as_ref())?;
                    (out.narrow(0, 0, 1)?, out.narrow(0, 1, 1)?)
                };
                &uncond + ((&cond - &uncond)? * r.guidance as f64)?
            };
            let noise_pred = step().map_err(run("denoising"))?;
            latents = sched
                .step(i, &noise_pred, &latents)
                .map_err(run("denoising"))?;
            tracing::info!(
                phase = "step",
                step = i + 1,
                of = steps,
                seconds = started.elapsed().as_secs_f32(),
                "phase done"
            );
            ctx.step(i as u32 + 1, steps as u32)?;
        }

        ctx.report(Stage::Decoding, 0, 1)?;
        let decoder = match (self.decoder, &self.taesd) {
            (Decoder::Tiny, Some(_)) => Decoder::Tiny,
            (Decoder::Tiny, None) => return Err(Error::internal("TAESD was not loaded")),
            // On CPUs convolutions run in bands, so a whole 1024² decode
            // stays near 4 GB; GPUs decode whole up to 512².
            (Decoder::Auto, _) if shape.2 * shape.3 > self.whole_decode_limit() => {
                Decoder::Tiled(DEFAULT_TILE * 2)
            }
            (Decoder::Auto, _) => Decoder::Full,
            (d, _) => d,
        };
        let decode = || -> candle_core::Result<Tensor> {
            let image = match (decoder, &self.taesd) {
                (Decoder::Tiny, Some(taesd)) => taesd.decode(&latents)?,
                (Decoder::Tiled(tile), _) => {
                    let tile = tile.max(TILE_OVERLAP * 2);
                    self.vae
                        .decode_tiled(&latents.to_dtype(self.vae_dtype)?, tile, TILE_OVERLAP)?
                }
                _ => self.vae.decode(&latents.to_dtype(self.vae_dtype)?)?,
            };
            ((image.to_dtype(DType::F32)?.squeeze(0)? + 1.0)? * 127.5)?
                .clamp(0.0, 255.0)?
                .round()?
                .to_dtype(DType::U8)
        };
        let started = Instant::now();
        let pixels = decode().map_err(run("decoding"))?;
        phase("decode", started);
        ctx.report(Stage::Decoding, 1, 1)?;
        Ok(pixels)
    }
}

fn encode_png(pixels: &Tensor, r: &ArtRequest, spec: &ModelSpec) -> Result<GeneratedImage> {
    let (_, h, w) = pixels
        .dims3()
        .map_err(|e| Error::internal(format!("decoded image has the wrong shape: {e}")))?;
    let data = pixels
        .permute((1, 2, 0))
        .and_then(|t| t.flatten_all()?.to_vec1::<u8>())
        .map_err(|e| Error::internal(format!("reading decoded pixels failed: {e}")))?;
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let text = |e: png::EncodingError| Error::internal(format!("PNG encoding failed: {e}"));
    let software = if spec.test {
        format!(
            "SpotifyArt on candle: {} (random weights, noise)",
            spec.name
        )
    } else {
        format!("SpotifyArt on candle: {}", spec.name)
    };
    enc.add_text_chunk("Software".into(), software)
        .map_err(text)?;
    enc.add_text_chunk("Description".into(), r.prompt.clone())
        .map_err(text)?;
    enc.add_text_chunk(
        "spotifyart".into(),
        format!(
            "model={} seed={} steps={} guidance={}",
            r.model, r.seed, r.steps, r.guidance
        ),
    )
    .map_err(text)?;
    let mut writer = enc.write_header().map_err(text)?;
    writer.write_image_data(&data).map_err(text)?;
    writer.finish().map_err(text)?;
    Ok(GeneratedImage {
        png: out,
        width: w as u32,
        height: h as u32,
    })
}

/// Deterministic random weights for the test models: each tensor's values
/// come from a generator seeded by its name, so building order and
/// threads do not matter, and layers are scaled by 1/√fan-in so
/// activations stay finite through the whole pipeline.
struct RandomInit {
    seed: u64,
}

impl RandomInit {
    fn new(model: &str, part: &str) -> Self {
        Self {
            seed: fnv1a(format!("{model}/{part}").as_bytes()),
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

impl SimpleBackend for RandomInit {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ fnv1a(name.as_bytes()));
        let dims = s.dims();
        let t = match h {
            Init::Const(v) => Tensor::full(v as f32, dims, dev)?,
            Init::Randn { mean, stdev } => {
                ((gaussian(&mut rng, dims, dev, DType::F32)? * stdev)? + mean)?
            }
            _ => {
                let fan_in: usize = if dims.len() > 1 {
                    dims[1..].iter().product()
                } else {
                    dims[0]
                };
                (gaussian(&mut rng, dims, dev, DType::F32)? / (fan_in as f64).sqrt())?
            }
        };
        t.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("random weights need a shape: {name}")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        false
    }
}
