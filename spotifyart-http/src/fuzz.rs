//! Fuzzing on the stable toolchain (issue 23): every JSON API body through
//! the strict parser, the `Range` handling of artwork responses, and the
//! cookie values the server reads. In-crate because the parsers are
//! private; `cargo test` runs a short smoke, `scripts/fuzz` 10^6
//! executions per target (`SPOTIFYART_FUZZ_N`, `SPOTIFYART_FUZZ_SEED`).

use bytes::Bytes;
use spotifyart_core::Error;
use spotifyart_core::store::OpaqueToken;
use spotifyart_core::testing::fuzz::{Rng, fuzz};
use warp::Filter;
use warp::http::{HeaderValue, StatusCode, header};

use crate::art::{Conditions, RangeSpec, parse_range, png_response};
use crate::filters::{is_json, parse_json};
use crate::{session, wire};

/// A few random edits (see `spotifyart_core::testing::fuzz::mutate`).
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, tokens: &[&[u8]]) {
    spotifyart_core::testing::fuzz::mutate(rng, data, tokens, 16, 16);
}

const JSON_TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b":",
    b"\"",
    b"\\",
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"4294967296",
    b"NaN",
    b"\"\\ud800\"",
    b"\xEF\xBB\xBF",
    b"\xff",
    b"\"kind\":",
    b"\"seed\":",
    b"\"style\":",
    b"\"match_id\":",
    b"\"extra\":1,",
];

/// Valid bodies of each type, as seeds.
const BODIES: &[(&str, &str)] = &[
    ("MoodRefresh", r#"{"time_range":"short_term"}"#),
    ("InviteBody", r#"{"provider":"lastfm","username":"rj"}"#),
    (
        "ListenBrainzProof",
        r#"{"invite":"abc","token":"0123-4567"}"#,
    ),
    (
        "ArtBody",
        r#"{"match_id":"0193a7c2-5b1e-7c3d-9f00-000000000001","seed":42,"steps":20,"model":"sd-turbo","width":512,"height":512,"guidance":7.5,"style":"poster"}"#,
    ),
    (
        "CoverBody",
        r#"{"model":"sd-turbo","seed":7,"style":"watercolor"}"#,
    ),
    (
        "CoverUpload",
        r#"{"artwork_id":"0193a7c2-5b1e-7c3d-9f00-000000000002"}"#,
    ),
    (
        "ScheduleBody",
        r#"{"kind":"cover","playlist":"37i9dQZF1DXcBWIGoYBM5M"}"#,
    ),
    ("ScheduleBody", r#"{"kind":"archive","from":"a","to":"b"}"#),
    ("AddresseeView", r#"{"provider":"lastfm","username":"rj"}"#),
];

/// Parses `body` as the named wire type through the server's strict
/// parser. Errors must be `InvalidInput` saying it is the request body.
fn parse_as(kind: &str, body: &[u8]) -> Result<(), String> {
    fn check<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<(), String> {
        match parse_json::<T>(body) {
            Ok(_) => Ok(()),
            Err(Error::InvalidInput { message }) if message.starts_with("request body") => Ok(()),
            Err(e) => Err(format!("unclear error: {e:?}")),
        }
    }
    match kind {
        "MoodRefresh" => check::<wire::MoodRefresh>(body),
        "InviteBody" => check::<wire::InviteBody>(body),
        "ListenBrainzProof" => check::<wire::ListenBrainzProof>(body),
        "ArtBody" => check::<wire::ArtBody>(body),
        "CoverBody" => check::<wire::CoverBody>(body),
        "CoverUpload" => check::<wire::CoverUpload>(body),
        "ScheduleBody" => check::<wire::ScheduleBody>(body),
        "AddresseeView" => check::<wire::AddresseeView>(body),
        other => Err(format!("no such wire type {other}")),
    }
}

#[test]
fn fuzz_json_bodies() {
    fuzz("json_bodies", 3000, |rng| {
        let (kind, seed) = *rng.pick(BODIES);
        let mut body = if rng.chance(20) {
            let depth = 1 + rng.below(4000);
            [b"[".repeat(depth), b"]".repeat(depth)].concat()
        } else {
            seed.as_bytes().to_vec()
        };
        if !rng.chance(10) {
            mutate(rng, &mut body, JSON_TOKENS);
        }
        // Bodies over the limit are refused before parsing.
        body.truncate(crate::filters::MAX_JSON_BODY as usize);
        parse_as(kind, &body)?;
        // Every seed is accepted as it stands.
        parse_as(kind, seed.as_bytes())?;
        let ct = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
        let _ = is_json(&ct);
        Ok(())
    });
}

const RANGE_TOKENS: &[&[u8]] = &[
    b"bytes=",
    b"-",
    b",",
    b" ",
    b"0",
    b"9",
    b"18446744073709551615",
    b"18446744073709551616",
    b"+1",
    b"items=",
    b"*",
    b"\"",
    b"W/",
    b"\t",
];

#[test]
fn fuzz_range() {
    let seeds: &[&[u8]] = &[
        b"bytes=0-9",
        b"bytes=90-",
        b"bytes=-10",
        b"bytes=5-1",
        b"bytes=0-1,5-6",
        b"bytes=-0",
        b"items=0-1",
        b"bytes=18446744073709551615-",
    ];
    fuzz("range", 20_000, |rng| {
        let mut value = rng.pick(seeds).to_vec();
        mutate(rng, &mut value, RANGE_TOKENS);
        let value = String::from_utf8_lossy(&value).into_owned();
        let len = match rng.below(4) {
            0 => 0,
            1 => rng.below(4) as u64,
            2 => rng.below(1 << 16) as u64,
            _ => rng.next(),
        };
        match parse_range(&value, len) {
            RangeSpec::Satisfiable(a, b) if !(a <= b && b < len) => {
                return Err(format!("{value:?} on {len} bytes gave {a}-{b}"));
            }
            _ => {}
        }
        // The whole response, on a small body.
        let png = Bytes::from(vec![7u8; rng.below(300)]);
        let conditions = Conditions {
            if_none_match: rng.chance(4).then(|| "\"aa\"".to_string()),
            range: Some(value.clone()),
            if_range: rng.chance(3).then(|| value.clone()),
        };
        let r = png_response(png.clone(), "aa", &conditions);
        match r.status() {
            StatusCode::OK | StatusCode::NOT_MODIFIED | StatusCode::RANGE_NOT_SATISFIABLE => Ok(()),
            StatusCode::PARTIAL_CONTENT => {
                let cr = r.headers()[header::CONTENT_RANGE]
                    .to_str()
                    .unwrap()
                    .to_string();
                let cl: u64 = r.headers()[header::CONTENT_LENGTH]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let ok =
                    cr.ends_with(&format!("/{}", png.len())) && cl >= 1 && cl <= png.len() as u64;
                if ok {
                    Ok(())
                } else {
                    Err(format!("{value:?}: {cr} with length {cl}"))
                }
            }
            s => Err(format!("{value:?}: status {s}")),
        }
    });
}

const COOKIE_TOKENS: &[&[u8]] = &[
    b"sa_session=",
    b"sa_oauth=",
    b"sa_csrf=",
    b";",
    b"; ",
    b"=",
    b"\"",
    b",",
    b"%00",
    b"%",
    b"\xc3\xa9",
    b" ",
    b"\t",
    b"\x7f",
    b"/",
    b"//evil.example",
    b"/\\evil",
    b"https://x",
];

#[test]
fn fuzz_cookies() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let seeds: &[&[u8]] = &[
        b"sa_session=abcdefghijklmnopqrstuvwxyz012345; sa_csrf=x",
        b"sa_oauth=a-state_of-22-chars-ok",
        b"a=b; sa_session=; sa_session=dup",
        b"sa_session=\"quoted\"",
    ];
    let session = warp::cookie::optional::<String>(session::SESSION_COOKIE)
        .and(warp::cookie::optional::<String>(session::OAUTH_COOKIE));
    fuzz("cookies", 5000, |rng| {
        let mut raw = rng.pick(seeds).to_vec();
        mutate(rng, &mut raw, COOKIE_TOKENS);
        let Ok(value) = HeaderValue::from_bytes(&raw) else {
            // hyper refuses such a header before any filter sees it.
            return Ok(());
        };
        let request = warp::test::request().header(header::COOKIE, value);
        let (token, state): (Option<String>, Option<String>) = runtime
            .block_on(request.filter(&session))
            .map_err(|e| format!("cookie filter rejected {raw:?}: {e:?}"))?;
        if let Some(s) = state.as_deref().and_then(session::oauth_state) {
            let shaped = (16..=128).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !shaped {
                return Err(format!("oauth_state accepted {s:?}"));
            }
        }
        if let Some(token) = token {
            let _ = OpaqueToken::from_client(&token).hash();
            if !session::csrf_matches(&token, &session::csrf_token(&token)) {
                return Err(format!("csrf token of {token:?} does not match"));
            }
            let other = String::from_utf8_lossy(&raw).into_owned();
            if other != session::csrf_token(&token) && session::csrf_matches(&token, &other) {
                return Err(format!("csrf accepted {other:?} for {token:?}"));
            }
        }
        let next = String::from_utf8_lossy(&raw).into_owned();
        let path = session::local_path(&next);
        if !path.starts_with('/') || path.starts_with("//") || path.starts_with("/\\") {
            return Err(format!("local_path({next:?}) = {path:?}"));
        }
        Ok(())
    });
}
