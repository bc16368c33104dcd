//! Gaps found in review (issues 11–13), each a test that fails on the code as it is.

use reqwest::StatusCode;

use crate::gateway::{Caddy, Echo};
use crate::services::{Gateway, register, verify};

fn port_of(app: &crate::helpers::TestApp) -> u16 {
    app.address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("the app's port")
}

/// Traefik and Caddy send `X-Forwarded-Method`/`X-Forwarded-Uri` (overwriting any the
/// client sent), but they pass every other client header on to the auth request — the
/// client's own `X-Original-Method`/`X-Original-URI` included. `/auth/verify` prefers those,
/// so a client chooses the request tokenwarden judges: a read-only token writes.
#[actix_web::test]
async fn a_client_cannot_choose_the_request_judged_behind_traefik_by_sending_x_original_headers() {
    let s = crate::services::school().await;
    // What Traefik sends for a client's `POST /grades/7` that also carries forged headers.
    let res = reqwest::Client::new()
        .get(format!("{}/auth/verify?service=gradebook", s.app.address))
        .bearer_auth(&s.tess_read.secret)
        .header("X-Forwarded-Method", "POST")
        .header("X-Forwarded-Uri", "/grades/7")
        .header("X-Original-Method", "GET")
        .header("X-Original-URI", "/grades/7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "the gateway's X-Forwarded-* describe the request; the client's X-Original-* must not override them"
    );
}

/// The same through a real Caddy with the README's Caddyfile: the client's
/// `X-Original-Method: GET` reaches tokenwarden, which lets a read-only token's POST through.
#[actix_web::test]
async fn a_read_only_token_cannot_post_through_caddy_by_forging_x_original_method() {
    let s = crate::services::school().await;
    let echo = Echo::start().await;
    let caddy = Caddy::start(port_of(&s.app), echo.port, "gradebook").await;
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/grades/7", caddy.port))
        .bearer_auth(&s.tess_read.secret)
        .header("X-Original-Method", "GET")
        .json(&serde_json::json!({"grade": "F"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a write with a read-only token reached the service");
}

/// A service whose private files need `vault:admin`, and everything else below /files
/// `vault:read` (first matching rule wins); a token with read only.
async fn vault() -> (crate::helpers::TestApp, String) {
    let app = crate::helpers::spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    register(
        &app,
        "vault",
        "Vault",
        &["read=Read", "admin=Admin"],
        &[],
        &["GET /files/private/*=vault:admin", "GET /files/*=vault:read"],
        false,
    );
    let read = app.issue_token("tess", None, &["vault:read"]).secret;
    let a = verify(&app, Gateway::Nginx, "vault", Some(&read), "GET", "/files/private/report").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "the private rule holds as written");
    (app, read)
}

/// Rules are matched against the raw URI, while the service behind the gateway decodes it:
/// `/files/%70rivate/report` is `/files/private/report` to the service, but matches only
/// the broader `/files/*` rule here.
#[actix_web::test]
async fn a_percent_encoded_path_does_not_slip_past_a_more_specific_rule() {
    let (app, read) = vault().await;
    for g in [Gateway::Nginx, Gateway::Traefik] {
        let a = verify(&app, g, "vault", Some(&read), "GET", "/files/%70rivate/report").await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{g:?}: %70 is p: the private rule applies (or none)");
    }
}

/// An empty segment: `/files//private/report` matches `/files/*` only, and services (and
/// nginx's own `merge_slashes`) read it as `/files/private/report`.
#[actix_web::test]
async fn a_doubled_slash_does_not_slip_past_a_more_specific_rule() {
    let (app, read) = vault().await;
    for g in [Gateway::Nginx, Gateway::Traefik, Gateway::Envoy] {
        let a = verify(&app, g, "vault", Some(&read), "GET", "/files//private/report").await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{g:?}: an empty segment walks around the private rule");
    }
}

/// The last-admin rule (SPEC 2) on PostgreSQL: two Account Admins suspend each other at the
/// same moment. Each transaction counts two active admins (READ COMMITTED sees no change of
/// the other's), each suspends the other, both commit: the account is left with none.
#[actix_web::test]
async fn two_admins_suspending_each_other_at_once_never_leave_the_account_without_one() {
    use tokenwarden::domain::PermissionSet;
    use tokenwarden::models::UserState;
    use tokenwarden::services::{Actor, Via};
    let app = crate::helpers::spawn_app().await;
    if !tokenwarden::db::is_postgres(&app.database_url) {
        eprintln!("skipped: SQLite serialises writers; the race needs PostgreSQL");
        return;
    }
    let mut left_without_one = 0;
    for round in 0..20 {
        let a = app.create_user(&format!("ann{round}"), &[], &["Account Admin"]);
        let b = app.create_user(&format!("bob{round}"), &[], &["Account Admin"]);
        // Everyone else is suspended, so that these two are the only active admins.
        {
            use diesel::prelude::*;
            use tokenwarden::db::schema::users;
            let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
            diesel::update(users::table.filter(users::id.ne_all([a, b])))
                .set(users::state.eq("suspended"))
                .execute(&mut conn)
                .unwrap();
        }
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = [(a, b), (b, a)]
            .into_iter()
            .map(|(me, other)| {
                let (url, barrier) = (app.database_url.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut conn = tokenwarden::db::connect(&url).unwrap();
                    let actor = Actor::user(me, PermissionSet::all(), false, Via::Cli, None);
                    barrier.wait();
                    tokenwarden::services::users::set_state(&mut conn, &actor, other, UserState::Suspended)
                        .is_ok()
                })
            })
            .collect();
        let done: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        if done.iter().all(|ok| *ok) {
            left_without_one += 1;
        }
        // Out of the way of the next round's pair.
        use diesel::prelude::*;
        use tokenwarden::db::schema::users;
        let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
        diesel::update(users::table.filter(users::id.eq_any([a, b])))
            .set(users::state.eq("suspended"))
            .execute(&mut conn)
            .unwrap();
    }
    assert_eq!(
        left_without_one, 0,
        "rounds of 20 in which both suspensions went through: no active admin left"
    );
}

/// A TCP proxy to PostgreSQL that can go silent: every byte stops, but no socket is closed
/// (a host that died, a partitioned network, a firewall dropping packets) — the outage where
/// nothing tells the app the connection is gone.
struct SilentCable {
    port: u16,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SilentCable {
    async fn lay(upstream: &'static str) -> SilentCable {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        let silent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = silent.clone();
        actix_web::rt::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { continue };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                for (mut from, mut to) in [
                    (
                        Box::new(cr) as Box<dyn tokio::io::AsyncRead + Unpin>,
                        Box::new(sw) as Box<dyn tokio::io::AsyncWrite + Unpin>,
                    ),
                    (Box::new(sr), Box::new(cw)),
                ] {
                    let flag = flag.clone();
                    actix_web::rt::spawn(async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match from.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            // Silent: hold the bytes and the sockets, forever.
                            while flag.load(Ordering::SeqCst) {
                                actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
                            }
                            if to.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        });
        SilentCable { port, silent }
    }
}

/// Issue 12: during a PostgreSQL outage every request is answered within a second. The
/// outage test cuts its proxy (sockets closed: the app learns at once); here the network
/// goes silent instead, and a request on a pooled connection waits for an answer that
/// never comes — no statement timeout, no TCP keepalive or user timeout bounds it.
#[actix_web::test]
async fn when_postgresql_goes_silent_requests_are_still_answered_within_a_second() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| tokenwarden::db::is_postgres(&u)) {
        eprintln!("skipped: needs TEST_DATABASE_URL=postgres://…");
        return;
    }
    let owner = crate::helpers::spawn_app().await;
    owner.create_user("tess", &["teacher"], &[]);
    let secret = owner.issue_token("tess", None, &[]).secret;
    let cable = SilentCable::lay("127.0.0.1:5432").await;
    let via = owner.database_url.replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", cable.port), 1);
    let app = crate::helpers::spawn_app_on(&via).await;
    let api = app.api(&secret);
    let warm = futures_util::future::join_all((0..8).map(|_| api.get("/api/v1/users/self"))).await;
    assert!(warm.iter().all(|r| r.status() == StatusCode::OK), "warm: pooled connections");

    cable.silent.store(true, std::sync::atomic::Ordering::SeqCst);
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().unwrap();
    for path in ["/readyz", "/api/v1/users/self", "/readyz"] {
        let started = std::time::Instant::now();
        let res = client.get(format!("{}{path}", app.address)).bearer_auth(&secret).send().await;
        let took = started.elapsed();
        assert!(
            res.is_ok() && took < std::time::Duration::from_millis(1500),
            "{path}: no answer within 1 s of a silent database (gave up after {took:?}: {res:?})"
        );
        assert_eq!(res.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
    }
    cable.silent.store(false, std::sync::atomic::Ordering::SeqCst);
}
