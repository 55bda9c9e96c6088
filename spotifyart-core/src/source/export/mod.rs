//! Spotify's "Download your data" exports, read offline.
//!
//! Accepts a folder (searched recursively, zips inside included), a `.zip`,
//! or a single `.json` file. History files are recognised by name across
//! the years' spellings, and unknown JSON is sniffed so renamed files still
//! count; playlists, library, Wrapped, search queries and the rest of a
//! real export are recognised as not listening history and skipped.
//!
//! | file | format |
//! | --- | --- |
//! | `StreamingHistory0.json`, `StreamingHistory_music_0.json` | account data |
//! | `StreamingHistory_podcast_0.json` | account data, podcasts (skipped) |
//! | `endsong.json`, `endsong_0.json` | extended (before 2023) |
//! | `Streaming_History_Audio_2023.json`, `Streaming_History_Audio_2019-2021_0.json` | extended |
//! | `Streaming_History_Video_*.json` | extended, video (skipped) |
//!
//! When a folder holds both formats, the extended history wins: it covers
//! the same plays with more detail, and mixing them would count plays twice.

pub(super) mod builder;
pub(super) mod records;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use self::builder::ProfileBuilder;
use crate::ids::UserId;
use crate::profile::ListeningProfile;
use crate::source::MusicSource;
use crate::{Error, Result};

/// Reading options.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// Plays shorter than this do not count as listening (Spotify's own
    /// threshold for a stream is 30 s). They still count for the skip rate.
    pub min_ms_played: u64,
    /// Length of each top list.
    pub top_n: usize,
    /// Number of recent plays kept.
    pub recent_n: usize,
    /// Files smaller than this are parsed from memory (about twice as fast);
    /// larger ones stream, so memory stays bounded whatever the file size.
    /// Spotify's own files are a few MB.
    pub in_memory_limit: u64,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            min_ms_played: 30_000,
            top_n: 50,
            recent_n: 50,
            in_memory_limit: 64 << 20,
        }
    }
}

/// What a file in an export holds, judged by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// Account-data music history.
    AccountMusic,
    /// Account-data podcast history.
    AccountPodcast,
    /// Extended streaming history (audio).
    Extended,
    /// Extended video history.
    ExtendedVideo,
    /// The account's `Userdata.json` (only its country is read).
    Userdata,
    /// Anything else (playlists, library, Wrapped, PDFs...).
    Other,
}

/// Classifies a file by its base name.
pub fn classify(name: &str) -> FileKind {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    if !base.ends_with(".json") {
        return FileKind::Other;
    }
    if base == "userdata.json" {
        FileKind::Userdata
    } else if base.starts_with("streaminghistory") {
        if base.contains("podcast") {
            FileKind::AccountPodcast
        } else if base.contains("video") {
            FileKind::ExtendedVideo
        } else {
            FileKind::AccountMusic
        }
    } else if base.starts_with("endsong") || base.starts_with("streaming_history_audio") {
        FileKind::Extended
    } else if base.starts_with("streaming_history_video") {
        FileKind::ExtendedVideo
    } else {
        FileKind::Other
    }
}

/// Reads exports with [`ExportOptions`].
#[derive(Clone, Debug, Default)]
pub struct ExportReader {
    options: ExportOptions,
}

/// Where a file lives: on disk or inside a zip on disk.
#[derive(Clone, Debug)]
enum Location {
    Disk(PathBuf),
    Zip { archive: PathBuf, index: usize },
}

#[derive(Clone, Debug)]
struct Found {
    /// Name relative to the export root, for messages and the profile.
    name: String,
    kind: FileKind,
    at: Location,
}

/// Reads a Spotify export (folder, `.zip` or `.json`) with default options.
pub fn read_export(path: impl AsRef<Path>) -> Result<ListeningProfile> {
    ExportReader::default().read(path)
}

impl ExportReader {
    /// A reader with `options`.
    pub fn new(options: ExportOptions) -> Self {
        Self { options }
    }

    /// Reads the export at `path`. Fails with `InvalidInput` naming the
    /// file and line for corrupt files, and when no listening history is
    /// found at all; a history with no music (podcasts only) gives an empty
    /// profile whose notes say why.
    pub fn read(&self, path: impl AsRef<Path>) -> Result<ListeningProfile> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mut found = Vec::new();
        let mut others = Vec::new();
        if meta.is_dir() {
            walk(path, path, &mut found, &mut others)?;
        } else if is_zip(path) {
            scan_zip(path, &display_name(path), &mut found, &mut others)?;
        } else {
            // A single file is taken as history whatever its name (a podcast
            // file still parses and yields its count).
            let name = display_name(path);
            let kind = match classify(&name) {
                FileKind::Other | FileKind::Userdata => {
                    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
                    match sniff(&mut f) {
                        // Not recognisable: parse it anyway, so the error
                        // says what is wrong with it.
                        FileKind::Other => FileKind::Extended,
                        k => k,
                    }
                }
                k => k,
            };
            found.push(Found {
                name,
                kind,
                at: Location::Disk(path.to_path_buf()),
            });
        }
        self.read_found(path, found, others)
    }

    fn read_found(
        &self,
        root: &Path,
        mut found: Vec<Found>,
        others: Vec<String>,
    ) -> Result<ListeningProfile> {
        found.sort_by(|a, b| a.name.cmp(&b.name));
        let mut notes = Vec::new();
        let has_extended = found.iter().any(|f| f.kind == FileKind::Extended);
        let mut country = None;
        let mut to_read = Vec::new();
        for f in found {
            match f.kind {
                FileKind::AccountMusic if has_extended => notes.push(format!(
                    "{}: skipped, the extended history covers the same plays in more detail",
                    f.name
                )),
                FileKind::ExtendedVideo => {
                    notes.push(format!("{}: skipped, video is not music listening", f.name))
                }
                FileKind::Userdata => country = country.or(read_country(&f)),
                _ => to_read.push(f),
            }
        }
        if to_read.is_empty() {
            let shown: Vec<&str> = others.iter().take(5).map(String::as_str).collect();
            return Err(Error::invalid(format!(
                "no Spotify listening history in {}: expected StreamingHistory*.json (account data) \
                 or Streaming_History_Audio_*.json / endsong*.json (extended history){}",
                root.display(),
                if shown.is_empty() {
                    " and found no files at all".to_string()
                } else {
                    format!(
                        "; found {} other file(s): {}{}",
                        others.len(),
                        shown.join(", "),
                        if others.len() > 5 { ", ..." } else { "" }
                    )
                }
            )));
        }
        if !others.is_empty() {
            notes.push(format!(
                "{} file(s) that are not listening history were ignored (playlists, library, Wrapped, ...)",
                others.len()
            ));
        }
        let mut builder = ProfileBuilder::default();
        let mut formats = Vec::new();
        let mut files = Vec::new();
        for f in &to_read {
            let format = match f.kind {
                FileKind::AccountMusic | FileKind::AccountPodcast => "account_data",
                _ => "extended",
            };
            if !formats.contains(&format) {
                formats.push(format);
            }
            self.read_one(f, &mut builder)?;
            files.push(f.name.clone());
        }
        let country = builder.main_country().map(str::to_string).or(country);
        let offset = country.as_deref().and_then(utc_offset_minutes);
        if let (Some(c), Some(_)) = (&country, offset) {
            notes.push(format!(
                "hours of day are local time for {c} (standard time, the most common country of play)"
            ));
        } else {
            notes.push("hours of day are UTC (the export records no country)".to_string());
        }
        let mut profile = builder.finish(&self.options, offset);
        let stats = profile.source.export.clone().unwrap_or_default();
        if stats.counted == 0 {
            notes.push(if stats.non_music > 0 {
                format!(
                    "no music plays: the history holds {} podcast, audiobook or video plays",
                    stats.non_music
                )
            } else {
                "no music plays of 30 seconds or more".to_string()
            });
        }
        profile.source.formats = formats.into_iter().map(str::to_string).collect();
        profile.source.files = files;
        profile.source.notes = notes;
        profile.normalize()?;
        Ok(profile)
    }

    fn read_one(&self, f: &Found, builder: &mut ProfileBuilder) -> Result<()> {
        let options = &self.options;
        let result = with_reader(f, |r| -> std::io::Result<_> {
            let limit = options.in_memory_limit;
            let mut head = Vec::new();
            r.take(limit).read_to_end(&mut head)?;
            // A file re-saved by a Windows editor starts with a UTF-8
            // byte-order mark, which JSON parsers refuse.
            let body = head.strip_prefix(UTF8_BOM).unwrap_or(&head);
            if (head.len() as u64) < limit {
                return Ok(records::parse_plays(body, |p| builder.add(p, options)));
            }
            let whole = std::io::Cursor::new(body).chain(r);
            Ok(records::stream_plays(
                BufReader::with_capacity(1 << 16, whole),
                |p| builder.add(p, options),
            ))
        })?;
        result
            .map_err(|e| Error::io(&f.name, e))?
            .map(|_| ())
            .map_err(|e| json_error(&f.name, e))
    }
}

/// The most of `Userdata.json` read (real ones are under 1 KB).
const USERDATA_LIMIT: u64 = 1 << 20;

/// The UTF-8 byte-order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn json_error(name: &str, e: serde_json::Error) -> Error {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => "the file ends early (truncated download?)",
        Category::Syntax => "not valid JSON",
        Category::Data => "not a Spotify streaming history",
        Category::Io => "could not be read",
    };
    Error::invalid(format!(
        "{name}: line {}, column {}: {what}: {e}",
        e.line(),
        e.column()
    ))
}

/// Opens a found file (on disk or in its zip) and runs `f` on its bytes.
fn with_reader<T>(found: &Found, f: impl FnOnce(&mut dyn Read) -> T) -> Result<T> {
    match &found.at {
        Location::Disk(p) => {
            let mut file = File::open(p).map_err(|e| Error::io(p, e))?;
            Ok(f(&mut file))
        }
        Location::Zip { archive, index } => {
            let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
            let mut zip = open_zip(file, archive)?;
            let mut entry = zip
                .by_index(*index)
                .map_err(|e| Error::invalid(format!("{}: {e}", found.name)))?;
            Ok(f(&mut entry))
        }
    }
}

fn open_zip<R: Read + Seek>(r: R, path: &Path) -> Result<zip::ZipArchive<R>> {
    zip::ZipArchive::new(r).map_err(|e| {
        Error::invalid(format!(
            "{}: not a readable zip archive ({e})",
            path.display()
        ))
    })
}

fn is_zip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn walk(root: &Path, dir: &Path, found: &mut Vec<Found>, others: &mut Vec<String>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let ft = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if ft.is_dir() {
            walk(root, &path, found, others)?;
        } else if is_zip(&path) {
            scan_zip(&path, &rel, found, others)?;
        } else {
            let kind = match classify(&rel) {
                FileKind::Other if rel.to_ascii_lowercase().ends_with(".json") => {
                    let mut f = File::open(&path).map_err(|e| Error::io(&path, e))?;
                    sniff(&mut f)
                }
                k => k,
            };
            if kind == FileKind::Other {
                others.push(rel);
            } else {
                found.push(Found {
                    name: rel,
                    kind,
                    at: Location::Disk(path),
                });
            }
        }
    }
    Ok(())
}

fn scan_zip(
    path: &Path,
    rel: &str,
    found: &mut Vec<Found>,
    others: &mut Vec<String>,
) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut zip = open_zip(file, path)?;
    for index in 0..zip.len() {
        let mut entry = zip
            .by_index(index)
            .map_err(|e| Error::invalid(format!("{rel}: entry {index}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let inner = entry
            .name()
            .map_err(|e| Error::invalid(format!("{rel}: entry {index}: {e}")))?;
        let name = format!("{rel}/{inner}");
        let kind = match classify(&name) {
            FileKind::Other if name.to_ascii_lowercase().ends_with(".json") => sniff(&mut entry),
            k => k,
        };
        if kind == FileKind::Other {
            others.push(name);
        } else {
            found.push(Found {
                name,
                kind,
                at: Location::Zip {
                    archive: path.to_path_buf(),
                    index,
                },
            });
        }
    }
    Ok(())
}

/// Recognises renamed history files from their first bytes: a JSON array
/// whose first object has a play-duration field.
fn sniff(r: &mut dyn Read) -> FileKind {
    let mut head = Vec::with_capacity(4096);
    if r.take(4096).read_to_end(&mut head).is_err() {
        return FileKind::Other;
    }
    let text = String::from_utf8_lossy(&head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if !text.starts_with('[') {
        return FileKind::Other;
    }
    if text.contains("\"ms_played\"") {
        FileKind::Extended
    } else if text.contains("\"msPlayed\"") {
        if text.contains("\"podcastName\"") {
            FileKind::AccountPodcast
        } else {
            FileKind::AccountMusic
        }
    } else {
        FileKind::Other
    }
}

/// Only `country` is read from `Userdata.json`; its other fields (email,
/// birthdate, ...) are personal data we have no use for.
fn read_country(f: &Found) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Userdata {
        country: Option<String>,
    }
    // Bounded: a zip entry inflating to a huge string is cut, not allocated.
    with_reader(f, |r| {
        serde_json::from_reader::<_, Userdata>(r.take(USERDATA_LIMIT)).ok()
    })
    .ok()
    .flatten()
    .and_then(|u| u.country)
    .filter(|c| c.len() == 2)
    .map(|c| c.to_ascii_uppercase())
}

/// Standard-time UTC offset of a country's most populous time zone, for
/// reading local hours of day. An approximation: it ignores daylight saving
/// and multi-zone countries' other zones.
pub fn utc_offset_minutes(country: &str) -> Option<i32> {
    let table: &[(&str, i32)] = &[
        ("US", -300),
        ("CA", -300),
        ("MX", -360),
        ("BR", -180),
        ("AR", -180),
        ("CL", -240),
        ("CO", -300),
        ("PE", -300),
        ("GB", 0),
        ("IE", 0),
        ("PT", 0),
        ("IS", 0),
        ("ES", 60),
        ("FR", 60),
        ("DE", 60),
        ("IT", 60),
        ("NL", 60),
        ("BE", 60),
        ("CH", 60),
        ("AT", 60),
        ("SE", 60),
        ("NO", 60),
        ("DK", 60),
        ("PL", 60),
        ("CZ", 60),
        ("HU", 60),
        ("NG", 60),
        ("FI", 120),
        ("GR", 120),
        ("RO", 120),
        ("UA", 120),
        ("IL", 120),
        ("ZA", 120),
        ("EG", 120),
        ("TR", 180),
        ("RU", 180),
        ("SA", 180),
        ("KE", 180),
        ("AE", 240),
        ("PK", 300),
        ("IN", 330),
        ("BD", 360),
        ("TH", 420),
        ("VN", 420),
        ("ID", 420),
        ("PH", 480),
        ("SG", 480),
        ("MY", 480),
        ("CN", 480),
        ("HK", 480),
        ("TW", 480),
        ("JP", 540),
        ("KR", 540),
        ("AU", 600),
        ("NZ", 720),
    ];
    table
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(country))
        .map(|(_, o)| *o)
}

/// A [`MusicSource`] over exports on disk, one per user.
#[derive(Clone, Debug, Default)]
pub struct ExportSource {
    exports: HashMap<UserId, PathBuf>,
    reader: ExportReader,
}

impl ExportSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }
    /// Uses `reader` (options) for every export.
    pub fn with_reader(mut self, reader: ExportReader) -> Self {
        self.reader = reader;
        self
    }
    /// Registers `user`'s export at `path`.
    pub fn insert(&mut self, user: UserId, path: impl Into<PathBuf>) {
        self.exports.insert(user, path.into());
    }
}

#[async_trait]
impl MusicSource for ExportSource {
    fn name(&self) -> &str {
        "spotify_export"
    }

    async fn profile(&self, user: UserId) -> Result<ListeningProfile> {
        let path = self
            .exports
            .get(&user)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("export of user {user}")))?;
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || reader.read(path))
            .await
            .map_err(|e| Error::internal(format!("export reader panicked: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_across_the_years() {
        let cases = [
            ("StreamingHistory0.json", FileKind::AccountMusic),
            (
                "MyData/StreamingHistory_music_0.json",
                FileKind::AccountMusic,
            ),
            (
                "MyData/StreamingHistory_podcast_0.json",
                FileKind::AccountPodcast,
            ),
            ("endsong.json", FileKind::Extended),
            ("MyData/endsong_0.json", FileKind::Extended),
            ("Streaming_History_Audio_2023.json", FileKind::Extended),
            (
                "Spotify Extended Streaming History/Streaming_History_Audio_2019-2021_0.json",
                FileKind::Extended,
            ),
            (
                "Streaming_History_Video_2020-2024.json",
                FileKind::ExtendedVideo,
            ),
            ("Playlist1.json", FileKind::Other),
            ("YourLibrary.json", FileKind::Other),
            ("Wrapped2024.json", FileKind::Other),
            ("Userdata.json", FileKind::Userdata),
            ("ReadMeFirst_ExtendedStreamingHistory.pdf", FileKind::Other),
            ("STREAMINGHISTORY_MUSIC_1.JSON", FileKind::AccountMusic),
        ];
        for (name, kind) in cases {
            assert_eq!(classify(name), kind, "{name}");
        }
    }

    #[test]
    fn sniffing_recognises_renamed_history() {
        let ext = br#"  [{"ts":"2021-01-01T00:00:00Z","ms_played":1}]"#;
        assert_eq!(sniff(&mut &ext[..]), FileKind::Extended);
        let acc = "\u{feff}[{\"endTime\":\"2021-01-01 00:00\",\"msPlayed\":1}]";
        assert_eq!(sniff(&mut acc.as_bytes()), FileKind::AccountMusic);
        let playlist = br#"{"playlists": []}"#;
        assert_eq!(sniff(&mut &playlist[..]), FileKind::Other);
    }
}
