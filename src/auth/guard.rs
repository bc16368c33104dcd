//! Permission guards: a handler that takes `Require<ManageUsers>` cannot run for a user
//! without `users.manage` — the check cannot be forgotten inside the handler.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::CurrentUser;
use crate::domain::{Permission, PermissionSet};
use crate::error::AppError;

/// What a guard asks of the signed-in user's permissions: one of them, or any of several.
pub trait PermissionMarker {
    /// The permissions of which the holder needs at least one.
    const ANY_OF: &'static [Permission];

    fn allows(held: PermissionSet) -> bool {
        Self::ANY_OF.iter().any(|p| held.contains(*p))
    }

    /// In words first, for whoever followed a link here (a student, say), then the
    /// permission an administrator would look for: "This page is for administrators who may
    /// manage users (the users.manage permission). …".
    fn refusal() -> String {
        let what: Vec<String> =
            Self::ANY_OF.iter().map(|p| format!("{} (the {} permission)", p.label(), p.key())).collect();
        format!(
            "This page is for administrators who may {}. If your work needs it, ask an Account Admin.",
            what.join(", or ")
        )
    }
}

macro_rules! marker {
    ($(#[$doc:meta])* $name:ident, $($perm:expr),+) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl PermissionMarker for $name {
            const ANY_OF: &'static [Permission] = &[$($perm),+];
        }
    };
}

marker!(ViewTokens, Permission::ViewTokens);
marker!(CreateUpdateTokens, Permission::CreateUpdateTokens);
marker!(DeleteTokens, Permission::DeleteTokens);
marker!(ManageUsers, Permission::ManageUsers);
marker!(AccountSettings, Permission::AccountSettings);
marker!(
    /// The audit log and a profile's recent activity show every token's purpose, hint and
    /// id and every address: the same data as the profile page's tokens or the user list.
    ReadAudit,
    Permission::ViewTokens,
    Permission::ManageUsers
);
marker!(
    /// A user's profile page: for whoever oversees users or their tokens (not for a holder
    /// of `account.settings` alone, who has no business with people).
    SeeProfiles,
    Permission::ViewTokens,
    Permission::CreateUpdateTokens,
    Permission::DeleteTokens,
    Permission::ManageUsers
);

/// A signed-in user proven to hold `P`'s permission.
#[derive(Debug)]
pub struct Require<P>(CurrentUser, PhantomData<P>);

impl<P> Deref for Require<P> {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

impl<P> Require<P> {
    pub fn into_inner(self) -> CurrentUser {
        self.0
    }
}

impl<P: PermissionMarker> FromRequest for Require<P> {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.extensions().get::<CurrentUser>() {
            None => Err(AppError::LoginRequired),
            Some(u) if P::allows(u.permissions) => Ok(Require(u.clone(), PhantomData)),
            Some(_) => Err(AppError::Forbidden(P::refusal())),
        };
        ready(result)
    }
}
