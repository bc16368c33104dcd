//! Escalations of authority (issue 11), through HTTP: each test is one attack and says what
//! the fixed application answers. Nobody grants more than they hold; the last Account Admin
//! stays; a token never widens itself; a secret is shown once, to the right page; bad input
//! is a clean refusal, never a dropped connection.

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use reqwest::header::{HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokenwarden::db::schema::access_tokens;
use tokenwarden::models::AccountRole;

use crate::api::Issued;
use crate::helpers::{Browser, PASSWORD, TestApp, location, spawn_app};
use crate::tokens_page::{shown_secret, token_ids};

const VIEW: &str = "access_tokens.view";
const CREATE_UPDATE: &str = "access_tokens.create_update";
const DELETE: &str = "access_tokens.delete";
const MANAGE_USERS: &str = "users.manage";
const SETTINGS: &str = "account.settings";
const ALL_PERMISSIONS: [&str; 5] = [VIEW, CREATE_UPDATE, DELETE, MANAGE_USERS, SETTINGS];

const CREATE_SCOPE: &str = "url:POST|/api/v1/users/:user_id/tokens";
const UPDATE_SCOPE: &str = "url:PUT|/api/v1/users/:user_id/tokens/:id";
const INVALID: &str = r#"{"errors":[{"message":"Invalid access token."}]}"#;

// ---------------------------------------------------------------------------------------
// Helpers

/// Creates a custom account role as `admin` on `/admin/roles` and checks that it exists.
async fn create_role(app: &TestApp, admin: &Browser, name: &str, permissions: &[&str]) -> i64 {
    let mut fields = vec![("name", name)];
    fields.extend(permissions.iter().map(|p| ("permissions", *p)));
    let res = admin.post_form("/admin/roles", &fields).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the admin creates the role “{name}”");
    role_id(app, name).unwrap_or_else(|| panic!("the role “{name}” exists after its creation"))
}

/// The id of the account role named `name`, if there is one.
fn role_id(app: &TestApp, name: &str) -> Option<i64> {
    let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
    AccountRole::find_by_name(&mut conn, name).expect("read the roles").map(|r| r.id)
}

/// The stored permission bits of the role named `name`.
fn role_bits(app: &TestApp, name: &str) -> i64 {
    let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
    AccountRole::find_by_name(&mut conn, name).expect("read the roles").expect("the role").permissions
}

fn account_admin_id(app: &TestApp) -> i64 {
    role_id(app, AccountRole::ACCOUNT_ADMIN).expect("the built-in Account Admin role")
}

/// The names of the account roles `user_id` holds, sorted.
fn account_roles_of(app: &TestApp, user_id: i64) -> Vec<String> {
    let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
    let mut names: Vec<String> = AccountRole::for_user(&mut conn, user_id)
        .expect("read the user's roles")
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    names
}

fn holds_account_admin(app: &TestApp, user_id: i64) -> bool {
    account_roles_of(app, user_id).iter().any(|r| r == AccountRole::ACCOUNT_ADMIN)
}

/// Whether `login` can sign in with the password (a fresh browser, its own session).
async fn can_sign_in(app: &TestApp, login: &str) -> bool {
    let b = app.browser();
    b.login(login, PASSWORD).await.status() == StatusCode::SEE_OTHER && b.is_signed_in().await
}

/// The setup admin, a role with only `users.manage`, and Mallory who holds it.
struct Manager {
    app: TestApp,
    admin: Browser,
    admin_id: i64,
    role: i64,
    mallory_id: i64,
    mallory: Browser,
}

async fn user_manager() -> Manager {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let admin_id = app.user_id("admin");
    assert!(holds_account_admin(&app, admin_id), "setup made “admin” an Account Admin");
    let role = create_role(&app, &admin, "User manager", &[MANAGE_USERS]).await;
    let mallory_id = app.create_user("mallory", &[], &["User manager"]);
    assert_eq!(account_roles_of(&app, mallory_id), ["User manager"]);
    let mallory = app.signed_in("mallory").await;
    // The role works: Mallory manages users, and nothing else.
    assert_eq!(mallory.get("/admin/users").await.status(), StatusCode::OK, "users.manage opens the list");
    assert_eq!(mallory.get("/admin/settings").await.status(), StatusCode::FORBIDDEN);
    Manager { app, admin, admin_id, role, mallory_id, mallory }
}

/// A token row as stored: (scopes, expires_at, workflow_state, hint).
fn token_row(app: &TestApp, id: i64) -> (String, Option<NaiveDateTime>, String, String) {
    let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
    access_tokens::table
        .find(id)
        .select((
            access_tokens::scopes,
            access_tokens::expires_at,
            access_tokens::workflow_state,
            access_tokens::hint,
        ))
        .first(&mut conn)
        .expect("the token")
}

fn token_count(app: &TestApp, user_id: i64) -> i64 {
    let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
    access_tokens::table
        .filter(access_tokens::user_id.eq(user_id))
        .count()
        .get_result(&mut conn)
        .expect("count")
}

/// The status and the JSON body of a response.
async fn json(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("a body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}), {status}: {text}"));
    (status, value)
}

fn in_days(days: i64) -> String {
    (Utc::now() + Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The last four characters of a secret, as a hint is typed in a URL: `tw_AbCd`.
fn typed_hint(secret: &str) -> String {
    format!("tw_{}", &secret[secret.len() - 4..])
}

/// A client that gives up after a few seconds: a dropped or stuck connection fails the test
/// with a message instead of hanging it.
fn impatient_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(StdDuration::from_secs(10)).build().expect("a client")
}

// ---------------------------------------------------------------------------------------
// 1–4. users.manage grants only what its holder holds

/// Attack 1: a holder of only `users.manage` gives himself Account Admin.
#[actix_web::test]
async fn a_user_manager_cannot_give_himself_account_admin() {
    let m = user_manager().await;
    let admin_role = account_admin_id(&m.app).to_string();
    let own_role = m.role.to_string();
    let res = m
        .mallory
        .post_form(
            &format!("/admin/users/{}/roles", m.mallory_id),
            &[("account_roles", &admin_role), ("account_roles", &own_role)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "Mallory may not change his own account roles");
    assert_eq!(account_roles_of(&m.app, m.mallory_id), ["User manager"], "his roles are unchanged");
    assert_eq!(m.mallory.get("/admin/settings").await.status(), StatusCode::FORBIDDEN);
}

/// Attack 2: a holder of only `users.manage` adds `account.settings` to the role he holds.
#[actix_web::test]
async fn a_user_manager_cannot_widen_the_role_he_holds() {
    let m = user_manager().await;
    let before = role_bits(&m.app, "User manager");
    let res = m
        .mallory
        .post_form(
            &format!("/admin/roles/{}", m.role),
            &[("permissions", MANAGE_USERS), ("permissions", SETTINGS)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "nobody edits a role they hold");
    assert_eq!(role_bits(&m.app, "User manager"), before, "the role's permissions are unchanged");
    let roles = m.admin.get_html("/admin/roles").await;
    let section = &roles[roles.find(">User manager</h2>").expect("the role is listed")..];
    let section = &section[..section.find("</section>").expect("its section ends")];
    assert!(section.contains(&format!("value=\"{MANAGE_USERS}\" checked")));
    assert!(!section.contains(&format!("value=\"{SETTINGS}\" checked")), "the admin sees no new permission");
    assert_eq!(m.mallory.get("/admin/settings").await.status(), StatusCode::FORBIDDEN);
}

/// Attack 3a: a holder of only `users.manage` creates a role with every permission.
#[actix_web::test]
async fn a_user_manager_cannot_create_a_role_with_permissions_he_lacks() {
    let m = user_manager().await;
    let mut fields = vec![("name", "Everything")];
    fields.extend(ALL_PERMISSIONS.iter().map(|p| ("permissions", *p)));
    let res = m.mallory.post_form("/admin/roles", &fields).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(role_id(&m.app, "Everything"), None, "no such role exists");
    assert!(!m.admin.get_html("/admin/roles").await.contains("Everything"));
}

/// Attack 3b: a holder of only `users.manage` hands an accomplice a role with permissions
/// he does not hold himself (a custom one, or Account Admin).
#[actix_web::test]
async fn a_user_manager_cannot_assign_a_role_with_permissions_he_lacks_to_someone_else() {
    let m = user_manager().await;
    let keeper = create_role(&m.app, &m.admin, "Settings keeper", &[SETTINGS]).await;
    let eve = m.app.create_user("eve", &["teacher"], &[]);
    for (what, role) in [("Settings keeper", keeper), ("Account Admin", account_admin_id(&m.app))] {
        let role = role.to_string();
        let res = m
            .mallory
            .post_form(
                &format!("/admin/users/{eve}/roles"),
                &[("roles", "teacher"), ("account_roles", &role)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "assigning {what}");
        assert!(account_roles_of(&m.app, eve).is_empty(), "Eve got nothing ({what})");
    }
    let eve_browser = m.app.signed_in("eve").await;
    assert_eq!(eve_browser.get("/admin/settings").await.status(), StatusCode::FORBIDDEN);
}

/// Attack 4a: a holder of only `users.manage` removes Account Admin from an Account Admin.
#[actix_web::test]
async fn a_user_manager_cannot_demote_an_account_admin() {
    let m = user_manager().await;
    let own_role = m.role.to_string();
    for (case, fields) in
        [("no account role", vec![]), ("only his own role", vec![("account_roles", own_role.as_str())])]
    {
        let res = m.mallory.post_form(&format!("/admin/users/{}/roles", m.admin_id), &fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{case}");
        assert_eq!(account_roles_of(&m.app, m.admin_id), [AccountRole::ACCOUNT_ADMIN], "{case}");
    }
    assert_eq!(m.admin.get("/admin/settings").await.status(), StatusCode::OK, "she is still an admin");
}

/// Attack 4b: a holder of only `users.manage` suspends an Account Admin.
#[actix_web::test]
async fn a_user_manager_cannot_suspend_an_account_admin() {
    let m = user_manager().await;
    let res = m.mallory.post_form(&format!("/admin/users/{}/suspend", m.admin_id), &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(m.admin.is_signed_in().await, "her session was not ended");
    assert!(can_sign_in(&m.app, "admin").await, "she can still sign in");
}

/// The setup admin (the only Account Admin) and Root, who holds a custom role with every
/// permission but not Account Admin.
async fn last_admin_and_root() -> (TestApp, i64, Browser) {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let admin_id = app.user_id("admin");
    create_role(&app, &admin, "Everything", &ALL_PERMISSIONS).await;
    app.create_user("root", &[], &["Everything"]);
    let root = app.signed_in("root").await;
    assert_eq!(root.get("/admin/settings").await.status(), StatusCode::OK, "Root holds every permission");
    (app, admin_id, root)
}

/// Attack 4c: the last Account Admin is demoted by someone holding every permission.
#[actix_web::test]
async fn the_last_account_admin_cannot_be_demoted() {
    let (app, admin_id, root) = last_admin_and_root().await;
    let res = root.post_form(&format!("/admin/users/{admin_id}/roles"), &[]).await;
    assert!(res.status().is_client_error(), "refused, not {}", res.status());
    assert!(holds_account_admin(&app, admin_id), "she still holds Account Admin");
}

/// Attack 4d: the last Account Admin is suspended by someone holding every permission.
#[actix_web::test]
async fn the_last_account_admin_cannot_be_suspended() {
    let (app, admin_id, root) = last_admin_and_root().await;
    let res = root.post_form(&format!("/admin/users/{admin_id}/suspend"), &[]).await;
    assert!(res.status().is_client_error(), "refused, not {}", res.status());
    assert!(can_sign_in(&app, "admin").await, "she can still sign in");
}

/// Found in review: the guard counted Account Admin once per source, so the last Account
/// Admin, holding it from an administrator and from the directory (SCIM) at once, counted
/// as two and could be suspended, leaving the account without one.
#[actix_web::test]
async fn the_last_account_admin_holding_it_twice_over_cannot_be_suspended() {
    use tokenwarden::db::schema::{account_roles, user_account_roles};
    let (app, admin_id, root) = last_admin_and_root().await;
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    let admin_role: i64 = account_roles::table
        .filter(account_roles::built_in.eq(true))
        .select(account_roles::id)
        .get_result(&mut conn)
        .unwrap();
    diesel::insert_into(user_account_roles::table)
        .values((
            user_account_roles::user_id.eq(admin_id),
            user_account_roles::account_role_id.eq(admin_role),
            user_account_roles::source.eq("scim"),
        ))
        .execute(&mut conn)
        .unwrap();
    let res = root.post_form(&format!("/admin/users/{admin_id}/suspend"), &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("last active Account Admin"));
    assert!(can_sign_in(&app, "admin").await, "she can still sign in");
}

/// The guard protects only the last one: of two Account Admins, one may demote the other.
#[actix_web::test]
async fn one_of_two_account_admins_may_demote_the_other() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let admin_id = app.user_id("admin");
    let bob_id = app.create_user("bob", &[], &[AccountRole::ACCOUNT_ADMIN]);
    let bob = app.signed_in("bob").await;
    let res = bob.post_form(&format!("/admin/users/{admin_id}/roles"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!holds_account_admin(&app, admin_id), "she is no longer an Account Admin");
    assert!(holds_account_admin(&app, bob_id), "Bob still is");
}

// ---------------------------------------------------------------------------------------
// 5. Regenerating someone else's token takes nothing over

/// Carl, who holds only `access_tokens.create_update` and a working API token of his own;
/// and an active token of the Account Admin's.
struct Regenerator {
    app: TestApp,
    admin: Browser,
    admin_id: i64,
    admins: Issued,
    carl: Browser,
    carl_token: String,
}

impl Regenerator {
    /// Carl regenerates the admin's token through the API; returns the Token object.
    async fn carl_regenerates_the_admins_token(&self) -> serde_json::Value {
        let res = self
            .app
            .api(&self.carl_token)
            .put_form(
                &format!("/api/v1/users/{}/tokens/{}", self.admin_id, self.admins.id),
                &[("token[regenerate]", "1")],
            )
            .await;
        let (status, token) = json(res).await;
        assert_eq!(status, StatusCode::OK, "{token}");
        token
    }
}

async fn regenerator() -> Regenerator {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let admin_id = app.user_id("admin");
    create_role(&app, &admin, "Token maker", &[CREATE_UPDATE]).await;
    app.create_user("carl", &[], &["Token maker"]);
    let carl_token = app.issue_token("carl", None, &[]).secret;
    assert_eq!(app.api(&carl_token).get("/api/v1/users/self").await.status(), StatusCode::OK);
    let admins = app.issue_token("admin", Some(30), &[]);
    assert_eq!(token_row(&app, admins.id).2, "active", "the admin's token starts active");
    assert_eq!(app.api(&admins.secret).get("/api/v1/users/self").await.status(), StatusCode::OK);
    let carl = app.signed_in("carl").await;
    Regenerator { app, admin, admin_id, admins, carl, carl_token }
}

/// Attack 5a: regenerating the Account Admin's token through the API yields a working
/// admin secret; fixed, the token goes back to pending until she activates it.
#[actix_web::test]
async fn a_token_regenerated_through_the_api_by_someone_else_is_pending_until_its_owner_activates_it() {
    let r = regenerator().await;
    let token = r.carl_regenerates_the_admins_token().await;
    let new = token["token"].as_str().expect("the new secret, once").to_owned();
    assert_ne!(new, r.admins.secret);
    assert_eq!(token["workflow_state"], "pending", "{token}");
    let stolen = r.app.api(&new);
    let res = stolen.get("/api/v1/users/self").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the new secret works for nobody yet");
    assert_eq!(res.text().await.unwrap(), INVALID);
    let res = r.admin.post_form(&format!("/settings/tokens/{}/activate", r.admins.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "she activates it");
    let (status, me) = json(stolen.get("/api/v1/users/self").await).await;
    assert_eq!(status, StatusCode::OK, "once she has, it works");
    assert_eq!(me["login_id"], "admin");
}

/// Attack 5b: the same on the profile page.
#[actix_web::test]
async fn a_token_regenerated_on_the_profile_page_by_someone_else_is_pending() {
    let r = regenerator().await;
    let res = r
        .carl
        .post_form(
            &format!("/admin/users/{}/tokens/{}/regenerate", r.admin_id, r.admins.id),
            &[("expires_in", "30")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, _, _, hint) = token_row(&r.app, r.admins.id);
    assert_ne!(hint, tokenwarden::domain::token_secret::hint_of(&r.admins.secret), "it was regenerated");
    assert_eq!(token_row(&r.app, r.admins.id).2, "pending");
    let page = r.admin.get_html("/settings/tokens").await;
    assert!(page.contains(&format!("action=\"/settings/tokens/{}/activate\"", r.admins.id)), "shown pending");
}

/// The outbox's events about `token` (emails and webhooks), oldest first.
fn outbox_events(app: &TestApp, token: i64) -> Vec<String> {
    use tokenwarden::db::schema::notifications as outbox;
    let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
    outbox::table
        .filter(outbox::token_id.eq(token))
        .order(outbox::id)
        .select(outbox::event)
        .load(&mut conn)
        .expect("the outbox")
}

/// Attack 5c: Carl (create and update only) makes the Account Admin a narrow token on her
/// behalf — he sees its secret — and once she has activated it, updates it to no
/// limitation: he would hold her working admin token. Fixed, a widened token is pending
/// until she activates it again (and is told why); a narrowed one stays active.
#[actix_web::test]
async fn a_token_widened_by_someone_else_is_pending_until_its_owner_activates_it_again() {
    let r = regenerator().await;
    let carl = r.app.api(&r.carl_token);
    let (status, made) = json(
        carl.post_json(
            &format!("/api/v1/users/{}/tokens", r.admin_id),
            &json!({"token": {"purpose": "Read my profile", "scopes": ["url:GET|/api/v1/users/:id"],
                              "expires_at": in_days(7)}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let (id, secret) = (made["id"].as_i64().unwrap(), made["token"].as_str().unwrap().to_owned());
    let activate = format!("/settings/tokens/{id}/activate");
    assert_eq!(r.admin.post_form(&activate, &[]).await.status(), StatusCode::SEE_OTHER, "she activates it");
    let held = r.app.api(&secret);
    assert_eq!(held.get("/api/v1/users/self").await.status(), StatusCode::OK, "it works");

    let url = format!("/api/v1/users/{}/tokens/{id}", r.admin_id);
    let (status, token) = json(carl.put_json(&url, &json!({"token": {"scopes": []}})).await).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["workflow_state"], "pending", "{token}");
    let res = held.get("/api/v1/users/self").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the widened token works for nobody yet");
    assert!(outbox_events(&r.app, id).contains(&"email.token_widened_on_behalf".to_owned()), "she is told");

    // A later expiry widens it too; nothing added leaves it working.
    assert_eq!(r.admin.post_form(&activate, &[]).await.status(), StatusCode::SEE_OTHER);
    let (_, token) = json(carl.put_json(&url, &json!({"token": {"expires_at": null}})).await).await;
    assert_eq!(token["workflow_state"], "pending", "no expiry where it had one: {token}");
    assert_eq!(r.admin.post_form(&activate, &[]).await.status(), StatusCode::SEE_OTHER);
    let narrower = json!({"token": {"purpose": "Profile", "scopes": ["url:GET|/api/v1/users/:id"],
                                    "expires_at": in_days(3)}});
    let (status, token) = json(carl.put_json(&url, &narrower).await).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["workflow_state"], "active", "narrowed, it keeps working: {token}");
    assert_eq!(held.get("/api/v1/users/self").await.status(), StatusCode::OK);

    // The same on the profile page, where the Account Admin widens a token of Carl's: the
    // edit form says so before, the message after.
    let carls = r.app.issue_token("carl", Some(7), &["url:GET|/api/v1/users/:id"]);
    let carl_id = r.app.user_id("carl");
    let page = r.admin.get_html(&format!("/admin/users/{carl_id}/tokens/{}/edit", carls.id)).await;
    assert!(page.contains("sends it back to pending"), "the edit page warns");
    let res = r
        .admin
        .post_form(
            &format!("/admin/users/{carl_id}/tokens/{}", carls.id),
            &[("purpose", "Profile"), ("expires_in", "keep")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(token_row(&r.app, carls.id).2, "pending", "no scopes given on the form: no limitation");
    let page = r.admin.get_html(&location(&res)).await;
    assert!(page.contains("pending until the user activates it"), "the message says so");
}

// ---------------------------------------------------------------------------------------
// 6–7. A token never widens itself

/// Tess's token that may only create tokens, for 7 days (plus `extra` scopes).
fn narrow_token(app: &TestApp, extra: &[&str]) -> (i64, Issued) {
    let tess = app.create_user("tess", &["teacher"], &[]);
    let mut scopes = vec![CREATE_SCOPE];
    scopes.extend_from_slice(extra);
    let issued = app.issue_token("tess", Some(7), &scopes);
    let (stored_scopes, expires, state, _) = token_row(app, issued.id);
    assert_eq!(stored_scopes, scopes.join(" "));
    assert!(expires.is_some() && state == "active");
    (tess, issued)
}

/// The field names of a `{"errors": {FIELD: [{"message": …}]}}` body.
fn error_fields(body: &Value) -> Vec<String> {
    let fields = body["errors"].as_object().unwrap_or_else(|| panic!("field errors: {body}"));
    for (field, list) in fields {
        assert!(list[0]["message"].is_string(), "{field}: {body}");
    }
    fields.keys().cloned().collect()
}

/// Attack 6a: a scoped 7-day token creates an unscoped token that never expires.
#[actix_web::test]
async fn a_scoped_short_lived_token_cannot_create_an_unscoped_endless_token() {
    let app = spawn_app().await;
    let (tess, parent) = narrow_token(&app, &[]);
    let res = app
        .api(&parent.secret)
        .post_json("/api/v1/users/self/tokens", &json!({"token": {"purpose": "x"}}))
        .await;
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let fields = error_fields(&body);
    assert!(fields.iter().any(|f| f == "scopes" || f == "expires_at"), "{body}");
    assert_eq!(token_count(&app, tess), 1, "no new token exists");
}

/// Within its own reach a token still creates tokens: its scopes, a shorter life.
#[actix_web::test]
async fn a_token_may_create_a_child_within_its_scopes_and_lifetime() {
    let app = spawn_app().await;
    let (tess, parent) = narrow_token(&app, &[]);
    let expires = in_days(3);
    let res = app
        .api(&parent.secret)
        .post_json(
            "/api/v1/users/self/tokens",
            &json!({"token": {"purpose": "x", "scopes": [CREATE_SCOPE], "expires_at": expires}}),
        )
        .await;
    let (status, token) = json(res).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["scopes"], json!([CREATE_SCOPE]));
    assert_eq!(token["expires_at"], expires.as_str());
    assert!(token["token"].is_string());
    assert_eq!(token_count(&app, tess), 2);
}

/// Attack 6b: a 7-day token creates a 30-day token.
#[actix_web::test]
async fn a_token_cannot_create_a_child_that_outlives_it() {
    let app = spawn_app().await;
    let (tess, parent) = narrow_token(&app, &[]);
    let res = app
        .api(&parent.secret)
        .post_json(
            "/api/v1/users/self/tokens",
            &json!({"token": {"purpose": "x", "scopes": [CREATE_SCOPE], "expires_at": in_days(30)}}),
        )
        .await;
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(error_fields(&body).contains(&"expires_at".to_owned()), "{body}");
    assert_eq!(token_count(&app, tess), 1, "no new token exists");
}

/// Attack 6c: a token that may only update tokens (7 days) gives an unlimited 3-day sibling
/// a later expiry: the sibling's scopes, kept, would then be passed on for longer than any
/// reach the acting token has. Narrowing the sibling, or changing its purpose, is fine.
#[actix_web::test]
async fn a_token_cannot_widen_a_sibling_beyond_its_own_reach_through_what_it_keeps() {
    let app = spawn_app().await;
    let (_, updater) = narrow_token(&app, &[UPDATE_SCOPE]);
    let sibling = app.issue_token("tess", Some(3), &[]);
    let before = token_row(&app, sibling.id);
    let url = format!("/api/v1/users/self/tokens/{}", sibling.id);
    let api = app.api(&updater.secret);
    let (status, body) = json(api.put_json(&url, &json!({"token": {"expires_at": in_days(5)}})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(error_fields(&body).contains(&"scopes".to_owned()), "the kept scopes are named: {body}");
    let after = token_row(&app, sibling.id);
    assert_eq!((&after.0, after.1), (&before.0, before.1), "unchanged");

    let (status, body) =
        json(api.put_json(&url, &json!({"token": {"purpose": "Renamed", "expires_at": in_days(1)}})).await)
            .await;
    assert_eq!(status, StatusCode::OK, "narrowing is no widening: {body}");
    assert!(token_row(&app, sibling.id).1 < before.1, "its expiry came closer");
}

/// Attack 7: a scoped 7-day token, addressed by its own hint, drops its scopes and expiry.
#[actix_web::test]
async fn a_token_cannot_lift_its_own_scopes_and_expiry() {
    let app = spawn_app().await;
    let (_, token) = narrow_token(&app, &[UPDATE_SCOPE]);
    let before = token_row(&app, token.id);
    let res = app
        .api(&token.secret)
        .put_json(
            &format!("/api/v1/users/self/tokens/{}", typed_hint(&token.secret)),
            &json!({"token": {"scopes": [], "expires_at": null}}),
        )
        .await;
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let after = token_row(&app, token.id);
    assert_eq!((&after.0, after.1), (&before.0, before.1), "its scopes and expiry are unchanged");
}

// ---------------------------------------------------------------------------------------
// 8. A non-ASCII token is refused, not a crash

/// `tw_` + 29 × `a` + `é` + 5 × `a`: 39 bytes, the length of a secret, with a multi-byte
/// character across the checksum's boundary.
fn non_ascii_token() -> String {
    format!("tw_{}é{}", "a".repeat(29), "a".repeat(5))
}

async fn assert_invalid_token(res: Response, case: &str) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{case}");
    assert_eq!(res.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()), Some("Bearer"), "{case}");
    assert_eq!(res.text().await.unwrap(), INVALID, "{case}");
}

/// Attack 8a: a non-ASCII `access_token` query parameter of a secret's length.
#[actix_web::test]
async fn a_non_ascii_access_token_in_the_query_is_a_401() {
    let app = spawn_app().await;
    let token = non_ascii_token();
    assert_eq!(token.len(), 39);
    let query = format!("tw_{}%C3%A9{}", "a".repeat(29), "a".repeat(5));
    let url = format!("{}/api/v1/users/self?access_token={query}", app.address);
    let res = impatient_client()
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the server dropped the connection instead of answering 401: {e}"));
    assert_invalid_token(res, "non-ASCII query parameter").await;
    // and the server is still there
    assert_invalid_token(
        impatient_client().get(format!("{}/api/v1/users/self", app.address)).send().await.expect("an answer"),
        "no token",
    )
    .await;
}

/// Attack 8b: the same bytes in an `Authorization: Bearer` header.
#[actix_web::test]
async fn a_non_ascii_bearer_header_is_a_401() {
    let app = spawn_app().await;
    let header =
        HeaderValue::from_bytes(format!("Bearer {}", non_ascii_token()).as_bytes()).expect("a header");
    let res = impatient_client()
        .get(format!("{}/api/v1/users/self", app.address))
        .header("Authorization", header)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the server dropped the connection instead of answering 401: {e}"));
    assert_invalid_token(res, "non-ASCII bearer header").await;
}

// ---------------------------------------------------------------------------------------
// 9. `next` stays on this site

/// Attack 9: `next=/<TAB>/evil.example` — browsers drop the tab and go to `//evil.example`.
#[actix_web::test]
async fn a_next_with_a_tab_does_not_lead_off_the_site() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let b = app.browser();
    let res = b
        .post_form("/login", &[("login", "tess"), ("password", PASSWORD), ("next", "/\t/evil.example")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed in");
    let to = location(&res);
    assert!(!to.starts_with("//") && !to.contains("evil.example"), "Location: {to:?}");
    assert_eq!(to, "/");
    assert!(b.is_signed_in().await);
    // signed in already, the login page redirects at once
    let res = b.get("/login?next=%2F%09%2Fevil.example").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(!to.starts_with("//") && !to.contains("evil.example"), "Location: {to:?}");
}

/// A plain local `next` still leads where it says.
#[actix_web::test]
async fn a_local_next_still_leads_where_it_says() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let b = app.browser();
    let res = b
        .post_form("/login", &[("login", "tess"), ("password", PASSWORD), ("next", "/settings/tokens")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/settings/tokens");
    let res = b.get("/login?next=%2Fsettings%2Ftokens").await;
    assert_eq!(location(&res), "/settings/tokens");
}

// ---------------------------------------------------------------------------------------
// 10. The audit log needs access_tokens.view or users.manage

/// A user holding a custom role with only `permission`, signed in.
async fn holder_of(app: &TestApp, admin: &Browser, login: &str, permission: &str) -> Browser {
    let role = format!("Only {permission}");
    create_role(app, admin, &role, &[permission]).await;
    app.create_user(login, &[], &[&role]);
    app.signed_in(login).await
}

/// Attack 10: a holder of only `account.settings` reads every token's purpose and every IP.
#[actix_web::test]
async fn the_audit_log_is_closed_to_a_holder_of_only_account_settings() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let sally = holder_of(&app, &admin, "sally", SETTINGS).await;
    assert_eq!(sally.get("/admin/settings").await.status(), StatusCode::OK, "her role works");
    assert_eq!(sally.get("/admin/audit").await.status(), StatusCode::FORBIDDEN);
}

/// … while `access_tokens.view` and `users.manage` each open it.
#[actix_web::test]
async fn the_audit_log_opens_to_token_viewers_and_user_managers() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    for (login, permission) in [("vera", VIEW), ("uma", MANAGE_USERS)] {
        let b = holder_of(&app, &admin, login, permission).await;
        assert_eq!(b.get("/admin/audit").await.status(), StatusCode::OK, "{permission}");
    }
}

// ---------------------------------------------------------------------------------------
// 11. The once-only secret is shown once, on the right page

/// Attack 11a: a copy of the cookie taken right after the create shows the secret again.
#[actix_web::test]
async fn a_shown_once_secret_cannot_be_replayed_from_a_copied_cookie() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let tess = app.signed_in("tess").await;
    let res = tess.post_form("/settings/tokens", &[("purpose", "Replay me"), ("expires_in", "30")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let copy = tess.clone_session();
    assert!(copy.session_cookie().is_some(), "the copy carries the cookie");
    let html = tess.get_html("/settings/tokens").await;
    let secret = shown_secret(&html).expect("the secret is shown once");
    assert!(secret.starts_with("tw_") && secret.len() == 39, "{secret}");
    let res = copy.get("/settings/tokens").await;
    let (status, to) = (res.status(), location(&res));
    let page = res.text().await.unwrap();
    assert!(
        status == StatusCode::OK || (status == StatusCode::SEE_OTHER && to.starts_with("/login")),
        "the copy gets the page or is sent to sign in, not {status} {to}"
    );
    assert!(!page.contains(&secret) && shown_secret(&page).is_none(), "the copy does not see the secret");
}

/// Attack 11b: a secret made on behalf of one user is shown on another user's profile page.
#[actix_web::test]
async fn a_secret_made_for_one_user_is_shown_only_on_that_users_profile() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let alice = app.create_user("alice", &["teacher"], &[]);
    let bert = app.create_user("bert", &["teacher"], &[]);
    let res = admin
        .post_form(&format!("/admin/users/{alice}/tokens"), &[("purpose", "For Alice"), ("expires_in", "30")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(token_count(&app, alice), 1, "the token was made");
    let elsewhere = admin.get_html(&format!("/admin/users/{bert}")).await;
    assert!(elsewhere.contains("Bert Example"), "Bert's profile");
    assert!(shown_secret(&elsewhere).is_none(), "not on Bert's profile");
    let html = admin.get_html(&format!("/admin/users/{alice}")).await;
    let secret = shown_secret(&html).expect("on Alice's profile, once");
    let id = token_ids(&html)[0];
    assert_eq!(token_row(&app, id).3, tokenwarden::domain::token_secret::hint_of(&secret), "Alice's token");
    assert!(shown_secret(&admin.get_html(&format!("/admin/users/{alice}")).await).is_none(), "not on reload");
}

// ---------------------------------------------------------------------------------------
// 12. An ambiguous hint names no token

/// Attack 12: two tokens of one owner share their last four characters; the hint picks one
/// of them silently.
#[actix_web::test]
async fn a_hint_shared_by_two_tokens_is_a_409() {
    let app = spawn_app().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let first = app.issue_token("tess", None, &[]);
    let second = app.issue_token("tess", None, &[]);
    let hint = token_row(&app, first.id).3;
    assert_ne!(hint, token_row(&app, second.id).3, "different hints to begin with");
    let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
    diesel::update(access_tokens::table.find(second.id))
        .set(access_tokens::hint.eq(&hint))
        .execute(&mut conn)
        .expect("give the second token the first one's hint");
    let api = app.api(&first.secret);
    let path = format!("/api/v1/users/self/tokens/{}", typed_hint(&first.secret));
    let (status, body) = json(api.get(&path).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "GET: {body}");
    assert!(body["errors"][0]["message"].is_string(), "GET: {body}");
    let (status, body) = json(api.delete(&path).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "DELETE: {body}");
    assert!(body["errors"][0]["message"].is_string(), "DELETE: {body}");
    assert_eq!(token_count(&app, tess), 2, "both tokens are still there");
    // by id each one is still found
    for id in [first.id, second.id] {
        assert_eq!(api.get(&format!("/api/v1/users/self/tokens/{id}")).await.status(), StatusCode::OK);
    }
}

/// The way out of a pending token that someone else has seen: its owner regenerates it, and
/// the new secret, which only they know, is active at once; the one the regenerator saw
/// works for nobody.
#[actix_web::test]
async fn an_owner_who_regenerates_a_pending_token_gets_an_active_one_only_they_know() {
    let r = regenerator().await;
    let token = r.carl_regenerates_the_admins_token().await;
    let seen_by_carl = token["token"].as_str().expect("the secret Carl saw").to_owned();
    assert_eq!(token_row(&r.app, r.admins.id).2, "pending");
    let page = r.admin.get_html("/settings/tokens").await;
    assert!(page.contains("has seen it. Activate it if you asked for it"), "the page says what to do");
    let res = r
        .admin
        .post_form(&format!("/settings/tokens/{}/regenerate", r.admins.id), &[("expires_in", "30")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = r.admin.get_html("/settings/tokens").await;
    let mine = shown_secret(&html).expect("her new secret, once");
    assert_eq!(token_row(&r.app, r.admins.id).2, "active", "regenerated by its owner, it is active");
    assert_eq!(r.app.api(&mine).get("/api/v1/users/self").await.status(), StatusCode::OK);
    assert_eq!(r.app.api(&seen_by_carl).get("/api/v1/users/self").await.status(), StatusCode::UNAUTHORIZED);
}

/// The profile page offers a user manager only the roles he may give: Account Admin is
/// shown disabled (its holders keep it through a hidden field), and his own profile offers
/// none of his account roles; the form he is given saves unchanged.
#[actix_web::test]
async fn the_profile_page_offers_only_the_roles_the_viewer_may_give() {
    let m = user_manager().await;
    let sam = m.app.create_user("sam", &["student"], &[]);
    let admin_role = account_admin_id(&m.app);
    let html = m.mallory.get_html(&format!("/admin/users/{sam}")).await;
    assert!(
        html.contains(&format!("name=\"account_roles\" value=\"{}\"", m.role)),
        "his own role he may give"
    );
    assert!(
        !html.contains(&format!("name=\"account_roles\" value=\"{admin_role}\"")),
        "Account Admin is not offered"
    );
    assert!(html.contains("Account Admin <span class=\"muted\">(not yours to give)</span>"));
    let own = m.mallory.get_html(&format!("/admin/users/{}", m.mallory_id)).await;
    assert!(own.contains("Your own account roles are not yours to change"));
    assert!(
        own.contains(&format!("type=\"hidden\" name=\"account_roles\" value=\"{}\"", m.role)),
        "his held role rides along unchanged"
    );
    // The admin's profile: he may not touch her at all, and is told why.
    let admin_id = m.admin_id;
    let hers = m.mallory.get_html(&format!("/admin/users/{admin_id}")).await;
    assert!(hers.contains("holds permissions you do not hold yourself"));
    assert!(!hers.contains(&format!("action=\"/admin/users/{admin_id}/roles\"")));
    assert!(!hers.contains(&format!("action=\"/admin/users/{admin_id}/suspend\"")));
    // Saving his own profile's form as given changes nothing and is allowed.
    let res = m
        .mallory
        .post_form(&format!("/admin/users/{}/roles", m.mallory_id), &[("account_roles", &m.role.to_string())])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(account_roles_of(&m.app, m.mallory_id), ["User manager"]);
}
