//! `Spotify`: signing in from a notebook (authorization code + PKCE) and
//! reading the signed-in user's listening from the Web API. Tokens are
//! refreshed by the client before they expire; with a `Store` they are kept
//! encrypted between sessions.

use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use spotifyart_core::{Error, UserId};
use spotifyart_spotify::model::CurrentUser;
use spotifyart_spotify::{
    AuthRequest, CoverReader, LISTENING_SCOPES, MemoryTokens, SourceOptions, SpotifyAuth,
    SpotifyConfig, StoredTokens, TokenCache, UserApi, fetch_profile_with_covers, sign_in,
    signed_in_user,
};
use url::Url;

use crate::convert::{py_str, to_python};
use crate::errors::{IntoPy, to_py};
use crate::profile::{Profile, parse_range};
use crate::runtime::wait_quiet;
use crate::store::Store;

/// Where `login` sends Spotify's redirect unless told otherwise: register it
/// in the app's settings (Spotify allows plain http for loopback addresses).
const DEFAULT_REDIRECT: &str = "http://127.0.0.1:8888/callback";

#[derive(Default)]
struct State {
    pending: Option<AuthRequest>,
    api: Option<UserApi>,
    user: Option<UserId>,
    me: Option<CurrentUser>,
}

/// A Spotify sign-in for one person. `login()` prints (or opens) Spotify's
/// consent page and takes the address the browser was sent back to (or the
/// code in it); `profile()` then reads their listening. Without
/// `client_id` the app's id is read from `SPOTIFY_CLIENT_ID`.
#[pyclass(module = "spotifyart", frozen)]
pub struct Spotify {
    auth: SpotifyAuth,
    /// Album covers read for their colours, cached for the session.
    covers: CoverReader,
    scopes: Vec<String>,
    store: Option<Arc<dyn spotifyart_core::Store>>,
    state: Mutex<State>,
}

#[pymethods]
impl Spotify {
    /// `store`: keep the tokens (encrypted) and, when it already holds a
    /// signed-in account (`account`, or the only one), continue as it.
    /// `accounts_url`/`api_url` point at another Spotify (tests); unset,
    /// `SPOTIFY_ACCOUNTS_URL`/`SPOTIFY_API_URL` or the real ones.
    #[new]
    #[pyo3(signature = (client_id=None, *, client_secret=None, redirect_uri=None, scopes=None, store=None, account=None, accounts_url=None, api_url=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        client_id: Option<String>,
        client_secret: Option<String>,
        redirect_uri: Option<String>,
        scopes: Option<Vec<String>>,
        store: Option<PyRef<'_, Store>>,
        account: Option<String>,
        accounts_url: Option<String>,
        api_url: Option<String>,
    ) -> PyResult<Self> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let client_id = client_id
            .or_else(|| env("SPOTIFY_CLIENT_ID"))
            .ok_or_else(|| {
                to_py(Error::invalid(
                    "no client_id: pass Spotify(client_id=...) or set SPOTIFY_CLIENT_ID \
                 (register an app at https://developer.spotify.com/dashboard)",
                ))
            })?;
        let redirect = redirect_uri
            .or_else(|| env("SPOTIFY_REDIRECT_URI"))
            .unwrap_or_else(|| DEFAULT_REDIRECT.into());
        let mut config = SpotifyConfig::new(client_id, &redirect).py_err()?;
        if let Some(secret) = client_secret {
            config = config.with_secret(secret);
        }
        for (given, var, slot) in [
            (
                accounts_url,
                "SPOTIFY_ACCOUNTS_URL",
                &mut config.accounts_url,
            ),
            (api_url, "SPOTIFY_API_URL", &mut config.api_url),
        ] {
            if let Some(u) = given.or_else(|| env(var)) {
                *slot = Url::parse(&u)
                    .map_err(|e| Error::invalid(format!("{var} is not a URL ({e}): {u:?}")))
                    .py_err()?;
            }
        }
        let auth = SpotifyAuth::new(config).py_err()?;
        let store = store.map(|s| s.inner.clone());
        let mut state = State::default();
        if let Some(store) = &store {
            let (s, named) = (store.clone(), account.clone());
            let found = wait_quiet(py, async move {
                match signed_in_user(&s, named.as_deref()).await {
                    Ok(user) => Ok(Some(user)),
                    // Nobody signed in yet: login() will add someone.
                    Err(Error::NotFound { .. }) if named.is_none() => Ok(None),
                    Err(e) => Err(e),
                }
            })?;
            if let Some(user) = found {
                state.user = Some(user);
                state.api = Some(UserApi::new(
                    auth.clone(),
                    Arc::new(StoredTokens::new(store.clone(), user)),
                ));
            }
        }
        Ok(Self {
            covers: CoverReader::new(&auth),
            auth,
            scopes: scopes
                .unwrap_or_else(|| LISTENING_SCOPES.iter().map(|s| s.to_string()).collect()),
            store,
            state: Mutex::new(state),
        })
    }

    /// Starts a sign-in: Spotify's consent page, with a fresh `state` and
    /// PKCE challenge. Open it in a browser, then pass where the browser
    /// was sent back to `finish`.
    fn authorize_url(&self) -> String {
        let scopes: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
        let request = self.auth.authorize(&scopes);
        let url = request.url.to_string();
        self.lock().pending = Some(request);
        url
    }

    /// The whole sign-in: prints Spotify's consent page (and opens it with
    /// `open_browser`), then takes `redirected` (the address the browser
    /// was sent back to, or the code in it), asking for it with `input()`
    /// when not given.
    #[pyo3(signature = (redirected=None, *, open_browser=false))]
    fn login(
        &self,
        py: Python<'_>,
        redirected: Option<String>,
        open_browser: bool,
    ) -> PyResult<()> {
        let url = self.authorize_url();
        let builtins = py.import("builtins")?;
        builtins.call_method1(
            "print",
            (format!(
                "Open this address and allow SpotifyArt:\n\n  {url}\n"
            ),),
        )?;
        if open_browser {
            py.import("webbrowser")?.call_method1("open", (&url,))?;
        }
        let redirected = match redirected {
            Some(r) => r,
            None => builtins
                .call_method1(
                    "input",
                    ("Paste the address your browser was sent to (it starts with the redirect URI): ",),
                )?
                .extract()?,
        };
        self.finish(py, &redirected)
    }

    /// Finishes the sign-in `authorize_url` started: checks the `state` in
    /// `redirected` (the whole address, or just its query) against this
    /// sign-in, or takes a bare code, and exchanges it with the PKCE
    /// verifier. A sign-in can be finished once.
    fn finish(&self, py: Python<'_>, redirected: &str) -> PyResult<()> {
        let pending = self.lock().pending.take().ok_or_else(|| {
            to_py(Error::invalid(
                "no sign-in is in progress: call login() or authorize_url() first",
            ))
        })?;
        let text = redirected.trim();
        let code = if text.contains('=') {
            self.auth
                .code_from_callback(text, &pending.state)
                .py_err()?
        } else if !text.is_empty() && !text.contains(char::is_whitespace) {
            text.to_string()
        } else {
            return Err(to_py(Error::invalid(
                "that is neither the address Spotify sent the browser to nor a code",
            )));
        };
        let auth = self.auth.clone();
        let store = self.store.clone();
        let (api, user, me) = wait_quiet(py, async move {
            match store {
                Some(store) => {
                    let done = sign_in(
                        &auth,
                        &store,
                        &code,
                        &pending.pkce_verifier,
                        chrono::Utc::now(),
                    )
                    .await?;
                    let tokens: Arc<dyn TokenCache> =
                        Arc::new(StoredTokens::new(store.clone(), done.user.id));
                    Ok((UserApi::new(auth, tokens), Some(done.user.id), done.me))
                }
                None => {
                    let tokens = auth.exchange(&code, &pending.pkce_verifier).await?;
                    let api = UserApi::new(auth, Arc::new(MemoryTokens::new(tokens)));
                    let me = api.me().await?;
                    Ok((api, None, me))
                }
            }
        })?;
        let mut state = self.lock();
        state.api = Some(api);
        state.user = user;
        state.me = Some(me);
        Ok(())
    }

    /// Whether there are tokens to call the Web API with.
    #[getter]
    fn signed_in(&self) -> bool {
        self.lock().api.is_some()
    }

    /// The signed-in user's Spotify profile (`id`, `display_name`, ...).
    fn me<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let me = self.current_user(py)?;
        to_python(py, &me)
    }

    /// The signed-in user's listening from the Web API: top artists and
    /// tracks per range (`top` each, up to Spotify's limits), recent plays,
    /// and whatever genres and audio features the app may read.
    /// `time_range` keeps one range.
    #[pyo3(signature = (time_range=None, *, top=50))]
    fn profile(&self, py: Python<'_>, time_range: Option<&str>, top: usize) -> PyResult<Profile> {
        let range = parse_range(time_range)?;
        let api = self.api()?;
        let options = SourceOptions {
            top_n: top,
            ..SourceOptions::default()
        };
        let covers = self.covers.clone();
        let profile = wait_quiet(py, async move {
            fetch_profile_with_covers(&api, &options, &covers).await
        })?;
        Ok(Profile::from(match range {
            Some(r) => profile.only(r),
            None => profile,
        }))
    }

    /// Forgets the tokens (in the store too).
    fn sign_out(&self, py: Python<'_>) -> PyResult<()> {
        let (user, store) = {
            let mut state = self.lock();
            let user = state.user.take();
            *state = State::default();
            (user, self.store.clone())
        };
        if let (Some(user), Some(store)) = (user, store) {
            wait_quiet(py, async move {
                store
                    .delete_tokens(user, spotifyart_spotify::PROVIDER)
                    .await
            })?;
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        let state = self.lock();
        let who = match (&state.me, state.api.is_some()) {
            (Some(me), _) => format!(
                "signed in as {}",
                py_str(me.display_name.as_deref().unwrap_or(&me.id))
            ),
            (None, true) => "signed in".to_string(),
            (None, false) => "not signed in".to_string(),
        };
        format!(
            "Spotify(client_id={}, {who})",
            py_str(&self.auth.config().client_id)
        )
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "a Spotify sign-in cannot be pickled: its tokens must not leave this process \
             unencrypted; use Spotify(..., store=Store(url)) to keep them between sessions",
        ))
    }
}

impl Spotify {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn api(&self) -> PyResult<UserApi> {
        self.lock().api.clone().ok_or_else(|| {
            to_py(Error::unauthorized(
                "not signed in to Spotify: call login() first",
            ))
        })
    }

    fn current_user(&self, py: Python<'_>) -> PyResult<CurrentUser> {
        if let Some(me) = self.lock().me.clone() {
            return Ok(me);
        }
        let api = self.api()?;
        let me = wait_quiet(py, async move { api.me().await })?;
        self.lock().me = Some(me.clone());
        Ok(me)
    }
}
