//! The [`ImageGenerator`] conformance suite. Every generator runs all of
//! it on one of the models it offers:
//!
//! ```text
//! spotifyart_core::image_generator_conformance_tests!(MyGenerator::new(..), model: "my-model");
//! ```
//!
//! The checks use only the trait (and [`ImageGeneratorExt`]): requests
//! outside the model's limits are refused with an `InvalidInput` error that
//! names the bad value; a request and seed always give the same PNG, another
//! seed another one; cancellation is honoured promptly; progress only goes
//! up; and `models()` declares what the generator paints. To stay fast on
//! real pipelines, every painted request uses the smallest size and few
//! steps within the model's own limits ([`small_request`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Error;
use crate::art::{
    ArtRequest, CancelToken, GenerationContext, ImageGenerator, ImageGeneratorExt, ModelInfo,
    Progress, Stage,
};

/// How long a generator may take to stop once cancelled.
pub const CANCEL_BOUND: Duration = Duration::from_secs(2);

/// Generates one `#[test]` per conformance check, each calling the given
/// expression for a fresh generator (anything that implements
/// [`ImageGenerator`]) and painting with the model id `model:`. With
/// `optional:`, the generator expression yields an `Option` and `None`
/// skips the test (for generators whose weights the machine may lack).
#[macro_export]
macro_rules! image_generator_conformance_tests {
    (optional: $make:expr, model: $model:expr $(,)?) => {
        mod image_generator_conformance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::testing::generator as suite;

            macro_rules! conformance_test {
                ($name:ident) => {
                    #[test]
                    fn $name() {
                        let Some(generator) = $make else {
                            return;
                        };
                        suite::$name(&generator, $model);
                    }
                };
            }

            conformance_test!(models_are_declared);
            conformance_test!(requests_outside_the_limits_are_refused);
            conformance_test!(same_seed_same_png_other_seed_other_png);
            conformance_test!(the_png_has_the_requested_size);
            conformance_test!(cancellation_is_prompt);
            conformance_test!(progress_only_goes_up);
        }
    };
    ($make:expr, model: $model:expr $(,)?) => {
        $crate::image_generator_conformance_tests!(optional: Some($make), model: $model);
    };
}

fn info(g: &dyn ImageGenerator, model: &str) -> ModelInfo {
    g.model_info(Some(model))
        .unwrap_or_else(|e| panic!("the generator does not offer {model:?}: {e}"))
}

/// The smallest side the model accepts: a multiple of its `size_multiple`,
/// at least 16 pixels.
pub fn smallest_side(info: &ModelInfo) -> u32 {
    let m = info.size_multiple.max(1);
    m.max(16).div_ceil(m) * m
}

/// A quick request within `info`'s limits: the smallest side by twice it
/// (when the pixel limit allows; not square, so width and height cannot be
/// swapped unnoticed), at most 2 steps, the default guidance.
pub fn small_request(info: &ModelInfo, seed: u64) -> ArtRequest {
    let side = smallest_side(info);
    let height = if side as u64 * 2 * side as u64 <= info.max_pixels {
        side * 2
    } else {
        side
    };
    ArtRequest {
        prompt: "a calm lake at dawn, watercolor".into(),
        negative_prompt: String::new(),
        seed,
        steps: info.default_steps.clamp(1, 2.min(info.max_steps.max(1))),
        guidance: info.default_guidance,
        width: side,
        height,
        model: info.id.clone(),
        palette: Vec::new(),
    }
}

/// A request from the model's own defaults.
fn default_request(info: &ModelInfo) -> ArtRequest {
    ArtRequest {
        prompt: "a calm lake at dawn, watercolor".into(),
        negative_prompt: String::new(),
        seed: 1,
        steps: info.default_steps,
        guidance: info.default_guidance,
        width: info.default_width,
        height: info.default_height,
        model: info.id.clone(),
        palette: Vec::new(),
    }
}

/// `models()` is non-empty with unique ids, offers `model`, the first is
/// the default, and every model's defaults pass its own `validate`.
pub fn models_are_declared(g: &dyn ImageGenerator, model: &str) {
    let models = g.models();
    assert!(!models.is_empty(), "the generator offers no models");
    for (i, m) in models.iter().enumerate() {
        assert!(
            !models[..i].iter().any(|o| o.id == m.id),
            "model id {:?} is declared twice",
            m.id
        );
        assert!(!m.id.trim().is_empty(), "a model has an empty id: {m:?}");
        if let Err(e) = m.validate(&default_request(m)) {
            panic!("{}'s own defaults are refused: {e}\n{m:?}", m.id);
        }
    }
    assert!(
        models.iter().any(|m| m.id == model),
        "{model:?} is not among {:?}",
        models.iter().map(|m| &m.id).collect::<Vec<_>>()
    );
    assert_eq!(
        g.model_info(None).unwrap().id,
        models[0].id,
        "the first model is the default"
    );
}

/// Whether `message` has `value` as a whole number in it.
fn names_number(message: &str, value: u64) -> bool {
    message
        .split(|c: char| !c.is_ascii_digit())
        .any(|w| w == value.to_string())
}

/// Steps of 0 and above `max_steps`, sides that are too small or not a
/// multiple of `size_multiple`, and more pixels than `max_pixels` are each
/// an `InvalidInput` from `generate_checked` whose message names the value.
pub fn requests_outside_the_limits_are_refused(g: &dyn ImageGenerator, model: &str) {
    let info = info(g, model);
    let ok = small_request(&info, 1);
    let m = info.size_multiple.max(1);
    let side = smallest_side(&info);
    // (what, the bad request, the field the message names, the bad values)
    type Case = (String, ArtRequest, Option<&'static str>, Vec<u64>);
    let mut cases: Vec<Case> = vec![
        (
            "no steps".into(),
            ArtRequest {
                steps: 0,
                ..ok.clone()
            },
            Some("steps"),
            vec![0],
        ),
        (
            "too many steps".into(),
            ArtRequest {
                steps: info.max_steps + 1,
                ..ok.clone()
            },
            Some("steps"),
            vec![info.max_steps as u64 + 1],
        ),
        (
            "zero width".into(),
            ArtRequest {
                width: 0,
                ..ok.clone()
            },
            Some("width"),
            vec![0],
        ),
        (
            "height below the smallest side".into(),
            ArtRequest {
                height: side - m,
                ..ok.clone()
            },
            Some("height"),
            vec![(side - m) as u64],
        ),
    ];
    if m > 1 {
        cases.push((
            "width not a multiple".into(),
            ArtRequest {
                width: side + 1,
                ..ok.clone()
            },
            Some("width"),
            vec![side as u64 + 1],
        ));
    }
    // The smallest square of allowed sides above the pixel limit.
    let over = ((info.max_pixels as f64).sqrt() as u64 / m as u64 + 1) * m as u64;
    if over <= u32::MAX as u64 {
        cases.push((
            "more pixels than the limit".into(),
            ArtRequest {
                width: over as u32,
                height: over as u32,
                ..ok.clone()
            },
            None,
            vec![over],
        ));
    }
    let ctx = GenerationContext::new();
    for (what, r, field, values) in cases {
        match g.generate_checked(&r, &ctx) {
            Err(Error::InvalidInput { message }) => {
                if let Some(field) = field {
                    assert!(
                        message.contains(field),
                        "{model}, {what}: the message does not name {field}: {message}"
                    );
                }
                for v in values {
                    assert!(
                        names_number(&message, v),
                        "{model}, {what}: the message does not name the value {v}: {message}"
                    );
                }
            }
            other => panic!("{model}, {what}: expected InvalidInput, got {other:?} for {r:?}"),
        }
    }
}

/// The same request and seed paint the same PNG bytes (twice on one
/// generator); another seed paints a different one.
pub fn same_seed_same_png_other_seed_other_png(g: &dyn ImageGenerator, model: &str) {
    let info = info(g, model);
    let ctx = GenerationContext::new();
    let paint = |seed| {
        g.generate_checked(&small_request(&info, seed), &ctx)
            .unwrap_or_else(|e| panic!("{model}: painting seed {seed} failed: {e}"))
            .png
    };
    let (a, b, c) = (paint(7), paint(7), paint(8));
    assert!(
        a == b,
        "{model}: the same request and seed gave different PNGs"
    );
    assert!(a != c, "{model}: seeds 7 and 8 gave the same PNG");
}

/// The PNG decodes to the requested width and height, as does the
/// image's own report of its size.
pub fn the_png_has_the_requested_size(g: &dyn ImageGenerator, model: &str) {
    let info = info(g, model);
    let r = small_request(&info, 3);
    let img = g
        .generate_checked(&r, &GenerationContext::new())
        .unwrap_or_else(|e| panic!("{model}: painting failed: {e}"));
    let decoded = image::load_from_memory_with_format(&img.png, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("{model}: the PNG does not decode: {e}"));
    assert_eq!(
        (decoded.width(), decoded.height()),
        (r.width, r.height),
        "{model}: decoded size"
    );
    assert_eq!(
        (img.width, img.height),
        (r.width, r.height),
        "{model}: reported size"
    );
}

/// A run with a token cancelled beforehand, and a run cancelled at its
/// first denoising step, each end in [`Error::Cancelled`] within
/// [`CANCEL_BOUND`] and before all their steps are done.
pub fn cancellation_is_prompt(g: &dyn ImageGenerator, model: &str) {
    let info = info(g, model);
    let r = ArtRequest {
        steps: info.max_steps.min(4),
        ..small_request(&info, 5)
    };
    let finished = |seen: &[Progress]| {
        seen.iter()
            .any(|p| p.stage == Stage::Denoising && p.total > 0 && p.step >= p.total)
    };

    // Cancelled before the run starts.
    let token = CancelToken::new();
    token.cancel();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let ctx = GenerationContext::new()
        .with_cancel(token)
        .on_progress(move |p| log.lock().unwrap().push(p));
    let started = Instant::now();
    let result = g.generate_checked(&r, &ctx);
    let took = started.elapsed();
    assert!(
        matches!(result, Err(Error::Cancelled)),
        "{model}: a cancelled token should give Cancelled, got {result:?}"
    );
    assert!(
        took <= CANCEL_BOUND,
        "{model}: took {took:?} to notice a token cancelled beforehand"
    );
    assert!(
        !finished(&seen.lock().unwrap()),
        "{model}: painted every step despite the cancelled token"
    );

    // Cancelled at the first denoising step.
    if r.steps < 2 {
        return;
    }
    let token = CancelToken::new();
    let t = token.clone();
    let cancelled_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let at = cancelled_at.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let ctx = GenerationContext::new()
        .with_cancel(token)
        .on_progress(move |p| {
            log.lock().unwrap().push(p);
            if p.stage == Stage::Denoising && !t.is_cancelled() {
                t.cancel();
                *at.lock().unwrap() = Some(Instant::now());
            }
        });
    let result = g.generate_checked(&r, &ctx);
    let ended = Instant::now();
    let seen = seen.lock().unwrap().clone();
    let Some(at) = *cancelled_at.lock().unwrap() else {
        panic!("{model}: no denoising progress was reported, so nothing could cancel: {seen:?}");
    };
    assert!(
        matches!(result, Err(Error::Cancelled)),
        "{model}: cancelled at the first denoising step, got {result:?}"
    );
    assert!(
        ended - at <= CANCEL_BOUND,
        "{model}: took {:?} to stop after cancellation",
        ended - at
    );
    assert!(
        !finished(&seen),
        "{model}: painted all {} steps after cancellation: {seen:?}",
        r.steps
    );
}

fn stage_order(s: Stage) -> u8 {
    match s {
        Stage::Loading => 0,
        Stage::Encoding => 1,
        Stage::Denoising => 2,
        Stage::Decoding => 3,
    }
}

/// A run reports progress, and the reports only go up: stages in order
/// (loading, encoding, denoising, decoding), steps within a stage never
/// decreasing and never past the stage's total (which stays the same), and
/// the overall fraction never decreasing.
pub fn progress_only_goes_up(g: &dyn ImageGenerator, model: &str) {
    let info = info(g, model);
    let r = ArtRequest {
        steps: info.max_steps.min(3),
        ..small_request(&info, 9)
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let ctx = GenerationContext::new().on_progress(move |p| log.lock().unwrap().push(p));
    g.generate_checked(&r, &ctx)
        .unwrap_or_else(|e| panic!("{model}: painting failed: {e}"));
    let seen: Vec<Progress> = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "{model}: no progress was reported");
    for p in &seen {
        assert!(p.step <= p.total, "{model}: step past its total: {p:?}");
    }
    for w in seen.windows(2) {
        let (a, b) = (w[0], w[1]);
        assert!(
            stage_order(b.stage) >= stage_order(a.stage),
            "{model}: stage went back from {a:?} to {b:?} in {seen:?}"
        );
        if a.stage == b.stage {
            assert!(
                b.step >= a.step && b.total == a.total,
                "{model}: progress went back from {a:?} to {b:?} in {seen:?}"
            );
        }
        assert!(
            b.fraction() >= a.fraction(),
            "{model}: the fraction went back from {a:?} to {b:?}"
        );
    }
    assert!(
        seen.iter().any(|p| p.stage == Stage::Denoising),
        "{model}: no denoising (painting) steps were reported: {seen:?}"
    );
}
