//! The Web API routes SpotifyArt calls under `/v1`: the current user, top
//! items, recently played, artists, audio features and playlists. They
//! check the bearer token, scopes and `limit`, and page, as Spotify does,
//! so the client's paging and error handling meet the real rules.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};
use spotifyart_core::TimeRange;

use super::Mode;
use super::objects::{artist_json, playlist_json, track_json};
use super::reply::{Reply, api_error, json_reply};
use super::state::{PlaylistEntry, State, fake_id};

/// Spotify's limit on a cover's base64 body.
const MAX_COVER_BASE64: usize = 256 * 1024;

/// Whether `bytes` are a whole JPEG: start and end markers, and an image
/// the `image` crate decodes.
fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8])
        && bytes.ends_with(&[0xFF, 0xD9])
        && image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).is_ok()
}

/// Answers one `/v1/...` request as the user whose token it carries.
pub(super) fn handle(
    s: &mut State,
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let token = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(h) if h.starts_with("Bearer ") => h[7..].to_string(),
        _ => return api_error(401, "No token provided"),
    };
    let Some(grant) = s.access.get(&token).cloned() else {
        return api_error(401, "Invalid access token");
    };
    if grant.expires <= Utc::now() {
        return api_error(401, "The access token expired");
    }
    let needs = |scope: &str| -> Option<Reply> {
        (!grant.scopes.split(' ').any(|s| s == scope))
            .then(|| api_error(403, "Insufficient client scope"))
    };
    let Some(user) = s.users.iter().find(|u| u.id == grant.user).cloned() else {
        return api_error(404, "User not found");
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 20,
        Some(Ok(l)) if (1..=50).contains(&l) => l,
        _ => return api_error(400, "Invalid limit"),
    };
    let offset = q
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let dev = s.mode == Mode::Development;
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["v1", "me"]) => {
            let mut me = json!({
                "display_name": user.display_name,
                "external_urls": { "spotify": format!("https://open.spotify.com/user/{}", user.id) },
                "href": format!("{}v1/users/{}", s.base, user.id),
                "id": user.id,
                "images": [],
                "type": "user",
                "uri": format!("spotify:user:{}", user.id),
            });
            if dev {
                me["account_id"] = json!(user.account_id);
            } else {
                me["country"] = json!(user.country);
                me["email"] = json!(format!("{}@example.com", user.id));
                me["product"] = json!("premium");
                me["explicit_content"] = json!({ "filter_enabled": false, "filter_locked": false });
                me["followers"] = json!({ "href": null, "total": 3 });
            }
            json_reply(StatusCode::OK, &me)
        }
        ("GET", ["v1", "me", "top", kind @ ("artists" | "tracks")]) => {
            if let Some(r) = needs("user-top-read") {
                return r;
            }
            let range = match q
                .get("time_range")
                .map(String::as_str)
                .unwrap_or("medium_term")
            {
                "short_term" => TimeRange::ShortTerm,
                "medium_term" => TimeRange::MediumTerm,
                "long_term" => TimeRange::LongTerm,
                _ => return api_error(400, "Invalid time range"),
            };
            let ids = if *kind == "artists" {
                user.top_artists.get(&range)
            } else {
                user.top_tracks.get(&range)
            };
            let ids = ids.cloned().unwrap_or_default();
            let items: Vec<Value> = ids
                .iter()
                .skip(offset)
                .take(limit)
                .map(|id| {
                    if *kind == "artists" {
                        artist_json(s, id, dev)
                    } else {
                        track_json(s, id, dev)
                    }
                })
                .collect();
            let link = |off: usize| {
                format!(
                    "{}v1/me/top/{kind}?limit={limit}&offset={off}&time_range={}",
                    s.base,
                    range.as_str()
                )
            };
            json_reply(
                StatusCode::OK,
                &json!({
                    "href": link(offset),
                    "items": items,
                    "limit": limit,
                    "next": (offset + limit < ids.len()).then(|| link(offset + limit)),
                    "offset": offset,
                    "previous": (offset > 0).then(|| link(offset.saturating_sub(limit))),
                    "total": ids.len(),
                }),
            )
        }
        ("GET", ["v1", "me", "player", "recently-played"]) => {
            if let Some(r) = needs("user-read-recently-played") {
                return r;
            }
            let before = q.get("before").and_then(|b| b.parse::<i64>().ok());
            let after = q.get("after").and_then(|a| a.parse::<i64>().ok());
            let older: Vec<&(String, DateTime<Utc>)> = user
                .recent
                .iter()
                .filter(|(_, t)| before.is_none_or(|b| t.timestamp_millis() < b))
                .filter(|(_, t)| after.is_none_or(|a| t.timestamp_millis() > a))
                .collect();
            let page: Vec<&&(String, DateTime<Utc>)> = older.iter().take(limit).collect();
            let items: Vec<Value> = page
                .iter()
                .map(|(id, at)| {
                    json!({
                        "track": track_json(s, id, dev),
                        "played_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "context": null,
                    })
                })
                .collect();
            let oldest = page.last().map(|(_, t)| t.timestamp_millis());
            let newest = page.first().map(|(_, t)| t.timestamp_millis());
            let href = format!("{}v1/me/player/recently-played?limit={limit}", s.base);
            json_reply(
                StatusCode::OK,
                &json!({
                    "href": href,
                    "items": items,
                    "limit": limit,
                    "next": (older.len() > limit).then(|| format!("{href}&before={}", oldest.unwrap_or(0))),
                    "cursors": newest.map(|n| json!({ "after": n.to_string(), "before": oldest.unwrap_or(0).to_string() })),
                }),
            )
        }
        ("GET", ["v1", "artists", id]) => match s.artists.contains_key(*id) {
            true => json_reply(StatusCode::OK, &artist_json(s, id, dev)),
            false => api_error(404, "Resource not found"),
        },
        ("GET", ["v1", "artists"]) if dev => api_error(403, "Forbidden"),
        ("GET", ["v1", "artists"]) => {
            let ids = q.get("ids").cloned().unwrap_or_default();
            let artists: Vec<Value> = ids
                .split(',')
                .map(|id| {
                    if s.artists.contains_key(id) {
                        artist_json(s, id, dev)
                    } else {
                        Value::Null
                    }
                })
                .collect();
            json_reply(StatusCode::OK, &json!({ "artists": artists }))
        }
        ("GET", ["v1", "audio-features", ..]) if dev => api_error(403, "Forbidden"),
        ("GET", ["v1", "audio-features"]) => {
            let ids = q.get("ids").cloned().unwrap_or_default();
            let features: Vec<Value> = ids
                .split(',')
                .map(|id| match s.tracks.get(id).and_then(|t| t.features) {
                    Some(f) => json!({
                        "acousticness": f.acousticness, "danceability": f.danceability,
                        "energy": f.energy, "id": id, "instrumentalness": f.instrumentalness.unwrap_or(0.0),
                        "key": 5, "liveness": 0.1, "loudness": f.loudness.unwrap_or(-7.0),
                        "mode": if f.mode >= 0.5 { 1 } else { 0 }, "speechiness": 0.05,
                        "tempo": f.tempo, "time_signature": 4, "valence": f.valence,
                        "type": "audio_features", "uri": format!("spotify:track:{id}"),
                        "track_href": format!("{}v1/tracks/{id}", s.base),
                        "analysis_url": format!("{}v1/audio-analysis/{id}", s.base),
                        "duration_ms": s.tracks.get(id).map(|t| t.duration_ms),
                    }),
                    None => Value::Null,
                })
                .collect();
            json_reply(StatusCode::OK, &json!({ "audio_features": features }))
        }
        ("GET", ["v1", "me", "playlists"]) => {
            if let Some(r) = needs("playlist-read-private") {
                return r;
            }
            let mine: Vec<&PlaylistEntry> =
                s.playlists.iter().filter(|p| p.owner == user.id).collect();
            let items: Vec<Value> = mine
                .iter()
                .skip(offset)
                .take(limit)
                .map(|p| playlist_json(s, p))
                .collect();
            let link = |off: usize| format!("{}v1/me/playlists?limit={limit}&offset={off}", s.base);
            json_reply(
                StatusCode::OK,
                &json!({
                    "href": link(offset), "items": items, "limit": limit, "offset": offset,
                    "next": (offset + limit < mine.len()).then(|| link(offset + limit)),
                    "previous": null, "total": mine.len(),
                }),
            )
        }
        ("POST", ["v1", "me", "playlists"]) => {
            if let Some(r) = needs("playlist-modify-private") {
                return r;
            }
            let Ok(req) = serde_json::from_slice::<Value>(body) else {
                return api_error(400, "Error parsing JSON.");
            };
            let Some(name) = req
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            else {
                return api_error(400, "Missing required field: name");
            };
            s.counter += 1;
            let id = fake_id(&format!("playlist {name} {}", s.counter));
            let p = PlaylistEntry {
                id,
                name: name.into(),
                owner: user.id.clone(),
                uris: Vec::new(),
                snapshot: 1,
                cover: None,
            };
            let reply = playlist_json(s, &p);
            s.playlists.push(p);
            json_reply(StatusCode::CREATED, &reply)
        }
        ("GET", ["v1", "playlists", id, "items"]) => {
            let Some(p) = s.playlists.iter().find(|p| p.id == *id).cloned() else {
                return api_error(404, "Resource not found");
            };
            let items: Vec<Value> = p
                .uris
                .iter()
                .skip(offset)
                .take(limit)
                .map(|uri| {
                    let tid = uri.rsplit(':').next().unwrap_or_default();
                    let item = if s.tracks.contains_key(tid) { track_json(s, tid, dev) } else { json!({ "uri": uri, "name": "Unknown", "is_local": false, "type": "track" }) };
                    json!({ "added_at": "2026-01-05T10:00:00Z", "added_by": { "id": p.owner }, "is_local": false, "item": item })
                })
                .collect();
            let link = |off: usize| {
                format!(
                    "{}v1/playlists/{id}/items?limit={limit}&offset={off}",
                    s.base
                )
            };
            json_reply(
                StatusCode::OK,
                &json!({
                    "href": link(offset), "items": items, "limit": limit, "offset": offset,
                    "next": (offset + limit < p.uris.len()).then(|| link(offset + limit)),
                    "previous": null, "total": p.uris.len(),
                }),
            )
        }
        ("POST", ["v1", "playlists", id, "items"]) => {
            if let Some(r) = needs("playlist-modify-private") {
                return r;
            }
            let Ok(req) = serde_json::from_slice::<Value>(body) else {
                return api_error(400, "Error parsing JSON.");
            };
            let uris: Vec<String> = req
                .get("uris")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if uris.is_empty() || uris.len() > 100 {
                return api_error(400, "You can add a maximum of 100 tracks per request.");
            }
            if uris
                .iter()
                .any(|u| !u.starts_with("spotify:track:") && !u.starts_with("spotify:episode:"))
            {
                return api_error(400, "Invalid track uri");
            }
            let Some(p) = s.playlists.iter_mut().find(|p| p.id == *id) else {
                return api_error(404, "Resource not found");
            };
            if p.owner != user.id {
                return api_error(403, "You cannot add tracks to a playlist you don't own.");
            }
            p.uris.extend(uris);
            p.snapshot += 1;
            json_reply(
                StatusCode::CREATED,
                &json!({ "snapshot_id": format!("snap{}", p.snapshot) }),
            )
        }
        ("PUT", ["v1", "playlists", id, "images"]) => {
            if !grant.scopes.split(' ').any(|s| s == "ugc-image-upload")
                || !grant
                    .scopes
                    .split(' ')
                    .any(|s| s == "playlist-modify-public" || s == "playlist-modify-private")
            {
                return api_error(403, "Insufficient client scope");
            }
            let Some(p) = s.playlists.iter_mut().find(|p| p.id == *id) else {
                return api_error(404, "Resource not found");
            };
            if p.owner != user.id {
                return api_error(
                    403,
                    "You cannot upload an image to a playlist you don't own.",
                );
            }
            let jpeg_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(';').next().unwrap_or_default().trim() == "image/jpeg");
            if !jpeg_type {
                return api_error(400, "Content-Type must be image/jpeg");
            }
            if body.len() > MAX_COVER_BASE64 {
                return api_error(
                    413,
                    "Payload too large: the image may be at most 256 KB as base64",
                );
            }
            let Some(jpeg) = base64::engine::general_purpose::STANDARD
                .decode(body.trim_ascii())
                .ok()
                .filter(|j| is_jpeg(j))
            else {
                return api_error(400, "Image is not a valid base64-encoded JPEG");
            };
            p.cover = Some(jpeg);
            p.snapshot += 1;
            http::Response::builder()
                .status(StatusCode::ACCEPTED)
                .body(Vec::new())
                .expect("response")
        }
        ("GET", ["v1", "audio-analysis" | "recommendations", ..]) if dev => {
            api_error(403, "Forbidden")
        }
        _ => api_error(404, "Service not found"),
    }
}
