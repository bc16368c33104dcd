//! Form bodies (`application/x-www-form-urlencoded`): the API's `token[purpose]=…` fields
//! and the pages' token form, through to the drafts the services get.

use super::check_draft;
use tokenwarden::routes::api::v1::tokens::{TokenChangesForm as ApiForm, TokenParams};
use tokenwarden::views::tokens::TokenForm as PageForm;

pub fn check(data: &[u8]) {
    if let Ok(form) = serde_html_form::from_bytes::<ApiForm>(data) {
        let (purpose, expires_at, scopes) =
            (form.purpose.clone(), form.expires_at.clone(), form.scopes.clone());
        let params = TokenParams::from(form);
        let draft = params.draft();
        assert_eq!(draft.purpose, purpose);
        assert_eq!(draft.scopes, scopes);
        assert_eq!(draft.expiry.is_some(), expires_at.is_some(), "a left-out expiry stays left out");
        if let Some(Some(e)) = &expires_at {
            assert!(!e.is_empty(), "an empty expires_at is no expiry: Some(None)");
        }
        check_draft(&draft);
    }

    if let Ok(form) = serde_html_form::from_bytes::<PageForm>(data) {
        let creating = form.draft(true);
        let editing = form.draft(false);
        let regenerating = form.regenerate_draft();
        let keep = matches!(form.expires_in.trim(), "" | "keep");
        let dated = !form.expires_on.trim().is_empty();
        // The create form always names an expiry; an edit without one keeps it — unless it
        // sends a date, which is refused rather than dropped.
        assert!(creating.expiry.is_some());
        assert_eq!(editing.expiry.is_none(), keep && !dated);
        if keep && dated {
            assert!(matches!(editing.expiry, Some(Err(_))), "a date beside keeping is refused");
        }
        assert_eq!(regenerating.expiry, editing.expiry);
        assert!(regenerating.purpose.is_none() && regenerating.scopes.is_none());
        if !keep {
            assert_eq!(creating.expiry, editing.expiry);
        }
        for draft in [&creating, &editing] {
            assert_eq!(draft.purpose.as_deref(), Some(form.purpose.as_str()));
            assert_eq!(draft.scopes.as_ref(), Some(&form.scopes));
            check_draft(draft);
        }
        for s in &form.scopes {
            assert!(form.has_scope(s));
        }
    }
}
