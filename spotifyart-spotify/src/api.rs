//! The Web API calls SpotifyArt makes, for one user. Tokens come from a
//! [`TokenCache`] (the store, or memory in a notebook); an access token
//! about to expire is refreshed before the call, and a 401 triggers one
//! refresh and one retry. Paging follows `next` only on Spotify's own API
//! host, so a forged `next` cannot send the user's token elsewhere.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{Duration as ChronoDuration, Utc};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use spotifyart_core::store::OAuthTokens;
use spotifyart_core::{Error, Result, Store, TimeRange, UserId};
use tokio::sync::Mutex;
use url::Url;

use crate::auth::SpotifyAuth;
use crate::model::{
    Artist, ArtistsBatch, AudioFeatures, AudioFeaturesBatch, CurrentUser, CursorPage, Page,
    PlayHistory, Playlist, PlaylistEntry, Snapshot, Track,
};
use crate::transport::{Reply, SERVICE, api_error, parse};

/// Refresh this long before the access token expires.
const REFRESH_MARGIN_SECS: i64 = 60;
/// How long one process may hold a user's refresh lease: longer than a
/// refresh with its retries takes, short enough that a crashed holder does
/// not block the user for long.
const REFRESH_LEASE: Duration = Duration::from_secs(30);
/// How long to wait for another process's refresh before giving up.
const REFRESH_WAIT: Duration = Duration::from_secs(35);
/// How often to look whether another process's refresh finished.
const REFRESH_POLL: Duration = Duration::from_millis(50);
/// Spotify's page size limit for top items, recent plays and playlists.
pub const PAGE_LIMIT: usize = 50;

/// Where one user's tokens live between calls.
#[async_trait]
pub trait TokenCache: Send + Sync + fmt::Debug {
    /// The current tokens; `NotFound` when the user never signed in.
    async fn load(&self) -> Result<OAuthTokens>;
    /// Keeps refreshed tokens.
    async fn save(&self, tokens: &OAuthTokens) -> Result<()>;
    /// Drops tokens Spotify revoked.
    async fn forget(&self) -> Result<()>;
    /// Takes the right to refresh for `lease_for` (see
    /// [`spotifyart_core::store::TokenStore::lease_token_refresh`]); caches
    /// used by one process only need not, and always grant it.
    async fn lease_refresh(&self, holder: &str, lease_for: std::time::Duration) -> Result<bool> {
        let _ = (holder, lease_for);
        Ok(true)
    }
    /// Gives the refresh lease back.
    async fn release_refresh(&self, holder: &str) -> Result<()> {
        let _ = holder;
        Ok(())
    }
}

/// Tokens of one user in a [`Store`] (encrypted at rest by persistent
/// backends).
#[derive(Debug)]
pub struct StoredTokens {
    store: Arc<dyn Store>,
    user: UserId,
}

impl StoredTokens {
    /// `user`'s Spotify tokens in `store`.
    pub fn new(store: Arc<dyn Store>, user: UserId) -> Self {
        Self { store, user }
    }
}

#[async_trait]
impl TokenCache for StoredTokens {
    async fn load(&self) -> Result<OAuthTokens> {
        match self.store.tokens(self.user, SERVICE).await {
            // A known user without tokens: deleted when Spotify refused them
            // (or never granted); they must sign in again. The store's
            // message is not passed on (no ids in answers).
            Err(Error::NotFound { .. }) => match self.store.user(self.user).await {
                Ok(_) => Err(Error::Revoked {
                    provider: SERVICE.into(),
                }),
                Err(Error::NotFound { .. }) => Err(Error::not_found("user")),
                Err(e) => Err(e),
            },
            other => other,
        }
    }
    async fn save(&self, tokens: &OAuthTokens) -> Result<()> {
        self.store.put_tokens(self.user, SERVICE, tokens).await
    }
    async fn forget(&self) -> Result<()> {
        self.store.delete_tokens(self.user, SERVICE).await
    }
    async fn lease_refresh(&self, holder: &str, lease_for: std::time::Duration) -> Result<bool> {
        match self
            .store
            .lease_token_refresh(self.user, SERVICE, holder, Utc::now(), lease_for)
            .await
        {
            Err(Error::NotFound { .. }) => Err(Error::Revoked {
                provider: SERVICE.into(),
            }),
            other => other,
        }
    }
    async fn release_refresh(&self, holder: &str) -> Result<()> {
        self.store
            .release_token_refresh(self.user, SERVICE, holder)
            .await
    }
}

/// Tokens held in memory (a notebook session, a one-off CLI run).
#[derive(Debug)]
pub struct MemoryTokens(std::sync::Mutex<Option<OAuthTokens>>);

impl MemoryTokens {
    /// Holds `tokens`.
    pub fn new(tokens: OAuthTokens) -> Self {
        Self(std::sync::Mutex::new(Some(tokens)))
    }
    /// The tokens now held (after any refresh).
    pub fn current(&self) -> Option<OAuthTokens> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl TokenCache for MemoryTokens {
    async fn load(&self) -> Result<OAuthTokens> {
        self.current()
            .ok_or_else(|| Error::unauthorized("not signed in to Spotify"))
    }
    async fn save(&self, tokens: &OAuthTokens) -> Result<()> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(tokens.clone());
        Ok(())
    }
    async fn forget(&self) -> Result<()> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }
}

/// Whether `tokens` need a refresh: the access token expires within the
/// margin, or it is the one Spotify just answered 401 for.
fn is_stale(tokens: &OAuthTokens, rejected: Option<&SecretString>) -> bool {
    match rejected {
        Some(r) => r.expose_secret() == tokens.access_token.expose_secret(),
        None => tokens.expires_at - ChronoDuration::seconds(REFRESH_MARGIN_SECS) <= Utc::now(),
    }
}

fn refresh_secret(tokens: &OAuthTokens) -> Option<&str> {
    tokens.refresh_token.as_ref().map(|r| r.expose_secret())
}

/// The Web API as one user.
#[derive(Clone, Debug)]
pub struct UserApi {
    auth: SpotifyAuth,
    tokens: Arc<dyn TokenCache>,
    /// Serialises refreshes of this user's tokens in this process.
    refresh_lock: Arc<Mutex<()>>,
}

impl UserApi {
    /// Calls as the user whose tokens `tokens` holds.
    pub fn new(auth: SpotifyAuth, tokens: Arc<dyn TokenCache>) -> Self {
        Self::with_lock(auth, tokens, Arc::default())
    }

    /// Like [`UserApi::new`], sharing a refresh lock with other handles on
    /// the same user.
    pub fn with_lock(
        auth: SpotifyAuth,
        tokens: Arc<dyn TokenCache>,
        refresh_lock: Arc<Mutex<()>>,
    ) -> Self {
        Self {
            auth,
            tokens,
            refresh_lock,
        }
    }

    /// A usable access token: the stored one, or a refreshed one when it
    /// expires within a minute or when `rejected` (the token a 401 came
    /// back for) is still the stored one.
    ///
    /// Refreshes are serialised per user across every process sharing the
    /// store (a lease in the store; the mutex only spares this process the
    /// polling): Spotify may rotate the refresh token, so a second refresh
    /// with the old one fails. A process that finds the lease held waits
    /// for the stored tokens to change and uses the new ones.
    async fn access_token(&self, rejected: Option<&SecretString>) -> Result<SecretString> {
        let _guard = self.refresh_lock.lock().await;
        let holder = uuid::Uuid::new_v4().to_string();
        let give_up = tokio::time::Instant::now() + REFRESH_WAIT;
        loop {
            let tokens = self.tokens.load().await?;
            if !is_stale(&tokens, rejected) {
                return Ok(tokens.access_token);
            }
            if self.tokens.lease_refresh(&holder, REFRESH_LEASE).await? {
                let refreshed = self.refresh_leased(rejected).await;
                if let Err(e) = self.tokens.release_refresh(&holder).await {
                    // It runs out by itself; the next refresh waits for it.
                    tracing::warn!(error = %e, "could not release the token refresh lease");
                }
                return refreshed;
            }
            if tokio::time::Instant::now() >= give_up {
                return Err(Error::Upstream {
                    service: SERVICE.into(),
                    status: None,
                    message: "another server has been refreshing this user's Spotify access \
                              for too long; try again shortly"
                        .into(),
                });
            }
            tokio::time::sleep(REFRESH_POLL).await;
        }
    }

    /// Refreshes while holding the lease.
    async fn refresh_leased(&self, rejected: Option<&SecretString>) -> Result<SecretString> {
        // The lease's last holder may have refreshed just before we took it.
        let tokens = self.tokens.load().await?;
        if !is_stale(&tokens, rejected) {
            return Ok(tokens.access_token);
        }
        match self.auth.refresh(&tokens).await {
            Ok(fresh) => {
                self.tokens.save(&fresh).await?;
                Ok(fresh.access_token)
            }
            Err(e @ Error::Revoked { .. }) => {
                // Only tokens that are still the refused ones are dropped:
                // a process whose lease ran out may have stored new ones.
                let now = self.tokens.load().await?;
                if refresh_secret(&now) != refresh_secret(&tokens) {
                    tracing::info!("refresh token replaced meanwhile; using the new tokens");
                    return Ok(now.access_token);
                }
                self.tokens.forget().await?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn call(
        &self,
        what: &str,
        method: Method,
        url: &Url,
        body: Option<&Body>,
    ) -> Result<Reply> {
        let token = self.access_token(None).await?;
        let reply = self.send_once(what, &method, url, body, &token).await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        tracing::info!(
            call = what,
            "spotify answered 401; refreshing the access token once"
        );
        let token = self.access_token(Some(&token)).await?;
        self.send_once(what, &method, url, body, &token).await
    }

    async fn send_once(
        &self,
        what: &str,
        method: &Method,
        url: &Url,
        body: Option<&Body>,
        token: &SecretString,
    ) -> Result<Reply> {
        // GET and PUT may be retried after a server error; POST may not.
        let idempotent = *method == Method::GET || *method == Method::PUT;
        // The bearer header is marked sensitive so no debug output shows it.
        let transport = self.auth.transport();
        let client = transport.client().clone();
        let (method, url) = (method.clone(), url.clone());
        let bearer = format!("Bearer {}", token.expose_secret());
        let body = body.cloned();
        let build = move || {
            let mut auth = reqwest::header::HeaderValue::from_str(&bearer)
                .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
            auth.set_sensitive(true);
            let req = client
                .request(method.clone(), url.clone())
                .header(reqwest::header::AUTHORIZATION, auth);
            match &body {
                Some(b) => req
                    .header(reqwest::header::CONTENT_TYPE, b.content_type)
                    .body(b.bytes.clone()),
                None => req,
            }
        };
        transport.send(what, idempotent, &build).await
    }

    async fn get<T: DeserializeOwned>(&self, what: &str, url: &Url) -> Result<T> {
        let reply = self.call(what, Method::GET, url, None).await?;
        if !reply.status.is_success() {
            return Err(api_error(&reply, what));
        }
        parse(&reply, what)
    }

    async fn send_json<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        what: &str,
        url: &Url,
        body: &B,
    ) -> Result<T> {
        let body = Body::json(body, what)?;
        let reply = self.call(what, Method::POST, url, Some(&body)).await?;
        if !reply.status.is_success() {
            return Err(api_error(&reply, what));
        }
        parse(&reply, what)
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let mut url = self.auth.config().api(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// `next` links must stay on the configured API host and path.
    fn checked_next(&self, next: &str, what: &str) -> Result<Url> {
        let base = &self.auth.config().api_url;
        let url = Url::parse(next).map_err(|_| bad_next(what))?;
        if url.origin() != base.origin()
            || !url.path().starts_with(base.path().trim_end_matches('/'))
        {
            return Err(bad_next(what));
        }
        Ok(url)
    }

    /// Follows `next` from `first` until `max` items or the last page.
    /// `P` is an offset page or a cursor page; both carry `items` and
    /// `next`.
    async fn pages<T, P>(&self, what: &str, first: Url, max: usize) -> Result<Vec<T>>
    where
        P: Paged<T> + DeserializeOwned,
    {
        let mut items = Vec::new();
        let mut url = first;
        loop {
            let page: P = self.get(what, &url).await?;
            let (page_items, next) = page.into_parts();
            let empty = page_items.is_empty();
            items.extend(page_items);
            match next {
                Some(next) if items.len() < max && !empty => {
                    url = self.checked_next(&next, what)?
                }
                _ => break,
            }
        }
        items.truncate(max);
        Ok(items)
    }

    /// `GET /v1/me`.
    pub async fn me(&self) -> Result<CurrentUser> {
        self.get("me", &self.url("v1/me", &[])).await
    }

    /// The user's top artists in `range`, up to `max` (pages of 50).
    pub async fn top_artists(&self, range: TimeRange, max: usize) -> Result<Vec<Artist>> {
        let url = self.url("v1/me/top/artists", &top_query(range, max));
        self.pages::<_, Page<Artist>>(&format!("top artists ({range})"), url, max)
            .await
    }

    /// The user's top tracks in `range`, up to `max` (pages of 50).
    pub async fn top_tracks(&self, range: TimeRange, max: usize) -> Result<Vec<Track>> {
        let url = self.url("v1/me/top/tracks", &top_query(range, max));
        self.pages::<_, Page<Track>>(&format!("top tracks ({range})"), url, max)
            .await
    }

    /// The user's recent plays, newest first, up to `max`, following the
    /// `before` cursors.
    pub async fn recently_played(&self, max: usize) -> Result<Vec<PlayHistory>> {
        let url = self.url(
            "v1/me/player/recently-played",
            &[("limit", max.clamp(1, PAGE_LIMIT).to_string())],
        );
        self.pages::<_, CursorPage<PlayHistory>>("recently played", url, max)
            .await
    }

    /// One artist by id.
    pub async fn artist(&self, id: &str) -> Result<Artist> {
        let id = spotify_id(id, "artist")?;
        self.get("artist", &self.url(&format!("v1/artists/{id}"), &[]))
            .await
    }

    /// Several artists (Extended Quota apps; Development Mode apps get 403
    /// since February 2026). Unknown ids are skipped.
    pub async fn artists(&self, ids: &[String]) -> Result<Vec<Artist>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(50) {
            let ids = checked_ids(chunk, "artist")?;
            let batch: ArtistsBatch = self
                .get("artists (batch)", &self.url("v1/artists", &[("ids", ids)]))
                .await?;
            out.extend(batch.artists.into_iter().flatten());
        }
        Ok(out)
    }

    /// Audio features of tracks (Extended Quota apps; 403 for apps created
    /// since November 2024). Unknown ids are skipped.
    pub async fn audio_features(&self, ids: &[String]) -> Result<Vec<AudioFeatures>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(100) {
            let ids = checked_ids(chunk, "track")?;
            let batch: AudioFeaturesBatch = self
                .get(
                    "audio features",
                    &self.url("v1/audio-features", &[("ids", ids)]),
                )
                .await?;
            out.extend(batch.audio_features.into_iter().flatten());
        }
        Ok(out)
    }

    /// The user's playlists (`GET /v1/me/playlists`).
    pub async fn my_playlists(&self) -> Result<Vec<Playlist>> {
        let url = self.url("v1/me/playlists", &[("limit", PAGE_LIMIT.to_string())]);
        self.pages::<_, Page<Playlist>>("my playlists", url, usize::MAX)
            .await
    }

    /// Every entry of a playlist (`GET /v1/playlists/{id}/items`).
    pub async fn playlist_items(&self, playlist: &str) -> Result<Vec<PlaylistEntry>> {
        let id = spotify_id(playlist, "playlist")?;
        let url = self.url(
            &format!("v1/playlists/{id}/items"),
            &[("limit", PAGE_LIMIT.to_string())],
        );
        self.pages::<_, Page<PlaylistEntry>>("playlist items", url, usize::MAX)
            .await
    }

    /// Appends `uris` to a playlist in batches of 100
    /// (`POST /v1/playlists/{id}/items`).
    pub async fn add_to_playlist(&self, playlist: &str, uris: &[String]) -> Result<()> {
        let id = spotify_id(playlist, "playlist")?;
        let url = self.url(&format!("v1/playlists/{id}/items"), &[]);
        for chunk in uris.chunks(100) {
            let _: Snapshot = self
                .send_json(
                    "add playlist items",
                    &url,
                    &serde_json::json!({ "uris": chunk }),
                )
                .await?;
        }
        Ok(())
    }

    /// Sets a playlist's cover (`PUT /v1/playlists/{id}/images`): `jpeg`
    /// is sent base64-encoded, as Spotify takes it, and must fit
    /// [`COVER_MAX_BASE64`](crate::COVER_MAX_BASE64) in that form (see
    /// `spotifyart_core::cover_jpeg`). Needs [`COVER_SCOPES`](crate::COVER_SCOPES)
    /// and a playlist the user owns.
    pub async fn set_playlist_cover(&self, playlist: &str, jpeg: &[u8]) -> Result<()> {
        let id = spotify_id(playlist, "playlist")?;
        if jpeg.len() < 4 || jpeg[..2] != [0xFF, 0xD8] {
            return Err(Error::invalid("a playlist cover must be a JPEG image"));
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(jpeg);
        if encoded.len() > crate::COVER_MAX_BASE64 {
            return Err(Error::invalid(format!(
                "the cover takes {} bytes as base64; Spotify accepts at most {}",
                encoded.len(),
                crate::COVER_MAX_BASE64
            )));
        }
        let what = "set playlist cover";
        let url = self.url(&format!("v1/playlists/{id}/images"), &[]);
        let body = Body {
            content_type: "image/jpeg",
            bytes: encoded.into_bytes(),
        };
        let reply = self.call(what, Method::PUT, &url, Some(&body)).await?;
        if !reply.status.is_success() {
            return Err(api_error(&reply, what));
        }
        Ok(())
    }

    /// Creates a private playlist for the user (`POST /v1/me/playlists`).
    pub async fn create_playlist(&self, name: &str, description: &str) -> Result<Playlist> {
        let url = self.url("v1/me/playlists", &[]);
        self.send_json(
            "create playlist",
            &url,
            &serde_json::json!({ "name": name, "description": description, "public": false }),
        )
        .await
    }
}

/// A request body, encoded, with its content type.
#[derive(Clone)]
struct Body {
    content_type: &'static str,
    bytes: Vec<u8>,
}

impl Body {
    fn json<B: Serialize>(body: &B, what: &str) -> Result<Self> {
        Ok(Self {
            content_type: "application/json",
            bytes: serde_json::to_vec(body)
                .map_err(|e| Error::internal(format!("encoding {what}: {e}")))?,
        })
    }
}

/// A page of a list: its items and the link to the next page.
trait Paged<T> {
    fn into_parts(self) -> (Vec<T>, Option<String>);
}

impl<T> Paged<T> for Page<T> {
    fn into_parts(self) -> (Vec<T>, Option<String>) {
        (self.items, self.next)
    }
}

impl<T> Paged<T> for CursorPage<T> {
    fn into_parts(self) -> (Vec<T>, Option<String>) {
        (self.items, self.next)
    }
}

fn top_query(range: TimeRange, max: usize) -> Vec<(&'static str, String)> {
    vec![
        ("time_range", range.as_str().to_string()),
        ("limit", max.clamp(1, PAGE_LIMIT).to_string()),
        ("offset", "0".to_string()),
    ]
}

fn bad_next(what: &str) -> Error {
    Error::Upstream {
        service: SERVICE.into(),
        status: None,
        message: format!("{what}: the `next` link leaves the Spotify API; not followed"),
    }
}

/// A Spotify id from an id, a `spotify:KIND:ID` URI or an
/// `https://open.spotify.com/KIND/ID?...` link; only base62 ids pass, so
/// nothing can be injected into a request path.
pub fn spotify_id(input: &str, kind: &str) -> Result<String> {
    let input = input.trim();
    let uri_prefix = format!("spotify:{kind}:");
    let id = if let Some(id) = input.strip_prefix(&uri_prefix) {
        id.to_string()
    } else if let Ok(url) = Url::parse(input)
        && url.host_str() == Some("open.spotify.com")
    {
        let mut segments = url.path_segments().into_iter().flatten();
        match (segments.next(), segments.next()) {
            (Some(k), Some(id)) if k == kind => id.to_string(),
            _ => String::new(),
        }
    } else {
        input.to_string()
    };
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::invalid(format!(
            "{input:?} is not a Spotify {kind} id, spotify:{kind}: URI or open.spotify.com link"
        )));
    }
    Ok(id)
}

fn checked_ids(ids: &[String], kind: &str) -> Result<String> {
    let ids: Vec<String> = ids
        .iter()
        .map(|i| spotify_id(i, kind))
        .collect::<Result<_>>()?;
    Ok(ids.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_links_and_uris() {
        let id = "37i9dQZF1DXcBWIGoYBM5M";
        assert_eq!(spotify_id(id, "playlist").unwrap(), id);
        assert_eq!(
            spotify_id(&format!("spotify:playlist:{id}"), "playlist").unwrap(),
            id
        );
        assert_eq!(
            spotify_id(
                &format!("https://open.spotify.com/playlist/{id}?si=abc"),
                "playlist"
            )
            .unwrap(),
            id
        );
        for bad in [
            "",
            "../me",
            "a/b",
            "id?x=1",
            "spotify:track:abc/..",
            "https://evil.example/playlist/x",
        ] {
            assert!(spotify_id(bad, "playlist").is_err(), "{bad}");
        }
    }
}
