//! Helpers shared by the CLI and service tests.

#![allow(dead_code)]

pub mod deployment;
pub mod harness;
pub mod service;

use std::process::Output;

/// The stdout of a run that must have succeeded; on failure, everything it
/// printed.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}
