//! Users' weekly playlist tasks as workers run them: one run per period
//! however many workers poll, a missed week run once, one user's failure
//! recorded without stopping the others, a revoked user's schedules
//! paused; and the cover path itself (consent, ownership, reuse).

use std::sync::Arc;
use std::time::Duration;

use spotifyart_core::engine::{Clock, REVOKED, ScheduleSettings};
use spotifyart_core::playlists::InMemoryPlaylists;
use spotifyart_core::store::{ScheduleStore, ScheduledTask, UserStore};
use spotifyart_core::testing::{CountingGenerator, ManualClock};
use spotifyart_core::{
    ArtParams, Engine, Error, GenerationContext, InMemoryStore, PalettePainter, UserId, read_export,
};

const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

struct World {
    store: Arc<InMemoryStore>,
    playlists: Arc<InMemoryPlaylists>,
    clock: Arc<ManualClock>,
    painter: Arc<CountingGenerator<PalettePainter>>,
}

impl World {
    fn new() -> Self {
        Self {
            store: Arc::new(InMemoryStore::new()),
            playlists: Arc::new(InMemoryPlaylists::new()),
            clock: Arc::new(ManualClock::new(chrono::Utc::now())),
            painter: Arc::new(CountingGenerator::new(PalettePainter)),
        }
    }

    /// A worker process: its own engine on the shared store and provider.
    fn worker(&self) -> Engine {
        Engine::builder()
            .store(self.store.clone())
            .playlists(self.playlists.clone())
            .generator(self.painter.clone())
            .clock(self.clock.clone())
            .schedules(ScheduleSettings::default())
            .build()
    }

    async fn user(&self, name: &str, playlist: &str) -> UserId {
        let user = self
            .store
            .upsert_account(
                &spotifyart_core::store::NewAccount {
                    provider: "spotify".into(),
                    account_id: name.into(),
                    display_name: None,
                    scopes: vec![],
                },
                self.clock.now(),
            )
            .await
            .unwrap()
            .id;
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/exports/");
        let profile = read_export(format!("{dir}{name}")).unwrap();
        self.playlists
            .add(user, playlist, &format!("{name}'s mix"), profile);
        self.playlists.set_consent(user, true);
        user
    }

    fn advance(&self, d: Duration) {
        self.clock.advance(chrono::Duration::from_std(d).unwrap());
    }
}

fn cover(playlist: &str) -> ScheduledTask {
    ScheduledTask::Cover {
        playlist: playlist.into(),
    }
}

/// Runs every worker until none finds a due schedule; returns how many
/// runs each made.
async fn drain(workers: &[Engine]) -> Vec<usize> {
    let mut runs = vec![0; workers.len()];
    loop {
        let mut any = false;
        for (i, w) in workers.iter().enumerate() {
            if w.run_due_schedule(&format!("worker-{i}"))
                .await
                .unwrap()
                .is_some()
            {
                runs[i] += 1;
                any = true;
            }
        }
        if !any {
            return runs;
        }
    }
}

#[tokio::test]
async fn two_workers_run_a_weekly_cover_once_per_week() {
    let world = World::new();
    let alice = world.user("alice", "alice-mix").await;
    let workers = [world.worker(), world.worker()];
    let s = workers[0]
        .add_schedule(alice, cover("alice-mix"))
        .await
        .unwrap();
    assert_eq!(s.period, WEEK);

    // Both workers poll concurrently: one run.
    let (a, b) = tokio::join!(
        workers[0].run_due_schedule("w0"),
        workers[1].run_due_schedule("w1")
    );
    let ran = [a.unwrap(), b.unwrap()];
    assert_eq!(ran.iter().flatten().count(), 1, "one run per period");
    assert_eq!(world.playlists.covers_set(), 1);
    let jpeg = world
        .playlists
        .cover("alice-mix")
        .expect("the cover was set");
    assert!(jpeg.starts_with(&[0xff, 0xd8]), "a JPEG");
    assert_eq!(drain(&workers).await, vec![0, 0], "nothing more this week");

    // A day later: still nothing. A week later: one more run, and the
    // cover is the same painting (nothing painted twice).
    world.advance(Duration::from_secs(24 * 3600));
    assert_eq!(drain(&workers).await, vec![0, 0]);
    world.advance(WEEK);
    assert_eq!(drain(&workers).await.iter().sum::<usize>(), 1);
    assert_eq!(world.playlists.covers_set(), 2);
    assert_eq!(
        world.painter.calls(),
        1,
        "the same mood reuses the painting"
    );
    let s = world.store.schedule(s.id).await.unwrap();
    assert_eq!((s.runs, s.failures), (2, 0));
    assert!(s.last_result.unwrap().starts_with("cover set"));
}

#[tokio::test]
async fn a_missed_week_runs_once_not_once_per_missed_week() {
    let world = World::new();
    let alice = world.user("alice", "alice-mix").await;
    let workers = [world.worker(), world.worker()];
    let s = workers[0]
        .add_schedule(
            alice,
            ScheduledTask::Archive {
                from: "alice-mix".into(),
                to: "alice-archive".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(drain(&workers).await.iter().sum::<usize>(), 1);
    let first = world.store.schedule(s.id).await.unwrap().next_run_at;
    // No worker ran for three and a half weeks.
    world.advance(WEEK * 3 + WEEK / 2);
    assert_eq!(
        drain(&workers).await.iter().sum::<usize>(),
        1,
        "one catch-up run"
    );
    let s = world.store.schedule(s.id).await.unwrap();
    assert_eq!(s.runs, 2);
    assert_eq!(
        s.next_run_at,
        first + chrono::Duration::from_std(WEEK * 3).unwrap(),
        "back on the weekly grid"
    );
    assert!(
        s.last_result.unwrap().contains("0 track(s)"),
        "nothing new to archive"
    );
    assert!(!world.playlists.tracks("alice-archive").is_empty());
}

#[tokio::test]
async fn one_users_failure_is_recorded_and_a_revoked_user_is_paused() {
    let world = World::new();
    let alice = world.user("alice", "alice-mix").await;
    let bob = world.user("bob", "bob-mix").await;
    let carol = world.user("carol.zip", "carol-mix").await;
    let workers = [world.worker(), world.worker()];
    let sa = workers[0]
        .add_schedule(alice, cover("alice-mix"))
        .await
        .unwrap();
    let sb = workers[0]
        .add_schedule(bob, cover("bob-mix"))
        .await
        .unwrap();
    let sb2 = workers[0]
        .add_schedule(
            bob,
            ScheduledTask::Archive {
                from: "bob-mix".into(),
                to: "bob-archive".into(),
            },
        )
        .await
        .unwrap();
    let sc = workers[0]
        .add_schedule(carol, cover("carol-mix"))
        .await
        .unwrap();
    world.playlists.fail(alice);
    world.playlists.revoke(bob);

    assert_eq!(
        drain(&workers).await.iter().sum::<usize>(),
        3,
        "bob's second is paused by his first"
    );
    let sa = world.store.schedule(sa.id).await.unwrap();
    assert_eq!(sa.failures, 1);
    assert!(sa.last_error.unwrap().contains("unavailable"));
    assert_eq!(sa.paused, None, "a failure is retried, not paused");
    for id in [sb.id, sb2.id] {
        assert_eq!(
            world.store.schedule(id).await.unwrap().paused.as_deref(),
            Some(REVOKED),
            "every schedule of a revoked user pauses"
        );
    }
    let sc = world.store.schedule(sc.id).await.unwrap();
    assert_eq!(
        (sc.runs, sc.failures),
        (1, 0),
        "carol's cover was set regardless"
    );
    assert!(world.playlists.cover("carol-mix").is_some());

    // Alice's retry comes an hour later, doubling; bob waits for sign-in.
    world.advance(Duration::from_secs(3600));
    assert_eq!(
        drain(&workers).await.iter().sum::<usize>(),
        1,
        "alice retried"
    );
    assert_eq!(world.store.schedule(sa.id).await.unwrap().failures, 2);
    world.advance(WEEK * 2);
    let before = world.store.schedule(sb.id).await.unwrap().runs;
    drain(&workers).await;
    assert_eq!(
        world.store.schedule(sb.id).await.unwrap().runs,
        before,
        "paused"
    );
    // Bob signs in again: his schedules resume.
    assert_eq!(workers[0].resume_schedules(bob).await.unwrap(), 2);
    assert_eq!(world.store.schedule(sb.id).await.unwrap().paused, None);
}

#[tokio::test]
async fn covers_need_consent_and_ownership_and_reuse_the_painting() {
    let world = World::new();
    let alice = world.user("alice", "alice-mix").await;
    let bob = world.user("bob", "bob-mix").await;
    let engine = world.worker();
    world.playlists.set_consent(alice, false);
    let refused = engine.add_schedule(alice, cover("alice-mix")).await;
    assert!(
        matches!(refused, Err(Error::Forbidden { .. })),
        "{refused:?}"
    );
    assert!(
        world.store.schedules_for(alice).await.unwrap().is_empty(),
        "nothing stored"
    );
    let (consent, lists) = engine.own_playlists(alice).await.unwrap();
    assert!(
        !consent && lists.is_empty(),
        "nothing listed before consent"
    );

    // Painted without consent (nothing leaves), uploaded only with it.
    let ctx = GenerationContext::new();
    let (_, first, _) = engine
        .paint_cover(alice, "alice-mix", &ArtParams::default(), &ctx, false)
        .await
        .unwrap();
    let id = first.meta().id;
    let refused = engine.set_cover_from(alice, "alice-mix", id).await;
    assert!(
        matches!(refused, Err(Error::Forbidden { .. })),
        "{refused:?}"
    );
    world.playlists.set_consent(alice, true);
    engine.set_cover_from(alice, "alice-mix", id).await.unwrap();
    assert_eq!(world.playlists.covers_set(), 1);
    // Bob may neither use alice's painting nor set alice's cover.
    let hidden = engine.set_cover_from(bob, "bob-mix", id).await;
    assert!(matches!(hidden, Err(Error::NotFound { .. })), "{hidden:?}");
    let (_, _, jpeg) = engine
        .paint_cover(bob, "bob-mix", &ArtParams::default(), &ctx, false)
        .await
        .unwrap();
    let theirs = engine.upload_cover(bob, "alice-mix", &jpeg).await;
    assert!(matches!(theirs, Err(Error::Forbidden { .. })), "{theirs:?}");
    // The same playlist again: the stored painting.
    let (_, again, _) = engine
        .paint_cover(alice, "alice-mix", &ArtParams::default(), &ctx, false)
        .await
        .unwrap();
    assert!(again.is_reused());
    assert_eq!(world.painter.calls(), 2, "alice's and bob's, once each");
}
