//! Words for people: what the pages, flash messages, the audit log and the shell say.

use std::fmt::Display;

/// "1 token", "2 tokens", "0 tokens": an integer count with the noun that goes with it.
pub fn count(n: impl Display, one: &str, many: &str) -> String {
    let n = n.to_string();
    let noun = if n == "1" { one } else { many };
    format!("{n} {noun}")
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1, "token", "tokens"), "1 token");
        assert_eq!(count(0_usize, "token", "tokens"), "0 tokens");
        assert_eq!(count(2_i64, "session", "sessions"), "2 sessions");
        assert_eq!(count(11_u64, "holder", "holders"), "11 holders");
        assert_eq!(count(-1_i64, "token", "tokens"), "-1 tokens");
    }
}
