//! Benchmark data for SpotifyArt's benches (`benches/benches/*.rs`).
//!
//! Histories are generated, not downloaded: realistic record shapes (the
//! fields and sizes Spotify writes) with a long-tailed catalogue, so parsing
//! cost per byte matches real exports.

use std::io::Write;
use std::path::Path;

/// Writes an extended-history file (`Streaming_History_Audio_*.json`
/// shape, pretty-printed like Spotify's) with `plays` records; returns its size.
pub fn write_extended(path: &Path, plays: u32) -> u64 {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    writeln!(f, "[").unwrap();
    for i in 0..plays {
        let track = zipf_index(i, 5_000);
        let comma = if i + 1 < plays { "," } else { "" };
        write!(
            f,
            r#"  {{
    "ts": "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
    "platform": "android",
    "ms_played": {},
    "conn_country": "SE",
    "ip_addr": "203.0.113.23",
    "master_metadata_track_name": "Track number {track}",
    "master_metadata_album_artist_name": "Artist {}",
    "master_metadata_album_album_name": "Album {}",
    "spotify_track_uri": "spotify:track:{:022}",
    "episode_name": null,
    "episode_show_name": null,
    "spotify_episode_uri": null,
    "audiobook_title": null,
    "audiobook_uri": null,
    "audiobook_chapter_uri": null,
    "audiobook_chapter_title": null,
    "reason_start": "trackdone",
    "reason_end": "{}",
    "shuffle": false,
    "skipped": {},
    "offline": false,
    "offline_timestamp": 1700000000,
    "incognito_mode": false
  }}{comma}
"#,
            18 + (i / 100_000) % 8,
            1 + (i / 8_000) % 12,
            1 + (i / 300) % 28,
            i % 24,
            i % 60,
            (i * 7) % 60,
            if i % 9 == 0 {
                4_000
            } else {
                180_000 + i % 60_000
            },
            track % 800,
            track % 1_500,
            track,
            if i % 9 == 0 { "fwdbtn" } else { "trackdone" },
            i % 9 == 0,
        )
        .unwrap();
    }
    writeln!(f, "]").unwrap();
    drop(f);
    std::fs::metadata(path).unwrap().len()
}

/// Writes an account-data file (`StreamingHistory_music_N.json` shape).
pub fn write_account(path: &Path, plays: u32) -> u64 {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    writeln!(f, "[").unwrap();
    for i in 0..plays {
        let track = zipf_index(i, 5_000);
        let comma = if i + 1 < plays { "," } else { "" };
        write!(
            f,
            "  {{\n    \"endTime\": \"2024-{:02}-{:02} {:02}:{:02}\",\n    \"artistName\": \"Artist {}\",\n    \"trackName\": \"Track number {track}\",\n    \"msPlayed\": {}\n  }}{comma}\n",
            1 + (i / 8_000) % 12,
            1 + (i / 300) % 28,
            i % 24,
            i % 60,
            track % 800,
            if i % 9 == 0 { 4_000 } else { 180_000 + i % 60_000 },
        )
        .unwrap();
    }
    writeln!(f, "]").unwrap();
    drop(f);
    std::fs::metadata(path).unwrap().len()
}

/// A deterministic long-tailed index in `0..n` (a few tracks played a lot,
/// most rarely), like real listening.
fn zipf_index(i: u32, n: u32) -> u32 {
    let x = (i.wrapping_mul(2_654_435_761) % 1_000_000) as f64 / 1_000_000.0;
    ((n as f64).powf(x) as u32).min(n - 1)
}

/// The PostgreSQL server benches use: `SPOTIFYART_BENCH_POSTGRES_URL`, else
/// `SPOTIFYART_TEST_POSTGRES_URL`; `None` (with a notice) when neither is set.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("SPOTIFYART_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("SPOTIFYART_TEST_POSTGRES_URL"))
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("notice: set SPOTIFYART_BENCH_POSTGRES_URL to include PostgreSQL");
    }
    url
}

/// A fresh store of each configured kind: `("sqlite", ..)` always,
/// `("postgres", ..)` when a server is configured. The temporary directory
/// must outlive the SQLite store.
pub async fn stores(dir: &Path) -> Vec<(&'static str, std::sync::Arc<dyn spotifyart_core::Store>)> {
    use spotifyart_store::{EncryptionKey, Keyring};
    let keys = Keyring::new(&EncryptionKey::generate(), &[]);
    let name = format!(
        "bench-{}.db",
        std::process::id() as u64 * 1000 + rand_suffix()
    );
    let sqlite = spotifyart_store::SqliteStore::open(&dir.join(name), keys.clone())
        .await
        .expect("open SQLite");
    let mut out: Vec<(&'static str, std::sync::Arc<dyn spotifyart_core::Store>)> =
        vec![("sqlite", std::sync::Arc::new(sqlite))];
    if let Some(base) = postgres_url() {
        let url = spotifyart_store::testing::fresh_schema_url(&base)
            .await
            .expect("PostgreSQL for benches");
        let pg = spotifyart_store::PostgresStore::open(&url, keys, 16)
            .await
            .expect("open PostgreSQL");
        out.push(("postgres", std::sync::Arc::new(pg)));
    }
    out
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
