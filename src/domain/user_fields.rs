//! The fields of a user, parsed once: a value that exists is valid.

use std::fmt;

use validator::ValidateEmail;

/// A rule broken by some input: which field, and a sentence for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        ValidationError { field, message: message.into() }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

fn has_control_chars(s: &str) -> bool {
    s.chars().any(super::text::is_forbidden_in_text)
}

/// A login: 1–64 characters of letters, digits, `.`, `_`, `-`, `@`; stored lower-cased
/// because logins are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login(String);

impl Login {
    pub const FIELD: &'static str = "login";

    /// The rules hold for the lower-cased form, the one stored and looked up: lower-casing
    /// can lengthen a login and bring in other characters (`İ` becomes `i` and a combining
    /// dot), and what is stored must be a login too.
    pub fn parse(input: &str) -> Result<Login, ValidationError> {
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return Err(ValidationError::new(Self::FIELD, "Enter a login."));
        }
        if s.chars().count() > 64 {
            return Err(ValidationError::new(Self::FIELD, "A login has at most 64 characters."));
        }
        if !s.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')) {
            return Err(ValidationError::new(
                Self::FIELD,
                "A login may contain only letters, digits and . _ - @",
            ));
        }
        Ok(Login(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name: trimmed, 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const FIELD: &'static str = "name";

    pub fn parse(input: &str) -> Result<DisplayName, ValidationError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ValidationError::new(Self::FIELD, "Enter a name."));
        }
        if s.chars().count() > 100 {
            return Err(ValidationError::new(Self::FIELD, "A name has at most 100 characters."));
        }
        if has_control_chars(s) {
            return Err(ValidationError::new(Self::FIELD, "A name cannot contain control characters."));
        }
        Ok(DisplayName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address (checked with the `validator` crate's HTML5 rule), at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const FIELD: &'static str = "email";

    pub fn parse(input: &str) -> Result<Email, ValidationError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ValidationError::new(Self::FIELD, "Enter an email address."));
        }
        if s.len() > 254 || !s.validate_email() {
            return Err(ValidationError::new(Self::FIELD, "Enter an email address like name@example.edu."));
        }
        Ok(Email(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 12–128 characters (OWASP ASVS 2.1.1/2.1.2). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const FIELD: &'static str = "password";
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(input: &str) -> Result<Password, ValidationError> {
        let n = input.chars().count();
        if n < Self::MIN_CHARS {
            return Err(ValidationError::new(
                Self::FIELD,
                format!("Use at least {} characters.", Self::MIN_CHARS),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(ValidationError::new(
                Self::FIELD,
                format!("Use at most {} characters.", Self::MAX_CHARS),
            ));
        }
        if input.trim().is_empty() {
            return Err(ValidationError::new(Self::FIELD, "A password cannot be only spaces."));
        }
        Ok(Password(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_lower_cased_and_trimmed() {
        assert_eq!(Login::parse("  Ada.Lovelace ").unwrap().as_str(), "ada.lovelace");
    }

    #[test]
    fn logins_refuse_blank_long_and_odd_characters() {
        assert!(Login::parse("   ").is_err());
        assert!(Login::parse(&"a".repeat(65)).is_err());
        assert!(Login::parse("a b").is_err());
        assert!(Login::parse("a<b").is_err());
        assert!(Login::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn a_stored_login_is_a_login_and_parses_to_itself() {
        // Found by fuzzing (fuzz/fuzz_targets/user_fields.rs): `İ` lower-cases to `i` and
        // U+0307, a combining mark the rule refuses, and to two characters: `İstanbul` was
        // stored as a login that did not parse again, 64 × `İ` as 128 characters.
        for typed in ["İstanbul", "İ".repeat(64).as_str(), "Ada.Lovelace", "ΟΔΥΣΣΕΥΣ", "\u{212a}elvin"]
        {
            if let Ok(login) = Login::parse(typed) {
                assert!(login.as_str().chars().count() <= 64, "{typed:?}");
                assert_eq!(Login::parse(login.as_str()), Ok(login.clone()), "{typed:?}");
            }
        }
        assert!(Login::parse("İstanbul").is_err());
        assert_eq!(Login::parse("\u{212a}elvin").unwrap().as_str(), "kelvin");
    }

    #[test]
    fn names_refuse_control_characters_and_blank() {
        assert!(DisplayName::parse("Ada\u{7}").is_err());
        assert!(DisplayName::parse(" ").is_err());
        assert_eq!(DisplayName::parse(" Ada ").unwrap().as_str(), "Ada");
    }

    #[test]
    fn emails_need_an_at_and_a_domain() {
        assert!(Email::parse("ada@example.edu").is_ok());
        assert!(Email::parse("ada").is_err());
        assert!(Email::parse("").is_err());
    }

    #[test]
    fn passwords_have_a_length_window_and_never_print() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse(&" ".repeat(12)).is_err());
        let p = Password::parse("correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }
}
