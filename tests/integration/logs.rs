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

    assert!(
        served.logged(&["method=GET", "path=/password/set/…", "status=410"]).await,
        "the last request was logged"
    );
    assert!(served.logged(&["refused a state-changing request", "/password/set/…"]).await);
    let logs = served.log();
    drop(served);
    assert!(!logs.contains(&secret), "the link's secret appears in the logs");
    assert!(!logs.contains(&secret[..12]), "no part of the secret is logged");
    assert!(!logs.contains(chosen), "the password appears in the logs");
}

/// Found in review: behind a trusted proxy the request log named the proxy, where the
/// audit log named the client; and in JSON a request was one string, with nothing for a
/// log pipeline to filter on. Each part is a field of its own, the client the one the
/// proxy speaks for.
#[actix_web::test]
async fn each_request_is_logged_as_fields_naming_the_client_behind_a_trusted_proxy() {
    let scratch = spawn_app().await;
    let db = if tokenwarden::db::is_postgres(&scratch.database_url) {
        scratch.database_url.clone()
    } else {
        std::path::Path::new(&scratch.database_url).with_file_name("fields.db").to_string_lossy().into_owned()
    };
    let served = Served::start_with(
        &db,
        "info",
        &[("TOKENWARDEN_TRUST_PROXY", "true"), ("TOKENWARDEN_LOG_FORMAT", "json")],
    );
    // Nobody has an account yet: the sign-in page sends to the setup page.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/login?access_token=tw_notlogged", served.base))
        .header("X-Forwarded-For", "198.51.100.4, 203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(served.logged(&["\"path\":\"/login\""]).await, "{}", served.log());
    let logs = served.log();
    drop(served);
    let line: serde_json::Value = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["target"] == "tokenwarden::request" && l["path"] == "/login")
        .expect("the request's line");
    assert_eq!(line["client"], "203.0.113.7", "the client the proxy speaks for: {line}");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["status"], 303);
    assert!(line["bytes"].is_u64() && line["ms"].is_number(), "{line}");
    assert!(!logs.contains("tw_notlogged"), "never the query");
}

/// A token refused at a gateway or by introspection is logged with its id, as the API logs
/// it (never its secret): an administrator can tell which token a service keeps being
/// offered after it expired, and whose it is.
#[actix_web::test]
async fn a_refused_token_is_logged_by_its_id_at_a_gateway_and_introspection_as_at_the_api() {
    use diesel::prelude::*;
    use tokenwarden::db::schema::access_tokens;

    let scratch = spawn_app().await;
    scratch.create_user("tess", &["teacher"], &[]);
    let credential = crate::services::register(
        &scratch,
        "gradebook",
        "Gradebook",
        &["read=Read grades"],
        &[],
        &["GET /grades/*=gradebook:read"],
        false,
    );
    let expired = scratch.issue_token("tess", Some(30), &["gradebook:read"]);
    let mut conn = tokenwarden::db::connect(&scratch.database_url).unwrap();
    let yesterday = tokenwarden::domain::now() - chrono::Duration::days(1);
    diesel::update(access_tokens::table.find(expired.id))
        .set(access_tokens::expires_at.eq(Some(yesterday)))
        .execute(&mut conn)
        .unwrap();

    let served = Served::start(&scratch.database_url, "debug");
    let client = reqwest::Client::new();
    for path in ["/auth/verify/gradebook/grades/7", "/api/v1/users/self"] {
        let res =
            client.get(format!("{}{path}", served.base)).bearer_auth(&expired.secret).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let res = client
        .post(format!("{}/oauth/introspect", served.base))
        .basic_auth("gradebook", Some(&credential))
        .form(&[("token", expired.secret.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<serde_json::Value>().await.unwrap(), serde_json::json!({"active": false}));
    let id = format!("token_id={}", expired.id);
    for refused in ["refused a token at a gateway", "refused an API token", "introspection: inactive"] {
        assert!(
            served.logged(&[refused, "expired", &id]).await,
            "{refused}, with the reason and the token's id: {}",
            served.log()
        );
    }
    assert!(!served.log().contains(&expired.secret[3..20]), "no part of the secret is logged");
}
