//! Fuzzing on the stable toolchain (issue 23): the CLIP tokenizer on
//! arbitrary prompts. `cargo test` runs a short smoke; `scripts/fuzz` runs
//! 10^6 executions (`SPOTIFYART_FUZZ_N`, `SPOTIFYART_FUZZ_SEED`).
//! Properties: no panic, exactly 77 ids, start-of-text first, an
//! end-of-text, every id inside the vocabulary, and `truncated` consistent
//! with the prompt's own token count.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use spotifyart_diffusion::tokenizer::{CONTEXT_LENGTH, ClipTokenizer, Padding};

/// SplitMix64: small, fast, and reproducible from one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

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
    let n = env_u64("SPOTIFYART_FUZZ_N", 2000);
    let seed = env_u64("SPOTIFYART_FUZZ_SEED", 23);
    let tokenizer = ClipTokenizer::bundled();
    let start_of_text = tokenizer.encode("", Padding::Zero).ids[0];
    let end_of_text = tokenizer.encode("", Padding::Zero).ids[1];
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut crashes = 0u64;
    for i in 0..n {
        let mut rng = Rng(seed ^ i.wrapping_mul(0xA24B_AED4_963E_E407));
        let text = prompt(&mut rng);
        let padding = if rng.below(2) == 0 {
            Padding::Zero
        } else {
            Padding::EndOfText
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| tokenizer.encode(&text, padding)));
        let failure = match outcome {
            Err(_) => Some("panic".to_string()),
            Ok(e) => {
                let end = e.ids.iter().position(|&t| t == end_of_text);
                if e.ids.len() != CONTEXT_LENGTH {
                    Some(format!("{} ids", e.ids.len()))
                } else if e.ids[0] != start_of_text {
                    Some("no start-of-text".into())
                } else if end.is_none() {
                    Some("no end-of-text".into())
                } else if e.ids.iter().any(|&t| t > end_of_text) {
                    Some("id outside the vocabulary".into())
                } else if e.truncated > 0 && end != Some(CONTEXT_LENGTH - 1) {
                    Some("truncated but not full".into())
                } else {
                    None
                }
            }
        };
        if let Some(why) = failure {
            crashes += 1;
            if failures.len() < 5 {
                failures.push(format!("execution {i} (seed {seed}) on {text:?}: {why}"));
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "FUZZ target=clip_tokenizer execs={n} crashes={crashes} secs={secs:.2} execs_per_s={:.0}",
        n as f64 / secs.max(1e-9)
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
