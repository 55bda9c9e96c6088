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

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::deployment::{Browser, Options, deploy, skip};
use support::service::{fake_for, free_port, profile};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_and_two_workers_behind_nginx() {
    if skip("the deployment test").await {
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
    let d = deploy(&fake, public_port, &Options::default()).await;

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
        if w.pid() == pid {
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
