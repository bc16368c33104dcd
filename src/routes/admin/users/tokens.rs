//! `/admin/users/{id}/tokens/…` — a user's tokens, on their behalf: create (pending until
//! they activate it), edit, regenerate (pending again), revoke one or all.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use super::profile::{load_profile, page_of, profile_page};
use crate::auth::CurrentUser;
use crate::auth::guard::{CreateUpdateTokens, DeleteTokens, Require, SeeProfiles};
use crate::domain::token::TokenChange;
use crate::domain::{Permission, now};
use crate::error::AppError;
use crate::models::UserCard;
use crate::routes::confirm::{self, Asked, Nav};
use crate::routes::settings::tokens::{EditForm, edit_form};
use crate::routes::{is_htmx, issued, read_form, render, render_with, see_other};
use crate::services;
use crate::services::tokens::{self, Context, TokenRef};
use crate::state::AppState;
use crate::views::confirm::{Confirmation, ListSwap, RefusedExpiry};
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;
use crate::views::tokens::{ExpiryOptions, SecretView, TokenForm};

/// `?back=`: the list a confirmation page was reached from, and where its answer returns.
#[derive(Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// The query that names list `to` as the way back, for a link or a form's action.
pub(crate) fn back_query(to: &str) -> String {
    serde_urlencoded::to_string([("back", to)]).unwrap_or_default()
}

/// Which change an administrator's confirmation asks about.
enum Ask {
    /// With the expiry a refused regeneration chose, when it is asked again.
    Regenerate(Option<RefusedExpiry>),
    Revoke,
}

/// `GET /admin/users/{id}/tokens/{token_id}/regenerate` and `…/revoke`: the confirmation, in
/// the token's row (htmx) or as a page. Showing it changes nothing; the post is checked again.
async fn confirmation(
    req: HttpRequest,
    ctx: PageCtx,
    me: &CurrentUser,
    state: &AppState,
    (id, token_id): (i64, i64),
    back: Back,
    ask: Ask,
) -> Result<Asked, AppError> {
    let who = state.actor(&req, me);
    let (user, rules, token) = crate::db::run(&state.pool, move |conn| -> Result<_, AppError> {
        let rules = Context::load(conn, &who, id)?;
        let token = match tokens::get(conn, &who, id, &TokenRef::Id(token_id)) {
            Err(services::Error::NotFound) => None,
            token => Some(token?),
        };
        Ok((rules.owner.clone(), rules, token))
    })
    .await?;
    let back_url = redirect_back(&req, id, back.back.as_deref());
    let (list, nav, back_label) = if back_url.starts_with(ALL_TOKENS) {
        (ListSwap::ALL_TOKENS, Nav::AllTokens, "Back to all tokens".to_owned())
    } else {
        (ListSwap::PROFILE, Nav::Profile, format!("Back to {}'s profile", user.name))
    };
    let Some(token) = token else {
        return confirm::gone(ctx, (token_id, is_htmx(&req)), (list, nav), (&back_url, &back_label))
            .map(Asked::Gone);
    };
    let c =
        Confirmation { back_label, ..Confirmation::about(token_id, ctx.csrf.clone(), is_htmx(&req), list) };
    let base = format!("/admin/users/{id}/tokens/{token_id}");
    let c = match ask {
        Ask::Regenerate(refused) => {
            rules.may(TokenChange::Regenerate).map_err(AppError::Forbidden)?;
            Confirmation {
                title: format!("Regenerate a token of {}", user.name),
                question: format!(
                    "Issue a new secret for “{}”? The current one stops working at once. The token is \
                     then pending until {} activates it, and you will have to hand the new secret over.",
                    token.purpose, user.name
                ),
                action: format!("{base}/regenerate?{}", back_query(&back_url)),
                button: "Regenerate token",
                // The new secret is shown on the profile page, above the list.
                post_in_place: false,
                expiry: Some(
                    ExpiryOptions::new(&rules.expiry, rules.default_lifetime_days, now())
                        .for_owner(&user.name),
                ),
                keep_expiry: Confirmation::keep_expiry_of(&token, now()),
                refused,
                ..c
            }
        }
        Ask::Revoke => Confirmation {
            title: format!("Revoke a token of {}", user.name),
            question: format!(
                "Revoke “{}” of {}? Anything using it stops working at once.",
                token.purpose, user.name
            ),
            action: format!("{base}/revoke?{}", back_query(&back_url)),
            button: "Yes, revoke",
            danger: true,
            ..c
        },
    };
    confirm::respond(ctx, Confirmation { back_url, ..c }, nav).map(Asked::Question)
}

/// `GET /admin/users/{id}/tokens/{token_id}/regenerate` — asks before a new secret replaces
/// the old.
#[get("/admin/users/{id}/tokens/{token_id}/regenerate")]
pub async fn confirm_regenerate(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<CreateUpdateTokens>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    back: web::Query<Back>,
) -> Result<HttpResponse, AppError> {
    confirmation(req, ctx, &me, &state, path.into_inner(), back.into_inner(), Ask::Regenerate(None))
        .await
        .map(Asked::into_response)
}

/// `GET /admin/users/{id}/tokens/{token_id}/revoke` — asks before the token is revoked.
#[get("/admin/users/{id}/tokens/{token_id}/revoke")]
pub async fn confirm_revoke(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<DeleteTokens>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    back: web::Query<Back>,
) -> Result<HttpResponse, AppError> {
    confirmation(req, ctx, &me, &state, path.into_inner(), back.into_inner(), Ask::Revoke)
        .await
        .map(Asked::into_response)
}

/// `POST /admin/users/{id}/tokens/{token_id}/revoke` — deletes one token at once and goes
/// back to the list it came from, with a message. htmx follows that redirect and swaps in the
/// list as it now is (its count, the next page's first row, the empty state) without a
/// page load; without JavaScript the page reloads.
#[post("/admin/users/{id}/tokens/{token_id}/revoke")]
#[tracing::instrument(skip_all, fields(viewer = me.id))]
pub async fn revoke(
    req: HttpRequest,
    me: Require<DeleteTokens>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    back: web::Query<Back>,
) -> Result<HttpResponse, AppError> {
    let (id, token_id) = path.into_inner();
    let who = state.actor(&req, &me);
    let revoked =
        crate::db::run(&state.pool, move |conn| tokens::delete(conn, &who, id, &TokenRef::Id(token_id)))
            .await;
    let back_to = redirect_back(&req, id, back.back.as_deref());
    match revoked {
        Ok(token) => {
            FlashMessage::success(format!("Token “{}” revoked. It no longer works.", token.purpose)).send();
            Ok(see_other(&back_to))
        }
        // Gone meanwhile: back to the list as it is now, which says so.
        Err(services::Error::NotFound) => token_gone(&state, id, &back_to).await,
        Err(e) => Err(e.into()),
    }
}

/// A token of `user_id` not found by a post: the user is there (else this is their 404)
/// and the token is not, so back to the list with a note that says so.
async fn token_gone(state: &AppState, user_id: i64, back_to: &str) -> Result<HttpResponse, AppError> {
    crate::db::run(&state.pool, move |conn| Ok::<_, AppError>(UserCard::find(conn, user_id)?)).await?;
    FlashMessage::warning(confirm::GONE).send();
    Ok(see_other(back_to))
}

/// The account-wide token list.
const ALL_TOKENS: &str = "/admin/tokens";

/// Back to the list an action came from — the account-wide token list, or the page of the
/// profile's token list — else the profile. Only those paths of this site are taken.
///
/// The list is named by `?back=` when the question was a page of its own (whose address is
/// then the `Referer`). htmx names the page in `HX-Current-URL` on every request; a plain
/// form has only the `Referer`, which a browser may leave out. htmx swaps the list from where
/// this leads, so it must not depend on a header that can go missing.
fn redirect_back(req: &HttpRequest, user_id: i64, asked: Option<&str>) -> String {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let from = match asked {
        Some(asked) => crate::routes::on_this_site(asked),
        None => header("HX-Current-URL").or_else(|| header("Referer")).and_then(crate::routes::local_path),
    };
    let profile = page_of(user_id);
    match from {
        Some(p) if p == ALL_TOKENS || p.starts_with(&format!("{ALL_TOKENS}?")) => p,
        Some(p) if p.starts_with(&format!("{profile}?")) => {
            format!("{}#tokens", p.split('#').next().unwrap_or(&p))
        }
        _ => profile,
    }
}

/// `POST /admin/users/{id}/tokens/revoke-all`
#[post("/admin/users/{id}/tokens/revoke-all")]
#[tracing::instrument(skip_all, fields(viewer = me.id, user_id = *path))]
pub async fn revoke_all(
    req: HttpRequest,
    me: Require<DeleteTokens>,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let who = state.actor(&req, &me);
    let n = crate::db::run(&state.pool, move |conn| tokens::revoke_all(conn, &who, id)).await?;
    FlashMessage::success(format!("{} revoked.", crate::domain::count(n, "token", "tokens"))).send();
    Ok(see_other(&page_of(id)))
}

/// `GET /admin/users/{id}/tokens` — the profile's list of tokens. A refused creation is
/// answered at this address (the form's); reloaded, or bookmarked, it leads to the list.
#[get("/admin/users/{id}/tokens")]
pub async fn token_list(_me: Require<SeeProfiles>, path: web::Path<i64>) -> HttpResponse {
    see_other(&format!("{}#tokens", page_of(path.into_inner())))
}

/// `POST /admin/users/{id}/tokens` — create a token on the user's behalf (it starts
/// pending until the user activates it; the secret is shown once, to the creator).
#[post("/admin/users/{id}/tokens")]
#[tracing::instrument(skip_all, fields(viewer = me.id, user_id = *path))]
pub async fn create(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<CreateUpdateTokens>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = read_form::<TokenForm>(&body)?;
    let draft = form.draft(true);
    let who = state.actor(&req, &me);
    match crate::db::run(&state.pool, move |conn| tokens::create(conn, &who, id, &draft)).await {
        Ok(issued) => {
            issued::stash(&state, &me, &session, &page_of(id), SecretView::of(&issued, false)).await?;
            FlashMessage::success(format!(
                "Token “{}” created on the user's behalf. It stays pending until they activate it.",
                issued.token.purpose
            ))
            .send();
            Ok(see_other(&page_of(id)))
        }
        Err(services::Error::Invalid(errors)) => {
            let data =
                load_profile(&state, state.actor(&req, &me), id, me.can(Permission::ViewTokens), 1).await?;
            render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &profile_page(ctx, &me, data, None, form, errors.into()),
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/users/{id}/tokens/{token_id}/regenerate` — on the user's behalf: a new
/// secret, shown once to the administrator; the token is pending until the user activates it.
#[post("/admin/users/{id}/tokens/{token_id}/regenerate")]
#[tracing::instrument(skip_all, fields(viewer = me.id))]
pub async fn regenerate(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<CreateUpdateTokens>,
    session: Session,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (id, token_id) = path.into_inner();
    // `?back=` as the question's form names it (an older form's post has none).
    let back = web::Query::<Back>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or(Back { back: None });
    let form = read_form::<TokenForm>(&body)?;
    let draft = form.regenerate_draft();
    let who = state.actor(&req, &me);
    let result = crate::db::run(&state.pool, move |conn| {
        tokens::regenerate(conn, &who, id, &TokenRef::Id(token_id), &draft)
    })
    .await;
    // The new secret is shown above the list: the profile's page the question came from,
    // without the jump to its list (from All tokens, the profile's first page).
    let back_url = redirect_back(&req, id, back.back.as_deref());
    let done = match back_url.split('#').next() {
        Some(p) if !p.starts_with(ALL_TOKENS) => p.to_owned(),
        _ => page_of(id),
    };
    match result {
        Ok(issued) => {
            issued::stash(&state, &me, &session, &page_of(id), SecretView::of(&issued, true)).await?;
            FlashMessage::success(format!(
                "Token “{}” regenerated: the old secret no longer works, and the token is pending until \
                 the user activates it.",
                issued.token.purpose
            ))
            .send();
        }
        // A refused expiry is asked about again, the reason next to it and the choice kept.
        Err(services::Error::Invalid(errors)) if RefusedExpiry::concerns(&errors) => {
            let again = RefusedExpiry::of(&form, errors);
            let asked =
                confirmation(req, ctx, &me, &state, (id, token_id), back, Ask::Regenerate(Some(again)))
                    .await?;
            let Asked::Question(mut res) = asked else { return Ok(asked.into_response()) };
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(res);
        }
        Err(e @ services::Error::Invalid(_)) => FlashMessage::error(e.sentence()).send(),
        Err(services::Error::NotFound) => return token_gone(&state, id, &back_url).await,
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&done))
}

#[derive(Template)]
#[template(path = "admin/token_edit.html")]
struct EditPage {
    ctx: PageCtx,
    user: UserCard,
    edit: EditForm,
}

async fn edit_page(
    req: &HttpRequest,
    ctx: PageCtx,
    me: &CurrentUser,
    state: &AppState,
    (id, token_id): (i64, i64),
    form: Option<TokenForm>,
    errors: FieldErrors,
) -> Result<EditPage, AppError> {
    let who = state.actor(req, me);
    let user = crate::db::run(&state.pool, move |conn| Ok::<_, AppError>(UserCard::find(conn, id)?)).await?;
    let mut form = edit_form(state, who, id, token_id, ctx.csrf.clone(), form, errors).await?;
    form.expiry = form.expiry.for_owner(&user.name);
    form.action = format!("/admin/users/{id}/tokens/{token_id}");
    form.cancel_url = page_of(id);
    form.inline = false;
    Ok(EditPage { ctx, user, edit: form })
}

/// `GET /admin/users/{id}/tokens/{token_id}/edit`
#[get("/admin/users/{id}/tokens/{token_id}/edit")]
pub async fn edit(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<CreateUpdateTokens>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, token_id) = path.into_inner();
    match edit_page(&req, ctx, &me, &state, (id, token_id), None, FieldErrors::new()).await {
        Err(AppError::NotFound) => token_gone(&state, id, &page_of(id)).await,
        page => render(&page?),
    }
}

/// `POST /admin/users/{id}/tokens/{token_id}` — update on the user's behalf.
#[post("/admin/users/{id}/tokens/{token_id}")]
#[tracing::instrument(skip_all, fields(viewer = me.id))]
pub async fn update(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<CreateUpdateTokens>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (id, token_id) = path.into_inner();
    let form = read_form::<TokenForm>(&body)?;
    let draft = form.draft(false);
    let who = state.actor(&req, &me);
    let result = crate::db::run(&state.pool, move |conn| {
        tokens::update(conn, &who, id, &TokenRef::Id(token_id), &draft)
    })
    .await;
    match result {
        Ok(tokens::Updated { token, changed: false }) => {
            FlashMessage::info(format!("Nothing to save: “{}” is as it was.", token.purpose)).send();
            Ok(see_other(&page_of(id)))
        }
        Ok(tokens::Updated { token, .. }) if token.is_pending() => {
            FlashMessage::success(format!(
                "Token “{}” updated. It is pending until the user activates it.",
                token.purpose
            ))
            .send();
            Ok(see_other(&page_of(id)))
        }
        Ok(tokens::Updated { token, .. }) => {
            FlashMessage::success(format!("Token “{}” updated.", token.purpose)).send();
            Ok(see_other(&page_of(id)))
        }
        Err(services::Error::Invalid(errors)) => {
            let page = edit_page(&req, ctx, &me, &state, (id, token_id), Some(form), errors.into()).await?;
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(services::Error::NotFound) => token_gone(&state, id, &page_of(id)).await,
        Err(e) => Err(e.into()),
    }
}
