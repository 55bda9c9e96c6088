//! Mood and match cost per profile, on the sample exports and on a full
//! Extended Quota-shaped profile (3 x 50 tracks with audio features).

use criterion::{Criterion, criterion_group, criterion_main};
use spotifyart_core::profile::{ArtistStat, AudioFeatures, TrackStat};
use spotifyart_core::{Engine, ListeningProfile, MoodModel, mood::AutoModel, read_export};

fn full_profile(seed: u32) -> ListeningProfile {
    let mut p = ListeningProfile::empty("manual");
    for range in spotifyart_core::TimeRange::ALL {
        *p.top_tracks.get_mut(range) = (0..50)
            .map(|i| {
                let x = ((i * 37 + seed * 11) % 100) as f32 / 100.0;
                TrackStat {
                    name: format!("track {i} {seed}"),
                    artists: vec![format!("artist {}", (i + seed) % 40)],
                    audio_features: Some(AudioFeatures {
                        valence: x,
                        energy: 1.0 - x,
                        danceability: 0.5,
                        tempo: 120.0,
                        mode: 1.0,
                        acousticness: x / 2.0,
                        loudness: Some(-8.0),
                        instrumentalness: None,
                    }),
                    ..TrackStat::default()
                }
            })
            .collect();
        *p.top_artists.get_mut(range) = (0..50)
            .map(|i| ArtistStat {
                name: format!("artist {}", (i + seed) % 60),
                genres: vec![format!("genre {}", i % 12)],
                ..ArtistStat::default()
            })
            .collect();
    }
    p.normalize().unwrap();
    p
}

fn mood_and_match(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/exports/");
    let alice = read_export(format!("{dir}alice")).unwrap();
    let bob = read_export(format!("{dir}bob")).unwrap();
    let (full_a, full_b) = (full_profile(1), full_profile(2));
    let model = AutoModel::default();
    let engine = Engine::builder().build();

    let mut g = c.benchmark_group("mood");
    g.bench_function("auto/export_profile", |b| {
        b.iter(|| model.mood(&alice).unwrap())
    });
    g.bench_function("auto/150_tracks_with_features", |b| {
        b.iter(|| model.mood(&full_a).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("match");
    g.bench_function("export_profiles", |b| {
        b.iter(|| engine.match_profiles(&alice, &bob).unwrap())
    });
    g.bench_function("150_track_profiles", |b| {
        b.iter(|| engine.match_profiles(&full_a, &full_b).unwrap())
    });
    g.finish();
}

criterion_group!(benches, mood_and_match);
criterion_main!(benches);
