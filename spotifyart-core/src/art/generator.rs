//! The [`ImageGenerator`] trait the diffusion crate and the palette
//! painter implement, its conveniences, and [`GeneratorSet`], which serves
//! several generators as one.

use std::fmt::{self, Debug};
use std::sync::Arc;

use super::{ArtRequest, GenerationContext, ModelInfo};
use crate::{Error, Result};

/// A painted image.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    /// PNG bytes.
    pub png: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Debug for GeneratedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedImage")
            .field("png", &format_args!("{} bytes", self.png.len()))
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// Paints a PNG from an [`ArtRequest`].
pub trait ImageGenerator: Send + Sync + Debug + 'static {
    /// Models this generator offers; the first is its default.
    fn models(&self) -> Vec<ModelInfo>;

    /// Paints `request`. Deterministic for a fixed request and device;
    /// checks `ctx` every step.
    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage>;
}

/// Conveniences over any [`ImageGenerator`]; not meant to be implemented.
pub trait ImageGeneratorExt: ImageGenerator {
    /// Info for model `id`, or the default model when `None`.
    fn model_info(&self, id: Option<&str>) -> Result<ModelInfo> {
        let models = self.models();
        match id {
            None => models
                .into_iter()
                .next()
                .ok_or_else(|| Error::internal("generator offers no models")),
            Some(id) => {
                let ids: Vec<String> = models.iter().map(|m| m.id.clone()).collect();
                models.into_iter().find(|m| m.id == id).ok_or_else(|| {
                    Error::invalid(format!(
                        "unknown image model {id:?}; this build offers: {}",
                        ids.join(", ")
                    ))
                })
            }
        }
    }

    /// Validates `request` against its model, then paints it.
    fn generate_checked(
        &self,
        request: &ArtRequest,
        ctx: &GenerationContext,
    ) -> Result<GeneratedImage> {
        self.model_info(Some(&request.model))?.validate(request)?;
        self.generate(request, ctx)
    }
}

impl<T: ImageGenerator + ?Sized> ImageGeneratorExt for T {}

#[deny(clippy::missing_trait_methods)]
impl<T: ImageGenerator + ?Sized> ImageGenerator for Arc<T> {
    fn models(&self) -> Vec<ModelInfo> {
        (**self).models()
    }
    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
        (**self).generate(request, ctx)
    }
}

#[deny(clippy::missing_trait_methods)]
impl<T: ImageGenerator + ?Sized> ImageGenerator for Box<T> {
    fn models(&self) -> Vec<ModelInfo> {
        (**self).models()
    }
    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
        (**self).generate(request, ctx)
    }
}

/// Several generators behind one: requests go to whichever offers the
/// model, so a build can serve Stable Diffusion next to the procedural
/// painter. The default model is the one set with
/// [`GeneratorSet::default_model`], else the first generator's.
#[derive(Debug, Default)]
pub struct GeneratorSet {
    members: Vec<Arc<dyn ImageGenerator>>,
    default_model: Option<String>,
}

impl GeneratorSet {
    /// An empty set; add generators with [`GeneratorSet::with`].
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds `g`; earlier members win when two offer the same model id.
    pub fn with(mut self, g: Arc<dyn ImageGenerator>) -> Self {
        self.members.push(g);
        self
    }
    /// Makes `id` the default model (listed first); it must be one a
    /// member offers, which [`ImageGeneratorExt::model_info`] checks.
    pub fn default_model(mut self, id: impl Into<String>) -> Self {
        self.default_model = Some(id.into());
        self
    }
}

impl ImageGenerator for GeneratorSet {
    fn models(&self) -> Vec<ModelInfo> {
        let mut seen = std::collections::HashSet::new();
        let mut models: Vec<ModelInfo> = self
            .members
            .iter()
            .flat_map(|g| g.models())
            .filter(|m| seen.insert(m.id.clone()))
            .collect();
        if let Some(first) = self.default_model.as_deref() {
            // A stable sort keeps every other model in its place.
            models.sort_by_key(|m| m.id != first);
        }
        models
    }

    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
        let owner = self
            .members
            .iter()
            .find(|g| g.models().iter().any(|m| m.id == request.model));
        match owner {
            Some(g) => g.generate(request, ctx),
            None => Err(self
                .model_info(Some(&request.model))
                .err()
                .unwrap_or_else(|| Error::internal("model listed but not owned"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::art::PalettePainter;
    use crate::art::request::tests::request;

    /// A generator that offers one model and says who painted.
    #[derive(Debug)]
    struct Named(&'static str);

    impl ImageGenerator for Named {
        fn models(&self) -> Vec<ModelInfo> {
            let mut m = PalettePainter.models().remove(0);
            m.id = self.0.into();
            vec![m]
        }
        fn generate(&self, r: &ArtRequest, _: &GenerationContext) -> Result<GeneratedImage> {
            Ok(GeneratedImage {
                png: format!("{}:{}", self.0, r.model).into_bytes(),
                width: r.width,
                height: r.height,
            })
        }
    }

    #[test]
    fn generator_sets_route_by_model_and_keep_the_first_default() {
        let set = GeneratorSet::new()
            .with(Arc::new(Named("sd-turbo")))
            .with(Arc::new(Named("palette")))
            .with(Arc::new(Named("sd-turbo")));
        let ids: Vec<_> = set.models().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["sd-turbo", "palette"]);
        assert_eq!(set.model_info(None).unwrap().id, "sd-turbo");
        let ctx = GenerationContext::new();
        let painted = set.generate(&request(), &ctx).unwrap();
        assert_eq!(painted.png, b"palette:palette");
        let mut r = request();
        r.model = "sdxl".into();
        let e = set.generate(&r, &ctx).unwrap_err().to_string();
        assert!(
            e.contains("unknown image model \"sdxl\"; this build offers: sd-turbo, palette"),
            "{e}"
        );
    }
}
