//! The `spotifyart serve` process against clients that hold connections
//! without using them: slow headers (slowloris) with the file limit at 256,
//! idle keep-alive connections, and plain-text HTTP/2; and with its Redis
//! gone.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::service::free_port;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `spotifyart serve` with its file limit at 256 (no Spotify app: sign-in
/// off, which these tests do not need).
async fn start(port: u16, dir: &tempfile::TempDir, extra: &[&str]) -> Server {
    let child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_spotifyart"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--model", "tiny", "--device", "cpu", "--workers", "0"])
        .args(extra)
        .env(
            "SPOTIFYART_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("c.db").display()),
        )
        .env_remove("SPOTIFY_CLIENT_ID")
        .env_remove("SPOTIFYART_REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the spotifyart binary starts");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while healthz(port, Duration::from_secs(1)).await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
}

/// `GET /healthz` on a new connection; the time it took.
async fn healthz(port: u16, within: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let attempt = async {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).await.map_err(|e| e.to_string())?;
        if reply.starts_with(b"HTTP/1.1 200") {
            Ok(started.elapsed())
        } else {
            Err(format!("answered {:?}", String::from_utf8_lossy(&reply)))
        }
    };
    tokio::time::timeout(within, attempt)
        .await
        .map_err(|_| format!("no answer within {within:?}"))?
}

/// 300 connections each sending one header line every 4 s, against a
/// process allowed 256 files: before the header timeout they held every
/// descriptor and `/healthz` went unanswered for as long as they kept on.
/// Now they are cut off 10 s after connecting, and a real client is
/// answered within that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_clients_do_not_starve_real_ones() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let _server = start(port, &dir, &[]).await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for i in 0..300 {
        slow.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
                return None;
            };
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
            let opened = Instant::now();
            // Trickle a header every 4 s until the server hangs up.
            for n in 0..15 {
                let mut buf = [0u8; 64];
                match tokio::time::timeout(Duration::from_secs(4), s.read(&mut buf)).await {
                    Ok(Ok(_)) | Ok(Err(_)) => return Some(opened.elapsed()),
                    Err(_) => {
                        if s.write_all(format!("X-{i}-{n}: y\r\n").as_bytes())
                            .await
                            .is_err()
                        {
                            return Some(opened.elapsed());
                        }
                    }
                }
            }
            None
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let took = healthz(port, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("/healthz under the slow clients: {e}"));
    assert!(
        took < Duration::from_secs(14),
        "/healthz took {took:?} under 300 slow clients"
    );
    let mut cut = Vec::new();
    for t in slow {
        if let Some(after) = t.await.unwrap() {
            cut.push(after);
        }
    }
    assert!(
        cut.len() >= 250,
        "only {} slow clients were cut off",
        cut.len()
    );
    let longest = cut.iter().max().unwrap();
    assert!(
        *longest < Duration::from_secs(25),
        "a slow client was held {longest:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// A kept-alive connection is closed once idle for `--idle-timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let _server = start(port, &dir, &["--idle-timeout", "1"]).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Still usable right away (keep-alive)...
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // ...and closed by the server after a second or so of silence.
    let idle = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("the server closes the idle connection")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed, not answered");
    let after = idle.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(3),
        "{after:?}"
    );
}

/// Plain-text HTTP/2 (the h2c preface) is refused: only HTTP/1.1 is served
/// behind the TLS proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_http2_is_not_served() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let _server = start(port, &dir, &[]).await;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut reply)).await;
    // An HTTP/2 server would answer with a SETTINGS frame (type 4).
    let settings = reply.len() >= 9 && reply[3] == 4;
    assert!(!settings, "answered HTTP/2: {reply:?}");
    assert!(
        reply.is_empty() || reply.starts_with(b"HTTP/1.1 "),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    // The server is fine afterwards.
    healthz(port, Duration::from_secs(5)).await.unwrap();
}

/// Started with a Redis that is not there: the server serves, its limits
/// count in this process (the 101st API request is still refused), and the
/// fallback shows in `/metrics` and once in the log, without the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_leaves_the_limits_per_process() {
    let port = free_port();
    let dead = free_port();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_spotifyart"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--model", "tiny", "--device", "cpu", "--workers", "0"])
        .env(
            "SPOTIFYART_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("r.db").display()),
        )
        .env(
            "SPOTIFYART_REDIS_URL",
            format!("redis://:hunter2@127.0.0.1:{dead}"),
        )
        .env_remove("SPOTIFY_CLIENT_ID")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let _server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while healthz(port, Duration::from_secs(1)).await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    spotifyart_spotify::install_crypto_provider();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/me");
    for i in 0..100 {
        let status = client.get(&url).send().await.unwrap().status();
        assert_eq!(status, 401, "request {i}");
    }
    let status = client.get(&url).send().await.unwrap().status();
    assert_eq!(status, 429, "limited by this process's own counts");
    let metrics = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fallbacks: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("spotifyart_rate_limit_fallbacks_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(fallbacks >= 101, "{fallbacks} fallbacks counted");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("shared rate limiter failed"), "{text}");
    assert!(
        !text.contains("hunter2"),
        "the Redis password reached the log"
    );
    let warnings = text.matches("shared rate limiter failed").count();
    assert!(warnings <= 3, "{warnings} warnings: at most one per 10 s");
}
