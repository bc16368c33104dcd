//! The token secret (`Authorization: Bearer …` or `?access_token=…`), its CRC32 checksum,
//! the hint, and a token addressed by id or hint in a URL (SPEC 4.5, 4.12).

use super::text;
use tokenwarden::domain::token_secret::{PREFIX, SECRET_LEN, hint_of, normalize_hint, verify_presented};
use tokenwarden::services::tokens::TokenRef;

pub fn check(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();

    // A secret that verifies has the exact shape of one: the prefix, then 36 base62.
    if let Some(digest) = verify_presented(s) {
        assert_eq!(s.len(), SECRET_LEN, "{s:?}");
        assert!(s.is_ascii() && s.starts_with(PREFIX), "{s:?}");
        assert!(s[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric()), "{s:?}");
        let hex = digest.as_str();
        assert!(hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{hex}");
        assert_eq!(verify_presented(s).as_ref(), Some(&digest), "the same digest every time");
        // Its hint is one that a URL may name as it is.
        let hint = hint_of(s);
        assert_eq!(normalize_hint(&hint), hint);
        // The checksum catches every one-character change (CRC32: any error of 8 bits).
        let at = PREFIX.len() + usize::from(data.first().copied().unwrap_or(0)) % (SECRET_LEN - PREFIX.len());
        let mut typo = s.as_bytes().to_vec();
        typo[at] = if typo[at] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).expect("still ASCII");
        assert_eq!(verify_presented(&typo), None, "{typo:?} passed the checksum of {s:?}");
    }

    // normalize_hint: idempotent; the input itself, or the stored form of a hint.
    let n = normalize_hint(s);
    assert_eq!(normalize_hint(&n), n, "not idempotent on {s:?}");
    if n != s {
        let tail = n.strip_prefix("tw_…").unwrap_or_else(|| panic!("{s:?} normalized to {n:?}"));
        assert!(tail.len() == 4 && tail.bytes().all(|b| b.is_ascii_alphanumeric()), "{s:?} → {n:?}");
        assert!(s.ends_with(tail));
    }

    // hint_of: the prefix, an ellipsis and the last (at most) four characters.
    let h = hint_of(s);
    let tail = h.strip_prefix("tw_…").unwrap_or_else(|| panic!("hint_of({s:?}) = {h:?}"));
    assert!(tail.chars().count() <= 4 && s.ends_with(tail), "hint_of({s:?}) = {h:?}");

    // TokenRef: a number is an id, anything else a normalized hint, stable when parsed again.
    match TokenRef::parse(s) {
        TokenRef::Id(id) => assert_eq!(s.parse::<i64>(), Ok(id)),
        TokenRef::Hint(hint) => {
            assert!(s.parse::<i64>().is_err());
            assert_eq!(hint, n);
            assert!(matches!(TokenRef::parse(&hint), TokenRef::Hint(again) if again == hint), "{s:?}");
        }
    }
}
