//! The tracing subscriber: text for people, JSON for log pipelines.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never in files or pipelines.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// A value from a client, as it may appear in a log line: control characters escaped (a
/// login with a newline cannot forge a second line), and at most `MAX` characters of it.
pub struct Escaped<'a>(pub &'a str);

impl Escaped<'_> {
    const MAX: usize = 64;
}

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars().take(Self::MAX) {
            write!(f, "{}", c.escape_debug())?;
        }
        if self.0.chars().nth(Self::MAX).is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Escaped;

    #[test]
    fn control_characters_are_escaped_and_long_values_cut() {
        assert_eq!(Escaped("ada\nERROR forged line").to_string(), "ada\\nERROR forged line");
        assert_eq!(Escaped("\u{1b}[31mred").to_string(), "\\u{1b}[31mred");
        assert_eq!(Escaped(&"x".repeat(100)).to_string(), format!("{}…", "x".repeat(64)));
        assert_eq!(Escaped("grace").to_string(), "grace");
    }
}
