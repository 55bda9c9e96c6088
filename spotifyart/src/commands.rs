//! What each subcommand does.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use spotifyart_core::engine::{JobSettings, spawn_workers, subject_one, subject_pair};
use spotifyart_core::mood::MoodModelEntry;
use spotifyart_core::{
    ArtParams, CancelToken, Engine, ImageGeneratorExt, InMemoryStore, ListeningProfile, read_export,
};
use spotifyart_diffusion::{LoadOptions, WeightSource};
use spotifyart_engine::EngineConfig;

use crate::cli::{Cli, Command, DiffusionArgs, PainterArgs, ServerArgs};
use crate::paint::{output_dir, paint_subject};

/// Runs one parsed command line to the end.
pub async fn run(cli: Cli) -> Result<()> {
    let database_url = cli.database_url.clone();
    let embedding_dir = cli.embedding_model_dir.clone();
    match cli.command {
        Command::Profile { input } => {
            let profile = load(&input, &database_url).await?;
            print_json(&profile)
        }
        Command::Mood {
            input,
            mood_model,
            time_range,
        } => {
            let engine = reading_engine(mood_model, embedding_dir)?;
            let mut profile = load(&input, &database_url).await?;
            if let Some(range) = time_range {
                profile = profile.only(range);
            }
            let mood = engine.mood_of(&profile)?;
            print_json(&mood)
        }
        Command::Match { a, b, mood_model } => {
            let engine = reading_engine(mood_model, embedding_dir)?;
            let (pa, pb) = (
                load(&a, &database_url).await?,
                load(&b, &database_url).await?,
            );
            let m = engine.match_profiles(&pa, &pb)?;
            /// The match with its reasons also as one paragraph.
            #[derive(serde::Serialize)]
            struct Printed<'a> {
                explanation: String,
                #[serde(flatten)]
                result: &'a spotifyart_core::MatchResult,
            }
            print_json(&Printed {
                explanation: m.explanation(),
                result: &m,
            })
        }
        Command::Art {
            a,
            b,
            out,
            model,
            diffusion,
            steps,
            seed,
            guidance,
            width,
            height,
            style,
            mood_model,
        } => {
            let store = open_database(database_url.clone()).await?.into_store();
            let config = EngineConfig {
                mood_model: mood_model.name.to_string(),
                embedding_dir,
                ..painting(model.as_deref(), &diffusion)
            };
            let engine = config.build(store)?;
            let params = ArtParams {
                model,
                seed,
                steps,
                guidance,
                width,
                height,
                negative_prompt: None,
                style,
            };
            let pa = load(&a, &database_url).await?;
            let pb = match &b {
                Some(b) => Some(load(b, &database_url).await?),
                None => None,
            };
            art(&engine, pa, pb, &out, &params).await
        }
        Command::Login {
            archive,
            covers,
            paste,
        } => {
            let store = open_database(database_url).await?.into_store();
            crate::login::login(store, archive, covers, paste).await
        }
        Command::Cover {
            playlist,
            upload,
            out,
            who,
            model,
            diffusion,
            steps,
            seed,
            style,
            mood_model,
        } => {
            let store = open_database(database_url).await?.into_store();
            let config = EngineConfig {
                mood_model: mood_model.name.to_string(),
                embedding_dir,
                ..painting(model.as_deref(), &diffusion)
            };
            let engine = config
                .assemble(store.clone())?
                .engine
                .playlists(crate::login::playlists(&store)?)
                .build();
            let params = ArtParams {
                model,
                seed,
                steps,
                guidance: None,
                width: None,
                height: None,
                negative_prompt: None,
                style,
            };
            let cover = crate::login::Cover {
                who: &who,
                playlist: &playlist,
                upload,
                out: &out,
            };
            crate::login::cover(store, &engine, &cover, &params).await
        }
        Command::Schedule { action, who } => {
            let store = open_database(database_url).await?.into_store();
            crate::login::schedule(store, &who, action).await
        }
        Command::Archive { from, to } => {
            let store = open_database(database_url).await?.into_store();
            crate::login::archive(store, &from, &to).await
        }
        Command::Serve { server, workers } => {
            let store = open_database(database_url).await?.into_store();
            serve(store, server, workers, embedding_dir).await
        }
        Command::Worker {
            painter,
            concurrency,
        } => {
            let store = open_database(database_url).await?.into_store();
            let mut engine = painter
                .config(embedding_dir)
                .assemble(store.clone())?
                .engine;
            match crate::login::playlists(&store) {
                Ok(p) => engine = engine.playlists(p),
                Err(e) => {
                    tracing::warn!(error = %e, "users' playlist schedules are off");
                    say!("warning: users' playlist schedules are off: {e}");
                }
            }
            let engine = Arc::new(engine.build());
            let shutdown = CancelToken::new();
            let workers = spawn_workers(engine, concurrency.max(1), shutdown.clone());
            shutdown_signal().await;
            say!("stopping: finishing the jobs being painted");
            shutdown.cancel();
            for w in workers {
                let _ = w.await;
            }
            Ok(())
        }
        Command::Migrate { reencrypt } => {
            let db = open_database(database_url.clone()).await?;
            println!("database is up to date");
            if reencrypt {
                let n = db.reencrypt_tokens().await?;
                println!("re-encrypted {n} token row(s) with the current key");
            }
            Ok(())
        }
    }
}

/// The engine `mood` and `match` read with: nothing is painted or kept.
fn reading_engine(mood_model: MoodModelEntry, embedding_dir: Option<PathBuf>) -> Result<Engine> {
    let config = EngineConfig {
        mood_model: mood_model.name.to_string(),
        embedding_dir,
        ..EngineConfig::default()
    };
    Ok(config.build(Arc::new(InMemoryStore::new()))?)
}

/// The configuration `--model` and the diffusion flags describe.
fn painting(model: Option<&str>, args: &DiffusionArgs) -> EngineConfig {
    let defaults = EngineConfig::default();
    EngineConfig {
        model: model.map_or(defaults.model, str::to_string),
        diffusion: LoadOptions {
            weights: WeightSource {
                model_dir: args.model_dir.clone(),
                download: !args.offline,
                progress: std::io::stderr().is_terminal(),
                cache_dir: None,
                endpoint: None,
            },
            device: args.device,
            decoder: args.decoder,
            scheduler: args.scheduler,
            precision: args.precision,
        },
        ..defaults
    }
}

impl PainterArgs {
    /// What `serve` and `worker` paint with.
    fn config(&self, embedding_dir: Option<PathBuf>) -> EngineConfig {
        EngineConfig {
            mood_model: self.mood_model.name.to_string(),
            embedding_dir,
            jobs: JobSettings {
                lease: Duration::from_secs(self.job_lease),
                ..JobSettings::default()
            },
            ..painting(Some(&self.model), &self.diffusion)
        }
    }
}

async fn serve(
    store: Arc<dyn spotifyart_core::Store>,
    args: ServerArgs,
    workers: usize,
    embedding_dir: Option<PathBuf>,
) -> Result<()> {
    use spotifyart_core::MusicSource;
    use spotifyart_core::source::{ByProvider, CachedSource};
    use spotifyart_spotify::{SpotifyAuth, SpotifyConfig, SpotifyPlaylists, SpotifySource};

    let mut config =
        spotifyart_http::ServerConfig::new(args.public_url.clone(), &args.painter.model);
    config.trust_proxy = args.trust_proxy;
    config.rate_limits = !args.no_rate_limits;
    config.connections = spotifyart_http::ConnectionLimits {
        header_timeout: Duration::from_secs(args.header_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
    };
    if let Some(url) = &args.redis_url {
        let limiter = spotifyart_redis::RedisLimiter::new(url, &args.redis_prefix)?;
        if let Err(e) = limiter.ping().await {
            // Served anyway: limits fall back to this process's counts
            // until Redis answers.
            tracing::warn!(error = %e, "Redis does not answer; rate limits count per process until it does");
            say!("warning: {e}; rate limits count per process until Redis answers");
        }
        config.shared_limits = Some(Arc::new(limiter));
    }
    for m in &args.painter.extra_models {
        if !config.models.contains(m) {
            config.models.push(m.clone());
        }
    }
    let default_redirect = config.url("/auth/spotify/callback");
    let auth = match SpotifyConfig::from_env(Some(&default_redirect)) {
        Ok(c) => Some(SpotifyAuth::new(c)?),
        Err(e) => {
            tracing::warn!(error = %e, "Spotify sign-in is off");
            say!("warning: Spotify sign-in is off: {e}");
            None
        }
    };
    let mut builder = args
        .painter
        .config(embedding_dir)
        .assemble(store.clone())?
        .engine;
    // Each user is read where their account is; profiles at most every 10
    // minutes per user.
    let cached = |s: Arc<dyn MusicSource>| -> Arc<dyn MusicSource> {
        Arc::new(CachedSource::new(s, Duration::from_secs(600)))
    };
    let mut sources = ByProvider::new(store.clone());
    if let Some(auth) = &auth {
        builder = builder.playlists(Arc::new(SpotifyPlaylists::new(auth.clone(), store.clone())));
        let source = SpotifySource::new(auth.clone(), store.clone());
        sources = sources.with(spotifyart_spotify::PROVIDER, cached(Arc::new(source)));
    }
    let scrobbles = crate::scrobbles::configured();
    for (provider, source) in crate::scrobbles::sources(&store, &scrobbles) {
        sources = sources.with(provider, cached(source));
    }
    builder = builder.source(Arc::new(sources));
    let engine = Arc::new(builder.build());
    for m in &config.models {
        engine
            .generator()
            .model_info(Some(m))
            .with_context(|| format!("model {m:?} cannot be served"))?;
    }
    let shutdown = CancelToken::new();
    let painters = spawn_workers(engine.clone(), workers, shutdown.clone());
    let state = spotifyart_http::AppState::new(engine, auth, config).with_scrobbles(scrobbles);
    say!(
        "serving on http://{} (public URL {}), {workers} painting worker(s)",
        args.bind,
        args.public_url
    );
    spotifyart_http::serve(state, args.bind, shutdown_signal())
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    shutdown.cancel();
    for p in painters {
        let _ = p.await;
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Opens (and migrates) the database: `--database-url`, else
/// `SPOTIFYART_DATABASE_URL`, else `sqlite://spotifyart.db`.
async fn open_database(url: Option<String>) -> Result<spotifyart_store::Database> {
    let mut config = spotifyart_store::StoreConfig::from_env()?;
    if let Some(url) = url {
        config.url = url;
    }
    let shown = spotifyart_store::redact(&config.url);
    spotifyart_store::open(&config)
        .await
        .with_context(|| format!("cannot open the database {shown}"))
}

/// An export, a profile written by `spotifyart profile` (a `.json` file
/// whose first bytes are an object with a SpotifyArt schema tag), or
/// `spotify:WHO`, a signed-in user read from the Web API.
async fn load(path: &Path, database_url: &Option<String>) -> Result<ListeningProfile> {
    if let Some(found) = crate::scrobbles::profile(&path.to_string_lossy()).await {
        return found;
    }
    if let Some(who) = path.to_str().and_then(|p| p.strip_prefix("spotify:")) {
        let store = open_database(database_url.clone()).await?.into_store();
        return crate::login::profile(store, who).await;
    }
    if is_profile_json(path) {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return ListeningProfile::from_json(&text)
            .with_context(|| format!("{} is not a usable profile", path.display()));
    }
    let profile = read_export(path)
        .with_context(|| format!("cannot read the Spotify export {}", path.display()))?;
    if profile.is_empty() {
        say!(
            "warning: {} holds no music listening ({})",
            path.display(),
            profile.source.notes.join("; ")
        );
    }
    Ok(profile)
}

fn is_profile_json(path: &Path) -> bool {
    if !path.is_file()
        || !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return false;
    }
    let mut head = Vec::new();
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    if f.take(4096).read_to_end(&mut head).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&head);
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
        && text.contains("spotifyart.profile/")
}

/// Pretty JSON in the types' field order (the documented order).
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

async fn art(
    engine: &Engine,
    pa: ListeningProfile,
    pb: Option<ListeningProfile>,
    out: &Path,
    params: &ArtParams,
) -> Result<()> {
    output_dir(out)?;
    let subject = match pb {
        None => {
            let mood = engine.mood_of(&pa)?;
            println!(
                "mood: {} (valence {:+.2}, arousal {:+.2}, confidence {:.2})",
                mood.label, mood.valence, mood.arousal, mood.confidence
            );
            subject_one(None, mood)
        }
        Some(pb) => {
            let m = engine.match_profiles(&pa, &pb)?;
            println!("match: {}", m.explanation());
            subject_pair(&m, None, vec![])
        }
    };
    let (outcome, kind) = paint_subject(engine, subject, params).await?;
    let artwork = outcome.artwork();
    let saving = Instant::now();
    artwork
        .save(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    tracing::info!(
        phase = "write",
        seconds = saving.elapsed().as_secs_f32(),
        "phase done"
    );
    let meta = &artwork.meta;
    println!(
        "wrote {} ({}x{}, model {} ({kind}), seed {}, {} steps)",
        out.display(),
        meta.width,
        meta.height,
        meta.request.model,
        meta.request.seed,
        meta.request.steps
    );
    Ok(())
}
