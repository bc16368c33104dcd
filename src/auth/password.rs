//! Password hashing with argon2id at OWASP's parameters (m = 19 MiB, t = 2, p = 1).
//! Callers run these off the async executor (`web::block`): each takes tens of ms.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP's argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("could not hash a password: {e}"))
}

/// A hash of nothing anyone knows, verified against when the login does not exist so that
/// an unknown login takes as long to refuse as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash(&crate::domain::token_secret::random_base62(32)).expect("hashing a random password")
});

/// Whether `password` matches `stored` (a PHC string). `None` verifies against a dummy.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let (stored, real) = match stored {
        Some(s) => (s, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok() && real,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_with_owasp_parameters() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }

    #[test]
    fn verify_accepts_the_password_and_refuses_others() {
        let h = hash("correct horse battery").unwrap();
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("correct horse batterY", Some(&h)));
        assert!(!verify("anything", None));
        assert!(!verify("anything", Some("not a phc string")));
    }
}
