//! Opaque bearer tokens (session cookies, invite codes) and their hashes.
//! The token is shown to its holder once; stores keep only the SHA-256, so a
//! leaked database cannot be replayed as sessions.

use std::fmt;

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A random 256-bit token, URL-safe. `Debug` does not show it.
#[derive(Clone)]
pub struct OpaqueToken(SecretString);

impl OpaqueToken {
    /// A fresh token from the thread-local CSPRNG (ChaCha seeded by the OS).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(SecretString::from(hex::encode(bytes)))
    }

    /// Wraps a token received from a client (cookie, URL).
    pub fn from_client(value: &str) -> Self {
        Self(SecretString::from(value.to_string()))
    }

    /// The token text, for the one place that hands it to its holder.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// What stores keep.
    pub fn hash(&self) -> TokenHash {
        TokenHash(hex::encode(Sha256::digest(
            self.0.expose_secret().as_bytes(),
        )))
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken([redacted])")
    }
}

/// SHA-256 (hex) of an [`OpaqueToken`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(pub String);

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hashed_and_redacted() {
        let a = OpaqueToken::generate();
        let b = OpaqueToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 64);
        assert_eq!(OpaqueToken::from_client(a.expose()).hash(), a.hash());
        assert_ne!(a.hash().0, a.expose());
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
