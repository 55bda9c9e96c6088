//! Artwork PNGs as HTTP resources: an artwork never changes, so its SHA-256
//! is a strong ETag, conditional requests get 304, byte ranges get 206, and
//! browsers may keep it for a year (privately: only its subjects may read
//! it).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use spotifyart_core::{ArtworkId, ArtworkMeta};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

/// Recently served artworks, kept in memory up to a byte budget (oldest
/// first out). Artworks never change, so a cached one is never stale; who
/// may see it is still checked on every request.
#[derive(Debug)]
pub struct ArtCache {
    budget: usize,
    inner: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    entries: HashMap<ArtworkId, Arc<(ArtworkMeta, Bytes)>>,
    order: VecDeque<ArtworkId>,
    bytes: usize,
}

impl ArtCache {
    /// A cache of at most `budget` bytes of PNG.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::default(),
        }
    }

    /// The artwork, if cached.
    pub fn get(&self, id: ArtworkId) -> Option<Arc<(ArtworkMeta, Bytes)>> {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.entries.get(&id).cloned()
    }

    /// Keeps an artwork, dropping the oldest beyond the budget.
    pub fn put(&self, meta: ArtworkMeta, png: Bytes) -> Arc<(ArtworkMeta, Bytes)> {
        let size = png.len();
        let entry = Arc::new((meta, png));
        if size > self.budget / 4 {
            return entry;
        }
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let id = entry.0.id;
        if s.entries.insert(id, entry.clone()).is_none() {
            s.order.push_back(id);
            s.bytes += size;
        }
        while s.bytes > self.budget {
            let Some(old) = s.order.pop_front() else {
                break;
            };
            if let Some(e) = s.entries.remove(&old) {
                s.bytes -= e.1.len();
            }
        }
        entry
    }
}

/// Cache-Control for artworks.
pub const IMMUTABLE_PRIVATE: &str = "private, max-age=31536000, immutable";

/// The request headers that shape the answer.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    /// `If-None-Match`.
    pub if_none_match: Option<String>,
    /// `Range`.
    pub range: Option<String>,
    /// `If-Range`.
    pub if_range: Option<String>,
}

/// The response for a PNG whose SHA-256 (hex) is `sha256`.
pub fn png_response(png: Bytes, sha256: &str, conditions: &Conditions) -> Response {
    let etag = format!("\"{sha256}\"");
    let len = png.len() as u64;
    let mut response = if conditions
        .if_none_match
        .as_deref()
        .is_some_and(|v| etag_matches(v, &etag))
    {
        let mut r = Response::new(Bytes::new().into());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let range = conditions
            .range
            .as_deref()
            .filter(|_| {
                // A range applies only to the representation the client has.
                conditions
                    .if_range
                    .as_deref()
                    .is_none_or(|v| v.trim() == etag)
            })
            .map(|r| parse_range(r, len));
        match range {
            Some(RangeSpec::Satisfiable(start, end)) => {
                let mut r = Response::new(png.slice(start as usize..=end as usize).into());
                *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_RANGE,
                    header_value(&format!("bytes {start}-{end}/{len}")),
                );
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
                r
            }
            Some(RangeSpec::Unsatisfiable) => {
                let mut r = Response::new(Bytes::new().into());
                *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                r.headers_mut().insert(
                    header::CONTENT_RANGE,
                    header_value(&format!("bytes */{len}")),
                );
                r
            }
            Some(RangeSpec::Ignored) | None => {
                let mut r = Response::new(png.into());
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                r
            }
        }
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, header_value(&etag));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(IMMUTABLE_PRIVATE),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if response.status() != StatusCode::NOT_MODIFIED {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    }
    response
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `If-None-Match` uses the weak comparison (RFC 9110 13.1.2).
fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeSpec {
    /// First and last byte, inclusive.
    Satisfiable(u64, u64),
    Unsatisfiable,
    /// Not a single byte range we serve (several ranges, another unit,
    /// malformed): the whole body is the answer.
    Ignored,
}

pub(crate) fn parse_range(value: &str, len: u64) -> RangeSpec {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeSpec::Ignored;
    };
    if spec.contains(',') {
        return RangeSpec::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeSpec::Ignored;
    };
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match parse(last) {
            Some(0) => RangeSpec::Unsatisfiable,
            Some(n) if len > 0 => RangeSpec::Satisfiable(len.saturating_sub(n), len - 1),
            Some(_) => RangeSpec::Unsatisfiable,
            None => RangeSpec::Ignored,
        },
        // bytes=A-: from A to the end.
        (false, true) => match parse(first) {
            Some(a) if a < len => RangeSpec::Satisfiable(a, len - 1),
            Some(_) => RangeSpec::Unsatisfiable,
            None => RangeSpec::Ignored,
        },
        (false, false) => match (parse(first), parse(last)) {
            (Some(a), Some(b)) if a <= b && a < len => RangeSpec::Satisfiable(a, b.min(len - 1)),
            (Some(a), Some(b)) if a <= b => RangeSpec::Unsatisfiable,
            _ => RangeSpec::Ignored,
        },
        (true, true) => RangeSpec::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeSpec::*;
        assert_eq!(parse_range("bytes=0-9", 100), Satisfiable(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Satisfiable(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Satisfiable(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), Satisfiable(0, 99));
        assert_eq!(parse_range("bytes=50-1000", 100), Satisfiable(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), Ignored);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ignored);
        assert_eq!(parse_range("items=0-1", 100), Ignored);
        assert_eq!(parse_range("bytes=x-1", 100), Ignored);
    }

    #[test]
    fn etags_compare_weakly_for_if_none_match() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("W/\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", \"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }

    #[test]
    fn responses_carry_validators_and_ranges() {
        let png = Bytes::from_static(b"0123456789");
        let full = png_response(png.clone(), "aa", &Conditions::default());
        assert_eq!(full.status(), StatusCode::OK);
        assert_eq!(full.headers()[header::ETAG], "\"aa\"");
        assert_eq!(full.headers()[header::CACHE_CONTROL], IMMUTABLE_PRIVATE);
        let cond = |inm: Option<&str>, range: Option<&str>, if_range: Option<&str>| Conditions {
            if_none_match: inm.map(Into::into),
            range: range.map(Into::into),
            if_range: if_range.map(Into::into),
        };
        let r = png_response(png.clone(), "aa", &cond(Some("\"aa\""), None, None));
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = png_response(png.clone(), "aa", &cond(None, Some("bytes=2-4"), None));
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 2-4/10");
        let r = png_response(
            png.clone(),
            "aa",
            &cond(None, Some("bytes=2-4"), Some("\"old\"")),
        );
        assert_eq!(r.status(), StatusCode::OK);
        let r = png_response(png, "aa", &cond(None, Some("bytes=20-"), None));
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */10");
    }
}
