//! The catalogue's frame: how long each phase lasts (quick in CI, the
//! issue's durations under `benches/faults/run`), one fault at a time,
//! the verdict on jobs (none lost, none doubled) and the row each fault
//! records.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::load::Tally;
use crate::support::deployment::Deployment;

/// Phase lengths. `SPOTIFYART_FAULTS=full` (the script) runs the issue's
/// durations; the default is CI's quick pass.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    /// Load before the fault.
    pub warm: Duration,
    /// How long a fault lasts where it has a length (an outage).
    pub fault: Duration,
    /// Load after the fault is lifted: recovery must happen inside it.
    pub settle: Duration,
    /// How long jobs may take to end after the load stops.
    pub drain: Duration,
}

pub fn scale() -> Scale {
    if full() {
        Scale {
            warm: Duration::from_secs(20),
            fault: Duration::from_secs(60),
            settle: Duration::from_secs(40),
            drain: Duration::from_secs(180),
        }
    } else {
        Scale {
            warm: Duration::from_secs(4),
            fault: Duration::from_secs(8),
            settle: Duration::from_secs(12),
            drain: Duration::from_secs(120),
        }
    }
}

pub fn full() -> bool {
    std::env::var("SPOTIFYART_FAULTS").is_ok_and(|v| v == "full")
}

/// Faults share the machine's PostgreSQL, the CPU and the clock: one at
/// a time.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// When the fault began and was lifted (the same instant for a blow such
/// as a SIGKILL).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub began: Instant,
    pub lifted: Instant,
}

/// What became of the jobs the load was promised.
#[derive(Debug, Default)]
pub struct Jobs {
    pub promised: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Promised jobs with no row, or never finished.
    pub lost: Vec<String>,
    /// Pictures stored twice, or two finished jobs for one picture.
    pub doubled: usize,
    /// Succeeded jobs whose picture is missing.
    pub missing_art: usize,
    /// Pictures painted more than once (work repeated, never stored).
    pub painted_twice: usize,
    /// Jobs that took more than one try.
    pub retried: usize,
    /// Failed jobs' errors, with counts.
    pub errors: Vec<(String, usize)>,
}

impl Jobs {
    pub fn exactly_once(&self) -> bool {
        self.lost.is_empty() && self.doubled == 0 && self.missing_art == 0
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} promised: {} succeeded, {} failed, {} lost, {} doubled",
            self.promised,
            self.succeeded,
            self.failed,
            self.lost.len(),
            self.doubled
        );
        if self.retried > 0 {
            s += &format!("; {} retried", self.retried);
        }
        if self.painted_twice > 0 {
            s += &format!("; {} painted twice, stored once", self.painted_twice);
        }
        s
    }
}

/// Waits for every promised job to end (or `drain` to pass), then checks
/// the store: each promised job finished once, one picture per key.
pub async fn jobs(d: &Deployment, tally: &Tally, drain: Duration) -> Jobs {
    let sql = |q: &str| d.sql(q);
    jobs_in(&sql, d.dir.path(), tally, drain).await
}

/// [`jobs`] for any database (`sql` answers a query) whose processes log
/// into `logs`.
pub async fn jobs_in(
    sql: &dyn Fn(&str) -> String,
    logs: &Path,
    tally: &Tally,
    drain: Duration,
) -> Jobs {
    let deadline = Instant::now() + drain;
    let mut ids: Vec<String> = tally.jobs.clone();
    ids.sort();
    ids.dedup();
    let list = ids
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(",");
    let states = || -> HashMap<String, (String, i64)> {
        if ids.is_empty() {
            return HashMap::new();
        }
        sql(&format!(
            "SELECT id, state, attempts FROM jobs WHERE id IN ({list})"
        ))
        .lines()
        .filter_map(|l| {
            let mut p = l.split('|');
            Some((
                p.next()?.to_string(),
                (p.next()?.to_string(), p.next()?.parse().ok()?),
            ))
        })
        .collect()
    };
    let mut seen = states();
    while seen.values().any(|(s, _)| s == "queued" || s == "running") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        seen = states();
    }
    let mut v = Jobs {
        promised: ids.len(),
        ..Jobs::default()
    };
    for id in &ids {
        match seen.get(id).map(|(s, a)| (s.as_str(), *a)) {
            Some(("succeeded", a)) => {
                v.succeeded += 1;
                v.retried += usize::from(a > 1);
            }
            Some(("failed", a)) => {
                v.failed += 1;
                v.retried += usize::from(a > 1);
            }
            _ => v.lost.push(id.clone()),
        }
    }
    let count = |q: &str| -> usize { sql(q).parse().unwrap_or(usize::MAX) };
    v.doubled = count(
        "SELECT count(*) FROM (SELECT content_key FROM artworks GROUP BY content_key HAVING count(*) > 1) x",
    ) + count(
        "SELECT count(*) FROM (SELECT content_key FROM jobs WHERE state = 'succeeded' \
         GROUP BY content_key HAVING count(*) > 1) x",
    );
    v.missing_art = count(
        "SELECT count(*) FROM jobs j WHERE j.state = 'succeeded' \
         AND NOT EXISTS (SELECT 1 FROM artworks a WHERE a.id = j.artwork_id)",
    );
    for line in
        sql("SELECT coalesce(last_error, ''), count(*) FROM jobs WHERE state = 'failed' GROUP BY 1")
            .lines()
    {
        if let Some((e, n)) = line.rsplit_once('|') {
            v.errors.push((e.to_string(), n.parse().unwrap_or(0)));
        }
    }
    v.painted_twice = painted_twice(logs);
    v
}

/// Keys that the processes' logs say were painted more than once.
fn painted_twice(logs: &Path) -> usize {
    let mut keys: HashMap<String, usize> = HashMap::new();
    for entry in std::fs::read_dir(logs).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines().filter(|l| l.contains("painted artwork")) {
            let key = line
                .split("key=")
                .nth(1)
                .or_else(|| line.split("\"key\":\"").nth(1))
                .and_then(|k| k.split([' ', '"', ',']).next());
            if let Some(k) = key {
                *keys.entry(k.to_string()).or_default() += 1;
            }
        }
    }
    keys.values().filter(|n| **n > 1).count()
}

/// One line of the catalogue.
#[derive(Debug)]
pub struct Row {
    pub fault: String,
    pub users_saw: String,
    pub jobs: String,
    pub recovered: bool,
    pub recovery: String,
    pub note: String,
}

/// The row for a fault in `w`, from the load's answers and the jobs.
/// Recovered: the load's last `settle / 2` had no failure and some
/// successes, and every job ended exactly once. The recovery time runs
/// from the fault's lifting to the last failed answer.
pub fn row(
    fault: &str,
    tally: &Tally,
    w: Window,
    jobs: &Jobs,
    settle: Duration,
    note: &str,
) -> Row {
    let end = tally
        .outcomes
        .iter()
        .map(|o| o.at)
        .max()
        .unwrap_or(w.lifted);
    let tail = end
        .checked_sub(settle / 2)
        .unwrap_or(w.lifted)
        .max(w.lifted);
    let (answers, ok) = tally.counts_since(tail);
    let quiet = tally.last_failure_since(tail).is_none() && ok > 0;
    let recovery = match tally.last_failure_since(w.began) {
        None => "no errors".to_string(),
        Some(last) if last <= w.lifted => "at once".to_string(),
        Some(last) => format!("{:.1} s", (last - w.lifted).as_secs_f64()),
    };
    let (during, during_ok) = tally.counts_since(w.began);
    let mut users_saw = tally.failures_since(w.began);
    users_saw += &format!(
        " — {during_ok}/{during} answers fine from the fault on; slowest {:.1} s",
        tally.slowest_since(w.began).as_secs_f64()
    );
    let _ = answers;
    let mut note = note.to_string();
    if !jobs.errors.is_empty() {
        let errors: Vec<String> = jobs
            .errors
            .iter()
            .map(|(e, n)| format!("{n}× \"{e}\""))
            .collect();
        note += &format!(" Failed jobs: {}.", errors.join("; "));
    }
    Row {
        fault: fault.to_string(),
        users_saw,
        jobs: jobs.summary(),
        recovered: quiet && jobs.exactly_once(),
        recovery,
        note: note.trim().to_string(),
    }
}

/// Prints the row and appends it, as a JSON line, to
/// `$SPOTIFYART_FAULTS_OUT` (the script's table).
pub fn record(row: &Row) {
    let line = json!({
        "fault": row.fault,
        "users_saw": row.users_saw,
        "jobs": row.jobs,
        "recovered": row.recovered,
        "recovery": row.recovery,
        "note": row.note,
    });
    println!("FAULT {line}");
    if let Ok(path) = std::env::var("SPOTIFYART_FAULTS_OUT") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "{line}").unwrap();
    }
}
