//! `listenbrainz:USER` and `lastfm:USER` inputs: public listening read by
//! username from ListenBrainz or Last.fm, wherever an export or
//! `spotify:me` is taken.

use std::sync::Arc;

use anyhow::{Context, Result};
use spotifyart_core::{ListeningProfile, MusicSource, Store};
use spotifyart_scrobbles::lastfm::{self, Lastfm, LastfmConfig, LastfmSource};
use spotifyart_scrobbles::listenbrainz::{
    self, ListenBrainz, ListenBrainzConfig, ListenBrainzSource,
};

/// The profile an input names, when it is a scrobble-service input.
pub async fn profile(input: &str) -> Option<Result<ListeningProfile>> {
    if let Some(user) = input.strip_prefix("listenbrainz:") {
        return Some(listenbrainz(user).await);
    }
    if let Some(user) = input.strip_prefix("lastfm:") {
        return Some(lastfm(user).await);
    }
    None
}

async fn listenbrainz(user: &str) -> Result<ListeningProfile> {
    let client = ListenBrainz::new(ListenBrainzConfig::from_env()?)?;
    client
        .profile(user)
        .await
        .with_context(|| format!("cannot read listenbrainz:{user}"))
}

async fn lastfm(user: &str) -> Result<ListeningProfile> {
    let client = Lastfm::new(LastfmConfig::from_env()?)?;
    client
        .profile(user)
        .await
        .with_context(|| format!("cannot read lastfm:{user}"))
}

/// The services a server reads users added by name from: ListenBrainz
/// always (public data), Last.fm when an API key is configured. A
/// misconfiguration is said at start, not at the first user.
pub fn configured() -> spotifyart_http::Scrobbles {
    let listenbrainz = ListenBrainzConfig::from_env()
        .and_then(ListenBrainz::new)
        .map_err(|e| warn_off("ListenBrainz", &e))
        .ok();
    let lastfm = LastfmConfig::from_env()
        .and_then(Lastfm::new)
        .map_err(|e| warn_off("Last.fm", &e))
        .ok();
    spotifyart_http::Scrobbles {
        listenbrainz,
        lastfm,
    }
}

/// Their users as music sources, by provider.
pub fn sources(
    store: &Arc<dyn Store>,
    clients: &spotifyart_http::Scrobbles,
) -> Vec<(&'static str, Arc<dyn MusicSource>)> {
    let mut out: Vec<(&'static str, Arc<dyn MusicSource>)> = Vec::new();
    if let Some(c) = &clients.listenbrainz {
        out.push((
            listenbrainz::PROVIDER,
            Arc::new(ListenBrainzSource::new(c.clone(), store.clone())),
        ));
    }
    if let Some(c) = &clients.lastfm {
        out.push((
            lastfm::PROVIDER,
            Arc::new(LastfmSource::new(c.clone(), store.clone())),
        ));
    }
    out
}

fn warn_off(service: &str, e: &spotifyart_core::Error) {
    tracing::warn!(service, error = %e, "listening source is off");
    say!("warning: {service} users cannot be read: {e}");
}
