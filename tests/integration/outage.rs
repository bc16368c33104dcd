//! A database outage gives a 503 page, and the app recovers by itself when it is back.
//! Needs PostgreSQL (the PostgreSQL suite); on SQLite there is no server to lose.

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::StatusCode;

use crate::helpers::spawn_app;

fn admin_exec(sql: &str) {
    let url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    tokenwarden::db::init_openssl();
    let mut conn = PgConnection::establish(&url).expect("connect");
    diesel::sql_query(sql).execute(&mut conn).expect(sql);
}

#[actix_web::test]
async fn a_database_outage_gives_503_and_the_app_recovers() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| tokenwarden::db::is_postgres(&u)) {
        eprintln!("skipped: needs TEST_DATABASE_URL=postgres://…");
        return;
    }
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let token = app.api_token("sam", Some(30));
    let b = app.browser();
    // Several requests at once, so that the pool holds several connections to lose.
    let answers = futures_util::future::join_all((0..24).map(|_| b.get("/readyz"))).await;
    assert!(answers.iter().all(|r| r.status() == StatusCode::OK));
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();

    admin_exec(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"));
    admin_exec(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ));
    let res = b.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let res = b.get("/login").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("Retry-After"));
    assert!(res.text().await.unwrap().contains("Temporarily unavailable"));
    assert_eq!(b.get("/healthz").await.status(), StatusCode::OK, "liveness needs no database");
    // The API's 503, as its document gives it: the error list, and when to come back.
    let res = app.api(&token).get("/api/v1/users/self").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("Retry-After"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["errors"][0]["message"].is_string(), "{body}");

    admin_exec(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"));
    let mut recovered = false;
    for _ in 0..20 {
        if b.get("/readyz").await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(recovered, "the app serves again once the database is back");
    // Every pooled connection, not just one: concurrent requests all succeed.
    let answers = futures_util::future::join_all((0..24).map(|_| b.get("/readyz"))).await;
    assert!(answers.iter().all(|r| r.status() == StatusCode::OK), "no dead connection is handed out");
    assert_eq!(b.get("/login").await.status(), StatusCode::OK);
}

/// A TCP proxy between the app and PostgreSQL that the test can cut (every connection
/// dropped, the port refusing) and restore (the same port accepting again): an outage of
/// this test's own, with the shared server untouched.
struct Cable {
    port: u16,
    upstream: String,
    alive: std::sync::Arc<std::sync::atomic::AtomicBool>,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<actix_web::rt::task::JoinHandle<()>>>>,
}

impl Cable {
    async fn lay(upstream: &str) -> Cable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        let cable = Cable {
            port,
            upstream: upstream.to_owned(),
            alive: Default::default(),
            tasks: Default::default(),
        };
        cable.serve(listener);
        cable
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        self.alive.store(true, std::sync::atomic::Ordering::SeqCst);
        let (upstream, tasks, alive) = (self.upstream.clone(), self.tasks.clone(), self.alive.clone());
        let acceptor = actix_web::rt::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !alive.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let upstream = upstream.clone();
                let pipe = actix_web::rt::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(acceptor);
    }

    /// Every connection through it dropped, and the port refusing new ones.
    fn cut(&self) {
        self.alive.store(false, std::sync::atomic::Ordering::SeqCst);
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    async fn restore(&self) {
        let listener =
            tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.expect("rebind the same port");
        self.serve(listener);
    }
}

/// During an outage every request is answered within a second (503, `/readyz` too), not
/// after the pool's wait; when the database is back the app serves again by itself.
#[actix_web::test]
async fn during_an_outage_every_request_is_answered_at_once_and_service_resumes() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| tokenwarden::db::is_postgres(&u)) {
        eprintln!("skipped: needs TEST_DATABASE_URL=postgres://…");
        return;
    }
    let owner = spawn_app().await;
    owner.create_user("tess", &["teacher"], &[]);
    let secret = owner.issue_token("tess", None, &[]).secret;
    let cable = Cable::lay("127.0.0.1:5432").await;
    let via_cable = owner.database_url.replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", cable.port), 1);
    assert_ne!(via_cable, owner.database_url, "the test database is on 127.0.0.1:5432");
    let app = crate::helpers::spawn_app_on(&via_cable).await;
    let b = app.browser();
    let api = app.api(&secret);
    let answers = futures_util::future::join_all((0..16).map(|_| api.get("/api/v1/users/self"))).await;
    assert!(answers.iter().all(|r| r.status() == StatusCode::OK), "warm: several pooled connections");

    cable.cut();
    // Not a benchmark: what is checked is failing fast (well under a second each, against
    // the pool's former five-second wait on every request), with a generous margin.
    for round in 0..6 {
        for path in ["/readyz", "/login"] {
            let started = std::time::Instant::now();
            let res = b.get(path).await;
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}, round {round}");
            assert!(started.elapsed() < Duration::from_millis(1500), "{path} took {:?}", started.elapsed());
        }
        let started = std::time::Instant::now();
        let res = api.get("/api/v1/users/self").await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() < Duration::from_millis(1500), "the API took {:?}", started.elapsed());
        assert_eq!(b.get("/healthz").await.status(), StatusCode::OK, "liveness needs no database");
    }

    cable.restore().await;
    let mut recovered = false;
    for _ in 0..40 {
        if b.get("/readyz").await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "the app serves again once the database is back, without a restart");
    let answers = futures_util::future::join_all((0..16).map(|_| api.get("/api/v1/users/self"))).await;
    assert!(answers.iter().all(|r| r.status() == StatusCode::OK), "no dead connection is handed out");
}
