//! What each route does: parse, call the engine, write the wire type.
//! Handlers return the core error (as a rejection) and leave status codes
//! and the error body to [`super::error::recover`].
//!
//! Authorization is the core's (`spotifyart_core::access`): a user reads
//! only their own mood, gallery and jobs and the matches and artworks they
//! are in; anything else is 404, exactly as if it did not exist.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;

use bytes::Bytes;
use serde::Serialize;
use spotifyart_core::engine::{subject_one, subject_pair};
use spotifyart_core::store::{Invite, OpaqueToken, PendingSignIn};
use spotifyart_core::{ArtParams, ArtTicket, ArtworkId, Error, JobId, MatchId, TimeRange, access};
use spotifyart_spotify::{COVER_SCOPES, LISTENING_SCOPES, sign_in};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::AppState;
use super::art::{Conditions, png_response};
use super::error::reject;
use super::session::{self, Authed};
use super::wire::*;

pub(crate) type Res = Result<Response, Rejection>;

pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response {
    let mut r = warp::reply::with_status(warp::reply::json(body), status).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut r = Response::new(Bytes::new().into());
    *r.status_mut() = StatusCode::SEE_OTHER;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    with_cookies(r, cookies)
}

fn with_cookies(mut r: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// An id from the path; a malformed one is as unknown as a missing one.
pub(crate) fn path_id<T: FromStr>(raw: &str, what: &str) -> Result<T, Rejection> {
    raw.parse()
        .map_err(|_| reject(Error::not_found(format!("{what} {raw}"))))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
pub async fn healthz() -> Res {
    let mut r = Response::new(Bytes::from_static(b"ok\n").into());
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(state: AppState) -> Res {
    let store = state.engine().store();
    let database = store.backend().to_string();
    Ok(match store.ping().await {
        Ok(()) => json(
            StatusCode::OK,
            &Readiness {
                status: "ready",
                database,
                error: None,
            },
        ),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                &Readiness {
                    status: "unavailable",
                    database,
                    error: Some("the database does not answer".into()),
                },
            )
        }
    })
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "OpenMetrics text")))]
pub async fn metrics(state: AppState) -> Res {
    let mut r = Response::new(state.metrics().render().into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(r)
}

/// Starts a Spotify sign-in: 303 to Spotify's consent page with `state`
/// and a PKCE S256 challenge, both bound to this browser by a cookie.
#[utoipa::path(get, path = "/auth/spotify/login",
    params(("next" = Option<String>, Query, description = "local page to return to"),
        ("consent" = Option<String>, Query, description = "`playlists`: also ask to upload covers and change playlists")),
    responses((status = 303, description = "to Spotify"), (status = 429, body = super::error::ErrorBody)))]
pub async fn login(state: AppState, ip: IpAddr, query: HashMap<String, String>) -> Res {
    state.limits().login(ip).await.map_err(reject)?;
    let auth = state.auth().ok_or_else(|| {
        reject(Error::NotSupported {
            message: "Spotify sign-in is not configured on this server (SPOTIFY_CLIENT_ID)".into(),
        })
    })?;
    // Playlist consent is asked for only when the user chose covers or
    // schedules (`consent=playlists`), never at every sign-in.
    let mut scopes = LISTENING_SCOPES.to_vec();
    match query.get("consent").map(String::as_str) {
        None => {}
        Some("playlists") => {
            for s in COVER_SCOPES {
                if !scopes.contains(s) {
                    scopes.push(s);
                }
            }
        }
        Some(other) => {
            return Err(reject(Error::invalid(format!(
                "consent {other:?} is not one SpotifyArt asks for; use consent=playlists"
            ))));
        }
    }
    let request = auth.authorize(&scopes);
    use secrecy::ExposeSecret;
    let now = state.engine().now();
    let pending = PendingSignIn {
        state_hash: OpaqueToken::from_client(request.state.expose_secret()).hash(),
        verifier: request.pkce_verifier.clone(),
        next: session::local_path(query.get("next").map_or("/discover", String::as_str)),
        created_at: now,
        expires_at: now + session::chrono_dur(session::OAUTH_TTL),
    };
    state
        .engine()
        .store()
        .create_sign_in(&pending, now)
        .await
        .map_err(reject)?;
    let cookie = session::oauth_cookie(state.config(), request.state.expose_secret());
    Ok(redirect(request.url.as_str(), &[cookie]))
}

/// Spotify's redirect back. Checks `state` against this browser's cookie,
/// takes the sign-in it names from the store (once, whichever server the
/// callback reaches: a replay is refused), exchanges the code with the PKCE
/// verifier, stores the tokens encrypted and signs the browser in, ending
/// any session the browser had. Every failure goes back to the sign-in
/// page with an error code and nothing stored.
#[utoipa::path(get, path = "/auth/spotify/callback", responses(
    (status = 303, description = "to the page the sign-in started from, or to /?error=CODE")))]
pub async fn callback(
    state: AppState,
    query: HashMap<String, String>,
    cookie: Option<String>,
    previous: Option<String>,
) -> Res {
    let config = state.config();
    let store = state.engine().store();
    let clear = session::clear_oauth_cookie(config);
    let fail = |code: &str| {
        Ok(redirect(
            &format!("/?error={code}"),
            std::slice::from_ref(&clear),
        ))
    };
    let Some(started) = cookie.as_deref().and_then(session::oauth_state) else {
        tracing::warn!("sign-in callback without this browser's sign-in cookie");
        return fail("signin_expired");
    };
    let returned = query.get("state").map(String::as_str).unwrap_or("");
    if !session::same_secret(started, returned) {
        tracing::warn!("sign-in callback with a state that is not this browser's");
        return fail("state_mismatch");
    }
    let now = state.engine().now();
    let pending = match store
        .take_sign_in(&OpaqueToken::from_client(started).hash(), now)
        .await
    {
        Ok(p) => p,
        Err(Error::NotFound { .. }) => {
            tracing::warn!("sign-in callback replayed (or its sign-in expired)");
            return fail("state_reused");
        }
        Err(e) => {
            tracing::warn!(error = %e, "sign-in callback: the store failed");
            return fail("unavailable");
        }
    };
    if let Some(error) = query.get("error") {
        let code = if error == "access_denied" {
            "access_denied"
        } else {
            "spotify_error"
        };
        return fail(code);
    }
    let Some(code) = query.get("code").filter(|c| !c.is_empty()) else {
        return fail("no_code");
    };
    let Some(auth) = state.auth() else {
        return fail("not_configured");
    };
    let signed_in = async {
        let user = sign_in(auth, store, code, &pending.verifier, now)
            .await?
            .user;
        // Whoever was signed in in this browser before is signed out.
        if let Some(old) = previous.filter(|t| !t.is_empty()) {
            store
                .revoke_session(&OpaqueToken::from_client(&old).hash())
                .await?;
        }
        let (token, new) = session::new_session(config, user.id, now);
        store.create_session(&new).await?;
        // Signed in again: schedules paused by a withdrawn access resume.
        store.pause_schedules(user.id, None).await?;
        tracing::info!(user = %user.id, "signed in");
        Ok::<_, Error>(token)
    }
    .await;
    match signed_in {
        Ok(token) => {
            let [s, c] = session::session_cookies(config, &token);
            Ok(redirect(&pending.next, &[s, c, clear.clone()]))
        }
        Err(e) => {
            tracing::warn!(error = %e, "sign-in failed");
            fail(match e {
                Error::UpstreamBusy { .. } => "spotify_busy",
                Error::Upstream { .. } => "spotify_unavailable",
                Error::Storage { .. } | Error::StorageFull { .. } => "unavailable",
                _ => "exchange_failed",
            })
        }
    }
}

/// Replaces the session token (the old one stops working at once); the
/// session's absolute expiry is kept.
#[utoipa::path(post, path = "/auth/refresh", responses(
    (status = 204, description = "new cookies set"), (status = 401, body = super::error::ErrorBody)))]
pub async fn refresh(state: AppState, authed: Authed) -> Res {
    state.limits().refresh(authed.user).await.map_err(reject)?;
    let config = state.config();
    let now = state.engine().now();
    let (token, mut new) = session::new_session(config, authed.user, now);
    new.absolute_expires_at = authed.absolute_expires_at;
    new.idle_expires_at = new.idle_expires_at.min(new.absolute_expires_at);
    state
        .engine()
        .store()
        .rotate_session(&authed.session, &new, now)
        .await
        .map_err(reject)?;
    let mut r = Response::new(Bytes::new().into());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(with_cookies(r, &session::session_cookies(config, &token)))
}

/// Ends the session.
#[utoipa::path(post, path = "/auth/logout", responses((status = 204, description = "signed out")))]
pub async fn logout(state: AppState, authed: Authed) -> Res {
    state
        .engine()
        .store()
        .revoke_session(&authed.session)
        .await
        .map_err(reject)?;
    let mut r = Response::new(Bytes::new().into());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(with_cookies(
        r,
        &session::clear_session_cookies(state.config()),
    ))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = Me), (status = 401, body = super::error::ErrorBody)))]
pub async fn me(state: AppState, authed: Authed) -> Res {
    let user = state
        .engine()
        .store()
        .user(authed.user)
        .await
        .map_err(reject)?;
    Ok(json(
        StatusCode::OK,
        &Me {
            id: user.id.0,
            display_name: user.display_name,
        },
    ))
}

fn time_range(raw: Option<&str>) -> Result<Option<TimeRange>, Rejection> {
    raw.map(TimeRange::from_str).transpose().map_err(reject)
}

/// The signed-in user's mood: the stored one when computed within the
/// hour, else from their Spotify listening now; while Spotify fails or
/// limits this app, the stored one whatever its age (`computed_at` says).
/// 503 `upstream_busy` (with `Retry-After`) when Spotify limits this app
/// and no mood is stored.
#[utoipa::path(get, path = "/api/v1/music/mood", params(MoodQuery), responses(
    (status = 200, body = MoodResponse), (status = 401, body = super::error::ErrorBody),
    (status = 502, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn mood(state: AppState, authed: Authed, query: MoodQuery) -> Res {
    if query.refresh {
        // A GET changes nothing (a cross-site link can make one).
        return Err(reject(Error::invalid(
            "refresh with POST /api/v1/music/mood/refresh",
        )));
    }
    let range = time_range(query.time_range.as_deref())?;
    let snapshot = state
        .engine()
        .current_mood(authed.user, range, state.config().mood_max_age)
        .await
        .map_err(reject)?;
    Ok(json(StatusCode::OK, &MoodResponse::from(snapshot)))
}

/// Reads the user's listening from Spotify now and recomputes their mood
/// (stored only when it changed).
#[utoipa::path(post, path = "/api/v1/music/mood/refresh", request_body = MoodRefresh, responses(
    (status = 200, body = MoodResponse), (status = 401, body = super::error::ErrorBody),
    (status = 429, body = super::error::ErrorBody), (status = 502, body = super::error::ErrorBody),
    (status = 503, body = super::error::ErrorBody)))]
pub async fn refresh_mood(state: AppState, authed: Authed, body: MoodRefresh) -> Res {
    let range = time_range(body.time_range.as_deref())?;
    state
        .limits()
        .mood_refresh(authed.user)
        .await
        .map_err(reject)?;
    let snapshot = state
        .engine()
        .refresh_mood(authed.user, range)
        .await
        .map_err(reject)?;
    Ok(json(StatusCode::OK, &MoodResponse::from(snapshot)))
}

/// Creates an invite to match: for anyone who signs in with Spotify, or
/// (with a service and username) for that ListenBrainz or Last.fm user
/// only, whose public listening is checked to exist first.
#[utoipa::path(post, path = "/api/v1/matches", request_body = InviteBody, responses(
    (status = 201, body = InviteResponse), (status = 400, body = super::error::ErrorBody),
    (status = 401, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn create_invite(state: AppState, authed: Authed, body: InviteBody) -> Res {
    let addressee = super::invitees::addressee(&state, body).await?;
    let now = state.engine().now();
    let code = OpaqueToken::generate();
    let expires_at = now + session::chrono_dur(state.config().invite_ttl);
    state
        .engine()
        .store()
        .create_invite(&Invite {
            hash: code.hash(),
            inviter: authed.user,
            created_at: now,
            expires_at,
            accepted_by: None,
            match_id: None,
            addressee: addressee.clone(),
        })
        .await
        .map_err(reject)?;
    Ok(json(
        StatusCode::CREATED,
        &InviteResponse {
            url: state.config().url(&format!("/match/{}", code.expose())),
            invite: code.expose().to_string(),
            expires_at,
            addressee: addressee.map(|a| AddresseeView {
                provider: a.provider,
                username: a.name,
            }),
        },
    ))
}

/// Accepts an invite: compares the two people's listening and stores the
/// match (once; a used or expired invite is 409).
#[utoipa::path(post, path = "/api/v1/matches/{invite}/accept", params(("invite" = String, Path)),
    responses((status = 201, body = MatchView), (status = 404, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody)))]
pub async fn accept_invite(invite: String, state: AppState, authed: Authed) -> Res {
    let record = state
        .engine()
        .accept_invite(&OpaqueToken::from_client(&invite).hash(), authed.user)
        .await
        .map_err(reject)?;
    Ok(json(StatusCode::CREATED, &MatchView::from(&record)))
}

/// The matches the user is part of.
#[utoipa::path(get, path = "/api/v1/matches", responses((status = 200, body = MatchList)))]
pub async fn list_matches(state: AppState, authed: Authed) -> Res {
    let matches = state
        .engine()
        .store()
        .matches_for(authed.user)
        .await
        .map_err(reject)?;
    Ok(json(
        StatusCode::OK,
        &MatchList {
            matches: matches.iter().map(MatchView::from).collect(),
        },
    ))
}

/// One match the user is part of.
#[utoipa::path(get, path = "/api/v1/matches/{id}", params(("id" = String, Path)),
    responses((status = 200, body = MatchView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_match(id: String, state: AppState, authed: Authed) -> Res {
    let id: MatchId = path_id(&id, "match")?;
    let record = state
        .engine()
        .match_for(authed.user, id)
        .await
        .map_err(reject)?;
    Ok(json(StatusCode::OK, &MatchView::from(&record)))
}

/// Paints the user's mood, or a match they are in: 200 with the artwork
/// when that exact picture was painted before, else 202 with a job to
/// poll (10 new paintings an hour per user).
#[utoipa::path(post, path = "/api/v1/ai/art", request_body = ArtBody, responses(
    (status = 200, body = ArtReady), (status = 202, body = ArtQueued),
    (status = 400, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub async fn create_art(state: AppState, authed: Authed, body: ArtBody) -> Res {
    let engine = state.engine();
    let config = state.config();
    let model = offered_model(&state, body.model.clone())?;
    let subject = match body.match_id {
        Some(id) => {
            let record = engine
                .match_for(authed.user, MatchId(id))
                .await
                .map_err(reject)?;
            subject_pair(&record.result, Some(record.id), record.users.to_vec())
        }
        None => {
            let mood = engine
                .current_mood(authed.user, None, config.mood_max_age)
                .await
                .map_err(reject)?
                .mood;
            subject_one(Some(authed.user), mood)
        }
    };
    let params = ArtParams {
        model: Some(model),
        seed: body.seed,
        steps: body.steps,
        guidance: body.guidance,
        width: body.width,
        height: body.height,
        style: body.style,
        negative_prompt: None,
    };
    let art = engine.prepare(subject, &params).map_err(reject)?;
    queue_art(&state, authed.user, &art).await
}

/// The model a request asked for (the default when none), if offered here.
pub(crate) fn offered_model(state: &AppState, asked: Option<String>) -> Result<String, Rejection> {
    let config = state.config();
    let model = asked.unwrap_or_else(|| config.default_model.clone());
    if !config.models.contains(&model) {
        return Err(reject(Error::invalid(format!(
            "model {model:?} is not offered here; use one of: {}",
            config.models.join(", ")
        ))));
    }
    Ok(model)
}

/// 200 with the artwork when `art` was painted before, else 202 with the
/// job that paints it. Asking again for a picture painted or queued before
/// is free; only a new painting counts against the user's allowance.
pub(crate) async fn queue_art(
    state: &AppState,
    user: spotifyart_core::UserId,
    art: &spotifyart_core::PreparedArt,
) -> Res {
    let engine = state.engine();
    let ticket = match engine.existing_art(art).await.map_err(reject)? {
        Some(ticket) => ticket,
        None => {
            state.limits().art(user).await.map_err(reject)?;
            engine.request_art(art, Some(user)).await.map_err(reject)?
        }
    };
    match ticket {
        ArtTicket::Ready(meta) => {
            state.metrics().art("cached");
            Ok(json(
                StatusCode::OK,
                &ArtReady {
                    artwork: ArtworkView::from(&meta),
                },
            ))
        }
        ArtTicket::Queued(job) => {
            state.metrics().art("queued");
            let status_url = format!("/api/v1/jobs/{}", job.id);
            let mut r = json(
                StatusCode::ACCEPTED,
                &ArtQueued {
                    job_id: job.id.0,
                    status_url: status_url.clone(),
                    job: JobView::from(&job),
                },
            );
            if let Ok(v) = HeaderValue::from_str(&status_url) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            Ok(r)
        }
    }
}

/// A painting job the user asked for (or that paints them).
#[utoipa::path(get, path = "/api/v1/jobs/{id}", params(("id" = String, Path)),
    responses((status = 200, body = JobView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_job(id: String, state: AppState, authed: Authed) -> Res {
    let job_id: JobId = path_id(&id, "job")?;
    let job = state
        .engine()
        .job_for(authed.user, job_id)
        .await
        .map_err(reject)?;
    Ok(json(StatusCode::OK, &JobView::from(&job)))
}

/// `/api/v1/art/{id}` (metadata) and `/api/v1/art/{id}.png` (the picture).
#[utoipa::path(get, path = "/api/v1/art/{id}", params(("id" = String, Path, description = "id, or id.png for the PNG")),
    responses((status = 200, body = ArtworkView), (status = 206, description = "a byte range of the PNG"),
    (status = 304, description = "not modified"), (status = 404, body = super::error::ErrorBody)))]
pub async fn artwork(id: String, state: AppState, authed: Authed, conditions: Conditions) -> Res {
    let (raw, png) = match id.strip_suffix(".png") {
        Some(raw) => (raw, true),
        None => (id.as_str(), false),
    };
    let art_id: ArtworkId = path_id(raw, "artwork")?;
    let cached = match state.art_cache().get(art_id) {
        Some(hit) => hit,
        None => {
            let a = state
                .engine()
                .store()
                .artwork(art_id)
                .await
                .map_err(reject)?;
            state.art_cache().put(a.meta, Bytes::from(a.png))
        }
    };
    let (meta, bytes) = &*cached;
    if !access::may_see_artwork(meta, authed.user) {
        return Err(reject(Error::not_found(format!("artwork {art_id}"))));
    }
    if !png {
        return Ok(json(StatusCode::OK, &ArtworkView::from(meta)));
    }
    Ok(png_response(bytes.clone(), &meta.sha256, &conditions))
}

/// The artworks the user is in, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/gallery", params(GalleryQuery), responses((status = 200, body = Gallery)))]
pub async fn gallery(state: AppState, authed: Authed, query: GalleryQuery) -> Res {
    let limit = query.limit.unwrap_or(24);
    if !(1..=100).contains(&limit) {
        return Err(reject(Error::invalid("limit must be between 1 and 100")));
    }
    let mut artworks = state
        .engine()
        .store()
        .artworks_for(authed.user, query.before, limit + 1)
        .await
        .map_err(reject)?;
    let next_before = (artworks.len() > limit).then(|| artworks[limit - 1].created_at);
    artworks.truncate(limit);
    Ok(json(
        StatusCode::OK,
        &Gallery {
            artworks: artworks.iter().map(ArtworkView::from).collect(),
            next_before,
        },
    ))
}
