//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): parsed from untrusted text
//! into a tree, and evaluated against a resource in its JSON representation.
//!
//! The grammar, with the leniencies clients need: operators and `and`/`or`/`not` in any
//! case (`userName Eq "john"`), any run of blanks where one space is asked for, none
//! before a quoted value (`members[value eq"42"]`, as an example of the RFC itself is
//! written). Attribute names may carry their schema's URN
//! (`urn:ietf:params:scim:schemas:core:2.0:User:userName`). A filter is at most
//! [`MAX_LEN`] bytes and nests at most [`MAX_DEPTH`] deep: no input can exhaust the stack.

use serde_json::Value;

/// The longest filter or path read.
pub const MAX_LEN: usize = 4096;
/// How deep parentheses, `not` and value filters may nest.
pub const MAX_DEPTH: usize = 32;

/// `[URN ":"] name ["." sub]`: an attribute, or a sub-attribute of a complex one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN written before the name, if any (`urn:…:core:2.0:User`).
    pub uri: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path by its name alone.
    pub fn named(name: &str) -> AttrPath {
        AttrPath { uri: None, name: name.to_owned(), sub: None }
    }

    /// Whether the path names `name` (and no sub-attribute), ignoring case.
    pub fn is(&self, name: &str) -> bool {
        self.sub.is_none() && self.name.eq_ignore_ascii_case(name)
    }

    /// Whether the path belongs to the schema `urn` (a path without a URN belongs to the
    /// resource's core schema).
    pub fn in_schema(&self, urn: &str) -> bool {
        self.uri.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(urn))
    }
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Lt,
    Ge,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        let ops = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("lt", CompareOp::Lt),
            ("ge", CompareOp::Ge),
            ("le", CompareOp::Le),
        ];
        ops.into_iter().find(|(w, _)| w.eq_ignore_ascii_case(word)).map(|(_, op)| op)
    }

    fn orders(self) -> bool {
        matches!(self, CompareOp::Gt | CompareOp::Lt | CompareOp::Ge | CompareOp::Le)
    }
}

/// The value a comparison compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `title pr`
    Present(AttrPath),
    /// `userName eq "bjensen"`
    Compare(AttrPath, CompareOp, CompValue),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    /// `emails[type eq "work" and value co "@example.com"]`: some value of the attribute
    /// matches the inner filter, whose paths name that value's sub-attributes.
    Has(AttrPath, Box<Filter>),
}

/// A PATCH operation's target (RFC 7644 §3.5.2): `name`, `name.sub`,
/// `name[filter]` or `name[filter].sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub uri: Option<String>,
    pub name: String,
    /// The value filter between brackets.
    pub filter: Option<Filter>,
    /// The sub-attribute, after a `.` (with or without a filter).
    pub sub: Option<String>,
}

impl PatchPath {
    pub fn attr(&self) -> AttrPath {
        AttrPath { uri: self.uri.clone(), name: self.name.clone(), sub: self.sub.clone() }
    }
}

/// Why a filter or a path does not read: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The byte offset in the input.
    pub at: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

/// Parses a filter (`filter=` of a list request).
pub fn parse_filter(input: &str) -> Result<Filter, ParseError> {
    let mut p = Parser::new(input)?;
    p.blanks();
    let filter = p.or(0, false)?;
    p.blanks();
    p.end("the end of the filter (an `and` or `or` to go on)")?;
    Ok(filter)
}

/// Parses a PATCH operation's `path`.
pub fn parse_path(input: &str) -> Result<PatchPath, ParseError> {
    let mut p = Parser::new(input)?;
    p.blanks();
    let attr = p.attr_path()?;
    let (filter, sub) = if p.eat(b'[') {
        if attr.sub.is_some() {
            return Err(p.error("a value filter follows an attribute's name, not a sub-attribute's"));
        }
        p.blanks();
        let filter = p.or(1, true)?;
        p.blanks();
        p.expect(b']', "`]` to close the value filter")?;
        let sub = if p.eat(b'.') { Some(p.name()?) } else { None };
        (Some(filter), sub)
    } else {
        (None, attr.sub)
    };
    p.blanks();
    p.end("the end of the path")?;
    Ok(PatchPath { uri: attr.uri, name: attr.name, filter, sub })
}

/// Parses `attributes=` or `excludedAttributes=`: attribute paths separated by commas.
pub fn parse_attr_list(input: &str) -> Result<Vec<AttrPath>, ParseError> {
    let mut p = Parser::new(input)?;
    let mut out = Vec::new();
    loop {
        p.blanks();
        if p.at_end() {
            break;
        }
        out.push(p.attr_path()?);
        p.blanks();
        if !p.eat(b',') {
            break;
        }
    }
    p.end("a comma between attribute names")?;
    Ok(out)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Result<Parser<'a>, ParseError> {
        if s.len() > MAX_LEN {
            return Err(ParseError { at: MAX_LEN, message: format!("longer than {MAX_LEN} characters") });
        }
        Ok(Parser { s, b: s.as_bytes(), pos: 0 })
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError { at: self.pos, message: message.into() }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), ParseError> {
        if self.eat(c) { Ok(()) } else { Err(self.error(format!("expected {what}"))) }
    }

    fn end(&self, what: &str) -> Result<(), ParseError> {
        if self.at_end() { Ok(()) } else { Err(self.error(format!("expected {what}"))) }
    }

    /// Skips blanks; whether there were any.
    fn blanks(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// The word at the cursor (what may make up a name), without moving.
    fn word(&self) -> &'a str {
        let end = self.b[self.pos..]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'$')))
            .map_or(self.b.len(), |n| self.pos + n);
        &self.s[self.pos..end]
    }

    /// Takes the keyword `kw` (any case) if it stands at the cursor as a word of its own.
    fn keyword(&mut self, kw: &str) -> bool {
        if self.word().eq_ignore_ascii_case(kw) {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    /// `or` binds loosest.
    fn or(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested more than {MAX_DEPTH} deep")));
        }
        let mut left = self.and(depth, in_brackets)?;
        while self.connective("or")? {
            let right = self.and(depth, in_brackets)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ParseError> {
        let mut left = self.unary(depth, in_brackets)?;
        while self.connective("and")? {
            let right = self.unary(depth, in_brackets)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// Takes ` and ` (or ` or `) when it comes next; a filter must follow it.
    fn connective(&mut self, kw: &str) -> Result<bool, ParseError> {
        let save = self.pos;
        if self.blanks() && self.keyword(kw) {
            if self.blanks() || self.peek() == Some(b'(') {
                return Ok(true);
            }
            if self.at_end() {
                return Err(self.error(format!("expected a filter after `{kw}`")));
            }
        }
        self.pos = save;
        Ok(false)
    }

    fn unary(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ParseError> {
        let save = self.pos;
        if self.keyword("not") {
            self.blanks();
            if self.eat(b'(') {
                let inner = self.grouped(depth, in_brackets)?;
                return Ok(Filter::Not(Box::new(inner)));
            }
            // An attribute whose name starts with "not".
            self.pos = save;
        }
        if self.eat(b'(') {
            return self.grouped(depth, in_brackets);
        }
        self.attr_expression(depth, in_brackets)
    }

    /// After `(`: a filter, then `)`.
    fn grouped(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ParseError> {
        self.blanks();
        let inner = self.or(depth + 1, in_brackets)?;
        self.blanks();
        self.expect(b')', "`)`")?;
        Ok(inner)
    }

    fn attr_expression(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ParseError> {
        let path = self.attr_path()?;
        if self.peek() == Some(b'[') {
            if in_brackets {
                return Err(self.error("a value filter cannot hold another"));
            }
            if path.sub.is_some() {
                return Err(self.error("a value filter follows an attribute's name, not a sub-attribute's"));
            }
            self.pos += 1;
            self.blanks();
            let inner = self.or(depth + 1, true)?;
            self.blanks();
            self.expect(b']', "`]` to close the value filter")?;
            return Ok(Filter::Has(path, Box::new(inner)));
        }
        if !self.blanks() {
            return Err(self.error(format!("expected an operator after {path}")));
        }
        let word = self.word();
        if word.eq_ignore_ascii_case("pr") {
            self.pos += 2;
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(word) else {
            return Err(self.error(format!(
                "expected an operator (eq, ne, co, sw, ew, gt, lt, ge, le or pr) after {path}"
            )));
        };
        self.pos += 2;
        // A quoted value may follow at once; anything else after a blank.
        if !self.blanks() && self.peek() != Some(b'"') {
            return Err(self.error("expected a blank and a value after the operator"));
        }
        let value = self.value()?;
        if op.orders() && matches!(value, CompValue::Bool(_) | CompValue::Null) {
            return Err(
                self.error("gt, lt, ge and le compare strings, numbers and dates, not true, false or null")
            );
        }
        Ok(Filter::Compare(path, op, value))
    }

    fn value(&mut self) -> Result<CompValue, ParseError> {
        match self.peek() {
            Some(b'"') => self.string().map(CompValue::Str),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => {
                let word = self.word();
                let value = match word.to_ascii_lowercase().as_str() {
                    "true" => CompValue::Bool(true),
                    "false" => CompValue::Bool(false),
                    "null" => CompValue::Null,
                    _ => {
                        return Err(
                            self.error("expected a value: a \"string\", a number, true, false or null")
                        );
                    }
                };
                self.pos += word.len();
                Ok(value)
            }
            None => Err(self.error("expected a value")),
        }
    }

    /// A JSON string, escapes and all.
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let mut i = start + 1;
        // Bytes of a multi-byte character are all ≥ 0x80: never a quote or a backslash.
        loop {
            match self.b.get(i) {
                None => return Err(self.error("a string without its closing quote")),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let literal = &self.s[start..=i];
        let value = serde_json::from_str::<String>(literal)
            .map_err(|e| self.error(format!("a string that does not read: {e}")))?;
        self.pos = i + 1;
        Ok(value)
    }

    fn number(&mut self) -> Result<CompValue, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.pos += 1;
        }
        match self.s[start..self.pos].parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(CompValue::Num(n)),
            _ => {
                self.pos = start;
                Err(self.error("a number that does not read"))
            }
        }
    }

    /// `[URN ":"] name ["." sub]`
    fn attr_path(&mut self) -> Result<AttrPath, ParseError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b':' | b'.' | b'$'))
        {
            self.pos += 1;
        }
        let token = &self.s[start..self.pos];
        if token.is_empty() {
            return Err(self.error("expected an attribute name"));
        }
        let (uri, rest) = match token.rfind(':') {
            Some(colon) => {
                let uri = &token[..colon];
                if !uri.to_ascii_lowercase().starts_with("urn:") {
                    return Err(ParseError {
                        at: start, message: format!("“{uri}” is not a schema URN")
                    });
                }
                (Some(uri.to_owned()), &token[colon + 1..])
            }
            None => (None, token),
        };
        let mut parts = rest.split('.');
        let name = parts.next().unwrap_or_default();
        let sub = parts.next();
        if parts.next().is_some() {
            return Err(ParseError {
                at: start,
                message: format!("“{rest}”: an attribute has sub-attributes, not sub-sub-attributes"),
            });
        }
        for part in std::iter::once(name).chain(sub) {
            if !is_attr_name(part) {
                return Err(ParseError {
                    at: start, message: format!("“{part}” is not an attribute name")
                });
            }
        }
        Ok(AttrPath { uri, name: name.to_owned(), sub: sub.map(str::to_owned) })
    }

    /// A sub-attribute's name after `].`
    fn name(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'$')) {
            self.pos += 1;
        }
        let name = &self.s[start..self.pos];
        if is_attr_name(name) {
            Ok(name.to_owned())
        } else {
            Err(self.error("expected a sub-attribute's name"))
        }
    }
}

/// `ALPHA *(ALPHA / DIGIT / "-" / "_")`, and `$ref`.
fn is_attr_name(s: &str) -> bool {
    s.eq_ignore_ascii_case("$ref")
        || (s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'))
}

// ---------------------------------------------------------------------------------------
// Evaluation

/// The member of a JSON object named `name`, whatever its case (SCIM's attribute names
/// are case-insensitive).
pub fn get_ci<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    let object = value.as_object()?;
    object.get(name).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// What a resource type says of its attributes that filtering needs.
pub struct Attributes<'a> {
    /// The core schema's URN: a path with another URN names nothing here.
    pub urn: &'a str,
    /// Attributes (`name` or `name.sub`, lower case) whose strings compare exactly; the
    /// others compare without regard to case (RFC 7643 §2.2, caseExact).
    pub case_exact: &'a [&'a str],
}

impl Attributes<'_> {
    fn exact(&self, path: &AttrPath) -> bool {
        let key = match &path.sub {
            Some(sub) => format!("{}.{}", path.name, sub),
            None => path.name.clone(),
        }
        .to_ascii_lowercase();
        self.case_exact.contains(&key.as_str())
    }
}

impl Filter {
    /// Whether `resource` (a JSON object) matches the filter.
    pub fn matches(&self, resource: &Value, attrs: &Attributes<'_>) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource, attrs) && b.matches(resource, attrs),
            Filter::Or(a, b) => a.matches(resource, attrs) || b.matches(resource, attrs),
            Filter::Not(f) => !f.matches(resource, attrs),
            Filter::Present(path) => values(resource, path, attrs).iter().any(|v| present(v)),
            Filter::Compare(path, op, expected) => {
                let found = values(resource, path, attrs);
                let exact = attrs.exact(path);
                match (op, expected) {
                    (CompareOp::Eq, CompValue::Null) => !found.iter().any(|v| present(v)),
                    (CompareOp::Ne, CompValue::Null) => found.iter().any(|v| present(v)),
                    (CompareOp::Ne, _) => !found.iter().any(|v| compare(v, CompareOp::Eq, expected, exact)),
                    _ => found.iter().any(|v| compare(v, *op, expected, exact)),
                }
            }
            Filter::Has(path, inner) => {
                if !path.in_schema(attrs.urn) {
                    return false;
                }
                match get_ci(resource, &path.name) {
                    Some(Value::Array(items)) => {
                        items.iter().any(|item| inner.matches_value(item, path, attrs))
                    }
                    Some(item @ Value::Object(_)) => inner.matches_value(item, path, attrs),
                    _ => false,
                }
            }
        }
    }

    /// Inside `name[…]`: the paths name sub-attributes of one value of `name`.
    fn matches_value(&self, item: &Value, outer: &AttrPath, attrs: &Attributes<'_>) -> bool {
        match self {
            Filter::And(a, b) => a.matches_value(item, outer, attrs) && b.matches_value(item, outer, attrs),
            Filter::Or(a, b) => a.matches_value(item, outer, attrs) || b.matches_value(item, outer, attrs),
            Filter::Not(f) => !f.matches_value(item, outer, attrs),
            Filter::Present(path) => sub_value(item, path).is_some_and(present),
            Filter::Compare(path, op, expected) => {
                let exact = attrs.exact(&AttrPath {
                    uri: None,
                    name: outer.name.clone(),
                    sub: Some(path.name.clone()),
                });
                let found = sub_value(item, path);
                match (op, expected) {
                    (CompareOp::Eq, CompValue::Null) => !found.is_some_and(present),
                    (CompareOp::Ne, CompValue::Null) => found.is_some_and(present),
                    (CompareOp::Ne, _) => !found.is_some_and(|v| compare(v, CompareOp::Eq, expected, exact)),
                    _ => found.is_some_and(|v| compare(v, *op, expected, exact)),
                }
            }
            // The parser allows no value filter inside another.
            Filter::Has(..) => false,
        }
    }

    /// The attribute and value of a filter of the form `attr eq VALUE` (what a client
    /// means to create when a PATCH's value filter matches nothing: `emails[type eq "work"]`).
    pub fn as_equality(&self) -> Option<(&str, Value)> {
        match self {
            Filter::Compare(path, CompareOp::Eq, value) if path.sub.is_none() && path.uri.is_none() => {
                let value = match value {
                    CompValue::Str(s) => Value::String(s.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Num(n) => serde_json::Number::from_f64(*n).map(Value::Number)?,
                    CompValue::Null => return None,
                };
                Some((path.name.as_str(), value))
            }
            _ => None,
        }
    }
}

/// Inside a value filter, `type` names the value's own `type`.
fn sub_value<'v>(item: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    if path.sub.is_some() || path.uri.is_some() {
        return None;
    }
    match item {
        Value::Object(_) => get_ci(item, &path.name),
        // A simple multi-valued attribute's value is itself `value`.
        other if path.name.eq_ignore_ascii_case("value") => Some(other),
        _ => None,
    }
}

/// The values a path names in a resource: an attribute, each value of a multi-valued one
/// (of a complex multi-valued one, their `value`), or a sub-attribute of each.
fn values<'v>(resource: &'v Value, path: &AttrPath, attrs: &Attributes<'_>) -> Vec<&'v Value> {
    if !path.in_schema(attrs.urn) {
        return Vec::new();
    }
    let Some(top) = get_ci(resource, &path.name) else { return Vec::new() };
    match (&path.sub, top) {
        (None, Value::Array(items)) => items
            .iter()
            .filter_map(|item| if item.is_object() { get_ci(item, "value") } else { Some(item) })
            .collect(),
        (None, other) => vec![other],
        (Some(sub), Value::Array(items)) => items.iter().filter_map(|item| get_ci(item, sub)).collect(),
        (Some(sub), object @ Value::Object(_)) => get_ci(object, sub).into_iter().collect(),
        (Some(_), _) => Vec::new(),
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &CompValue, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordered = |o: Ordering| match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    };
    match (actual, expected) {
        (Value::String(a), CompValue::Str(e)) => {
            let (a, e) = if exact { (a.clone(), e.clone()) } else { (a.to_lowercase(), e.to_lowercase()) };
            match op {
                CompareOp::Co => a.contains(&e),
                CompareOp::Sw => a.starts_with(&e),
                CompareOp::Ew => a.ends_with(&e),
                _ => ordered(a.cmp(&e)),
            }
        }
        (Value::Number(a), CompValue::Num(e)) => {
            a.as_f64().and_then(|a| a.partial_cmp(e)).is_some_and(ordered)
        }
        // An id is a string here, though it looks like a number: `id eq 42` finds it too.
        (Value::String(a), CompValue::Num(e)) => {
            a.parse::<f64>().ok().and_then(|a| a.partial_cmp(e)).is_some_and(ordered)
        }
        (Value::Bool(a), CompValue::Bool(e)) => matches!(op, CompareOp::Eq) == (a == e),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const ATTRS: Attributes<'static> = Attributes { urn: USER, case_exact: &["id", "externalid"] };

    fn path(name: &str) -> AttrPath {
        AttrPath::named(name)
    }

    fn s(v: &str) -> CompValue {
        CompValue::Str(v.to_owned())
    }

    #[test]
    fn the_filters_entra_id_and_okta_send_read() {
        assert_eq!(
            parse_filter(r#"userName eq "bjensen@example.com""#).unwrap(),
            Filter::Compare(path("userName"), CompareOp::Eq, s("bjensen@example.com"))
        );
        assert_eq!(
            parse_filter(r#"externalId eq "4f1a-77""#).unwrap(),
            Filter::Compare(path("externalId"), CompareOp::Eq, s("4f1a-77"))
        );
        assert_eq!(
            parse_filter(r#"displayName eq "Students""#).unwrap(),
            Filter::Compare(path("displayName"), CompareOp::Eq, s("Students"))
        );
        // Okta, and the RFC: operators in any case.
        assert_eq!(
            parse_filter(r#"userName Eq "john""#).unwrap(),
            Filter::Compare(path("userName"), CompareOp::Eq, s("john"))
        );
    }

    #[test]
    fn the_rfcs_own_filters_read() {
        for f in [
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ] {
            assert!(parse_filter(f).is_ok(), "{f}: {:?}", parse_filter(f));
        }
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_tightest() {
        let f = parse_filter(r#"a eq "1" or b eq "2" and c eq "3""#).unwrap();
        let Filter::Or(_, right) = f else { panic!("{f:?}") };
        assert!(matches!(*right, Filter::And(..)));
        let f = parse_filter(r#"not (a pr) and b pr"#).unwrap();
        assert!(matches!(f, Filter::And(ref l, _) if matches!(**l, Filter::Not(_))));
    }

    #[test]
    fn values_are_strings_numbers_booleans_and_null() {
        assert_eq!(
            parse_filter(r#"x eq "a\"b\u00e9""#).unwrap(),
            Filter::Compare(path("x"), CompareOp::Eq, s("a\"bé"))
        );
        assert_eq!(
            parse_filter("x gt -1.5e2").unwrap(),
            Filter::Compare(path("x"), CompareOp::Gt, CompValue::Num(-150.0))
        );
        assert_eq!(
            parse_filter("active eq True").unwrap(),
            Filter::Compare(path("active"), CompareOp::Eq, CompValue::Bool(true))
        );
        assert_eq!(
            parse_filter("x ne null").unwrap(),
            Filter::Compare(path("x"), CompareOp::Ne, CompValue::Null)
        );
    }

    #[test]
    fn what_does_not_read_says_where() {
        for (bad, at) in [
            ("", 0),
            ("userName", 8),
            ("userName eq", 11),
            (r#"userName eq "open"#, 12),
            (r#"userName xx "a""#, 9),
            (r#"userName eq "a" and"#, 19),
            (r#"(userName eq "a""#, 16),
            (r#"emails[type eq "work""#, 21),
            (r#"emails[type eq "a"] extra"#, 20),
            ("active gt true", 14),
            ("x eq 1e999", 5),
            ("x eq bogus", 5),
            ("9lives pr", 0),
            ("a.b.c pr", 0),
            ("http://x:y pr", 0),
        ] {
            let e = parse_filter(bad).unwrap_err();
            assert_eq!(e.at, at, "{bad:?}: {e}");
        }
        assert!(parse_filter(r#"emails[value[type eq "a"] pr]"#).unwrap_err().message.contains("another"));
    }

    #[test]
    fn deep_or_long_input_is_refused_not_a_stack_overflow() {
        let deep = format!("{}a pr{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_filter(&deep).is_err());
        let nested = format!("{}a pr{}", "not (".repeat(40), ")".repeat(40));
        assert!(parse_filter(&nested).unwrap_err().message.contains("deep"));
        let ok = format!("{}a pr{}", "(".repeat(20), ")".repeat(20));
        assert!(parse_filter(&ok).is_ok());
        assert!(parse_filter(&"a".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn patch_paths_read_as_entra_id_and_the_rfc_write_them() {
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!((p.name.as_str(), p.sub.as_deref()), ("emails", Some("value")));
        assert_eq!(p.filter, Some(Filter::Compare(path("type"), CompareOp::Eq, s("work"))));
        let p = parse_path("name.givenName").unwrap();
        assert_eq!(
            (p.name.as_str(), p.sub.as_deref(), p.filter.is_none()),
            ("name", Some("givenName"), true)
        );
        // As the RFC writes it, without a blank before the value.
        let p = parse_path(r#"members[value eq"2819c223-7f76-453a-919d-413861904646"]"#).unwrap();
        assert_eq!(p.name, "members");
        let p =
            parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber").unwrap();
        assert_eq!(p.uri.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_eq!(p.name, "employeeNumber");
        for bad in [
            "",
            "members[",
            "members[value eq \"1\"",
            "name.givenName[type eq \"a\"]",
            "a b",
            "emails[type eq \"w\"].",
        ] {
            assert!(parse_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn attribute_lists_are_comma_separated_paths() {
        let list = parse_attr_list("userName, name.givenName,members").unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[1].sub.as_deref(), Some("givenName"));
        assert!(parse_attr_list("").unwrap().is_empty());
        assert!(parse_attr_list("a b").is_err());
    }

    fn user() -> Value {
        json!({
            "schemas": [USER],
            "id": "42",
            "externalId": "AbC",
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "O'Malley"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                       {"value": "babs@jensen.org", "type": "home"}],
            "active": true,
            "meta": {"lastModified": "2026-12-01T10:00:00Z"}
        })
    }

    fn matches(f: &str) -> bool {
        parse_filter(f).unwrap().matches(&user(), &ATTRS)
    }

    #[test]
    fn filters_match_as_the_rfc_says() {
        assert!(matches(r#"userName eq "BJensen@Example.com""#), "userName ignores case");
        assert!(!matches(r#"externalId eq "abc""#), "externalId is case-exact");
        assert!(matches(r#"externalId eq "AbC""#));
        assert!(matches(r#"id eq "42""#) && matches("id eq 42"));
        assert!(matches(r#"name.familyName co "o'mal""#));
        assert!(matches(r#"userName sw "bj" and userName ew ".COM""#));
        assert!(matches(r#"emails co "jensen.org""#), "a multi-valued attribute compares its values");
        assert!(matches(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!matches(r#"emails[type eq "home" and value co "@example.com"]"#));
        assert!(matches(r#"emails.type eq "home""#));
        assert!(matches("active eq true") && !matches("active eq false"));
        assert!(matches(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#));
        assert!(!matches("title pr") && matches("name pr"));
        assert!(matches(r#"title eq null"#) && matches(r#"not (title pr)"#));
        assert!(matches(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#));
        assert!(!matches(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName sw "b""#));
        assert!(matches(r#"userName ne "someone else""#));
        assert!(matches(r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:User""#));
    }

    #[test]
    fn an_equality_filter_names_what_to_create() {
        let f = parse_filter(r#"type eq "work""#).unwrap();
        assert_eq!(f.as_equality(), Some(("type", json!("work"))));
        assert_eq!(parse_filter(r#"type eq "work" and primary eq true"#).unwrap().as_equality(), None);
    }
}
