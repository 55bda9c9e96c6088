//! Queue drain rate with 1, 2 and 4 workers against a generator of fixed
//! cost (50 ms, like a model waiting on an accelerator), on SQLite and
//! PostgreSQL; prints jobs/s and the scaling over one worker.
//!
//! `cargo bench -p spotifyart-benches --bench queue_drain`

use std::sync::Arc;
use std::time::{Duration, Instant};

use spotifyart_core::engine::{JobSettings, subject_one};
use spotifyart_core::mood::Mood;
use spotifyart_core::{
    ArtParams, ArtRequest, Engine, GeneratedImage, GenerationContext, ImageGenerator, ModelInfo,
    PalettePainter,
};

const JOBS: u64 = 48;
const COST: Duration = Duration::from_millis(50);

#[derive(Debug)]
struct FixedCost;

impl ImageGenerator for FixedCost {
    fn models(&self) -> Vec<ModelInfo> {
        PalettePainter.models()
    }
    fn generate(
        &self,
        r: &ArtRequest,
        ctx: &GenerationContext,
    ) -> spotifyart_core::Result<GeneratedImage> {
        std::thread::sleep(COST);
        PalettePainter.generate(r, ctx)
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` asks harness-less benches for names
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    println!(
        "queue drain: {JOBS} jobs, generator cost {} ms each",
        COST.as_millis()
    );
    println!(
        "{:<10} {:>8} {:>10} {:>9}",
        "backend", "workers", "jobs/s", "scaling"
    );
    let backends = rt.block_on(spotifyart_benches::stores(dir.path()));
    let names: Vec<&str> = backends.iter().map(|(n, _)| *n).collect();
    drop(backends);
    for name in names {
        let mut base = None;
        for workers in [1usize, 2, 4] {
            let rate = rt.block_on(async {
                let store = spotifyart_benches::stores(dir.path())
                    .await
                    .into_iter()
                    .find(|(n, _)| *n == name)
                    .unwrap()
                    .1;
                let engine = Arc::new(
                    Engine::builder()
                        .store(store)
                        .generator(Arc::new(FixedCost))
                        .jobs(JobSettings::default())
                        .build(),
                );
                for seed in 0..JOBS {
                    let art = engine
                        .prepare(
                            subject_one(None, Mood::new(0.2, 0.3, 0.8, vec![], "bench")),
                            &ArtParams {
                                seed: Some(seed),
                                width: Some(64),
                                height: Some(64),
                                steps: Some(2),
                                ..ArtParams::default()
                            },
                        )
                        .unwrap();
                    engine.request_art(&art, None).await.unwrap();
                }
                let started = Instant::now();
                let mut tasks = Vec::new();
                for w in 0..workers {
                    let engine = engine.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut n = 0;
                        while engine
                            .run_next_job(&format!("w{w}"))
                            .await
                            .unwrap()
                            .is_some()
                        {
                            n += 1;
                        }
                        n
                    }));
                }
                let mut done = 0;
                for t in tasks {
                    done += t.await.unwrap();
                }
                assert_eq!(done, JOBS, "every job ran exactly once");
                JOBS as f64 / started.elapsed().as_secs_f64()
            });
            let base = *base.get_or_insert(rate);
            println!("{name:<10} {workers:>8} {rate:>10.1} {:>8.2}x", rate / base);
        }
    }
}
