//! The image generator conformance suite on the palette painter, alone and
//! behind a `GeneratorSet`.

use spotifyart_core::PalettePainter;

spotifyart_core::image_generator_conformance_tests!(PalettePainter, model: PalettePainter::ID);

mod generator_set {
    use std::sync::Arc;

    use spotifyart_core::{GeneratorSet, PalettePainter};

    spotifyart_core::image_generator_conformance_tests!(
        GeneratorSet::new().with(Arc::new(PalettePainter)),
        model: PalettePainter::ID,
    );
}

/// The checks bite: generators that ignore cancellation or the seed fail
/// them.
mod the_suite_catches {
    use spotifyart_core::testing::generator as suite;
    use spotifyart_core::{
        ArtRequest, GeneratedImage, GenerationContext, ImageGenerator, ModelInfo, PalettePainter,
        Result,
    };

    #[derive(Debug)]
    struct Deaf;

    impl ImageGenerator for Deaf {
        fn models(&self) -> Vec<ModelInfo> {
            PalettePainter.models()
        }
        fn generate(&self, r: &ArtRequest, _: &GenerationContext) -> Result<GeneratedImage> {
            PalettePainter.generate(r, &GenerationContext::new())
        }
    }

    #[derive(Debug)]
    struct SeedBlind;

    impl ImageGenerator for SeedBlind {
        fn models(&self) -> Vec<ModelInfo> {
            PalettePainter.models()
        }
        fn generate(&self, r: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
            PalettePainter.generate(
                &ArtRequest {
                    seed: 0,
                    ..r.clone()
                },
                ctx,
            )
        }
    }

    #[test]
    #[should_panic(expected = "a cancelled token should give Cancelled")]
    fn a_generator_that_ignores_cancellation() {
        suite::cancellation_is_prompt(&Deaf, PalettePainter::ID);
    }

    #[test]
    #[should_panic(expected = "gave the same PNG")]
    fn a_generator_that_ignores_the_seed() {
        suite::same_seed_same_png_other_seed_other_png(&SeedBlind, PalettePainter::ID);
    }
}
