//! The accounts service: `/authorize` (consent, answered at once with a
//! redirect) and `/api/token` (code and refresh grants), strict where
//! Spotify is (PKCE S256, single-use codes, exact redirect URIs, client
//! authentication) so the client's sign-in is tested against the rules it
//! will meet, with the accounts service's own error shape.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use http::{HeaderMap, Response, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

use super::reply::{Reply, json_reply};
use super::state::{CodeGrant, State};

/// The accounts service's error shape.
fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    json_reply(
        StatusCode::from_u16(status).expect("status"),
        &json!({ "error": error, "error_description": description }),
    )
}

/// `GET /authorize`: the user has already consented (or, with
/// `deny_consent`, refused), so it redirects straight back.
pub(super) fn authorize(s: &mut State, q: &HashMap<String, String>) -> Reply {
    let text = |status: u16, msg: &str| {
        Response::builder()
            .status(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(msg.as_bytes().to_vec())
            .expect("response")
    };
    let Some(app) = q
        .get("client_id")
        .and_then(|id| s.apps.iter().find(|a| &a.client_id == id))
        .cloned()
    else {
        return text(400, "INVALID_CLIENT: Invalid client");
    };
    let Some(redirect) = q
        .get("redirect_uri")
        .filter(|r| app.redirect_uris.contains(r))
        .cloned()
    else {
        return text(400, "INVALID_CLIENT: Invalid redirect URI");
    };
    let mut back = Url::parse(&redirect).expect("registered URIs are URLs");
    let state_param = q.get("state").cloned();
    let mut redirect_with = |pairs: &[(&str, &str)]| {
        {
            let mut qp = back.query_pairs_mut();
            qp.extend_pairs(pairs);
            if let Some(st) = &state_param {
                qp.append_pair("state", st);
            }
        }
        Response::builder()
            .status(302)
            .header("location", back.as_str())
            .body(Vec::new())
            .expect("response")
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return redirect_with(&[("error", "unsupported_response_type")]);
    }
    let challenge = q.get("code_challenge").cloned();
    match (
        challenge.as_ref(),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(_), Some("S256")) => {}
        (Some(_), _) => return redirect_with(&[("error", "invalid_request")]),
        (None, _) if app.client_secret.is_none() => {
            return redirect_with(&[("error", "invalid_request")]);
        }
        (None, _) => {}
    }
    if s.deny {
        return redirect_with(&[("error", "access_denied")]);
    }
    let Some(user) = s
        .approve_as
        .clone()
        .or_else(|| s.users.first().map(|u| u.id.clone()))
    else {
        return text(500, "fake: no users");
    };
    let code = s.next_token("AQC");
    s.codes.insert(
        code.clone(),
        CodeGrant {
            client_id: app.client_id.clone(),
            redirect_uri: redirect.clone(),
            challenge,
            user,
            scopes: q.get("scope").cloned().unwrap_or_default(),
            expires: Utc::now() + chrono::Duration::minutes(10),
        },
    );
    redirect_with(&[("code", &code)])
}

/// `POST /api/token`: the `authorization_code` and `refresh_token` grants.
pub(super) fn token(s: &mut State, headers: &HeaderMap, body: &[u8]) -> Reply {
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error(
            400,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    // Client authentication: HTTP Basic, or client_id (+ secret) in the body.
    let (client_id, secret) = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(h) if h.starts_with("Basic ") => {
            let decoded = STANDARD
                .decode(&h[6..])
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            match decoded.as_deref().and_then(|d| d.split_once(':')) {
                Some((id, secret)) => (
                    url::form_urlencoded::parse(id.as_bytes())
                        .map(|(k, _)| k.into_owned())
                        .next()
                        .unwrap_or_default(),
                    Some(
                        url::form_urlencoded::parse(secret.as_bytes())
                            .map(|(k, _)| k.into_owned())
                            .next()
                            .unwrap_or_default(),
                    ),
                ),
                None => return oauth_error(400, "invalid_client", "Invalid client"),
            }
        }
        _ => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned(),
        ),
    };
    let Some(app) = s.apps.iter().find(|a| a.client_id == client_id).cloned() else {
        return oauth_error(400, "invalid_client", "Invalid client");
    };
    match (&app.client_secret, &secret) {
        (Some(expected), Some(given)) if expected != given => {
            return oauth_error(400, "invalid_client", "Invalid client secret");
        }
        (None, Some(_)) => return oauth_error(400, "invalid_client", "Invalid client secret"),
        _ => {}
    }
    let authenticated = app.client_secret.is_some() && secret.is_some();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(grant) = form.get("code").and_then(|c| s.codes.remove(c)) else {
                return oauth_error(400, "invalid_grant", "Invalid authorization code");
            };
            if grant.expires < Utc::now() {
                return oauth_error(400, "invalid_grant", "Authorization code expired");
            }
            if grant.client_id != app.client_id {
                return oauth_error(400, "invalid_grant", "Invalid authorization code");
            }
            if form.get("redirect_uri") != Some(&grant.redirect_uri) {
                return oauth_error(400, "invalid_grant", "Invalid redirect URI");
            }
            match (&grant.challenge, form.get("code_verifier")) {
                (Some(challenge), Some(verifier)) => {
                    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
                        return oauth_error(400, "invalid_grant", "code_verifier was incorrect");
                    }
                }
                (Some(_), None) => {
                    return oauth_error(400, "invalid_request", "code_verifier required");
                }
                (None, _) if !authenticated => {
                    return oauth_error(400, "invalid_client", "Invalid client");
                }
                (None, _) => {}
            }
            let (access, refresh, _) = s.issue(&grant.user, &app.client_id, &grant.scopes, true);
            json_reply(
                StatusCode::OK,
                &json!({
                    "access_token": access,
                    "token_type": "Bearer",
                    "scope": grant.scopes,
                    "expires_in": s.token_lifetime,
                    "refresh_token": refresh,
                }),
            )
        }
        Some("refresh_token") => {
            let given = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(grant) = s.refresh.get(&given).cloned() else {
                return oauth_error(400, "invalid_grant", "Refresh token revoked");
            };
            if grant.client_id != app.client_id {
                return oauth_error(400, "invalid_grant", "Invalid refresh token");
            }
            let rotate = s.rotate_refresh;
            if rotate {
                s.refresh.remove(&given);
            }
            let (access, refresh, _) = s.issue(&grant.user, &app.client_id, &grant.scopes, rotate);
            let mut body = json!({
                "access_token": access,
                "token_type": "Bearer",
                "scope": grant.scopes,
                "expires_in": s.token_lifetime,
            });
            if let Some(r) = refresh {
                body["refresh_token"] = json!(r);
            }
            json_reply(StatusCode::OK, &body)
        }
        _ => oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}
