//! The deployment of docs/deploy.md as processes, for the deployment test
//! and the fault catalogue: nginx (Debian's) balancing `spotifyart serve`
//! replicas, `spotifyart worker` processes, PostgreSQL (a fresh schema)
//! or one SQLite file, and Redis, against the in-process fake Spotify.
//! Each person is a [`Browser`] with their own loopback address
//! (127.0.0.0/8) and cookie jar, as different people would be.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::cookie::{CookieStore, Jar};
use serde_json::Value;
use spotifyart_spotify::fake::FakeSpotify;

use super::service::free_port;

const NGINX: [&str; 2] = ["/usr/sbin/nginx", "/usr/bin/nginx"];

pub fn nginx() -> Option<&'static str> {
    NGINX.into_iter().find(|p| Path::new(p).exists())
}

pub fn redis_url() -> String {
    std::env::var("SPOTIFYART_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// What this machine lacks for a deployment, if anything.
pub async fn missing() -> Option<String> {
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

/// Skips (returns true) when the deployment cannot run here, unless
/// `SPOTIFYART_REQUIRE_DEPLOY=1` (CI), where it fails instead.
pub async fn skip(what: &str) -> bool {
    let Some(why) = missing().await else {
        return false;
    };
    if std::env::var("SPOTIFYART_REQUIRE_DEPLOY").is_ok_and(|v| v == "1") {
        panic!("{what} cannot run: {why}");
    }
    eprintln!("skipping {what}: {why}");
    true
}

/// A child process killed when dropped; its stderr in `log`.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A stopped process cannot die of SIGKILL until it is continued.
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} ---\n{}",
            self.name,
            lines[lines.len().saturating_sub(15)..].join("\n")
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(ok.success(), "kill -{signal} {}", self.name);
    }
}

/// Where the deployment keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Db {
    /// A fresh schema in `SPOTIFYART_TEST_POSTGRES_URL`'s database.
    Postgres,
    /// One SQLite file, so one replica painting in-process.
    Sqlite,
}

/// How to deploy.
#[derive(Clone, Debug)]
pub struct Options {
    pub db: Db,
    /// `serve` processes behind nginx (1 for SQLite).
    pub replicas: usize,
    /// `worker` processes (with SQLite, the replica paints in-process).
    pub workers: usize,
    pub redis_url: String,
    /// `SPOTIFYART_JOB_LEASE`, seconds.
    pub lease_secs: u64,
    /// More environment for every process (faketime, say).
    pub env: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            db: Db::Postgres,
            replicas: 2,
            workers: 2,
            redis_url: redis_url(),
            lease_secs: 3,
            env: Vec::new(),
        }
    }
}

pub struct Deployment {
    pub dir: tempfile::TempDir,
    pub public: String,
    pub replicas: Vec<(u16, Proc)>,
    pub workers: Vec<Proc>,
    pub nginx: Option<Proc>,
    pub db_url: String,
    pub db: Db,
    env: Vec<(String, String)>,
    spawned: usize,
}

impl Deployment {
    pub fn logs(&self) -> String {
        let mut out = Vec::new();
        for (_, p) in &self.replicas {
            out.push(p.tail());
        }
        for p in &self.workers {
            out.push(p.tail());
        }
        out.join("\n")
    }

    pub fn spawn(&mut self, name: &str, args: &[String]) -> Proc {
        self.spawned += 1;
        let log = self.dir.path().join(format!("{name}.{}.log", self.spawned));
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

    /// Starts one more `spotifyart worker` (a supervisor's restart).
    pub fn add_worker(&mut self) {
        let name = format!("worker-{}", self.workers.len());
        let proc = self.spawn(&name, &["worker".to_string()]);
        self.workers.push(proc);
    }

    /// One query through psql or sqlite3 ([`sql`]).
    pub fn sql(&self, query: &str) -> String {
        sql(&self.db, &self.db_url, query)
    }

    /// The worker (process) whose name `owner` (`{HOSTNAME}-{pid}-{n}`)
    /// holds a lease.
    pub fn worker_by_lease(&self, owner: &str) -> Option<usize> {
        let pid: u32 = owner.split('-').nth(1)?.parse().ok()?;
        self.workers.iter().position(|w| w.pid() == pid)
    }
}

/// One query on the database at `url` through psql or sqlite3: one row
/// per line, `|` between columns.
pub fn sql(db: &Db, url: &str, query: &str) -> String {
    let out = match db {
        Db::Postgres => Command::new("psql")
            .args([url, "-At", "-c", query])
            .output(),
        Db::Sqlite => Command::new("sqlite3")
            .args(["-cmd", ".timeout 5000"])
            .arg(url.trim_start_matches("sqlite://"))
            .arg(query)
            .output(),
    }
    .expect("psql/sqlite3 runs");
    assert!(
        out.status.success(),
        "{query}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub async fn deploy(fake: &FakeSpotify, public_port: u16, o: &Options) -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    let public = format!("http://127.0.0.1:{public_port}");
    let db_url = match o.db {
        Db::Postgres => {
            let base = std::env::var("SPOTIFYART_TEST_POSTGRES_URL").unwrap();
            spotifyart_store::testing::fresh_schema_url(&base)
                .await
                .unwrap()
        }
        Db::Sqlite => format!("sqlite://{}", dir.path().join("spotifyart.db").display()),
    };
    let key = spotifyart_store::EncryptionKey::generate().to_base64();
    let prefix = format!("spotifyart-deploy-{}:", uuid::Uuid::new_v4().simple());
    let lease = o.lease_secs.to_string();
    let mut env: Vec<(String, String)> = [
        ("SPOTIFYART_DATABASE_URL", db_url.as_str()),
        ("SPOTIFYART_ENCRYPTION_KEY", key.as_str()),
        ("SPOTIFYART_PUBLIC_URL", public.as_str()),
        ("SPOTIFYART_REDIS_URL", &o.redis_url),
        ("SPOTIFYART_REDIS_PREFIX", &prefix),
        ("SPOTIFY_CLIENT_ID", super::service::CLIENT_ID),
        ("SPOTIFY_ACCOUNTS_URL", fake.url().as_str()),
        ("SPOTIFY_API_URL", fake.url().as_str()),
        ("SPOTIFYART_MODEL", "tiny"),
        ("SPOTIFYART_DEVICE", "cpu"),
        ("SPOTIFYART_JOB_LEASE", &lease),
        ("HOSTNAME", "deploy"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(o.env.iter().cloned());
    let mut d = Deployment {
        dir,
        public: public.clone(),
        replicas: Vec::new(),
        workers: Vec::new(),
        nginx: None,
        db_url,
        db: o.db.clone(),
        env,
        spawned: 0,
    };
    let (replicas, in_process) = match o.db {
        Db::Postgres => (o.replicas, 0),
        Db::Sqlite => (1, 1),
    };
    for i in 0..replicas {
        let port = free_port();
        let args = [
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--workers",
            &in_process.to_string(),
            "--trust-proxy",
        ]
        .map(String::from);
        let proc = d.spawn(&format!("replica-{i}"), &args);
        d.replicas.push((port, proc));
    }
    if o.db == Db::Postgres {
        for _ in 0..o.workers {
            d.add_worker();
        }
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
    d.nginx = Some(Proc {
        name: "nginx".into(),
        child,
        log,
    });
    // Ready: every replica directly, and through nginx.
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
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub public: String,
}

impl Browser {
    pub fn new(public: &str, ip: [u8; 4]) -> Self {
        Self::with_timeout(public, ip, Duration::from_secs(60))
    }

    pub fn with_timeout(public: &str, ip: [u8; 4], timeout: Duration) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .local_address(IpAddr::from(ip))
            .timeout(timeout)
            .build()
            .unwrap();
        Self {
            client,
            jar,
            public: public.to_string(),
        }
    }

    pub fn csrf(&self) -> String {
        self.cookie("sa_csrf").expect("a CSRF cookie")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self.jar.cookies(&self.public.parse().unwrap())?;
        let prefix = format!("{name}=");
        cookies
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix(prefix.as_str()))
            .map(str::to_string)
    }

    pub async fn sign_in(&self, fake: &FakeSpotify, who: &str) {
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
    pub async fn get_at(&self, base: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.get_at(&self.public, path).await
    }

    pub async fn post_at(&self, base: &str, path: &str, body: Value) -> (u16, Value) {
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

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_at(&self.public, path, body).await
    }

    pub async fn finish(&self, status_url: &str, d: &Deployment) -> Value {
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
