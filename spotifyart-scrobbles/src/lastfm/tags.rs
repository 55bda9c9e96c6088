//! Last.fm tags as genres. Tags are free text listeners give an artist, so
//! next to "trip-hop" and "shoegaze" stand "seen live", "favorites",
//! "female vocalists", "80s" and the artist's own name; the mood models
//! read `genres` as genre names (the `genres` model looks them up in its
//! table of Spotify's genre names), so only tags that can be genres are
//! kept, spelled as that table spells them where Last.fm's usual spelling
//! differs.

use spotifyart_core::names::normalize_name;

/// Genres kept per artist: the strongest tags say the most, and a long
/// tail of weak tags would blur an artist's genre mean.
pub const MAX_GENRES: usize = 5;

/// Tags weaker than this share of the artist's top tag are dropped (Last.fm
/// scales the top tag to 100).
const MIN_SHARE: f32 = 0.1;

/// Tags that say something about the listener, the voice, the place or the
/// era, not the genre.
const NOT_GENRES: &[&str] = &[
    "seen live",
    "live",
    "favorites",
    "favourites",
    "favorite",
    "favourite",
    "my favorite",
    "my favourite",
    "favorite artists",
    "favourite artists",
    "favorite bands",
    "favourite bands",
    "love",
    "loved",
    "love it",
    "beautiful",
    "awesome",
    "amazing",
    "cool",
    "good",
    "great",
    "best",
    "fun",
    "epic",
    "genius",
    "sexy",
    "check out",
    "albums i own",
    "spotify",
    "under 2000 listeners",
    "music",
    "all",
    "female vocalists",
    "female vocalist",
    "female vocals",
    "female",
    "male vocalists",
    "male vocalist",
    "male vocals",
    "vocal",
    "vocalists",
    "singer",
    "band",
    "american",
    "british",
    "english",
    "uk",
    "usa",
    "us",
    "canadian",
    "australian",
    "irish",
    "scottish",
    "german",
    "french",
    "swedish",
    "norwegian",
    "finnish",
    "icelandic",
    "dutch",
    "italian",
    "spanish",
    "japanese",
    "korean",
    "brazilian",
];

/// Last.fm spellings of genres the mood table (Spotify's genre names)
/// spells otherwise.
const ALIASES: &[(&str, &str)] = &[
    ("hip-hop", "hip hop"),
    ("hiphop", "hip hop"),
    ("trip-hop", "trip hop"),
    ("triphop", "trip hop"),
    ("synth-pop", "synthpop"),
    ("synth pop", "synthpop"),
    ("rnb", "r&b"),
    ("r'n'b", "r&b"),
    ("r and b", "r&b"),
    ("rhythm and blues", "r&b"),
    ("drum n bass", "drum and bass"),
    ("drum & bass", "drum and bass"),
    ("drum'n'bass", "drum and bass"),
    ("dnb", "drum and bass"),
    ("post rock", "post-rock"),
    ("postrock", "post-rock"),
    ("post punk", "post-punk"),
    ("postpunk", "post-punk"),
    ("singer songwriter", "singer-songwriter"),
    ("singer/songwriter", "singer-songwriter"),
    ("lofi", "lo-fi"),
    ("lo fi", "lo-fi"),
    ("kpop", "k-pop"),
    ("k pop", "k-pop"),
    ("jpop", "j-pop"),
    ("j pop", "j-pop"),
    ("dreampop", "dream pop"),
    ("dream-pop", "dream pop"),
    ("new-wave", "new wave"),
    ("alt-country", "alternative country"),
    ("electro-pop", "electropop"),
    ("neo-soul", "neo soul"),
    ("nu-metal", "nu metal"),
];

/// The genres among an artist's `tags` (name, weight; strongest first or
/// not): lowercased, spaces collapsed, non-genre tags, years and decades,
/// the artist's own name and weak tags dropped, Last.fm spellings mapped to
/// the mood table's, each once, strongest first, at most [`MAX_GENRES`].
pub fn genres_from_tags(artist: &str, tags: &[(String, u64)]) -> Vec<String> {
    let top = tags.iter().map(|(_, c)| *c).max().unwrap_or(0);
    let mut ranked: Vec<&(String, u64)> = tags.iter().collect();
    ranked.sort_by_key(|t| std::cmp::Reverse(t.1));
    let own_name = normalize_name(artist);
    let mut out: Vec<String> = Vec::new();
    for (tag, count) in ranked {
        if top > 0 && (*count as f32) < MIN_SHARE * top as f32 {
            break;
        }
        let Some(genre) = genre(tag) else { continue };
        if normalize_name(&genre) == own_name || out.contains(&genre) {
            continue;
        }
        out.push(genre);
        if out.len() == MAX_GENRES {
            break;
        }
    }
    out
}

/// One tag as a genre name, or `None` when it is not one.
fn genre(tag: &str) -> Option<String> {
    let tag = tag
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if tag.chars().count() < 2 || tag.chars().count() > 40 || NOT_GENRES.contains(&tag.as_str()) {
        return None;
    }
    if is_era(&tag) || tag.contains("favo") || tag.contains("seen") || tag.contains("http") {
        return None;
    }
    Some(
        ALIASES
            .iter()
            .find(|(from, _)| *from == tag)
            .map_or(tag, |(_, to)| (*to).to_string()),
    )
}

/// Years and decades: "1994", "80s", "1980s", "'90s", "00s".
fn is_era(tag: &str) -> bool {
    let t = tag.trim_start_matches('\'');
    let digits = t.strip_suffix('s').unwrap_or(t);
    !digits.is_empty() && digits.len() <= 4 && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[(&str, u64)]) -> Vec<(String, u64)> {
        list.iter().map(|(t, c)| (t.to_string(), *c)).collect()
    }

    #[test]
    fn keeps_genres_drops_the_rest() {
        let got = genres_from_tags(
            "Portishead",
            &tags(&[
                ("trip-hop", 100),
                ("electronic", 60),
                ("seen live", 40),
                ("female vocalists", 35),
                ("Trip Hop", 30),
                ("90s", 20),
                ("1994", 15),
                ("Portishead", 12),
                ("British", 11),
                ("My Favourites", 11),
                ("chillout", 10),
                ("downtempo", 9),
            ]),
        );
        assert_eq!(got, vec!["trip hop", "electronic", "chillout"]);
    }

    /// Every alias leads to a genre the `genres` mood model can look up.
    #[test]
    fn aliases_name_genres_of_the_mood_table() {
        let table = spotifyart_core::mood::Knowledge::builtin();
        for (from, to) in ALIASES {
            assert!(table.genre(to).is_some(), "{from} -> {to}");
        }
    }

    #[test]
    fn at_most_five_and_none_without_tags() {
        let many: Vec<(String, u64)> = (0..10).map(|i| (format!("genre{i}x"), 100 - i)).collect();
        assert_eq!(genres_from_tags("x", &many).len(), MAX_GENRES);
        assert!(genres_from_tags("x", &[]).is_empty());
        assert_eq!(
            genres_from_tags("x", &tags(&[("Hip-Hop", 0)])),
            vec!["hip hop"]
        );
    }
}
