//! The registry of the institution's services (SPEC 11): registering them, their scopes
//! and rules, and their credentials for introspection — changed only with
//! `account.settings`, every change in the audit log.

use super::{Actor, Error};
use crate::db::{DbConnection, write_transaction};
use crate::domain::service::{Holders, RouteRule, SLUG_STAND_IN, Slug, parse_scope};
use crate::domain::token::{Catalogue, ServiceScopeDef};
use crate::domain::token_secret::ServiceSecret;
use crate::domain::{DisplayName, Permission, ValidationError, now};
use crate::models::{AuditAction, Service, ServiceDefinition, ServiceFields};

/// Every scope a token may be given now: the API's and the registered services'.
pub fn catalogue(conn: &mut DbConnection) -> Result<Catalogue, Error> {
    let services = Service::all_scopes(conn)?
        .into_iter()
        .map(|(service, scope)| ServiceScopeDef {
            scope: scope.scope,
            service: service.name,
            label: scope.label,
            holders: Holders::from_stored(&scope.holders),
            accepts_unscoped: service.accept_unscoped,
        })
        .collect();
    Ok(Catalogue { services })
}

/// A service as a form or the CLI describes it, not yet parsed.
#[derive(Debug, Clone, Default)]
pub struct ServiceInput {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub accept_unscoped: bool,
    /// (scope or its name after the slug, label, holders)
    pub scopes: Vec<(String, String, String)>,
    /// `GET /grades/*=gradebook:read`, one per rule.
    pub rules: Vec<String>,
}

/// The input, every field checked: errors under `slug`, `name`, `description`, `scopes`
/// and `rules`.
struct Parsed {
    slug: Slug,
    name: DisplayName,
    description: String,
    scopes: Vec<(String, String, String)>,
    rules: Vec<(String, String, String)>,
}

/// One row of the scopes a form gives: the scope (with the service's slug, `service`), its
/// label (the scope when left empty) and who may hold it, as stored; or why the row is
/// refused.
pub fn scope_row(
    service: &str,
    scope: &str,
    label: &str,
    holders: &str,
) -> Result<(String, String, String), ValidationError> {
    let scope = parse_scope(service, scope)?;
    let label = label.trim();
    let label = if label.is_empty() { scope.clone() } else { label.chars().take(100).collect() };
    if label.chars().any(crate::domain::text::is_forbidden_in_text) {
        return Err(ValidationError::new("scopes", "A scope's label cannot contain control characters."));
    }
    Ok((scope, label, Holders::parse(holders)?.to_stored()))
}

fn parse(input: &ServiceInput) -> Result<Parsed, Error> {
    let mut errors = Vec::new();
    let slug = Slug::parse(&input.slug).map_err(|e| errors.push(e)).ok();
    let name = DisplayName::parse(&input.name).map_err(|e| errors.push(e)).ok();
    let description = input.description.trim().to_owned();
    if description.chars().count() > 500 {
        errors.push(ValidationError::new("description", "A description has at most 500 characters."));
    } else if description
        .chars()
        .any(|c| crate::domain::text::is_forbidden_in_text(c) && c != '\n' && c != '\r')
    {
        errors.push(ValidationError::new(
            "description",
            "A description cannot contain control characters (a NUL, a text-direction override); line breaks are fine.",
        ));
    }
    let mut scopes = Vec::new();
    let mut rules = Vec::new();
    // Checked whatever the slug, so that a form says everything that is wrong at once.
    let service = slug.as_ref().map_or(SLUG_STAND_IN, Slug::as_str);
    let given = input.scopes.iter().filter(|(s, _, _)| !s.trim().is_empty()).count();
    for (scope, label, holders) in input.scopes.iter().filter(|(s, _, _)| !s.trim().is_empty()) {
        match scope_row(service, scope, label, holders) {
            Ok(s) if scopes.iter().any(|(have, _, _)| *have == s.0) => {
                errors.push(ValidationError::new("scopes", format!("The scope {} is listed twice.", s.0)))
            }
            Ok(s) => scopes.push(s),
            Err(e) => errors.push(e),
        }
    }
    // Rows given but refused have said why already.
    if given == 0 {
        errors.push(ValidationError::new(
            "scopes",
            "Give the service at least one scope, e.g. read=Read grades.",
        ));
    }
    if scopes.len() > 50 {
        errors.push(ValidationError::new("scopes", "A service has at most 50 scopes."));
    }
    // Every refused rule is said, each with its line: one at a time would send the
    // administrator back once per mistake.
    let mut refused_rules = Vec::new();
    for (i, line) in input.rules.iter().enumerate().filter(|(_, r)| !r.trim().is_empty()) {
        let why = match RouteRule::parse(service, line.trim()) {
            Ok(rule) if !scopes.iter().any(|(s, _, _)| *s == rule.scope) => {
                format!("The rule “{rule}” names a scope the service does not have.")
            }
            Ok(rule) => {
                rules.push((rule.method, rule.path, rule.scope));
                continue;
            }
            Err(e) => e.message,
        };
        refused_rules.push(format!("Line {}: {why}", i + 1));
    }
    if !refused_rules.is_empty() {
        errors.push(ValidationError::new(RouteRule::FIELD, refused_rules.join("\n")));
    }
    if rules.len() > 100 {
        errors.push(ValidationError::new(RouteRule::FIELD, "A service has at most 100 rules."));
    }
    match (slug, name, errors.is_empty()) {
        (Some(slug), Some(name), true) => Ok(Parsed { slug, name, description, scopes, rules }),
        _ => Err(Error::Invalid(errors)),
    }
}

fn fields<'a>(p: &'a Parsed, accept_unscoped: bool) -> ServiceFields<'a> {
    ServiceFields {
        slug: p.slug.as_str(),
        name: p.name.as_str(),
        description: &p.description,
        accept_unscoped,
        scopes: &p.scopes,
        rules: &p.rules,
    }
}

fn describe(p: &Parsed, accept_unscoped: bool) -> String {
    format!(
        "service \"{}\" ({}): scopes {}; {}; unscoped tokens {}",
        p.name.as_str(),
        p.slug.as_str(),
        p.scopes.iter().map(|(s, _, _)| s.as_str()).collect::<Vec<_>>().join(", "),
        crate::domain::count(p.rules.len(), "rule", "rules"),
        if accept_unscoped { "accepted" } else { "refused" }
    )
}

/// A service and the credential it introspects with, shown this once.
pub struct Registered {
    pub service: Service,
    pub credential: ServiceSecret,
}

/// Registers a service.
pub fn create(conn: &mut DbConnection, actor: &Actor, input: &ServiceInput) -> Result<Registered, Error> {
    actor.require(Permission::AccountSettings)?;
    let parsed = parse(input)?;
    write_transaction(conn, |conn| {
        if Service::find_by_slug(conn, parsed.slug.as_str())?.is_some() {
            return Err(Error::invalid(ValidationError::new(
                Slug::FIELD,
                "A service with this slug already exists.",
            )));
        }
        let credential = ServiceSecret::generate();
        let service = Service::insert(
            conn,
            &fields(&parsed, input.accept_unscoped),
            credential.digest().as_str(),
            &credential.hint(),
            now(),
        )?;
        actor
            .audit(AuditAction::ServiceCreated)
            .details(describe(&parsed, input.accept_unscoped))
            .record(conn)?;
        Ok(Registered { service, credential })
    })
}

/// Changes a service's name, description, scopes, rules and unscoped setting (its slug,
/// which names its scopes, stays). A scope taken away stops working at once for every
/// token that held it.
pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    input: &ServiceInput,
) -> Result<Service, Error> {
    actor.require(Permission::AccountSettings)?;
    write_transaction(conn, |conn| {
        let current = Service::find(conn, id)?;
        let parsed = parse(&ServiceInput { slug: current.slug.clone(), ..input.clone() })?;
        Service::update(conn, id, &fields(&parsed, input.accept_unscoped), now())?;
        actor
            .audit(AuditAction::ServiceUpdated)
            .details(describe(&parsed, input.accept_unscoped))
            .record(conn)?;
        Ok(Service::find(conn, id)?)
    })
}

/// A new credential for introspection; the old one stops working at once.
pub fn rotate(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<Registered, Error> {
    actor.require(Permission::AccountSettings)?;
    write_transaction(conn, |conn| {
        let service = Service::find(conn, id)?;
        let credential = ServiceSecret::generate();
        Service::set_credential(conn, id, credential.digest().as_str(), &credential.hint(), now())?;
        actor
            .audit(AuditAction::ServiceCredentialRotated)
            .details(format!("service \"{}\": new credential {}", service.name, credential.hint()))
            .record(conn)?;
        Ok(Registered { service: Service::find(conn, id)?, credential })
    })
}

/// Removes a service: its scopes open nothing any more (tokens keep them, inert), its
/// gateways' requests are refused.
pub fn delete(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<Service, Error> {
    actor.require(Permission::AccountSettings)?;
    write_transaction(conn, |conn| {
        let service = Service::find(conn, id)?;
        Service::delete(conn, id)?;
        actor
            .audit(AuditAction::ServiceDeleted)
            .details(format!("service \"{}\" ({})", service.name, service.slug))
            .record(conn)?;
        Ok(service)
    })
}

/// Every service with its scopes and rules, for the admin page.
pub fn list(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<ServiceDefinition>, Error> {
    actor.require(Permission::AccountSettings)?;
    Service::all(conn)?.into_iter().map(|s| Ok(Service::definition(conn, s)?)).collect()
}

/// One service with its scopes and rules.
pub fn get(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<ServiceDefinition, Error> {
    actor.require(Permission::AccountSettings)?;
    let service = Service::find(conn, id)?;
    Ok(Service::definition(conn, service)?)
}
