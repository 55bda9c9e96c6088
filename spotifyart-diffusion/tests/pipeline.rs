//! The real pipeline end to end on the tiny random models (with the image
//! generator conformance suite), and weight loading from a diffusers-layout
//! folder.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use spotifyart_core::{
    ArtRequest, CancelToken, Error, GenerationContext, ImageGenerator, ImageGeneratorExt,
    ModelKind, Stage,
};
use spotifyart_diffusion::clip::ClipTextModel;
use spotifyart_diffusion::unet::UNet;
use spotifyart_diffusion::vae::VaeDecoder;
use spotifyart_diffusion::{
    Decoder, DeviceChoice, DiffusionGenerator, LoadOptions, Pipeline, Precision, SchedulerKind,
    WeightSource, spec,
};

fn request(model: &str, seed: u64) -> ArtRequest {
    ArtRequest {
        prompt: "a calm lake at dawn, watercolor".into(),
        negative_prompt: String::new(),
        seed,
        steps: 3,
        guidance: 0.0,
        width: 64,
        height: 48,
        model: model.into(),
        palette: vec![],
    }
}

fn cpu() -> LoadOptions {
    LoadOptions {
        device: DeviceChoice::Cpu,
        ..Default::default()
    }
}

fn tiny(id: &str, opts: &LoadOptions) -> Pipeline {
    Pipeline::load(spec(id).unwrap(), opts).unwrap()
}

// The image generator conformance suite on both tiny pipelines, through
// the generator the CLI, server and Python use (the smallest size the
// models allow and at most 4 steps, so each painting takes milliseconds).
mod tiny_conformance {
    use super::*;
    spotifyart_core::image_generator_conformance_tests!(
        DiffusionGenerator::new(Some("tiny"), cpu()).unwrap(),
        model: "tiny",
    );
}

mod tiny_xl_conformance {
    use super::*;
    spotifyart_core::image_generator_conformance_tests!(
        DiffusionGenerator::new(Some("tiny-xl"), cpu()).unwrap(),
        model: "tiny-xl",
    );
}

/// Decoded RGB bytes, after checking the PNG's size.
fn decode(png: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    buf
}

fn spread(px: &[u8]) -> u8 {
    px.iter().max().unwrap() - px.iter().min().unwrap()
}

#[test]
fn every_scheduler_paints_end_to_end() {
    for id in ["tiny", "tiny-xl"] {
        let p = tiny(id, &cpu());
        for kind in SchedulerKind::ALL {
            let r = request(id, 3);
            let img = p
                .generate_with(&r, kind, &GenerationContext::new())
                .unwrap();
            let px = decode(&img.png, 64, 48);
            assert!(spread(&px) > 0, "{id}/{kind}: a flat image");
        }
    }
}

#[test]
fn same_seed_same_image_other_seed_other_image() {
    let p = tiny("tiny", &cpu());
    let ctx = GenerationContext::new();
    for kind in [
        SchedulerKind::EulerAncestral,
        SchedulerKind::Ddpm,
        SchedulerKind::Ddim,
    ] {
        let a = p.generate_with(&request("tiny", 11), kind, &ctx).unwrap();
        let b = p.generate_with(&request("tiny", 11), kind, &ctx).unwrap();
        let c = p.generate_with(&request("tiny", 12), kind, &ctx).unwrap();
        assert!(a.png == b.png, "{kind} is not deterministic");
        assert!(a.png != c.png, "{kind} ignores the seed");
    }
    // A separately loaded pipeline paints the same picture.
    let again = tiny("tiny", &cpu());
    let (x, y) = (
        p.generate(&request("tiny", 11), &ctx).unwrap().png,
        again.generate(&request("tiny", 11), &ctx).unwrap().png,
    );
    assert!(x == y, "a reloaded pipeline paints differently");
}

#[test]
fn guidance_and_negative_prompts_change_the_image() {
    for id in ["tiny", "tiny-xl"] {
        let p = tiny(id, &cpu());
        let ctx = GenerationContext::new();
        let plain = p.generate(&request(id, 5), &ctx).unwrap();
        let guided = ArtRequest {
            guidance: 6.0,
            ..request(id, 5)
        };
        let g = p.generate(&guided, &ctx).unwrap();
        assert!(plain.png != g.png, "{id}: guidance had no effect");
        let negative = ArtRequest {
            negative_prompt: "blurry, dark".into(),
            ..guided.clone()
        };
        let n = p.generate(&negative, &ctx).unwrap();
        assert!(g.png != n.png, "{id}: the negative prompt had no effect");
        // Guidance at 1 is no guidance: one UNet pass on the prompt.
        let one = ArtRequest {
            guidance: 1.0,
            ..request(id, 5)
        };
        let same =
            decode(&p.generate(&one, &ctx).unwrap().png, 64, 48) == decode(&plain.png, 64, 48);
        assert!(same, "{id}: guidance 1 should equal no guidance");
    }
}

#[test]
fn progress_is_reported_per_step_and_cancellation_stops_the_run() {
    let g = DiffusionGenerator::new(Some("tiny"), cpu()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let ctx = GenerationContext::new().on_progress(move |p| log.lock().unwrap().push(p));
    let r = ArtRequest {
        steps: 4,
        ..request("tiny", 1)
    };
    g.generate_checked(&r, &ctx).unwrap();
    let seen = seen.lock().unwrap().clone();
    let steps: Vec<u32> = seen
        .iter()
        .filter(|p| p.stage == Stage::Denoising)
        .map(|p| p.step)
        .collect();
    assert_eq!(steps, [0, 1, 2, 3, 4]);
    assert_eq!(seen.first().unwrap().stage, Stage::Loading);
    assert_eq!(seen.last().unwrap().stage, Stage::Decoding);
    assert_eq!(seen.last().unwrap().fraction(), 1.0);

    let token = CancelToken::new();
    let t = token.clone();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let ctx = GenerationContext::new()
        .with_cancel(token)
        .on_progress(move |p| {
            if p.stage == Stage::Denoising && p.step == 1 {
                t.cancel();
            }
            c.fetch_add(1, Ordering::SeqCst);
        });
    let e = g.generate(&r, &ctx).unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e}");
    let after = calls.load(Ordering::SeqCst);
    assert!(after <= 5, "kept going after cancellation: {after} reports");
}

#[test]
fn decoders_agree_on_shape_and_tiling_is_seamless_enough() {
    let full = tiny(
        "tiny",
        &LoadOptions {
            decoder: Decoder::Full,
            ..cpu()
        },
    );
    let tiled = tiny(
        "tiny",
        &LoadOptions {
            decoder: Decoder::Tiled(16),
            ..cpu()
        },
    );
    let taesd = tiny(
        "tiny",
        &LoadOptions {
            decoder: Decoder::Tiny,
            ..cpu()
        },
    );
    let r = ArtRequest {
        width: 256,
        height: 192,
        steps: 1,
        ..request("tiny", 9)
    };
    let ctx = GenerationContext::new();
    let f = decode(&full.generate(&r, &ctx).unwrap().png, 256, 192);
    let t = decode(&tiled.generate(&r, &ctx).unwrap().png, 256, 192);
    let s = decode(&taesd.generate(&r, &ctx).unwrap().png, 256, 192);
    assert!(spread(&s) > 0);
    // Tiles normalise on their own statistics, so pixels differ a little;
    // the picture as a whole must not.
    let mean_diff = f
        .iter()
        .zip(&t)
        .map(|(a, b)| a.abs_diff(*b) as f64)
        .sum::<f64>()
        / f.len() as f64;
    assert!(
        mean_diff < 24.0,
        "tiled decode drifted from the full one: {mean_diff}"
    );
}

#[test]
fn requests_are_validated_against_the_model() {
    let g = DiffusionGenerator::new(Some("tiny"), cpu()).unwrap();
    let ctx = GenerationContext::new();
    let bad_size = ArtRequest {
        width: 60,
        ..request("tiny", 1)
    };
    assert!(
        g.generate(&bad_size, &ctx)
            .unwrap_err()
            .to_string()
            .contains("multiple of 8")
    );
    let too_big = ArtRequest {
        width: 512,
        height: 512,
        ..request("tiny", 1)
    };
    assert!(
        g.generate(&too_big, &ctx)
            .unwrap_err()
            .to_string()
            .contains("larger than")
    );
    let unknown = ArtRequest {
        model: "sd-9".into(),
        ..request("tiny", 1)
    };
    assert!(
        g.generate_checked(&unknown, &ctx)
            .unwrap_err()
            .to_string()
            .contains("sd-turbo")
    );
    let models = g.models();
    assert_eq!(models[0].id, "tiny");
    assert_eq!(models[0].kind, ModelKind::Test);
    assert!(
        models
            .iter()
            .any(|m| m.id == "sdxl" && m.kind == ModelKind::StableDiffusion)
    );
}

#[test]
fn missing_weights_name_the_files_and_the_fetch_command() {
    let dir = tempfile::tempdir().unwrap();
    let g = DiffusionGenerator::new(Some("sd-turbo"), from_dir(dir.path())).unwrap();
    let e = g
        .generate(&request("sd-turbo", 1), &GenerationContext::new())
        .unwrap_err()
        .to_string();
    for want in [
        "are missing from",
        "unet/diffusion_pytorch_model.fp16.safetensors or unet/diffusion_pytorch_model.safetensors",
        "text_encoder/model.fp16.safetensors",
        "vae/diffusion_pytorch_model.fp16.safetensors",
        "huggingface-cli download stabilityai/sd-turbo",
        "--model-dir",
    ] {
        assert!(e.contains(want), "{want:?} not in:\n{e}");
    }
    assert!(!e.contains("text_encoder_2"), "{e}");

    // No folder, an empty cache, downloads off: the cache is named.
    let opts = LoadOptions {
        weights: WeightSource {
            cache_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        },
        ..cpu()
    };
    let g = DiffusionGenerator::new(Some("sdxl"), opts).unwrap();
    let r = ArtRequest {
        model: "sdxl".into(),
        ..request("sdxl", 1)
    };
    let e = g
        .generate(&r, &GenerationContext::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not in the Hugging Face cache"), "{e}");
    assert!(e.contains("text_encoder_2/model.fp16.safetensors"), "{e}");
    assert!(
        e.contains("stabilityai/stable-diffusion-xl-base-1.0"),
        "{e}"
    );
}

/// Writes one component's randomly initialised weights (in f16, as the
/// Hub's `.fp16` files) and its config, in diffusers' layout.
fn write_component(
    root: &Path,
    dir: &str,
    file: &str,
    config: Option<serde_json::Value>,
    build: impl FnOnce(VarBuilder) -> candle_core::Result<()>,
) {
    save_component(root, dir, file, config, &random_weights(build), DType::F16)
}

/// The weights `build` asks for, random, rounded to values f16 holds (so
/// every dtype stores the same model).
fn random_weights(
    build: impl FnOnce(VarBuilder) -> candle_core::Result<()>,
) -> HashMap<String, Tensor> {
    let vm = VarMap::new();
    build(VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu)).unwrap();
    vm.data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let half = v.as_tensor().to_dtype(DType::F16).unwrap();
            (k.clone(), half.to_dtype(DType::F32).unwrap())
        })
        .collect()
}

/// Saves `tensors` as `dtype`, with `config`, in diffusers' layout.
fn save_component(
    root: &Path,
    dir: &str,
    file: &str,
    config: Option<serde_json::Value>,
    tensors: &HashMap<String, Tensor>,
    dtype: DType,
) {
    let tensors: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| (k.clone(), v.to_dtype(dtype).unwrap()))
        .collect();
    std::fs::create_dir_all(root.join(dir)).unwrap();
    candle_core::safetensors::save(&tensors, root.join(dir).join(file)).unwrap();
    if let Some(mut c) = config {
        c["_class_name"] = "from-the-test".into();
        std::fs::write(root.join(dir).join("config.json"), c.to_string()).unwrap();
    }
}

/// A diffusers-layout folder read through `--model-dir`: configs parsed,
/// f16 weights converted, a real model id (`sd-1.5`) on tiny shapes.
#[test]
fn loads_a_diffusers_folder_with_f16_weights_and_its_configs() {
    let root = tempfile::tempdir().unwrap();
    let (clip, _, unet, vae) = spec("tiny").unwrap().default_configs();
    write_component(
        root.path(),
        "text_encoder",
        "model.fp16.safetensors",
        Some(serde_json::to_value(&clip).unwrap()),
        |vb| ClipTextModel::new(vb, &clip, false).map(drop),
    );
    write_component(
        root.path(),
        "unet",
        "diffusion_pytorch_model.fp16.safetensors",
        Some(serde_json::to_value(&unet).unwrap()),
        |vb| UNet::new(vb, &unet).map(drop),
    );
    write_component(
        root.path(),
        "vae",
        "diffusion_pytorch_model.safetensors",
        Some(serde_json::to_value(&vae).unwrap()),
        |vb| VaeDecoder::new(vb, &vae).map(drop),
    );
    let g = DiffusionGenerator::new(Some("sd-1.5"), from_dir(root.path())).unwrap();
    let r = ArtRequest {
        guidance: 7.5,
        ..request("sd-1.5", 4)
    };
    let a = g.generate(&r, &GenerationContext::new()).unwrap();
    decode(&a.png, 64, 48);
    // Loaded once, reused.
    let p1 = g.pipeline("sd-1.5", &GenerationContext::new()).unwrap();
    let p2 = g.pipeline("sd-1.5", &GenerationContext::new()).unwrap();
    assert!(Arc::ptr_eq(&p1, &p2));
    assert!(g.generate(&r, &GenerationContext::new()).unwrap().png == a.png);

    // A config that does not match the weights is a clear model error.
    let mut wrong = serde_json::to_value(&unet).unwrap();
    wrong["block_out_channels"] = serde_json::json!([32, 64]);
    std::fs::write(root.path().join("unet/config.json"), wrong.to_string()).unwrap();
    let g = DiffusionGenerator::new(Some("sd-1.5"), from_dir(root.path())).unwrap();
    let e = g.generate(&r, &GenerationContext::new()).unwrap_err();
    assert!(matches!(e, Error::Model { .. }), "{e}");
    assert!(e.to_string().contains("UNet weights do not fit"), "{e}");
}

/// f32 files are multiplied where they lie in the mapped file, f16 files
/// are converted into memory: the same weights must paint the same
/// picture either way.
#[test]
fn f32_weights_used_in_place_paint_what_converted_f16_weights_paint() {
    let (clip, _, unet, vae) = spec("tiny").unwrap().default_configs();
    let parts = [
        (
            "text_encoder",
            "model",
            serde_json::to_value(&clip).unwrap(),
            random_weights(|vb| ClipTextModel::new(vb, &clip, false).map(drop)),
        ),
        (
            "unet",
            "diffusion_pytorch_model",
            serde_json::to_value(&unet).unwrap(),
            random_weights(|vb| UNet::new(vb, &unet).map(drop)),
        ),
        (
            "vae",
            "diffusion_pytorch_model",
            serde_json::to_value(&vae).unwrap(),
            random_weights(|vb| VaeDecoder::new(vb, &vae).map(drop)),
        ),
    ];
    let mut pngs = Vec::new();
    for (dtype, suffix) in [(DType::F32, ""), (DType::F16, ".fp16")] {
        let root = tempfile::tempdir().unwrap();
        for (dir, stem, config, tensors) in &parts {
            let file = format!("{stem}{suffix}.safetensors");
            save_component(
                root.path(),
                dir,
                &file,
                Some(config.clone()),
                tensors,
                dtype,
            );
        }
        let g = DiffusionGenerator::new(Some("sd-1.5"), from_dir(root.path())).unwrap();
        let png = g
            .generate(&request("sd-1.5", 11), &GenerationContext::new())
            .unwrap()
            .png;
        decode(&png, 64, 48);
        pngs.push(png);
    }
    assert!(
        pngs[0] == pngs[1],
        "the two loading paths painted differently"
    );
}

/// CPU, weights from `dir` only.
fn from_dir(dir: &Path) -> LoadOptions {
    LoadOptions {
        weights: WeightSource {
            model_dir: Some(dir.to_path_buf()),
            ..Default::default()
        },
        ..cpu()
    }
}

/// Guided steps run as one batch of two on GPUs and two passes of one on
/// CPUs; both must give the same noise prediction.
#[test]
fn a_batch_of_two_equals_two_passes_of_one() {
    use spotifyart_diffusion::unet::AddedCond;
    let p = tiny("tiny-xl", &cpu());
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1., (2, 4, 6, 8), &dev).unwrap();
    let ctx = Tensor::randn(0f32, 1., (2, 77, 32), &dev).unwrap();
    let added = AddedCond {
        text_embeds: Tensor::randn(0f32, 1., (2, 16), &dev).unwrap(),
        time_ids: Tensor::new(
            &[[48f32, 64., 0., 0., 48., 64.], [48., 64., 0., 0., 48., 64.]],
            &dev,
        )
        .unwrap(),
    };
    let both = p.unet().forward(&x, 321.0, &ctx, Some(&added)).unwrap();
    for i in 0..2 {
        let one = AddedCond {
            text_embeds: added.text_embeds.narrow(0, i, 1).unwrap(),
            time_ids: added.time_ids.narrow(0, i, 1).unwrap(),
        };
        let single = p
            .unet()
            .forward(
                &x.narrow(0, i, 1).unwrap(),
                321.0,
                &ctx.narrow(0, i, 1).unwrap(),
                Some(&one),
            )
            .unwrap();
        let diff = (both.narrow(0, i, 1).unwrap() - single)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-4, "item {i}: {diff}");
    }
}

/// A local stand-in for the Hugging Face Hub: serves files under
/// `/{repo}/resolve/main/{path}` the way hf-hub asks for them (a one-byte
/// range for the size, etag and commit headers, then the rest), 404
/// otherwise. Returns its address and a request counter.
fn fake_hub(repo: &str, files: HashMap<String, Vec<u8>>) -> (String, Arc<AtomicU32>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let prefix = format!("/{repo}/resolve/main/");
    let count = Arc::new(AtomicU32::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line);
            }
            let path = head
                .first()
                .and_then(|l| l.split(' ').nth(1))
                .unwrap_or("")
                .to_string();
            let from: usize = head
                .iter()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("range: bytes=")
                        .map(str::to_string)
                })
                .and_then(|r| r.trim().split('-').next().and_then(|s| s.parse().ok()))
                .unwrap_or(0);
            let mut out = stream;
            let file = path.strip_prefix(&prefix).and_then(|f| files.get(f));
            let Some(body) = file else {
                let _ = out.write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                continue;
            };
            let one_byte = head
                .iter()
                .any(|l| l.to_ascii_lowercase().starts_with("range: bytes=0-0"));
            let end = if one_byte {
                1.min(body.len())
            } else {
                body.len()
            };
            let part = &body[from.min(end)..end];
            let header = format!(
                "HTTP/1.1 206 Partial Content\r\ncontent-length: {}\r\ncontent-range: bytes {}-{}/{}\r\n\
                 etag: \"{:x}\"\r\nx-repo-commit: 0123456789abcdef\r\nconnection: close\r\n\r\n",
                part.len(),
                from,
                end.saturating_sub(1),
                body.len(),
                body.len() * 31 + path.len()
            );
            let _ = out.write_all(header.as_bytes());
            let _ = out.write_all(part);
        }
    });
    (addr, count)
}

/// The download path end to end: missing files come from the Hub (the
/// `.fp16` variant when there is one, the plain file when it 404s) into
/// the cache, and the next load reads the cache without asking again.
#[test]
fn weights_download_into_the_cache_then_load_from_it() {
    let staging = tempfile::tempdir().unwrap();
    let (clip, _, unet, vae) = spec("tiny").unwrap().default_configs();
    let text_cfg = serde_json::to_value(&clip).unwrap();
    let unet_cfg = serde_json::to_value(&unet).unwrap();
    let vae_cfg = serde_json::to_value(&vae).unwrap();
    write_component(
        staging.path(),
        "text_encoder",
        "model.safetensors",
        Some(text_cfg),
        |vb| ClipTextModel::new(vb, &clip, false).map(drop),
    );
    write_component(
        staging.path(),
        "unet",
        "diffusion_pytorch_model.fp16.safetensors",
        Some(unet_cfg),
        |vb| UNet::new(vb, &unet).map(drop),
    );
    write_component(
        staging.path(),
        "vae",
        "diffusion_pytorch_model.fp16.safetensors",
        Some(vae_cfg),
        |vb| VaeDecoder::new(vb, &vae).map(drop),
    );
    let mut files = HashMap::new();
    for f in [
        "text_encoder/model.safetensors",
        "text_encoder/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "unet/config.json",
        "vae/diffusion_pytorch_model.fp16.safetensors",
        "vae/config.json",
    ] {
        files.insert(
            f.to_string(),
            std::fs::read(staging.path().join(f)).unwrap(),
        );
    }
    let (endpoint, requests) = fake_hub("stabilityai/sd-turbo", files);
    let cache = tempfile::tempdir().unwrap();
    let opts = |download: bool| LoadOptions {
        weights: WeightSource {
            download,
            cache_dir: Some(cache.path().to_path_buf()),
            endpoint: Some(endpoint.clone()),
            ..Default::default()
        },
        ..cpu()
    };
    let r = ArtRequest {
        model: "sd-turbo".into(),
        steps: 1,
        ..request("sd-turbo", 3)
    };
    let g = DiffusionGenerator::new(Some("sd-turbo"), opts(true)).unwrap();
    let first = g.generate(&r, &GenerationContext::new()).unwrap();
    decode(&first.png, 64, 48);
    let asked = requests.load(Ordering::SeqCst);
    assert!(asked >= 6, "only {asked} requests");

    // From the cache alone: downloads off, nothing asked, same picture.
    let g = DiffusionGenerator::new(Some("sd-turbo"), opts(false)).unwrap();
    let again = g.generate(&r, &GenerationContext::new()).unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), asked);
    assert!(again.png == first.png);
}

/// bf16 products (AMX) paint what f32 paints, within rounding; without
/// AMX asking for bf16 is a clear error.
#[test]
fn bf16_paints_close_to_f32_or_names_what_it_needs() {
    let with = |precision| LoadOptions { precision, ..cpu() };
    let r = request("tiny", 5);
    let f32 = DiffusionGenerator::new(Some("tiny"), with(Precision::F32))
        .unwrap()
        .generate(&r, &GenerationContext::new())
        .unwrap();
    match DiffusionGenerator::new(Some("tiny"), with(Precision::Bf16))
        .and_then(|g| g.generate(&r, &GenerationContext::new()))
    {
        Ok(bf16) => {
            let (a, b) = (decode(&f32.png, 64, 48), decode(&bf16.png, 64, 48));
            let mean = a
                .iter()
                .zip(&b)
                .map(|(x, y)| x.abs_diff(*y) as f64)
                .sum::<f64>()
                / a.len() as f64;
            assert!(mean < 2.0, "mean pixel difference {mean}");
            assert!(a != b, "bf16 did not change a single rounding: not in use?");
        }
        Err(e) => assert!(e.to_string().contains("needs a CPU with AMX"), "{e}"),
    }
}
