//! The fault catalogue (issue 23): the deployment of docs/deploy.md under
//! a steady load of sign-ins, moods and paintings (the tiny model) meets
//! one fault at a time. Each fault records a row: what users saw (status
//! and error code), whether every job ended exactly once (none lost,
//! none doubled), whether the service recovered by itself and how long
//! it took. A fault's test fails when the service does not recover or a
//! job is lost or doubled.
//!
//! CI runs the quick pass with `cargo test`; `benches/faults/run` runs
//! the durations (`SPOTIFYART_FAULTS=full`) and writes the table
//! (docs/deploy.md, "Faults"). Needs what the deployment test needs
//! (nginx, PostgreSQL, Redis); restarts the machine's PostgreSQL.

#[path = "../support/mod.rs"]
mod support;

mod catalogue;
mod load;

mod clock;
mod model;
mod postgres;
mod redis;
mod spotify;
mod sqlite;
mod workers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use spotifyart_spotify::fake::FakeSpotify;

use catalogue::{Jobs, Row, Scale, Window};
use load::{Load, Shape};
use support::deployment::{Deployment, Options, deploy};
use support::service::{fake_for, free_port, profile};

/// A deployment with the load running on it, warmed up.
pub struct Stage {
    /// The processes.
    pub d: Deployment,
    /// The Spotify they talk to.
    pub fake: Arc<FakeSpotify>,
    /// The people using it.
    pub load: Load,
    /// How long each phase lasts.
    pub scale: Scale,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// Deploys with `options`, starts the load of `shape` and lets it warm
/// up. `None` when the deployment cannot run here (and CI does not
/// require it).
pub async fn stage(what: &str, options: Options, mut shape: Shape) -> Option<Stage> {
    if support::deployment::skip(what).await {
        return None;
    }
    let turn = catalogue::one_at_a_time().await;
    let scale = catalogue::scale();
    let public_port = free_port();
    let public = format!("http://127.0.0.1:{public_port}");
    let fake = Arc::new(fake_for(&public).await);
    shape.accounts = accounts(&fake);
    let d = deploy(&fake, public_port, &options).await;
    let load = Load::start(&public, fake.clone(), shape);
    tokio::time::sleep(scale.warm).await;
    Some(Stage {
        d,
        fake,
        load,
        scale,
        _turn: turn,
    })
}

impl Stage {
    /// Lets the load run `settle` past the fault, stops it, judges the
    /// jobs, records the row and fails the test unless the service
    /// recovered by itself with every job ended exactly once.
    pub async fn finish(self, fault: &str, window: Window, note: &str) -> (Row, Jobs) {
        let settle_until = window.lifted + self.scale.settle;
        tokio::time::sleep_until(settle_until.into()).await;
        let tally = self.load.stop().await;
        let jobs = catalogue::jobs(&self.d, &tally, self.scale.drain).await;
        let row = catalogue::row(fault, &tally, window, &jobs, self.scale.settle, note);
        catalogue::record(&row);
        assert!(
            jobs.exactly_once(),
            "{fault}: jobs lost or doubled: {jobs:?}\n{}",
            self.d.logs()
        );
        assert!(
            row.recovered,
            "{fault}: no recovery: {row:?}\n{}",
            self.d.logs()
        );
        (row, jobs)
    }
}

/// Spotify accounts for the load, one per visit: new art is limited to 10
/// an hour per person, and a visit asks for 4.
pub fn accounts(fake: &FakeSpotify) -> Vec<String> {
    (0..ACCOUNTS)
        .map(|i| {
            let name = format!("listener.{i}");
            let taste = if i % 2 == 0 { "sunny" } else { "midnight" };
            fake.add_user(&name, &format!("Listener {i}"), &profile(taste));
            name
        })
        .collect()
}

const ACCOUNTS: usize = 200;

/// Waits (up to a minute) until some job is running and answers it with
/// the index of the worker painting it.
pub async fn running_job(d: &Deployment) -> (String, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = d.sql(
            "SELECT id, lease_owner FROM jobs WHERE state = 'running' \
             AND lease_owner IS NOT NULL ORDER BY updated_at LIMIT 1",
        );
        if let Some((id, owner)) = row.split_once('|') {
            let worker = d
                .worker_by_lease(owner)
                .unwrap_or_else(|| panic!("{owner} is not one of our workers"));
            return (id.to_string(), worker);
        }
        assert!(
            Instant::now() < deadline,
            "no job ran within a minute\n{}",
            d.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
