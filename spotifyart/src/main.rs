//! The `spotifyart` binary: the CLI, the hosted API (`serve`, mounting
//! `spotifyart-http`) and its painting workers (`worker`).

/// `eprintln!` for the binary's messages to a person, except that an
/// unwritable stderr (a full disk under a redirected log, a closed pipe)
/// drops the line instead of panicking: a worker told to stop must still
/// finish its jobs, whatever happened to its terminal.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

#[allow(missing_docs)] // clap derive: the doc comments are the --help text
mod cli;
mod commands;
mod login;
mod paint;
mod scrobbles;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_logging(args.verbose, args.command.is_service());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            say!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async {
        survive_file_size_limit();
        commands::run(args).await
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A write past the file-size limit (`ulimit -f`, `RLIMIT_FSIZE`) raises
/// SIGXFSZ, whose default action kills the process: one SQLite write
/// would take the whole service down. With a handler installed (tokio's,
/// which needs no unsafe code and stays for the life of the process) the
/// write fails with EFBIG instead, SQLite reports an I/O error, that
/// request gets a 503, and writes succeed again once the limit is raised.
/// Each such signal is logged (at most every 10 seconds).
fn survive_file_size_limit() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::from_raw(libc::SIGXFSZ)) {
            Ok(mut xfsz) => {
                tokio::spawn(async move {
                    let mut warned: Option<std::time::Instant> = None;
                    while xfsz.recv().await.is_some() {
                        if warned.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(10))
                        {
                            warned = Some(std::time::Instant::now());
                            tracing::warn!(
                                "a write went past the file-size limit (SIGXFSZ, `ulimit -f`); it failed with EFBIG"
                            );
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot catch SIGXFSZ; a write past `ulimit -f` will end the process")
            }
        }
    }
}

/// Logs go to stderr so stdout stays clean JSON. `SPOTIFYART_LOG` (or
/// `RUST_LOG`) overrides the level chosen by `-v`. The service commands log
/// JSON lines at info (one per request), for log collectors.
fn init_logging(verbose: u8, service: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (verbose, service) {
        (0, false) => "warn",
        (0, true) | (1, _) => "info",
        _ => "debug",
    };
    let filter = std::env::var("SPOTIFYART_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(EnvFilter::new)
        .unwrap_or_else(|_| EnvFilter::new(default));
    // A log line that cannot be written (the log's disk full, or past
    // `ulimit -f`) is dropped: by default tracing-subscriber reports it
    // with `eprintln!`, which panics when stderr fails the same way, and
    // the panic took down the request being logged (an empty reply).
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    if service {
        logs.json().with_current_span(false).init();
    } else {
        logs.init();
    }
}
