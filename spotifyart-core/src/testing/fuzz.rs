//! The fuzz harness every crate's stable-toolchain fuzz targets share: a
//! seeded generator, the runner (every input under `catch_unwind`, the
//! first failures listed with how to replay them, one `FUZZ` line of
//! figures that `scripts/fuzz` reads) and a byte mutator.
//! `SPOTIFYART_FUZZ_N` sets the executions, `SPOTIFYART_FUZZ_SEED` the seed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// SplitMix64: small, fast, and reproducible from one seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// True once in `one_in` times.
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Runs `one` on `SPOTIFYART_FUZZ_N` (else `default_n`) inputs, each from
/// its own generator; fails listing the first crashes.
pub fn fuzz(target: &str, default_n: u64, mut one: impl FnMut(&mut Rng) -> Result<(), String>) {
    let n = env_u64("SPOTIFYART_FUZZ_N", default_n);
    let seed = env_u64("SPOTIFYART_FUZZ_SEED", 23);
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut crashes = 0u64;
    for i in 0..n {
        let mut rng = Rng(seed ^ i.wrapping_mul(0xA24B_AED4_963E_E407));
        let failure = match catch_unwind(AssertUnwindSafe(|| one(&mut rng))) {
            Ok(Ok(())) => continue,
            Ok(Err(why)) => why,
            Err(panic) => panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .map_or_else(|| "panic".to_string(), |m| format!("panic: {m}")),
        };
        crashes += 1;
        if failures.len() < 5 {
            failures.push(format!("execution {i} (seed {seed}): {failure}"));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "FUZZ target={target} execs={n} crashes={crashes} secs={secs:.2} execs_per_s={:.0}",
        n as f64 / secs.max(1e-9)
    );
    assert!(failures.is_empty(), "{target}: {}", failures.join("\n"));
}

/// A few random edits of `data`: bit flips, byte changes, truncation,
/// inserted `tokens` and junk, slices of up to `cut` bytes removed and of
/// up to `copy` bytes repeated.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, tokens: &[&[u8]], cut: usize, copy: usize) {
    for _ in 0..=rng.below(4) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = rng.next() as u8;
            }
            2 => data.truncate(rng.below(len + 1)),
            3 => {
                let at = rng.below(len + 1);
                let t = rng.pick(tokens);
                data.splice(at..at, t.iter().copied());
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(cut)).min(len);
                data.drain(a..b);
            }
            5 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(copy)).min(len);
                let piece = data[a..b].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, piece);
            }
            _ => {
                let at = rng.below(len + 1);
                let junk: Vec<u8> = (0..rng.below(8)).map(|_| rng.next() as u8).collect();
                data.splice(at..at, junk);
            }
        }
    }
}
