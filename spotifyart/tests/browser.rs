//! The web page in a real browser: headless Chromium driven by Playwright
//! (`tests/browser/journey.mjs`) through the whole journey against the
//! `spotifyart serve` binary (SQLite, tiny model) and the fake Spotify:
//! sign in, see the mood, invite, accept on a phone-sized screen, paint,
//! see the gallery, then paint a playlist's cover (asking for the playlist
//! consent only then), set it and schedule it weekly, and invite a
//! ListenBrainz user by name who proves it with their token. Screenshots of each page are written to
//! `test-output/browser/` (or `$SPOTIFYART_TEST_OUTPUT/browser/`).
//!
//! Needs Node.js, `npm ci --prefix spotifyart/tests/browser` (done by
//! `scripts/test-assets`) and Chromium at /usr/bin/chromium (or
//! `$CHROMIUM`); without them the test says so and passes, unless
//! `SPOTIFYART_REQUIRE_BROWSER=1` (CI), where it fails.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::service::{fake_for, free_port, start_with};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Why the browser cannot run here, if it cannot.
fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no node on PATH".into());
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some("playwright-core is not installed (scripts/test-assets)".into());
    }
    None
}

fn phase(out: &Path, base: &str, args: &[&str]) -> String {
    let run = Command::new("node")
        .arg(browser_dir().join("journey.mjs"))
        .arg(out)
        .arg(base)
        .args(args)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(
        run.status.success(),
        "browser phase {args:?} failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    stdout
}

/// A ListenBrainz history: a handful of well-known tracks played over the
/// last weeks.
fn listens() -> Vec<(i64, String, String, String)> {
    let now = chrono::Utc::now().timestamp();
    let tracks = [
        ("Radiohead", "Exit Music (For a Film)", "OK Computer"),
        ("Portishead", "Roads", "Dummy"),
        ("Massive Attack", "Teardrop", "Mezzanine"),
        ("Bon Iver", "Holocene", "Bon Iver"),
        ("Sufjan Stevens", "Fourth of July", "Carrie & Lowell"),
    ];
    (0..60)
        .map(|i| {
            let (artist, track, album) = tracks[i % tracks.len()];
            (
                now - 3600 * (3 + 11 * i as i64),
                artist.into(),
                track.into(),
                album.into(),
            )
        })
        .collect()
}

/// Sign-ins that asked Spotify for the cover scope.
fn consent_asks(fake: &spotifyart_spotify::fake::FakeSpotify) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path.ends_with("/authorize") && r.query.contains("ugc-image-upload"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_page_journey_in_chromium() {
    if let Some(why) = missing() {
        if std::env::var("SPOTIFYART_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("the browser test cannot run: {why}");
        }
        eprintln!("skipping the browser test: {why}");
        return;
    }
    let out = std::env::var_os("SPOTIFYART_TEST_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-output"))
        .join("browser");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let fake = fake_for(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("browser.db").display());
    // A ListenBrainz user Sunny invites by name, with a token to prove it.
    let listenbrainz = spotifyart_scrobbles::fake::listenbrainz::FakeListenBrainz::start()
        .await
        .unwrap();
    listenbrainz.add_user("rob", listens());
    let lb_url = listenbrainz.url().to_string();
    let _server = start_with(
        &base,
        port,
        &fake,
        &db,
        1,
        &[("LISTENBRAINZ_API_URL", lb_url.as_str())],
    )
    .await;

    let (base2, out2) = (base.clone(), out.clone());
    let blocking = |f: Box<dyn FnOnce() -> String + Send>| tokio::task::spawn_blocking(f);
    fake.approve_as("sunny.listener");
    let invite = blocking(Box::new(move || phase(&out2, &base2, &["signin-a"])))
        .await
        .unwrap();
    let invite = invite.trim().to_string();
    assert!(invite.starts_with(&format!("{base}/match/")), "{invite}");

    fake.approve_as("midnight.listener");
    let (base2, out2) = (base.clone(), out.clone());
    blocking(Box::new(move || {
        phase(&out2, &base2, &["accept-b", &invite])
    }))
    .await
    .unwrap();
    let (base2, out2) = (base.clone(), out.clone());
    blocking(Box::new(move || phase(&out2, &base2, &["paint-a"])))
        .await
        .unwrap();

    // Playlist covers: consent asked only now, the cover set once.
    let uris = fake.track_uris("sunny.listener", spotifyart_core::TimeRange::MediumTerm);
    let mix = fake.add_playlist("sunny.listener", "Sunny mix", &uris);
    fake.add_playlist("midnight.listener", "Not mine", &uris);
    let asked_before = consent_asks(&fake);
    assert_eq!(asked_before, 0, "playlist consent asked at sign-in");
    fake.approve_as("sunny.listener");
    let (base2, out2) = (base.clone(), out.clone());
    blocking(Box::new(move || {
        phase(&out2, &base2, &["covers-a", "Sunny mix"])
    }))
    .await
    .unwrap();
    assert_eq!(
        consent_asks(&fake),
        1,
        "asked once, when covers were chosen"
    );
    let cover = fake.playlist_cover(&mix).expect("the cover was set");
    assert_eq!(&cover[..2], &[0xFF, 0xD8], "a JPEG");

    // Matching with a ListenBrainz user: invited by name on Sunny's page,
    // proved with their token on the invite page.
    let token = listenbrainz.issue_token("rob");
    let (base2, out2) = (base.clone(), out.clone());
    blocking(Box::new(move || {
        phase(&out2, &base2, &["listenbrainz", "rob", &token])
    }))
    .await
    .unwrap();
    assert_eq!(
        listenbrainz.count("/1/validate-token"),
        1,
        "the token was checked once"
    );

    for shot in [
        "01-sign-in",
        "02-discover-with-invite",
        "03-invited-phone",
        "04-match-phone",
        "05-painting",
        "06-painted",
        "07-discover-phone",
        "08-covers-consent",
        "09-cover-painted",
        "10-covers-weekly",
        "11-listenbrainz-invite",
        "12-listenbrainz-prove",
        "13-listenbrainz-match",
    ] {
        let path = out.join(format!("{shot}.png"));
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "{} missing or empty", path.display());
    }
    eprintln!("screenshots in {}", out.display());
}
