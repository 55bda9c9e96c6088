//! A model that panics inside a job. Nothing outside the process can make
//! a model panic, so this fault runs the service in-process, as `serve`
//! assembles it (the PostgreSQL store, the Spotify source, two painting
//! workers, the HTTP app on a real port), with a painter that panics on
//! every other painting while the fault lasts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use spotifyart_core::engine::{JobSettings, spawn_workers};
use spotifyart_core::source::ByProvider;
use spotifyart_core::{
    ArtRequest, CancelToken, Engine, GeneratedImage, GenerationContext, GeneratorSet,
    ImageGenerator, ModelInfo, PalettePainter,
};
use spotifyart_http::{AppState, ServerConfig};
use spotifyart_spotify::{SpotifyAuth, SpotifyConfig, SpotifySource};
use spotifyart_store::{EncryptionKey, StoreConfig};

use crate::catalogue::{self, Window};
use crate::load::{Load, Shape};
use crate::support::deployment::{Db, sql};
use crate::support::service::{CLIENT_ID, fake_for, free_port};

/// The palette painter, but panicking on every other painting while
/// `panicking` is set.
#[derive(Debug, Default)]
struct Panicky {
    panicking: AtomicBool,
    calls: AtomicU64,
}

impl ImageGenerator for Panicky {
    fn models(&self) -> Vec<ModelInfo> {
        let mut m = PalettePainter.models().remove(0);
        m.id = "panicky".into();
        vec![m]
    }

    fn generate(
        &self,
        request: &ArtRequest,
        ctx: &GenerationContext,
    ) -> spotifyart_core::Result<GeneratedImage> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        if self.panicking.load(Ordering::Relaxed) && n.is_multiple_of(2) {
            panic!("the model panicked (fault injection, painting {n})");
        }
        let mut request = request.clone();
        request.model = PalettePainter.models().remove(0).id;
        PalettePainter.generate(&request, ctx)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn model_panics_inside_a_job() {
    if crate::support::deployment::skip("the panicking model fault").await {
        return;
    }
    let _turn = catalogue::one_at_a_time().await;
    let scale = catalogue::scale();
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let fake = Arc::new(fake_for(&public).await);

    let base = std::env::var("SPOTIFYART_TEST_POSTGRES_URL").unwrap();
    let db_url = spotifyart_store::testing::fresh_schema_url(&base)
        .await
        .unwrap();
    let config = StoreConfig {
        url: db_url.clone(),
        key: Some(EncryptionKey::generate()),
        ..StoreConfig::default()
    };
    let store = spotifyart_store::open(&config).await.unwrap().into_store();
    let auth = SpotifyAuth::new(
        SpotifyConfig::new(CLIENT_ID, &format!("{public}/auth/spotify/callback"))
            .unwrap()
            .with_base_url(fake.url()),
    )
    .unwrap();
    let sources = ByProvider::new(store.clone()).with(
        spotifyart_spotify::PROVIDER,
        Arc::new(SpotifySource::new(auth.clone(), store.clone())),
    );
    let painter = Arc::new(Panicky::default());
    let engine = Arc::new(
        Engine::builder()
            .store(store.clone())
            .source(Arc::new(sources))
            .generator(Arc::new(GeneratorSet::new().with(painter.clone())))
            .jobs(JobSettings {
                retry_base: std::time::Duration::from_secs(1),
                ..JobSettings::default()
            })
            .build(),
    );
    let shutdown = CancelToken::new();
    let workers = spawn_workers(engine.clone(), 2, shutdown.clone());
    let state = AppState::new(
        engine,
        Some(auth),
        ServerConfig::new(public.parse().unwrap(), "panicky"),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(spotifyart_http::serve_on(state, listener, async move {
        let _ = stopped.await;
    }));

    let shape = Shape {
        accounts: crate::accounts(&fake),
        ..Shape::default()
    };
    let load = Load::start(&public, fake.clone(), shape);
    tokio::time::sleep(scale.warm).await;
    let began = Instant::now();
    painter.panicking.store(true, Ordering::Relaxed);
    tokio::time::sleep(scale.fault).await;
    painter.panicking.store(false, Ordering::Relaxed);
    let lifted = Instant::now();
    tokio::time::sleep(scale.settle).await;
    let tally = load.stop().await;

    let logs = tempfile::tempdir().unwrap();
    let query = |q: &str| sql(&Db::Postgres, &db_url, q);
    let jobs = catalogue::jobs_in(&query, logs.path(), &tally, scale.drain).await;
    let panicked = query("SELECT count(*) FROM jobs WHERE attempts > 1");
    let row = catalogue::row(
        "A model that panics inside a job",
        &tally,
        Window { began, lifted },
        &jobs,
        scale.settle,
        &format!(
            "Every other painting panicked for {:.0} s; {panicked} jobs were tried again; \
             both workers kept working.",
            (lifted - began).as_secs_f64()
        ),
    );
    catalogue::record(&row);
    shutdown.cancel();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    assert!(jobs.exactly_once(), "{jobs:?}");
    assert!(row.recovered, "{row:?}");
    assert!(jobs.retried > 0, "no job met the panicking model: {jobs:?}");
}
