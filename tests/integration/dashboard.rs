//! The administrator's dashboard (SPEC 5): its figures come from tallies the database keeps
//! (triggers), so they must always equal what counting the tokens one by one gives —
//! through every kind of change, across day boundaries, before and after the sweep — and
//! each figure must lead to a list of exactly that many tokens.

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime, NaiveTime};
use diesel::prelude::*;
use reqwest::StatusCode;
use tokenwarden::db::DbConnection;
use tokenwarden::db::schema::{access_tokens, tally_sweep, token_weekly_activity};
use tokenwarden::domain::owner_roles::{OwnerFilter, OwnerRoles};
use tokenwarden::domain::token::ExpiryChoice;
use tokenwarden::domain::{EnrollmentRole, now};
use tokenwarden::models::token_tally::{self, HORIZONS, TokenFigures, UNUSED_DAYS};
use tokenwarden::models::{AccessToken, AuditAction, NewAuditEvent, TokenFilter, User};
use tokenwarden::services::tokens::{self, TokenDraft, TokenRef};
use tokenwarden::services::{self, Actor, Via};

use crate::helpers::{TestApp, spawn_app};

/// What the dashboard should say, counted token by token.
#[derive(Debug, PartialEq, Eq)]
struct Counted {
    working: i64,
    never: i64,
    within: Vec<i64>,
    expired: i64,
    pending: i64,
    unused: i64,
    by_owner: Vec<i64>,
}

fn counted(conn: &mut DbConnection, now: NaiveDateTime) -> Counted {
    let rows: Vec<(AccessToken, i32)> = access_tokens::table
        .select((AccessToken::as_select(), access_tokens::owner_roles))
        .load(conn)
        .unwrap();
    let live = |t: &AccessToken| t.expires_at.is_none_or(|e| e > now);
    let since = token_tally::unused_since(now, UNUSED_DAYS).and_time(NaiveTime::MIN);
    let count = |f: &dyn Fn(&AccessToken, OwnerRoles) -> bool| {
        rows.iter().filter(|(t, o)| f(t, OwnerRoles(*o))).count() as i64
    };
    Counted {
        working: count(&|t, _| live(t) && !t.is_pending()),
        never: count(&|t, _| t.expires_at.is_none()),
        within: HORIZONS
            .iter()
            .map(|d| count(&|t, _| t.expires_at.is_some_and(|e| e > now && e <= now + Duration::days(*d))))
            .collect(),
        expired: count(&|t, _| t.expires_at.is_some_and(|e| e <= now)),
        pending: count(&|t, _| live(t) && t.is_pending()),
        unused: count(&|t, _| live(t) && t.last_used_at.unwrap_or(t.created_at) < since),
        by_owner: OwnerFilter::BREAKDOWN
            .iter()
            .map(|f| count(&|t, o| live(t) && !t.is_pending() && f.admits(o)))
            .collect(),
    }
}

fn from_tallies(f: &TokenFigures) -> Counted {
    Counted {
        working: f.live.working(OwnerFilter::Anyone),
        never: f.never_expiring.all(),
        within: f.within.iter().map(|(_, c)| c.all()).collect(),
        expired: f.expired.all(),
        pending: f.live.pending(),
        unused: f.unused,
        by_owner: OwnerFilter::BREAKDOWN.iter().map(|o| f.live.working(*o)).collect(),
    }
}

fn assert_agree(conn: &mut DbConnection, when: &str) {
    let now = now();
    let figures = TokenFigures::load(conn, now).unwrap();
    let counted = counted(conn, now);
    assert_eq!(from_tallies(&figures), counted, "the tallies after {when}");
    // `lapsed` is exactly "expired by the last sweep": never true of a live token (the list
    // of unused tokens would miss it), true of every token expired by then (its walk skips
    // them). And that list shows every token counted unused.
    let swept_to: NaiveDateTime =
        tally_sweep::table.find(1).select(tally_sweep::swept_to).get_result(conn).unwrap();
    let flags: Vec<(i64, Option<NaiveDateTime>, bool)> = access_tokens::table
        .select((access_tokens::id, access_tokens::expires_at, access_tokens::lapsed))
        .load(conn)
        .unwrap();
    for (id, expires_at, lapsed) in flags {
        assert_eq!(lapsed, expires_at.is_some_and(|e| e <= swept_to), "token {id} lapsed, after {when}");
    }
    let (unused, _) = AccessToken::admin_page(
        conn,
        TokenFilter::UnusedFor(UNUSED_DAYS),
        OwnerFilter::Anyone,
        None,
        now,
        20_000,
    )
    .unwrap();
    assert_eq!(unused.len() as i64, counted.unused, "the list of unused tokens after {when}");
    // The owner's roles kept beside each token are the owner's roles.
    let owners: Vec<(i64, i32)> =
        access_tokens::table.select((access_tokens::user_id, access_tokens::owner_roles)).load(conn).unwrap();
    for (user_id, kept) in owners {
        let roles = User::roles(conn, user_id).unwrap();
        let expected = OwnerRoles::of(&roles.enrollment, !roles.account.is_empty());
        assert_eq!(OwnerRoles(kept), expected, "user {user_id}'s roles beside their token, after {when}");
    }
}

fn actor(conn: &mut DbConnection, user_id: i64) -> Actor {
    let roles = User::roles(conn, user_id).unwrap();
    Actor::user(user_id, roles.permissions(), roles.is_student_only(), Via::Cli, None)
}

fn create(conn: &mut DbConnection, by: i64, owner: i64, expiry: ExpiryChoice) -> i64 {
    let actor = actor(conn, by);
    let draft =
        TokenDraft { purpose: Some("Tallied".into()), scopes: Some(vec![]), expiry: Some(Ok(expiry)) };
    tokens::create(conn, &actor, owner, &draft).expect("create").token.id
}

fn set(
    conn: &mut DbConnection,
    id: i64,
    expires_at: Option<NaiveDateTime>,
    last_used: Option<NaiveDateTime>,
) {
    diesel::update(access_tokens::table.find(id))
        .set((access_tokens::expires_at.eq(expires_at), access_tokens::last_used_at.eq(last_used)))
        .execute(conn)
        .unwrap();
}

/// Every change that moves a token between the dashboard's figures — created (by the owner
/// and on behalf), expiry edited across day lines and into the past, used, activated,
/// regenerated, deleted, revoked all, the owner's roles changed (and the cap) — keeps the
/// tallies equal to a count of the tokens themselves.
#[actix_web::test]
async fn the_tallies_always_equal_a_count_of_the_tokens() {
    let app = spawn_app().await;
    let admin = app.create_user("root", &[], &["Account Admin"]);
    let tess = app.create_user("tess", &["teacher"], &[]);
    let sam = app.create_user("sam", &["student"], &[]);
    let tara = app.create_user("tara", &["student", "ta"], &[]);
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    let c = &mut conn;
    assert_agree(c, "nothing");

    let now = now();
    let mut ids = Vec::new();
    for (owner, expiry) in [
        (tess, ExpiryChoice::Never),
        (tess, ExpiryChoice::Days(7)),
        (tess, ExpiryChoice::Days(30)),
        (sam, ExpiryChoice::Days(120)),
        (tara, ExpiryChoice::Days(1)),
        (admin, ExpiryChoice::Never),
        (admin, ExpiryChoice::Days(365)),
    ] {
        ids.push(create(c, owner, owner, expiry));
    }
    let pending = create(c, admin, tess, ExpiryChoice::Days(60));
    assert_agree(c, "creations, one on someone's behalf");

    // Expiries on either side of each line the dashboard draws: the rest of today, whole
    // days, the last partial day of each horizon, the past.
    let edges = [
        Duration::minutes(30),
        Duration::hours(-2),
        Duration::days(7) - Duration::seconds(1),
        Duration::days(7) + Duration::seconds(1),
        Duration::days(30),
        Duration::days(90) + Duration::hours(3),
        Duration::days(400),
    ];
    for (id, edge) in ids.iter().zip(edges) {
        set(c, *id, Some(now + edge), None);
    }
    assert_agree(c, "expiries moved across the day lines");

    // Used long ago, recently, never.
    set(c, ids[0], None, Some(now - Duration::days(200)));
    set(c, ids[5], None, Some(now - Duration::days(3)));
    diesel::update(access_tokens::table.find(ids[6]))
        .set(access_tokens::created_at.eq(now - Duration::days(120)))
        .execute(c)
        .unwrap();
    assert_agree(c, "uses recorded");

    let tess_actor = actor(c, tess);
    tokens::activate(c, &tess_actor, pending).expect("activate");
    assert_agree(c, "an activation");
    let draft = TokenDraft { purpose: None, scopes: None, expiry: Some(Ok(ExpiryChoice::Days(90))) };
    tokens::regenerate(c, &tess_actor, tess, &TokenRef::Id(ids[1]), &draft).expect("regenerate");
    assert_agree(c, "a regeneration");
    tokens::delete(c, &tess_actor, tess, &TokenRef::Id(ids[2])).expect("delete");
    assert_agree(c, "a deletion");

    // Tess becomes student-only: her tokens move to student-only, and the cap shortens them.
    services::users::set_roles(c, &Actor::operator(), tess, &[EnrollmentRole::Student], &[]).unwrap();
    assert_agree(c, "a teacher made student-only (and capped)");
    services::users::set_roles(c, &Actor::operator(), tara, &[EnrollmentRole::Ta], &[1]).unwrap();
    assert_agree(c, "a student given an account role");
    let root = actor(c, admin);
    tokens::revoke_all(c, &root, sam).expect("revoke all");
    assert_agree(c, "revoke all");

    // Tokens that expire after the sweep's mark are taken off at read time, then by the sweep.
    let soon = create(c, tara, tara, ExpiryChoice::Days(5));
    set(c, soon, Some(now + Duration::seconds(1)), Some(now - Duration::days(100)));
    token_tally::sweep(c, tokenwarden::domain::now()).unwrap();
    assert_agree(c, "a sweep");
    actix_web::rt::time::sleep(StdDuration::from_millis(2100)).await;
    assert_agree(c, "a token expired since the sweep");
    token_tally::sweep(c, tokenwarden::domain::now()).unwrap();
    assert_agree(c, "the next sweep");
}

/// The pages the tallies take on PostgreSQL, each: what the dashboard and every list by
/// owner's roles read.
fn tally_pages(conn: &mut DbConnection) -> Vec<(String, i64)> {
    let DbConnection::Pg(c) = conn else { return Vec::new() };
    ["token_tallies", "token_activity_tallies", "token_weekly_activity"]
        .iter()
        .map(|table| {
            let pages = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                "pg_relation_size('{table}') / 8192"
            )))
            .get_result::<i64>(c)
            .unwrap();
            (table.to_string(), pages)
        })
        .collect()
}

/// Which version of each row of the expiry and activity tallies is current, on
/// PostgreSQL: a row written again, even with the same count, has a new `xmin`.
fn tally_versions(conn: &mut DbConnection) -> Option<String> {
    let DbConnection::Pg(c) = conn else { return None };
    let versions =
        "SELECT string_agg(xmin::text, ',' ORDER BY expires_on, owner_roles, pending) FROM token_tallies";
    let activity = "SELECT string_agg(xmin::text, ',' ORDER BY active_on) FROM token_activity_tallies";
    let sql = format!("({versions}) || ';' || ({activity})");
    Some(diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(&sql)).get_result(c).unwrap())
}

/// Statements that change many tokens at once — the seed's inserts, every token's use
/// recorded, half of the expiries moved to one day, two tokens trading expiries (changes
/// that cancel out), a deletion of thousands — keep the tallies equal to a count. And on
/// PostgreSQL a statement adds to each tally row once, not once a token, so the tallies
/// stay small: row by row, each token left a version of its tally rows behind, and after
/// the bench's million the weekly chart's 58 rows took 50 MB, read by every dashboard.
#[actix_web::test]
async fn statements_that_change_many_tokens_keep_the_tallies_exact_and_small() {
    let app = spawn_app().await;
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    let c = &mut conn;
    tokenwarden::seed::run(c, 40, 250, false).unwrap();
    assert_agree(c, "a seed of 10,000 tokens");
    let seeded = tally_pages(c);

    let now = now();
    let ids: Vec<i64> =
        access_tokens::table.select(access_tokens::id).order(access_tokens::id).load(c).unwrap();
    let middle = ids[ids.len() / 2];
    c.transaction(|c| {
        diesel::update(access_tokens::table).set(access_tokens::last_used_at.eq(Some(now))).execute(c)?;
        diesel::update(access_tokens::table.filter(access_tokens::id.lt(middle)))
            .set(access_tokens::expires_at.eq(Some(now + Duration::days(10))))
            .execute(c)
    })
    .unwrap();
    assert_agree(c, "every token used and half of the expiries moved, in one transaction");
    if !seeded.is_empty() {
        for ((table, before), (_, after)) in seeded.iter().zip(tally_pages(c)) {
            assert!(
                after <= 3 * before + 2,
                "{table}: {before} pages after the seed, {after} after two updates"
            );
        }
    }

    // Two live tokens of one owner trade their expiries in one statement: what it changes
    // cancels out, and on PostgreSQL no tally row is written again.
    let owner: i64 = access_tokens::table.find(ids[0]).select(access_tokens::user_id).get_result(c).unwrap();
    let pair: Vec<i64> = access_tokens::table
        .filter(access_tokens::user_id.eq(owner))
        .filter(access_tokens::workflow_state.eq("active"))
        .select(access_tokens::id)
        .order(access_tokens::id)
        .limit(2)
        .load(c)
        .unwrap();
    let (a, b) = (pair[0], pair[1]);
    assert!(b < middle, "both are kept by the deletion below");
    let (a_expires, b_expires) = (now + Duration::days(20), now + Duration::days(40));
    for (id, at) in [(a, a_expires), (b, b_expires)] {
        diesel::update(access_tokens::table.find(id))
            .set(access_tokens::expires_at.eq(Some(at)))
            .execute(c)
            .unwrap();
    }
    assert_agree(c, "two expiries set");
    let written = tally_versions(c);
    // Written as each database keeps a timestamp: PostgreSQL's own type, SQLite's text.
    let typed = if matches!(c, DbConnection::Pg(_)) { "TIMESTAMP " } else { "" };
    let literal = |t: NaiveDateTime| format!("{typed}'{}'", t.format("%F %T%.f"));
    let traded = diesel::sql_query(format!(
        "UPDATE access_tokens SET expires_at = CASE WHEN id = {a} THEN {} ELSE {} END WHERE id IN ({a}, {b})",
        literal(b_expires),
        literal(a_expires)
    ))
    .execute(c)
    .unwrap();
    let expiry_of = |c: &mut DbConnection, id: i64| -> Option<NaiveDateTime> {
        access_tokens::table.find(id).select(access_tokens::expires_at).get_result(c).unwrap()
    };
    assert_eq!((traded, expiry_of(c, a), expiry_of(c, b)), (2, Some(b_expires), Some(a_expires)));
    assert_agree(c, "two tokens trading expiries in one statement");
    assert_eq!(tally_versions(c), written, "a trade that cancels out writes no tally row");

    let deleted =
        diesel::delete(access_tokens::table.filter(access_tokens::id.ge(middle))).execute(c).unwrap();
    assert!(deleted >= 5_000, "{deleted}");
    assert_agree(c, "thousands deleted in one statement");
    let weeks: Vec<(i64, i64)> = token_weekly_activity::table
        .select((token_weekly_activity::created, token_weekly_activity::revoked))
        .load(c)
        .unwrap();
    assert_eq!(weeks.iter().map(|w| w.0).sum::<i64>(), ids.len() as i64, "each token created, in its week");
    assert_eq!(weeks.iter().map(|w| w.1).sum::<i64>(), deleted as i64, "each token deleted, this week");
}

/// Each figure on the page links to a list of exactly as many tokens as it says.
#[actix_web::test]
async fn each_figure_opens_a_list_of_as_many_tokens_as_it_says() {
    let app = spawn_app().await;
    let browser = app.setup_admin().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let sam = app.create_user("sam", &["student"], &[]);
    let admin = app.user_id("admin");
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    for (owner, expiry) in [
        (tess, ExpiryChoice::Never),
        (tess, ExpiryChoice::Days(3)),
        (tess, ExpiryChoice::Days(20)),
        (sam, ExpiryChoice::Days(100)),
        (sam, ExpiryChoice::Days(6)),
    ] {
        create(&mut conn, owner, owner, expiry);
    }
    create(&mut conn, admin, sam, ExpiryChoice::Days(60));
    let old = create(&mut conn, tess, tess, ExpiryChoice::Days(30));
    set(&mut conn, old, Some(now() - Duration::days(1)), None);

    let page = browser.get_html("/admin").await;
    assert!(page.contains("<h1>Dashboard</h1>"));
    assert!(
        page.contains("<svg") && page.contains("<title id=\"horizon-svg-title\">"),
        "the charts are SVG with titles"
    );
    let figures = figures_of(&page);
    let expect = [
        ("show=active", 5),
        ("show=no_expiry", 1),
        ("show=expiring&days=7", 2),
        ("show=expiring&days=30", 3),
        ("show=expiring&from=7&days=30", 1),
        ("show=pending", 1),
        ("show=expired", 1),
        ("show=active&owner=student_only", 2),
        ("show=active&owner=teacher", 3),
    ];
    for (query, n) in expect {
        let shown = figures.iter().find(|(href, _)| href.ends_with(query)).map(|(_, v)| *v);
        assert_eq!(shown, Some(n), "the figure linking to {query}: {figures:?}");
        let list = browser.get_html(&format!("/admin/tokens?{query}")).await;
        assert_eq!(list.matches("<tr id=\"token-").count() as i64, n, "the list behind {query}");
    }
}

/// (href, number) of every figure card and owner row on the page.
fn figures_of(page: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for chunk in page.split("<a ").skip(1) {
        let Some(href) = chunk.split("href=\"").nth(1).and_then(|r| r.split('"').next()) else { continue };
        if !href.starts_with("/admin/tokens?") {
            continue;
        }
        let value = if let Some(v) = chunk.split("figure-value\">").nth(1) {
            v.split('<').next().unwrap_or_default().to_owned()
        } else if let Some(v) = chunk.split("<td class=\"num\">").nth(1) {
            v.split('<').next().unwrap_or_default().to_owned()
        } else {
            continue;
        };
        if let Ok(n) = value.replace(',', "").parse() {
            out.push((href.replace("&#38;", "&").replace("&amp;", "&"), n));
        }
    }
    out
}

/// Administrators who oversee tokens land on the dashboard when they sign in; others on
/// the start page; a `next` is kept either way.
#[actix_web::test]
async fn administrators_land_on_the_dashboard() {
    let app: TestApp = spawn_app().await;
    app.create_user("root", &[], &["Account Admin"]);
    app.create_user("tess", &["teacher"], &[]);
    let root = app.browser();
    let res = root.login("root", crate::helpers::PASSWORD).await;
    assert_eq!(crate::helpers::location(&res), "/admin");
    assert_eq!(root.get("/admin").await.status(), StatusCode::OK);
    let tess = app.browser();
    assert_eq!(crate::helpers::location(&tess.login("tess", crate::helpers::PASSWORD).await), "/");
    assert_eq!(tess.get("/admin").await.status(), StatusCode::FORBIDDEN);
    let again = app.browser();
    let token = again.csrf_token().await;
    let res = again
        .post_form_raw(
            "/login",
            &[
                ("login", "root"),
                ("password", crate::helpers::PASSWORD),
                ("next", "/settings/tokens"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(crate::helpers::location(&res), "/settings/tokens");
}

/// Found in review, on PostgreSQL: a role change committed while a token was being created
/// left the token with its owner's old roles and outside the retroactive cap, so a
/// student-only user kept a token without expiry (SPEC 4.2, 4.3). The role change now
/// waits for the token's transaction, then caps the token it can see.
#[actix_web::test]
async fn a_role_change_waits_for_a_token_being_created_and_then_caps_it() {
    let app = spawn_app().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let url = app.database_url.clone();
    let mut c1 = tokenwarden::db::connect(&url).unwrap();
    let (reached, reaching) = std::sync::mpsc::channel();
    let (id, role_change) = c1
        .transaction(|c1| {
            let id = create(c1, tess, tess, ExpiryChoice::Never);
            // Another administrator makes Tess student-only before the token is committed.
            let role_change = std::thread::spawn(move || {
                let mut c2 = tokenwarden::db::connect(&url).unwrap();
                reached.send(()).unwrap();
                services::users::set_roles(&mut c2, &Actor::operator(), tess, &[EnrollmentRole::Student], &[])
                    .map(|_| ())
            });
            reaching.recv().unwrap();
            // Time for the role change to reach Tess's roles; if it took longer, it would
            // simply run after the commit, and the test would pass for that reason instead.
            std::thread::sleep(StdDuration::from_millis(300));
            diesel::QueryResult::Ok((id, role_change))
        })
        .unwrap();
    role_change.join().unwrap().expect("the role change goes through once the token is committed");
    let token = AccessToken::find_for_user(&mut c1, tess, id).unwrap();
    assert!(token.expires_at.is_some(), "the student maximum caps the new token");
    assert_agree(&mut c1, "a role change while a token was being created");
}

/// Found in review: the weekly "revoked" bars count every revoked token, but opened the
/// audit log at `token.deleted` alone, which leaves out a user's tokens revoked all at once
/// and tokens reported as leaked. They now open every kind of revocation, newest first,
/// page after page.
#[actix_web::test]
async fn the_revoked_bars_open_every_kind_of_revocation() {
    let app = spawn_app().await;
    let browser = app.setup_admin().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let c = &mut tokenwarden::db::connect(&app.database_url).unwrap();
    let tess_actor = actor(c, tess);
    let admin = actor(c, app.user_id("admin"));
    // 60 deleted one by one, then two revoked all at once: 62 revocations, 61 events.
    for _ in 0..60 {
        let id = create(c, tess, tess, ExpiryChoice::Days(30));
        tokens::delete(c, &tess_actor, tess, &TokenRef::Id(id)).expect("delete");
    }
    create(c, tess, tess, ExpiryChoice::Days(30));
    create(c, tess, tess, ExpiryChoice::Days(30));
    tokens::revoke_all(c, &admin, tess).expect("revoke all");

    let dashboard = browser.get_html("/admin").await;
    assert!(dashboard.contains("and 62 revoked."), "the chart counts every revocation");
    let monday = token_tally::week_of(now().date());
    let link =
        format!("/admin/audit?action=token.revocations&from={monday}&to={}", monday + Duration::days(6));
    assert!(
        dashboard.contains(&format!("href=\"{}\"", link.replace('&', "&#38;"))),
        "the bars open every kind of revocation"
    );
    let first = browser.get_html(&link).await;
    let actions = |page: &str| {
        page.split("<td data-label=\"Action\">")
            .skip(1)
            .map(|cell| cell.contains("token.deleted"))
            .collect::<Vec<_>>()
    };
    let on_first = actions(&first);
    assert_eq!(on_first.len(), 50, "a full first page");
    assert!(!on_first[0], "newest first: the revoke-all comes before the deletions");
    let next = next_audit_page(&first);
    let on_second = actions(&browser.get_html(&next).await);
    assert_eq!(on_second.len(), 11, "the rest on the second page, none twice");
    assert!(on_second.iter().all(|deleted| *deleted));
}

/// One kind of event by one person is read in time order, by an index of (actor, action,
/// time), so that the same walk serves a period too (since migration 000019; before, the
/// revocations an administrator's script made in a year walked every event of the script
/// in it). Page after page it gives every one of that person's events of that kind, newest
/// first, none twice — many of them in the same second — and none of another kind or
/// another person's.
#[actix_web::test]
async fn one_persons_revocations_are_paged_in_time_order() {
    let app = spawn_app().await;
    let browser = app.setup_admin().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let c = &mut tokenwarden::db::connect(&app.database_url).unwrap();
    let (tess_actor, admin) = (actor(c, tess), actor(c, app.user_id("admin")));
    let mut deleted = Vec::new();
    for i in 0..61 {
        let id = create(c, app.user_id("admin"), tess, ExpiryChoice::Days(30));
        tokens::delete(c, &admin, tess, &TokenRef::Id(id)).expect("delete");
        deleted.push(id);
        if i % 20 == 0 {
            let own = create(c, tess, tess, ExpiryChoice::Days(30));
            tokens::delete(c, &tess_actor, tess, &TokenRef::Id(own)).expect("her own deletion");
        }
    }
    let tokens_of = |page: &str| -> Vec<i64> {
        page.split("<td data-label=\"What changed\"><span class=\"muted\">token #")
            .skip(1)
            .map(|cell| cell.split(':').next().unwrap().parse().unwrap())
            .collect()
    };
    let first = browser.get_html("/admin/audit?actor=admin&action=token.deleted").await;
    let next = next_audit_page(&first);
    assert!(
        next.contains("before=") && next.contains("%7E"),
        "the next page starts at a time and an id: {next}"
    );
    let mut seen = tokens_of(&first);
    assert_eq!(seen.len(), 50, "a full first page: {first}");
    seen.extend(tokens_of(&browser.get_html(&next).await));
    deleted.reverse();
    assert_eq!(seen, deleted, "the administrator's 61 deletions, newest first, each once");
}

/// The address of the audit log's next page, as a browser follows it.
fn next_audit_page(page: &str) -> String {
    page.split("href=\"/admin/audit?")
        .find_map(|rest| rest.split_once("\" rel=\"next\"").map(|(query, _)| query.to_owned()))
        .map(|q| format!("/admin/audit?{}", q.replace("&#38;", "&").replace("&amp;", "&")))
        .expect("a link to the next page")
}

/// A token written straight into the table, as an import would, created at `at` with
/// these owner's roles beside it.
fn insert_written(
    c: &mut DbConnection,
    user_id: i64,
    at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    owner_roles: i32,
) -> AccessToken {
    let n = at.and_utc().timestamp();
    AccessToken::insert(
        c,
        &tokenwarden::models::NewAccessToken {
            user_id,
            real_user_id: None,
            purpose: "Written",
            scopes: String::new(),
            digest: &format!("{n:064x}"),
            hint: "tw_…0000",
            workflow_state: "active",
            created_at: at,
            updated_at: at,
            expires_at,
            owner_roles,
        },
    )
    .unwrap()
}

/// Found in review, on SQLite: a token written with the wrong owner's roles was counted
/// twice — SQLite ran the correction's trigger before the tally's, so the correction moved
/// nothing and the tally then counted the wrong roles too.
#[actix_web::test]
async fn a_token_written_with_the_wrong_roles_is_corrected_and_counted_once() {
    let app = spawn_app().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let c = &mut tokenwarden::db::connect(&app.database_url).unwrap();
    let now = now();
    let token = insert_written(c, tess, now, Some(now + Duration::days(30)), 0);
    let stored: i32 =
        access_tokens::table.find(token.id).select(access_tokens::owner_roles).get_result(c).unwrap();
    assert_eq!(OwnerRoles(stored), OwnerRoles::of(&[EnrollmentRole::Teacher], false), "corrected");
    assert_agree(c, "a token written with owner_roles 0");
}

/// Found in review: a week's bar opened its kind of event for every week there was, so the
/// bar said 5 and the list it opened held all of them. Each bar now opens its own week,
/// Monday 00:00 to Sunday 23:59:59 UTC, as the chart counts it.
#[actix_web::test]
async fn each_week_bar_opens_that_weeks_events() {
    let app = spawn_app().await;
    let browser = app.setup_admin().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let c = &mut tokenwarden::db::connect(&app.database_url).unwrap();
    let this_monday = token_tally::week_of(now().date()).and_time(NaiveTime::MIN);
    let last_monday = this_monday - Duration::weeks(1);
    // Written as the service writes them, at times of our choosing: the token and its event.
    let created_at = |at: NaiveDateTime, c: &mut DbConnection| {
        let teacher = OwnerRoles::of(&[EnrollmentRole::Teacher], false).0;
        let token = insert_written(c, tess, at, None, teacher);
        NewAuditEvent { occurred_at: at, ..NewAuditEvent::new(AuditAction::TokenCreated) }
            .subject(tess)
            .token(token.id)
            .record(c)
            .unwrap();
    };
    // Last week: its first and last second, and a Wednesday; the weeks on either side.
    for at in [
        last_monday,
        last_monday + Duration::days(2) + Duration::hours(9),
        this_monday - Duration::seconds(1),
        last_monday - Duration::seconds(1),
        this_monday,
    ] {
        created_at(at, c);
    }

    let dashboard = browser.get_html("/admin").await;
    let week = |monday: NaiveDateTime| {
        format!("from={}&#38;to={}", monday.date(), monday.date() + Duration::days(6))
    };
    let bar = format!("/admin/audit?action=token.created&#38;{}", week(last_monday));
    let label = format!("Created in the week of {}: 3 tokens", last_monday.format("%-d %B"));
    assert!(
        dashboard.contains(&format!("href=\"{bar}\" aria-label=\"{label}\"")),
        "last week's bar counts its three tokens and opens that week: {dashboard}"
    );
    let listed = browser.get_html(&bar.replace("&#38;", "&")).await;
    let rows: Vec<&str> = listed.split("data-label=\"When\"").skip(1).collect();
    assert_eq!(rows.len(), 3, "the bar's three creations, no more: {listed}");
    assert!(rows.iter().all(|r| r.contains("token.created")));
    let last_sunday = (this_monday - Duration::seconds(1)).format("%H:%M").to_string();
    assert!(rows[0].contains(&last_sunday) && rows[2].contains("00:00"), "newest first, both ends in");
    // This week's bar opens this week alone.
    let this_week = browser
        .get_html(&format!("/admin/audit?action=token.created&{}", week(this_monday).replace("&#38;", "&")))
        .await;
    assert_eq!(this_week.matches("data-label=\"When\"").count(), 1);
}

/// The audit log's dates are checked next to their fields, with what was typed kept, and
/// nothing is listed until they are corrected.
#[actix_web::test]
async fn the_audit_logs_dates_are_checked_next_to_their_fields() {
    let app = spawn_app().await;
    let browser = app.setup_admin().await;
    let html = browser.get_html("/admin/audit?actor=admin&from=2026-11-30&to=2026-11-23").await;
    assert!(html.contains("id=\"to-error\">The last day is before the first"), "{html}");
    assert!(html.contains("value=\"2026-11-30\"") && html.contains("value=\"admin\""), "input kept");
    assert!(!html.contains("data-label=\"When\""), "nothing listed: {html}");
    let html = browser.get_html("/admin/audit?from=yesterday").await;
    assert!(html.contains("id=\"from-error\">“yesterday” is not a date"), "{html}");
    assert!(html.contains("aria-invalid=\"true\""));
    let html = browser.get_html("/admin/audit?subject=nobody").await;
    assert!(html.contains("id=\"subject-error\">No user has the login “nobody”."), "{html}");
    // An open end: everything from a day on.
    let today = now().date();
    let html = browser.get_html(&format!("/admin/audit?from={today}")).await;
    assert!(html.contains("setup.completed"), "today's setup: {html}");
    let html = browser.get_html(&format!("/admin/audit?to={}", today - Duration::days(1))).await;
    assert!(html.contains("No events"), "nothing before today: {html}");
}

/// Found in review: three edges of the dated audit log. A last day of 9999-12-31 (typed to
/// mean "no end") found nothing on SQLite; a later page's cursor past a narrowed last day
/// listed the days after it; and a cursor before 4714 BC was a 500 on PostgreSQL.
#[actix_web::test]
async fn the_dated_audit_log_holds_at_its_edges() {
    let app = spawn_app().await;
    let browser = app.setup_admin().await;
    let c = &mut tokenwarden::db::connect(&app.database_url).unwrap();
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap().and_hms_opt(12, 0, 0).unwrap();
    for at in [day(10), day(13)] {
        NewAuditEvent { occurred_at: at, ..NewAuditEvent::new(AuditAction::TokenCreated) }.record(c).unwrap();
    }
    let listed = |html: &str| html.matches("data-label=\"When\"").count();

    let html = browser.get_html("/admin/audit?action=token.created&from=2026-11-01&to=9999-12-31").await;
    assert_eq!(listed(&html), 2, "9999-12-31 is as far as the log goes: {html}");

    // A link to a later page of 1–30 November, with its last day then narrowed to the 11th.
    let later = day(20).and_utc().timestamp_micros();
    let html = browser
        .get_html(&format!(
            "/admin/audit?action=token.created&from=2026-11-01&to=2026-11-11&before={later}~999999"
        ))
        .await;
    assert_eq!(listed(&html), 1, "only the 10th is up to the 11th: {html}");
    assert!(
        html.contains("href=\"/admin/audit?action=token.created&#38;from=2026-11-01&#38;to=2026-11-11\">Newest events</a>"),
        "a later page leads back to the first: {html}"
    );
    assert!(!html.contains("13 Nov"), "{html}");

    let html = browser.get_html("/admin/audit?action=token.created&before=1").await;
    assert!(html.contains("<h2>No older events</h2>"), "{html}");
    assert!(html.contains("href=\"/admin/audit?action=token.created\">Newest events</a>"), "{html}");

    for hostile in [
        "/admin/audit?from=2026-11-01&before=-250000000000000000~1",
        "/admin/audit?before=-250000000000000000~1",
        "/admin/tokens?show=expiring&after=-250000000000000000~1",
        "/admin/tokens?show=unused&after=253402300800000000~1",
    ] {
        assert_eq!(browser.get(hostile).await.status(), StatusCode::OK, "{hostile}");
    }
}

/// All tokens says how many tokens its filters match on all of its pages, not only how many
/// one page shows, and past a thousand says "more than" rather than count a million.
#[actix_web::test]
async fn all_tokens_says_how_many_tokens_match() {
    let app = spawn_app().await;
    let browser = app.setup_admin().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let sam = app.create_user("sam", &["student"], &[]);
    let c = &mut tokenwarden::db::connect(&app.database_url).unwrap();
    for _ in 0..55 {
        create(c, tess, tess, ExpiryChoice::Days(30));
    }
    create(c, sam, sam, ExpiryChoice::Days(30));
    let total = |html: &str| {
        html.split_once("<span id=\"list-total\">")
            .and_then(|(_, rest)| rest.split_once("</span>"))
            .map(|(total, _)| total.to_owned())
    };

    let html = browser.get_html("/admin/tokens?owner=teacher").await;
    assert_eq!(total(&html).as_deref(), Some("55 tokens match."), "{html}");
    let next = html.split("href=\"").find_map(|s| s.split_once("\" rel=\"next\"")).expect("a next page").0;
    let html = browser.get_html(&next.replace("&#38;", "&")).await;
    assert_eq!(total(&html).as_deref(), Some("55 tokens match."), "the same on the next page: {html}");
    let html = browser.get_html("/admin/tokens?owner=student_only").await;
    assert_eq!(total(&html).as_deref(), Some("1 token matches."), "{html}");
    let html = browser.get_html("/admin/tokens?show=active").await;
    assert_eq!(total(&html).as_deref(), Some("56 tokens match."), "{html}");
    let html = browser.get_html("/admin/tokens?show=expired").await;
    assert_eq!(total(&html), None, "an empty list says so instead: {html}");
    assert!(html.contains("No token matches these filters."));

    tokenwarden::seed::run(c, 240, 4, true).unwrap();
    let html = browser.get_html("/admin/tokens").await;
    assert_eq!(total(&html).as_deref(), Some("More than 1,000 tokens match."), "{html}");
    let html = browser.get_html("/admin/tokens?owner=student_only").await;
    let students: usize = total(&html)
        .and_then(|t| t.strip_suffix(" tokens match.").map(|n| n.replace(',', "")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number under a thousand: {html}"));
    let of_students =
        access_tokens::table.filter(access_tokens::owner_roles.eq(OwnerRoles::bit(EnrollmentRole::Student)));
    let student_only_tokens: i64 = match c {
        DbConnection::Sqlite(c) => of_students.count().get_result(c),
        DbConnection::Pg(c) => of_students.count().get_result(c),
    }
    .unwrap();
    assert_eq!(students as i64, student_only_tokens, "every student-only owner's token, counted");
}

/// The count stops as soon as it is past its cap, whichever owner group takes it there,
/// and is exact up to it.
#[actix_web::test]
async fn the_count_of_all_tokens_is_exact_up_to_its_cap_across_owner_groups() {
    let app = spawn_app().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let tom = app.create_user("tom", &["teacher", "student"], &[]);
    let c = &mut tokenwarden::db::connect(&app.database_url).unwrap();
    for owner in [tess, tess, tom, tom] {
        create(c, owner, owner, ExpiryChoice::Days(30));
    }
    let teachers = OwnerFilter::Enrollment(EnrollmentRole::Teacher);
    let count = |c: &mut DbConnection, cap| {
        AccessToken::admin_count(c, TokenFilter::All, teachers, now(), cap).unwrap()
    };
    assert_eq!(count(c, 5), Some(4));
    assert_eq!(count(c, 4), Some(4), "exactly the cap is still a number");
    assert_eq!(count(c, 3), None, "past it, in the second group");
    assert_eq!(count(c, 1), None, "past it, in the first group");
    let students = AccessToken::admin_count(c, TokenFilter::All, OwnerFilter::StudentOnly, now(), 5).unwrap();
    assert_eq!(students, Some(0), "no owner group at all");
}

/// Found in review: All tokens' form sends the fields left empty (`days=&owner=`), and an
/// empty number was a 400 error page — so was every "Next 50 tokens" link; a bar's range
/// (`from=7&days=30`) was lost on filtering again, as the form had no field for it.
#[actix_web::test]
async fn all_tokens_takes_its_form_as_sent() {
    let app = spawn_app().await;
    let browser = app.setup_admin().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let c = &mut tokenwarden::db::connect(&app.database_url).unwrap();
    for _ in 0..55 {
        create(c, tess, tess, ExpiryChoice::Days(30));
    }
    let rows = |html: &str| html.matches("<tr id=\"token-").count();

    let html = browser.get_html("/admin/tokens?show=active&days=&owner=").await;
    assert_eq!(rows(&html), 50, "{html}");
    let next = html.split("href=\"").find_map(|s| s.split_once("\" rel=\"next\"")).expect("a next page").0;
    assert!(!next.contains("days=") && next.contains("show=active"), "{next}");
    assert!(!html.contains("First page"), "on the first page");
    let html = browser.get_html(&next.replace("&#38;", "&")).await;
    assert_eq!(rows(&html), 5, "the last five: {html}");
    assert!(html.contains("href=\"/admin/tokens?show=active\">First page</a>"), "and back: {html}");

    // A bar's range, filtered again by owner: its first day is a field of the form.
    let html = browser.get_html("/admin/tokens?show=expiring&from=7&days=60&owner=teacher").await;
    assert!(
        html.contains("id=\"from\" name=\"from\" type=\"number\" min=\"0\" max=\"3649\" value=\"7\""),
        "{html}"
    );
    assert!(html.contains("Tokens expiring in 8 to 60 days, soonest first. Owners: Teachers"), "{html}");
    assert_eq!(rows(&html), 50);
    let html = browser.get_html("/admin/tokens?show=expiring&from=30&days=60").await;
    assert_eq!(rows(&html), 0, "each expires in 30 days: not after day 30");

    // Numbers that are not, or a range that ends before it starts: said next to the field,
    // what was typed kept, nothing listed.
    let html = browser.get_html("/admin/tokens?show=unused&days=soon&owner=ta").await;
    assert!(html.contains("id=\"days-error\">“soon” is not a number of days from 1 to 3650."), "{html}");
    // Found walking the pages: "N days" was explained only by a placeholder, gone once typed.
    assert!(
        html.contains("aria-describedby=\"days-error days-help\" aria-invalid=\"true\"")
            && html.contains("(empty: 7) and “Not used for N days” (empty: 30)"),
        "{html}"
    );
    assert!(html.contains("value=\"soon\"") && html.contains("<option value=\"ta\" selected>"), "{html}");
    assert_eq!(rows(&html), 0);
    let html = browser.get_html("/admin/tokens?show=expiring&from=30&days=7").await;
    assert!(html.contains("id=\"days-error\">The range starts after day 30"), "{html}");
    let html = browser.get_html("/admin/tokens?show=expiring&from=-1").await;
    assert!(html.contains("id=\"from-error\">“-1” is not a number of days from 0 to 3649."), "{html}");

    let html = browser.get_html("/admin/tokens?show=expiring&from=3649&days=3650").await;
    assert!(html.contains("Tokens expiring in 3650 days, soonest first"), "{html}");

    // A later page emptied (its tokens revoked meanwhile) says so, with the way back.
    let html = browser.get_html("/admin/tokens?show=active&after=1").await;
    assert!(html.contains("<h2>No more tokens here</h2>"), "{html}");
    assert!(html.contains("href=\"/admin/tokens?show=active\">First page</a>"), "{html}");

    let html = browser.get_html("/admin/tokens?show=expiring&days=1&owner=ta").await;
    assert!(html.contains("Tokens expiring within 1 day, soonest first. Owners: TAs"), "{html}");
}

/// Writes a token on another connection once the figures' first query has run.
struct WriteMidway {
    other: Option<(DbConnection, i64)>,
}

impl diesel::connection::Instrumentation for WriteMidway {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        if let diesel::connection::InstrumentationEvent::FinishQuery { query, .. } = event
            && query.to_string().starts_with("SELECT")
            && let Some((mut other, tess)) = self.other.take()
        {
            create(&mut other, tess, tess, ExpiryChoice::Days(30));
        }
    }
}

/// Found in review: the dashboard's figures were read in several statements, each seeing
/// the tokens as they were at that moment, so a token written (or a sweep run) in between
/// was in some figures and not in others. They are now read from one snapshot.
#[actix_web::test]
async fn the_figures_are_read_from_one_snapshot() {
    let app = spawn_app().await;
    let tess = app.create_user("tess", &["teacher"], &[]);
    let c = &mut tokenwarden::db::connect(&app.database_url).unwrap();
    for _ in 0..3 {
        create(c, tess, tess, ExpiryChoice::Days(30));
    }
    let other = tokenwarden::db::connect(&app.database_url).unwrap();
    c.set_instrumentation(WriteMidway { other: Some((other, tess)) });
    let figures = TokenFigures::load(c, now()).unwrap();
    c.set_instrumentation(WriteMidway { other: None });
    // Every token was created this week and none has gone: this week's creations are the
    // working tokens — 3 before the write, 4 after, never a mix.
    let created = figures.weeks.last().expect("this week").1;
    let working = figures.live.working(OwnerFilter::Anyone);
    assert_eq!((created, working), (3, 3), "the figures as they were when the first was read");
    assert_agree(c, "a token written while the figures were read");
}
