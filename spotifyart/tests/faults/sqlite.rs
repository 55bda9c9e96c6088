//! The SQLite database reaching the file-size limit (`ulimit -f`, here
//! lowered on the running `serve` with util-linux's `prlimit`): one
//! process on one SQLite file, its soft `RLIMIT_FSIZE` set to the
//! database file's size for the fault's length, then restored. Writes past
//! it fail with EFBIG (the process catches SIGXFSZ, which would kill it);
//! SQLite reports "disk I/O error", users get 503 `storage_failed`. A full
//! disk (SQLITE_FULL) answers `storage_full` instead: the store's and the
//! CLI's tests cover that mapping and the signal.

use std::process::Command;
use std::time::Instant;

use crate::catalogue::Window;
use crate::load::Shape;
use crate::support::deployment::{Db, Options};

/// `prlimit` on `pid`'s file-size limit: `None` reads it as `SOFT:HARD`,
/// `Some(limits)` sets it.
fn fsize(pid: u32, set: Option<&str>) -> String {
    let mut cmd = Command::new("prlimit");
    cmd.args(["--pid", &pid.to_string()]);
    match set {
        Some(limits) => cmd.arg(format!("--fsize={limits}")),
        None => cmd.args(["--fsize", "--raw", "--noheadings", "--output", "SOFT,HARD"]),
    };
    let out = cmd.output().expect("util-linux prlimit runs");
    assert!(
        out.status.success(),
        "prlimit {set:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().collect::<Vec<_>>().join(":")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_reaches_the_file_size_limit() {
    let options = Options {
        db: Db::Sqlite,
        ..Options::default()
    };
    let Some(mut stage) =
        crate::stage("the SQLite file-size fault", options, Shape::default()).await
    else {
        return;
    };
    let pid = stage.d.replicas[0].1.pid();
    let db = stage.d.dir.path().join("spotifyart.db");
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let wal = db.with_extension("db-wal");
    let before = fsize(pid, None);
    let limit = size(&db);
    let began = Instant::now();
    // Only the soft limit: lowering the hard one cannot be undone without
    // CAP_SYS_RESOURCE.
    fsize(pid, Some(&format!("{limit}:")));
    tokio::time::sleep(stage.scale.fault).await;
    let (db_at, wal_at) = (size(&db), size(&wal));
    fsize(pid, Some(&before));
    let lifted = Instant::now();
    let exited = stage.d.replicas[0].1.child.try_wait().unwrap();
    assert!(
        exited.is_none(),
        "serve ended under the file-size limit ({exited:?})\n{}",
        stage.d.logs()
    );
    let note = format!(
        "Soft RLIMIT_FSIZE set to the database file's {} KiB for {:.0} s \
         (then: database {} KiB, WAL {} KiB), restored to {before}; the one \
         `serve` stayed up (SIGXFSZ caught).",
        limit / 1024,
        (lifted - began).as_secs_f64(),
        db_at / 1024,
        wal_at / 1024,
    );
    stage
        .finish(
            "SQLite file reaches the file-size limit (ulimit -f)",
            Window { began, lifted },
            &note,
        )
        .await;
}
