//! Flash messages ("Token deleted.") carried to the next page in a signed cookie.

use actix_web::HttpRequest;
use actix_web::cookie::Key;
use actix_web::dev::ResponseHead;
use actix_web_flash_messages::FlashMessage;
use actix_web_flash_messages::storage::{CookieMessageStore, FlashMessageStore, LoadError, StoreError};

pub const COOKIE: &str = "tw_flash";

/// actix-web-flash-messages' cookie store, except that a response clears the cookie only
/// when the request brought one. The store alone adds a removal `Set-Cookie` to every
/// response — each API answer and `/healthz` included — which an API client has no use
/// for and which costs every request a header.
pub struct FlashCookie {
    inner: CookieMessageStore,
}

impl FlashCookie {
    pub fn new(key: Key) -> FlashCookie {
        FlashCookie { inner: CookieMessageStore::builder(key).cookie_name(COOKIE.to_owned()).build() }
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
        self.inner.store(messages, request, response)
    }
}
