//! Journey e: everything works with JavaScript turned off in the browser: plain form
//! posts and redirects, and questions before a destructive change asked on pages of their own.

use serde_json::json;

use crate::harness::{Journey, Options};
use crate::helpers::spawn_app;
use crate::steps::{create_token, row_id, seed_token};

#[actix_web::test]
async fn without_javascript_a_student_creates_a_token_and_an_admin_revokes_one() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    seed_token(&app, "sam", "Old laptop sync", "30").await;
    let j = Journey::start("no-javascript").await;
    let page = j.browser(&app, Options::NO_JAVASCRIPT).await;

    page.sign_in("sam").await;
    page.goto("/settings/tokens").await;
    assert_eq!(
        page.js("return typeof window.htmx;", vec![]).await,
        json!("undefined"),
        "the page's scripts really are off"
    );

    // Create: a plain post, a redirect, and the secret shown once.
    page.set_marker().await;
    let secret = create_token(&page, "Lab data logger").await;
    assert!(!page.marker_survives().await, "without JavaScript the page reloads");
    assert_eq!(page.path().await, "/settings/tokens", "the post redirects back to the page");
    page.wait_text(".secret-panel .warning", "only time it is shown").await;
    page.wait_text("#flash-area", "Token “Lab data logger” created").await;
    assert!(
        !page.is_visible("button[data-copy-target]").await,
        "the Copy button needs JavaScript and stays hidden"
    );
    j.shot(&page, "secret-shown").await;

    page.client.refresh().await.expect("reload");
    page.wait_loaded().await;
    assert!(!page.exists("#new-token-secret").await, "the secret is shown only once");
    assert!(!page.client.source().await.expect("source").contains(&secret));
    let id = row_id(&page, "Lab data logger").await;
    let hint = page.text(&format!("#{id} td[data-label='Hint']")).await;
    assert!(hint.ends_with(&secret[secret.len() - 4..]), "the hint {hint}");
    j.shot(&page, "after-reload").await;
    page.sign_out().await;

    // The administrator revokes one of Sam's tokens from the profile page.
    page.sign_in("admin").await;
    page.goto(&format!("/admin/users/{sam}")).await;
    page.wait_text("#tokens-title", "Access tokens (2)").await;
    let id = row_id(&page, "Old laptop sync").await;
    // "Revoke…" is a link to a page that asks; its answer comes back to the profile.
    let ask = page.find(&format!("#{id} a[href*='/revoke']")).await;
    page.click_and_load(ask).await;
    assert!(page.path().await.ends_with("/revoke"), "a page of its own");
    page.wait_text(".confirm-question", "Revoke “Old laptop sync” of Sam Example?").await;
    let yes = page.find_text("main", "button", "Yes, revoke").await;
    j.shot(&page, "revoke-confirm").await;
    page.set_marker().await;
    page.click_and_load(yes).await;
    assert_eq!(page.path().await, format!("/admin/users/{sam}"), "back on the profile page");
    page.wait_text("#flash-area", "Token “Old laptop sync” revoked").await;
    assert!(!page.exists(&format!("#{id}")).await, "the row is gone");
    page.wait_text("#tokens-title", "Access tokens (1)").await;
    row_id(&page, "Lab data logger").await;
    j.shot(&page, "revoked").await;
    page.close().await;
}
