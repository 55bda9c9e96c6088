//! Nearest known artists by name: an unknown artist's guess is the
//! similarity-weighted mean of the measured means of the 100 known artists
//! whose names embed closest to theirs. On the held-out artists this ranks
//! them better than the ridge head on the same embedding (Spearman
//! 0.350/0.511 against 0.271/0.485, valence/energy): names cluster by
//! language, scene and naming habit ("DJ …", "Lil …", "… Quartet"), which a
//! linear head cannot follow.
//!
//! The index (`data/name_index.bin`, written by `mood_eval --fit`) holds
//! every table artist's name embedding projected onto its 64 principal
//! directions and quantised to 8 bits (1.9 MB against 44 MB for the raw
//! vectors; the neighbours' scores move by under 0.005). Which artists
//! count as neighbours is decided by the [`Knowledge`] it is paired with:
//! only those whose measured means it knows, so an evaluation that hides
//! held-out artists' measurements also hides them as neighbours.

use std::sync::{Arc, OnceLock};

use super::knowledge::{FNV1A32_START, Knowledge, fnv1a32};
use crate::{Error, Result};

const INDEX_BIN: &[u8] = include_bytes!("../../data/name_index.bin");
const MAGIC: &[u8; 4] = b"SANI";
/// Neighbours averaged per guess (20: 0.329/0.493; 100: 0.350/0.511;
/// 200: 0.347/0.508).
pub const NEIGHBOURS: usize = 100;
/// Similarity weights are `max(cos, 0)^4`: the closest names count most
/// (a power of 1: 0.337/0.501).
const SHARPNESS: i32 = 4;

/// Name embeddings of the table's artists, projected and normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct NameIndex {
    /// Which artist list the rows follow (see [`names_hash`]).
    pub names_hash: u32,
    /// Dimensions of the encoder's embeddings.
    pub embed_dims: usize,
    /// Mean embedding, subtracted before projecting.
    pub mean: Vec<f32>,
    /// `dims` orthonormal directions of `embed_dims` each, row after row.
    pub basis: Vec<f32>,
    /// One unit-length projected row per table artist, in table order.
    pub rows: Vec<f32>,
    /// Dimensions after projection.
    pub dims: usize,
}

/// FNV-1a over the artists' names, newline-separated: ties an index to
/// the table whose order its rows follow.
pub fn names_hash<'a>(names: impl IntoIterator<Item = &'a str>) -> u32 {
    names.into_iter().fold(FNV1A32_START, |h, name| {
        fnv1a32(fnv1a32(h, name.as_bytes()), b"\n")
    })
}

impl NameIndex {
    /// The index shipped with the crate, decoded on first use.
    pub fn builtin() -> Arc<NameIndex> {
        static INDEX: OnceLock<Arc<NameIndex>> = OnceLock::new();
        INDEX
            .get_or_init(|| {
                Arc::new(NameIndex::decode(INDEX_BIN).expect("the shipped name index decodes"))
            })
            .clone()
    }

    /// Projects one embedding to a unit-length row of this index.
    pub fn project(&self, embedding: &[f32]) -> Vec<f32> {
        let centred: Vec<f32> = embedding
            .iter()
            .zip(&self.mean)
            .map(|(x, m)| x - m)
            .collect();
        let mut row: Vec<f32> = self
            .basis
            .chunks_exact(self.embed_dims)
            .map(|b| b.iter().zip(&centred).map(|(a, c)| a * c).sum())
            .collect();
        normalise(&mut row);
        row
    }

    /// The file form: magic, version, counts, hash, mean and basis as f32,
    /// then each row as 8-bit integers scaled to its largest entry.
    pub fn encode(&self) -> Vec<u8> {
        let n = self.rows.len() / self.dims.max(1);
        let mut out =
            Vec::with_capacity(24 + 4 * (self.mean.len() + self.basis.len()) + n * self.dims);
        out.extend_from_slice(MAGIC);
        for v in [
            1u32,
            n as u32,
            self.dims as u32,
            self.embed_dims as u32,
            self.names_hash,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for f in self.mean.iter().chain(&self.basis) {
            out.extend_from_slice(&f.to_le_bytes());
        }
        for row in self.rows.chunks_exact(self.dims) {
            let top = row
                .iter()
                .fold(0f32, |m, x| m.max(x.abs()))
                .max(f32::MIN_POSITIVE);
            out.extend(row.iter().map(|x| (x / top * 127.0).round() as i8 as u8));
        }
        out
    }

    /// Reads [`NameIndex::encode`]'s form.
    pub fn decode(bytes: &[u8]) -> Result<NameIndex> {
        let bad = |why: &str| Error::model(format!("name index: {why}"));
        if bytes.len() < 24 || &bytes[..4] != MAGIC {
            return Err(bad("not a SpotifyArt name index"));
        }
        let word = |i: usize| {
            u32::from_le_bytes([
                bytes[4 * i],
                bytes[4 * i + 1],
                bytes[4 * i + 2],
                bytes[4 * i + 3],
            ])
        };
        if word(1) != 1 {
            return Err(bad("unknown version"));
        }
        let (n, dims, embed_dims, names_hash) = (
            word(2) as usize,
            word(3) as usize,
            word(4) as usize,
            word(5),
        );
        let floats = embed_dims * (1 + dims);
        if dims == 0 || bytes.len() != 24 + 4 * floats + n * dims {
            return Err(bad("truncated or wrong size"));
        }
        let f: Vec<f32> = bytes[24..24 + 4 * floats]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let mut rows: Vec<f32> = bytes[24 + 4 * floats..]
            .iter()
            .map(|&b| f32::from(b as i8))
            .collect();
        rows.chunks_exact_mut(dims).for_each(normalise);
        Ok(NameIndex {
            names_hash,
            embed_dims,
            mean: f[..embed_dims].to_vec(),
            basis: f[embed_dims..].to_vec(),
            rows,
            dims,
        })
    }
}

/// Scales `row` to unit length (a zero row stays zero).
pub fn normalise(row: &mut [f32]) {
    let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        row.iter_mut().for_each(|x| *x /= norm);
    }
}

/// An index paired with the tables whose measured artists are the
/// neighbours.
#[derive(Debug)]
pub struct Neighbours {
    index: Arc<NameIndex>,
    /// (row, measured valence and energy in [0, 1]) of every measured
    /// artist, rows packed contiguously for the scan.
    rows: Vec<f32>,
    measured: Vec<(f32, f32)>,
}

impl Neighbours {
    /// The neighbours `knowledge` measures, or `None` when `index` was built
    /// for another artist list.
    pub fn new(index: Arc<NameIndex>, knowledge: &Knowledge) -> Option<Neighbours> {
        let artists = knowledge.artists();
        if names_hash(artists.iter().map(|a| a.name.as_str())) != index.names_hash
            || artists.len() * index.dims != index.rows.len()
        {
            return None;
        }
        let mut rows = Vec::new();
        let mut measured = Vec::new();
        for (a, row) in artists.iter().zip(index.rows.chunks_exact(index.dims)) {
            if let Some(m) = a.measured {
                rows.extend_from_slice(row);
                measured.push(m);
            }
        }
        Some(Neighbours {
            index,
            rows,
            measured,
        })
    }

    /// Valence and energy in [0, 1] guessed for the name whose encoder
    /// embedding is `embedding`; `None` when no artist is measured.
    pub fn guess(&self, embedding: &[f32]) -> Option<(f32, f32)> {
        let q = self.index.project(embedding);
        let mut scored: Vec<(f32, usize)> = self
            .rows
            .chunks_exact(self.index.dims)
            .map(|r| r.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>())
            .zip(0..)
            .collect();
        if scored.is_empty() {
            return None;
        }
        let k = NEIGHBOURS.min(scored.len());
        if k < scored.len() {
            scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        }
        let (mut w, mut v, mut e) = (0f32, 0f32, 0f32);
        for &(s, i) in &scored[..k] {
            let weight = s.max(0.0).powi(SHARPNESS) + 1e-6;
            let (mv, me) = self.measured[i];
            w += weight;
            v += weight * mv;
            e += weight * me;
        }
        Some((v / w, e / w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_index_fits_the_shipped_tables() {
        let index = NameIndex::builtin();
        let knowledge = Knowledge::builtin();
        assert_eq!(index.embed_dims, 384);
        let n = Neighbours::new(index.clone(), &knowledge).expect("index and tables agree");
        assert_eq!(n.measured.len(), knowledge.artists().len());
        for row in index.rows.chunks_exact(index.dims).step_by(997) {
            let norm: f32 = row.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        }
        // Another table (here: one artist fewer) is refused, not misread.
        let tsv: String = knowledge.artists()[1..]
            .iter()
            .map(|a| format!("{}\t0.5\t0.5\t1\t\n", a.name))
            .collect();
        assert!(Neighbours::new(index, &Knowledge::parse(&tsv, "").unwrap()).is_none());
    }

    #[test]
    fn encode_and_decode_round_trip_within_quantisation() {
        let index = NameIndex {
            names_hash: names_hash(["a", "b"]),
            embed_dims: 3,
            mean: vec![0.1, 0.0, -0.1],
            basis: vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            rows: vec![0.6, 0.8, -1.0, 0.0],
            dims: 2,
        };
        let back = NameIndex::decode(&index.encode()).unwrap();
        assert_eq!(back.names_hash, index.names_hash);
        assert_eq!(back.basis, index.basis);
        for (a, b) in back.rows.iter().zip(&index.rows) {
            assert!((a - b).abs() < 0.01, "{a} vs {b}");
        }
        let err = NameIndex::decode(&index.encode()[..30]).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        assert!(NameIndex::decode(b"not an index at all......").is_err());
    }

    #[test]
    fn a_name_near_a_group_gets_that_groups_mean() {
        // Two clusters of known artists on the plane; a query by the
        // second gets its mean.
        let names = ["a1", "a2", "b1", "b2"];
        let index = Arc::new(NameIndex {
            names_hash: names_hash(names),
            embed_dims: 2,
            mean: vec![0.0, 0.0],
            basis: vec![1.0, 0.0, 0.0, 1.0],
            rows: vec![1.0, 0.0, 0.99, 0.14, 0.0, 1.0, 0.14, 0.99],
            dims: 2,
        });
        let knowledge = Knowledge::parse(
            "a1\t0.9\t0.9\t1\t\na2\t0.8\t0.8\t1\t\nb1\t0.1\t0.2\t1\t\nb2\t0.2\t0.1\t1\t\n",
            "",
        )
        .unwrap();
        let n = Neighbours::new(index, &knowledge).unwrap();
        let (v, e) = n.guess(&[0.05, 1.0]).unwrap();
        assert!(v < 0.3 && e < 0.3, "{v} {e}");
        let (v, _) = n.guess(&[1.0, 0.02]).unwrap();
        assert!(v > 0.7, "{v}");
    }
}
