//! The conformance suite and SQLite-specific behaviour.

mod support;

use std::sync::Arc;

use spotifyart_core::Store;
use spotifyart_store::{SqliteStore, StoreConfig};

// Each test keeps its temporary directory alive by leaking it: the files
// are tiny and removed with the system's temp folder.
spotifyart_core::store_conformance_tests!(async {
    let (store, dir) = support::sqlite().await;
    std::mem::forget(dir);
    store
});

mod in_memory {
    use super::*;
    spotifyart_core::store_conformance_tests!(async {
        Arc::new(SqliteStore::open_in_memory(support::keys()).await.unwrap()) as Arc<dyn Store>
    });
}

#[tokio::test]
async fn data_survives_reopening_and_the_key_file_is_made_once() {
    use spotifyart_core::testing::store::{new_user, t};
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        url: format!(
            "sqlite://{}",
            dir.path().join("data/spotifyart.db").display()
        ),
        ..StoreConfig::default()
    };
    let user = {
        let store = spotifyart_store::open(&config).await.unwrap().into_store();
        let user = new_user(&*store).await;
        store
            .put_tokens(
                user.id,
                "spotify",
                &spotifyart_core::store::OAuthTokens {
                    access_token: "access".to_string().into(),
                    refresh_token: None,
                    expires_at: t(60),
                    scopes: vec![],
                },
            )
            .await
            .unwrap();
        user
    };
    let key_file = dir.path().join("data/spotifyart.key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let store = spotifyart_store::open(&config).await.unwrap().into_store();
    assert_eq!(store.user(user.id).await.unwrap(), user);
    let tokens = store.tokens(user.id, "spotify").await.unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&tokens.access_token),
        "access"
    );
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        key,
        "key made once"
    );
}

#[tokio::test]
async fn a_bad_location_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let config = StoreConfig {
        url: format!("sqlite://{}/db.sqlite", file.display()),
        ..StoreConfig::default()
    };
    let err = spotifyart_store::open(&config)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not-a-dir"), "{err}");
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![7u8; 8192]).unwrap();
    let config = StoreConfig {
        url: format!("sqlite://{}", garbage.display()),
        ..StoreConfig::default()
    };
    let err = spotifyart_store::open(&config)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a database") || err.contains("unreachable"),
        "{err}"
    );
}
