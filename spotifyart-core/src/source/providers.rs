//! Users whose listening lives at different providers: a Spotify sign-in,
//! a ListenBrainz or Last.fm user added by name. Each user's accounts (in
//! the store) say where to read them.

use std::sync::Arc;

use async_trait::async_trait;

use super::MusicSource;
use crate::ids::UserId;
use crate::profile::ListeningProfile;
use crate::store::Store;
use crate::{Error, Result};

/// The name `user` has at `provider` (their account id there): how a
/// source that reads public listening by username finds whom to read.
/// `NotFound` when they have no account there.
pub async fn account_name(store: &dyn Store, user: UserId, provider: &str) -> Result<String> {
    store
        .accounts(user)
        .await?
        .into_iter()
        .find(|a| a.provider == provider)
        .map(|a| a.account_id)
        .ok_or_else(|| Error::not_found(format!("a {provider} account of this user")))
}

/// Reads each user with the source of their account's provider (the first
/// account, in the order the sources were added, that has one).
#[derive(Debug)]
pub struct ByProvider {
    store: Arc<dyn Store>,
    sources: Vec<(String, Arc<dyn MusicSource>)>,
}

impl ByProvider {
    /// No providers yet.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            sources: Vec::new(),
        }
    }

    /// Users with a `provider` account are read by `source`.
    pub fn with(mut self, provider: &str, source: Arc<dyn MusicSource>) -> Self {
        self.sources.push((provider.to_string(), source));
        self
    }

    async fn source_of(&self, user: UserId) -> Result<&Arc<dyn MusicSource>> {
        let accounts = self.store.accounts(user).await?;
        self.sources
            .iter()
            .find(|(p, _)| accounts.iter().any(|a| &a.provider == p))
            .map(|(_, s)| s)
            .ok_or_else(|| Error::not_found("listening of this user"))
    }
}

#[async_trait]
impl MusicSource for ByProvider {
    fn name(&self) -> &str {
        "by_provider"
    }

    async fn profile(&self, user: UserId) -> Result<ListeningProfile> {
        self.source_of(user).await?.profile(user).await
    }

    async fn fresh_profile(&self, user: UserId) -> Result<ListeningProfile> {
        self.source_of(user).await?.fresh_profile(user).await
    }
}
