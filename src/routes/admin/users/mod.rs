//! `/admin/users` (search) and `/admin/users/{id}/…` — one module per part of a user's
//! administration: the profile page, roles, state and sessions, tokens on their behalf.

pub mod import;
pub mod new;
pub mod profile;
pub mod roles;
pub mod state;
pub mod tokens;

use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::guard::{ManageUsers, Require};
use crate::error::AppError;
use crate::models::{User, UserOrder, UserRoles};
use crate::routes::render;
use crate::state::AppState;
use crate::views::page::PageCtx;

const PER_PAGE: u32 = 25;

/// A user as a list shows them.
pub struct UserRow {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<String>,
    pub suspended: bool,
    /// When they were created (the list's order).
    pub added: String,
}

pub(super) fn role_labels(roles: &UserRoles) -> Vec<String> {
    roles
        .enrollment
        .iter()
        .map(|r| r.label().to_owned())
        .chain(roles.account.iter().map(|r| r.name.clone()))
        .collect()
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    ctx: PageCtx,
    q: String,
    newest: bool,
    rows: Vec<UserRow>,
    /// How many people there are, grouped by thousands: for the whole list only (counting a
    /// search's matches would read every user for a rare pair of letters).
    total: Option<String>,
    /// The first and the next page's query strings.
    first: String,
    previous: Option<String>,
    next: Option<String>,
    first_page: bool,
}

#[derive(Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    /// `newest` for the newest first; anything else is the order they were created in.
    #[serde(default)]
    sort: String,
    /// As written in the address: anything but a number is the first page.
    #[serde(default)]
    after: String,
    /// The page before this user (Previous page); anything but a number is ignored.
    #[serde(default)]
    before: String,
}

/// `GET /admin/users` — search by login, name or email, oldest or newest first;
/// keyset-paginated.
#[get("/admin/users")]
pub async fn index(
    ctx: PageCtx,
    _me: Require<ManageUsers>,
    state: web::Data<AppState>,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AppError> {
    let UsersQuery { q, sort, after, before } = query.into_inner();
    // The search as it is looked for (see `User::search`), shown and carried in the links.
    let q: String = q.trim().chars().filter(|c| !c.is_control()).collect();
    let after: i64 = after.trim().parse().unwrap_or(0);
    let before: i64 = before.trim().parse().ok().filter(|b| *b > 0).unwrap_or(0);
    let order = UserOrder::parse(sort.trim());
    let needle = q.clone();
    let (page, roles, total) = crate::db::run_within(
        &state.pool,
        crate::db::ACCOUNT_VIEW_WITHIN,
        move |conn| -> Result<_, AppError> {
            let page = if before > 0 {
                // The page before: the users past `before` the other way round, turned back.
                let mut page = User::search(conn, &needle, order.reversed(), before, PER_PAGE)?;
                page.users.reverse();
                page
            } else {
                User::search(conn, &needle, order, after, PER_PAGE)?
            };
            let ids: Vec<i64> = page.users.iter().map(|u| u.id).collect();
            let roles = User::roles_of_many(conn, &ids)?;
            let total = if needle.is_empty() { Some(User::count(conn)?) } else { None };
            Ok((page, roles, total))
        },
    )
    .await?;
    let rows = page
        .users
        .iter()
        .map(|u| UserRow {
            id: u.id,
            login: u.login.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            roles: roles.get(&u.id).map(role_labels).unwrap_or_default(),
            suspended: !u.is_active(),
            added: crate::views::tokens::date(u.created_at),
        })
        .collect();
    let at = |cursor: Option<(&str, i64)>| {
        let mut params = vec![("q", q.clone())];
        params.extend(order.param().map(|p| ("sort", p.to_owned())));
        params.extend(cursor.map(|(name, id)| (name, id.to_string())));
        serde_urlencoded::to_string(params).unwrap_or_default()
    };
    let (first_id, last_id) = (page.users.first().map(|u| u.id), page.users.last().map(|u| u.id));
    // Coming back (`before`), there is a page after this one, and one before it while the
    // search found more than a page; going forward, the other way round.
    let (has_previous, has_next) =
        if before > 0 { (page.next_after.is_some(), true) } else { (after > 0, page.next_after.is_some()) };
    let previous = first_id.filter(|_| has_previous).map(|id| at(Some(("before", id))));
    let next = last_id.filter(|_| has_next).map(|id| at(Some(("after", id))));
    render(&UsersPage {
        ctx,
        newest: order == UserOrder::Newest,
        rows,
        total: total.map(crate::views::dashboard::thousands),
        first: at(None),
        // A page reached backwards past the start (a hand-made `before`) is past the end.
        first_page: previous.is_none() && after == 0 && (before == 0 || !page.users.is_empty()),
        previous,
        next,
        q,
    })
}
