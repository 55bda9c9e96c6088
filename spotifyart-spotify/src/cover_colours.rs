//! Album cover colours for Web API profiles. The core turns image bytes
//! into colours but never fetches (`spotifyart_core::mood::covers`); this
//! reads the images: the smallest image of each of the most-played albums,
//! from Spotify's image CDN, through the same transport as the API calls
//! (timeout, retries as for GETs), with a cap on the body, a content-type
//! check, a bound on reads in flight and a cache per image, so an album's
//! cover is read once per process whoever listens to it.
//!
//! Nothing here fails a profile: a cover that cannot be read is skipped
//! and logged at debug. The CDN needs no credentials and gets none: the
//! requests carry no `Authorization` header.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use spotifyart_core::ListeningProfile;
use spotifyart_core::mood::covers::{covers_to_read, dominant_colours, set_cover_colours};
use spotifyart_core::profile::CoverColour;
use tokio::sync::{OnceCell, Semaphore};
use url::Url;

use crate::auth::SpotifyAuth;
use crate::model::Image;
use crate::transport::Transport;

/// Most bytes read of one cover. Spotify's 64² covers are a few KB and its
/// 640² ones about 100 KB; anything past this is not a cover.
pub const MAX_COVER_IMAGE_BYTES: usize = 1 << 20;
/// Covers read at once, per reader (so per process for one source).
pub const COVER_READS_IN_FLIGHT: usize = 4;
/// Covers remembered per reader (a few dozen bytes each); the least
/// recently used is forgotten first.
pub const COVER_CACHE_CAPACITY: usize = 4096;

/// The colours of one image: `None` when it cannot be read for a reason
/// that will not change (wrong type, too large, not an image, gone), which
/// is remembered like colours are. Timeouts, 5xx and 429 are not
/// remembered: the next profile tries again.
type Colours = Option<Arc<Vec<CoverColour>>>;

/// Reads album covers' colours for profiles; clones share the cache and
/// the bound on reads in flight. [`crate::SpotifySource`] holds one.
#[derive(Clone, Debug)]
pub struct CoverReader {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    permits: Semaphore,
    cache: Mutex<Cache>,
}

/// A least-recently-used map from image URL to its colours, each behind a
/// once-cell so concurrent profiles wanting one cover share a single read.
#[derive(Debug)]
struct Cache {
    capacity: usize,
    tick: u64,
    entries: HashMap<String, (Arc<OnceCell<Colours>>, u64)>,
}

impl Cache {
    fn cell(&mut self, url: &str) -> Arc<OnceCell<Colours>> {
        self.tick += 1;
        if let Some((cell, used)) = self.entries.get_mut(url) {
            *used = self.tick;
            return cell.clone();
        }
        if self.entries.len() >= self.capacity {
            // A scan, but only when full, over a few thousand entries: far
            // cheaper than the read that follows.
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        let cell = Arc::new(OnceCell::new());
        self.entries
            .insert(url.to_string(), (cell.clone(), self.tick));
        cell
    }
}

/// A read that failed for now (timeout, 5xx, 429, cancelled): not cached.
struct Transient;

impl CoverReader {
    /// A reader using `auth`'s transport (its timeout and retry settings)
    /// with the default cache size.
    pub fn new(auth: &SpotifyAuth) -> Self {
        Self::with_capacity(auth, COVER_CACHE_CAPACITY)
    }

    /// A reader remembering at most `capacity` covers.
    pub fn with_capacity(auth: &SpotifyAuth, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport: auth.transport().clone(),
                permits: Semaphore::new(COVER_READS_IN_FLIGHT),
                cache: Mutex::new(Cache {
                    capacity: capacity.max(1),
                    tick: 0,
                    entries: HashMap::new(),
                }),
            }),
        }
    }

    /// How many covers the cache holds (read or found unreadable).
    pub fn cached(&self) -> usize {
        self.lock()
            .entries
            .values()
            .filter(|(cell, _)| cell.initialized())
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.inner.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the covers of `profile`'s `max` most-played albums without
    /// colours and stores their colours on its tracks. `images` maps a
    /// track's `cover_url` to the image to read instead (its album's
    /// smallest); covers not in it are read at `cover_url`. All reads end
    /// within one request timeout; what is unread by then is skipped.
    /// Returns how many covers got colours.
    pub async fn attach(
        &self,
        profile: &mut ListeningProfile,
        images: &HashMap<String, String>,
        max: usize,
    ) -> usize {
        let wanted = covers_to_read(profile, max);
        if wanted.is_empty() {
            return 0;
        }
        let budget = self.inner.transport.config.request_timeout;
        let deadline = tokio::time::Instant::now() + budget;
        let mut reads = tokio::task::JoinSet::new();
        for cover in wanted {
            let image = images.get(&cover).cloned().unwrap_or_else(|| cover.clone());
            let reader = self.clone();
            reads.spawn(async move {
                let colours = reader.colours(&image).await;
                (cover, colours)
            });
        }
        let mut read: Vec<(String, Vec<CoverColour>)> = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, reads.join_next()).await {
                Ok(Some(Ok((cover, Some(colours))))) => read.push((cover, colours.to_vec())),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    // Dropping the set cancels the reads still running.
                    tracing::debug!(
                        unread = reads.len(),
                        budget_ms = budget.as_millis() as u64,
                        "covers still unread at the deadline skipped"
                    );
                    break;
                }
            }
        }
        set_cover_colours(profile, &read)
    }

    /// The colours of the image at `url`, from the cache or read once.
    async fn colours(&self, url: &str) -> Colours {
        let cell = self.lock().cell(url);
        cell.get_or_try_init(|| self.read(url))
            .await
            .ok()
            .cloned()
            .flatten()
    }

    async fn read(&self, url: &str) -> Result<Colours, Transient> {
        let Some(parsed) = self.image_url(url) else {
            tracing::debug!(cover = url, "cover skipped: not an image CDN address");
            return Ok(None);
        };
        let _permit = self.inner.permits.acquire().await.map_err(|_| Transient)?;
        let client = self.inner.transport.client().clone();
        // No bearer token: the CDN is public, and the token is the user's.
        let build = move || {
            client
                .get(parsed.clone())
                .header(ACCEPT, "image/jpeg, image/png")
        };
        let reply = match self
            .inner
            .transport
            .send_capped("album cover", MAX_COVER_IMAGE_BYTES, &build)
            .await
        {
            Ok(reply) => reply,
            Err(e) => {
                tracing::debug!(cover = url, error = %e, "cover skipped");
                // An answer over the cap will be over it next time too;
                // no answer (timeouts, connection failures) may not.
                return match e {
                    spotifyart_core::Error::Upstream {
                        status: Some(s), ..
                    } if s < 500 && s != 429 => Ok(None),
                    _ => Err(Transient),
                };
            }
        };
        if !reply.status.is_success() {
            tracing::debug!(cover = url, status = reply.status.as_u16(), "cover skipped");
            let lasting =
                !reply.status.is_server_error() && reply.status != StatusCode::TOO_MANY_REQUESTS;
            return if lasting { Ok(None) } else { Err(Transient) };
        }
        let content_type = reply
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        if !matches!(content_type.as_deref(), Some("image/jpeg" | "image/png")) {
            tracing::debug!(
                cover = url,
                content_type = content_type.as_deref().unwrap_or("none"),
                "cover skipped: not a JPEG or PNG"
            );
            return Ok(None);
        }
        let body = reply.body;
        match tokio::task::spawn_blocking(move || dominant_colours(&body)).await {
            Ok(Ok(colours)) if !colours.is_empty() => Ok(Some(Arc::new(colours))),
            Ok(Ok(_)) => Ok(None),
            Ok(Err(e)) => {
                tracing::debug!(cover = url, error = %e, "cover skipped");
                Ok(None)
            }
            Err(_) => Err(Transient),
        }
    }

    /// `url` when it is on Spotify's image CDN (`*.scdn.co`,
    /// `*.spotifycdn.com`, over HTTPS) or on the configured API origin
    /// (a fake in tests): image URLs come from API answers, and the
    /// service is not to be pointed at arbitrary hosts.
    fn image_url(&self, url: &str) -> Option<Url> {
        let parsed = Url::parse(url).ok()?;
        let api = &self.inner.transport.config.api_url;
        let host = parsed.host_str()?.to_ascii_lowercase();
        let cdn = parsed.scheme() == "https"
            && [".scdn.co", ".spotifycdn.com"]
                .iter()
                .any(|d| host.ends_with(d));
        let same_origin = parsed.origin() == api.origin();
        (cdn || same_origin).then_some(parsed)
    }
}

/// The smallest of an album's images: the least known area, else the last
/// (Spotify lists them largest first). Colours need only a few pixels.
pub(crate) fn smallest_image(images: &[Image]) -> Option<&Image> {
    images
        .iter()
        .filter(|i| i.width.is_some() || i.height.is_some())
        .min_by_key(|i| {
            let (w, h) = (i.width.or(i.height), i.height.or(i.width));
            u64::from(w.unwrap_or(0)) * u64::from(h.unwrap_or(0))
        })
        .or(images.last())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(url: &str, side: Option<u32>) -> Image {
        Image {
            url: url.into(),
            width: side,
            height: side,
        }
    }

    #[test]
    fn the_smallest_image_is_chosen() {
        let images = [
            image("640", Some(640)),
            image("300", Some(300)),
            image("64", Some(64)),
        ];
        assert_eq!(smallest_image(&images).unwrap().url, "64");
        let unordered = [
            image("300", Some(300)),
            image("64", Some(64)),
            image("640", Some(640)),
        ];
        assert_eq!(smallest_image(&unordered).unwrap().url, "64");
        let unknown = [image("a", None), image("b", None)];
        assert_eq!(smallest_image(&unknown).unwrap().url, "b");
        assert!(smallest_image(&[]).is_none());
    }

    #[test]
    fn only_spotify_image_hosts_and_the_api_origin_are_read() {
        let mut config = crate::SpotifyConfig::new("id", "http://127.0.0.1:8888/callback").unwrap();
        config.api_url = Url::parse("http://127.0.0.1:4321/").unwrap();
        let reader = CoverReader::new(&SpotifyAuth::new(config).unwrap());
        for ok in [
            "https://i.scdn.co/image/ab67616d00004851abc",
            "https://mosaic.scdn.co/60/abc",
            "https://image-cdn-ak.spotifycdn.com/image/abc",
            "http://127.0.0.1:4321/image/ab67616d00004851abc",
        ] {
            assert!(reader.image_url(ok).is_some(), "{ok}");
        }
        for refused in [
            "http://i.scdn.co/image/abc",
            "https://scdn.co.evil.example/image/abc",
            "https://evil.example/i.scdn.co",
            "http://127.0.0.1:4322/image/abc",
            "http://169.254.169.254/latest/meta-data",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(reader.image_url(refused).is_none(), "{refused}");
        }
    }

    #[test]
    fn the_cache_forgets_the_least_recently_used() {
        let mut cache = Cache {
            capacity: 2,
            tick: 0,
            entries: HashMap::new(),
        };
        let a = cache.cell("a");
        cache.cell("b");
        assert!(Arc::ptr_eq(&a, &cache.cell("a")), "a used again");
        cache.cell("c");
        assert_eq!(cache.entries.len(), 2);
        assert!(cache.entries.contains_key("a") && !cache.entries.contains_key("b"));
    }
}
