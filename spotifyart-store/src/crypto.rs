//! OAuth tokens at rest: AES-256-GCM with a fresh random nonce per write.
//!
//! The associated data binds each ciphertext to its row (user, provider and
//! field), so a ciphertext copied onto another user's row, or from the access
//! to the refresh column, fails to decrypt. Rows record the id of the key that
//! wrote them; a [`Keyring`] holds the current key (for writes) and old keys
//! (for reads), so keys rotate without downtime: start with the new key as
//! current and the old one in `SPOTIFYART_ENCRYPTION_OLD_KEYS`, then run
//! `spotifyart migrate --reencrypt` to rewrite every row with the new key.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use spotifyart_core::{Error, Result};

/// A 256-bit key. `Debug` never shows it.
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey(id {})", self.id())
    }
}

impl EncryptionKey {
    /// A fresh key from the OS's random source.
    pub fn generate() -> Self {
        let key = aes_gcm::Key::<Aes256Gcm>::generate();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(key.as_slice());
        Self(bytes)
    }

    /// Parses the base64 form (`openssl rand -base64 32`).
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| {
            Error::invalid(
                "the encryption key is not base64; make one with `openssl rand -base64 32`",
            )
        })?;
        let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            Error::invalid(format!(
                "the encryption key must be 32 bytes (256 bits) in base64, got {} bytes; \
                 make one with `openssl rand -base64 32`",
                bytes.len()
            ))
        })?;
        Ok(Self(bytes))
    }

    /// The base64 form.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// A short public name for the key, stored with each row it encrypts.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"spotifyart key id v1\0");
        h.update(self.0);
        hex::encode(&h.finalize()[..6])
    }

    /// Reads the key file at `path`, or creates it (owner read/write only)
    /// with a fresh key when it does not exist. Embedded mode keeps its key
    /// next to its database this way.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                warn_if_readable_by_others(path);
                return Self::from_base64(&text)
                    .map_err(|e| Error::invalid(format!("key file {}: {e}", path.display())));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let key = Self::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut f) => {
                f.write_all(format!("{}\n", key.to_base64()).as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| Error::io(path, e))?;
                tracing::info!(path = %path.display(), key_id = %key.id(), "created encryption key");
                Ok(key)
            }
            // Another process created it between our read and our create.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the encryption key file is readable by other users; run chmod 600 on it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The current key and any old ones.
#[derive(Clone)]
pub struct Keyring {
    current: String,
    ciphers: HashMap<String, Aes256Gcm>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.ciphers.keys().collect();
        ids.sort();
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("known", &ids)
            .finish()
    }
}

/// One encrypted value.
pub struct Sealed {
    /// The 96-bit nonce, fresh for every write.
    pub nonce: Vec<u8>,
    /// Ciphertext with the 128-bit authentication tag.
    pub ciphertext: Vec<u8>,
}

impl Keyring {
    /// Writes with `current`; reads rows written with it or any of `old`.
    pub fn new(current: &EncryptionKey, old: &[EncryptionKey]) -> Self {
        let mut ciphers = HashMap::new();
        for k in old.iter().chain([current]) {
            ciphers.insert(
                k.id(),
                Aes256Gcm::new(&aes_gcm::Key::<Aes256Gcm>::from(k.0)),
            );
        }
        Self {
            current: current.id(),
            ciphers,
        }
    }

    /// Id of the key new writes use.
    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// Encrypts with the current key and a fresh nonce.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed> {
        let cipher = &self.ciphers[&self.current];
        let nonce = Nonce::generate();
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| Error::internal("AES-GCM encryption failed"))?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts a value written with key `key_id`. Fails with a message that
    /// says whether the key is missing or the data was modified.
    pub fn open(&self, key_id: &str, sealed: &Sealed, aad: &[u8], what: &str) -> Result<Vec<u8>> {
        let cipher = self.ciphers.get(key_id).ok_or_else(|| Error::Storage {
            message: format!(
                "{what} was encrypted with key {key_id}, which is not configured (this server \
                 has key {} and {} old key(s)); set SPOTIFYART_ENCRYPTION_KEY or \
                 SPOTIFYART_ENCRYPTION_OLD_KEYS to include it",
                self.current,
                self.ciphers.len() - 1
            ),
            source: None,
        })?;
        let nonce = Nonce::try_from(sealed.nonce.as_slice()).map_err(|_| Error::Storage {
            message: format!("{what}: stored nonce has the wrong length"),
            source: None,
        })?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .map_err(|_| Error::Storage {
                message: format!(
                    "{what} failed authentication: the stored ciphertext was modified or \
                     belongs to another row"
                ),
                source: None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_tamper_and_wrong_key() {
        let k1 = EncryptionKey::generate();
        let k2 = EncryptionKey::generate();
        let ring = Keyring::new(&k1, &[]);
        let a = ring.seal(b"secret", b"row-1").unwrap();
        let b = ring.seal(b"secret", b"row-1").unwrap();
        assert_ne!(a.nonce, b.nonce, "fresh nonce per write");
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(ring.open(&k1.id(), &a, b"row-1", "t").unwrap(), b"secret");

        let e = ring.open(&k1.id(), &a, b"row-2", "tokens").unwrap_err();
        assert!(e.to_string().contains("belongs to another row"), "{e}");
        let mut bad = Sealed {
            nonce: a.nonce.clone(),
            ciphertext: a.ciphertext.clone(),
        };
        bad.ciphertext[0] ^= 1;
        let e = ring.open(&k1.id(), &bad, b"row-1", "tokens").unwrap_err();
        assert!(e.to_string().contains("was modified"), "{e}");
        let e = Keyring::new(&k2, &[])
            .open(&k1.id(), &a, b"row-1", "tokens")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("encrypted with key {}", k1.id())),
            "{e}"
        );

        // Rotation: the new ring reads old rows and writes new ones.
        let rotated = Keyring::new(&k2, std::slice::from_ref(&k1));
        assert_eq!(
            rotated.open(&k1.id(), &a, b"row-1", "t").unwrap(),
            b"secret"
        );
        assert_eq!(rotated.current_id(), k2.id());
    }

    #[test]
    fn keys_parse_and_files_are_private() {
        let k = EncryptionKey::generate();
        assert_eq!(
            EncryptionKey::from_base64(&k.to_base64()).unwrap().id(),
            k.id()
        );
        let e = EncryptionKey::from_base64("c2hvcnQ=")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be 32 bytes"), "{e}");
        assert!(!format!("{k:?}").contains(&k.to_base64()));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/spotifyart.key");
        let created = EncryptionKey::load_or_create(&path).unwrap();
        let again = EncryptionKey::load_or_create(&path).unwrap();
        assert_eq!(created.id(), again.id(), "generated once");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
