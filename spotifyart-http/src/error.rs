//! The one place failures become responses: the core [`Error`] (wrapped
//! as a warp rejection by handlers and filters) and warp's own rejections
//! map to a status code and `{"error": {"code", "message"}}`.

use std::convert::Infallible;
use std::time::Duration;

use serde::Serialize;
use spotifyart_core::Error;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Rejection, Reply};

/// A core error on its way to [`recover`].
#[derive(Debug)]
pub struct ApiError(pub Error);

impl warp::reject::Reject for ApiError {}

/// Rejects with a core error.
pub fn reject(e: Error) -> Rejection {
    warp::reject::custom(ApiError(e))
}

/// What a 5xx hid from the client, for the access log (which has the
/// request id); travels as a response extension.
#[derive(Clone, Debug)]
pub(crate) struct Detail(pub String);

/// The JSON error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorInfo,
}

/// Code and message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorInfo {
    /// Stable machine-readable code (`not_found`, `rate_limited`,
    /// `upstream_busy`, ...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

/// The status a core error is answered with.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::AlreadyExists { .. } | Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::Unauthorized { .. } | Error::Revoked { .. } => StatusCode::UNAUTHORIZED,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::InvalidInput { .. } | Error::NotSupported { .. } => StatusCode::BAD_REQUEST,
        Error::Upstream { .. } => StatusCode::BAD_GATEWAY,
        // Spotify (or another service) limiting this app is not the
        // caller's doing: not a 429, which would say they sent too much.
        Error::UpstreamBusy { .. }
        | Error::Storage { .. }
        | Error::StorageFull { .. }
        | Error::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A complete error response for a core error. Server-side failures keep
/// their detail out of the body (it goes to the log with the request id).
pub fn error_response(e: &Error) -> Response {
    let status = status_of(e);
    let message = match e {
        Error::Storage { .. } => "the database is unavailable; try again shortly".to_string(),
        Error::StorageFull { .. } => {
            "the server is out of storage space, so nothing was saved; try again later".to_string()
        }
        Error::UpstreamBusy {
            service,
            retry_after,
            ..
        } => {
            let when = match retry_after {
                Some(after) => format!("in {}s", whole_seconds(*after)),
                None => "later".into(),
            };
            format!(
                "{} is limiting our requests; try again {when}",
                service_name(service)
            )
        }
        Error::Io { .. } | Error::Internal { .. } => {
            "internal error; the request id is in the X-Request-Id header".to_string()
        }
        other => other.to_string(),
    };
    let mut response = body(status, e.code(), message);
    if let Some(after) = e.retry_after() {
        set_retry_after(&mut response, after);
    }
    if status.is_server_error() {
        response.extensions_mut().insert(Detail(format!("{e:#}")));
    }
    response
}

pub(crate) fn set_retry_after(response: &mut Response, after: Duration) {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(whole_seconds(after)));
}

/// `after` rounded up to whole seconds, at least one.
fn whole_seconds(after: Duration) -> u64 {
    (after.as_secs() + u64::from(after.subsec_nanos() > 0)).max(1)
}

/// A service's name for people, from the name errors carry.
fn service_name(service: &str) -> &str {
    match service {
        "spotify" => "Spotify",
        "listenbrainz" => "ListenBrainz",
        "lastfm" => "Last.fm",
        _ => "A service we depend on",
    }
}

fn body(status: StatusCode, code: &'static str, message: String) -> Response {
    let mut response = warp::reply::with_status(
        warp::reply::json(&ErrorBody {
            error: ErrorInfo { code, message },
        }),
        status,
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Every rejection to its response.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingHeader,
        PayloadTooLarge, UnsupportedMediaType,
    };
    let response = if let Some(ApiError(e)) = rejection.find() {
        error_response(e)
    } else if rejection.is_not_found() {
        body(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such page or API route".into(),
        )
    } else if rejection.find::<PayloadTooLarge>().is_some() {
        body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large".into(),
        )
    } else if rejection.find::<LengthRequired>().is_some() {
        body(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "send the body with a Content-Length header".into(),
        )
    } else if rejection.find::<UnsupportedMediaType>().is_some() {
        body(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json".into(),
        )
    } else if let Some(e) = rejection.find::<InvalidQuery>() {
        body(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("invalid query string: {e}"),
        )
    } else if let Some(e) = rejection.find::<MissingHeader>() {
        body(StatusCode::BAD_REQUEST, "invalid_input", e.to_string())
    } else if let Some(e) = rejection.find::<InvalidHeader>() {
        body(StatusCode::BAD_REQUEST, "invalid_input", e.to_string())
    } else if let Some(e) = rejection.find::<warp::filters::cors::CorsForbidden>() {
        body(StatusCode::FORBIDDEN, "forbidden", e.to_string())
    } else if rejection.find::<MethodNotAllowed>().is_some() {
        body(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not take that method".into(),
        )
    } else {
        let mut r = body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the request id is in the X-Request-Id header".into(),
        );
        r.extensions_mut()
            .insert(Detail(format!("unhandled rejection: {rejection:?}")));
        r
    };
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a client gets for `e` (status, headers, JSON body) and the
    /// detail kept for the log.
    async fn render(e: Error) -> (StatusCode, header::HeaderMap, serde_json::Value, String) {
        use warp::Filter as _;
        let e = std::sync::Arc::new(e);
        let detail = error_response(&e)
            .extensions()
            .get::<Detail>()
            .map(|d| d.0.clone())
            .unwrap_or_default();
        let route = warp::any().map(move || error_response(&e));
        let response = warp::test::request().reply(&route).await;
        let body = serde_json::from_slice(response.body()).unwrap();
        (response.status(), response.headers().clone(), body, detail)
    }

    /// A full disk is a 503 `storage_full` that says nothing was saved and
    /// keeps the driver's detail for the log (issue 23).
    #[tokio::test]
    async fn a_full_disk_is_a_503_storage_full() {
        let (status, _, body, detail) = render(Error::StorageFull {
            message: "saving failed: database or disk is full".into(),
            source: None,
        })
        .await;
        assert!(detail.contains("database or disk is full"), "{detail}");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "storage_full");
        assert_eq!(
            body["error"]["message"],
            "the server is out of storage space, so nothing was saved; try again later"
        );
    }

    /// Spotify limiting this app is a 503 `upstream_busy` with
    /// `Retry-After` that names Spotify and nothing of the call; our own
    /// limits stay a 429 `rate_limited` (issue 23).
    #[tokio::test]
    async fn spotify_limiting_us_is_a_503_and_our_limit_a_429() {
        let (status, headers, body, detail) = render(Error::UpstreamBusy {
            service: "spotify".into(),
            retry_after: Some(Duration::from_millis(3_599_500)),
            message: "Spotify is rate limiting this app (playlist 37i9dQZF1); waited 10s already"
                .into(),
        })
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::RETRY_AFTER], "3600");
        assert_eq!(body["error"]["code"], "upstream_busy");
        assert_eq!(
            body["error"]["message"],
            "Spotify is limiting our requests; try again in 3600s"
        );
        assert!(detail.contains("playlist 37i9dQZF1"), "{detail}");

        let (status, headers, body, _) = render(Error::UpstreamBusy {
            service: "lastfm".into(),
            retry_after: None,
            message: "Last.fm is rate limiting this app (user.getTopTracks)".into(),
        })
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(headers.get(header::RETRY_AFTER).is_none());
        assert_eq!(
            body["error"]["message"],
            "Last.fm is limiting our requests; try again later"
        );

        let (status, headers, body, _) = render(Error::RateLimited {
            retry_after: Some(Duration::from_secs(42)),
            message: "too many mood refreshes; try again later".into(),
        })
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "42");
        assert_eq!(body["error"]["code"], "rate_limited");
    }
}
