//! Prepares a database for `benches/http/run`: a signed-in user with a
//! stored mood and a painted 512² artwork, so the load test measures the
//! service's own work (session check, store read, response) and no call
//! to Spotify or a model. Prints `SESSION_TOKEN ARTWORK_ID` and writes the
//! artwork's PNG to PNG_PATH for nginx to serve the same bytes.
//!
//!   http_fixture sqlite://PATH PNG_PATH

use std::sync::Arc;

use spotifyart_core::engine::subject_one;
use spotifyart_core::store::{MoodSnapshot, NewAccount, NewSession, OpaqueToken};
use spotifyart_core::{
    ArtParams, Engine, GenerationContext, ListeningProfile, MoodModel, PalettePainter,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, png_path] = args.as_slice() else {
        return Err("usage: http_fixture sqlite://PATH PNG_PATH".into());
    };
    let mut config = spotifyart_store::StoreConfig::from_env()?;
    config.url = url.clone();
    let store = spotifyart_store::open(&config).await?.into_store();
    let now = chrono::Utc::now();
    let user = store
        .upsert_account(
            &NewAccount {
                provider: "spotify".into(),
                account_id: "bench-user".into(),
                display_name: Some("Bench".into()),
                scopes: vec![],
            },
            now,
        )
        .await?;
    let token = OpaqueToken::generate();
    store
        .create_session(&NewSession {
            hash: token.hash(),
            user: user.id,
            created_at: now,
            idle_expires_at: now + chrono::Duration::days(3),
            absolute_expires_at: now + chrono::Duration::days(30),
        })
        .await?;
    let profile =
        ListeningProfile::from_json(include_str!("../../../examples/profiles/sunny.json"))?;
    let mood = spotifyart_core::mood::AutoModel::default().mood(&profile)?;
    store
        .put_mood(&MoodSnapshot {
            user: user.id,
            time_range: None,
            mood: mood.clone(),
            computed_at: now,
        })
        .await?;
    let engine = Engine::builder()
        .store(store.clone())
        .generator(Arc::new(PalettePainter))
        .build();
    let params = ArtParams {
        model: Some("palette".into()),
        ..ArtParams::default()
    };
    let art = engine.prepare(subject_one(Some(user.id), mood), &params)?;
    let meta = engine
        .paint(&art, &GenerationContext::new())
        .await?
        .meta()
        .clone();
    let artwork = store.artwork(meta.id).await?;
    std::fs::write(png_path, &artwork.png)?;
    println!("{} {}", token.expose(), meta.id);
    Ok(())
}
