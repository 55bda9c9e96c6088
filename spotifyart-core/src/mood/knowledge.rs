//! Offline music knowledge: which genres an artist plays and where artists
//! and genres sit on Spotify's measured valence/energy scales, built by
//! `spotifyart-core/data/build_knowledge.py` from a public dataset of
//! Spotify audio-feature aggregates (docs/models.md has the source, its
//! terms and the split). New Spotify apps get neither audio features nor
//! genres any more; a name is enough to look both up here.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, OnceLock};

use crate::names::normalize_name;
use crate::{Error, Result};

const ARTISTS_GZ: &[u8] = include_bytes!("../../data/artists.tsv.gz");
const GENRES_GZ: &[u8] = include_bytes!("../../data/genres.tsv.gz");

/// What the table knows about one artist.
#[derive(Clone, Debug, PartialEq)]
pub struct ArtistFacts {
    /// Name as Spotify spells it.
    pub name: String,
    /// Mean measured valence and energy over the artist's tracks, in
    /// Spotify's [0, 1]; `None` where withheld (evaluation).
    pub measured: Option<(f32, f32)>,
    /// Tracks behind the means.
    pub tracks: u32,
    /// Indices into [`Knowledge::genre_at`].
    pub genres: Vec<u16>,
}

/// One genre's mean over the artists that built the table.
#[derive(Clone, Debug, PartialEq)]
pub struct GenreFacts {
    /// Spotify's genre name (lower case).
    pub name: String,
    /// Track-weighted mean valence and energy, in [0, 1]; `None` when no
    /// training artist carries the genre.
    pub point: Option<(f32, f32)>,
    /// Tracks behind the mean.
    pub tracks: u32,
}

/// Artist and genre tables with name matching.
#[derive(Clone, Debug, Default)]
pub struct Knowledge {
    artists: Vec<ArtistFacts>,
    by_name: HashMap<String, usize>,
    genres: Vec<GenreFacts>,
    genre_by_name: HashMap<String, usize>,
}

/// Separators of multi-artist strings ("A feat. B", "A, B", "A x B").
const SEPARATORS: [&str; 9] = [
    " feat. ",
    " feat ",
    " ft. ",
    " featuring ",
    " with ",
    ", ",
    " x ",
    " & ",
    " and ",
];

impl Knowledge {
    /// The tables shipped with the crate, decoded on first use.
    pub fn builtin() -> Arc<Knowledge> {
        static BUILTIN: OnceLock<Arc<Knowledge>> = OnceLock::new();
        let k = BUILTIN.get_or_init(|| {
            let gunzip = |bytes: &[u8]| {
                let mut text = String::new();
                flate2::read::GzDecoder::new(bytes)
                    .read_to_string(&mut text)
                    .map(|_| text)
            };
            // Both are compiled in and covered by tests: failing here is
            // a broken build, not bad input.
            let (artists, genres) = (gunzip(ARTISTS_GZ), gunzip(GENRES_GZ));
            match (artists, genres) {
                (Ok(a), Ok(g)) => Knowledge::parse(&a, &g).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "built-in music knowledge is corrupt");
                    Knowledge::default()
                }),
                _ => {
                    tracing::error!("built-in music knowledge does not decompress");
                    Knowledge::default()
                }
            }
            .into()
        });
        Arc::clone(k)
    }

    /// Tables from their TSV text (the build script's format): artists
    /// `name, valence, energy, tracks, genre ids`; genres `name, valence,
    /// energy, tracks, artists` (empty valence/energy: no measurement).
    pub fn parse(artists_tsv: &str, genres_tsv: &str) -> Result<Knowledge> {
        let bad = |what: &str, line: usize, row: &str| {
            Error::invalid(format!(
                "{what} table line {}: cannot read {row:?}",
                line + 1
            ))
        };
        let mut genres = Vec::new();
        for (i, row) in genres_tsv.lines().enumerate() {
            let f: Vec<&str> = row.split('\t').collect();
            let [name, v, e, tracks, _artists] = f[..] else {
                return Err(bad("genre", i, row));
            };
            let point = match (v, e) {
                ("", "") => None,
                _ => Some((unit(v).ok_or_else(|| bad("genre", i, row))?, {
                    unit(e).ok_or_else(|| bad("genre", i, row))?
                })),
            };
            genres.push(GenreFacts {
                name: name.to_string(),
                point,
                tracks: tracks.parse().map_err(|_| bad("genre", i, row))?,
            });
        }
        let mut artists = Vec::new();
        for (i, row) in artists_tsv.lines().enumerate() {
            let f: Vec<&str> = row.split('\t').collect();
            let [name, v, e, tracks, ids] = f[..] else {
                return Err(bad("artist", i, row));
            };
            let genre_ids = if ids.is_empty() {
                Vec::new()
            } else {
                ids.split(',')
                    .map(|id| {
                        id.parse::<u16>()
                            .ok()
                            .filter(|&g| (g as usize) < genres.len())
                    })
                    .collect::<Option<Vec<u16>>>()
                    .ok_or_else(|| bad("artist", i, row))?
            };
            artists.push(ArtistFacts {
                name: name.to_string(),
                measured: Some((
                    unit(v).ok_or_else(|| bad("artist", i, row))?,
                    unit(e).ok_or_else(|| bad("artist", i, row))?,
                )),
                tracks: tracks.parse().map_err(|_| bad("artist", i, row))?,
                genres: genre_ids,
            });
        }
        Ok(Knowledge::from_parts(artists, genres))
    }

    /// Tables from rows (evaluation builds them from a split).
    pub fn from_parts(artists: Vec<ArtistFacts>, genres: Vec<GenreFacts>) -> Knowledge {
        let mut by_name: HashMap<String, usize> = HashMap::with_capacity(artists.len());
        for (i, a) in artists.iter().enumerate() {
            let key = normalize_name(&a.name);
            if key.is_empty() {
                continue;
            }
            // Two spellings that normalise alike: the better-measured wins.
            match by_name.get(&key) {
                Some(&j) if artists[j].tracks >= a.tracks => {}
                _ => {
                    by_name.insert(key, i);
                }
            }
        }
        let genre_by_name = genres
            .iter()
            .enumerate()
            .map(|(i, g)| (g.name.to_lowercase(), i))
            .collect();
        Knowledge {
            artists,
            by_name,
            genres,
            genre_by_name,
        }
    }

    /// Every artist row.
    pub fn artists(&self) -> &[ArtistFacts] {
        &self.artists
    }

    /// Every genre row.
    pub fn genres(&self) -> &[GenreFacts] {
        &self.genres
    }

    /// The genre with index `id` (from [`ArtistFacts::genres`]).
    pub fn genre_at(&self, id: u16) -> Option<&GenreFacts> {
        self.genres.get(id as usize)
    }

    /// A genre by name, case-insensitively.
    pub fn genre(&self, name: &str) -> Option<&GenreFacts> {
        self.genre_by_name
            .get(&name.trim().to_lowercase())
            .map(|&i| &self.genres[i])
    }

    /// The artists a credit names: the whole string when it is a known
    /// artist ("Simon & Garfunkel"), otherwise each known part of a
    /// multi-artist string ("Calvin Harris feat. Rihanna", "A, B & C").
    /// Matching ignores case, diacritics and a leading "The".
    pub fn artists_in(&self, credit: &str) -> Vec<&ArtistFacts> {
        if let Some(a) = self.artist(credit) {
            return vec![a];
        }
        let mut parts = vec![credit.to_string()];
        for sep in SEPARATORS {
            parts = parts
                .iter()
                .flat_map(|p| split_ci(p, sep))
                .collect::<Vec<_>>();
        }
        let mut found: Vec<&ArtistFacts> = Vec::new();
        for part in parts {
            if let Some(a) = self.artist(&part)
                && !found.iter().any(|f| std::ptr::eq(*f, a))
            {
                found.push(a);
            }
        }
        found
    }

    /// One artist by exact (normalised) name.
    pub fn artist(&self, name: &str) -> Option<&ArtistFacts> {
        self.by_name
            .get(&normalize_name(name))
            .map(|&i| &self.artists[i])
    }

    /// The same tables with the measured means of the artists `hide`
    /// selects removed (their genres stay known): how the evaluation asks
    /// what the model would say about an artist it has never measured.
    pub fn without_measurements(&self, hide: impl Fn(&ArtistFacts) -> bool) -> Knowledge {
        let mut out = self.clone();
        for a in &mut out.artists {
            if hide(a) {
                a.measured = None;
            }
        }
        out
    }
}

fn unit(s: &str) -> Option<f32> {
    s.parse::<f32>()
        .ok()
        .filter(|x| x.is_finite() && (0.0..=1.0).contains(x))
}

/// `s` split on `sep`, ignoring ASCII case.
fn split_ci(s: &str, sep: &str) -> Vec<String> {
    let lower = s.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(at) = lower[start..].find(sep) {
        out.push(s[start..start + at].trim().to_string());
        start += at + sep.len();
    }
    out.push(s[start..].trim().to_string());
    out.retain(|p| !p.is_empty());
    out
}

/// 32-bit FNV-1a of the name's UTF-8 bytes; the build script uses the same
/// function to hold out a fifth of the artists.
pub fn held_out(name: &str) -> bool {
    fnv1a32(FNV1A32_START, name.as_bytes()).is_multiple_of(5)
}

/// FNV-1a's 32-bit offset basis: the state before any byte.
pub(crate) const FNV1A32_START: u32 = 0x811c_9dc5;

/// FNV-1a (32 bits) continued from `h` over `bytes`: fixed by its spec, so
/// the Python build script and the Rust code agree on it.
pub(crate) fn fnv1a32(h: u32, bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_load_and_match_names() {
        let t = std::time::Instant::now();
        let k = Knowledge::builtin();
        let took = t.elapsed();
        assert!(k.artists().len() > 28_000, "{}", k.artists().len());
        assert!(k.genres().len() > 2_900);
        eprintln!("built-in knowledge decoded in {took:?}");
        let cure = k.artist("the cure").expect("The Cure");
        assert_eq!(cure.name, "The Cure");
        assert_eq!(k.artist("CURE").map(|a| &a.name), Some(&cure.name));
        assert_eq!(k.artist("Bjork").map(|a| a.name.as_str()), Some("Björk"));
        assert!(
            cure.genres
                .iter()
                .filter_map(|&g| k.genre_at(g))
                .any(|g| g.name.contains("new wave"))
        );
        // Multi-artist credits fall back to their known parts.
        let both = k.artists_in("Calvin Harris feat. Rihanna");
        let names: Vec<&str> = both.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Calvin Harris", "Rihanna"]);
        let trio = k.artists_in("Daft Punk, Pharrell Williams & Nile Rodgers");
        assert_eq!(trio.len(), 3, "{trio:?}");
        // A known duo is itself, not its parts.
        let duo = k.artists_in("Simon & Garfunkel");
        assert_eq!(duo.len(), 1);
        assert_eq!(duo[0].name, "Simon & Garfunkel");
        assert!(k.artists_in("Nobody Anyone Knows 12345").is_empty());
        assert!(k.genre("Sad Rap").is_some());
    }

    #[test]
    fn bad_rows_are_refused_with_their_line() {
        let genres = "pop\t0.6\t0.7\t10\t3\n";
        assert!(Knowledge::parse("A\t0.5\t0.5\t3\t0\n", genres).is_ok());
        for bad in [
            "A\t0.5\t0.5\t3\n",
            "A\t1.5\t0.5\t3\t0\n",
            "A\tx\t0.5\t3\t0\n",
            "A\t0.5\t0.5\t3\t7\n",
        ] {
            let err = Knowledge::parse(bad, genres).unwrap_err().to_string();
            assert!(err.contains("artist table line 1"), "{err}");
        }
        let err = Knowledge::parse("", "pop\t0.6\n").unwrap_err().to_string();
        assert!(err.contains("genre table line 1"), "{err}");
    }

    #[test]
    fn withheld_measurements_keep_genres() {
        let k = Knowledge::builtin().without_measurements(|a| a.name == "The Cure");
        let cure = k.artist("The Cure").unwrap();
        assert!(cure.measured.is_none() && !cure.genres.is_empty());
        assert!(k.artist("Rihanna").unwrap().measured.is_some());
    }

    #[test]
    fn split_matches_the_build_script() {
        // As build_knowledge.py's held_out() decides them.
        let held: Vec<bool> = ["The Cure", "Rihanna", "Björk", "ABBA"]
            .iter()
            .map(|n| held_out(n))
            .collect();
        assert_eq!(held, [false, true, false, false]);
    }
}
