//! Locating mistakes in TOML configuration files: an error names the file, the line and the
//! dotted key (`edge.toml:15: behavior[0].origin: …`), and typed helpers turn spanned raw
//! values (durations, sizes, counts) into checked ones. Shared by the edge's distribution
//! config and the simulated world's configs, which is why it lives in the crate both use.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::units::{parse_duration, parse_size};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A refused configuration: which file, which line (when known), which key, and why.
///
/// Displays as `{file}:{line}: {key}: {message}`; without a line, `{file}: {key}: {message}`;
/// a TOML syntax error has no key and displays as `{file}:{line}: {message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Where a raw configuration came from: the file name to report, the text its spans point
/// into, and a prefix for key names (`"edge"` when the table is embedded as `[edge]`).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub key_prefix: &'a str,
    /// Whether spans point into `text` (false for a config rebuilt from a [`toml::Table`]).
    pub has_lines: bool,
}

impl<'a> Source<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Self {
            file,
            text,
            key_prefix: "",
            has_lines: true,
        }
    }

    /// Key names in errors start with `prefix.` (for a raw config embedded as a sub-table).
    pub fn with_key_prefix(mut self, prefix: &'a str) -> Self {
        self.key_prefix = prefix;
        self
    }

    /// The 1-based line of a byte offset into the text.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    /// An error about `key` (relative to the prefix) at `span`.
    pub fn error(
        &self,
        span: Option<Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        let key = match (self.key_prefix.is_empty(), key.is_empty()) {
            (true, _) => key.to_string(),
            (false, true) => self.key_prefix.to_string(),
            (false, false) => format!("{}.{key}", self.key_prefix),
        };
        ConfigError {
            file: self.file.to_string(),
            line: span
                .filter(|_| self.has_lines)
                .map(|s| self.line_of(s.start)),
            key,
            message: message.into(),
        }
    }

    /// Turns a TOML parse or deserialisation error on this whole text into a [`ConfigError`]:
    /// the line from its span, and the key path (absolute in the document, so the prefix is
    /// not added) found by locating the span in the parsed document.
    pub fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span();
        let path = span
            .as_ref()
            .and_then(|s| key_path_at(self.text, s))
            .unwrap_or_default();
        let msg = e.message().trim();
        let (key, message) = if let Some(rest) = msg.strip_prefix("unknown field `") {
            // "unknown field `x`, expected one of `a`, `b`": the path already ends in `x`.
            let rest = rest.split_once('`').map_or("", |(_, r)| r);
            (path, format!("unknown key{rest}"))
        } else if let Some(rest) = msg.strip_prefix("missing field `") {
            let field = rest.split_once('`').map_or(rest, |(f, _)| f);
            let key = if path.is_empty() {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
            (key, "required key is missing".to_string())
        } else if msg == "duplicate key" && path.is_empty() {
            // A syntax error (the document does not parse): name the key from its span.
            let key = span
                .as_ref()
                .and_then(|s| self.text.get(s.clone()))
                .filter(|k| !k.is_empty() && k.len() <= 64 && !k.contains('\n'))
                .unwrap_or_default();
            (key.to_string(), msg.to_string())
        } else if msg.starts_with("invalid boolean") {
            (path, format!("{msg} (if this is a string, quote it)"))
        } else if msg.contains("invalid type: map, expected a sequence") {
            let hint = format!(
                "{msg} (an array of tables is written [[{0}]], with double brackets)",
                path.rsplit('.').next().unwrap_or(&path)
            );
            (path, hint)
        } else {
            // Serde's names for our types mean nothing to the person editing the file.
            let mut m = msg.replace("expected i64", "expected an integer");
            if let Some(i) = m.find("expected struct Raw") {
                m.replace_range(i.., "expected a table");
            }
            (path, m)
        };
        ConfigError {
            file: self.file.to_string(),
            line: span
                .filter(|_| self.has_lines)
                .map(|s| self.line_of(s.start)),
            key,
            message,
        }
    }
}

/// The dotted key path (`behavior[1].ttl.mni`) of the key or value at `span` in `text`:
/// a key whose span is exactly `span` first, then the deepest value whose span is exactly
/// `span`, then the smallest value containing it. `None` if the text does not parse.
pub fn key_path_at(text: &str, span: &Range<usize>) -> Option<String> {
    use toml::de::{DeTable, DeValue};

    #[derive(Default)]
    struct Best {
        rank: (u8, usize, usize),
        path: Option<String>,
    }
    impl Best {
        fn offer(&mut self, rank: (u8, usize, usize), path: &str) {
            if self.path.is_none() || rank > self.rank {
                self.rank = rank;
                self.path = Some(path.to_string());
            }
        }
    }
    fn join(path: &str, key: &str) -> String {
        let bare = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let key = if bare {
            key.to_string()
        } else {
            format!("{key:?}")
        };
        if path.is_empty() {
            key
        } else {
            format!("{path}.{key}")
        }
    }
    fn table(t: &DeTable<'_>, path: &str, depth: usize, span: &Range<usize>, best: &mut Best) {
        for (k, v) in t.iter() {
            let p = join(path, k.get_ref());
            if k.span() == *span {
                best.offer((3, depth, 0), &p);
            }
            value(v, &p, depth + 1, span, best);
        }
    }
    fn value(
        v: &Spanned<DeValue<'_>>,
        path: &str,
        depth: usize,
        span: &Range<usize>,
        best: &mut Best,
    ) {
        let s = v.span();
        if s == *span {
            best.offer((2, depth, 0), path);
        } else if s.start <= span.start && span.end <= s.end {
            best.offer((1, usize::MAX - s.len(), depth), path);
        }
        match v.get_ref() {
            DeValue::Table(t) => table(t, path, depth, span, best),
            DeValue::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    value(e, &format!("{path}[{i}]"), depth + 1, span, best);
                }
            }
            _ => {}
        }
    }
    let doc = DeTable::parse(text).ok()?;
    let mut best = Best::default();
    table(doc.get_ref(), "", 0, span, &mut best);
    best.path
}

/// A duration as written (`"2s"`): only strings are accepted, so `2` is refused with a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDuration(pub String);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"2s\", \"250ms\" or \"1d\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A size as written: a string with a unit (`"64MiB"`) or an integer number of bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawSize {
    Bytes(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"64MiB\" or an integer number of bytes")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSize, E> {
                Ok(RawSize::Bytes(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSize, E> {
                i64::try_from(v)
                    .map(RawSize::Bytes)
                    .map_err(|_| E::custom("size too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSize, E> {
                Ok(RawSize::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a TOML text into a raw config type; errors name `file`, the line and the key.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| Source::new(file, text).toml_error(&e))
}

/// Reads a raw config type from a parsed table (no spans survive a [`toml::Table`], so
/// errors carry no line).
pub fn from_toml_table<T: serde::de::DeserializeOwned>(
    table: &toml::Table,
    file: &str,
) -> Result<T, ConfigError> {
    let text = toml::to_string(table).map_err(|e| ConfigError {
        file: file.to_string(),
        line: None,
        key: String::new(),
        message: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| {
        let mut src = Source::new(file, &text);
        src.has_lines = false;
        src.toml_error(&e)
    })
}

pub fn span_of<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
    v.as_ref().map(|s| s.span())
}

pub fn duration(
    src: &Source<'_>,
    v: &Option<Spanned<RawDuration>>,
    key: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => parse_duration(&s.get_ref().0).map_err(|m| src.error(Some(s.span()), key, m)),
    }
}

pub fn positive_duration(
    src: &Source<'_>,
    v: &Option<Spanned<RawDuration>>,
    key: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let d = duration(src, v, key, default)?;
    if d.is_zero() {
        return Err(src.error(span_of(v), key, "must be longer than 0s"));
    }
    Ok(d)
}

pub fn size(
    src: &Source<'_>,
    v: &Option<Spanned<RawSize>>,
    key: &str,
) -> Result<Option<u64>, ConfigError> {
    let Some(s) = v else { return Ok(None) };
    let n = match s.get_ref() {
        RawSize::Bytes(n) => u64::try_from(*n)
            .map_err(|_| src.error(Some(s.span()), key, format!("size {n} is negative")))?,
        RawSize::Text(t) => parse_size(t).map_err(|m| src.error(Some(s.span()), key, m))?,
    };
    Ok(Some(n))
}

pub fn count(
    src: &Source<'_>,
    v: &Option<Spanned<i64>>,
    key: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ConfigError> {
    let Some(s) = v else { return Ok(default) };
    let n = *s.get_ref();
    match usize::try_from(n) {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(src.error(
            Some(s.span()),
            key,
            format!(
                "{n} is out of range (must be {} to {})",
                range.start(),
                range.end()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_key_paths() {
        let text = "a = 1\n[t]\nb = { c = [1, { d = 2 }] }\n[[arr]]\nx = 1\n[[arr]]\ny = 2\n";
        let src = Source::new("f", text);
        assert_eq!(src.line_of(0), 1);
        assert_eq!(src.line_of(6), 2);
        assert_eq!(src.line_of(text.len()), 8);
        assert_eq!(src.line_of(usize::MAX), 8);
        let at = |needle: &str| {
            let i = text.find(needle).unwrap();
            key_path_at(text, &(i..i + needle.len()))
        };
        assert_eq!(at("a").as_deref(), Some("a"));
        assert_eq!(
            key_path_at(text, &(4..5)).as_deref(),
            Some("a"),
            "the value"
        );
        assert_eq!(at("d").as_deref(), Some("t.b.c[1].d"));
        assert_eq!(at("2").as_deref(), Some("t.b.c[1].d"));
        assert_eq!(at("y").as_deref(), Some("arr[1].y"));
        assert_eq!(at("x").as_deref(), Some("arr[0].x"));
        assert_eq!(key_path_at("a = ", &(0..1)), None, "unparsable");
        let e = Source::new("f", text)
            .with_key_prefix("edge")
            .error(Some(6..7), "k", "m");
        assert_eq!(e.to_string(), "f:2: edge.k: m");
        let e = Source::new("f", text)
            .with_key_prefix("edge")
            .error(None, "", "m");
        assert_eq!(e.to_string(), "f: edge: m");
    }
}
