//! The Web API client, the profile it builds and the archive job, against
//! the fake Spotify in both Development Mode and Extended Quota.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use spotifyart_core::profile::Signal;
use spotifyart_core::source::CachedSource;
use spotifyart_core::testing::source::{check_profile, profile_is_well_formed};
use spotifyart_core::{MusicSource, TimeRange, UserId};
use spotifyart_spotify::archive::{ArchiveTarget, archive_for_all, archive_playlist};
use spotifyart_spotify::fake::{Fault, FaultKind, Mode};
use spotifyart_spotify::{ARCHIVE_SCOPES, COVER_SCOPES, SpotifySource, UserApi};
use support::*;

async fn api_for(mode: Mode) -> (spotifyart_spotify::fake::FakeSpotify, UserApi) {
    let fake = fake(mode, None).await;
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let api = SpotifySource::new(auth(&fake, None), store).api(user);
    (fake, api)
}

#[tokio::test]
async fn development_mode_profile_is_built_without_extended_data() {
    let fake = fake(Mode::Development, None).await;
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let source = SpotifySource::new(auth(&fake, None), store);
    let p = profile_is_well_formed(&source, user).await;
    assert_eq!(p.source.kind, "spotify_api");
    assert!(!p.top_tracks.medium_term.is_empty());
    assert!(!p.recent.is_empty());
    for s in [
        Signal::Names,
        Signal::ReleaseDates,
        Signal::Covers,
        Signal::PlayTimes,
    ] {
        assert!(p.has(s), "{s:?} in {:?}", p.signals);
    }
    for s in [Signal::AudioFeatures, Signal::Genres, Signal::Popularity] {
        assert!(!p.has(s), "{s:?} must be absent in Development Mode");
    }
    let notes = p.source.notes.join("\n");
    assert!(
        notes.contains("audio features unavailable (forbidden)"),
        "{notes}"
    );
    assert!(
        notes.contains("genres and popularity unavailable"),
        "{notes}"
    );
    assert!(
        fake.count("/v1/audio-features") >= 1,
        "it asked, and took the 403"
    );
    let b = p.behaviour.as_ref().unwrap();
    assert_eq!(b.plays as usize, p.recent.len());
    assert_eq!(
        b.skip_rate, None,
        "the Web API does not say what was skipped"
    );
}

#[tokio::test]
async fn extended_quota_profile_carries_genres_popularity_and_features() {
    let fake = fake(Mode::Extended, None).await;
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let source = SpotifySource::new(auth(&fake, None), store);
    let p = source.profile(user).await.unwrap();
    check_profile(&p);
    for s in [
        Signal::AudioFeatures,
        Signal::Genres,
        Signal::Popularity,
        Signal::Names,
    ] {
        assert!(p.has(s), "{s:?} in {:?}", p.signals);
    }
    let t = &p.top_tracks.medium_term[0];
    assert!(t.audio_features.is_some());
    assert!(!t.genres.is_empty(), "track genres joined from its artists");
    assert!(p.source.notes.is_empty(), "{:?}", p.source.notes);
    let b = p.behaviour.as_ref().unwrap();
    assert_eq!(b.utc_offset_minutes, Some(60), "country SE from /v1/me");
    // The mood model sees what the features say (sunny is upbeat).
    let mood = spotifyart_core::mood::model_by_name("auto")
        .unwrap()
        .mood(&p)
        .unwrap();
    assert!(mood.valence > 0.2, "{mood:?}");
}

#[tokio::test]
async fn unknown_users_are_not_found() {
    let fake = fake(Mode::Development, None).await;
    let (store, _) = signed_in(&fake, "sunny.listener", &listening()).await;
    let source = SpotifySource::new(auth(&fake, None), store);
    spotifyart_core::testing::source::unknown_user_is_not_found(&source).await;
}

#[tokio::test]
async fn top_lists_follow_pages() {
    let (fake, api) = api_for(Mode::Development).await;
    fake.pad_top_lists("sunny.listener", 120);
    let base = fake.count("/v1/me/top/tracks");
    let all = api.top_tracks(TimeRange::LongTerm, 500).await.unwrap();
    let expected = fake.track_uris("sunny.listener", TimeRange::LongTerm).len();
    assert!(expected > 100);
    assert_eq!(all.len(), expected);
    assert_eq!(
        fake.count("/v1/me/top/tracks") - base,
        expected.div_ceil(50)
    );
    let first = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/me/top/tracks")
        .unwrap();
    assert!(first.query.contains("limit=50"), "{}", first.query);
    // Ranks keep Spotify's order across pages.
    let uris: Vec<String> = all.iter().map(|t| t.uri.clone().unwrap()).collect();
    assert_eq!(uris, fake.track_uris("sunny.listener", TimeRange::LongTerm));
    let some = api.top_artists(TimeRange::ShortTerm, 60).await.unwrap();
    assert_eq!(some.len(), 60);
}

#[tokio::test]
async fn recently_played_follows_cursors() {
    let (fake, api) = api_for(Mode::Development).await;
    let plays = api.recently_played(200).await.unwrap();
    assert!(plays.len() > 50, "{}", plays.len());
    assert!(
        plays.windows(2).all(|w| w[0].played_at > w[1].played_at),
        "newest first, no repeats"
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path == "/v1/me/player/recently-played" && r.query.contains("before="))
    );
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after_then_gives_up_past_the_budget() {
    let (fake, api) = api_for(Mode::Development).await;
    fake.fail_next("/v1/me", 429, Some(1), 1);
    let started = Instant::now();
    api.me().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );

    fake.fail_next("/v1/me", 429, Some(120), 1);
    let started = Instant::now();
    let e = api.me().await.unwrap_err();
    assert_eq!(e.code(), "upstream_busy");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "did not sleep past the budget"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let (fake, api) = api_for(Mode::Development).await;
    fake.fail_next("/v1/me", 502, None, 2);
    api.me().await.unwrap();
    assert_eq!(fake.count("/v1/me"), 3);

    fake.fail_next("/v1/me", 503, None, 10);
    let e = api.me().await.unwrap_err();
    assert_eq!(e.code(), "upstream_failed");
    assert!(e.to_string().contains("503"), "{e}");
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried() {
    let (fake, api) = api_for(Mode::Development).await;
    let slow = |d| Fault {
        path: "/v1/me".into(),
        method: None,
        kind: FaultKind::Delay(d),
    };
    fake.inject(slow(Duration::from_secs(3)));
    let started = Instant::now();
    api.me().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "timed out and retried, not waited"
    );

    for _ in 0..5 {
        fake.inject(slow(Duration::from_secs(3)));
    }
    let e = api.me().await.unwrap_err();
    assert_eq!(e.code(), "upstream_failed");
    assert!(e.to_string().contains("no answer within 0.8s"), "{e}");
}

#[tokio::test]
async fn malformed_json_is_a_clear_error() {
    let (fake, api) = api_for(Mode::Development).await;
    fake.inject(Fault {
        path: "/v1/me/top/tracks".into(),
        method: None,
        kind: FaultKind::Malformed,
    });
    let e = api.top_tracks(TimeRange::ShortTerm, 10).await.unwrap_err();
    assert_eq!(e.code(), "upstream_failed");
    let msg = e.to_string();
    assert!(
        msg.contains("top tracks (short_term)") && msg.contains("malformed JSON"),
        "{msg}"
    );
    assert!(msg.contains("line 1 column"), "{msg}");
}

#[tokio::test]
async fn missing_scope_is_forbidden_not_fatal_elsewhere() {
    let fake = fake(Mode::Development, None).await;
    let (store, user) = signed_in(&fake, "sunny.listener", &["user-read-recently-played"]).await;
    let api = SpotifySource::new(auth(&fake, None), store).api(user);
    let e = api.top_tracks(TimeRange::ShortTerm, 10).await.unwrap_err();
    assert_eq!(e.code(), "forbidden");
    assert!(e.to_string().contains("Insufficient client scope"), "{e}");
    api.recently_played(10).await.unwrap();
}

#[tokio::test]
async fn cached_source_does_not_refetch_within_its_window() {
    let fake = fake(Mode::Development, None).await;
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let cached = CachedSource::new(
        SpotifySource::new(auth(&fake, None), store),
        Duration::from_secs(300),
    );
    let a = cached.profile(user).await.unwrap();
    let calls = fake.requests().len();
    let b = cached.profile(user).await.unwrap();
    assert_eq!(fake.requests().len(), calls, "served from the cache");
    assert_eq!(a, b);
    cached.invalidate(user);
    cached.profile(user).await.unwrap();
    assert!(fake.requests().len() > calls);
}

#[tokio::test]
async fn archive_copies_new_tracks_once_and_resumes_after_failure() {
    let fake = fake(Mode::Development, None).await;
    let scopes: Vec<&str> = listening()
        .into_iter()
        .chain(ARCHIVE_SCOPES.iter().copied())
        .collect();
    let (store, user) = signed_in(&fake, "sunny.listener", &scopes).await;
    fake.pad_top_lists("sunny.listener", 150);
    let mut uris = fake.track_uris("sunny.listener", TimeRange::LongTerm);
    uris.push(uris[0].clone()); // a duplicate in the source
    let weekly = fake.add_playlist("sunny.listener", "Weekly finds", &uris);
    let api = SpotifySource::new(auth(&fake, None), store.clone()).api(user);
    let target = ArchiveTarget::parse("Finds archive");

    // Adds are POSTs, which are not retried: a failed one fails the run.
    let post = |n| {
        for _ in 0..n {
            fake.inject(Fault {
                path: "/v1/playlists/".into(),
                method: Some(http::Method::POST),
                kind: FaultKind::Status {
                    status: 500,
                    retry_after: None,
                },
            });
        }
    };
    let first = archive_playlist(&api, &weekly, &target).await;
    assert!(first.is_ok(), "no fault yet: {first:?}");
    let archive = fake
        .playlist_named("sunny.listener", "Finds archive")
        .unwrap();
    let report = first.unwrap();
    assert!(report.created);
    assert_eq!(report.added, uris.len() - 1);
    assert_eq!(fake.playlist_uris(&archive).unwrap().len(), uris.len() - 1);

    // New tracks arrive in the source; the next run adds only them, even
    // after a failed attempt.
    let more: Vec<String> = (0..120)
        .map(|i| {
            format!(
                "spotify:track:{}",
                spotifyart_spotify::fake::fake_id(&format!("new {i}"))
            )
        })
        .collect();
    let mut grown = uris.clone();
    grown.extend(more.iter().cloned());
    let weekly2 = fake.add_playlist("sunny.listener", "Weekly finds 2", &grown);
    post(1);
    let e = archive_playlist(&api, &weekly2, &target).await.unwrap_err();
    assert_eq!(e.code(), "upstream_failed");
    let report = archive_playlist(&api, &weekly2, &target).await.unwrap();
    assert!(!report.created, "found by name");
    assert_eq!(report.added, 120);
    let archived = fake.playlist_uris(&archive).unwrap();
    assert_eq!(archived.len(), uris.len() - 1 + 120);
    let unique: std::collections::HashSet<&String> = archived.iter().collect();
    assert_eq!(unique.len(), archived.len(), "never added twice");

    let again = archive_playlist(&api, &weekly2, &target).await.unwrap();
    assert_eq!(again.added, 0);
    assert_eq!(again.already_archived, grown.len());
}

#[tokio::test]
async fn archive_runs_for_every_stored_user() {
    let fake = fake(Mode::Development, None).await;
    let scopes: Vec<&str> = listening()
        .into_iter()
        .chain(ARCHIVE_SCOPES.iter().copied())
        .collect();
    let (store, sunny) = signed_in(&fake, "sunny.listener", &scopes).await;
    let midnight = add_user(&store, &fake, "midnight.listener", &scopes).await;
    let uris = fake.track_uris("sunny.listener", TimeRange::MediumTerm);
    let shared = fake.add_playlist("sunny.listener", "Shared mix", &uris);
    fake.revoke("midnight.listener");
    let results = archive_for_all(
        &auth(&fake, None),
        store.clone(),
        &shared,
        &ArchiveTarget::Named("Mix archive".into()),
    )
    .await
    .unwrap();
    let by_user: std::collections::HashMap<UserId, _> = results.into_iter().collect();
    assert_eq!(by_user[&sunny].as_ref().unwrap().added, uris.len());
    assert_eq!(
        by_user[&midnight].as_ref().unwrap_err().code(),
        "revoked",
        "one failure does not stop the others"
    );
    assert!(
        fake.playlist_named("sunny.listener", "Mix archive")
            .is_some()
    );
    let _ = Arc::clone(&store);
}

#[tokio::test]
async fn single_artist_in_both_modes() {
    let (fake, api) = api_for(Mode::Development).await;
    let id = spotifyart_spotify::fake::fake_id("ABBA");
    let abba = api.artist(&format!("spotify:artist:{id}")).await.unwrap();
    assert_eq!(abba.name, "ABBA");
    assert_eq!((abba.genres.as_ref(), abba.popularity), (None, None));
    fake.set_mode(Mode::Extended);
    let abba = api.artist(&id).await.unwrap();
    assert!(!abba.genres.unwrap().is_empty());
    assert!(abba.popularity.is_some());
    assert_eq!(
        api.artist("0000000000000000000000")
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        api.artist("../me").await.unwrap_err().code(),
        "invalid_input"
    );
}

/// A small painting as a cover JPEG within Spotify's limit.
fn cover() -> Vec<u8> {
    let img = image_png(96, 64);
    spotifyart_core::cover_jpeg(&img, spotifyart_spotify::COVER_MAX_BASE64)
        .unwrap()
        .bytes
}

/// A `w × h` PNG with a gradient.
fn image_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    let mut writer = enc.write_header().unwrap();
    let px: Vec<u8> = (0..w * h)
        .flat_map(|i| [(i % w * 2) as u8, (i / w * 3) as u8, 90])
        .collect();
    writer.write_image_data(&px).unwrap();
    writer.finish().unwrap();
    out
}

#[tokio::test]
async fn playlist_covers_need_the_scopes_the_owner_and_a_jpeg_that_fits() {
    let fake = fake(Mode::Development, None).await;
    let scopes: Vec<&str> = listening()
        .into_iter()
        .chain(COVER_SCOPES.iter().copied())
        .collect();
    let (store, user) = signed_in(&fake, "sunny.listener", &scopes).await;
    let uris = fake.track_uris("sunny.listener", TimeRange::LongTerm);
    let mine = fake.add_playlist("sunny.listener", "Mine", &uris);
    let theirs = fake.add_playlist("someone.else", "Theirs", &uris);
    let api = SpotifySource::new(auth(&fake, None), store).api(user);
    let jpeg = cover();

    api.set_playlist_cover(&format!("spotify:playlist:{mine}"), &jpeg)
        .await
        .unwrap();
    assert_eq!(fake.playlist_cover(&mine).unwrap(), jpeg);

    let e = api.set_playlist_cover(&theirs, &jpeg).await.unwrap_err();
    assert!(e.to_string().contains("don't own"), "{e}");
    assert!(fake.playlist_cover(&theirs).is_none());
    // Refused before anything is sent: not a JPEG, or too large.
    let before = fake.count("/v1/playlists/");
    let e = api
        .set_playlist_cover(&mine, &image_png(8, 8))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("must be a JPEG"), "{e}");
    let mut huge = jpeg.clone();
    huge.resize(200_000, 0);
    let e = api.set_playlist_cover(&mine, &huge).await.unwrap_err();
    assert!(
        e.to_string().contains("Spotify accepts at most 262144"),
        "{e}"
    );
    assert_eq!(fake.count("/v1/playlists/"), before);

    // Without the image scope Spotify says no.
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let api = SpotifySource::new(auth(&fake, None), store).api(user);
    let e = api.set_playlist_cover(&mine, &jpeg).await.unwrap_err();
    assert!(e.to_string().contains("Insufficient client scope"), "{e}");

    // The fake refuses what the client never sends, as Spotify does.
    let token = fake.issue_tokens("sunny.listener", COVER_SCOPES);
    let url = fake
        .url()
        .join(&format!("v1/playlists/{mine}/images"))
        .unwrap();
    let put = |content_type: &'static str, body: Vec<u8>| {
        let (url, token) = (url.clone(), token.access_token.clone());
        async move {
            use secrecy::ExposeSecret;
            reqwest::Client::new()
                .put(url)
                .bearer_auth(token.expose_secret())
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    use base64::Engine as _;
    let b64 = |b: &[u8]| {
        base64::engine::general_purpose::STANDARD
            .encode(b)
            .into_bytes()
    };
    assert_eq!(put("image/png", b64(&jpeg)).await, 400);
    assert_eq!(put("image/jpeg", vec![b'A'; 262_148]).await, 413);
    assert_eq!(put("image/jpeg", b"not base64!".to_vec()).await, 400);
    assert_eq!(put("image/jpeg", b64(&jpeg[..jpeg.len() / 2])).await, 400);
    assert_eq!(put("image/jpeg", b64(&jpeg)).await, 202);
}

#[tokio::test]
async fn a_playlist_profile_weighs_its_tracks_and_artists_equally() {
    for mode in [Mode::Development, Mode::Extended] {
        let fake = fake(mode, None).await;
        let scopes: Vec<&str> = listening()
            .into_iter()
            .chain(COVER_SCOPES.iter().copied())
            .collect();
        let (store, user) = signed_in(&fake, "sunny.listener", &scopes).await;
        fake.pad_top_lists("sunny.listener", 30);
        let mut uris = fake.track_uris("sunny.listener", TimeRange::LongTerm);
        uris.push(uris[0].clone()); // listed twice, counted once
        uris.push("spotify:episode:4rOoJ6Egrf8K2IrywzwOMk".into());
        let list = fake.add_playlist("sunny.listener", "Mix", &uris);
        let empty = fake.add_playlist("sunny.listener", "Empty", &[]);
        let api = SpotifySource::new(auth(&fake, None), store).api(user);
        let options = spotifyart_spotify::SourceOptions {
            extended: mode == Mode::Extended,
            ..Default::default()
        };
        let p = spotifyart_spotify::fetch_playlist_profile(&api, &list, &options)
            .await
            .unwrap();
        check_profile(&p);
        assert_eq!(p.source.kind, spotifyart_spotify::PLAYLIST_SOURCE_KIND);
        for range in TimeRange::ALL {
            let tracks = p.top_tracks.get(range);
            assert_eq!(tracks.len(), uris.len() - 2, "{mode:?}");
            let same = |w: &[f32]| w.iter().all(|x| (x - w[0]).abs() < 1e-6 && *x > 0.0);
            assert!(same(&tracks.iter().map(|t| t.weight).collect::<Vec<_>>()));
            let artists = p.top_artists.get(range);
            assert!(!artists.is_empty());
            assert!(same(&artists.iter().map(|a| a.weight).collect::<Vec<_>>()));
            let mut names: Vec<&str> = artists.iter().map(|a| a.name.as_str()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), artists.len(), "each artist once");
        }
        assert_eq!(p.has(Signal::Genres), mode == Mode::Extended);
        let e = spotifyart_spotify::fetch_playlist_profile(&api, &empty, &options)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no Spotify tracks"), "{e}");
    }
}

#[tokio::test]
async fn outages_meet_every_request_until_they_end() {
    let (fake, api) = api_for(Mode::Development).await;
    let unavailable = FaultKind::Status {
        status: 503,
        retry_after: None,
    };
    fake.outage("/v1/me", unavailable.clone(), Duration::from_secs(3600));
    // A queued one-shot fault comes first (a zero delay answers normally).
    fake.inject(Fault {
        path: "/v1/me".into(),
        method: None,
        kind: FaultKind::Delay(Duration::ZERO),
    });
    api.me().await.unwrap();
    let before = fake.count("/v1/me");
    for _ in 0..2 {
        let e = api.me().await.unwrap_err();
        assert!(e.to_string().contains("503"), "{e}");
    }
    assert_eq!(fake.count("/v1/me") - before, 8, "every attempt met it");
    fake.end_outages();
    api.me().await.unwrap();

    // One that ends by itself.
    fake.outage("/v1/me", unavailable, Duration::from_millis(300));
    assert!(api.me().await.is_err());
    tokio::time::sleep(Duration::from_millis(350)).await;
    api.me().await.unwrap();
}

#[tokio::test]
async fn a_long_rate_limit_is_remembered_not_met_again() {
    let fake = fake(Mode::Development, None).await;
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let auth = auth(&fake, None);
    let source = SpotifySource::new(auth.clone(), store.clone());
    let hour = FaultKind::Status {
        status: 429,
        retry_after: Some(3600),
    };
    fake.outage("/v1/", hour, Duration::from_secs(3600));
    let started = Instant::now();
    let e = source.profile(user).await.unwrap_err();
    assert_eq!(e.code(), "upstream_busy");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
    let calls = fake.count("/v1/");
    assert_eq!(calls, 1, "the profile stops at its first call");
    // Later calls, by any handle sharing the client, fail at once without
    // calling, saying how long is left.
    let other = SpotifySource::new(auth.clone(), store).api(user);
    for _ in 0..5 {
        let e = other.me().await.unwrap_err();
        assert_eq!(e.code(), "upstream_busy");
        let left = e.retry_after().unwrap();
        assert!(left > Duration::from_secs(3590) && left <= Duration::from_secs(3600));
        let e = other
            .top_tracks(TimeRange::ShortTerm, 10)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "upstream_busy");
    }
    assert_eq!(fake.count("/v1/"), calls, "Spotify was not called again");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "and nobody slept"
    );
}

#[tokio::test]
async fn a_spotify_that_stops_answering_costs_a_call_its_time_not_every_retry() {
    let fake = fake(Mode::Development, None).await;
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let mut config = config(&fake, None);
    config.max_call_time = Duration::from_millis(1200);
    let api =
        SpotifySource::new(spotifyart_spotify::SpotifyAuth::new(config).unwrap(), store).api(user);
    fake.outage(
        "/v1/me",
        FaultKind::Delay(Duration::from_secs(5)),
        Duration::from_secs(3600),
    );
    let started = Instant::now();
    let e = api.me().await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.code(), "upstream_failed");
    assert!(e.to_string().contains("no answer within"), "{e}");
    // 0.8 s, then one retry cut to the 0.4 s left; not 4 x 0.8 s.
    assert!(took < Duration::from_millis(1600), "{took:?}");
    assert_eq!(fake.count("/v1/me"), 2);
}
