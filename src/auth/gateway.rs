//! Tokens guarding the institution's services (SPEC 11): the verification behind forward
//! auth and introspection, the services' definitions it reads, and the usage it counts.
//!
//! A token is looked up in the database on every verification — one indexed statement,
//! as for the API — so a revocation on any instance holds from the very next request. A
//! service's definition (scopes, rules) is read at most once a second per instance: a
//! change to a service is not a revocation, and a second is soon enough for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};

use crate::auth::bearer::{Admitted, Refusal};
use crate::db::{DbConnection, DbPool};
use crate::domain::service::{
    Denied, Holders, OwnerRoles, RequestLine, RouteRule, ServicePolicy, Slug, access,
};
use crate::domain::token_secret::{ServiceSecret, TokenDigest};
use crate::domain::{EnrollmentRole, now};
use crate::models::service::API_SERVICE_ID;
use crate::models::{Service, TokenUsage, UserCard};
use crate::services;

/// A service's definition, as verification reads it.
#[derive(Debug, Clone)]
pub struct ServiceEntry {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub accept_unscoped: bool,
    pub scopes: Vec<(String, Holders)>,
    pub rules: Vec<RouteRule>,
}

impl ServiceEntry {
    fn policy(&self) -> ServicePolicy<'_> {
        ServicePolicy {
            slug: &self.slug,
            accept_unscoped: self.accept_unscoped,
            scopes: &self.scopes,
            rules: &self.rules,
        }
    }
}

/// How long a service's definition is kept before it is read again.
const SERVICE_TTL: Duration = Duration::from_secs(1);

/// How many slugs without a service are remembered at most. Anyone may ask about any slug,
/// so what is remembered of those is bounded; when it is full it starts again.
const MISSES_KEPT: usize = 1_000;

#[derive(Default)]
struct Entries {
    /// Registered services, as read (bounded by what is registered).
    known: HashMap<Slug, (Instant, Arc<ServiceEntry>)>,
    /// Slugs without a service, and when that was read.
    misses: HashMap<Slug, Instant>,
}

/// The services' definitions, each read at most once per [`SERVICE_TTL`].
#[derive(Default)]
pub struct ServiceCache {
    entries: Mutex<Entries>,
}

impl ServiceCache {
    /// What is known of `slug` and still fresh: `Some(None)` for no such service.
    fn cached(&self, slug: &Slug) -> Option<Option<Arc<ServiceEntry>>> {
        let entries = self.entries.lock().expect("the service cache");
        if let Some((at, entry)) = entries.known.get(slug)
            && at.elapsed() < SERVICE_TTL
        {
            return Some(Some(entry.clone()));
        }
        entries.misses.get(slug).filter(|at| at.elapsed() < SERVICE_TTL).map(|_| None)
    }

    fn keep(&self, slug: &Slug, entry: Option<Arc<ServiceEntry>>) {
        let mut entries = self.entries.lock().expect("the service cache");
        match entry {
            Some(entry) => {
                entries.misses.remove(slug);
                entries.known.insert(slug.clone(), (Instant::now(), entry));
            }
            None => {
                entries.known.remove(slug);
                if entries.misses.len() >= MISSES_KEPT {
                    entries.misses.clear();
                }
                entries.misses.insert(slug.clone(), Instant::now());
            }
        }
    }

    /// How many slugs without a service are remembered now.
    pub fn misses(&self) -> usize {
        self.entries.lock().expect("the service cache").misses.len()
    }
}

/// Reads a service's definition (inside a database call).
fn load_service(conn: &mut DbConnection, slug: &str) -> Result<Option<ServiceEntry>, services::Error> {
    let Some(service) = Service::find_by_slug(conn, slug)? else { return Ok(None) };
    let def = Service::definition(conn, service)?;
    // Checked when they were written: taken as they are, none dropped.
    let rules = def.rules.iter().map(|r| RouteRule::from_stored(&r.method, &r.path, &r.scope)).collect();
    Ok(Some(ServiceEntry {
        id: def.service.id,
        slug: def.service.slug,
        name: def.service.name,
        accept_unscoped: def.service.accept_unscoped,
        scopes: def.scopes.into_iter().map(|s| (s.scope, Holders::from_stored(&s.holders))).collect(),
        rules,
    }))
}

/// Uses of tokens, counted in memory and written to the database every few seconds (one
/// upsert per token, service and day): a verification costs no write of its own.
#[derive(Default)]
pub struct UsageCounter {
    counts: Mutex<HashMap<(i64, i64, NaiveDate), i64>>,
}

impl UsageCounter {
    pub fn record(&self, token_id: i64, service_id: i64, at: NaiveDateTime) {
        let mut counts = self.counts.lock().expect("the usage counter");
        *counts.entry((token_id, service_id, at.date())).or_default() += 1;
    }

    /// Writes what was counted; what cannot be written now is counted again next time.
    pub async fn flush(&self, pool: &DbPool) {
        let taken: Vec<((i64, i64, NaiveDate), i64)> =
            std::mem::take(&mut *self.counts.lock().expect("the usage counter")).into_iter().collect();
        if taken.is_empty() {
            return;
        }
        let again = taken.clone();
        let written = crate::db::run(pool, move |conn| -> Result<(), services::Error> {
            crate::db::write_transaction(conn, |conn| {
                for ((token, service, day), uses) in &taken {
                    // A token revoked meanwhile has no row to count against: nothing to add.
                    match TokenUsage::add(conn, *token, *service, *day, *uses) {
                        Err(diesel::result::Error::DatabaseError(
                            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                            _,
                        )) => {}
                        other => {
                            other?;
                        }
                    }
                }
                Ok(())
            })
        })
        .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "token usage not written yet: kept for the next try");
            let mut counts = self.counts.lock().expect("the usage counter");
            for (key, uses) in again {
                *counts.entry(key).or_default() += uses;
            }
        }
    }
}

/// The owner and token that a verification vouches for, with the scopes they carry here.
#[derive(Debug, Clone)]
pub struct Verified {
    pub service: Arc<ServiceEntry>,
    pub token_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub user: UserCard,
    pub enrollment: Vec<EnrollmentRole>,
    pub account_roles: Vec<String>,
    pub student_only: bool,
    /// The service's scopes this token carries here (its own, or with an unscoped token
    /// the ones its owner may hold).
    pub scopes: Vec<String>,
}

impl Verified {
    /// The owner's roles as gateways and introspection name them: their enrollment roles,
    /// and `admin` for any account role.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        let admin = (!self.account_roles.is_empty()).then_some("admin");
        self.enrollment.iter().map(|r| r.key()).chain(admin)
    }
}

/// Why a verification did not vouch for the request.
#[derive(Debug)]
pub enum Refused {
    /// No such service.
    UnknownService,
    /// Missing, malformed, unknown, expired, pending or revoked token, or a suspended owner:
    /// 401, whatever the reason (logged with the token's id when it has one, never told).
    Invalid(Refusal),
    /// A valid token that does not open this request: 403 with the reason.
    Denied(Denied),
    Unavailable(services::Error),
}

impl From<services::Error> for Refused {
    fn from(e: services::Error) -> Self {
        Refused::Unavailable(e)
    }
}

/// What a verification needs from the app.
pub struct Gateway<'a> {
    pub pool: &'a DbPool,
    pub cache: &'a ServiceCache,
    pub usage: &'a UsageCounter,
    pub last_used_interval_secs: u64,
}

impl Gateway<'_> {
    /// The service named `slug`, from the cache or the database. Only a [`Slug`] is looked
    /// up: what a client sends that cannot be one costs no look-up and takes no room.
    pub async fn service(&self, slug: &Slug) -> Result<Arc<ServiceEntry>, Refused> {
        if let Some(cached) = self.cache.cached(slug) {
            return cached.ok_or(Refused::UnknownService);
        }
        let wanted = slug.as_str().to_owned();
        let loaded = crate::db::run(self.pool, move |conn| load_service(conn, &wanted)).await?.map(Arc::new);
        self.cache.keep(slug, loaded.clone());
        loaded.ok_or(Refused::UnknownService)
    }

    /// Whether the service's credential is `secret` (read fresh: a rotation holds at once).
    pub async fn service_credential_ok(&self, slug: &Slug, secret: &str) -> Result<bool, Refused> {
        let wanted = slug.as_str().to_owned();
        let stored = crate::db::run(self.pool, move |conn| -> Result<_, services::Error> {
            Ok(Service::find_by_slug(conn, &wanted)?.map(|s| s.credential_digest))
        })
        .await?;
        Ok(stored.is_some_and(|digest| ServiceSecret::matches(secret, &digest)))
    }

    /// Verifies the token whose secret has this digest (its shape and checksum already
    /// checked by [`verify_presented`](crate::domain::token_secret::verify_presented)) for
    /// `request` at `service` (`None` when the caller asks only which scopes the token
    /// carries there, as introspection does): one token look-up, the service's rules, the
    /// owner's roles as they are now.
    pub async fn verify(
        &self,
        service: Arc<ServiceEntry>,
        digest: TokenDigest,
        request: Option<&RequestLine<'_>>,
    ) -> Result<Verified, Refused> {
        let interval = self.last_used_interval_secs;
        let admitted = crate::db::run(self.pool, move |conn| {
            Ok::<_, services::Error>(crate::auth::bearer::admit(conn, &digest, interval)?)
        })
        .await?;
        let Admitted { token, owner, roles } = admitted.map_err(Refused::Invalid)?;
        let scopes = token.scope_set();
        let token_scopes: Vec<&str> = scopes.iter().collect();
        let owner_roles =
            OwnerRoles { enrollment: &roles.enrollment, holds_account_role: !roles.account.is_empty() };
        let granted: Vec<String> = access(&service.policy(), &token_scopes, owner_roles, request)
            .map_err(Refused::Denied)?
            .into_iter()
            .map(str::to_owned)
            .collect();
        self.usage.record(token.id, service.id, now());
        Ok(Verified {
            token_id: token.id,
            created_at: token.created_at,
            expires_at: token.expires_at,
            student_only: roles.is_student_only(),
            enrollment: roles.enrollment,
            account_roles: roles.account.into_iter().map(|r| r.name).collect(),
            user: owner,
            scopes: granted,
            service,
        })
    }
}

/// The API's own uses are counted under this service id.
pub const API: i64 = API_SERVICE_ID;
