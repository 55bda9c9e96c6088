//! What the fake Last.fm knows (users, their scrobbles, artists' tags,
//! queued faults, requests) and the answers to each method, computed from
//! it as the real API would.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use md5::Digest;
use serde_json::{Value, json};

use super::{Fault, Recorded};

#[derive(Clone, Debug)]
pub(super) struct Scrobble {
    pub ts: i64,
    pub artist: String,
    pub track: String,
    pub album: String,
}

#[derive(Clone, Debug)]
pub(super) struct User {
    pub name: String,
    /// Newest first.
    pub scrobbles: Vec<Scrobble>,
    pub now_playing: Option<Scrobble>,
    pub private: bool,
    pub hide_recent: bool,
}

/// A web-auth token the fake gave out.
#[derive(Clone, Debug)]
pub(super) struct AuthToken {
    /// Whom it was approved by (`None`: not approved yet, `auth.getToken`).
    pub user: Option<String>,
    pub issued: Instant,
    /// Exchanged for a session already, or expired by hand.
    pub spent: bool,
}

/// How long a token lives, as Last.fm says: 60 minutes.
pub(super) const TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);

#[derive(Debug)]
pub(super) struct State {
    pub api_key: String,
    /// The shared secret signed calls must be signed with; without one
    /// every signature is wrong.
    pub shared_secret: Option<String>,
    /// Who approves the app on the web-auth page.
    pub approve_as: Option<String>,
    /// Web-auth tokens by value.
    pub tokens: HashMap<String, AuthToken>,
    /// By lowercased name.
    pub users: HashMap<String, User>,
    /// By lowercased artist name.
    pub tags: HashMap<String, Vec<(String, u64)>>,
    pub faults: VecDeque<(String, Fault)>,
    pub requests: Vec<Recorded>,
}

/// An answer: HTTP status and JSON body.
pub(super) type Answer = (u16, Value);

pub(super) fn error(status: u16, code: u32, message: &str) -> Answer {
    (
        status,
        json!({ "error": code, "message": message, "links": [] }),
    )
}

/// Last.fm's JSON is converted from XML: a list of one is that one item.
fn list(mut items: Vec<Value>) -> Value {
    if items.len() == 1 {
        items.pop().expect("one item")
    } else {
        Value::Array(items)
    }
}

fn url(kind: &str, name: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("https://www.last.fm/{kind}/{encoded}")
}

/// A page of `total` items: (first index, end index, total pages).
fn page_bounds(total: usize, page: usize, limit: usize) -> (usize, usize, usize) {
    let pages = total.div_ceil(limit);
    let start = (page - 1).saturating_mul(limit).min(total);
    (start, (start + limit).min(total), pages)
}

/// `limit` as Last.fm reads it: default 50, at most `cap`.
fn limit(params: &HashMap<String, String>, cap: usize) -> usize {
    params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|&l| l > 0)
        .unwrap_or(50)
        .min(cap)
}

fn page(params: &HashMap<String, String>) -> usize {
    params
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|&p| p > 0)
        .unwrap_or(1)
}

/// The start of `period` before `now` (`None`: all time).
fn since(period: &str, now: i64) -> Option<i64> {
    let days = match period {
        "7day" => 7,
        "1month" => 30,
        "3month" => 90,
        "6month" => 180,
        "12month" => 365,
        _ => return None,
    };
    Some(now - days * 86_400)
}

impl State {
    pub fn new(api_key: &str) -> Self {
        Self {
            api_key: api_key.into(),
            shared_secret: None,
            approve_as: None,
            tokens: HashMap::new(),
            users: HashMap::new(),
            tags: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
        }
    }

    /// The first queued fault for `method`.
    pub fn take_fault(&mut self, method: &str) -> Option<Fault> {
        let method = method.to_lowercase();
        let i = self
            .faults
            .iter()
            .position(|(m, _)| m.is_empty() || *m == method)?;
        self.faults.remove(i).map(|(_, f)| f)
    }

    /// A new token (32 hex digits, as Last.fm's), approved by `user` or not.
    pub fn new_token(&mut self, user: Option<String>) -> String {
        let token = format!("{:032x}", crate::fake::random_u128());
        self.tokens.insert(
            token.clone(),
            AuthToken {
                user,
                issued: Instant::now(),
                spent: false,
            },
        );
        token
    }

    /// Whether `params` carry the `api_sig` Last.fm expects: the MD5 of the
    /// parameters but `format`, `callback` and `api_sig`, sorted by name,
    /// each name then value, and the shared secret.
    fn signed(&self, params: &HashMap<String, String>) -> bool {
        let (Some(secret), Some(sig)) = (&self.shared_secret, params.get("api_sig")) else {
            return false;
        };
        let mut names: Vec<&String> = params
            .keys()
            .filter(|k| !matches!(k.as_str(), "format" | "callback" | "api_sig"))
            .collect();
        names.sort();
        let mut text = String::new();
        for k in names {
            text.push_str(k);
            text.push_str(&params[k]);
        }
        text.push_str(secret);
        let expected: String = md5::Md5::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        sig.eq_ignore_ascii_case(&expected)
    }

    /// `auth.getToken` (desktop authentication): a token nobody approved
    /// yet; the web-auth page approves it when given `token=`.
    fn get_token(&mut self, params: &HashMap<String, String>) -> Answer {
        if params.contains_key("api_sig") && !self.signed(params) {
            return error(403, 13, "Invalid method signature supplied");
        }
        let token = self.new_token(None);
        (200, json!({ "token": token }))
    }

    /// `auth.getSession`: signed, with a token approved within the hour
    /// and never used before.
    fn get_session(&mut self, params: &HashMap<String, String>) -> Answer {
        let Some(token) = params.get("token").filter(|t| !t.is_empty()) else {
            return error(
                400,
                6,
                "Invalid parameters - Your request is missing a required parameter",
            );
        };
        if !self.signed(params) {
            return error(403, 13, "Invalid method signature supplied");
        }
        let Some(t) = self.tokens.get_mut(token) else {
            return error(403, 4, "Invalid authentication token supplied");
        };
        if t.spent || t.issued.elapsed() > TOKEN_LIFETIME {
            return error(403, 15, "This token has expired");
        }
        let Some(user) = t.user.clone() else {
            return error(
                403,
                14,
                "Unauthorized Token - This token has not been authorized",
            );
        };
        t.spent = true;
        let name = self
            .users
            .get(&user.to_lowercase())
            .map_or(user, |u| u.name.clone());
        let key = format!("{:032x}", crate::fake::random_u128());
        (
            200,
            json!({ "session": { "name": name, "key": key, "subscriber": 0 } }),
        )
    }

    /// The answer to a request with a valid key.
    pub fn answer(&mut self, params: &HashMap<String, String>) -> Answer {
        let method = params.get("method").map(|m| m.to_lowercase());
        match method.as_deref() {
            Some("auth.gettoken") => self.get_token(params),
            Some("auth.getsession") => self.get_session(params),
            Some("user.gettopartists") => self.with_user(params, false, |u| top_artists(u, params)),
            Some("user.gettoptracks") => self.with_user(params, false, |u| top_tracks(u, params)),
            Some("user.getrecenttracks") => {
                self.with_user(params, true, |u| recent_tracks(u, params))
            }
            Some("artist.gettoptags") => self.top_tags(params),
            _ => error(
                400,
                3,
                "Invalid Method - No method with that name in this package",
            ),
        }
    }

    fn with_user(
        &self,
        params: &HashMap<String, String>,
        recent: bool,
        answer: impl FnOnce(&User) -> Value,
    ) -> Answer {
        let Some(name) = params.get("user").filter(|u| !u.is_empty()) else {
            return error(
                400,
                6,
                "Invalid parameters - Your request is missing a required parameter",
            );
        };
        let Some(user) = self.users.get(&name.to_lowercase()) else {
            return error(404, 6, "User not found");
        };
        if user.private || (recent && user.hide_recent) {
            return error(403, 17, "Login: User required to be logged in");
        }
        (200, answer(user))
    }

    fn top_tags(&self, params: &HashMap<String, String>) -> Answer {
        let Some(artist) = params.get("artist").filter(|a| !a.is_empty()) else {
            return error(
                400,
                6,
                "Invalid parameters - Your request is missing a required parameter",
            );
        };
        let key = artist.to_lowercase();
        let scrobbled = self
            .users
            .values()
            .flat_map(|u| u.scrobbles.iter())
            .any(|s| s.artist.to_lowercase() == key);
        let tags = match self.tags.get(&key) {
            Some(tags) => tags.clone(),
            None if scrobbled => Vec::new(),
            None => return error(404, 6, "The artist you supplied could not be found"),
        };
        let mut tags = tags;
        tags.sort_by_key(|t| std::cmp::Reverse(t.1));
        let items = tags
            .iter()
            .map(|(name, count)| json!({ "count": count, "name": name, "url": url("tag", name) }))
            .collect();
        (
            200,
            json!({ "toptags": { "tag": list(items), "@attr": { "artist": artist } } }),
        )
    }
}

/// Plays of each key among `user`'s scrobbles in `period`, most first
/// (then by name), with the key's first scrobble as its representative.
fn counted<'a>(
    user: &'a User,
    params: &HashMap<String, String>,
    key: impl Fn(&Scrobble) -> String,
) -> Vec<(&'a Scrobble, u64)> {
    let period = params
        .get("period")
        .map(String::as_str)
        .unwrap_or("overall");
    let from = since(period, Utc::now().timestamp()).unwrap_or(i64::MIN);
    let mut counts: HashMap<String, (&Scrobble, u64)> = HashMap::new();
    for s in user.scrobbles.iter().filter(|s| s.ts >= from) {
        counts.entry(key(s)).or_insert((s, 0)).1 += 1;
    }
    let mut out: Vec<(&Scrobble, u64)> = counts.into_values().collect();
    out.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.artist.cmp(&b.0.artist))
            .then_with(|| a.0.track.cmp(&b.0.track))
    });
    out
}

fn paged_attr(user: &User, page: usize, limit: usize, pages: usize, total: usize) -> Value {
    json!({
        "user": user.name,
        "page": page.to_string(),
        "perPage": limit.to_string(),
        "totalPages": pages.to_string(),
        "total": total.to_string(),
    })
}

fn top_artists(user: &User, params: &HashMap<String, String>) -> Value {
    let all = counted(user, params, |s| s.artist.to_lowercase());
    let (limit, page) = (limit(params, 1000), page(params));
    let (start, end, pages) = page_bounds(all.len(), page, limit);
    let items = all[start..end]
        .iter()
        .enumerate()
        .map(|(i, (s, plays))| {
            json!({
                "name": s.artist,
                "playcount": plays.to_string(),
                "mbid": "",
                "url": url("music", &s.artist),
                "streamable": "0",
                "image": [],
                "@attr": { "rank": (start + i + 1).to_string() },
            })
        })
        .collect();
    json!({ "topartists": {
        "artist": list(items),
        "@attr": paged_attr(user, page, limit, pages, all.len()),
    }})
}

fn top_tracks(user: &User, params: &HashMap<String, String>) -> Value {
    let all = counted(user, params, |s| {
        format!(
            "{}\u{1f}{}",
            s.artist.to_lowercase(),
            s.track.to_lowercase()
        )
    });
    let (limit, page) = (limit(params, 1000), page(params));
    let (start, end, pages) = page_bounds(all.len(), page, limit);
    let items = all[start..end]
        .iter()
        .enumerate()
        .map(|(i, (s, plays))| {
            json!({
                "name": s.track,
                "duration": "0",
                "playcount": plays.to_string(),
                "mbid": "",
                "url": url("music", &format!("{}/_/{}", s.artist, s.track)),
                "streamable": { "#text": "0", "fulltrack": "0" },
                "artist": { "name": s.artist, "mbid": "", "url": url("music", &s.artist) },
                "image": [],
                "@attr": { "rank": (start + i + 1).to_string() },
            })
        })
        .collect();
    json!({ "toptracks": {
        "track": list(items),
        "@attr": paged_attr(user, page, limit, pages, all.len()),
    }})
}

fn recent_item(s: &Scrobble) -> Value {
    json!({
        "artist": { "mbid": "", "#text": s.artist },
        "streamable": "0",
        "image": [],
        "mbid": "",
        "album": { "mbid": "", "#text": s.album },
        "name": s.track,
        "url": url("music", &format!("{}/_/{}", s.artist, s.track)),
    })
}

fn recent_tracks(user: &User, params: &HashMap<String, String>) -> Value {
    let bound = |name: &str| params.get(name).and_then(|v| v.parse::<i64>().ok());
    let (from, to) = (bound("from"), bound("to"));
    let in_window: Vec<&Scrobble> = user
        .scrobbles
        .iter()
        .filter(|s| from.is_none_or(|f| s.ts >= f) && to.is_none_or(|t| s.ts <= t))
        .collect();
    let (limit, page) = (limit(params, 200), page(params));
    let (start, end, pages) = page_bounds(in_window.len(), page, limit);
    let mut items = Vec::new();
    if page == 1
        && let Some(now) = &user.now_playing
    {
        let mut item = recent_item(now);
        item["@attr"] = json!({ "nowplaying": "true" });
        items.push(item);
    }
    for s in &in_window[start..end] {
        let mut item = recent_item(s);
        let when = DateTime::<Utc>::from_timestamp(s.ts, 0).unwrap_or_default();
        item["date"] = json!({
            "uts": s.ts.to_string(),
            "#text": when.format("%d %b %Y, %H:%M").to_string(),
        });
        items.push(item);
    }
    json!({ "recenttracks": {
        "track": list(items),
        "@attr": paged_attr(user, page, limit, pages, in_window.len()),
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        assert_eq!(page_bounds(450, 1, 200), (0, 200, 3));
        assert_eq!(page_bounds(450, 3, 200), (400, 450, 3));
        assert_eq!(page_bounds(450, 9, 200), (450, 450, 3));
        assert_eq!(page_bounds(0, 1, 50), (0, 0, 0));
    }
}
