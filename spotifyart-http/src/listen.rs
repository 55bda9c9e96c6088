//! Serving connections: HTTP/1.1 on hyper with the bounds hostile clients
//! need ([`super::ConnectionLimits`]): a header-read timeout (slow-header
//! clients), an idle keep-alive timeout, a bound on connections served at
//! once (below the process's file limit, so accepting never fails for lack
//! of descriptors), and a grace period after which a closing connection is
//! dropped (slow readers).
//!
//! Plain-text HTTP/2 (h2c) is not served: browsers speak HTTP/2 only over
//! TLS, which the proxy in front terminates (and talks HTTP/1.1 to us), and
//! h2c would open a second protocol's attack surface (stream floods, rapid
//! reset) that nothing here needs.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use warp::reply::Response;

use super::{AppState, ConnectionLimits, app};

/// The client's socket address, put on every request by [`serve_on`]
/// (read by `filters::client_ip`).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// A closing connection gets this long to finish its response.
const CLOSE_GRACE: Duration = Duration::from_secs(30);
/// On shutdown, requests in flight get this long.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Descriptors kept free for the database, Redis, logs and the listener.
const RESERVED_FDS: u64 = 64;

/// Serves `state` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish (up to 30 s).
pub async fn serve_on(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config().connections;
    let max = connection_budget(limits.max_connections);
    tracing::info!(
        addr = %listener.local_addr()?,
        public_url = %state.config().public_url,
        max_connections = max,
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        idle_timeout_s = limits.idle_timeout.as_secs_f64(),
        "serving"
    );
    let service = warp::service(app(state));
    let slots = Arc::new(Semaphore::new(max));
    // Tells every connection to finish its request and close.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (service, stop) = (service.clone(), stop.clone());
        tokio::spawn(async move {
            connection(stream, peer, service, limits, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
    Ok(())
}

/// Connections this process can serve: `wanted`, raising the soft file
/// limit to the hard one where that helps, and never more than the limit
/// allows with descriptors to spare.
fn connection_budget(wanted: usize) -> usize {
    let wanted = wanted.max(1) as u64;
    let limit = rlimit::increase_nofile_limit(wanted + RESERVED_FDS).unwrap_or(u64::MAX);
    let budget = wanted.min(limit.saturating_sub(RESERVED_FDS).max(1));
    if budget < wanted {
        tracing::warn!(
            wanted,
            budget,
            file_limit = limit,
            "the file limit allows fewer connections than configured; raise `ulimit -n`"
        );
    }
    usize::try_from(budget).unwrap_or(usize::MAX)
}

/// Accept errors are the network's (a client that reset) or the process's
/// (out of descriptors or memory): the latter pause accepting briefly.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; pausing 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// What a connection's requests tell its idle timer.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    served: AtomicUsize,
    /// Milliseconds after `opened` of the last response.
    last: AtomicU64,
}

async fn connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    service: S,
    limits: ConnectionLimits,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    S: tower_service::Service<
            hyper::Request<Incoming>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static,
{
    let _ = stream.set_nodelay(true);
    let opened = Instant::now();
    let activity = Arc::new(Activity::default());
    let hyper_service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(Peer(peer));
            activity.in_flight.fetch_add(1, Ordering::SeqCst);
            let response = service.clone().call(request);
            let activity = activity.clone();
            async move {
                let response = response.await;
                activity.served.fetch_add(1, Ordering::SeqCst);
                let at = u64::try_from(opened.elapsed().as_millis()).unwrap_or(u64::MAX);
                activity.last.store(at, Ordering::SeqCst);
                activity.in_flight.fetch_sub(1, Ordering::SeqCst);
                response
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), hyper_service);
    let mut conn = std::pin::pin!(conn);
    // Idle connections close between one and one and a quarter idle
    // timeouts after their last response.
    let tick = (limits.idle_timeout / 4).max(Duration::from_millis(50));
    let mut check = tokio::time::Instant::now() + tick;
    let mut closing: Option<tokio::time::Instant> = None;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            _ = stop.wait_for(|stop| *stop), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(tokio::time::Instant::now() + CLOSE_GRACE);
            }
            () = tokio::time::sleep_until(check), if closing.is_none() => {
                let idle_since = opened
                    + Duration::from_millis(activity.last.load(Ordering::SeqCst));
                let idle = activity.in_flight.load(Ordering::SeqCst) == 0
                    && activity.served.load(Ordering::SeqCst) > 0
                    && idle_since.elapsed() >= limits.idle_timeout;
                if idle {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(tokio::time::Instant::now() + CLOSE_GRACE);
                } else {
                    check = tokio::time::Instant::now() + tick;
                }
            }
            () = sleep_until_opt(closing) => {
                tracing::debug!(%peer, "connection did not finish closing; dropped");
                return;
            }
        }
    };
    if let Err(e) = result {
        // Timeouts, resets and malformed requests: the client's doing.
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
