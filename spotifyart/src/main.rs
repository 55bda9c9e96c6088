//! The `spotifyart` binary: the CLI, the hosted API (`serve`, mounting
//! `spotifyart-http`) and its painting workers (`worker`).

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
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
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
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if service {
        logs.json().with_current_span(false).init();
    } else {
        logs.init();
    }
}
