//! One integration binary: every test boots the real app and speaks HTTP to it.

mod abuse;
mod admin;
mod api;
mod authority;
mod cli;
mod dashboard;
mod exit;
mod faults;
mod gateway;
mod helpers;
mod layers;
mod logs;
mod matrix;
mod notifications;
mod oidc_provider;
mod outage;
mod people;
mod plans;
mod review;
mod scim;
mod services;
mod session;
mod setup;
mod sso;
mod tokens_page;
