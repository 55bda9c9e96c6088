//! Store operations per second on SQLite and PostgreSQL: artwork lookup by
//! content key (the check every art request makes) and one job's life
//! (enqueue + lease + complete).

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spotifyart_core::art::{ArtRequest, Artwork, GeneratedImage, Subject};
use spotifyart_core::mood::Mood;
use spotifyart_core::store::{JobSpec, NewJob};
use spotifyart_core::{ArtworkId, ContentKey};

fn artwork(i: u64) -> Artwork {
    let request = ArtRequest {
        prompt: format!("bench prompt {i}"),
        negative_prompt: String::new(),
        seed: i,
        steps: 1,
        guidance: 0.0,
        width: 64,
        height: 64,
        model: "palette".into(),
        palette: vec![],
    };
    Artwork::new(
        Subject::One {
            user: None,
            mood: Mood::new(0.1, 0.2, 0.5, vec![], "bench"),
        },
        request,
        GeneratedImage {
            png: vec![(i % 251) as u8; 20_000],
            width: 64,
            height: 64,
        },
        10,
        chrono::Utc::now(),
    )
}

fn job(i: u64) -> NewJob {
    let a = artwork(i);
    NewJob {
        content_key: ContentKey(format!("{}-{}", a.meta.content_key, uuid_like(i))),
        spec: JobSpec {
            subject: a.meta.subject,
            request: a.meta.request,
        },
        owner: None,
        max_attempts: 3,
    }
}

fn uuid_like(i: u64) -> String {
    format!("{:x}-{:x}", std::process::id(), i)
}

fn store_ops(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stores = rt.block_on(spotifyart_benches::stores(dir.path()));
    const ARTWORKS: u64 = 2_000;
    for (name, store) in &stores {
        let keys: Vec<ContentKey> = rt.block_on(async {
            let mut keys = Vec::new();
            for i in 0..ARTWORKS {
                let a = artwork(i);
                keys.push(a.meta.content_key.clone());
                store.put_artwork(&a).await.unwrap();
            }
            keys
        });
        let mut g = c.benchmark_group(format!("store/{name}"));
        g.throughput(Throughput::Elements(1));
        g.measurement_time(Duration::from_secs(5));
        let keys = Arc::new(keys);
        let mut i = 0usize;
        g.bench_function("artwork_by_key", |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 7919) % keys.len();
                let (store, key) = (store.clone(), keys[i].clone());
                async move { store.artwork_by_key(&key).await.unwrap().unwrap() }
            })
        });
        let mut n = 0u64;
        g.bench_function("enqueue_lease_complete", |b| {
            b.to_async(&rt).iter(|| {
                n += 1;
                let (store, spec) = (store.clone(), job(1_000_000 + n));
                async move {
                    let now = chrono::Utc::now();
                    store.enqueue(&spec, now).await.unwrap();
                    let leased = store
                        .lease("bench", now, Duration::from_secs(60))
                        .await
                        .unwrap()
                        .expect("the job just enqueued");
                    store
                        .complete(leased.id, "bench", ArtworkId::new(), now)
                        .await
                        .unwrap();
                }
            })
        });
        g.finish();
    }
}

criterion_group!(benches, store_ops);
criterion_main!(benches);
