//! Tokens guarding the institution's services (SPEC 11), through HTTP: forward auth as
//! nginx, Traefik, Caddy and Envoy ask it, RFC 7662 introspection, leak reports, usage
//! counts, the services page and `tokenwarden service create`.

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;
use tokenwarden::db::schema::access_tokens;

use crate::api::Issued;
use crate::helpers::{Browser, TestApp, location, spawn_app, spawn_app_with};

/// How a gateway tells tokenwarden which request it asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gateway {
    /// nginx `auth_request` with the README's `X-Original-Method`/`X-Original-URI`.
    Nginx,
    /// Traefik ForwardAuth and Caddy `forward_auth`: `X-Forwarded-Method`/`-Uri`/`-Host`.
    Traefik,
    /// Envoy `ext_authz` in HTTP mode: the original method and path behind a prefix.
    Envoy,
}

pub const GATEWAYS: [Gateway; 3] = [Gateway::Nginx, Gateway::Traefik, Gateway::Envoy];

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

/// Asks `/auth/verify` about `method uri` at `slug`, as `gateway` would.
pub async fn verify(
    app: &TestApp,
    gateway: Gateway,
    slug: &str,
    token: Option<&str>,
    method: &str,
    uri: &str,
) -> Answer {
    let client = reqwest::Client::new();
    let mut req = match gateway {
        Gateway::Nginx => client
            .get(format!("{}/auth/verify?service={slug}", app.address))
            .header("X-Original-Method", method)
            .header("X-Original-URI", uri),
        Gateway::Traefik => client
            .get(format!("{}/auth/verify?service={slug}", app.address))
            .header("X-Forwarded-Method", method)
            .header("X-Forwarded-Uri", uri)
            .header("X-Forwarded-Host", "grades.example.edu")
            .header("X-Forwarded-Proto", "https"),
        Gateway::Envoy => client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}/auth/verify/{slug}{uri}", app.address),
        ),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("verify");
    Answer { status: res.status(), headers: res.headers().clone() }
}

/// A school with a gradebook and a library, their people and their tokens.
pub struct School {
    pub app: TestApp,
    pub admin: Browser,
    pub gradebook_credential: String,
    pub library_credential: String,
    /// Tess (teacher): gradebook:read; and gradebook:read + write.
    pub tess_read: Issued,
    pub tess_write: Issued,
    /// Sam (student-only): gradebook:read, 30 days.
    pub sam_read: Issued,
    /// Tess's tokens: unscoped; limited to the API; the library's only.
    pub unscoped: Issued,
    pub api_only: Issued,
    pub library: Issued,
}

pub async fn school() -> School {
    let app = spawn_app_with(|s| s.usage_flush_secs = 1).await;
    let admin = app.setup_admin().await;
    app.create_user("tess", &["teacher"], &[]);
    app.create_user("sam", &["student"], &[]);
    let gradebook_credential = register(
        &app,
        "gradebook",
        "Gradebook",
        &["read=Read grades", "write=Enter grades"],
        &["write=teacher,ta,admin"],
        &["GET /grades/*=gradebook:read", "POST /grades/*=gradebook:write"],
        false,
    );
    let library_credential = register(&app, "library", "Library", &["read=See loans"], &[], &[], true);
    School {
        tess_read: app.issue_token("tess", None, &["gradebook:read"]),
        tess_write: app.issue_token("tess", None, &["gradebook:read", "gradebook:write"]),
        sam_read: app.issue_token("sam", Some(30), &["gradebook:read"]),
        unscoped: app.issue_token("tess", None, &[]),
        api_only: app.issue_token("tess", None, &["url:GET|/api/v1/users/:id"]),
        library: app.issue_token("tess", None, &["library:read"]),
        app,
        admin,
        gradebook_credential,
        library_credential,
    }
}

/// Registers a service through the same code as `tokenwarden service create`; its credential.
pub fn register(
    app: &TestApp,
    slug: &str,
    name: &str,
    scopes: &[&str],
    holders: &[&str],
    rules: &[&str],
    accept_unscoped: bool,
) -> String {
    let args = tokenwarden::config::ServiceCreateArgs {
        slug: slug.into(),
        name: name.into(),
        description: String::new(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        holders: holders.iter().map(|s| s.to_string()).collect(),
        rules: rules.iter().map(|s| s.to_string()).collect(),
        accept_unscoped,
    };
    tokenwarden::cli::create_service(&app.database_url, &args)
        .expect("register a service")
        .credential
        .expose()
        .to_owned()
}

/// Moves a token's expiry a minute into the past, as time would.
pub fn let_expire(app: &TestApp, token: &Issued) {
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    let past = tokenwarden::domain::now() - chrono::Duration::minutes(1);
    diesel::update(access_tokens::table.find(token.id))
        .set(access_tokens::expires_at.eq(Some(past)))
        .execute(&mut conn)
        .unwrap();
}

/// A token of `login`'s with `scopes`, issued for 30 days, whose expiry has since passed.
pub fn past_its_date(app: &TestApp, login: &str, scopes: &[&str]) -> Issued {
    let t = app.issue_token(login, Some(30), scopes);
    let_expire(app, &t);
    t
}

#[actix_web::test]
async fn a_scoped_token_opens_what_its_scopes_name_at_every_gateway() {
    let s = school().await;
    for g in GATEWAYS {
        let ok =
            verify(&s.app, g, "gradebook", Some(&s.tess_read.secret), "GET", "/grades/7?term=fall").await;
        assert_eq!(ok.status, StatusCode::OK, "{g:?}");
        assert_eq!(ok.header("x-tokenwarden-login"), "tess", "{g:?}");
        assert_eq!(ok.header("x-tokenwarden-user-id"), s.app.user_id("tess").to_string());
        assert_eq!(ok.header("x-tokenwarden-name"), "Tess Example");
        assert_eq!(ok.header("x-tokenwarden-email"), "tess@example.edu");
        assert_eq!(ok.header("x-tokenwarden-roles"), "teacher");
        assert_eq!(ok.header("x-tokenwarden-student-only"), "false");
        assert_eq!(ok.header("x-tokenwarden-token-id"), s.tess_read.id.to_string());
        assert_eq!(ok.header("x-tokenwarden-scopes"), "gradebook:read");

        let denied = verify(&s.app, g, "gradebook", Some(&s.tess_read.secret), "POST", "/grades/7").await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "{g:?}: the rule needs write");
        assert!(denied.header("x-tokenwarden-error").contains("gradebook:write"), "names the missing scope");
        assert!(denied.header("www-authenticate").contains("insufficient_scope"));
        let writes = verify(&s.app, g, "gradebook", Some(&s.tess_write.secret), "POST", "/grades/7").await;
        assert_eq!(writes.status, StatusCode::OK, "{g:?}");
        assert_eq!(writes.header("x-tokenwarden-scopes"), "gradebook:read gradebook:write");

        let student = verify(&s.app, g, "gradebook", Some(&s.sam_read.secret), "GET", "/grades/7").await;
        assert_eq!(student.status, StatusCode::OK);
        assert_eq!(student.header("x-tokenwarden-student-only"), "true");
        assert_eq!(student.header("x-tokenwarden-roles"), "student");
    }
}

/// Every role of the owner reaches the service, named alike by a gateway's header and by
/// introspection: the enrollment roles, and `admin` for an account role.
#[actix_web::test]
async fn a_gateway_and_introspection_name_every_role_of_the_owner() {
    let s = school().await;
    s.app.create_user("tara", &["teacher", "ta"], &["Account Admin"]);
    let tara = s.app.issue_token("tara", None, &["gradebook:read"]);
    for g in GATEWAYS {
        let ok = verify(&s.app, g, "gradebook", Some(&tara.secret), "GET", "/grades/7").await;
        assert_eq!(ok.status, StatusCode::OK, "{g:?}");
        assert_eq!(ok.header("x-tokenwarden-roles"), "teacher,ta,admin", "{g:?}");
        assert_eq!(ok.header("x-tokenwarden-student-only"), "false", "{g:?}");
    }
    let (_, answer) = introspect(&s.app, "gradebook", &s.gradebook_credential, &tara.secret).await;
    assert_eq!(answer["roles"], json!(["teacher", "ta", "admin"]), "{answer}");
    let (_, sam) = introspect(&s.app, "gradebook", &s.gradebook_credential, &s.sam_read.secret).await;
    assert_eq!(sam["roles"], json!(["student"]), "{sam}");
}

#[actix_web::test]
async fn tokens_without_this_services_scopes_or_outside_its_rules_are_refused() {
    let s = school().await;
    for g in GATEWAYS {
        for (what, token) in
            [("unscoped", &s.unscoped), ("API only", &s.api_only), ("library only", &s.library)]
        {
            let a = verify(&s.app, g, "gradebook", Some(&token.secret), "GET", "/grades/7").await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{g:?}: {what}");
            assert!(!a.header("x-tokenwarden-error").is_empty(), "{what}: says why");
        }
        for uri in ["/admin", "/grades/../admin", "/grades/%2e%2e/admin", "/grades"] {
            let a = verify(&s.app, g, "gradebook", Some(&s.tess_write.secret), "GET", uri).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{g:?}: {uri} matches no rule");
        }
    }
    // The library takes unscoped tokens, with every scope their owner may hold there.
    let a = verify(&s.app, Gateway::Traefik, "library", Some(&s.unscoped.secret), "GET", "/loans").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("x-tokenwarden-scopes"), "library:read");
    let unknown = verify(&s.app, Gateway::Nginx, "cafeteria", Some(&s.unscoped.secret), "GET", "/").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "no such service");
}

#[actix_web::test]
async fn missing_mangled_expired_pending_revoked_and_suspended_tokens_get_401_with_the_challenge() {
    let s = school().await;
    let mangled = s
        .tess_read
        .secret
        .replace(&s.tess_read.secret[5..6], if &s.tess_read.secret[5..6] == "a" { "b" } else { "a" });
    let pending = {
        // Created on Tess's behalf by the admin: pending until she activates it.
        let mut conn = tokenwarden::db::connect(&s.app.database_url).unwrap();
        let t = s.app.issue_token("tess", None, &["gradebook:read"]);
        diesel::update(access_tokens::table.find(t.id))
            .set(access_tokens::workflow_state.eq("pending"))
            .execute(&mut conn)
            .unwrap();
        t
    };
    let expired = past_its_date(&s.app, "tess", &["gradebook:read"]);
    let student_past = past_its_date(&s.app, "sam", &["gradebook:read"]);
    for g in GATEWAYS {
        for (what, token) in [
            ("no token", None),
            ("mangled", Some(mangled.as_str())),
            ("invented", Some("tw_thisIsNoTokenOfOursButLooksLikeOne00")),
            ("pending", Some(pending.secret.as_str())),
            ("expired", Some(expired.secret.as_str())),
            ("a student-only user's, past its date", Some(student_past.secret.as_str())),
        ] {
            let a = verify(&s.app, g, "gradebook", token, "GET", "/grades/7").await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{g:?}: {what}");
            assert!(a.header("www-authenticate").starts_with("Bearer"), "{g:?}: {what}");
        }
    }
    // Revoked through the admin's profile page: refused on the very next request.
    assert_eq!(
        verify(&s.app, Gateway::Nginx, "gradebook", Some(&s.tess_read.secret), "GET", "/grades/1")
            .await
            .status,
        StatusCode::OK
    );
    let tess = s.app.user_id("tess");
    let res = s.admin.post_form(&format!("/admin/users/{tess}/tokens/{}/revoke", s.tess_read.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        verify(&s.app, Gateway::Nginx, "gradebook", Some(&s.tess_read.secret), "GET", "/grades/1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Suspended: every token of hers stops.
    let res = s.admin.post_form(&format!("/admin/users/{tess}/suspend"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        verify(&s.app, Gateway::Envoy, "gradebook", Some(&s.tess_write.secret), "GET", "/grades/1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn a_regenerated_token_works_with_its_new_secret_only() {
    let s = school().await;
    // Through a token that holds the gradebook's scope (an unscoped one does not open the
    // gradebook, so it may not make a secret that does: rule 13).
    let regenerator =
        s.app.issue_token("tess", None, &["gradebook:read", "url:PUT|/api/v1/users/:user_id/tokens/:id"]);
    let api = s.app.api(&regenerator.secret);
    let res = api
        .put_form(&format!("/api/v1/users/self/tokens/{}", s.tess_read.id), &[("token[regenerate]", "1")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    let new = body["token"].as_str().expect("the new secret");
    assert_eq!(
        verify(&s.app, Gateway::Traefik, "gradebook", Some(&s.tess_read.secret), "GET", "/grades/1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        verify(&s.app, Gateway::Traefik, "gradebook", Some(new), "GET", "/grades/1").await.status,
        StatusCode::OK
    );
}

/// RFC 7662 introspection with Basic credentials `slug:secret`.
async fn introspect(app: &TestApp, slug: &str, secret: &str, token: &str) -> (StatusCode, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/oauth/introspect", app.address))
        .basic_auth(slug, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect");
    let status = res.status();
    (status, res.json().await.unwrap_or_default())
}

#[actix_web::test]
async fn introspection_says_active_with_this_services_scopes_or_inactive_and_never_why() {
    let s = school().await;
    let (status, answer) =
        introspect(&s.app, "gradebook", &s.gradebook_credential, &s.tess_write.secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["active"], true);
    assert_eq!(answer["scope"], "gradebook:read gradebook:write");
    assert_eq!(answer["username"], "tess");
    assert_eq!(answer["sub"], s.app.user_id("tess").to_string());
    assert_eq!(answer["token_type"], "Bearer");
    assert!(
        answer["iat"].is_i64() && answer.get("exp").is_none(),
        "no exp for a token without expiry: {answer}"
    );
    let (_, sam) = introspect(&s.app, "gradebook", &s.gradebook_credential, &s.sam_read.secret).await;
    assert!(sam["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp(), "{sam}");
    assert_eq!(sam["student_only"], true);
    // Another service's token, an API-only one, an unscoped one at a service that takes
    // none, garbage: inactive, and nothing more.
    for token in [&s.library.secret, &s.api_only.secret, &s.unscoped.secret, &"tw_nothing".to_owned()] {
        let (status, answer) = introspect(&s.app, "gradebook", &s.gradebook_credential, token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer, json!({"active": false}));
    }
    // The library sees only its own scopes of the same unscoped token.
    let (_, lib) = introspect(&s.app, "library", &s.library_credential, &s.unscoped.secret).await;
    assert_eq!(lib["active"], true);
    assert_eq!(lib["scope"], "library:read");
    // A wrong credential, another service's, none: 401 with the Basic challenge.
    for (slug, secret) in
        [("gradebook", "twsvc_wrong"), ("gradebook", s.library_credential.as_str()), ("nobody", "x")]
    {
        let (status, answer) = introspect(&s.app, slug, secret, &s.tess_write.secret).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{slug}");
        assert_eq!(answer["error"], "invalid_client");
    }
    // client_secret_post works too.
    let res = reqwest::Client::new()
        .post(format!("{}/oauth/introspect", s.app.address))
        .form(&[
            ("token", s.tess_read.secret.as_str()),
            ("client_id", "gradebook"),
            ("client_secret", &s.gradebook_credential),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["active"], true);
    // Found in review: without a token (or with the token in JSON, which is not the
    // protocol's), the answer was an inactive token; RFC 7662 requires the field.
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", String::new()),
        ("application/json", json!({"token": s.tess_read.secret}).to_string()),
    ] {
        let res = reqwest::Client::new()
            .post(format!("{}/oauth/introspect", s.app.address))
            .basic_auth("gradebook", Some(&s.gradebook_credential))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{content_type}");
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["error"], "invalid_request");
    }
}

#[actix_web::test]
async fn a_leaked_token_reported_by_anyone_is_revoked_at_once_and_its_owner_told() {
    let s = school().await;
    let report = |credentials: serde_json::Value| {
        let url = format!("{}/api/v1/credentials/revoke", s.app.address);
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&json!({ "credentials": credentials }))
                .send()
                .await
                .unwrap()
        }
    };
    let res =
        report(json!([s.tess_read.secret, "tw_madeUpButShapedLikeOneOfOurs0000000", "not even a token"]))
            .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED, "202 whatever the tokens were");
    assert_eq!(
        verify(&s.app, Gateway::Nginx, "gradebook", Some(&s.tess_read.secret), "GET", "/grades/1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        verify(&s.app, Gateway::Nginx, "gradebook", Some(&s.tess_write.secret), "GET", "/grades/1")
            .await
            .status,
        StatusCode::OK,
        "only the reported one"
    );
    // The owner sees it on her page; the audit log has the reporter's address.
    let tess = s.app.signed_in("tess").await;
    let page = tess.get_html("/settings/tokens").await;
    assert!(
        page.contains("Tokens found leaked") && page.contains("reported from 127.0.0.1"),
        "the owner is told"
    );
    let audit = s.admin.get_html("/admin/audit?action=token.leaked").await;
    assert!(audit.contains("reported as leaked and revoked"));
    // Shapes that are not a report, and too many at once.
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/credentials/revoke", s.app.address))
        .json(&json!(["x"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Found in review: serde read an array as the report's fields in order, so `[[…]]` was a
    // report, and `[]` was refused in serde's words ("expected struct RevokeRequest").
    for not_an_object in [json!([[s.tess_write.secret]]), json!([])] {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/credentials/revoke", s.app.address))
            .json(&not_an_object)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{not_an_object}");
        let body: serde_json::Value = res.json().await.unwrap();
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("expected an object") && !message.contains("RevokeRequest"), "{message}");
    }
    assert_eq!(
        verify(&s.app, Gateway::Nginx, "gradebook", Some(&s.tess_write.secret), "GET", "/grades/1")
            .await
            .status,
        StatusCode::OK,
        "not revoked by a body that is no report"
    );
    let too_many: Vec<String> = (0..1001).map(|i| format!("tw_{i}")).collect();
    assert_eq!(report(json!(too_many)).await.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn leak_reports_are_rate_limited_per_address() {
    let app = spawn_app_with(|s| s.leak_reports_per_ip = 2).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/credentials/revoke", app.address);
    for _ in 0..2 {
        let res = client.post(&url).json(&json!({"credentials": []})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let res = client.post(&url).json(&json!({"credentials": []})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("Retry-After"));
}

#[actix_web::test]
async fn uses_are_counted_per_service_and_shown_on_the_row_and_in_the_token_object() {
    let s = school().await;
    for _ in 0..3 {
        assert_eq!(
            verify(&s.app, Gateway::Nginx, "gradebook", Some(&s.tess_write.secret), "GET", "/grades/1")
                .await
                .status,
            StatusCode::OK
        );
    }
    let api = s.app.api(&s.tess_write.secret);
    // The API's own uses count too, under "api" (this token may call no API route: a 403 is
    // not a use, so the count comes from another, unscoped token of hers).
    let mine = s.app.api(&s.unscoped.secret);
    assert_eq!(mine.get("/api/v1/users/self").await.status(), StatusCode::OK);
    // Polled until all three are written: a flush may fall between two of them.
    let expected = json!([{"service": "gradebook", "name": "Gradebook", "uses_last_30_days": 3}]);
    let mut usage = serde_json::Value::Null;
    // Written every second; wait up to 10 (a loaded machine runs the flush late).
    for _ in 0..100 {
        let (status, token) =
            crate::api::json(mine.get(&format!("/api/v1/users/self/tokens/{}", s.tess_write.id)).await).await;
        assert_eq!(status, StatusCode::OK);
        usage = token["usage"].clone();
        if usage == expected {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(usage, expected, "written within seconds");
    drop(api);
    let tess = s.app.signed_in("tess").await;
    let page = tess.get_html("/settings/tokens").await;
    assert!(page.contains("Gradebook: 3"), "the row shows the uses");
    let profile = s.admin.get_html(&format!("/admin/users/{}", s.app.user_id("tess"))).await;
    assert!(profile.contains("Gradebook: 3"), "and so does the profile page");
}

#[actix_web::test]
async fn the_token_forms_offer_each_services_scopes_to_whoever_may_hold_them() {
    let s = school().await;
    let tess = s.app.signed_in("tess").await;
    let page = tess.get_html("/settings/tokens").await;
    assert!(page.contains("<legend>Gradebook</legend>") && page.contains("value=\"gradebook:write\""));
    let sam = s.app.signed_in("sam").await;
    let page = sam.get_html("/settings/tokens").await;
    assert!(
        page.contains("value=\"gradebook:read\"") && !page.contains("value=\"gradebook:write\""),
        "students never write grades"
    );
    // Every role the owner holds counts, enrollment and account roles alike: a student who
    // is also a TA, or who holds an account role, may write grades and keep a token
    // without expiry.
    for (login, roles, account) in [
        ("tara", &["student", "ta"][..], &[][..]),
        ("abe", &["student"][..], &["Account Admin"][..]),
        ("tia", &["student", "ta"][..], &["Account Admin"][..]),
    ] {
        s.app.create_user(login, roles, account);
        let page = s.app.signed_in(login).await.get_html("/settings/tokens").await;
        assert!(page.contains("value=\"gradebook:write\"") && page.contains("value=\"never\""), "{login}");
    }
    // Sent anyway, the scope is refused next to the field, and nothing is created.
    let res = sam
        .post_form(
            "/settings/tokens",
            &[("purpose", "Grades"), ("expires_in", "30"), ("scopes", "gradebook:write")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"scopes-error\"") && html.contains("only for teachers, TAs and administrators"),
        "{html}"
    );
    // Through the API and for an unknown service scope too.
    let (status, body) = crate::api::json(
        s.app.api(&s.app.api_token("sam", Some(60))).post_json("/api/v1/users/self/tokens", &json!({"token": {"purpose": "x", "scopes": ["gradebook:write"], "expires_at": crate::api::in_days(30)}})).await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"]["scopes"][0]["message"].as_str().unwrap().contains("only for"));
    let (status, _) = crate::api::json(
        s.app
            .api(&s.unscoped.secret)
            .post_json(
                "/api/v1/users/self/tokens",
                &json!({"token": {"purpose": "x", "scopes": ["cafeteria:eat"]}}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an unknown scope");
}

#[actix_web::test]
async fn an_unscoped_token_cannot_give_a_service_it_does_not_open_rule_13() {
    let s = school().await;
    // Tess's unscoped token is refused by the gradebook (it takes no unscoped tokens) …
    assert_eq!(
        verify(&s.app, Gateway::Nginx, "gradebook", Some(&s.unscoped.secret), "GET", "/grades/1")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // … so it cannot make a token that opens the gradebook either.
    let tess = s.app.api(&s.unscoped.secret);
    let (status, body) = crate::api::json(
        tess.post_json(
            "/api/v1/users/self/tokens",
            &json!({"token": {"purpose": "Grades bot", "scopes": ["gradebook:read"]}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["errors"]["scopes"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("cannot give the scope gradebook:read"), "{body}");
    // Nor give that scope to a token it changes.
    let (_, plain) = crate::api::json(
        tess.post_json("/api/v1/users/self/tokens", &json!({"token": {"purpose": "Plain"}})).await,
    )
    .await;
    let path = format!("/api/v1/users/self/tokens/{}", plain["id"]);
    let (status, body) =
        crate::api::json(tess.put_json(&path, &json!({"token": {"scopes": ["gradebook:read"]}})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, unchanged) = crate::api::json(tess.get(&path).await).await;
    assert_eq!(unchanged["scopes"], json!([]), "nothing changed");
    // A gradebook token it may narrow: that gives it nothing (it learns no secret).
    let writer = format!("/api/v1/users/self/tokens/{}", s.tess_write.id);
    let (status, body) =
        crate::api::json(tess.put_json(&writer, &json!({"token": {"scopes": ["gradebook:read"]}})).await)
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scopes"], json!(["gradebook:read"]));
    // The library takes unscoped tokens: its scope is within this token's reach.
    let (status, body) = crate::api::json(
        tess.post_json(
            "/api/v1/users/self/tokens",
            &json!({"token": {"purpose": "Loans", "scopes": ["library:read"]}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The API's own scopes it may still give; and the page, where Tess herself acts, gives
    // the gradebook's.
    let (status, _) = crate::api::json(
        tess.post_json(
            "/api/v1/users/self/tokens",
            &json!({"token": {"purpose": "Reader", "scopes": ["url:GET|/api/v1/users/:id"]}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page = s.app.signed_in("tess").await;
    let res = page
        .post_form(
            "/settings/tokens",
            &[("purpose", "Grades bot"), ("expires_in", "30"), ("scopes", "gradebook:read")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn an_administrator_registers_edits_rotates_and_removes_a_service_on_the_services_page() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    assert!(admin.get_html("/admin/services").await.contains("No services yet"), "the empty state");
    // Bad input: errors next to their fields, the rest kept.
    let res = admin
        .post_form(
            "/admin/services",
            &[
                ("name", "Print service"),
                ("slug", "Print Service"),
                ("scope", "print"),
                ("label", "Print"),
                ("holders", ""),
                ("rules", "GET /jobs/*=print:delete"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"slug-error\"") && html.contains("value=\"Print service\""),
        "kept and explained"
    );
    let res = admin
        .post_form(
            "/admin/services",
            &[
                ("name", "Print service"),
                ("slug", "print"),
                ("scope", "jobs"),
                ("label", "Print jobs"),
                ("holders", ""),
                ("scope", "admin"),
                ("label", "Empty the queue"),
                ("holders", "admin"),
                ("rules", "POST /jobs/*=print:jobs\nDELETE /queue=print:admin"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/services");
    let page = admin.get_html("/admin/services").await;
    let credential = page
        .split("id=\"new-credential-secret\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("the credential, once")
        .to_owned();
    assert!(credential.starts_with("twsvc_"));
    assert!(
        page.contains("print:jobs") && page.contains("Empty the queue") && page.contains("administrators")
    );
    assert!(!admin.get_html("/admin/services").await.contains(&credential), "shown once");
    // A token for the service works through a gateway, and the service introspects it.
    app.create_user("tess", &["teacher"], &[]);
    let token = app.issue_token("tess", None, &["print:jobs"]);
    assert_eq!(
        verify(&app, Gateway::Nginx, "print", Some(&token.secret), "POST", "/jobs/1").await.status,
        StatusCode::OK
    );
    assert_eq!(introspect(&app, "print", &credential, &token.secret).await.1["active"], true);
    // Edit: the jobs rule now needs the admin scope.
    let id: i64 = page
        .split("/admin/services/")
        .filter_map(|r| r.split('/').next().and_then(|n| n.parse().ok()))
        .next()
        .expect("the service's edit link");
    let edit = admin.get_html(&format!("/admin/services/{id}/edit")).await;
    assert!(edit.contains("POST /jobs/*=print:jobs"), "the form shows the rules");
    let res = admin
        .post_form(
            &format!("/admin/services/{id}"),
            &[
                ("name", "Print service"),
                ("slug", "print"),
                ("scope", "print:jobs"),
                ("label", "Print jobs"),
                ("holders", ""),
                ("scope", "print:admin"),
                ("label", "Empty the queue"),
                ("holders", "admin"),
                ("rules", "POST /jobs/*=print:admin"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        verify(&app, Gateway::Nginx, "print", Some(&token.secret), "POST", "/jobs/1").await.status,
        StatusCode::FORBIDDEN,
        "within a second"
    );
    // Rotate: the old credential stops at once.
    let res = admin.post_form(&format!("/admin/services/{id}/rotate"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(introspect(&app, "print", &credential, &token.secret).await.0, StatusCode::UNAUTHORIZED);
    let page = admin.get_html("/admin/services").await;
    let rotated = page
        .split("id=\"new-credential-secret\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_owned();
    assert_eq!(introspect(&app, "print", &rotated, &token.secret).await.1["active"], true);
    // Remove: its gateways' requests are refused.
    let res = admin.post_form(&format!("/admin/services/{id}/delete"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        verify(&app, Gateway::Nginx, "print", Some(&token.secret), "POST", "/jobs/1").await.status,
        StatusCode::NOT_FOUND
    );
    let audit = admin.get_html("/admin/audit").await;
    for action in ["service.created", "service.updated", "service.credential_rotated", "service.deleted"] {
        assert!(audit.contains(action), "{action} is audited");
    }
    // The token keeps its scope, which opens nothing: not the API either.
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/users/self", app.address))
        .bearer_auth(&token.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "still limited to the removed scope");
    // Registered again under its slug (removed by mistake), the service is opened as before.
    let res = admin
        .post_form(
            "/admin/services",
            &[("name", "Print service"), ("slug", "print"), ("scope", "jobs"), ("label", "Print jobs")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        verify(&app, Gateway::Nginx, "print", Some(&token.secret), "POST", "/jobs/1").await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn service_create_prints_the_credential_alone_and_refuses_a_taken_slug() {
    let app = spawn_app().await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tokenwarden"))
            .args(["service", "create"])
            .args(args)
            .env("DATABASE_URL", &app.database_url)
            .output()
            .expect("run tokenwarden")
    };
    let out = run(&[
        "--slug",
        "gradebook",
        "--name",
        "Gradebook",
        "--scope",
        "read=Read grades",
        "--rule",
        "GET /grades/*=gradebook:read",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.trim().starts_with("twsvc_") && stdout.trim().len() == 46);
    let again = run(&["--slug", "gradebook", "--name", "Other", "--scope", "read"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("slug: A service with this slug already exists.")
    );
    let bad = run(&[
        "--slug",
        "gradebook2",
        "--name",
        "Bad",
        "--scope",
        "read",
        "--rule",
        "GET /x=gradebook2:write",
        "--rule",
        "GET x=read",
    ]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains(
            "rules: Line 1: The rule “GET /x=gradebook2:write” names a scope the service does not have."
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("\nrules: Line 2: The path starts with /"),
        "each refused rule on its line: {stderr}"
    );
}

/// Runs `tokenwarden ARGS` against the app's database.
fn tokenwarden_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tokenwarden"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("TOKENWARDEN_LOG", "warn")
        .output()
        .expect("run tokenwarden")
}

#[actix_web::test]
async fn token_create_on_the_command_line_gives_service_scopes_only_to_whoever_may_hold_them() {
    let s = school().await;
    let create = |login: &'static str, scope: &'static str| {
        let args = ["token", "create", "--login", login, "--purpose", "Grades", "--expires-in-days", "30"];
        let mut args = args.to_vec();
        args.extend(["--scope", scope]);
        tokenwarden_cli(&s.app, &args)
    };
    // A student may not write grades: refused under `scopes`, exit code 1, no secret.
    let out = create("sam", "gradebook:write");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("scopes:") && stderr.contains("only for teachers, TAs and administrators"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no secret printed");
    // An unknown service scope: refused too.
    let out = create("tess", "cafeteria:eat");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("scopes:"));
    // What their roles allow: the secret alone, and it opens what the scope names.
    let out = create("sam", "gradebook:read");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sam = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(
        verify(&s.app, Gateway::Nginx, "gradebook", Some(&sam), "GET", "/grades/1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        verify(&s.app, Gateway::Nginx, "gradebook", Some(&sam), "POST", "/grades/1").await.status,
        StatusCode::FORBIDDEN
    );
    let out = create("tess", "gradebook:write");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tess = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let a = verify(&s.app, Gateway::Traefik, "gradebook", Some(&tess), "POST", "/grades/1").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("x-tokenwarden-scopes"), "gradebook:write");
}

/// The `<fieldset>` whose legend is `legend`, as the page has it.
fn fieldset<'a>(html: &'a str, legend: &str) -> &'a str {
    let start =
        html.find(&format!("<legend>{legend}</legend>")).unwrap_or_else(|| panic!("no group {legend}"));
    let rest = &html[start..];
    &rest[..rest.find("</fieldset>").expect("the group ends")]
}

#[actix_web::test]
async fn the_on_behalf_form_offers_service_scopes_grouped_by_service_for_the_owners_roles() {
    let s = school().await;
    // The administrator may hold every scope; the form offers what the owner may.
    let sam = s.admin.get_html(&format!("/admin/users/{}", s.app.user_id("sam"))).await;
    let gradebook = fieldset(&sam, "Gradebook");
    assert!(gradebook.contains("value=\"gradebook:read\"") && gradebook.contains("Read grades"));
    assert!(!sam.contains("value=\"gradebook:write\""), "a student never writes grades");
    assert!(!gradebook.contains("library:"), "each service in its own group");
    assert!(fieldset(&sam, "Library").contains("value=\"library:read\""));
    let tess = s.admin.get_html(&format!("/admin/users/{}", s.app.user_id("tess"))).await;
    let gradebook = fieldset(&tess, "Gradebook");
    assert!(
        gradebook.contains("value=\"gradebook:read\"") && gradebook.contains("value=\"gradebook:write\"")
    );
    // Sent anyway, the scope is refused next to the field, and nothing is created.
    let sam_id = s.app.user_id("sam");
    let res = s
        .admin
        .post_form(
            &format!("/admin/users/{sam_id}/tokens"),
            &[("purpose", "Grades"), ("expires_in", "30"), ("scopes", "gradebook:write")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"scopes-error\"") && html.contains("only for teachers, TAs and administrators")
    );
    let mut conn = tokenwarden::db::connect(&s.app.database_url).unwrap();
    let sams: i64 =
        access_tokens::table.filter(access_tokens::user_id.eq(sam_id)).count().get_result(&mut conn).unwrap();
    assert_eq!(sams, 1, "only the token Sam had");
    // What the student may hold is created, pending, with the scope.
    let res = s
        .admin
        .post_form(
            &format!("/admin/users/{sam_id}/tokens"),
            &[("purpose", "Grades"), ("expires_in", "30"), ("scopes", "gradebook:read")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (scopes, state): (String, String) = access_tokens::table
        .filter(access_tokens::user_id.eq(sam_id))
        .order(access_tokens::id.desc())
        .select((access_tokens::scopes, access_tokens::workflow_state))
        .first(&mut conn)
        .unwrap();
    assert_eq!((scopes.as_str(), state.as_str()), ("gradebook:read", "pending"));
}

#[actix_web::test]
async fn introspection_of_a_suspended_owners_token_is_inactive() {
    let s = school().await;
    let (_, before) = introspect(&s.app, "gradebook", &s.gradebook_credential, &s.tess_write.secret).await;
    assert_eq!(before["active"], true);
    let res = s.admin.post_form(&format!("/admin/users/{}/suspend", s.app.user_id("tess")), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    for token in [&s.tess_write, &s.tess_read] {
        let (status, answer) = introspect(&s.app, "gradebook", &s.gradebook_credential, &token.secret).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer, json!({"active": false}), "and nothing more");
    }
    let (_, lib) = introspect(&s.app, "library", &s.library_credential, &s.unscoped.secret).await;
    assert_eq!(lib, json!({"active": false}), "at every service");
}

/// Asks `/auth/verify` with headers of both conventions.
async fn verify_with(app: &TestApp, token: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = reqwest::Client::new()
        .get(format!("{}/auth/verify?service=gradebook", app.address))
        .bearer_auth(token);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.expect("verify");
    Answer { status: res.status(), headers: res.headers().clone() }
}

#[actix_web::test]
async fn a_request_named_two_ways_is_refused_unless_both_say_the_same() {
    let s = school().await;
    let write = &s.tess_write.secret;
    // Both conventions, complete and the same: one request, judged.
    let same = [
        ("X-Original-Method", "POST"),
        ("X-Original-URI", "/grades/7"),
        ("X-Forwarded-Method", "POST"),
        ("X-Forwarded-Uri", "/grades/7"),
    ];
    assert_eq!(verify_with(&s.app, write, &same).await.status, StatusCode::OK);
    assert_eq!(verify_with(&s.app, &s.tess_read.secret, &same).await.status, StatusCode::FORBIDDEN);
    // Two different requests, or one named by halves: refused, even for a token that would
    // open both, and with the reason.
    for headers in [
        &[
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "/grades/7"),
            ("X-Forwarded-Method", "POST"),
            ("X-Forwarded-Uri", "/grades/7"),
        ][..],
        &[
            ("X-Original-Method", "POST"),
            ("X-Original-URI", "/grades/8"),
            ("X-Forwarded-Method", "POST"),
            ("X-Forwarded-Uri", "/grades/7"),
        ],
        &[("X-Original-Method", "GET"), ("X-Forwarded-Method", "POST"), ("X-Forwarded-Uri", "/grades/7")],
        &[("X-Original-Method", "POST"), ("X-Original-URI", "/grades/7"), ("X-Forwarded-Uri", "/admin")],
        &[("X-Original-Method", "POST"), ("X-Original-URI", "/grades/7"), ("X-Forwarded-Method", "")],
    ] {
        let a = verify_with(&s.app, write, headers).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(a.header("x-tokenwarden-error").contains("X-Forwarded-*"), "{headers:?}: says why");
    }
    // A header sent twice: which one is the gateway's?
    let res = reqwest::Client::new()
        .get(format!("{}/auth/verify?service=gradebook", s.app.address))
        .bearer_auth(write)
        .header("X-Forwarded-Method", "POST")
        .header("X-Forwarded-Uri", "/grades/7")
        .header("X-Forwarded-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Envoy's path form: its own method and path alone count, whatever headers say.
    let res = reqwest::Client::new()
        .post(format!("{}/auth/verify/gradebook/grades/7", s.app.address))
        .bearer_auth(&s.tess_read.secret)
        .header("X-Original-Method", "GET")
        .header("X-Original-URI", "/grades/7")
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", "/grades/7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "the POST is judged");
    assert!(res.headers()["x-tokenwarden-error"].to_str().unwrap().contains("gradebook:write"));
    let res = reqwest::Client::new()
        .get(format!("{}/auth/verify/gradebook/grades/7", s.app.address))
        .bearer_auth(&s.tess_read.secret)
        .header("X-Original-Method", "POST")
        .header("X-Original-URI", "/admin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the GET is judged");
}

#[actix_web::test]
async fn odd_spellings_of_a_path_are_judged_in_every_reading_at_every_gateway() {
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    register(
        &app,
        "vault",
        "Vault",
        &["read=Read", "admin=Admin"],
        &[],
        &["GET /files/private/*=vault:admin", "GET /files/public/*=vault:read", "GET /files/*=vault:admin"],
        false,
    );
    register(&app, "open", "Open", &["read=Read"], &[], &[], false);
    let read = app.issue_token("tess", None, &["vault:read", "open:read"]).secret;
    let both = app.issue_token("tess", None, &["vault:read", "vault:admin"]).secret;
    for g in GATEWAYS {
        assert_eq!(
            verify(&app, g, "vault", Some(&read), "GET", "/files/public/a").await.status,
            StatusCode::OK
        );
        // Read by some service as private, or (read literally) as outside the public folder.
        for uri in [
            "/files/%70rivate/a",
            "/files//private/a",
            "/files/private;v=1/a",
            "/files/%70ublic/a",
            "/files//public/a",
            "/files/public;v=1/a",
        ] {
            let a = verify(&app, g, "vault", Some(&read), "GET", uri).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{g:?} {uri}");
            assert!(a.header("x-tokenwarden-error").contains("vault:admin"), "{g:?} {uri}: names the scope");
            assert_eq!(
                verify(&app, g, "vault", Some(&both), "GET", uri).await.status,
                StatusCode::OK,
                "{g:?} {uri}"
            );
        }
        // A path no reading can be trusted with: refused, and why.
        for uri in ["/files/public%2Fx", "/files/public/%2570", "/files/public/a%5Cb", "/files/public/a%00"] {
            let a = verify(&app, g, "vault", Some(&both), "GET", uri).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{g:?} {uri}");
            assert!(a.header("x-tokenwarden-error").contains("ambiguous"), "{g:?} {uri}");
        }
    }
    // Through headers, dot segments in any spelling (a URL client would resolve them).
    for g in [Gateway::Nginx, Gateway::Traefik] {
        for uri in
            ["/files/public/../private/a", "/files/public/%2e%2e/private/a", "/files/public/..;/private/a"]
        {
            let a = verify(&app, g, "vault", Some(&both), "GET", uri).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{g:?} {uri}");
        }
    }
    // Without rules the path decides nothing.
    let a = verify(&app, Gateway::Nginx, "open", Some(&read), "GET", "/x/%2e%2e/%2F").await;
    assert_eq!(a.status, StatusCode::OK);
}

#[actix_web::test]
async fn a_service_is_looked_up_only_for_a_slug_that_could_be_one_and_few_misses_are_kept() {
    use tokenwarden::auth::gateway::{Gateway as Verifier, Refused, ServiceCache, UsageCounter};
    use tokenwarden::domain::service::Slug;
    let app = spawn_app().await;
    app.create_user("tess", &["teacher"], &[]);
    let credential = register(&app, "gradebook", "Gradebook", &["read=Read"], &[], &[], false);
    let token = app.issue_token("tess", None, &["gradebook:read"]).secret;
    // A name that cannot be a slug is refused as such, before any look-up, and not repeated.
    for name in
        ["Gradebook", "grade%20book", "x", "url", "%20gradebook", "a%22%2C%20error%3D%22x", "gradebook%0A"]
    {
        for g in [Gateway::Nginx, Gateway::Envoy] {
            let a = verify(&app, g, name, Some(&token), "GET", "/").await;
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{g:?} {name:?}");
            assert!(a.header("x-tokenwarden-error").contains("no service by that name"), "{g:?} {name:?}");
        }
        // Without a token too (no challenge naming it as a realm).
        let a = verify(&app, Gateway::Traefik, name, None, "GET", "/").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{name:?}");
        assert!(a.header("www-authenticate").is_empty());
        let res = reqwest::Client::new()
            .post(format!("{}/oauth/introspect", app.address))
            .form(&[("token", token.as_str()), ("client_id", name), ("client_secret", credential.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name:?}");
    }
    // A slug that could be one: without a token that could be one, 401 before any look-up.
    let a = verify(&app, Gateway::Nginx, "nosuch", None, "GET", "/").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.header("www-authenticate"), "Bearer realm=\"nosuch\", error=\"invalid_token\"");
    let a = verify(&app, Gateway::Nginx, "nosuch", Some(&token), "GET", "/").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let named = String::from_utf8_lossy(a.headers["x-tokenwarden-error"].as_bytes()).into_owned();
    assert_eq!(named, "There is no service “nosuch”.", "a slug is named");

    // Slugs that could be services but are not: remembered, but never more than a thousand.
    let pool = tokenwarden::db::build_pool(&app.database_url, 2).unwrap();
    let (cache, usage) = (ServiceCache::default(), UsageCounter::default());
    let gateway = Verifier { pool: &pool, cache: &cache, usage: &usage, last_used_interval_secs: 60 };
    let gradebook = Slug::parse("gradebook").unwrap();
    assert!(gateway.service(&gradebook).await.is_ok());
    for i in 0..1_200 {
        let slug = Slug::parse(&format!("nosuch{i}")).unwrap();
        assert!(matches!(gateway.service(&slug).await, Err(Refused::UnknownService)));
        assert!(cache.misses() <= 1_000, "{} misses kept", cache.misses());
    }
    assert!(cache.misses() > 0, "misses are remembered");
    assert!(gateway.service(&gradebook).await.is_ok(), "a real service is still found");
}

/// Found in review: a description with a NUL was said to be too long, and a scope refused
/// for its holders was followed by "Give the service at least one scope", though one was
/// given.
#[actix_web::test]
async fn a_refused_service_form_says_what_is_wrong_and_only_that() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let res = admin
        .post_form(
            "/admin/services",
            &[
                ("name", "Print service"),
                ("slug", "print"),
                ("description", "Prints\u{0}jobs"),
                ("scope", "jobs"),
                ("label", "Print jobs"),
                ("holders", "wizard"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("A description cannot contain control characters"), "{html}");
    assert!(!html.contains("at most 500 characters"));
    assert!(html.contains("wizard"), "the holder refused is named: {html}");
    assert!(!html.contains("Give the service at least one scope"), "a scope was given");
    // Found in review: every refusal sat under the last row, and no field was marked. A
    // row's refusal is beside it, its fields marked, and said once.
    assert!(html.contains("id=\"holders-0\" name=\"holders\" type=\"text\" value=\"wizard\" autocomplete=\"off\" placeholder=\"anyone\" aria-invalid=\"true\" aria-describedby=\"scope-0-error\""), "{html}");
    assert!(
        html.contains(
            "<p class=\"field-error scope-row-error\" id=\"scope-0-error\">Scope 1: Unknown role “wizard”"
        ),
        "{html}"
    );
    assert_eq!(html.matches("Unknown role “wizard”").count(), 1, "said once");
    assert!(
        !html.contains(
            "id=\"scope-1\" name=\"scope\" type=\"text\" value=\"\" autocomplete=\"off\" aria-invalid"
        ),
        "a blank row is not marked"
    );
    assert!(admin.get_html("/admin/services").await.contains("No services yet"), "nothing registered");
}

/// A slug that is not one hid every refusal of the scopes and rules (they are written under
/// it): the administrator fixed the slug only to be refused again. Everything is said at once.
#[actix_web::test]
async fn a_bad_slug_does_not_hide_what_is_wrong_with_the_scopes_and_rules() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let res = admin
        .post_form(
            "/admin/services",
            &[
                ("name", "Print service"),
                ("slug", "Print Service"),
                ("scope", "jobs"),
                ("label", "Print jobs"),
                ("holders", "wizard"),
                ("scope", "Admin!"),
                ("label", ""),
                ("holders", ""),
                // Written in full, under the slug as it will be: nothing wrong with it.
                ("scope", "print:status"),
                ("label", ""),
                ("holders", ""),
                ("rules", "GET /status=print:status\nPOST /jobs=Jobs\n\nGET queue=print:status"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("A slug has 2 to 40 lower-case letters"), "{html}");
    assert!(html.contains("Scope 1: Unknown role “wizard”"), "the first row's holder: {html}");
    assert!(html.contains("Scope 2: A scope is SLUG:NAME, the name 1 to 40 lower-case letters"), "{html}");
    assert!(!html.contains("Scope 3:"), "a scope written in full is not refused for its slug: {html}");
    // Every refused rule, each with its line (a blank line counts, as the textarea shows it).
    assert!(
        html.contains("id=\"rules-error\">Line 2: “Jobs”: A scope is SLUG:NAME"),
        "a rule's scope, under the rules: {html}"
    );
    assert!(html.contains("\nLine 4: The path starts with / and has no spaces"), "and the next: {html}");
    assert!(!html.contains("print:status”"), "the rule written in full is not refused: {html}");
    assert!(html.contains("value=\"Print Service\""), "the slug as typed is kept: {html}");
    assert!(html.contains("POST /jobs=Jobs"), "the rules as typed are kept");
    assert!(admin.get_html("/admin/services").await.contains("No services yet"), "nothing registered");
}

/// Review of b3aee2f: an administrator who gives an unscoped token of someone else's a
/// service's scope opens that service to it (no limitation does not, for a service that
/// refuses unscoped tokens): that widens it, and it waits for its owner again.
#[actix_web::test]
async fn a_service_scope_given_to_someone_elses_unscoped_token_sends_it_back_to_pending() {
    let s = school().await;
    let ask = |secret: String| {
        let app = &s.app;
        async move { verify(app, Gateway::Nginx, "gradebook", Some(&secret), "GET", "/grades/7").await.status }
    };
    assert_eq!(
        ask(s.unscoped.secret.clone()).await,
        StatusCode::FORBIDDEN,
        "unscoped: not into the gradebook"
    );
    let tess = s.app.user_id("tess");
    let res = s
        .admin
        .post_form(
            &format!("/admin/users/{tess}/tokens/{}", s.unscoped.id),
            &[("purpose", "API test"), ("expires_in", "keep"), ("scopes", "gradebook:read")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        ask(s.unscoped.secret.clone()).await,
        StatusCode::UNAUTHORIZED,
        "pending until Tess activates it"
    );
}

/// The owner's page names their latest five leaked tokens, newest first: not every one.
#[actix_web::test]
async fn the_owners_page_names_their_five_latest_leaked_tokens() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
    let secrets: Vec<String> = (1..=6)
        .map(|i| crate::api::issue_on(&mut conn, "sam", &format!("Leaked script {i}"), Some(30), &[]).secret)
        .collect();
    // Reported one at a time: script 1 first, script 6 last.
    for secret in &secrets {
        report_leaked(&app, secret).await;
    }
    let page = app.signed_in("sam").await.get_html("/settings/tokens").await;
    let at = |i: usize| page.find(&format!("Leaked script {i}"));
    let shown: Vec<usize> = (1..=6).filter(|&i| at(i).is_some()).collect();
    assert_eq!(shown, [2, 3, 4, 5, 6], "the latest five: {page}");
    assert!(at(6) < at(5) && at(5) < at(4) && at(3) < at(2), "newest first");
}

/// Reports one secret as leaked, as a secret scanner would.
async fn report_leaked(app: &TestApp, secret: &str) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/credentials/revoke", app.address))
        .json(&json!({ "credentials": [secret] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

/// A leak is named on its owner's page for 30 days, then no more: the page reads the five
/// latest leaks and keeps those of the last 30 days.
#[actix_web::test]
async fn the_owners_page_names_a_leak_for_thirty_days() {
    use tokenwarden::db::schema::audit_events;
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]);
    let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
    for script in ["Old script", "New script"] {
        let secret = crate::api::issue_on(&mut conn, "sam", script, Some(30), &[]).secret;
        report_leaked(&app, &secret).await;
        if script == "Old script" {
            // Reported 31 days ago (the newer leak is today's).
            let leaked = tokenwarden::models::AuditAction::TokenLeaked.key();
            let moved = diesel::update(audit_events::table.filter(audit_events::action.eq(leaked)))
                .set(audit_events::occurred_at.eq(tokenwarden::domain::now() - chrono::Duration::days(31)))
                .execute(&mut conn)
                .unwrap();
            assert_eq!(moved, 1);
        }
    }
    let page = app.signed_in("sam").await.get_html("/settings/tokens").await;
    assert!(page.contains("New script"), "this month's leak is named: {page}");
    assert!(!page.contains("Old script"), "last month's is not: {page}");
}
