//! `/admin/tokens` — every token in the account, filterable, so an administrator can find
//! long-lived or unused tokens and revoke them (SPEC 5).

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::guard::{Require, ViewTokens};
use crate::domain::owner_roles::OwnerFilter;
use crate::domain::{Permission, now};
use crate::error::AppError;
use crate::models::{AccessToken, Cursor, TokenFilter};
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
    /// With `show=expiring`: after this many days (the dashboard's horizons link so).
    from: Option<i64>,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    after: String,
}

impl Filters {
    fn days(&self, default: i64) -> i64 {
        self.days.unwrap_or(default).clamp(1, 3650)
    }

    fn token_filter(&self) -> TokenFilter {
        match self.show.as_str() {
            "active" => TokenFilter::Active,
            "no_expiry" => TokenFilter::NoExpiry,
            "expiring" => {
                let to_days = self.days(7);
                TokenFilter::Expiring { from_days: self.from.unwrap_or(0).clamp(0, to_days - 1), to_days }
            }
            "unused" => TokenFilter::UnusedFor(self.days(30)),
            "never_used" => TokenFilter::NeverUsed,
            "pending" => TokenFilter::Pending,
            "expired" => TokenFilter::Expired,
            _ => TokenFilter::All,
        }
    }

    /// What the list shows, in words, and in which order.
    fn describe(&self, filter: TokenFilter, owner: OwnerFilter) -> String {
        let what = match filter {
            TokenFilter::All => "All tokens, newest first".to_owned(),
            TokenFilter::Active => "Working tokens (active and unexpired), newest first".to_owned(),
            TokenFilter::NoExpiry => "Tokens without expiry, newest first".to_owned(),
            TokenFilter::Expiring { from_days: 0, to_days } => {
                format!("Tokens expiring within {to_days} days, soonest first")
            }
            TokenFilter::Expiring { from_days, to_days } => {
                format!("Tokens expiring in {} to {to_days} days, soonest first", from_days + 1)
            }
            TokenFilter::UnusedFor(days) => format!(
                "Unexpired tokens not used since before {} ({days} days), longest unused first",
                crate::models::token_tally::unused_since(now(), days).format("%-d %B %Y")
            ),
            TokenFilter::NeverUsed => "Tokens never used, newest first".to_owned(),
            TokenFilter::Pending => {
                "Tokens waiting for their owner to activate them, newest first".to_owned()
            }
            TokenFilter::Expired => "Expired tokens, most recently expired first".to_owned(),
        };
        match owner {
            OwnerFilter::Anyone => what,
            owner => format!("{what}; owners: {}", owner.label().to_lowercase()),
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
    /// What the list shows, and in which order.
    description: String,
    rows: Vec<AdminTokenRow>,
    next: Option<String>,
    can_delete: bool,
    /// The query that brings a revocation asked from this list back to it, as filtered.
    back: String,
}

/// `GET /admin/tokens`
#[get("/admin/tokens")]
pub async fn index(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<ViewTokens>,
    state: web::Data<AppState>,
    filters: web::Query<Filters>,
) -> Result<HttpResponse, AppError> {
    let filters = filters.into_inner();
    let (token_filter, owner_filter) = (filters.token_filter(), OwnerFilter::parse(&filters.owner));
    let after = Cursor::parse(&filters.after);
    let now = now();
    let (rows, next) = crate::db::run_within(
        &state.pool,
        crate::db::ACCOUNT_VIEW_WITHIN,
        move |conn| -> Result<_, AppError> {
            Ok(AccessToken::admin_page(conn, token_filter, owner_filter, after, now, PER_PAGE)?)
        },
    )
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
    let from = filters.from.map(|d| d.to_string()).unwrap_or_default();
    let next = next.map(|c| {
        serde_urlencoded::to_string([
            ("show", filters.show.as_str()),
            ("days", days.as_str()),
            ("from", from.as_str()),
            ("owner", filters.owner.as_str()),
            ("after", &c.param()),
        ])
        .unwrap_or_default()
    });
    let description = filters.describe(token_filter, owner_filter);
    render(&TokensPage {
        ctx,
        show: filters.show,
        days,
        owner: filters.owner,
        description,
        rows,
        next,
        can_delete: me.can(Permission::DeleteTokens),
        back: super::users::tokens::back_query(&match req.query_string() {
            "" => "/admin/tokens".to_owned(),
            query => format!("/admin/tokens?{query}"),
        }),
    })
}
