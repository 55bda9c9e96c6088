//! The `embedding` mood model: sentence embeddings of the names in a
//! profile (tracks, albums, artists, genres when present), mapped to
//! Spotify's valence and energy by a ridge-regression head fitted on public
//! measurements (`data/fit_mood_head.py`, weights in `data/mood_head.json`).
//! It reads meaning into names no table knows — "Tears in Heaven" against
//! "Don't Stop Me Now" — which is all a Development Mode app or a data
//! export has. As `auto`'s estimator for an unknown artist it answers with
//! the artist's nearest known neighbours by name instead
//! ([`super::neighbours`]), which rank artists better than the head.
//!
//! The encoder is injected as a [`TextEmbedder`]: the mood rules (which
//! names, how weighted, the head, the cache) are domain logic and live
//! here, while the network that embeds text (all-MiniLM-L6-v2 on candle)
//! is `spotifyart-diffusion`'s, like the other candle models.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::evidence::{ArtistEstimator, ArtistQuery, Evidence, Guess};
use super::knowledge::Knowledge;
use super::neighbours::{NameIndex, Neighbours};
use super::{Mood, MoodModel};
use crate::profile::{ListeningProfile, Signal};
use crate::{Error, Result};

/// Head outputs cached before the cache is cleared.
const CACHE_LIMIT: usize = 200_000;
/// Confidence of a profile fully covered by many names: names are weak
/// evidence next to measured audio features.
const MAX_CONFIDENCE: f32 = 0.6;

/// A sentence encoder: text in, unit-length vector out.
pub trait TextEmbedder: Send + Sync + Debug + 'static {
    /// Unit-length embeddings of `texts`, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;

    /// The embeddings' length, when known before embedding anything.
    fn dims(&self) -> Option<usize> {
        None
    }
}

/// The regression from an embedding to valence and energy.
#[derive(Clone, Debug, Deserialize)]
pub struct MoodHead {
    /// One row per output (valence, energy).
    weights: [Vec<f32>; 2],
    bias: [f32; 2],
    /// Mean of the training targets and the factor that restores their
    /// spread around it (ridge predictions shrink towards the mean).
    centre: [f32; 2],
    stretch: [f32; 2],
}

impl MoodHead {
    /// The head shipped with the crate.
    pub fn builtin() -> MoodHead {
        Self::from_json(include_str!("../../data/mood_head.json"))
            .unwrap_or_else(|e| panic!("data/mood_head.json is part of the build: {e}"))
    }

    /// A head from `fit_mood_head.py`'s JSON.
    pub fn from_json(json: &str) -> Result<MoodHead> {
        let head: MoodHead =
            serde_json::from_str(json).map_err(|e| Error::invalid(format!("mood head: {e}")))?;
        if head.weights[0].len() != head.weights[1].len() || head.weights[0].is_empty() {
            return Err(Error::invalid("mood head: weight rows differ in length"));
        }
        Ok(head)
    }

    /// Inputs the head expects.
    pub fn dims(&self) -> usize {
        self.weights[0].len()
    }

    /// Valence and energy in [0, 1] for one embedding.
    pub fn apply(&self, embedding: &[f32]) -> (f32, f32) {
        let out = |k: usize| {
            let raw = self.bias[k]
                + self.weights[k]
                    .iter()
                    .zip(embedding)
                    .map(|(w, x)| w * x)
                    .sum::<f32>();
            (self.centre[k] + (raw - self.centre[k]) * self.stretch[k]).clamp(0.0, 1.0)
        };
        (out(0), out(1))
    }
}

/// See the module docs.
pub struct EmbeddingModel {
    encoder: Arc<dyn TextEmbedder>,
    head: MoodHead,
    neighbours: Option<Neighbours>,
    cache: Mutex<HashMap<String, Reading>>,
}

/// What one text's embedding says, cached per text.
#[derive(Clone, Copy, Debug)]
struct Reading {
    /// The head's valence and energy.
    head: (f32, f32),
    /// The nearest known artists' mean, when an index is attached.
    near: Option<(f32, f32)>,
}

impl std::fmt::Debug for EmbeddingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingModel")
            .field("encoder", &self.encoder)
            .finish_non_exhaustive()
    }
}

impl EmbeddingModel {
    /// `encoder` with the built-in head.
    pub fn new(encoder: Arc<dyn TextEmbedder>) -> Result<EmbeddingModel> {
        Self::with_head(encoder, MoodHead::builtin())
    }

    /// An encoder and a head.
    pub fn with_head(encoder: Arc<dyn TextEmbedder>, head: MoodHead) -> Result<EmbeddingModel> {
        if let Some(dims) = encoder.dims()
            && dims != head.dims()
        {
            return Err(Error::invalid(format!(
                "mood head expects {} dimensions, the text encoder gives {dims}",
                head.dims()
            )));
        }
        Ok(EmbeddingModel {
            encoder,
            head,
            neighbours: None,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Guesses unknown artists (as an [`ArtistEstimator`], in `auto`) from
    /// the measured artists of `knowledge` nearest by name in the shipped
    /// [`NameIndex`], rather than with the head; unchanged when the index
    /// was built for other tables or another encoder.
    pub fn with_neighbours(self, knowledge: &Knowledge) -> EmbeddingModel {
        self.with_index(NameIndex::builtin(), knowledge)
    }

    /// [`EmbeddingModel::with_neighbours`] with another index (`mood_eval
    /// --fit` fits the evidence with the index it has just built).
    pub fn with_index(mut self, index: Arc<NameIndex>, knowledge: &Knowledge) -> EmbeddingModel {
        let fits = self.encoder.dims().is_none_or(|d| d == index.embed_dims);
        self.neighbours = fits.then(|| Neighbours::new(index, knowledge)).flatten();
        if self.neighbours.is_none() {
            tracing::warn!(
                "name index does not fit these tables or this encoder: the head guesses"
            );
        }
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self
    }

    /// The encoder.
    pub fn encoder(&self) -> &Arc<dyn TextEmbedder> {
        &self.encoder
    }

    /// Valence and energy in [0, 1] for each text, by the head; repeated
    /// texts come from the cache.
    pub fn points(&self, texts: &[&str]) -> Result<Vec<(f32, f32)>> {
        Ok(self
            .readings(texts, false)?
            .into_iter()
            .map(|r| r.head)
            .collect())
    }

    fn read(&self, embedding: &[f32], near: bool) -> Reading {
        Reading {
            head: self.head.apply(embedding),
            near: near
                .then(|| self.neighbours.as_ref()?.guess(embedding))
                .flatten(),
        }
    }

    /// Readings of `texts`; `near` asks for the neighbours' guess too (a
    /// scan of the index, so only artist names ask).
    fn readings(&self, texts: &[&str], near: bool) -> Result<Vec<Reading>> {
        let near = near && self.neighbours.is_some();
        let usable = |r: &Reading| !near || r.near.is_some();
        let mut missing: Vec<&str> = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            texts
                .iter()
                .copied()
                .filter(|t| !cache.get(*t).is_some_and(usable))
                .collect()
        };
        missing.sort_unstable();
        missing.dedup();
        let fresh = self.encoder.embed(&missing)?;
        let fresh: Vec<Reading> = fresh.iter().map(|e| self.read(e, near)).collect();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() + missing.len() > CACHE_LIMIT {
            cache.clear();
        }
        for (text, reading) in missing.iter().zip(&fresh) {
            cache.insert(text.to_string(), *reading);
        }
        let mut out = Vec::with_capacity(texts.len());
        for text in texts {
            match cache.get(*text).filter(|r| usable(r)) {
                Some(r) => out.push(*r),
                // Only when another thread cleared the cache meanwhile.
                None => out.push(self.read(&self.encoder.embed(&[text])?[0], near)),
            }
        }
        Ok(out)
    }

    /// Entries in the cache.
    pub fn cached(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

impl ArtistEstimator for EmbeddingModel {
    fn evidence(&self) -> Evidence {
        Evidence::Embedding
    }

    /// The credited name alone (the dataset has names, not titles): its
    /// nearest measured artists where an index is attached, else the head.
    /// The evidence fit weighed what `mood_eval --fit` was run with.
    fn estimate(&self, artists: &[ArtistQuery<'_>]) -> Result<Vec<Option<Guess>>> {
        let names: Vec<&str> = artists.iter().map(|a| a.name.trim()).collect();
        let readings = self.readings(&names, true)?;
        Ok(names
            .iter()
            .zip(readings)
            .map(|(name, r)| {
                (!name.is_empty()).then_some((r.near.unwrap_or(r.head), Signal::Names))
            })
            .collect())
    }
}

impl MoodModel for EmbeddingModel {
    fn name(&self) -> &str {
        "embedding"
    }

    fn signals(&self) -> &[Signal] {
        &[Signal::Names, Signal::Genres]
    }

    fn mood(&self, profile: &ListeningProfile) -> Result<Mood> {
        // (weight, texts) per item: a track's title and album with its
        // artist; an artist's name and genres. Tracks and artists share
        // the weight when both lists exist.
        let tracks = profile.weighted_tracks();
        let artists = profile.weighted_artists();
        let share = if tracks.is_empty() || artists.is_empty() {
            1.0
        } else {
            0.5
        };
        let mut items: Vec<(f32, Vec<String>)> = Vec::new();
        let mut used = Vec::new();
        for (t, w) in &tracks {
            let mut texts = vec![t.name.clone()];
            texts.extend(t.album.iter().filter(|a| **a != t.name).cloned());
            texts.extend(t.artists.first().cloned());
            items.push((w * share, texts));
        }
        for (a, w) in &artists {
            let mut texts = vec![a.name.clone()];
            if !a.genres.is_empty() {
                texts.push(a.genres.join(", "));
                used.push(Signal::Genres);
            }
            items.push((w * share, texts));
        }
        items.retain(|(w, texts)| *w > 0.0 && texts.iter().any(|t| !t.trim().is_empty()));
        if items.is_empty() {
            return Ok(Mood::neutral(self.name()));
        }
        used.push(Signal::Names);
        let flat: Vec<&str> = items
            .iter()
            .flat_map(|(_, texts)| texts.iter().map(String::as_str))
            .collect();
        let points = self.points(&flat)?;
        let (mut v, mut e, mut total) = (0.0f32, 0.0f32, 0.0f32);
        let mut next = points.iter();
        for (w, texts) in &items {
            let (mut iv, mut ie) = (0.0f32, 0.0f32);
            for _ in texts {
                let (pv, pe) = next.next().copied().unwrap_or((0.5, 0.5));
                iv += pv;
                ie += pe;
            }
            let n = texts.len() as f32;
            v += w * iv / n;
            e += w * ie / n;
            total += w;
        }
        let support = 1.0 - (-(items.len() as f32) / 8.0).exp();
        Ok(Mood::new(
            2.0 * v / total - 1.0,
            2.0 * e / total - 1.0,
            MAX_CONFIDENCE * support,
            used,
            self.name(),
        ))
    }
}
