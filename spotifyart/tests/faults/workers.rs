//! Workers meeting signals mid-painting: SIGKILL (the supervisor starts a
//! new one a second later), and SIGSTOP held past the lease, then SIGCONT
//! (the stopped worker wakes to find its job taken).

use std::time::{Duration, Instant};

use crate::catalogue::Window;
use crate::load::Shape;
use crate::support::deployment::Options;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_killed_while_painting() {
    let Some(mut stage) = crate::stage(
        "the worker SIGKILL fault",
        Options::default(),
        Shape::default(),
    )
    .await
    else {
        return;
    };
    let (job, i) = crate::running_job(&stage.d).await;
    let began = Instant::now();
    stage.d.workers[i].signal("KILL");
    tokio::time::sleep(Duration::from_secs(1)).await;
    stage.d.add_worker();
    let lifted = Instant::now();
    let (_, jobs) = stage
        .finish(
            "Worker SIGKILLed while painting",
            Window { began, lifted },
            "A new worker started 1 s later, as a supervisor would.",
        )
        .await;
    assert!(jobs.retried >= 1, "the killed job {job} was tried again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_stopped_past_its_lease() {
    let options = Options::default();
    let lease = Duration::from_secs(options.lease_secs);
    let Some(stage) = crate::stage("the worker SIGSTOP fault", options, Shape::default()).await
    else {
        return;
    };
    let (job, i) = crate::running_job(&stage.d).await;
    let began = Instant::now();
    stage.d.workers[i].signal("STOP");
    // Past the lease, and long enough for the other worker to take it.
    tokio::time::sleep((lease * 2).max(stage.scale.fault)).await;
    let taken = stage.d.sql(&format!(
        "SELECT state || ' after ' || attempts || ' tries' FROM jobs WHERE id = '{job}'"
    ));
    stage.d.workers[i].signal("CONT");
    let lifted = Instant::now();
    let note = format!(
        "Stopped {:.0} s with a {} s lease; its job was {taken} when it woke.",
        (lifted - began).as_secs_f64(),
        lease.as_secs()
    );
    stage
        .finish(
            "Worker SIGSTOPped past its lease, then continued",
            Window { began, lifted },
            &note,
        )
        .await;
}
