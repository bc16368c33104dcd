//! A service's credential in `Authorization: Basic …` (RFC 7617), as an OAuth client sends
//! it to `/oauth/introspect` (RFC 6749 §2.3.1, which RFC 7662 uses): the client id and
//! secret each form-urlencoded, joined by `:`, in base64.

use base64::Engine;

/// A client id and secret, as the client sent them (decoded). Its `Debug` shows the id
/// only.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials").field("id", &self.id).field("secret", &"(redacted)").finish()
    }
}

/// An `Authorization` value that says `Basic` but does not read as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Reads an `Authorization` header's value: `Ok(None)` for another scheme (the credential
/// may then be in the body), the id and secret for `Basic`, [`Malformed`] for a `Basic`
/// that does not read: not base64, not UTF-8, no `:`, a bad escape, a control character.
pub fn credentials(authorization: &str) -> Result<Option<ClientCredentials>, Malformed> {
    let value = authorization.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_matches([' ', '\t']))
        .map_err(|_| Malformed)?;
    let text = String::from_utf8(decoded).map_err(|_| Malformed)?;
    let (id, secret) = text.split_once(':').ok_or(Malformed)?;
    let (id, secret) = (form_decode(id)?, form_decode(secret)?);
    if id.is_empty() || id.chars().chain(secret.chars()).any(char::is_control) {
        return Err(Malformed);
    }
    Ok(Some(ClientCredentials { id, secret }))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
fn form_decode(s: &str) -> Result<String, Malformed> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'+' => b' ',
            b'%' => {
                let mut hex = || bytes.next().and_then(|h| char::from(h).to_digit(16)).ok_or(Malformed);
                let (hi, lo) = (hex()?, hex()?);
                (hi * 16 + lo) as u8
            }
            b => b,
        });
    }
    String::from_utf8(out).map_err(|_| Malformed)
}

/// The value a client sends for `id` and `secret` (what [`credentials`] reads back).
pub fn encode(id: &str, secret: &str) -> String {
    let form = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b' ' => "+".to_owned(),
                b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*') => {
                    char::from(b).to_string()
                }
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let pair = format!("{}:{}", form(id), form(secret));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(pair: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }

    #[test]
    fn credentials_formatted_for_a_log_show_the_id_and_not_the_secret() {
        let given = credentials(&basic("gradebook:s3cret-value")).unwrap().unwrap();
        assert_eq!(given.secret, "s3cret-value");
        let shown = format!("{given:?}");
        assert!(shown.contains("gradebook") && !shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn a_basic_credential_reads_as_its_id_and_secret() {
        let c = credentials(&basic("gradebook:twsvc_abc")).unwrap().unwrap();
        assert_eq!((c.id.as_str(), c.secret.as_str()), ("gradebook", "twsvc_abc"));
        // The scheme in any case, any blanks; a secret with a `:`.
        let c = credentials(&format!("  bAsIc \t{} ", &basic("a:b:c")[6..])).unwrap().unwrap();
        assert_eq!((c.id.as_str(), c.secret.as_str()), ("a", "b:c"));
        // Form-urlencoded, as RFC 6749 §2.3.1 has clients send them.
        let c = credentials(&basic("my%3Aapp:s+%C3%A9%25")).unwrap().unwrap();
        assert_eq!((c.id.as_str(), c.secret.as_str()), ("my:app", "s é%"));
        assert_eq!(credentials(&encode("my:app", "s é%")).unwrap().unwrap(), c);
    }

    #[test]
    fn another_scheme_is_no_basic_credential() {
        assert_eq!(credentials("Bearer tw_x"), Ok(None));
        assert_eq!(credentials(""), Ok(None));
        assert_eq!(credentials("Basically"), Ok(None));
    }

    #[test]
    fn a_basic_credential_that_does_not_read_is_malformed() {
        for bad in [
            "Basic".to_owned(),
            "Basic !!!".to_owned(),
            basic("no colon"),
            basic(":secret"),
            basic("id:%zz"),
            basic("id:%C3"),
            basic("id:a%0Ab"),
            basic("i\u{7}d:x"),
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode([0xff, b':', b'x'])),
        ] {
            assert_eq!(credentials(&bad), Err(Malformed), "{bad}");
        }
    }
}
