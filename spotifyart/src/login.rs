//! The CLI's Spotify commands: `login` (PKCE through a loopback redirect),
//! `archive`, and `spotify:` inputs that read a signed-in user's listening
//! from the Web API.

use std::collections::HashMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use spotifyart_core::playlists::PlaylistService;
use spotifyart_core::store::{Schedule, ScheduledTask};
use spotifyart_core::{
    ArtParams, Engine, ListeningProfile, MusicSource, ScheduleId, Store, UserId,
};
use spotifyart_spotify::archive::{ArchiveTarget, archive_for_all};
use spotifyart_spotify::{
    ARCHIVE_SCOPES, COVER_SCOPES, LISTENING_SCOPES, PROVIDER, SignedIn, SpotifyAuth, SpotifyConfig,
    SpotifyPlaylists, SpotifySource, sign_in, signed_in_user, spotify_id,
};

use crate::cli::ScheduleAction;
use warp::Filter;

/// Where Spotify sends the browser back after `spotifyart login`, unless
/// `SPOTIFY_REDIRECT_URI` says otherwise. Register it in the app's
/// settings; Spotify accepts plain http only for loopback IP addresses.
pub const CLI_REDIRECT: &str = "http://127.0.0.1:8888/callback";

/// How long `login` waits for the browser.
const LOGIN_WAIT: Duration = Duration::from_secs(300);

fn auth() -> Result<SpotifyAuth> {
    let config = SpotifyConfig::from_env(Some(CLI_REDIRECT))?;
    Ok(SpotifyAuth::new(config)?)
}

/// Signs a Spotify user in and stores their tokens (encrypted) and account.
pub async fn login(store: Arc<dyn Store>, archive: bool, covers: bool, paste: bool) -> Result<()> {
    let auth = auth()?;
    let mut scopes: Vec<&str> = LISTENING_SCOPES.to_vec();
    if archive {
        scopes.extend_from_slice(ARCHIVE_SCOPES);
    }
    if covers {
        scopes.extend(
            COVER_SCOPES
                .iter()
                .filter(|s| !scopes.contains(s))
                .collect::<Vec<_>>(),
        );
    }
    let request = auth.authorize(&scopes);
    println!(
        "Open this address in a browser and allow SpotifyArt:\n\n  {}\n",
        request.url
    );
    let redirected = if paste {
        println!(
            "Then paste the address the browser was sent to (it starts with {}):",
            auth.config().redirect_uri
        );
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line
    } else {
        wait_for_callback(&auth.config().redirect_uri).await?
    };
    let code = auth.code_from_callback(&redirected, &request.state)?;
    let SignedIn { me, user, .. } = sign_in(
        &auth,
        &store,
        &code,
        &request.pkce_verifier,
        chrono::Utc::now(),
    )
    .await?;
    let resumed = store.pause_schedules(user.id, None).await?;
    if resumed > 0 {
        println!("resumed {resumed} paused schedule(s)");
    }
    println!(
        "signed in as {} (Spotify account {}); use `spotify:{}` as an input",
        me.display_name.as_deref().unwrap_or(&me.id),
        me.stable_id(),
        me.stable_id()
    );
    Ok(())
}

/// Serves the redirect URI on loopback until the browser arrives with a
/// `code` or an `error`; returns the URL it arrived at.
async fn wait_for_callback(redirect: &url::Url) -> Result<String> {
    let host = redirect.host_str().unwrap_or_default();
    if redirect.scheme() != "http" || !matches!(host, "127.0.0.1" | "[::1]" | "localhost") {
        bail!(
            "SPOTIFY_REDIRECT_URI {redirect} is not a loopback http address this command can \
             listen on; use `spotifyart login --paste` and paste the address the browser reaches"
        );
    }
    let port = redirect.port_or_known_default().unwrap_or(80);
    let addr: SocketAddr = if host == "[::1]" {
        ([0u16, 0, 0, 0, 0, 0, 0, 1], port).into()
    } else {
        ([127, 0, 0, 1], port).into()
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the sign-in callback"))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let tx = Arc::new(Mutex::new(Some(tx)));
    let path = redirect.path().to_string();
    let base = redirect.clone();
    let route = warp::get()
        .and(warp::path::full())
        .and(warp::query::<HashMap<String, String>>())
        .map(
            move |full: warp::path::FullPath, q: HashMap<String, String>| {
                if full.as_str() != path || !(q.contains_key("code") || q.contains_key("error")) {
                    return warp::reply::with_status(
                        warp::reply::html("Not the sign-in callback.".to_string()),
                        warp::http::StatusCode::NOT_FOUND,
                    );
                }
                let mut url = base.clone();
                url.query_pairs_mut().clear().extend_pairs(q.iter());
                if let Some(tx) = tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    let _ = tx.send(url.to_string());
                }
                warp::reply::with_status(
                warp::reply::html(
                    "<!doctype html><title>SpotifyArt</title><p>Signed in. You can close this tab \
                     and go back to the terminal.</p>"
                        .to_string(),
                ),
                warp::http::StatusCode::OK,
            )
            },
        );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        warp::serve(route)
            .incoming(listener)
            .graceful(async {
                let _ = stop_rx.await;
            })
            .run(),
    );
    println!(
        "Waiting for the browser on {addr} (up to {} minutes)...",
        LOGIN_WAIT.as_secs() / 60
    );
    let result = tokio::time::timeout(LOGIN_WAIT, rx).await;
    let _ = stop_tx.send(());
    let _ = server.await;
    match result {
        Ok(Ok(url)) => Ok(url),
        _ => bail!(
            "no sign-in arrived within {} minutes; run `spotifyart login` again",
            LOGIN_WAIT.as_secs() / 60
        ),
    }
}

/// The user a `spotify:WHO` input means: `spotify:me` is the only signed-in
/// Spotify user; otherwise WHO is a Spotify account id.
async fn resolve(store: &Arc<dyn Store>, who: &str) -> Result<UserId> {
    signed_in_user(store, Some(who)).await.map_err(|e| match e {
        spotifyart_core::Error::NotFound { .. } if who == "me" => anyhow::anyhow!(
            "no one is signed in to Spotify in this database; run `spotifyart login` first"
        ),
        spotifyart_core::Error::NotFound { .. } => anyhow::anyhow!(
            "no signed-in Spotify account {who:?}; run `spotifyart login` as that user"
        ),
        e @ spotifyart_core::Error::InvalidInput { .. } => {
            anyhow::anyhow!("{e} as spotify:ACCOUNT")
        }
        other => other.into(),
    })
}

/// The listening profile of a signed-in user, from the Web API.
pub async fn profile(store: Arc<dyn Store>, who: &str) -> Result<ListeningProfile> {
    let user = resolve(&store, who).await?;
    let source = SpotifySource::new(auth()?, store);
    source
        .profile(user)
        .await
        .with_context(|| format!("cannot read spotify:{who} from the Spotify Web API"))
}

/// What `spotifyart cover` was asked for.
pub struct Cover<'a> {
    /// `me` or a Spotify account id.
    pub who: &'a str,
    /// The playlist's id, URI or link.
    pub playlist: &'a str,
    /// Set the painting as the playlist's cover.
    pub upload: bool,
    /// Where the JPEG goes.
    pub out: &'a Path,
}

/// Paints a playlist's cover from its mood, writes it as a JPEG that fits
/// Spotify's limit and, when asked, sets it as the cover.
pub async fn cover(
    store: Arc<dyn Store>,
    engine: &Engine,
    c: &Cover<'_>,
    params: &ArtParams,
) -> Result<()> {
    crate::paint::output_dir(c.out)?;
    let user = resolve(&store, c.who).await?;
    let (mood, prepared) = engine
        .prepare_cover(user, c.playlist, params)
        .await
        .with_context(|| format!("cannot read the playlist {} from Spotify", c.playlist))?;
    println!(
        "playlist mood: {} (valence {:+.2}, arousal {:+.2}, confidence {:.2})",
        mood.label, mood.valence, mood.arousal, mood.confidence
    );
    let (outcome, _) = crate::paint::paint_prepared(engine, &prepared).await?;
    let jpeg = engine.cover_of(&outcome.artwork().png)?;
    std::fs::write(c.out, &jpeg.bytes)
        .with_context(|| format!("cannot write {}", c.out.display()))?;
    println!(
        "wrote {} ({side}x{side} JPEG, quality {}, {} KB as base64)",
        c.out.display(),
        jpeg.quality,
        jpeg.base64_len().div_ceil(1024),
        side = jpeg.side,
    );
    if c.upload {
        engine
            .upload_cover(user, c.playlist, &jpeg)
            .await
            .map_err(|e| match e {
                spotifyart_core::Error::Forbidden { .. } => anyhow::anyhow!(
                    "{e}; to set covers, sign in with `spotifyart login --covers` \
                     (and the playlist must be yours)"
                ),
                other => other.into(),
            })?;
        println!("set as the cover of {}", c.playlist);
    }
    Ok(())
}

/// Users' playlists on Spotify, for covers and schedules.
pub fn playlists(store: &Arc<dyn Store>) -> Result<Arc<dyn PlaylistService>> {
    Ok(Arc::new(SpotifyPlaylists::new(auth()?, store.clone())))
}

/// `spotifyart schedule …` for the signed-in user `who`.
pub async fn schedule(store: Arc<dyn Store>, who: &str, action: ScheduleAction) -> Result<()> {
    let user = resolve(&store, who).await?;
    let engine = Engine::builder()
        .store(store.clone())
        .playlists(playlists(&store)?)
        .build();
    let consent = |e: spotifyart_core::Error| match e {
        spotifyart_core::Error::Forbidden { .. } => {
            anyhow::anyhow!("{e}; allow it with `spotifyart login --covers`")
        }
        other => other.into(),
    };
    let task = match action {
        ScheduleAction::Cover { playlist } => ScheduledTask::Cover {
            playlist: spotify_id(&playlist, "playlist")?,
        },
        ScheduleAction::Archive { from, to } => ScheduledTask::Archive {
            from: spotify_id(&from, "playlist")?,
            to,
        },
        ScheduleAction::List => {
            let all = store.schedules_for(user).await?;
            if all.is_empty() {
                println!("no schedules; add one with `spotifyart schedule cover PLAYLIST`");
            }
            for s in all {
                println!("{}", describe(&s));
            }
            return Ok(());
        }
        ScheduleAction::Remove { id } => {
            let id: ScheduleId = id.parse()?;
            engine.remove_schedule(user, id).await?;
            println!("removed schedule {id}");
            return Ok(());
        }
    };
    let added = engine.add_schedule(user, task).await.map_err(consent)?;
    println!("{}", describe(&added));
    println!("runs weekly in `spotifyart worker` (or `serve --workers`), first at its next poll");
    Ok(())
}

/// One line per schedule: what, when next, how the last run went.
fn describe(s: &Schedule) -> String {
    let what = match &s.task {
        ScheduledTask::Cover { playlist } => format!("cover of {playlist}"),
        ScheduledTask::Archive { from, to } => format!("archive {from} into {to}"),
    };
    let state = match (&s.paused, &s.last_error, &s.last_result) {
        (Some(why), _, _) => format!("paused: {why}"),
        (None, Some(e), _) => format!("last run failed: {e}"),
        (None, None, Some(r)) => format!("last run: {r}"),
        _ => "not run yet".to_string(),
    };
    format!(
        "{}  every {} days  {what}  next {}  {state}",
        s.id,
        s.period.as_secs() / 86_400,
        s.next_run_at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// Archives a playlist for every signed-in user; fails if any user failed.
pub async fn archive(store: Arc<dyn Store>, from: &str, to: &str) -> Result<()> {
    let target = ArchiveTarget::parse(to);
    let results = archive_for_all(&auth()?, store.clone(), from, &target).await?;
    if results.is_empty() {
        bail!(
            "no one is signed in to Spotify in this database; run `spotifyart login --archive` first"
        );
    }
    let mut failed = 0;
    for (user, result) in results {
        let name = store
            .accounts(user)
            .await?
            .into_iter()
            .find(|a| a.provider == PROVIDER)
            .map(|a| a.account_id)
            .unwrap_or_else(|| user.to_string());
        match result {
            Ok(r) => println!(
                "{name}: added {} track(s) to {}{} ({} already archived, {} skipped)",
                r.added,
                r.playlist,
                if r.created { " (created)" } else { "" },
                r.already_archived,
                r.skipped
            ),
            Err(e) => {
                failed += 1;
                println!("{name}: failed: {e}");
            }
        }
    }
    if failed > 0 {
        bail!(
            "the archive failed for {failed} user(s); run it again to finish (it never adds a track twice)"
        );
    }
    Ok(())
}
