//! Matching with someone at ListenBrainz or Last.fm: an invite names them
//! (their public listening is checked to exist), and only they may accept
//! it, after proving who they are at that service.

use spotifyart_core::Error;
use spotifyart_core::store::OpaqueToken;
use spotifyart_scrobbles::{lastfm, listenbrainz};
use warp::http::StatusCode;

use super::AppState;
use super::error::reject;
use super::handlers::{Res, json};
use super::wire::*;

/// What an invite is, for the page its link opens: whom it is for (so the
/// page asks them to prove it), when it expires, whether it was used.
#[utoipa::path(get, path = "/api/v1/invites/{invite}", params(("invite" = String, Path)),
    responses((status = 200, body = InviteInfo), (status = 404, body = super::error::ErrorBody)))]
pub async fn invite_info(code: String, state: AppState) -> Res {
    let invite = state
        .engine()
        .store()
        .invite(&OpaqueToken::from_client(&code).hash())
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => reject(Error::not_found("invite")),
            other => reject(other),
        })?;
    Ok(json(
        StatusCode::OK,
        &InviteInfo {
            addressee: invite.addressee.map(|a| AddresseeView {
                provider: a.provider,
                username: a.name,
            }),
            expires_at: invite.expires_at,
            accepted: invite.accepted_by.is_some(),
        },
    ))
}

/// Accepts an invite as a ListenBrainz user, proved by their user token
/// (checked with ListenBrainz, never stored): the token must name the
/// invite's addressee. Signs the browser in as them (a SpotifyArt user with
/// that ListenBrainz account, created on first use) and answers the match.
/// There is no session yet, so the request must come from our own page
/// (`Origin`), and it counts against the per-IP sign-in limit.
#[utoipa::path(post, path = "/auth/listenbrainz", request_body = ListenBrainzProof, responses(
    (status = 201, body = MatchView), (status = 401, body = super::error::ErrorBody),
    (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody)))]
pub async fn listenbrainz_accept(
    state: AppState,
    ip: std::net::IpAddr,
    origin: Option<String>,
    previous: Option<String>,
    body: ListenBrainzProof,
) -> Res {
    state.limits().login(ip).await.map_err(reject)?;
    if origin.as_deref() != Some(state.config().origin().as_str()) {
        return Err(reject(Error::Forbidden {
            message: "cross-site request refused".into(),
        }));
    }
    let client = state.scrobbles().listenbrainz.as_ref().ok_or_else(|| {
        reject(Error::NotSupported {
            message: "ListenBrainz users cannot sign in on this server (not configured)".into(),
        })
    })?;
    let name = client.validate_token(&body.token).await.map_err(reject)?;
    let (record, cookies) = accept_as(&state, &body.invite, listenbrainz::PROVIDER, name, previous)
        .await
        .map_err(reject)?;
    matched(&record, &cookies)
}

/// Accepts `invite` as `name` at `provider` (proved by the caller) and
/// signs the browser in as them, ending any session it had: the match and
/// the new session cookies.
async fn accept_as(
    state: &AppState,
    invite: &str,
    provider: &str,
    name: String,
    previous: Option<String>,
) -> spotifyart_core::Result<(spotifyart_core::store::MatchRecord, [String; 2])> {
    let engine = state.engine();
    let account = spotifyart_core::store::NewAccount {
        provider: provider.to_string(),
        account_id: name.clone(),
        display_name: Some(name),
        scopes: Vec::new(),
    };
    let (user, record) = engine
        .accept_invite_as(&OpaqueToken::from_client(invite).hash(), &account)
        .await?;
    let store = engine.store();
    if let Some(old) = previous.filter(|t| !t.is_empty()) {
        store
            .revoke_session(&OpaqueToken::from_client(&old).hash())
            .await?;
    }
    let (token, new) = super::session::new_session(state.config(), user.id, engine.now());
    store.create_session(&new).await?;
    tracing::info!(user = %user.id, provider, "signed in by proof and matched");
    Ok((
        record,
        super::session::session_cookies(state.config(), &token),
    ))
}

/// Answers 201 with the match and the session cookies.
fn matched(record: &spotifyart_core::store::MatchRecord, cookies: &[String]) -> Res {
    let mut r = json(StatusCode::CREATED, &MatchView::from(record));
    add_cookies(&mut r, cookies);
    Ok(r)
}

fn add_cookies(r: &mut warp::reply::Response, cookies: &[String]) {
    for c in cookies {
        if let Ok(v) = warp::http::HeaderValue::from_str(c) {
            r.headers_mut().append(warp::http::header::SET_COOKIE, v);
        }
    }
}

fn see_other(location: &str, cookies: &[String]) -> Res {
    let mut r = warp::reply::Response::new(bytes::Bytes::new().into());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = warp::http::HeaderValue::from_str(location) {
        r.headers_mut().insert(warp::http::header::LOCATION, v);
    }
    r.headers_mut().insert(
        warp::http::header::CACHE_CONTROL,
        warp::http::HeaderValue::from_static("no-store"),
    );
    add_cookies(&mut r, cookies);
    Ok(r)
}

/// Starts a Last.fm sign-in to accept `invite`: 303 to Last.fm's
/// authorisation page, which sends the browser back to
/// `/auth/lastfm/callback` with a token; a cookie binds the invite to this
/// browser. Only for invites addressed to a Last.fm user.
#[utoipa::path(get, path = "/auth/lastfm/login", params(("invite" = String, Query)),
    responses((status = 303, description = "to Last.fm"), (status = 404, body = super::error::ErrorBody)))]
pub async fn lastfm_login(
    state: AppState,
    ip: std::net::IpAddr,
    query: std::collections::HashMap<String, String>,
) -> Res {
    state.limits().login(ip).await.map_err(reject)?;
    let client = lastfm_client(&state)?;
    let code = query
        .get("invite")
        .and_then(|c| super::session::oauth_state(c))
        .ok_or_else(|| reject(Error::not_found("invite")))?;
    let invite = state
        .engine()
        .store()
        .invite(&OpaqueToken::from_client(code).hash())
        .await
        .map_err(|_| reject(Error::not_found("invite")))?;
    if invite.addressee.as_ref().map(|a| a.provider.as_str()) != Some(lastfm::PROVIDER) {
        return Err(reject(Error::not_found("invite")));
    }
    let back = url::Url::parse(&state.config().url("/auth/lastfm/callback"))
        .map_err(|e| reject(Error::internal(format!("the public URL: {e}"))))?;
    let cookie = super::session::lastfm_cookie(state.config(), code);
    see_other(client.auth_url(&back).as_str(), &[cookie])
}

/// Last.fm's redirect back with a token: the token names the user (checked
/// with Last.fm's `auth.getSession`), who must be the invite's addressee;
/// then they are signed in and matched, and sent to their page. Every
/// failure goes to the invite's page with an error code, nothing stored.
#[utoipa::path(get, path = "/auth/lastfm/callback", responses(
    (status = 303, description = "to /discover, or to the invite page with ?error=CODE")))]
pub async fn lastfm_callback(
    state: AppState,
    query: std::collections::HashMap<String, String>,
    cookie: Option<String>,
    previous: Option<String>,
) -> Res {
    let clear = super::session::clear_lastfm_cookie(state.config());
    let Some(code) = cookie.as_deref().and_then(super::session::oauth_state) else {
        return see_other("/?error=signin_expired", std::slice::from_ref(&clear));
    };
    let fail = |error: &str| {
        see_other(
            &format!("/match/{code}?error={error}"),
            std::slice::from_ref(&clear),
        )
    };
    let Some(token) = query.get("token").filter(|t| !t.is_empty()) else {
        return fail("access_denied");
    };
    let client = lastfm_client(&state)?;
    let name = match client.session_user(token).await {
        Ok(name) => name,
        Err(e) => {
            tracing::warn!(error = %e, "Last.fm sign-in refused");
            return fail(match e {
                Error::UpstreamBusy { .. } => "lastfm_busy",
                Error::Upstream { .. } => "lastfm_unavailable",
                _ => "lastfm_refused",
            });
        }
    };
    match accept_as(&state, code, lastfm::PROVIDER, name, previous).await {
        Ok((_, [s, c])) => see_other("/discover", &[s, c, clear.clone()]),
        Err(e) => {
            tracing::warn!(error = %e, "Last.fm invite not accepted");
            fail(match e {
                Error::Forbidden { .. } => "not_the_invitee",
                Error::Conflict { .. } => "invite_used",
                Error::NotFound { .. } => "invite_unknown",
                _ => "unavailable",
            })
        }
    }
}

fn lastfm_client(state: &AppState) -> Result<&lastfm::Lastfm, warp::Rejection> {
    state.scrobbles().lastfm.as_ref().ok_or_else(|| {
        reject(Error::NotSupported {
            message: "Last.fm users cannot sign in on this server (not configured)".into(),
        })
    })
}
