//! What every page's layout needs: who is signed in, what they may open, the CSRF token,
//! and the flash messages left by the previous request.

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use actix_web_flash_messages::{IncomingFlashMessages, Level};

use crate::auth::{CurrentUser, csrf};
use crate::domain::Permission;
use crate::error::AppError;

/// The signed-in user as the navigation shows them.
#[derive(Debug, Clone)]
pub struct NavUser {
    pub name: String,
    pub login: String,
    pub can_view_tokens: bool,
    /// The audit log: SPEC 2 gives it to `access_tokens.view` and `users.manage`.
    pub can_read_audit: bool,
    pub can_manage_users: bool,
    pub can_change_settings: bool,
    /// `account.settings` and the audit log's data (`services::notifications::require_webhooks`).
    pub can_manage_webhooks: bool,
    pub is_admin: bool,
}

#[derive(Debug, Clone)]
pub struct FlashView {
    pub class: &'static str,
    pub text: String,
}

impl FlashView {
    /// The style of a message of this level.
    pub fn class_of(level: Level) -> &'static str {
        match level {
            Level::Error => "flash-error",
            Level::Warning => "flash-warning",
            Level::Success => "flash-success",
            _ => "flash-info",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PageCtx {
    pub user: Option<NavUser>,
    pub csrf: String,
    pub flashes: Vec<FlashView>,
}

impl PageCtx {
    fn base(req: &HttpRequest) -> PageCtx {
        let user = req.extensions().get::<CurrentUser>().map(|u| NavUser {
            name: u.name.clone(),
            login: u.login.clone(),
            can_view_tokens: u.can(Permission::ViewTokens),
            can_read_audit: u.can(Permission::ViewTokens) || u.can(Permission::ManageUsers),
            can_manage_users: u.can(Permission::ManageUsers),
            can_change_settings: u.can(Permission::AccountSettings),
            can_manage_webhooks: u.can(Permission::AccountSettings)
                && (u.can(Permission::ViewTokens) || u.can(Permission::ManageUsers)),
            is_admin: u.permissions.any_admin(),
        });
        PageCtx { user, csrf: csrf::token(&req.get_session()), flashes: Vec::new() }
    }

    /// For a page rendered before the session is read: nobody signed in, no form.
    pub fn anonymous() -> PageCtx {
        PageCtx { user: None, csrf: String::new(), flashes: Vec::new() }
    }

    /// For error pages, rendered outside any handler.
    pub fn for_error(req: &HttpRequest) -> PageCtx {
        PageCtx::base(req)
    }
}

impl FromRequest for PageCtx {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let incoming = IncomingFlashMessages::from_request(&req, payload);
        Box::pin(async move {
            let mut ctx = PageCtx::base(&req);
            if let Ok(messages) = incoming.await {
                ctx.flashes = messages
                    .iter()
                    .map(|m| FlashView {
                        class: FlashView::class_of(m.level()),
                        text: m.content().to_owned(),
                    })
                    .collect();
            }
            Ok(ctx)
        })
    }
}
