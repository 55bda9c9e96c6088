//! ListenBrainz as a listening source: public listens and statistics by
//! username, for people a Spotify app in Development Mode cannot reach.
//!
//! A profile's top lists come from ListenBrainz's statistics (`month`,
//! `half_yearly` and `all_time` for SpotifyArt's short, medium and long
//! term), its recent plays and behaviour from the newest listens (paged
//! backwards by `max_ts`, bounded). While ListenBrainz has not calculated a
//! user's statistics (HTTP 204, new users), the top lists are counted from
//! the listens with the export reader's rules and a note says so.
//!
//! - `config`: [`ListenBrainzConfig`] (API URL, optional token, limits);
//! - `client`: [`ListenBrainz`], the calls, the rate-limit rule and the
//!   error mapping;
//! - `wire`: the JSON shapes.

mod client;
mod config;
mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use spotifyart_core::profile::{ListeningProfile, Period};
use spotifyart_core::source::{ExportOptions, account_name, profile_from_plays};
use spotifyart_core::{MusicSource, Result, Store, TimeRange, UserId};
use tracing::Instrument;

pub use client::{ListenBrainz, StatsSpan, rate_limit_rule, stats_range, validate_username};
pub use config::{API_URL, ListenBrainzConfig, MAX_ITEMS_PER_GET};

/// The provider of ListenBrainz accounts in the store (`Account::provider`;
/// the account id is the ListenBrainz username).
pub const PROVIDER: &str = "listenbrainz";

/// `source.kind` of profiles read from ListenBrainz.
pub const SOURCE_KIND: &str = "listenbrainz";

impl ListenBrainz {
    /// `user`'s profile: statistics for the top lists where ListenBrainz
    /// has them, listens for everything else. `NotFound` for an unknown
    /// user; `InvalidInput` for a name that cannot be one.
    pub async fn profile(&self, user: &str) -> Result<ListeningProfile> {
        validate_username(user)?;
        build_profile(self, user)
            .instrument(tracing::info_span!("listenbrainz.profile"))
            .await
    }
}

async fn build_profile(client: &ListenBrainz, user: &str) -> Result<ListeningProfile> {
    let config = client.config();
    // Listens first: an unknown user fails here, before six more calls.
    let plays = client.listens(user).await?;
    let listens = plays.len();
    let options = ExportOptions {
        top_n: config.top_n,
        recent_n: config.recent_n,
        ..ExportOptions::default()
    };
    let mut profile = profile_from_plays(SOURCE_KIND, plays, &options, None)?;

    let [short, medium, long] = TimeRange::ALL;
    let (a_short, a_medium, a_long, t_short, t_medium, t_long) = tokio::try_join!(
        client.top_artists(user, short),
        client.top_artists(user, medium),
        client.top_artists(user, long),
        client.top_recordings(user, short),
        client.top_recordings(user, medium),
        client.top_recordings(user, long),
    )?;
    let artists = [a_short, a_medium, a_long];
    let tracks = [t_short, t_medium, t_long];

    let mut missing = Vec::new();
    let mut used_stats = false;
    for (i, range) in TimeRange::ALL.into_iter().enumerate() {
        match &artists[i] {
            Some((list, _)) => {
                *profile.top_artists.get_mut(range) = list.clone();
                used_stats = true;
            }
            None => missing.push(format!("artists ({})", stats_range(range))),
        }
        match &tracks[i] {
            Some(list) => {
                *profile.top_tracks.get_mut(range) = list.clone();
                used_stats = true;
            }
            None => missing.push(format!("recordings ({})", stats_range(range))),
        }
    }
    // The all-time statistics cover more than the listens read.
    if let Some((_, Some((from, to)))) = &artists[2] {
        profile.period = Some(match profile.period {
            Some(p) => Period {
                from: p.from.min(*from),
                to: p.to.max(*to),
            },
            None => Period {
                from: *from,
                to: *to,
            },
        });
    }

    let mut formats = Vec::new();
    if used_stats {
        formats.push("statistics".to_string());
    }
    formats.push("listens".to_string());
    profile.source.formats = formats;
    if !used_stats {
        profile.source.notes.push(format!(
            "ListenBrainz statistics were not calculated yet for this user (new users wait up \
             to a day); top lists are counted from their last {listens} listens"
        ));
    } else if !missing.is_empty() {
        profile.source.notes.push(format!(
            "ListenBrainz statistics not calculated yet for {}; those top lists are counted \
             from the last {listens} listens",
            missing.join(", ")
        ));
    }
    profile.source.fetched_at = Some(Utc::now());
    profile.normalize()?;
    tracing::info!(
        listens,
        statistics = used_stats,
        signals = ?profile.signals,
        "listenbrainz profile built"
    );
    Ok(profile)
}

/// Reads each user's listening from ListenBrainz under the username of
/// their `listenbrainz` account in the store.
#[derive(Clone, Debug)]
pub struct ListenBrainzSource {
    client: ListenBrainz,
    store: Arc<dyn Store>,
}

impl ListenBrainzSource {
    /// A source reading through `client` the users whose ListenBrainz
    /// accounts are in `store`.
    pub fn new(client: ListenBrainz, store: Arc<dyn Store>) -> Self {
        Self { client, store }
    }

    /// The client it reads with.
    pub fn client(&self) -> &ListenBrainz {
        &self.client
    }
}

#[async_trait]
impl MusicSource for ListenBrainzSource {
    fn name(&self) -> &str {
        SOURCE_KIND
    }

    async fn profile(&self, user: UserId) -> Result<ListeningProfile> {
        let name = account_name(&*self.store, user, PROVIDER).await?;
        self.client.profile(&name).await
    }
}
