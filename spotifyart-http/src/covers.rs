//! Playlist covers and weekly playlist tasks: list the user's own
//! playlists, paint one's cover as a job, set a painting as the cover, and
//! the schedules. Parse, call the engine, write the wire type, as in
//! [`super::handlers`]; the consent rule lives in the engine.

use spotifyart_core::store::ScheduledTask;
use spotifyart_core::{ArtParams, ArtworkId, ScheduleId};
use warp::http::StatusCode;

use super::AppState;
use super::error::reject;
use super::handlers::{Res, json, offered_model, path_id, queue_art};
use super::session::Authed;
use super::wire::*;

/// Where the page sends a user to allow covers and playlist changes: a
/// sign-in for those scopes only, back to the covers card.
pub const CONSENT_URL: &str = "/auth/spotify/login?consent=playlists&next=/discover%23covers";

/// The user's own playlists and whether they allowed changing them.
#[utoipa::path(get, path = "/api/v1/playlists", responses(
    (status = 200, body = PlaylistList), (status = 401, body = super::error::ErrorBody),
    (status = 502, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn playlists(state: AppState, authed: Authed) -> Res {
    let (consent, list) = state
        .engine()
        .own_playlists(authed.user)
        .await
        .map_err(reject)?;
    Ok(json(
        StatusCode::OK,
        &PlaylistList {
            consent,
            consent_url: CONSENT_URL.into(),
            playlists: list
                .into_iter()
                .map(|p| PlaylistView {
                    id: p.id,
                    name: p.name,
                    tracks: p.tracks,
                    image_url: p.image_url,
                })
                .collect(),
        },
    ))
}

/// Paints a playlist's cover from its music's mood: 200 with the artwork
/// when painted before, else 202 with a job to poll (counted against the
/// same allowance as other paintings). Nothing is sent to Spotify.
#[utoipa::path(post, path = "/api/v1/playlists/{id}/cover", params(("id" = String, Path)),
    request_body = CoverBody, responses(
    (status = 200, body = ArtReady), (status = 202, body = ArtQueued),
    (status = 401, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
    (status = 429, body = super::error::ErrorBody), (status = 502, body = super::error::ErrorBody),
    (status = 503, body = super::error::ErrorBody)))]
pub async fn paint_cover(id: String, state: AppState, authed: Authed, body: CoverBody) -> Res {
    let params = ArtParams {
        model: Some(offered_model(&state, body.model)?),
        seed: body.seed,
        style: body.style,
        ..ArtParams::default()
    };
    let (_, art) = state
        .engine()
        .prepare_cover(authed.user, &id, &params)
        .await
        .map_err(reject)?;
    queue_art(&state, authed.user, &art).await
}

/// Sets one of the user's paintings as the playlist's cover (a JPEG that
/// fits Spotify's 256 KB limit). 403 without the playlist consent or for
/// a playlist that is not theirs.
#[utoipa::path(put, path = "/api/v1/playlists/{id}/cover", params(("id" = String, Path)),
    request_body = CoverUpload, responses(
    (status = 200, body = CoverSet), (status = 401, body = super::error::ErrorBody),
    (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
    (status = 502, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn set_cover(id: String, state: AppState, authed: Authed, body: CoverUpload) -> Res {
    let artwork = ArtworkId(body.artwork_id);
    let cover = state
        .engine()
        .set_cover_from(authed.user, &id, artwork)
        .await
        .map_err(reject)?;
    Ok(json(
        StatusCode::OK,
        &CoverSet {
            playlist: id,
            artwork_id: artwork.0,
            side: cover.side,
            quality: cover.quality,
            bytes: cover.bytes.len(),
        },
    ))
}

/// The user's weekly playlist tasks.
#[utoipa::path(get, path = "/api/v1/schedules", responses((status = 200, body = ScheduleList),
    (status = 401, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn schedules(state: AppState, authed: Authed) -> Res {
    let all = state
        .engine()
        .store()
        .schedules_for(authed.user)
        .await
        .map_err(reject)?;
    Ok(json(
        StatusCode::OK,
        &ScheduleList {
            schedules: all.iter().map(ScheduleView::from).collect(),
        },
    ))
}

/// Adds a weekly task, first run at the workers' next poll. 403 without
/// the playlist consent, 409 when the same task exists.
#[utoipa::path(post, path = "/api/v1/schedules", request_body = ScheduleBody, responses(
    (status = 201, body = ScheduleView), (status = 400, body = super::error::ErrorBody),
    (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn add_schedule(state: AppState, authed: Authed, body: ScheduleBody) -> Res {
    let task = match body {
        ScheduleBody::Cover { playlist } => ScheduledTask::Cover { playlist },
        ScheduleBody::Archive { from, to } => ScheduledTask::Archive { from, to },
    };
    let added = state
        .engine()
        .add_schedule(authed.user, task)
        .await
        .map_err(reject)?;
    Ok(json(StatusCode::CREATED, &ScheduleView::from(&added)))
}

/// Stops one of the user's schedules (another's is 404).
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", params(("id" = String, Path)), responses(
    (status = 204, description = "removed"), (status = 401, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn remove_schedule(id: String, state: AppState, authed: Authed) -> Res {
    let id: ScheduleId = path_id(&id, "schedule")?;
    state
        .engine()
        .remove_schedule(authed.user, id)
        .await
        .map_err(reject)?;
    let mut r = warp::reply::Response::new(bytes::Bytes::new().into());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}
