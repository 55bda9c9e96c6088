//! The palette painter: a small procedural painter that needs no weights.
//! It is what `--model palette` paints with, and the always-available
//! generator for tests. It is not Stable Diffusion and never claims to be:
//! its model kind is `procedural` and the PNG says so in its metadata.
//!
//! It paints the way a diffusion loop refines: coarse soft shapes first,
//! finer strokes each step, in the mood's colours; saturated (high-arousal)
//! palettes give more, sharper strokes.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{ArtRequest, GeneratedImage, GenerationContext, ImageGenerator, ModelInfo, ModelKind};
use crate::mood::Rgb;
use crate::{Error, Result};

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct PalettePainter;

impl PalettePainter {
    /// The model id.
    pub const ID: &'static str = "palette";
}

impl ImageGenerator for PalettePainter {
    fn models(&self) -> Vec<ModelInfo> {
        vec![ModelInfo {
            id: Self::ID.to_string(),
            name: "Palette painter".to_string(),
            kind: ModelKind::Procedural,
            description: "procedural painter: layered soft strokes in the mood's colours; \
                          not Stable Diffusion, needs no weights"
                .to_string(),
            default_steps: 24,
            max_steps: 200,
            default_guidance: 0.0,
            default_width: 512,
            default_height: 512,
            size_multiple: 8,
            max_pixels: 2048 * 2048,
        }]
    }

    fn generate(&self, r: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
        ctx.check()?;
        let (w, h) = (r.width as usize, r.height as usize);
        if w == 0 || h == 0 {
            return Err(Error::invalid("width and height must be positive"));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(r.seed ^ fnv1a(r.prompt.as_bytes()));
        let palette: Vec<[f32; 3]> = if r.palette.is_empty() {
            palette_from_text(&r.prompt)
        } else {
            r.palette.iter().map(|c| to_f32(*c)).collect()
        };
        let energy = palette.iter().map(|c| saturation(*c)).sum::<f32>() / palette.len() as f32;
        let mut img = Canvas::new(w, h);

        // Background: a gradient from the shadow colour to the base colour.
        let dark = palette[3.min(palette.len() - 1)];
        let base = palette[0];
        let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
        let (ca, sa) = (angle.cos(), angle.sin());
        let span = (w as f32 * ca.abs() + h as f32 * sa.abs()).max(1.0);
        for y in 0..h {
            for x in 0..w {
                let t = ((x as f32 - w as f32 / 2.0) * ca + (y as f32 - h as f32 / 2.0) * sa)
                    / span
                    + 0.5;
                img.set(x, y, lerp(dark, base, t.clamp(0.0, 1.0)));
            }
        }

        // Strokes: coarse to fine, one layer per step.
        let steps = r.steps.max(1);
        let longest = w.max(h) as f32;
        let per_layer = 2 + (energy * 5.0) as usize;
        let sharpness = 1.0 + 2.5 * energy;
        for step in 0..steps {
            let f = step as f32 / steps as f32;
            let radius = longest * (0.45 * (1.0 - f) + 0.04);
            for _ in 0..per_layer {
                let stroke = Stroke {
                    cx: rng.random_range(-0.1..1.1) * w as f32,
                    cy: rng.random_range(-0.1..1.1) * h as f32,
                    rx: radius * rng.random_range(0.6..1.4),
                    squash: rng.random_range(0.25..1.0),
                    angle: rng.random_range(0.0..std::f32::consts::PI),
                    color: palette[rng.random_range(0..palette.len())],
                    alpha: rng.random_range(0.15..0.45) * (1.0 - 0.4 * f),
                    sharpness,
                };
                img.stroke(&stroke);
            }
            ctx.step(step + 1, steps)?;
        }

        // Canvas grain and a soft vignette.
        for y in 0..h {
            for x in 0..w {
                let dx = x as f32 / w as f32 - 0.5;
                let dy = y as f32 / h as f32 - 0.5;
                let vignette = 1.0 - 0.35 * (dx * dx + dy * dy);
                let grain = (rng.random::<f32>() - 0.5) * 0.035;
                let p = img.get(x, y);
                img.set(x, y, p.map(|c| c * vignette + grain));
            }
        }
        let png = encode_png(&img, r)?;
        Ok(GeneratedImage {
            png,
            width: r.width,
            height: r.height,
        })
    }
}

struct Stroke {
    cx: f32,
    cy: f32,
    rx: f32,
    squash: f32,
    angle: f32,
    color: [f32; 3],
    alpha: f32,
    sharpness: f32,
}

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<[f32; 3]>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            px: vec![[0.0; 3]; w * h],
        }
    }
    fn get(&self, x: usize, y: usize) -> [f32; 3] {
        self.px[y * self.w + x]
    }
    fn set(&mut self, x: usize, y: usize, c: [f32; 3]) {
        self.px[y * self.w + x] = c;
    }
    /// Blends a rotated soft ellipse.
    fn stroke(&mut self, s: &Stroke) {
        let ry = (s.rx * s.squash).max(1.0);
        let rx = s.rx.max(1.0);
        let reach = rx.max(ry);
        let x0 = (s.cx - reach).floor().max(0.0) as usize;
        let y0 = (s.cy - reach).floor().max(0.0) as usize;
        let x1 = ((s.cx + reach).ceil().max(0.0) as usize).min(self.w);
        let y1 = ((s.cy + reach).ceil().max(0.0) as usize).min(self.h);
        let (cos, sin) = (s.angle.cos(), s.angle.sin());
        for y in y0..y1 {
            for x in x0..x1 {
                let dx = x as f32 - s.cx;
                let dy = y as f32 - s.cy;
                let u = (dx * cos + dy * sin) / rx;
                let v = (-dx * sin + dy * cos) / ry;
                let d2 = u * u + v * v;
                if d2 >= 1.0 {
                    continue;
                }
                let wgt = s.alpha * (1.0 - d2).powf(s.sharpness);
                let p = self.get(x, y);
                self.set(x, y, lerp(p, s.color, wgt));
            }
        }
    }
}

fn lerp(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn to_f32(c: Rgb) -> [f32; 3] {
    [c.0 as f32 / 255.0, c.1 as f32 / 255.0, c.2 as f32 / 255.0]
}

fn saturation(c: [f32; 3]) -> f32 {
    let max = c[0].max(c[1]).max(c[2]);
    let min = c[0].min(c[1]).min(c[2]);
    if max <= 0.0 { 0.0 } else { (max - min) / max }
}

/// Five colours from the prompt's hash, for requests without a palette.
fn palette_from_text(text: &str) -> Vec<[f32; 3]> {
    let h = fnv1a(text.as_bytes());
    let hue = (h % 360) as f32;
    [0.0, 30.0, -30.0, 10.0, 180.0]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let l = if i == 3 { 0.2 } else { 0.55 };
            to_f32(Rgb::from_hsl(hue + d, 0.6, l))
        })
        .collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

fn encode_png(img: &Canvas, r: &ArtRequest) -> Result<Vec<u8>> {
    let mut data = Vec::with_capacity(img.w * img.h * 3);
    for p in &img.px {
        for c in p {
            data.push((c.clamp(0.0, 1.0) * 255.0).round() as u8);
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, img.w as u32, img.h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let text = |e: png::EncodingError| Error::internal(format!("PNG encoding failed: {e}"));
    enc.add_text_chunk(
        "Software".to_string(),
        "SpotifyArt palette painter (procedural, not Stable Diffusion)".to_string(),
    )
    .map_err(text)?;
    enc.add_text_chunk("Description".to_string(), r.prompt.clone())
        .map_err(text)?;
    enc.add_text_chunk(
        "spotifyart".to_string(),
        format!("model={} seed={} steps={}", r.model, r.seed, r.steps),
    )
    .map_err(text)?;
    let mut writer = enc.write_header().map_err(text)?;
    writer.write_image_data(&data).map_err(text)?;
    writer.finish().map_err(text)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::art::{CancelToken, ImageGeneratorExt};

    fn request(seed: u64) -> ArtRequest {
        ArtRequest {
            prompt: "a calm lake".into(),
            negative_prompt: String::new(),
            seed,
            steps: 6,
            guidance: 0.0,
            width: 64,
            height: 48,
            model: PalettePainter::ID.into(),
            palette: vec![Rgb(200, 120, 40), Rgb(30, 60, 120)],
        }
    }

    fn decode(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        (info, buf)
    }

    #[test]
    fn deterministic_valid_png_of_the_requested_size() {
        let ctx = GenerationContext::new();
        let a = PalettePainter.generate_checked(&request(7), &ctx).unwrap();
        let b = PalettePainter.generate_checked(&request(7), &ctx).unwrap();
        let c = PalettePainter.generate_checked(&request(8), &ctx).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.png, c.png);
        let (info, pixels) = decode(&a.png);
        assert_eq!((info.width, info.height), (64, 48));
        // Not a flat image: the strokes vary the pixels.
        let distinct: std::collections::HashSet<_> = pixels.chunks(3).collect();
        assert!(distinct.len() > 50, "{}", distinct.len());
    }

    #[test]
    fn reports_every_step_and_honours_cancel() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let ctx = GenerationContext::new().on_progress(move |p| s.lock().unwrap().push(p.step));
        PalettePainter.generate(&request(1), &ctx).unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3, 4, 5, 6]);

        let token = CancelToken::new();
        let calls = std::sync::Arc::new(AtomicU32::new(0));
        let (t, c) = (token.clone(), calls.clone());
        let ctx = GenerationContext::new()
            .with_cancel(token)
            .on_progress(move |p| {
                c.fetch_add(1, Ordering::SeqCst);
                if p.step == 2 {
                    t.cancel();
                }
            });
        let err = PalettePainter.generate(&request(1), &ctx).unwrap_err();
        assert!(matches!(err, Error::Cancelled));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "stops at the step it was cancelled"
        );
    }
}
