use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{service_rules, service_scopes, services, token_usage};
use crate::db::{DbConnection, on_backend};

/// A service that tokens guard (SPEC 11).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, PartialEq, Eq)]
#[diesel(table_name = services)]
pub struct Service {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub accept_unscoped: bool,
    pub credential_digest: String,
    pub credential_hint: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = service_scopes)]
pub struct ServiceScope {
    pub service_id: i64,
    pub position: i32,
    pub scope: String,
    pub label: String,
    pub holders: String,
}

#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = service_rules)]
pub struct ServiceRule {
    pub service_id: i64,
    pub position: i32,
    pub method: String,
    pub path: String,
    pub scope: String,
}

/// A service with its scopes and rules, in their order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDefinition {
    pub service: Service,
    pub scopes: Vec<ServiceScope>,
    pub rules: Vec<ServiceRule>,
}

/// What a service is to be: every field parsed.
#[derive(Debug, Clone)]
pub struct ServiceFields<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub accept_unscoped: bool,
    /// (scope, label, holders)
    pub scopes: &'a [(String, String, String)],
    /// (method, path, scope)
    pub rules: &'a [(String, String, String)],
}

impl Service {
    /// Every service, by name.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<Service>> {
        on_backend!(conn, |c| services::table.order(services::name).select(Service::as_select()).load(c))
    }

    pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<Service>> {
        on_backend!(conn, |c| services::table
            .filter(services::slug.eq(slug))
            .select(Service::as_select())
            .get_result(c)
            .optional())
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Service> {
        services::table.find(id).select(Service::as_select()).get_result(conn)
    }

    /// The service with its scopes and rules.
    pub fn definition(conn: &mut DbConnection, service: Service) -> QueryResult<ServiceDefinition> {
        let scopes = on_backend!(conn, |c| service_scopes::table
            .filter(service_scopes::service_id.eq(service.id))
            .order(service_scopes::position)
            .select(ServiceScope::as_select())
            .load(c))?;
        let rules = on_backend!(conn, |c| service_rules::table
            .filter(service_rules::service_id.eq(service.id))
            .order(service_rules::position)
            .select(ServiceRule::as_select())
            .load(c))?;
        Ok(ServiceDefinition { service, scopes, rules })
    }

    /// Every service's scopes, for the token forms and the scope rules.
    /// Every service's scopes: read by each token form and page (the scope catalogue).
    pub fn all_scopes(conn: &mut DbConnection) -> QueryResult<Vec<(Service, ServiceScope)>> {
        on_backend!(conn, |c| services::table
            .inner_join(service_scopes::table)
            .order((services::name, service_scopes::position))
            .select((Service::as_select(), ServiceScope::as_select()))
            .load(c))
    }

    /// Whether a scope by this name belongs to a service other than `except_service`.
    pub fn scope_taken(
        conn: &mut DbConnection,
        scope: &str,
        except_service: Option<i64>,
    ) -> QueryResult<bool> {
        let owners: Vec<i64> = service_scopes::table
            .filter(service_scopes::scope.eq(scope))
            .select(service_scopes::service_id)
            .load(conn)?;
        Ok(owners.iter().any(|id| Some(*id) != except_service))
    }

    pub fn insert(
        conn: &mut DbConnection,
        fields: &ServiceFields<'_>,
        credential_digest: &str,
        credential_hint: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Service> {
        diesel::insert_into(services::table)
            .values((
                services::slug.eq(fields.slug),
                services::name.eq(fields.name),
                services::description.eq(fields.description),
                services::accept_unscoped.eq(fields.accept_unscoped),
                services::credential_digest.eq(credential_digest),
                services::credential_hint.eq(credential_hint),
                services::created_at.eq(now),
                services::updated_at.eq(now),
            ))
            .execute(conn)?;
        let service = Service::find_by_slug(conn, fields.slug)?.ok_or(diesel::result::Error::NotFound)?;
        Service::replace_scopes_and_rules(conn, service.id, fields)?;
        Ok(service)
    }

    /// Changes name, description, the unscoped setting, scopes and rules (not the slug).
    pub fn update(
        conn: &mut DbConnection,
        id: i64,
        fields: &ServiceFields<'_>,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(services::table.find(id))
            .set((
                services::name.eq(fields.name),
                services::description.eq(fields.description),
                services::accept_unscoped.eq(fields.accept_unscoped),
                services::updated_at.eq(now),
            ))
            .execute(conn)?;
        Service::replace_scopes_and_rules(conn, id, fields)
    }

    fn replace_scopes_and_rules(
        conn: &mut DbConnection,
        id: i64,
        fields: &ServiceFields<'_>,
    ) -> QueryResult<()> {
        diesel::delete(service_scopes::table.filter(service_scopes::service_id.eq(id))).execute(conn)?;
        diesel::delete(service_rules::table.filter(service_rules::service_id.eq(id))).execute(conn)?;
        for (position, (scope, label, holders)) in (0_i32..).zip(fields.scopes) {
            diesel::insert_into(service_scopes::table)
                .values((
                    service_scopes::service_id.eq(id),
                    service_scopes::position.eq(position),
                    service_scopes::scope.eq(scope),
                    service_scopes::label.eq(label),
                    service_scopes::holders.eq(holders),
                ))
                .execute(conn)?;
        }
        for (position, (method, path, scope)) in (0_i32..).zip(fields.rules) {
            diesel::insert_into(service_rules::table)
                .values((
                    service_rules::service_id.eq(id),
                    service_rules::position.eq(position),
                    service_rules::method.eq(method),
                    service_rules::path.eq(path),
                    service_rules::scope.eq(scope),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    pub fn set_credential(
        conn: &mut DbConnection,
        id: i64,
        digest: &str,
        hint: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(services::table.find(id))
            .set((
                services::credential_digest.eq(digest),
                services::credential_hint.eq(hint),
                services::updated_at.eq(now),
            ))
            .execute(conn)
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(token_usage::table.filter(token_usage::service_id.eq(id))).execute(conn)?;
        diesel::delete(services::table.find(id)).execute(conn)
    }
}

/// Uses of tokens, per service and day.
pub struct TokenUsage;

/// The service id under which uses of tokenwarden's own API are counted.
pub const API_SERVICE_ID: i64 = 0;

impl TokenUsage {
    /// Adds `uses` to the day's count of a token at a service (one statement: an upsert).
    pub fn add(
        conn: &mut DbConnection,
        token_id: i64,
        service_id: i64,
        day: NaiveDate,
        uses: i64,
    ) -> QueryResult<usize> {
        let row = (
            token_usage::token_id.eq(token_id),
            token_usage::service_id.eq(service_id),
            token_usage::day.eq(day),
            token_usage::uses.eq(uses),
        );
        on_backend!(conn, |c| diesel::insert_into(token_usage::table)
            .values(row)
            .on_conflict((token_usage::token_id, token_usage::service_id, token_usage::day))
            .do_update()
            .set(token_usage::uses.eq(token_usage::uses + uses))
            .execute(c))
    }

    /// Each token's uses per service since `since` (a day), for some of one owner's tokens
    /// (a page of them, or one): (token id, service id, uses).
    ///
    /// The query names the owner and the ids' range, not the ids themselves: an `IN` list
    /// of as many ids as the page has is a new statement for each length, parsed and
    /// planned again on every request (SQLite also builds a temporary table of the list).
    /// A page's tokens are a run of the owner's tokens in id order, so the range holds them
    /// and few others; those are dropped here.
    pub fn totals_since(
        conn: &mut DbConnection,
        owner: i64,
        token_ids: &[i64],
        since: NaiveDate,
    ) -> QueryResult<Vec<(i64, i64, i64)>> {
        use crate::db::schema::access_tokens;
        let (Some(&low), Some(&high)) = (token_ids.iter().min(), token_ids.iter().max()) else {
            return Ok(Vec::new());
        };
        // Summed here, not in SQL: PostgreSQL's sum(bigint) is a numeric, SQLite's an integer,
        // and a page of tokens over a month is a few hundred rows at most.
        let rows: Vec<(i64, i64, i64)> = on_backend!(conn, |c| access_tokens::table
            .inner_join(token_usage::table.on(token_usage::token_id.eq(access_tokens::id)))
            .filter(access_tokens::user_id.eq(owner))
            .filter(access_tokens::id.between(low, high))
            .filter(token_usage::day.ge(since))
            .select((token_usage::token_id, token_usage::service_id, token_usage::uses))
            .load(c))?;
        let wanted: std::collections::HashSet<i64> = token_ids.iter().copied().collect();
        let rows = rows.into_iter().filter(|(token, _, _)| wanted.contains(token));
        let mut totals: std::collections::BTreeMap<(i64, i64), i64> = std::collections::BTreeMap::new();
        for (token, service, uses) in rows {
            *totals.entry((token, service)).or_default() += uses;
        }
        Ok(totals.into_iter().map(|((t, s), n)| (t, s, n)).collect())
    }
}
