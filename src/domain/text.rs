//! Words for people: what the pages, flash messages, the audit log and the shell say.

use std::fmt::Display;

/// "1 token", "2 tokens", "0 tokens": an integer count with the noun that goes with it.
pub fn count(n: impl Display, one: &str, many: &str) -> String {
    let n = n.to_string();
    let noun = if n == "1" { one } else { many };
    format!("{n} {noun}")
}

/// Whether `c` may not be typed into a name, a purpose or a label: a control character
/// (a line break, a NUL), or one that reorders the text around it (the bidirectional
/// embeddings, overrides and isolates, U+202A–U+202E and U+2066–U+2069), with which
/// "Grade sync, expires 2017" can be made to read as something it is not wherever the text
/// is shown. Right-to-left letters themselves are welcome: they need none of these.
pub fn is_forbidden_in_text(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` is drawn as nothing (a zero-width space or joiner, a soft hyphen, a
/// direction mark, a byte-order mark: Unicode's format characters): in a short name people
/// tell apart by sight, it makes a lookalike ("Acc\u{200B}ount Admin").
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// A whole number as typed — digits with an optional `-`, nothing else — or `None`. One
/// past 64 bits is `Err` with the nearest that there is (`i64::MAX`, `i64::MIN`): each
/// caller decides whether that is out of range or simply far.
pub fn whole_number(text: &str) -> Option<Result<i64, i64>> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().map_err(|_| if text.starts_with('-') { i64::MIN } else { i64::MAX }))
}

/// Whether two names are the same but for case, in any script ("Schüler", "SCHÜLER"), and
/// for spacing ("Account  Admin", " Account Admin"): the names of roles and groups, which
/// people type and directories send as they please.
pub fn same_name(a: &str, b: &str) -> bool {
    // Words compared one by one: lower case, and the final sigma as any other (which Σ
    // lowercases to).
    fn folded(word: &str) -> impl Iterator<Item = char> + '_ {
        word.chars().flat_map(char::to_lowercase).map(|c| if c == 'ς' { 'σ' } else { c })
    }
    a.split_whitespace()
        .map(folded)
        .map(Iterator::collect::<String>)
        .eq(b.split_whitespace().map(folded).map(Iterator::collect::<String>))
}

#[cfg(test)]
mod tests {
    use super::{count, is_forbidden_in_text, same_name};

    #[test]
    fn control_and_direction_override_characters_are_forbidden_and_right_to_left_letters_not() {
        for c in ['\n', '\0', '\u{7f}', '\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}'] {
            assert!(is_forbidden_in_text(c), "{c:?}");
        }
        assert!(!"شهادة תעודה Ödön 名前 e\u{301}".chars().any(is_forbidden_in_text));
    }

    #[test]
    fn names_are_the_same_whatever_their_case_in_any_script() {
        assert!(same_name("Account Admin", "account ADMIN"));
        assert!(same_name("Schüler", "SCHÜLER"));
        assert!(same_name("Ὀδυσσεύς", "ὀΔΥΣΣΕΎΣ"));
        assert!(!same_name("Schüler", "Schuler"));
        assert!(!same_name("Admin", "Admins"));
        assert!(same_name("Account  Admin", " account admin "), "spacing does not count");
        assert!(!same_name("AccountAdmin", "Account Admin"), "a space between words does");
    }

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1, "token", "tokens"), "1 token");
        assert_eq!(count(0_usize, "token", "tokens"), "0 tokens");
        assert_eq!(count(2_i64, "session", "sessions"), "2 sessions");
        assert_eq!(count(11_u64, "holder", "holders"), "11 holders");
        assert_eq!(count(-1_i64, "token", "tokens"), "-1 tokens");
    }
}
