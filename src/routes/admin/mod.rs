//! Administration pages: users and their profile pages, every token, account settings,
//! roles and the audit log. Each handler takes a guard that proves the permission.

pub mod audit;
pub mod dashboard;
pub mod provisioning;
pub mod roles;
pub mod services;
pub mod settings;
pub mod tokens;
pub mod users;
pub mod webhooks;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(dashboard::show)
        .service(settings::show)
        .service(settings::save)
        .service(users::index)
        .service(users::new::new)
        .service(users::new::create)
        .service(users::new::password_link)
        .service(users::import::form)
        .service(users::import::upload)
        .service(users::import::preview)
        .service(users::import::apply)
        .service(users::profile::show)
        .service(users::roles::update)
        .service(users::tokens::revoke_all)
        .service(users::tokens::revoke)
        .service(users::tokens::confirm_revoke)
        .service(users::tokens::confirm_regenerate)
        .service(users::tokens::token_list)
        .service(users::tokens::create)
        .service(users::tokens::edit)
        .service(users::tokens::update)
        .service(users::tokens::regenerate)
        .service(users::state::suspend)
        .service(users::state::reactivate)
        .service(users::state::end_sessions)
        .service(tokens::index)
        .service(roles::index)
        .service(roles::create)
        .service(roles::update)
        .service(roles::delete)
        .service(audit::index)
        .service(services::index)
        .service(services::new)
        .service(services::create)
        .service(services::edit)
        .service(services::update)
        .service(services::rotate)
        .service(services::delete)
        .service(provisioning::index)
        .service(provisioning::create)
        .service(provisioning::revoke)
        .service(webhooks::index)
        .service(webhooks::new)
        .service(webhooks::create)
        .service(webhooks::edit)
        .service(webhooks::update)
        .service(webhooks::rotate)
        .service(webhooks::test)
        .service(webhooks::delete)
        .service(webhooks::resend);
}
