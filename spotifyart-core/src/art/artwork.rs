//! What was painted for whom: the [`Subject`] of a picture, its
//! [`ContentKey`] (so it is painted once) and the stored [`Artwork`].

use std::fmt::{self, Debug};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ArtRequest, GeneratedImage};
use crate::ids::{ArtworkId, MatchId, UserId};
use crate::mood::{Mood, Rgb};
use crate::{Error, Result};

/// Who a picture is of: one person's mood, or two people's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// Subjects are few and short-lived (one per request); boxing the moods would
// only add allocations.
#[allow(clippy::large_enum_variant)]
pub enum Subject {
    /// One person.
    One {
        /// The user, when there is one (the CLI paints anonymous exports).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserId>,
        /// Their mood.
        mood: Mood,
    },
    /// Two people.
    Pair {
        /// The stored match, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        match_id: Option<MatchId>,
        /// The two users, when known.
        #[serde(default)]
        users: Vec<UserId>,
        /// First mood.
        a: Mood,
        /// Second mood.
        b: Mood,
        /// The blended mood.
        blended: Mood,
    },
}

impl Subject {
    /// The users in the picture (who may see it).
    pub fn users(&self) -> Vec<UserId> {
        match self {
            Subject::One { user, .. } => user.iter().copied().collect(),
            Subject::Pair { users, .. } => users.clone(),
        }
    }
    /// The match, for pair pictures of a stored match.
    pub fn match_id(&self) -> Option<MatchId> {
        match self {
            Subject::One { .. } => None,
            Subject::Pair { match_id, .. } => *match_id,
        }
    }
    /// Colour hints for the picture: a mood's palette, or for two people
    /// the blended base and shadow with each person's own base colour, so
    /// both show in the picture.
    pub fn palette(&self) -> Vec<Rgb> {
        match self {
            Subject::One { mood, .. } => mood.palette.iter().map(|s| s.color).collect(),
            Subject::Pair { a, b, blended, .. } => {
                let pick = |m: &Mood, i: usize| m.palette.get(i).map(|s| s.color);
                // Order by mood so (a, b) and (b, a) give the same hints.
                let (x, y) = if (a.valence, a.arousal) <= (b.valence, b.arousal) {
                    (a, b)
                } else {
                    (b, a)
                };
                [
                    pick(blended, 0),
                    pick(x, 0),
                    pick(y, 0),
                    pick(blended, 3),
                    pick(blended, 4),
                ]
                .into_iter()
                .flatten()
                .collect()
            }
        }
    }

    /// The mood the picture shows (the blended one for pairs).
    pub fn mood(&self) -> &Mood {
        match self {
            Subject::One { mood, .. } => mood,
            Subject::Pair { blended, .. } => blended,
        }
    }
}

/// Identity of a picture's content: a SHA-256 over the subjects, their
/// moods, the prompt and every generation parameter including the model.
/// Equal keys mean the same picture, so it is painted once.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentKey(pub String);

impl ContentKey {
    /// Version of the key derivation; bump to repaint everything.
    pub const VERSION: u32 = 1;

    /// The key of `request` painted for `subject`.
    pub fn of(subject: &Subject, request: &ArtRequest) -> ContentKey {
        let q = |x: f32| (x * 1000.0).round() as i64;
        let mood = |m: &Mood| (m.label.as_str(), q(m.valence), q(m.arousal));
        let mut users: Vec<String> = subject.users().iter().map(|u| u.to_string()).collect();
        users.sort();
        let mut moods = match subject {
            Subject::One { mood: m, .. } => vec![mood(m)],
            Subject::Pair { a, b, .. } => vec![mood(a), mood(b)],
        };
        moods.sort();
        let material = serde_json::json!({
            "v": Self::VERSION,
            "users": users,
            "match": subject.match_id().map(|m| m.to_string()),
            "moods": moods,
            "prompt": request.prompt,
            "negative": request.negative_prompt,
            "seed": request.seed,
            "steps": request.steps,
            "guidance": q(request.guidance),
            "width": request.width,
            "height": request.height,
            "model": request.model,
            "palette": request.palette.iter().map(|c| c.hex()).collect::<Vec<_>>(),
        });
        ContentKey(hex::encode(Sha256::digest(material.to_string().as_bytes())))
    }
}

impl fmt::Display for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored picture's metadata (everything but the pixels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtworkMeta {
    /// Id.
    pub id: ArtworkId,
    /// Content identity; unique in the store.
    pub content_key: ContentKey,
    /// Who and what it shows.
    pub subject: Subject,
    /// How it was painted.
    pub request: ArtRequest,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// SHA-256 of the PNG (hex), for ETags and integrity checks.
    pub sha256: String,
    /// PNG size.
    pub bytes: u64,
    /// Painting time.
    pub generation_ms: u64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// A stored picture.
#[derive(Clone, PartialEq)]
pub struct Artwork {
    /// Metadata.
    pub meta: ArtworkMeta,
    /// PNG bytes.
    pub png: Vec<u8>,
}

impl Debug for Artwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Artwork")
            .field("meta", &self.meta)
            .field("png", &format_args!("{} bytes", self.png.len()))
            .finish()
    }
}

impl Artwork {
    /// An artwork from a painted image, with a fresh id and its checksum.
    pub fn new(
        subject: Subject,
        request: ArtRequest,
        image: GeneratedImage,
        generation_ms: u64,
        created_at: DateTime<Utc>,
    ) -> Artwork {
        let content_key = ContentKey::of(&subject, &request);
        Artwork {
            meta: ArtworkMeta {
                id: ArtworkId::new(),
                content_key,
                subject,
                request,
                width: image.width,
                height: image.height,
                sha256: hex::encode(Sha256::digest(&image.png)),
                bytes: image.png.len() as u64,
                generation_ms,
                created_at,
            },
            png: image.png,
        }
    }

    /// Writes the PNG to `path` through a temporary file in the same folder,
    /// so a crash never leaves half a picture where the old one was.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, &self.png).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::art::request::tests::request;

    #[test]
    fn content_key_covers_every_parameter() {
        let subject = Subject::One {
            user: None,
            mood: Mood::new(0.5, 0.5, 1.0, vec![], "t"),
        };
        let base = ContentKey::of(&subject, &request());
        assert_eq!(base, ContentKey::of(&subject, &request()));
        type Change = Box<dyn Fn(&mut ArtRequest)>;
        let variants: Vec<Change> = vec![
            Box::new(|r| r.prompt.push('!')),
            Box::new(|r| r.negative_prompt.push('x')),
            Box::new(|r| r.seed += 1),
            Box::new(|r| r.steps += 1),
            Box::new(|r| r.guidance += 0.5),
            Box::new(|r| r.width += 8),
            Box::new(|r| r.height += 8),
            Box::new(|r| r.model = "sd-turbo".into()),
            Box::new(|r| r.palette.push(Rgb(1, 2, 3))),
        ];
        for change in variants {
            let mut r = request();
            change(&mut r);
            assert_ne!(ContentKey::of(&subject, &r), base, "{r:?}");
        }
        let other_mood = Subject::One {
            user: None,
            mood: Mood::new(0.5, 0.4, 1.0, vec![], "t"),
        };
        assert_ne!(ContentKey::of(&other_mood, &request()), base);
        let other_user = Subject::One {
            user: Some(UserId::new()),
            mood: Mood::new(0.5, 0.5, 1.0, vec![], "t"),
        };
        assert_ne!(ContentKey::of(&other_user, &request()), base);
    }
}
