//! A database outage gives a 503 page, and the app recovers by itself when it is back.
//! Needs PostgreSQL (the PostgreSQL suite); on SQLite there is no server to lose.

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::StatusCode;

use crate::helpers::spawn_app;

fn admin_exec(sql: &str) {
    let url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
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
