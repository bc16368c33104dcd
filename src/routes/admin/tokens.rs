//! `/admin/tokens` — every token in the account, filterable, so an administrator can find
//! long-lived or unused tokens and revoke them (SPEC 5).

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;
use std::ops::RangeInclusive;

use crate::auth::guard::{Require, ViewTokens};
use crate::domain::owner_roles::OwnerFilter;
use crate::domain::{Permission, ValidationError, now};
use crate::error::AppError;
use crate::models::{AccessToken, Cursor, TokenFilter};
use crate::routes::render;
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;
use crate::views::tokens::TokenRow;

const PER_PAGE: u32 = 50;
/// The list counts its tokens up to this many; past it, it says "more than".
const COUNT_UP_TO: u32 = 1000;

#[derive(Deserialize, Default, Clone)]
pub struct Filters {
    #[serde(default)]
    show: String,
    /// As typed: a form sends the field empty when it is left so.
    #[serde(default)]
    days: String,
    /// With `show=expiring`: after this many days (the dashboard's horizons link so).
    #[serde(default)]
    from: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    after: String,
}

/// A number of days typed into a filter: `None` when left empty.
fn days_field(
    field: &'static str,
    text: &str,
    range: RangeInclusive<i64>,
) -> Result<Option<i64>, ValidationError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().ok().filter(|d| range.contains(d)).map(Some).ok_or_else(|| {
        ValidationError::new(
            field,
            format!("“{text}” is not a number of days from {} to {}.", range.start(), range.end()),
        )
    })
}

/// "1 day", "30 days".
fn days_word(days: i64) -> String {
    if days == 1 { "1 day".to_owned() } else { format!("{days} days") }
}

impl Filters {
    /// The list the fields ask for, or what is wrong with each field that cannot say.
    fn token_filter(&self) -> Result<TokenFilter, Vec<ValidationError>> {
        let (days, from) =
            match (days_field("days", &self.days, 1..=3650), days_field("from", &self.from, 0..=3649)) {
                (Ok(days), Ok(from)) => (days, from),
                (days, from) => return Err([days.err(), from.err()].into_iter().flatten().collect()),
            };
        Ok(match self.show.as_str() {
            "active" => TokenFilter::Active,
            "no_expiry" => TokenFilter::NoExpiry,
            "expiring" => {
                let (from_days, to_days) = (from.unwrap_or(0), days.unwrap_or(7));
                if from_days >= to_days {
                    return Err(vec![ValidationError::new(
                        "days",
                        format!(
                            "The range starts after day {from_days}: enter more days than that, or empty “Expiring after”."
                        ),
                    )]);
                }
                TokenFilter::Expiring { from_days, to_days }
            }
            "unused" => TokenFilter::UnusedFor(days.unwrap_or(30)),
            "never_used" => TokenFilter::NeverUsed,
            "pending" => TokenFilter::Pending,
            "expired" => TokenFilter::Expired,
            _ => TokenFilter::All,
        })
    }

    /// What the list shows, in words, and in which order.
    fn describe(&self, filter: TokenFilter, owner: OwnerFilter) -> String {
        let what = match filter {
            TokenFilter::All => "All tokens, newest first".to_owned(),
            TokenFilter::Active => "Working tokens (active and unexpired), newest first".to_owned(),
            TokenFilter::NoExpiry => "Tokens without expiry, newest first".to_owned(),
            TokenFilter::Expiring { from_days: 0, to_days } => {
                format!("Tokens expiring within {}, soonest first", days_word(to_days))
            }
            TokenFilter::Expiring { from_days, to_days } if from_days + 1 == to_days => {
                format!("Tokens expiring in {to_days} days, soonest first")
            }
            TokenFilter::Expiring { from_days, to_days } => {
                format!("Tokens expiring in {} to {to_days} days, soonest first", from_days + 1)
            }
            TokenFilter::UnusedFor(days) => format!(
                "Unexpired tokens not used since before {} ({}), longest unused first",
                crate::models::token_tally::unused_since(now(), days).format("%-d %B %Y"),
                days_word(days)
            ),
            TokenFilter::NeverUsed => "Tokens never used, newest first".to_owned(),
            TokenFilter::Pending => {
                "Tokens waiting for their owner to activate them, newest first".to_owned()
            }
            TokenFilter::Expired => "Expired tokens, most recently expired first".to_owned(),
        };
        match owner {
            OwnerFilter::Anyone => what,
            owner => format!("{what}. Owners: {}", owner.label()),
        }
    }
}

/// "1 token matches", "640 tokens match", "More than 1,000 tokens match".
fn how_many(counted: Option<u32>) -> String {
    match counted {
        Some(1) => "1 token matches.".to_owned(),
        Some(n) => format!("{} tokens match.", crate::views::dashboard::thousands(i64::from(n))),
        None => {
            format!("More than {} tokens match.", crate::views::dashboard::thousands(i64::from(COUNT_UP_TO)))
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
    /// The first day of an expiry range, as a dashboard's bar gives it; its field is
    /// shown only then.
    from: String,
    owner: String,
    /// What is wrong with a field, by its name; nothing is listed until it is corrected.
    errors: FieldErrors,
    /// What the list shows, and in which order.
    description: String,
    /// How many tokens the list holds on all its pages, in words.
    total: String,
    rows: Vec<AdminTokenRow>,
    next: Option<String>,
    /// The pages' addresses: the next, and from a later page the first.
    first: Option<String>,
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
    let owner_filter = OwnerFilter::parse(&filters.owner);
    let (token_filter, errors) = match filters.token_filter() {
        Ok(filter) => (Some(filter), FieldErrors::new()),
        Err(errors) => (None, FieldErrors::from(errors)),
    };
    let after = Cursor::parse(&filters.after);
    let now = now();
    let ((rows, next), total) = match token_filter {
        Some(token_filter) => {
            crate::db::run_within(
                &state.pool,
                crate::db::ACCOUNT_VIEW_WITHIN,
                move |conn| -> Result<_, AppError> {
                    crate::db::read_together(conn, |conn| {
                        let page =
                            AccessToken::admin_page(conn, token_filter, owner_filter, after, now, PER_PAGE)?;
                        let total =
                            AccessToken::admin_count(conn, token_filter, owner_filter, now, COUNT_UP_TO)?;
                        Ok((page, total))
                    })
                },
            )
            .await?
        }
        None => ((Vec::new(), None), Some(0)),
    };
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
    // The pages' addresses: the filters as given (those left empty left out), and where
    // the page starts.
    let page = |after: &str| {
        let params = [
            ("show", filters.show.as_str()),
            ("days", filters.days.trim()),
            ("from", filters.from.trim()),
            ("owner", filters.owner.as_str()),
            ("after", after),
        ];
        crate::routes::page_href("/admin/tokens", &params)
    };
    let next = next.map(|c| page(&c.param()));
    let first = after.is_some().then(|| page(""));
    let description = token_filter.map(|f| filters.describe(f, owner_filter)).unwrap_or_default();
    let total = how_many(total);
    render(&TokensPage {
        ctx,
        show: filters.show,
        days: filters.days,
        from: filters.from,
        owner: filters.owner,
        errors,
        description,
        total,
        rows,
        next,
        first,
        can_delete: me.can(Permission::DeleteTokens),
        back: super::users::tokens::back_query(&match req.query_string() {
            "" => "/admin/tokens".to_owned(),
            query => format!("/admin/tokens?{query}"),
        }),
    })
}
