//! The steady load a fault meets: people signing in through the fake
//! Spotify, reading their mood and asking for paintings, each with their
//! own address (so the shared rate limits see many people, not one), a
//! few requests each before a new person takes their place. Every answer
//! is logged with when it came, so the catalogue can say what users saw
//! during a fault and when errors stopped after it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use spotifyart_spotify::fake::FakeSpotify;

use crate::support::deployment::Browser;

/// What a request was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    SignIn,
    Mood,
    Paint,
}

/// One answer: status 0 when none came (a timeout or a refused
/// connection); `code` is the error body's code, else empty.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub at: Instant,
    pub kind: Kind,
    pub status: u16,
    pub code: String,
    pub took: Duration,
}

impl Outcome {
    /// What the person wanted happened: a signed-in landing, a mood, a
    /// painting queued or already there.
    pub fn ok(&self) -> bool {
        match self.kind {
            Kind::SignIn => self.status == 303 && self.code.is_empty(),
            Kind::Mood => self.status == 200,
            Kind::Paint => self.status == 200 || self.status == 202,
        }
    }
}

/// How hard to push.
#[derive(Clone, Debug)]
pub struct Shape {
    /// People at once.
    pub people: usize,
    /// Rounds (a mood and a painting each) before a person leaves.
    pub rounds: usize,
    /// Pause between one person's requests.
    pub think: Duration,
    /// Per-request timeout (a browser's patience).
    pub timeout: Duration,
    /// The Spotify accounts people sign in as.
    pub accounts: Vec<String>,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            people: 3,
            rounds: 4,
            think: Duration::from_millis(400),
            timeout: Duration::from_secs(30),
            accounts: vec!["sunny.listener".into(), "midnight.listener".into()],
        }
    }
}

/// A running load; [`Load::stop`] ends it and hands back what happened.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    outcomes: Mutex<Vec<Outcome>>,
    jobs: Mutex<Vec<String>>,
    seeds: AtomicU64,
    people: AtomicU64,
}

/// Everything the load saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub outcomes: Vec<Outcome>,
    /// Ids of the jobs that answers (202) promised.
    pub jobs: Vec<String>,
}

impl Load {
    pub fn start(public: &str, fake: Arc<FakeSpotify>, shape: Shape) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared::default());
        let tasks = (0..shape.people)
            .map(|slot| {
                let (stop, shared, fake) = (stop.clone(), shared.clone(), fake.clone());
                let (public, shape) = (public.to_string(), shape.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        person(slot, &public, &fake, &shape, &shared, &stop).await;
                    }
                })
            })
            .collect();
        Load {
            stop,
            tasks,
            shared,
        }
    }

    pub async fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.expect("a load task panicked");
        }
        Tally {
            outcomes: std::mem::take(&mut self.shared.outcomes.lock().unwrap()),
            jobs: std::mem::take(&mut self.shared.jobs.lock().unwrap()),
        }
    }
}

/// One person's visit: sign in, then `rounds` of mood and painting.
async fn person(
    slot: usize,
    public: &str,
    fake: &FakeSpotify,
    shape: &Shape,
    shared: &Shared,
    stop: &AtomicBool,
) {
    let n = shared.people.fetch_add(1, Ordering::Relaxed);
    let ip = [
        127,
        10 + slot as u8,
        (n / 250) as u8 % 250,
        1 + (n % 250) as u8,
    ];
    let browser = Browser::with_timeout(public, ip, shape.timeout);
    let account = &shape.accounts[n as usize % shape.accounts.len()];
    let signed_in = sign_in(&browser, fake, account, shared).await;
    if !signed_in {
        tokio::time::sleep(shape.think).await;
        return;
    }
    for _ in 0..shape.rounds {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let started = Instant::now();
        let r = browser
            .client
            .get(format!("{public}/api/v1/music/mood"))
            .send()
            .await;
        log(shared, Kind::Mood, started, answer(r).await);
        tokio::time::sleep(shape.think).await;

        // Every fourth painting asks for the one before it again: the
        // same picture, which must still be painted once.
        let n = shared.seeds.fetch_add(1, Ordering::Relaxed);
        let seed = if n % 4 == 3 { n - 1 } else { n };
        let started = Instant::now();
        let r = browser
            .client
            .post(format!("{public}/api/v1/ai/art"))
            .header("x-csrf-token", browser.csrf())
            .header("origin", public)
            .json(&json!({ "seed": 100_000 + seed, "steps": 2 }))
            .send()
            .await;
        let (status, body) = answer(r).await;
        if status == 202
            && let Some(id) = body["job_id"].as_str()
        {
            shared.jobs.lock().unwrap().push(id.to_string());
        }
        log(shared, Kind::Paint, started, (status, body));
        tokio::time::sleep(shape.think).await;
    }
}

async fn sign_in(browser: &Browser, fake: &FakeSpotify, who: &str, shared: &Shared) -> bool {
    let started = Instant::now();
    let public = &browser.public;
    let result: Result<(u16, String), (u16, Value)> = async {
        let r = browser
            .client
            .get(format!("{public}/auth/spotify/login"))
            .send()
            .await;
        let r = r.map_err(|_| (0, Value::Null))?;
        if r.status() != 303 {
            return Err(body_of(r).await);
        }
        let to_spotify = location(&r);
        fake.approve_as(who);
        let r = browser.client.get(&to_spotify).send().await;
        let r = r.map_err(|_| (0, Value::Null))?;
        let back = location(&r);
        if !back.starts_with(public.as_str()) {
            // Spotify itself failed: the person never comes back to us.
            return Err((
                r.status().as_u16(),
                json!({"error": {"code": "spotify_authorize"}}),
            ));
        }
        let r = browser.client.get(&back).send().await;
        let r = r.map_err(|_| (0, Value::Null))?;
        Ok((r.status().as_u16(), location(&r)))
    }
    .await;
    let (status, body, ok) = match result {
        // The callback sends people home with `?error=code` when it fails.
        Ok((status, to)) if to == "/discover" => (status, Value::Null, true),
        Ok((status, to)) => {
            let code = to.split("error=").nth(1).unwrap_or(&to).to_string();
            (status, json!({"error": {"code": code}}), false)
        }
        Err((status, body)) => (status, body, false),
    };
    log(shared, Kind::SignIn, started, (status, body));
    ok
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn body_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn answer(r: reqwest::Result<reqwest::Response>) -> (u16, Value) {
    match r {
        Ok(r) => body_of(r).await,
        Err(e) if e.is_timeout() => (0, json!({"error": {"code": "timeout"}})),
        Err(_) => (0, json!({"error": {"code": "connection"}})),
    }
}

fn log(shared: &Shared, kind: Kind, started: Instant, (status, body): (u16, Value)) {
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    shared.outcomes.lock().unwrap().push(Outcome {
        at: Instant::now(),
        kind,
        status,
        code,
        took: started.elapsed(),
    });
}

impl Tally {
    /// The failed answers from `from` on, grouped: `503 database_unavailable
    /// ×12 (mood, paint)`.
    pub fn failures_since(&self, from: Instant) -> String {
        let mut groups: BTreeMap<(u16, String), (usize, Vec<Kind>)> = BTreeMap::new();
        for o in self.outcomes.iter().filter(|o| o.at >= from && !o.ok()) {
            let g = groups.entry((o.status, o.code.clone())).or_default();
            g.0 += 1;
            if !g.1.contains(&o.kind) {
                g.1.push(o.kind);
            }
        }
        if groups.is_empty() {
            return "no errors".into();
        }
        groups
            .into_iter()
            .map(|((status, code), (n, mut kinds))| {
                kinds.sort();
                let kinds: Vec<String> = kinds
                    .iter()
                    .map(|k| format!("{k:?}").to_lowercase())
                    .collect();
                let status = if status == 0 {
                    "no answer".to_string()
                } else {
                    status.to_string()
                };
                let code = if code.is_empty() {
                    String::new()
                } else {
                    format!(" {code}")
                };
                format!("{status}{code} ×{n} ({})", kinds.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Answers and successes from `from` on.
    pub fn counts_since(&self, from: Instant) -> (usize, usize) {
        let seen: Vec<&Outcome> = self.outcomes.iter().filter(|o| o.at >= from).collect();
        (seen.len(), seen.iter().filter(|o| o.ok()).count())
    }

    /// When the last failed answer came, if any came from `from` on.
    pub fn last_failure_since(&self, from: Instant) -> Option<Instant> {
        self.outcomes
            .iter()
            .filter(|o| o.at >= from && !o.ok())
            .map(|o| o.at)
            .max()
    }

    /// The slowest answer from `from` on.
    pub fn slowest_since(&self, from: Instant) -> Duration {
        self.outcomes
            .iter()
            .filter(|o| o.at >= from)
            .map(|o| o.took)
            .max()
            .unwrap_or_default()
    }
}
