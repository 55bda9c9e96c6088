//! Finding weights: a diffusers-layout folder (`--model-dir`), else the
//! Hugging Face cache, else a download into that cache when online. When
//! none works the error names every missing file and the command that
//! fetches them.

use std::path::{Path, PathBuf};

use spotifyart_core::{Error, Result};

use crate::models::ModelSpec;

/// One weights file, by its candidate names (the f16 variant first: half the
/// download; values are converted to the run's dtype on load).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// What it is, for messages.
    pub role: &'static str,
    /// Paths inside the repository, preferred first.
    pub candidates: Vec<String>,
    /// Configs are optional (built-in ones stand in); weights are not.
    pub required: bool,
}

fn weights(role: &'static str, dir: &str, stem: &str) -> Component {
    Component {
        role,
        candidates: vec![
            format!("{dir}{stem}.fp16.safetensors"),
            format!("{dir}{stem}.safetensors"),
        ],
        required: true,
    }
}

fn config(role: &'static str, dir: &str) -> Component {
    Component {
        role,
        candidates: vec![format!("{dir}config.json")],
        required: false,
    }
}

/// The files a model needs, in its repository's layout.
pub fn components(spec: &ModelSpec) -> Vec<Component> {
    let mut v = vec![
        weights("text encoder", "text_encoder/", "model"),
        config("text encoder config", "text_encoder/"),
        weights("UNet", "unet/", "diffusion_pytorch_model"),
        config("UNet config", "unet/"),
        weights("VAE", "vae/", "diffusion_pytorch_model"),
        config("VAE config", "vae/"),
        Component {
            role: "tokenizer merges",
            candidates: vec!["tokenizer/merges.txt".into()],
            required: false,
        },
    ];
    if spec.has_second_encoder() {
        v.insert(
            2,
            weights("second text encoder", "text_encoder_2/", "model"),
        );
        v.insert(3, config("second text encoder config", "text_encoder_2/"));
    }
    v
}

/// The TAESD decoder's files.
pub fn taesd_components() -> Vec<Component> {
    vec![
        weights("TAESD decoder", "", "diffusion_pytorch_model"),
        config("TAESD config", ""),
    ]
}

/// Where weights come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WeightSource {
    /// A diffusers-layout folder; when set, nothing else is consulted.
    pub model_dir: Option<PathBuf>,
    /// Download missing files into the Hugging Face cache (off when
    /// `HF_HUB_OFFLINE=1`).
    pub download: bool,
    /// Draw a progress bar for downloads.
    pub progress: bool,
    /// The Hugging Face cache folder; `HF_HOME`/`HF_HUB_CACHE` or
    /// `~/.cache/huggingface/hub` when unset.
    pub cache_dir: Option<PathBuf>,
    /// The Hub (or a mirror) to download from; `HF_ENDPOINT` or
    /// `https://huggingface.co` when unset.
    pub endpoint: Option<String>,
}

/// Files found for a repository: role → path, `None` for absent optional ones.
#[derive(Debug)]
pub struct Resolved {
    files: Vec<(&'static str, Option<PathBuf>)>,
}

impl Resolved {
    /// The path for `role`, if present.
    pub fn get(&self, role: &str) -> Option<&Path> {
        self.files
            .iter()
            .find(|(r, _)| *r == role)
            .and_then(|(_, p)| p.as_deref())
    }

    /// The path for a required `role`.
    pub fn required(&self, role: &str) -> Result<&Path> {
        self.get(role)
            .ok_or_else(|| Error::internal(format!("weights for {role} were not resolved")))
    }
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Finds (or fetches) every component of `repo`. `what` names the model in
/// messages; with `model_dir` only that folder is read.
pub fn resolve(
    what: &str,
    repo: &str,
    parts: &[Component],
    source: &WeightSource,
    model_dir: Option<&Path>,
) -> Result<Resolved> {
    let mut files = Vec::with_capacity(parts.len());
    let mut missing = Vec::new();
    let mut download_errors = Vec::new();
    let cache = match &source.cache_dir {
        Some(dir) => hf_hub::Cache::new(dir.clone()),
        None => hf_hub::Cache::from_env(),
    };
    let mut hub_down = false;
    let api = if model_dir.is_none() && source.download && !offline() && !repo.is_empty() {
        let mut builder =
            hf_hub::api::sync::ApiBuilder::from_cache(cache.clone()).with_progress(source.progress);
        if let Some(endpoint) = source
            .endpoint
            .clone()
            .or_else(|| std::env::var("HF_ENDPOINT").ok())
        {
            builder = builder.with_endpoint(endpoint);
        }
        match builder.build() {
            Ok(api) => Some(api),
            Err(e) => {
                download_errors.push(format!("cannot reach the Hugging Face Hub: {e}"));
                None
            }
        }
    } else {
        None
    };
    for part in parts {
        let found = match model_dir {
            Some(dir) => part
                .candidates
                .iter()
                .map(|c| dir.join(c))
                .find(|p| p.is_file()),
            None => {
                let repo_cache = cache.model(repo.to_string());
                let cached = part.candidates.iter().find_map(|c| repo_cache.get(c));
                match (cached, &api) {
                    (Some(p), _) => Some(p),
                    (None, Some(hub)) if !hub_down => {
                        let remote = hub.model(repo.to_string());
                        let mut errors = Vec::new();
                        let mut unreachable = None;
                        let got = part.candidates.iter().find_map(|c| match remote.get(c) {
                            Ok(p) => Some(p),
                            // A missing variant is a 404; anything else means
                            // the Hub cannot be reached, so stop asking it.
                            Err(e) if e.to_string().contains("404") => {
                                errors.push(format!("{c}: {e}"));
                                None
                            }
                            Err(e) => {
                                unreachable.get_or_insert(e.to_string());
                                None
                            }
                        });
                        if let Some(e) = unreachable {
                            download_errors.push(format!("cannot reach the Hugging Face Hub: {e}"));
                            hub_down = true;
                        } else if got.is_none() && part.required {
                            download_errors.extend(errors);
                        }
                        got
                    }
                    (None, _) => None,
                }
            }
        };
        if found.is_none() && part.required {
            missing.push(part.candidates.join(" or "));
        }
        files.push((part.role, found));
    }
    if missing.is_empty() {
        return Ok(Resolved { files });
    }
    Err(Error::model(missing_message(
        what,
        repo,
        parts,
        &missing,
        &download_errors,
        model_dir,
    )))
}

fn missing_message(
    what: &str,
    repo: &str,
    parts: &[Component],
    missing: &[String],
    download_errors: &[String],
    model_dir: Option<&Path>,
) -> String {
    let mut m = match model_dir {
        Some(dir) => format!("weights for {what} are missing from {}:\n", dir.display()),
        None => format!("weights for {what} ({repo}) are not in the Hugging Face cache:\n"),
    };
    for f in missing {
        m.push_str(&format!("  - {f}\n"));
    }
    for e in download_errors.iter().take(4) {
        m.push_str(&format!("download failed: {e}\n"));
    }
    if model_dir.is_none() && offline() {
        m.push_str("HF_HUB_OFFLINE is set, so nothing was downloaded.\n");
    }
    let files: Vec<&str> = parts.iter().map(|p| p.candidates[0].as_str()).collect();
    let target = model_dir.map_or_else(String::new, |d| format!(" --local-dir {}", d.display()));
    m.push_str(&format!(
        "fetch them on a machine with internet access:\n  huggingface-cli download {repo} {}{target}\n\
         (drop `.fp16` from a name if the repository has no such variant), then pass the \
         folder with --model-dir or SPOTIFYART_MODEL_DIR, or run once online to fill the cache",
        files.join(" ")
    ));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::spec;

    #[test]
    fn sdxl_needs_both_encoders() {
        let roles: Vec<_> = components(spec("sdxl").unwrap())
            .iter()
            .map(|c| c.role)
            .collect();
        assert!(roles.contains(&"second text encoder"));
        let roles: Vec<_> = components(spec("sd-1.5").unwrap())
            .iter()
            .map(|c| c.role)
            .collect();
        assert!(!roles.contains(&"second text encoder"));
    }
}
