//! The embedding model's part in `auto`, judged on whole listening
//! histories (a small fixed subset of `mood_eval`'s synthetic listeners):
//! fails when `auto` with the embedding weights present scores below any
//! single model, or below `auto` without them, at any share of plays by
//! artists the tables do not know. Needs all-MiniLM-L6-v2
//! (`scripts/test-assets`); skipped with a note without it, like the other
//! embedding tests.

use std::sync::Arc;

use spotifyart_core::MoodModel;
use spotifyart_core::mood::knowledge::Knowledge;
use spotifyart_core::mood::{AutoModel, EmbeddingModel, EvidenceFit, GenreModel};
use spotifyart_core::testing::listeners::{Pools, Score};
use spotifyart_diffusion::WeightSource;

/// Listeners per share, drawn from a cut of the dataset's artists: the
/// embedding model encodes every name once, so the cut decides the time.
const PER_SHARE: usize = 1000;
/// Known and held-out artists the listeners are drawn from.
const CUT: (usize, usize) = (1000, 2500);

/// Scores are compared as the docs table reports them, to three decimals:
/// where every artist is known, `auto` and `genres` are one computation in
/// different float orders.
const TIE: f64 = 0.0005;

#[test]
fn the_embedding_model_never_makes_auto_worse() {
    let Some(dir) = spotifyart_diffusion::embedding::test_assets_dir() else {
        eprintln!("all-MiniLM-L6-v2 not found (scripts/test-assets): skipped");
        return;
    };
    let encoder = spotifyart_diffusion::text_encoder(&WeightSource {
        model_dir: Some(dir),
        download: false,
        ..Default::default()
    })
    .unwrap();
    let full = Knowledge::builtin();
    let pools = Pools::new(&full).limited(CUT.0, CUT.1, 3);
    let knowledge = Arc::new(pools.knowledge().clone());
    let embedding = Arc::new(
        EmbeddingModel::new(encoder)
            .unwrap()
            .with_neighbours(&knowledge),
    );
    let genres = Arc::new(GenreModel::new(Arc::clone(&knowledge)));
    let plain = AutoModel::new(knowledge, EvidenceFit::builtin()).with_estimator(genres.clone());
    let auto = plain.clone().with_estimator(embedding.clone());
    let others: [(&str, &dyn MoodModel); 3] = [
        ("genres", genres.as_ref()),
        ("embedding", embedding.as_ref()),
        ("auto without the embedding weights", &plain),
    ];
    for (share, people) in pools.population(PER_SHARE, 5) {
        let a = Score::of_model(&auto, &people).unwrap();
        for (name, model) in others {
            let o = Score::of_model(model, &people).unwrap();
            eprintln!(
                "{:.0}% unknown: auto {a:?}\n    {name} {o:?}",
                share * 100.0
            );
            assert!(
                a.at_least(&o, TIE),
                "{:.0}% unknown: auto with the embedding weights {a:?} behind {name} {o:?}",
                share * 100.0
            );
        }
    }
}
