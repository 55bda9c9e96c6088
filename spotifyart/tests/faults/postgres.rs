//! PostgreSQL restarted under load (`pg_ctlcluster … restart`, fast
//! mode: every connection is cut).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::catalogue::Window;
use crate::load::Shape;
use crate::support::deployment::Options;

/// The machine's cluster, as `(version, name)`: the first under
/// /etc/postgresql.
fn cluster() -> (String, String) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("Debian's PostgreSQL (/etc/postgresql)")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max()
        .expect("a PostgreSQL version");
    (version, "main".into())
}

fn ready() -> bool {
    Command::new("pg_isready")
        .args(["-q", "-h", "127.0.0.1", "-p", "5432"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_under_load() {
    let Some(stage) =
        crate::stage("the PostgreSQL fault", Options::default(), Shape::default()).await
    else {
        return;
    };
    let (version, name) = cluster();
    let began = Instant::now();
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", "-m", "fast"])
        .args([&version, &name, "restart"])
        .status()
        .expect("pg_ctlcluster runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "PostgreSQL did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(status.success(), "pg_ctlcluster restart failed");
    let lifted = Instant::now();
    let note = format!(
        "Restart took {:.1} s, longer than the test's {} s job lease: a heartbeat \
         that cannot reach the database loses the lease.",
        (lifted - began).as_secs_f64(),
        Options::default().lease_secs
    );
    stage
        .finish(
            "PostgreSQL restarted under load",
            Window { began, lifted },
            &note,
        )
        .await;
}
