//! The query plans of the account-wide views (issue 16): every statement that the
//! dashboard, each `/admin/tokens` filter and owner, the user search, the audit log and a
//! profile page run — captured as the app sends them — is explained by the database, the
//! plans are written to `target/query-plans-<backend>.txt`, and each must read the index
//! range its view was built for: no sort of a large set, no scan of every token.
//!
//! On PostgreSQL the plan is the generic one (parameters unknown), with sequential scans
//! discouraged: at a test's size a sequential scan is cheapest, and what is checked is
//! that an index can serve each query. Which index PostgreSQL then picks, and whether it
//! sorts, depends on its statistics: the plans at a million tokens are in the README.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use tokenwarden::db::DbConnection;
use tokenwarden::domain::now;
use tokenwarden::domain::owner_roles::OwnerFilter;
use tokenwarden::domain::{EnrollmentRole, PermissionSet};
use tokenwarden::models::{
    AccessToken, AuditAction, AuditEvent, AuditQuery, Cursor, TokenFigures, TokenFilter, User, UserOrder,
    UserSession,
};

use crate::helpers::spawn_app;

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The plan of `sql` (placeholders unbound), one line per step.
fn explain(conn: &mut DbConnection, sql: &str) -> Vec<String> {
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<SqlitePlanRow>(c)
            .unwrap_or_else(|e| panic!("explain {sql}: {e}"))
            .into_iter()
            .map(|r| r.detail)
            .collect(),
        DbConnection::Pg(c) => {
            let params = (1..=20).rev().find(|n| sql.contains(&format!("${n}"))).unwrap_or(0);
            diesel::sql_query(format!("PREPARE planned AS {sql}")).execute(c).unwrap();
            let nulls = vec!["NULL"; params].join(", ");
            let execute = if params == 0 {
                "EXPLAIN EXECUTE planned".to_owned()
            } else {
                format!("EXPLAIN EXECUTE planned({nulls})")
            };
            let plan = diesel::sql_query(execute).load::<PgPlanRow>(c).unwrap();
            diesel::sql_query("DEALLOCATE planned").execute(c).unwrap();
            plan.into_iter().map(|r| r.line).collect()
        }
    }
}

/// PostgreSQL: the plan of `sql` for these parameter values (SQL literals), by bitmap
/// scans only — at a test's few hundred users, walking the primary key is cheaper than
/// any other index, and what is checked is that the trigram index can serve the search.
fn explain_with(conn: &mut DbConnection, sql: &str, values: &[String]) -> Vec<String> {
    let DbConnection::Pg(c) = conn else { return explain(conn, sql) };
    diesel::sql_query("SET plan_cache_mode = force_custom_plan").execute(c).unwrap();
    diesel::sql_query("SET enable_indexscan = off").execute(c).unwrap();
    diesel::sql_query(format!("PREPARE planned AS {sql}")).execute(c).unwrap();
    let plan = diesel::sql_query(format!("EXPLAIN EXECUTE planned({})", values.join(", ")))
        .load::<PgPlanRow>(c)
        .unwrap();
    diesel::sql_query("DEALLOCATE planned").execute(c).unwrap();
    diesel::sql_query("SET plan_cache_mode = force_generic_plan").execute(c).unwrap();
    diesel::sql_query("SET enable_indexscan = on").execute(c).unwrap();
    plan.into_iter().map(|r| r.line).collect()
}

/// The statements `run` sends, without their binds.
fn captured(
    conn: &mut DbConnection,
    log: &Arc<Mutex<Vec<String>>>,
    run: impl FnOnce(&mut DbConnection),
) -> Vec<String> {
    let pg = matches!(conn, DbConnection::Pg(_));
    let sqls = selects(conn, log, run);
    // SQLite prepares a statement whose LIMIT is bound again every time it runs, so the
    // views write theirs; PostgreSQL's generic plan for a written one is made for the
    // average key's rows, so there they bind it (`db::AtMost`).
    for sql in &sqls {
        for after in sql.split(" LIMIT ").skip(1) {
            let bound = after.starts_with('$') || after.starts_with('?');
            assert_eq!(bound, pg, "a LIMIT {}: {sql}", if bound { "bound" } else { "written" });
        }
    }
    sqls
}

/// The SELECT statements `run` sent.
fn selects(
    conn: &mut DbConnection,
    log: &Arc<Mutex<Vec<String>>>,
    run: impl FnOnce(&mut DbConnection),
) -> Vec<String> {
    log.lock().unwrap().clear();
    run(conn);
    let sent = std::mem::take(&mut *log.lock().unwrap());
    sent.into_iter()
        .map(|q| q.split(" -- binds:").next().unwrap_or(&q).trim().to_owned())
        .filter(|q| q.starts_with("SELECT"))
        .collect()
}

struct Logger(Arc<Mutex<Vec<String>>>);

impl Instrumentation for Logger {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            self.0.lock().unwrap().push(query.to_string());
        }
    }
}

#[actix_web::test]
async fn every_account_wide_view_reads_an_index_range() {
    let app = spawn_app().await;
    let pg = tokenwarden::db::is_postgres(&app.database_url);
    let root = app.create_user("root", &[], &["Account Admin"]);
    app.issue_token("root", Some(30), &[]);
    let mut seeding = tokenwarden::db::connect(&app.database_url).unwrap();
    tokenwarden::seed::run(&mut seeding, 300, 4, true).unwrap();
    let someone = app.create_user("tess", &["teacher"], &[]);

    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    conn.set_instrumentation(Logger(log.clone()));
    let mut explaining = tokenwarden::db::connect(&app.database_url).unwrap();
    if let DbConnection::Pg(c) = &mut explaining {
        diesel::sql_query("SET plan_cache_mode = force_generic_plan").execute(c).unwrap();
        diesel::sql_query("SET enable_seqscan = off").execute(c).unwrap();
    }

    let now = now();
    let later = Cursor { at: Some(now + Duration::days(3)), id: 10 };
    let filters = [
        ("all", TokenFilter::All, Some(Cursor { at: None, id: 500 })),
        ("active", TokenFilter::Active, None),
        ("no_expiry", TokenFilter::NoExpiry, None),
        ("expiring", TokenFilter::Expiring { from_days: 0, to_days: 7 }, Some(later)),
        ("unused", TokenFilter::UnusedFor(90), Some(Cursor { at: Some(now - Duration::days(200)), id: 3 })),
        ("never_used", TokenFilter::NeverUsed, None),
        ("pending", TokenFilter::Pending, None),
        ("expired", TokenFilter::Expired, Some(Cursor { at: Some(now - Duration::days(3)), id: 900 })),
    ];
    let owners = [
        OwnerFilter::Anyone,
        OwnerFilter::StudentOnly,
        OwnerFilter::Enrollment(EnrollmentRole::Teacher),
        OwnerFilter::AccountRole,
    ];
    let mut plans = Plans { pg, report: String::new(), failures: Vec::new() };
    for (name, filter, after) in filters {
        for owner in owners {
            // The page and the count of the whole list, as the view runs them.
            let sqls = captured(&mut conn, &log, |c| {
                AccessToken::admin_page(c, filter, owner, after, now, 50).unwrap();
                AccessToken::admin_count(c, filter, owner, now, 1000).unwrap();
            });
            let expected: &[&str] = match (owner, name) {
                (OwnerFilter::Anyone, "expiring" | "expired" | "no_expiry") => {
                    &["access_tokens_expires_idx", "access_tokens_expiry_id_idx"]
                }
                (OwnerFilter::Anyone, "unused") => &["access_tokens_live_activity_idx"],
                (OwnerFilter::Anyone, "never_used") => &["access_tokens_last_used_idx"],
                // The page reads the rows; the count reads the index alone, expiry and all.
                (OwnerFilter::Anyone, "pending") => {
                    &["access_tokens_pending_idx", "access_tokens_pending_expiry_idx"]
                }
                (_, "pending") => {
                    &["access_tokens_owner_pending_idx", "access_tokens_owner_pending_expiry_idx"]
                }
                (OwnerFilter::Anyone, _) => &[],
                (_, "unused") => &["access_tokens_owner_live_activity_idx"],
                (_, _) => &["access_tokens_owner_idx", "access_tokens_owner_expiry_idx"],
            };
            // The owners' roles in use come from the tally: one small read.
            let sqls: Vec<String> = sqls.into_iter().filter(|s| !s.contains("token_tallies")).collect();
            // The waiting tokens' count reads their index alone, expiry and all (migration
            // 2026-12-05-000016): a row of the table for each was 190 ms cold at a million.
            if !pg && name == "pending" {
                for count in sqls.iter().filter(|s| s.starts_with("SELECT `access_tokens`.`id` FROM")) {
                    let plan = explain(&mut explaining, count).join("\n");
                    if !plan.contains("COVERING INDEX") {
                        plans
                            .failures
                            .push(format!("count of {name}, {owner:?}: reads the table\n{count}\n{plan}"));
                    }
                }
            }
            plans.check(
                format!("/admin/tokens?show={name}&owner={}", owner.key()),
                sqls,
                expected,
                &mut explaining,
            );
        }
    }

    let sqls = captured(&mut conn, &log, |c| {
        TokenFigures::load(c, now).unwrap();
    });
    plans.check(
        "/admin (the dashboard)".into(),
        sqls,
        &["access_tokens_expiry_tally_idx", "access_tokens_expires_idx", "access_tokens_live_activity_idx"],
        &mut explaining,
    );

    for (q, order) in [("tess@", UserOrder::Oldest), ("ab", UserOrder::Oldest), ("tess@", UserOrder::Newest)]
    {
        let sqls = captured(&mut conn, &log, |c| {
            User::search(c, q, order, 0, 50).unwrap();
        });
        let index: &[&str] = if q.len() >= 3 { &["users_search"] } else { &[] };
        // PostgreSQL plans this statement with its values each time (diesel sends it
        // unprepared: it has SQL of its own), so its plan is the one for these values.
        let past = if order == UserOrder::Newest { i64::MAX } else { 0 };
        let values = [past.to_string(), format!("'%{q}%'"), String::from("51")];
        let text: Vec<String> = sqls
            .iter()
            .map(|s| {
                if pg { explain_with(&mut explaining, s, &values) } else { explain(&mut explaining, s) }
                    .join("\n")
            })
            .collect();
        if !index.is_empty() {
            assert!(
                text.iter().any(|t| index.iter().any(|i| t.contains(i))),
                "the user search for {q:?}: {text:#?}"
            );
        }
        plans.report.push_str(&format!(
            "## /admin/users?q={q}{}\n{}\n{}\n\n",
            order.param().map(|p| format!("&sort={p}")).unwrap_or_default(),
            sqls.join("\n"),
            text.join("\n")
        ));
    }

    let week = (Some(now - Duration::days(7)), Some(now));
    for (name, query) in [
        ("", AuditQuery::default()),
        (
            "action",
            AuditQuery {
                actions: vec!["token.created"],
                before: Some(Cursor { at: None, id: 1000 }),
                ..Default::default()
            },
        ),
        ("dates", AuditQuery { between: week, ..Default::default() }),
        (
            "action and dates, a later page",
            AuditQuery {
                actions: vec!["token.created"],
                between: week,
                before: Some(Cursor { at: Some(now - Duration::days(2)), id: 1000 }),
                ..Default::default()
            },
        ),
        (
            "revocations and dates",
            AuditQuery {
                actions: AuditAction::REVOCATIONS.1.iter().map(|a| a.key()).collect(),
                between: week,
                ..Default::default()
            },
        ),
        ("actor and dates", AuditQuery { actor_id: Some(someone), between: week, ..Default::default() }),
        (
            "revocations (one walk per action)",
            AuditQuery {
                actions: AuditAction::REVOCATIONS.1.iter().map(|a| a.key()).collect(),
                ..Default::default()
            },
        ),
        ("actor", AuditQuery { actor_id: Some(someone), ..Default::default() }),
        ("subject", AuditQuery { subject_id: Some(someone), actions: vec!["login"], ..Default::default() }),
        (
            "actor and revocations",
            AuditQuery {
                actor_id: Some(someone),
                actions: AuditAction::REVOCATIONS.1.iter().map(|a| a.key()).collect(),
                ..Default::default()
            },
        ),
        (
            "actor, revocations and dates",
            AuditQuery {
                actor_id: Some(someone),
                actions: AuditAction::REVOCATIONS.1.iter().map(|a| a.key()).collect(),
                between: week,
                ..Default::default()
            },
        ),
        (
            "subject, action and dates, a later page",
            AuditQuery {
                subject_id: Some(someone),
                actions: vec!["login"],
                between: (week.0, None),
                before: Some(Cursor { at: Some(now - Duration::days(2)), id: 1000 }),
                ..Default::default()
            },
        ),
        (
            "actor and subject",
            AuditQuery { actor_id: Some(root), subject_id: Some(someone), ..Default::default() },
        ),
        (
            "actor, subject and dates",
            AuditQuery {
                actor_id: Some(root),
                subject_id: Some(someone),
                between: week,
                ..Default::default()
            },
        ),
        (
            "actor, subject, action and dates",
            AuditQuery {
                actor_id: Some(root),
                subject_id: Some(someone),
                actions: vec!["user.updated"],
                between: week,
                ..Default::default()
            },
        ),
        (
            "actor, subject and action",
            AuditQuery {
                actor_id: Some(root),
                subject_id: Some(someone),
                actions: vec!["user.updated"],
                ..Default::default()
            },
        ),
    ] {
        let sqls = captured(&mut conn, &log, |c| {
            AuditEvent::page(c, &query, 50).unwrap();
        });
        for sql in sqls {
            let plan = explain(&mut explaining, &sql).join("\n");
            if !name.is_empty() {
                assert!(plan.contains("audit_events_"), "/admin/audit by {name} reads an index: {plan}");
            }
            assert!(
                !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
                "/admin/audit by {name} sorts: {plan}"
            );
            // One kind of event by or about one user: that user's events of that kind alone,
            // not all of theirs (an administrator's script may have acted 200,000 times).
            let kind_of = match name {
                "subject" | "subject, action and dates, a later page" => Some("subject"),
                "actor and revocations" | "actor, revocations and dates" => Some("actor"),
                _ => None,
            };
            if let Some(whose) = kind_of {
                assert!(
                    reads_one_kind_of_one_user(&plan, whose),
                    "/admin/audit by {name} keeps a kind: {sql}\n{plan}"
                );
            }
            // A period is a range of the index walked, not a filter of a walk from the newest.
            if name.contains("dates") {
                assert!(
                    plan.contains("occurred_at>")
                        || plan.lines().any(|l| l.contains("Index Cond") && l.contains("occurred_at")),
                    "/admin/audit by {name} walks its period: {plan}"
                );
            }
            // What one user did to another: found from the subject's side, not by walking
            // everything the actor did (an administrator's script may have acted 200,000 times).
            if name.starts_with("actor, subject") || name == "actor and subject" {
                let pair = name == "actor and subject";
                assert!(
                    !plan.contains("audit_events_actor_")
                        && plan.contains(if pair {
                            "audit_events_subject_actor_idx"
                        } else {
                            "audit_events_subject_"
                        }),
                    "/admin/audit by {name} walks the subject's events: {plan}"
                );
            }
            plans.report.push_str(&format!("## /admin/audit by {name}\n{sql}\n{plan}\n\n"));
        }
    }

    let sqls = captured(&mut conn, &log, |c| {
        AccessToken::page_for_user(c, someone, true, 0, 50).unwrap();
        AccessToken::count_for_user(c, someone).unwrap();
        let _ = PermissionSet::empty();
    });
    // The profile's recent activity: as subject or as actor, neither sorted.
    let activity = captured(&mut conn, &log, |c| {
        AuditEvent::recent_for_user(c, someone, 15).unwrap();
    });
    for sql in activity {
        let plan = explain(&mut explaining, &sql).join("\n");
        assert!(plan.contains("audit_events_"), "a profile's activity reads an index: {plan}");
        assert!(
            !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
            "a profile's activity sorts: {plan}"
        );
        plans.report.push_str(&format!("## /admin/users/{{id}} (activity)\n{sql}\n{plan}\n\n"));
    }
    plans.check(
        "/admin/users/{id} (a profile's tokens)".into(),
        sqls,
        &["access_tokens_user_idx"],
        &mut explaining,
    );

    let backend = if pg { "postgresql" } else { "sqlite" };
    let path = crate::helpers::target_dir().join(format!("query-plans-{backend}.txt"));
    std::fs::write(&path, &plans.report).unwrap();
    assert!(
        plans.failures.is_empty(),
        "plans that do not read an index range (all plans in {}):\n{}",
        path.display(),
        plans.failures.join("\n\n")
    );
}

/// A token presented to the API or a gateway, and a session to the pages, is read by one
/// statement on every request: the token by its digest's unique index (the session by its
/// id's), the owner and roles by their keys — and only the columns a request needs: never
/// the user's password hash or sign-in links, nor the token's purpose or hint, nor the
/// session's address and browser.
#[actix_web::test]
async fn a_presented_token_or_session_is_one_indexed_statement_that_reads_no_credentials() {
    let app = spawn_app().await;
    let pg = tokenwarden::db::is_postgres(&app.database_url);
    app.create_user("sam", &["student"], &["Account Admin"]);
    let issued = app.issue_token("sam", Some(30), &[]);
    let digest =
        tokenwarden::domain::token_secret::verify_presented(&issued.secret).expect("a token's shape");
    app.signed_in("sam").await;

    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    let session: String = tokenwarden::db::schema::user_sessions::table
        .select(tokenwarden::db::schema::user_sessions::id_digest)
        .first(&mut conn)
        .expect("sam's session");
    conn.set_instrumentation(Logger(log.clone()));
    let token_sql = captured(&mut conn, &log, |c| {
        let admitted = tokenwarden::auth::bearer::admit(c, &digest, 600).unwrap().expect("admitted");
        assert_eq!((admitted.token.id, admitted.owner.login.as_str()), (issued.id, "sam"));
        assert_eq!(admitted.roles.enrollment, [EnrollmentRole::Student]);
        assert!(admitted.roles.account.iter().any(|r| r.name == "Account Admin"));
    });
    let session_sql = captured(&mut conn, &log, |c| {
        let (_, user, roles) = UserSession::find_with_user(c, &session).unwrap().expect("sam's session");
        assert_eq!(
            (user.login.as_str(), roles.enrollment.as_slice()),
            ("sam", [EnrollmentRole::Student].as_slice())
        );
    });

    let mut explaining = tokenwarden::db::connect(&app.database_url).unwrap();
    if let DbConnection::Pg(c) = &mut explaining {
        diesel::sql_query("SET plan_cache_mode = force_generic_plan").execute(c).unwrap();
        diesel::sql_query("SET enable_seqscan = off").execute(c).unwrap();
    }
    // What a request may read: a new column of `users` (a second factor's secret, say) is
    // not read until it is added here.
    let owner = [
        "users.id",
        "users.login",
        "users.name",
        "users.email",
        "users.state",
        "users.time_zone",
        "users.locale",
        "user_roles.role",
        "account_roles.id",
        "account_roles.name",
        "account_roles.permissions",
        "account_roles.built_in",
        "account_roles.created_at",
    ];
    let token_columns = [
        "access_tokens.id",
        "access_tokens.scopes",
        "access_tokens.workflow_state",
        "access_tokens.created_at",
        "access_tokens.expires_at",
        "access_tokens.last_used_at",
    ];
    let session_columns = ["user_sessions.created_at", "user_sessions.last_seen_at"];
    let cases = [
        (
            "token",
            token_sql,
            [token_columns.as_slice(), &owner].concat(),
            "access_tokens",
            "access_tokens_digest_key",
        ),
        (
            "session",
            session_sql,
            [session_columns.as_slice(), &owner].concat(),
            "user_sessions",
            "user_sessions_pkey",
        ),
    ];
    for (what, sqls, allowed, table, pg_key) in cases {
        assert_eq!(sqls.len(), 1, "a {what}: one SELECT: {sqls:#?}");
        let sql = &sqls[0];
        let (columns, _) = sql.trim_start_matches("SELECT ").split_once(" FROM ").expect("a select");
        let read: Vec<String> = columns.split(", ").map(|c| c.replace(['`', '"'], "")).collect();
        assert_eq!(read, allowed, "the columns a {what}'s look-up reads: {sql}");
        let plan = explain(&mut explaining, sql).join("\n");
        if pg {
            assert!(plan.contains(&format!("Index Scan using {pg_key}")), "{what}: {plan}");
            assert!(!plan.contains("Seq Scan") && !plan.contains("Sort"), "{what}: {plan}");
        } else {
            assert!(
                plan.lines().next().is_some_and(|l| l.contains(&format!("SEARCH {table} USING INDEX"))),
                "{what}: {plan}"
            );
            assert!(plan.lines().all(|l| l.contains("SEARCH")), "a {what}: each table by its key: {plan}");
        }
    }
}

/// Whether `plan` finds the events by their `whose` ("subject" or "actor") and action in one
/// index, in time order: not every event about or by the user (or every one of theirs in a
/// period), to keep those of one kind.
fn reads_one_kind_of_one_user(plan: &str, whose: &str) -> bool {
    let first = plan.lines().next().unwrap_or_default();
    let column = if whose == "subject" { "subject_user_id" } else { "actor_id" };
    let by_index = if first.starts_with("SEARCH") {
        first.contains(&format!("audit_events_{whose}_action_time_idx ({column}=? AND action=?"))
    } else {
        plan.contains(&format!("Index Scan Backward using audit_events_{whose}_action_time_idx"))
            && plan.lines().any(|l| l.contains("Index Cond") && l.contains("(action = "))
    };
    by_index && !plan.contains("TEMP B-TREE") && !plan.contains("Sort")
}

/// A student's own Access Tokens page names their five latest tokens revoked as leaked, on
/// every view: one index walk of that user's leaks. By the subject's index, it read every
/// event about them of the last 30 days and kept the leaks — thousands of rows for a user
/// whose tokens a script churns through, on every view of their page.
#[actix_web::test]
async fn the_leak_notes_of_a_tokens_page_read_the_owners_leaks_alone() {
    let app = spawn_app().await;
    let sam = app.create_user("sam", &["student"], &[]);
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    conn.set_instrumentation(Logger(log.clone()));
    let sqls = captured(&mut conn, &log, |c| {
        let since = now() - Duration::days(30);
        AuditEvent::recent_of_kind::<5>(c, sam, AuditAction::TokenLeaked, since).unwrap();
    });
    assert_eq!(sqls.len(), 1, "one statement: {sqls:#?}");
    let mut explaining = tokenwarden::db::connect(&app.database_url).unwrap();
    if let DbConnection::Pg(c) = &mut explaining {
        diesel::sql_query("SET plan_cache_mode = force_generic_plan").execute(c).unwrap();
        diesel::sql_query("SET enable_seqscan = off").execute(c).unwrap();
    }
    let plan = explain(&mut explaining, &sqls[0]).join("\n");
    assert!(reads_one_kind_of_one_user(&plan, "subject"), "the leak notes' plan: {}\n{plan}", sqls[0]);
}

/// The plans seen, and those that miss their index.
struct Plans {
    pg: bool,
    report: String,
    failures: Vec<String>,
}

impl Plans {
    /// Explains each statement of `view`; a sort of the tokens (in a list), a scan of them
    /// all, or none of `must_use` (when given) is a failure.
    fn check(&mut self, view: String, sqls: Vec<String>, must_use: &[&str], conn: &mut DbConnection) {
        // The dashboard groups the tokens of a part of one day by owner: a sort of those few
        // is fine; a list must never sort.
        let sorts_ok = view.starts_with("/admin (");
        assert!(!sqls.is_empty(), "{view} ran no query");
        for sql in sqls {
            let plan = explain(conn, &sql);
            let text = plan.join("\n");
            self.report.push_str(&format!("## {view}\n{sql}\n{text}\n\n"));
            // PostgreSQL sorts or not as its estimates say (a few rows at a test's size).
            let sorts_tokens = !self.pg && text.contains("USE TEMP B-TREE FOR ORDER BY");
            let full_scan = if self.pg {
                text.contains("Seq Scan on access_tokens")
            } else {
                plan.iter().any(|l| l.trim() == "SCAN access_tokens") && !sql.contains("LIMIT")
            };
            // The dashboard's counts by owner and state read the index alone: a row of the
            // table per token counted was most of its time cold.
            if !self.pg && sorts_ok && sql.contains("GROUP BY") && !text.contains("COVERING INDEX") {
                self.failures.push(format!("{view}: counts read the table\n{sql}\n{text}"));
            }
            if (sorts_tokens && !sorts_ok) || full_scan {
                let what = if full_scan { "a full scan" } else { "a sort" };
                self.failures.push(format!("{view}: {what}\n{sql}\n{text}"));
            }
            // Which index PostgreSQL picks is its planner's call, on its statistics: at a
            // test's size it walks the primary key. SQLite's planner has no statistics here
            // (see `seed`), so the index each query was shaped for is the one it must take.
            if !self.pg
                && !must_use.is_empty()
                && sql.contains("access_tokens")
                && !must_use.iter().any(|index| text.contains(index))
            {
                self.failures.push(format!("{view}: none of {must_use:?}\n{sql}\n{text}"));
            }
        }
    }
}

/// The columns of `users` that `sqls` read.
fn users_columns(sqls: &[String]) -> Vec<String> {
    let mut read: Vec<String> = sqls
        .iter()
        .flat_map(|sql| {
            sql.replace(['`', '"'], "")
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .filter_map(|word| word.strip_prefix("users.").map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    read.sort();
    read.dedup();
    read
}

/// The Access Tokens page and every change to a token (create, update, regenerate,
/// activate, delete, revoke all) load the owner through the rules
/// (`services::tokens::Context`), and tell them by e-mail and webhook: what they read of
/// the owner and the actor is their card — never the password hash, the sign-in links or
/// the provisioning ids. Nor does a leak report, nor the expiry reminders.
#[actix_web::test]
async fn the_token_rules_and_their_notices_read_the_owners_card_only() {
    use tokenwarden::domain::token::ExpiryChoice;
    use tokenwarden::services::tokens::{self, TokenDraft, TokenRef};
    use tokenwarden::services::{Actor, Via};

    let app = spawn_app().await;
    let ada = app.create_user("ada", &[], &["Account Admin"]);
    let sam = app.create_user("sam", &["student"], &[]);
    let leaked = app.issue_token("sam", Some(5), &[]);
    let digest =
        tokenwarden::domain::token_secret::verify_presented(&leaked.secret).expect("a token's shape");
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut conn = tokenwarden::db::connect(&app.database_url).unwrap();
    let actor = |conn: &mut DbConnection, id: i64| {
        let roles = User::roles(conn, id).unwrap();
        Actor::user(id, roles.permissions(), roles.is_student_only(), Via::Cli, None)
    };
    let (as_ada, as_sam) = (actor(&mut conn, ada), actor(&mut conn, sam));
    let draft = |purpose: &str| TokenDraft {
        purpose: Some(purpose.into()),
        scopes: Some(vec![]),
        expiry: Some(Ok(ExpiryChoice::Days(30))),
    };
    // An endpoint for every event: each change also writes its webhook, which names the
    // actor and the owner.
    tokenwarden::models::WebhookEndpoint::insert(
        &mut conn,
        &tokenwarden::models::notification::NewWebhookEndpoint {
            url: "https://hooks.example.edu/tokens",
            description: "Every event",
            events: String::new(),
            enabled: true,
            secret_sealed: "not delivered in this test",
            secret_hint: "whsec_…",
            created_at: now(),
            updated_at: now(),
        },
    )
    .unwrap();
    conn.set_instrumentation(Logger(log.clone()));

    let mut sqls = selects(&mut conn, &log, |c| {
        let (rules, list) = tokens::list(c, &as_sam, sam).unwrap();
        assert_eq!((rules.owner.login.as_str(), list.len()), ("sam", 1));
    });
    // Created on sam's behalf: pending, and sam is told by e-mail.
    sqls.extend(selects(&mut conn, &log, |c| {
        let issued = tokens::create(c, &as_ada, sam, &draft("Made for Sam")).unwrap();
        tokens::delete(c, &as_ada, sam, &TokenRef::Id(issued.token.id)).unwrap();
    }));
    let own = selects(&mut conn, &log, |c| {
        let id = tokens::create(c, &as_sam, sam, &draft("Sam's own")).unwrap().token.id;
        // Renamed and regenerated on sam's behalf (the regeneration tells sam), then
        // activated by sam.
        let renamed = TokenDraft { purpose: Some("Sam's, renamed".into()), scopes: None, expiry: None };
        tokens::update(c, &as_ada, sam, &TokenRef::Id(id), &renamed).unwrap();
        tokens::regenerate(c, &as_ada, sam, &TokenRef::Id(id), &draft("Sam's own")).unwrap();
        tokens::activate(c, &as_sam, id).unwrap();
    });
    sqls.extend(own);
    let spare = app.issue_token("sam", Some(30), &[]);
    sqls.extend(selects(&mut conn, &log, |c| {
        assert_eq!(tokens::revoke_leaked(c, &[digest], Some("192.0.2.7".into())).unwrap(), 1);
    }));
    sqls.extend(selects(&mut conn, &log, |c| {
        assert!(tokens::revoke_all(c, &as_ada, sam).unwrap() >= 1, "{} revoked", spare.id);
        tokens::create(c, &as_sam, sam, &draft("Sam's own, again")).unwrap();
    }));
    sqls.extend(selects(&mut conn, &log, |c| {
        // A week before "Sam's own, again" expires: its reminder.
        let done =
            tokenwarden::services::notifications::schedule_expiry(c, now() + Duration::days(24)).unwrap();
        assert!(done.reminders >= 1, "a reminder: {done:?}");
    }));
    let sent = |c: &mut DbConnection| -> i64 {
        tokenwarden::db::schema::notifications::table.count().get_result(c).unwrap()
    };
    // E-mails to sam (the token made, regenerated and revoked for them, the leak, the
    // reminder) and a webhook for each change.
    assert!(sent(&mut conn) >= 12, "sam was told, and so were the webhooks");
    assert!(sqls.iter().any(|s| s.contains("users")), "the owner was read: {sqls:#?}");
    let card = ["email", "id", "locale", "login", "name", "state", "time_zone"];
    assert_eq!(users_columns(&sqls), card, "what the rules and their notices read of a user");
}
