//! Property tests: arbitrary header values never panic a parser, and the documented
//! invariants hold whatever the origin or viewer sends.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use proptest::prelude::*;

use super::*;

const NAMES: [&str; 18] = [
    "cache-control",
    "expires",
    "date",
    "age",
    "vary",
    "etag",
    "last-modified",
    "if-none-match",
    "if-modified-since",
    "connection",
    "set-cookie",
    "authorization",
    "keep-alive",
    "transfer-encoding",
    "x-hop",
    "content-length",
    "range",
    "if-range",
];

/// Header values: mostly header-like text (directives, quotes, commas, dates, digits), some
/// arbitrary bytes (anything `HeaderValue` accepts, including obs-text).
fn value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        3 => "[ \t,=\"\\\\*/;:a-zA-Z0-9-]{0,40}",
        1 => "(max-age|s-maxage|stale-if-error|stale-while-revalidate)=[0-9]{0,25}",
        1 => "(W/)?\"[a-z,]{0,5}\"(, ?(W/)?\"[a-z,]{0,5}\"){0,3}",
        1 => "(bytes|x)=[0-9]{0,21}-[0-9]{0,21}(,-?[0-9]{0,3})?",
        1 => "(Sun|Mon), 0[1-9] Nov 19[0-9][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] GMT",
    ]
    .prop_map(|s| HeaderValue::from_str(&s).unwrap())
    .boxed()
    .prop_union(
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_filter_map("invalid header value", |b| HeaderValue::from_bytes(&b).ok())
            .boxed(),
    )
}

fn header_map() -> impl Strategy<Value = HeaderMap> {
    proptest::collection::vec((0..NAMES.len(), value()), 0..12).prop_map(|pairs| {
        let mut h = HeaderMap::new();
        for (i, v) in pairs {
            h.append(HeaderName::from_static(NAMES[i]), v);
        }
        h
    })
}

fn secs() -> impl Strategy<Value = Duration> {
    prop_oneof![0u64..1000, any::<u64>()].prop_map(Duration::from_secs)
}

fn no_hop_by_hop(h: &HeaderMap) -> bool {
    h.keys().all(|n| !is_hop_by_hop(n))
}

proptest! {
    #[test]
    fn parsers_never_panic(req in header_map(), resp in header_map(), a in secs(), b in secs(), c in secs(), t in any::<u32>()) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(t));
        let ttl = TtlBounds { min: a, default: b, max: c };
        let _ = parse_cache_control(&resp);
        let _ = storable(&Method::GET, &req, StatusCode::OK, &resp, &ttl);
        let f = freshness(&resp, now, &ttl, a, b);
        let _ = usability(&f, c);
        let age = age_header(&resp);
        let _ = age_value(current_age(age, now, now + Duration::from_secs(5)));
        let _ = parse_vary(&resp);
        let _ = not_modified(&req, resp.get("etag"), resp.get("last-modified"));
        let _ = revalidation_headers(&resp);
        let _ = select_range(&req, &resp, Some(u64::from(t)));
        let merged = merge_not_modified(&resp, &req);
        prop_assert!(no_hop_by_hop(&merged));
        let mut stripped = req.clone();
        strip_hop_by_hop(&mut stripped);
        prop_assert!(no_hop_by_hop(&stripped));
    }

    #[test]
    fn lifetime_within_bounds(resp in header_map(), min in 0u64..1000, span in 0u64..100_000, default in secs(), t in any::<u32>()) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(t));
        let ttl = TtlBounds { min: Duration::from_secs(min), default, max: Duration::from_secs(min + span) };
        let f = freshness(&resp, now, &ttl, Duration::ZERO, Duration::ZERO);
        if f.revalidate_always {
            prop_assert_eq!(min, 0);
            prop_assert_eq!(f.lifetime, Duration::ZERO);
        } else {
            prop_assert!(ttl.min <= f.lifetime && f.lifetime <= ttl.max, "{:?}", f);
        }
    }

    #[test]
    fn vary_is_sorted_lowercase_deduped(resp in header_map()) {
        if let Vary::Headers(names) = parse_vary(&resp) {
            prop_assert!(!names.is_empty());
            prop_assert!(names.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
            prop_assert!(names.iter().all(|n| n.as_str() == n.as_str().to_ascii_lowercase()));
        }
    }

    #[test]
    fn any_tag_matches_itself(
        tag in "(W/)?\"[!#-~]{0,20}\"",
        others in proptest::collection::vec("(W/)?\"[!#-~]{0,6}\"", 0..4),
        at in 0usize..5,
    ) {
        let mut list = others.clone();
        list.insert(at.min(others.len()), tag.clone());
        let mut req = HeaderMap::new();
        req.insert(http::header::IF_NONE_MATCH, HeaderValue::from_str(&list.join(", ")).unwrap());
        prop_assert!(not_modified(&req, Some(&HeaderValue::from_str(&tag).unwrap()), None));
    }
}
