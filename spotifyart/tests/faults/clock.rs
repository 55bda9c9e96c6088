//! The clock jumping forward past session and lease expiry: every replica
//! and worker runs under libfaketime (Debian's `faketime` package) reading
//! its offset from a file, first `+0`, then mid-load `+4d`: past the
//! 3-day idle session lifetime and far past the job lease. Monotonic time
//! is left alone (timers and timeouts keep real time), as when NTP steps
//! the wall clock.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::catalogue::Window;
use crate::load::Shape;
use crate::support::deployment::Options;

const LIBFAKETIME: [&str; 2] = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
];

/// The jump: past `session_idle` (3 days) and any lease.
const JUMP: &str = "+4d";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clock_jumps_forward_past_sessions_and_leases() {
    let Some(lib) = LIBFAKETIME.into_iter().find(|p| Path::new(p).exists()) else {
        let why = "the clock fault cannot run: no libfaketime (apt-get install faketime)";
        if std::env::var("SPOTIFYART_REQUIRE_DEPLOY").is_ok_and(|v| v == "1") {
            panic!("{why}");
        }
        eprintln!("skipping {why}");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("offset");
    std::fs::write(&offset, "+0\n").unwrap();
    let env = [
        ("LD_PRELOAD", lib),
        ("FAKETIME_TIMESTAMP_FILE", offset.to_str().unwrap()),
        ("FAKETIME_NO_CACHE", "1"),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ];
    let options = Options {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Options::default()
    };
    let Some(stage) = crate::stage("the clock fault", options, Shape::default()).await else {
        return;
    };
    // The processes really run on the offset clock: their log timestamps
    // move with the file.
    let jumped = chrono::Utc::now() + chrono::Duration::days(4);
    let began = Instant::now();
    std::fs::write(&offset, format!("{JUMP}\n")).unwrap();
    let lifted = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let day = jumped.format("\"timestamp\":\"%Y-%m-%d").to_string();
    let logs = stage.d.logs();
    assert!(
        logs.contains(&day),
        "no process logged at the jumped time ({day}); is libfaketime working?\n{logs}"
    );
    let note = format!(
        "libfaketime on every replica and worker, offset +0 then {JUMP} (past the 3-day idle \
         session and the {} s lease); monotonic time unchanged; \
         the jump is not undone.",
        crate::support::deployment::Options::default().lease_secs
    );
    stage
        .finish(
            "Clock jumps forward past session and lease expiry",
            Window { began, lifted },
            &note,
        )
        .await;
}
