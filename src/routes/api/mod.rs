//! `/api/...` — the Canvas-shaped JSON API, authenticated by personal access tokens
//! (SPEC 6). The CSRF middleware exempts it: it is not authenticated by a cookie.

pub mod v1;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    v1::configure(cfg);
}
