//! Accessibility basics on the main pages: every form control has a label, keyboard focus
//! is visible, and axe-core finds no colour-contrast or label violations.

use crate::a11y::{
    AXE_TAGS, assert_accessible, assert_focus_is_visible, axe, tab_through, unlabelled_controls,
};
use crate::harness::{Journey, Options};
use crate::helpers::spawn_app;
use crate::steps::{create_token, seed_token};

#[actix_web::test]
async fn the_login_tokens_profile_settings_provisioning_and_audit_pages_pass_the_accessibility_basics() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let sam = app.create_user("sam", &["student"], &[]);
    seed_token(&app, "sam", "Grade export script", "30").await;
    let j = Journey::start("accessibility").await;
    let page = j.browser(&app, Options::DESKTOP).await;

    // The login page, and again with an error message.
    page.goto("/login").await;
    assert_focus_is_visible(&page, "the login page").await;
    assert_accessible(&page, "the login page").await;
    page.fill("#login", "sam").await;
    page.fill("#password", "not the password").await;
    let button = page.find_text("main form", "button", "Sign in").await;
    page.click_and_load(button).await;
    page.wait_visible("#login-error").await;
    // Found in review: focus went back to the login, kept, and not to the password, emptied.
    let focused = page.js("return document.activeElement.id;", vec![]).await;
    assert_eq!(focused, serde_json::json!("password"), "the cursor is in the password, to type it again");
    assert_eq!(
        page.js("return document.getElementById('login').value;", vec![]).await,
        serde_json::json!("sam")
    );
    assert_accessible(&page, "the login page with an error").await;
    j.shot(&page, "login-error").await;

    // The token page, with a new secret, a flash and a row.
    page.sign_in("sam").await;
    page.goto("/settings/tokens").await;
    assert_focus_is_visible(&page, "the token page").await;
    create_token(&page, "Course notebook").await;
    assert_accessible(&page, "the token page").await;
    j.shot(&page, "tokens").await;
    page.sign_out().await;

    // The profile page and the account settings, as the administrator.
    page.sign_in("admin").await;
    page.goto(&format!("/admin/users/{sam}")).await;
    assert_focus_is_visible(&page, "the profile page").await;
    assert_accessible(&page, "the profile page").await;
    j.shot(&page, "profile").await;

    page.goto("/admin/settings").await;
    assert_focus_is_visible(&page, "the settings page").await;
    assert_accessible(&page, "the settings page").await;
    j.shot(&page, "settings").await;

    // The provisioning page, with a credential just created (shown once) and a flash.
    page.goto("/admin/provisioning").await;
    assert_focus_is_visible(&page, "the provisioning page").await;
    page.fill("#purpose", "Microsoft Entra ID").await;
    let button = page.find_text("main form", "button", "Create credential").await;
    page.click_and_load(button).await;
    page.wait_visible("#new-credential-secret").await;
    assert_accessible(&page, "the provisioning page").await;
    j.shot(&page, "provisioning").await;

    // The audit log with its filters, one of them refused next to its field.
    page.goto("/admin/audit?actor=nobody&from=2026-11-23").await;
    page.wait_text("#actor-error", "No user has the login").await;
    assert_focus_is_visible(&page, "the audit log").await;
    assert_accessible(&page, "the audit log").await;
    j.shot(&page, "audit").await;
    page.close().await;
}

/// The checks above must be able to fail: on a page spoiled on purpose they report each
/// problem.
#[actix_web::test]
async fn the_accessibility_checks_catch_a_missing_label_invisible_focus_and_faint_text() {
    let app = spawn_app().await;
    app.create_user("sam", &["student"], &[]); // with no user yet, /login would send us to /setup
    let j = Journey::start("a11y-self-test").await;
    let page = j.browser(&app, Options::DESKTOP).await;
    page.goto("/login").await;
    assert_eq!(page.path().await, "/login");
    // Styles set through the DOM, which the page's CSP allows (inline style attributes it
    // would not).
    page.js(
        r#"
        const form = document.querySelector('main form');
        const field = document.createElement('input');
        field.id = 'spoiled-field';
        form.prepend(field);
        const faint = document.createElement('p');
        faint.textContent = 'Faint text nobody can read';
        faint.style.color = '#d0d0d0';
        form.prepend(faint);
        const button = form.querySelector('button');
        button.style.outline = 'none';
        button.style.boxShadow = 'none';
        "#,
        vec![],
    )
    .await;
    let unlabelled = unlabelled_controls(&page).await;
    assert!(unlabelled.iter().any(|c| c.contains("spoiled-field")), "{unlabelled:?}");
    let report = axe(&page, AXE_TAGS).await;
    for rule in ["color-contrast", "label"] {
        assert!(
            report.violations.iter().any(|v| v.starts_with(rule)),
            "axe did not report {rule}: {:#?}",
            report.violations
        );
    }
    let stops = tab_through(&page, 20).await;
    let sign_in = stops.iter().find(|s| s.describe.contains("Sign in")).expect("Tab reaches Sign in");
    assert!(!sign_in.visible_indicator, "a button without outline or shadow counts as invisible focus");
    j.shot(&page, "spoiled").await;
    page.close().await;
}
