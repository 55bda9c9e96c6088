//! OAuth tokens at rest: ciphertext only, tamper-evident, bound to their
//! row, readable only with the right key, and rotatable.

mod support;

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use secrecy::ExposeSecret;
use spotifyart_core::Store;
use spotifyart_core::store::{OAuthTokens, OpaqueToken, PendingSignIn};
use spotifyart_core::testing::store::{new_user, t};
use spotifyart_store::{Database, EncryptionKey, StoreConfig};

const ACCESS: &str = "BQDaccess-token-PLAINTEXT-7f3a9c";
const REFRESH: &str = "AQBrefresh-token-PLAINTEXT-41d2e8";
const VERIFIER: &str = "pkce-verifier-PLAINTEXT-93b1c0d5e7";

fn tokens() -> OAuthTokens {
    OAuthTokens {
        access_token: ACCESS.to_string().into(),
        refresh_token: Some(REFRESH.to_string().into()),
        expires_at: t(3600),
        scopes: vec!["user-top-read".into()],
    }
}

fn config(dir: &tempfile::TempDir, key: &EncryptionKey, old: &[EncryptionKey]) -> StoreConfig {
    StoreConfig {
        url: format!("sqlite://{}", dir.path().join("s.db").display()),
        key: Some(key.clone()),
        old_keys: old.to_vec(),
        ..StoreConfig::default()
    }
}

async fn open(config: &StoreConfig) -> std::sync::Arc<dyn Store> {
    spotifyart_store::open(config).await.unwrap().into_store()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_plaintext_token_bytes_anywhere_in_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = EncryptionKey::generate();
    let store = open(&config(&dir, &key, &[])).await;
    let (a, b) = (new_user(&*store).await, new_user(&*store).await);
    store.put_tokens(a.id, "spotify", &tokens()).await.unwrap();
    store.put_tokens(b.id, "spotify", &tokens()).await.unwrap();
    store
        .create_sign_in(
            &PendingSignIn {
                state_hash: OpaqueToken::from_client("state").hash(),
                verifier: VERIFIER.to_string().into(),
                next: "/discover".into(),
                created_at: t(0),
                expires_at: t(600),
            },
            t(0),
        )
        .await
        .unwrap();
    let back = store.tokens(a.id, "spotify").await.unwrap();
    assert_eq!(back.access_token.expose_secret(), ACCESS);
    assert_eq!(back.refresh_token.unwrap().expose_secret(), REFRESH);

    // Every file SQLite wrote (main file, WAL, shared memory).
    let mut files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        files += 1;
        for secret in [ACCESS, REFRESH, VERIFIER, &key.to_base64()] {
            if path.extension().is_some_and(|e| e == "key") {
                continue;
            }
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{secret} found in {}",
                path.display()
            );
        }
    }
    assert!(files >= 2, "database and key file");

    // Same plaintext, different ciphertext (fresh nonces).
    let mut raw = SqliteConnection::establish(dir.path().join("s.db").to_str().unwrap()).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Binary)]
        access_ciphertext: Vec<u8>,
        #[diesel(sql_type = diesel::sql_types::Binary)]
        access_nonce: Vec<u8>,
    }
    let rows: Vec<Row> =
        diesel::sql_query("SELECT access_ciphertext, access_nonce FROM oauth_tokens")
            .load(&mut raw)
            .unwrap();
    assert_eq!(rows.len(), 2);
    assert_ne!(rows[0].access_ciphertext, rows[1].access_ciphertext);
    assert_ne!(rows[0].access_nonce, rows[1].access_nonce);
    assert_eq!(
        rows[0].access_ciphertext.len(),
        ACCESS.len() + 16,
        "ciphertext + GCM tag"
    );
}

/// The database, its WAL and shared-memory files and the key file are
/// the owner's alone (they were 0644 before).
#[cfg(unix)]
#[tokio::test]
async fn database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        url: format!("sqlite://{}", dir.path().join("s.db").display()),
        ..StoreConfig::default()
    };
    let store = open(&config).await;
    let user = new_user(&*store).await;
    store
        .put_tokens(user.id, "spotify", &tokens())
        .await
        .unwrap();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
        seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    seen.sort();
    assert_eq!(seen, ["s.db", "s.db-shm", "s.db-wal", "spotifyart.key"]);
}

#[tokio::test]
async fn tampered_swapped_or_wrongly_keyed_tokens_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let key = EncryptionKey::generate();
    let store = open(&config(&dir, &key, &[])).await;
    let (a, b) = (new_user(&*store).await, new_user(&*store).await);
    store.put_tokens(a.id, "spotify", &tokens()).await.unwrap();
    store.put_tokens(b.id, "spotify", &tokens()).await.unwrap();
    let mut raw = SqliteConnection::establish(dir.path().join("s.db").to_str().unwrap()).unwrap();

    // One flipped byte.
    raw.batch_execute(&format!(
        "UPDATE oauth_tokens SET access_ciphertext = \
           zeroblob(1) || substr(access_ciphertext, 2) WHERE user_id = '{}'",
        a.id
    ))
    .unwrap();
    let err = store.tokens(a.id, "spotify").await.unwrap_err();
    assert_eq!(err.code(), "storage_failed");
    assert!(
        err.to_string()
            .contains("failed authentication: the stored ciphertext was modified"),
        "{err}"
    );

    // B's ciphertext copied onto C's row does not decrypt as C's.
    let c = new_user(&*store).await;
    raw.batch_execute(&format!(
        "INSERT INTO oauth_tokens (user_id, provider, key_id, access_nonce, access_ciphertext, \
           refresh_nonce, refresh_ciphertext, expires_at, scopes, updated_at) \
         SELECT '{}', provider, key_id, access_nonce, access_ciphertext, \
           refresh_nonce, refresh_ciphertext, expires_at, scopes, updated_at \
         FROM oauth_tokens WHERE user_id = '{}'",
        c.id, b.id
    ))
    .unwrap();
    let err = store.tokens(c.id, "spotify").await.unwrap_err().to_string();
    assert!(err.contains("failed authentication"), "{err}");
    // B's own row is intact.
    store.tokens(b.id, "spotify").await.unwrap();
    drop(store);

    // Another key: the error names the key id and the setting.
    let other = EncryptionKey::generate();
    let store = open(&config(&dir, &other, &[])).await;
    let err = store.tokens(b.id, "spotify").await.unwrap_err().to_string();
    assert!(
        err.contains(&format!("encrypted with key {}", key.id())),
        "{err}"
    );
    assert!(err.contains("SPOTIFYART_ENCRYPTION_OLD_KEYS"), "{err}");
    assert!(
        !err.contains(ACCESS) && !err.contains(&key.to_base64()),
        "{err}"
    );
}

#[tokio::test]
async fn keys_rotate_without_losing_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (EncryptionKey::generate(), EncryptionKey::generate());
    let store = open(&config(&dir, &old, &[])).await;
    let user = new_user(&*store).await;
    store
        .put_tokens(user.id, "spotify", &tokens())
        .await
        .unwrap();
    drop(store);

    // New current key, old one still readable.
    let db = spotifyart_store::open(&config(&dir, &new, std::slice::from_ref(&old)))
        .await
        .unwrap();
    assert!(matches!(db, Database::Sqlite(_)));
    assert_eq!(db.reencrypt_tokens().await.unwrap(), 1);
    assert_eq!(
        db.reencrypt_tokens().await.unwrap(),
        0,
        "nothing left on the old key"
    );
    drop(db);

    // The old key can now be dropped.
    let store = open(&config(&dir, &new, &[])).await;
    let back = store.tokens(user.id, "spotify").await.unwrap();
    assert_eq!(back.access_token.expose_secret(), ACCESS);
    assert_eq!(back.refresh_token.unwrap().expose_secret(), REFRESH);
}

#[tokio::test]
async fn postgres_rows_hold_no_plaintext() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    use spotifyart_core::store::TokenStore;
    let Some(url) = support::postgres_schema_url().await else {
        return;
    };
    let key = EncryptionKey::generate();
    let store =
        spotifyart_store::PostgresStore::open(&url, spotifyart_store::Keyring::new(&key, &[]), 2)
            .await
            .unwrap();
    let user = new_user(&store).await;
    store
        .put_tokens(user.id, "spotify", &tokens())
        .await
        .unwrap();
    let mut raw = AsyncPgConnection::establish(&url).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    let rows: Vec<Row> = diesel_async::RunQueryDsl::load(
        diesel::sql_query("SELECT t::text AS row FROM oauth_tokens t"),
        &mut raw,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    let hex_access: String = ACCESS.bytes().map(|b| format!("{b:02x}")).collect();
    for needle in [ACCESS, REFRESH, &hex_access] {
        assert!(!rows[0].row.contains(needle), "{needle} in {}", rows[0].row);
    }
    let back = store.tokens(user.id, "spotify").await.unwrap();
    assert_eq!(back.access_token.expose_secret(), ACCESS);
}
