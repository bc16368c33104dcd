//! One integration binary: every test boots the real app and speaks HTTP to it.

mod abuse;
mod admin;
mod api;
mod authority;
mod cli;
mod faults;
mod gateway;
mod helpers;
mod layers;
mod logs;
mod matrix;
mod outage;
mod review;
mod services;
mod session;
mod setup;
mod tokens_page;
