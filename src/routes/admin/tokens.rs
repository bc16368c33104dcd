//! `/admin/tokens` — every token in the account, filterable, so an administrator can find
//! long-lived or unused tokens and revoke them (SPEC 5).

use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::guard::{Require, ViewTokens};
use crate::domain::{EnrollmentRole, Permission, now};
use crate::error::AppError;
use crate::models::{AccessToken, OwnerFilter, TokenFilter};
use crate::routes::render;
use crate::state::AppState;
use crate::views::page::PageCtx;
use crate::views::tokens::TokenRow;

const PER_PAGE: i64 = 50;

#[derive(Deserialize, Default, Clone)]
pub struct Filters {
    #[serde(default)]
    show: String,
    days: Option<i64>,
    #[serde(default)]
    owner: String,
    before: Option<i64>,
}

impl Filters {
    fn days(&self, default: i64) -> i64 {
        self.days.unwrap_or(default).clamp(1, 3650)
    }

    fn token_filter(&self) -> TokenFilter {
        match self.show.as_str() {
            "no_expiry" => TokenFilter::NoExpiry,
            "expiring" => TokenFilter::ExpiringWithin(self.days(7)),
            "unused" => TokenFilter::UnusedFor(self.days(30)),
            "never_used" => TokenFilter::NeverUsed,
            "expired" => TokenFilter::Expired,
            _ => TokenFilter::All,
        }
    }

    fn owner_filter(&self) -> OwnerFilter {
        match self.owner.as_str() {
            "student_only" => OwnerFilter::StudentOnly,
            "account_role" => OwnerFilter::AccountRole,
            other => EnrollmentRole::parse(other).map_or(OwnerFilter::Anyone, OwnerFilter::Enrollment),
        }
    }
}

pub struct AdminTokenRow {
    pub owner_id: i64,
    pub owner_name: String,
    pub owner_login: String,
    pub token: TokenRow,
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct TokensPage {
    ctx: PageCtx,
    show: String,
    days: String,
    owner: String,
    rows: Vec<AdminTokenRow>,
    next: Option<String>,
    can_delete: bool,
}

/// `GET /admin/tokens`
#[get("/admin/tokens")]
pub async fn index(
    ctx: PageCtx,
    me: Require<ViewTokens>,
    state: web::Data<AppState>,
    filters: web::Query<Filters>,
) -> Result<HttpResponse, AppError> {
    let filters = filters.into_inner();
    let (token_filter, owner_filter, before) =
        (filters.token_filter(), filters.owner_filter(), filters.before);
    let now = now();
    let (rows, next) = crate::db::run(&state.pool, move |conn| -> Result<_, AppError> {
        Ok(AccessToken::admin_page(conn, token_filter, owner_filter, before, now, PER_PAGE)?)
    })
    .await?;
    let names = Default::default();
    let rows = rows
        .iter()
        .map(|(t, u)| AdminTokenRow {
            owner_id: u.id,
            owner_name: u.name.clone(),
            owner_login: u.login.clone(),
            token: TokenRow::new(t, &names, now),
        })
        .collect();
    let days = filters.days.map(|d| d.to_string()).unwrap_or_default();
    let next = next.map(|b| {
        serde_urlencoded::to_string([
            ("show", filters.show.as_str()),
            ("days", days.as_str()),
            ("owner", filters.owner.as_str()),
            ("before", &b.to_string()),
        ])
        .unwrap_or_default()
    });
    render(&TokensPage {
        ctx,
        show: filters.show,
        days,
        owner: filters.owner,
        rows,
        next,
        can_delete: me.can(Permission::DeleteTokens),
    })
}
