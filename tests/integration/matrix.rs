//! The route × role matrix: every page and every API route, called with its method by each
//! kind of actor, and the status each of them gets. A cell marked `+` is an allowed write:
//! the database must have changed. Every other cell — a refusal, a read — must leave the
//! database exactly as it was.
//!
//! Read the tables top to bottom. A row names its route as the source writes it, what fills
//! the route's `{…}` segments ([`Arg`]), the form or JSON it sends ([`Body`]), and one status
//! per column ([`Who`]). Each row runs against a fresh world of its own (app and database);
//! where an allowed write would use its target up, every actor of the row has a target of
//! their own, so no cell depends on another. `every_route_has_a_row_and_every_row_a_route`
//! fails when a route is added without a row.
//!
//! Columns, pages: A anonymous, S student-only, T teacher, V/C/D/M/G a custom role holding
//! only `access_tokens.view` / `.create_update` / `.delete` / `users.manage` /
//! `account.settings`, X the Account Admin. API: the same people through an unscoped token
//! each, then four tokens of the teacher's (scoped, expiring in 7 days, expired, pending)
//! and one of a suspended user. SCIM (`/scim/v2`): no credential, a made-up one, a revoked
//! one, the admin's API token, the admin's session cookie, then a provisioning credential. A
//! 303 for the anonymous must lead to `/login`, and no cell may be the CSRF refusal (every
//! form carries the session's token).
//!
//! "Changed" is judged on a fingerprint of the database (users, roles, settings, tokens, the
//! number of sessions per user, links to set a password, uploaded imports) taken before and after each request; the audit log, "last
//! used" and other timestamps are left out (a refused sign-in is logged, a read touches them).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::Path;
use std::sync::{LazyLock, Mutex};

use chrono::{Duration, NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use tokenwarden::db::DbConnection;
use tokenwarden::db::schema::{
    access_tokens, account_roles, account_settings, notification_preferences, notifications, password_setups,
    provisioning_credentials, scim_group_members, scim_groups, scim_users, service_rules, service_scopes,
    services as services_table, user_account_roles, user_imports, user_roles, user_sessions, users,
    webhook_endpoints,
};
use tokenwarden::domain::people::RoleMap;
use tokenwarden::domain::scim::resource::GroupInput;
use tokenwarden::domain::token::ExpiryChoice;
use tokenwarden::domain::{DisplayName, Email, EnrollmentRole, Login, Permission, PermissionSet, now};
use tokenwarden::models::{NewUserData, User, UserImport, UserState};
use tokenwarden::services::tokens::{self, TokenDraft};
use tokenwarden::services::{self, Actor, Via};

use crate::api::Api;
use crate::helpers::{Browser, PASSWORD, SETUP_CODE, TestApp, extract_csrf, location, spawn_app_with};
use crate::scim::Scim;

use Arg::*;
use Who::*;

// ---------------------------------------------------------------------------------------
// The columns

/// Who calls: the columns of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Pages: a fresh browser that fetched `/login` for its CSRF token (so a post is refused
    /// for the missing sign-in, not for CSRF). API: no token at all.
    Anonymous,
    /// `stella`, student-only (her API token expires in 120 days).
    Student,
    /// `teo`, a teacher.
    Teacher,
    /// `vera`, a custom role with only `access_tokens.view`.
    Viewer,
    /// `cato`, only `access_tokens.create_update`.
    Creator,
    /// `dora`, only `access_tokens.delete`.
    Deleter,
    /// `max`, only `users.manage`.
    Manager,
    /// `gil`, only `account.settings`.
    Settings,
    /// `admin`, the Account Admin made by the setup page.
    Admin,
    /// API only: the teacher's token scoped to `url:GET|/api/v1/users/:id` alone.
    Scoped,
    /// API only: the teacher's token that expires in 7 days (valid).
    Expiring,
    /// API only: the teacher's token whose expiry has passed.
    Expired,
    /// API only: a token the admin created on the teacher's behalf, not yet activated.
    Pending,
    /// API only: the token of `susi`, a teacher whom the admin then suspended.
    Suspended,
    /// SCIM only: a credential of the right shape that was never issued.
    MadeUp,
    /// SCIM only: a provisioning credential, revoked.
    Revoked,
    /// SCIM only: the admin's API token, where a provisioning credential belongs.
    ApiToken,
    /// SCIM only: the admin's signed-in browser, its session cookie and no credential.
    Cookie,
    /// SCIM only: a provisioning credential.
    Provisioner,
}

/// A S T V C D M G X
const PAGE_COLUMNS: [Who; 9] =
    [Anonymous, Student, Teacher, Viewer, Creator, Deleter, Manager, Settings, Admin];
/// none made-up revoked API-token cookie credential
const SCIM_COLUMNS: [Who; 6] = [Anonymous, MadeUp, Revoked, ApiToken, Cookie, Provisioner];
/// none S T V C D M G X scoped expiring expired pending suspended
const API_COLUMNS: [Who; 14] = [
    Anonymous, Student, Teacher, Viewer, Creator, Deleter, Manager, Settings, Admin, Scoped, Expiring,
    Expired, Pending, Suspended,
];

impl Who {
    fn label(self) -> &'static str {
        match self {
            Anonymous => "A/none (anonymous)",
            Student => "S (student-only)",
            Teacher => "T (teacher)",
            Viewer => "V (access_tokens.view)",
            Creator => "C (access_tokens.create_update)",
            Deleter => "D (access_tokens.delete)",
            Manager => "M (users.manage)",
            Settings => "G (account.settings)",
            Admin => "X (Account Admin)",
            Scoped => "scoped (teacher, url:GET|/api/v1/users/:id)",
            Expiring => "expiring (teacher, 7 days)",
            Expired => "expired (teacher)",
            Pending => "pending (teacher, created by the admin)",
            Suspended => "suspended (teacher's token, owner suspended)",
            MadeUp => "a made-up provisioning credential",
            Revoked => "a revoked provisioning credential",
            ApiToken => "the admin's API token instead of a provisioning credential",
            Cookie => "the admin's session cookie and no credential",
            Provisioner => "a provisioning credential",
        }
    }

    /// Whose the actor's own things are; the anonymous has none, and uses sam's instead.
    fn login(self) -> &'static str {
        match self {
            Anonymous => "sam",
            Student => "stella",
            Teacher | Scoped | Expiring | Expired | Pending => "teo",
            Viewer => "vera",
            Creator => "cato",
            Deleter => "dora",
            Manager => "max",
            Settings => "gil",
            Admin | MadeUp | Revoked | ApiToken | Cookie | Provisioner => "admin",
            Suspended => "susi",
        }
    }
}

// ---------------------------------------------------------------------------------------
// The rows

/// One route, one request, the expected status per column.
struct Row {
    /// `METHOD /path` exactly as the route's attribute writes it (with `/api/v1` for the API).
    route: &'static str,
    /// What fills the route's `{…}` segments, in order.
    args: &'static [Arg],
    body: Body,
    /// One status per column, `+` when the write must happen.
    expect: &'static str,
}

const fn row(route: &'static str, args: &'static [Arg], body: Body, expect: &'static str) -> Row {
    Row { route, args, body, expect }
}

/// What fills a `{…}` of a route. "Their own" is one per actor (column), made for the row.
#[derive(Debug, Clone, Copy)]
enum Arg {
    /// This text.
    Lit(&'static str),
    /// The id of `sam`, the student-only victim.
    Sam,
    /// A token of sam's of their own.
    SamToken,
    /// A token of the actor's own (the anonymous: one of sam's).
    OwnToken,
    /// A token created for the actor by someone else (the admin; for the admin, C), still
    /// pending (the anonymous: one of sam's).
    OwnPending,
    /// A student-only user of their own.
    Victim,
    /// A student-only user of their own, suspended.
    SuspendedVictim,
    /// A student-only user of their own, signed in in a browser.
    SignedInVictim,
    /// A student-only user of their own, who has a token.
    VictimWithToken,
    /// A custom account role of their own, with no permissions, held by nobody.
    EmptyRole,
    /// A service of their own (`svc-N`, one scope, no rules).
    OwnService,
    /// The slug of a service of their own (`svc-N`, one scope `read`, no rules).
    OwnServiceSlug,
    /// `?service=svc-N`: a service of their own named in the query (after the path).
    OwnServiceQuery,
    /// The secret of an open one-time link to set the password of a student-only user of
    /// their own (made by the operator).
    SetupLink,
    /// A CSV upload of their own (the anonymous: one of sam's), waiting for its apply: it
    /// creates `imported-N`.
    OwnImport,
    /// A CSV upload of the admin's, one per column.
    AdminsImport,
    /// A provisioning credential of their own.
    OwnCredential,
    /// A SCIM group of their own (`Group N`, no members).
    OwnGroup,
    /// A webhook endpoint of their own (for `user.roles_changed`, at a port nobody serves).
    OwnWebhook,
    /// A webhook delivery of their own that failed (its endpoint disabled, so that nothing
    /// but the request touches it).
    OwnDelivery,
}

/// What a request sends: a form (pages; the CSRF token is added) or JSON (API). In values,
/// `{n}` is the column's number (so each actor sends something of their own), `{login}`
/// the actor's login, `{in30}` the moment 30 days from now (RFC 3339).
#[derive(Debug, Clone, Copy)]
enum Body {
    Nothing,
    Form(&'static [(&'static str, &'static str)]),
    /// A file upload form (multipart/form-data): a field named `file` is the file.
    Multipart(&'static [(&'static str, &'static str)]),
    Json(&'static str),
}

const NOTHING: Body = Body::Nothing;
const SETUP_FORM: Body = Body::Form(&[
    ("setup_code", SETUP_CODE),
    ("login", "intruder"),
    ("name", "Ivan Intruder"),
    ("email", "intruder@example.edu"),
    ("password", PASSWORD),
    ("password_confirm", PASSWORD),
]);
const WRONG_PASSWORD: Body = Body::Form(&[("login", "{login}"), ("password", "not the right password")]);
const NEW_PASSWORD: Body = Body::Form(&[
    ("current_password", PASSWORD),
    ("new_password", "a brand new passphrase {n}"),
    ("new_password_confirm", "a brand new passphrase {n}"),
]);
const NEW_TOKEN: Body = Body::Form(&[("purpose", "Made in the matrix {n}"), ("expires_in", "30")]);
const RENAME: Body = Body::Form(&[("purpose", "Renamed {n}"), ("expires_in", "keep")]);
const RENEW_30: Body = Body::Form(&[("expires_in", "30")]);
/// Each actor posts values of their own: 110…118 days, never the current 120.
const NEW_SETTINGS: Body =
    Body::Form(&[("student_max_days", "11{n}"), ("default_lifetime_days", "60"), ("confirmed", "1")]);
const TEACHER: Body = Body::Form(&[("roles", "teacher")]);
const NEW_ROLE: Body = Body::Form(&[("name", "New role {n}"), ("permissions", "users.manage")]);
const USERS_MANAGE: Body = Body::Form(&[("permissions", "users.manage")]);
const NEW_SERVICE: Body = Body::Form(&[
    ("name", "Service of {login}"),
    ("slug", "made-by-{login}"),
    ("scope", "read"),
    ("label", "Read"),
    ("holders", ""),
    ("rules", ""),
]);
const EDITED_SERVICE: Body = Body::Form(&[
    ("name", "Renamed {n}"),
    ("scope", "read"),
    ("label", "Read everything"),
    ("holders", "teacher"),
    ("rules", "GET /*=svc-{n}:read"),
]);
const NEW_USER: Body = Body::Form(&[
    ("login", "made-{n}"),
    ("name", "Made {n}"),
    ("email", "made{n}@example.edu"),
    ("roles", "student"),
]);
const UPLOAD: Body =
    Body::Multipart(&[("file", "login,name,email,roles\nup-{n},Up {n},up{n}@example.edu,student\n")]);
const LINK_PASSWORD: Body = Body::Form(&[
    ("password", "a brand new passphrase {n}"),
    ("password_confirm", "a brand new passphrase {n}"),
]);
const NEW_WEBHOOK: Body = Body::Form(&[
    ("url", "http://127.0.0.1:9/hook-{n}"),
    ("description", "Made by {login}"),
    ("events", "user.roles_changed"),
    ("enabled", "on"),
]);
const EDITED_WEBHOOK: Body = Body::Form(&[
    ("url", "http://127.0.0.1:9/edited-{n}"),
    ("events", "user.roles_changed"),
    ("enabled", "on"),
]);
const API_NEW_TOKEN: Body =
    Body::Json(r#"{"token": {"purpose": "Made in the matrix {n}", "expires_at": "{in30}"}}"#);
const API_RENAME: Body = Body::Json(r#"{"token": {"purpose": "Renamed {n}"}}"#);
/// A leak report of a made-up token (the right length, a wrong checksum): anyone may
/// report, and nothing changes.
const API_LEAK_REPORT: Body = Body::Json(r#"{"credentials": ["tw_notARealTokenButTheRightLength000000"]}"#);
const NEW_CREDENTIAL: Body = Body::Form(&[("purpose", "Credential of {login} {n}")]);
const SCIM_NEW_USER: Body = Body::Json(
    r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "made-{n}",
        "emails": [{"value": "made-{n}@example.edu", "type": "work"}]}"#,
);
/// The victim's own userName (`victim-N`), a new display name.
const SCIM_RENAME_USER: Body = Body::Json(
    r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "victim-{n}", "displayName": "Renamed {n}"}"#,
);
const SCIM_DEACTIVATE: Body = Body::Json(
    r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}"#,
);
const SCIM_NEW_GROUP: Body =
    Body::Json(r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Made {n}"}"#);
const SCIM_RENAME_GROUP: Body = Body::Json(
    r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Renamed {n}"}"#,
);
const SCIM_PATCH_GROUP: Body = Body::Json(
    r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Patched {n}"}]}"#,
);

#[rustfmt::skip]
const PUBLIC_PAGES: &[Row] = &[
    //  route                      fills                  sends            A    S    T    V    C    D    M    G    X
    row("GET /healthz",            &[],                   NOTHING,        "200  200  200  200  200  200  200  200  200"),
    row("GET /readyz",             &[],                   NOTHING,        "200  200  200  200  200  200  200  200  200"),
    row("GET /static/{path:.*}",   &[Lit("css/app.css")], NOTHING,        "200  200  200  200  200  200  200  200  200"),
    row("GET /",                   &[],                   NOTHING,        "303  200  200  200  200  200  200  200  200"),
    row("GET /setup",              &[],                   NOTHING,        "403  403  403  403  403  403  403  403  403"),
    row("POST /setup",             &[],                   SETUP_FORM,     "403  403  403  403  403  403  403  403  403"),
    row("GET /login",              &[],                   NOTHING,        "200  303  303  303  303  303  303  303  303"),
    row("POST /login",             &[],                   WRONG_PASSWORD, "401  401  401  401  401  401  401  401  401"),
    row("POST /logout",            &[],                   NOTHING,        "303  303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+"),
    row("POST /logout/everywhere", &[],                   NOTHING,        "303  303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+"),
    // Single sign-on whose provider is down: a clear 503 page, never a 500; the signed-in
    // go where they were going. A callback this browser did not start is refused.
    // tests/integration/sso.rs walks these doors with a real provider.
    row("GET /login/oidc",         &[],                   NOTHING,        "503  303  303  303  303  303  303  303  303"),
    row("GET /login/oidc/callback", &[],                  NOTHING,        "400  400  400  400  400  400  400  400  400"),
    // A one-time link to set a password is its own credential: whoever holds it. Each
    // column has a link of its own; setting the password sends everyone to the sign-in page.
    row("GET /password/set/{secret}",  &[SetupLink],      NOTHING,        "200  200  200  200  200  200  200  200  200"),
    row("POST /password/set/{secret}", &[SetupLink],      LINK_PASSWORD,  "303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+"),
];

#[rustfmt::skip]
const OWN_ACCOUNT_PAGES: &[Row] = &[
    //  route                                    fills          sends          A    S    T    V    C    D    M    G    X
    row("GET /settings/account",                 &[],           NOTHING,      "303  200  200  200  200  200  200  200  200"),
    row("POST /settings/account/password",       &[],           NEW_PASSWORD, "303  303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+"),
    // Expiry reminders off (no box ticked): everyone's own choice.
    row("POST /settings/account/notifications",  &[],           NOTHING,      "303  303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+"),
    row("GET /settings/tokens",                  &[],           NOTHING,      "303  200  200  200  200  200  200  200  200"),
    row("POST /settings/tokens",                 &[],           NEW_TOKEN,    "303  303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+"),
    row("GET /settings/tokens/{id}/edit",        &[OwnToken],   NOTHING,      "303  200  200  200  200  200  200  200  200"),
    row("POST /settings/tokens/{id}",            &[OwnToken],   RENAME,       "303  303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+"),
    row("GET /settings/tokens/{id}/regenerate",  &[OwnToken],   NOTHING,      "303  200  200  200  200  200  200  200  200"),
    row("POST /settings/tokens/{id}/regenerate", &[OwnToken],   RENEW_30,     "303  303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+"),
    row("GET /settings/tokens/{id}/delete",      &[OwnToken],   NOTHING,      "303  200  200  200  200  200  200  200  200"),
    row("POST /settings/tokens/{id}/delete",     &[OwnToken],   NOTHING,      "303  303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+"),
    row("POST /settings/tokens/{id}/activate",   &[OwnPending], NOTHING,      "303  303+ 303+ 303+ 303+ 303+ 303+ 303+ 303+"),
    // Someone else's token through the personal routes: a token id in a URL grants nothing.
    row("GET /settings/tokens/{id}/edit",        &[SamToken],   NOTHING,      "303  404  404  404  404  404  404  404  404"),
    row("POST /settings/tokens/{id}/delete",     &[SamToken],   NOTHING,      "303  404  404  404  404  404  404  404  404"),
    row("GET /settings/tokens/{id}/delete",      &[SamToken],   NOTHING,      "303  404  404  404  404  404  404  404  404"),
    row("GET /settings/tokens/{id}/regenerate",  &[SamToken],   NOTHING,      "303  404  404  404  404  404  404  404  404"),
];

#[rustfmt::skip]
const ADMIN_PAGES_FOR_PEOPLE: &[Row] = &[
    //  route                                                  fills               sends       A    S    T    V    C    D    M    G    X
    row("GET /admin/users",                                    &[],                NOTHING,   "303  403  403  403  403  403  200  403  200"),
    row("GET /admin/users/{id}",                               &[Sam],             NOTHING,   "303  403  403  200  200  200  200  403  200"),
    row("GET /admin/users/new",                                &[],                NOTHING,   "303  403  403  403  403  403  200  403  200"),
    row("POST /admin/users",                                   &[],                NEW_USER,  "303  403  403  403  403  403  303+ 403  303+"),
    row("POST /admin/users/{id}/password-link",                &[Victim],          NOTHING,   "303  403  403  403  403  403  303+ 403  303+"),
    // Uploading stages the file (a write of its own); applying it creates `imported-N`.
    row("GET /admin/users/import",                             &[],                NOTHING,   "303  403  403  403  403  403  200  403  200"),
    row("POST /admin/users/import",                            &[],                UPLOAD,    "303  403  403  403  403  403  303+ 403  303+"),
    row("GET /admin/users/import/{id}",                        &[OwnImport],       NOTHING,   "303  403  403  403  403  403  200  403  200"),
    // Someone else's upload is not found, whoever asks.
    row("GET /admin/users/import/{id}",                        &[AdminsImport],    NOTHING,   "303  403  403  403  403  403  404  403  200"),
    row("POST /admin/users/import/{id}",                       &[OwnImport],       NOTHING,   "303  403  403  403  403  403  303+ 403  303+"),
    row("POST /admin/users/{id}/roles",                        &[Victim],          TEACHER,   "303  403  403  403  403  403  303+ 403  303+"),
    row("POST /admin/users/{id}/tokens/revoke-all",            &[VictimWithToken], NOTHING,   "303  403  403  403  403  303+ 403  403  303+"),
    row("POST /admin/users/{id}/tokens/{token_id}/revoke",     &[Sam, SamToken],   NOTHING,   "303  403  403  403  403  303+ 403  403  303+"),
    // The questions before a revocation or a new secret name the token's purpose, which
    // SPEC 2 gives to access_tokens.view: D and C, who may act blind by id, are not asked.
    row("GET /admin/users/{id}/tokens/{token_id}/revoke",      &[Sam, SamToken],   NOTHING,   "303  403  403  403  403  403  403  403  200"),
    row("GET /admin/users/{id}/tokens/{token_id}/regenerate",  &[Sam, SamToken],   NOTHING,   "303  403  403  403  403  403  403  403  200"),
    row("GET /admin/users/{id}/tokens",                        &[Sam],             NOTHING,   "303  403  403  303  303  303  303  403  303"),
    row("POST /admin/users/{id}/tokens",                       &[Sam],             NEW_TOKEN, "303  403  403  403  303+ 403  403  403  303+"),
    // C: 403, not the 200 first asked for — the form shows the token's purpose, scopes and
    // expiry, which SPEC 2 gives to access_tokens.view (as GET /api/v1/…/tokens/{id} does).
    row("GET /admin/users/{id}/tokens/{token_id}/edit",        &[Sam, SamToken],   NOTHING,   "303  403  403  403  403  403  403  403  200"),
    row("POST /admin/users/{id}/tokens/{token_id}",            &[Sam, SamToken],   RENAME,    "303  403  403  403  303+ 403  403  403  303+"),
    row("POST /admin/users/{id}/tokens/{token_id}/regenerate", &[Sam, SamToken],   RENEW_30,  "303  403  403  403  303+ 403  403  403  303+"),
    row("POST /admin/users/{id}/suspend",                      &[Victim],          NOTHING,   "303  403  403  403  403  403  303+ 403  303+"),
    row("POST /admin/users/{id}/reactivate",                   &[SuspendedVictim], NOTHING,   "303  403  403  403  403  403  303+ 403  303+"),
    row("POST /admin/users/{id}/sessions/end",                 &[SignedInVictim],  NOTHING,   "303  403  403  403  403  403  303+ 403  303+"),
    // Provisioning credentials: users.manage, and (the role map of these worlds names no
    // account role) nothing more; tests/integration/scim.rs has a map that needs more.
    row("GET /admin/provisioning",                             &[],                NOTHING,   "303  403  403  403  403  403  200  403  200"),
    row("POST /admin/provisioning",                            &[],                NEW_CREDENTIAL, "303  403  403  403  403  403  303+ 403  303+"),
    row("POST /admin/provisioning/{id}/revoke",                &[OwnCredential],   NOTHING,   "303  403  403  403  403  403  303+ 403  303+"),
];

#[rustfmt::skip]
const ADMIN_PAGES_FOR_THE_ACCOUNT: &[Row] = &[
    //  route                            fills         sends          A    S    T    V    C    D    M    G    X
    row("GET /admin",                    &[],          NOTHING,      "303  403  403  200  403  403  403  403  200"),
    row("GET /admin/settings",           &[],          NOTHING,      "303  403  403  403  403  403  403  200  200"),
    row("POST /admin/settings",          &[],          NEW_SETTINGS, "303  403  403  403  403  403  403  303+ 303+"),
    row("GET /admin/tokens",             &[],          NOTHING,      "303  403  403  200  403  403  403  403  200"),
    row("GET /admin/roles",              &[],          NOTHING,      "303  403  403  403  403  403  200  403  200"),
    row("POST /admin/roles",             &[],          NEW_ROLE,     "303  403  403  403  403  403  303+ 403  303+"),
    row("POST /admin/roles/{id}",        &[EmptyRole], USERS_MANAGE, "303  403  403  403  403  403  303+ 403  303+"),
    row("POST /admin/roles/{id}/delete", &[EmptyRole], NOTHING,      "303  403  403  403  403  403  303+ 403  303+"),
    row("GET /admin/services",           &[],          NOTHING,      "303  403  403  403  403  403  403  200  200"),
    row("GET /admin/services/new",       &[],          NOTHING,      "303  403  403  403  403  403  403  200  200"),
    row("POST /admin/services",          &[],          NEW_SERVICE,  "303  403  403  403  403  403  403  303+ 303+"),
    row("GET /admin/services/{id}/edit", &[OwnService], NOTHING,     "303  403  403  403  403  403  403  200  200"),
    row("POST /admin/services/{id}",     &[OwnService], EDITED_SERVICE, "303  403  403  403  403  403  403  303+ 303+"),
    row("POST /admin/services/{id}/rotate", &[OwnService], NOTHING,  "303  403  403  403  403  403  403  303+ 303+"),
    row("POST /admin/services/{id}/delete", &[OwnService], NOTHING,  "303  403  403  403  403  403  403  303+ 303+"),
    row("GET /admin/audit",              &[],          NOTHING,      "303  403  403  200  403  403  200  403  200"),
    // Webhooks carry the audit log's data: account.settings alone is not enough (G), found
    // in review; it needs access_tokens.view or users.manage as well.
    row("GET /admin/webhooks",           &[],          NOTHING,      "303  403  403  403  403  403  403  403  200"),
    row("GET /admin/webhooks/new",       &[],          NOTHING,      "303  403  403  403  403  403  403  403  200"),
    row("POST /admin/webhooks",          &[],          NEW_WEBHOOK,  "303  403  403  403  403  403  403  403  303+"),
    row("GET /admin/webhooks/{id}/edit", &[OwnWebhook], NOTHING,     "303  403  403  403  403  403  403  403  200"),
    row("POST /admin/webhooks/{id}",     &[OwnWebhook], EDITED_WEBHOOK, "303  403  403  403  403  403  403  403  303+"),
    row("POST /admin/webhooks/{id}/rotate", &[OwnWebhook], NOTHING,  "303  403  403  403  403  403  403  403  303+"),
    row("POST /admin/webhooks/{id}/test", &[OwnWebhook], NOTHING,    "303  403  403  403  403  403  403  403  303+"),
    row("POST /admin/webhooks/{id}/delete", &[OwnWebhook], NOTHING,  "303  403  403  403  403  403  403  403  303+"),
    row("POST /admin/webhooks/deliveries/{id}/resend", &[OwnDelivery], NOTHING, "303  403  403  403  403  403  403  403  303+"),
];

// The API's columns: none, the people's unscoped tokens, then the teacher's scoped (scop),
// expiring-in-7-days (7day), expired (expd) and pending (pend) tokens, and the suspended
// user's token (susp).
#[rustfmt::skip]
const API_READS: &[Row] = &[
    //  route                                                fills             sends     none S    T    V    C    D    M    G    X    scop 7day expd pend susp
    row("GET /api/v1/openapi.json",                          &[],              NOTHING, "200  200  200  200  200  200  200  200  200  200  200  200  200  200"),
    row("GET /api/v1/users/self",                            &[],              NOTHING, "401  200  200  200  200  200  200  200  200  200  200  401  401  401"),
    row("GET /api/v1/users/{id}",                            &[Sam],           NOTHING, "401  404  404  200  404  404  200  404  200  404  404  401  401  401"),
    row("GET /api/v1/users/{user_id}/profile",               &[Sam],           NOTHING, "401  404  404  200  404  404  200  404  200  403  404  401  401  401"),
    row("GET /api/v1/users/{user_id}/user_generated_tokens", &[Sam],           NOTHING, "401  403  403  200  403  403  403  403  200  403  403  401  401  401"),
    row("GET /api/v1/users/{user_id}/tokens/{id}",           &[Sam, SamToken], NOTHING, "401  403  403  200  403  403  403  403  200  403  403  401  401  401"),
    row("POST /api/v1/credentials/revoke",                   &[],              API_LEAK_REPORT, "202  202  202  202  202  202  202  202  202  202  202  202  202  202"),
];

#[rustfmt::skip]
const API_WRITES: &[Row] = &[
    //  route                                         fills                     sends           none S    T    V    C    D    M    G    X    scop 7day expd pend susp
    row("POST /api/v1/users/{user_id}/tokens",        &[Lit("self")],           API_NEW_TOKEN, "401  200+ 200+ 200+ 200+ 200+ 200+ 200+ 200+ 403  400  401  401  401"),
    row("POST /api/v1/users/{user_id}/tokens",        &[Sam],                   API_NEW_TOKEN, "401  403  403  403  200+ 403  403  403  200+ 403  403  401  401  401"),
    row("PUT /api/v1/users/{user_id}/tokens/{id}",    &[Sam, SamToken],         API_RENAME,    "401  403  403  403  200+ 403  403  403  200+ 403  403  401  401  401"),
    row("DELETE /api/v1/users/{user_id}/tokens/{id}", &[Sam, SamToken],         NOTHING,       "401  403  403  403  403  200+ 403  403  200+ 403  403  401  401  401"),
    row("PUT /api/v1/users/{user_id}/tokens/{id}",    &[Lit("self"), OwnToken], API_RENAME,    "401  200+ 200+ 200+ 200+ 200+ 200+ 200+ 200+ 403  200+ 401  401  401"),
    row("DELETE /api/v1/users/{user_id}/tokens/{id}", &[Lit("self"), OwnToken], NOTHING,       "401  200+ 200+ 200+ 200+ 200+ 200+ 200+ 200+ 403  200+ 401  401  401"),
];

// The provisioning client's door: only a provisioning credential opens it — not a made-up
// or revoked one, not an API token, not a signed-in administrator's cookie.
#[rustfmt::skip]
const SCIM_ROWS: &[Row] = &[
    //  route                                   fills                                                sends              none made revk tokn cook cred
    row("GET /scim/v2/ServiceProviderConfig",   &[],                                                 NOTHING,           "401  401  401  401  401  200"),
    row("GET /scim/v2/ResourceTypes",           &[],                                                 NOTHING,           "401  401  401  401  401  200"),
    row("GET /scim/v2/ResourceTypes/{id}",      &[Lit("User")],                                      NOTHING,           "401  401  401  401  401  200"),
    row("GET /scim/v2/Schemas",                 &[],                                                 NOTHING,           "401  401  401  401  401  200"),
    row("GET /scim/v2/Schemas/{id}",            &[Lit("urn:ietf:params:scim:schemas:core:2.0:User")], NOTHING,          "401  401  401  401  401  200"),
    row("GET /scim/v2/Users",                   &[],                                                 NOTHING,           "401  401  401  401  401  200"),
    row("POST /scim/v2/Users",                  &[],                                                 SCIM_NEW_USER,     "401  401  401  401  401  201+"),
    row("GET /scim/v2/Users/{id}",              &[Victim],                                           NOTHING,           "401  401  401  401  401  200"),
    row("PUT /scim/v2/Users/{id}",              &[Victim],                                           SCIM_RENAME_USER,  "401  401  401  401  401  200+"),
    row("PATCH /scim/v2/Users/{id}",            &[Victim],                                           SCIM_DEACTIVATE,   "401  401  401  401  401  200+"),
    row("DELETE /scim/v2/Users/{id}",           &[Victim],                                           NOTHING,           "401  401  401  401  401  204+"),
    row("GET /scim/v2/Groups",                  &[],                                                 NOTHING,           "401  401  401  401  401  200"),
    row("POST /scim/v2/Groups",                 &[],                                                 SCIM_NEW_GROUP,    "401  401  401  401  401  201+"),
    row("GET /scim/v2/Groups/{id}",             &[OwnGroup],                                         NOTHING,           "401  401  401  401  401  200"),
    row("PUT /scim/v2/Groups/{id}",             &[OwnGroup],                                         SCIM_RENAME_GROUP, "401  401  401  401  401  200+"),
    row("PATCH /scim/v2/Groups/{id}",           &[OwnGroup],                                         SCIM_PATCH_GROUP,  "401  401  401  401  401  200+"),
    row("DELETE /scim/v2/Groups/{id}",          &[OwnGroup],                                         NOTHING,           "401  401  401  401  401  204+"),
];

// The gateways' doors, asked with each column's token as the API's bearer, about a service
// of the column's own. None of these tokens holds one of its scopes, so a live token is
// refused (403: SPEC 11, a service takes only tokens limited to its scopes) and a dead one
// is not known (401); tests/integration/gateway.rs has the tokens that pass. A service asks
// `/oauth/introspect` with its own credential, never with a bearer token: no token opens it.
#[rustfmt::skip]
const GATEWAY_ROWS: &[Row] = &[
    //  route                                   fills                                  sends    none S    T    V    C    D    M    G    X    scop 7day expd pend susp
    row("GET /auth/verify",                     &[OwnServiceQuery],                    NOTHING, "401  403  403  403  403  403  403  403  403  403  403  401  401  401"),
    row("GET /auth/verify/{slug}/{path:.*}",    &[OwnServiceSlug, Lit("reports/1")],   NOTHING, "401  403  403  403  403  403  403  403  403  403  403  401  401  401"),
    row("POST /oauth/introspect",               &[],                                   NOTHING, "401  401  401  401  401  401  401  401  401  401  401  401  401  401"),
];

/// Every table, with the door its rows come through.
const TABLES: &[(&str, Door, &[Row])] = &[
    ("public pages", Door::Pages, PUBLIC_PAGES),
    ("own account pages", Door::Pages, OWN_ACCOUNT_PAGES),
    ("admin pages for people", Door::Pages, ADMIN_PAGES_FOR_PEOPLE),
    ("admin pages for the account", Door::Pages, ADMIN_PAGES_FOR_THE_ACCOUNT),
    ("API reads", Door::Api, API_READS),
    ("API writes", Door::Api, API_WRITES),
    ("gateway", Door::Api, GATEWAY_ROWS),
    ("SCIM", Door::Scim, SCIM_ROWS),
];

#[actix_web::test]
async fn public_pages() {
    run(PUBLIC_PAGES, Door::Pages).await;
}

#[actix_web::test]
async fn own_account_pages() {
    run(OWN_ACCOUNT_PAGES, Door::Pages).await;
}

#[actix_web::test]
async fn admin_pages_for_people() {
    run(ADMIN_PAGES_FOR_PEOPLE, Door::Pages).await;
}

#[actix_web::test]
async fn admin_pages_for_the_account() {
    run(ADMIN_PAGES_FOR_THE_ACCOUNT, Door::Pages).await;
}

/// What the pages offer each person is what they may open: every link of the navigation
/// and of the start page, followed by each kind of actor, answers 200.
#[actix_web::test]
async fn every_link_a_person_is_shown_opens_for_them() {
    let world = World::new(Door::Pages).await;
    for (who, client) in &world.columns {
        let Client::Browser { browser, .. } = client else { continue };
        if *who == Anonymous {
            continue;
        }
        let home = browser.get_html("/").await;
        let links: BTreeSet<String> = home
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|href| href.starts_with('/') && !href.starts_with("/static/"))
            .map(|href| href.split('#').next().unwrap_or(href).to_owned())
            .collect();
        assert!(links.contains("/settings/tokens"), "{}: {links:?}", who.label());
        for link in links {
            let status = browser.get(&link).await.status();
            assert_eq!(status, reqwest::StatusCode::OK, "{} is shown a link to {link}", who.label());
        }
    }
}

#[actix_web::test]
async fn api_reads() {
    run(API_READS, Door::Api).await;
}

#[actix_web::test]
async fn api_writes() {
    run(API_WRITES, Door::Api).await;
}

#[actix_web::test]
async fn gateway() {
    run(GATEWAY_ROWS, Door::Api).await;
}

#[actix_web::test]
async fn scim_provisioning() {
    run(SCIM_ROWS, Door::Scim).await;
}

/// The routes in the source and the rows of the tables are the same set: a route added
/// without a row fails here, as does a row whose route is gone. Every route also has a cell
/// that expects something other than 404, so the passing cells prove it is registered.
#[test]
fn every_route_has_a_row_and_every_row_a_route() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut source = BTreeSet::new();
    read_routes(&root, &root.join("api/v1"), &mut source);
    api_routes(&mut source);
    assert!(source.len() >= 40, "the walk of src/routes found only {source:?}");

    let mut rows = BTreeSet::new();
    let mut reached = BTreeSet::new();
    for (table, door, table_rows) in TABLES {
        for row in *table_rows {
            let columns = door.columns().len();
            let expected = row.expected();
            assert_eq!(expected.len(), columns, "{table}: {} has {} cells", row.route, expected.len());
            let (method, path) = row.method_and_path();
            let queries = row.args.iter().filter(|arg| matches!(arg, OwnServiceQuery)).count();
            assert_eq!(segments(path) + queries, row.args.len(), "{table}: {} fills its segments", row.route);
            if *door == Door::Pages {
                assert!(matches!(method, "GET" | "POST"), "{table}: a page is got or posted: {}", row.route);
            }
            rows.insert(row.route.to_owned());
            if expected.iter().any(|(status, _)| *status != 404) {
                reached.insert(row.route.to_owned());
            }
        }
    }
    let without_row: Vec<_> = source.difference(&rows).collect();
    assert!(without_row.is_empty(), "routes without a row in the matrix: {without_row:#?}");
    // A path registered with `web::resource(…).to(…)` answers any method.
    let resources = resource_paths();
    let without_route: Vec<_> = rows
        .difference(&source)
        .filter(|route| route.split_once(' ').is_none_or(|(_, path)| !resources.contains(path)))
        .collect();
    assert!(without_route.is_empty(), "rows whose route is not in src/routes: {without_route:#?}");
    let only_404: Vec<_> = rows.difference(&reached).collect();
    assert!(only_404.is_empty(), "routes whose every cell is 404 (registered?): {only_404:#?}");
}

// ---------------------------------------------------------------------------------------
// Running a table

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    /// Browsers, signed in over HTTP.
    Pages,
    /// API clients, each with a bearer token.
    Api,
    /// Provisioning clients (SCIM), each with what it presents.
    Scim,
}

impl Door {
    fn columns(self) -> &'static [Who] {
        match self {
            Door::Pages => &PAGE_COLUMNS,
            Door::Api => &API_COLUMNS,
            Door::Scim => &SCIM_COLUMNS,
        }
    }
}

impl Row {
    fn method_and_path(&self) -> (&'static str, &'static str) {
        self.route.split_once(' ').unwrap_or_else(|| panic!("“{}” is METHOD /path", self.route))
    }

    /// (status, whether the write must happen) per column.
    fn expected(&self) -> Vec<(u16, bool)> {
        self.expect
            .split_whitespace()
            .map(|cell| {
                let (status, write) = cell.strip_suffix('+').map_or((cell, false), |s| (s, true));
                let status = status.parse().unwrap_or_else(|_| panic!("{}: bad cell “{cell}”", self.route));
                (status, write)
            })
            .collect()
    }
}

/// Runs every row of `rows` in a fresh world of its own, every cell of a row in that world;
/// reports every cell that disagrees, not only the first.
async fn run(rows: &[Row], door: Door) {
    let mut failures = Vec::new();
    let mut cells = 0;
    for row in rows {
        let world = World::new(door).await;
        let targets = world.targets(row).await;
        for (column, targets) in targets.iter().enumerate() {
            cells += 1;
            if let Err(failure) = world.cell(row, column, targets).await {
                failures.push(failure);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells disagree with the table:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The number of `{…}` segments of a route.
fn segments(path: &str) -> usize {
    path.matches('{').count()
}

/// The route with its `{…}` segments filled, in order; a target left over is a query
/// string, put after the path.
fn fill_route(path: &str, targets: &[String]) -> String {
    let mut out = String::new();
    let mut rest = path;
    let mut targets = targets.iter();
    while let Some(start) = rest.find('{') {
        let end = start + rest[start..].find('}').expect("a segment closes");
        out.push_str(&rest[..start]);
        out.push_str(targets.next().expect("a target per segment"));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    targets.for_each(|query| out.push_str(query));
    out
}

/// A value of a body with its placeholders filled for column `n`.
fn fill_value(value: &str, n: usize, who: Who) -> String {
    let in30 = (Utc::now() + Duration::days(30)).to_rfc3339_opts(SecondsFormat::Secs, true);
    value.replace("{n}", &n.to_string()).replace("{login}", who.login()).replace("{in30}", &in30)
}

/// The route attributes of every file under `dir`: `METHOD /path`, with `/api/v1` before
/// the paths of the files under `api` (they are mounted in `web::scope("/api/v1")`).
/// The API's routes, as its OpenAPI document lists them: the API registers one resource
/// per path of the document (`routes::api::v1::configure`), its handlers naming their
/// method and path in `#[utoipa::path]`, not in actix's route macros.
fn api_routes(out: &mut BTreeSet<String>) {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(tokenwarden::routes::api::v1::openapi::ApiDoc::openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().expect("the document's paths") {
        for method in item.as_object().expect("a path item").keys() {
            out.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
}

fn read_routes(dir: &Path, api: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read src/routes") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            read_routes(&path, api, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let prefix = if path.starts_with(api) { "/api/v1" } else { "" };
        let text = std::fs::read_to_string(&path).expect("read a route file");
        for line in text.lines().map(str::trim) {
            for method in ["get", "post", "put", "patch", "delete"] {
                if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                    let route = rest.split('"').next().expect("a quoted path");
                    out.insert(format!("{} {prefix}{route}", method.to_uppercase()));
                }
            }
        }
    }
}

/// Review (issue 11): routes registered with `web::resource(…)` rather than a route macro
/// — `/auth/verify`, its Envoy form, `/oauth/introspect` — are invisible to
/// `every_route_has_a_row_and_every_row_a_route`, so they have no row and no cell.
/// The paths registered with `web::resource("…")` under src/routes (with `/api/v1` for the
/// API's).
fn resource_paths() -> BTreeSet<String> {
    fn walk(dir: &Path, api: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("read src/routes") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(&path, api, out);
                continue;
            }
            let prefix = if path.starts_with(api) { "/api/v1" } else { "" };
            let text = std::fs::read_to_string(&path).expect("read a route file");
            for piece in text.split("resource(\"").skip(1) {
                let route = piece.split('"').next().expect("a quoted path");
                if route.starts_with('/') {
                    out.insert(format!("{prefix}{route}"));
                }
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut registered = BTreeSet::new();
    walk(&root, &root.join("api/v1"), &mut registered);
    registered
}

/// Routes registered with `web::resource(…)` rather than a route macro — `/auth/verify`,
/// its Envoy form, `/oauth/introspect` — have a row too.
#[test]
fn every_resource_registered_with_web_resource_has_a_row() {
    let registered = resource_paths();
    let in_rows: BTreeSet<&str> =
        TABLES.iter().flat_map(|(_, _, rows)| rows.iter().map(|r| r.method_and_path().1)).collect();
    let without_row: Vec<_> = registered.iter().filter(|p| !in_rows.contains(p.as_str())).collect();
    assert!(
        without_row.is_empty(),
        "registered with web::resource, without a row in the matrix: {without_row:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// The world

/// The role map of every world: groups give enrollment roles, no account role.
const ROLE_MAP: &str = "student=Students,teacher=Faculty";

/// Computed once: every user of every world has this password (argon2 is slow on purpose).
static PASSWORD_HASH: LazyLock<String> =
    LazyLock::new(|| tokenwarden::auth::password::hash(PASSWORD).expect("hash the password"));

const SHOW_USER: &str = "url:GET|/api/v1/users/:id";

/// The custom account roles: one permission each.
const ROLES: [(&str, Permission); 5] = [
    ("Token viewer", Permission::ViewTokens),
    ("Token maker", Permission::CreateUpdateTokens),
    ("Token remover", Permission::DeleteTokens),
    ("User manager", Permission::ManageUsers),
    ("Settings keeper", Permission::AccountSettings),
];

/// The people besides the setup admin: login, enrollment roles, account role.
const PEOPLE: [(&str, &[EnrollmentRole], Option<&str>); 9] = [
    ("sam", &[EnrollmentRole::Student], None),
    ("stella", &[EnrollmentRole::Student], None),
    ("teo", &[EnrollmentRole::Teacher], None),
    ("vera", &[], Some("Token viewer")),
    ("cato", &[], Some("Token maker")),
    ("dora", &[], Some("Token remover")),
    ("max", &[], Some("User manager")),
    ("gil", &[], Some("Settings keeper")),
    ("susi", &[EnrollmentRole::Teacher], None),
];

/// How a column calls.
enum Client {
    Browser { browser: Browser, csrf: String },
    Api(Api),
    Scim(Scim),
}

/// One app with its people, and a client per column.
struct World {
    /// The test's own connection, for setting up and for the fingerprints. Declared before
    /// `app`, so it closes before the app's database is dropped.
    db: Mutex<DbConnection>,
    ids: BTreeMap<String, i64>,
    columns: Vec<(Who, Client)>,
    app: TestApp,
}

impl World {
    async fn new(door: Door) -> World {
        // Every column signs in from 127.0.0.1: more than the default 20 sign-ins a minute.
        let app = spawn_app_with(|s| {
            s.login_attempts_per_ip = 10_000;
            s.leak_reports_per_ip = 10_000;
            // Single sign-on with a provider that is down (nothing listens on port 1).
            s.oidc_issuer = Some("http://127.0.0.1:1".parse().unwrap());
            s.oidc_client_id = Some("tokenwarden".to_owned());
            s.public_url = Some("http://127.0.0.1/".parse().unwrap());
            s.oidc_role_map = ROLE_MAP.parse().unwrap();
            // The webhook endpoints post to a closed port on this host.
            s.notify.webhook_allow_networks = vec!["127.0.0.0/8".parse().unwrap()];
        })
        .await;
        let admin = app.setup_admin().await;
        let mut conn = tokenwarden::db::connect(&app.database_url).expect("connect");
        let mut ids = BTreeMap::from([("admin".to_owned(), app.user_id("admin"))]);
        let mut role_ids = BTreeMap::new();
        for (name, permission) in ROLES {
            let role = services::roles::create(
                &mut conn,
                &Actor::operator(),
                name,
                [permission].into_iter().collect(),
            )
            .expect("create a role");
            role_ids.insert(name, role.id);
        }
        for (login, roles, account_role) in PEOPLE {
            let account_roles = account_role.map(|r| role_ids[r]).into_iter().collect();
            ids.insert(login.to_owned(), create_user(&mut conn, login, roles, account_roles));
        }
        let mut world = World { db: Mutex::new(conn), ids, columns: Vec::new(), app };
        let mut admin = Some(admin);
        for &who in door.columns() {
            let client = match door {
                Door::Pages => world.browser(who, &mut admin).await,
                Door::Api => Client::Api(world.api_client(who)),
                Door::Scim => Client::Scim(world.scim_client(who, &mut admin)),
            };
            world.columns.push((who, client));
        }
        world
    }

    fn id(&self, login: &str) -> i64 {
        self.ids[login]
    }

    async fn browser(&self, who: Who, admin: &mut Option<Browser>) -> Client {
        let browser = match who {
            Anonymous => {
                let browser = self.app.browser();
                let csrf =
                    extract_csrf(&browser.get_html("/login").await).expect("the login form's CSRF token");
                return Client::Browser { browser, csrf };
            }
            Admin => admin.take().expect("the admin signed in on the setup page"),
            _ => self.app.signed_in(who.login()).await,
        };
        let csrf = browser.csrf_token().await;
        Client::Browser { browser, csrf }
    }

    /// The column's token: unscoped, the student's for 120 days, the others' for ever, and
    /// the teacher's special ones.
    fn api_client(&self, who: Who) -> Api {
        let owner = who.login();
        let secret = match who {
            Anonymous => return self.app.anonymous_api(),
            Student => self.issue(owner, owner, "API", ExpiryChoice::Days(120), &[]).1,
            Teacher | Viewer | Creator | Deleter | Manager | Settings | Admin => {
                self.issue(owner, owner, "API", ExpiryChoice::Never, &[]).1
            }
            Scoped => self.issue(owner, owner, "Scoped", ExpiryChoice::Never, &[SHOW_USER]).1,
            Expiring => self.issue(owner, owner, "Expiring", ExpiryChoice::Days(7), &[]).1,
            Expired => {
                let (id, secret) = self.issue(owner, owner, "Expired", ExpiryChoice::Days(30), &[]);
                let mut conn = self.db.lock().unwrap();
                diesel::update(access_tokens::table.find(id))
                    .set(access_tokens::expires_at.eq(Some(now() - Duration::minutes(1))))
                    .execute(&mut *conn)
                    .expect("expire the token");
                secret
            }
            Pending => self.issue("admin", owner, "Pending", ExpiryChoice::Never, &[]).1,
            Suspended => {
                let (_, secret) = self.issue(owner, owner, "Suspended", ExpiryChoice::Never, &[]);
                self.suspend(self.id(owner));
                secret
            }
            MadeUp | Revoked | ApiToken | Cookie | Provisioner => {
                panic!("{who:?} is a column of the SCIM door")
            }
        };
        self.app.api(&secret)
    }

    /// The column's provisioning client.
    fn scim_client(&self, who: Who, admin: &mut Option<Browser>) -> Scim {
        let credential = match who {
            Anonymous => None,
            MadeUp => Some(format!("twscim_{}", "M".repeat(40))),
            Revoked => {
                let (id, secret) = self.credential();
                let mut conn = self.db.lock().unwrap();
                services::provisioning::revoke_credential(&mut conn, &Actor::operator(), id).expect("revoke");
                Some(secret)
            }
            ApiToken => Some(self.issue("admin", "admin", "API", ExpiryChoice::Never, &[]).1),
            Cookie => {
                let browser = admin.take().expect("the admin signed in on the setup page");
                return Scim::with_client(&self.app, browser.client.clone(), None);
            }
            Provisioner => Some(self.credential().1),
            other => panic!("{other:?} is not a column of the SCIM door"),
        };
        Scim::new(&self.app, credential.as_deref())
    }

    /// A new provisioning credential: its id and secret.
    fn credential(&self) -> (i64, String) {
        let mut conn = self.db.lock().unwrap();
        let issued = services::provisioning::create_credential(
            &mut conn,
            &Actor::operator(),
            &RoleMap::default(),
            "Matrix",
        )
        .expect("a provisioning credential");
        (issued.credential.id, issued.secret.expose().to_owned())
    }

    /// Creates a token of `owner`'s as `by` through `tokens::create` (on someone else's
    /// behalf it is pending); its id and secret.
    fn issue(
        &self,
        by: &str,
        owner: &str,
        purpose: &str,
        expiry: ExpiryChoice,
        scopes: &[&str],
    ) -> (i64, String) {
        let mut conn = self.db.lock().unwrap();
        let actor = acting(&mut conn, self.id(by));
        let draft = TokenDraft {
            purpose: Some(purpose.to_owned()),
            scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
            expiry: Some(Ok(expiry)),
        };
        let issued = tokens::create(&mut conn, &actor, self.id(owner), &draft)
            .unwrap_or_else(|e| panic!("{by} creates a token of {owner}'s: {e}"));
        (issued.token.id, issued.secret.expose().to_owned())
    }

    fn suspend(&self, id: i64) {
        let mut conn = self.db.lock().unwrap();
        services::users::set_state(&mut conn, &Actor::operator(), id, UserState::Suspended).expect("suspend");
    }

    /// A new student-only user; their login and id.
    fn victim(&self, kind: &str, column: usize) -> (String, i64) {
        let login = format!("{kind}-{column}");
        let mut conn = self.db.lock().unwrap();
        let id = create_user(&mut conn, &login, &[EnrollmentRole::Student], Vec::new());
        (login, id)
    }

    /// What fills a row's segments, per column: made now, before any cell of the row runs.
    /// Registers `svc-N` (one scope, no rules) for column N; its id.
    fn service(&self, column: usize) -> i64 {
        let mut conn = self.db.lock().unwrap();
        let input = services::registry::ServiceInput {
            slug: format!("svc-{column}"),
            name: format!("Service {column}"),
            scopes: vec![("read".into(), "Read".into(), String::new())],
            ..Default::default()
        };
        services::registry::create(&mut conn, &Actor::operator(), &input)
            .expect("register a service")
            .service
            .id
    }

    async fn targets(&self, row: &Row) -> Vec<Vec<String>> {
        let mut all = Vec::new();
        for (column, (who, _)) in self.columns.iter().enumerate() {
            let mut targets = Vec::new();
            for arg in row.args {
                targets.push(self.target(*arg, column, *who).await);
            }
            all.push(targets);
        }
        all
    }

    async fn target(&self, arg: Arg, column: usize, who: Who) -> String {
        let days = ExpiryChoice::Days(60);
        let id = match arg {
            Lit(text) => return text.to_owned(),
            Sam => self.id("sam"),
            SamToken => self.issue("sam", "sam", &format!("Sam's, for {}", who.label()), days, &[]).0,
            OwnToken => self.issue(who.login(), who.login(), "My own", days, &[]).0,
            OwnPending => {
                let by = if who.login() == "admin" { "cato" } else { "admin" };
                self.issue(by, who.login(), "Made for me", days, &[]).0
            }
            Victim => self.victim("victim", column).1,
            SuspendedVictim => {
                let (_, id) = self.victim("suspended", column);
                self.suspend(id);
                id
            }
            SignedInVictim => {
                let (login, id) = self.victim("signed-in", column);
                // The browser goes; its session stays on the server.
                self.app.signed_in(&login).await;
                id
            }
            VictimWithToken => {
                let (login, id) = self.victim("holder", column);
                self.give_token(&login, id);
                id
            }
            EmptyRole => {
                let mut conn = self.db.lock().unwrap();
                let name = format!("Empty role {column}");
                services::roles::create(&mut conn, &Actor::operator(), &name, PermissionSet::empty())
                    .expect("create an empty role")
                    .id
            }
            SetupLink => {
                let (_, id) = self.victim("linked", column);
                let mut conn = self.db.lock().unwrap();
                let rule = tokenwarden::domain::people::PasswordRule::default();
                let (_, link) = services::password_links::issue(&mut conn, &Actor::operator(), id, &rule)
                    .expect("a link to set a password");
                return link.secret.expose().to_owned();
            }
            OwnImport | AdminsImport => {
                let (uploader, name) = match arg {
                    OwnImport => (self.id(who.login()), format!("own-import-{column}")),
                    _ => (self.id("admin"), format!("admins-import-{column}")),
                };
                let row = UserImport {
                    id: name.clone(),
                    user_id: uploader,
                    file_name: "matrix.csv".to_owned(),
                    content: format!(
                        "login,name,email,roles\nimported-{column},Imported {column},imported{column}@example.edu,student\n"
                    ),
                    created_at: now(),
                };
                UserImport::put(&mut self.db.lock().unwrap(), &row).expect("stage an import");
                return name;
            }
            OwnCredential => self.credential().0,
            OwnGroup => {
                let (credential, _) = self.credential();
                let mut conn = self.db.lock().unwrap();
                let map: RoleMap = ROLE_MAP.parse().unwrap();
                let mut actor = Actor::directory(Via::Provisioning(credential), None);
                actor.permissions =
                    services::provisioning::directory_permissions(&mut conn, &map).expect("its permissions");
                let input = GroupInput {
                    display_name: format!("Group {column}"),
                    external_id: None,
                    members: vec![],
                };
                return match services::provisioning::create_group(&mut conn, &actor, &map, &input) {
                    Ok(group) => group.id,
                    Err(e) => panic!("create a group: {e:?}"),
                };
            }
            OwnService => self.service(column),
            OwnServiceSlug => {
                self.service(column);
                return format!("svc-{column}");
            }
            OwnServiceQuery => {
                self.service(column);
                return format!("?service=svc-{column}");
            }
            OwnWebhook => self.webhook(column, true),
            OwnDelivery => {
                use tokenwarden::models::notification::NewNotification;
                let endpoint = self.webhook(column, false);
                let mut conn = self.db.lock().unwrap();
                let row = NewNotification {
                    message_id: format!("msg_matrix_{column}"),
                    channel: "webhook",
                    event: "user.roles_changed".into(),
                    endpoint_id: Some(endpoint),
                    user_id: None,
                    recipient: String::new(),
                    token_id: None,
                    payload: "{}".into(),
                    dedupe_key: None,
                    state: "failed",
                    next_attempt_at: now(),
                    give_up_at: now(),
                    created_at: now(),
                };
                tokenwarden::models::Notification::insert(&mut conn, &[row]).expect("a failed delivery");
                notifications::table
                    .filter(notifications::message_id.eq(format!("msg_matrix_{column}")))
                    .select(notifications::id)
                    .first(&mut *conn)
                    .expect("its id")
            }
        };
        id.to_string()
    }

    /// A webhook endpoint of column `column`'s own, for `user.roles_changed` only.
    fn webhook(&self, column: usize, enabled: bool) -> i64 {
        let mut conn = self.db.lock().unwrap();
        let input = services::notifications::EndpointInput {
            url: format!("http://127.0.0.1:9/own-{column}"),
            events: vec!["user.roles_changed".into()],
            enabled,
            ..Default::default()
        };
        let reach = tokenwarden::domain::net::OutboundReach::new(vec!["127.0.0.0/8".parse().unwrap()]);
        services::notifications::create_endpoint(
            &mut conn,
            &Actor::operator(),
            &reach,
            b"a matrix key",
            &input,
        )
        .expect("an endpoint")
        .endpoint
        .id
    }

    /// A token of the user `id`'s own (a victim, not in `ids`).
    fn give_token(&self, login: &str, id: i64) {
        let mut conn = self.db.lock().unwrap();
        let actor = acting(&mut conn, id);
        let draft = TokenDraft {
            purpose: Some(format!("{login}'s")),
            scopes: Some(Vec::new()),
            expiry: Some(Ok(ExpiryChoice::Days(60))),
        };
        tokens::create(&mut conn, &actor, id, &draft).expect("a victim's token");
    }

    fn fingerprint(&self) -> Fingerprint {
        Fingerprint::read(&mut self.db.lock().unwrap())
    }

    /// One cell: the request of `row` as column `column`, the status and the database
    /// checked against the table.
    async fn cell(&self, row: &Row, column: usize, targets: &[String]) -> Result<(), String> {
        let (who, client) = &self.columns[column];
        let (method, pattern) = row.method_and_path();
        let path = fill_route(pattern, targets);
        let (want, write) = row.expected()[column];

        let before = self.fingerprint();
        let res = match client {
            Client::Browser { browser, csrf } => {
                let (fields, multipart): (Vec<(String, String)>, bool) = match row.body {
                    Body::Form(fields) | Body::Multipart(fields) => (
                        fields.iter().map(|(k, v)| (k.to_string(), fill_value(v, column, *who))).collect(),
                        matches!(row.body, Body::Multipart(_)),
                    ),
                    Body::Nothing => (Vec::new(), false),
                    Body::Json(_) => panic!("{}: pages take forms", row.route),
                };
                match method {
                    "GET" => browser.get(&path).await,
                    "POST" => {
                        let mut fields: Vec<(&str, &str)> =
                            fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        fields.insert(0, ("csrf_token", csrf));
                        if multipart {
                            browser.post_multipart_raw(&path, &fields).await
                        } else {
                            browser.post_form_raw(&path, &fields).await
                        }
                    }
                    other => panic!("{}: no page answers {other}", row.route),
                }
            }
            Client::Api(api) => {
                let json = match row.body {
                    Body::Json(json) => {
                        let text = fill_value(json, column, *who);
                        serde_json::from_str(&text)
                            .unwrap_or_else(|e| panic!("{}: bad JSON ({e})", row.route))
                    }
                    Body::Nothing => serde_json::Value::Null,
                    Body::Form(_) | Body::Multipart(_) => panic!("{}: the API rows send JSON", row.route),
                };
                match method {
                    "GET" => api.get(&path).await,
                    "POST" => api.post_json(&path, &json).await,
                    "PUT" => api.put_json(&path, &json).await,
                    "DELETE" => api.delete(&path).await,
                    other => panic!("{}: no API route answers {other}", row.route),
                }
            }
            Client::Scim(scim) => {
                let json = match row.body {
                    Body::Json(json) => Some(
                        serde_json::from_str::<serde_json::Value>(&fill_value(json, column, *who))
                            .unwrap_or_else(|e| panic!("{}: bad JSON ({e})", row.route)),
                    ),
                    Body::Nothing => None,
                    Body::Form(_) | Body::Multipart(_) => panic!("{}: SCIM takes JSON", row.route),
                };
                let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
                scim.send_raw(method, &path, json.as_ref()).await
            }
        };
        let status = res.status().as_u16();
        let to = location(&res);
        let body = res.text().await.unwrap_or_default();
        let after = self.fingerprint();

        let mut wrong = Vec::new();
        if status != want {
            wrong.push(format!("got {status}, the table says {want}{}", if write { "+" } else { "" }));
        } else if *who == Anonymous && status == 303 && !to.starts_with("/login") {
            wrong.push(format!("redirected to {to:?}, not to /login"));
        }
        if body.contains("Form expired") {
            wrong.push("refused for its CSRF token".to_owned());
        }
        match (write, before == after) {
            (true, true) => wrong.push("the write was expected, but the database did not change".to_owned()),
            (false, false) => wrong.push(format!("the database changed: {}", before.diff(&after))),
            _ => {}
        }
        if wrong.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{}  —  {method} {path} as {}:\n    {}\n    Location: {to:?}; title: {:?}\n    body: {}",
            row.route,
            who.label(),
            wrong.join("; "),
            title(&body),
            excerpt(&body),
        ))
    }
}

/// The first 200 characters of a body; of a page, those of the text of its `<main>`
/// (what a person reads, not the `<head>`).
fn excerpt(body: &str) -> String {
    let text = match body.find("<main") {
        Some(start) => {
            let mut text = String::new();
            let mut in_tag = false;
            for c in body[start..].chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => {
                        in_tag = false;
                        text.push(' ');
                    }
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text
        }
        None => body.to_owned(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect()
}

/// The `<title>` of a page, if it has one.
fn title(html: &str) -> Option<&str> {
    let start = html.find("<title>")? + "<title>".len();
    let end = start + html[start..].find("</title>")?;
    Some(html[start..end].trim())
}

/// The actor for service calls as the user `id`, with their permissions as they are now.
fn acting(conn: &mut DbConnection, id: i64) -> Actor {
    let roles = User::roles(conn, id).expect("the user's roles");
    Actor::user(id, roles.permissions(), roles.is_student_only(), Via::Cli, None)
}

/// Creates a user through the same service as `tokenwarden user create`, with the one hash.
fn create_user(
    conn: &mut DbConnection,
    login: &str,
    roles: &[EnrollmentRole],
    account_role_ids: Vec<i64>,
) -> i64 {
    let data = NewUserData {
        login: Login::parse(login).expect("a login"),
        name: DisplayName::parse(&format!("{login} Example")).expect("a name"),
        email: Email::parse(&format!("{login}@example.edu")).expect("an email"),
        password_hash: PASSWORD_HASH.clone(),
        roles: roles.to_vec(),
        account_role_ids,
    };
    services::users::create(conn, &Actor::operator(), &data)
        .unwrap_or_else(|e| panic!("create {login}: {e}"))
        .id
}

// ---------------------------------------------------------------------------------------
// The fingerprint of the database

type TokenRow = (i64, i64, Option<i64>, String, String, String, String, String, Option<NaiveDateTime>);
/// user, name parts, deleted?
type ScimUserRow = (i64, Option<String>, Option<String>, Option<String>, bool);

/// What a request may change, and nothing that a read or a refusal changes by the way.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    /// id, login, name, email, password hash, state.
    users: Vec<(i64, String, String, String, String, String)>,
    user_roles: Vec<(i64, String)>,
    user_account_roles: Vec<(i64, i64)>,
    /// id, name, permissions.
    account_roles: Vec<(i64, String, i64)>,
    /// Everything but `updated_at`.
    account_settings: Vec<(i64, bool, bool, i32, i32, Option<NaiveDateTime>)>,
    /// id, owner, creator, purpose, scopes, digest, hint, state, expiry (not last used).
    access_tokens: Vec<TokenRow>,
    /// Sessions per user.
    sessions: BTreeMap<i64, usize>,
    /// id, slug, name, description, unscoped?, credential digest (not updated_at).
    services: Vec<(i64, String, String, String, bool, String)>,
    /// service, scope, label, holders; and service, method, path, scope.
    service_scopes: Vec<(i64, String, String, String)>,
    service_rules: Vec<(i64, String, String, String)>,
    /// Links to set a password: digest, user, used, replaced.
    password_setups: Vec<(String, i64, Option<NaiveDateTime>, Option<NaiveDateTime>)>,
    /// Uploaded imports waiting: id, uploader.
    user_imports: Vec<(String, i64)>,
    /// id, purpose, digest (not last used).
    provisioning_credentials: Vec<(i64, String, String)>,
    /// id, name, externalId; group and member.
    scim_groups: Vec<(String, String, Option<String>)>,
    scim_group_members: Vec<(String, i64)>,
    scim_users: Vec<ScimUserRow>,
    /// id, URL, description, events, enabled, sealed secret.
    webhook_endpoints: Vec<(i64, String, String, String, bool, String)>,
    /// Webhook deliveries: id, endpoint, event, times resent (not their attempts: the
    /// worker's; not emails: the expiry scheduler's, which runs by itself).
    webhook_deliveries: Vec<(i64, Option<i64>, String, i32)>,
    /// user, expiry reminders, weekly digest.
    notification_preferences: Vec<(i64, bool, bool)>,
}

impl Fingerprint {
    fn read(conn: &mut DbConnection) -> Fingerprint {
        let mut sessions = BTreeMap::new();
        for user in user_sessions::table.select(user_sessions::user_id).load::<i64>(conn).expect("sessions") {
            *sessions.entry(user).or_default() += 1;
        }
        Fingerprint {
            users: users::table
                .order(users::id)
                .select((
                    users::id,
                    users::login,
                    users::name,
                    users::email,
                    users::password_hash,
                    users::state,
                ))
                .load(conn)
                .expect("users"),
            user_roles: user_roles::table
                .order((user_roles::user_id, user_roles::role))
                .select((user_roles::user_id, user_roles::role))
                .load(conn)
                .expect("user_roles"),
            user_account_roles: user_account_roles::table
                .order((user_account_roles::user_id, user_account_roles::account_role_id))
                .select((user_account_roles::user_id, user_account_roles::account_role_id))
                .load(conn)
                .expect("user_account_roles"),
            account_roles: account_roles::table
                .order(account_roles::id)
                .select((account_roles::id, account_roles::name, account_roles::permissions))
                .load(conn)
                .expect("account_roles"),
            account_settings: account_settings::table
                .order(account_settings::id)
                .select((
                    account_settings::id,
                    account_settings::limit_personal_creation,
                    account_settings::block_students,
                    account_settings::student_max_days,
                    account_settings::default_lifetime_days,
                    account_settings::student_cap_applied_at,
                ))
                .load(conn)
                .expect("account_settings"),
            access_tokens: access_tokens::table
                .order(access_tokens::id)
                .select((
                    access_tokens::id,
                    access_tokens::user_id,
                    access_tokens::real_user_id,
                    access_tokens::purpose,
                    access_tokens::scopes,
                    access_tokens::digest,
                    access_tokens::hint,
                    access_tokens::workflow_state,
                    access_tokens::expires_at,
                ))
                .load(conn)
                .expect("access_tokens"),
            sessions,
            services: services_table::table
                .order(services_table::id)
                .select((
                    services_table::id,
                    services_table::slug,
                    services_table::name,
                    services_table::description,
                    services_table::accept_unscoped,
                    services_table::credential_digest,
                ))
                .load(conn)
                .expect("services"),
            service_scopes: service_scopes::table
                .order((service_scopes::service_id, service_scopes::position))
                .select((
                    service_scopes::service_id,
                    service_scopes::scope,
                    service_scopes::label,
                    service_scopes::holders,
                ))
                .load(conn)
                .expect("service_scopes"),
            service_rules: service_rules::table
                .order((service_rules::service_id, service_rules::position))
                .select((
                    service_rules::service_id,
                    service_rules::method,
                    service_rules::path,
                    service_rules::scope,
                ))
                .load(conn)
                .expect("service_rules"),
            password_setups: password_setups::table
                .order(password_setups::digest)
                .select((
                    password_setups::digest,
                    password_setups::user_id,
                    password_setups::used_at,
                    password_setups::replaced_at,
                ))
                .load(conn)
                .expect("password_setups"),
            user_imports: user_imports::table
                .order(user_imports::id)
                .select((user_imports::id, user_imports::user_id))
                .load(conn)
                .expect("user_imports"),
            provisioning_credentials: provisioning_credentials::table
                .order(provisioning_credentials::id)
                .select((
                    provisioning_credentials::id,
                    provisioning_credentials::purpose,
                    provisioning_credentials::digest,
                ))
                .load(conn)
                .expect("provisioning_credentials"),
            scim_groups: scim_groups::table
                .order(scim_groups::id)
                .select((scim_groups::id, scim_groups::display_name, scim_groups::external_id))
                .load(conn)
                .expect("scim_groups"),
            scim_group_members: scim_group_members::table
                .order((scim_group_members::group_id, scim_group_members::user_id))
                .select((scim_group_members::group_id, scim_group_members::user_id))
                .load(conn)
                .expect("scim_group_members"),
            scim_users: scim_users::table
                .order(scim_users::user_id)
                .select((
                    scim_users::user_id,
                    scim_users::formatted,
                    scim_users::given_name,
                    scim_users::family_name,
                    scim_users::deleted_at.is_not_null(),
                ))
                .load(conn)
                .expect("scim_users"),
            webhook_endpoints: webhook_endpoints::table
                .order(webhook_endpoints::id)
                .select((
                    webhook_endpoints::id,
                    webhook_endpoints::url,
                    webhook_endpoints::description,
                    webhook_endpoints::events,
                    webhook_endpoints::enabled,
                    webhook_endpoints::secret_sealed,
                ))
                .load(conn)
                .expect("webhook_endpoints"),
            webhook_deliveries: notifications::table
                .filter(notifications::channel.eq("webhook"))
                .order(notifications::id)
                .select((
                    notifications::id,
                    notifications::endpoint_id,
                    notifications::event,
                    notifications::resends,
                ))
                .load(conn)
                .expect("notifications"),
            notification_preferences: notification_preferences::table
                .order(notification_preferences::user_id)
                .select((
                    notification_preferences::user_id,
                    notification_preferences::expiry_reminders,
                    notification_preferences::weekly_digest,
                ))
                .load(conn)
                .expect("notification_preferences"),
        }
    }

    /// What differs, table by table: the rows only before (−) and only after (+).
    fn diff(&self, after: &Fingerprint) -> String {
        let sessions = |f: &Fingerprint| f.sessions.iter().map(|(u, n)| (*u, *n)).collect::<Vec<_>>();
        [
            changes("users", &self.users, &after.users),
            changes("user_roles", &self.user_roles, &after.user_roles),
            changes("user_account_roles", &self.user_account_roles, &after.user_account_roles),
            changes("account_roles", &self.account_roles, &after.account_roles),
            changes("account_settings", &self.account_settings, &after.account_settings),
            changes("access_tokens", &self.access_tokens, &after.access_tokens),
            changes("sessions per user", &sessions(self), &sessions(after)),
            changes("services", &self.services, &after.services),
            changes("service_scopes", &self.service_scopes, &after.service_scopes),
            changes("service_rules", &self.service_rules, &after.service_rules),
            changes("password_setups", &self.password_setups, &after.password_setups),
            changes("user_imports", &self.user_imports, &after.user_imports),
            changes(
                "provisioning_credentials",
                &self.provisioning_credentials,
                &after.provisioning_credentials,
            ),
            changes("scim_groups", &self.scim_groups, &after.scim_groups),
            changes("scim_group_members", &self.scim_group_members, &after.scim_group_members),
            changes("scim_users", &self.scim_users, &after.scim_users),
            changes("webhook_endpoints", &self.webhook_endpoints, &after.webhook_endpoints),
            changes("webhook deliveries", &self.webhook_deliveries, &after.webhook_deliveries),
            changes(
                "notification_preferences",
                &self.notification_preferences,
                &after.notification_preferences,
            ),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ")
    }
}

fn changes<T: PartialEq + Debug>(table: &str, before: &[T], after: &[T]) -> Option<String> {
    let gone: Vec<&T> = before.iter().filter(|r| !after.contains(r)).collect();
    let new: Vec<&T> = after.iter().filter(|r| !before.contains(r)).collect();
    (!gone.is_empty() || !new.is_empty()).then(|| format!("{table}: −{gone:?} +{new:?}"))
}
