//! The Engine: nothing is painted twice, jobs run to the end, failures are
//! retried and then reported; plus the store conformance suite on the
//! in-memory store.

use std::sync::Arc;
use std::time::Duration;

use spotifyart_core::engine::{JobSettings, subject_one, subject_pair};
use spotifyart_core::mood::Mood;
use spotifyart_core::store::JobState;
use spotifyart_core::testing::{CountingGenerator, FlakyGenerator, ManualClock};
use spotifyart_core::{
    ArtOutcome, ArtParams, ArtTicket, Engine, Error, FixtureSource, GenerationContext,
    ImageGenerator, InMemoryStore, ListeningProfile, PalettePainter, Store, Style, UserId,
    read_export,
};

spotifyart_core::store_conformance_tests!(async {
    Arc::new(InMemoryStore::new()) as Arc<dyn Store>
});

fn small() -> ArtParams {
    ArtParams {
        width: Some(64),
        height: Some(64),
        steps: Some(4),
        ..ArtParams::default()
    }
}

fn engine_with(generator: Arc<dyn ImageGenerator>) -> Engine {
    Engine::builder().generator(generator).build()
}

#[tokio::test]
async fn the_second_paint_of_a_key_generates_nothing() {
    let counting = Arc::new(CountingGenerator::new(PalettePainter));
    let engine = engine_with(counting.clone());
    let mood = Mood::new(0.6, 0.4, 0.9, vec![], "t");
    let art = engine
        .prepare(subject_one(None, mood.clone()), &small())
        .unwrap();

    let first = engine.paint(&art, &GenerationContext::new()).await.unwrap();
    assert!(matches!(first, ArtOutcome::Painted(_)));
    assert_eq!(counting.calls(), 1);
    let second = engine.paint(&art, &GenerationContext::new()).await.unwrap();
    assert_eq!(second, ArtOutcome::Reused(first.artwork().clone()));
    assert_eq!(counting.calls(), 1, "reused, not repainted");

    // Preparing again from scratch gives the same key: the cache is by content.
    let again = engine
        .prepare(subject_one(None, mood.clone()), &small())
        .unwrap();
    assert_eq!(again.key, art.key);
    engine
        .paint(&again, &GenerationContext::new())
        .await
        .unwrap();
    assert_eq!(counting.calls(), 1);

    // Any parameter change is a new picture.
    for params in [
        ArtParams {
            seed: Some(1),
            ..small()
        },
        ArtParams {
            steps: Some(5),
            ..small()
        },
        ArtParams {
            width: Some(72),
            ..small()
        },
        ArtParams {
            style: Some(Style::Ink),
            ..small()
        },
    ] {
        let other = engine
            .prepare(subject_one(None, mood.clone()), &params)
            .unwrap();
        assert_ne!(other.key, art.key);
        assert!(matches!(
            engine
                .paint(&other, &GenerationContext::new())
                .await
                .unwrap(),
            ArtOutcome::Painted(_)
        ));
    }
    assert_eq!(counting.calls(), 5);
    let stored = engine.store().artwork(first.meta().id).await.unwrap();
    assert_eq!(stored.meta, *first.meta());
    assert!(stored.png.starts_with(b"\x89PNG"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_paints_of_one_key_generate_once() {
    let counting = Arc::new(CountingGenerator::new(PalettePainter));
    let engine = Arc::new(engine_with(counting.clone()));
    let art = engine
        .prepare(
            subject_one(None, Mood::new(-0.5, 0.2, 0.5, vec![], "t")),
            &ArtParams {
                width: Some(256),
                height: Some(256),
                steps: Some(40),
                ..small()
            },
        )
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (engine, art) = (engine.clone(), art.clone());
        tasks.push(tokio::spawn(async move {
            engine.paint(&art, &GenerationContext::new()).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().meta().id);
    }
    assert_eq!(counting.calls(), 1);
    assert!(ids.iter().all(|id| *id == ids[0]));
}

#[tokio::test]
async fn matches_paint_once_in_either_order() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/exports/");
    let alice = read_export(format!("{dir}alice")).unwrap();
    let bob = read_export(format!("{dir}bob")).unwrap();
    let counting = Arc::new(CountingGenerator::new(PalettePainter));
    let engine = engine_with(counting.clone());
    let ab = engine.match_profiles(&alice, &bob).unwrap();
    let ba = engine.match_profiles(&bob, &alice).unwrap();
    let art_ab = engine
        .prepare(subject_pair(&ab, None, vec![]), &small())
        .unwrap();
    let art_ba = engine
        .prepare(subject_pair(&ba, None, vec![]), &small())
        .unwrap();
    assert_eq!(
        art_ab.key, art_ba.key,
        "a match is one picture whoever asks"
    );
    assert_eq!(art_ab.request.prompt, art_ba.request.prompt);
    engine
        .paint(&art_ab, &GenerationContext::new())
        .await
        .unwrap();
    let second = engine
        .paint(&art_ba, &GenerationContext::new())
        .await
        .unwrap();
    assert!(matches!(second, ArtOutcome::Reused(_)));
    assert_eq!(counting.calls(), 1);
    // No personal data from the exports reaches the prompt.
    for private in ["alice", "Alice", "bob@", "example.com", "ABBA", "Radiohead"] {
        assert!(!art_ab.request.prompt.contains(private), "{private}");
    }
}

#[tokio::test]
async fn queued_requests_make_one_job_and_a_worker_paints_it() {
    let counting = Arc::new(CountingGenerator::new(PalettePainter));
    let engine = engine_with(counting.clone());
    let owner = UserId::new();
    let art = engine
        .prepare(
            subject_one(Some(owner), Mood::new(0.1, -0.6, 0.7, vec![], "t")),
            &small(),
        )
        .unwrap();
    let ArtTicket::Queued(job) = engine.request_art(&art, Some(owner)).await.unwrap() else {
        panic!("nothing painted yet");
    };
    let ArtTicket::Queued(again) = engine.request_art(&art, Some(owner)).await.unwrap() else {
        panic!("still queued");
    };
    assert_eq!(job.id, again.id, "two requests, one job");
    assert_eq!(counting.calls(), 0, "requesting paints nothing");

    let done = engine
        .run_next_job("w1")
        .await
        .unwrap()
        .expect("a job to run");
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.progress, 1.0);
    assert_eq!(counting.calls(), 1);
    assert!(engine.run_next_job("w1").await.unwrap().is_none());

    let ArtTicket::Ready(meta) = engine.request_art(&art, Some(owner)).await.unwrap() else {
        panic!("painted now");
    };
    assert_eq!(Some(meta.id), done.artwork_id);
    assert_eq!(meta.subject.users(), vec![owner]);
    assert_eq!(counting.calls(), 1);
}

#[tokio::test]
async fn a_failing_model_is_retried_then_reported() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let settings = JobSettings {
        max_attempts: 3,
        lease: Duration::from_secs(60),
        retry_base: Duration::from_secs(5),
        retry_max: Duration::from_secs(60),
    };
    let flaky = Engine::builder()
        .generator(Arc::new(FlakyGenerator::new(PalettePainter, 2)))
        .clock(clock.clone())
        .jobs(settings.clone())
        .build();
    let art = flaky
        .prepare(
            subject_one(None, Mood::new(0.3, 0.3, 1.0, vec![], "t")),
            &small(),
        )
        .unwrap();
    let ArtTicket::Queued(job) = flaky.request_art(&art, None).await.unwrap() else {
        panic!()
    };
    let first = flaky.run_next_job("w").await.unwrap().unwrap();
    assert_eq!(first.state, JobState::Queued);
    assert!(
        first
            .last_error
            .as_deref()
            .unwrap()
            .contains("ran out of memory")
    );
    assert!(
        flaky.run_next_job("w").await.unwrap().is_none(),
        "backoff: not yet"
    );
    clock.advance(chrono::Duration::seconds(5));
    let second = flaky.run_next_job("w").await.unwrap().unwrap();
    assert_eq!((second.state, second.attempts), (JobState::Queued, 2));
    clock.advance(chrono::Duration::seconds(9));
    assert!(
        flaky.run_next_job("w").await.unwrap().is_none(),
        "backoff doubled"
    );
    clock.advance(chrono::Duration::seconds(1));
    let third = flaky.run_next_job("w").await.unwrap().unwrap();
    assert_eq!(third.state, JobState::Succeeded, "third try works");
    assert_eq!(third.id, job.id);

    // A model that always fails: the job ends failed with the reason.
    let broken = Engine::builder()
        .generator(Arc::new(FlakyGenerator::new(PalettePainter, usize::MAX)))
        .clock(clock.clone())
        .jobs(settings)
        .build();
    let art = broken
        .prepare(
            subject_one(None, Mood::new(-0.3, 0.3, 1.0, vec![], "t")),
            &small(),
        )
        .unwrap();
    broken.request_art(&art, None).await.unwrap();
    let mut last = None;
    for _ in 0..3 {
        clock.advance(chrono::Duration::seconds(120));
        last = broken.run_next_job("w").await.unwrap();
    }
    let last = last.unwrap();
    assert_eq!((last.state, last.attempts), (JobState::Failed, 3));
    assert!(
        last.last_error
            .unwrap()
            .contains("model failed: the model ran out of memory")
    );
    assert!(
        broken
            .store()
            .artwork_by_key(&art.key)
            .await
            .unwrap()
            .is_none()
    );
    // The user retries: a new job.
    let ArtTicket::Queued(retry) = broken.request_art(&art, None).await.unwrap() else {
        panic!()
    };
    assert_ne!(retry.id, last.id);
}

#[tokio::test]
async fn a_worker_that_loses_its_lease_stops_and_leaves_the_job_to_another() {
    // A 300 ms lease and a painting that takes longer than the lease would
    // allow without heartbeats: heartbeats keep it alive.
    let settings = JobSettings {
        lease: Duration::from_millis(300),
        ..JobSettings::default()
    };
    let engine = Engine::builder().jobs(settings).build();
    let art = engine
        .prepare(
            subject_one(None, Mood::new(0.2, 0.8, 1.0, vec![], "t")),
            &ArtParams {
                width: Some(1024),
                height: Some(1024),
                steps: Some(60),
                ..small()
            },
        )
        .unwrap();
    engine.request_art(&art, None).await.unwrap();
    let job = engine.run_next_job("slow").await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded, "heartbeats kept the lease");
    assert_eq!(job.attempts, 1);
}

#[tokio::test]
async fn bad_parameters_are_refused_before_anything_is_queued() {
    let engine = Engine::builder().build();
    let subject = subject_one(None, Mood::neutral("t"));
    for (params, needle) in [
        (
            ArtParams {
                steps: Some(0),
                ..small()
            },
            "steps must be between 1 and",
        ),
        (
            ArtParams {
                width: Some(65),
                ..small()
            },
            "multiple of 8",
        ),
        (
            ArtParams {
                guidance: Some(f32::NAN),
                ..small()
            },
            "guidance",
        ),
        (
            ArtParams {
                model: Some("sd-turbo".into()),
                ..small()
            },
            "this build offers: palette",
        ),
    ] {
        match engine.prepare(subject.clone(), &params) {
            Err(Error::InvalidInput { message }) => assert!(message.contains(needle), "{message}"),
            other => panic!("expected InvalidInput for {params:?}, got {other:?}"),
        }
    }
    assert!(
        engine
            .store()
            .lease("w", chrono::Utc::now(), Duration::from_secs(1))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn user_moods_are_recorded() {
    let source = Arc::new(FixtureSource::new());
    let user = UserId::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/exports/");
    source
        .insert(user, read_export(format!("{dir}carol.zip")).unwrap())
        .unwrap();
    let engine = Engine::builder().source(source).build();
    let mood = engine.mood(user, None).await.unwrap();
    let snap = engine
        .store()
        .latest_mood(user, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snap.mood, mood);
    let other = UserId::new();
    assert!(matches!(
        engine.mood(other, None).await,
        Err(Error::NotFound { .. })
    ));
    let record = engine.match_users(user, user).await;
    assert!(matches!(record, Err(Error::InvalidInput { .. })));
}

#[tokio::test]
async fn a_prompt_of_ones_own_is_keyed_stored_and_reused() {
    let engine = Engine::builder().build();
    let params = ArtParams {
        width: Some(64),
        height: Some(64),
        ..Default::default()
    };
    let art = engine.prepare_prompt("a red door", &params).unwrap();
    assert_eq!(art.request.prompt, "a red door");
    assert_eq!(
        (art.request.seed, art.request.negative_prompt.as_str()),
        (0, "")
    );
    assert!(art.request.palette.is_empty());
    assert_eq!(art.subject.mood().model, "prompt");
    let other = engine.prepare_prompt("a blue door", &params).unwrap();
    assert_ne!(art.key, other.key);
    let ctx = GenerationContext::new();
    assert!(matches!(
        engine.paint(&art, &ctx).await.unwrap(),
        ArtOutcome::Painted(_)
    ));
    assert!(matches!(
        engine.paint(&art, &ctx).await.unwrap(),
        ArtOutcome::Reused(_)
    ));
    assert!(engine.prepare_prompt("  ", &params).is_err());
}

/// A painter with a bug: it panics, with internals in the message.
#[derive(Debug)]
struct Panicking;

impl ImageGenerator for Panicking {
    fn models(&self) -> Vec<spotifyart_core::ModelInfo> {
        PalettePainter.models()
    }
    fn generate(
        &self,
        _: &spotifyart_core::ArtRequest,
        _: &GenerationContext,
    ) -> spotifyart_core::Result<spotifyart_core::GeneratedImage> {
        panic!("index out of bounds in /srv/models/unet.safetensors");
    }
}

#[tokio::test]
async fn a_panicking_model_fails_the_try_with_a_plain_reason_and_the_worker_goes_on() {
    let engine = Engine::builder()
        .generator(Arc::new(Panicking))
        .jobs(JobSettings {
            max_attempts: 1,
            ..JobSettings::default()
        })
        .build();
    for seed in 0..2 {
        let art = engine
            .prepare(
                subject_one(None, Mood::new(0.3, 0.3, 1.0, vec![], "t")),
                &ArtParams {
                    seed: Some(seed),
                    ..small()
                },
            )
            .unwrap();
        let ArtTicket::Queued(_) = engine.request_art(&art, None).await.unwrap() else {
            panic!("queued")
        };
        let job = engine.run_next_job("w").await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Failed);
        let reason = job.last_error.unwrap();
        assert!(reason.contains("failed unexpectedly"), "{reason}");
        assert!(
            !reason.contains("/srv") && !reason.contains("task"),
            "the panic's message stays in the log: {reason}"
        );
    }
}

/// A source that fails with the error set, else answers as its fixture.
#[derive(Debug, Default)]
struct FailingSource {
    fixture: FixtureSource,
    failure: std::sync::Mutex<Option<fn() -> Error>>,
}

#[async_trait::async_trait]
impl spotifyart_core::MusicSource for FailingSource {
    fn name(&self) -> &str {
        "failing"
    }
    async fn profile(&self, user: UserId) -> spotifyart_core::Result<ListeningProfile> {
        let failure = *self.failure.lock().unwrap();
        match failure {
            Some(failure) => Err(failure()),
            None => self.fixture.profile(user).await,
        }
    }
}

/// Past its hour, a stored mood is still served while the source fails
/// for a while (5xx, its rate limit), saying its age in `computed_at`;
/// a revoked or refused access still surfaces, and so does a failure with
/// no mood stored, or on an explicit refresh (issue 23).
#[tokio::test]
async fn a_stored_mood_outlives_a_failing_source_but_not_a_revoked_access() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let source = Arc::new(FailingSource::default());
    let (user, newcomer) = (UserId::new(), UserId::new());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/exports/");
    for u in [user, newcomer] {
        source
            .fixture
            .insert(u, read_export(format!("{dir}carol.zip")).unwrap())
            .unwrap();
    }
    let engine = Engine::builder()
        .source(source.clone())
        .clock(clock.clone())
        .build();
    let hour = Duration::from_secs(3600);
    let first = engine.current_mood(user, None, hour).await.unwrap();
    clock.advance(chrono::Duration::hours(2));
    let fail = |f: Option<fn() -> Error>| *source.failure.lock().unwrap() = f;

    let transient: [fn() -> Error; 3] = [
        || Error::Upstream {
            service: "spotify".into(),
            status: Some(503),
            message: "top artists: Service Unavailable".into(),
        },
        || Error::Upstream {
            service: "spotify".into(),
            status: None,
            message: "top artists: no answer within 10.0s".into(),
        },
        || Error::UpstreamBusy {
            service: "spotify".into(),
            retry_after: Some(Duration::from_secs(3600)),
            message: "Spotify is rate limiting this app (top artists)".into(),
        },
    ];
    for failure in transient {
        fail(Some(failure));
        let served = engine.current_mood(user, None, hour).await.unwrap();
        assert_eq!(served, first, "the stored mood, {:?}", failure());
        // Nobody stored yet: the failure is the answer.
        let e = engine.current_mood(newcomer, None, hour).await.unwrap_err();
        assert_eq!(e.code(), failure().code());
        // Asked to read now: the failure is the answer too.
        let e = engine.refresh_mood(user, None).await.unwrap_err();
        assert_eq!(e.code(), failure().code());
    }

    let permanent: [fn() -> Error; 2] = [
        || Error::unauthorized("Spotify rejected the access token (top artists)"),
        || Error::Revoked {
            provider: "spotify".into(),
        },
    ];
    for failure in permanent {
        fail(Some(failure));
        let e = engine.current_mood(user, None, hour).await.unwrap_err();
        assert_eq!(e.code(), failure().code());
    }

    // Spotify back: the mood is read again and recorded.
    fail(None);
    let fresh = engine.current_mood(user, None, hour).await.unwrap();
    assert_eq!(fresh.computed_at, engine.now());
    assert!(fresh.computed_at > first.computed_at);
}
