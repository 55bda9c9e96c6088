//! Last.fm's JSON, as its API sends it: numbers as strings, a list of one
//! item as that item (the JSON is converted from XML), a list of none as a
//! missing field or an empty string, and names under `name` or `#text`
//! depending on the method.

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

/// Last.fm's error body, `{"error": 29, "message": "Rate Limit Exceeded"}`,
/// sent with HTTP 200 as often as with a 4xx or 5xx.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: u32,
    #[serde(default)]
    pub message: String,
}

/// `auth.getSession`: `{"session": {"name": "rj", "key": "…",
/// "subscriber": 0}}`. Only the name is read: the session key (which
/// would let SpotifyArt act for the user) is never kept.
#[derive(Debug, Deserialize)]
pub(crate) struct SessionReply {
    pub session: Session,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Session {
    pub name: String,
}

/// The paging attributes of a list (`@attr`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageAttr {
    #[serde(default, rename = "totalPages", deserialize_with = "number")]
    pub total_pages: u64,
    #[serde(default, deserialize_with = "number")]
    pub total: u64,
}

/// A name given as `{"name": …}` (top tracks) or `{"#text": …}` (recent
/// tracks), or as a bare string.
#[derive(Debug, Default)]
pub(crate) struct Named(pub String);

impl<'de> Deserialize<'de> for Named {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Text(String),
            Object {
                #[serde(default)]
                name: Option<String>,
                #[serde(default, rename = "#text")]
                text: Option<String>,
            },
        }
        Ok(Named(match Shape::deserialize(d)? {
            Shape::Text(s) => s,
            Shape::Object { name, text } => name.or(text).unwrap_or_default(),
        }))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopArtistsReply {
    pub topartists: TopArtists,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopArtists {
    #[serde(default, deserialize_with = "one_or_many")]
    pub artist: Vec<TopArtist>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopArtist {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "number")]
    pub playcount: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopTracksReply {
    pub toptracks: TopTracks,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopTracks {
    #[serde(default, deserialize_with = "one_or_many")]
    pub track: Vec<TopTrack>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopTrack {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "number")]
    pub playcount: u64,
    #[serde(default)]
    pub artist: Named,
    /// Seconds; 0 when Last.fm does not know.
    #[serde(default, deserialize_with = "number")]
    pub duration: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RecentTracksReply {
    pub recenttracks: RecentTracks,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RecentTracks {
    #[serde(default, deserialize_with = "one_or_many")]
    pub track: Vec<RecentTrack>,
    #[serde(default, rename = "@attr")]
    pub attr: PageAttr,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RecentTrack {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub artist: Named,
    #[serde(default)]
    pub album: Named,
    /// Absent on the track playing now.
    #[serde(default)]
    pub date: Option<Date>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Date {
    #[serde(deserialize_with = "number")]
    pub uts: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopTagsReply {
    pub toptags: TopTags,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopTags {
    #[serde(default, deserialize_with = "one_or_many")]
    pub tag: Vec<Tag>,
}

/// A tag and its weight for the artist (Last.fm scales them so the top tag
/// is 100).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct Tag {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "number")]
    pub count: u64,
}

/// A list, a single item, or nothing (`null`, `""`).
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    match value {
        serde_json::Value::Null => Ok(Vec::new()),
        serde_json::Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| T::deserialize(v).map_err(de::Error::custom))
            .collect(),
        one @ serde_json::Value::Object(_) => T::deserialize(one)
            .map(|t| vec![t])
            .map_err(de::Error::custom),
        other => Err(de::Error::custom(format!(
            "expected a list or an object, got {other}"
        ))),
    }
}

/// A count as Last.fm sends it: a string of digits, a number, or empty.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        Int(u64),
        Float(f64),
        Text(String),
    }
    match Shape::deserialize(d)? {
        Shape::Int(n) => Ok(n),
        Shape::Float(f) if f.is_finite() && f >= 0.0 => Ok(f as u64),
        Shape::Float(f) => Err(de::Error::custom(format!("not a count: {f}"))),
        Shape::Text(s) if s.trim().is_empty() => Ok(0),
        Shape::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("not a count: {s:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_items_strings_and_empties() {
        let one: TopArtistsReply = serde_json::from_str(
            r#"{"topartists":{"artist":{"name":"ABBA","playcount":"12","@attr":{"rank":"1"}},
                "@attr":{"totalPages":"1"}}}"#,
        )
        .unwrap();
        assert_eq!(one.topartists.artist.len(), 1);
        assert_eq!(one.topartists.artist[0].playcount, 12);
        let none: TopArtistsReply =
            serde_json::from_str(r#"{"topartists":{"artist":[],"@attr":{}}}"#).unwrap();
        assert!(none.topartists.artist.is_empty());
        let missing: TopTracksReply = serde_json::from_str(r#"{"toptracks":{}}"#).unwrap();
        assert!(missing.toptracks.track.is_empty());
        let recent: RecentTracksReply = serde_json::from_str(
            r##"{"recenttracks":{"track":[
                {"artist":{"#text":"ABBA"},"name":"SOS","album":{"#text":""},"@attr":{"nowplaying":"true"}},
                {"artist":{"#text":"ABBA"},"name":"SOS","album":{"#text":"ABBA"},"date":{"uts":"1700000000","#text":"x"}}],
                "@attr":{"page":"1","totalPages":"3","total":"500"}}}"##,
        )
        .unwrap();
        let r = &recent.recenttracks;
        assert_eq!((r.attr.total_pages, r.attr.total), (3, 500));
        assert!(r.track[0].date.is_none());
        assert_eq!(r.track[1].date.as_ref().unwrap().uts, 1_700_000_000);
        assert_eq!(r.track[1].artist.0, "ABBA");
        let tags: TopTagsReply =
            serde_json::from_str(r#"{"toptags":{"tag":[{"name":"rock","count":100}]}}"#).unwrap();
        assert_eq!(tags.toptags.tag[0].count, 100);
        assert!(serde_json::from_str::<TopArtistsReply>(r#"{"topartists":{"artist":3}}"#).is_err());
    }
}
