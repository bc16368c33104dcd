//! Secrets never reach the logs: the real binary, at debug level, through a whole journey.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, Served, spawn_app};
use crate::tokens_page::shown_secret;

#[actix_web::test]
async fn no_password_setup_code_or_token_secret_is_logged() {
    // A scratch database only: the binary below runs on its own copy.
    let scratch = spawn_app().await;
    let dir = std::path::Path::new(&scratch.database_url).parent().unwrap().to_path_buf();
    let db = if tokenwarden::db::is_postgres(&scratch.database_url) {
        scratch.database_url.clone()
    } else {
        dir.join("logged.db").to_string_lossy().into_owned()
    };
    let served = Served::start(&db, "debug");
    let base = served.base.clone();
    let mut app_view = crate::helpers::Browser::detached(&base);
    app_view.complete_setup().await;
    let html = app_view.create_token("Logged journey", "30").await;
    let secret = shown_secret(&html).expect("a secret");
    app_view.post_form("/logout", &[]).await;
    assert_eq!(app_view.login("admin", "a wrong password here").await.status(), StatusCode::UNAUTHORIZED);
    app_view = crate::helpers::Browser::detached(&base);
    let _ = app_view.get(&format!("/api/v1/users/self?access_token={secret}")).await;

    // Let the last lines arrive, then read everything the server logged.
    assert!(served.logged(&["/api/v1/users/self"]).await, "the last request was logged");
    let logs = served.log();
    drop(served);
    assert!(logs.contains("POST"), "the journey was logged at all");
    for (what, value) in [
        ("the token secret", secret.as_str()),
        ("the password", PASSWORD),
        ("a wrong password", "a wrong password here"),
    ] {
        assert!(!logs.contains(value), "{what} appears in the logs");
    }
    assert!(!logs.contains(&secret[3..20]), "no part of the secret is logged");
}

#[actix_web::test]
async fn a_one_time_link_to_set_a_password_is_never_logged() {
    let scratch = spawn_app().await;
    let dir = std::path::Path::new(&scratch.database_url).parent().unwrap().to_path_buf();
    let db = if tokenwarden::db::is_postgres(&scratch.database_url) {
        scratch.database_url.clone()
    } else {
        dir.join("linked.db").to_string_lossy().into_owned()
    };
    let served = Served::start(&db, "debug");
    let base = served.base.clone();
    let admin = crate::helpers::Browser::detached(&base);
    admin.complete_setup().await;
    let res = admin
        .post_form("/admin/users", &[("login", "ada"), ("name", "Ada"), ("email", "ada@example.edu")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = admin.get_html(&crate::helpers::location(&res)).await;
    let link = crate::people::shown_link(&html).expect("a link");
    let path = link.strip_prefix(&base).expect("a link to this server").to_owned();
    let secret = path.rsplit('/').next().unwrap().to_owned();

    let ada = crate::helpers::Browser::detached(&base);
    assert_eq!(ada.get(&path).await.status(), StatusCode::OK);
    let chosen = "ada's very own passphrase";
    // Without its CSRF token: refused, and the refusal is logged with the path.
    let res = ada.post_form_raw(&path, &[("password", chosen), ("password_confirm", chosen)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = ada.post_form(&path, &[("password", chosen), ("password_confirm", chosen)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(ada.get(&path).await.status(), StatusCode::GONE);

    assert!(served.logged(&["GET /password/set/…\" 410"]).await, "the last request was logged");
    assert!(served.logged(&["refused a state-changing request", "/password/set/…"]).await);
    let logs = served.log();
    drop(served);
    assert!(!logs.contains(&secret), "the link's secret appears in the logs");
    assert!(!logs.contains(&secret[..12]), "no part of the secret is logged");
    assert!(!logs.contains(chosen), "the password appears in the logs");
}
