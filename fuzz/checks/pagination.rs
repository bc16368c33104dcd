//! Canvas-style pagination of the API's lists: `page` and `per_page` from the query, read
//! leniently, then the offset and the `Link` header for any total.
//!
//! The input: a query string as it comes (`page=2&per_page=50`); its first three lines are
//! also taken as the raw `page`, the raw `per_page` and the total number of items.

use super::{line, number, text};
use tokenwarden::routes::api::v1::pagination::{MAX_PER_PAGE, Page, PageQuery};

fn check_page(page: Page, total: i64) {
    assert!(page.number >= 1, "{page:?}");
    assert!((1..=MAX_PER_PAGE).contains(&page.per_page), "{page:?}");
    let offset = page.offset();
    assert!(offset >= 0, "{page:?}: offset {offset}");
    assert_eq!(offset, (page.number - 1).saturating_mul(page.per_page));

    let last = page.last(total);
    assert!(last >= 1, "{page:?}, {total}: last page {last}");
    let header = page.link_header("http://h/api/v1/users/self/user_generated_tokens", total);
    let rels: Vec<&str> = header.split(',').filter_map(|l| l.split("rel=\"").nth(1)).collect();
    let has = |rel: &str| rels.iter().filter(|r| r.trim_end_matches('"') == rel).count();
    assert_eq!((has("current"), has("first"), has("last")), (1, 1, 1), "{header}");
    assert_eq!(has("next"), usize::from(page.number < last), "{header}");
    assert_eq!(has("prev"), usize::from(page.number > 1), "{header}");
    for link in header.split(',') {
        let n: i64 = link
            .split("?page=")
            .nth(1)
            .and_then(|r| r.split('&').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no page number in {link:?}"));
        assert!(n >= 1, "{header}");
    }
}

pub fn check(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();
    let total: i64 = number(s, 2, 0);
    // As actix-web's `Query` reads it.
    if let Ok(query) = serde_urlencoded::from_bytes::<PageQuery>(data)
        && let Ok(page) = Page::of(&query)
    {
        check_page(page, total);
    }
    // Any strings at all: a whole number is read (and capped), anything else refused.
    let raw = PageQuery { page: Some(line(s, 0).to_owned()), per_page: Some(line(s, 1).to_owned()) };
    if let Ok(page) = Page::of(&raw) {
        check_page(page, total);
    }
    check_page(Page::of(&PageQuery::default()).expect("the defaults are a page"), total);
}
