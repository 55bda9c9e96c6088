//! The Web API's JSON objects (artist, track with its album, playlist),
//! built from the catalogue in one place so every route answers with the
//! same shape, and Development Mode strips the same fields everywhere.

use serde_json::{Value, json};

use super::cdn::album_images;
use super::state::{PlaylistEntry, State, fake_id};

fn image(seed: &str) -> Value {
    json!([{ "url": format!("https://i.scdn.co/image/ab67616d0000b273{}", &fake_id(seed)[..16]), "height": 640, "width": 640 }])
}

pub(super) fn artist_json(s: &State, id: &str, dev: bool) -> Value {
    let a = &s.artists[id];
    let mut v = json!({
        "external_urls": { "spotify": format!("https://open.spotify.com/artist/{id}") },
        "href": format!("{}v1/artists/{id}", s.base),
        "id": id,
        "images": image(&a.name),
        "name": a.name,
        "type": "artist",
        "uri": format!("spotify:artist:{id}"),
    });
    if !dev {
        v["genres"] = json!(a.genres);
        v["popularity"] = json!(a.popularity);
        v["followers"] = json!({ "href": null, "total": a.popularity as u64 * 12_345 });
    }
    v
}

fn simple_artist(s: &State, id: &str) -> Value {
    let a = &s.artists[id];
    json!({
        "external_urls": { "spotify": format!("https://open.spotify.com/artist/{id}") },
        "href": format!("{}v1/artists/{id}", s.base),
        "id": id, "name": a.name, "type": "artist", "uri": format!("spotify:artist:{id}"),
    })
}

pub(super) fn track_json(s: &State, id: &str, dev: bool) -> Value {
    let t = &s.tracks[id];
    let artists: Vec<Value> = t.artists.iter().map(|a| simple_artist(s, a)).collect();
    let mut album = json!({
        "album_type": "album",
        "artists": artists.first().cloned().into_iter().collect::<Vec<_>>(),
        "external_urls": { "spotify": format!("https://open.spotify.com/album/{}", t.album_id) },
        "href": format!("{}v1/albums/{}", s.base, t.album_id),
        "id": t.album_id,
        // On the fake's own CDN, so clients can read them.
        "images": album_images(&s.base, &t.album_id),
        "name": t.album,
        "release_date": t.release_date,
        "release_date_precision": match t.release_date.len() { 4 => "year", 7 => "month", _ => "day" },
        "total_tracks": 12,
        "type": "album",
        "uri": format!("spotify:album:{}", t.album_id),
    });
    let mut v = json!({
        "album": Value::Null,
        "artists": artists,
        "disc_number": 1,
        "duration_ms": t.duration_ms,
        "explicit": t.explicit,
        "external_urls": { "spotify": format!("https://open.spotify.com/track/{id}") },
        "href": format!("{}v1/tracks/{id}", s.base),
        "id": id,
        "is_local": false,
        "name": t.name,
        "preview_url": null,
        "track_number": 1,
        "type": "track",
        "uri": format!("spotify:track:{id}"),
    });
    if !dev {
        album["available_markets"] = json!(["SE", "GB", "US"]);
        v["available_markets"] = json!(["SE", "GB", "US"]);
        v["popularity"] = json!(t.popularity);
        v["external_ids"] = json!({ "isrc": format!("SE{}", &id[..10]) });
    }
    v["album"] = album;
    v
}

pub(super) fn playlist_json(s: &State, p: &PlaylistEntry) -> Value {
    json!({
        "collaborative": false,
        "description": "",
        "external_urls": { "spotify": format!("https://open.spotify.com/playlist/{}", p.id) },
        "href": format!("{}v1/playlists/{}", s.base, p.id),
        "id": p.id,
        "images": [],
        "name": p.name,
        "owner": { "id": p.owner, "type": "user", "display_name": p.owner },
        "public": false,
        "snapshot_id": format!("snap{}", p.snapshot),
        "items": { "href": format!("{}v1/playlists/{}/items", s.base, p.id), "total": p.uris.len() },
        "type": "playlist",
        "uri": format!("spotify:playlist:{}", p.id),
    })
}
