//! Local fakes of ListenBrainz and Last.fm, shaped like the real APIs
//! (paging, errors, rate limits), for tests.

pub mod lastfm;
pub mod listenbrainz;

/// 128 random-looking bits, from the standard library's per-process random
/// hash keys, a counter and the clock: enough for fake tokens, which only
/// need to be unguessable by a test, not by an attacker.
pub(crate) fn random_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    ((word() as u128) << 64) | word() as u128
}
