//! # spotifyart-scrobbles
//!
//! Listening from the services people already scrobble to, for those a
//! Spotify app in Development Mode cannot reach: ListenBrainz (open, public
//! listens and statistics; a user token optional) and Last.fm (an API key,
//! public profiles). Each is a `MusicSource` that builds the same
//! `ListeningProfile` the other sources do, through the shared resilient
//! client (`spotifyart-upstream`) with its service's rate-limit contract.
//! See docs/sources.md.

pub mod lastfm;
pub mod listenbrainz;

#[cfg(feature = "fake")]
pub mod fake;
