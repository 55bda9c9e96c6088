//! CLIP's byte-level BPE, offline. Stable Diffusion text encoders read 77
//! token ids: start-of-text, the prompt, end-of-text, then padding. The
//! vocabulary is OpenAI's (bundled by `instant-clip-tokenizer`) or the
//! `tokenizer/merges.txt` of a diffusers model folder, which holds the same
//! merges in the same format.

use std::io::BufReader;
use std::path::Path;

use spotifyart_core::{Error, Result};

/// Tokens a CLIP text encoder reads, start and end included.
pub const CONTEXT_LENGTH: usize = 77;
/// CLIP's vocabulary size (BPE merges + bytes + the two special tokens).
const VOCABULARY_SIZE: u16 = 49408;
/// `<|startoftext|>` in CLIP's vocabulary.
const START_OF_TEXT: u16 = 49406;

/// What fills a prompt's ids up to [`CONTEXT_LENGTH`]: SD 1.x (OpenAI CLIP)
/// pads with end-of-text; SD 2.x and SDXL's second encoder (OpenCLIP) pad
/// with id 0 (`!`), as their `tokenizer_config.json` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// `<|endoftext|>` (49407).
    EndOfText,
    /// Id 0.
    Zero,
}

/// Ids for one prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// Exactly [`CONTEXT_LENGTH`] ids.
    pub ids: Vec<u32>,
    /// How many prompt tokens were dropped to fit.
    pub truncated: usize,
}

/// A CLIP BPE tokenizer. Building one parses ~49k merges (a few ms); keep
/// it with the loaded model.
pub struct ClipTokenizer {
    inner: instant_clip_tokenizer::Tokenizer,
}

impl std::fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClipTokenizer")
    }
}

impl ClipTokenizer {
    /// The OpenAI vocabulary bundled in the binary: works with no model
    /// folder and no network.
    pub fn bundled() -> Self {
        Self {
            inner: instant_clip_tokenizer::Tokenizer::new(),
        }
    }

    /// The vocabulary of a diffusers folder (`tokenizer/merges.txt`), or
    /// the bundled one when the folder has none.
    pub fn from_model_dir(dir: &Path) -> Result<Self> {
        let merges = dir.join("tokenizer").join("merges.txt");
        if !merges.exists() {
            return Ok(Self::bundled());
        }
        let file = std::fs::File::open(&merges).map_err(|e| Error::io(&merges, e))?;
        let inner = instant_clip_tokenizer::Tokenizer::with_vocabulary(
            BufReader::new(file),
            VOCABULARY_SIZE,
        )
        .map_err(|e| Error::Model {
            message: format!("{} is not a CLIP merges file: {e}", merges.display()),
            source: None,
        })?;
        // Special tokens follow the merges, so a short file shifts them.
        if inner.start_of_text().to_u16() != START_OF_TEXT {
            return Err(Error::Model {
                message: format!(
                    "{} is incomplete: CLIP's vocabulary has {} tokens; re-download the \
                     model's tokenizer folder",
                    merges.display(),
                    VOCABULARY_SIZE
                ),
                source: None,
            });
        }
        Ok(Self { inner })
    }

    /// `prompt` as [`CONTEXT_LENGTH`] ids. Text beyond what fits is cut
    /// (end-of-text stays last) and reported in `truncated`; callers warn.
    pub fn encode(&self, prompt: &str, padding: Padding) -> Encoded {
        let mut tokens = Vec::new();
        self.inner.encode(prompt, &mut tokens);
        let room = CONTEXT_LENGTH - 2;
        let truncated = tokens.len().saturating_sub(room);
        tokens.truncate(room);
        let eot = u32::from(self.inner.end_of_text().to_u16());
        let mut ids = Vec::with_capacity(CONTEXT_LENGTH);
        ids.push(u32::from(self.inner.start_of_text().to_u16()));
        ids.extend(tokens.iter().map(|t| u32::from(t.to_u16())));
        ids.push(eot);
        let pad = match padding {
            Padding::EndOfText => eot,
            Padding::Zero => 0,
        };
        ids.resize(CONTEXT_LENGTH, pad);
        Encoded { ids, truncated }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference ids from OpenAI's CLIP tokenizer (and Hugging Face's
    /// `CLIPTokenizer` for openai/clip-vit-large-patch14).
    #[test]
    fn known_prompts_match_clip_reference_ids() {
        let t = ClipTokenizer::bundled();
        let e = t.encode("a photo of a cat", Padding::EndOfText);
        assert_eq!(&e.ids[..7], &[49406, 320, 1125, 539, 320, 2368, 49407]);
        assert!(e.ids[7..].iter().all(|&i| i == 49407));
        assert_eq!(e.ids.len(), CONTEXT_LENGTH);
        assert_eq!(e.truncated, 0);
        // Case and surrounding whitespace do not matter to CLIP.
        assert_eq!(t.encode("  A Photo of a CAT ", Padding::EndOfText), e);
        let z = t.encode("a photo of a cat", Padding::Zero);
        assert_eq!(&z.ids[..7], &e.ids[..7]);
        assert!(z.ids[7..].iter().all(|&i| i == 0));
    }

    #[test]
    fn long_prompts_are_truncated_not_refused() {
        let t = ClipTokenizer::bundled();
        let long = "dreamy watercolor ".repeat(60);
        let e = t.encode(&long, Padding::EndOfText);
        assert_eq!(e.ids.len(), CONTEXT_LENGTH);
        assert_eq!(e.ids[0], 49406);
        assert_eq!(e.ids[CONTEXT_LENGTH - 1], 49407);
        assert!(e.truncated > 0);
    }

    #[test]
    fn model_folders_are_checked() {
        let dir = std::env::temp_dir().join(format!("sa-tok-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tokenizer")).unwrap();
        let t = ClipTokenizer::from_model_dir(&dir).unwrap();
        assert_eq!(t.encode("cat", Padding::EndOfText).ids[1], 2368, "bundled");
        let merges = dir.join("tokenizer/merges.txt");
        std::fs::write(&merges, "#version: 0.2\nnot a merges file\n").unwrap();
        let e = ClipTokenizer::from_model_dir(&dir).unwrap_err();
        assert!(e.to_string().contains("is not a CLIP merges file"), "{e}");
        std::fs::write(&merges, "#version: 0.2\ni n\nt h\n").unwrap();
        let e = ClipTokenizer::from_model_dir(&dir).unwrap_err();
        assert!(e.to_string().contains("incomplete"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
