//! Which requests reach which handler, and the shared filters that run
//! first: the client address, rate limits, the session, CSRF, strict JSON
//! bodies.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use spotifyart_core::store::TokenHash;
use spotifyart_core::{Error, store::OpaqueToken};
use warp::filters::BoxedFilter;
use warp::http::Method;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::reject;
use super::session::{self, Authed};
use super::{AppState, art, covers, handlers, pages, scrobbles};

/// Largest JSON body the API reads.
pub const MAX_JSON_BODY: u64 = 16 * 1024;

/// Every route, not yet recovered (see [`super::app`]).
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let health = warp::path!("healthz")
        .and(warp::get())
        .and_then(handlers::healthz);
    let ready = warp::path!("readyz")
        .and(warp::get())
        .and(with(&state))
        .and_then(handlers::readyz);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with(&state))
        .and_then(handlers::metrics);
    let ops = health.or(ready).unify().or(metrics).unify().boxed();

    pages::routes()
        .or(ops)
        .unify()
        .or(auth_routes(&state))
        .unify()
        .or(api_routes(&state))
        .unify()
        .boxed()
}

fn auth_routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let login = warp::path!("spotify" / "login")
        .and(warp::get())
        .and(with(state))
        .and(client_ip(state))
        .and(warp::query::<HashMap<String, String>>())
        .and_then(handlers::login);
    let callback = warp::path!("spotify" / "callback")
        .and(warp::get())
        .and(with(state))
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::cookie::optional::<String>(session::OAUTH_COOKIE))
        .and(warp::cookie::optional::<String>(session::SESSION_COOKIE))
        .and_then(handlers::callback);
    let listenbrainz = warp::path!("listenbrainz")
        .and(warp::post())
        .and(with(state))
        .and(client_ip(state))
        .and(warp::header::optional::<String>("origin"))
        .and(warp::cookie::optional::<String>(session::SESSION_COOKIE))
        .and(json_body::<super::wire::ListenBrainzProof>(false))
        .and_then(scrobbles::listenbrainz_accept);
    let lastfm_login = warp::path!("lastfm" / "login")
        .and(warp::get())
        .and(with(state))
        .and(client_ip(state))
        .and(warp::query::<HashMap<String, String>>())
        .and_then(scrobbles::lastfm_login);
    let lastfm_callback = warp::path!("lastfm" / "callback")
        .and(warp::get())
        .and(with(state))
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::cookie::optional::<String>(session::LASTFM_COOKIE))
        .and(warp::cookie::optional::<String>(session::SESSION_COOKIE))
        .and_then(scrobbles::lastfm_callback);
    let refresh = warp::path!("refresh")
        .and(signed_in_post(state))
        .and_then(handlers::refresh);
    let logout = warp::path!("logout")
        .and(signed_in_post(state))
        .and_then(handlers::logout);
    // The prefix first, so a request is counted once, by the branch it
    // belongs to.
    warp::path("auth")
        .and(api_limit(state))
        .and(
            login
                .or(callback)
                .unify()
                .or(listenbrainz)
                .unify()
                .or(lastfm_login)
                .unify()
                .or(lastfm_callback)
                .unify()
                .or(refresh)
                .unify()
                .or(logout)
                .unify(),
        )
        .boxed()
}

fn api_routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let v1 = warp::path("api").and(warp::path("v1"));
    let openapi = warp::path!("openapi.json")
        .and(warp::get())
        .and_then(super::openapi::document);
    let me = warp::path!("me")
        .and(signed_in_get(state))
        .and_then(handlers::me);
    let mood = warp::path!("music" / "mood")
        .and(signed_in_get(state))
        .and(strict_query::<super::wire::MoodQuery>())
        .and_then(handlers::mood);
    let refresh_mood = warp::path!("music" / "mood" / "refresh")
        .and(signed_in_post(state))
        .and(json_body::<super::wire::MoodRefresh>(true))
        .and_then(handlers::refresh_mood);
    let create_invite = warp::path!("matches")
        .and(signed_in_post(state))
        .and(json_body::<super::wire::InviteBody>(true))
        .and_then(handlers::create_invite);
    let invite_info = warp::path!("invites" / String)
        .and(warp::get())
        .and(with(state))
        .and_then(scrobbles::invite_info);
    let list_matches = warp::path!("matches")
        .and(signed_in_get(state))
        .and_then(handlers::list_matches);
    let accept = warp::path!("matches" / String / "accept")
        .and(signed_in_post(state))
        .and_then(handlers::accept_invite);
    let get_match = warp::path!("matches" / String)
        .and(signed_in_get(state))
        .and_then(handlers::get_match);
    let create_art = warp::path!("ai" / "art")
        .and(signed_in_post(state))
        .and(json_body::<super::wire::ArtBody>(true))
        .and_then(handlers::create_art);
    let job = warp::path!("jobs" / String)
        .and(signed_in_get(state))
        .and_then(handlers::get_job);
    let artwork = warp::path!("art" / String)
        .and(signed_in_get(state))
        .and(conditions())
        .and_then(handlers::artwork);
    let gallery = warp::path!("gallery")
        .and(signed_in_get(state))
        .and(strict_query::<super::wire::GalleryQuery>())
        .and_then(handlers::gallery);

    let playlists = warp::path!("playlists")
        .and(signed_in_get(state))
        .and_then(covers::playlists);
    let paint_cover = warp::path!("playlists" / String / "cover")
        .and(signed_in_post(state))
        .and(json_body::<super::wire::CoverBody>(true))
        .and_then(covers::paint_cover);
    let set_cover = warp::path!("playlists" / String / "cover")
        .and(signed_in_write(state, warp::put()))
        .and(json_body::<super::wire::CoverUpload>(false))
        .and_then(covers::set_cover);
    let schedules = warp::path!("schedules")
        .and(signed_in_get(state))
        .and_then(covers::schedules);
    let add_schedule = warp::path!("schedules")
        .and(signed_in_post(state))
        .and(json_body::<super::wire::ScheduleBody>(false))
        .and_then(covers::add_schedule);
    let remove_schedule = warp::path!("schedules" / String)
        .and(signed_in_write(state, warp::delete()))
        .and_then(covers::remove_schedule);

    let reads = openapi
        .or(me)
        .unify()
        .or(mood)
        .unify()
        .or(list_matches)
        .unify()
        .or(get_match)
        .unify()
        .or(job)
        .unify()
        .or(artwork)
        .unify()
        .or(gallery)
        .unify()
        .or(playlists)
        .unify()
        .or(schedules)
        .unify()
        .or(invite_info)
        .unify()
        .boxed();
    let writes = create_invite
        .or(refresh_mood)
        .unify()
        .or(accept)
        .unify()
        .or(create_art)
        .unify()
        .or(paint_cover)
        .unify()
        .or(set_cover)
        .unify()
        .or(add_schedule)
        .unify()
        .or(remove_schedule)
        .unify()
        .boxed();
    let cors = warp::cors()
        .allow_origin(state.config().origin().as_str())
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers(["content-type", session::CSRF_HEADER])
        .max_age(600);
    v1.and(api_limit(state))
        .and(reads.or(writes).unify())
        .with(cors)
        .map(warp::Reply::into_response)
        .boxed()
}

/// A header's text, or `None` when it is absent or not visible ASCII;
/// never rejects, and copies only that one header (not the whole map).
pub(crate) fn header_text(
    name: &'static str,
) -> impl Filter<Extract = (Option<String>,), Error = std::convert::Infallible> + Clone {
    warp::header::optional::<String>(name)
        .or(warp::any().map(|| None))
        .unify()
}

/// What a signed-in GET needs after its path: the state and the session.
fn signed_in_get(
    state: &AppState,
) -> impl Filter<Extract = (AppState, Authed), Error = Rejection> + Clone + use<> {
    warp::get().and(with(state)).and(signed_in(state, false))
}

/// What a signed-in POST needs after its path: the state and the session,
/// with the CSRF check.
fn signed_in_post(
    state: &AppState,
) -> impl Filter<Extract = (AppState, Authed), Error = Rejection> + Clone + use<> {
    signed_in_write(state, warp::post())
}

/// As [`signed_in_post`] for another state-changing method (PUT, DELETE).
fn signed_in_write<M>(
    state: &AppState,
    method: M,
) -> impl Filter<Extract = (AppState, Authed), Error = Rejection> + Clone + use<M>
where
    M: Filter<Extract = (), Error = Rejection> + Clone,
{
    method.and(with(state)).and(signed_in(state, true))
}

fn with(
    state: &AppState,
) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone + use<> {
    let state = state.clone();
    warp::any().map(move || state.clone())
}

/// The client's address: the socket peer, or behind a trusted proxy the
/// last `X-Forwarded-For` entry (the one the proxy itself appended).
pub fn client_ip(
    state: &AppState,
) -> impl Filter<Extract = (IpAddr,), Error = std::convert::Infallible> + Clone + use<> {
    let trust = state.config().trust_proxy;
    // The socket peer: from our listener, or from warp's own (tests).
    let peer = warp::ext::optional::<super::Peer>()
        .and(warp::addr::remote())
        .map(|ours: Option<super::Peer>, warps: Option<SocketAddr>| ours.map(|p| p.0).or(warps));
    peer.and(header_text("x-forwarded-for")).map(
        move |peer: Option<SocketAddr>, forwarded: Option<String>| {
            let from_proxy = trust
                .then(|| forwarded?.rsplit(',').next()?.trim().parse::<IpAddr>().ok())
                .flatten();
            from_proxy
                .or(peer.map(|p| p.ip()))
                .unwrap_or(IpAddr::from([0, 0, 0, 0]))
        },
    )
}

/// The per-IP limit on everything under `/api` and `/auth`.
fn api_limit(state: &AppState) -> impl Filter<Extract = (), Error = Rejection> + Clone + use<> {
    let state = state.clone();
    client_ip(&state)
        .and_then(move |ip| {
            let state = state.clone();
            async move { state.limits().api(ip).await.map_err(reject) }
        })
        .untuple_one()
}

/// The signed-in user, from the session cookie; with `csrf`, also checks
/// that the request came from our own page (Origin, and the CSRF header
/// matching the session).
pub fn signed_in(
    state: &AppState,
    csrf: bool,
) -> impl Filter<Extract = (Authed,), Error = Rejection> + Clone + use<> {
    let state = state.clone();
    warp::cookie::optional::<String>(session::SESSION_COOKIE)
        .and(warp::header::optional::<String>("origin"))
        .and(warp::header::optional::<String>(session::CSRF_HEADER))
        .and_then(
            move |cookie: Option<String>, origin: Option<String>, presented: Option<String>| {
                let state = state.clone();
                async move {
                    let token = cookie
                        .filter(|c| !c.is_empty())
                        .ok_or_else(|| reject(Error::unauthorized("sign in first")))?;
                    if csrf {
                        if origin
                            .as_deref()
                            .is_some_and(|o| o != state.config().origin())
                        {
                            return Err(reject(Error::Forbidden {
                                message: "cross-site request refused".into(),
                            }));
                        }
                        if !presented.is_some_and(|p| session::csrf_matches(&token, &p)) {
                            return Err(reject(Error::Forbidden {
                                message: "missing or wrong X-CSRF-Token header; reload the page"
                                    .into(),
                            }));
                        }
                    }
                    authenticate(&state, &OpaqueToken::from_client(&token).hash())
                        .await
                        .map_err(reject)
                }
            },
        )
}

/// The live session for a token hash; extends its idle expiry at most
/// once a minute (not a write per request).
async fn authenticate(state: &AppState, hash: &TokenHash) -> Result<Authed, Error> {
    let store = state.engine().store();
    let now = state.engine().now();
    let s = store.session(hash, now).await.map_err(|e| match e {
        Error::Unauthorized { .. } | Error::NotFound { .. } => {
            Error::unauthorized("your session has ended; sign in again")
        }
        other => other,
    })?;
    let idle = session::chrono_dur(state.config().session_idle);
    if s.idle_expires_at - now < idle - chrono::Duration::minutes(1) {
        store.touch_session(hash, now, now + idle).await?;
    }
    Ok(Authed {
        user: s.user,
        session: s.hash,
        absolute_expires_at: s.absolute_expires_at,
    })
}

/// A query string whose unknown or malformed keys are a 400 naming them.
fn strict_query<T: DeserializeOwned + Send + 'static>()
-> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .and_then(|raw: String| async move {
            serde_urlencoded::from_str::<T>(&raw)
                .map_err(|e| reject(Error::invalid(format!("query string: {e}"))))
        })
}

/// A JSON body of at most [`MAX_JSON_BODY`] bytes (a larger one is 413
/// before it is read) parsed strictly: unknown fields refused, errors with
/// line and column. An empty body is `{}` when `empty_ok`.
fn json_body<T: DeserializeOwned + Send + 'static>(
    empty_ok: bool,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(MAX_JSON_BODY)
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::bytes())
        .and_then(
            move |content_type: Option<String>, body: Bytes| async move {
                let body: &[u8] = if empty_ok && body.iter().all(u8::is_ascii_whitespace) {
                    b"{}"
                } else {
                    if !content_type.as_deref().is_some_and(is_json) {
                        return Err(reject(Error::invalid(
                            "send the body as JSON with Content-Type: application/json",
                        )));
                    }
                    &body
                };
                parse_json(body).map_err(reject)
            },
        )
}

/// Strict JSON with the failing field's path in the message (`seed:
/// invalid value: integer -1, expected u64 at line 1 column 11`).
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize::<_, T>(&mut json).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        Error::invalid(format!("request body: {at}{}", e.into_inner()))
    })?;
    json.end()
        .map_err(|e| Error::invalid(format!("request body: {e}")))?;
    Ok(value)
}

pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The conditional and range headers of a PNG request.
fn conditions() -> impl Filter<Extract = (art::Conditions,), Error = Rejection> + Clone {
    warp::header::optional::<String>("if-none-match")
        .and(warp::header::optional::<String>("range"))
        .and(warp::header::optional::<String>("if-range"))
        .map(|if_none_match, range, if_range| art::Conditions {
            if_none_match,
            range,
            if_range,
        })
}
