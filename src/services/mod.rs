//! Every state change, whichever door it came through — a page, the API, the CLI (and
//! later SCIM and the gateways). Each operation takes an [`Actor`], checks the actor's
//! authority with the rules of `domain`, and writes the change and its audit event in one
//! transaction. Handlers parse, call, render; they never decide who may do what.

pub mod account;
pub mod import;
pub mod notifications;
pub mod password_links;
pub mod provisioning;
pub mod registry;
pub mod roles;
pub mod sessions;
pub mod settings;
pub mod setup;
pub mod sso;
pub mod stash;
pub mod tokens;
pub mod users;

use crate::domain::authority::{Refusal, TokenReach};
use crate::domain::{Permission, PermissionSet, ValidationError};
use crate::models::{AuditAction, NewAuditEvent};

/// Who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A user of the account.
    User(i64),
    /// Whoever runs `tokenwarden` at the server's shell: they hold the database already.
    Operator,
    /// The institution's systems: the identity provider at a sign-in, a provisioning client
    /// (SCIM). They set only what the role map lets them.
    Directory,
}

/// Through what the actor acts: what they presented bounds what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A signed-in browser session.
    Session,
    /// An API token: a token never gives more than its own reach (SPEC 4.13).
    Token(TokenReach),
    /// The command line.
    Cli,
    /// Single sign-on: the identity provider's word at a sign-in.
    SingleSignOn,
    /// A provisioning client (SCIM), with its credential's id.
    Provisioning(i64),
}

/// Who is acting, with which permissions, through what, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: Principal,
    /// The permissions the actor's account roles grant, as they are now.
    pub permissions: PermissionSet,
    pub student_only: bool,
    pub via: Via,
    /// The client's address, for the audit log.
    pub ip: Option<String>,
}

impl Actor {
    /// A signed-in user.
    pub fn user(
        id: i64,
        permissions: PermissionSet,
        student_only: bool,
        via: Via,
        ip: Option<String>,
    ) -> Actor {
        Actor { principal: Principal::User(id), permissions, student_only, via, ip }
    }

    /// The operator at the server's shell (`tokenwarden user create`, …): every permission.
    pub fn operator() -> Actor {
        Actor {
            principal: Principal::Operator,
            permissions: PermissionSet::all(),
            student_only: false,
            via: Via::Cli,
            ip: None,
        }
    }

    /// The institution's systems, acting through `via` (a sign-in, a SCIM credential).
    pub fn directory(via: Via, ip: Option<String>) -> Actor {
        Actor {
            principal: Principal::Directory,
            permissions: PermissionSet::empty(),
            student_only: false,
            via,
            ip,
        }
    }

    /// The acting user's id; `None` for the operator and the directory.
    pub fn user_id(&self) -> Option<i64> {
        match self.principal {
            Principal::User(id) => Some(id),
            Principal::Operator | Principal::Directory => None,
        }
    }

    /// The acting user's id, for operations only a user can perform (on their own tokens).
    pub fn require_user(&self) -> Result<i64, Error> {
        self.user_id().ok_or_else(|| Error::Forbidden("This needs a signed-in user.".into()))
    }

    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    /// The permission `p`, or a refusal naming it.
    pub fn require(&self, p: Permission) -> Result<(), Error> {
        if self.can(p) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("You need the {} permission for this.", p.key())))
        }
    }

    /// What the acting token may give, when the actor acts through one.
    pub fn reach(&self) -> Option<&TokenReach> {
        match &self.via {
            Via::Token(reach) => Some(reach),
            Via::Session | Via::Cli | Via::SingleSignOn | Via::Provisioning(_) => None,
        }
    }

    /// An audit event by this actor, from their address.
    pub fn audit(&self, action: AuditAction) -> NewAuditEvent {
        let event = NewAuditEvent::new(action).ip(self.ip.clone());
        match self.principal {
            Principal::User(id) => event.actor(id),
            Principal::Operator | Principal::Directory => event,
        }
    }
}

/// Why a service operation did not happen. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule, each error under its field.
    #[error("invalid input")]
    Invalid(Vec<ValidationError>),
    /// The actor may not do this; the sentence says why.
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// The request is ambiguous or collides with what exists.
    #[error("{0}")]
    Conflict(String),
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl Error {
    pub fn invalid(e: ValidationError) -> Error {
        Error::Invalid(vec![e])
    }

    /// The messages of an `Invalid`, or the sentence of a refusal, as one text.
    pub fn sentence(&self) -> String {
        match self {
            Error::Invalid(errors) => errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "),
            other => other.to_string(),
        }
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Error::Forbidden(r.0)
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::invalid(e)
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => Error::NotFound,
            e if crate::db::unavailable_reason(&e).is_some() => {
                let why = crate::db::unavailable_reason(&e).unwrap_or_default();
                Error::Unavailable(anyhow::Error::new(e).context(why))
            }
            other => Error::Unexpected(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

impl From<crate::db::RunError> for Error {
    fn from(e: crate::db::RunError) -> Self {
        match e {
            crate::db::RunError::Unavailable(e) => Error::Unavailable(e.into()),
            e @ (crate::db::RunError::Down | crate::db::RunError::TooSlow(_)) => Error::Unavailable(e.into()),
            other => Error::Unexpected(other.into()),
        }
    }
}
