//! A running `spotifyart serve` binary against a local fake Spotify.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spotifyart_core::ListeningProfile;
use spotifyart_spotify::fake::{FakeApp, FakeSpotify, Mode};

pub const CLIENT_ID: &str = "e2e-client";

pub fn profile(name: &str) -> ListeningProfile {
    let path = format!(
        "{}/../examples/profiles/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    ListeningProfile::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `spotifyart serve`, killed on drop.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `spotifyart serve`; its log lines are appended to `db`'s path
/// with `.log` added, for tests that read them.
pub async fn start(base: &str, port: u16, fake: &FakeSpotify, db: &str, workers: u32) -> Server {
    start_with(base, port, fake, db, workers, &[]).await
}

/// [`start`] with more environment variables (other services' fakes).
pub async fn start_with(
    base: &str,
    port: u16,
    fake: &FakeSpotify,
    db: &str,
    workers: u32,
    envs: &[(&str, &str)],
) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(db))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_spotifyart"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--model", "tiny", "--device", "cpu"])
        .args(["--workers", &workers.to_string()])
        .env("SPOTIFYART_DATABASE_URL", db)
        .env("SPOTIFYART_PUBLIC_URL", base)
        .env("SPOTIFY_CLIENT_ID", CLIENT_ID)
        .env("SPOTIFY_ACCOUNTS_URL", fake.url().as_str())
        .env("SPOTIFY_API_URL", fake.url().as_str())
        .env_remove("SPOTIFY_CLIENT_SECRET")
        .env_remove("SPOTIFY_REDIRECT_URI")
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("the spotifyart binary starts");
    let server = Server(child);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return server;
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fake Spotify with two listeners whose app redirects to `base`.
pub async fn fake_for(base: &str) -> FakeSpotify {
    spotifyart_spotify::install_crypto_provider();
    let fake = FakeSpotify::start(
        Mode::Development,
        FakeApp {
            client_id: CLIENT_ID.into(),
            client_secret: None,
            redirect_uris: vec![format!("{base}/auth/spotify/callback")],
        },
    )
    .await
    .unwrap();
    fake.add_user("sunny.listener", "Sunny", &profile("sunny"));
    fake.add_user("midnight.listener", "Midnight", &profile("midnight"));
    fake
}

/// Where [`start`] writes the server's log for the database `db`.
pub fn log_path(db: &str) -> String {
    format!("{}.log", db.trim_start_matches("sqlite://"))
}
