//! Faults and load: a token revoked while eight clients use it, and a SQLite file that is
//! locked by another process, full, or read-only. Whatever fails, a client is told (503)
//! and nothing is reported done that was not.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;
use tokenwarden::db::schema::access_tokens;

use crate::helpers::{Served, spawn_app};

/// Revocation under concurrency (SPEC 4.8): no request that starts after the revocation's
/// answer may succeed with the revoked token — on every backend, with the requests in
/// flight on every worker.
#[actix_web::test]
async fn a_token_revoked_while_eight_clients_use_it_works_for_no_request_started_after() {
    let app = spawn_app().await;
    app.create_user("admin", &[], &["Account Admin"]);
    app.create_user("tess", &["teacher"], &[]);
    let victim = app.issue_token("tess", None, &[]);
    let admin = app.api(&app.issue_token("admin", None, &[]).secret);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // (started, finished, status) of every request.
    let log: Arc<Mutex<Vec<(Instant, Instant, StatusCode)>>> = Arc::default();
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (stop, log, api) = (stop.clone(), log.clone(), app.api(&victim.secret));
        clients.push(actix_web::rt::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let status = api.get("/api/v1/users/self").await.status();
                log.lock().unwrap().push((started, Instant::now(), status));
            }
        }));
    }
    // Let them get going, then revoke.
    while log.lock().unwrap().len() < 200 {
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    let res = admin.delete(&format!("/api/v1/users/{}/tokens/{}", app.user_id("tess"), victim.id)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let revoked = Instant::now();
    let until = log.lock().unwrap().len() + 400;
    while log.lock().unwrap().len() < until {
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let log = log.lock().unwrap();
    let before = log.iter().filter(|(_, done, _)| *done < revoked).count();
    assert!(
        before >= 200 && log.iter().filter(|(_, _, s)| *s == StatusCode::OK).count() >= 200,
        "the token worked before"
    );
    let after: Vec<_> = log.iter().filter(|(started, _, _)| *started > revoked).collect();
    assert!(after.len() >= 400, "{} requests started after the revocation", after.len());
    let accepted: Vec<_> = after.iter().filter(|(_, _, s)| *s != StatusCode::UNAUTHORIZED).collect();
    assert!(
        accepted.is_empty(),
        "{} requests started after the revocation were not refused: {:?}",
        accepted.len(),
        accepted.first()
    );
}

fn token_count(db: &str) -> i64 {
    let mut conn = tokenwarden::db::connect(db).expect("connect");
    access_tokens::table.count().get_result(&mut conn).expect("count")
}

/// Creates a token through the API; the status and the body.
async fn create(served: &Served, secret: &str, purpose: &str) -> (StatusCode, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/users/self/tokens", served.base))
        .bearer_auth(secret)
        .json(&json!({"token": {"purpose": purpose}}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {purpose:?}: {e}; the server logged:\n{}", served.log()));
    let status = res.status();
    let retry_after = res.headers().contains_key("Retry-After");
    let body = res.json().await.unwrap_or(serde_json::Value::Null);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert!(retry_after, "a 503 says when to come back");
    }
    (status, body)
}

/// A SQLite file locked by another process, full, or read-only: each write is answered 503
/// with the reason in the log, nothing is written, and once the fault is gone the same
/// request succeeds — without a restart.
#[actix_web::test]
async fn a_sqlite_file_that_is_locked_full_or_read_only_gives_503_and_loses_nothing() {
    let scratch = spawn_app().await;
    if tokenwarden::db::is_postgres(&scratch.database_url) {
        eprintln!("skipped: the SQLite file's faults need the SQLite suite");
        return;
    }
    let dir = std::path::Path::new(&scratch.database_url).parent().unwrap().to_path_buf();
    let db = dir.join("faults.db").to_string_lossy().into_owned();
    let served = Served::start(&db, "info");
    crate::helpers::create_user_in(&db, "tess", &["teacher"], &[]);
    let secret = tokenwarden::cli::create_token(
        &db,
        &tokenwarden::config::TokenCreateArgs {
            login: "tess".into(),
            purpose: "faults".into(),
            expires_in_days: None,
            scopes: vec![],
        },
    )
    .expect("a token")
    .secret
    .expose()
    .to_owned();
    assert_eq!(create(&served, &secret, "works").await.0, StatusCode::OK);
    let tokens = token_count(&db);

    // 1. Locked by another process: a writer holds the lock longer than the app waits (5 s).
    let mut other = diesel::SqliteConnection::establish(&db).expect("another writer");
    other.batch_execute("BEGIN IMMEDIATE").expect("take the write lock");
    let (status, body) = create(&served, &secret, "while locked").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["errors"][0]["message"].as_str().is_some(), "in the API's error shape: {body}");
    assert!(served.logged(&["database unavailable", "locked"]).await, "the log says why");
    other.batch_execute("ROLLBACK").expect("let go");
    drop(other);
    assert_eq!(token_count(&db), tokens, "nothing was written");
    assert_eq!(create(&served, &secret, "after the lock").await.0, StatusCode::OK);
    let tokens = tokens + 1;

    // 2. Full: the server may write no more bytes to any file (as on a full disk).
    let pid = served.child.id() as libc::pid_t;
    set_file_size_limit(pid, 0);
    let (status, body) = create(&served, &secret, "while full").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(served.logged(&["database unavailable", "disk"]).await, "the log says why");
    set_file_size_limit(pid, libc::RLIM_INFINITY);
    assert_eq!(token_count(&db), tokens, "nothing was written");
    assert_eq!(create(&served, &secret, "after the disk").await.0, StatusCode::OK);
    let tokens = tokens + 1;

    // 3. Read-only: the database's files may not be written (an immutable file, as root).
    let files: Vec<String> = ["", "-wal", "-shm"].iter().map(|suffix| format!("{db}{suffix}")).collect();
    let chattr = |flag: &str| {
        for f in &files {
            let ok = Command::new("chattr").args([flag, f]).status().is_ok_and(|s| s.success());
            assert!(ok, "chattr {flag} {f} (needs root on ext4, as on this project's machines)");
        }
    };
    chattr("+i");
    let (status, body) = create(&served, &secret, "while read-only").await;
    chattr("-i");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(served.logged(&["database unavailable"]).await);
    assert_eq!(token_count(&db), tokens, "nothing was written");
    assert_eq!(create(&served, &secret, "after read-only").await.0, StatusCode::OK);
    assert_eq!(token_count(&db), tokens + 1);
    assert!(!served.logged.lock().unwrap().iter().any(|l| l.contains("panicked")), "no panic");
}

fn set_file_size_limit(pid: libc::pid_t, bytes: libc::rlim_t) {
    let limit = libc::rlimit { rlim_cur: bytes, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: prlimit reads `limit` and writes nothing when the old-limit pointer is null.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// Found in review: with its log unwritable (the disk under the log file full), every
/// request that logged a line got no answer at all — the subscriber's report of its own
/// failed write panicked. The log loses its lines; the clients get their answers.
#[actix_web::test]
async fn a_log_that_cannot_be_written_loses_its_lines_not_the_answers() {
    let scratch = spawn_app().await;
    if tokenwarden::db::is_postgres(&scratch.database_url) {
        eprintln!("skipped: one binary on a SQLite file shows it on either suite");
        return;
    }
    let db = std::path::Path::new(&scratch.database_url).with_file_name("unlogged.db");
    let port = crate::helpers::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenwarden"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &db)
        .env("TOKENWARDEN_LOG", "info")
        .env("TOKENWARDEN_SESSION_KEY", "a test session key that is long enough to derive from")
        // Every write fails with "no space left on device".
        .stderr(std::fs::File::options().write(true).open("/dev/full").expect("/dev/full"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start tokenwarden");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server started");
    for path in ["/healthz", "/login", "/setup", "/api/v1/users/self"] {
        let res = client.get(format!("{base}{path}")).send().await;
        assert!(res.is_ok(), "{path} is answered: {res:?}");
    }
    // A refusal that logs a warning is answered too.
    let res = client.post(format!("{base}/login")).form(&[("login", "x"), ("password", "y")]).send().await;
    assert_eq!(res.expect("answered").status(), StatusCode::FORBIDDEN, "no CSRF token");
    assert!(child.try_wait().unwrap().is_none(), "still running");
    let _ = child.kill();
    let _ = child.wait();
}
