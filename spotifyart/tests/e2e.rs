//! End to end: the `spotifyart serve` binary on SQLite with the tiny
//! Stable Diffusion pipeline, against the local fake Spotify. Two people
//! sign in (OAuth + PKCE through the fake's consent page), one invites,
//! the other accepts, they paint, poll the job and download the PNG. The
//! server is then killed with the job queued and restarted: the job is
//! still there and gets painted.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};
use spotifyart_spotify::fake::FakeSpotify;
use support::service::{fake_for, free_port, log_path, start};

/// A browser: a cookie jar, no automatic redirects.
struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
}

impl Browser {
    fn new(base: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            client,
            jar,
            base: base.to_string(),
        }
    }

    fn csrf(&self) -> String {
        let cookies = self.jar.cookies(&self.base.parse().unwrap()).unwrap();
        cookies
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix("sa_csrf="))
            .expect("a CSRF cookie")
            .to_string()
    }

    async fn sign_in(&self, fake: &FakeSpotify, who: &str) {
        let r = self
            .client
            .get(format!("{}/auth/spotify/login", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let to_spotify = r.headers()["location"].to_str().unwrap().to_string();
        fake.approve_as(who);
        let r = self.client.get(&to_spotify).send().await.unwrap();
        let back = r.headers()["location"].to_str().unwrap().to_string();
        assert!(back.starts_with(&self.base), "{back}");
        let r = self.client.get(&back).send().await.unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/discover");
        let me: Value = self.get("/api/v1/me").await;
        assert!(me["display_name"].is_string());
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("x-csrf-token", self.csrf())
            .header("origin", &self.base)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// Polls a job until it ends.
    async fn finish(&self, status_url: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let job = self.get(status_url).await;
            match job["state"].as_str().unwrap() {
                "succeeded" | "failed" => return job,
                _ => {
                    assert!(Instant::now() < deadline, "job did not finish: {job}");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_sign_in_match_and_get_their_art() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let fake = fake_for(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("e2e.db").display());

    // First run: no workers, so the job stays queued.
    let server = start(&base, port, &fake, &db, 0).await;
    let (a, b) = (Browser::new(&base), Browser::new(&base));
    a.sign_in(&fake, "sunny.listener").await;
    b.sign_in(&fake, "midnight.listener").await;
    let mood = a.get("/api/v1/music/mood").await;
    // Development Mode gives names only; the artist tables read them.
    assert_eq!(mood["mood"]["model"], "auto", "{mood}");
    assert!(
        mood["mood"]["signals"]
            .as_array()
            .unwrap()
            .contains(&json!("names")),
        "{mood}"
    );
    let (status, invite) = a.post("/api/v1/matches", json!({})).await;
    assert_eq!(status, 201, "{invite}");
    let code = invite["invite"].as_str().unwrap();
    let (status, matched) = b
        .post(&format!("/api/v1/matches/{code}/accept"), json!({}))
        .await;
    assert_eq!(status, 201, "{matched}");
    let match_id = matched["id"].as_str().unwrap().to_string();
    let (status, queued) = a
        .post("/api/v1/ai/art", json!({ "match_id": match_id }))
        .await;
    assert_eq!(status, 202, "{queued}");
    let status_url = queued["status_url"].as_str().unwrap().to_string();
    drop(server);

    // Restarted with a worker: the queued job is painted.
    let _server = start(&base, port, &fake, &db, 1).await;
    let job = b.finish(&status_url).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let png_url = job["artwork_url"].as_str().unwrap();
    let r = a
        .client
        .get(format!("{base}{png_url}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = r.bytes().await.unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (64, 64), "the tiny model's size");

    // Asking again is answered from the store.
    let (status, again) = b
        .post("/api/v1/ai/art", json!({ "match_id": match_id }))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["artwork"]["url"], png_url);
    let gallery = b.get("/api/v1/gallery").await;
    assert_eq!(gallery["artworks"][0]["url"], png_url);

    // The logs: a JSON line per request with its route template, and no
    // secret anywhere (session cookies, CSRF tokens, the invite code, the
    // OAuth state and PKCE challenge).
    let log = std::fs::read_to_string(log_path(&db)).unwrap();
    let requests: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert!(requests.len() > 10, "{log}");
    assert!(
        requests
            .iter()
            .all(|r| r["fields"]["request_id"].is_string())
    );
    assert!(
        requests
            .iter()
            .any(|r| r["fields"]["route"] == "/api/v1/matches/{invite}/accept")
    );
    let mut secrets = vec![code.to_string(), a.csrf(), b.csrf()];
    for who in [&a, &b] {
        let cookies = who.jar.cookies(&base.parse().unwrap()).unwrap();
        for c in cookies.to_str().unwrap().split("; ") {
            secrets.push(c.split_once('=').unwrap().1.to_string());
        }
    }
    for seen in fake.requests() {
        for (k, v) in url::form_urlencoded::parse(seen.query.as_bytes()) {
            if k == "state" || k == "code_challenge" {
                secrets.push(v.into_owned());
            }
        }
    }
    for secret in secrets.iter().filter(|s| s.len() >= 16) {
        assert!(!log.contains(secret.as_str()), "a secret is in the log");
    }
}
