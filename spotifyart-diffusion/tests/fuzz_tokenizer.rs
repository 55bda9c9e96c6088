//! Fuzzing on the stable toolchain (issue 23): the CLIP tokenizer on
//! arbitrary prompts. `cargo test` runs a short smoke; `scripts/fuzz` runs
//! 10^6 executions (`SPOTIFYART_FUZZ_N`, `SPOTIFYART_FUZZ_SEED`).
//! Properties: no panic, exactly 77 ids, start-of-text first, an
//! end-of-text, every id inside the vocabulary, and `truncated` consistent
//! with the prompt's own token count.

use spotifyart_core::testing::fuzz::{Rng, fuzz};
use spotifyart_diffusion::tokenizer::{CONTEXT_LENGTH, ClipTokenizer, Padding};

/// Pieces prompts are built from: the composer's words, punctuation,
/// whitespace, combining marks, emoji, RTL, CJK, controls, and long runs.
const PIECES: &[&str] = &[
    "a ",
    "dreamy ",
    "synthwave ",
    "album cover, ",
    "neon",
    "'s ",
    "'ll ",
    "!!!",
    "...",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u{0}",
    "\u{7f}",
    "\u{301}",
    "e\u{301}",
    "\u{200b}",
    "\u{feff}",
    "\u{202e}",
    "🎵",
    "👩‍👩‍👧",
    "🇫🇷",
    "音楽",
    "موسيقى",
    "Ⅻ",
    "ﬁ",
    "ß",
    "İ",
    "\u{10ffff}",
    "\u{fffd}",
    "<|startoftext|>",
    "<|endoftext|>",
    "</w>",
    "0123456789",
    "_",
    "--",
    "Ω",
];

fn prompt(rng: &mut Rng) -> String {
    let mut s = String::new();
    match rng.below(10) {
        // Random code points (valid chars only: &str cannot hold others).
        0 => {
            for _ in 0..rng.below(64) {
                if let Some(c) = char::from_u32(rng.below(0x11_0000) as u32) {
                    s.push(c);
                }
            }
        }
        // One long word, far past the context.
        1 => s = "x".repeat(rng.below(5000)),
        _ => {
            for _ in 0..rng.below(40) {
                s.push_str(PIECES[rng.below(PIECES.len())]);
            }
        }
    }
    s
}

#[test]
fn fuzz_clip_tokenizer() {
    let tokenizer = ClipTokenizer::bundled();
    let start_of_text = tokenizer.encode("", Padding::Zero).ids[0];
    let end_of_text = tokenizer.encode("", Padding::Zero).ids[1];
    fuzz("clip_tokenizer", 2000, |rng| {
        let text = prompt(rng);
        let padding = if rng.below(2) == 0 {
            Padding::Zero
        } else {
            Padding::EndOfText
        };
        let e = tokenizer.encode(&text, padding);
        let end = e.ids.iter().position(|&t| t == end_of_text);
        let why = if e.ids.len() != CONTEXT_LENGTH {
            format!("{} ids", e.ids.len())
        } else if e.ids[0] != start_of_text {
            "no start-of-text".into()
        } else if end.is_none() {
            "no end-of-text".into()
        } else if e.ids.iter().any(|&t| t > end_of_text) {
            "id outside the vocabulary".into()
        } else if e.truncated > 0 && end != Some(CONTEXT_LENGTH - 1) {
            "truncated but not full".into()
        } else {
            return Ok(());
        };
        Err(format!("on {text:?}: {why}"))
    });
}
