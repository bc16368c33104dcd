//! Permission guards: a handler that takes `Require<ManageUsers>` cannot run for a user
//! without `users.manage` — the check cannot be forgotten inside the handler.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::CurrentUser;
use crate::domain::Permission;
use crate::error::AppError;

pub trait PermissionMarker {
    const PERMISSION: Permission;
}

macro_rules! marker {
    ($name:ident, $perm:expr) => {
        #[derive(Debug)]
        pub struct $name;
        impl PermissionMarker for $name {
            const PERMISSION: Permission = $perm;
        }
    };
}

marker!(ViewTokens, Permission::ViewTokens);
marker!(CreateUpdateTokens, Permission::CreateUpdateTokens);
marker!(DeleteTokens, Permission::DeleteTokens);
marker!(ManageUsers, Permission::ManageUsers);
marker!(AccountSettings, Permission::AccountSettings);

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
            Some(u) if u.can(P::PERMISSION) => Ok(Require(u.clone(), PhantomData)),
            Some(_) => {
                Err(AppError::Forbidden(format!("You need the {} permission for this.", P::PERMISSION.key())))
            }
        };
        ready(result)
    }
}

/// A signed-in user holding at least one account-level permission: the door to the admin
/// pages, each of which then shows only what the holder's permissions allow.
#[derive(Debug)]
pub struct AnyAdmin(CurrentUser);

impl Deref for AnyAdmin {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

impl FromRequest for AnyAdmin {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.extensions().get::<CurrentUser>() {
            None => Err(AppError::LoginRequired),
            Some(u) if u.permissions.any_admin() => Ok(AnyAdmin(u.clone())),
            Some(_) => Err(AppError::Forbidden("This page is for administrators.".into())),
        };
        ready(result)
    }
}
