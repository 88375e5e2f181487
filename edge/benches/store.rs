//! The edge store: the hit path (`get` on a warm store of 10,000 1 KiB entries, Zipf-like and
//! uniform keys, one thread and two), `insert` with an eviction on every call, the key
//! hash, and decoding a hit's stored headers (`serve`). Before the benchmarks it prints the
//! per-object metadata overhead, measured with a counting allocator: heap bytes per object
//! beyond the bytes of its key, of its header names and values, and of its body (so the
//! store's slot for the entry, the policy's index, records and history (ghosts, sketches),
//! the entry's count, length, fixed fields and padding all count; header records, which store
//! common names as one byte, can make it smaller), against the target of issue 3: at most 128
//! bytes per object in every column.
//!
//! Two-thread figures are the wall time for each thread to do one operation while the other
//! does the same (so the aggregate rate is two operations per reported time).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{criterion_group, BenchmarkId, Criterion};
use edge::store::{Entry, Insert, Meta, Store};
use http::{HeaderMap, HeaderValue, StatusCode};

/// Counts live heap bytes (requested sizes) while `COUNTING` is on.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            LIVE.fetch_add(l.size() as isize, Relaxed);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if COUNTING.load(Relaxed) {
            LIVE.fetch_sub(l.size() as isize, Relaxed);
        }
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            LIVE.fetch_add(new as isize - l.size() as isize, Relaxed);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const KIB: usize = 1024;
static BODY: [u8; KIB] = [b'x'; KIB];

/// A response received in 2025 (so its reception time takes as many bytes as a real one's),
/// fresh for an hour.
fn meta() -> Meta {
    Meta {
        status: StatusCode::OK,
        received_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000),
        age_at_receipt: Duration::ZERO,
        fresh_for: Duration::from_secs(3600),
        stale_while_revalidate: Duration::ZERO,
        stale_if_error: Duration::ZERO,
        revalidate_always: false,
    }
}

/// An entry with a 1 KiB body (copied into the entry's buffer, so it is on the heap: the
/// overhead figures subtract it).
fn entry(key: &str, headers: &HeaderMap) -> Entry {
    let path = key.split('|').next().unwrap();
    Entry::new(key, path, &meta(), headers, &[&BODY[..]]).unwrap()
}

/// The bytes of the header names and values.
fn header_strings(h: &HeaderMap) -> usize {
    h.iter().map(|(n, v)| n.as_str().len() + v.len()).sum()
}

fn key(i: usize) -> String {
    format!("/assets/v2/obj-{i:06}.js|br")
}

fn typical_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in [
        ("content-type", "application/javascript"),
        ("cache-control", "public, max-age=3600"),
        ("etag", "\"5f2a9c-400\""),
        ("last-modified", "Tue, 15 Nov 1994 12:45:26 GMT"),
        ("content-encoding", "br"),
        ("vary", "Accept-Encoding"),
    ] {
        h.insert(n, HeaderValue::from_str(v).unwrap());
    }
    h
}

/// Live heap bytes per object after inserting `n` entries with `headers`, minus the bytes of
/// the keys, header names and values and bodies; with `evicting`, the store holds n/2 and
/// every later insert evicts. With `read`, every held entry is then read once (`get`, and its
/// body taken), as serving it would: a reader's handles must not add to what the entry costs
/// once they are dropped.
fn overhead(policy: &str, n: usize, evicting: bool, read: bool, headers: &HeaderMap) -> f64 {
    let keys: Vec<String> = (0..n).map(key).collect();
    let held = if evicting { n / 2 } else { n };
    let spec = policy.parse().unwrap();
    LIVE.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    let store = Store::new(&spec, (held * KIB) as u64, 64 * KIB as u64, 16).unwrap();
    for k in &keys {
        store.insert(Store::hash_key(k), entry(k, headers));
    }
    if read {
        for k in &keys {
            if let Some(e) = store.get(Store::hash_key(k), k) {
                black_box(e.body());
            }
        }
    }
    let st = store.stats();
    let objects = st.objects as usize;
    // Every key has the same length.
    let payload = st.payload_bytes as usize + objects * (keys[0].len() + header_strings(headers));
    let live = LIVE.load(Relaxed) as usize;
    COUNTING.store(false, Relaxed);
    let per = (live - payload) as f64 / objects as f64;
    drop(store);
    per
}

/// Issue 3's bound on the per-object overhead.
const TARGET: f64 = 128.0;

fn report_metadata() {
    println!("per-object metadata overhead (live heap bytes per held object, beyond the bytes of key, header names and values, and body; requested sizes, malloc's own headers excluded):");
    let none = HeaderMap::new();
    let policies = [
        "lru", "fifo", "clock", "sieve", "s3fifo", "twoq", "arc", "wtinylfu", "lfu", "gdsf",
    ];
    let mut over = Vec::new();
    for policy in policies {
        let a = overhead(policy, 100_000, false, false, &none);
        let r = overhead(policy, 100_000, false, true, &none);
        let b = overhead(policy, 150_000, false, false, &none);
        let c = overhead(policy, 200_000, true, false, &none);
        println!(
            "  {policy:8} no headers: {a:6.1} B/object at 100k objects ({r:6.1} once each was read), {b:6.1} at 150k, {c:6.1} when evicting (100k held, 200k inserted)"
        );
        if [a, r, b, c].iter().any(|&x| x > TARGET) {
            over.push(policy);
        }
    }
    println!(
        "  target ≤ {TARGET} B/object in every column: met by {} of {} policies{}",
        policies.len() - over.len(),
        policies.len(),
        if over.is_empty() {
            String::new()
        } else {
            format!(" (not by {})", over.join(", "))
        }
    );
    let typical = typical_headers();
    let with = overhead("lru", 100_000, false, false, &typical);
    let without = overhead("lru", 100_000, false, false, &none);
    println!(
        "  typical 6 headers add {:+.1} B/object beyond their {} B of names and values (each record adds a length byte; a standard name is stored as one byte); Entry::metadata_bytes estimates {} B for such an entry (its key and headers included)",
        with - without,
        header_strings(&typical),
        entry(&key(1), &typical).metadata_bytes()
    );
}

/// A warm store of 10,000 1 KiB entries and the key indices to look up.
struct Warm {
    store: Store,
    keys: Vec<(u64, String)>,
    zipf: Vec<u32>,
    uniform: Vec<u32>,
}

const OBJECTS: usize = 10_000;
const DRAWS: usize = 1 << 16;

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn warm(policy: &str) -> Warm {
    let store = Store::new(
        &policy.parse().unwrap(),
        (16 * OBJECTS * KIB) as u64,
        64 * KIB as u64,
        16,
    )
    .unwrap();
    let keys: Vec<(u64, String)> = (0..OBJECTS)
        .map(key)
        .map(|k| (Store::hash_key(&k), k))
        .collect();
    let headers = typical_headers();
    for (h, k) in &keys {
        assert!(matches!(
            store.insert(*h, entry(k, &headers)),
            Insert::Stored { .. }
        ));
    }
    // Zipf(0.9) by inverse CDF, and uniform, over the 10,000 keys.
    let weights: Vec<f64> = (1..=OBJECTS).map(|r| 1.0 / (r as f64).powf(0.9)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(OBJECTS);
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut zipf = Vec::with_capacity(DRAWS);
    let mut uniform = Vec::with_capacity(DRAWS);
    for _ in 0..DRAWS {
        let u = (xorshift(&mut rng) >> 11) as f64 / (1u64 << 53) as f64;
        zipf.push(cdf.partition_point(|&c| c < u).min(OBJECTS - 1) as u32);
        uniform.push((xorshift(&mut rng) % OBJECTS as u64) as u32);
    }
    Warm {
        store,
        keys,
        zipf,
        uniform,
    }
}

fn run_gets(w: &Warm, draws: &[u32], offset: usize, iters: u64) -> Duration {
    let start = Instant::now();
    for i in 0..iters as usize {
        let (h, k) = &w.keys[draws[(i + offset) & (DRAWS - 1)] as usize];
        black_box(w.store.get(*h, k));
    }
    start.elapsed()
}

fn bench_get(c: &mut Criterion) {
    let mut g = c.benchmark_group("get_hit");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for policy in ["lru", "s3fifo", "wtinylfu"] {
        let w = warm(policy);
        let shards = w.store.shard_count();
        g.bench_function(BenchmarkId::new("1thread/zipf", policy), |b| {
            b.iter_custom(|iters| run_gets(&w, &w.zipf, 0, iters))
        });
        if policy == "lru" {
            g.bench_function(BenchmarkId::new("1thread/uniform", policy), |b| {
                b.iter_custom(|iters| run_gets(&w, &w.uniform, 0, iters))
            });
        }
        g.bench_function(
            BenchmarkId::new("2threads/zipf", format!("{policy}/{shards}shards")),
            |b| {
                b.iter_custom(|iters| {
                    let barrier = Barrier::new(2);
                    std::thread::scope(|s| {
                        let threads: Vec<_> = (0..2)
                            .map(|t| {
                                let (w, barrier) = (&w, &barrier);
                                s.spawn(move || {
                                    barrier.wait();
                                    run_gets(w, &w.zipf, t * DRAWS / 2, iters)
                                })
                            })
                            .collect();
                        threads
                            .into_iter()
                            .map(|t| t.join().unwrap())
                            .max()
                            .unwrap()
                    })
                })
            },
        );
        let st = w.store.stats();
        assert_eq!(
            st.objects, OBJECTS as u64,
            "{policy}: the store stayed warm"
        );
    }
    g.bench_function("hash_key/27-byte key", |b| {
        let k = key(12345);
        b.iter(|| Store::hash_key(black_box(&k)))
    });
    g.finish();
}

fn bench_insert(c: &mut Criterion) {
    let mut g = c.benchmark_group("insert_evicting");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    // A store of 1,000 1 KiB entries fed a cycle of 10,000 prebuilt entries: every insert of
    // a key not held evicts one (prebuilt so only the store is measured).
    let headers = typical_headers();
    let entries: Vec<(u64, Entry)> = (0..OBJECTS)
        .map(|i| {
            let k = key(i);
            (Store::hash_key(&k), entry(&k, &headers))
        })
        .collect();
    for policy in ["lru", "s3fifo", "wtinylfu"] {
        let store = Store::new(
            &policy.parse().unwrap(),
            1000 * KIB as u64,
            4 * KIB as u64,
            16,
        )
        .unwrap();
        let mut i = 0usize;
        g.bench_function(
            BenchmarkId::new("1thread", format!("{policy}/{}shards", store.shard_count())),
            |b| {
                b.iter(|| {
                    let (h, e) = &entries[i % OBJECTS];
                    i = i.wrapping_add(7919); // a prime stride: no key comes back soon
                    black_box(store.insert(*h, e.clone()))
                })
            },
        );
        let st = store.stats();
        assert!(st.payload_bytes <= st.capacity);
        // (Unless a filter skipped the benchmark.)
        assert!(
            i == 0 || st.evictions > 0,
            "{policy}: every insert should evict"
        );
    }
    g.finish();
}

/// What serving a hit costs on top of `get`: decoding the stored headers into a map and
/// taking the body (`Entry::headers_and_body`), next to cloning a `HeaderMap` of the same
/// headers (what the hit path did when entries held one).
fn bench_serve(c: &mut Criterion) {
    let mut g = c.benchmark_group("serve");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let headers = typical_headers();
    let e = entry(&key(1), &headers);
    // Values sharing one buffer, as hyper parses them.
    let mut raw = Vec::new();
    for (_, v) in &headers {
        raw.extend_from_slice(v.as_bytes());
    }
    let raw = Bytes::from(raw);
    let mut shared = HeaderMap::new();
    let mut at = 0;
    for (n, v) in &headers {
        let value = raw.slice(at..at + v.len());
        shared.append(n.clone(), HeaderValue::from_maybe_shared(value).unwrap());
        at += v.len();
    }
    g.bench_function("headers_and_body/6 headers", |b| {
        b.iter(|| black_box(black_box(&e).headers_and_body()))
    });
    g.bench_function("HeaderMap clone/6 headers (reference)", |b| {
        b.iter(|| black_box(black_box(&shared).clone()))
    });
    g.finish();
}

criterion_group!(benches, bench_get, bench_insert, bench_serve);

fn main() {
    report_metadata();
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
