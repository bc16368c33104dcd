use actix_web::{HttpResponse, get, web};
use diesel::connection::SimpleConnection;

use crate::error::AppError;
use crate::state::AppState;

/// `GET /healthz` — the process is up (touches no database).
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// `GET /readyz` — the database answers.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    crate::db::run(&state.pool, |conn| {
        conn.batch_execute("SELECT 1").map_err(|e| AppError::Unavailable(e.into()))
    })
    .await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ready"))
}
