//! SpotifyArt inside another Rust program: two Spotify data exports in, the
//! painting of their match out, kept in a SQLite database so the same two
//! people are never painted twice.
//!
//! ```text
//! cargo run --release -p spotifyart-engine --example paint_match -- \
//!     examples/exports/alice examples/exports/bob us.png [MODEL]
//! ```
//!
//! MODEL defaults to `sd-turbo` (downloaded into the Hugging Face cache on
//! first use); `palette` needs no weights, `tiny` is a random test network.

use std::path::Path;

use spotifyart_core::engine::subject_pair;
use spotifyart_core::{ArtParams, GenerationContext, read_export};
use spotifyart_engine::EngineConfig;
use spotifyart_store::StoreConfig;

/// Paints the match of the exports `a` and `b` to `out` with `model`,
/// keeping it in the SQLite database `db`; returns what it did, in words.
pub async fn paint_match(
    a: &Path,
    b: &Path,
    out: &Path,
    model: &str,
    db: &Path,
) -> Result<String, Box<dyn std::error::Error>> {
    // The store: any `Store`; here SQLite, created and migrated on open.
    let store = spotifyart_store::open(&StoreConfig {
        url: format!("sqlite://{}", db.display()),
        ..StoreConfig::default()
    })
    .await?
    .into_store();
    // The engine, as the `spotifyart` CLI and server build it.
    let engine = EngineConfig {
        model: model.to_string(),
        ..EngineConfig::default()
    }
    .build(store)?;
    // Listening in, a match and its picture out.
    let (pa, pb) = (read_export(a)?, read_export(b)?);
    let matched = engine.match_profiles(&pa, &pb)?;
    let art = engine.prepare(subject_pair(&matched, None, vec![]), &ArtParams::default())?;
    let outcome = engine.paint(&art, &GenerationContext::new()).await?;
    outcome.artwork().save(out)?;
    Ok(format!(
        "{} ({}); {} {}",
        matched.explanation(),
        art.request.prompt,
        if outcome.is_reused() {
            "reused"
        } else {
            "painted"
        },
        out.display()
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b, out, rest @ ..] = args.as_slice() else {
        eprintln!("usage: paint_match EXPORT_A EXPORT_B OUT.png [MODEL]");
        std::process::exit(2);
    };
    let model = rest
        .first()
        .map_or(spotifyart_engine::DEFAULT_MODEL, String::as_str);
    let said = paint_match(
        a.as_ref(),
        b.as_ref(),
        out.as_ref(),
        model,
        "spotifyart.db".as_ref(),
    )
    .await?;
    println!("{said}");
    Ok(())
}
