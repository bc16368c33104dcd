//! Single sign-on with a real OpenID Provider (`oidc_provider.rs`). Each test walks the
//! whole authorization code flow over HTTP as a browser does: tokenwarden's `/login/oidc`,
//! the provider's sign-in page, the callback, the page it was going to.

use reqwest::StatusCode;
use tokenwarden::domain::EnrollmentRole;
use tokenwarden::domain::people::PasswordLogin;
use tokenwarden::models::{RoleSource, User};

use crate::api::json;
use crate::helpers::{Browser, PASSWORD, TestApp, location};
use crate::oidc_provider::{World, world, world_with};

/// `location` resolved against the URL that answered with it.
fn resolve(from: &str, location: &str) -> String {
    url::Url::parse(from).unwrap().join(location).unwrap().to_string()
}

impl World {
    /// Walks the flow from `/login/oidc?next=…` through the provider's sign-in page as
    /// `login`, and stops at the redirect back to tokenwarden: the callback's URL, not yet
    /// followed.
    async fn through_the_provider(&self, browser: &Browser, login: &str, next: Option<&str>) -> String {
        let start = match next {
            Some(n) => format!("/login/oidc?next={}", urlencode(n)),
            None => "/login/oidc".to_owned(),
        };
        let res = browser.get(&start).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{start} sends the browser to the provider");
        let mut url = location(&res);
        assert!(url.starts_with(&format!("{}/auth?", self.provider.issuer)), "to the provider: {url}");
        assert!(url.contains("code_challenge_method=S256"), "with PKCE: {url}");
        assert!(url.contains("nonce="), "with a nonce: {url}");
        for _ in 0..10 {
            if url.starts_with(&browser.base) {
                return url;
            }
            let res = browser.client.get(&url).send().await.expect("GET at the provider");
            if res.status() == StatusCode::OK && url.contains("/interaction/") {
                let page = res.text().await.unwrap();
                assert!(page.contains("Test University sign-in"), "the provider's own sign-in page");
                let res = browser
                    .client
                    .post(&url)
                    .form(&[("login", login), ("password", PASSWORD)])
                    .send()
                    .await
                    .expect("sign in at the provider");
                assert!(res.status().is_redirection(), "the provider accepts {login}: {}", res.status());
                url = resolve(&url, &location(&res));
                continue;
            }
            assert!(res.status().is_redirection(), "GET {url}: {}", res.status());
            url = resolve(&url, &location(&res));
        }
        panic!("the provider never sent the browser back");
    }

    /// The whole flow; the callback's answer.
    async fn sign_in(&self, browser: &Browser, login: &str) -> reqwest::Response {
        let callback = self.through_the_provider(browser, login, None).await;
        browser.client.get(&callback).send().await.expect("the callback")
    }

    fn user(&self, login: &str) -> Option<User> {
        let mut conn = tokenwarden::db::connect(&self.app.database_url).unwrap();
        User::find_by_login(&mut conn, &tokenwarden::domain::Login::parse(login).unwrap()).unwrap()
    }

    /// Enrollment roles and account role names of `login`, with where they came from.
    fn roles(&self, login: &str) -> RolesWithSources {
        let id = self.user(login).expect("the user exists").id;
        let mut conn = tokenwarden::db::connect(&self.app.database_url).unwrap();
        let mut sources = User::role_sources(&mut conn, id).unwrap();
        sources.enrollment.sort();
        let roles = User::roles(&mut conn, id).unwrap();
        let account = sources
            .account
            .iter()
            .map(|(rid, s)| (roles.account.iter().find(|r| r.id == *rid).unwrap().name.clone(), *s))
            .collect();
        (sources.enrollment, account)
    }
}

/// A user's enrollment roles and account role names, each with where it came from.
type RolesWithSources = (Vec<(EnrollmentRole, RoleSource)>, Vec<(String, RoleSource)>);

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// SPEC 12: the first sign-in creates the user, with the roles the role map gives their
/// groups; the login page offers the provider first.
#[actix_web::test]
async fn a_first_sign_in_creates_the_user_with_the_roles_of_their_groups() {
    let w = world().await;
    w.provider.set_person("tess", "Tess Teacher", &["Faculty", "Chess club"]);
    let browser = w.app.browser();
    // Nobody has an account yet: the start page leads to signing in, not to the setup page.
    let res = browser.get("/").await;
    assert_eq!(location(&res), "/login", "found in review: / led to /setup");
    let page = browser.get_html("/login").await;
    let button = page.find("Sign in with Test University").expect("the provider's button");
    let form = page.find("name=\"password\"").expect("passwords are on: the form is there too");
    assert!(button < form, "the provider comes first");

    let res = w.sign_in(&browser, "tess").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{:?}", res.text().await);
    assert_eq!(location(&res), "/");
    assert!(browser.is_signed_in().await);
    let user = w.user("tess").expect("created at the first sign-in");
    assert_eq!(user.name, "Tess Teacher");
    assert_eq!(user.email, "tess@school.example.edu");
    assert_eq!(w.roles("tess"), (vec![(EnrollmentRole::Teacher, RoleSource::Sso)], vec![]));
    let home = browser.get_html("/").await;
    assert!(home.contains("Tess Teacher"), "signed in as her");

    // The next sign-in finds the same account (by the provider's subject).
    w.provider.set_person("tess", "Tess T. Teacher", &["Faculty", "IT"]);
    let again = w.app.browser();
    assert_eq!(w.sign_in(&again, "tess").await.status(), StatusCode::SEE_OTHER);
    assert!(again.is_signed_in().await);
    assert_eq!(w.user("tess").unwrap().id, user.id);
    assert_eq!(w.user("tess").unwrap().name, "Tess T. Teacher", "the name follows the provider");
    assert_eq!(
        w.roles("tess"),
        (
            vec![(EnrollmentRole::Teacher, RoleSource::Sso)],
            vec![("Account Admin".to_owned(), RoleSource::Sso)]
        ),
        "the IT group makes her an Account Admin"
    );
    assert_eq!(again.get("/admin/settings").await.status(), StatusCode::OK);
}

/// The groups can come in the ID token itself (Entra ID, Keycloak) rather than from the
/// user info endpoint; `next` survives the trip.
#[actix_web::test]
async fn groups_in_the_id_token_work_too_and_the_browser_returns_where_it_was_going() {
    let w = world_with("id_token", |_| {}).await;
    w.provider.set_person("ada", "Ada Assistant", &["Assistants", "Students"]);
    let browser = w.app.browser();
    let callback = w.through_the_provider(&browser, "ada", Some("/settings/tokens")).await;
    let res = browser.client.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/settings/tokens");
    let (enrollment, account) = w.roles("ada");
    assert_eq!(
        enrollment,
        [(EnrollmentRole::Student, RoleSource::Sso), (EnrollmentRole::Ta, RoleSource::Sso)],
        "a student who is also a TA"
    );
    assert!(account.is_empty());
}

/// SPEC 12 and 4.3: the provider drops someone's teacher group; at their next sign-in they
/// are student-only and their tokens are capped to the student maximum, audited.
#[actix_web::test]
async fn a_teacher_whom_the_provider_moves_to_students_only_is_capped_at_the_next_sign_in() {
    let w = world().await;
    w.provider.set_person("tom", "Tom Teacher", &["Faculty"]);
    assert_eq!(w.sign_in(&w.app.browser(), "tom").await.status(), StatusCode::SEE_OTHER);
    let forever = w.app.issue_token("tom", None, &[]);
    let api = w.app.api(&forever.secret);
    assert_eq!(api.get("/api/v1/users/self").await.status(), StatusCode::OK);
    let (_, token) = json(api.get(&format!("/api/v1/users/self/tokens/{}", forever.id)).await).await;
    assert!(token["expires_at"].is_null(), "a teacher's token may live forever");

    w.provider.set_person("tom", "Tom Teacher", &["Students"]);
    let browser = w.app.browser();
    assert_eq!(w.sign_in(&browser, "tom").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(w.roles("tom"), (vec![(EnrollmentRole::Student, RoleSource::Sso)], vec![]));
    let (_, token) = json(api.get(&format!("/api/v1/users/self/tokens/{}", forever.id)).await).await;
    let expires: chrono::DateTime<chrono::Utc> =
        token["expires_at"].as_str().expect("capped: it has an expiry now").parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((119.0..=120.0).contains(&days), "capped to 120 days from now, not {days}");
    let page = browser.get_html("/settings/tokens").await;
    assert!(!page.contains("No expiry"), "a student-only user is not offered tokens without expiry");

    let admin = w.app.setup_admin_beside().await;
    let audit = admin.get_html(&format!("/admin/users/{}", w.user("tom").unwrap().id)).await;
    assert!(audit.contains("capped"), "the cap is in the user's recent activity");
    assert!(audit.contains("from single sign-on"), "the profile says where the role came from");
}

/// A callback is good once: replayed in the same browser or carried to another, it is
/// refused with a clear page and signs nobody in.
#[actix_web::test]
async fn a_replayed_callback_is_refused() {
    let w = world().await;
    w.provider.set_person("rita", "Rita Replay", &["Faculty"]);
    let browser = w.app.browser();
    let callback = w.through_the_provider(&browser, "rita", None).await;
    let thief = w.app.browser();
    let res = thief.client.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "another browser's callback");
    assert!(res.text().await.unwrap().contains("not started in this browser"));
    assert!(!thief.is_signed_in().await);

    assert_eq!(browser.client.get(&callback).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    assert!(browser.is_signed_in().await);
    browser.post_form("/logout", &[]).await;
    let res = browser.client.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "the same callback again");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Sign-in expired") && page.contains("Sign in with Test University again"),
        "{page}"
    );
    assert!(!browser.is_signed_in().await);
}

/// A state this browser did not start is refused before the code is even looked at, and
/// the sign-in it did start is then over too.
#[actix_web::test]
async fn a_forged_state_is_refused() {
    let w = world().await;
    w.provider.set_person("fred", "Fred Forged", &["Faculty"]);
    let browser = w.app.browser();
    let callback = w.through_the_provider(&browser, "fred", None).await;
    let mut forged = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" { "made-up-state".to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let res = browser.client.get(forged.as_str()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("does not belong to the sign-in this browser started"));
    assert!(!browser.is_signed_in().await);
    assert!(w.user("fred").is_none(), "nobody was created");
    assert_eq!(browser.client.get(&callback).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
}

/// An identity provider that is down: a clear page (503), never a 500 — before the
/// browser leaves and when it comes back.
#[actix_web::test]
async fn an_identity_provider_that_is_down_gives_a_clear_page() {
    let mut w = world().await;
    w.provider.set_person("dora", "Dora Down", &["Faculty"]);
    let browser = w.app.browser();
    let callback = w.through_the_provider(&browser, "dora", None).await;
    w.provider.child.kill().unwrap();
    w.provider.child.wait().unwrap();
    let res = browser.client.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.unwrap().contains("Try again in a few minutes"));
    assert!(!browser.is_signed_in().await);

    let fresh = world().await;
    drop(fresh.provider);
    let res = fresh.app.browser().get("/login/oidc").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.unwrap().contains("Test University cannot be reached"));
}

/// `--password-login off`: the sign-in page has no password form, and a password posted
/// anyway is refused even when it is right.
#[actix_web::test]
async fn with_passwords_off_the_form_is_gone_and_a_posted_password_is_refused() {
    let w = world_with("userinfo", |s| s.password_login = PasswordLogin::Off).await;
    w.app.create_user("paula", &["teacher"], &[]);
    let browser = w.app.browser();
    let page = browser.get_html("/login").await;
    assert!(page.contains("Sign in with Test University"));
    assert!(!page.contains("name=\"password\""), "no password form");
    // Posted anyway, by a script that took the session's token from the page's htmx headers.
    let marker = "\"X-CSRF-Token\": \"";
    let at = page.find(marker).expect("the page's CSRF token") + marker.len();
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let res = browser
        .post_form_raw("/login", &[("login", "paula"), ("password", PASSWORD), ("csrf_token", csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Passwords are turned off here"));
    assert!(!browser.is_signed_in().await);
}

/// `--password-login break-glass`: only the named administrators keep their password; a
/// local user's right password is refused as a wrong one would be; the provider's people
/// cannot take over a break-glass account by its login.
#[actix_web::test]
async fn break_glass_keeps_passwords_for_the_named_administrators_only() {
    let w = world_with("userinfo", |s| {
        s.password_login = PasswordLogin::BreakGlass;
        s.break_glass_logins = vec!["root".to_owned()];
    })
    .await;
    w.app.create_user("root", &[], &["Account Admin"]);
    w.app.create_user("paula", &["teacher"], &[]);
    let page = w.app.browser().get_html("/login").await;
    assert!(page.contains("Administrators: sign in with a password"));

    let root = w.app.browser();
    assert_eq!(root.login("root", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert!(root.is_signed_in().await);
    let paula = w.app.browser();
    let res = paula.login("paula", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(!paula.is_signed_in().await);

    w.provider.set_person("root", "Not The Admin", &["IT"]);
    let res = w.sign_in(&w.app.browser(), "root").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("break-glass account"));
}

/// An account an administrator made before single sign-on is tied to the provider's
/// person with the same login at their first sign-in; the roles the administrator gave
/// stay, apart from those of the provider.
#[actix_web::test]
async fn an_existing_account_is_tied_to_the_provider_and_keeps_the_administrators_roles() {
    let w = world().await;
    w.app.create_user("lena", &["designer"], &[]);
    set_email(&w.app, "lena", "lena@school.example.edu");
    w.provider.set_person("lena", "Lena Linked", &["Faculty"]);
    assert_eq!(w.sign_in(&w.app.browser(), "lena").await.status(), StatusCode::SEE_OTHER);
    let (enrollment, _) = w.roles("lena");
    assert_eq!(
        enrollment,
        [(EnrollmentRole::Teacher, RoleSource::Sso), (EnrollmentRole::Designer, RoleSource::Admin)],
        "the provider's teacher beside the administrator's designer"
    );
    let linked = w.user("lena").unwrap();
    assert!(linked.oidc_subject.is_some(), "tied to the provider's subject");
}

/// Found in review: a provider whose people choose their own usernames (and type their own
/// email) would hand an account made here, with its tokens, to whoever chose the same
/// login. An existing account is tied only when the provider gives its email address too.
#[actix_web::test]
async fn an_existing_account_is_tied_only_when_the_email_is_the_same_too() {
    let w = world().await;
    w.app.create_user("chief", &[], &["Account Admin"]);
    w.app.create_user("tess", &["teacher"], &[]);
    for login in ["chief", "tess"] {
        w.provider.set_person(login, "Someone Else", &["Faculty"]);
        let res = w.sign_in(&w.app.browser(), login).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{login}");
        assert!(res.text().await.unwrap().contains("exists here with another email address"), "{login}");
        assert!(w.user(login).unwrap().oidc_subject.is_none(), "{login} is not tied");
        // The same person: the provider's email is the account's.
        set_email(&w.app, login, &format!("{login}@school.example.edu"));
        assert_eq!(w.sign_in(&w.app.browser(), login).await.status(), StatusCode::SEE_OTHER, "{login}");
        assert!(w.user(login).unwrap().oidc_subject.is_some(), "{login} is tied");
    }
}

/// Sets `login`'s email address in the test's database.
fn set_email(app: &TestApp, login: &str, email: &str) {
    use diesel::prelude::*;
    use tokenwarden::db::schema::users;
    let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
    diesel::update(users::table.filter(users::login.eq(login)))
        .set(users::email.eq(email))
        .execute(&mut conn)
        .expect("the email");
}

impl TestApp {
    /// An Account Admin beside whoever signs in with the provider, signed in with a password.
    async fn setup_admin_beside(&self) -> Browser {
        self.create_user("overseer", &[], &["Account Admin"]);
        self.signed_in("overseer").await
    }
}
