//! `ListenBrainz` and `Lastfm`: anyone's public listening, read by
//! username, as the same `Profile` an export or Spotify gives. Settings
//! not passed come from the environment as for the CLI
//! (`LISTENBRAINZ_API_URL`, `LISTENBRAINZ_TOKEN`, `LASTFM_API_URL`,
//! `LASTFM_API_KEY`); a token or key is never shown in a repr or error.

use pyo3::prelude::*;
use spotifyart_core::Error;
use spotifyart_scrobbles::lastfm::{self, LastfmConfig};
use spotifyart_scrobbles::listenbrainz::{self, ListenBrainzConfig};
use url::Url;

use crate::convert::py_str;
use crate::errors::IntoPy;
use crate::profile::{Profile, parse_range};
use crate::runtime::wait_quiet;

fn api_url(given: &str, var: &str) -> PyResult<Url> {
    Url::parse(given)
        .map_err(|e| Error::invalid(format!("{var}: not a URL ({e}): {given:?}")))
        .py_err()
}

fn only(p: spotifyart_core::ListeningProfile, range: Option<&str>) -> PyResult<Profile> {
    Ok(Profile::from(match parse_range(range)? {
        Some(r) => p.only(r),
        None => p,
    }))
}

/// A ListenBrainz user's public listens and statistics. `token`: a
/// ListenBrainz user token, for a profile that is not public.
#[pyclass(module = "spotifyart", frozen)]
pub struct ListenBrainz {
    client: listenbrainz::ListenBrainz,
    user: String,
}

#[pymethods]
impl ListenBrainz {
    #[new]
    #[pyo3(signature = (user, *, token=None, api_url=None))]
    fn new(user: String, token: Option<String>, api_url: Option<String>) -> PyResult<Self> {
        listenbrainz::validate_username(&user).py_err()?;
        let mut config = ListenBrainzConfig::from_env().py_err()?;
        if let Some(u) = api_url {
            config.api_url = self::api_url(&u, "api_url")?;
        }
        if let Some(t) = token {
            config = config.with_token(t);
        }
        let client = listenbrainz::ListenBrainz::new(config).py_err()?;
        Ok(Self { client, user })
    }

    /// The username.
    #[getter]
    fn user(&self) -> &str {
        &self.user
    }

    /// Their listening profile now (one `time_range` of it when given).
    #[pyo3(signature = (time_range=None))]
    fn profile(&self, py: Python<'_>, time_range: Option<&str>) -> PyResult<Profile> {
        let (client, user) = (self.client.clone(), self.user.clone());
        let p = wait_quiet(py, async move { client.profile(&user).await })?;
        only(p, time_range)
    }

    fn __repr__(&self) -> String {
        format!("ListenBrainz(user={})", py_str(&self.user))
    }
}

/// A Last.fm user's public scrobbles, top lists and their artists' tags
/// (as genres). Needs an API key: `api_key`, or `LASTFM_API_KEY`.
#[pyclass(module = "spotifyart", frozen)]
pub struct Lastfm {
    client: lastfm::Lastfm,
    user: String,
}

#[pymethods]
impl Lastfm {
    #[new]
    #[pyo3(signature = (user, *, api_key=None, api_url=None))]
    fn new(user: String, api_key: Option<String>, api_url: Option<String>) -> PyResult<Self> {
        lastfm::validate_username(&user).py_err()?;
        let mut config = match api_key {
            Some(key) => {
                let mut c = LastfmConfig::new(key);
                if let Ok(u) = std::env::var("LASTFM_API_URL")
                    && !u.trim().is_empty()
                {
                    c.api_url = self::api_url(u.trim(), "LASTFM_API_URL")?;
                }
                c
            }
            None => LastfmConfig::from_env().py_err()?,
        };
        if let Some(u) = api_url {
            config.api_url = self::api_url(&u, "api_url")?;
        }
        let client = lastfm::Lastfm::new(config).py_err()?;
        Ok(Self { client, user })
    }

    /// The username.
    #[getter]
    fn user(&self) -> &str {
        &self.user
    }

    /// Their listening profile now (one `time_range` of it when given).
    #[pyo3(signature = (time_range=None))]
    fn profile(&self, py: Python<'_>, time_range: Option<&str>) -> PyResult<Profile> {
        let (client, user) = (self.client.clone(), self.user.clone());
        let p = wait_quiet(py, async move { client.profile(&user).await })?;
        only(p, time_range)
    }

    fn __repr__(&self) -> String {
        format!("Lastfm(user={})", py_str(&self.user))
    }
}
