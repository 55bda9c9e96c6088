//! The mood model conformance suite on every core model, each given a
//! profile with the signals it declares.

use spotifyart_core::profile::Signal;
use spotifyart_core::testing::mood::profile_with;

mod features {
    use super::*;
    use spotifyart_core::mood::FeaturesModel;
    spotifyart_core::mood_model_conformance_tests!(
        FeaturesModel,
        with_signals: profile_with(&[Signal::AudioFeatures]),
    );
}

mod genres {
    use super::*;
    use spotifyart_core::mood::GenreModel;
    spotifyart_core::mood_model_conformance_tests!(
        GenreModel::default(),
        with_signals: profile_with(&[Signal::Genres, Signal::Names]),
    );
}

mod behaviour {
    use super::*;
    use spotifyart_core::mood::BehaviourModel;
    spotifyart_core::mood_model_conformance_tests!(
        BehaviourModel,
        with_signals: profile_with(&[Signal::PlayTimes, Signal::Skips]),
    );
}

mod covers {
    use super::*;
    use spotifyart_core::mood::CoverModel;
    spotifyart_core::mood_model_conformance_tests!(
        CoverModel,
        with_signals: profile_with(&[Signal::Covers]),
    );
}

mod auto {
    use super::*;
    use spotifyart_core::mood::AutoModel;
    spotifyart_core::mood_model_conformance_tests!(
        AutoModel::default(),
        with_signals: profile_with(&[
            Signal::AudioFeatures,
            Signal::Genres,
            Signal::Names,
            Signal::Covers,
            Signal::PlayTimes,
            Signal::Skips,
        ]),
    );
}

/// The checks bite: a model that answers every profile with the same
/// confident mood fails them.
mod the_suite_catches {
    use spotifyart_core::mood::Mood;
    use spotifyart_core::profile::{ListeningProfile, Signal};
    use spotifyart_core::testing::mood as suite;
    use spotifyart_core::{MoodModel, Result};

    #[derive(Debug)]
    struct Confident;

    impl MoodModel for Confident {
        fn name(&self) -> &str {
            "confident"
        }
        fn signals(&self) -> &[Signal] {
            &[Signal::Names]
        }
        fn mood(&self, _: &ListeningProfile) -> Result<Mood> {
            Ok(Mood::new(0.5, 0.5, 0.8, vec![Signal::Names], "confident"))
        }
    }

    #[test]
    #[should_panic(expected = "is not the neutral mood")]
    fn a_mood_without_signals() {
        suite::no_signal_gives_the_neutral_mood(&Confident, &suite::profile_with(&[Signal::Names]));
    }

    #[test]
    #[should_panic(expected = "which the profile lacks")]
    fn a_signal_the_profile_lacks() {
        suite::used_signals_are_declared_and_present(
            &Confident,
            &suite::profile_with(&[Signal::Names]),
        );
    }
}
