use reqwest::StatusCode;

use crate::helpers::{PASSWORD, location, spawn_app, spawn_app_with};

#[actix_web::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let b = app.browser();
    let res = b.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ok");
    assert_eq!(b.get("/readyz").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn head_requests_get_the_headers_of_the_page_without_its_body() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (path, status) in [
        ("/healthz", StatusCode::OK),
        ("/login", StatusCode::OK),
        ("/settings/tokens", StatusCode::SEE_OTHER),
    ] {
        let url = format!("{}{path}", app.address);
        let get = client.get(&url).send().await.unwrap();
        let head = client.head(&url).send().await.unwrap();
        assert_eq!((get.status(), head.status()), (status, status), "{path}");
        assert_eq!(head.headers().get("Content-Type"), get.headers().get("Content-Type"), "{path}");
        assert_eq!(head.headers().get("Location"), get.headers().get("Location"), "{path}");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
    // a HEAD changes nothing a GET would not: the API still wants a token
    let res = client.head(format!("{}/api/v1/users/self", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_wrong_password_is_refused_with_a_generic_message() {
    let app = spawn_app().await;
    app.setup_admin().await;
    app.create_user("sam", &["student"], &[]);
    let b = app.browser();
    let wrong = b.login("sam", "not the password at all").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong_html = wrong.text().await.unwrap();
    let unknown = b.login("nobody", "not the password at all").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown_html = unknown.text().await.unwrap();
    let message = "That login and password do not match an active account.";
    assert!(wrong_html.contains(message) && unknown_html.contains(message));
    assert!(wrong_html.contains("value=\"sam\""), "the login is kept");
    assert!(!b.is_signed_in().await);
}

#[actix_web::test]
async fn logins_are_case_insensitive() {
    let app = spawn_app().await;
    app.create_user("Grace.Hopper", &["teacher"], &[]);
    let b = app.browser();
    assert_eq!(b.login("GRACE.hopper", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert!(b.is_signed_in().await);
}

#[actix_web::test]
async fn the_session_cookie_changes_at_login() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let b = app.browser();
    b.get_html("/login").await;
    let before = b.session_cookie().expect("an anonymous session holds the CSRF token");
    let res = b.login("sam", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let after = b.session_cookie().expect("a session cookie");
    assert_ne!(before, after);
    // and the anonymous cookie from before grants nothing
    let b2 = app.browser();
    b2.jar.add_cookie_str(&format!("tw_session={before}; Path=/"), &b.base.parse().unwrap());
    assert!(!b2.is_signed_in().await);
}

#[actix_web::test]
async fn pages_after_sign_in_leave_the_cookies_alone_and_a_flash_is_shown_once() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let b = app.signed_in("sam").await;
    let set_cookies = |res: &reqwest::Response| {
        res.headers().get_all("Set-Cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    // The sign-in response carried the session with its CSRF token: reading pages writes
    // nothing back (no re-encrypted session, no flash cookie to clear).
    for path in ["/", "/settings/tokens", "/settings/account", "/settings/tokens"] {
        let res = b.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(set_cookies(&res), Vec::<String>::new(), "{path}");
    }
    // A flash message is set by the action, shown by the next page, which clears it.
    let res = b.post_form("/logout/everywhere", &[]).await;
    assert!(set_cookies(&res).iter().any(|c| c.starts_with("tw_flash=") && !c.starts_with("tw_flash=;")));
    let res = b.get(&location(&res)).await;
    assert!(set_cookies(&res).iter().any(|c| c.starts_with("tw_flash=;") && c.contains("Max-Age=0")));
    assert!(res.text().await.unwrap().contains("signed out everywhere"));
    assert!(!b.get_html("/login").await.contains("signed out everywhere"), "once");
}

#[actix_web::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    let b = app.browser();
    let res = b.get("/login").await;
    let cookie = res
        .headers()
        .get_all("Set-Cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tw_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
}

#[actix_web::test]
async fn a_next_parameter_returns_to_the_page_asked_for() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let b = app.browser();
    let res = b.get("/settings/account").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?next=%2Fsettings%2Faccount");
    let res = b
        .post_form("/login", &[("login", "sam"), ("password", PASSWORD), ("next", "/settings/account")])
        .await;
    assert_eq!(location(&res), "/settings/account");
    let res =
        b.post_form("/login", &[("login", "sam"), ("password", PASSWORD), ("next", "//evil.example/")]).await;
    assert_eq!(location(&res), "/");
}

#[actix_web::test]
async fn a_form_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let b = app.signed_in("sam").await;
    let new = "a brand new password 42";
    let res = b
        .post_form_raw(
            "/settings/account/password",
            &[("current_password", PASSWORD), ("new_password", new), ("new_password_confirm", new)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Form expired"));
    // a wrong token is refused too
    let res = b
        .post_form_raw(
            "/settings/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", new),
                ("new_password_confirm", new),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // the password did not change, and sign-out without a token did not sign out
    assert_eq!(b.post_form_raw("/logout", &[]).await.status(), StatusCode::FORBIDDEN);
    assert!(b.is_signed_in().await);
    assert_eq!(app.browser().login("sam", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.browser().login("sam", new).await.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn an_htmx_request_carries_the_token_in_a_header() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let b = app.signed_in("sam").await;
    let res = b.htmx_post("/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!b.is_signed_in().await);
}

#[actix_web::test]
async fn logging_out_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let b = app.signed_in("sam").await;
    let stolen = b.clone_session();
    assert!(stolen.is_signed_in().await);
    let res = b.post_form("/logout", &[]).await;
    assert_eq!(location(&res), "/login");
    assert!(!b.is_signed_in().await);
    assert!(!stolen.is_signed_in().await, "a copy of the old cookie is refused");
}

#[actix_web::test]
async fn after_logging_out_everywhere_an_old_session_cookie_is_refused() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let laptop = app.signed_in("sam").await;
    let phone = app.signed_in("sam").await;
    let old_cookie = laptop.clone_session();
    let res = phone.post_form("/logout/everywhere", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = phone.get_html(&location(&res)).await;
    assert!(html.contains("signed out everywhere"), "a flash message says what happened");
    assert!(!phone.is_signed_in().await);
    assert!(!laptop.is_signed_in().await);
    assert!(!old_cookie.is_signed_in().await);
}

/// Moves every session of `login` back in time: `idle` since its last request, `age` since
/// it began.
fn age_sessions(app: &crate::helpers::TestApp, login: &str, idle: chrono::Duration, age: chrono::Duration) {
    use diesel::prelude::*;
    use tokenwarden::db::schema::user_sessions;
    let now = chrono::Utc::now().naive_utc();
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    diesel::update(user_sessions::table.filter(user_sessions::user_id.eq(app.user_id(login))))
        .set((user_sessions::last_seen_at.eq(now - idle), user_sessions::created_at.eq(now - age)))
        .execute(&mut conn)
        .unwrap();
}

#[actix_web::test]
async fn the_server_ends_a_session_idle_for_30_minutes_or_older_than_12_hours() {
    use chrono::Duration;
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);

    // 29 minutes idle, 11 hours old: still signed in
    let b = app.signed_in("sam").await;
    age_sessions(&app, "sam", Duration::minutes(29), Duration::hours(11));
    assert!(b.is_signed_in().await);

    // 31 minutes idle: the same cookie now leads to the login page
    age_sessions(&app, "sam", Duration::minutes(31), Duration::hours(1));
    let res = b.get("/settings/tokens").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login"));
    assert!(!b.is_signed_in().await, "ended, not only refused once");

    // used a minute ago but begun 12 h 1 min ago: ended too
    let b = app.signed_in("sam").await;
    age_sessions(&app, "sam", Duration::minutes(1), Duration::hours(12) + Duration::minutes(1));
    assert!(!b.is_signed_in().await);
}

#[actix_web::test]
async fn a_suspended_users_session_ends_and_they_cannot_sign_in() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    let student = app.signed_in("sam").await;
    assert!(student.is_signed_in().await);
    let res = admin.post_form(&format!("/admin/users/{sam}/suspend"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!student.is_signed_in().await);
    assert_eq!(app.browser().login("sam", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    // reactivated, they may sign in again
    admin.post_form(&format!("/admin/users/{sam}/reactivate"), &[]).await;
    assert_eq!(app.browser().login("sam", PASSWORD).await.status(), StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_student_cannot_suspend_anyone() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    let tess = app.create_user("tess", &["teacher"], &[]);
    let student = app.signed_in("sam").await;
    let res = student.post_form(&format!("/admin/users/{tess}/suspend"), &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.browser().login("tess", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let _ = sam;
}

#[actix_web::test]
async fn changing_the_password_ends_other_sessions_but_keeps_this_one() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let here = app.signed_in("sam").await;
    let elsewhere = app.signed_in("sam").await;
    let new = "a brand new password 42";
    let res = here
        .post_form(
            "/settings/account/password",
            &[("current_password", PASSWORD), ("new_password", new), ("new_password_confirm", new)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(here.is_signed_in().await);
    assert!(!elsewhere.is_signed_in().await);
    assert_eq!(app.browser().login("sam", new).await.status(), StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_wrong_current_password_changes_nothing_and_says_so_next_to_the_field() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let b = app.signed_in("sam").await;
    let new = "a brand new password 42";
    let res = b
        .post_form(
            "/settings/account/password",
            &[("current_password", "wrong"), ("new_password", new), ("new_password_confirm", new)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("id=\"current_password-error\""));
    assert_eq!(app.browser().login("sam", PASSWORD).await.status(), StatusCode::SEE_OTHER);
}

/// Found in review: the form that changes a password checked the current one with no
/// limit, so whoever held a stolen session could guess it, and then take the account. It
/// has a login's budget: after it, even the right password waits.
#[actix_web::test]
async fn guesses_of_the_current_password_are_throttled() {
    let app = spawn_app_with(|s| s.login_attempts_per_login = 3).await;
    app.create_user("sam", &["student"], &[]);
    let b = app.signed_in("sam").await;
    let new = "a brand new password 42";
    let change = |current: &'static str| {
        let b = &b;
        async move {
            b.post_form(
                "/settings/account/password",
                &[("current_password", current), ("new_password", new), ("new_password_confirm", new)],
            )
            .await
        }
    };
    for _ in 0..3 {
        assert_eq!(change("a wrong guess").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = change(PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"current_password-error\"") && html.contains("Too many tries: wait"),
        "{html}"
    );
    assert_eq!(app.browser().login("sam", PASSWORD).await.status(), StatusCode::SEE_OTHER, "nothing changed");
}

#[actix_web::test]
async fn repeated_failed_logins_are_throttled() {
    let app = spawn_app_with(|s| s.login_attempts_per_login = 3).await;
    app.create_user("sam", &["student"], &[]);
    let b = app.browser();
    for _ in 0..3 {
        assert_eq!(b.login("sam", "wrong guess").await.status(), StatusCode::UNAUTHORIZED);
    }
    let res = b.login("sam", "wrong guess").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("Retry-After"));
    assert!(res.text().await.unwrap().contains("Too many sign-in attempts"));
    // even the right password waits: the login is throttled, not the guess
    assert_eq!(b.login("SAM", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn failed_logins_from_one_address_are_throttled_across_logins() {
    let app = spawn_app_with(|s| s.login_attempts_per_ip = 4).await;
    let b = app.browser();
    for i in 0..4 {
        assert_eq!(b.login(&format!("user{i}"), "x").await.status(), StatusCode::UNAUTHORIZED);
    }
    let started = std::time::Instant::now();
    let res = b.login("someone-else", "x").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(started.elapsed() >= tokenwarden::auth::rate_limit::TARPIT, "held back before the answer");
    assert!(res.headers().contains_key("Retry-After"));
    assert!(res.headers().contains_key("Content-Security-Policy"), "the usual headers");
    let html = res.text().await.unwrap();
    assert!(html.contains("Too many sign-in attempts") && html.contains("<link rel=\"stylesheet\""));
    // refused before the form was read: the audit log has the four failures only
    use diesel::prelude::*;
    use tokenwarden::db::schema::audit_events;
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    let failures: i64 = audit_events::table
        .filter(audit_events::action.eq("login.failed"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(failures, 4);
}

#[actix_web::test]
async fn pages_carry_the_security_headers() {
    let app = spawn_app().await;
    let res = app.browser().get("/login").await;
    let h = res.headers();
    let csp = h.get("Content-Security-Policy").unwrap().to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(h.get("X-Frame-Options").unwrap(), "DENY");
    assert_eq!(h.get("X-Content-Type-Options").unwrap(), "nosniff");
    assert!(h.contains_key("Referrer-Policy"));
}

#[actix_web::test]
async fn the_pages_serve_the_pinned_htmx_and_the_stylesheet() {
    let app = spawn_app().await;
    let b = app.browser();
    let res = b.get("/static/vendor/htmx.min.js").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("Content-Type").unwrap().to_str().unwrap().starts_with("text/javascript"));
    assert!(res.text().await.unwrap().contains("version:\"2.0"));
    assert_eq!(b.get("/static/css/app.css").await.status(), StatusCode::OK);
    assert_eq!(b.get("/static/../Cargo.toml").await.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn an_unknown_page_is_a_styled_404() {
    let app = spawn_app().await;
    let res = app.browser().get("/no/such/page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = res.text().await.unwrap();
    assert!(html.contains("Page not found") && html.contains("<link rel=\"stylesheet\""));
}

#[actix_web::test]
async fn malformed_input_is_a_clear_400_never_a_500() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let b = app.browser();
    // a login form without its fields
    let res = b.post_form("/login", &[("unexpected", "x")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("could not be read"));
    // a path id that is not a number
    app.create_user("admin", &[], &["Account Admin"]);
    let admin = app.signed_in("admin").await;
    let res = admin.post_form("/admin/users/abc/suspend", &[]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn a_signed_in_user_does_not_see_the_admin_pages_in_the_navigation() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let html = app.signed_in("sam").await.get_html("/").await;
    assert!(html.contains("Access tokens"));
    assert!(!html.contains("href=\"/admin/users\""));
    assert!(!html.contains("Administration"));
}

#[actix_web::test]
async fn cookies_are_secure_when_served_over_https() {
    let app = spawn_app_with(|s| s.secure_cookies = true).await;
    let res = app.browser().get("/login").await;
    let cookie = res
        .headers()
        .get_all("Set-Cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tw_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
}

/// Found in review: the flash cookie was always `Secure`, so a browser on plain HTTP at any
/// host but localhost dropped it, and with it every message after a change ("Token
/// deleted.", "You have signed out."). It follows `--secure-cookies` as the session does.
#[actix_web::test]
async fn the_flash_cookie_is_secure_only_when_the_cookies_are() {
    for secure in [false, true] {
        let app = spawn_app_with(|s| s.secure_cookies = secure).await;
        app.create_user("sam", &["student"], &[]);
        let b = app.signed_in("sam").await;
        let res = b.post_form("/logout/everywhere", &[]).await;
        let flash = res
            .headers()
            .get_all("Set-Cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("tw_flash=") && !c.starts_with("tw_flash=;"))
            .expect("the message's cookie")
            .to_owned();
        let flagged = flash.split(';').any(|a| a.trim().eq_ignore_ascii_case("secure"));
        assert_eq!(flagged, secure, "{flash}");
        assert!(flash.contains("HttpOnly"), "{flash}");
    }
}
