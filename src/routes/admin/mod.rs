//! Administration pages: users and their profile pages, every token, account settings,
//! roles and the audit log. Each handler takes a guard that proves the permission.

pub mod audit;
pub mod roles;
pub mod settings;
pub mod tokens;
pub mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(settings::show)
        .service(settings::save)
        .service(users::index)
        .service(users::show)
        .service(users::update_roles)
        .service(users::revoke_all)
        .service(users::revoke)
        .service(users::create_on_behalf)
        .service(users::edit_on_behalf)
        .service(users::update_on_behalf)
        .service(users::regenerate_on_behalf)
        .service(users::suspend)
        .service(users::reactivate)
        .service(users::end_sessions)
        .service(tokens::index)
        .service(roles::index)
        .service(roles::create)
        .service(roles::update)
        .service(roles::delete)
        .service(audit::index);
}
