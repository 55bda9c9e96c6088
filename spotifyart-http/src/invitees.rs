//! Whom an invite is for: a user of ListenBrainz or Last.fm named by the
//! inviter, whose public listening must exist and be readable.

use spotifyart_core::store::Addressee;
use spotifyart_core::{Error, ListeningProfile};
use spotifyart_scrobbles::{lastfm, listenbrainz};

use super::AppState;
use super::error::reject;
use super::wire::InviteBody;

/// Whom an invite is for: nobody in particular (an empty body), or a
/// user of a configured service whose public listening can be read.
pub(crate) async fn addressee(
    state: &AppState,
    body: InviteBody,
) -> Result<Option<Addressee>, warp::Rejection> {
    let (provider, username) = match (body.provider, body.username) {
        (None, None) => return Ok(None),
        (Some(p), Some(u)) => (p, u.trim().to_string()),
        _ => {
            return Err(reject(Error::invalid(
                "give both provider (listenbrainz or lastfm) and username, or neither",
            )));
        }
    };
    public_profile(state, &provider, &username)
        .await
        .map_err(reject)?;
    Ok(Some(Addressee {
        provider,
        name: username,
    }))
}

/// The user's public listening, which proves the name exists and is
/// readable (an unknown user is a 404 naming them; a private one a 403).
async fn public_profile(
    state: &AppState,
    provider: &str,
    username: &str,
) -> spotifyart_core::Result<ListeningProfile> {
    let off = |service: &str| Error::NotSupported {
        message: format!("{service} users cannot be invited on this server (not configured)"),
    };
    match provider {
        listenbrainz::PROVIDER => {
            let client = state
                .scrobbles()
                .listenbrainz
                .as_ref()
                .ok_or_else(|| off("ListenBrainz"))?;
            client.profile(username).await
        }
        lastfm::PROVIDER => {
            let client = state
                .scrobbles()
                .lastfm
                .as_ref()
                .ok_or_else(|| off("Last.fm"))?;
            client.profile(username).await
        }
        other => Err(Error::invalid(format!(
            "provider {other:?} is not one users can be invited from; use listenbrainz or lastfm"
        ))),
    }
}
