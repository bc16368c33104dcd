//! tokenwarden: personal API access tokens for a school or company, under Canvas's 2025
//! rules, and the administration that oversees them.

pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod flash;
pub mod middleware;
pub mod models;
pub mod multipart;
pub mod notify;
pub mod routes;
pub mod seed;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod views;
