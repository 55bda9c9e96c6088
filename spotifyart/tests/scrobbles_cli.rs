//! `listenbrainz:USER` and `lastfm:USER` as inputs of the binary, against
//! the fake ListenBrainz and Last.fm: a Spotify export matched with a
//! ListenBrainz user, a Last.fm user's mood, and the errors a user meets.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use spotifyart_core::{ListeningProfile, TimeRange, read_export};
use spotifyart_scrobbles::fake::lastfm::FakeLastfm;
use spotifyart_scrobbles::fake::listenbrainz::FakeListenBrainz;
use support::ok;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Plays of `profile`'s medium-term top tracks over the last two months:
/// the higher a track ranks, the more often it was played.
fn plays_of(profile: &ListeningProfile) -> Vec<(i64, String, String, String)> {
    let now = chrono::Utc::now().timestamp();
    let mut out = Vec::new();
    for (rank, t) in profile
        .top_tracks
        .get(TimeRange::MediumTerm)
        .iter()
        .enumerate()
    {
        for k in 0..(20usize.saturating_sub(rank)).max(1) {
            let ts = now - 3600 * (7 + (rank * 37 + k * 53) as i64 % 1400);
            let artist = t.artists.first().cloned().unwrap_or_default();
            out.push((
                ts,
                artist,
                t.name.clone(),
                t.album.clone().unwrap_or_default(),
            ));
        }
    }
    out
}

async fn run(args: Vec<String>, envs: Vec<(&'static str, String)>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_spotifyart"))
            .args(&args)
            .current_dir(dir.path())
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HOME", dir.path().join(".hf"))
            .env_remove("SPOTIFYART_DATABASE_URL")
            .env_remove("LISTENBRAINZ_TOKEN")
            .env_remove("LASTFM_API_KEY")
            .envs(envs)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_matches_a_listenbrainz_user_and_a_lastfm_user_has_a_mood() {
    let bob = read_export(examples().join("exports/bob")).unwrap();
    let lb = FakeListenBrainz::start().await.unwrap();
    lb.add_user("bob_lb", plays_of(&bob));
    let lfm = FakeLastfm::start(KEY).await.unwrap();
    let plays = plays_of(&bob);
    lfm.add_user(
        "bob_fm",
        plays
            .iter()
            .map(|(t, a, n, al)| (*t, a.as_str(), n.as_str(), al.as_str()))
            .collect(),
    );
    let lb_env = vec![("LISTENBRAINZ_API_URL", lb.url().to_string())];
    let fm_env = vec![
        ("LASTFM_API_URL", lfm.url().to_string()),
        ("LASTFM_API_KEY", KEY.to_string()),
    ];
    let alice = examples().join("exports/alice");
    let alice = alice.to_str().unwrap();

    // The profile reads like any other: top lists and recent plays.
    let out = ok(&run(s(&["profile", "listenbrainz:bob_lb"]), lb_env.clone()).await);
    let profile = ListeningProfile::from_json(&out).unwrap();
    assert_eq!(profile.source.kind, "listenbrainz");
    assert!(!profile.top_artists.get(TimeRange::MediumTerm).is_empty());
    assert!(!profile.recent.is_empty());

    // A Spotify export matched with a ListenBrainz user.
    let out = ok(&run(s(&["match", alice, "listenbrainz:bob_lb"]), lb_env.clone()).await);
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(m["score"].as_u64().is_some(), "{out}");
    assert!(m["explanation"].as_str().unwrap().len() > 10);

    // A Last.fm user's mood, with the key from the environment.
    let out = ok(&run(s(&["mood", "lastfm:bob_fm"]), fm_env.clone()).await);
    let mood: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(mood["confidence"].as_f64().unwrap() > 0.0, "{out}");

    // Errors: an unknown user is named; a missing or bad key is said, not shown.
    let out = run(s(&["mood", "listenbrainz:nobody_here"]), lb_env.clone()).await;
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("nobody_here"), "{said}");
    let out = run(
        s(&["mood", "lastfm:bob_fm"]),
        vec![("LASTFM_API_URL", lfm.url().to_string())],
    )
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LASTFM_API_KEY"));
    let wrong = "ffffffffffffffffffffffffffffffff";
    let out = run(
        s(&["mood", "lastfm:bob_fm"]),
        vec![
            ("LASTFM_API_URL", lfm.url().to_string()),
            ("LASTFM_API_KEY", wrong.to_string()),
        ],
    )
    .await;
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.to_lowercase().contains("key"), "{said}");
    assert!(!said.contains(wrong), "the key is not shown: {said}");
}
