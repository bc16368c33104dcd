//! HTTP routes, one module per area, mirroring the URLs.

pub mod account;
pub mod admin;
pub mod api;
pub mod assets;
pub mod confirm;
pub mod gateway;
pub mod health;
pub mod home;
pub mod issued;
pub mod password;
pub mod scim;
pub mod session;
pub mod settings;
pub mod setup;
pub mod sso;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use url::{Position, Url};

use crate::error::AppError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The router tries routes in this order, and each page route with an id in it costs a
    // regex: the machines' doors (the API, a gateway's question) come first, ahead of them.
    cfg.service(health::healthz)
        .service(health::readyz)
        .configure(api::configure)
        .configure(gateway::configure)
        .service(assets::asset)
        .service(home::index)
        .service(setup::show)
        .service(setup::create)
        .service(session::login_form)
        .service(session::login)
        .service(session::logout)
        .service(session::logout_everywhere)
        .service(sso::start)
        .service(sso::callback)
        .service(account::show)
        .service(account::change_password)
        .service(password::show)
        .service(password::set)
        .service(account::save_notifications)
        .service(settings::tokens::index)
        .service(settings::tokens::create_token)
        .service(settings::tokens::edit_token)
        .service(settings::tokens::confirm_regenerate)
        .service(settings::tokens::confirm_delete)
        .service(settings::tokens::update_token)
        .service(settings::tokens::regenerate_token)
        .service(settings::tokens::delete_token)
        .service(settings::tokens::activate_token)
        .configure(scim::configure)
        .configure(admin::configure);
}

/// Any route that does not exist.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// Renders a template as a full HTML response.
pub fn render<T: Template>(t: &T) -> Result<HttpResponse, AppError> {
    render_with(actix_web::http::StatusCode::OK, t)
}

pub fn render_with<T: Template>(
    status: actix_web::http::StatusCode,
    t: &T,
) -> Result<HttpResponse, AppError> {
    let body = t.render().map_err(|e| AppError::Unexpected(anyhow::anyhow!("template failed: {e}")))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

/// A form body, including fields that repeat (`scopes`, `roles`, `permissions`); a body that
/// does not read is a 400.
pub fn read_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    if !form_is_text(body) {
        return Err(AppError::BadRequest(NOT_TEXT.to_owned()));
    }
    serde_html_form::from_bytes(body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))
}

/// Said of a form whose fields are not UTF-8 text.
pub const NOT_TEXT: &str = "The form could not be read: its fields are not UTF-8 text.";

/// Whether a form body's names and values, percent-decoded, are UTF-8 text. `%FF` is not:
/// the form decoder would quietly store it as "�". (`&`, `=` and `+` are ASCII, so the body
/// can be decoded whole.)
pub fn form_is_text(body: &[u8]) -> bool {
    let mut decoded = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some((&byte, tail)) = rest.split_first() {
        let escaped = (byte == b'%')
            .then(|| tail.get(..2))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(b) => {
                decoded.push(b);
                rest = &tail[2..];
            }
            None => {
                decoded.push(byte);
                rest = tail;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

/// A list's page: its path and the query of the parameters given, those left empty left out.
pub fn page_href(path: &str, params: &[(&str, &str)]) -> String {
    let given: Vec<_> = params.iter().filter(|(_, v)| !v.is_empty()).collect();
    match serde_urlencoded::to_string(given).unwrap_or_default() {
        query if query.is_empty() => path.to_owned(),
        query => format!("{path}?{query}"),
    }
}

/// A redirect after a successful form post (303, so the browser follows with GET).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((actix_web::http::header::LOCATION, location)).finish()
}

/// Whether the request came from htmx (and so wants a fragment).
pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// Where a relative reference leads when it is followed from this site, as the path (with
/// query and fragment) to redirect to — or `None` when it would leave the site. Decided by
/// parsing as a browser does (WHATWG URL: tabs and newlines dropped, `\` read as `/`), so
/// `//evil.example`, `/<TAB>/evil.example`, `/\evil.example` and `https://evil.example` are
/// all recognised for what they are.
pub fn on_this_site(reference: &str) -> Option<String> {
    let base = Url::parse("http://this-site.invalid/").expect("a literal URL");
    let url = base.join(reference).ok()?;
    (url.origin() == base.origin()).then(|| url[Position::BeforePath..].to_owned()).and_then(redirectable)
}

/// The path (with query) of an absolute URL such as a `Referer`: where on this site to go
/// back to. Whatever host it named, only its path is kept.
pub fn local_path(absolute: &str) -> Option<String> {
    let url = Url::parse(absolute).ok()?;
    matches!(url.scheme(), "http" | "https")
        .then(|| url[Position::BeforePath..Position::AfterQuery].to_owned())
        .and_then(redirectable)
}

/// A parsed path is sent back as a `Location`, where a browser reads it again, relative to
/// this site: one that starts with `//` names another host there. A URL's path can: once
/// its dot segments are removed (`/.//evil.example`, `http:.//evil.example`) or when it is
/// written so (`http://this-site//evil.example`). `\` is `/` by then, tabs and newlines gone.
fn redirectable(path: String) -> Option<String> {
    (!path.starts_with("//")).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_is_text_when_its_escapes_decode_to_utf8() {
        assert!(form_is_text(b"purpose=Caf%C3%A9+sync&expires_in=30"));
        assert!(form_is_text("purpose=Café".as_bytes()));
        assert!(form_is_text(b"a=100%25&b=%zz&c=%"), "a stray % is taken as it is");
        assert!(!form_is_text(b"purpose=%FF"));
        assert!(!form_is_text(b"purpose=%C3"), "half a character");
        assert!(!form_is_text(b"purpose=%C3&x=%A9"), "split by a separator");
    }

    #[test]
    fn a_pages_address_leaves_out_the_parameters_left_empty() {
        assert_eq!(page_href("/admin/tokens", &[("show", ""), ("after", "")]), "/admin/tokens");
        assert_eq!(
            page_href(
                "/admin/audit",
                &[("actor", "ada"), ("action", ""), ("to", "2026-11-29"), ("before", "9~1")]
            ),
            "/admin/audit?actor=ada&to=2026-11-29&before=9%7E1"
        );
    }

    #[test]
    fn only_references_that_stay_on_this_site_are_followed() {
        assert_eq!(on_this_site("/settings/tokens").as_deref(), Some("/settings/tokens"));
        assert_eq!(on_this_site("/admin/users?q=a#x").as_deref(), Some("/admin/users?q=a#x"));
        for away in [
            "//evil.example",
            "/\t/evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/\n/evil.example",
            // Found by fuzzing (fuzz/fuzz_targets/redirects.rs): dot segments removed, the
            // path began with `//`, and the browser went to evil.example.
            "/.//evil.example",
            "/..//evil.example",
            "/a/..//evil.example",
            ".//evil.example",
            "/%2e//evil.example",
            "/./\\evil.example",
            "http:.//evil.example",
        ] {
            assert_eq!(on_this_site(away), None, "{away:?}");
        }
        assert_eq!(on_this_site("relative").as_deref(), Some("/relative"), "still on this site");
    }

    #[test]
    fn a_referer_gives_its_path_and_query() {
        assert_eq!(
            local_path("http://h:8080/admin/tokens?show=expired#t").as_deref(),
            Some("/admin/tokens?show=expired")
        );
        assert_eq!(local_path("not a url"), None);
        // Found by fuzzing: the path of such a referer is `//evil.example`, another host.
        assert_eq!(local_path("http://h//evil.example/admin/tokens"), None);
        assert_eq!(local_path("http://h/\\evil.example"), None);
        assert_eq!(local_path("http://h/.//evil.example"), None);
        assert_eq!(local_path("http://h/admin//tokens").as_deref(), Some("/admin//tokens"));
        assert_eq!(local_path("javascript:alert(1)"), None);
    }
}
