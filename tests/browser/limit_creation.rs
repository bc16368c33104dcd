//! Journey d: an administrator limits personal token creation; the student's create form
//! gives way to an explanation.

use crate::harness::{Journey, Options};
use crate::helpers::spawn_app;

#[actix_web::test]
async fn when_an_admin_limits_creation_the_students_form_is_replaced_by_the_reason() {
    let app = spawn_app().await;
    app.setup_admin().await;
    app.create_user("sam", &["student"], &[]);
    let j = Journey::start("limit-creation").await;

    // Sam can create tokens to begin with.
    let student = j.browser(&app, Options::DESKTOP).await;
    student.sign_in("sam").await;
    student.goto("/settings/tokens").await;
    student.wait_visible("#purpose").await;
    assert!(
        student
            .find_text("#token-workspace", "button", "Create token")
            .await
            .is_displayed()
            .await
            .expect("shown")
    );

    // The administrator turns the limit on.
    let admin = j.browser(&app, Options::DESKTOP).await;
    admin.sign_in("admin").await;
    let link = admin.find_text(".main-nav", "a", "Account settings").await;
    admin.click_and_load(link).await;
    let checkbox = admin.find("input[name='limit_personal_creation']").await;
    assert!(!checkbox.is_selected().await.expect("state"), "the limit starts off");
    admin.click_text("main form", "strong", "Limit personal access token creation").await;
    assert!(checkbox.is_selected().await.expect("state"), "clicking the label ticks the box");
    j.shot(&admin, "limit-ticked").await;
    let save = admin.find_text("main form", "button", "Save settings").await;
    admin.click_and_load(save).await;
    admin.wait_text("#flash-area", "Account settings saved.").await;
    let checkbox = admin.find("input[name='limit_personal_creation']").await;
    assert!(checkbox.is_selected().await.expect("state"), "the limit is saved");
    j.shot(&admin, "settings-saved").await;
    admin.close().await;

    // Sam's next visit explains instead of offering a form.
    student.client.refresh().await.expect("reload");
    student.wait_loaded().await;
    let why = student.wait_text("#create-unavailable", "Creating tokens is unavailable").await;
    assert!(why.contains("only administrators may create them"), "the reason is given: {why}");
    assert!(!student.exists("#purpose").await, "no create form");
    assert!(!student.exists("#expires_in").await, "no create form");
    j.shot(&student, "creation-unavailable").await;
    student.close().await;
}
