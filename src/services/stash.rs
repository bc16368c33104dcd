//! The once-only secret between a form post and the page that shows it (post → redirect →
//! get, for browsers without JavaScript). It waits on the server, bound to the session and
//! to the page it belongs to, sealed with a key that needs the session's own id — carried
//! only by the browser's encrypted cookie — and it is deleted as it is shown. Replaying an
//! older cookie finds nothing; another page never sees it.

use aead::{Aead, KeyInit, Payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::Error;
use crate::db::DbConnection;
use crate::models::SecretStash;

use chacha20poly1305::aead;

/// How long a secret waits for its page view.
pub const TTL_MINUTES: i64 = 10;

/// The session's stash: where its secrets wait and the key that seals them.
#[derive(Clone)]
pub struct StashKey {
    session_digest: String,
    key: [u8; 32],
}

impl std::fmt::Debug for StashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StashKey(***)")
    }
}

impl StashKey {
    /// The key of the session `session_id` (never stored) under the server's key.
    pub fn derive(server_key: &[u8], session_id: &str, session_digest: String) -> StashKey {
        let mut h = Sha256::new();
        h.update(b"tokenwarden secret stash v1\0");
        h.update(server_key);
        h.update(b"\0");
        h.update(session_id.as_bytes());
        StashKey { session_digest, key: h.finalize().into() }
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.key))
    }

    /// The additional data: a sealed value opens only for this session and page.
    fn aad(&self, page: &str) -> Vec<u8> {
        [self.session_digest.as_bytes(), b"\0", page.as_bytes()].concat()
    }

    pub(crate) fn seal(&self, page: &str, plain: &[u8]) -> Result<String, Error> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| Error::Unexpected(anyhow::anyhow!("no randomness: {e}")))?;
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: &self.aad(page) })
            .map_err(|_| Error::Unexpected(anyhow::anyhow!("could not seal a secret")))?;
        Ok(STANDARD_NO_PAD.encode([nonce.as_slice(), &sealed].concat()))
    }

    pub(crate) fn open(&self, page: &str, sealed: &str) -> Option<Vec<u8>> {
        let bytes = STANDARD_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ct) = bytes.split_at(12);
        self.cipher().decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &self.aad(page) }).ok()
    }
}

/// Leaves `value` for the next view of `page` in this session.
pub fn put<T: Serialize>(
    conn: &mut DbConnection,
    key: &StashKey,
    page: &str,
    value: &T,
) -> Result<(), Error> {
    let plain = serde_json::to_vec(value).map_err(|e| Error::Unexpected(e.into()))?;
    let sealed = key.seal(page, &plain)?;
    SecretStash::put(conn, &key.session_digest, page, &sealed, crate::domain::now())?;
    Ok(())
}

/// Takes what waits for `page` in this session: shown once, then gone.
pub fn take<T: DeserializeOwned>(
    conn: &mut DbConnection,
    key: &StashKey,
    page: &str,
) -> Result<Option<T>, Error> {
    let since = crate::domain::now() - chrono::Duration::minutes(TTL_MINUTES);
    let taken = SecretStash::take(conn, &key.session_digest, page, since)?;
    Ok(taken
        .last()
        .and_then(|sealed| key.open(page, sealed))
        .and_then(|plain| serde_json::from_slice(&plain).ok()))
}

/// Forgets secrets nobody came back for.
pub fn purge(conn: &mut DbConnection) -> Result<usize, Error> {
    Ok(SecretStash::purge_before(conn, crate::domain::now() - chrono::Duration::minutes(TTL_MINUTES))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_for_its_session_and_page() {
        let key = StashKey::derive(b"server key", "session-one", "digest-one".into());
        let sealed = key.seal("/settings/tokens", b"tw_secret").unwrap();
        assert!(!sealed.contains("tw_secret"));
        assert_eq!(key.open("/settings/tokens", &sealed).as_deref(), Some(b"tw_secret".as_slice()));
        assert_eq!(key.open("/admin/users/2", &sealed), None, "another page");
        let other = StashKey::derive(b"server key", "session-two", "digest-one".into());
        assert_eq!(other.open("/settings/tokens", &sealed), None, "another session id");
        assert_eq!(key.open("/settings/tokens", "not base64!"), None);
        assert!(!format!("{key:?}").contains("session"));
    }
}
