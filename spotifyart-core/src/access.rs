//! Who may see what. A user sees the matches they are in, the artworks
//! that show them, and the jobs they asked for or that paint them; to
//! anyone else each is `NotFound`, exactly as if it did not exist, so no
//! id leaks another person's activity. The engine applies these for
//! stored lookups ([`crate::Engine::match_for`],
//! [`crate::Engine::job_for`]); a server that caches artworks applies
//! [`may_see_artwork`] to what it serves.

use crate::art::{ArtworkMeta, Subject};
use crate::ids::UserId;
use crate::store::{Job, MatchRecord};

/// Whether `user` is one of the match's two people.
pub fn may_see_match(record: &MatchRecord, user: UserId) -> bool {
    record.users.contains(&user)
}

/// Whether `user` asked for the job or is in the picture it paints.
pub fn may_see_job(job: &Job, user: UserId) -> bool {
    job.owner == Some(user) || job.spec.subject.users().contains(&user)
}

/// Whether `user` is in the picture. A picture of no one in particular
/// (an anonymous mood, a prompt) is no user's.
pub fn may_see_artwork(meta: &ArtworkMeta, user: UserId) -> bool {
    match &meta.subject {
        Subject::One { user: u, .. } => *u == Some(user),
        pair @ Subject::Pair { .. } => pair.users().contains(&user),
    }
}
