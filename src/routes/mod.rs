//! HTTP routes, one module per area, mirroring the URLs.

pub mod account;
pub mod admin;
pub mod api;
pub mod assets;
pub mod forms;
pub mod health;
pub mod home;
pub mod page;
pub mod session;
pub mod settings;
pub mod setup;
pub mod token_view;

use std::net::IpAddr;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::error::AppError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(assets::asset)
        .service(home::index)
        .service(setup::show)
        .service(setup::create)
        .service(session::login_form)
        .service(session::login)
        .service(session::logout)
        .service(session::logout_everywhere)
        .service(account::show)
        .service(account::change_password)
        .service(settings::tokens::index)
        .service(settings::tokens::create_token)
        .service(settings::tokens::edit_token)
        .service(settings::tokens::update_token)
        .service(settings::tokens::regenerate_token)
        .service(settings::tokens::delete_token)
        .service(settings::tokens::activate_token)
        .configure(admin::configure)
        .configure(api::configure);
}

/// Any route that does not exist.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// Renders a template as a full HTML response.
pub fn render<T: Template>(t: &T) -> Result<HttpResponse, AppError> {
    render_with(actix_web::http::StatusCode::OK, t)
}

pub fn render_with<T: Template>(
    status: actix_web::http::StatusCode,
    t: &T,
) -> Result<HttpResponse, AppError> {
    let body = t.render().map_err(|e| AppError::Unexpected(anyhow::anyhow!("template failed: {e}")))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

/// A redirect after a successful form post (303, so the browser follows with GET).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((actix_web::http::header::LOCATION, location)).finish()
}

/// Whether the request came from htmx (and so wants a fragment).
pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// The client's address: the TCP peer, or the first X-Forwarded-For hop behind a trusted proxy.
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> Option<IpAddr> {
    let info = req.connection_info();
    let raw = if trust_proxy { info.realip_remote_addr() } else { info.peer_addr() };
    raw.and_then(|s| {
        s.parse::<IpAddr>().ok().or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
    })
}
