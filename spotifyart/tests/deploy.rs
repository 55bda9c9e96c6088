//! The deployment of docs/deploy.md, as processes: nginx (Debian's)
//! balancing two `spotifyart serve` replicas, two `spotifyart worker`
//! processes, one PostgreSQL and one Redis, against the fake Spotify
//! (which rotates refresh tokens, as Spotify may). It checks that:
//!
//! - the whole journey (two sign-ins, invite, accept, paint, PNG) passes
//!   through nginx;
//! - one address's 101st API request within 5 minutes is refused, whichever
//!   replica answers (the limits live in Redis);
//! - simultaneous token refreshes on both replicas, 20 times, sign nobody
//!   out and refresh once each time;
//! - a worker killed with SIGKILL mid-job leaves the job painted exactly
//!   once, by the other worker.
//!
//! Needs nginx, `SPOTIFYART_TEST_POSTGRES_URL` and Redis
//! (`SPOTIFYART_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`). Without
//! them it says so and passes, unless `SPOTIFYART_REQUIRE_DEPLOY=1` (CI).
//! Each client gets its own loopback address (127.0.0.0/8), as different
//! people would have.

mod support;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};
use spotifyart_spotify::fake::FakeSpotify;
use support::service::{fake_for, free_port, profile};

const NGINX: [&str; 2] = ["/usr/sbin/nginx", "/usr/bin/nginx"];

fn nginx() -> Option<&'static str> {
    NGINX.into_iter().find(|p| Path::new(p).exists())
}

/// What this machine lacks for the test, if anything.
async fn missing() -> Option<String> {
    if nginx().is_none() {
        return Some("no nginx (apt-get install nginx-light)".into());
    }
    if std::env::var("SPOTIFYART_TEST_POSTGRES_URL").is_err() {
        return Some("SPOTIFYART_TEST_POSTGRES_URL is not set".into());
    }
    let redis = redis_url();
    let limiter = spotifyart_redis::RedisLimiter::new(&redis, "probe:").ok()?;
    if let Err(e) = limiter.ping().await {
        return Some(format!("no Redis at {redis}: {e}"));
    }
    None
}

fn redis_url() -> String {
    std::env::var("SPOTIFYART_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A child process killed when the test ends; its stderr in `log`.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} ---\n{}",
            self.name,
            lines[lines.len().saturating_sub(15)..].join("\n")
        )
    }
}

struct Deployment {
    dir: tempfile::TempDir,
    replicas: Vec<(u16, Proc)>,
    workers: Vec<Proc>,
    _nginx: Proc,
    db_url: String,
    env: Vec<(String, String)>,
}

impl Deployment {
    fn logs(&self) -> String {
        let mut out = Vec::new();
        for (_, p) in &self.replicas {
            out.push(p.tail());
        }
        for p in &self.workers {
            out.push(p.tail());
        }
        out.join("\n")
    }

    fn spawn(&self, name: &str, args: &[String]) -> Proc {
        let log = self.dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_spotifyart"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        Proc {
            name: name.into(),
            child,
            log,
        }
    }

    /// `SELECT` through psql, one row per line, `|` between columns.
    fn sql(&self, query: &str) -> String {
        let out = Command::new("psql")
            .args([&self.db_url, "-At", "-c", query])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

async fn deploy(fake: &FakeSpotify, public_port: u16) -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    let public = format!("http://127.0.0.1:{public_port}");
    let base = std::env::var("SPOTIFYART_TEST_POSTGRES_URL").unwrap();
    let db_url = spotifyart_store::testing::fresh_schema_url(&base)
        .await
        .unwrap();
    let key = spotifyart_store::EncryptionKey::generate().to_base64();
    let prefix = format!("spotifyart-deploy-{}:", uuid::Uuid::new_v4().simple());
    let env: Vec<(String, String)> = [
        ("SPOTIFYART_DATABASE_URL", db_url.as_str()),
        ("SPOTIFYART_ENCRYPTION_KEY", key.as_str()),
        ("SPOTIFYART_PUBLIC_URL", public.as_str()),
        ("SPOTIFYART_REDIS_URL", &redis_url()),
        ("SPOTIFYART_REDIS_PREFIX", &prefix),
        ("SPOTIFY_CLIENT_ID", support::service::CLIENT_ID),
        ("SPOTIFY_ACCOUNTS_URL", fake.url().as_str()),
        ("SPOTIFY_API_URL", fake.url().as_str()),
        ("SPOTIFYART_MODEL", "tiny"),
        ("SPOTIFYART_DEVICE", "cpu"),
        ("SPOTIFYART_JOB_LEASE", "3"),
        ("HOSTNAME", "deploy"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut d = Deployment {
        dir,
        replicas: Vec::new(),
        workers: Vec::new(),
        _nginx: Proc {
            name: "placeholder".into(),
            child: Command::new("true").spawn().unwrap(),
            log: PathBuf::new(),
        },
        db_url,
        env,
    };
    for i in 0..2 {
        let port = free_port();
        let args = [
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "0",
            "--trust-proxy",
        ]
        .map(String::from);
        let proc = d.spawn(&format!("replica-{i}"), &args);
        d.replicas.push((port, proc));
    }
    for i in 0..2 {
        let proc = d.spawn(&format!("worker-{i}"), &["worker".to_string()]);
        d.workers.push(proc);
    }
    let upstreams: String = d
        .replicas
        .iter()
        .map(|(p, _)| format!("server 127.0.0.1:{p};\n"))
        .collect();
    let root = d.dir.path().display().to_string();
    let conf = format!(
        "user root;
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  upstream spotifyart {{
    {upstreams}
    keepalive 16;
    keepalive_timeout 4s;
  }}
  server {{
    listen 127.0.0.1:{public_port};
    client_max_body_size 64k;
    location / {{
      proxy_pass http://spotifyart;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Request-Id $request_id;
    }}
  }}
}}
"
    );
    let conf_path = d.dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let log = d.dir.path().join("nginx.log");
    let child = Command::new(nginx().unwrap())
        .args(["-p", &root, "-c", &conf_path.display().to_string(), "-e"])
        .arg(d.dir.path().join("nginx-error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    d._nginx = Proc {
        name: "nginx".into(),
        child,
        log,
    };
    // Ready: both replicas directly, and through nginx.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut urls: Vec<String> = d
        .replicas
        .iter()
        .map(|(p, _)| format!("http://127.0.0.1:{p}/readyz"))
        .collect();
    urls.push(format!("{public}/readyz"));
    for url in urls {
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "{url} not ready\n{}", d.logs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    d
}

/// A person: their own address and cookie jar.
struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    public: String,
}

impl Browser {
    fn new(public: &str, ip: [u8; 4]) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .local_address(IpAddr::from(ip))
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Self {
            client,
            jar,
            public: public.to_string(),
        }
    }

    fn csrf(&self) -> String {
        let cookies = self.jar.cookies(&self.public.parse().unwrap()).unwrap();
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
            .get(format!("{}/auth/spotify/login", self.public))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{:?}", r.text().await);
        let to_spotify = r.headers()["location"].to_str().unwrap().to_string();
        fake.approve_as(who);
        let r = self.client.get(&to_spotify).send().await.unwrap();
        let back = r.headers()["location"].to_str().unwrap().to_string();
        let r = self.client.get(&back).send().await.unwrap();
        assert_eq!(r.headers()["location"], "/discover", "{who}");
    }

    /// GET on `base` (nginx or one replica): status and JSON.
    async fn get_at(&self, base: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.get_at(&self.public, path).await
    }

    async fn post_at(&self, base: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{base}{path}"))
            .header("x-csrf-token", self.csrf())
            .header("origin", &self.public)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_at(&self.public, path, body).await
    }

    async fn finish(&self, status_url: &str, d: &Deployment) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, job) = self.get(status_url).await;
            assert_eq!(status, 200, "{job}\n{}", d.logs());
            match job["state"].as_str().unwrap() {
                "succeeded" | "failed" => return job,
                _ => {
                    assert!(
                        Instant::now() < deadline,
                        "job did not finish: {job}\n{}",
                        d.logs()
                    );
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_and_two_workers_behind_nginx() {
    if let Some(why) = missing().await {
        if std::env::var("SPOTIFYART_REQUIRE_DEPLOY").is_ok_and(|v| v == "1") {
            panic!("the deployment test cannot run: {why}");
        }
        eprintln!("skipping the deployment test: {why}");
        return;
    }
    let public_port = free_port();
    let public = format!("http://127.0.0.1:{public_port}");
    let fake = fake_for(&public).await;
    fake.rotate_refresh_tokens(true);
    for i in 0..3 {
        fake.add_user(
            &format!("listener.{i}"),
            &format!("Listener {i}"),
            &profile("sunny"),
        );
    }
    let d = deploy(&fake, public_port).await;

    // 1. The journey, through nginx.
    let (a, b) = (
        Browser::new(&public, [127, 0, 0, 11]),
        Browser::new(&public, [127, 0, 0, 12]),
    );
    a.sign_in(&fake, "sunny.listener").await;
    b.sign_in(&fake, "midnight.listener").await;
    let (status, invite) = a.post("/api/v1/matches", json!({})).await;
    assert_eq!(status, 201, "{invite}");
    let code = invite["invite"].as_str().unwrap();
    let (status, matched) = b
        .post(&format!("/api/v1/matches/{code}/accept"), json!({}))
        .await;
    assert_eq!(status, 201, "{matched}\n{}", d.logs());
    let match_id = matched["id"].as_str().unwrap().to_string();
    let (status, queued) = a
        .post("/api/v1/ai/art", json!({ "match_id": match_id }))
        .await;
    assert_eq!(status, 202, "{queued}");
    let job = b.finish(queued["status_url"].as_str().unwrap(), &d).await;
    assert_eq!(job["state"], "succeeded", "{job}\n{}", d.logs());
    let png = a
        .client
        .get(format!("{public}{}", job["artwork_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(png.status(), 200);
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));

    // 2. One address, 100 API requests in 5 minutes, whichever replica.
    let stranger = Browser::new(&public, [127, 0, 0, 20]);
    for i in 0..100 {
        let (status, _) = stranger.get("/api/v1/me").await;
        assert_eq!(status, 401, "request {i} (not signed in, not limited)");
    }
    let (status, body) = stranger.get("/api/v1/me").await;
    assert_eq!(status, 429, "the 101st: {body}");
    let mut served = Vec::new();
    for (port, _) in &d.replicas {
        let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line =
            "spotifyart_http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"401\"} ";
        let n: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix(line))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        served.push(n);
    }
    assert!(
        served.iter().all(|n| *n >= 20),
        "both replicas answered the stranger: {served:?}"
    );
    assert!(
        d.replicas
            .iter()
            .all(|(_, p)| !std::fs::read_to_string(&p.log)
                .unwrap_or_default()
                .contains("shared rate limiter failed")),
        "Redis answered every check"
    );

    // 3. Simultaneous token refreshes on both replicas, 20 times.
    let mut people = vec![a, b];
    for i in 0..3u8 {
        let p = Browser::new(&public, [127, 0, 0, 30 + i]);
        p.sign_in(&fake, &format!("listener.{i}")).await;
        people.push(p);
    }
    let replicas: Vec<String> = d
        .replicas
        .iter()
        .map(|(p, _)| format!("http://127.0.0.1:{p}"))
        .collect();
    let refreshes = fake.count("/api/token");
    for trial in 0..20 {
        let who = &people[trial % people.len()];
        // Spotify expired every access token: both replicas get a 401 and
        // must refresh; Spotify rotates the refresh token.
        fake.expire_access_tokens();
        let path = "/api/v1/music/mood/refresh";
        let (one, two) = tokio::join!(
            who.post_at(&replicas[0], path, json!({})),
            who.post_at(&replicas[1], path, json!({}))
        );
        for (status, body) in [one, two] {
            assert_eq!(status, 200, "trial {trial}: {body}\n{}", d.logs());
        }
    }
    for (i, who) in people.iter().enumerate() {
        let (status, _) = who.get("/api/v1/me").await;
        assert_eq!(status, 200, "person {i} is still signed in");
    }
    assert_eq!(
        fake.count("/api/token") - refreshes,
        20,
        "one refresh per trial, shared by both replicas"
    );

    // 4. A worker killed mid-job: the other one paints it, once.
    let painter = Browser::new(&public, [127, 0, 0, 40]);
    painter.sign_in(&fake, "listener.0").await;
    // The tiny model's longest painting (about 2 s in the test build).
    let ask = json!({ "steps": 50, "seed": 4242 });
    let (status, queued) = painter.post("/api/v1/ai/art", ask).await;
    assert_eq!(status, 202, "{queued}");
    let job_id = queued["job_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let owner = loop {
        let row = d.sql(&format!(
            "SELECT state, coalesce(lease_owner, '') FROM jobs WHERE id = '{job_id}'"
        ));
        if let Some(("running", owner)) = row.split_once('|') {
            break owner.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "job never ran: {row}\n{}",
            d.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Worker names are `{HOSTNAME}-{pid}-{n}`.
    let pid: u32 = owner.split('-').nth(1).unwrap().parse().unwrap();
    let mut killed = None;
    for w in &d.workers {
        if w.child.id() == pid {
            Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
            killed = Some(w.name.clone());
        }
    }
    let killed = killed.unwrap_or_else(|| panic!("{owner} is not one of our workers"));
    let job = painter
        .finish(queued["status_url"].as_str().unwrap(), &d)
        .await;
    assert_eq!(job["state"], "succeeded", "{job}\n{}", d.logs());
    assert_eq!(job["attempts"], 2, "the killed try and the finished one");
    let row = d.sql(&format!(
        "SELECT j.lease_owner, (SELECT count(*) FROM artworks a WHERE a.content_key = j.content_key) \
         FROM jobs j WHERE j.id = '{job_id}'"
    ));
    let (last_owner, artworks) = row.split_once('|').unwrap();
    assert_eq!(artworks, "1", "painted exactly once");
    assert_ne!(
        last_owner.split('-').nth(1),
        Some(pid.to_string().as_str()),
        "finished by the other worker, not {killed}"
    );
    assert_eq!(
        d.sql(&format!(
            "SELECT count(*) FROM jobs WHERE content_key = (SELECT content_key FROM jobs WHERE id = '{job_id}')"
        )),
        "1",
        "one job for the picture"
    );
}
