//! The [`Store`] conformance suite. Every backend runs all of it:
//!
//! ```text
//! spotifyart_core::store_conformance_tests!(async {
//!     std::sync::Arc::new(MyStore::connect(..).await.unwrap()) as std::sync::Arc<dyn Store>
//! });
//! ```
//!
//! Each generated test gets a fresh store from the expression. Tests that
//! touch the job queue assume the store holds no other jobs.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::art::{ArtRequest, Artwork, GeneratedImage, Subject};
use crate::ids::{ArtworkId, JobId, MatchId, ScheduleId, UserId};
use crate::matching::Matcher;
use crate::mood::Mood;
use crate::profile::{ArtistStat, ListeningProfile, TimeRange};
use crate::store::*;
use crate::{ContentKey, Error};

/// Generates one `#[tokio::test]` per conformance area, each calling the
/// given async expression for a fresh `Arc<dyn Store>`. With `optional:`,
/// the expression yields `Option<Arc<dyn Store>>` and `None` skips the test
/// (for backends that need a service the machine may not have).
#[macro_export]
macro_rules! store_conformance_tests {
    (optional: $make:expr) => {
        mod store_conformance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::testing::store as suite;

            macro_rules! conformance_test {
                ($name:ident, $body:expr) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some(store) = $make.await else {
                            return;
                        };
                        #[allow(clippy::redundant_closure_call)]
                        ($body)(store).await;
                    }
                };
            }

            conformance_test!(users_and_accounts, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::users(&*s).await });
            conformance_test!(user_text_round_trips, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::user_text_round_trips(&*s).await });
            conformance_test!(tokens, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::tokens(&*s).await });
            conformance_test!(token_refresh_lease, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::token_refresh_lease(&*s).await });
            conformance_test!(sign_ins, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::sign_ins(&*s).await });
            conformance_test!(sessions, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::sessions(&*s).await });
            conformance_test!(moods, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::moods(&*s).await });
            conformance_test!(invites_and_matches, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::invites_and_matches(&*s).await });
            conformance_test!(artworks, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::artworks(&*s).await });
            conformance_test!(job_lifecycle, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::job_lifecycle(&*s).await });
            conformance_test!(job_retries, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::job_retries(&*s).await });
            conformance_test!(concurrent_enqueue, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::concurrent_enqueue(s).await });
            conformance_test!(concurrent_workers, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::concurrent_workers(s).await });
            conformance_test!(schedules, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::schedules(&*s).await });
            conformance_test!(schedule_runs, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::schedule_runs(&*s).await });
            conformance_test!(concurrent_schedule_claims, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::concurrent_schedule_claims(s).await });
            conformance_test!(health, |s: std::sync::Arc<dyn $crate::Store>| async move { suite::health(&*s).await });
        }
    };
    ($make:expr) => {
        $crate::store_conformance_tests!(optional: async { Some($make.await) });
    };
}

/// A fixed origin for all times in the suite.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// `t0` plus `secs` seconds.
pub fn t(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// Strings that break careless SQL, encodings or column sizes.
pub const TRICKY_TEXT: [&str; 7] = [
    "O'Brien \"the quote\" Smith",
    "Robert'); DROP TABLE users;--",
    "🎧 Zoë Ångström 音楽 مرحبا",
    "back\\slash and 100% _like_",
    "  leading and trailing spaces  ",
    "line\nbreak\ttab",
    "",
];

/// A user with a fresh account.
pub async fn new_user(store: &dyn Store) -> User {
    store
        .upsert_account(
            &NewAccount {
                provider: "spotify".into(),
                account_id: unique("acct"),
                display_name: Some("Test User".into()),
                scopes: vec!["user-top-read".into()],
            },
            t0(),
        )
        .await
        .expect("create user")
}

fn assert_kind(r: Result<impl std::fmt::Debug, Error>, kind: &str, what: &str) {
    match r {
        Err(e) if e.code() == kind => {}
        other => panic!("{what}: expected a {kind} error, got {other:?}"),
    }
}

/// Upserting by provider account, reading users back, unknown ids.
pub async fn users(store: &dyn Store) {
    let id = unique("acct");
    let account = |name: &str, scopes: &[&str]| NewAccount {
        provider: "spotify".into(),
        account_id: id.clone(),
        display_name: Some(name.into()),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    };
    let first = store
        .upsert_account(&account("Ada", &["user-top-read"]), t0())
        .await
        .unwrap();
    let again = store
        .upsert_account(
            &account("Ada L.", &["user-top-read", "user-read-recently-played"]),
            t(60),
        )
        .await
        .unwrap();
    assert_eq!(first.id, again.id, "same account, same user");
    assert_eq!(again.display_name.as_deref(), Some("Ada L."));
    assert_eq!(again.created_at, t0(), "created_at is the first sign-in");
    assert_eq!(store.user(first.id).await.unwrap(), again);

    let accounts = store.accounts(first.id).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].account_id, id);
    assert_eq!(
        accounts[0].scopes,
        vec!["user-top-read", "user-read-recently-played"]
    );
    assert_eq!(accounts[0].updated_at, t(60));

    let other = new_user(store).await;
    assert_ne!(other.id, first.id);
    assert_kind(store.user(UserId::new()).await, "not_found", "unknown user");
    assert!(store.accounts(UserId::new()).await.unwrap().is_empty());
}

/// Display names come back byte for byte, whatever they contain.
pub async fn user_text_round_trips(store: &dyn Store) {
    let long = "ß".repeat(5_000);
    for name in TRICKY_TEXT.iter().copied().chain([long.as_str()]) {
        let user = store
            .upsert_account(
                &NewAccount {
                    provider: "spotify".into(),
                    account_id: format!("{name}-{}", uuid::Uuid::new_v4()),
                    display_name: Some(name.to_string()),
                    scopes: vec![name.to_string()],
                },
                t0(),
            )
            .await
            .unwrap();
        let back = store.user(user.id).await.unwrap();
        assert_eq!(back.display_name.as_deref(), Some(name));
        assert_eq!(store.accounts(user.id).await.unwrap()[0].scopes, vec![name]);
    }
}

/// Tokens: put, replace, read, delete; unknown user.
pub async fn tokens(store: &dyn Store) {
    let user = new_user(store).await;
    assert_kind(
        store.tokens(user.id, "spotify").await,
        "not_found",
        "no tokens yet",
    );
    let tokens = |a: &str, r: Option<&str>| OAuthTokens {
        access_token: SecretString::from(a.to_string()),
        refresh_token: r.map(|r| SecretString::from(r.to_string())),
        expires_at: t(3600),
        scopes: vec!["user-top-read".into()],
    };
    store
        .put_tokens(user.id, "spotify", &tokens("access-1", Some("refresh-1")))
        .await
        .unwrap();
    store
        .put_tokens(user.id, "spotify", &tokens("access-2 'quoted' 🎧", None))
        .await
        .unwrap();
    let back = store.tokens(user.id, "spotify").await.unwrap();
    assert_eq!(back.access_token.expose_secret(), "access-2 'quoted' 🎧");
    assert!(back.refresh_token.is_none());
    assert_eq!(back.expires_at, t(3600));
    assert_eq!(back.scopes, vec!["user-top-read"]);
    assert_kind(
        store.tokens(user.id, "other").await,
        "not_found",
        "other provider",
    );
    let other = new_user(store).await;
    store
        .put_tokens(other.id, "spotify", &tokens("access-o", None))
        .await
        .unwrap();
    let both = [user.id, other.id];
    let listed = store.token_users("spotify").await.unwrap();
    assert!(
        both.iter().all(|u| listed.contains(u)),
        "token_users lists every holder"
    );
    assert!(
        !store.token_users("other").await.unwrap().contains(&user.id),
        "token_users filters by provider"
    );
    store.delete_tokens(other.id, "spotify").await.unwrap();
    store.delete_tokens(user.id, "spotify").await.unwrap();
    store.delete_tokens(user.id, "spotify").await.unwrap();
    assert!(
        !store
            .token_users("spotify")
            .await
            .unwrap()
            .contains(&user.id)
    );
    assert_kind(
        store.tokens(user.id, "spotify").await,
        "not_found",
        "deleted",
    );
    assert_kind(
        store
            .put_tokens(UserId::new(), "spotify", &tokens("a", None))
            .await,
        "not_found",
        "tokens for an unknown user",
    );
}

/// The per-user refresh lease: one holder at a time, taken over when it
/// runs out, given back only by its holder, gone with the tokens.
pub async fn token_refresh_lease(store: &dyn Store) {
    let user = new_user(store).await;
    let lease = Duration::from_secs(30);
    assert_kind(
        store
            .lease_token_refresh(user.id, "spotify", "a", t0(), lease)
            .await,
        "not_found",
        "a lease on missing tokens",
    );
    let tokens = OAuthTokens {
        access_token: SecretString::from("access".to_string()),
        refresh_token: Some(SecretString::from("refresh".to_string())),
        expires_at: t(3600),
        scopes: vec![],
    };
    store.put_tokens(user.id, "spotify", &tokens).await.unwrap();
    let take = |holder: &'static str, at: i64| {
        store.lease_token_refresh(user.id, "spotify", holder, t(at), lease)
    };
    assert!(take("a", 0).await.unwrap(), "a free lease is taken");
    assert!(!take("b", 1).await.unwrap(), "a held lease is refused");
    assert!(take("a", 2).await.unwrap(), "its holder may renew it");
    assert!(!take("b", 31).await.unwrap(), "renewed at 2, it runs to 32");
    // Refreshed tokens do not end the lease; only its holder does.
    store.put_tokens(user.id, "spotify", &tokens).await.unwrap();
    assert!(!take("b", 3).await.unwrap(), "put_tokens keeps the lease");
    store
        .release_token_refresh(user.id, "spotify", "b")
        .await
        .unwrap();
    assert!(!take("b", 4).await.unwrap(), "another's release is ignored");
    store
        .release_token_refresh(user.id, "spotify", "a")
        .await
        .unwrap();
    store
        .release_token_refresh(user.id, "spotify", "a")
        .await
        .unwrap();
    assert!(take("b", 5).await.unwrap(), "a released lease is free");
    assert!(
        take("c", 36).await.unwrap(),
        "an expired lease is taken over"
    );
    // Another user's and another provider's leases are separate.
    let other = new_user(store).await;
    store
        .put_tokens(other.id, "spotify", &tokens)
        .await
        .unwrap();
    assert!(
        store
            .lease_token_refresh(other.id, "spotify", "b", t(37), lease)
            .await
            .unwrap()
    );
    store.delete_tokens(user.id, "spotify").await.unwrap();
    store.put_tokens(user.id, "spotify", &tokens).await.unwrap();
    assert!(take("d", 38).await.unwrap(), "new tokens start unleased");
}

/// Sign-ins in progress: taken once, by hash, until they expire.
pub async fn sign_ins(store: &dyn Store) {
    let pending = |state: &str, next: &str, expires: i64| PendingSignIn {
        state_hash: OpaqueToken::from_client(state).hash(),
        verifier: SecretString::from(format!("verifier of {state} 'q' 🎧")),
        next: next.to_string(),
        created_at: t0(),
        expires_at: t(expires),
    };
    store
        .create_sign_in(&pending("s1", "/match/abc?x=1", 600), t0())
        .await
        .unwrap();
    store
        .create_sign_in(&pending("s2", "/discover", 600), t0())
        .await
        .unwrap();
    assert_kind(
        store
            .create_sign_in(&pending("s1", "/discover", 600), t0())
            .await,
        "already_exists",
        "a state is unique",
    );
    let hash = OpaqueToken::from_client("s1").hash();
    let got = store.take_sign_in(&hash, t(10)).await.unwrap();
    assert_eq!(got.verifier.expose_secret(), "verifier of s1 'q' 🎧");
    assert_eq!(got.next, "/match/abc?x=1");
    assert_eq!(got.expires_at, t(600));
    assert_kind(
        store.take_sign_in(&hash, t(11)).await,
        "not_found",
        "a sign-in is finished once",
    );
    assert_kind(
        store
            .take_sign_in(&OpaqueToken::from_client("never").hash(), t(11))
            .await,
        "not_found",
        "unknown state",
    );
    let s2 = OpaqueToken::from_client("s2").hash();
    assert_kind(
        store.take_sign_in(&s2, t(600)).await,
        "not_found",
        "an expired sign-in",
    );
    // Expired ones are dropped when new ones arrive (bounded storage);
    // the expired one stays unusable either way.
    store
        .create_sign_in(&pending("s3", "/", 1300), t(700))
        .await
        .unwrap();
    assert_kind(
        store.take_sign_in(&s2, t(10)).await,
        "not_found",
        "dropped after expiry",
    );
    let s3 = OpaqueToken::from_client("s3").hash();
    assert_eq!(store.take_sign_in(&s3, t(701)).await.unwrap().next, "/");
}

/// Sessions: idle and absolute expiry, touch, rotation, revocation.
pub async fn sessions(store: &dyn Store) {
    let user = new_user(store).await;
    let token = OpaqueToken::generate();
    let new = |hash: TokenHash, at: i64| NewSession {
        hash,
        user: user.id,
        created_at: t(at),
        idle_expires_at: t(at + 600),
        absolute_expires_at: t(3600),
    };
    store.create_session(&new(token.hash(), 0)).await.unwrap();
    let s = store.session(&token.hash(), t(10)).await.unwrap();
    assert_eq!(s.user, user.id);
    assert_eq!(s.idle_expires_at, t(600));
    assert_kind(
        store.session(&token.hash(), t(600)).await,
        "unauthorized",
        "idle-expired session",
    );
    assert_kind(
        store.session(&OpaqueToken::generate().hash(), t(10)).await,
        "unauthorized",
        "unknown session",
    );

    store
        .touch_session(&token.hash(), t(500), t(1100))
        .await
        .unwrap();
    store.session(&token.hash(), t(1000)).await.unwrap();
    store
        .touch_session(&token.hash(), t(1000), t(9999))
        .await
        .unwrap();
    assert_eq!(
        store
            .session(&token.hash(), t(1001))
            .await
            .unwrap()
            .idle_expires_at,
        t(3600),
        "idle expiry never passes the absolute one"
    );
    assert_kind(
        store.session(&token.hash(), t(3600)).await,
        "unauthorized",
        "absolute expiry",
    );

    // Rotation: the old session dies, the new one lives, replay fails.
    let rotated = OpaqueToken::generate();
    store
        .rotate_session(&token.hash(), &new(rotated.hash(), 1200), t(1200))
        .await
        .unwrap();
    assert_kind(
        store.session(&token.hash(), t(1201)).await,
        "unauthorized",
        "rotated-away session",
    );
    store.session(&rotated.hash(), t(1201)).await.unwrap();
    let third = OpaqueToken::generate();
    assert_kind(
        store
            .rotate_session(&token.hash(), &new(third.hash(), 1210), t(1210))
            .await,
        "unauthorized",
        "replayed rotation",
    );
    assert_kind(
        store.session(&third.hash(), t(1211)).await,
        "unauthorized",
        "a failed rotation creates nothing",
    );

    store.revoke_session(&rotated.hash()).await.unwrap();
    store.revoke_session(&rotated.hash()).await.unwrap();
    assert_kind(
        store.session(&rotated.hash(), t(1202)).await,
        "unauthorized",
        "revoked session",
    );

    let a = OpaqueToken::generate();
    let b = OpaqueToken::generate();
    store.create_session(&new(a.hash(), 2000)).await.unwrap();
    store.create_session(&new(b.hash(), 2000)).await.unwrap();
    assert_eq!(store.revoke_sessions(user.id, t(2001)).await.unwrap(), 2);
    assert_kind(store.session(&a.hash(), t(2002)).await, "unauthorized", "a");
    assert_kind(store.session(&b.hash(), t(2002)).await, "unauthorized", "b");
}

/// Mood snapshots: newest wins, per range.
pub async fn moods(store: &dyn Store) {
    let user = new_user(store).await;
    assert!(store.latest_mood(user.id, None).await.unwrap().is_none());
    let snap = |v: f32, at: i64, range| MoodSnapshot {
        user: user.id,
        time_range: range,
        mood: Mood::new(v, -0.25, 0.625, vec![crate::Signal::Names], "test"),
        computed_at: t(at),
    };
    store.put_mood(&snap(0.1, 0, None)).await.unwrap();
    store.put_mood(&snap(0.7, 60, None)).await.unwrap();
    store
        .put_mood(&snap(-0.3, 30, Some(TimeRange::ShortTerm)))
        .await
        .unwrap();
    assert_eq!(
        store.latest_mood(user.id, None).await.unwrap(),
        Some(snap(0.7, 60, None))
    );
    assert_eq!(
        store
            .latest_mood(user.id, Some(TimeRange::ShortTerm))
            .await
            .unwrap(),
        Some(snap(-0.3, 30, Some(TimeRange::ShortTerm)))
    );
    assert!(
        store
            .latest_mood(user.id, Some(TimeRange::LongTerm))
            .await
            .unwrap()
            .is_none()
    );
}

/// A match result to store.
pub fn sample_match() -> crate::MatchResult {
    let mut p = ListeningProfile::empty("manual");
    p.top_artists.medium_term = vec![ArtistStat {
        name: "Björk".into(),
        genres: vec!["art pop".into()],
        ..ArtistStat::default()
    }];
    p.normalize().unwrap();
    let m = Mood::new(0.5, -0.5, 0.5, vec![], "test");
    Matcher::default().compare(&p, &m, &p, &m)
}

/// Invites: single use, expiry, one's own; matches per user.
pub async fn invites_and_matches(store: &dyn Store) {
    let (a, b, c) = (
        new_user(store).await,
        new_user(store).await,
        new_user(store).await,
    );
    let invite = |code: &OpaqueToken, expires: i64| Invite {
        hash: code.hash(),
        inviter: a.id,
        created_at: t0(),
        expires_at: t(expires),
        accepted_by: None,
        match_id: None,
        addressee: None,
    };
    // An invite for someone at a listening service keeps whom it is for.
    let addressed = Invite {
        addressee: Some(Addressee {
            provider: "listenbrainz".into(),
            name: TRICKY_TEXT[2].into(),
        }),
        ..invite(&OpaqueToken::generate(), 100)
    };
    store.create_invite(&addressed).await.unwrap();
    assert_eq!(store.invite(&addressed.hash).await.unwrap(), addressed);
    let record = |users: [UserId; 2], at: i64| MatchRecord {
        id: MatchId::new(),
        users,
        result: sample_match(),
        created_at: t(at),
    };
    let code = OpaqueToken::generate();
    store.create_invite(&invite(&code, 3600)).await.unwrap();
    assert_eq!(
        store.invite(&code.hash()).await.unwrap(),
        invite(&code, 3600)
    );

    let ab = record([a.id, b.id], 10);
    store.accept_invite(&code.hash(), &ab, t(10)).await.unwrap();
    let used = store.invite(&code.hash()).await.unwrap();
    assert_eq!(used.accepted_by, Some(b.id));
    assert_eq!(used.match_id, Some(ab.id));
    assert_eq!(store.get_match(ab.id).await.unwrap(), ab);
    assert_kind(
        store
            .accept_invite(&code.hash(), &record([a.id, c.id], 11), t(11))
            .await,
        "conflict",
        "second use of an invite",
    );

    let expiring = OpaqueToken::generate();
    store.create_invite(&invite(&expiring, 100)).await.unwrap();
    assert_kind(
        store
            .accept_invite(&expiring.hash(), &record([a.id, c.id], 100), t(100))
            .await,
        "conflict",
        "expired invite",
    );
    let own = OpaqueToken::generate();
    store.create_invite(&invite(&own, 3600)).await.unwrap();
    assert_kind(
        store
            .accept_invite(&own.hash(), &record([a.id, a.id], 20), t(20))
            .await,
        "invalid_input",
        "own invite",
    );
    assert_kind(
        store
            .accept_invite(&own.hash(), &record([b.id, c.id], 20), t(20))
            .await,
        "invalid_input",
        "a record that does not start with the inviter",
    );
    assert!(
        store
            .invite(&own.hash())
            .await
            .unwrap()
            .accepted_by
            .is_none(),
        "refused acceptances change nothing"
    );
    assert_kind(
        store
            .accept_invite(
                &OpaqueToken::generate().hash(),
                &record([a.id, c.id], 20),
                t(20),
            )
            .await,
        "not_found",
        "unknown invite",
    );
    assert_kind(
        store.invite(&OpaqueToken::generate().hash()).await,
        "not_found",
        "unknown invite",
    );

    let ac = record([a.id, c.id], 50);
    store.put_match(&ac).await.unwrap();
    let for_a: Vec<MatchId> = store
        .matches_for(a.id)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(for_a, vec![ac.id, ab.id], "newest first");
    let for_b: Vec<MatchId> = store
        .matches_for(b.id)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(for_b, vec![ab.id]);
    assert!(store.matches_for(UserId::new()).await.unwrap().is_empty());
    assert_kind(
        store.get_match(MatchId::new()).await,
        "not_found",
        "unknown match",
    );
}

fn art(subject: Subject, seed: u64, png: Vec<u8>, at: i64) -> Artwork {
    let request = ArtRequest {
        prompt: "a 'quoted' prompt; DROP TABLE artworks; 🎨".into(),
        negative_prompt: "text".into(),
        seed,
        steps: 4,
        guidance: 7.5,
        width: 64,
        height: 64,
        model: "palette".into(),
        palette: vec![crate::mood::Rgb(1, 2, 3)],
    };
    Artwork::new(
        subject,
        request,
        GeneratedImage {
            png,
            width: 64,
            height: 64,
        },
        1234,
        t(at),
    )
}

/// Artworks: bytes round trip, one per content key, per-user listing.
pub async fn artworks(store: &dyn Store) {
    let (u, v) = (new_user(store).await, new_user(store).await);
    let mood = Mood::new(0.2, 0.4, 0.9, vec![], "test");
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let one = art(
        Subject::One {
            user: Some(u.id),
            mood: mood.clone(),
        },
        1,
        all_bytes.clone(),
        0,
    );
    let stored = store.put_artwork(&one).await.unwrap();
    assert_eq!(stored, one.meta);
    let back = store.artwork(one.meta.id).await.unwrap();
    assert_eq!(back.png, all_bytes, "PNG bytes round trip exactly");
    assert_eq!(back.meta, one.meta);
    assert_eq!(store.artwork_meta(one.meta.id).await.unwrap(), one.meta);
    assert_eq!(
        store.artwork_by_key(&one.meta.content_key).await.unwrap(),
        Some(one.meta.clone())
    );

    // Same content key again: the first stays, nothing is stored twice.
    let dup = art(
        Subject::One {
            user: Some(u.id),
            mood: mood.clone(),
        },
        1,
        vec![9; 10],
        5,
    );
    assert_eq!(dup.meta.content_key, one.meta.content_key);
    assert_eq!(store.put_artwork(&dup).await.unwrap().id, one.meta.id);
    assert_eq!(store.artwork(one.meta.id).await.unwrap().png, all_bytes);
    assert_kind(
        store.artwork(dup.meta.id).await,
        "not_found",
        "duplicate was not stored",
    );

    let pair = art(
        Subject::Pair {
            match_id: Some(MatchId::new()),
            users: vec![u.id, v.id],
            a: mood.clone(),
            b: mood.clone(),
            blended: mood.clone(),
        },
        2,
        vec![1, 2, 3],
        10,
    );
    store.put_artwork(&pair).await.unwrap();
    let ids = |metas: Vec<crate::ArtworkMeta>| metas.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.artworks_for(u.id, None, 10).await.unwrap()),
        vec![pair.meta.id, one.meta.id],
        "newest first"
    );
    assert_eq!(
        ids(store.artworks_for(u.id, None, 1).await.unwrap()),
        vec![pair.meta.id]
    );
    assert_eq!(
        ids(store.artworks_for(u.id, Some(t(10)), 10).await.unwrap()),
        vec![one.meta.id],
        "pages backwards"
    );
    assert_eq!(
        ids(store.artworks_for(v.id, None, 10).await.unwrap()),
        vec![pair.meta.id]
    );
    assert!(
        store
            .artworks_for(UserId::new(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_kind(
        store.artwork(ArtworkId::new()).await,
        "not_found",
        "unknown artwork",
    );
    assert_kind(
        store.artwork_meta(ArtworkId::new()).await,
        "not_found",
        "unknown artwork",
    );
    assert!(
        store
            .artwork_by_key(&ContentKey("0".repeat(64)))
            .await
            .unwrap()
            .is_none()
    );
}

/// A job for `key`.
pub fn new_job(key: &str, max_attempts: u32) -> NewJob {
    let mood = Mood::new(0.1, 0.1, 0.5, vec![], "test");
    NewJob {
        content_key: ContentKey(format!("{key}-{}", uuid::Uuid::new_v4())),
        spec: JobSpec {
            subject: Subject::One { user: None, mood },
            request: ArtRequest {
                prompt: "p".into(),
                negative_prompt: String::new(),
                seed: 1,
                steps: 1,
                guidance: 0.0,
                width: 64,
                height: 64,
                model: "palette".into(),
                palette: vec![],
            },
        },
        owner: None,
        max_attempts,
    }
}

const LEASE: Duration = Duration::from_secs(60);

/// Enqueue (idempotent), lease, heartbeat, lease expiry, complete.
pub async fn job_lifecycle(store: &dyn Store) {
    let owner = new_user(store).await;
    let mut spec = new_job("k1", 3);
    spec.owner = Some(owner.id);
    assert!(
        store.job_by_key(&spec.content_key).await.unwrap().is_none(),
        "nothing queued yet"
    );
    let j = store.enqueue(&spec, t0()).await.unwrap();
    assert_eq!(
        store
            .job_by_key(&spec.content_key)
            .await
            .unwrap()
            .map(|j| j.id),
        Some(j.id),
        "the queued job, by its key"
    );
    assert_eq!(
        (j.state, j.attempts, j.max_attempts),
        (JobState::Queued, 0, 3)
    );
    assert_eq!(j.owner, Some(owner.id));
    assert_eq!(j.spec, spec.spec);
    assert_eq!(
        store.enqueue(&spec, t(1)).await.unwrap().id,
        j.id,
        "one live job per content key"
    );

    let leased = store
        .lease("w1", t(2), LEASE)
        .await
        .unwrap()
        .expect("a job");
    assert_eq!(leased.id, j.id);
    assert_eq!(leased.state, JobState::Running);
    assert_eq!(leased.attempts, 1);
    assert_eq!(leased.lease_owner.as_deref(), Some("w1"));
    assert_eq!(leased.lease_expires_at, Some(t(62)));
    assert!(store.lease("w2", t(3), LEASE).await.unwrap().is_none());
    assert_eq!(
        store.enqueue(&spec, t(3)).await.unwrap().id,
        j.id,
        "a running job also blocks a duplicate"
    );

    assert_kind(
        store.heartbeat(j.id, "w2", 0.5, t(30), LEASE).await,
        "conflict",
        "heartbeat from a worker without the lease",
    );
    store
        .heartbeat(j.id, "w1", 0.5, t(30), LEASE)
        .await
        .unwrap();
    let hb = store.job(j.id).await.unwrap();
    assert_eq!(hb.progress, 0.5);
    assert_eq!(hb.lease_expires_at, Some(t(90)));

    // w1 goes silent: its lease runs out and w2 takes over.
    assert!(store.lease("w2", t(89), LEASE).await.unwrap().is_none());
    let retaken = store
        .lease("w2", t(90), LEASE)
        .await
        .unwrap()
        .expect("retaken");
    assert_eq!((retaken.id, retaken.attempts), (j.id, 2));
    assert_eq!(retaken.lease_owner.as_deref(), Some("w2"));

    let art_id = ArtworkId::new();
    assert_kind(
        store.complete(j.id, "w1", art_id, t(91)).await,
        "conflict",
        "completion by the worker that lost the lease",
    );
    let done = store.complete(j.id, "w2", art_id, t(91)).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.artwork_id, Some(art_id));
    assert_eq!(store.job(j.id).await.unwrap(), done);
    assert_eq!(
        store.enqueue(&spec, t(92)).await.unwrap().id,
        j.id,
        "a succeeded job is not painted again"
    );
    assert!(store.lease("w3", t(1000), LEASE).await.unwrap().is_none());
    assert_kind(
        store.fail(j.id, "w2", "late", t(93), t(93)).await,
        "conflict",
        "failing a finished job",
    );

    // FIFO order.
    let ids: Vec<JobId> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(
                store
                    .enqueue(&new_job("fifo", 1), t(100 + i))
                    .await
                    .unwrap()
                    .id,
            );
        }
        v
    };
    let mut leased = Vec::new();
    while let Some(j) = store.lease("w", t(200), LEASE).await.unwrap() {
        leased.push(j.id);
    }
    assert_eq!(leased, ids);

    assert_kind(store.job(JobId::new()).await, "not_found", "unknown job");
    assert_kind(
        store.heartbeat(JobId::new(), "w", 0.1, t(0), LEASE).await,
        "not_found",
        "heartbeat of an unknown job",
    );
}

/// Failure with bounded retries and backoff; a dead job keeps its error;
/// a job whose last lease expires is failed, not run again.
pub async fn job_retries(store: &dyn Store) {
    let spec = new_job("flaky", 2);
    let j = store.enqueue(&spec, t0()).await.unwrap();
    store.lease("w1", t(1), LEASE).await.unwrap().unwrap();
    let failed = store
        .fail(j.id, "w1", "out of memory", t(2), t(100))
        .await
        .unwrap();
    assert_eq!(failed.state, JobState::Queued, "retried while tries remain");
    assert_eq!(failed.last_error.as_deref(), Some("out of memory"));
    assert_eq!(failed.run_after, t(100));
    assert!(failed.lease_owner.is_none());
    assert!(
        store.lease("w1", t(99), LEASE).await.unwrap().is_none(),
        "backoff holds the job"
    );
    let second = store.lease("w2", t(100), LEASE).await.unwrap().unwrap();
    assert_eq!(second.attempts, 2);
    let dead = store
        .fail(j.id, "w2", "out of memory again", t(101), t(200))
        .await
        .unwrap();
    assert_eq!(dead.state, JobState::Failed);
    assert_eq!(dead.last_error.as_deref(), Some("out of memory again"));
    assert!(store.lease("w1", t(500), LEASE).await.unwrap().is_none());

    // The user retries: a failed job does not block a new one.
    let retry = store.enqueue(&spec, t(600)).await.unwrap();
    assert_ne!(retry.id, j.id);
    assert_eq!(retry.state, JobState::Queued);
    let got = store.lease("w1", t(601), LEASE).await.unwrap().unwrap();
    assert_eq!(got.id, retry.id);
    store
        .complete(retry.id, "w1", ArtworkId::new(), t(602))
        .await
        .unwrap();

    // Last try's worker vanishes: the job is failed, not run a fourth time.
    let once = store.enqueue(&new_job("once", 1), t(700)).await.unwrap();
    store.lease("w1", t(701), LEASE).await.unwrap().unwrap();
    assert!(store.lease("w2", t(800), LEASE).await.unwrap().is_none());
    let gone = store.job(once.id).await.unwrap();
    assert_eq!(gone.state, JobState::Failed);
    assert!(
        store
            .job_by_key(&new_job("once", 1).content_key)
            .await
            .unwrap()
            .is_none(),
        "a failed job is not the key's job"
    );
    assert!(
        gone.last_error
            .as_deref()
            .is_some_and(|e| e.contains("stopped responding")),
        "{:?}",
        gone.last_error
    );

    assert_kind(
        store.enqueue(&new_job("zero", 0), t(900)).await,
        "invalid_input",
        "max_attempts 0",
    );
}

/// Several workers draining one queue: every job is leased and completed
/// exactly once.
pub async fn concurrent_workers(store: Arc<dyn Store>) {
    const JOBS: usize = 24;
    const WORKERS: usize = 4;
    let mut expected = HashSet::new();
    for i in 0..JOBS {
        let j = store
            .enqueue(&new_job("drain", 1), t(i as i64))
            .await
            .unwrap();
        expected.insert(j.id);
    }
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut mine = Vec::new();
            while let Some(job) = store.lease(&worker, t(100), LEASE).await.unwrap() {
                store
                    .complete(job.id, &worker, ArtworkId::new(), t(101))
                    .await
                    .unwrap();
                mine.push(job.id);
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await.unwrap());
    }
    let unique: HashSet<JobId> = seen.iter().copied().collect();
    assert_eq!(seen.len(), JOBS, "no job leased twice");
    assert_eq!(unique, expected, "every job done");
}

/// Many requests for one picture at once make one job.
pub async fn concurrent_enqueue(store: Arc<dyn Store>) {
    let spec = new_job("race", 2);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, spec) = (store.clone(), spec.clone());
        tasks.push(tokio::spawn(async move {
            store.enqueue(&spec, t(i)).await.unwrap().id
        }));
    }
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "eight concurrent requests, one job");
}

const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

fn cover_task(playlist: &str) -> ScheduledTask {
    ScheduledTask::Cover {
        playlist: playlist.to_string(),
    }
}

/// Schedules are per user: created once per task, listed, removed only by
/// their owner, and checked before they are stored.
pub async fn schedules(store: &dyn Store) {
    let (alice, bob) = (new_user(store).await.id, new_user(store).await.id);
    let new = NewSchedule {
        user: alice,
        task: cover_task("p1"),
        period: WEEK,
        first_run: t(10),
    };
    let a = store.create_schedule(&new, t(0)).await.unwrap();
    assert_eq!(
        (a.user, &a.task, a.period, a.next_run_at),
        (alice, &new.task, WEEK, t(10))
    );
    assert_eq!(
        (a.paused.as_deref(), a.runs, a.lease_owner.as_deref()),
        (None, 0, None)
    );
    assert_eq!(store.schedule(a.id).await.unwrap(), a);
    assert_kind(
        store.create_schedule(&new, t(1)).await,
        "already_exists",
        "same task twice",
    );
    let archive = NewSchedule {
        task: ScheduledTask::Archive {
            from: TRICKY_TEXT[1].into(),
            to: TRICKY_TEXT[2].into(),
        },
        ..new.clone()
    };
    let b = store.create_schedule(&archive, t(2)).await.unwrap();
    assert_eq!(b.task, archive.task, "task text round-trips");
    let bobs = NewSchedule {
        user: bob,
        ..new.clone()
    };
    store.create_schedule(&bobs, t(3)).await.unwrap();
    let mine: Vec<ScheduleId> = store
        .schedules_for(alice)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(mine, vec![a.id, b.id], "oldest first, only alice's");
    assert_kind(
        store.delete_schedule(bob, a.id).await,
        "not_found",
        "another's schedule",
    );
    store.delete_schedule(alice, a.id).await.unwrap();
    assert_kind(store.schedule(a.id).await, "not_found", "deleted");
    assert_kind(
        store.delete_schedule(alice, a.id).await,
        "not_found",
        "deleted twice",
    );
    assert_kind(
        store
            .create_schedule(
                &NewSchedule {
                    task: cover_task(""),
                    ..new.clone()
                },
                t(4),
            )
            .await,
        "invalid_input",
        "an empty playlist",
    );
    assert_kind(
        store
            .create_schedule(
                &NewSchedule {
                    period: Duration::from_secs(1),
                    ..new.clone()
                },
                t(4),
            )
            .await,
        "invalid_input",
        "a period under a minute",
    );
}

/// A schedule runs when due, once per period: held by one worker, moved to
/// the next slot when done (missed weeks run once), retried after a
/// failure, paused with all its user's schedules when access is gone.
pub async fn schedule_runs(store: &dyn Store) {
    let lease = Duration::from_secs(60);
    let user = new_user(store).await.id;
    let s = store
        .create_schedule(
            &NewSchedule {
                user,
                task: cover_task("weekly"),
                period: WEEK,
                first_run: t(100),
            },
            t(0),
        )
        .await
        .unwrap();
    let other = store
        .create_schedule(
            &NewSchedule {
                user,
                task: cover_task("other"),
                period: WEEK,
                first_run: t(100_000_000),
            },
            t(0),
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_schedule("w1", t(99), lease)
            .await
            .unwrap()
            .is_none(),
        "not due yet"
    );
    let claimed = store
        .claim_schedule("w1", t(100), lease)
        .await
        .unwrap()
        .expect("due");
    assert_eq!(
        (claimed.id, claimed.lease_owner.as_deref()),
        (s.id, Some("w1"))
    );
    assert!(
        store
            .claim_schedule("w2", t(101), lease)
            .await
            .unwrap()
            .is_none(),
        "held by w1"
    );
    // w1 goes silent past its lease: w2 takes the run over, w1's report is refused.
    let taken = store
        .claim_schedule("w2", t(161), lease)
        .await
        .unwrap()
        .expect("lease ran out");
    assert_eq!(taken.lease_owner.as_deref(), Some("w2"));
    assert_kind(
        store
            .finish_schedule(s.id, "w1", &ScheduleOutcome::Done("late".into()), t(170))
            .await,
        "conflict",
        "a worker that lost its lease",
    );
    let done = store
        .finish_schedule(s.id, "w2", &ScheduleOutcome::Done("painted".into()), t(170))
        .await
        .unwrap();
    let week = WEEK.as_secs() as i64;
    assert_eq!(done.next_run_at, t(100 + week), "the next slot");
    assert_eq!(
        (done.runs, done.failures, done.last_result.as_deref()),
        (1, 0, Some("painted"))
    );
    assert_eq!((done.lease_owner, done.last_run_at), (None, Some(t(170))));
    assert!(
        store
            .claim_schedule("w1", t(171), lease)
            .await
            .unwrap()
            .is_none(),
        "one run per period"
    );
    // Three weeks missed (no worker ran): one run, then the grid again.
    let late = t(100 + 4 * week + 5);
    let c = store
        .claim_schedule("w1", late, lease)
        .await
        .unwrap()
        .expect("due");
    let done = store
        .finish_schedule(c.id, "w1", &ScheduleOutcome::Done("again".into()), late)
        .await
        .unwrap();
    assert_eq!(
        done.next_run_at,
        t(100 + 5 * week),
        "missed weeks are run once"
    );
    assert!(
        store
            .claim_schedule("w1", late, lease)
            .await
            .unwrap()
            .is_none()
    );
    // A failure is kept and retried, no later than the next slot.
    let at = t(100 + 5 * week);
    let c = store
        .claim_schedule("w1", at, lease)
        .await
        .unwrap()
        .expect("due");
    let failed = store
        .finish_schedule(
            c.id,
            "w1",
            &ScheduleOutcome::Failed {
                error: "Spotify is down".into(),
                retry_at: at + chrono::Duration::hours(1),
            },
            at,
        )
        .await
        .unwrap();
    assert_eq!(
        (failed.failures, failed.last_error.as_deref()),
        (1, Some("Spotify is down"))
    );
    assert_eq!(failed.next_run_at, at + chrono::Duration::hours(1));
    assert_eq!(
        failed.last_result.as_deref(),
        Some("again"),
        "the last success is kept"
    );
    // Access revoked: every schedule of the user pauses, none is claimed.
    let at = at + chrono::Duration::hours(1);
    let c = store
        .claim_schedule("w1", at, lease)
        .await
        .unwrap()
        .expect("retry due");
    let paused = store
        .finish_schedule(
            c.id,
            "w1",
            &ScheduleOutcome::Paused("access revoked".into()),
            at,
        )
        .await
        .unwrap();
    assert_eq!(paused.paused.as_deref(), Some("access revoked"));
    assert_eq!(
        store.schedule(other.id).await.unwrap().paused.as_deref(),
        Some("access revoked")
    );
    let far = t(200_000_000);
    assert!(
        store
            .claim_schedule("w1", far, lease)
            .await
            .unwrap()
            .is_none(),
        "paused"
    );
    assert_eq!(
        store.pause_schedules(user, None).await.unwrap(),
        2,
        "resumed"
    );
    assert_eq!(
        store.pause_schedules(user, None).await.unwrap(),
        0,
        "idempotent"
    );
    assert!(
        store
            .claim_schedule("w1", far, lease)
            .await
            .unwrap()
            .is_some(),
        "due again"
    );
}

/// Several workers polling at once: one schedule is run by one of them.
pub async fn concurrent_schedule_claims(store: Arc<dyn Store>) {
    let user = new_user(&*store).await.id;
    store
        .create_schedule(
            &NewSchedule {
                user,
                task: cover_task("race"),
                period: WEEK,
                first_run: t(0),
            },
            t(0),
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .claim_schedule(&format!("w{w}"), t(5), LEASE)
                .await
                .unwrap()
                .is_some()
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1, "six workers, one run");
}

/// The backend answers pings and names itself.
pub async fn health(store: &dyn Store) {
    store.ping().await.unwrap();
    assert!(["memory", "sqlite", "postgres"].contains(&store.backend()));
}
