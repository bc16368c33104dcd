//! Journey c: an administrator finds a student, sees their token and its purpose on the
//! profile page, and revokes it; htmx redraws the list in place, without that row. The
//! account-wide token list does the same.

use crate::harness::{Journey, Options};
use crate::helpers::spawn_app;
use crate::steps::{cancel_in_row, row_id, seed_token};

#[actix_web::test]
async fn an_admin_revokes_a_students_token_on_the_profile_page_without_a_reload() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    seed_token(&app, "sam", "Grade export script", "30").await;
    seed_token(&app, "sam", "Course notebook", "120").await;

    let j = Journey::start("admin-profile").await;
    let page = j.browser(&app, Options::DESKTOP).await;
    page.sign_in("admin").await;

    // Users → search → the student's profile page.
    let link = page.find_text(".main-nav", "a", "Users").await;
    page.click_and_load(link).await;
    page.fill("#q", "sam").await;
    let search = page.find_text("form[role='search']", "button", "Search").await;
    page.click_and_load(search).await;
    let profile = page.find_text("main table", "a", "Sam Example").await;
    page.click_and_load(profile).await;
    assert_eq!(page.path().await, format!("/admin/users/{sam}"));
    page.wait_text("h1", "Sam Example").await;
    page.wait_text("#tokens-title", "Access tokens (2)").await;
    let id = row_id(&page, "Grade export script").await;
    page.wait_text(&format!("#{id} td[data-label='Purpose']"), "Grade export script").await;
    j.shot(&page, "profile").await;

    // Found in review: "Revoke all tokens…" opened a question with no way to say no but
    // its summary. Its Cancel closes it, and focus goes back to what opened it.
    page.click_text("#tokens", "summary", "Revoke all tokens…").await;
    page.click_text("#tokens details.confirm", "button", "Cancel").await;
    let closed = page
        .js(
            "var d = document.querySelector('#tokens details.confirm'); \
             return [d.open, document.activeElement === d.querySelector('summary')];",
            vec![],
        )
        .await;
    assert_eq!(closed, serde_json::json!([false, true]), "closed, focus on its summary");
    // One question at a time, of either kind (found in review: "Revoke all tokens…" and a
    // row's question stayed open together).
    page.click_text("#tokens", "summary", "Revoke all tokens…").await;
    page.click(&format!("#{id} a[href*='/revoke']")).await;
    page.wait_visible(&format!("#{id}.confirming")).await;
    let open = page.js("return document.querySelector('#tokens details.confirm').open", vec![]).await;
    assert_eq!(open.as_bool(), Some(false), "asking in a row closes Revoke all");
    page.click_text("#tokens", "summary", "Revoke all tokens…").await;
    page.wait_visible(&format!("#{id} a[href*='/revoke']")).await;
    assert!(!page.exists(&format!("#{id}.confirming")).await, "opening Revoke all puts the row back");
    page.click_text("#tokens details.confirm", "button", "Cancel").await;
    // The table fits its card on a desktop, 1024 px wide and up (found in review: nine
    // columns overflowed it, and the row's buttons were cut off).
    let metrics =
        serde_json::json!({ "width": 1024, "height": 900, "deviceScaleFactor": 1, "mobile": false });
    page.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
    let overflow = page
        .js(
            "var w = document.querySelector('#tokens .table-wrap'); return w.scrollWidth - w.clientWidth;",
            vec![],
        )
        .await;
    assert_eq!(overflow.as_i64(), Some(0), "the tokens' table scrolls sideways at 1024 px");
    page.cdp("Emulation.clearDeviceMetricsOverride", serde_json::json!({})).await;

    // Revoke, after confirming: the list is redrawn in place, one token shorter, and a
    // message says so.
    // The question is fetched into the row (the list carries no form per row), with focus.
    page.set_marker().await;
    page.click(&format!("#{id} a[href*='/revoke']")).await;
    page.wait_visible(&format!("#{id}.confirming")).await;
    page.wait_text(&format!("#{id} .confirm-question"), "Revoke “Grade export script” of Sam Example?").await;
    let focused = page.js("return document.activeElement.id", vec![]).await;
    assert_eq!(
        focused.as_str(),
        Some(format!("confirm-{}", id.trim_start_matches("token-")).as_str()),
        "focus on the question"
    );
    let confirm = page.find_text(&format!("#{id}"), "button", "Yes, revoke").await;
    j.shot(&page, "revoke-confirm").await;
    confirm.click().await.expect("confirm revoke");
    page.wait_gone(&format!("#{id}")).await;
    page.wait_text("#flash-area", "Token “Grade export script” revoked").await;
    page.wait_text("#tokens-title", "Access tokens (1)").await;
    page.wait_text("#activity", "token.deleted").await;
    page.wait_htmx_idle().await;
    // The button pressed went with its row: focus moves to the list, not to the page's top.
    let focused = page.js("return document.activeElement.id", vec![]).await;
    assert_eq!(focused, "tokens-title", "focus after the revoke");
    assert!(page.marker_survives().await, "the row went without a page load");
    let other = row_id(&page, "Course notebook").await;
    assert!(page.is_visible(&format!("#{other}")).await, "the other token stays");
    j.shot(&page, "revoked").await;

    // A reload agrees: one token left.
    page.client.refresh().await.expect("reload");
    page.wait_loaded().await;
    page.wait_text("#tokens-title", "Access tokens (1)").await;
    assert!(!page.client.source().await.expect("source").contains("Grade export script</strong>"));

    // The account-wide list revokes in place the same way, down to its empty state.
    page.goto("/admin/tokens").await;
    let id = row_id(&page, "Course notebook").await;
    page.set_marker().await;
    // Cancel puts the list back as it was; asking again, then answering, revokes.
    page.click(&format!("#{id} a[href*='/revoke']")).await;
    page.wait_visible(&format!("#{id}.confirming")).await;
    cancel_in_row(&page, &id, "Revoke… “Course notebook” of Sam Example").await;
    page.wait_text(&format!("#{id} td[data-label='Purpose']"), "Course notebook").await;
    page.click(&format!("#{id} a[href*='/revoke']")).await;
    page.wait_visible(&format!("#{id}.confirming")).await;
    page.find_text(&format!("#{id}"), "button", "Yes, revoke").await.click().await.expect("confirm revoke");
    page.wait_text("#flash-area", "Token “Course notebook” revoked").await;
    page.wait_text("#token-list .empty-state", "Nobody in the account holds a personal access token.").await;
    page.wait_htmx_idle().await;
    let focused = page.js("return document.activeElement.id", vec![]).await;
    assert_eq!(focused, "token-list", "focus after the revoke");
    assert!(page.marker_survives().await, "the list was redrawn without a page load");
    assert_eq!(page.path().await, "/admin/tokens");
    j.shot(&page, "all-tokens-revoked").await;

    // Regenerated on Sam's behalf from the profile page (a plain post and a redirect): the
    // page opens with focus on the secret shown once (found in review: on the page's top).
    seed_token(&app, "sam", "Lab notebook", "30").await;
    page.goto(&format!("/admin/users/{sam}")).await;
    let id = row_id(&page, "Lab notebook").await;
    page.click(&format!("#{id} a[href*='/regenerate']")).await;
    page.wait_visible(&format!("#{id}.confirming")).await;
    let confirm = page.find(&format!("#{id} form button[type=submit]")).await;
    page.click_and_load(confirm).await;
    page.wait_visible("#new-token").await;
    assert_eq!(crate::steps::focused(&page).await.0, "new-token", "focus on the new secret");
    page.close().await;
}
