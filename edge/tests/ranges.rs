//! Byte-range requests at the edge (RFC 9110 §14), end to end: 206 from cached entries and
//! from fills in flight, 416, ignored ranges, If-Range, HEAD, and ranges passed through.

mod support;

use bytes::Bytes;
use edge::store::Store;
use std::time::{Duration, Instant};
use support::*;

/// A distribution that stores objects up to 8 MiB.
fn roomy() -> String {
    simple("").replace("max_object_size = \"1MiB\"", "max_object_size = \"8MiB\"")
}

fn reply(body: &Bytes, cache_control: &str) -> Reply {
    Reply {
        status: 200,
        headers: vec![("cache-control".into(), cache_control.into())],
        body: body.clone(),
        delay: Duration::ZERO,
    }
}

/// An origin answering `bytes=a-b` itself with a 206 (and anything else with the whole body).
fn ranged_origin(
    body: Bytes,
    cache_control: &'static str,
) -> impl Fn(&http::Request<hyper::body::Incoming>) -> Reply {
    move |req| {
        let range = req
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes="))
            .and_then(|v| v.split_once('-'))
            .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
        match range {
            Some((a, b)) if a <= b && b < body.len() => Reply {
                status: 206,
                headers: vec![
                    ("cache-control".into(), cache_control.into()),
                    (
                        "content-range".into(),
                        format!("bytes {a}-{b}/{}", body.len()),
                    ),
                ],
                body: body.slice(a..=b),
                delay: Duration::ZERO,
            },
            _ => reply(&body, cache_control),
        }
    }
}

async fn ranged(addr: std::net::SocketAddr, method: &str, path: &str, range: &str) -> Got {
    send(addr, method, path, &[("range", range)], "").await
}

async fn wait_stored(e: &edge::RunningEdge, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.edge.store.peek(Store::hash_key(path), path).is_none() {
        assert!(Instant::now() < deadline, "{path} never stored");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The value of one series in the edge's `/metrics`.
async fn metric(e: &edge::RunningEdge, series: &str) -> f64 {
    let text = String::from_utf8(get(e.admin, "/metrics").await.body.to_vec()).unwrap();
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

fn range_metric(outcome: &str) -> String {
    format!("cdnlab_edge_range_requests_total{{pop=\"tst\",outcome=\"{outcome}\"}}")
}

fn assert_part(r: &Got, whole: &Bytes, start: usize, end: usize, x_cache: &str) {
    assert_eq!(r.status, 206, "{:?}", r.headers);
    assert_eq!(r.x_cache(), x_cache);
    assert_eq!(
        r.header("content-range"),
        format!("bytes {start}-{end}/{}", whole.len())
    );
    assert_eq!(r.header("content-length"), (end - start + 1).to_string());
    assert_eq!(r.header("accept-ranges"), "bytes");
    assert_eq!(r.body.len(), end - start + 1);
    assert!(r.body == whole.slice(start..=end), "wrong bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_serves_exactly_the_range_asked_for() {
    let body = pattern(0, 1000);
    let b = body.clone();
    let origin = Origin::start(move |_| {
        reply(&b, "max-age=60")
            .header("etag", "\"v1\"")
            .header("content-type", "video/mp4")
    })
    .await;
    let e = edge(&origin, &simple("")).await;
    let first = get(e.listen, "/v").await;
    assert_eq!((first.status, first.x_cache()), (200, "Miss from tst"));
    for (range, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, 999),
        ("bytes=-50", 950, 999),
        ("bytes=0-0", 0, 0),
        ("bytes=999-999", 999, 999),
        ("bytes=990-5000", 990, 999),
        ("bytes=-5000", 0, 999),
        ("Bytes= 10-19 ", 10, 19),
    ] {
        let r = ranged(e.listen, "GET", "/v", range).await;
        assert_part(&r, &body, start, end, "Hit from tst");
        assert_eq!(r.header("etag"), "\"v1\"", "{range}");
        assert_eq!(r.header("content-type"), "video/mp4", "{range}");
        assert!(r.header("age").parse::<u64>().is_ok());
        assert_eq!(r.header("via"), "1.1 tst (cdnlab)");
    }
    let whole = get(e.listen, "/v").await;
    assert_eq!((whole.status, whole.x_cache()), (200, "Hit from tst"));
    assert_eq!(whole.header("accept-ranges"), "bytes");
    assert!(whole.body == body);
    assert_eq!(origin.hits("/v"), 1);
    assert_eq!(metric(&e, &range_metric("partial")).await, 8.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_streams_the_slice_and_stores_the_whole_object() {
    let body = pattern(0, 4 << 20);
    let b = body.clone();
    let origin = Origin::start(move |_| reply(&b, "max-age=60")).await;
    let e = edge(&origin, &roomy()).await;

    let r = ranged(e.listen, "GET", "/big", "bytes=1000000-1999999").await;
    assert_part(&r, &body, 1_000_000, 1_999_999, "Miss from tst");
    assert!(
        origin.last_headers("/big").get("range").is_none(),
        "the edge fetches the whole object"
    );
    wait_stored(&e, "/big").await;
    let whole = get(e.listen, "/big").await;
    assert_eq!((whole.status, whole.x_cache()), (200, "Hit from tst"));
    assert_eq!(whole.body.len(), body.len());
    assert!(whole.body == body, "the stored object is whole and correct");
    assert_eq!(origin.hits("/big"), 1);

    // The other forms, from the start and the end of the stream.
    let len = body.len();
    let r = ranged(e.listen, "GET", "/head", "bytes=0-99").await;
    assert_part(&r, &body, 0, 99, "Miss from tst");
    let r = ranged(e.listen, "GET", "/tail", "bytes=-100").await;
    assert_part(&r, &body, len - 100, len - 1, "Miss from tst");
    let r = ranged(
        e.listen,
        "GET",
        "/rest",
        &format!("bytes={}-", len - 70_000),
    )
    .await;
    assert_part(&r, &body, len - 70_000, len - 1, "Miss from tst");
    for p in ["/head", "/tail", "/rest"] {
        wait_stored(&e, p).await;
        let whole = get(e.listen, p).await;
        assert_eq!(whole.x_cache(), "Hit from tst", "{p}");
        assert!(whole.body == body, "{p}");
        assert_eq!(origin.hits(p), 1, "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collapsed_viewers_each_get_their_own_range() {
    let body = pattern(0, 4 << 20);
    let b = body.clone();
    let origin =
        Origin::start(move |_| reply(&b, "max-age=60").delay(Duration::from_millis(300))).await;
    let e = edge(&origin, &roomy()).await;
    let addr = e.listen;
    let len = body.len();
    let ranges = [
        "",
        "bytes=0-99",
        "bytes=-100",
        "bytes=2000000-2999999",
        "bytes=0-1,5-9",
    ];
    let tasks: Vec<_> = ranges
        .iter()
        .map(|r| {
            let r = r.to_string();
            tokio::spawn(async move {
                if r.is_empty() {
                    get(addr, "/c").await
                } else {
                    ranged(addr, "GET", "/c", &r).await
                }
            })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    assert_eq!(origin.hits("/c"), 1, "one origin fetch for all of them");
    for (r, name) in got.iter().zip(ranges) {
        assert!(
            ["Miss from tst", "Hit from tst"].contains(&r.x_cache()),
            "{name}: {}",
            r.x_cache()
        );
    }
    let cache = |i: usize| got[i].x_cache().to_string();
    assert_eq!((got[0].status, got[0].body.len()), (200, len));
    assert!(got[0].body == body);
    assert_part(&got[1], &body, 0, 99, &cache(1));
    assert_part(&got[2], &body, len - 100, len - 1, &cache(2));
    assert_part(&got[3], &body, 2_000_000, 2_999_999, &cache(3));
    assert_eq!(got[4].status, 200, "several ranges: the whole body");
    assert!(got[4].body == body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsatisfiable_range_is_a_416() {
    let body = pattern(0, 1000);
    let b = body.clone();
    let origin =
        Origin::start(move |_| reply(&b, "max-age=60").header("content-type", "video/mp4")).await;
    let e = edge(&origin, &simple("")).await;
    // On a miss: the 416 is answered from the head, and the object is still stored.
    let r = ranged(e.listen, "GET", "/u", "bytes=1000-").await;
    assert_eq!((r.status, r.x_cache()), (416, "Miss from tst"));
    assert_eq!(r.header("content-range"), "bytes */1000");
    assert!(r.body.is_empty());
    wait_stored(&e, "/u").await;
    for range in [
        "bytes=1000-",
        "bytes=5000-6000",
        "bytes=-0",
        "bytes=99999999999999999999999-",
    ] {
        let r = ranged(e.listen, "GET", "/u", range).await;
        assert_eq!((r.status, r.x_cache()), (416, "Hit from tst"), "{range}");
        assert_eq!(r.header("content-range"), "bytes */1000", "{range}");
        assert_eq!(r.header("content-length"), "0");
        assert_eq!(r.header("content-type"), "", "no representation in a 416");
        assert_eq!(r.header("cache-control"), "", "no freshness in a 416");
        assert!(r.body.is_empty());
    }
    assert_eq!(origin.hits("/u"), 1);
    assert_eq!(metric(&e, &range_metric("unsatisfiable")).await, 5.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_ranges_other_units_and_malformed_ranges_get_the_whole_body() {
    let body = pattern(0, 1000);
    let b = body.clone();
    let origin = Origin::start(move |_| reply(&b, "max-age=60")).await;
    let e = edge(&origin, &simple("")).await;
    get(e.listen, "/m").await;
    let ignored = [
        "bytes=0-1,5-9",
        "bytes=0-1, -5",
        "items=0-1",
        "bytes=5-1",
        "bytes=abc",
        "bytes=",
        "bytes 0-1",
        "bytes=1 - 2",
    ];
    for range in ignored {
        let r = ranged(e.listen, "GET", "/m", range).await;
        assert_eq!((r.status, r.x_cache()), (200, "Hit from tst"), "{range}");
        assert_eq!(r.header("content-range"), "", "{range}");
        assert!(r.body == body, "{range}");
    }
    // Two Range lines are two ranges.
    let r = send(
        e.listen,
        "GET",
        "/m",
        &[("range", "bytes=0-1"), ("range", "bytes=3-4")],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(origin.hits("/m"), 1);
    assert_eq!(
        metric(&e, &range_metric("ignored")).await,
        ignored.len() as f64 + 1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_range_applies_the_range_only_to_the_same_representation() {
    let body = pattern(0, 1000);
    let b = body.clone();
    let lm = "Sun, 06 Nov 1994 08:49:37 GMT";
    let origin = Origin::start(move |r| {
        let etag = if r.uri().path() == "/weak" {
            "W/\"v1\""
        } else {
            "\"v1\""
        };
        reply(&b, "max-age=60")
            .header("etag", etag)
            .header("last-modified", lm)
    })
    .await;
    let e = edge(&origin, &simple("")).await;
    let addr = e.listen;
    let with = |path: &'static str, if_range: &'static str| async move {
        let headers = [("range", "bytes=0-9"), ("if-range", if_range)];
        send(addr, "GET", path, &headers, "").await
    };
    // On a miss, compared with the head being fetched.
    assert_part(&with("/i", "\"v1\"").await, &body, 0, 9, "Miss from tst");
    let r = with("/j", "\"v0\"").await;
    assert_eq!((r.status, r.x_cache()), (200, "Miss from tst"));
    assert!(r.body == body);
    wait_stored(&e, "/i").await;
    // On a hit, with the stored validators.
    assert_part(&with("/i", "\"v1\"").await, &body, 0, 9, "Hit from tst");
    assert_part(&with("/i", lm).await, &body, 0, 9, "Hit from tst");
    for stale in [
        "\"v0\"",
        "W/\"v1\"",
        "Sun, 06 Nov 1994 08:49:38 GMT",
        "garbage",
    ] {
        let r = with("/i", stale).await;
        assert_eq!((r.status, r.x_cache()), (200, "Hit from tst"), "{stale}");
        assert!(r.body == body, "{stale}");
    }
    // A weak ETag never validates a range.
    get(e.listen, "/weak").await;
    let r = with("/weak", "W/\"v1\"").await;
    assert_eq!((r.status, r.x_cache()), (200, "Hit from tst"));
    assert_eq!(origin.hits("/i"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_with_a_range_gets_the_206_head_without_a_body() {
    let body = pattern(0, 1000);
    let b = body.clone();
    let origin = Origin::start(move |_| reply(&b, "max-age=60")).await;
    let e = edge(&origin, &simple("")).await;
    for x_cache in ["Miss from tst", "Hit from tst"] {
        let r = ranged(e.listen, "HEAD", "/h", "bytes=10-19").await;
        assert_eq!((r.status, r.x_cache()), (206, x_cache));
        assert_eq!(r.header("content-range"), "bytes 10-19/1000");
        assert_eq!(r.header("content-length"), "10");
        assert!(r.body.is_empty());
        wait_stored(&e, "/h").await;
    }
    let r = ranged(e.listen, "HEAD", "/h", "bytes=1000-").await;
    assert_eq!(r.status, 416);
    assert!(r.body.is_empty());
    assert_eq!(origin.hits("/h"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_hit_answers_the_range_too() {
    let body = pattern(0, 1000);
    let b = body.clone();
    let origin = Origin::start(move |_| reply(&b, "no-cache").header("etag", "\"e\"")).await;
    let e = edge(&origin, &simple("")).await;
    get(e.listen, "/r").await;
    let r = ranged(e.listen, "GET", "/r", "bytes=-10").await;
    assert_part(&r, &body, 990, 999, "RefreshHit from tst");
    assert_eq!(origin.hits("/r"), 2);
    assert!(
        origin.last_headers("/r").get("range").is_none(),
        "the revalidation is for the whole object"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncached_behaviors_forward_the_range_and_relay_the_206() {
    let body = pattern(0, 1000);
    let origin = Origin::start(ranged_origin(body.clone(), "max-age=60")).await;
    let cfg = simple("").replace(
        "[[behavior]]\npath = \"*\"",
        "[[behavior]]\npath = \"/live/*\"\norigin = \"o\"\ncache = false\n[[behavior]]\npath = \"*\"",
    );
    let e = edge(&origin, &cfg).await;
    let r = ranged(e.listen, "GET", "/live/a", "bytes=10-19").await;
    assert_eq!((r.status, r.x_cache()), (206, "Pass from tst"));
    assert_eq!(r.header("content-range"), "bytes 10-19/1000");
    assert!(r.body == body.slice(10..20));
    assert_eq!(origin.last_headers("/live/a")["range"], "bytes=10-19");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_of_responses_not_stored_go_to_the_origin() {
    let small = pattern(0, 1000);
    let big = pattern(0, 2 << 20); // above simple()'s 1 MiB max_object_size
    let (s, b) = (
        ranged_origin(small.clone(), "no-store"),
        ranged_origin(big.clone(), "max-age=60"),
    );
    let origin = Origin::start(move |r| if r.uri().path() == "/big" { b(r) } else { s(r) }).await;
    let e = edge(&origin, &simple("")).await;

    for (path, whole) in [("/ns", &small), ("/big", &big)] {
        // The first range request learns from the whole-object fetch that the object is not
        // kept, and asks the origin for the range.
        let r = ranged(e.listen, "GET", path, "bytes=10-19").await;
        assert_eq!((r.status, r.x_cache()), (206, "Miss from tst"), "{path}");
        assert_eq!(
            r.header("content-range"),
            format!("bytes 10-19/{}", whole.len())
        );
        assert!(r.body == whole.slice(10..20), "{path}");
        assert_eq!(origin.last_headers(path)["range"], "bytes=10-19");
        assert_eq!(origin.hits(path), 2, "{path}");
        // Later ones go straight to the origin.
        let r = ranged(e.listen, "GET", path, "bytes=-5").await;
        assert_eq!(
            r.status, 200,
            "{path}: that origin only does a-b, and says so"
        );
        assert_eq!(origin.last_headers(path)["range"], "bytes=-5");
        assert_eq!(origin.hits(path), 3, "{path}");
        // Requests without a range still get the whole body.
        let r = get(e.listen, path).await;
        assert_eq!((r.status, r.x_cache()), (200, "Miss from tst"), "{path}");
        assert!(r.body == *whole, "{path}");
    }
    assert_eq!(e.edge.store.stats().objects, 0);
    assert_eq!(metric(&e, &range_metric("forwarded")).await, 4.0);
}
