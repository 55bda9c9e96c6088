//! The Engine's queue path on real databases: a request becomes one job, a
//! worker killed mid-job loses nothing, and a restart loses no queued job.

mod support;

use std::sync::Arc;
use std::time::Duration;

use spotifyart_core::engine::{JobSettings, subject_one};
use spotifyart_core::mood::Mood;
use spotifyart_core::store::JobState;
use spotifyart_core::{
    ArtParams, ArtRequest, ArtTicket, Engine, GeneratedImage, GenerationContext, ImageGenerator,
    ModelInfo, PalettePainter, Store,
};

/// The palette painter, slowed to `step` per step (a model that takes a
/// while), still checking for cancellation every step.
#[derive(Debug)]
struct Slow(Duration);

impl ImageGenerator for Slow {
    fn models(&self) -> Vec<ModelInfo> {
        PalettePainter.models()
    }
    fn generate(
        &self,
        r: &ArtRequest,
        ctx: &GenerationContext,
    ) -> spotifyart_core::Result<GeneratedImage> {
        for i in 0..r.steps {
            std::thread::sleep(self.0);
            ctx.step(i + 1, r.steps)?;
        }
        PalettePainter.generate(r, &GenerationContext::new())
    }
}

fn engine(store: Arc<dyn Store>, generator: Arc<dyn ImageGenerator>) -> Engine {
    Engine::builder()
        .store(store)
        .generator(generator)
        .jobs(JobSettings {
            lease: Duration::from_millis(600),
            ..JobSettings::default()
        })
        .build()
}

fn params() -> ArtParams {
    ArtParams {
        width: Some(64),
        height: Some(64),
        steps: Some(20),
        ..ArtParams::default()
    }
}

async fn killed_worker_loses_nothing(store: Arc<dyn Store>) {
    let slow = engine(store.clone(), Arc::new(Slow(Duration::from_millis(100))));
    let art = slow
        .prepare(
            subject_one(None, Mood::new(0.4, 0.4, 0.9, vec![], "t")),
            &params(),
        )
        .unwrap();
    let ArtTicket::Queued(job) = slow.request_art(&art, None).await.unwrap() else {
        panic!("nothing painted yet")
    };
    // Worker A starts and is killed mid-painting.
    let slow = Arc::new(slow);
    let a = {
        let slow = slow.clone();
        tokio::spawn(async move { slow.run_next_job("worker-a").await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let running = store.job(job.id).await.unwrap();
    assert_eq!(running.state, JobState::Running);
    assert_eq!(running.lease_owner.as_deref(), Some("worker-a"));
    assert!(
        running.progress > 0.0,
        "heartbeats report progress: {}",
        running.progress
    );
    a.abort();
    let _ = a.await;

    // Worker B gets nothing while A's lease is live, then takes the job.
    let b = engine(store.clone(), Arc::new(PalettePainter));
    let mut taken = None;
    for _ in 0..40 {
        if let Some(j) = b.run_next_job("worker-b").await.unwrap() {
            taken = Some(j);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = taken.expect("the job is retaken after the lease expires");
    assert_eq!(done.id, job.id);
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.attempts, 2);
    let ArtTicket::Ready(meta) = b.request_art(&art, None).await.unwrap() else {
        panic!("painted now")
    };
    assert_eq!(Some(meta.id), done.artwork_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_worker_loses_nothing() {
    let (store, _dir) = support::sqlite().await;
    killed_worker_loses_nothing(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_worker_loses_nothing() {
    if let Some(store) = support::postgres().await {
        killed_worker_loses_nothing(store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_no_queued_job() {
    let dir = tempfile::tempdir().unwrap();
    let config = spotifyart_store::StoreConfig {
        url: format!("sqlite://{}", dir.path().join("q.db").display()),
        ..Default::default()
    };
    let (key, job) = {
        let store = spotifyart_store::open(&config).await.unwrap().into_store();
        let e = engine(store, Arc::new(PalettePainter));
        let art = e
            .prepare(
                subject_one(None, Mood::new(-0.4, 0.4, 0.9, vec![], "t")),
                &params(),
            )
            .unwrap();
        let ArtTicket::Queued(job) = e.request_art(&art, None).await.unwrap() else {
            panic!()
        };
        (art.key, job)
    };
    // "Restart": a new process opens the same database.
    let store = spotifyart_store::open(&config).await.unwrap().into_store();
    let e = engine(store.clone(), Arc::new(PalettePainter));
    let done = e.run_next_job("after-restart").await.unwrap().unwrap();
    assert_eq!((done.id, done.state), (job.id, JobState::Succeeded));
    assert!(store.artwork_by_key(&key).await.unwrap().is_some());
}
