//! The `spotifyart` binary, run as a user would run it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::ok;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn spotifyart(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spotifyart"))
        .args(args)
        .current_dir(dir)
        .env_remove("SPOTIFYART_MODEL")
        .env_remove("SPOTIFYART_MODEL_DIR")
        .env_remove("SPOTIFYART_DEVICE")
        .env_remove("SPOTIFYART_EMBEDDING_MODEL_DIR")
        // Nothing here may reach for the network or a developer's cache.
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", dir.join(".hf"))
        .env_remove("SPOTIFYART_DATABASE_URL")
        .env_remove("SPOTIFYART_ENCRYPTION_KEY")
        .output()
        .expect("run spotifyart")
}

fn failed(out: &Output) -> String {
    assert!(!out.status.success(), "expected failure, got success");
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn profile_prints_the_documented_json_and_feeds_back_in() {
    let tmp = tempfile::tempdir().unwrap();
    let alice = examples().join("exports/alice");
    let json = ok(&spotifyart(&["profile", path(&alice)], tmp.path()));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema"], "spotifyart.profile/1");
    assert_eq!(v["top_artists"]["long_term"][0]["name"], "ABBA");
    assert_eq!(v["source"]["formats"][0], "extended");

    // A written profile is a valid input everywhere an export is.
    let saved = tmp.path().join("alice.json");
    std::fs::write(&saved, &json).unwrap();
    let from_export: serde_json::Value =
        serde_json::from_str(&ok(&spotifyart(&["mood", path(&alice)], tmp.path()))).unwrap();
    let from_profile: serde_json::Value =
        serde_json::from_str(&ok(&spotifyart(&["mood", path(&saved)], tmp.path()))).unwrap();
    assert_eq!(from_export, from_profile);
}

#[test]
fn mood_with_each_model_and_range() {
    let tmp = tempfile::tempdir().unwrap();
    let sunny = examples().join("profiles/sunny.json");
    for (model, signal) in [
        ("auto", "audio_features"),
        ("features", "audio_features"),
        ("behaviour", ""),
    ] {
        let out = ok(&spotifyart(
            &["mood", path(&sunny), "--mood-model", model],
            tmp.path(),
        ));
        let m: serde_json::Value = serde_json::from_str(&out).unwrap();
        let signals = m["signals"].as_array().unwrap();
        if signal.is_empty() {
            assert!(
                signals.is_empty(),
                "{model}: a profile without plays has no behaviour"
            );
            assert_eq!(m["confidence"], 0.0);
        } else {
            assert_eq!(signals[0], signal, "{model}");
            assert_eq!(m["label"], "euphoric", "{model}");
        }
    }
    let bob = examples().join("exports/bob");
    let out = ok(&spotifyart(
        &["mood", path(&bob), "--time-range", "short_term"],
        tmp.path(),
    ));
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(m["valence"].is_number());
}

#[test]
fn names_only_exports_get_a_mood() {
    let tmp = tempfile::tempdir().unwrap();
    let alice = examples().join("exports/alice");
    // An export has names, plays and skips: no audio features, no genres.
    let out = ok(&spotifyart(
        &["mood", path(&alice), "--mood-model", "genres"],
        tmp.path(),
    ));
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(m["signals"], serde_json::json!(["names"]), "{m}");
    assert!(m["confidence"].as_f64().unwrap() > 0.3, "{m}");
    let auto: serde_json::Value =
        serde_json::from_str(&ok(&spotifyart(&["mood", path(&alice)], tmp.path()))).unwrap();
    assert!(
        auto["signals"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("names")),
        "{auto}"
    );

    // The embedding model without weights (offline, empty cache): what
    // is missing and how to get it.
    let err = failed(&spotifyart(
        &["mood", path(&alice), "--mood-model", "embedding"],
        tmp.path(),
    ));
    assert!(err.contains("embedding mood model"), "{err}");
    assert!(err.contains("model.safetensors"), "{err}");
    let Some(dir) = spotifyart_diffusion::embedding::test_assets_dir() else {
        if std::env::var("SPOTIFYART_REQUIRE_TEST_ASSETS").as_deref() == Ok("1") {
            panic!("all-MiniLM-L6-v2 not found: run scripts/test-assets");
        }
        eprintln!("skipping the embedding run: run scripts/test-assets");
        return;
    };
    let out = ok(&spotifyart(
        &[
            "mood",
            path(&alice),
            "--mood-model",
            "embedding",
            "--embedding-model-dir",
            path(&dir),
        ],
        tmp.path(),
    ));
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(m["model"], "embedding");
    assert_eq!(m["signals"], serde_json::json!(["names"]), "{m}");
}

#[test]
fn match_prints_score_and_explanation() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(&spotifyart(
        &[
            "match",
            path(&examples().join("exports/alice")),
            path(&examples().join("exports/bob")),
        ],
        tmp.path(),
    ));
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    let score = m["score"].as_u64().unwrap();
    assert!(score <= 100);
    let text = m["explanation"].as_str().unwrap();
    assert!(text.starts_with(&format!("Score {score}/100")), "{text}");
    assert!(text.contains("Radiohead"), "{text}");
}

#[test]
fn art_paints_a_png_and_says_what_painted_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(&spotifyart(
        &[
            "art",
            path(&examples().join("exports/alice")),
            path(&examples().join("exports/carol.zip")),
            "--out",
            "art.png",
            "--width",
            "128",
            "--height",
            "96",
            "--steps",
            "6",
            "--model",
            "palette",
        ],
        tmp.path(),
    ));
    assert!(
        out.contains("wrote art.png (128x96, model palette (procedural, not Stable Diffusion)"),
        "{out}"
    );
    assert!(out.contains("painted artwork"), "{out}");
    let png = std::fs::read(tmp.path().join("art.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.contains("tmp")).count(),
        0,
        "{names:?}"
    );
}

#[test]
fn stable_diffusion_runs_from_the_cli_and_missing_weights_say_how_to_fetch() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(&spotifyart(
        &[
            "art",
            path(&examples().join("exports/alice")),
            "--out",
            "tiny.png",
            "--model",
            "tiny",
            "--scheduler",
            "euler-ancestral",
            "--device",
            "cpu",
        ],
        tmp.path(),
    ));
    assert!(
        out.contains("wrote tiny.png (64x64, model tiny (randomly initialised test model: noise)"),
        "{out}"
    );
    let png = std::fs::read(tmp.path().join("tiny.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));

    std::fs::create_dir(tmp.path().join("weights")).unwrap();
    let err = failed(&spotifyart(
        &[
            "art",
            path(&examples().join("exports/alice")),
            "--out",
            "turbo.png",
            "--model-dir",
            "weights",
        ],
        tmp.path(),
    ));
    assert!(
        err.contains("weights for SD-Turbo are missing from weights"),
        "{err}"
    );
    assert!(
        err.contains("unet/diffusion_pytorch_model.fp16.safetensors"),
        "{err}"
    );
    assert!(
        err.contains("huggingface-cli download stabilityai/sd-turbo"),
        "{err}"
    );
    assert!(!tmp.path().join("turbo.png").exists());

    let err = failed(&spotifyart(
        &[
            "art",
            path(&examples().join("exports/alice")),
            "--out",
            "x.png",
            "--device",
            "tpu",
        ],
        tmp.path(),
    ));
    assert!(err.contains("unknown device \"tpu\""), "{err}");
}

#[test]
fn errors_are_precise_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let err = failed(&spotifyart(&["mood", "no/such/export"], tmp.path()));
    assert!(
        err.contains("error: cannot read the Spotify export no/such/export"),
        "{err}"
    );
    assert!(err.contains("No such file"), "{err}");

    let broken = tmp.path().join("StreamingHistory_music_0.json");
    std::fs::write(&broken, "[{\"endTime\": \"2024-01-01 10:00\",").unwrap();
    let err = failed(&spotifyart(&["profile", path(&broken)], tmp.path()));
    assert!(
        err.contains("StreamingHistory_music_0.json: line 1, column"),
        "{err}"
    );

    let err = failed(&spotifyart(
        &[
            "art",
            path(&examples().join("profiles/sunny.json")),
            "--out",
            "x.png",
            "--model",
            "sd-9",
        ],
        tmp.path(),
    ));
    assert!(
        err.contains("unknown image model \"sd-9\"; this build offers: sd-turbo, sd-1.5"),
        "{err}"
    );
    assert!(err.contains(", palette"), "{err}");
    let err = failed(&spotifyart(
        &[
            "art",
            path(&examples().join("profiles/sunny.json")),
            "--out",
            "x.png",
            "--width",
            "100",
        ],
        tmp.path(),
    ));
    assert!(
        err.contains("width must be a positive multiple of 8"),
        "{err}"
    );
    let err = failed(&spotifyart(
        &[
            "art",
            path(&examples().join("profiles/sunny.json")),
            "--out",
            "missing-dir/x.png",
        ],
        tmp.path(),
    ));
    assert!(err.contains("folder missing-dir does not exist"), "{err}");
    assert!(
        !tmp.path().join("x.png").exists(),
        "nothing written on error"
    );

    let err = failed(&spotifyart(
        &[
            "mood",
            path(&examples().join("profiles/sunny.json")),
            "--mood-model",
            "magic",
        ],
        tmp.path(),
    ));
    assert!(
        err.contains("possible values: auto, features, genres, embedding, covers, behaviour"),
        "{err}"
    );
}

#[test]
fn art_twice_reuses_the_stored_artwork() {
    let tmp = tempfile::tempdir().unwrap();
    let args = |out: &'static str| {
        vec![
            "art".to_string(),
            path(&examples().join("exports/alice")).to_string(),
            path(&examples().join("exports/bob")).to_string(),
            "--out".to_string(),
            out.to_string(),
            "--width".to_string(),
            "64".to_string(),
            "--height".to_string(),
            "64".to_string(),
            "--model".to_string(),
            "tiny".to_string(),
        ]
    };
    let run = |out: &'static str| {
        let a = args(out);
        ok(&spotifyart(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            tmp.path(),
        ))
    };
    let first = run("first.png");
    assert!(first.contains("painted artwork"), "{first}");
    let second = run("second.png");
    assert!(
        second.contains("reused the stored artwork") && second.contains("nothing was generated"),
        "{second}"
    );
    let id = |text: &str| {
        text.split_whitespace()
            .skip_while(|w| *w != "artwork")
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(id(&first), id(&second));
    assert_eq!(
        std::fs::read(tmp.path().join("first.png")).unwrap(),
        std::fs::read(tmp.path().join("second.png")).unwrap()
    );
    // The default store lives in the working directory, with its key.
    assert!(tmp.path().join("spotifyart.db").exists());
    assert!(tmp.path().join("spotifyart.key").exists());

    // Another database: painted again there.
    let other = format!("sqlite://{}", tmp.path().join("other.db").display());
    let mut a = args("third.png");
    a.extend(["--database-url".to_string(), other]);
    let third = ok(&spotifyart(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        tmp.path(),
    ));
    assert!(third.contains("painted artwork"), "{third}");
}

#[test]
fn migrate_creates_and_upgrades_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("db/s.db").display());
    let out = ok(&spotifyart(
        &["migrate", "--database-url", &url, "--reencrypt"],
        tmp.path(),
    ));
    assert!(out.contains("database is up to date"), "{out}");
    assert!(out.contains("re-encrypted 0 token row(s)"), "{out}");
    assert!(tmp.path().join("db/s.db").exists());
    let err = failed(&spotifyart(
        &["migrate", "--database-url", "mysql://root:pw@x/y"],
        tmp.path(),
    ));
    assert!(
        err.contains("use sqlite://PATH") && !err.contains(":pw@"),
        "{err}"
    );
}

/// A write past the file-size limit (`ulimit -f`) raises SIGXFSZ, whose
/// default action would kill the process mid-write; the binary catches it,
/// so the write fails with EFBIG and the command says why (issue 23).
#[cfg(unix)]
#[test]
fn a_write_past_the_file_size_limit_is_an_error_not_a_kill() {
    use std::os::unix::process::ExitStatusExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("s.db").display());
    // 64 blocks of 512 bytes: the migrations write far more.
    let out = Command::new("sh")
        .args(["-c", "ulimit -f 64 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_spotifyart"))
        .args(["migrate", "--database-url", &url])
        .current_dir(tmp.path())
        .env_remove("SPOTIFYART_ENCRYPTION_KEY")
        .output()
        .expect("run spotifyart under ulimit -f");
    assert_eq!(out.status.signal(), None, "killed: {:?}", out.status);
    let err = failed(&out);
    assert!(
        err.contains("disk I/O error") && err.contains("file-size limit"),
        "{err}"
    );
    // With the limit lifted the same database migrates: nothing was left
    // half-written that it cannot read.
    let out = ok(&spotifyart(
        &["migrate", "--database-url", &url],
        tmp.path(),
    ));
    assert!(out.contains("database is up to date"), "{out}");
}
