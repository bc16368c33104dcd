//! Steps that several journeys share, done as a person would in the browser.

use crate::harness::Page;
use crate::helpers::TestApp;

/// Fills the create form on the Access tokens page and submits it; returns the secret
/// from the once-only panel. With JavaScript htmx swaps the workspace in place; without
/// it the form posts and the page reloads.
pub async fn create_token(page: &Page, purpose: &str) -> String {
    page.fill("#purpose", purpose).await;
    let button = page.find_text("#token-workspace form", "button", "Create token").await;
    if page.javascript {
        button.click().await.expect("click Create token");
        page.wait_text("#new-token-title", purpose).await;
        page.wait_htmx_idle().await;
    } else {
        page.click_and_load(button).await;
    }
    let secret = page.text("#new-token-secret").await;
    assert!(secret.starts_with("tw_"), "the panel shows a tw_ secret, not “{secret}”");
    secret
}

/// The id of the row (`tr#token-{id}`) whose purpose is `purpose`.
pub async fn row_id(page: &Page, purpose: &str) -> String {
    let id = page
        .js(
            "return Array.from(document.querySelectorAll('tr[id^=\"token-\"]'))\
             .filter(tr => tr.querySelector('td strong')?.textContent.trim() === arguments[0])\
             .map(tr => tr.id)[0] || null;",
            vec![serde_json::json!(purpose)],
        )
        .await;
    id.as_str().unwrap_or_else(|| panic!("no row for “{purpose}”")).to_owned()
}

/// Creates a token for `login` over plain HTTP (a quick way to set the scene).
pub async fn seed_token(app: &TestApp, login: &str, purpose: &str, expires_in: &str) {
    let b = app.signed_in(login).await;
    let res = b.post_form("/settings/tokens", &[("purpose", purpose), ("expires_in", expires_in)]).await;
    assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER, "creating “{purpose}” for {login}");
}

/// Whether the page scrolls sideways.
pub async fn scrolls_sideways(page: &Page) -> (bool, String) {
    // On a phone, against the screen's width: under phone emulation a page wider than the
    // screen widens the layout viewport (innerWidth) with it, as a phone zooms out. (A
    // headless desktop's screen is 800 px whatever its window.)
    let width =
        if page.options.phone { "Math.min(window.innerWidth, screen.width)" } else { "window.innerWidth" };
    let v = page.js(&format!("return [document.documentElement.scrollWidth, {width}];"), vec![]).await;
    let (scroll, inner) = (v[0].as_f64().unwrap_or(0.0), v[1].as_f64().unwrap_or(0.0));
    (scroll > inner, format!("scrollWidth {scroll} > the screen's width {inner}"))
}

/// Cells of the phone's table cards whose label does not fit beside the value (found in
/// review: a rule for wide tables took the labels' room on the profile page), as
/// `label: padding` pairs; empty when every label has its room.
pub async fn squeezed_labels(page: &Page) -> Vec<String> {
    let v = page
        .js(
            "return Array.from(document.querySelectorAll('td[data-label]')) \
               .filter(function (td) { return td.getClientRects().length > 0; }) \
               .map(function (td) { var s = getComputedStyle(td); \
                 var label = getComputedStyle(td, '::before'); \
                 return [td.dataset.label, parseFloat(s.paddingLeft), parseFloat(label.width), label.float]; }) \
               .filter(function (c) { return c[3] === 'left' && !(c[1] > c[2]); }) \
               .map(function (c) { return c[0] + ': ' + c[1] + 'px for a ' + c[2] + 'px label'; });",
            vec![],
        )
        .await;
    v.as_array().into_iter().flatten().filter_map(|c| c.as_str().map(str::to_owned)).collect()
}

/// Presses **Cancel** in the confirmation open in row `id` and checks that the question
/// goes and that focus is back on the link that asked, whose text is `asked_by` — as when
/// a dialog closes.
pub async fn cancel_in_row(page: &Page, id: &str, asked_by: &str) {
    page.click_text(&format!("#{id}"), "a", "Cancel").await;
    back_in_row(page, id, asked_by).await;
}

/// Escape in a row's question is its Cancel.
pub async fn escape_in_row(page: &Page, id: &str, asked_by: &str) {
    page.js(
        "document.activeElement.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));",
        vec![],
    )
    .await;
    back_in_row(page, id, asked_by).await;
}

async fn back_in_row(page: &Page, id: &str, asked_by: &str) {
    page.wait_gone(&format!("#{id}.confirming")).await;
    page.wait_htmx_idle().await;
    let focused = page
        .js("var a = document.activeElement; return a.closest('tr').id + ' ' + a.textContent", vec![])
        .await;
    let expected = format!("{id} {asked_by}");
    assert_eq!(focused.as_str(), Some(expected.as_str()), "focus after Cancel");
}

/// What has focus: its id, its classes, its text, and whether its top is on the screen.
pub async fn focused(page: &Page) -> (String, String, String, bool) {
    let got = page
        .js(
            "var a = document.activeElement, r = a.getBoundingClientRect(); \
             return [a.id, a.className, a.textContent.trim(), r.top >= 0 && r.top < window.innerHeight];",
            vec![],
        )
        .await;
    serde_json::from_value(got).expect("the focused element")
}

/// The message of a change made in place is on the screen, wherever the change was made
/// (found in review: it was at the page's top, scrolled out of view).
pub async fn assert_flash_in_view(page: &Page, says: &str) {
    let flash = page
        .js(
            "var f = document.querySelector('#flash-area .flash'), r = f.getBoundingClientRect(); \
             return [f.textContent, r.top >= 0 && r.bottom <= window.innerHeight, window.scrollY];",
            vec![],
        )
        .await;
    assert!(flash[0].as_str().unwrap_or("").contains(says), "the message: {flash}");
    assert_eq!(flash[1].as_bool(), Some(true), "the message on the screen: {flash}");
}
