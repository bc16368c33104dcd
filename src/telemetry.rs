//! The tracing subscriber: text for people, JSON for log pipelines.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never in files or pipelines.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A log that cannot be written (a full disk, a closed pipe) loses its lines, never a
    // request: by default the subscriber reports its own write errors with `eprintln!`,
    // which panics when stderr is what failed.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// A value from a client, as it may appear in a log line: control characters and
/// text-direction overrides escaped (a login with a newline cannot forge a second line,
/// nor turn a terminal's colours), everything else as it is, and at most `MAX` characters.
pub struct Escaped<'a>(pub &'a str);

impl Escaped<'_> {
    const MAX: usize = 64;
}

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars().take(Self::MAX) {
            if crate::domain::text::is_forbidden_in_text(c) {
                write!(f, "{}", c.escape_debug())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        if self.0.chars().nth(Self::MAX).is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// Paths that carry a secret in them: their secret part is never logged.
const SECRET_PATHS: [&str; 1] = ["/password/set/"];

/// A request's path as a log line may show it: the secret of a one-time link (`/password/
/// set/<secret>`) replaced by `…`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in SECRET_PATHS {
        // Compared as the router would route it, so `/Password/set` is not a way around.
        if path.len() > prefix.len()
            && path.is_char_boundary(prefix.len())
            && path[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            return format!("{prefix}…").into();
        }
    }
    path.into()
}

#[cfg(test)]
mod tests {
    use super::{Escaped, loggable_path};

    #[test]
    fn a_one_time_link_is_logged_without_its_secret() {
        assert_eq!(loggable_path("/password/set/abcDEF123"), "/password/set/…");
        assert_eq!(loggable_path("/PASSWORD/set/abcDEF123"), "/password/set/…");
        assert_eq!(loggable_path("/password/set/"), "/password/set/");
        assert_eq!(loggable_path("/admin/users"), "/admin/users");
        assert_eq!(loggable_path("/é"), "/é");
    }

    #[test]
    fn control_characters_are_escaped_and_long_values_cut() {
        assert_eq!(Escaped("ada\nERROR forged line").to_string(), "ada\\nERROR forged line");
        assert_eq!(Escaped("\u{1b}[31mred").to_string(), "\\u{1b}[31mred");
        assert_eq!(Escaped(&"x".repeat(100)).to_string(), format!("{}…", "x".repeat(64)));
        assert_eq!(Escaped("grace").to_string(), "grace");
        // Review of ccec4f8: only what a terminal would act on; quotes stay as typed.
        assert_eq!(Escaped("o'brien \"x\" \\").to_string(), "o'brien \"x\" \\");
        assert_eq!(Escaped("a\u{202E}b").to_string(), "a\\u{202e}b");
    }
}
