//! The candle side of `benches/diffusion/run`: one case per process (so
//! peak memory is that case's), one JSON line out, on the same weights the
//! diffusers side wrote. `parity` compares candle's outputs with
//! PyTorch's on fixed inputs.
//!
//! Usage: `diffusion CASE ROOT MODEL SIZE STEPS REPEAT [DEVICE]` with CASE
//! one of `unet`, `vae`, `vae-tiled`, `taesd`, `pipeline`, `parity`, `ids`.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::de::DeserializeOwned;
use spotifyart_core::{ArtRequest, GenerationContext};
use spotifyart_diffusion::layer_weights::LayerWeights;
use spotifyart_diffusion::pipeline::{DEFAULT_TILE, TILE_OVERLAP};
use spotifyart_diffusion::tokenizer::{ClipTokenizer, Padding};
use spotifyart_diffusion::unet::{UNet, UNetConfig};
use spotifyart_diffusion::vae::{TinyDecoder, TinyVaeConfig, VaeConfig, VaeDecoder};
use spotifyart_diffusion::{
    Decoder, DeviceChoice, LoadOptions, Pipeline, Precision, WeightSource, spec,
};

const PROMPT: &str = "a calm lake at dawn, watercolor";

fn peak_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn time(repeat: usize, mut f: impl FnMut() -> Res<()>) -> Res<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn max_diff(a: &Tensor, b: &Tensor) -> Res<(f32, f32)> {
    let a = a.to_dtype(DType::F32)?;
    let b = b.to_dtype(DType::F32)?;
    let diff = (&a - &b)?.abs()?.max_all()?.to_scalar::<f32>()?;
    let scale = b.abs()?.max_all()?.to_scalar::<f32>()?;
    Ok((diff, scale))
}

/// One component of a diffusers folder, loaded alone so a case's peak
/// memory is that component's (as on the diffusers side).
/// A component's config and weights (mapped, as the pipeline loads
/// them); CPU products in bf16 where the CPU has AMX unless
/// `BENCH_PRECISION=f32`. Whole pipelines take `BENCH_PRECISION` as
/// `--precision` (auto, f32, bf16).
fn component<C: DeserializeOwned>(
    dir: &Path,
    dev: &Device,
    dtype: DType,
) -> Res<(C, LayerWeights<'static>)> {
    let config: C = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)?;
    let weights = LayerWeights::open(&dir.join("diffusion_pytorch_model.safetensors"), dtype, dev)?;
    let bf16 = std::env::var("BENCH_PRECISION").map_or(true, |p| p != "f32");
    Ok((config, weights.with_bf16(bf16)))
}

/// SDXL's extra paths (pooled text and size conditioning, deeper
/// transformer stacks, the projected second encoder) against diffusers on
/// a tiny SDXL-shaped model.
fn parity_xl(root: &Path) -> Res<()> {
    use spotifyart_diffusion::clip::{ClipConfig, ClipTextModel};
    use spotifyart_diffusion::unet::AddedCond;
    let dir = root.join("tiny-xl");
    let dev = Device::Cpu;
    let t = candle_core::safetensors::load(dir.join("parity.safetensors"), &dev)?;
    let get = |k: &str| t.get(k).ok_or_else(|| format!("parity file lacks {k}"));
    let (c, vb) = component::<UNetConfig>(&dir.join("unet"), &dev, DType::F32)?;
    let unet = UNet::new(vb, &c)?;
    let added = AddedCond {
        text_embeds: get("text_embeds")?.clone(),
        time_ids: get("time_ids")?.clone(),
    };
    let out = unet.forward(get("latents")?, 500.0, get("ctx")?, Some(&added))?;
    let te = dir.join("text_encoder_2");
    let config: ClipConfig =
        serde_json::from_str(&std::fs::read_to_string(te.join("config.json"))?)?;
    let weights = candle_core::safetensors::load(te.join("model.safetensors"), &dev)?;
    let text = ClipTextModel::new(
        VarBuilder::from_tensors(weights, DType::F32, &dev),
        &config,
        true,
    )?;
    let emb = text.forward(&get("ids")?.to_dtype(DType::U32)?)?;
    let pooled = emb.pooled.ok_or("no pooled output")?;
    let mut line = serde_json::json!({"impl": "candle", "case": "parity", "model": "tiny-xl"});
    for (name, ours, theirs) in [
        ("unet", &out, get("unet_out")?),
        ("text_encoder_2", &emb.penultimate, get("penultimate")?),
        ("pooled", &pooled, get("pooled")?),
    ] {
        let (d, s) = max_diff(ours, theirs)?;
        line[name] = serde_json::json!({"max_abs_diff": d, "max_abs_ref": s});
    }
    println!("{line}");
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("ids") {
        let ids = ClipTokenizer::bundled()
            .encode(PROMPT, Padding::EndOfText)
            .ids;
        let end = ids.iter().position(|&i| i == 49407).unwrap_or(0) + 1;
        println!("{:?}", &ids[..end]);
        return Ok(());
    }
    if args.first().map(String::as_str) == Some("parity-xl") {
        return parity_xl(Path::new(
            args.get(1).ok_or("usage: diffusion parity-xl ROOT")?,
        ));
    }
    let [case, root, model, size, steps, repeat, rest @ ..] = args.as_slice() else {
        return Err("usage: diffusion CASE ROOT MODEL SIZE STEPS REPEAT [DEVICE]".into());
    };
    let (size, steps, repeat): (usize, u32, usize) =
        (size.parse()?, steps.parse()?, repeat.parse()?);
    let device: DeviceChoice = rest.first().map_or(Ok(DeviceChoice::Cpu), |d| d.parse())?;
    let spec = spec(model).ok_or("unknown model")?;
    let dir = Path::new(root).join(model);
    let decoder = match case.as_str() {
        "taesd" | "parity" => Decoder::Tiny,
        "vae-tiled" => Decoder::Tiled(DEFAULT_TILE),
        _ => Decoder::Auto,
    };
    let opts = LoadOptions {
        weights: WeightSource {
            model_dir: Some(dir.clone()),
            ..Default::default()
        },
        device,
        decoder,
        scheduler: None,
        precision: match std::env::var("BENCH_PRECISION").as_deref() {
            Ok("f32") => Precision::F32,
            Ok("bf16") => Precision::Bf16,
            _ => Precision::Auto,
        },
    };
    let dev = device.device()?;
    let dtype = if dev.is_cpu() { DType::F32 } else { DType::F16 };
    let lat = size / 8;
    let mut extra = serde_json::Map::new();
    let seconds = match case.as_str() {
        "unet" => {
            let (c, vb) = component::<UNetConfig>(&dir.join("unet"), &dev, dtype)?;
            let unet = UNet::new(vb, &c)?;
            // SD 1.5 runs with guidance (a batch of 2), the Turbos without;
            // BENCH_BATCH overrides, to see how a step scales.
            let batch = match std::env::var("BENCH_BATCH") {
                Ok(b) => b.parse()?,
                Err(_) if model == "sd-1.5" => 2,
                Err(_) => 1,
            };
            // A guided step on a CPU is two passes of one, as the pipeline
            // runs it (a batch of two is slower there); GPUs take the batch.
            let (passes, per_pass) = if dev.is_cpu() { (batch, 1) } else { (1, batch) };
            extra.insert("batch".into(), batch.into());
            let x = Tensor::randn(0f32, 1., (per_pass, 4, lat, lat), &dev)?.to_dtype(dtype)?;
            let ctx = Tensor::randn(0f32, 1., (per_pass, 77, c.cross_attention_dim), &dev)?
                .to_dtype(dtype)?;
            time(repeat, || {
                for _ in 0..passes {
                    unet.forward(&x, 500.0, &ctx, None)?
                        .to_device(&Device::Cpu)?;
                }
                Ok(())
            })?
        }
        "vae" | "vae-tiled" => {
            let (c, vb) = component::<VaeConfig>(&dir.join("vae"), &dev, dtype)?;
            let vae = VaeDecoder::new(vb, &c)?;
            let z = Tensor::randn(0f32, 1., (1, 4, lat, lat), &dev)?.to_dtype(dtype)?;
            time(repeat, || {
                let img = if case == "vae" {
                    vae.decode(&z)?
                } else {
                    vae.decode_tiled(&z, DEFAULT_TILE, TILE_OVERLAP)?
                };
                img.to_device(&Device::Cpu)?;
                Ok(())
            })?
        }
        "taesd" => {
            let (c, vb) = component::<TinyVaeConfig>(&dir.join("taesd"), &dev, dtype)?;
            let taesd = TinyDecoder::new(vb, &c)?;
            let z = Tensor::randn(0f32, 1., (1, 4, lat, lat), &dev)?.to_dtype(dtype)?;
            time(repeat, || {
                taesd.decode(&z)?.to_device(&Device::Cpu)?;
                Ok(())
            })?
        }
        "pipeline" => {
            let p = Pipeline::load(spec, &opts)?;
            let r = ArtRequest {
                prompt: PROMPT.into(),
                negative_prompt: String::new(),
                seed: 0,
                steps,
                guidance: spec.guidance,
                width: size as u32,
                height: size as u32,
                model: model.clone(),
                palette: vec![],
            };
            extra.insert("decoder".into(), "auto".into());
            time(repeat, || {
                p.generate(&r, &GenerationContext::new())?;
                Ok(())
            })?
        }
        "parity" => {
            let p = Pipeline::load(spec, &opts)?;
            let t = candle_core::safetensors::load(dir.join("parity.safetensors"), &dev)?;
            let get = |k: &str| t.get(k).ok_or_else(|| format!("parity file lacks {k}"));
            let ids = get("ids")?.to_dtype(DType::U32)?;
            let text = p.text_encoder().forward(&ids)?.last;
            let unet = p
                .unet()
                .forward(get("latents")?, 500.0, get("ctx")?, None)?;
            let vae = p.vae().decode(get("vae_in")?)?;
            let taesd = p.taesd().ok_or("no TAESD")?.decode(get("vae_in")?)?;
            for (name, ours, theirs) in [
                ("text_encoder", &text, get("text_out")?),
                ("unet", &unet, get("unet_out")?),
                ("vae", &vae, get("vae_out")?),
                ("taesd", &taesd, get("taesd_out")?),
            ] {
                let (d, s) = max_diff(ours, theirs)?;
                extra.insert(
                    name.into(),
                    serde_json::json!({"max_abs_diff": d, "max_abs_ref": s}),
                );
            }
            0.0
        }
        other => return Err(format!("unknown case {other}").into()),
    };
    let mut line = serde_json::json!({
        "impl": "candle", "case": case, "model": model, "size": size, "steps": steps,
        "seconds": seconds, "peak_mib": peak_mib(),
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "device": format!("{:?}", dev),
    });
    line.as_object_mut().expect("object").extend(extra);
    println!("{line}");
    Ok(())
}
