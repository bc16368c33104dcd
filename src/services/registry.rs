//! The registry of the institution's services (SPEC 11): registering them, their scopes
//! and rules, and their credentials for introspection — changed only with
//! `account.settings`, every change in the audit log.

use super::{Actor, Error};
use crate::db::DbConnection;
use crate::domain::service::Holders;
use crate::domain::token::{Catalogue, ServiceScopeDef};
use crate::models::Service;

/// Every scope a token may be given now: the API's and the registered services'.
pub fn catalogue(conn: &mut DbConnection) -> Result<Catalogue, Error> {
    let services = Service::all_scopes(conn)?
        .into_iter()
        .map(|(service, scope)| ServiceScopeDef {
            scope: scope.scope,
            service: service.name,
            label: scope.label,
            holders: Holders::from_stored(&scope.holders),
        })
        .collect();
    Ok(Catalogue { services })
}

#[allow(dead_code)]
fn _uses(_: &Actor) {}
