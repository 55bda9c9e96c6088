//! Cover colours in Web API profiles: the smallest album image is read
//! from the (fake) image CDN without a token, once per album per reader,
//! at most a few at once, and a cover that cannot be read is skipped
//! without failing the profile.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use spotifyart_core::mood::{CoverModel, MoodModel};
use spotifyart_core::profile::{Signal, TrackStat};
use spotifyart_core::{ListeningProfile, MusicSource, Store, TimeRange};
use spotifyart_spotify::fake::{FakeSpotify, Fault, FaultKind, Mode, album_colours, fake_id};
use spotifyart_spotify::{
    COVER_READS_IN_FLIGHT, MAX_COVER_IMAGE_BYTES, SourceOptions, SpotifySource,
};
use support::*;

fn album_id(t: &TrackStat) -> String {
    fake_id(t.album.as_deref().expect("the fake names every album"))
}

fn small(t: &TrackStat) -> String {
    FakeSpotify::cover_path(&album_id(t), 64).unwrap()
}

fn tracks(p: &ListeningProfile) -> &[TrackStat] {
    p.top_tracks.get(TimeRange::MediumTerm)
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 16)
}

fn fault(path: &str, kind: FaultKind) -> Fault {
    Fault {
        path: path.into(),
        method: None,
        kind,
    }
}

#[tokio::test]
async fn web_api_profiles_carry_their_covers_colours_read_from_the_smallest_image() {
    let fake = fake(Mode::Development, None).await;
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let source = SpotifySource::new(auth(&fake, None), store);
    let p = source.profile(user).await.unwrap();
    spotifyart_core::testing::source::check_profile(&p);
    assert!(p.has(Signal::Covers), "{:?}", p.signals);
    let tracks = tracks(&p);
    assert!(
        !tracks.is_empty() && tracks.len() <= 10,
        "all read by default"
    );
    for t in tracks {
        let top = t.cover_colours.first().unwrap_or_else(|| panic!("{t:?}"));
        let (main, _) = album_colours(&album_id(t));
        let got = [top.color.0, top.color.1, top.color.2];
        assert!(close(got, main), "{}: {got:?} vs {main:?}", t.name);
        assert!((top.share - 0.75).abs() < 0.1, "{:?}", t.cover_colours);
        // The profile keeps the largest image's address for showing it.
        let shown = t.cover_url.as_deref().unwrap();
        assert!(
            shown.ends_with(&FakeSpotify::cover_path(&album_id(t), 640).unwrap()),
            "{shown}"
        );
    }
    // Only the 64-pixel images were read, each once.
    let images = fake.image_requests();
    let expected: std::collections::HashMap<String, usize> =
        tracks.iter().map(|t| (small(t), 1)).collect();
    assert_eq!(images, expected);
    // The CDN got no token; the Web API did.
    let requests = fake.requests();
    assert!(
        requests
            .iter()
            .filter(|r| r.path.starts_with("/image/"))
            .all(|r| !r.authorization)
    );
    assert!(
        requests
            .iter()
            .filter(|r| r.path.starts_with("/v1/"))
            .all(|r| r.authorization)
    );
    // The covers model reads them; auto's palette wears them.
    let mood = CoverModel.mood(&p).unwrap();
    assert_eq!(mood.signals, vec![Signal::Covers]);
    assert!(mood.confidence > 0.0);
    let auto = spotifyart_core::mood::model_by_name("auto")
        .unwrap()
        .mood(&p)
        .unwrap();
    let colours: Vec<[u8; 3]> = tracks
        .iter()
        .map(|t| album_colours(&album_id(t)).0)
        .collect();
    assert!(
        auto.palette.iter().any(|s| colours
            .iter()
            .any(|c| close([s.color.0, s.color.1, s.color.2], *c))),
        "{:?}",
        auto.palette
    );
}

#[tokio::test]
async fn each_album_cover_is_read_once_across_users_and_profiles() {
    let fake = fake(Mode::Development, None).await;
    // A second listener with the same albums.
    fake.add_user("sunny.twin", "Twin", &profile("sunny"));
    let store: Arc<dyn Store> = Arc::new(spotifyart_core::InMemoryStore::new());
    let sunny = add_user(&store, &fake, "sunny.listener", &listening()).await;
    let twin = add_user(&store, &fake, "sunny.twin", &listening()).await;
    let midnight = add_user(&store, &fake, "midnight.listener", &listening()).await;
    let source = SpotifySource::new(auth(&fake, None), store);

    // Both at once share the reads in flight; later profiles the cache.
    let (a, b) = tokio::join!(source.profile(sunny), source.profile(twin));
    let (a, b) = (a.unwrap(), b.unwrap());
    let again = source.profile(sunny).await.unwrap();
    let night = source.profile(midnight).await.unwrap();
    for p in [&a, &b, &again, &night] {
        assert!(tracks(p).iter().all(|t| !t.cover_colours.is_empty()));
    }
    assert_eq!(tracks(&a), tracks(&again));
    let images = fake.image_requests();
    assert!(images.values().all(|&n| n == 1), "{images:?}");
    let albums: std::collections::HashSet<String> = [&a, &night]
        .iter()
        .flat_map(|p| tracks(p).iter().map(small))
        .collect();
    assert_eq!(images.len(), albums.len());
    assert_eq!(source.cover_reader().cached(), albums.len());

    // Another source sharing the reader reads nothing again.
    let (store2, user2) = signed_in(&fake, "sunny.listener", &listening()).await;
    let shared = SpotifySource::new(auth(&fake, None), store2)
        .with_cover_reader(source.cover_reader().clone());
    shared.profile(user2).await.unwrap();
    assert_eq!(fake.image_requests(), images);
}

#[tokio::test]
async fn unreadable_covers_are_skipped_without_failing_the_profile() {
    let fake = fake(Mode::Development, None).await;
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let source = SpotifySource::new(auth(&fake, None), store.clone());
    // Find the albums without reading any cover.
    let plain = SpotifySource::new(auth(&fake, None), store).with_options(SourceOptions {
        covers: 0,
        ..SourceOptions::default()
    });
    let first = plain.profile(user).await.unwrap();
    assert!(fake.image_requests().is_empty(), "covers: 0 reads none");
    assert!(first.has(Signal::Covers), "the cover URLs are still there");
    let t = tracks(&first);
    let (html, huge, slow, gone) = (small(&t[0]), small(&t[1]), small(&t[2]), small(&t[3]));
    fake.inject(fault(&html, FaultKind::ContentType("text/html".into())));
    // One byte over the cap (the cover still decodes: only the cap stops
    // it), and, as a control, one padded to exactly the cap.
    fake.inject(fault(
        &huge,
        FaultKind::Oversized(MAX_COVER_IMAGE_BYTES + 1),
    ));
    let at_cap = small(&t[4]);
    fake.inject(fault(&at_cap, FaultKind::Oversized(MAX_COVER_IMAGE_BYTES)));
    // Slower than the request timeout, which is also the covers' deadline.
    fake.inject(fault(&slow, FaultKind::Delay(Duration::from_secs(3))));
    fake.fail_next(&gone, 404, None, 1);

    let started = Instant::now();
    let p = source.profile(user).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the covers' deadline (one request timeout) bounds the wait: {:?}",
        started.elapsed()
    );
    spotifyart_core::testing::source::check_profile(&p);
    let t = tracks(&p);
    for (i, why) in ["wrong type", "oversized", "timed out", "gone"]
        .iter()
        .enumerate()
    {
        assert!(t[i].cover_colours.is_empty(), "{why}: {:?}", t[i]);
    }
    assert!(
        t[4..].iter().all(|t| !t.cover_colours.is_empty()),
        "{:?}",
        t[4]
    );
    let images = fake.image_requests();
    for path in [&html, &huge, &gone] {
        assert_eq!(images[path], 1, "not retried: {path}");
    }

    // Answers that will not change are remembered; a timeout is not.
    let again = source.profile(user).await.unwrap();
    let images = fake.image_requests();
    for path in [&html, &huge, &gone] {
        assert_eq!(images[path], 1, "remembered: {path}");
    }
    assert!(
        !tracks(&again)[2].cover_colours.is_empty(),
        "read this time"
    );
    assert!(
        tracks(&again)[..2]
            .iter()
            .all(|t| t.cover_colours.is_empty())
    );
}

#[tokio::test]
async fn covers_are_read_a_few_at_once() {
    let fake = fake(Mode::Development, None).await;
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let plain = SpotifySource::new(auth(&fake, None), store.clone()).with_options(SourceOptions {
        covers: 0,
        ..SourceOptions::default()
    });
    let albums: Vec<String> = tracks(&plain.profile(user).await.unwrap())
        .iter()
        .map(small)
        .collect();
    assert!(albums.len() > COVER_READS_IN_FLIGHT);
    for path in &albums {
        fake.inject(fault(path, FaultKind::Delay(Duration::from_millis(150))));
    }
    let source = SpotifySource::new(auth(&fake, None), store);
    let p = source.profile(user).await.unwrap();
    let peak = fake.peak_image_requests();
    assert!(
        (2..=COVER_READS_IN_FLIGHT).contains(&peak),
        "{peak} at once"
    );
    assert!(tracks(&p).iter().any(|t| !t.cover_colours.is_empty()));
}
