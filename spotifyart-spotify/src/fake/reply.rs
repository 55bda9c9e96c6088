//! The answers every endpoint builds: JSON bodies and the Web API's error
//! shape.

use http::{Response, StatusCode};
use serde_json::{Value, json};

pub(super) type Reply = Response<Vec<u8>>;

pub(super) fn json_reply(status: StatusCode, body: &Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(serde_json::to_vec(body).expect("JSON"))
        .expect("response")
}

/// The Web API's error shape.
pub(super) fn api_error(status: u16, message: &str) -> Reply {
    json_reply(
        StatusCode::from_u16(status).expect("status"),
        &json!({ "error": { "status": status, "message": message } }),
    )
}
