//! The fake Spotify as a process, for tests written in other languages
//! (the Python package's). Prints one JSON line with its base URL, then
//! takes commands on stdin, one per line, answering each with one line:
//!
//! ```text
//! approve USER                        /authorize signs USER in
//! deny true|false                     /authorize answers access_denied
//! expire                              every access token issued is expired
//! revoke USER                         USER withdrew the app's access
//! fail PATH STATUS [RETRY_AFTER] [N]  the next N requests under PATH fail
//! count PREFIX                        requests received under PREFIX
//! ```
//!
//! It exits when stdin closes, so it never outlives the test that started it.
//!
//! Usage: `fake-spotify --client-id ID --redirect-uri URI
//! [--extended] [--user ID=NAME=PROFILE.json]...`

use std::io::BufRead;

use spotifyart_core::ListeningProfile;
use spotifyart_spotify::fake::{FakeApp, FakeSpotify, Mode};

fn main() {
    if let Err(e) = run() {
        eprintln!("fake-spotify: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut client_id = None;
    let mut redirect_uris = Vec::new();
    let mut users = Vec::new();
    let mut mode = Mode::Development;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--client-id" => client_id = Some(value()?),
            "--redirect-uri" => redirect_uris.push(value()?),
            "--user" => users.push(value()?),
            "--extended" => mode = Mode::Extended,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let client_id = client_id.ok_or("--client-id is required")?;
    spotifyart_spotify::install_crypto_provider();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let app = FakeApp {
        client_id,
        client_secret: None,
        redirect_uris,
    };
    let fake = runtime
        .block_on(FakeSpotify::start(mode, app))
        .map_err(|e| format!("cannot listen: {e}"))?;
    for user in &users {
        let mut parts = user.splitn(3, '=');
        let (Some(id), Some(name), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("--user {user:?} is not ID=NAME=PROFILE.json"));
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let profile = ListeningProfile::from_json(&text).map_err(|e| format!("{path}: {e}"))?;
        fake.add_user(id, name, &profile);
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

fn command(fake: &FakeSpotify, words: &[&str]) -> Result<String, String> {
    let number = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("{s:?} is not a number"))
    };
    match words {
        ["approve", user] => fake.approve_as(user),
        ["deny", on] => fake.deny_consent(*on == "true"),
        ["expire"] => fake.expire_access_tokens(),
        ["revoke", user] => fake.revoke(user),
        ["fail", path, status, rest @ ..] => {
            let retry_after = rest.first().map(|s| number(s)).transpose()?;
            let times = rest.get(1).map(|s| number(s)).transpose()?.unwrap_or(1);
            fake.fail_next(path, number(status)? as u16, retry_after, times as usize);
        }
        ["count", prefix] => return Ok(fake.count(prefix).to_string()),
        other => return Err(format!("unknown command {:?}", other.join(" "))),
    }
    Ok("ok".into())
}
