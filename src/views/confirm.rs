//! What is asked before a token's secret is replaced or the token deleted or revoked. It is
//! fetched into the token's row when asked for (htmx), or is a page of its own (no
//! JavaScript), so that a list carries no form per row it may never need. The same question
//! serves the Access Tokens page, a profile page and All tokens; only where it sits differs.

use super::tokens::ExpiryOptions;

/// The list a confirmation's row belongs to: what htmx swaps back on "Cancel" and after the
/// post that answers it.
#[derive(Debug, Clone, Copy)]
pub struct ListSwap {
    /// The element replaced.
    pub target: &'static str,
    /// The part of the response it is replaced with (all of it when `None`).
    pub select: Option<&'static str>,
    /// Elements elsewhere on the page that the response also brings (the flash message).
    pub oob: Option<&'static str>,
    /// How many columns the list's table has: the question spans them all.
    pub columns: u8,
}

impl ListSwap {
    /// The Access Tokens page: its workspace answers htmx with itself.
    pub const OWN_TOKENS: ListSwap =
        ListSwap { target: "#token-workspace", select: None, oob: None, columns: 8 };
    /// A profile page's token list (and the user's activity beside it).
    pub const PROFILE: ListSwap = ListSwap {
        target: "#tokens",
        select: Some("#tokens"),
        oob: Some("#flash-area,#activity"),
        columns: 9,
    };
    /// All tokens of the account, as filtered.
    pub const ALL_TOKENS: ListSwap =
        ListSwap { target: "#token-list", select: Some("#token-list"), oob: Some("#flash-area"), columns: 8 };
}

pub struct Confirmation {
    pub csrf: String,
    /// The token asked about (its row is `token-{id}`).
    pub id: i64,
    pub title: String,
    pub question: String,
    /// Where the answer is posted.
    pub action: String,
    pub button: &'static str,
    pub danger: bool,
    /// Where "Cancel" leads, and how the page of its own names it.
    pub back_url: String,
    pub back_label: String,
    /// Fetched into its row by htmx; else a page of its own.
    pub inline: bool,
    pub list: ListSwap,
    /// The answer is posted by htmx and the list swapped in place. Not where the answer
    /// leads to a page of its own (a secret issued on someone's behalf is shown above the list).
    pub post_in_place: bool,
    /// A regeneration's choice of the new expiry.
    pub expiry: Option<ExpiryOptions>,
    /// A regeneration may keep the token's expiry, when it has not passed: this is it, in
    /// words ("4 Mar 2027", "never"), and the choice offered first.
    pub keep_expiry: Option<String>,
    /// A regeneration refused for its expiry, asked again: the choice and date sent, and why.
    pub refused: Option<RefusedExpiry>,
}

/// What a refused regeneration had chosen, and the message shown next to it.
pub struct RefusedExpiry {
    pub selected: String,
    pub expires_on: String,
    pub message: String,
}

impl RefusedExpiry {
    /// Whether a regeneration was refused for its expiry (and is asked again).
    pub fn concerns(errors: &[crate::domain::ValidationError]) -> bool {
        errors.iter().any(|e| e.field == crate::domain::token::ExpiryChoice::FIELD)
    }

    /// The choice `form` made, with the reason `errors` give for refusing it.
    pub fn of(form: &super::tokens::TokenForm, errors: Vec<crate::domain::ValidationError>) -> RefusedExpiry {
        let message = errors.into_iter().find(|e| e.field == crate::domain::token::ExpiryChoice::FIELD);
        RefusedExpiry {
            selected: form.expires_in.trim().to_owned(),
            expires_on: form.expires_on.trim().to_owned(),
            message: message.map(|e| e.message).unwrap_or_default(),
        }
    }
}

impl Confirmation {
    /// The expiry offered first: the one a refused regeneration chose, else keeping the
    /// current one, else the default lifetime.
    pub fn first_choice(&self) -> &str {
        match (&self.refused, &self.keep_expiry, &self.expiry) {
            (Some(r), _, _) => &r.selected,
            (None, Some(_), _) => "keep",
            (None, None, Some(e)) => &e.default,
            (None, None, None) => "",
        }
    }

    /// What a regeneration of `token` may keep: its expiry, unless it has passed.
    pub fn keep_expiry_of(token: &crate::models::AccessToken, now: chrono::NaiveDateTime) -> Option<String> {
        (!token.is_expired(now))
            .then(|| token.expires_at.map_or_else(|| "never".to_owned(), super::tokens::date))
    }

    /// The parts every confirmation about token `id` shares; the rest is filled in by who asks.
    pub fn about(id: i64, csrf: String, inline: bool, list: ListSwap) -> Self {
        Confirmation {
            csrf,
            id,
            title: String::new(),
            question: String::new(),
            action: String::new(),
            button: "",
            danger: false,
            back_url: String::new(),
            back_label: String::new(),
            inline,
            list,
            post_in_place: true,
            expiry: None,
            keep_expiry: None,
            refused: None,
        }
    }
}
