//! The Spotify export reader against the sample exports and the shapes real
//! users hand over: both formats, zips, single files, renamed files,
//! duplicates, broken and empty input.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use spotifyart_core::profile::Signal;
use spotifyart_core::source::export::ExportOptions;
use spotifyart_core::testing::source::{
    check_profile, profile_is_well_formed, unknown_user_is_not_found,
};
use spotifyart_core::{
    Error, ExportReader, ExportSource, FixtureSource, ListeningProfile, MoodModel, TimeRange,
    UserId, mood::AutoModel, read_export,
};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/exports")
}

fn alice_2023() -> PathBuf {
    examples().join("alice/Spotify Extended Streaming History/Streaming_History_Audio_2023.json")
}

fn invalid_message(r: spotifyart_core::Result<ListeningProfile>) -> String {
    match r {
        Err(Error::InvalidInput { message }) => message,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn alice_extended_history_wins_over_account_data() {
    let p = read_export(examples().join("alice")).unwrap();
    check_profile(&p);
    assert_eq!(p.source.kind, "spotify_export");
    assert_eq!(p.source.formats, vec!["extended"]);
    assert_eq!(
        p.source.files,
        vec![
            "Spotify Extended Streaming History/Streaming_History_Audio_2023.json",
            "Spotify Extended Streaming History/Streaming_History_Audio_2024.json",
        ]
    );
    let notes = p.source.notes.join("\n");
    assert!(
        notes
            .contains("MyData/StreamingHistory_music_0.json: skipped, the extended history covers"),
        "{notes}"
    );
    assert!(
        notes.contains("Streaming_History_Video_2023-2024.json: skipped, video"),
        "{notes}"
    );
    assert!(
        notes.contains("5 file(s) that are not listening history were ignored"),
        "{notes}"
    );
    assert!(notes.contains("local time for SE"), "{notes}");
    let stats = p.source.export.as_ref().unwrap();
    assert_eq!(stats.records, 1502);
    assert_eq!(
        stats.unnamed, 1,
        "the null-named play is skipped, not fatal"
    );
    assert_eq!(stats.non_music, 1, "the podcast episode is not music");
    assert_eq!(stats.counted + stats.short, 1500);
    assert_eq!(stats.duplicates, 0);

    assert_eq!(p.top_artists.long_term[0].name, "ABBA");
    assert_eq!(p.top_tracks.long_term[0].name, "Dancing Queen");
    assert_eq!(p.top_tracks.long_term[0].album.as_deref(), Some("Arrival"));
    assert!(p.top_tracks.long_term[0].id.is_some());
    assert!(p.top_tracks.short_term.len() < p.top_tracks.long_term.len() + 1);
    let period = p.period.unwrap();
    assert_eq!(period.from.to_rfc3339()[..10], *"2023-01-01");
    assert_eq!(period.to.to_rfc3339()[..4], *"2024");

    let b = p.behaviour.as_ref().unwrap();
    assert_eq!(b.utc_offset_minutes, Some(60));
    let skip = b.skip_rate.unwrap();
    assert!((0.03..0.12).contains(&skip), "alice rarely skips: {skip}");
    assert!(b.night_share().unwrap() < 0.1, "alice listens by day");
    assert_eq!(
        p.signals,
        vec![Signal::Names, Signal::PlayTimes, Signal::Skips],
        "an export has names and behaviour, no audio features or genres"
    );
    // Personal fields of the export never reach the profile.
    let json = p.to_json();
    for private in ["203.0.113", "alice@example.com", "1994-05-17", "android"] {
        assert!(!json.contains(private), "{private} leaked into the profile");
    }
}

#[test]
fn bob_account_data_with_podcasts_and_unknown_tracks() {
    let p = read_export(examples().join("bob")).unwrap();
    check_profile(&p);
    assert_eq!(p.source.formats, vec!["account_data"]);
    assert_eq!(
        p.source.files.len(),
        3,
        "two music files and the podcast file"
    );
    let stats = p.source.export.as_ref().unwrap();
    assert_eq!(stats.non_music, 40, "podcast plays do not count");
    assert_eq!(
        stats.unnamed, 1,
        "Unknown Artist / Unknown Track is skipped"
    );
    assert!(stats.short > 50, "short plays are kept for the skip rate");
    let b = p.behaviour.as_ref().unwrap();
    assert_eq!(
        b.utc_offset_minutes,
        Some(0),
        "country from Userdata.json (GB)"
    );
    assert!(b.night_share().unwrap() > 0.5, "bob listens at night");
    assert!(
        b.repeat_ratio > 0.7,
        "bob replays the same songs: {}",
        b.repeat_ratio
    );
    assert!(
        p.top_artists
            .long_term
            .iter()
            .any(|a| a.name == "Ólafur Arnalds")
    );
    // Account data has no albums or ids.
    assert!(
        p.top_tracks
            .long_term
            .iter()
            .all(|t| t.album.is_none() && t.id.is_none())
    );
    assert!(!p.to_json().contains("bob@example.com"));
}

#[test]
fn carol_zip_in_the_old_endsong_format() {
    let p = read_export(examples().join("carol.zip")).unwrap();
    check_profile(&p);
    assert_eq!(p.source.formats, vec!["extended"]);
    assert_eq!(
        p.source.files,
        vec![
            "carol.zip/MyData/endsong_0.json",
            "carol.zip/MyData/endsong_1.json"
        ]
    );
    let b = p.behaviour.as_ref().unwrap();
    assert_eq!(b.utc_offset_minutes, Some(-300));
    let skip = b.skip_rate.unwrap();
    assert!(
        (0.35..0.55).contains(&skip),
        "skips read from reason_end when `skipped` is null: {skip}"
    );
    assert_eq!(p.top_artists.long_term[0].name, "Metallica");
    let json = p.to_json();
    assert!(!json.contains("carol_x") && !json.contains("198.51.100"));
}

#[test]
fn a_single_file_and_a_renamed_file() {
    let single = read_export(alice_2023()).unwrap();
    check_profile(&single);
    assert_eq!(
        single.source.files,
        vec!["Streaming_History_Audio_2023.json"]
    );

    let dir = tempfile::tempdir().unwrap();
    fs::copy(alice_2023(), dir.path().join("my listening (copy).json")).unwrap();
    fs::write(dir.path().join("Playlist1.json"), r#"{"playlists": []}"#).unwrap();
    let renamed = read_export(dir.path()).unwrap();
    assert_eq!(renamed.source.files, vec!["my listening (copy).json"]);
    assert_eq!(
        renamed.source.export.as_ref().unwrap().counted,
        single.source.export.as_ref().unwrap().counted
    );
}

#[test]
fn the_same_file_twice_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["download-1", "download-2"] {
        fs::create_dir(dir.path().join(sub)).unwrap();
        fs::copy(
            alice_2023(),
            dir.path()
                .join(sub)
                .join("Streaming_History_Audio_2023.json"),
        )
        .unwrap();
    }
    let p = read_export(dir.path()).unwrap();
    let single = read_export(alice_2023()).unwrap();
    let (s, s1) = (p.source.export.unwrap(), single.source.export.unwrap());
    assert_eq!(s.counted, s1.counted);
    assert_eq!(s.duplicates, s1.records - s1.unnamed);
    assert_eq!(p.top_tracks, single.top_tracks);
}

#[test]
fn a_byte_order_mark_from_a_windows_editor_is_read_past() {
    // Both formats, in memory and streamed, on disk and in a zip.
    let dir = tempfile::tempdir().unwrap();
    let extended = fs::read(alice_2023()).unwrap();
    let account = fs::read(examples().join("bob/MyData/StreamingHistory_music_0.json")).unwrap();
    let with_bom = |bytes: &[u8]| [b"\xEF\xBB\xBF".as_slice(), bytes].concat();
    fs::write(
        dir.path().join("Streaming_History_Audio_2023.json"),
        with_bom(&extended),
    )
    .unwrap();
    let plain = read_export(alice_2023()).unwrap();
    let read = read_export(dir.path()).unwrap();
    assert_eq!(read.top_tracks, plain.top_tracks);
    let streamed = ExportReader::new(ExportOptions {
        in_memory_limit: 1024,
        ..ExportOptions::default()
    })
    .read(dir.path())
    .unwrap();
    assert_eq!(streamed.top_tracks, plain.top_tracks);

    let zipped = dir.path().join("my_spotify_data.zip");
    let mut zip = zip::ZipWriter::new(fs::File::create(&zipped).unwrap());
    zip.start_file(
        "MyData/StreamingHistory_music_0.json",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(&with_bom(&account)).unwrap();
    zip.finish().unwrap();
    let from_zip = read_export(&zipped).unwrap();
    let bob_file = examples().join("bob/MyData/StreamingHistory_music_0.json");
    assert_eq!(
        from_zip.top_artists,
        read_export(bob_file).unwrap().top_artists
    );
}

#[test]
fn a_zip_inside_a_folder_is_read() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        examples().join("carol.zip"),
        dir.path().join("my_spotify_data.zip"),
    )
    .unwrap();
    let p = read_export(dir.path()).unwrap();
    assert_eq!(p.top_artists.long_term[0].name, "Metallica");
}

#[test]
fn a_truncated_file_names_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let full = fs::read_to_string(alice_2023()).unwrap();
    let cut = &full[..full.len() / 2];
    let line = cut.lines().count();
    fs::write(dir.path().join("Streaming_History_Audio_2023.json"), cut).unwrap();
    let streaming = ExportReader::new(ExportOptions {
        in_memory_limit: 4096,
        ..ExportOptions::default()
    });
    for result in [read_export(dir.path()), streaming.read(dir.path())] {
        let msg = invalid_message(result);
        assert!(
            msg.starts_with("Streaming_History_Audio_2023.json: line "),
            "{msg}"
        );
        assert!(msg.contains(&format!("line {line}")), "{msg}");
        assert!(msg.contains("ends early"), "{msg}");
    }
}

#[test]
fn broken_json_and_wrong_shapes_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("StreamingHistory_music_0.json");
    fs::write(
        &path,
        "[\n  {\"endTime\": \"2024-01-01 10:00\", \"msPlayed\": 1000,}\n]",
    )
    .unwrap();
    let msg = invalid_message(read_export(&path));
    assert!(
        msg.contains("StreamingHistory_music_0.json: line 2, column"),
        "{msg}"
    );
    assert!(msg.contains("not valid JSON"), "{msg}");

    fs::write(&path, r#"{"playlists": []}"#).unwrap();
    let msg = invalid_message(read_export(&path));
    assert!(msg.contains("not a Spotify streaming history"), "{msg}");
    assert!(msg.contains("expected a JSON array of plays"), "{msg}");

    fs::write(&path, "[1, 2]").unwrap();
    let msg = invalid_message(read_export(&path));
    assert!(msg.contains("line 1, column"), "{msg}");

    let zip = dir.path().join("export.zip");
    fs::write(&zip, b"PK\x03\x04 this is not really a zip").unwrap();
    let msg = invalid_message(read_export(&zip));
    assert!(
        msg.contains("export.zip: not a readable zip archive"),
        "{msg}"
    );
}

#[test]
fn empty_or_history_less_folders_say_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let msg = invalid_message(read_export(dir.path()));
    assert!(msg.contains("no Spotify listening history"), "{msg}");
    assert!(msg.contains("found no files at all"), "{msg}");

    fs::write(dir.path().join("Playlist1.json"), r#"{"playlists": []}"#).unwrap();
    fs::write(dir.path().join("Wrapped2024.json"), r#"{"topArtists": {}}"#).unwrap();
    let msg = invalid_message(read_export(dir.path()));
    assert!(
        msg.contains("found 2 other file(s): Playlist1.json, Wrapped2024.json"),
        "{msg}"
    );

    match read_export(dir.path().join("missing")) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("missing")),
        other => panic!("expected an Io error, got {other:?}"),
    }
}

#[test]
fn podcast_only_history_is_an_empty_profile_with_a_neutral_mood() {
    let p = read_export(examples().join("bob/MyData/StreamingHistory_podcast_0.json")).unwrap();
    check_profile(&p);
    assert!(p.is_empty());
    assert_eq!(p.source.export.as_ref().unwrap().non_music, 40);
    assert!(
        p.source
            .notes
            .iter()
            .any(|n| n.contains("no music plays: the history holds 40 podcast")),
        "{:?}",
        p.source.notes
    );
    let mood = AutoModel::default().mood(&p).unwrap();
    assert_eq!(
        (mood.valence, mood.arousal, mood.confidence),
        (0.0, 0.0, 0.0)
    );
    assert!(mood.signals.is_empty());
}

#[test]
fn the_30_second_threshold_and_skip_inference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Streaming_History_Audio_2024.json");
    let rec = |ts: &str, ms: u64, reason_end: &str, skipped: &str| {
        format!(
            r#"{{"ts": "{ts}", "ms_played": {ms}, "master_metadata_track_name": "T",
                "master_metadata_album_artist_name": "A", "reason_end": "{reason_end}",
                "skipped": {skipped}}}"#
        )
    };
    let body = [
        rec("2024-01-01T10:00:00Z", 29_999, "trackdone", "null"),
        rec("2024-01-01T10:01:00Z", 30_000, "fwdbtn", "null"),
        rec("2024-01-01T10:02:00Z", 200_000, "trackdone", "true"),
        rec("2024-01-01T10:03:00Z", 200_000, "trackdone", "false"),
    ]
    .join(",");
    fs::write(&path, format!("[{body}]")).unwrap();
    let p = read_export(&path).unwrap();
    let s = p.source.export.as_ref().unwrap();
    assert_eq!((s.counted, s.short), (3, 1));
    assert_eq!(p.top_tracks.long_term[0].plays, Some(3));
    // Skips: #2 (fwdbtn) and #3 (flag); #1 ended normally, #4 flag false.
    assert_eq!(p.behaviour.as_ref().unwrap().skip_rate, Some(0.5));

    let strict = ExportReader::new(ExportOptions {
        min_ms_played: 200_000,
        ..ExportOptions::default()
    })
    .read(&path)
    .unwrap();
    assert_eq!(strict.source.export.unwrap().counted, 2);
}

#[test]
fn large_files_stream() {
    // 40k plays (~25 MB of JSON) in one file: read without holding it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Streaming_History_Audio_2019-2021_0.json");
    let mut f = std::io::BufWriter::new(fs::File::create(&path).unwrap());
    write!(f, "[").unwrap();
    for i in 0..40_000u32 {
        if i > 0 {
            write!(f, ",").unwrap();
        }
        write!(
            f,
            r#"{{"ts": "2021-{:02}-{:02}T{:02}:00:00Z", "username": "x", "ms_played": {},
            "master_metadata_track_name": "Track {}", "master_metadata_album_artist_name": "Artist {}",
            "master_metadata_album_album_name": "Album", "spotify_track_uri": "spotify:track:{}",
            "reason_start": "trackdone", "reason_end": "trackdone", "shuffle": false, "skipped": null,
            "offline": false, "offline_timestamp": 0, "incognito_mode": false, "padding": "{}"}}"#,
            1 + i % 12,
            1 + i % 28,
            i % 24,
            31_000 + i,
            i % 997,
            i % 997 % 101,
            i,
            "x".repeat(300)
        )
        .unwrap();
    }
    write!(f, "]").unwrap();
    drop(f);
    let streamed = ExportReader::new(ExportOptions {
        in_memory_limit: 1 << 20,
        ..ExportOptions::default()
    })
    .read(&path)
    .unwrap();
    check_profile(&streamed);
    assert_eq!(streamed.source.export.as_ref().unwrap().counted, 40_000);
    assert_eq!(streamed.top_tracks.long_term.len(), 50);
    assert_eq!(streamed.behaviour.as_ref().unwrap().distinct_tracks, 997);
    assert_eq!(read_export(&path).unwrap(), streamed, "both paths agree");
}

#[tokio::test]
async fn export_source_conformance() {
    let mut source = ExportSource::new();
    let (alice, bob, carol) = (UserId::new(), UserId::new(), UserId::new());
    source.insert(alice, examples().join("alice"));
    source.insert(bob, examples().join("bob"));
    source.insert(carol, examples().join("carol.zip"));
    for user in [alice, bob, carol] {
        profile_is_well_formed(&source, user).await;
    }
    unknown_user_is_not_found(&source).await;
}

#[tokio::test]
async fn fixture_source_conformance() {
    let source = FixtureSource::new();
    let user = UserId::new();
    source
        .insert(user, read_export(examples().join("bob")).unwrap())
        .unwrap();
    let p = profile_is_well_formed(&source, user).await;
    assert_eq!(p.only(TimeRange::ShortTerm).top_tracks.long_term.len(), 0);
    unknown_user_is_not_found(&source).await;
}
