//! The embedding example runs as a user would run it, on the tiny model.

#[path = "../examples/paint_match.rs"]
#[allow(dead_code)] // its `main` is the example's own
mod example;

use std::path::Path;

#[tokio::test(flavor = "multi_thread")]
async fn the_example_paints_a_match_once() {
    let tmp = tempfile::tempdir().unwrap();
    let exports = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/exports");
    let (a, b) = (exports.join("alice"), exports.join("bob"));
    let (out, db) = (tmp.path().join("us.png"), tmp.path().join("art.db"));
    let first = example::paint_match(&a, &b, &out, "tiny", &db)
        .await
        .unwrap();
    assert!(
        first.ends_with(&format!("painted {}", out.display())),
        "{first}"
    );
    let png = std::fs::read(&out).unwrap();
    let info = png::Decoder::new(std::io::Cursor::new(&png))
        .read_info()
        .unwrap()
        .info()
        .clone();
    assert!(info.width > 0 && info.height > 0);
    // A second run paints nothing: the database has the picture.
    std::fs::remove_file(&out).unwrap();
    let again = example::paint_match(&a, &b, &out, "tiny", &db)
        .await
        .unwrap();
    assert!(
        again.ends_with(&format!("reused {}", out.display())),
        "{again}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), png);
}
