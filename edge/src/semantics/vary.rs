//! `Vary` (RFC 9110 §12.5.5, RFC 9111 §4.1).

use http::header::VARY;
use http::{HeaderMap, HeaderName};

use super::lex::members;

/// The request headers that select a variant of a stored response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vary {
    /// No `Vary` (or an empty one): one response for all requests.
    None,
    /// The named request headers select the variant: lowercase, sorted, deduplicated.
    Headers(Vec<HeaderName>),
    /// `Vary: *`: the response can never be selected from cache (RFC 9111 §4.1).
    Star,
}

/// Parses every `Vary` line of a response (RFC 9110 §12.5.5): a comma list of field names,
/// case-insensitive, or `*`. A `*` anywhere, or a member that is not a valid field name,
/// gives [`Vary::Star`]; empty members are skipped.
pub fn parse_vary(headers: &HeaderMap) -> Vary {
    let mut names = Vec::new();
    for member in members(headers.get_all(VARY)) {
        if member == b"*" {
            return Vary::Star;
        }
        match HeaderName::from_bytes(member) {
            Ok(name) => names.push(name),
            Err(_) => return Vary::Star,
        }
    }
    if names.is_empty() {
        return Vary::None;
    }
    names.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    names.dedup();
    Vary::Headers(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn vary(lines: &[&[u8]]) -> Vary {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(VARY, HeaderValue::from_bytes(l).unwrap());
        }
        parse_vary(&h)
    }

    fn names(ns: &[&'static str]) -> Vary {
        Vary::Headers(ns.iter().map(|n| HeaderName::from_static(n)).collect())
    }

    #[test]
    fn absent_or_empty() {
        assert_eq!(vary(&[]), Vary::None);
        assert_eq!(vary(&[b"", b" , "]), Vary::None);
    }

    #[test]
    fn sorted_lowercase_deduped() {
        assert_eq!(
            vary(&[b"Accept-Encoding, accept-language"]),
            names(&["accept-encoding", "accept-language"])
        );
        assert_eq!(
            vary(&[b"Origin, Accept-Encoding", b"ACCEPT-ENCODING,origin,X-Foo"]),
            names(&["accept-encoding", "origin", "x-foo"])
        );
    }

    #[test]
    fn star() {
        assert_eq!(vary(&[b"*"]), Vary::Star);
        assert_eq!(vary(&[b"accept-encoding, *"]), Vary::Star);
        assert_eq!(vary(&[b"accept-encoding", b" * "]), Vary::Star);
    }

    #[test]
    fn malformed_is_star() {
        for bad in [&b"accept encoding"[..], b"\"accept\"", b"a\xffb", b"x:y"] {
            assert_eq!(vary(&[bad]), Vary::Star, "{bad:?}");
        }
    }
}
