//! Flash messages ("Token deleted.") carried to the next page in a signed cookie.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, Key};
use actix_web::dev::ResponseHead;
use actix_web::http::header::{HeaderValue, SET_COOKIE};
use actix_web_flash_messages::FlashMessage;
use actix_web_flash_messages::storage::{CookieMessageStore, FlashMessageStore, LoadError, StoreError};

pub const COOKIE: &str = "tw_flash";

/// actix-web-flash-messages' cookie store, except that a response clears the cookie only
/// when the request brought one. The store alone adds a removal `Set-Cookie` to every
/// response — each API answer and `/healthz` included — which an API client has no use
/// for and which costs every request a header.
///
/// And it marks the cookie `Secure` only when the app's cookies are (`--secure-cookies`):
/// the store alone always does, and a browser on plain HTTP, at any host but localhost,
/// drops such a cookie, and with it every message after a change.
pub struct FlashCookie {
    inner: CookieMessageStore,
    secure: bool,
}

impl FlashCookie {
    pub fn new(key: Key, secure: bool) -> FlashCookie {
        FlashCookie { inner: CookieMessageStore::builder(key).cookie_name(COOKIE.to_owned()).build(), secure }
    }
}

impl FlashMessageStore for FlashCookie {
    fn load(&self, request: &HttpRequest) -> Result<Vec<FlashMessage>, LoadError> {
        self.inner.load(request)
    }

    fn store(
        &self,
        messages: &[FlashMessage],
        request: HttpRequest,
        response: &mut ResponseHead,
    ) -> Result<(), StoreError> {
        if messages.is_empty() && request.cookie(COOKIE).is_none() {
            return Ok(());
        }
        self.inner.store(messages, request, response)?;
        if !self.secure {
            unmark_secure(response);
        }
        Ok(())
    }
}

/// Takes `Secure` off the message's cookie among the response's cookies.
fn unmark_secure(response: &mut ResponseHead) {
    let headers = response.headers_mut();
    let cookies: Vec<HeaderValue> = headers.remove(SET_COOKIE).collect();
    for value in cookies {
        let plain = value
            .to_str()
            .ok()
            .and_then(|v| Cookie::parse(v.to_owned()).ok())
            .filter(|c| c.name() == COOKIE && c.secure() == Some(true))
            .and_then(|mut c| {
                c.set_secure(false);
                HeaderValue::from_str(&c.to_string()).ok()
            });
        headers.append(SET_COOKIE, plain.unwrap_or(value));
    }
}
