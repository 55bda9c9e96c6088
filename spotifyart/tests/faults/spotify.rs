//! Spotify failing under load: answering 5xx, answering in 10 s, and
//! answering 429 with `Retry-After: 3600`, on every call the servers and
//! workers make (the Web API and the token endpoint; the consent page a
//! browser visits stays up). One deployment meets the three in turn, each
//! for the fault's length and each followed by a healthy Spotify, and
//! records a row for each.
//!
//! The 429 comes last, not second as in the issue: every process honours
//! the hour (it asks once, then answers at once until the hour passes), so
//! a slow Spotify after it would meet no call at all, and recovery from it
//! is the hour itself, which the test does not wait for. Its row says so;
//! what it checks instead is that users were answered at once and Spotify
//! heard from each process about once.

use std::time::{Duration, Instant};

use spotifyart_spotify::fake::{FakeSpotify, FaultKind};

use crate::catalogue::{self, Jobs, Row, Window};
use crate::load::{Shape, Tally};
use crate::support::deployment::Options;

/// What the servers call: the Web API and the token endpoint.
const SERVER_PATHS: [&str; 2] = ["/v1/", "/api/token"];

/// The longest a Spotify call may take, retries included
/// (`SpotifyConfig::max_call_time`): requests begun while Spotify was slow
/// end by then.
const MAX_CALL_TIME: Duration = Duration::from_secs(15);

fn calls(fake: &FakeSpotify) -> usize {
    SERVER_PATHS.iter().map(|p| fake.count(p)).sum()
}

/// Spotify failing with `kind` for `lasting`, then healthy; answers the
/// window.
async fn fail(fake: &FakeSpotify, kind: FaultKind, lasting: Duration) -> Window {
    let began = Instant::now();
    for path in SERVER_PATHS {
        fake.outage(path, kind.clone(), lasting);
    }
    tokio::time::sleep(lasting).await;
    fake.end_outages();
    Window {
        began,
        lifted: Instant::now(),
    }
}

/// The answers up to `until`, for a phase's row.
fn until(tally: &Tally, until: Instant) -> Tally {
    Tally {
        outcomes: tally
            .outcomes
            .iter()
            .filter(|o| o.at < until)
            .cloned()
            .collect(),
        jobs: tally.jobs.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spotify_failing_5xx_slow_then_rate_limiting_for_an_hour() {
    let Some(stage) = crate::stage("the Spotify fault", Options::default(), Shape::default()).await
    else {
        return;
    };
    let (fake, scale) = (stage.fake.clone(), stage.scale);
    let processes = stage.d.replicas.len() + stage.d.workers.len();

    let unavailable = FaultKind::Status {
        status: 503,
        retry_after: None,
    };
    let errors = fail(&fake, unavailable, scale.fault).await;
    let errors_settled = errors.lifted + scale.settle;
    tokio::time::sleep_until(errors_settled.into()).await;

    let slow = fail(
        &fake,
        FaultKind::Delay(Duration::from_secs(10)),
        scale.fault,
    )
    .await;
    let slow_settle = scale.settle + MAX_CALL_TIME;
    let slow_settled = slow.lifted + slow_settle;
    tokio::time::sleep_until(slow_settled.into()).await;

    let before = calls(&fake);
    let hour = FaultKind::Status {
        status: 429,
        retry_after: Some(3600),
    };
    // Spotify's hour goes on past the fault's length: a process (or one of
    // its clients: the accounts and the Web API calls) that met no 429
    // in a short window would rightly call a Spotify answering 200 again.
    let limited = fail(&fake, hour, scale.fault + scale.settle).await;
    let asked = calls(&fake) - before;

    let tally = stage.load.stop().await;
    let jobs = catalogue::jobs(&stage.d, &tally, scale.drain).await;

    let secs = |d: Duration| d.as_secs_f64();
    let rows = [
        catalogue::row(
            "Spotify answering 503",
            &until(&tally, errors_settled),
            errors,
            &jobs,
            scale.settle,
            &format!(
                "Every Web API and token call for {:.0} s; GETs retried 3 times.",
                secs(scale.fault)
            ),
        ),
        catalogue::row(
            "Spotify answering in 10 s",
            &until(&tally, slow_settled),
            slow,
            &jobs,
            slow_settle,
            &format!(
                "Every call for {:.0} s; a call gives up after 10 s, or 15 s with its \
                 retry.",
                secs(scale.fault)
            ),
        ),
        rate_limited_row(
            catalogue::row(
                "Spotify answering 429, Retry-After: 3600",
                &tally,
                limited,
                &jobs,
                scale.settle,
                "",
            ),
            asked,
            processes,
            secs(scale.fault + scale.settle),
        ),
    ];
    for row in &rows {
        catalogue::record(row);
    }
    judge(
        &rows,
        &jobs,
        &tally,
        limited,
        asked,
        processes,
        &stage.d.logs(),
    );
}

/// The 429 row: the processes wait out the hour by design, so no
/// recovery within the run.
fn rate_limited_row(mut row: Row, asked: usize, processes: usize, over: f64) -> Row {
    row.recovered = false;
    row.recovery = "after the hour (Retry-After honoured; not awaited)".into();
    row.note = format!(
        "Spotify was asked {asked} times in {over:.0} s by {processes} processes; \
         each then answers at once with the time left. {}",
        row.note
    )
    .trim()
    .to_string();
    row
}

fn judge(
    rows: &[Row; 3],
    jobs: &Jobs,
    tally: &Tally,
    limited: Window,
    asked: usize,
    processes: usize,
    logs: &str,
) {
    assert!(
        jobs.exactly_once(),
        "jobs lost or doubled: {jobs:?}\n{logs}"
    );
    for row in &rows[..2] {
        assert!(row.recovered, "no recovery: {row:?}\n{logs}");
    }
    // A few calls may be in flight in a process when its first 429 comes.
    assert!(
        asked <= 3 * processes,
        "Spotify was asked {asked} times during its hour\n{logs}"
    );
    let slowest = tally.slowest_since(limited.began);
    assert!(
        slowest < Duration::from_secs(2),
        "a rate-limited request took {slowest:?}\n{logs}"
    );
}
