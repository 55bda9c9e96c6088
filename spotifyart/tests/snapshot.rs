//! Snapshots of what users get, so restructuring can prove it changed
//! nothing: the CLI's `profile`, `mood` and `match` JSON for the sample
//! exports, a tiny-model painting (its prompt and seed exactly, its pixels
//! within rounding), and the API's answers along the whole journey, with
//! ids, times and secrets replaced by placeholders.
//!
//! The snapshots live in `tests/snapshots/`. After a change that is meant
//! to change what users get, regenerate them with
//! `SPOTIFYART_UPDATE_SNAPSHOTS=1 cargo test -p spotifyart --test snapshot`
//! and review the diff.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::harness::*;
use support::ok;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

fn updating() -> bool {
    std::env::var("SPOTIFYART_UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1")
}

/// Compares `actual` with the stored snapshot `name` (or stores it).
fn check_json(name: &str, actual: &Value) {
    let path = dir().join(name);
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if updating() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with SPOTIFYART_UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    let stored: Value = serde_json::from_str(&stored).unwrap();
    if !same(&stored, actual) {
        let diff = first_difference(&stored, actual, "");
        panic!("{name} differs from its snapshot at {diff}");
    }
}

/// Equal, numbers within 2e-3 of each other. The Web API source weighs
/// recent plays by their age at the moment of reading, and the fake's
/// plays end at the last midnight (so their times of day are fixed): over
/// a day the moods it yields drift by less than 1e-3 (3e-5 an hour,
/// measured). A restructuring that changes an answer changes far more.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 2e-3,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| same(p, q)))
        }
        _ => a == b,
    }
}

/// Where two JSON values first differ, with both sides.
fn first_difference(a: &Value, b: &Value, at: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) if same(p, q) => {}
                    (Some(p), Some(q)) => return first_difference(p, q, &format!("{at}.{k}")),
                    (p, q) => return format!("{at}.{k}: {p:?} vs {q:?}"),
                }
            }
            format!("{at}: key order")
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if !same(p, q) {
                    return first_difference(p, q, &format!("{at}[{i}]"));
                }
            }
            format!("{at}: ?")
        }
        _ => format!("{at}: snapshot {a} vs now {b}"),
    }
}

fn spotifyart(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spotifyart"))
        .args(args)
        .current_dir(cwd)
        .env_remove("SPOTIFYART_MODEL")
        .env_remove("SPOTIFYART_MODEL_DIR")
        .env_remove("SPOTIFYART_DEVICE")
        .env_remove("SPOTIFYART_EMBEDDING_MODEL_DIR")
        .env_remove("SPOTIFYART_DATABASE_URL")
        .env_remove("SPOTIFYART_ENCRYPTION_KEY")
        // No embedding weights: the same mood models on every machine.
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", cwd.join(".hf"))
        .output()
        .expect("run spotifyart")
}

#[test]
fn cli_json_and_a_tiny_painting_match_their_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/exports");
    let input = |name: &str| examples.join(name).to_str().unwrap().to_string();
    let (alice, bob, carol) = (input("alice"), input("bob"), input("carol.zip"));
    let json = |args: &[&str]| -> Value {
        serde_json::from_str(&ok(&spotifyart(args, tmp.path()))).unwrap()
    };
    let mut cli = serde_json::Map::new();
    for (name, path) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        cli.insert(format!("profile {name}"), json(&["profile", path]));
        cli.insert(format!("mood {name}"), json(&["mood", path]));
    }
    cli.insert("match alice bob".into(), json(&["match", &alice, &bob]));
    cli.insert("match bob carol".into(), json(&["match", &bob, &carol]));
    cli.insert(
        "mood alice short_term genres".into(),
        json(&[
            "mood",
            &alice,
            "--mood-model",
            "genres",
            "--time-range",
            "short_term",
        ]),
    );
    let mut cli = Value::Object(cli);
    // The export reader notes where it read from; the folder is this checkout's.
    let root = examples.to_str().unwrap().to_string();
    placeholders(&mut cli, &mut Names::with(&[(root.as_str(), "<examples>")]));
    check_json("cli.json", &cli);

    // A painting with the tiny model: its printed prompt and seed exactly,
    // its pixels within rounding (kernels differ between CPUs).
    let db = format!("sqlite://{}", tmp.path().join("art.db").display());
    let out = tmp.path().join("art.png");
    let printed = ok(&spotifyart(
        &[
            "art",
            &alice,
            &bob,
            "--model",
            "tiny",
            "--device",
            "cpu",
            "--database-url",
            &db,
            "--out",
            out.to_str().unwrap(),
        ],
        tmp.path(),
    ));
    // Everything printed but the timing, with the output path named.
    let lines: Vec<String> = printed
        .lines()
        .filter(|l| !l.starts_with("painted artwork"))
        .map(|l| l.replace(out.to_str().unwrap(), "<out>"))
        .collect();
    check_json("art-tiny.json", &json!(lines));
    let png = std::fs::read(&out).unwrap();
    let stored = dir().join("art-tiny.png");
    if updating() {
        std::fs::write(&stored, &png).unwrap();
    } else {
        let (a, b) = (pixels(&std::fs::read(&stored).unwrap()), pixels(&png));
        assert_eq!(a.0, b.0, "size");
        let worst = a.1.iter().zip(&b.1).map(|(x, y)| x.abs_diff(*y)).max();
        assert!(worst <= Some(3), "pixels differ by up to {worst:?}");
    }
}

/// Width and height, and the RGB(A) bytes.
fn pixels(png: &[u8]) -> ((u32, u32), Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    ((info.width, info.height), buf)
}

/// Ids, times and secrets seen so far, each with its placeholder.
#[derive(Default)]
struct Names {
    seen: HashMap<String, String>,
    fixed: Vec<(String, String)>,
}

impl Names {
    fn with(fixed: &[(&str, &str)]) -> Self {
        Self {
            fixed: fixed
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            ..Self::default()
        }
    }

    fn secret(&mut self, value: &str, what: &str) {
        self.fixed.push((value.to_string(), format!("<{what}>")));
    }

    /// `text` with every known secret, every UUID (numbered in order of
    /// first appearance) and, when it is one, the time replaced.
    fn name(&mut self, text: &str) -> String {
        if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
            return "<time>".into();
        }
        let mut out = text.to_string();
        for (from, to) in &self.fixed {
            out = out.replace(from.as_str(), to);
        }
        let mut i = 0;
        while i + 36 <= out.len() {
            let window = &out[i..i + 36];
            if is_uuid(window) {
                let n = self.seen.len() + 1;
                let name = self
                    .seen
                    .entry(window.to_string())
                    .or_insert_with(|| format!("<id{n}>"))
                    .clone();
                out.replace_range(i..i + 36, &name);
                i += name.len();
            } else {
                i += out[i..].chars().next().map_or(1, char::len_utf8);
            }
        }
        out
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn placeholders(v: &mut Value, names: &mut Names) {
    match v {
        Value::String(s) => *s = names.name(s),
        Value::Array(items) => items.iter_mut().for_each(|x| placeholders(x, names)),
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if k == "generation_ms" {
                    // How long a painting took: the machine's, not the code's.
                    *x = Value::String("<ms>".into());
                } else {
                    placeholders(x, names);
                }
            }
        }
        _ => {}
    }
}

/// Logs one answer; returns its JSON body.
fn record(
    log: &mut Vec<Value>,
    what: &str,
    resp: &warp::http::Response<warp::hyper::body::Bytes>,
) -> Value {
    let body: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    log.push(json!({ "request": what, "status": resp.status().as_u16(), "body": body }));
    body
}

/// The journey through the API (warp::test, fake Spotify, palette painter):
/// every answer's status and body.
#[tokio::test]
async fn api_answers_match_their_snapshot() {
    let h = harness().await;
    let mut log = Vec::new();
    let mut names = Names::default();
    let a = h.sign_in("sunny.listener").await;
    let b = h.sign_in("midnight.listener").await;
    record(
        &mut log,
        "GET /api/v1/me (a)",
        &h.get(&a, "/api/v1/me").await,
    );
    record(
        &mut log,
        "GET /api/v1/music/mood (a)",
        &h.get(&a, "/api/v1/music/mood").await,
    );
    record(
        &mut log,
        "GET /api/v1/music/mood?time_range=short_term (b)",
        &h.get(&b, "/api/v1/music/mood?time_range=short_term").await,
    );
    let invite = record(
        &mut log,
        "POST /api/v1/matches (a)",
        &h.post(&a, "/api/v1/matches", None).await,
    );
    let code = invite["invite"].as_str().unwrap().to_string();
    names.secret(&code, "invite");
    record(
        &mut log,
        "POST /api/v1/matches/{invite}/accept (a, own)",
        &h.post(&a, &format!("/api/v1/matches/{code}/accept"), None)
            .await,
    );
    let matched = record(
        &mut log,
        "POST /api/v1/matches/{invite}/accept (b)",
        &h.post(&b, &format!("/api/v1/matches/{code}/accept"), None)
            .await,
    );
    let id = matched["id"].as_str().unwrap().to_string();
    record(
        &mut log,
        "POST /api/v1/matches/{invite}/accept (b, again)",
        &h.post(&b, &format!("/api/v1/matches/{code}/accept"), None)
            .await,
    );
    record(
        &mut log,
        "GET /api/v1/matches (b)",
        &h.get(&b, "/api/v1/matches").await,
    );
    let queued = record(
        &mut log,
        "POST /api/v1/ai/art (a)",
        &h.post(&a, "/api/v1/ai/art", Some(json!({ "match_id": id })))
            .await,
    );
    record(
        &mut log,
        "POST /api/v1/ai/art (b, same picture)",
        &h.post(&b, "/api/v1/ai/art", Some(json!({ "match_id": id })))
            .await,
    );
    h.work().await;
    let job = record(
        &mut log,
        "GET /api/v1/jobs/{id} (a)",
        &h.get(&a, queued["status_url"].as_str().unwrap()).await,
    );
    let png_url = job["artwork_url"].as_str().unwrap().to_string();
    let meta_url = png_url.trim_end_matches(".png").to_string();
    record(
        &mut log,
        "GET /api/v1/art/{id} (b)",
        &h.get(&b, &meta_url).await,
    );
    let png = h.get(&a, &png_url).await;
    log.push(json!({
        "request": "GET /api/v1/art/{id}.png (a)",
        "status": png.status().as_u16(),
        "etag": png.headers()["etag"].to_str().unwrap(),
        "bytes": png.body().len(),
    }));
    record(
        &mut log,
        "POST /api/v1/ai/art (a, painted)",
        &h.post(&a, "/api/v1/ai/art", Some(json!({ "match_id": id })))
            .await,
    );
    record(
        &mut log,
        "GET /api/v1/gallery (b)",
        &h.get(&b, "/api/v1/gallery").await,
    );
    record(
        &mut log,
        "POST /api/v1/ai/art (a, bad body)",
        &h.post(&a, "/api/v1/ai/art", Some(json!({ "sede": 1 })))
            .await,
    );
    record(
        &mut log,
        "GET /api/v1/me (signed out)",
        &h.get(&Browser::default(), "/api/v1/me").await,
    );
    record(
        &mut log,
        "GET /api/v1/openapi.json",
        &h.get(&Browser::default(), "/api/v1/openapi.json").await,
    );
    let mut log = Value::Array(log);
    placeholders(&mut log, &mut names);
    check_json("api.json", &log);
}
