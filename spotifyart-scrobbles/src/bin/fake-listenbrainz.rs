//! The fake ListenBrainz as a process, for tests written in other
//! languages (the Python package's). Prints one JSON line with its base
//! URL, then takes commands on stdin, one per line, answering each with
//! one line:
//!
//! ```text
//! user NAME LISTENS.json          add NAME with listens [[ts, artist, track, release], ...]
//! pending NAME true|false         NAME's statistics answer 204 (not calculated)
//! private NAME true|false         NAME's profile answers 403
//! token TOKEN|none                require Authorization: Token TOKEN (401 otherwise)
//! issue-token NAME                a new user token of NAME (for /1/validate-token), printed
//! fail PATH STATUS [N]            the next N requests under PATH answer STATUS
//! malformed PATH                  the next request under PATH gets broken JSON
//! ratelimit REMAINING RESET_SECS  429 after REMAINING requests, for RESET_SECS
//! count PREFIX                    requests received under PREFIX
//! ```
//!
//! It exits when stdin closes, so it never outlives the test that started
//! it. Usage: `fake-listenbrainz [--user NAME=LISTENS.json]...`

use std::io::BufRead;

use spotifyart_scrobbles::fake::listenbrainz::FakeListenBrainz;

fn main() {
    if let Err(e) = run() {
        eprintln!("fake-listenbrainz: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut users = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--user" => users.push(args.next().ok_or("--user needs NAME=LISTENS.json")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let fake = runtime
        .block_on(FakeListenBrainz::start())
        .map_err(|e| format!("cannot listen: {e}"))?;
    for user in &users {
        let (name, path) = user
            .split_once('=')
            .ok_or(format!("--user {user:?} is not NAME=LISTENS.json"))?;
        add_user(&fake, name, path)?;
    }
    println!("{}", serde_json::json!({ "url": fake.url().as_str() }));
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        let words: Vec<&str> = line.split_whitespace().collect();
        println!(
            "{}",
            command(&fake, &words).unwrap_or_else(|e| format!("error: {e}"))
        );
    }
    Ok(())
}

/// Listens from a JSON file: `[[unix time, artist, track, release], ...]`.
fn add_user(fake: &FakeListenBrainz, name: &str, path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let listens: Vec<(i64, String, String, String)> =
        serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    fake.add_user(name, listens);
    Ok(())
}

fn command(fake: &FakeListenBrainz, words: &[&str]) -> Result<String, String> {
    let number = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("{s:?} is not a number"))
    };
    let flag = |s: &str| match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{s:?} is not true or false")),
    };
    match words {
        ["user", name, path] => add_user(fake, name, path)?,
        ["pending", name, on] => fake.stats_pending(name, flag(on)?),
        ["private", name, on] => fake.private(name, flag(on)?),
        ["token", "none"] => fake.require_token(None),
        ["token", token] => fake.require_token(Some(*token)),
        ["issue-token", name] => return Ok(fake.issue_token(name)),
        ["fail", path, status, rest @ ..] => {
            let times = rest.first().map(|s| number(s)).transpose()?.unwrap_or(1);
            let status = u16::try_from(number(status)?).map_err(|e| e.to_string())?;
            fake.fail_next(path, status, times as usize);
        }
        ["malformed", path] => fake.malformed_next(path),
        ["ratelimit", remaining, reset] => {
            let remaining = u32::try_from(number(remaining)?).map_err(|e| e.to_string())?;
            fake.rate_limit(remaining, number(reset)?);
        }
        ["count", prefix] => return Ok(fake.count(prefix).to_string()),
        other => return Err(format!("unknown command {:?}", other.join(" "))),
    }
    Ok("ok".into())
}
