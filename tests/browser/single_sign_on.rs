//! Journey: a teacher signs in with the institution's account. "Sign in with …" on
//! tokenwarden's sign-in page, the identity provider's own sign-in page, then back on
//! tokenwarden's home page, signed in, with the roles the provider's groups give.

use crate::a11y;
use crate::harness::{Journey, Options};
use crate::helpers::PASSWORD;
use crate::oidc_provider::world;

#[actix_web::test]
async fn a_teacher_signs_in_with_the_institutions_account() {
    let w = world().await;
    w.provider.set_person("tess", "Tess Teacher", &["Faculty"]);
    let j = Journey::start("single-sign-on").await;
    let page = j.browser(&w.app, Options::DESKTOP).await;

    page.goto("/settings/tokens").await;
    assert!(page.path().await.starts_with("/login"), "signing in comes first");
    let button = page.wait_visible("#sign-in-sso").await;
    assert_eq!(button.text().await.unwrap(), "Sign in with Test University");
    a11y::assert_accessible(&page, "the sign-in page with single sign-on").await;
    j.shot(&page, "sign-in-page").await;

    page.click_and_load(button).await;
    page.wait_text("h1", "Test University sign-in").await;
    assert!(page.path().await.starts_with("/interaction/"), "at the identity provider");
    page.fill("#login", "tess").await;
    page.fill("#password", PASSWORD).await;
    j.shot(&page, "identity-provider").await;
    let submit = page.find_text("form", "button", "Sign in").await;
    page.click_and_load(submit).await;

    page.wait_text("h1", "Access tokens").await;
    assert_eq!(page.path().await, "/settings/tokens", "back where she was going");
    assert!(page.is_visible(".user-menu").await, "signed in");
    page.goto("/").await;
    page.wait_text("h1", "Welcome, Tess Teacher").await;
    j.shot(&page, "signed-in").await;
    page.close().await;
}
