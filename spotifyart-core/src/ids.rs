//! Typed identifiers, so a match id can never be passed where a user id is
//! expected. UUIDv7: time-ordered, which keeps database indexes compact.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Error;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| Error::invalid(format!("{} id {s:?} is not a UUID", $what)))
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

id_type!(
    /// A SpotifyArt user.
    UserId,
    "user"
);
id_type!(
    /// A match between two users.
    MatchId,
    "match"
);
id_type!(
    /// A stored artwork.
    ArtworkId,
    "artwork"
);
id_type!(
    /// A queued generation job.
    JobId,
    "job"
);
id_type!(
    /// A user's recurring playlist task.
    ScheduleId,
    "schedule"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trip_and_clear_error() {
        let id = UserId::new();
        assert_eq!(id.to_string().parse::<UserId>().unwrap(), id);
        let err = "nope".parse::<MatchId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid input: match id \"nope\" is not a UUID"
        );
    }
}
