//! Canvas-style pagination: `page` (1-based) and `per_page` (default 10, at most 100) in
//! the query, and a `Link` header with `current`, `next`, `prev`, `first` and `last`.

use actix_web::HttpRequest;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;

pub const DEFAULT_PER_PAGE: i64 = 10;
pub const MAX_PER_PAGE: i64 = 100;

/// The query of a paginated list. Each value must be a whole number, given once (else a
/// 400 that names it); its range is read leniently, as Canvas reads it: `per_page` above
/// 100 is 100, and a number below 1 is the default. The OpenAPI document says so in words
/// and declares no `minimum` or `maximum`: the server refuses no number, so a client
/// written for Canvas that asks for `per_page=500` gets 100 items, not an error.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The page to return, from 1 (default 1; a number below 1 is read as 1).
    #[param(value_type = Option<i64>, example = 2)]
    pub page: Option<String>,
    /// How many items per page: default 10, at most 100 (a larger number is read as 100,
    /// as Canvas caps it; a number below 1 as the default).
    #[param(value_type = Option<i64>, example = 50)]
    pub per_page: Option<String>,
}

/// A page of a list, in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: i64,
    pub per_page: i64,
}

/// A query value that must be a whole number: digits, with an optional `-`.
fn whole_number(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(s) = value else { return Ok(None) };
    match crate::domain::text::whole_number(s) {
        Some(Ok(n)) => return Ok(Some(n)),
        // Past 64 bits: outside the document's integer (a schema's client is told so, as
        // Schemathesis checks), and said so, not "not a whole number".
        Some(Err(i64::MIN)) => {
            return Err(ApiError::BadRequest(format!("{name} is too small: give at least {}.", i64::MIN)));
        }
        Some(Err(_)) => {
            return Err(ApiError::BadRequest(format!("{name} is too large: give at most {}.", i64::MAX)));
        }
        None => {}
    }
    let shown: String = s.chars().take(40).collect();
    Err(ApiError::BadRequest(format!("{name} must be a whole number, e.g. {name}=2, not {shown:?}.")))
}

impl Page {
    pub fn of(query: &PageQuery) -> Result<Page, ApiError> {
        let page = whole_number("page", query.page.as_deref())?;
        let per_page = whole_number("per_page", query.per_page.as_deref())?;
        Ok(Page {
            number: page.filter(|n| *n >= 1).unwrap_or(1),
            per_page: per_page.filter(|n| *n >= 1).unwrap_or(DEFAULT_PER_PAGE).min(MAX_PER_PAGE),
        })
    }

    pub fn offset(&self) -> i64 {
        (self.number - 1).saturating_mul(self.per_page)
    }

    /// The number of the last page (1 for an empty list).
    pub fn last(&self, total: i64) -> i64 {
        let total = total.max(0);
        (total / self.per_page + i64::from(total % self.per_page != 0)).max(1)
    }

    /// The `Link` header for this page of `total` items at `url` (absolute, no query).
    pub fn link_header(&self, url: &str, total: i64) -> String {
        let link =
            |page: i64, rel: &str| format!("<{url}?page={page}&per_page={}>; rel=\"{rel}\"", self.per_page);
        let last = self.last(total);
        let mut links = vec![link(self.number, "current")];
        if self.number < last {
            links.push(link(self.number + 1, "next"));
        }
        if self.number > 1 {
            links.push(link(self.number - 1, "prev"));
        }
        links.push(link(1, "first"));
        links.push(link(last, "last"));
        links.join(",")
    }
}

/// This request's URL without its query, as clients reach it (`--public-url` when set):
/// the base of the `Link` header's pages, which must not carry the caller's `access_token`.
pub fn absolute_url(req: &HttpRequest, serve: &crate::config::ServeArgs) -> String {
    format!("{}{}", crate::client::site_address(req, serve), req.uri().path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(page: Option<&str>, per_page: Option<&str>) -> PageQuery {
        PageQuery { page: page.map(str::to_owned), per_page: per_page.map(str::to_owned) }
    }

    fn page(page: Option<&str>, per_page: Option<&str>) -> Page {
        Page::of(&query(page, per_page)).unwrap()
    }

    #[test]
    fn defaults_and_caps_as_canvas_reads_them() {
        assert_eq!(page(None, None), Page { number: 1, per_page: 10 });
        assert_eq!(page(Some("3"), Some("1000")), Page { number: 3, per_page: 100 });
        assert_eq!(page(Some("0"), Some("-5")), Page { number: 1, per_page: 10 });
        assert_eq!(page(Some("-0"), Some("007")), Page { number: 1, per_page: 7 });
        let huge = page(Some("9223372036854775807"), Some("100"));
        assert_eq!(huge.offset(), i64::MAX);
    }

    #[test]
    fn what_is_not_a_whole_number_is_refused_naming_the_parameter() {
        for (p, pp, name) in [
            (Some("two"), None, "page"),
            (None, Some(""), "per_page"),
            (None, Some("null"), "per_page"),
            (Some("1.5"), None, "page"),
            (Some("+2"), None, "page"),
            (Some(" 2"), None, "page"),
            (Some("-"), None, "page"),
        ] {
            let err = Page::of(&query(p, pp)).unwrap_err();
            assert!(matches!(&err, ApiError::BadRequest(m) if m.starts_with(name)), "{p:?} {pp:?}: {err}");
        }
    }

    /// Found in review: a number past 64 bits was "not a whole number".
    #[test]
    fn a_number_past_64_bits_is_too_large() {
        let err = Page::of(&query(Some("92233720368547758070"), None)).unwrap_err();
        assert!(matches!(&err, ApiError::BadRequest(m) if m.starts_with("page is too large")), "{err}");
        // Review: below them, "too small", not "too large" (still refused: outside the
        // document's 64-bit integer, which Schemathesis checks).
        let err = Page::of(&query(None, Some("-92233720368547758070"))).unwrap_err();
        assert!(matches!(&err, ApiError::BadRequest(m) if m.starts_with("per_page is too small")), "{err}");
    }

    #[test]
    fn the_last_page_is_never_below_one() {
        let p = Page { number: 1, per_page: 100 };
        assert_eq!(p.last(0), 1);
        assert_eq!(p.last(100), 1);
        assert_eq!(p.last(101), 2);
        assert_eq!(p.last(250), 3);
        // Found by fuzzing (fuzz/fuzz_targets/pagination.rs): `total + per_page - 1` overflowed.
        assert_eq!(p.last(i64::MAX), i64::MAX / 100 + 1);
        assert_eq!(Page { number: 1, per_page: 1 }.last(i64::MAX), i64::MAX);
        assert_eq!(p.last(-5), 1);
    }

    #[test]
    fn the_link_header_names_next_and_prev_only_when_they_exist() {
        let url = "http://h/api/v1/users/self/user_generated_tokens";
        let first = Page { number: 1, per_page: 100 }.link_header(url, 250);
        assert_eq!(
            first,
            "<http://h/api/v1/users/self/user_generated_tokens?page=1&per_page=100>; rel=\"current\",\
             <http://h/api/v1/users/self/user_generated_tokens?page=2&per_page=100>; rel=\"next\",\
             <http://h/api/v1/users/self/user_generated_tokens?page=1&per_page=100>; rel=\"first\",\
             <http://h/api/v1/users/self/user_generated_tokens?page=3&per_page=100>; rel=\"last\""
        );
        let last = Page { number: 3, per_page: 100 }.link_header(url, 250);
        assert!(!last.contains("rel=\"next\"") && last.contains("page=2&per_page=100>; rel=\"prev\""));
    }
}
