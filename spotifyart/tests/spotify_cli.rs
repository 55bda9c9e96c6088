//! `spotifyart login`, `spotify:me` inputs and `spotifyart archive`, run as
//! a user would, against the fake Spotify.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use spotifyart_core::{ListeningProfile, TimeRange};
use spotifyart_spotify::fake::{FakeApp, FakeSpotify, Mode};
use support::ok;

const CLIENT_ID: &str = "cli-client";

struct Env {
    fake: FakeSpotify,
    dir: tempfile::TempDir,
    redirect: String,
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

async fn env() -> Env {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let fake = FakeSpotify::start(
        Mode::Development,
        FakeApp {
            client_id: CLIENT_ID.into(),
            client_secret: None,
            redirect_uris: vec![redirect.clone()],
        },
    )
    .await
    .unwrap();
    let profile = |name: &str| {
        let text =
            std::fs::read_to_string(examples().join(format!("profiles/{name}.json"))).unwrap();
        ListeningProfile::from_json(&text).unwrap()
    };
    fake.add_user("sunny.listener", "Sunny", &profile("sunny"));
    Env {
        fake,
        dir: tempfile::tempdir().unwrap(),
        redirect,
    }
}

impl Env {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_spotifyart"));
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("SPOTIFYART_DATABASE_URL")
            .env_remove("SPOTIFYART_MODEL")
            .env("HF_HUB_OFFLINE", "1")
            .env_remove("SPOTIFYART_ENCRYPTION_KEY")
            .env_remove("SPOTIFY_CLIENT_SECRET")
            .env("SPOTIFY_CLIENT_ID", CLIENT_ID)
            .env("SPOTIFY_REDIRECT_URI", &self.redirect)
            .env("SPOTIFY_ACCOUNTS_URL", self.fake.url().as_str())
            .env("SPOTIFY_API_URL", self.fake.url().as_str());
        c
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command(args);
        tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap()
    }

    /// `spotifyart login`, with the browser played by reqwest.
    async fn login(&self, extra: &[&str]) -> String {
        let mut args = vec!["login"];
        args.extend_from_slice(extra);
        let mut child = self
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let _ = tx.send(line.unwrap());
            }
        });
        let mut url = None;
        let mut seen = String::new();
        while let Some(line) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap()
        {
            seen.push_str(&line);
            seen.push('\n');
            if line.trim_start().starts_with("http") {
                url = Some(line.trim().to_string());
            }
            if line.starts_with("Waiting for the browser") {
                break;
            }
        }
        let url = url.unwrap_or_else(|| panic!("no consent URL in:\n{seen}"));
        spotifyart_spotify::install_crypto_provider();
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let consent = browser.get(&url).send().await.unwrap();
        assert_eq!(consent.status(), 302);
        let back = consent.headers()["location"].to_str().unwrap().to_string();
        assert!(back.starts_with(&self.redirect), "{back}");
        let landing = browser.get(&back).send().await.unwrap();
        assert_eq!(landing.status(), 200);
        assert!(landing.text().await.unwrap().contains("Signed in"));
        while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            seen.push_str(&line);
            seen.push('\n');
        }
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "login failed:\n{seen}");
        seen
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn login_then_spotify_me_is_an_input() {
    let env = env().await;
    let out = env.run(&["mood", "spotify:me"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `spotifyart login` first"));

    let seen = env.login(&[]).await;
    assert!(seen.contains("signed in as Sunny"), "{seen}");
    assert!(seen.contains("code_challenge_method=S256"), "{seen}");

    let profile: serde_json::Value =
        serde_json::from_str(&ok(&env.run(&["profile", "spotify:me"]).await)).unwrap();
    assert_eq!(profile["source"]["kind"], "spotify_api");
    assert!(
        profile["top_tracks"]["medium_term"]
            .as_array()
            .unwrap()
            .len()
            > 3
    );
    let mood: serde_json::Value =
        serde_json::from_str(&ok(&env.run(&["mood", "spotify:me"]).await)).unwrap();
    assert!(mood["label"].is_string(), "{mood}");

    // The Web API user and an export, painted together and stored.
    let bob = examples().join("exports/bob");
    let out = ok(&env
        .run(&[
            "art",
            "spotify:me",
            bob.to_str().unwrap(),
            "--out",
            "us.png",
            "--model",
            "tiny",
        ])
        .await);
    assert!(out.contains("painted artwork"), "{out}");
    assert!(env.dir.path().join("us.png").exists());

    // The tokens in the database are encrypted: no token text in the file.
    let db = std::fs::read(env.dir.path().join("spotifyart.db")).unwrap();
    assert!(
        !holds_token(&db, b"BQ-"),
        "an access token is stored in clear"
    );
    assert!(
        !holds_token(&db, b"AQ-"),
        "a refresh token is stored in clear"
    );
}

/// Whether `bytes` hold a fake token: PREFIX, digits, `-`, 32 base64url.
fn holds_token(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.windows(prefix.len()).enumerate().any(|(i, w)| {
        if w != prefix {
            return false;
        }
        let rest = &bytes[i + prefix.len()..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        digits > 0
            && rest.get(digits) == Some(&b'-')
            && rest[digits + 1..].len() >= 32
            && rest[digits + 1..digits + 33]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn archive_copies_each_users_playlist_once() {
    let env = env().await;
    env.login(&["--archive"]).await;
    let uris = env.fake.track_uris("sunny.listener", TimeRange::MediumTerm);
    let weekly = env
        .fake
        .add_playlist("sunny.listener", "Weekly finds", &uris);
    let from = format!("spotify:playlist:{weekly}");
    let out = ok(&env
        .run(&["archive", "--from", &from, "--to", "Finds archive"])
        .await);
    assert!(
        out.contains(&format!("added {} track(s)", uris.len())) && out.contains("(created)"),
        "{out}"
    );
    let out = ok(&env
        .run(&["archive", "--from", &from, "--to", "Finds archive"])
        .await);
    assert!(out.contains("added 0 track(s)"), "{out}");
    let archive = env
        .fake
        .playlist_named("sunny.listener", "Finds archive")
        .unwrap();
    assert_eq!(env.fake.playlist_uris(&archive).unwrap(), uris);

    let out = env
        .run(&["archive", "--from", "../../etc", "--to", "x"])
        .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("is not a Spotify playlist id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn cover_paints_a_playlist_and_uploads_only_with_consent() {
    let env = env().await;
    let seen = env.login(&[]).await;
    assert!(
        !seen.contains("ugc-image-upload"),
        "asked too early:\n{seen}"
    );
    let uris = env.fake.track_uris("sunny.listener", TimeRange::MediumTerm);
    let mix = env.fake.add_playlist("sunny.listener", "Mix", &uris);
    let cover = ["--model", "palette", "--out", "mix.jpg"];

    // A folder that does not exist is refused before anything is read.
    let failed = env
        .run(&["cover", &mix, "--model", "palette", "--out", "none/x.jpg"])
        .await;
    assert!(!failed.status.success());
    assert_eq!(env.fake.count("/v1/playlists/"), 0);

    let out = ok(&env.run(&[&["cover", &mix][..], &cover].concat()).await);
    assert!(out.contains("playlist mood:"), "{out}");
    assert!(out.contains("wrote mix.jpg (512x512 JPEG"), "{out}");
    let jpeg = std::fs::read(env.dir.path().join("mix.jpg")).unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    assert!(jpeg.len().div_ceil(3) * 4 <= 256 * 1024);
    // The same playlist is the same picture: reused, not painted again.
    let out = ok(&env.run(&[&["cover", &mix][..], &cover].concat()).await);
    assert!(out.contains("reused the stored artwork"), "{out}");

    // Uploading needs the cover scopes, asked for by `login --covers`.
    let failed = env
        .run(&[&["cover", &mix, "--upload"][..], &cover].concat())
        .await;
    assert!(!failed.status.success());
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(said.contains("spotifyart login --covers"), "{said}");
    assert!(env.fake.playlist_cover(&mix).is_none());

    let seen = env.login(&["--covers"]).await;
    assert!(seen.contains("ugc-image-upload"), "{seen}");
    let link = format!("https://open.spotify.com/playlist/{mix}?si=x");
    let out = ok(&env
        .run(&[&["cover", &link, "--upload"][..], &cover].concat())
        .await);
    assert!(out.contains("set as the cover of"), "{out}");
    let uploaded = env.fake.playlist_cover(&mix).unwrap();
    assert_eq!(
        uploaded,
        std::fs::read(env.dir.path().join("mix.jpg")).unwrap()
    );

    // Someone else's playlist: read, painted, but not theirs to change.
    let theirs = env.fake.add_playlist("someone.else", "Theirs", &uris);
    let failed = env
        .run(&[&["cover", &theirs, "--upload"][..], &cover].concat())
        .await;
    assert!(!failed.status.success());
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(said.contains("don't own"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn weekly_schedules_run_once_across_two_workers() {
    let env = env().await;
    env.login(&[]).await;
    let uris = env.fake.track_uris("sunny.listener", TimeRange::MediumTerm);
    let mix = env.fake.add_playlist("sunny.listener", "Mix", &uris);

    // Without the playlist consent nothing is stored.
    let refused = env.run(&["schedule", "cover", &mix]).await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("spotifyart login --covers"), "{said}");
    assert!(ok(&env.run(&["schedule", "list"]).await).contains("no schedules"));

    env.login(&["--covers"]).await;
    let added = ok(&env.run(&["schedule", "cover", &mix]).await);
    assert!(added.contains(&format!("cover of {mix}")), "{added}");
    ok(&env
        .run(&[
            "schedule",
            "archive",
            "--from",
            &mix,
            "--to",
            "Weekly archive",
        ])
        .await);
    let again = env.run(&["schedule", "cover", &mix]).await;
    assert!(!again.status.success(), "the same task twice");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Two worker processes on the one database: each task runs once.
    let workers: Vec<_> = (0..2)
        .map(|_| {
            env.command(&["worker", "--model", "palette"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let listed = loop {
        let listed = ok(&env.run(&["schedule", "list"]).await);
        if listed.matches("last run:").count() == 2 {
            break listed;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "schedules did not run:\n{listed}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Both workers poll every 2 s: give them a few more rounds.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for mut w in workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    assert!(listed.contains("cover set"), "{listed}");
    assert!(listed.contains("(created)"), "{listed}");
    let puts = env
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with(&format!("{mix}/images")))
        .count();
    assert_eq!(puts, 1, "the cover was set once");
    let cover = env.fake.playlist_cover(&mix).unwrap();
    assert_eq!(&cover[..2], &[0xFF, 0xD8]);
    let archive = env
        .fake
        .playlist_named("sunny.listener", "Weekly archive")
        .expect("the archive was created once");
    assert_eq!(env.fake.playlist_uris(&archive).unwrap().len(), uris.len());
    let after = ok(&env.run(&["schedule", "list"]).await);
    assert_eq!(after.matches("last run:").count(), 2, "{after}");

    // Removing one leaves the other.
    let id = after.split_whitespace().next().unwrap();
    ok(&env.run(&["schedule", "remove", id]).await);
    assert_eq!(ok(&env.run(&["schedule", "list"]).await).lines().count(), 1);
}
