//! Static files, compiled into the binary.

use actix_web::{HttpResponse, get, web};

use crate::error::AppError;

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $ct:literal) => {
        Asset { path: $path, content_type: $ct, body: include_bytes!(concat!("../../static/", $path)) }
    };
}

const ASSETS: &[Asset] = &[
    asset!("css/app.css", "text/css; charset=utf-8"),
    asset!("js/app.js", "text/javascript; charset=utf-8"),
    asset!("vendor/htmx.min.js", "text/javascript; charset=utf-8"),
    asset!("vendor/htmx-LICENSE", "text/plain; charset=utf-8"),
];

/// `GET /static/{path}` — an embedded asset.
#[get("/static/{path:.*}")]
pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let asset = ASSETS.iter().find(|a| a.path == path.as_str()).ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(asset.body))
}
