//! The ListenBrainz client and source against the fake ListenBrainz:
//! statistics and listens, paging, rate limits, statistics not yet
//! calculated, unknown and private users, tokens (refused, and never in an
//! error or a log line), retried 5xx and malformed answers, and proving who
//! someone is with their token (`validate_token`).
//!
//! Every test logs at TRACE into one process-wide buffer (installed before
//! any request), so the token test can check everything logged.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use spotifyart_core::profile::Signal;
use spotifyart_core::store::NewAccount;
use spotifyart_core::testing::source::{
    check_profile, profile_is_well_formed, unknown_user_is_not_found,
};
use spotifyart_core::{Error, InMemoryStore, MusicSource, Store, TimeRange, UserId};
use spotifyart_scrobbles::fake::listenbrainz::{Entity, FakeListenBrainz};
use spotifyart_scrobbles::listenbrainz::{
    ListenBrainz, ListenBrainzConfig, ListenBrainzSource, PROVIDER, SOURCE_KIND,
};

const DAY: i64 = 86_400;

/// Everything logged by every test in this binary.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned()
}

async fn fake() -> FakeListenBrainz {
    logs();
    FakeListenBrainz::start().await.unwrap()
}

/// Fast settings against `fake`.
fn config(fake: &FakeListenBrainz) -> ListenBrainzConfig {
    ListenBrainzConfig {
        backoff: Duration::from_millis(5),
        request_timeout: Duration::from_secs(5),
        max_rate_limit_wait: Duration::from_secs(3),
        ..ListenBrainzConfig::with_api_url(fake.url().clone())
    }
}

fn client(fake: &FakeListenBrainz) -> ListenBrainz {
    ListenBrainz::new(config(fake)).unwrap()
}

type Listens = Vec<(i64, String, String, String)>;

fn listen(ts: i64, artist: &str, track: &str, release: &str) -> (i64, String, String, String) {
    (ts, artist.into(), track.into(), release.into())
}

/// A listener whose last weeks are Robyn, last months ABBA, last year
/// Fleetwood Mac: each range's statistics differ.
fn listening() -> Listens {
    let now = Utc::now().timestamp();
    let mut v = Vec::new();
    for i in 0..12 {
        v.push(listen(
            now - 3600 * (i + 1),
            "Robyn",
            "Dancing On My Own",
            "Body Talk",
        ));
    }
    for i in 0..4 {
        v.push(listen(
            now - 2 * DAY - 600 * i,
            "Robyn",
            "Hang With Me",
            "Body Talk",
        ));
    }
    for i in 0..20 {
        v.push(listen(
            now - 100 * DAY - 600 * i,
            "ABBA",
            "Dancing Queen",
            "Arrival",
        ));
    }
    for i in 0..30 {
        v.push(listen(
            now - 300 * DAY - 600 * i,
            "Fleetwood Mac",
            "Dreams",
            "Rumours",
        ));
    }
    v
}

/// `n` listens a minute apart, newest a minute ago, of distinct tracks.
fn many(n: i64) -> Listens {
    let now = Utc::now().timestamp();
    (0..n)
        .map(|i| {
            listen(
                now - 60 * (i + 1),
                &format!("Artist {}", i % 7),
                &format!("Track {i}"),
                "",
            )
        })
        .collect()
}

/// A store where a new user has the ListenBrainz account `name`.
async fn user_named(name: &str) -> (Arc<dyn Store>, UserId) {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let user = store
        .upsert_account(
            &NewAccount {
                provider: PROVIDER.into(),
                account_id: name.into(),
                display_name: None,
                scopes: vec![],
            },
            Utc::now(),
        )
        .await
        .unwrap();
    (store, user.id)
}

#[tokio::test]
async fn profile_comes_from_statistics_and_listens() {
    let fake = fake().await;
    fake.add_user("alice", listening());
    let (store, user) = user_named("alice").await;
    let source = ListenBrainzSource::new(client(&fake), store);
    assert_eq!(source.name(), SOURCE_KIND);

    let p = profile_is_well_formed(&source, user).await;
    assert_eq!(p.source.kind, "listenbrainz");
    assert_eq!(p.source.formats, ["statistics", "listens"]);
    assert!(p.source.notes.is_empty(), "{:?}", p.source.notes);
    assert!(p.source.fetched_at.is_some());
    let names = |range| {
        p.top_artists
            .get(range)
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(TimeRange::ShortTerm), ["Robyn"]);
    assert_eq!(names(TimeRange::MediumTerm), ["ABBA", "Robyn"]);
    assert_eq!(
        names(TimeRange::LongTerm),
        ["Fleetwood Mac", "ABBA", "Robyn"]
    );
    let robyn = &p.top_artists.short_term[0];
    assert_eq!((robyn.rank, robyn.plays), (1, Some(16)));
    let dreams = &p.top_tracks.long_term[0];
    assert_eq!(dreams.name, "Dreams");
    assert_eq!(dreams.artists, ["Fleetwood Mac"]);
    assert_eq!(dreams.album.as_deref(), Some("Rumours"));
    assert_eq!(dreams.plays, Some(30));
    assert!((dreams.weight - 30.0 / 66.0).abs() < 1e-4, "{dreams:?}");

    assert_eq!(p.recent.len(), 50, "recent_n of the 66 listens");
    assert_eq!(p.recent[0].track, "Dancing On My Own");
    let b = p.behaviour.as_ref().unwrap();
    assert_eq!(b.plays, 66);
    assert!(p.has(Signal::PlayTimes) && p.has(Signal::Names));
    let period = p.period.unwrap();
    assert!(period.from.timestamp() < Utc::now().timestamp() - 299 * DAY);

    // One page of listens, six statistics calls, each range asked for.
    assert_eq!(fake.count("/1/user/alice/listens"), 1);
    assert_eq!(fake.count("/1/stats/user/alice/artists"), 3);
    assert_eq!(fake.count("/1/stats/user/alice/recordings"), 3);
    let queries: Vec<String> = fake.requests().into_iter().map(|r| r.query).collect();
    for range in ["month", "half_yearly", "all_time"] {
        assert!(
            queries
                .iter()
                .any(|q| q.contains(&format!("range={range}")) && q.contains("count=50")),
            "{queries:?}"
        );
    }
    assert!(
        fake.requests().iter().all(|r| !r.authorization),
        "no token configured, none sent"
    );

    unknown_user_is_not_found(&source).await;
}

#[tokio::test]
async fn top_lists_are_the_statistics_not_a_recount() {
    let fake = fake().await;
    fake.add_user("alice", listening());
    fake.set_stats(
        "alice",
        Entity::Artists,
        "month",
        &[("Kate Bush", "", "", 40), ("Robyn", "", "", 10)],
    );
    fake.set_stats(
        "alice",
        Entity::Recordings,
        "all_time",
        &[("Running Up That Hill", "Kate Bush", "Hounds of Love", 7)],
    );
    let p = client(&fake).profile("alice").await.unwrap();
    check_profile(&p);
    let short = &p.top_artists.short_term;
    assert_eq!(short[0].name, "Kate Bush");
    assert_eq!(short[0].plays, Some(40));
    assert!((short[0].weight - 0.8).abs() < 1e-6);
    let long = &p.top_tracks.long_term;
    assert_eq!(long.len(), 1);
    assert_eq!(long[0].album.as_deref(), Some("Hounds of Love"));
}

#[tokio::test]
async fn listens_are_paged_backwards_up_to_the_bound() {
    let fake = fake().await;
    fake.add_user("pager", many(250));
    let lb = ListenBrainz::new(ListenBrainzConfig {
        page_size: 100,
        max_listens: 230,
        ..config(&fake)
    })
    .unwrap();
    let plays = lb.listens("pager").await.unwrap();
    assert_eq!(plays.len(), 230, "up to the bound, never more");
    let tracks: std::collections::HashSet<_> = plays.iter().map(|p| &p.track).collect();
    assert_eq!(tracks.len(), 230, "no listen twice");
    assert!(plays.windows(2).all(|w| w[0].played_at > w[1].played_at));
    assert_eq!(plays[229].track, "Track 229", "the newest 230");
    let queries: Vec<String> = fake.requests().into_iter().map(|r| r.query).collect();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert_eq!(queries[0], "count=100");
    assert!(queries[1].starts_with("count=100&max_ts="), "{queries:?}");
    assert!(queries[2].starts_with("count=30&max_ts="), "{queries:?}");
    assert!(plays.iter().all(|p| p.ms_played.is_some()));

    // A shorter history ends at its first short page.
    fake.add_user("short", many(150));
    let plays = ListenBrainz::new(ListenBrainzConfig {
        page_size: 100,
        ..config(&fake)
    })
    .unwrap()
    .listens("short")
    .await
    .unwrap();
    assert_eq!(plays.len(), 150);
    assert_eq!(fake.count("/1/user/short/listens"), 2);
}

#[tokio::test]
async fn rate_limits_are_waited_out_within_the_budget() {
    let fake = fake().await;
    fake.add_user("alice", listening());
    fake.rate_limit(2, 1);
    let started = Instant::now();
    let p = client(&fake).profile("alice").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(p.top_artists.short_term[0].name, "Robyn");
    assert!(
        fake.requests().len() > 7,
        "refused requests were sent again"
    );
    assert!(logged().contains("rate limited; waiting"));

    // Past the budget: UpstreamBusy with ListenBrainz's reset time.
    fake.rate_limit(0, 30);
    let started = Instant::now();
    let e = client(&fake).profile("alice").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wait past the budget"
    );
    match &e {
        Error::UpstreamBusy {
            service,
            retry_after,
            ..
        } => {
            assert_eq!(service, "listenbrainz");
            assert_eq!(*retry_after, Some(Duration::from_secs(30)))
        }
        other => panic!("expected UpstreamBusy, got {other:?}"),
    }
    assert!(e.to_string().contains("ListenBrainz"), "{e}");
}

#[tokio::test]
async fn statistics_not_calculated_yet_fall_back_to_listens() {
    let fake = fake().await;
    fake.add_user("newbie", listening());
    fake.stats_pending("newbie", true);
    let (store, user) = user_named("newbie").await;
    let source = ListenBrainzSource::new(client(&fake), store);
    let p = profile_is_well_formed(&source, user).await;
    assert_eq!(p.source.formats, ["listens"]);
    let notes = p.source.notes.join("\n");
    assert!(notes.contains("not calculated yet"), "{notes}");
    assert!(notes.contains("66 listens"), "{notes}");
    // Counted from the listens with the export reader's windows.
    assert_eq!(p.top_artists.short_term[0].name, "Robyn");
    assert_eq!(p.top_artists.short_term[0].plays, Some(16));
    assert_eq!(p.top_artists.long_term[0].name, "Fleetwood Mac");
    assert_eq!(p.top_tracks.long_term[0].album.as_deref(), Some("Rumours"));
    assert!(p.behaviour.is_some());
}

#[tokio::test]
async fn unknown_and_odd_usernames() {
    let fake = fake().await;
    let lb = client(&fake);
    let e = lb.profile("nobody").await.unwrap_err();
    assert_eq!(e.code(), "not_found", "{e}");
    assert!(e.to_string().contains("ListenBrainz user nobody"), "{e}");
    assert_eq!(fake.requests().len(), 1, "stops at the first 404");

    for bad in ["", "a/b", "a?b", "x#y", "tab\tname"] {
        let e = lb.profile(bad).await.unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{bad:?}: {e}");
    }
    assert_eq!(fake.requests().len(), 1, "nothing sent for bad names");

    // A name with a space and non-ASCII letters travels percent-encoded.
    fake.add_user("Rob Smith-Ø", listening());
    let p = lb.profile("Rob Smith-Ø").await.unwrap();
    assert_eq!(p.top_artists.long_term[0].name, "Fleetwood Mac");
    assert!(fake.count("/1/user/Rob%20Smith-%C3%98/listens") == 1);

    // A URL that is not ListenBrainz's API is not "user not found".
    let lb = ListenBrainz::new(ListenBrainzConfig::with_api_url(
        fake.url().join("elsewhere/").unwrap(),
    ))
    .unwrap();
    let e = lb.profile("nobody").await.unwrap_err();
    assert_eq!(e.code(), "upstream_failed", "{e}");
    assert!(e.to_string().contains("LISTENBRAINZ_API_URL"), "{e}");
}

#[tokio::test]
async fn private_profiles_and_missing_tokens_say_so() {
    let fake = fake().await;
    fake.add_user("hidden", listening());
    fake.private("hidden", true);
    let e = client(&fake).profile("hidden").await.unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e}");
    assert!(e.to_string().contains("private"), "{e}");
    assert!(e.to_string().contains("hidden"), "{e}");

    fake.private("hidden", false);
    fake.require_token(Some("needed-token-5e1"));
    let e = client(&fake).profile("hidden").await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e}");
    assert!(e.to_string().contains("LISTENBRAINZ_TOKEN"), "{e}");
}

#[tokio::test]
async fn a_refused_token_is_named_but_never_shown() {
    const GOOD: &str = "good-token-0b8f1c2e9d";
    const BAD: &str = "bad-token-77aa31f0c4";
    let fake = fake().await;
    fake.add_user("alice", listening());
    fake.require_token(Some(GOOD));

    let bad = ListenBrainz::new(config(&fake).with_token(BAD)).unwrap();
    assert!(!format!("{bad:?}").contains(BAD), "Debug hides the token");
    let e = bad.profile("alice").await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e}");
    let text = format!("{e} {e:?}");
    assert!(text.contains("refused the user token"), "{text}");
    assert!(!text.contains(BAD) && !text.contains(GOOD), "{text}");

    // The right token works, through a 5xx and a 429, and goes with every
    // request to the API.
    fake.fail_next("/1/stats/user/alice/artists", 502, 1);
    fake.rate_limit(3, 1);
    let good = ListenBrainz::new(config(&fake).with_token(GOOD)).unwrap();
    let p = good.profile("alice").await.unwrap();
    assert_eq!(p.top_artists.short_term[0].name, "Robyn");
    assert!(fake.requests().iter().all(|r| r.authorization));

    // Neither is shown when one is checked as someone's proof of identity.
    let e = bad.validate_token(BAD).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e}");
    assert!(!format!("{e} {e:?}").contains(BAD), "{e:?}");

    let logs = logged();
    assert!(logs.contains("server error; retrying"), "{logs}");
    assert!(logs.contains("listenbrainz"), "{logs}");
    assert!(!logs.contains(BAD), "the refused token reached the logs");
    assert!(!logs.contains(GOOD), "the token reached the logs");
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let fake = fake().await;
    fake.add_user("alice", listening());
    fake.fail_next("/1/user/alice/listens", 503, 2);
    let p = client(&fake).profile("alice").await.unwrap();
    assert_eq!(p.recent.len(), 50);
    assert_eq!(fake.count("/1/user/alice/listens"), 3);

    fake.fail_next("/1/stats/user/alice/recordings", 500, 10);
    let e = client(&fake).profile("alice").await.unwrap_err();
    match &e {
        Error::Upstream {
            service, status, ..
        } => assert_eq!((service.as_str(), *status), ("listenbrainz", Some(500))),
        other => panic!("expected Upstream, got {other:?}"),
    }
    assert!(e.to_string().contains("top recordings"), "{e}");
}

#[tokio::test]
async fn malformed_answers_name_the_call() {
    let fake = fake().await;
    fake.add_user("alice", listening());
    fake.malformed_next("/1/user/alice/listens");
    let e = client(&fake).profile("alice").await.unwrap_err();
    assert_eq!(e.code(), "upstream_failed", "{e}");
    let text = e.to_string();
    assert!(
        text.contains("listens") && text.contains("malformed JSON"),
        "{text}"
    );
}

#[tokio::test]
async fn the_fake_speaks_like_listenbrainz() {
    let fake = fake().await;
    fake.add_user("bulk", many(1200));
    spotifyart_upstream::install_crypto_provider();
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(fake.url().join(path).unwrap()).send();

    let r = get("1/user/bulk/listens?count=5000").await.unwrap();
    assert_eq!(r.status(), 200);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset-in",
    ] {
        assert!(r.headers().contains_key(h), "{h}");
    }
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["payload"]["count"], 1000, "count is capped at 1000");

    let r = get("1/user/bulk/listens").await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["payload"]["count"], 25, "25 by default");

    for bad in [
        "1/user/bulk/listens?count=x",
        "1/user/bulk/listens?min_ts=10&max_ts=5",
        "1/stats/user/bulk/artists?range=decade",
        "1/stats/user/bulk/artists?offset=-1",
    ] {
        assert_eq!(get(bad).await.unwrap().status(), 400, "{bad}");
    }
    let r = get("1/user/ghost/listens").await.unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "Cannot find user: ghost");

    let r = get("1/stats/user/BULK/artists?range=all_time&count=3&offset=2")
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["payload"]["count"], 3);
    assert_eq!(body["payload"]["offset"], 2);
    assert_eq!(body["payload"]["total_artist_count"], 7);

    fake.stats_pending("bulk", true);
    let r = get("1/stats/user/bulk/recordings").await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_token_names_its_user_and_a_wrong_one_is_refused_unseen() {
    const WRONG: &str = "0b5a7c9e-3f21-4d6b-8e0a-2c4f6a8b0d1e";
    let fake = fake().await;
    fake.add_user("Rob", listening());
    let token = fake.issue_token("rob");
    assert_eq!(token.len(), 36, "{token}");
    assert_ne!(token, fake.issue_token("rob"), "every token is new");
    let c = client(&fake);

    // ListenBrainz's spelling of the name, whatever the token was issued as;
    // a pasted token's spaces do not matter.
    assert_eq!(c.validate_token(&token).await.unwrap(), "Rob");
    assert_eq!(
        c.validate_token(&format!("  {token}\n")).await.unwrap(),
        "Rob"
    );
    assert_eq!(
        c.validate_token(&fake.issue_token("newcomer"))
            .await
            .unwrap(),
        "newcomer"
    );
    // Sent in the header, to /1/validate-token, never in the URL.
    let checks: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/1/validate-token")
        .collect();
    assert_eq!(checks.len(), 3);
    assert!(checks.iter().all(|r| r.authorization && r.query.is_empty()));

    // A token nobody has, and one reset since: refused, never shown.
    let mut errors = Vec::new();
    errors.push(c.validate_token(WRONG).await.unwrap_err());
    fake.revoke_token(&token);
    errors.push(c.validate_token(&token).await.unwrap_err());
    for e in &errors {
        assert_eq!(e.code(), "unauthorized", "{e}");
        assert!(
            e.to_string()
                .contains("ListenBrainz did not accept the user token"),
            "{e}"
        );
    }

    // Not a token at all: refused before any request.
    let before = fake.count("/1/validate-token");
    for bad in ["", "   ", "two words", "tab\there", &"x".repeat(300)] {
        let e = c.validate_token(bad).await.unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{bad:?}: {e}");
        errors.push(e);
    }
    assert_eq!(fake.count("/1/validate-token"), before);

    // This client's own token (and the fake requiring it elsewhere) plays
    // no part: the token checked is the one sent.
    let own = "own-token-9c1d";
    fake.require_token(Some(own));
    let with_own = ListenBrainz::new(config(&fake).with_token(own)).unwrap();
    let other = fake.issue_token("Rob");
    assert_eq!(with_own.validate_token(&other).await.unwrap(), "Rob");
    fake.require_token(None);

    // A server that answers 401, 5xx past the retries, a rate limit waited
    // out, a 400.
    fake.fail_next("/1/validate-token", 401, 1);
    let e = c.validate_token(&other).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e}");
    errors.push(e);
    fake.fail_next("/1/validate-token", 503, 4);
    let e = c.validate_token(&other).await.unwrap_err();
    assert_eq!(e.code(), "upstream_failed", "{e}");
    assert!(e.to_string().contains("503"), "{e}");
    errors.push(e);
    fake.fail_next("/1/validate-token", 400, 1);
    let e = c.validate_token(&other).await.unwrap_err();
    assert_eq!(e.code(), "invalid_input", "{e}");
    errors.push(e);
    fake.fail_next("/1/validate-token", 502, 1);
    fake.rate_limit(0, 1);
    assert_eq!(c.validate_token(&other).await.unwrap(), "Rob");

    for e in &errors {
        let shown = format!("{e} {e:?}");
        for secret in [WRONG, token.as_str(), other.as_str(), own] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
    let logs = logged();
    for secret in [WRONG, token.as_str(), other.as_str(), own] {
        assert!(!logs.contains(secret), "a token reached the logs");
    }
}

#[tokio::test]
async fn the_fake_checks_tokens_like_listenbrainz() {
    let fake = fake().await;
    let token = fake.issue_token("alice");
    let http = reqwest::Client::new();
    let url = fake.url().join("1/validate-token").unwrap();
    let get = |auth: Option<String>, query: &str| {
        let mut url = url.clone();
        url.set_query(Some(query).filter(|q| !q.is_empty()));
        let mut r = http.get(url);
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = get(Some(format!("Token {token}")), "").await;
    assert_eq!(status, 200);
    assert_eq!(body["valid"], true);
    assert_eq!(body["user_name"], "alice");
    assert_eq!(body["message"], "Token valid.");
    // The query parameter ListenBrainz still accepts.
    let (_, body) = get(None, &format!("token={token}")).await;
    assert_eq!(body["valid"], true);
    // An unknown token is HTTP 200 with valid false and no name.
    let (status, body) = get(Some("Token nope".into()), "").await;
    assert_eq!((status, &body["valid"]), (200, &serde_json::json!(false)));
    assert!(body.get("user_name").is_none());
    assert_eq!(body["message"], "Token invalid.");
    let (status, body) = get(None, "").await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(400)));
}
