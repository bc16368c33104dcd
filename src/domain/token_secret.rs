//! The token secret format (SPEC 4.5): `tw_` + 30 base62 characters from the OS CSPRNG
//! (≈178 bits) + a 6-character base62 CRC32 checksum, as GitHub's tokens do. The checksum
//! lets secret scanners and the server reject a mistyped or invented token without a
//! database lookup; only a SHA-256 digest of the secret is ever stored.

use std::fmt;

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "tw_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
pub const SECRET_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` characters of base62 drawn uniformly from the OS CSPRNG (rejection sampling, so
/// no character is likelier than another).
pub fn random_base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
        for &b in &buf {
            // 248 = 4 × 62: bytes at or above it would bias the first characters.
            if b < 248 && out.len() < n {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    out
}

fn base62_fixed(mut value: u64, width: usize) -> String {
    let mut chars = vec![b'0'; width];
    for slot in chars.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(chars).expect("the alphabet is ASCII")
}

fn checksum(body: &str) -> String {
    base62_fixed(u64::from(crc32fast::hash(body.as_bytes())), CHECKSUM_LEN)
}

/// A freshly generated secret. Shown to its owner once, then only its digest is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    pub fn generate() -> TokenSecret {
        let body = format!("{PREFIX}{}", random_base62(RANDOM_LEN));
        let sum = checksum(&body);
        TokenSecret(body + &sum)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(&self.0)
    }

    pub fn hint(&self) -> String {
        hint_of(&self.0)
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSecret({})", self.hint())
    }
}

/// The hint shown in lists: the prefix and the last four characters, e.g. `tw_…x9Qa`.
pub fn hint_of(secret: &str) -> String {
    let tail: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{PREFIX}…{tail}")
}

/// A service's credential for introspection: `twsvc_` + 40 base62 characters (≈238 bits).
/// Shown once; only its digest is kept.
pub struct ServiceSecret(String);

impl ServiceSecret {
    pub const PREFIX: &'static str = "twsvc_";

    pub fn generate() -> ServiceSecret {
        ServiceSecret(format!("{}{}", Self::PREFIX, random_base62(40)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(&self.0)
    }

    /// `twsvc_…x9Qa`
    pub fn hint(&self) -> String {
        let tail: String = self.0.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        format!("{}…{tail}", Self::PREFIX)
    }

    /// The digest of a presented credential, compared in constant time with `stored`.
    pub fn matches(presented: &str, stored: &str) -> bool {
        use subtle::ConstantTimeEq;
        presented.starts_with(Self::PREFIX)
            && TokenDigest::of(presented).as_str().as_bytes().ct_eq(stored.as_bytes()).into()
    }
}

impl fmt::Debug for ServiceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceSecret({})", self.hint())
    }
}

/// A provisioning client's credential (SCIM, SPEC 12): `twscim_` + 40 base62 characters
/// (≈238 bits). Shown once; only its digest is kept, and a request's credential is found
/// by its digest in one indexed look-up.
pub struct ProvisioningSecret(String);

impl ProvisioningSecret {
    pub const PREFIX: &'static str = "twscim_";

    pub fn generate() -> ProvisioningSecret {
        ProvisioningSecret(format!("{}{}", Self::PREFIX, random_base62(40)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(&self.0)
    }

    /// `twscim_…x9Qa`
    pub fn hint(&self) -> String {
        let tail: String = self.0.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        format!("{}…{tail}", Self::PREFIX)
    }

    /// The digest to look a presented credential up by, if it has the credential's shape.
    pub fn presented(presented: &str) -> Option<TokenDigest> {
        let rest = presented.strip_prefix(Self::PREFIX)?;
        (rest.len() == 40 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| TokenDigest::of(presented))
    }
}

impl fmt::Debug for ProvisioningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProvisioningSecret({})", self.hint())
    }
}

/// A hint as a client may type it in a URL: the stored `tw_…x9Qa`, or `tw_...x9Qa` and
/// `tw_x9Qa` (no ellipsis to type). Anything else is returned unchanged.
pub fn normalize_hint(input: &str) -> String {
    let Some(rest) = input.strip_prefix(PREFIX) else {
        return input.to_owned();
    };
    let tail = rest.strip_prefix('…').or_else(|| rest.strip_prefix("...")).unwrap_or(rest);
    if tail.len() == 4 && tail.bytes().all(|b| b.is_ascii_alphanumeric()) {
        format!("{PREFIX}…{tail}")
    } else {
        input.to_owned()
    }
}

/// The stored form of a secret: SHA-256, hex-encoded. A high-entropy secret needs no
/// salt or slow hash, so verification is one digest and one indexed lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDigest(String);

impl TokenDigest {
    fn of(secret: &str) -> TokenDigest {
        // Into a buffer of its own: `hex::encode` collects its digits one `char` at a time,
        // and this runs on every request that carries a token.
        let mut digits = [0u8; 64];
        hex::encode_to_slice(Sha256::digest(secret.as_bytes()), &mut digits)
            .expect("a SHA-256 digest is 32 bytes, 64 hex digits");
        TokenDigest(String::from_utf8(digits.to_vec()).expect("hex digits are ASCII"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks what a client presented: shape and checksum first, so a mistyped or invented
/// token is refused without touching the database. Returns the digest to look up.
pub fn verify_presented(presented: &str) -> Option<TokenDigest> {
    // The alphabet first: only then is every byte a character, and the split below cannot
    // fall inside a multi-byte one (a client may send anything, `é` included).
    let rest = presented.strip_prefix(PREFIX)?;
    if presented.len() != SECRET_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (body, sum) = presented.split_at(SECRET_LEN - CHECKSUM_LEN);
    (checksum(body) == sum).then(|| TokenDigest::of(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_has_the_prefix_the_length_and_base62_only() {
        let s = TokenSecret::generate();
        assert!(s.expose().starts_with("tw_"));
        assert_eq!(s.expose().len(), SECRET_LEN);
        assert!(s.expose()[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn a_secret_carries_at_least_128_bits_of_randomness() {
        let bits = RANDOM_LEN as f64 * 62f64.log2();
        assert!(bits >= 128.0, "{bits} bits");
    }

    #[test]
    fn secrets_differ_every_time() {
        let a: std::collections::HashSet<String> =
            (0..1000).map(|_| TokenSecret::generate().expose().to_owned()).collect();
        assert_eq!(a.len(), 1000);
    }

    #[test]
    fn a_generated_secret_verifies_to_its_digest() {
        let s = TokenSecret::generate();
        assert_eq!(verify_presented(s.expose()), Some(s.digest()));
    }

    /// The digest is what every stored token was written with: SHA-256 in lower-case hex
    /// (FIPS 180-2's example of "abc"). Another form would turn every token away.
    #[test]
    fn the_digest_is_sha256_in_lower_case_hex() {
        assert_eq!(
            TokenDigest::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let s = TokenSecret::generate();
        let mut chars: Vec<char> = s.expose().chars().collect();
        chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(verify_presented(&typo), None);
    }

    #[test]
    fn wrong_prefix_length_or_alphabet_is_refused() {
        let s = TokenSecret::generate();
        assert_eq!(verify_presented(&s.expose().replacen("tw_", "gh_", 1)), None);
        assert_eq!(verify_presented(&s.expose()[..SECRET_LEN - 1]), None);
        assert_eq!(verify_presented(""), None);
        assert_eq!(verify_presented(&format!("tw_{}", "-".repeat(36))), None);
    }

    #[test]
    fn non_ascii_input_of_the_right_length_is_refused_without_a_panic() {
        // 29 + 2 (é is two bytes) + 5 = 36 bytes after the prefix: the length of a secret.
        let sneaky = format!("tw_{}é{}", "a".repeat(29), "a".repeat(5));
        assert_eq!(sneaky.len(), SECRET_LEN);
        assert_eq!(verify_presented(&sneaky), None);
        assert_eq!(verify_presented(&format!("tw_{}", "é".repeat(18))), None);
        assert_eq!(verify_presented("é"), None);
    }

    #[test]
    fn the_digest_is_sha256_hex_not_the_secret() {
        let s = TokenSecret::generate();
        let d = s.digest();
        assert_eq!(d.as_str().len(), 64);
        assert!(!d.as_str().contains(&s.expose()[3..]));
    }

    #[test]
    fn the_hint_is_the_prefix_and_the_last_four_characters() {
        assert_eq!(hint_of("tw_abcdefWXYZ"), "tw_…WXYZ");
        let s = TokenSecret::generate();
        assert!(s.expose().ends_with(&s.hint()[s.hint().len() - 4..]));
        assert!(!format!("{s:?}").contains(&s.expose()[3..20]));
    }

    #[test]
    fn a_service_secret_matches_only_its_digest() {
        let s = ServiceSecret::generate();
        assert!(s.expose().starts_with("twsvc_") && s.expose().len() == 46);
        assert!(ServiceSecret::matches(s.expose(), s.digest().as_str()));
        assert!(!ServiceSecret::matches("twsvc_wrong", s.digest().as_str()));
        assert!(!format!("{s:?}").contains(&s.expose()[6..20]));
    }

    #[test]
    fn a_provisioning_secret_is_found_by_its_digest_and_never_printed() {
        let s = ProvisioningSecret::generate();
        assert!(s.expose().starts_with("twscim_") && s.expose().len() == 47);
        assert_eq!(ProvisioningSecret::presented(s.expose()), Some(s.digest()));
        assert_eq!(ProvisioningSecret::presented(&s.expose()[..46]), None);
        assert_eq!(ProvisioningSecret::presented(&s.expose().replacen("twscim_", "twsvc_", 1)), None);
        assert_eq!(ProvisioningSecret::presented(&format!("twscim_{}", "é".repeat(20))), None);
        assert!(s.hint().starts_with("twscim_…") && s.expose().ends_with(&s.hint()[s.hint().len() - 4..]));
        assert!(!format!("{s:?}").contains(&s.expose()[7..30]));
    }

    #[test]
    fn a_hint_may_be_typed_without_the_ellipsis() {
        assert_eq!(normalize_hint("tw_…x9Qa"), "tw_…x9Qa");
        assert_eq!(normalize_hint("tw_...x9Qa"), "tw_…x9Qa");
        assert_eq!(normalize_hint("tw_x9Qa"), "tw_…x9Qa");
        assert_eq!(normalize_hint("tw_x9Q"), "tw_x9Q");
        assert_eq!(normalize_hint("42"), "42");
        assert_eq!(normalize_hint("tw_…x9Q-"), "tw_…x9Q-");
    }

    #[test]
    fn random_base62_is_roughly_uniform() {
        let sample = random_base62(62 * 400);
        let mut counts = [0u32; 62];
        for b in sample.bytes() {
            counts[ALPHABET.iter().position(|a| *a == b).unwrap()] += 1;
        }
        // expected 400 each; a biased draw would push the first characters far above.
        assert!(counts.iter().all(|c| (250..=560).contains(c)), "{counts:?}");
    }
}
