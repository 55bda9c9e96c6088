//! The [`MusicSource`] conformance checks: any profile a source returns is
//! normalised, self-consistent and survives a JSON round trip.

use crate::Error;
use crate::ids::UserId;
use crate::profile::{ListeningProfile, PROFILE_SCHEMA, TimeRange};
use crate::source::MusicSource;

/// Fetches `user`'s profile and checks it with [`check_profile`].
pub async fn profile_is_well_formed(source: &dyn MusicSource, user: UserId) -> ListeningProfile {
    let p = source.profile(user).await.expect("profile");
    check_profile(&p);
    p
}

/// A user the source does not know is `NotFound`.
pub async fn unknown_user_is_not_found(source: &dyn MusicSource) {
    match source.profile(UserId::new()).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("expected NotFound for an unknown user, got {other:?}"),
    }
}

/// Invariants every profile keeps.
pub fn check_profile(p: &ListeningProfile) {
    assert_eq!(p.schema, PROFILE_SCHEMA);
    assert_eq!(p.signals, p.detect_signals(), "signals match the data");
    for range in TimeRange::ALL {
        let artists = p.top_artists.get(range);
        let tracks = p.top_tracks.get(range);
        let ranks: Vec<u32> = artists.iter().map(|a| a.rank).collect();
        assert_eq!(
            ranks,
            (1..=artists.len() as u32).collect::<Vec<_>>(),
            "artist ranks {range}"
        );
        let ranks: Vec<u32> = tracks.iter().map(|t| t.rank).collect();
        assert_eq!(
            ranks,
            (1..=tracks.len() as u32).collect::<Vec<_>>(),
            "track ranks {range}"
        );
        for w in artists
            .iter()
            .map(|a| a.weight)
            .chain(tracks.iter().map(|t| t.weight))
        {
            assert!(w.is_finite() && w >= 0.0, "weight {w} in {range}");
        }
        for (what, sum, n) in [
            (
                "artists",
                artists.iter().map(|a| a.weight).sum::<f32>(),
                artists.len(),
            ),
            (
                "tracks",
                tracks.iter().map(|t| t.weight).sum::<f32>(),
                tracks.len(),
            ),
        ] {
            if n > 0 {
                assert!(
                    (sum - 1.0).abs() < 1e-3,
                    "{what} weights in {range} sum to {sum}"
                );
            }
        }
        assert!(artists.iter().all(|a| !a.name.trim().is_empty()));
        assert!(tracks.iter().all(|t| !t.name.trim().is_empty()));
    }
    assert!(
        p.recent
            .windows(2)
            .all(|w| w[0].played_at >= w[1].played_at),
        "recent plays newest first"
    );
    if let Some(b) = &p.behaviour {
        for r in [b.skip_rate, b.shuffle_rate].into_iter().flatten() {
            assert!((0.0..=1.0).contains(&r), "rate {r}");
        }
        assert!((0.0..=1.0).contains(&b.repeat_ratio));
        assert_eq!(
            b.hour_histogram.iter().map(|&h| h as u64).sum::<u64>(),
            b.plays
        );
        assert!(b.plays <= b.events);
        assert!(b.distinct_tracks <= b.plays);
    }
    let again = ListeningProfile::from_json(&p.to_json()).expect("round trip");
    assert_eq!(&again, p, "JSON round trip is lossless");
    let mut renormalised = p.clone();
    renormalised.normalize().unwrap();
    assert_eq!(&renormalised, p, "normalize is idempotent");
}
