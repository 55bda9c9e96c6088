//! ListenBrainz's JSON, as far as SpotifyArt reads it. Everything a client
//! submitted (names, `additional_info`) is optional and loosely typed:
//! listens come from many scrobblers, and one odd listen must not fail the
//! page.

use serde::Deserialize;
use serde_json::Value;

/// Every error body: `{"code": 404, "error": "Cannot find user: x"}`.
#[derive(Deserialize)]
pub(crate) struct ApiError {
    #[allow(dead_code)]
    pub code: Option<u16>,
    pub error: String,
}

/// `GET /1/validate-token`: `{"code": 200, "message": "Token valid.",
/// "valid": true, "user_name": "rob"}`, or `"valid": false` without a
/// name, both with HTTP 200.
#[derive(Deserialize)]
pub(crate) struct ValidateToken {
    #[serde(default)]
    pub valid: bool,
    #[serde(default)]
    pub user_name: Option<String>,
}

/// `GET /1/user/{user}/listens`.
#[derive(Deserialize)]
pub(crate) struct ListensBody {
    pub payload: ListensPayload,
}

#[derive(Deserialize)]
pub(crate) struct ListensPayload {
    #[serde(default)]
    pub listens: Vec<Listen>,
}

#[derive(Deserialize)]
pub(crate) struct Listen {
    /// Absent on a "playing now" listen.
    #[serde(default)]
    pub listened_at: Option<i64>,
    #[serde(default)]
    pub track_metadata: TrackMetadata,
}

#[derive(Default, Deserialize)]
pub(crate) struct TrackMetadata {
    #[serde(default)]
    pub artist_name: Option<String>,
    #[serde(default)]
    pub track_name: Option<String>,
    #[serde(default)]
    pub release_name: Option<String>,
    #[serde(default)]
    pub additional_info: Option<Value>,
}

impl TrackMetadata {
    /// The track's length from `additional_info` (`duration_ms`, or
    /// `duration` in seconds), when a client sent a sensible one.
    pub fn duration_ms(&self) -> Option<u64> {
        let info = self.additional_info.as_ref()?;
        let number = |v: &Value| {
            v.as_f64()
                .or_else(|| v.as_str()?.trim().parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n > 0.0)
        };
        let ms = info
            .get("duration_ms")
            .and_then(number)
            .or_else(|| info.get("duration").and_then(number).map(|s| s * 1000.0))?;
        // Under a day; anything longer is a client's mistake.
        (ms < 86_400_000.0).then_some(ms as u64)
    }
}

/// `GET /1/stats/user/{user}/artists`.
#[derive(Deserialize)]
pub(crate) struct ArtistsBody {
    pub payload: ArtistsPayload,
}

#[derive(Deserialize)]
pub(crate) struct ArtistsPayload {
    #[serde(default)]
    pub artists: Vec<StatArtist>,
    #[serde(default)]
    pub from_ts: Option<i64>,
    #[serde(default)]
    pub to_ts: Option<i64>,
}

#[derive(Deserialize)]
pub(crate) struct StatArtist {
    #[serde(default)]
    pub artist_name: Option<String>,
    #[serde(default)]
    pub listen_count: u64,
}

/// `GET /1/stats/user/{user}/recordings`.
#[derive(Deserialize)]
pub(crate) struct RecordingsBody {
    pub payload: RecordingsPayload,
}

#[derive(Deserialize)]
pub(crate) struct RecordingsPayload {
    #[serde(default)]
    pub recordings: Vec<StatRecording>,
}

#[derive(Deserialize)]
pub(crate) struct StatRecording {
    #[serde(default)]
    pub track_name: Option<String>,
    #[serde(default)]
    pub artist_name: Option<String>,
    #[serde(default)]
    pub release_name: Option<String>,
    #[serde(default)]
    pub listen_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_leniently() {
        let meta = |info: Value| TrackMetadata {
            additional_info: Some(info),
            ..TrackMetadata::default()
        };
        assert_eq!(
            meta(serde_json::json!({"duration_ms": 215000})).duration_ms(),
            Some(215_000)
        );
        assert_eq!(
            meta(serde_json::json!({"duration": 200})).duration_ms(),
            Some(200_000)
        );
        assert_eq!(
            meta(serde_json::json!({"duration_ms": "180000"})).duration_ms(),
            Some(180_000)
        );
        assert_eq!(
            meta(serde_json::json!({"duration_ms": -5})).duration_ms(),
            None
        );
        assert_eq!(
            meta(serde_json::json!({"duration_ms": null})).duration_ms(),
            None
        );
        assert_eq!(meta(serde_json::json!([1, 2])).duration_ms(), None);
    }
}
