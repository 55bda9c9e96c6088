//! The service as an attacker and as a second replica would use it, through
//! `warp::test` (the process-level findings are in `connections.rs` and
//! `deploy.rs`): each test here failed before its fix.

mod support;

use serde_json::{Value, json};
use spotifyart_core::engine::Clock;
use spotifyart_core::store::OpaqueToken;
use support::harness::*;
use warp::http::StatusCode;

/// Made-up methods (HTTP allows any token, kilobytes long) neither grow
/// `/metrics` nor reach the log: they are all counted as `other`.
#[tokio::test]
async fn made_up_methods_are_one_metrics_series() {
    let h = harness().await;
    let b = Browser::default();
    for i in 0..200 {
        let method = format!("M{i}{}", "X".repeat(4000));
        let resp = h
            .send(warp::test::request().method(&method).path("/healthz"))
            .await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let text = String::from_utf8_lossy(h.get(&b, "/metrics").await.body()).to_string();
    assert!(!text.contains("XXXX"), "a client's method became a label");
    assert!(
        text.contains(
            "spotifyart_http_requests_total{method=\"other\",route=\"/healthz\",status=\"405\"} 200"
        ),
        "{text}"
    );
    assert!(text.len() < 16 * 1024, "/metrics is {} bytes", text.len());
}

/// The sign-in cookie holds only the OAuth state; the verifier waits in the
/// store. Forged callbacks with huge states store nothing, and a cookie
/// that is not state-shaped counts as no cookie.
#[tokio::test]
async fn sign_in_state_is_bounded_and_kept_server_side() {
    let h = harness().await;
    let (b, callback) = h.start_sign_in("sunny.listener", "/discover").await;
    let cookie = b.get("sa_oauth").unwrap();
    assert!(cookie.len() <= 128, "{} bytes", cookie.len());
    assert!(callback.contains(&format!("state={cookie}")));
    let huge = "A".repeat(60_000);
    for _ in 0..50 {
        // Shaped as the old `state.verifier.next` cookie, which was kept
        // in memory for ten minutes per forged callback.
        let forged = Browser {
            cookies: vec![("sa_oauth".into(), format!("{huge}.verifier.L2Rpc2NvdmVy"))],
        };
        let resp = h
            .get(
                &forged,
                &format!("/auth/spotify/callback?state={huge}&code=x"),
            )
            .await;
        assert_eq!(location(&resp), "/?error=signin_expired");
    }
    // The real sign-in still works.
    let resp = h.get(&b, &callback).await;
    assert_eq!(location(&resp), "/discover");
}

/// A sign-in started on one replica finishes on another (the callback may
/// reach any server), once: a replay on either is refused.
#[tokio::test]
async fn a_sign_in_finishes_on_any_replica_once() {
    let h = harness().await;
    let other = h.replica();
    let (mut b, callback) = h.start_sign_in("sunny.listener", "/match/abc").await;
    let resp = h.send_to(&other, b.request("GET", &callback)).await;
    assert_eq!(location(&resp), "/match/abc");
    b.absorb(&resp);
    assert_eq!(h.get(&b, "/api/v1/me").await.status(), 200);
    let state = callback.split("state=").nth(1).unwrap();
    let stale = Browser {
        cookies: vec![(
            "sa_oauth".into(),
            state.split('&').next().unwrap().to_string(),
        )],
    };
    for to in [&other, &h.state] {
        let again = h.send_to(to, stale.request("GET", &callback)).await;
        assert_eq!(location(&again), "/?error=state_reused");
    }
}

/// Signing in again in the same browser ends the session it had.
#[tokio::test]
async fn a_second_sign_in_ends_the_previous_session() {
    let h = harness().await;
    let first = h.sign_in("sunny.listener").await;
    let (mut b, callback) = h.start_sign_in("midnight.listener", "/discover").await;
    // Same browser: it still holds the first session's cookies.
    b.cookies.extend(
        first
            .cookies
            .iter()
            .filter(|(k, _)| k != "sa_oauth")
            .cloned(),
    );
    let resp = h.get(&b, &callback).await;
    b.absorb(&resp);
    assert_eq!(
        body(&h.get(&b, "/api/v1/me").await)["display_name"],
        "Midnight"
    );
    assert_eq!(h.get(&first, "/api/v1/me").await.status(), 401);
}

/// Spotify issued a token inside the refresh margin and rotates refresh
/// tokens: the sign-in's own `/v1/me` call refreshes, and the refreshed
/// tokens are the ones stored, so the next call works.
#[tokio::test]
async fn a_refresh_during_sign_in_keeps_the_user_signed_in() {
    let h = harness().await;
    h.fake.rotate_refresh_tokens(true);
    h.fake.set_token_lifetime(30);
    let b = h.sign_in("sunny.listener").await;
    h.fake.set_token_lifetime(3600);
    let resp = h.get(&b, "/api/v1/music/mood").await;
    assert_eq!(resp.status(), 200, "{resp:?}");
    assert_eq!(h.get(&b, "/api/v1/me").await.status(), 200);
}

/// The inviter withdrew access at Spotify: the person accepting is told
/// the other person must sign in again (not that they must), keeps their
/// session, and sees no internal id; the inviter's sessions end.
#[tokio::test]
async fn a_revoked_inviter_is_not_the_accepters_problem() {
    let h = harness().await;
    let a = h.sign_in("sunny.listener").await;
    let b = h.sign_in("midnight.listener").await;
    let code = body(&h.post(&a, "/api/v1/matches", None).await)["invite"]
        .as_str()
        .unwrap()
        .to_string();
    h.fake.revoke("sunny.listener");
    h.fake.expire_access_tokens();
    let inviter = body(&h.get(&a, "/api/v1/me").await)["id"]
        .as_str()
        .map(str::to_string);
    for attempt in 0..2 {
        let resp = h
            .post(&b, &format!("/api/v1/matches/{code}/accept"), None)
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::CONFLICT,
            "attempt {attempt}: {resp:?}"
        );
        let message = body(&resp)["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains("invited you"), "{message}");
        assert!(!message.contains("user"), "{message}");
        if let Some(id) = &inviter {
            assert!(!message.contains(id.as_str()), "{message}");
        }
        assert_eq!(
            h.get(&b, "/api/v1/me").await.status(),
            200,
            "the accepter is fine"
        );
    }
    assert_eq!(
        h.get(&a, "/api/v1/me").await.status(),
        401,
        "the inviter is signed out"
    );
    // The invite is still usable once the inviter signs in again.
    let _a = h.sign_in("sunny.listener").await;
    let resp = h
        .post(&b, &format!("/api/v1/matches/{code}/accept"), None)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{resp:?}");
}

/// Reading the mood is a GET that changes nothing; refreshing it is a POST
/// (CSRF-checked) that reads Spotify past every cache and stores a new
/// snapshot only when the mood changed.
#[tokio::test]
async fn mood_refresh_is_a_post_that_writes_only_changes() {
    let h = harness().await;
    let b = h.sign_in("sunny.listener").await;
    let resp = h.get(&b, "/api/v1/music/mood?refresh=true").await;
    assert_eq!(resp.status(), 400);
    assert!(
        body(&resp)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("POST /api/v1/music/mood/refresh")
    );
    let user = body(&h.get(&b, "/api/v1/me").await)["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let user = spotifyart_core::UserId(user);
    let first = h.get(&b, "/api/v1/music/mood").await;
    let stored = h.store.latest_mood(user, None).await.unwrap().unwrap();
    // A cross-site POST (no CSRF header) is refused.
    let forged = warp::test::request()
        .method("POST")
        .path("/api/v1/music/mood/refresh")
        .header("cookie", b.header())
        .header("content-length", "0");
    assert_eq!(h.send(forged).await.status(), StatusCode::FORBIDDEN);
    h.clock.advance(chrono::Duration::minutes(5));
    let calls = h.fake.count("/v1/me/top");
    let resp = h.post(&b, "/api/v1/music/mood/refresh", None).await;
    assert_eq!(resp.status(), 200, "{resp:?}");
    assert!(h.fake.count("/v1/me/top") > calls, "read from Spotify");
    assert_eq!(body(&resp)["mood"], body(&first)["mood"]);
    let after = h.store.latest_mood(user, None).await.unwrap().unwrap();
    assert_eq!(
        after.computed_at, stored.computed_at,
        "unchanged: nothing written"
    );
    let resp = h
        .post(
            &b,
            "/api/v1/music/mood/refresh",
            Some(json!({ "time_range": "short_term" })),
        )
        .await;
    assert_eq!(body(&resp)["time_range"], "short_term");
    let resp = h
        .post(
            &b,
            "/api/v1/music/mood/refresh",
            Some(json!({ "range": "x" })),
        )
        .await;
    assert_eq!(resp.status(), 400);
}

/// One host holds a whole IPv6 /64: its addresses share one allowance.
#[tokio::test]
async fn ipv6_clients_share_their_64s_allowance() {
    let h = harness().await;
    let from = |i: u16| {
        let ip = std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, 9, 0, 0, i, 1);
        warp::test::request()
            .path("/api/v1/me")
            .remote_addr((ip, 4000).into())
    };
    for i in 0..100 {
        assert_eq!(h.send(from(i)).await.status(), 401, "request {i}");
    }
    assert_eq!(
        h.send(from(500)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let elsewhere = std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, 10, 0, 0, 0, 1);
    let resp = h
        .send(
            warp::test::request()
                .path("/api/v1/me")
                .remote_addr((elsewhere, 4000).into()),
        )
        .await;
    assert_eq!(resp.status(), 401, "another /64 has its own");
}

/// Asking again for a picture already queued is not a new painting: it
/// answers the same job even with the hourly allowance used up.
#[tokio::test]
async fn re_asking_for_a_queued_picture_is_not_rate_limited() {
    let h = harness().await;
    let a = h.sign_in("sunny.listener").await;
    let mut first = Value::Null;
    for seed in 0..10 {
        let resp = h
            .post(&a, "/api/v1/ai/art", Some(json!({ "seed": seed })))
            .await;
        assert_eq!(resp.status(), 202, "{seed}");
        if seed == 0 {
            first = body(&resp);
        }
    }
    let new = h
        .post(&a, "/api/v1/ai/art", Some(json!({ "seed": 10 })))
        .await;
    assert_eq!(new.status(), StatusCode::TOO_MANY_REQUESTS);
    let again = h
        .post(&a, "/api/v1/ai/art", Some(json!({ "seed": 0 })))
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED, "{again:?}");
    assert_eq!(body(&again)["job_id"], first["job_id"]);
}

/// Sessions are stored as hashes on every replica's store: a session made
/// through one replica works on another, and ends on both.
#[tokio::test]
async fn sessions_work_and_end_across_replicas() {
    let h = harness().await;
    let other = h.replica();
    let b = h.sign_in("sunny.listener").await;
    assert_eq!(
        h.send_to(&other, b.request("GET", "/api/v1/me"))
            .await
            .status(),
        200
    );
    let token = b.get("sa_session").unwrap();
    assert!(
        h.store
            .session(&OpaqueToken::from_client(&token).hash(), h.clock.now())
            .await
            .is_ok()
    );
    let resp = h
        .send_to(
            &other,
            b.request("POST", "/auth/logout")
                .header("content-length", "0"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(h.get(&b, "/api/v1/me").await.status(), 401);
}
