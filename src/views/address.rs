//! A web address shown where it may not fit on one line.

use std::fmt;

/// An address escaped for HTML, with a place to break (`<wbr>`) after its `//` and before
/// each `/`, `.`, `?`, `#`, `&` and `=` that follows, as a printed address is broken: a
/// narrow screen or column wraps it between its parts, never inside a name. A part longer
/// than the line still breaks where the page's CSS lets it.
pub struct Breakable<'a>(pub &'a str);

impl fmt::Display for Breakable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut written = 0;
        let mut prev = ['\0', '\0'];
        for (i, c) in self.0.char_indices() {
            let after_slashes = prev == ['/', '/'] && i > 2;
            let before = matches!(c, '/' | '.' | '?' | '#' | '&' | '=') && !matches!(prev[1], '/' | ':');
            if (after_slashes || before) && i > written {
                escaped(f, &self.0[written..i])?;
                f.write_str("<wbr>")?;
                written = i;
            }
            prev = [prev[1], c];
        }
        escaped(f, &self.0[written..])
    }
}

fn escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    match askama::filters::escape(text, askama::filters::Html) {
        Ok(html) => write!(f, "{html}"),
        Err(never) => match never {},
    }
}

/// Escaped above, piece by piece: the only markup is `<wbr>`.
impl askama::filters::HtmlSafe for Breakable<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_breaks_between_its_parts_and_is_escaped() {
        assert_eq!(
            Breakable("https://hooks.example.edu/tokenwarden?a=1&b=2").to_string(),
            "https://<wbr>hooks<wbr>.example<wbr>.edu<wbr>/tokenwarden<wbr>?a<wbr>=1<wbr>&#38;b<wbr>=2"
        );
        assert_eq!(
            Breakable("http://10.0.0.5:8080/x").to_string(),
            "http://<wbr>10<wbr>.0<wbr>.0<wbr>.5:8080<wbr>/x"
        );
        assert_eq!(Breakable("a<b>").to_string(), "a&#60;b&#62;", "nothing passes unescaped");
        assert_eq!(Breakable("").to_string(), "");
    }
}
