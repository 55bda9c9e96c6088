//! Local fakes of ListenBrainz and Last.fm, shaped like the real APIs
//! (paging, errors, rate limits), for tests.

pub mod lastfm;
pub mod listenbrainz;
