//! Canvas-style pagination: `page` (1-based) and `per_page` (default 10, at most 100) in
//! the query, and a `Link` header with `current`, `next`, `prev`, `first` and `last`.

use actix_web::HttpRequest;
use actix_web::http::header::HOST;
use serde::Deserialize;
use utoipa::IntoParams;

pub const DEFAULT_PER_PAGE: i64 = 10;
pub const MAX_PER_PAGE: i64 = 100;

/// The query of a paginated list. Read leniently, as Canvas does: a value that is not a
/// positive number falls back to the default, and `per_page` above 100 is 100.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The page to return, from 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// How many items per page (default 10, at most 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

/// A page of a list, in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: i64,
    pub per_page: i64,
}

impl Page {
    pub fn of(query: &PageQuery) -> Page {
        let positive =
            |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<i64>().ok()).filter(|n| *n >= 1);
        Page {
            number: positive(&query.page).unwrap_or(1),
            per_page: positive(&query.per_page).unwrap_or(DEFAULT_PER_PAGE).min(MAX_PER_PAGE),
        }
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

/// The request's own URL without its query, absolute: links must not carry the caller's
/// `access_token` along. The scheme and host come from the proxy's headers only when the
/// proxy is trusted.
pub fn absolute_url(req: &HttpRequest, trust_proxy: bool) -> String {
    let (scheme, host) = if trust_proxy {
        let info = req.connection_info();
        (info.scheme().to_owned(), info.host().to_owned())
    } else {
        let scheme = if req.app_config().secure() { "https" } else { "http" };
        let host = req
            .headers()
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && !h.contains(['/', '\\', '<', '>', ' ', '"']))
            .map_or_else(|| req.app_config().host().to_owned(), str::to_owned);
        (scheme.to_owned(), host)
    };
    format!("{scheme}://{host}{}", req.uri().path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(page: Option<&str>, per_page: Option<&str>) -> PageQuery {
        PageQuery { page: page.map(str::to_owned), per_page: per_page.map(str::to_owned) }
    }

    #[test]
    fn defaults_caps_and_nonsense() {
        assert_eq!(Page::of(&query(None, None)), Page { number: 1, per_page: 10 });
        assert_eq!(Page::of(&query(Some("3"), Some("1000"))), Page { number: 3, per_page: 100 });
        assert_eq!(Page::of(&query(Some("0"), Some("-5"))), Page { number: 1, per_page: 10 });
        assert_eq!(Page::of(&query(Some("two"), Some(""))), Page { number: 1, per_page: 10 });
        let huge = Page::of(&query(Some("9223372036854775807"), Some("100")));
        assert_eq!(huge.offset(), i64::MAX);
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
