//! Spotify sign-in: the authorization code flow with PKCE (S256) and a
//! random `state`, on the `oauth2` crate, for confidential clients (the
//! hosted service, which also sends its secret) and public ones (a notebook,
//! the CLI). The token endpoint is reached through the same resilient
//! [`Transport`] as the Web API.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{Duration as ChronoDuration, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardErrorResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use spotifyart_core::store::OAuthTokens;
use spotifyart_core::{Error, Result};
use url::Url;

use crate::config::SpotifyConfig;
use crate::transport::{SERVICE, Transport};

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Spotify's default access token lifetime, used when a response omits it.
const DEFAULT_LIFETIME_SECS: i64 = 3600;

/// A sign-in in progress: send the browser to `url`, keep `state` and
/// `pkce_verifier` (bound to that browser) until the callback.
#[derive(Debug)]
pub struct AuthRequest {
    /// Spotify's consent page with every parameter filled in.
    pub url: Url,
    /// The random `state`; the callback must bring it back unchanged.
    pub state: SecretString,
    /// The PKCE verifier whose S256 challenge is in `url`.
    pub pkce_verifier: SecretString,
    /// Scopes asked for.
    pub scopes: Vec<String>,
}

/// The OAuth client for one Spotify app.
#[derive(Clone, Debug)]
pub struct SpotifyAuth {
    client: Arc<Client>,
    transport: Transport,
}

impl SpotifyAuth {
    /// An OAuth client for `config`'s app.
    pub fn new(config: SpotifyConfig) -> Result<Self> {
        Self::with_transport(Transport::new(Arc::new(config))?)
    }

    pub(crate) fn with_transport(transport: Transport) -> Result<Self> {
        let config = &transport.config;
        let mut client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(config.authorize_endpoint()))
            .set_token_uri(TokenUrl::from_url(config.token_endpoint()))
            .set_redirect_uri(RedirectUrl::from_url(config.redirect_uri.clone()));
        if let Some(secret) = &config.client_secret {
            client =
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()));
        }
        Ok(Self {
            client: Arc::new(client),
            transport,
        })
    }

    /// The app's settings.
    pub fn config(&self) -> &SpotifyConfig {
        &self.transport.config
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Starts a sign-in asking for `scopes`, with a fresh `state` and PKCE
    /// verifier (both 256-bit random).
    pub fn authorize(&self, scopes: &[&str]) -> AuthRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes.iter().map(|s| Scope::new(s.to_string())))
            .set_pkce_challenge(challenge)
            .url();
        AuthRequest {
            url,
            state: SecretString::from(state.secret().clone()),
            pkce_verifier: SecretString::from(verifier.secret().clone()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Exchanges the code from the callback for tokens.
    pub async fn exchange(&self, code: &str, pkce_verifier: &SecretString) -> Result<OAuthTokens> {
        let http = TokenHttp(&self.transport);
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(
                pkce_verifier.expose_secret().to_string(),
            ))
            .request_async(&http)
            .await
            .map_err(|e| token_error(e, Grant::Code))?;
        tracing::info!("spotify sign-in: code exchanged for tokens");
        Ok(tokens_from(&response, None, &[]))
    }

    /// New tokens from the refresh token in `current`. Spotify may or may
    /// not rotate the refresh token; without a new one the current one is
    /// kept. A revoked grant is [`Error::Revoked`].
    pub async fn refresh(&self, current: &OAuthTokens) -> Result<OAuthTokens> {
        let Some(refresh) = &current.refresh_token else {
            return Err(Error::unauthorized(
                "the Spotify access token expired and there is no refresh token; sign in again",
            ));
        };
        let refresh = RefreshToken::new(refresh.expose_secret().to_string());
        let http = TokenHttp(&self.transport);
        let response = self
            .client
            .exchange_refresh_token(&refresh)
            .request_async(&http)
            .await
            .map_err(|e| token_error(e, Grant::Refresh))?;
        let rotated = response.refresh_token().is_some();
        tracing::info!(rotated, "spotify access token refreshed");
        Ok(tokens_from(
            &response,
            current.refresh_token.as_ref(),
            &current.scopes,
        ))
    }

    /// The code from a callback, after checking its `state` against the one
    /// this browser started with. Accepts the whole redirected URL (what a
    /// notebook user pastes) or just its query string.
    pub fn code_from_callback(
        &self,
        redirected: &str,
        expected_state: &SecretString,
    ) -> Result<String> {
        let query = match Url::parse(redirected.trim()) {
            Ok(url) => url.query().unwrap_or_default().to_string(),
            Err(_) => redirected.trim().trim_start_matches('?').to_string(),
        };
        let mut code = None;
        let mut state = None;
        let mut error = None;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "code" => code = Some(v.into_owned()),
                "state" => state = Some(v.into_owned()),
                "error" => error = Some(v.into_owned()),
                _ => {}
            }
        }
        if state.as_deref() != Some(expected_state.expose_secret()) {
            return Err(Error::unauthorized(
                "the sign-in callback's state does not match this sign-in; start again",
            ));
        }
        if let Some(error) = error {
            return Err(Error::unauthorized(format!(
                "Spotify sign-in was not completed: {error}"
            )));
        }
        code.filter(|c| !c.is_empty())
            .ok_or_else(|| Error::invalid("the sign-in callback has no `code`"))
    }
}

/// oauth2's HTTP hook: the token endpoint through the transport. Only a
/// 429 is retried (a code is single-use, so a lost answer is not resent).
/// A named type with a boxed `Send` future, rather than a closure, so the
/// futures that call Spotify stay provably `Send`.
struct TokenHttp<'a>(&'a Transport);

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse>> + Send + 'c>>;

    fn call(&'c self, req: oauth2::HttpRequest) -> Self::Future {
        let transport = self.0;
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let client = transport.client().clone();
            let (method, url, headers) = (parts.method, parts.uri.to_string(), parts.headers);
            let build = move || {
                client
                    .request(method.clone(), &url)
                    .headers(headers.clone())
                    .body(body.clone())
            };
            let reply = transport.send("token", false, &build).await?;
            let mut response = http::Response::builder().status(reply.status);
            if let Some(h) = response.headers_mut() {
                *h = reply.headers;
            }
            response
                .body(reply.body)
                .map_err(|e| Error::internal(format!("rebuilding the token response: {e}")))
        })
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Grant {
    Code,
    Refresh,
}

fn tokens_from(
    response: &oauth2::basic::BasicTokenResponse,
    previous_refresh: Option<&SecretString>,
    previous_scopes: &[String],
) -> OAuthTokens {
    let lifetime = response
        .expires_in()
        .and_then(|d| ChronoDuration::from_std(d).ok())
        .unwrap_or(ChronoDuration::seconds(DEFAULT_LIFETIME_SECS));
    OAuthTokens {
        access_token: SecretString::from(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|r| SecretString::from(r.secret().clone()))
            .or_else(|| previous_refresh.cloned()),
        expires_at: Utc::now() + lifetime,
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_else(|| previous_scopes.to_vec()),
    }
}

fn token_error(
    e: RequestTokenError<Error, StandardErrorResponse<BasicErrorResponseType>>,
    grant: Grant,
) -> Error {
    match e {
        RequestTokenError::Request(e) => e,
        RequestTokenError::ServerResponse(r) => {
            let detail = r
                .error_description()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            match (r.error(), grant) {
                (BasicErrorResponseType::InvalidGrant, Grant::Refresh) => {
                    tracing::warn!("spotify refused the refresh token: access revoked");
                    Error::Revoked {
                        provider: SERVICE.into(),
                    }
                }
                (BasicErrorResponseType::InvalidGrant, Grant::Code) => {
                    Error::unauthorized(format!(
                        "Spotify refused the sign-in code{detail}: it expired, was used already, \
                     or the redirect URI or PKCE verifier does not match; sign in again"
                    ))
                }
                (
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient,
                    _,
                ) => Error::unauthorized(format!(
                    "Spotify refused this app's credentials{detail}: check SPOTIFY_CLIENT_ID \
                         and SPOTIFY_CLIENT_SECRET"
                )),
                (other, _) => Error::Upstream {
                    service: SERVICE.into(),
                    status: None,
                    message: format!("the token endpoint answered {}{detail}", other.as_ref()),
                },
            }
        }
        RequestTokenError::Parse(e, _body) => Error::Upstream {
            service: SERVICE.into(),
            status: None,
            message: format!("malformed token response: {}", e.inner()),
        },
        RequestTokenError::Other(message) => Error::Upstream {
            service: SERVICE.into(),
            status: None,
            message: format!("token endpoint: {message}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> SpotifyAuth {
        SpotifyAuth::new(
            SpotifyConfig::new("my-client", "http://127.0.0.1:8080/auth/spotify/callback").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn authorize_url_carries_pkce_and_state() {
        let a = auth();
        let req = a.authorize(&["user-top-read", "user-read-recently-played"]);
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        assert_eq!(req.url.host_str(), Some("accounts.spotify.com"));
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "my-client");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["scope"], "user-top-read user-read-recently-played");
        assert_eq!(q["state"], req.state.expose_secret());
        assert!(req.pkce_verifier.expose_secret().len() >= 43);
        assert_ne!(
            q["code_challenge"],
            req.pkce_verifier.expose_secret().to_string()
        );
        let other = a.authorize(&["user-top-read"]);
        assert_ne!(other.state.expose_secret(), req.state.expose_secret());
    }

    #[test]
    fn callbacks_are_checked() {
        let a = auth();
        let state = SecretString::from("s1".to_string());
        assert_eq!(
            a.code_from_callback("http://127.0.0.1:8080/cb?code=abc&state=s1", &state)
                .unwrap(),
            "abc"
        );
        assert_eq!(
            a.code_from_callback("?code=abc&state=s1", &state).unwrap(),
            "abc"
        );
        let e = a
            .code_from_callback("http://x/cb?code=abc&state=forged", &state)
            .unwrap_err();
        assert_eq!(e.code(), "unauthorized");
        let e = a
            .code_from_callback("http://x/cb?error=access_denied&state=s1", &state)
            .unwrap_err();
        assert!(e.to_string().contains("access_denied"), "{e}");
    }
}
