//! Redis (the shared rate limits) killed with SIGKILL and brought back
//! empty after the fault's length. The deployment gets its own Redis on
//! a free port so the machine's keeps serving everyone else.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::catalogue::Window;
use crate::load::Shape;
use crate::support::deployment::Options;
use crate::support::service::free_port;

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(port: u16) -> Redis {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !Command::new("redis-cli")
        .args(["-p", &port.to_string(), "ping"])
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
    {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Redis(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_and_brought_back() {
    let port = free_port();
    let mut redis = Some(start(port));
    let options = Options {
        redis_url: format!("redis://127.0.0.1:{port}"),
        ..Options::default()
    };
    let Some(stage) = crate::stage("the Redis fault", options, Shape::default()).await else {
        return;
    };
    let began = Instant::now();
    drop(redis.take());
    tokio::time::sleep(stage.scale.fault).await;
    redis = Some(start(port));
    let lifted = Instant::now();
    // Back in use: the replicas count in the new Redis again.
    tokio::time::sleep(stage.scale.settle / 2).await;
    let keys = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "dbsize"])
        .output()
        .unwrap();
    let keys: u64 = String::from_utf8_lossy(&keys.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(keys > 0, "the replicas did not use Redis again");
    let fallbacks: usize = stage
        .d
        .replicas
        .iter()
        .map(|(_, p)| {
            std::fs::read_to_string(&p.log)
                .unwrap_or_default()
                .matches("shared rate limiter failed")
                .count()
        })
        .sum();
    let note = format!(
        "Redis down {:.0} s, back empty; meanwhile limits counted per replica \
         ({fallbacks} warnings logged); {keys} limit keys in the new Redis {:.0} s later.",
        (lifted - began).as_secs_f64(),
        (stage.scale.settle / 2).as_secs_f64()
    );
    stage
        .finish(
            "Redis killed and brought back",
            Window { began, lifted },
            &note,
        )
        .await;
    drop(redis);
}
