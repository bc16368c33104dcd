//! Read models for the templates: the page's context, rows with formatted dates, forms
//! as last submitted. Built from models; know nothing of routes.

pub mod address;
pub mod audit;
pub mod confirm;
pub mod dashboard;
pub mod error_page;
pub mod forms;
pub mod notifications;
pub mod page;
pub mod people;
pub mod tokens;
