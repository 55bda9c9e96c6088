//! Name normalisation, so "Björk", "BJORK" and "björk " are one artist and
//! "The Cure" matches "Cure". Used for aggregation keys and for matching two
//! people's artists; display always keeps the original spelling.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A comparison key for an artist or track name: case-folded, without
/// diacritics, punctuation or a leading "the", `&` read as "and".
/// Non-Latin letters are kept as they are (no transliteration).
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c == '&' || c == '+' {
            push_word(&mut out, &mut pending_space, "and");
            pending_space = true;
        } else if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else if c == '\'' || c == '’' || c == '.' {
            // "Guns N' Roses", "R.E.M." keep their letters together.
        } else {
            pending_space = true;
        }
    }
    match out.strip_prefix("the ") {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => out,
    }
}

fn push_word(out: &mut String, pending_space: &mut bool, word: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(word);
    *pending_space = false;
}

/// A comparison key for a track title: [`normalize_name`] after dropping
/// featuring credits and remaster/edition suffixes, which Spotify adds to
/// re-releases of the same recording.
pub fn normalize_title(title: &str) -> String {
    let mut t = title.to_string();
    // "Song (feat. X)", "Song [with X]"
    for (open, close) in [('(', ')'), ('[', ']')] {
        while let Some(start) = t.find(open) {
            let Some(len) = t[start..].find(close) else {
                break;
            };
            let inner = t[start + 1..start + len].to_lowercase();
            if is_credit_or_edition(&inner) {
                t.replace_range(start..start + len + 1, "");
            } else {
                break;
            }
        }
    }
    // "Song - Remastered 2011", "Song - 2015 Remaster", "Song - Radio Edit"
    if let Some(idx) = t.rfind(" - ") {
        let suffix = t[idx + 3..].to_lowercase();
        if is_credit_or_edition(&suffix) {
            t.truncate(idx);
        }
    }
    normalize_name(&t)
}

fn is_credit_or_edition(s: &str) -> bool {
    let s = s.trim();
    ["feat", "ft.", "featuring", "with "]
        .iter()
        .any(|p| s.starts_with(p))
        || ["remaster", "radio edit", "single version", "mono", "stereo"]
            .iter()
            .any(|w| s.contains(w))
}

/// The primary artist of a credit string: "A feat. B" and "A (with B)" give
/// "A". Strings such as "Simon & Garfunkel" are one act and are kept whole.
pub fn primary_artist(credit: &str) -> &str {
    let lower = credit.to_lowercase();
    let mut cut = credit.len();
    for sep in [
        " feat. ",
        " feat ",
        " ft. ",
        " ft ",
        " featuring ",
        " (with ",
        " (feat",
    ] {
        if let Some(i) = lower.find(sep) {
            // Lowercasing can change byte lengths for some scripts; only cut on
            // ASCII-equal prefixes.
            if credit.is_char_boundary(i) && credit[..i].to_lowercase() == lower[..i] {
                cut = cut.min(i);
            }
        }
    }
    credit[..cut].trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_diacritics_and_articles() {
        assert_eq!(normalize_name("Björk"), "bjork");
        assert_eq!(normalize_name("  BJÖRK "), "bjork");
        assert_eq!(normalize_name("The Cure"), "cure");
        assert_eq!(normalize_name("the cure"), "cure");
        assert_eq!(normalize_name("The The"), "the");
        assert_eq!(normalize_name("Ólafur Arnalds"), "olafur arnalds");
        assert_eq!(normalize_name("Beyoncé"), "beyonce");
        assert_eq!(normalize_name("Guns N' Roses"), "guns n roses");
        assert_eq!(normalize_name("R.E.M."), "rem");
        assert_eq!(normalize_name("Simon & Garfunkel"), "simon and garfunkel");
        assert_eq!(
            normalize_name("KC and the Sunshine Band"),
            normalize_name("KC & The Sunshine Band")
        );
        assert_eq!(normalize_name("坂本龍一"), "坂本龍一");
        assert_eq!(normalize_name("AC/DC"), "ac dc");
    }

    #[test]
    fn titles_drop_credits_and_editions() {
        assert_eq!(normalize_title("Dreams - 2004 Remaster"), "dreams");
        assert_eq!(normalize_title("Dreams - Remastered 2011"), "dreams");
        assert_eq!(
            normalize_title("Uptown Funk (feat. Bruno Mars)"),
            "uptown funk"
        );
        assert_eq!(normalize_title("Song [with Someone]"), "song");
        assert_eq!(normalize_title("Live Forever (Live)"), "live forever live");
        assert_eq!(
            normalize_title("Everything In Its Right Place"),
            "everything in its right place"
        );
    }

    #[test]
    fn primary_artist_of_credits() {
        assert_eq!(
            primary_artist("Mark Ronson feat. Bruno Mars"),
            "Mark Ronson"
        );
        assert_eq!(
            primary_artist("Calvin Harris (with Dua Lipa)"),
            "Calvin Harris"
        );
        assert_eq!(primary_artist("Simon & Garfunkel"), "Simon & Garfunkel");
        assert_eq!(primary_artist("Daft Punk Ft Pharrell"), "Daft Punk");
    }
}
