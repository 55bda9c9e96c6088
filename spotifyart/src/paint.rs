//! Painting from the command line: the progress bar, what is printed
//! while a picture is painted, and the check that an output folder
//! exists. Shared by `art` (commands.rs) and `cover` (login.rs).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use spotifyart_core::{
    ArtOutcome, ArtParams, Engine, GenerationContext, ModelKind, PreparedArt, Progress, Stage,
    Subject,
};

/// Paints `subject` with a progress bar, printing the prompt and whether
/// a stored picture was reused; the outcome and what kind of model it was.
pub(crate) async fn paint_subject(
    engine: &Engine,
    subject: Subject,
    params: &ArtParams,
) -> Result<(ArtOutcome, &'static str)> {
    paint_prepared(engine, &engine.prepare(subject, params)?).await
}

/// As [`paint_subject`] for a picture already prepared.
pub(crate) async fn paint_prepared(
    engine: &Engine,
    prepared: &PreparedArt,
) -> Result<(ArtOutcome, &'static str)> {
    let kind = match prepared.model.kind {
        ModelKind::Procedural => "procedural, not Stable Diffusion",
        ModelKind::StableDiffusion => "Stable Diffusion",
        ModelKind::Test => "randomly initialised test model: noise",
    };
    println!("prompt: {}", prepared.request.prompt);
    let bar = progress_bar();
    let ctx = {
        let bar = bar.clone();
        GenerationContext::new().on_progress(move |p: Progress| update_bar(&bar, p))
    };
    let started = Instant::now();
    let outcome = engine.paint(prepared, &ctx).await;
    bar.finish_and_clear();
    let outcome = outcome?;
    let meta = &outcome.artwork().meta;
    if outcome.is_reused() {
        println!(
            "reused the stored artwork {} painted {}; nothing was generated",
            meta.id,
            meta.created_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
    } else {
        println!(
            "painted artwork {} in {:.1} s",
            meta.id,
            started.elapsed().as_secs_f32()
        );
    }
    Ok((outcome, kind))
}

fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn update_bar(bar: &ProgressBar, p: Progress) {
    let msg = match p.stage {
        Stage::Loading => "loading",
        Stage::Encoding => "encoding",
        Stage::Denoising => "painting",
        Stage::Decoding => "decoding",
    };
    bar.set_message(msg);
    bar.set_length(p.total as u64);
    bar.set_position(p.step as u64);
}

/// The folder `path` will be written in, which must exist: checked before
/// painting too, so a typo does not cost a whole generation.
pub(crate) fn output_dir(path: &Path) -> Result<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write {}: folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    Ok(dir)
}
