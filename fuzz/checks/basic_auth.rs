//! A service's credential in `Authorization: Basic …` at `/oauth/introspect` (RFC 7617,
//! RFC 6749 §2.3.1): base64 of the form-urlencoded id and secret.
//!
//! The input: an `Authorization` value as it comes; also, split at its first `:`, an id
//! and a secret that a client would encode.

use super::text;
use tokenwarden::auth::basic::{ClientCredentials, credentials, encode};

pub fn check(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();

    match credentials(s) {
        Ok(Some(c)) => {
            assert!(!c.id.is_empty(), "{s:?}: an empty id");
            assert!(!c.id.chars().chain(c.secret.chars()).any(char::is_control), "{s:?}: {c:?}");
            assert!(s.trim_start().get(..5).is_some_and(|w| w.eq_ignore_ascii_case("basic")), "{s:?}");
            // What a client sends for them reads back as them.
            assert_eq!(credentials(&encode(&c.id, &c.secret)), Ok(Some(c.clone())), "{s:?}");
        }
        Ok(None) => {
            let scheme = s.trim_matches([' ', '\t']).split([' ', '\t']).next().unwrap_or_default();
            assert!(!scheme.eq_ignore_ascii_case("basic"), "{s:?}: a Basic value read as another scheme");
        }
        Err(_) => {}
    }

    // Any id and secret a client encodes read back as they were.
    let (id, secret) = s.split_once(':').unwrap_or((s, ""));
    let encoded = encode(id, secret);
    let expected = ClientCredentials { id: id.to_owned(), secret: secret.to_owned() };
    if id.is_empty() || id.chars().chain(secret.chars()).any(char::is_control) {
        assert!(credentials(&encoded).is_err(), "{encoded:?}");
    } else {
        assert_eq!(credentials(&encoded), Ok(Some(expected)), "{encoded:?}");
    }
}
