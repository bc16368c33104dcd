//! Password hashing with argon2id at one of OWASP's equivalent minimum configurations
//! (m = 9 MiB, t = 4, p = 1: the same work as m = 19 MiB, t = 2, in half the memory).
//! The server runs them through [`PasswordWork`]: off the async executor, one per core at a time.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::AppError;

fn argon2() -> Argon2<'static> {
    let params = Params::new(9 * 1024, 4, 1, None).expect("OWASP's argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Where the server hashes and verifies passwords: on threads of their own, one per core.
/// Each takes tens of milliseconds of a core and 9 MiB; a burst of sign-ins (or someone
/// guessing passwords within the throttle's budget) queues here instead of taking every
/// core and its memory at once. Not on the blocking pool: that pool is sized to the
/// database's connections, and a hash there would hold up the database work queued
/// behind it. No pooled database connection is held while a hash runs.
pub struct PasswordWork {
    threads: rayon::ThreadPool,
    /// Places in the queue: a hash waits here with its request, and when every place is
    /// taken the request is refused at once (503) instead of queueing without end.
    places: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Hashes that may wait per hashing thread: about a second of work on a busy machine.
pub const QUEUE_PER_THREAD: usize = 16;

impl PasswordWork {
    pub fn new(threads: usize) -> anyhow::Result<PasswordWork> {
        let places = std::sync::Arc::new(tokio::sync::Semaphore::new(threads.max(1) * QUEUE_PER_THREAD));
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("password-{i}"))
            // Without a handler a panic in a job aborts the process; here the waiting
            // request gets an error instead (its sender is dropped).
            .panic_handler(|_| tracing::error!("password hashing panicked"))
            .build()?;
        Ok(PasswordWork { threads, places })
    }

    /// Whether `password` matches `stored`; `None` verifies against a dummy (see [`verify`]).
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, AppError> {
        self.run(move || verify(&password, stored.as_deref())).await
    }

    /// A new PHC string for `password`.
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.run(move || hash(&password)).await?.map_err(AppError::Unexpected)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
        let place = self.places.clone().try_acquire_owned().map_err(|_| {
            AppError::Busy(
                "Too many people are signing in at this moment. Try again in a few seconds.".into(),
            )
        })?;
        let (done, result) = tokio::sync::oneshot::channel();
        self.threads.spawn(move || {
            let _place = place;
            // The request may have gone (the client hung up): nobody to tell.
            let _ = done.send(work());
        });
        result.await.map_err(|_| AppError::Unexpected(anyhow::anyhow!("password hashing failed")))
    }
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
        // OWASP lists m=9216 (9 MiB), t=4, p=1 among its equivalent minimums.
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"), "{h}");
    }

    #[test]
    fn verify_accepts_the_password_and_refuses_others() {
        let h = hash("correct horse battery").unwrap();
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("correct horse batterY", Some(&h)));
        assert!(!verify("anything", None));
        assert!(!verify("anything", Some("not a phc string")));
    }

    #[actix_web::test]
    async fn a_full_queue_refuses_at_once_instead_of_growing() {
        let work = PasswordWork::new(1).unwrap();
        let stuck = work.places.clone().acquire_many_owned(QUEUE_PER_THREAD as u32).await.unwrap();
        let refused = work.hash("correct horse battery".into()).await;
        assert!(matches!(refused, Err(AppError::Busy(_))), "{refused:?}");
        drop(stuck);
        assert!(work.hash("correct horse battery".into()).await.is_ok(), "a freed place takes work again");
    }

    #[test]
    fn hashes_made_with_the_earlier_parameters_still_verify() {
        // A PHC string carries its parameters: passwords set at m=19456,t=2 keep working.
        let params = Params::new(19 * 1024, 2, 1, None).unwrap();
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(old.contains("m=19456,t=2"));
        assert!(verify("correct horse battery", Some(&old)));
    }
}
