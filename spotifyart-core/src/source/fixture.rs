//! Profiles held in memory: for tests, demos, and callers that already have
//! a profile (a `profile.json`) and want the Engine's user-based calls.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;

use super::MusicSource;
use crate::ids::UserId;
use crate::profile::ListeningProfile;
use crate::{Error, Result};

/// See the module docs.
#[derive(Debug, Default)]
pub struct FixtureSource {
    profiles: RwLock<HashMap<UserId, ListeningProfile>>,
}

impl FixtureSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `user`'s profile (normalising it first).
    pub fn insert(&self, user: UserId, mut profile: ListeningProfile) -> Result<()> {
        profile.normalize()?;
        self.profiles
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user, profile);
        Ok(())
    }
}

#[async_trait]
impl MusicSource for FixtureSource {
    fn name(&self) -> &str {
        "fixture"
    }

    async fn profile(&self, user: UserId) -> Result<ListeningProfile> {
        self.profiles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&user)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("profile of user {user}")))
    }
}
