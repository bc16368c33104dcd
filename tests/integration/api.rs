//! The JSON API (SPEC 6), through HTTP, with real tokens: every endpoint and every refusal.

use chrono::{Duration, Utc};
use reqwest::header::{LINK, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokenwarden::domain::token::ExpiryChoice;
use tokenwarden::domain::token_secret::TokenSecret;
use tokenwarden::domain::{Login, now};
use tokenwarden::models::User;
use tokenwarden::services::tokens::{self, TokenDraft};
use tokenwarden::services::{Actor, Via};

use crate::helpers::{TestApp, spawn_app, spawn_app_on, spawn_app_with};

const INVALID: &str = r#"{"errors":[{"message":"Invalid access token."}]}"#;
const SHOW_USER: &str = "url:GET|/api/v1/users/:id";
const SHOW_PROFILE: &str = "url:GET|/api/v1/users/:user_id/profile";
const LIST_TOKENS: &str = "url:GET|/api/v1/users/:user_id/user_generated_tokens";

/// A token made by the real `tokens::create`, as its owner would make it.
pub struct Issued {
    pub id: i64,
    pub secret: String,
}

impl TestApp {
    /// Creates a token of `login`'s through `tokens::create`, under the rules, as the owner.
    pub fn issue_token(&self, login: &str, days: Option<i64>, scopes: &[&str]) -> Issued {
        let mut conn = tokenwarden::db::connect(&self.database_url).expect("connect");
        issue_on(&mut conn, login, "API test", days, scopes)
    }

    /// The secret of a new unlimited token of `login`'s.
    pub fn api_token(&self, login: &str, days: Option<i64>) -> String {
        self.issue_token(login, days, &[]).secret
    }

    /// An API client presenting `token` as a bearer token.
    pub fn api(&self, token: &str) -> Api {
        Api { base: self.address.clone(), client: client(), token: Some(token.to_owned()) }
    }

    /// An API client presenting no token.
    pub fn anonymous_api(&self) -> Api {
        Api { base: self.address.clone(), client: client(), token: None }
    }

    /// Moves a token's expiry into the past, as time would.
    fn expire_token(&self, id: i64) {
        use diesel::prelude::*;
        use tokenwarden::db::schema::access_tokens;
        let mut conn = tokenwarden::db::connect(&self.database_url).expect("connect");
        diesel::update(access_tokens::table.find(id))
            .set(access_tokens::expires_at.eq(Some(now() - Duration::minutes(1))))
            .execute(&mut conn)
            .expect("expire the token");
    }
}

/// Issues a token of `login`'s with this purpose through the service layer, on `conn`.
pub fn issue_on(
    conn: &mut tokenwarden::db::DbConnection,
    login: &str,
    purpose: &str,
    days: Option<i64>,
    scopes: &[&str],
) -> Issued {
    let owner = User::find_by_login(conn, &Login::parse(login).unwrap()).unwrap().expect("the owner");
    let roles = User::roles(conn, owner.id).unwrap();
    let actor = Actor::user(owner.id, roles.permissions(), roles.is_student_only(), Via::Cli, None);
    let draft = TokenDraft {
        purpose: Some(purpose.to_owned()),
        scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
        expiry: Some(Ok(days.map_or(ExpiryChoice::Never, ExpiryChoice::Days))),
    };
    let issued = tokens::create(conn, &actor, owner.id, &draft).expect("create a token");
    Issued { id: issued.token.id, secret: issued.secret.expose().to_owned() }
}

/// An API client that, like the browser, drops a pooled connection before the server does.
fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_idle_timeout(std::time::Duration::from_secs(3)).build().expect("a client")
}

pub struct Api {
    base: String,
    client: reqwest::Client,
    token: Option<String>,
}

impl Api {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) };
        let req = self.client.request(method, url);
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(reqwest::Method::GET, path).send().await.expect("GET")
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.send_form(reqwest::Method::POST, path, fields).await
    }

    pub async fn put_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.send_form(reqwest::Method::PUT, path, fields).await
    }

    async fn send_form(&self, method: reqwest::Method, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = serde_urlencoded::to_string(fields).expect("encode");
        self.request(method, path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("send a form")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(reqwest::Method::POST, path).json(body).send().await.expect("POST")
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Response {
        self.request(reqwest::Method::PUT, path).json(body).send().await.expect("PUT")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(reqwest::Method::DELETE, path).send().await.expect("DELETE")
    }
}

/// The status and the JSON body of a response.
pub async fn json(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("a body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

/// Asserts the one 401 every bad token gets.
async fn assert_invalid_token(res: Response, case: &str) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{case}");
    assert_eq!(
        res.headers().get(WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_owned()).as_deref(),
        Some("Bearer"),
        "{case}"
    );
    assert_eq!(res.text().await.unwrap(), INVALID, "{case}");
}

/// The message of a `{"errors":[{"message":…}]}` body.
fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_else(|| panic!("an error list: {body}"))
}

/// The link with relation `rel` in a `Link` header.
fn link(res: &Response, rel: &str) -> Option<String> {
    let header = res.headers().get(LINK)?.to_str().ok()?.to_owned();
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        (params.trim() == format!("rel=\"{rel}\"")).then(|| url.trim().trim_matches(['<', '>']).to_owned())
    })
}

pub fn in_days(days: i64) -> String {
    (Utc::now() + Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------------------------------
// Authentication

#[actix_web::test]
async fn missing_malformed_mistyped_and_unknown_tokens_get_the_same_401() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let secret = app.api_token("sam", Some(30));
    let mut typo: Vec<char> = secret.chars().collect();
    typo[10] = if typo[10] == 'a' { 'b' } else { 'a' };
    let typo: String = typo.into_iter().collect();
    let unknown = TokenSecret::generate().expose().to_owned();

    assert_invalid_token(app.anonymous_api().get("/api/v1/users/self").await, "missing").await;
    for (case, header) in [
        ("no scheme", secret.clone()),
        ("basic", format!("Basic {secret}")),
        ("empty bearer", "Bearer ".to_owned()),
        ("not a token", "Bearer not-a-token".to_owned()),
        ("bad checksum", format!("Bearer {typo}")),
        ("unknown", format!("Bearer {unknown}")),
    ] {
        let res = reqwest::Client::new()
            .get(format!("{}/api/v1/users/self", app.address))
            .header("Authorization", header)
            .send()
            .await
            .unwrap();
        assert_invalid_token(res, case).await;
    }
    for (case, query) in [("bad checksum in the query", typo.as_str()), ("empty query", "")] {
        let res = app.anonymous_api().get(&format!("/api/v1/users/self?access_token={query}")).await;
        assert_invalid_token(res, case).await;
    }
    // every endpoint asks for a token
    let api = app.anonymous_api();
    for res in [
        api.get("/api/v1/users/1").await,
        api.get("/api/v1/users/self/profile").await,
        api.get("/api/v1/users/self/user_generated_tokens").await,
        api.get("/api/v1/users/self/tokens/1").await,
        api.post_form("/api/v1/users/self/tokens", &[("token[purpose]", "x")]).await,
        api.put_form("/api/v1/users/self/tokens/1", &[("token[purpose]", "x")]).await,
        api.delete("/api/v1/users/self/tokens/1").await,
    ] {
        assert_invalid_token(res, "anonymous").await;
    }
    // and the real one works
    assert_eq!(app.api(&secret).get("/api/v1/users/self").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn the_access_token_query_parameter_authenticates_like_the_header() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let secret = app.api_token("sam", Some(30));
    let (status, body) =
        json(app.anonymous_api().get(&format!("/api/v1/users/self?access_token={secret}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["login_id"], "sam");
}

#[actix_web::test]
async fn an_expired_token_is_refused_at_once() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let issued = app.issue_token("sam", Some(7), &[]);
    let api = app.api(&issued.secret);
    assert_eq!(api.get("/api/v1/users/self").await.status(), StatusCode::OK);
    app.expire_token(issued.id);
    assert_invalid_token(api.get("/api/v1/users/self").await, "expired").await;
}

#[actix_web::test]
async fn a_suspended_owners_tokens_stop_working() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    assert_eq!(api.get("/api/v1/users/self").await.status(), StatusCode::OK);
    let id = app.user_id("tess");
    assert_eq!(
        admin.post_form(&format!("/admin/users/{id}/suspend"), &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_invalid_token(api.get("/api/v1/users/self").await, "owner suspended").await;
    admin.post_form(&format!("/admin/users/{id}/reactivate"), &[]).await;
    assert_eq!(api.get("/api/v1/users/self").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn last_used_at_is_recorded_on_first_use_and_not_rewritten_within_the_interval() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let manager = app.api(&app.api_token("tess", None));
    let (status, created) = json(
        manager
            .post_form(
                "/api/v1/users/self/tokens",
                &[("token[purpose]", "Watched"), ("token[expires_at]", "")],
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["last_used_at"], Value::Null, "never used yet");
    let id = created["id"].as_i64().unwrap();
    let watched = app.api(created["token"].as_str().unwrap());
    let path = format!("/api/v1/users/self/tokens/{id}");

    let (_, first) = json(watched.get(&path).await).await;
    let first_use = first["last_used_at"].as_str().expect("recorded on first use").to_owned();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, second) = json(watched.get(&path).await).await;
    assert_eq!(second["last_used_at"], first_use.as_str(), "not rewritten within 10 minutes");
    let (_, seen_by_other) = json(manager.get(&path).await).await;
    assert_eq!(seen_by_other["last_used_at"], first_use.as_str());
}

#[actix_web::test]
async fn last_used_at_is_rewritten_once_the_interval_has_passed() {
    let app = spawn_app_with(|s| s.token_last_used_interval_secs = 1).await;
    app.create_user("tess", &["teacher"], &[]);
    let issued = app.issue_token("tess", None, &[]);
    let api = app.api(&issued.secret);
    let path = format!("/api/v1/users/self/tokens/{}", issued.id);
    let (_, first) = json(api.get(&path).await).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (_, later) = json(api.get(&path).await).await;
    assert!(later["last_used_at"].as_str().unwrap() > first["last_used_at"].as_str().unwrap());
}

// ---------------------------------------------------------------------------------------
// Users

#[actix_web::test]
async fn users_self_is_the_canvas_user_object_and_profile_adds_email_time_zone_and_locale() {
    let app = spawn_app().await;
    let id = app.create_user("sam", &["student"], &[]);
    let api = app.api(&app.api_token("sam", Some(30)));
    let (status, user) = json(api.get("/api/v1/users/self").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        user,
        json!({"id": id, "name": "Sam Example", "sortable_name": "Example, Sam",
               "short_name": "Sam Example", "login_id": "sam"})
    );
    let (status, by_id) = json(api.get(&format!("/api/v1/users/{id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id, user);
    let (status, profile) = json(api.get("/api/v1/users/self/profile").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["login_id"], "sam");
    assert_eq!(profile["sortable_name"], "Example, Sam");
    assert_eq!(profile["primary_email"], "sam@example.edu");
    assert!(profile["time_zone"].is_string() && profile["locale"].is_string());
}

#[actix_web::test]
async fn another_users_record_needs_users_manage_or_access_tokens_view_else_404() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    app.create_user("tess", &["teacher"], &[]);
    let tess = app.api(&app.api_token("tess", None));
    for path in [format!("/api/v1/users/{sam}"), format!("/api/v1/users/{sam}/profile")] {
        let (status, body) = json(tess.get(&path).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body["errors"][0]["message"].is_string());
    }
    let admin = app.api(&app.api_token("admin", None));
    let (status, user) = json(admin.get(&format!("/api/v1/users/{sam}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["login_id"], "sam");
    let (status, profile) = json(admin.get(&format!("/api/v1/users/{sam}/profile")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["primary_email"], "sam@example.edu");
    for path in ["/api/v1/users/999999", "/api/v1/users/somebody", "/api/v1/users/999999/profile"] {
        assert_eq!(admin.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

// ---------------------------------------------------------------------------------------
// Tokens: create

#[actix_web::test]
async fn create_answers_with_the_token_object_and_its_secret_once() {
    let app = spawn_app().await;
    let sam = app.create_user("sam", &["student"], &[]);
    // A token gives no longer a life than its own (SPEC 4.13): the parent outlives the child.
    let api = app.api(&app.api_token("sam", Some(120)));
    let expires = in_days(60);
    let res = api
        .post_form(
            "/api/v1/users/self/tokens",
            &[
                ("token[purpose]", "Grade sync"),
                ("token[expires_at]", &expires),
                ("token[scopes][]", SHOW_USER),
                ("token[scopes][]", SHOW_PROFILE),
            ],
        )
        .await;
    let (status, token) = json(res).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let secret = token["token"].as_str().expect("the secret, once").to_owned();
    assert!(secret.starts_with("tw_") && secret.len() == 39);
    assert_eq!(token["user_id"], sam);
    assert_eq!(token["purpose"], "Grade sync");
    assert_eq!(token["scopes"], json!([SHOW_USER, SHOW_PROFILE]));
    assert_eq!(token["expires_at"], expires.as_str());
    assert_eq!(token["workflow_state"], "active");
    assert_eq!(token["real_user_id"], Value::Null);
    assert_eq!(token["last_used_at"], Value::Null);
    assert_eq!(token["can_manually_regenerate"], true);
    assert_eq!(token["token_hint"], format!("tw_…{}", &secret[35..]));
    for field in ["created_at", "updated_at"] {
        let t = token[field].as_str().unwrap();
        assert!(t.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(t).is_ok(), "{field}: {t}");
    }
    // the secret works, and is never shown again
    let id = token["id"].as_i64().unwrap();
    assert_eq!(app.api(&secret).get("/api/v1/users/self").await.status(), StatusCode::OK);
    let (status, again) = json(api.get(&format!("/api/v1/users/self/tokens/{id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(again.get("token").is_none(), "{again}");
    let (_, list) = json(api.get("/api/v1/users/self/user_generated_tokens").await).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list.as_array().unwrap().iter().all(|t| t.get("token").is_none()));
    assert!(!list.to_string().contains(&secret[3..]));
}

#[actix_web::test]
async fn create_reads_the_same_fields_as_json() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    let (status, token) = json(
        api.post_json(
            "/api/v1/users/self/tokens",
            &json!({"token": {"purpose": "From JSON", "expires_at": null, "scopes": [LIST_TOKENS]}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["purpose"], "From JSON");
    assert_eq!(token["expires_at"], Value::Null, "a teacher may choose no expiry");
    assert_eq!(token["scopes"], json!([LIST_TOKENS]));
    assert!(token["token"].is_string());
}

#[actix_web::test]
async fn an_expiry_more_than_ten_years_away_is_refused() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    let path = "/api/v1/users/self/tokens";
    for expires in [in_days(3651), "9999-12-31T00:00:00Z".to_owned()] {
        let (status, body) = json(
            api.post_form(path, &[("token[purpose]", "Archive"), ("token[expires_at]", &expires)]).await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = body["errors"]["expires_at"][0]["message"].as_str().unwrap_or_else(|| panic!("{body}"));
        assert!(message.contains("within ten years"), "{message}");
    }
    let (_, list) = json(api.get("/api/v1/users/self/user_generated_tokens").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing was created");
}

#[actix_web::test]
async fn a_student_only_token_cannot_create_a_121_day_or_endless_token() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let api = app.api(&app.api_token("sam", Some(120)));
    let path = "/api/v1/users/self/tokens";
    let too_long = in_days(121);
    for res in [
        api.post_form(path, &[("token[purpose]", "Long"), ("token[expires_at]", &too_long)]).await,
        api.post_form(path, &[("token[purpose]", "Endless"), ("token[expires_at]", "")]).await,
        api.post_form(path, &[("token[purpose]", "Left out")]).await,
        api.post_json(path, &json!({"token": {"purpose": "Long", "expires_at": too_long}})).await,
        api.post_json(path, &json!({"token": {"purpose": "Endless", "expires_at": null}})).await,
    ] {
        let (status, body) = json(res).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = body["errors"]["expires_at"][0]["message"].as_str().unwrap_or_else(|| panic!("{body}"));
        assert!(message.contains("Tokens of students must expire"), "{message}");
    }
    let (_, list) = json(api.get("/api/v1/users/self/user_generated_tokens").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing was created");
    let (status, _) =
        json(api.post_form(path, &[("token[purpose]", "Fine"), ("token[expires_at]", &in_days(100))]).await)
            .await;
    assert_eq!(status, StatusCode::OK, "within the student maximum (and the parent's life) is allowed");
}

#[actix_web::test]
async fn a_blank_purpose_bad_date_or_unknown_scope_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    let path = "/api/v1/users/self/tokens";
    for (fields, field) in [
        (vec![("token[purpose]", "   ")], "purpose"),
        (vec![("token[expires_at]", "")], "purpose"),
        (vec![("token[purpose]", "x"), ("token[expires_at]", "next tuesday")], "expires_at"),
        (vec![("token[purpose]", "x"), ("token[expires_at]", "2001-01-01T00:00:00Z")], "expires_at"),
        (vec![("token[purpose]", "x"), ("token[scopes][]", "url:GET|/api/v1/courses")], "scopes"),
    ] {
        let (status, body) = json(api.post_form(path, &fields).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fields:?}");
        assert!(body["errors"][field][0]["message"].is_string(), "{fields:?}: {body}");
    }
    let (status, body) = json(api.post_json(path, &json!({"token": {"purpose": ""}})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["purpose"][0]["message"].as_str().unwrap().contains("Enter a purpose"));
}

/// Found in review: a misspelt scopes field was ignored, and the token it made had no
/// scopes — a token that may call everything. A field under `token[…]` (or a key of the
/// JSON `token` object) that is not one of the API's is refused, and nothing is made.
#[actix_web::test]
async fn a_misspelt_token_field_is_refused_not_ignored() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    let path = "/api/v1/users/self/tokens";
    for (misspelt, name) in [
        ("token[scopes]", "token[scopes]"),
        ("token[scope][]", "token[scope][]"),
        ("token[scopes][0]", "token[scopes][0]"),
        // Review: outside token[…], as easily ignored.
        ("scopes[]", "scopes[]"),
        ("scope", "scope"),
    ] {
        let fields = [("token[purpose]", "Limited reader"), (misspelt, SHOW_USER)];
        let (status, body) = json(api.post_form(path, &fields).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{misspelt}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_else(|| panic!("{body}"));
        assert!(message.contains(&format!("`{name}`")) && message.contains("`token[scopes][]`"), "{message}");
    }
    let (status, body) = json(
        api.post_json(path, &json!({"token": {"purpose": "Limited reader", "scope": [SHOW_USER]}})).await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("unknown field `scope`"), "{body}");
    let outside = json!({"token": {"purpose": "Limited reader"}, "scopes": [SHOW_USER]});
    let (status, body) = json(api.post_json(path, &outside).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("inside the token object"), "{body}");
    let (_, list) = json(api.get("/api/v1/users/self/user_generated_tokens").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing was created: {list}");
    let (_, token) =
        json(api.post_form(path, &[("token[purpose]", "x"), ("token[scopes][]", SHOW_USER)]).await).await;
    let id = token["id"].as_i64().expect("the right name works");
    // The same on a change, and fields outside token[…] are left alone, as Canvas does.
    let (status, body) = json(api.put_form(&format!("{path}/{id}"), &[("token[scopes]", "")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) =
        json(api.put_form(&format!("{path}/{id}"), &[("utf8", "✓"), ("token[purpose]", "Reader")]).await)
            .await;
    assert_eq!((status, body["purpose"].as_str()), (StatusCode::OK, Some("Reader")), "{body}");
    assert_eq!(body["scopes"], json!([SHOW_USER]), "the scopes as they were");
    // Found in review: a field given twice was "could not be read: unsupported value".
    let twice = [("token[purpose]", "One"), ("token[purpose]", "Other")];
    let (status, body) = json(api.put_form(&format!("{path}/{id}"), &twice).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(message(&body), "The form field `token[purpose]` is given twice; give it once.");
    let two_scopes =
        [("token[purpose]", "Two"), ("token[scopes][]", SHOW_USER), ("token[scopes][]", SHOW_USER)];
    assert_eq!(api.post_form(path, &two_scopes).await.status(), StatusCode::OK, "a list may repeat");
    let outside = [("utf8", "✓"), ("utf8", "✓"), ("token[purpose]", "Reader")];
    let (status, body) = json(api.put_form(&format!("{path}/{id}"), &outside).await).await;
    assert_eq!(status, StatusCode::OK, "fields outside token[…] are left alone, twice too: {body}");
}

/// Sends `body` as `content_type` to `method path` with `secret`.
async fn send_raw(
    app: &TestApp,
    secret: &str,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Response {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(secret)
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        req = req.header("Content-Type", content_type);
    }
    req.send().await.unwrap()
}

#[actix_web::test]
async fn unreadable_bodies_are_400_error_lists_and_change_nothing() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let secret = app.api_token("tess", None);
    let api = app.api(&secret);
    let (_, list) = json(api.get("/api/v1/users/self/user_generated_tokens").await).await;
    let id = list[0]["id"].as_i64().unwrap();
    for (content_type, body) in [
        ("application/json", "{\"token\": {\"purpose\": "),
        ("application/json", "[1, 2, 3]"),
        // Schemathesis's find: a JSON body that is no object at all.
        ("application/json", "[null, null]"),
        ("application/json", "{\"token\": null}"),
        // Nor an array standing for an object (serde reads a struct from its fields in order).
        ("application/json", "[{\"purpose\": \"x\"}]"),
        ("application/json", "{\"token\": [\"x\"]}"),
        ("application/json", "{\"token\": {\"scopes\": \"not a list\"}}"),
        ("application/json", "{\"token\": {\"expires_at\": 5}}"),
        ("application/x-www-form-urlencoded", "token[purpose]=a&token[purpose]=b"),
    ] {
        for (method, path) in [
            (reqwest::Method::POST, "/api/v1/users/self/tokens".to_owned()),
            (reqwest::Method::PUT, format!("/api/v1/users/self/tokens/{id}")),
        ] {
            let res = send_raw(&app, &secret, method.clone(), &path, Some(content_type), body).await;
            let (status, answer) = json(res).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {content_type} {body}");
            // The documented shape for a body that could not be read: a list of messages,
            // not the field map of a broken rule.
            assert!(answer["errors"].is_array(), "{method} {body}: {answer}");
            assert!(!message(&answer).is_empty());
        }
    }
    let (_, after) = json(api.get("/api/v1/users/self/user_generated_tokens").await).await;
    assert_eq!(after, list, "nothing changed");
}

#[actix_web::test]
async fn a_body_in_another_media_type_is_a_415_and_one_too_large_a_413() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let secret = app.api_token("tess", None);
    let api = app.api(&secret);
    for content_type in ["text/plain", "multipart/form-data; boundary=x", "application/xml"] {
        let res = send_raw(
            &app,
            &secret,
            reqwest::Method::POST,
            "/api/v1/users/self/tokens",
            Some(content_type),
            "token[purpose]=x",
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
        assert_eq!(res.headers()["Accept"], "application/x-www-form-urlencoded, application/json");
        let (_, body) = json(res).await;
        assert!(message(&body).contains("application/json"), "{body}");
    }
    // No Content-Type at all is read as form fields, as curl -d sends them.
    let res =
        send_raw(&app, &secret, reqwest::Method::POST, "/api/v1/users/self/tokens", None, "token[purpose]=x")
            .await;
    assert_eq!(res.status(), StatusCode::OK);
    let huge = "x".repeat(100 * 1024);
    let res = api.post_form("/api/v1/users/self/tokens", &[("token[purpose]", &huge)]).await;
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message(&body).contains("64 KiB"), "{body}");
    let (_, list) = json(api.get("/api/v1/users/self/user_generated_tokens").await).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "the api token and the one form-field token");
}

#[actix_web::test]
async fn create_requires_a_purpose_and_update_requires_nothing() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let secret = app.api_token("tess", None);
    let api = app.api(&secret);
    for body in [json!({}), json!({"token": {}}), json!({"token": {"purpose": null}})] {
        let (status, answer) = json(api.post_json("/api/v1/users/self/tokens", &body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer["errors"]["purpose"][0]["message"].is_string(), "{body}: {answer}");
    }
    let (_, before) = json(api.get("/api/v1/users/self/user_generated_tokens").await).await;
    let id = before[0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/users/self/tokens/{id}");
    for res in [
        api.put_json(&path, &json!({})).await,
        api.put_json(&path, &json!({"token": {"purpose": null}})).await,
        send_raw(&app, &secret, reqwest::Method::PUT, &path, None, "").await,
        send_raw(&app, &secret, reqwest::Method::PUT, &path, Some("application/json"), "").await,
    ] {
        let (status, token) = json(res).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(token["purpose"], before[0]["purpose"], "unchanged");
    }
}

#[actix_web::test]
async fn unknown_api_routes_are_json_404s() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    for res in [api.get("/api/v1/courses").await, api.get("/api/v1/users/self/courses").await] {
        let (status, body) = json(res).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!message(&body).is_empty());
    }
}

#[actix_web::test]
async fn a_method_a_path_does_not_have_is_a_405_naming_those_it_has() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let secret = app.api_token("tess", None);
    let client = reqwest::Client::new();
    let method = |m: &str| reqwest::Method::from_bytes(m.as_bytes()).unwrap();
    for (m, path, allow) in [
        // Schemathesis's find: TRACE was a 404.
        ("TRACE", "/api/v1/users/self", "GET, HEAD"),
        ("POST", "/api/v1/users/self", "GET, HEAD"),
        ("DELETE", "/api/v1/users/7", "GET, HEAD"),
        ("PUT", "/api/v1/users/self/profile", "GET, HEAD"),
        ("PATCH", "/api/v1/users/self/user_generated_tokens", "GET, HEAD"),
        ("GET", "/api/v1/users/self/tokens", "POST"),
        ("HEAD", "/api/v1/users/self/tokens", "POST"),
        ("POST", "/api/v1/users/self/tokens/1", "GET, HEAD, PUT, DELETE"),
        ("PATCH", "/api/v1/users/self/tokens/1", "GET, HEAD, PUT, DELETE"),
        ("OPTIONS", "/api/v1/users/self/tokens/1", "GET, HEAD, PUT, DELETE"),
        ("DELETE", "/api/v1/openapi.json", "GET, HEAD"),
    ] {
        // With a token and without: the method is refused before anybody is asked who they are.
        for token in [Some(secret.as_str()), None] {
            let mut req = client.request(method(m), format!("{}{path}", app.address));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
            assert_eq!(res.headers()["Allow"], allow, "{m} {path}");
            if m != "HEAD" {
                let (_, body) = json(res).await;
                assert!(message(&body).contains(allow), "{m} {path}: {body}");
            }
        }
    }
    // And the methods it has are not refused.
    let res = client.head(format!("{}/api/v1/users/self", app.address)).bearer_auth(&secret).send().await;
    assert_eq!(res.unwrap().status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// Tokens: read, update, regenerate, delete

#[actix_web::test]
async fn a_token_is_addressed_by_its_id_or_its_hint() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    let issued = app.issue_token("tess", Some(30), &[]);
    let tail = &issued.secret[35..];
    let encoded_hint = format!("tw_%E2%80%A6{tail}");
    for reference in [issued.id.to_string(), encoded_hint, format!("tw_{tail}")] {
        let (status, token) = json(api.get(&format!("/api/v1/users/self/tokens/{reference}")).await).await;
        assert_eq!(status, StatusCode::OK, "{reference}");
        assert_eq!(token["id"], issued.id, "{reference}");
    }
    assert_eq!(api.get("/api/v1/users/self/tokens/tw_ZZZZ").await.status(), StatusCode::NOT_FOUND);
    let res =
        api.put_form(&format!("/api/v1/users/self/tokens/tw_{tail}"), &[("token[purpose]", "By hint")]).await;
    let (status, token) = json(res).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(token["purpose"], "By hint");
    let (status, deleted) = json(api.delete(&format!("/api/v1/users/self/tokens/tw_{tail}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["id"], issued.id);
}

#[actix_web::test]
async fn update_changes_purpose_scopes_and_expiry_and_keeps_the_secret() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    let issued = app.issue_token("tess", Some(30), &[]);
    let path = format!("/api/v1/users/self/tokens/{}", issued.id);
    let expires = in_days(90);
    let (status, token) = json(
        api.put_json(
            &path,
            &json!({"token": {"purpose": "Renamed", "scopes": [SHOW_USER], "expires_at": expires}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["purpose"], "Renamed");
    assert_eq!(token["scopes"], json!([SHOW_USER]));
    assert_eq!(token["expires_at"], expires.as_str());
    assert!(token.get("token").is_none(), "an update shows no secret");
    // left-out fields stay; an empty form value clears the scopes
    let (_, token) = json(api.put_form(&path, &[("token[scopes][]", "")]).await).await;
    assert_eq!(token["purpose"], "Renamed");
    assert_eq!(token["scopes"], json!([]));
    assert_eq!(token["expires_at"], expires.as_str());
    // the same secret still works
    assert_eq!(app.api(&issued.secret).get("/api/v1/users/self").await.status(), StatusCode::OK);
    let (status, body) = json(api.put_form(&path, &[("token[purpose]", "")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["purpose"].is_array());
}

#[actix_web::test]
async fn regenerate_issues_a_new_secret_and_the_old_one_stops_at_once() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let issued = app.issue_token("sam", Some(120), &[]);
    let old = app.api(&issued.secret);
    assert_eq!(old.get("/api/v1/users/self").await.status(), StatusCode::OK);
    // Within its own life: a token cannot regenerate itself into a longer one (SPEC 4.13).
    let expires = in_days(60);
    let res = old
        .put_form(
            &format!("/api/v1/users/self/tokens/{}", issued.id),
            &[("token[regenerate]", "1"), ("token[expires_at]", &expires)],
        )
        .await;
    let (status, token) = json(res).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let new = token["token"].as_str().expect("the new secret, once").to_owned();
    assert_ne!(new, issued.secret);
    assert_eq!(token["id"], issued.id);
    assert_eq!(token["expires_at"], expires.as_str());
    assert_eq!(token["token_hint"], format!("tw_…{}", &new[35..]));
    assert_invalid_token(old.get("/api/v1/users/self").await, "the old secret").await;
    assert_eq!(app.api(&new).get("/api/v1/users/self").await.status(), StatusCode::OK);
    // a student cannot regenerate into no expiry
    let res = app
        .api(&new)
        .put_json(
            &format!("/api/v1/users/self/tokens/{}", issued.id),
            &json!({"token": {"regenerate": true, "expires_at": null}}),
        )
        .await;
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["expires_at"].is_array());
    assert_eq!(app.api(&new).get("/api/v1/users/self").await.status(), StatusCode::OK, "unchanged");
}

#[actix_web::test]
async fn regenerating_an_expired_token_needs_a_new_expiry() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    let issued = app.issue_token("tess", Some(7), &[]);
    app.expire_token(issued.id);
    let path = format!("/api/v1/users/self/tokens/{}", issued.id);
    let (status, body) = json(api.put_json(&path, &json!({"token": {"regenerate": true}})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["expires_at"][0]["message"].as_str().unwrap().contains("expired"));
    let (status, token) =
        json(api.put_json(&path, &json!({"token": {"regenerate": true, "expires_at": in_days(30)}})).await)
            .await;
    assert_eq!(status, StatusCode::OK);
    let secret = token["token"].as_str().unwrap();
    assert_eq!(app.api(secret).get("/api/v1/users/self").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn delete_revokes_the_token_at_once_and_answers_with_it() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let issued = app.issue_token("tess", Some(30), &[]);
    let api = app.api(&issued.secret);
    let (status, deleted) = json(api.delete(&format!("/api/v1/users/self/tokens/{}", issued.id)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["id"], issued.id);
    assert_eq!(deleted["purpose"], "API test");
    assert!(deleted.get("token").is_none());
    assert_invalid_token(api.get("/api/v1/users/self").await, "deleted").await;
    let other = app.api(&app.api_token("tess", None));
    assert_eq!(
        other.get(&format!("/api/v1/users/self/tokens/{}", issued.id)).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn another_users_token_id_is_a_404_and_left_alone() {
    let app = spawn_app().await;
    let sam = app.create_user("sam", &["student"], &[]);
    app.create_user("tess", &["teacher"], &[]);
    let sams = app.issue_token("sam", Some(30), &[]);
    let tess = app.api(&app.api_token("tess", None));
    let path = format!("/api/v1/users/self/tokens/{}", sams.id);
    assert_eq!(tess.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(tess.put_form(&path, &[("token[purpose]", "Mine now")]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(tess.put_form(&path, &[("token[regenerate]", "1")]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(tess.delete(&path).await.status(), StatusCode::NOT_FOUND);
    // naming sam's id in the URL grants nothing either
    let theirs = format!("/api/v1/users/{sam}/tokens/{}", sams.id);
    for res in [
        tess.get(&theirs).await,
        tess.put_form(&theirs, &[("token[purpose]", "Mine now")]).await,
        tess.delete(&theirs).await,
        tess.get(&format!("/api/v1/users/{sam}/user_generated_tokens")).await,
        tess.post_form(&format!("/api/v1/users/{sam}/tokens"), &[("token[purpose]", "For sam")]).await,
    ] {
        let (status, body) = json(res).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(message(&body).contains("permission"), "{body}");
    }
    let (status, token) =
        json(app.api(&sams.secret).get(&format!("/api/v1/users/self/tokens/{}", sams.id)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(token["purpose"], "API test", "left alone");
}

// ---------------------------------------------------------------------------------------
// Scopes, permissions, settings

#[actix_web::test]
async fn a_scoped_token_may_call_only_the_routes_its_scopes_name() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let issued = app.issue_token("tess", None, &[SHOW_USER]);
    let api = app.api(&issued.secret);
    assert_eq!(api.get("/api/v1/users/self").await.status(), StatusCode::OK);
    for (res, scope) in [
        (api.get("/api/v1/users/self/profile").await, SHOW_PROFILE),
        (api.get("/api/v1/users/self/user_generated_tokens").await, LIST_TOKENS),
        (
            api.get(&format!("/api/v1/users/self/tokens/{}", issued.id)).await,
            "url:GET|/api/v1/users/:user_id/tokens/:id",
        ),
        (
            api.post_form("/api/v1/users/self/tokens", &[("token[purpose]", "x")]).await,
            "url:POST|/api/v1/users/:user_id/tokens",
        ),
        (
            api.put_form(&format!("/api/v1/users/self/tokens/{}", issued.id), &[("token[regenerate]", "1")])
                .await,
            "url:PUT|/api/v1/users/:user_id/tokens/:id",
        ),
        (
            api.delete(&format!("/api/v1/users/self/tokens/{}", issued.id)).await,
            "url:DELETE|/api/v1/users/:user_id/tokens/:id",
        ),
    ] {
        let (status, body) = json(res).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{scope}");
        assert!(message(&body).contains(scope), "the message names {scope}: {body}");
    }
    // nothing happened: the token is still there and still works
    assert_eq!(api.get("/api/v1/users/self").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_pending_token_authenticates_only_once_its_owner_activates_it() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let admin_id = app.user_id("admin");
    let sam = app.create_user("sam", &["student"], &[]);
    let admin = app.api(&app.api_token("admin", None));
    let res = admin
        .post_form(
            &format!("/api/v1/users/{sam}/tokens"),
            &[("token[purpose]", "Set up by IT"), ("token[expires_at]", &in_days(30))],
        )
        .await;
    let (status, token) = json(res).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["workflow_state"], "pending");
    assert_eq!(token["user_id"], sam);
    assert_eq!(token["real_user_id"], admin_id);
    let id = token["id"].as_i64().unwrap();
    let pending = app.api(token["token"].as_str().unwrap());
    assert_invalid_token(pending.get("/api/v1/users/self").await, "pending").await;
    // the student-only rule binds tokens made on a student's behalf too
    let (status, body) = json(
        admin
            .post_form(
                &format!("/api/v1/users/{sam}/tokens"),
                &[("token[purpose]", "Endless"), ("token[expires_at]", "")],
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["expires_at"].is_array());
    // the administrator sees and lists sam's tokens
    let (status, list) = json(admin.get(&format!("/api/v1/users/{sam}/user_generated_tokens")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let sam_browser = app.signed_in("sam").await;
    let res = sam_browser.post_form(&format!("/settings/tokens/{id}/activate"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, me) = json(pending.get("/api/v1/users/self").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["login_id"], "sam");
    let (_, token) = json(pending.get(&format!("/api/v1/users/self/tokens/{id}")).await).await;
    assert_eq!(token["workflow_state"], "active");
}

#[actix_web::test]
async fn limiting_personal_creation_refuses_api_changes_by_a_teacher_but_not_delete() {
    let app = spawn_app().await;
    let admin_browser = app.setup_admin().await;
    app.create_user("tess", &["teacher"], &[]);
    let tess = app.api(&app.api_token("tess", None));
    let spare = app.issue_token("tess", Some(30), &[]);
    let res = admin_browser
        .post_form(
            "/admin/settings",
            &[
                ("limit_personal_creation", "on"),
                ("student_max_days", "120"),
                ("default_lifetime_days", "30"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, body) =
        json(tess.post_form("/api/v1/users/self/tokens", &[("token[purpose]", "Sneaky")]).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message(&body).contains("limited on this account"), "{body}");
    let path = format!("/api/v1/users/self/tokens/{}", spare.id);
    assert_eq!(tess.put_form(&path, &[("token[purpose]", "Renamed")]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(tess.put_form(&path, &[("token[regenerate]", "1")]).await.status(), StatusCode::FORBIDDEN);
    let (_, list) = json(tess.get("/api/v1/users/self/user_generated_tokens").await).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "nothing was created");
    assert!(list.as_array().unwrap().iter().all(|t| t["can_manually_regenerate"] == false));
    assert_eq!(tess.delete(&path).await.status(), StatusCode::OK, "deleting one's own is always allowed");
    // an administrator (access_tokens.create_update) still creates their own
    let admin = app.api(&app.api_token("admin", None));
    let (status, _) =
        json(admin.post_form("/api/v1/users/self/tokens", &[("token[purpose]", "Admin's")]).await).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn blocking_students_refuses_api_creation_by_a_student() {
    let app = spawn_app().await;
    let admin_browser = app.setup_admin().await;
    app.create_user("sam", &["student"], &[]);
    let sam = app.api(&app.api_token("sam", Some(30)));
    admin_browser
        .post_form(
            "/admin/settings",
            &[("block_students", "on"), ("student_max_days", "120"), ("default_lifetime_days", "30")],
        )
        .await;
    let res = sam
        .post_form(
            "/api/v1/users/self/tokens",
            &[("token[purpose]", "Homework bot"), ("token[expires_at]", &in_days(7))],
        )
        .await;
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message(&body).contains("Students may not"), "{body}");
}

#[actix_web::test]
async fn api_changes_are_audited_with_the_client_ip() {
    let app = spawn_app().await;
    let tess_id = app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    let (_, token) =
        json(api.post_form("/api/v1/users/self/tokens", &[("token[purpose]", "Audited")]).await).await;
    let id = token["id"].as_i64().unwrap();
    let path = format!("/api/v1/users/self/tokens/{id}");
    api.put_form(&path, &[("token[purpose]", "Audited twice")]).await;
    api.put_form(&path, &[("token[regenerate]", "1")]).await;
    api.delete(&path).await;
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    let events = tokenwarden::models::AuditEvent::recent_for_user(&mut conn, tess_id, 20).unwrap();
    let about: Vec<_> = events.iter().filter(|e| e.token_id == Some(id)).collect();
    let actions: Vec<&str> = about.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["token.created", "token.updated", "token.regenerated", "token.deleted"]);
    assert!(about.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1") && e.actor_id == Some(tess_id)));
}

// ---------------------------------------------------------------------------------------
// Pagination

#[actix_web::test]
async fn pagination_walks_250_tokens_through_link_next_in_three_pages() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    let issued: Vec<Issued> =
        (0..250).map(|i| issue_on(&mut conn, "tess", &format!("Token {i}"), None, &[])).collect();
    let api = app.api(&issued[0].secret);

    let mut next = Some("/api/v1/users/self/user_generated_tokens?per_page=100".to_owned());
    let mut seen: Vec<i64> = Vec::new();
    let mut pages = 0;
    while let Some(url) = next {
        let res = api.get(&url).await;
        assert_eq!(res.status(), StatusCode::OK);
        pages += 1;
        let current = link(&res, "current").expect("rel=current");
        assert!(current.starts_with(&app.address) && current.contains("per_page=100"), "{current}");
        assert!(!current.contains("access_token"));
        assert_eq!(
            link(&res, "first").unwrap(),
            format!("{}/api/v1/users/self/user_generated_tokens?page=1&per_page=100", app.address)
        );
        assert_eq!(
            link(&res, "last").unwrap(),
            format!("{}/api/v1/users/self/user_generated_tokens?page=3&per_page=100", app.address)
        );
        assert_eq!(link(&res, "prev").is_some(), pages > 1, "prev only after the first page");
        next = link(&res, "next");
        let (_, body) = json(res).await;
        seen.extend(body.as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()));
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 250, "every token exactly once");
    let mut expected: Vec<i64> = issued.iter().map(|t| t.id).collect();
    expected.sort_unstable();
    assert_eq!(unique, expected);

    // per_page is capped at 100, and 10 by default
    let res = api.get("/api/v1/users/self/user_generated_tokens?per_page=500").await;
    assert!(link(&res, "next").unwrap().contains("page=2&per_page=100"));
    let (_, body) = json(res).await;
    assert_eq!(body.as_array().unwrap().len(), 100);
    let res = api.get("/api/v1/users/self/user_generated_tokens").await;
    assert!(link(&res, "last").unwrap().ends_with("page=25&per_page=10"));
    let (_, body) = json(res).await;
    assert_eq!(body.as_array().unwrap().len(), 10);
    let (_, body) = json(api.get("/api/v1/users/self/user_generated_tokens?page=26").await).await;
    assert_eq!(body, json!([]), "past the end: an empty page");
}

#[actix_web::test]
async fn page_and_per_page_are_whole_numbers_read_as_canvas_reads_them() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let api = app.api(&app.api_token("tess", None));
    let list = "/api/v1/users/self/user_generated_tokens";
    // Schemathesis's finds: a parameter given twice, and values that are no numbers, are
    // a 400 in the error-list shape the document gives for it...
    for query in ["per_page=null&per_page=null", "page=1&page=2", "per_page=abc", "page=1.5", "per_page="] {
        let (status, body) = json(api.get(&format!("{list}?{query}")).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(message(&body).contains("page"), "{query}: {body}");
    }
    let (_, body) = json(api.get(&format!("{list}?page=1&page=2")).await).await;
    assert_eq!(message(&body), "The request could not be read: page is given twice; give it once.");
    // ...while any number is taken, as Canvas takes it: above 100 is 100 (the document
    // says so and declares no maximum), below 1 the default; past the end, an empty page.
    let res = api.get(&format!("{list}?per_page=302&page=88491815735")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(link(&res, "current").unwrap().ends_with("page=88491815735&per_page=100"));
    let (_, body) = json(res).await;
    assert_eq!(body, json!([]));
    let res = api.get(&format!("{list}?per_page=0&page=-3")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(link(&res, "current").unwrap().ends_with("page=1&per_page=10"));
    // Found in review: a number past 64 bits was "not a whole number"; it is too large.
    let (status, body) = json(api.get(&format!("{list}?page=99999999999999999999")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("page is too large"), "{body}");
}

/// Found in review: the `Link` header's pages were at whatever `Host` the request named,
/// where `--public-url` says where clients reach the server.
#[actix_web::test]
async fn the_link_header_leads_to_the_public_url() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.public_url = Some("https://tokens.example.edu/".parse().unwrap());
    })
    .await;
    app.create_user("tess", &["teacher"], &[]);
    let secret = app.api_token("tess", None);
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/users/self/user_generated_tokens", app.address))
        .bearer_auth(&secret)
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        link(&res, "first").unwrap(),
        "https://tokens.example.edu/api/v1/users/self/user_generated_tokens?page=1&per_page=10"
    );
}

// ---------------------------------------------------------------------------------------
// The OpenAPI document

#[actix_web::test]
async fn the_openapi_document_is_json_openapi_3_and_lists_every_path() {
    let app = spawn_app().await;
    let res = app.anonymous_api().get("/api/v1/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("application/json"));
    let (_, doc) = json(res).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/users/self", "get"),
        ("/api/v1/users/{id}", "get"),
        ("/api/v1/users/{user_id}/profile", "get"),
        ("/api/v1/users/{user_id}/user_generated_tokens", "get"),
        ("/api/v1/users/{user_id}/tokens", "post"),
        ("/api/v1/users/{user_id}/tokens/{id}", "get"),
        ("/api/v1/users/{user_id}/tokens/{id}", "put"),
        ("/api/v1/users/{user_id}/tokens/{id}", "delete"),
        ("/api/v1/openapi.json", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    assert!(doc["components"]["schemas"]["TokenJson"]["properties"]["can_manually_regenerate"].is_object());
}

// ---------------------------------------------------------------------------------------
// Two instances, one PostgreSQL database

#[actix_web::test]
async fn a_token_made_on_one_instance_works_on_another_and_its_revocation_holds_on_both() {
    let a = spawn_app().await;
    if !tokenwarden::db::is_postgres(&a.database_url) {
        eprintln!("skipped: two instances share a database only on PostgreSQL (set TEST_DATABASE_URL)");
        return;
    }
    let b = spawn_app_on(&a.database_url).await;
    a.create_user("tess", &["teacher"], &[]);
    let on_a = a.api(&a.api_token("tess", None));
    let (status, created) =
        json(on_a.post_form("/api/v1/users/self/tokens", &[("token[purpose]", "Shared")]).await).await;
    assert_eq!(status, StatusCode::OK);
    let id = created["id"].as_i64().unwrap();
    let secret = created["token"].as_str().unwrap().to_owned();
    let (status, me) = json(b.api(&secret).get("/api/v1/users/self").await).await;
    assert_eq!(status, StatusCode::OK, "made on A, accepted by B");
    assert_eq!(me["login_id"], "tess");
    let res = on_a.delete(&format!("/api/v1/users/self/tokens/{id}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_invalid_token(b.api(&secret).get("/api/v1/users/self").await, "revoked on A, refused by B").await;
    assert_invalid_token(a.api(&secret).get("/api/v1/users/self").await, "and by A").await;
}

#[actix_web::test]
async fn api_answers_and_health_checks_set_no_cookies() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let token = app.api_token("tess", Some(30));
    let client = reqwest::Client::new();
    for res in [
        client.get(format!("{}/api/v1/users/self", app.address)).bearer_auth(&token).send().await.unwrap(),
        client
            .get(format!("{}/api/v1/users/self", app.address))
            .bearer_auth("tw_nonsense")
            .send()
            .await
            .unwrap(),
        client.get(format!("{}/healthz", app.address)).send().await.unwrap(),
    ] {
        let url = res.url().clone();
        assert!(res.headers().get_all("Set-Cookie").iter().next().is_none(), "{url}: {:?}", res.headers());
    }
}

/// Found in review: `token[purpose]=%FF` made a token whose purpose was "�": the form
/// decoder replaces what is not UTF-8. Such a form is refused, and nothing is made.
#[actix_web::test]
async fn a_form_that_is_not_utf8_text_is_refused() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let secret = app.api_token("tess", None);
    let form = Some("application/x-www-form-urlencoded");
    let res = send_raw(
        &app,
        &secret,
        reqwest::Method::POST,
        "/api/v1/users/self/tokens",
        form,
        "token[purpose]=%FF",
    )
    .await;
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("not UTF-8 text"), "{body}");
    let (_, list) = json(app.api(&secret).get("/api/v1/users/self/user_generated_tokens").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing was created");
    let res = send_raw(
        &app,
        &secret,
        reqwest::Method::POST,
        "/api/v1/users/self/tokens",
        form,
        "token[purpose]=Caf%C3%A9",
    )
    .await;
    assert_eq!(json(res).await.1["purpose"], "Café", "UTF-8 escapes are read as ever");
}
