use reqwest::StatusCode;

use crate::helpers::{PASSWORD, SETUP_CODE, location, spawn_app};

#[actix_web::test]
async fn a_fresh_install_sends_people_to_setup() {
    let app = spawn_app().await;
    let b = app.browser();
    let res = b.get("/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/setup");
    let html = b.get_html("/setup").await;
    assert!(html.contains("setup code"));
}

#[actix_web::test]
async fn setup_with_a_wrong_code_is_refused_next_to_the_field_and_keeps_the_input() {
    let app = spawn_app().await;
    let b = app.browser();
    let res = b
        .post_form(
            "/setup",
            &[
                ("setup_code", "guess"),
                ("login", "ada"),
                ("name", "Ada Lovelace"),
                ("email", "ada@example.edu"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"setup_code-error\""));
    assert!(html.contains("That is not the setup code"));
    assert!(html.contains("value=\"Ada Lovelace\""), "the name is kept");
    assert!(!html.contains(PASSWORD), "the password is never echoed");
    // nothing was created: the setup page is still open
    assert_eq!(b.get("/setup").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn setup_reports_every_bad_field_at_once() {
    let app = spawn_app().await;
    let b = app.browser();
    let res = b
        .post_form(
            "/setup",
            &[
                ("setup_code", SETUP_CODE),
                ("login", "bad login!"),
                ("name", ""),
                ("email", "not-an-email"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    for field in ["login", "name", "email", "password"] {
        assert!(html.contains(&format!("id=\"{field}-error\"")), "{field} has its error");
    }
    assert!(html.contains("value=\"bad login!\""));
}

#[actix_web::test]
async fn setup_creates_the_first_admin_and_signs_them_in() {
    let app = spawn_app().await;
    let b = app.setup_admin().await;
    let html = b.get_html("/").await;
    assert!(html.contains("Welcome, Ada Admin"));
    assert!(html.contains("Administration"));
}

#[actix_web::test]
async fn the_setup_page_refuses_once_a_user_exists() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let b = app.browser();
    assert_eq!(b.get("/setup").await.status(), StatusCode::FORBIDDEN);
    // A forged post (with a valid CSRF token from the login page) changes nothing.
    let res = b
        .post_form(
            "/setup",
            &[
                ("setup_code", SETUP_CODE),
                ("login", "mallory"),
                ("name", "Mallory"),
                ("email", "m@example.edu"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(html.contains("Setup is complete"));
    assert_eq!(b.login("mallory", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
}
