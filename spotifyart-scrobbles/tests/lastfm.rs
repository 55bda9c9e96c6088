//! The Last.fm client, its profiles and `LastfmSource` against the fake
//! Last.fm: three ranges of top lists, recent plays without the track
//! playing now, genres from tags, paging, rate limits (error 29 with HTTP
//! 200 and 429), retries, Last.fm's errors, no API key in any error or
//! log line, and web authentication (proving who someone is: `auth_url`,
//! the fake's redirect with a token, `session_user`), with no token or
//! shared secret in any error or log line either.
//!
//! Every test starts by installing one process-wide subscriber that keeps
//! everything logged at TRACE (and `log` records), so the key check reads
//! the logs of every test in this binary, and no callsite's interest is
//! cached before it exists.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::Utc;
use spotifyart_core::profile::Signal;
use spotifyart_core::store::NewAccount;
use spotifyart_core::testing::source::{
    check_profile, profile_is_well_formed, unknown_user_is_not_found,
};
use spotifyart_core::{Error, InMemoryStore, MusicSource, Store, TimeRange};
use spotifyart_scrobbles::fake::lastfm::{FakeLastfm, Fault};
use spotifyart_scrobbles::lastfm::{Lastfm, LastfmConfig, LastfmSource, PROVIDER, SOURCE_KIND};

const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const WRONG_KEY: &str = "deadbeefdeadbeefdeadbeefdeadbeef";
const SECRET: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e7aa";
const WRONG_SECRET: &str = "0ddba110ddba110ddba110ddba110ddb";

/// Everything logged by any test in this binary.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Captured(buffer.clone());
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init()
            .expect("the only subscriber");
        buffer
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

#[derive(Clone)]
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

/// Fast retries and short rate-limit budgets, so failure tests take
/// milliseconds.
fn config(fake: &FakeLastfm) -> LastfmConfig {
    let mut c = LastfmConfig::new(KEY).with_api_url(fake.url().clone());
    c.request_timeout = Duration::from_secs(2);
    c.backoff = Duration::from_millis(5);
    c.max_rate_limit_wait = Duration::from_millis(200);
    c
}

fn client(fake: &FakeLastfm) -> Lastfm {
    Lastfm::new(config(fake)).unwrap()
}

const DAY: i64 = 86_400;

/// A listener whose month is trip-hop, whose half year adds Fleetwood Mac
/// and whose whole history adds Radiohead.
fn listening() -> Vec<(i64, &'static str, &'static str, &'static str)> {
    let now = Utc::now().timestamp();
    let mut s = Vec::new();
    for i in 0..12 {
        s.push((now - 3600 * (i + 1), "Portishead", "Roads", "Dummy"));
    }
    for i in 0..6 {
        s.push((
            now - DAY * 2 - 3600 * i,
            "Massive Attack",
            "Teardrop",
            "Mezzanine",
        ));
    }
    for i in 0..20 {
        s.push((
            now - DAY * 60 - 3600 * i,
            "Fleetwood Mac",
            "Dreams",
            "Rumours",
        ));
    }
    for i in 0..30 {
        s.push((
            now - DAY * 400 - 3600 * i,
            "Radiohead",
            "Reckoner",
            "In Rainbows",
        ));
    }
    s
}

async fn fake_with_listener() -> FakeLastfm {
    logs();
    let fake = FakeLastfm::start(KEY).await.unwrap();
    fake.add_user("sunny_listener", listening());
    fake.artist_tags(
        "Portishead",
        &[
            ("trip-hop", 100),
            ("seen live", 55),
            ("female vocalists", 50),
            ("electronic", 45),
            ("90s", 30),
            ("Bristol", 12),
            ("downtempo", 5),
        ],
    );
    fake.artist_tags("Radiohead", &[("alternative", 100), ("rock", 80)]);
    fake
}

#[tokio::test]
async fn profile_has_three_ranges_recent_plays_behaviour_and_genres() {
    let fake = fake_with_listener().await;
    fake.now_playing("sunny_listener", Some(("Björk", "Hyperballad", "Post")));
    let p = client(&fake).profile("sunny_listener").await.unwrap();
    check_profile(&p);
    assert_eq!(p.source.kind, SOURCE_KIND);
    let names = |r: TimeRange| -> Vec<String> {
        p.top_artists
            .get(r)
            .iter()
            .map(|a| a.name.clone())
            .collect()
    };
    assert_eq!(
        names(TimeRange::ShortTerm),
        ["Portishead", "Massive Attack"]
    );
    assert_eq!(
        names(TimeRange::MediumTerm),
        ["Fleetwood Mac", "Portishead", "Massive Attack"]
    );
    assert_eq!(names(TimeRange::LongTerm)[0], "Radiohead");
    assert_eq!(p.top_artists.long_term.len(), 4);
    let short = &p.top_tracks.short_term;
    assert_eq!(
        (short[0].name.as_str(), short[0].plays),
        ("Roads", Some(12))
    );
    assert_eq!(short[0].artists, ["Portishead"]);
    assert!(
        short[0].weight > short[1].weight,
        "weights follow play counts"
    );

    // Recent plays: the 50 newest scrobbles, not the track playing now.
    assert_eq!(p.recent.len(), 50);
    assert!(p.recent.iter().all(|r| r.track != "Hyperballad"));
    assert_eq!(p.recent[0].track, "Roads");
    assert_eq!(p.recent[0].album.as_deref(), Some("Dummy"));
    let b = p.behaviour.as_ref().unwrap();
    assert_eq!(b.plays, 68, "every scrobble read counts");
    assert_eq!(b.skip_rate, None, "scrobbles say nothing of skips");
    assert!(!p.has(Signal::Skips));

    // Genres: tags, lowercased and spelled as the mood table spells them,
    // without "seen live", voices, decades or weak tags.
    let portishead = &p.top_artists.short_term[0];
    assert_eq!(portishead.genres, ["trip hop", "electronic", "bristol"]);
    assert_eq!(short[0].genres, portishead.genres, "tracks carry them too");
    assert_eq!(p.top_artists.long_term[0].genres, ["alternative", "rock"]);
    assert!(
        p.top_artists.short_term[1].genres.is_empty(),
        "no tags, no genres"
    );
    for s in [Signal::Names, Signal::Genres, Signal::PlayTimes] {
        assert!(p.has(s), "{s:?} in {:?}", p.signals);
    }
    assert!(p.source.fetched_at.is_some());

    // What was asked: three periods of each list, one page of recent
    // tracks, the tags of the four artists; the key with each, as JSON.
    let requests = fake.requests();
    let mut periods: Vec<&str> = requests
        .iter()
        .filter(|r| r.method == "user.getTopArtists")
        .filter_map(|r| r.param("period"))
        .collect();
    periods.sort();
    assert_eq!(periods, ["1month", "6month", "overall"]);
    assert_eq!(fake.count("user.getTopTracks"), 3);
    assert_eq!(fake.count("user.getRecentTracks"), 1);
    assert_eq!(fake.count("artist.getTopTags"), 4);
    assert!(
        requests
            .iter()
            .all(|r| r.key_ok && r.param("format") == Some("json"))
    );
}

async fn source_with_account(
    fake: &FakeLastfm,
    name: &str,
) -> (LastfmSource, spotifyart_core::UserId) {
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
    (LastfmSource::new(client(fake), store), user.id)
}

#[tokio::test]
async fn lastfm_source_conforms() {
    let fake = fake_with_listener().await;
    let (source, user) = source_with_account(&fake, "sunny_listener").await;
    assert_eq!(source.name(), SOURCE_KIND);
    let p = profile_is_well_formed(&source, user).await;
    assert_eq!(p.top_artists.short_term[0].name, "Portishead");
    unknown_user_is_not_found(&source).await;
    // A SpotifyArt user whose Last.fm name Last.fm does not know.
    let (source, user) = source_with_account(&fake, "gone_away").await;
    match source.profile(user).await {
        Err(Error::NotFound { what }) => assert_eq!(what, "Last.fm user gone_away"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn recent_tracks_are_paged_and_bounded() {
    logs();
    let fake = FakeLastfm::start(KEY).await.unwrap();
    let now = Utc::now().timestamp();
    let many: Vec<_> = (0..1234)
        .map(|i| (now - 600 * (i + 1), "Burial", "Archangel", "Untrue"))
        .collect();
    fake.add_user("heavy_user", many);
    let lastfm = client(&fake);

    let s = lastfm.recent_plays("heavy_user", 1000).await.unwrap();
    assert_eq!((s.plays.len(), s.total), (1000, 1234));
    assert!(s.plays.windows(2).all(|w| w[0].played_at > w[1].played_at));
    let requests = fake.requests();
    let asked: Vec<(String, String)> = requests
        .iter()
        .map(|r| {
            (
                r.param("page").unwrap().to_string(),
                r.param("limit").unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = (1..=5).map(|p| (p.to_string(), "200".into())).collect();
    assert_eq!(asked, expected, "five pages of 200, no more");

    let s = lastfm.recent_plays("heavy_user", 450).await.unwrap();
    assert_eq!(s.plays.len(), 450);
    assert_eq!(fake.count("user.getRecentTracks"), 5 + 3);

    // The whole profile: behaviour over the 1000 read, 50 recent plays,
    // and a note saying how much was read.
    let p = lastfm.profile("heavy_user").await.unwrap();
    assert_eq!(p.behaviour.as_ref().unwrap().plays, 1000);
    assert_eq!(p.recent.len(), 50);
    let notes = p.source.notes.join("\n");
    assert!(
        notes.contains("1000 most recent of 1234 scrobbles"),
        "{notes}"
    );

    // A short history stops at the last page Last.fm has.
    fake.add_user(
        "light_user",
        (0..250)
            .map(|i| (now - 600 * (i + 1), "Burial", "Archangel", ""))
            .collect(),
    );
    let before = fake.count("user.getRecentTracks");
    let s = lastfm.recent_plays("light_user", 1000).await.unwrap();
    assert_eq!(s.plays.len(), 250);
    assert!(
        s.plays.iter().all(|p| p.album.is_none()),
        "an empty album is none"
    );
    assert_eq!(fake.count("user.getRecentTracks") - before, 2);
}

#[tokio::test]
async fn rate_limits_with_200_and_429_are_waited_out_within_the_budget() {
    let fake = fake_with_listener().await;
    let lastfm = client(&fake);
    fake.fail_next("user.getTopArtists", Fault::RateLimited { status: 200 }, 2);
    fake.fail_next("user.getTopArtists", Fault::RateLimited { status: 429 }, 2);
    let top = lastfm
        .top_artists("sunny_listener", TimeRange::ShortTerm, 10)
        .await
        .unwrap();
    assert_eq!(top[0].name, "Portishead");
    assert_eq!(
        fake.count("user.getTopArtists"),
        5,
        "four limits waited out"
    );

    // The whole profile meets them too.
    fake.fail_next(
        "user.getRecentTracks",
        Fault::RateLimited { status: 200 },
        1,
    );
    fake.fail_next("artist.getTopTags", Fault::RateLimited { status: 429 }, 1);
    let p = lastfm.profile("sunny_listener").await.unwrap();
    assert!(
        p.top_artists.short_term[0]
            .genres
            .contains(&"trip hop".to_string())
    );
    assert!(
        p.source.notes.iter().all(|n| !n.contains("tags")),
        "{:?}",
        p.source.notes
    );

    // Past the budget (200 ms, 5 ms a wait): UpstreamBusy.
    for status in [200, 429] {
        fake.fail_next("user.getTopTracks", Fault::RateLimited { status }, 100);
        let e = lastfm
            .top_tracks("sunny_listener", TimeRange::LongTerm, 10)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "upstream_busy", "{e}");
        assert!(e.to_string().contains("Last.fm is rate limiting"), "{e}");
        fake.clear_faults();
    }
}

#[tokio::test]
async fn an_unknown_user_is_named() {
    let fake = fake_with_listener().await;
    match client(&fake).profile("nobody_here").await {
        Err(Error::NotFound { what }) => assert_eq!(what, "Last.fm user nobody_here"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let e = client(&fake).artist_tags("No Such Band").await.unwrap_err();
    assert_eq!(e.to_string(), "Last.fm artist No Such Band not found");
}

#[tokio::test]
async fn bad_usernames_are_refused_before_asking() {
    let fake = fake_with_listener().await;
    for bad in ["x", "two words", "tab\tname", &"y".repeat(65)] {
        let e = client(&fake).profile(bad).await.unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{bad:?}: {e}");
    }
    assert!(fake.requests().is_empty());
    // Names are query parameters, encoded: odd but valid ones arrive whole.
    fake.add_user("a&b=c?d", listening());
    let p = client(&fake).profile("a&b=c?d").await.unwrap();
    assert!(!p.recent.is_empty());
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.param("user").is_none_or(|u| u == "a&b=c?d"))
    );
}

#[tokio::test]
async fn private_listening_is_forbidden_and_hidden_recent_tracks_are_noted() {
    let fake = fake_with_listener().await;
    fake.private("sunny_listener", true);
    let e = client(&fake).profile("sunny_listener").await.unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e}");
    let text = e.to_string();
    assert!(
        text.contains("sunny_listener") && text.contains("private"),
        "{text}"
    );

    // Only recent listening hidden: the profile stands on the top lists.
    fake.private("sunny_listener", false);
    fake.hide_recent("sunny_listener", true);
    let e = client(&fake)
        .recent_plays("sunny_listener", 10)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "forbidden");
    let p = client(&fake).profile("sunny_listener").await.unwrap();
    check_profile(&p);
    assert!(p.recent.is_empty() && !p.has(Signal::PlayTimes));
    assert_eq!(p.top_artists.short_term[0].name, "Portishead");
    assert!(
        p.source.notes.join(" ").contains("hidden"),
        "{:?}",
        p.source.notes
    );
}

#[tokio::test]
async fn server_errors_and_error_16_are_retried() {
    let fake = fake_with_listener().await;
    let lastfm = client(&fake);
    fake.fail_next("user.getRecentTracks", Fault::ServerError(503), 2);
    fake.fail_next(
        "user.getTopArtists",
        Fault::Unavailable {
            code: 16,
            status: 200,
        },
        2,
    );
    fake.fail_next(
        "user.getTopTracks",
        Fault::Unavailable {
            code: 11,
            status: 503,
        },
        1,
    );
    let p = lastfm.profile("sunny_listener").await.unwrap();
    check_profile(&p);
    assert_eq!(fake.count("user.getRecentTracks"), 3);
    assert_eq!(fake.count("user.getTopArtists"), 3 + 2);
    assert_eq!(fake.count("user.getTopTracks"), 3 + 1);

    // Past the retries (3): an upstream error that says so.
    fake.fail_next(
        "user.getTopArtists",
        Fault::Unavailable {
            code: 16,
            status: 200,
        },
        10,
    );
    let e = lastfm
        .top_artists("sunny_listener", TimeRange::ShortTerm, 5)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "upstream_failed");
    assert!(e.to_string().contains("temporarily unavailable"), "{e}");
    fake.fail_next("user.getTopTracks", Fault::ServerError(502), 10);
    let e = lastfm
        .top_tracks("sunny_listener", TimeRange::ShortTerm, 5)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("502"), "{e}");
}

#[tokio::test]
async fn malformed_json_names_the_call() {
    let fake = fake_with_listener().await;
    fake.fail_next("user.getTopArtists", Fault::Malformed, 1);
    let e = client(&fake)
        .top_artists("sunny_listener", TimeRange::MediumTerm, 5)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "upstream_failed");
    let text = e.to_string();
    assert!(
        text.contains("user.getTopArtists") && text.contains("malformed JSON from Last.fm"),
        "{text}"
    );
}

#[tokio::test]
async fn single_items_come_as_objects() {
    logs();
    let fake = FakeLastfm::start(KEY).await.unwrap();
    let now = Utc::now().timestamp();
    fake.add_user(
        "one_play",
        vec![(now - 60, "Nick Drake", "Pink Moon", "Pink Moon")],
    );
    fake.now_playing("one_play", None);
    fake.artist_tags("Nick Drake", &[("folk", 100)]);
    let p = client(&fake).profile("one_play").await.unwrap();
    check_profile(&p);
    for r in TimeRange::ALL {
        assert_eq!(p.top_artists.get(r).len(), 1);
        assert_eq!(p.top_tracks.get(r)[0].name, "Pink Moon");
    }
    assert_eq!(p.recent.len(), 1);
    assert_eq!(p.top_artists.long_term[0].genres, ["folk"]);
}

#[tokio::test]
async fn tags_are_bounded_and_their_failures_do_not_fail_the_profile() {
    logs();
    let fake = FakeLastfm::start(KEY).await.unwrap();
    let now = Utc::now().timestamp();
    let artists: Vec<String> = (0..30).map(|i| format!("Artist {i:02}")).collect();
    let scrobbles: Vec<_> = artists
        .iter()
        .enumerate()
        .flat_map(|(i, a)| {
            (0..=i).map(move |j| (now - 60 * (i * 40 + j + 1) as i64, a.as_str(), "Song", ""))
        })
        .collect();
    fake.add_user("wide_taste", scrobbles);
    fake.fail_next("artist.getTopTags", Fault::ServerError(500), 100);
    let p = client(&fake).profile("wide_taste").await.unwrap();
    check_profile(&p);
    assert!(!p.has(Signal::Genres));
    assert!(fake.count("artist.getTopTags") > 20, "each retried");
    let notes = p.source.notes.join("\n");
    assert!(
        notes.contains("tags of 20 of 20 artists unavailable"),
        "{notes}"
    );
    // The most played twenty, not all thirty.
    let fake = FakeLastfm::start(KEY).await.unwrap();
    let scrobbles: Vec<_> = artists
        .iter()
        .enumerate()
        .flat_map(|(i, a)| {
            (0..=i).map(move |j| (now - 60 * (i * 40 + j + 1) as i64, a.as_str(), "Song", ""))
        })
        .collect();
    fake.add_user("wide_taste", scrobbles);
    client(&fake).profile("wide_taste").await.unwrap();
    assert_eq!(fake.count("artist.getTopTags"), 20);
    let asked: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.method == "artist.getTopTags")
        .map(|r| r.param("artist").unwrap().to_string())
        .collect();
    assert!(asked.contains(&"Artist 29".to_string()) && !asked.contains(&"Artist 00".to_string()));
}

#[tokio::test]
async fn a_refused_key_is_said_and_no_key_reaches_an_error_or_a_log_line() {
    let fake = fake_with_listener().await;
    let mut errors: Vec<Error> = Vec::new();

    // A wrong key: Last.fm's error 10, HTTP 403.
    let wrong = Lastfm::new(LastfmConfig::new(WRONG_KEY).with_api_url(fake.url().clone())).unwrap();
    let e = wrong.profile("sunny_listener").await.unwrap_err();
    assert_eq!(e.code(), "upstream_failed");
    assert!(e.to_string().contains("refused the API key"), "{e}");
    errors.push(e);
    // A suspended key (error 26), with HTTP 200.
    fake.fail_next(
        "user.getRecentTracks",
        Fault::Error {
            code: 26,
            status: 200,
            message: "Suspended API key - Access for your account has been suspended".into(),
        },
        1,
    );
    let e = client(&fake)
        .recent_plays("sunny_listener", 10)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refused the API key"), "{e}");
    errors.push(e);

    // Nobody listening: a connection refused, retried, then failed.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut c = config(&fake).with_api_url(format!("http://{closed}/2.0/").parse().unwrap());
    c.max_retries = 1;
    let e = Lastfm::new(c)
        .unwrap()
        .profile("sunny_listener")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "upstream_failed");
    assert!(e.to_string().contains("could not connect"), "{e}");
    errors.push(e);

    // A key Last.fm might echo in a message is cut out.
    fake.fail_next(
        "user.getTopTracks",
        Fault::Error {
            code: 9,
            status: 200,
            message: format!("Invalid session key for api_key={KEY}"),
        },
        1,
    );
    let e = client(&fake)
        .top_tracks("sunny_listener", TimeRange::ShortTerm, 5)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("[api key]"), "{e}");
    errors.push(e);

    // Retries, rate limits and bad JSON, logged.
    fake.fail_next("user.getTopArtists", Fault::ServerError(500), 1);
    fake.fail_next("user.getTopArtists", Fault::RateLimited { status: 429 }, 1);
    fake.fail_next(
        "user.getTopTracks",
        Fault::Unavailable {
            code: 16,
            status: 200,
        },
        1,
    );
    client(&fake).profile("sunny_listener").await.unwrap();
    fake.fail_next("user.getRecentTracks", Fault::Malformed, 1);
    errors.push(client(&fake).profile("sunny_listener").await.unwrap_err());

    for e in &errors {
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(
                !shown.contains(KEY) && !shown.contains(WRONG_KEY),
                "{shown}"
            );
        }
    }
    let config_shown = format!("{:?}", config(&fake));
    assert!(!config_shown.contains(KEY), "{config_shown}");
    let logs = logged();
    for expected in [
        "rate limited; waiting",
        "server error; retrying",
        "temporarily unavailable; retrying",
        "could not connect",
    ] {
        assert!(logs.contains(expected), "{expected:?} logged:\n{logs}");
    }
    assert!(!logs.contains(KEY), "the key leaked into the logs");
    assert!(
        !logs.contains(SECRET) && !logs.contains(WRONG_SECRET),
        "a shared secret leaked into the logs"
    );
    assert!(
        !logs.contains(WRONG_KEY),
        "the wrong key leaked into the logs"
    );
}

#[tokio::test]
async fn the_fake_answers_like_last_fm() {
    let fake = fake_with_listener().await;
    let http = reqwest::Client::new();
    let get = |query: String| {
        let url = format!("{}?{query}&format=json", fake.url());
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    // No key, a wrong key: error 10 with HTTP 403.
    for key in ["", "&api_key=nope"] {
        let (status, body) = get(format!(
            "method=user.getTopArtists&user=sunny_listener{key}"
        ))
        .await;
        assert_eq!((status, body["error"].as_u64()), (403, Some(10)));
    }
    // Limits capped as Last.fm caps them; the track playing now on top of
    // the first page only, without a date; numbers as strings.
    let (_, body) = get(format!(
        "method=user.getRecentTracks&user=SUNNY_LISTENER&limit=500&api_key={KEY}"
    ))
    .await;
    let recent = &body["recenttracks"];
    assert_eq!(recent["@attr"]["perPage"], "200");
    assert_eq!(recent["@attr"]["total"], "68");
    assert_eq!(recent["track"][0]["@attr"]["nowplaying"], "true");
    assert!(recent["track"][0].get("date").is_none());
    assert!(recent["track"][1]["date"]["uts"].is_string());
    let (_, body) = get(format!(
        "method=user.getRecentTracks&user=sunny_listener&limit=30&page=2&api_key={KEY}"
    ))
    .await;
    let recent = &body["recenttracks"];
    assert_eq!(recent["@attr"]["totalPages"], "3");
    assert_eq!(recent["track"].as_array().unwrap().len(), 30);
    assert!(recent["track"][0].get("date").is_some());
    let (_, body) = get(format!(
        "method=user.getTopArtists&user=sunny_listener&limit=5000&api_key={KEY}"
    ))
    .await;
    assert_eq!(body["topartists"]["@attr"]["perPage"], "1000");
    assert_eq!(body["topartists"]["artist"][0]["playcount"], "30");
    // Unknown methods and users.
    let (status, body) = get(format!("method=user.getFriends&user=x&api_key={KEY}")).await;
    assert_eq!((status, body["error"].as_u64()), (400, Some(3)));
    let (status, body) = get(format!(
        "method=user.getTopTracks&user=nobody&api_key={KEY}"
    ))
    .await;
    assert_eq!((status, body["error"].as_u64()), (404, Some(6)));
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.params.iter().all(|(k, _)| k != "api_key"))
    );
}

#[tokio::test]
async fn a_user_without_scrobbles_has_an_empty_profile() {
    logs();
    let fake = FakeLastfm::start(KEY).await.unwrap();
    fake.add_user("brand_new", vec![]);
    let p = client(&fake).profile("brand_new").await.unwrap();
    check_profile(&p);
    assert!(p.is_empty() && p.behaviour.is_none());
    assert_eq!(fake.count("artist.getTopTags"), 0);
}

/// A fake whose signed calls need [`SECRET`], with the listener, and a
/// client that signs with it and sends browsers to the fake's page.
async fn auth_fake() -> (FakeLastfm, Lastfm) {
    let fake = fake_with_listener().await.with_shared_secret(SECRET);
    let config = config(&fake)
        .with_shared_secret(SECRET)
        .with_auth_url(fake.auth_url());
    (fake, Lastfm::new(config).unwrap())
}

/// A browser that does not follow redirects.
fn browser() -> reqwest::Client {
    spotifyart_upstream::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The browser's part of web auth: opens `auth_url` (the fake approves at
/// once) and reads the token from the redirect back to the callback.
async fn approved_token(client: &Lastfm, callback: &url::Url) -> String {
    let r = browser()
        .get(client.auth_url(callback))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let back: url::Url = r.headers()["location"].to_str().unwrap().parse().unwrap();
    back.query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("a token on the callback")
}

fn callback() -> url::Url {
    "https://art.example/invites/7f3a/lastfm?step=back"
        .parse()
        .unwrap()
}

#[tokio::test]
async fn web_auth_names_the_user_who_approved_once() {
    let (fake, client) = auth_fake().await;
    fake.approve_as(Some("SUNNY_LISTENER"));

    // The page: Last.fm's web-auth URL with the app's key and the callback.
    let url = client.auth_url(&callback());
    assert!(url.as_str().starts_with(fake.auth_url().as_str()), "{url}");
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q,
        [
            ("api_key".to_string(), KEY.to_string()),
            ("cb".to_string(), callback().to_string())
        ]
    );
    let default = LastfmConfig::new(KEY);
    let real = Lastfm::new(default).unwrap().auth_url(&callback());
    assert!(
        real.as_str()
            .starts_with("https://www.last.fm/api/auth/?api_key="),
        "{real}"
    );

    // The fake sends the browser back to the callback, its query kept,
    // with a token.
    let r = browser().get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let back: url::Url = r.headers()["location"].to_str().unwrap().parse().unwrap();
    assert_eq!(back.path(), "/invites/7f3a/lastfm");
    let q: std::collections::HashMap<String, String> = back.query_pairs().into_owned().collect();
    assert_eq!(q["step"], "back");
    let token = q["token"].clone();
    assert_eq!(token.len(), 32, "{token}");

    // The token, signed, names the user as Last.fm spells them, through a
    // 5xx retried.
    fake.fail_next("auth.getSession", Fault::ServerError(502), 1);
    assert_eq!(client.session_user(&token).await.unwrap(), "sunny_listener");
    let asked: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "auth.getSession")
        .collect();
    assert_eq!(asked.len(), 2);
    let last = asked.last().unwrap();
    assert!(last.key_ok);
    assert_eq!(last.param("token"), Some(token.as_str()));
    assert_eq!(last.param("api_sig").map(str::len), Some(32));
    assert_eq!(fake.count_path("/api/auth/"), 1);

    // A token works once: replayed, it is refused, without being shown.
    let e = client.session_user(&token).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e}");
    assert!(e.to_string().contains("already used"), "{e}");
    assert!(!format!("{e} {e:?}").contains(&token), "{e:?}");

    // Anyone else approving gets their own name.
    fake.approve_as(Some("someone_new"));
    let token = approved_token(&client, &callback()).await;
    assert_eq!(client.session_user(&token).await.unwrap(), "someone_new");

    let logs = logged();
    assert!(!logs.contains(&token), "a token reached the logs");
    assert!(!logs.contains(SECRET), "the shared secret reached the logs");
}

#[tokio::test]
async fn refused_tokens_say_why_without_being_shown() {
    let (fake, client) = auth_fake().await;
    let mut errors: Vec<(Error, String)> = Vec::new();

    // Nobody approves: an error page, no token.
    let r = browser()
        .get(client.auth_url(&callback()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    fake.approve_as(Some("sunny_listener"));

    // A token Last.fm never gave (error 4).
    let unknown = "a1b2c3d4e5f60718293a4b5c6d7e8f90".to_string();
    let e = client.session_user(&unknown).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e}");
    assert!(e.to_string().contains("did not accept"), "{e}");
    errors.push((e, unknown));

    // A token nobody approved yet (auth.getToken, error 14), then approved
    // on the page (desktop authentication).
    let http = browser();
    let body: serde_json::Value = http
        .get(format!(
            "{}?method=auth.getToken&api_key={KEY}&format=json",
            fake.url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pending = body["token"].as_str().unwrap().to_string();
    let e = client.session_user(&pending).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e}");
    assert!(e.to_string().contains("has not approved"), "{e}");
    errors.push((e, pending.clone()));
    let r = http
        .get(format!("{}?api_key={KEY}&token={pending}", fake.auth_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        client.session_user(&pending).await.unwrap(),
        "sunny_listener"
    );

    // An expired token (error 15).
    let expired = approved_token(&client, &callback()).await;
    fake.expire_tokens();
    let e = client.session_user(&expired).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e}");
    assert!(e.to_string().contains("expired"), "{e}");
    errors.push((e, expired));

    // Not a token: refused before asking.
    let before = fake.count("auth.getSession");
    for bad in ["", "  ", "two words", "t\u{7}k", &"x".repeat(200)] {
        let e = client.session_user(bad).await.unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{bad:?}: {e}");
        errors.push((e, bad.trim().to_string()));
    }
    assert_eq!(fake.count("auth.getSession"), before);

    for (e, token) in &errors {
        let shown = format!("{e} {e:?}");
        assert!(
            token.len() < 3 || !shown.contains(token.as_str()),
            "{shown}"
        );
        assert!(!shown.contains(SECRET) && !shown.contains(KEY), "{shown}");
    }
    let logs = logged();
    for (_, token) in errors.iter().filter(|(_, t)| t.len() >= 8) {
        assert!(!logs.contains(token.as_str()), "a token reached the logs");
    }
    assert!(!logs.contains(SECRET), "the shared secret reached the logs");
}

#[tokio::test]
async fn a_wrong_shared_secret_is_refused_unseen_and_none_is_not_supported() {
    let (fake, client) = auth_fake().await;
    fake.approve_as(Some("sunny_listener"));
    let token = approved_token(&client, &callback()).await;

    // Signed with another secret: error 13, said without either secret.
    let wrong = Lastfm::new(config(&fake).with_shared_secret(WRONG_SECRET)).unwrap();
    assert!(!format!("{:?}", wrong.config()).contains(WRONG_SECRET));
    let e = wrong.session_user(&token).await.unwrap_err();
    assert_eq!(e.code(), "upstream_failed", "{e}");
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("refused the shared secret"), "{shown}");
    assert!(shown.contains("LASTFM_SHARED_SECRET"), "{shown}");
    for secret in [WRONG_SECRET, SECRET, KEY, token.as_str()] {
        assert!(!shown.contains(secret), "{shown}");
    }
    // The token was not spent by the refused call.
    assert_eq!(client.session_user(&token).await.unwrap(), "sunny_listener");

    // No shared secret: not supported, and nothing asked.
    let before = fake.count("auth.getSession");
    let e = Lastfm::new(config(&fake))
        .unwrap()
        .session_user(&token)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_supported", "{e}");
    assert!(e.to_string().contains("LASTFM_SHARED_SECRET"), "{e}");
    assert_eq!(fake.count("auth.getSession"), before);

    // A fake without a secret refuses every signature.
    let bare = fake_with_listener().await;
    bare.approve_as(Some("sunny_listener"));
    let signing = Lastfm::new(
        config(&bare)
            .with_shared_secret(SECRET)
            .with_auth_url(bare.auth_url()),
    )
    .unwrap();
    let t = approved_token(&signing, &callback()).await;
    let e = signing.session_user(&t).await.unwrap_err();
    assert!(e.to_string().contains("refused the shared secret"), "{e}");

    let logs = logged();
    for secret in [WRONG_SECRET, SECRET, token.as_str(), t.as_str()] {
        assert!(!logs.contains(secret), "a secret or token reached the logs");
    }
}
