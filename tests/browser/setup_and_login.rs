//! Journey a: the first run. Setup page, first administrator, sign out, sign in again.

use crate::harness::{Journey, Options};
use crate::helpers::{PASSWORD, SETUP_CODE, spawn_app};
use crate::steps::focused;

#[actix_web::test]
async fn first_run_sends_you_to_setup_and_the_new_admin_can_sign_out_and_in_again() {
    let app = spawn_app().await;
    let j = Journey::start("setup").await;
    let page = j.browser(&app, Options::DESKTOP).await;

    // A fresh install sends the first visitor to the setup page.
    page.goto("/").await;
    assert_eq!(page.path().await, "/setup");
    page.wait_text("h1", "Set up tokenwarden").await;
    j.shot(&page, "setup-form").await;

    // A wrong code is refused next to the field, and what was typed stays.
    page.fill("#setup_code", "not-the-code").await;
    page.fill("#login", "admin").await;
    page.fill("#name", "Ada Admin").await;
    page.fill("#email", "admin@example.edu").await;
    page.fill("#password", PASSWORD).await;
    page.fill("#password_confirm", PASSWORD).await;
    let submit = page.find_text("main form", "button", "Create administrator").await;
    page.click_and_load(submit).await;
    page.wait_text("#setup_code-error", "not the setup code").await;
    let kept = page.find("#login").await.prop("value").await.expect("value");
    assert_eq!(kept.as_deref(), Some("admin"), "the login typed is kept");
    // Found in review: the page came back with focus nowhere; it opens on the field refused.
    let (id, _, _, _) = focused(&page).await;
    assert_eq!(id, "setup_code", "focus on the refused field");
    j.shot(&page, "wrong-code").await;

    // The right code creates the administrator and signs them in.
    page.fill("#setup_code", SETUP_CODE).await;
    page.fill("#password", PASSWORD).await;
    page.fill("#password_confirm", PASSWORD).await;
    let submit = page.find_text("main form", "button", "Create administrator").await;
    page.click_and_load(submit).await;
    assert_eq!(page.path().await, "/");
    page.wait_text("h1", "Welcome, Ada Admin").await;
    assert!(page.is_visible(".user-menu").await, "the header shows who is signed in");
    j.shot(&page, "welcome").await;

    // The setup page is gone for good.
    page.goto("/setup").await;
    assert!(!page.exists("#setup_code").await, "setup refuses once a user exists");

    // Sign out, then sign in again.
    page.goto("/").await;
    page.sign_out().await;
    page.wait_text("main", "You have signed out.").await;
    assert!(!page.exists(".user-menu").await, "nobody is signed in");
    j.shot(&page, "signed-out").await;

    page.goto("/").await;
    assert_eq!(page.path().await, "/login", "the home page asks to sign in");
    page.sign_in("admin").await;
    // An administrator who oversees the account's tokens lands on the dashboard (SPEC 5).
    page.wait_text("h1", "Dashboard").await;
    assert_eq!(page.path().await, "/admin");
    j.shot(&page, "signed-in-again").await;
    page.close().await;
}
