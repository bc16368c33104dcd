//! `/admin/users/import` — people from a CSV file (SPEC 12): upload it, see the preview of
//! who is created, changed or left alone and every bad line by its number, then apply all
//! of it or nothing. `users.manage`.
//!
//! The uploaded file waits on the server (`services::import::stage`) under a random name,
//! for its uploader only; the preview and the apply read that copy, so what is applied is
//! exactly the file that was previewed, judged again at the moment it is applied.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::auth::guard::{ManageUsers, Require};
use crate::domain::people_import::{self, HEADER, MAX_BYTES};
use crate::error::AppError;
use crate::models::AccountRole;
use crate::multipart::{self, Unreadable};
use crate::routes::{render, render_with, see_other};
use crate::services::{self, import};
use crate::state::AppState;
use crate::views::forms::FieldErrors;
use crate::views::page::PageCtx;
use crate::views::people::{PlanView, summary_sentence};

/// What an example file looks like, on the page and in the README.
pub const EXAMPLE: &str = "login,name,email,roles\n\
                           ada.lovelace,Ada Lovelace,ada@example.edu,teacher\n\
                           sam.student,\"Student, Sam\",sam@example.edu,student\n\
                           tia,Tia Assistant,tia@example.edu,student;ta\n";

#[derive(Template)]
#[template(path = "admin/users_import.html")]
struct ImportPage {
    ctx: PageCtx,
    errors: FieldErrors,
    /// Lines pasted last time, kept when the upload was refused.
    pasted: String,
    example: &'static str,
    header: &'static str,
    max_kib: usize,
    max_people: usize,
    account_roles: Vec<String>,
}

async fn import_page(
    state: &AppState,
    ctx: PageCtx,
    errors: FieldErrors,
    pasted: String,
) -> Result<ImportPage, AppError> {
    let roles = crate::db::run(&state.pool, |conn| Ok::<_, AppError>(AccountRole::all(conn)?)).await?;
    Ok(ImportPage {
        ctx,
        errors,
        pasted,
        example: EXAMPLE,
        header: HEADER,
        max_kib: MAX_BYTES / 1024,
        max_people: people_import::MAX_PEOPLE,
        account_roles: roles.into_iter().map(|r| r.name).collect(),
    })
}

/// `GET /admin/users/import` — the upload form, with the file's format.
#[get("/admin/users/import")]
pub async fn form(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    query: web::Query<FromQuery>,
) -> Result<HttpResponse, AppError> {
    // Lines pasted for a preview come back to be corrected (a file is corrected where it is).
    let pasted = match query.into_inner().from {
        Some(id) => {
            let who = state.actor(&req, &me);
            let file = crate::db::run(&state.pool, move |conn| import::waiting(conn, &who, &id)).await?;
            match file {
                Some(file) if file.file_name == PASTED => file.content,
                Some(_) => String::new(),
                None => return gone(ctx),
            }
        }
        None => String::new(),
    };
    render(&import_page(&state, ctx, FieldErrors::new(), pasted).await?)
}

#[derive(Deserialize)]
pub struct FromQuery {
    /// A staged upload whose pasted lines fill the form again.
    from: Option<String>,
}

/// The name under which pasted lines are staged.
const PASTED: &str = "pasted lines";

/// The file (or the pasted lines) of an upload form, with the name to remember it by.
fn chosen(parts: Vec<multipart::Part>) -> Result<(String, Vec<u8>), String> {
    let file = parts.iter().find(|p| p.name == "file" && !p.data.is_empty());
    let pasted = parts.iter().find(|p| p.name == "csv" && !p.data.iter().all(u8::is_ascii_whitespace));
    match (file, pasted) {
        (Some(_), Some(_)) => Err("Choose a file or paste lines, not both.".to_owned()),
        (Some(f), None) => {
            Ok((f.file_name.clone().unwrap_or_else(|| "uploaded file".to_owned()), f.data.to_vec()))
        }
        (None, Some(p)) => Ok((PASTED.to_owned(), p.data.to_vec())),
        (None, None) => {
            Err(format!("Choose a CSV file, or paste its lines. Its first line is the header {HEADER}."))
        }
    }
}

/// `POST /admin/users/import` — takes the file (multipart/form-data: `file`, or `csv`
/// pasted) and shows its preview; nothing about anybody changes yet.
#[post("/admin/users/import")]
#[tracing::instrument(skip_all, fields(viewer = me.id))]
pub async fn upload(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    mut payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    if !multipart::is_multipart(req.headers()) {
        return Err(AppError::BadRequest("Send the file as a form upload (multipart/form-data).".into()));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("The upload did not arrive whole: {e}")))?;
        if body.len() + chunk.len() > multipart::MAX_BODY_BYTES {
            return Err(AppError::BadRequest(format!("The upload is larger than {} KiB.", MAX_BYTES / 1024)));
        }
        body.extend_from_slice(&chunk);
    }
    let mut errors = FieldErrors::new();
    let shared: &AppState = &state;
    let refused = |errors: FieldErrors, pasted: String| async move {
        render_with(StatusCode::UNPROCESSABLE_ENTITY, &import_page(shared, ctx, errors, pasted).await?)
    };
    let parts = match multipart::parts(req.headers(), body.freeze(), MAX_BYTES).await {
        Ok(parts) => parts,
        Err(Unreadable::TooLarge(_)) => {
            errors.add(
                import::FILE_FIELD,
                format!(
                    "The file is larger than {} KiB: split it into smaller files and import them one after another.",
                    MAX_BYTES / 1024
                ),
            );
            return refused(errors, String::new()).await;
        }
        Err(Unreadable::Malformed(e)) => {
            return Err(AppError::BadRequest(format!("The upload could not be read: {e}")));
        }
    };
    let pasted = parts
        .iter()
        .find(|p| p.name == "csv")
        .map(|p| String::from_utf8_lossy(&p.data).into_owned())
        .unwrap_or_default();
    let (file_name, content) = match chosen(parts) {
        Ok(chosen) => chosen,
        Err(why) => {
            errors.add(import::FILE_FIELD, why);
            return refused(errors, pasted).await;
        }
    };
    let who = state.actor(&req, &me);
    match crate::db::run_within(&state.pool, crate::db::LONG_WORK_WITHIN, move |conn| {
        import::stage(conn, &who, &file_name, &content)
    })
    .await
    {
        Ok(id) => Ok(see_other(&format!("/admin/users/import/{id}"))),
        Err(services::Error::Invalid(found)) => refused(found.into(), pasted).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/users_import_preview.html")]
struct PreviewPage {
    ctx: PageCtx,
    id: String,
    file_name: String,
    plan: PlanView,
    /// An apply was just refused: nothing was applied.
    refused: bool,
    /// The lines were pasted, not a file: they are corrected in the form again.
    pasted: bool,
    /// People may have passwords here (`--password-login on`): those an import creates
    /// have none until a link is made for each.
    passwords_on: bool,
}

impl PreviewPage {
    fn new(
        ctx: PageCtx,
        id: String,
        file_name: String,
        plan: &import::Plan,
        refused: bool,
        state: &AppState,
    ) -> Self {
        PreviewPage {
            ctx,
            id,
            pasted: file_name == PASTED,
            file_name,
            plan: PlanView::of(plan),
            refused,
            passwords_on: passwords_on(state),
        }
    }
}

/// Said after an import that created people, where people have passwords.
const NO_PASSWORD_YET: &str = " The people created have no password yet: make each a link to set one \
                               (Link to set a password… on their profile page).";

fn passwords_on(state: &AppState) -> bool {
    state.settings.serve.password_login == crate::domain::people::PasswordLogin::On
}

/// `GET /admin/users/import/{id}` — the preview of an uploaded file, as it would apply now.
#[get("/admin/users/import/{id}")]
pub async fn preview(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (state.actor(&req, &me), path.into_inner());
    let key = id.clone();
    let found = crate::db::run_within(&state.pool, crate::db::LONG_WORK_WITHIN, move |conn| {
        import::preview_staged(conn, &who, &key)
    })
    .await?;
    let Some((file, plan)) = found else { return gone(ctx) };
    render(&PreviewPage::new(ctx, id, file.file_name, &plan, false, &state))
}

#[derive(Template)]
#[template(path = "admin/users_import_gone.html")]
struct GonePage {
    ctx: PageCtx,
}

/// An upload that no longer waits — applied, or left longer than it waits — as its preview
/// is reached again (browser Back after applying, a bookmark, a second click on Apply, its
/// pasted lines asked back): a 404 that says why and where its people are, not the bare one.
fn gone(ctx: PageCtx) -> Result<HttpResponse, AppError> {
    render_with(StatusCode::NOT_FOUND, &GonePage { ctx })
}

/// `POST /admin/users/import/{id}` — applies the uploaded file, all or nothing: with any bad
/// line (found again now) nothing changes and the preview says why.
#[post("/admin/users/import/{id}")]
#[tracing::instrument(skip_all, fields(viewer = me.id))]
pub async fn apply(
    req: HttpRequest,
    ctx: PageCtx,
    me: Require<ManageUsers>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (who, id) = (state.actor(&req, &me), path.into_inner());
    let key = id.clone();
    let applied = crate::db::run_within(&state.pool, crate::db::LONG_WORK_WITHIN, move |conn| {
        import::apply_staged(conn, &who, &key)
    })
    .await?;
    let Some((file, outcome)) = applied else { return gone(ctx) };
    match outcome {
        import::Outcome::Applied(summary) => {
            let what = if file.file_name == PASTED {
                "the pasted lines".to_owned()
            } else {
                format!("“{}”", file.file_name)
            };
            let mut message = format!("Imported {what}: {}", summary_sentence(&summary));
            if summary.created > 0 && passwords_on(&state) {
                message.push_str(NO_PASSWORD_YET);
            }
            FlashMessage::success(message).send();
            // The newest first: the people it created are at the top.
            Ok(see_other(if summary.created > 0 { "/admin/users?sort=newest" } else { "/admin/users" }))
        }
        import::Outcome::Refused(plan) => render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PreviewPage::new(ctx, id, file.file_name, &plan, true, &state),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_reads_without_a_bad_line() {
        let roster =
            people_import::read(EXAMPLE.as_bytes(), &[], crate::domain::PermissionSet::all()).unwrap();
        assert_eq!(roster.people.len(), 3);
        assert!(roster.bad.is_empty(), "{:?}", roster.bad);
    }
}
