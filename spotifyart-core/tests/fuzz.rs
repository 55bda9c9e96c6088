//! Fuzzing on the stable toolchain (issue 23): structured random inputs for
//! the export reader and `PROFILE.json`, run as ordinary tests.
//!
//! `cargo test` runs a short smoke per target; `scripts/fuzz` runs the same
//! targets for 10^6 executions each (`SPOTIFYART_FUZZ_N`). Every execution
//! derives its input from `(SPOTIFYART_FUZZ_SEED, index)`, so a failure
//! prints what replays it. Properties: no panic (caught with
//! `catch_unwind`), and any error is a clear `InvalidInput` or `Io` that
//! names the file read.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use spotifyart_core::Error;
use spotifyart_core::profile::ListeningProfile;
use spotifyart_core::source::export::{ExportOptions, ExportReader};
use spotifyart_core::testing::fuzz::{self, Rng, fuzz};

// ---------------------------------------------------------------- harness

/// Mutates `data` a few times: bit flips, byte edits, truncation, splices
/// of JSON punctuation, repeated slices.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    const TOKENS: &[&[u8]] = &[
        b"[",
        b"]",
        b"{",
        b"}",
        b",",
        b":",
        b"\"",
        b"\\",
        b"null",
        b"-1",
        b"1e999",
        b"18446744073709551616",
        b"\"\\ud800\"",
        b"\xEF\xBB\xBF",
        b"\xff",
        b"\x00",
        b"\"ms_played\":",
        b"\"msPlayed\":",
        b"\"ts\":",
        b"\"endTime\":",
    ];
    fuzz::mutate(rng, data, TOKENS, 64, 32);
}

/// Hostile whole documents: deep nesting, BOMs, odd values.
fn hostile_json(rng: &mut Rng) -> Vec<u8> {
    let depth = 1 + rng.below(5000);
    match rng.below(6) {
        0 => [b"[".repeat(depth), b"]".repeat(depth)].concat(),
        1 => [b"[".as_slice(), &b"{\"a\":".repeat(depth), b"1", &b"}".repeat(depth), b"]"].concat(),
        2 => b"\xEF\xBB\xBF\xEF\xBB\xBF[]".to_vec(),
        3 => br#"[{"ts":"9999-99-99T99:99:99Z","ms_played":18446744073709551615,"master_metadata_track_name":"","master_metadata_album_artist_name":"\u0000"}]"#.to_vec(),
        4 => br#"[{"endTime":"2024-13-45 25:61","msPlayed":-5,"artistName":null,"trackName":7}]"#.to_vec(),
        _ => (0..rng.below(256)).map(|_| rng.next() as u8).collect(),
    }
}

// ------------------------------------------------------------- the seeds

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"))
}

/// Small seeds from the sample exports: the first records of each history
/// file (whole files are hundreds of KB, too slow to mutate 10^6 times).
fn export_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for rel in [
        "exports/alice/Spotify Extended Streaming History/Streaming_History_Audio_2023.json",
        "exports/alice/Spotify Extended Streaming History/Streaming_History_Video_2023-2024.json",
        "exports/alice/MyData/StreamingHistory_music_0.json",
        "exports/bob/MyData/StreamingHistory_music_0.json",
        "exports/bob/MyData/StreamingHistory_podcast_0.json",
        "exports/bob/MyData/Userdata.json",
        "exports/alice/MyData/Wrapped2024.json",
        "exports/alice/MyData/Playlist1.json",
        "exports/alice/MyData/YourLibrary.json",
    ] {
        let text = std::fs::read(examples().join(rel)).expect("sample export");
        let value: serde_json::Value = serde_json::from_slice(&text).expect("sample is JSON");
        let value = match value {
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.into_iter().take(3).collect())
            }
            v => v,
        };
        seeds.push(serde_json::to_vec_pretty(&value).unwrap());
    }
    seeds
}

// --------------------------------------------------------------- exports

/// Names a history file may arrive under: every spelling, renamed copies,
/// and hostile zip entry names (traversal, absolute, Windows, NUL, long).
const NAMES: &[&str] = &[
    "Streaming_History_Audio_2023.json",
    "StreamingHistory_music_0.json",
    "StreamingHistory_podcast_0.json",
    "Streaming_History_Video_2024.json",
    "endsong_0.json",
    "Userdata.json",
    "Wrapped2024.json",
    "Playlist1.json",
    "YourLibrary.json",
    "my history (copy).json",
    "history.JSON",
    "history.txt",
    "../../etc/passwd",
    "../../Streaming_History_Audio_2020.json",
    "/etc/Streaming_History_Audio_2021.json",
    "C:\\Windows\\endsong.json",
    "MyData/../../../StreamingHistory0.json",
    "a/b/c/d/e/f/g/StreamingHistory1.json",
    "nested.zip",
    "dir/",
    "\u{202e}nosj.0yrotsiHgnimaertS",
];

fn seed_or_hostile(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = if rng.chance(8) {
        hostile_json(rng)
    } else {
        rng.pick(seeds).clone()
    };
    if rng.chance(8) {
        data.splice(0..0, b"\xEF\xBB\xBF".iter().copied());
    }
    if !rng.chance(4) {
        mutate(rng, &mut data);
    }
    data
}

fn zip_bytes(rng: &mut Rng, seeds: &[Vec<u8>], depth: usize) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        for _ in 0..=rng.below(4) {
            let name = *rng.pick(NAMES);
            let method = if rng.chance(2) {
                zip::CompressionMethod::Deflated
            } else {
                zip::CompressionMethod::Stored
            };
            let opts = zip::write::SimpleFileOptions::default().compression_method(method);
            if name.ends_with('/') {
                let _ = zip.add_directory(name, opts);
                continue;
            }
            let body = if name.ends_with(".zip") && depth < 2 {
                zip_bytes(rng, seeds, depth + 1)
            } else {
                seed_or_hostile(rng, seeds)
            };
            // Duplicate names are refused by the writer: skip them.
            if zip.start_file(name, opts).is_ok() {
                zip.write_all(&body).unwrap();
            }
        }
        zip.finish().unwrap();
    }
    let mut bytes = out.into_inner();
    if rng.chance(3) {
        mutate(rng, &mut bytes);
    }
    bytes
}

/// The reader's errors for bad input name the file and are `InvalidInput`
/// or `Io`.
fn check_export(
    result: spotifyart_core::Result<ListeningProfile>,
    file: &str,
) -> Result<(), String> {
    match result {
        Ok(p) => p
            .clone()
            .normalize()
            .map_err(|e| format!("profile read from {file} does not normalize: {e}")),
        Err(Error::InvalidInput { message }) if message.contains(file) => Ok(()),
        Err(Error::Io { path, .. }) if path.to_string_lossy().contains(file) => Ok(()),
        Err(e) => Err(format!("unclear error for {file}: {e:?}")),
    }
}

#[test]
fn fuzz_export_json() {
    let seeds = export_seeds();
    let dir = tempfile::tempdir().unwrap();
    let reader = ExportReader::default();
    fuzz("export_json", 300, |rng| {
        let data = seed_or_hostile(rng, &seeds);
        let name = rng.pick(&NAMES[..12]);
        let path = dir.path().join(name);
        std::fs::write(&path, &data).unwrap();
        let result = reader.read(&path);
        std::fs::remove_file(&path).unwrap();
        check_export(result, name)
    });
}

#[test]
fn fuzz_export_zip() {
    let seeds = export_seeds();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.zip");
    let reader = ExportReader::default();
    fuzz("export_zip", 200, |rng| {
        std::fs::write(&path, zip_bytes(rng, &seeds, 0)).unwrap();
        check_export(reader.read(&path), "export.zip")
    });
}

#[test]
fn fuzz_profile_json() {
    let mut seeds = Vec::new();
    for name in ["midnight.json", "sunny.json"] {
        seeds.push(std::fs::read(examples().join("profiles").join(name)).unwrap());
    }
    fuzz("profile_json", 300, |rng| {
        let mut data = if rng.chance(10) {
            hostile_json(rng)
        } else {
            rng.pick(&seeds).clone()
        };
        mutate(rng, &mut data);
        let text = String::from_utf8_lossy(&data);
        match ListeningProfile::from_json(&text) {
            // A profile that loads must round-trip.
            Ok(p) => ListeningProfile::from_json(&p.to_json())
                .map(|_| ())
                .map_err(|e| format!("loaded profile does not round-trip: {e}")),
            Err(Error::InvalidInput { .. }) => Ok(()),
            Err(e) => Err(format!("not InvalidInput: {e:?}")),
        }
    });
}

// ------------------------------------------------- hand-made hostile zips

fn write_zip(path: &Path, entries: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, body) in entries {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(body).unwrap();
    }
    zip.finish().unwrap();
}

/// A zip bomb: 256 MiB of one byte in a ~250 KB entry, far over the
/// in-memory limit. The reader streams it (never holding more than the
/// limit) and fails quickly naming the entry.
#[test]
fn zip_bombs_are_refused_without_inflating_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = vec![b'['; 256 << 20];
    for name in ["Streaming_History_Audio_2023.json", "renamed.json"] {
        let path = dir.path().join("bomb.zip");
        write_zip(&path, &[(name, &bomb)]);
        let reader = ExportReader::new(ExportOptions {
            in_memory_limit: 1 << 20,
            ..ExportOptions::default()
        });
        let start = Instant::now();
        let result = reader.read(&path);
        assert!(start.elapsed() < Duration::from_secs(60));
        match result {
            Err(Error::InvalidInput { message }) => {
                assert!(message.contains("bomb.zip"), "{message}")
            }
            other => panic!("bomb read as {other:?}"),
        }
    }
}

/// `Userdata.json` is read for its country only; a bomb there (a huge
/// string) is cut at the reader's limit instead of being allocated whole.
#[test]
fn userdata_bombs_are_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.zip");
    let mut userdata = b"{\"country\": \"".to_vec();
    userdata.resize(64 << 20, b'A');
    userdata.extend_from_slice(b"\"}");
    let history =
        std::fs::read(examples().join("exports/bob/MyData/StreamingHistory_music_0.json")).unwrap();
    write_zip(
        &path,
        &[
            ("MyData/Userdata.json", &userdata),
            ("MyData/StreamingHistory_music_0.json", &history),
        ],
    );
    let profile = ExportReader::default().read(&path).unwrap();
    assert!(!profile.source.files.is_empty());
}

/// Entry names are only labels: traversal and absolute names are read
/// from inside the archive, never resolved on disk.
#[test]
fn traversal_entry_names_stay_inside_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.zip");
    let history =
        std::fs::read(examples().join("exports/bob/MyData/StreamingHistory_music_0.json")).unwrap();
    write_zip(
        &path,
        &[
            ("../../etc/passwd", b"root:x:0:0"),
            ("/abs/StreamingHistory_music_0.json", &history),
            ("../../renamed.json", &history),
        ],
    );
    let profile = ExportReader::default().read(&path).unwrap();
    assert_eq!(profile.source.files.len(), 2, "{:?}", profile.source.files);
    assert!(
        !dir.path().parent().unwrap().join("etc/passwd").exists()
            || Path::new("/etc/passwd").exists()
    );
}
