//! The `spotifyart` binary as a library: the CLI's commands, and the hosted
//! API with its web page and job workers ([`server`]), so tests and other
//! binaries can mount the same service.

#[allow(missing_docs)] // clap derive: the doc comments are the --help text
pub mod cli;
pub mod commands;
pub mod generators;
pub mod moods;
pub mod server;
mod spotify;
