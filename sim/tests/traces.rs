//! Trace readers against the shared CloudPhysics samples, damaged files, and the synthetic
//! Zipf trace.

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sim::synth::{write_oracle_general, zipf_object_id, zipf_object_size, ZipfSpec, ZipfTrace};
use sim::trace::{
    self, detect_format, from_reader, hash_id, open, CsvColumns, Format, Record, TraceError,
    TraceReader,
};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/traces/");
const N: usize = 113_872;
const DISTINCT: usize = 48_974;
const CSV_COLS: &str = "time=2,id=5,size=4,header=true,delimiter=,";

fn shared(name: &str) -> PathBuf {
    PathBuf::from(SHARED).join(name)
}

fn csv_format() -> Format {
    Format::Csv(CSV_COLS.parse().unwrap())
}

/// Every record until the end or the first error, in batches of `batch`.
fn drain(r: &mut dyn TraceReader, batch: usize) -> (Vec<Record>, Option<TraceError>) {
    let mut all = Vec::new();
    let mut buf = Vec::new();
    loop {
        match r.read_batch(&mut buf, batch) {
            Ok(0) => return (all, None),
            Ok(n) => {
                assert_eq!(n, buf.len());
                assert!(n <= batch);
                all.extend_from_slice(&buf);
            }
            Err(e) => return (all, Some(e)),
        }
    }
}

fn read_all(path: &Path, format: &Format) -> Vec<Record> {
    let mut r = open(path, format).unwrap_or_else(|e| panic!("{e}"));
    let (recs, err) = drain(&mut r, 4093);
    if let Some(e) = err {
        panic!("{e}");
    }
    recs
}

fn read_bytes(bytes: &[u8], format: &Format) -> (Vec<Record>, Option<TraceError>) {
    match from_reader(
        Box::new(Cursor::new(bytes.to_vec())),
        Path::new("mem.trace"),
        format,
    ) {
        Ok(mut r) => drain(&mut r, 1000),
        Err(e) => (Vec::new(), Some(e)),
    }
}

fn oracle() -> Vec<Record> {
    read_all(
        &shared("cloudPhysicsIO.oracleGeneral.bin"),
        &Format::OracleGeneral,
    )
}

fn vscsi() -> Vec<Record> {
    read_all(&shared("cloudPhysicsIO.vscsi"), &Format::Vscsi)
}

fn csv() -> Vec<Record> {
    read_all(&shared("cloudPhysicsIO.csv"), &csv_format())
}

fn txt() -> Vec<Record> {
    read_all(&shared("cloudPhysicsIO.txt"), &Format::Txt)
}

/// The 0-based index of each request's next request for the same id, or NEVER.
fn next_accesses(recs: &[Record]) -> Vec<u64> {
    let mut next = HashMap::new();
    let mut out = vec![0; recs.len()];
    for (i, r) in recs.iter().enumerate().rev() {
        out[i] = next.insert(r.id, i as u64).unwrap_or(cache::NEVER);
    }
    out
}

struct Stats {
    distinct: usize,
    total_bytes: u64,
    wss_first: u64,
    wss_last: u64,
    wss_max: u64,
    size_changers: usize,
    once: usize,
    min_time: u64,
    max_time: u64,
}

fn stats(recs: &[Record]) -> Stats {
    let mut first: HashMap<u64, u64> = HashMap::new();
    let mut last: HashMap<u64, u64> = HashMap::new();
    let mut max: HashMap<u64, u64> = HashMap::new();
    let mut count: HashMap<u64, u64> = HashMap::new();
    let mut changers = HashSet::new();
    for r in recs {
        let f = *first.entry(r.id).or_insert(r.size);
        if f != r.size {
            changers.insert(r.id);
        }
        last.insert(r.id, r.size);
        let m = max.entry(r.id).or_insert(0);
        *m = (*m).max(r.size);
        *count.entry(r.id).or_insert(0) += 1;
    }
    Stats {
        distinct: first.len(),
        total_bytes: recs.iter().map(|r| r.size).sum(),
        wss_first: first.values().sum(),
        wss_last: last.values().sum(),
        wss_max: max.values().sum(),
        size_changers: changers.len(),
        once: count.values().filter(|&&c| c == 1).count(),
        min_time: recs.iter().map(|r| r.time).min().unwrap(),
        max_time: recs.iter().map(|r| r.time).max().unwrap(),
    }
}

#[test]
fn oracle_general_sample() {
    let recs = oracle();
    assert_eq!(recs.len(), N);
    let s = stats(&recs);
    assert_eq!(s.distinct, DISTINCT);
    assert_eq!(s.total_bytes, 4_368_040_448);
    assert_eq!(s.wss_first, 2_029_769_728);
    assert_eq!(s.size_changers, 0);
    assert_eq!(s.once, 21_049);
    assert_eq!((s.min_time, s.max_time), (5_633_898, 5_641_098));
    assert_eq!(recs[0].time, 5_633_898);
    assert_eq!(recs[N - 1].time, 5_641_098);
    assert_eq!(recs.iter().map(|r| r.size).min(), Some(512));
    assert_eq!(recs.iter().map(|r| r.size).max(), Some(69_632));
    // next_access is the 0-based index of the next request for the same id.
    let want = next_accesses(&recs);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.next_access, want[i], "record {i}");
    }
    assert_eq!(
        recs.iter()
            .filter(|r| r.next_access == cache::NEVER)
            .count(),
        DISTINCT
    );
}

#[test]
fn vscsi_sample() {
    let recs = vscsi();
    assert_eq!(recs.len(), N);
    let s = stats(&recs);
    assert_eq!(s.distinct, DISTINCT);
    assert_eq!(s.total_bytes, 4_205_978_112);
    assert_eq!(s.wss_first, 2_029_769_728);
    assert_eq!(s.wss_last, 2_033_711_616);
    assert_eq!(s.wss_max, 2_074_223_104);
    assert_eq!(s.size_changers, 4_937);
    assert_eq!((s.min_time, s.max_time), (5_633_898, 5_641_098));
    assert!(recs.iter().all(|r| r.next_access == cache::NEVER));
    let f = std::fs::File::open(shared("cloudPhysicsIO.vscsi")).unwrap();
    let r = trace::VscsiReader::new(Box::new(f), "v".into()).unwrap();
    assert_eq!(r.version(), Some(trace::VscsiVersion::V1));
}

#[test]
fn csv_sample() {
    let recs = csv();
    assert_eq!(recs.len(), N);
    let s = stats(&recs);
    assert_eq!(s.distinct, DISTINCT);
    assert_eq!(s.total_bytes, 4_205_978_112);
    assert_eq!(s.wss_first, 2_029_769_728);
    assert_eq!(s.size_changers, 4_937);
    assert_eq!((s.min_time, s.max_time), (5_633_898, 5_641_098));
    assert!(recs.iter().all(|r| r.next_access == cache::NEVER));
}

#[test]
fn txt_sample() {
    let recs = txt();
    assert_eq!(recs.len(), N);
    assert_eq!(stats(&recs).distinct, DISTINCT);
    assert!(recs
        .iter()
        .all(|r| r.size == 1 && r.time == 0 && r.next_access == cache::NEVER));
}

#[test]
fn the_four_formats_agree() {
    let (o, v, c, t) = (oracle(), vscsi(), csv(), txt());
    let mut first_size: HashMap<u64, u64> = HashMap::new();
    for i in 0..N {
        assert_eq!(o[i].id, v[i].id, "record {i}");
        assert_eq!(o[i].id, c[i].id, "record {i}");
        assert_eq!(o[i].id, t[i].id, "record {i}");
        assert_eq!(o[i].time, v[i].time, "record {i}");
        assert_eq!(o[i].time, c[i].time, "record {i}");
        // csv carries exactly what vscsi does.
        assert_eq!(v[i], c[i], "record {i}");
        // oracleGeneral pins each object's size to its first vscsi size.
        let pinned = *first_size.entry(v[i].id).or_insert(v[i].size);
        assert_eq!(o[i].size, pinned, "record {i}");
    }
}

#[test]
fn batch_sizes_do_not_matter() {
    let path = shared("cloudPhysicsIO.oracleGeneral.bin");
    let whole = oracle();
    for batch in [1, 7, 24, 1 << 20] {
        let mut r = open(&path, &Format::OracleGeneral).unwrap();
        let (recs, err) = drain(&mut r, batch);
        assert!(err.is_none());
        assert_eq!(recs, whole, "batch {batch}");
    }
    let mut r = open(&path, &Format::OracleGeneral).unwrap();
    let mut buf = vec![Record::default(); 3];
    assert_eq!(r.read_batch(&mut buf, 0).unwrap(), 0);
    assert!(buf.is_empty());
    // A huge max is no problem for any reader.
    for (name, format) in [
        ("cloudPhysicsIO.oracleGeneral.bin", Format::OracleGeneral),
        ("cloudPhysicsIO.vscsi", Format::Vscsi),
        ("cloudPhysicsIO.csv", csv_format()),
        ("cloudPhysicsIO.txt", Format::Txt),
    ] {
        let mut r = open(&shared(name), &format).unwrap();
        assert_eq!(r.read_batch(&mut buf, usize::MAX).unwrap(), N, "{name}");
    }
    let mut z = ZipfTrace::new(&"zipf:requests=1000".parse().unwrap());
    assert_eq!(z.read_batch(&mut buf, usize::MAX).unwrap(), 1000);
    // After the end, the reader keeps saying so.
    let _ = drain(&mut r, 1 << 20);
    assert_eq!(r.read_batch(&mut buf, 10).unwrap(), 0);
}

#[test]
fn zstd_compressed_traces_read_identically() {
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [
        ("cloudPhysicsIO.oracleGeneral.bin", Format::OracleGeneral),
        ("cloudPhysicsIO.vscsi", Format::Vscsi),
        ("cloudPhysicsIO.csv", csv_format()),
        ("cloudPhysicsIO.txt", Format::Txt),
    ] {
        let raw = std::fs::read(shared(name)).unwrap();
        let zpath = dir.path().join(format!("{name}.zst"));
        std::fs::write(&zpath, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
        if !matches!(format, Format::Csv(_)) {
            assert_eq!(detect_format(&zpath), Some(format.clone()));
        }
        assert_eq!(
            read_all(&zpath, &format),
            read_all(&shared(name), &format),
            "{name}"
        );
    }
}

#[test]
fn detect_format_on_samples() {
    assert_eq!(
        detect_format(&shared("cloudPhysicsIO.oracleGeneral.bin")),
        Some(Format::OracleGeneral)
    );
    assert_eq!(
        detect_format(&shared("cloudPhysicsIO.vscsi")),
        Some(Format::Vscsi)
    );
    assert_eq!(
        detect_format(&shared("cloudPhysicsIO.txt")),
        Some(Format::Txt)
    );
    assert_eq!(detect_format(&shared("cloudPhysicsIO.csv")), None);
}

#[test]
fn open_missing_file_names_it() {
    let e = open(Path::new("/nonexistent/x.bin"), &Format::OracleGeneral)
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("/nonexistent/x.bin: cannot open"), "{e}");
}

// ---- damaged files ----

fn oracle_bytes(recs: &[(u32, u64, u32, i64)]) -> Vec<u8> {
    recs.iter()
        .flat_map(|&(t, id, s, n)| trace::encode_oracle(t, id, s, n))
        .collect()
}

/// Checks that `err` is one line naming `path` and containing every `needle`.
fn assert_names(err: &TraceError, path: &Path, needles: &[&str]) {
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

#[test]
fn truncated_oracle_general_is_an_error_after_the_good_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = oracle_bytes(&[(1, 10, 100, 3), (2, 11, 200, -1), (3, 10, 100, -1)]);
    bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7]);
    let path = dir.path().join("x.oracleGeneral.bin");
    std::fs::write(&path, &bytes).unwrap();
    let mut r = open(&path, &Format::OracleGeneral).unwrap();
    let mut buf = Vec::new();
    assert_eq!(r.read_batch(&mut buf, 100).unwrap(), 3);
    assert_eq!(
        buf[0],
        Record {
            time: 1,
            id: 10,
            size: 100,
            next_access: 2
        }
    );
    assert_eq!(buf[1].next_access, cache::NEVER);
    let e = r.read_batch(&mut buf, 100).unwrap_err();
    assert_names(&e, &path, &["record 4: truncated (got 7 of 24 bytes)"]);
    assert!(buf.is_empty());
    // And it stays failed.
    let e = r.read_batch(&mut buf, 100).unwrap_err();
    assert_names(&e, &path, &["earlier error"]);

    // Reading one record at a time gets the same records and the same error.
    let mut r = open(&path, &Format::OracleGeneral).unwrap();
    let (recs, err) = drain(&mut r, 1);
    assert_eq!(recs.len(), 3);
    assert_names(
        &err.unwrap(),
        &path,
        &["record 4: truncated (got 7 of 24 bytes)"],
    );

    // A file shorter than one record.
    std::fs::write(&path, [0u8; 5]).unwrap();
    let mut r = open(&path, &Format::OracleGeneral).unwrap();
    let e = r.read_batch(&mut buf, 100).unwrap_err();
    assert_names(&e, &path, &["record 1: truncated (got 5 of 24 bytes)"]);

    // An empty file is an empty trace.
    std::fs::write(&path, []).unwrap();
    assert!(read_all(&path, &Format::OracleGeneral).is_empty());

    // Compressed and truncated: the same error, through zstd.
    let zpath = dir.path().join("x.oracleGeneral.bin.zst");
    std::fs::write(&zpath, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    let mut r = open(&zpath, &Format::OracleGeneral).unwrap();
    let (recs, err) = drain(&mut r, 100);
    assert_eq!(recs.len(), 3);
    assert_names(
        &err.unwrap(),
        &zpath,
        &["record 4: truncated (got 7 of 24 bytes)"],
    );
}

#[test]
fn oracle_next_access_conventions() {
    let bytes = oracle_bytes(&[
        (0, 1, 1, -1),
        (0, 1, 1, i64::MAX),
        (0, 1, 1, 0),
        (0, 1, 1, -7),
        (0, 1, 1, 1),
        (0, 1, 1, 12345),
    ]);
    let (recs, err) = read_bytes(&bytes, &Format::OracleGeneral);
    assert!(err.is_none());
    let got: Vec<u64> = recs.iter().map(|r| r.next_access).collect();
    let n = cache::NEVER;
    assert_eq!(got, vec![n, n, n, n, 0, 12344]);
}

#[test]
fn damaged_zstd_stream_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let raw = std::fs::read(shared("cloudPhysicsIO.oracleGeneral.bin")).unwrap();
    let z = zstd::encode_all(&raw[..], 3).unwrap();
    let path = dir.path().join("cut.bin.zst");
    // Cut the compressed stream in the middle.
    std::fs::write(&path, &z[..z.len() / 2]).unwrap();
    let mut r = open(&path, &Format::OracleGeneral).unwrap();
    let (recs, err) = drain(&mut r, 4096);
    assert!(recs.len() < N);
    assert_names(
        &err.expect("an error, not a short trace"),
        &path,
        &["record "],
    );
    // Garbage that is not zstd at all.
    std::fs::write(&path, b"definitely not zstd data").unwrap();
    let (recs, err) = match open(&path, &Format::OracleGeneral) {
        Ok(mut r) => drain(&mut r, 10),
        Err(e) => (Vec::new(), Some(e)),
    };
    assert!(recs.is_empty());
    assert_names(&err.unwrap(), &path, &[]);
}

fn vscsi1(sn: u32, len: u32, lbn: u64, ts: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0..4].copy_from_slice(&sn.to_le_bytes());
    b[4..8].copy_from_slice(&len.to_le_bytes());
    b[12..14].copy_from_slice(&0x28u16.to_le_bytes());
    b[14..16].copy_from_slice(&0x0100u16.to_le_bytes());
    b[16..24].copy_from_slice(&lbn.to_le_bytes());
    b[24..32].copy_from_slice(&ts.to_le_bytes());
    b
}

fn vscsi2(sn: u32, len: u32, lbn: u64, ts: u64) -> [u8; 40] {
    let mut b = [0u8; 40];
    b[0..2].copy_from_slice(&0x2au16.to_le_bytes());
    b[2..4].copy_from_slice(&0x0200u16.to_le_bytes());
    b[4..8].copy_from_slice(&sn.to_le_bytes());
    b[8..12].copy_from_slice(&len.to_le_bytes());
    b[16..24].copy_from_slice(&lbn.to_le_bytes());
    b[24..32].copy_from_slice(&ts.to_le_bytes());
    b[32..40].copy_from_slice(&77u64.to_le_bytes());
    b
}

#[test]
fn vscsi_versions_and_damage() {
    let want = vec![
        Record {
            time: 1,
            id: 100,
            size: 4096,
            next_access: cache::NEVER,
        },
        Record {
            time: 2,
            id: 200,
            size: 512,
            next_access: cache::NEVER,
        },
        Record {
            time: 2,
            id: 100,
            size: 8192,
            next_access: cache::NEVER,
        },
    ];
    let rows = [
        (4096, 100, 1_999_999),
        (512, 200, 2_000_000),
        (8192, 100, 2_500_000),
    ];
    let v1: Vec<u8> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, &(l, b, t))| vscsi1(i as u32, l, b, t))
        .collect();
    let v2: Vec<u8> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, &(l, b, t))| vscsi2(i as u32, l, b, t))
        .collect();
    assert_eq!(read_bytes(&v1, &Format::Vscsi).0, want);
    assert_eq!(read_bytes(&v2, &Format::Vscsi).0, want);
    // A single record of either version.
    assert_eq!(read_bytes(&v1[..32], &Format::Vscsi).0, want[..1]);
    assert_eq!(read_bytes(&v2[..40], &Format::Vscsi).0, want[..1]);
    // Truncated.
    let (recs, err) = read_bytes(&v1[..80], &Format::Vscsi);
    assert_eq!(recs, want[..2]);
    assert_names(
        &err.unwrap(),
        Path::new("mem.trace"),
        &["record 3: truncated (got 16 of 32 bytes)"],
    );
    let (recs, err) = read_bytes(&v2[..119], &Format::Vscsi);
    assert_eq!(recs, want[..2]);
    assert_names(
        &err.unwrap(),
        Path::new("mem.trace"),
        &["record 3: truncated (got 39 of 40 bytes)"],
    );
    let (_, err) = read_bytes(&v1[..10], &Format::Vscsi);
    assert_names(
        &err.unwrap(),
        Path::new("mem.trace"),
        &["record 1: truncated (got 10 of 32 bytes)"],
    );
    // Not vscsi at all: refused when opened, naming the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.vscsi");
    std::fs::write(&path, vec![0u8; 64]).unwrap();
    let e = open(&path, &Format::Vscsi).err().unwrap();
    assert_names(&e, &path, &["not a vscsi trace"]);
    // Empty is empty.
    assert_eq!(read_bytes(&[], &Format::Vscsi).0, vec![]);
}

#[test]
fn csv_parsing_and_errors() {
    let cols: CsvColumns = "time=1,id=2,size=3,header=true".parse().unwrap();
    let f = Format::Csv(cols);
    let text = "t,id,size\n\
                10,5,100\n\
                \n\
                11.9, 0x10 ,200\r\n\
                12,\"key,with,commas\",300\n\
                13,abc,400";
    let (recs, err) = read_bytes(text.as_bytes(), &f);
    assert!(err.is_none(), "{err:?}");
    let got: Vec<(u64, u64, u64)> = recs.iter().map(|r| (r.time, r.id, r.size)).collect();
    assert_eq!(
        got,
        vec![
            (10, 5, 100),
            (11, 16, 200),
            (12, hash_id(b"key,with,commas"), 300),
            (13, hash_id(b"abc"), 400)
        ]
    );

    // A bad size names file, record, line and column; the records before it are delivered.
    let text = "t,id,size\n1,5,100\n2,6,1x0\n3,7,100\n";
    let (recs, err) = read_bytes(text.as_bytes(), &f);
    assert_eq!(recs.len(), 1);
    assert_names(
        &err.unwrap(),
        Path::new("mem.trace"),
        &["record 2 (line 3, column 3)", "bad size \"1x0\""],
    );
    // A bad time.
    let (_, err) = read_bytes(b"t,id,size\n-1,5,100\n", &f);
    assert_names(
        &err.unwrap(),
        Path::new("mem.trace"),
        &["record 1 (line 2, column 1)", "bad time"],
    );
    // A row without the size column.
    let (recs, err) = read_bytes(b"t,id,size\n1,5,100\n2,6\n", &f);
    assert_eq!(recs.len(), 1);
    assert_names(
        &err.unwrap(),
        Path::new("mem.trace"),
        &["record 2 (line 3, column 3)", "no size column"],
    );
    // An empty id.
    let (_, err) = read_bytes(b"t,id,size\n1,,100\n", &f);
    assert_names(&err.unwrap(), Path::new("mem.trace"), &["empty id"]);

    // Only an id column: time 0, size 1; other delimiters.
    let f = Format::Csv("id=2,delimiter=tab".parse().unwrap());
    let (recs, err) = read_bytes(b"x\t7\ny\t8\n", &f);
    assert!(err.is_none());
    assert_eq!(
        recs,
        vec![
            Record {
                time: 0,
                id: 7,
                size: 1,
                next_access: cache::NEVER
            },
            Record {
                time: 0,
                id: 8,
                size: 1,
                next_access: cache::NEVER
            }
        ]
    );
}

#[test]
fn txt_parsing() {
    let (recs, err) = read_bytes(b"1\n\n2\r\n  \n0x10\nabc\n  42  \nlast", &Format::Txt);
    assert!(err.is_none());
    let ids: Vec<u64> = recs.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![1, 2, 16, hash_id(b"abc"), 42, hash_id(b"last")]);
    assert!(recs.iter().all(|r| r.size == 1 && r.time == 0));
    assert!(read_bytes(b"", &Format::Txt).0.is_empty());
    assert!(read_bytes(b"\n\n", &Format::Txt).0.is_empty());
}

fn check_arbitrary(bytes: &[u8], format: &Format) {
    let (recs, err) = read_bytes(bytes, format);
    if let Some(e) = &err {
        let msg = e.to_string();
        assert!(msg.starts_with("mem.trace: "), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
    match format {
        Format::OracleGeneral => {
            // Exactly the whole records, then an error iff there is a partial one.
            let partial = bytes.len() % 24;
            assert_eq!(recs.len(), bytes.len() / 24);
            assert_eq!(err.is_some(), partial > 0);
            if let Some(e) = err {
                let want = format!("record {}: truncated", bytes.len() / 24 + 1);
                assert!(e.to_string().contains(&want), "{e}");
            }
        }
        Format::Vscsi => {
            if err.is_none() {
                let (p1, p2) = (bytes.len() % 32, bytes.len() % 40);
                assert!(p1 == 0 || p2 == 0);
                assert!(recs.len() == bytes.len() / 32 || recs.len() == bytes.len() / 40);
            }
        }
        Format::Txt => {
            assert!(err.is_none());
            let lines = bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.trim_ascii().is_empty())
                .count();
            assert_eq!(recs.len(), lines);
        }
        Format::Csv(_) => {}
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_arbitrary(&bytes, &Format::OracleGeneral);
        check_arbitrary(&bytes, &Format::Vscsi);
        check_arbitrary(&bytes, &Format::Txt);
        check_arbitrary(&bytes, &csv_format());
        check_arbitrary(&bytes, &Format::Csv("id=1".parse().unwrap()));
    }

    #[test]
    fn arbitrary_vscsi_like_bytes(
        n in 0usize..6,
        v2 in any::<bool>(),
        tail in 0usize..40,
        seed in any::<u64>(),
    ) {
        // Valid records followed by a possibly partial one.
        let mut bytes = Vec::new();
        for i in 0..n {
            let x = seed.wrapping_mul(i as u64 + 1);
            if v2 {
                bytes.extend_from_slice(&vscsi2(x as u32, (x >> 8) as u32, x, x >> 4));
            } else {
                bytes.extend_from_slice(&vscsi1(x as u32 & 0xffff, (x >> 8) as u32, x, x >> 4));
            }
        }
        let rec = if v2 { 40 } else { 32 };
        let tail = tail % rec;
        bytes.extend(std::iter::repeat_n(0xA5u8, tail));
        let (recs, err) = read_bytes(&bytes, &Format::Vscsi);
        if n == 0 {
            prop_assert!(recs.is_empty());
            prop_assert_eq!(err.is_some(), tail > 0);
        } else {
            prop_assert_eq!(recs.len(), n);
            prop_assert_eq!(err.is_some(), tail > 0);
        }
    }

    #[test]
    fn arbitrary_csv_text(lines in proptest::collection::vec("[0-9a-z, .\"x-]{0,20}", 0..20)) {
        let text = lines.join("\n");
        check_arbitrary(text.as_bytes(), &csv_format());
        check_arbitrary(text.as_bytes(), &Format::Csv("time=1,id=2,size=3".parse().unwrap()));
        check_arbitrary(text.as_bytes(), &Format::Txt);
    }

    #[test]
    fn spec_parsers_never_panic(s in "(zipf:)?[a-z_=,.0-9\\t |-]{0,40}", t in ".{0,30}") {
        for x in [&s, &t] {
            if let Ok(c) = x.parse::<CsvColumns>() {
                prop_assert_eq!(c.to_string().parse::<CsvColumns>().unwrap(), c);
            }
            if let Ok(z) = x.parse::<ZipfSpec>() {
                prop_assert_eq!(z.to_string().parse::<ZipfSpec>().unwrap(), z);
            }
        }
    }

    #[test]
    fn arbitrary_zstd_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Garbage through the zstd path, and garbage compressed properly.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.bin.zst");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(mut r) = open(&path, &Format::OracleGeneral) {
            let _ = drain(&mut r, 7);
        }
        std::fs::write(&path, zstd::encode_all(&bytes[..], 1).unwrap()).unwrap();
        let mut r = open(&path, &Format::OracleGeneral).unwrap();
        let (recs, err) = drain(&mut r, 7);
        let partial = bytes.len() % 24;
        prop_assert_eq!(recs.len(), bytes.len() / 24);
        prop_assert_eq!(err.is_some(), partial > 0);
    }
}

// ---- the synthetic trace ----

fn generate(spec: &ZipfSpec) -> Vec<Record> {
    let mut t = ZipfTrace::new(spec);
    let (recs, err) = drain(&mut t, 10_000);
    assert!(err.is_none());
    recs
}

#[test]
fn zipf_spec_parsing() {
    let s: ZipfSpec = "zipf:requests=2000000,objects=200000,alpha=0.8,seed=1"
        .parse()
        .unwrap();
    assert_eq!(
        s,
        ZipfSpec {
            requests: 2_000_000,
            objects: 200_000,
            ..ZipfSpec::default()
        }
    );
    let d = ZipfSpec::default();
    assert_eq!(
        (d.requests, d.objects, d.alpha, d.seed),
        (1_000_000, 100_000, 0.8, 1)
    );
    assert_eq!("zipf:".parse::<ZipfSpec>().unwrap(), d);
    assert_eq!("zipf".parse::<ZipfSpec>().unwrap(), d);
    let s: ZipfSpec = "zipf:alpha=1.2, size-median=4096,size_sigma=0,duration=60,seed=9"
        .parse()
        .unwrap();
    assert_eq!(
        (s.alpha, s.size_median, s.size_sigma, s.duration, s.seed),
        (1.2, 4096, 0.0, 60, 9)
    );
    // Display round-trips.
    assert_eq!(s.to_string().parse::<ZipfSpec>().unwrap(), s);
    assert_eq!(d.to_string().parse::<ZipfSpec>().unwrap(), d);

    for (bad, key) in [
        ("zipf:requests=x", "`requests`"),
        ("zipf:objects=0", "`objects`"),
        ("zipf:alpha=-1", "`alpha`"),
        ("zipf:alpha=nan", "`alpha`"),
        ("zipf:seed=1.5", "`seed`"),
        ("zipf:colour=red", "`colour`"),
        ("zipf:size_min=10,size_max=5", "`size_min`"),
        ("zipf:size_max=5000000000", "`size_max`"),
        ("zipf:size_sigma=-1", "`size_sigma`"),
        ("zipf:requests", "`requests`"),
        ("requests=5", "zipf:"),
        ("uniform:requests=5", "zipf:"),
        ("zipfian:requests=5", "zipf:"),
    ] {
        let e = bad.parse::<ZipfSpec>().unwrap_err();
        assert!(e.contains(key), "{bad}: {e}");
    }
}

#[test]
fn zipf_is_deterministic_by_seed() {
    let spec: ZipfSpec = "zipf:requests=50000,objects=5000,seed=7".parse().unwrap();
    let a = generate(&spec);
    assert_eq!(a.len(), 50_000);
    assert_eq!(a, generate(&spec));
    let b = generate(&ZipfSpec {
        seed: 8,
        ..spec.clone()
    });
    assert_ne!(a, b);
    let same_ids = a.iter().zip(&b).filter(|(x, y)| x.id == y.id).count();
    assert!(same_ids < 100, "{same_ids}");
    // Batching does not change the sequence.
    let mut t = ZipfTrace::new(&spec);
    let (c, _) = drain(&mut t, 3);
    assert_eq!(a, c);
}

#[test]
fn zipf_objects_sizes_and_times() {
    let spec: ZipfSpec = "zipf:requests=200000,objects=20000,alpha=0.8,seed=3"
        .parse()
        .unwrap();
    let recs = generate(&spec);
    // Ids are the bijection of ranks; every object has one size, a function of (seed, id).
    let ranks: HashMap<u64, u64> = (1..=spec.objects)
        .map(|r| (zipf_object_id(spec.seed, r), r))
        .collect();
    assert_eq!(ranks.len(), spec.objects as usize);
    for r in &recs {
        assert!(ranks.contains_key(&r.id));
        assert_eq!(r.size, zipf_object_size(&spec, r.id));
        assert!((512..=4 << 20).contains(&r.size));
        assert_eq!(r.next_access, cache::NEVER);
    }
    // Ids are not ordered by popularity.
    let top: Vec<u64> = (1..=5).map(|r| zipf_object_id(spec.seed, r)).collect();
    assert!(top.windows(2).any(|w| w[0] > w[1]) && top.windows(2).any(|w| w[0] < w[1]));
    // Sizes: lognormal with median 16 KiB over all objects.
    let mut sizes: Vec<u64> = (1..=spec.objects)
        .map(|r| zipf_object_size(&spec, zipf_object_id(spec.seed, r)))
        .collect();
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2] as f64;
    assert!((median / 16384.0 - 1.0).abs() < 0.05, "median {median}");
    // About 15.9% of objects lie above median * e (one sigma).
    let above = sizes
        .iter()
        .filter(|&&s| s as f64 > 16384.0 * 1f64.exp())
        .count() as f64
        / sizes.len() as f64;
    assert!((above - 0.1587).abs() < 0.01, "{above}");
    // Times: floor(i * duration / requests).
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.time, i as u64 * 3600 / 200_000);
    }
    let spec2 = ZipfSpec {
        requests: 7,
        duration: 100,
        size_sigma: 0.0,
        ..spec.clone()
    };
    let recs = generate(&spec2);
    let times: Vec<u64> = recs.iter().map(|r| r.time).collect();
    assert_eq!(times, vec![0, 14, 28, 42, 57, 71, 85]);
    assert!(recs.iter().all(|r| r.size == 16384));
    assert!(generate(&ZipfSpec {
        requests: 0,
        ..spec
    })
    .is_empty());
}

#[test]
fn zipf_rank_frequency_follows_the_law() {
    let spec: ZipfSpec = "zipf:requests=400000,objects=10000,alpha=0.8,seed=1"
        .parse()
        .unwrap();
    let recs = generate(&spec);
    let mut count: HashMap<u64, u64> = HashMap::new();
    for r in &recs {
        *count.entry(r.id).or_insert(0) += 1;
    }
    let h: f64 = (1..=spec.objects)
        .map(|k| (k as f64).powf(-spec.alpha))
        .sum();
    let n = spec.requests as f64;
    for rank in [1u64, 2, 10, 100] {
        let p = (rank as f64).powf(-spec.alpha) / h;
        let got = *count.get(&zipf_object_id(spec.seed, rank)).unwrap_or(&0) as f64 / n;
        let sd = (p * (1.0 - p) / n).sqrt();
        assert!(
            (got - p).abs() < 5.0 * sd,
            "rank {rank}: share {got:.5}, theory {p:.5} ± {sd:.5}"
        );
    }
    // The log-log slope of frequency against rank over the top 1000 ranks is -alpha.
    let pts: Vec<(f64, f64)> = (1..=1000u64)
        .map(|r| {
            let c = *count.get(&zipf_object_id(spec.seed, r)).unwrap_or(&0) as f64;
            ((r as f64).ln(), c.max(0.5).ln())
        })
        .collect();
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / pts.len() as f64;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
    let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    assert!((slope + 0.8).abs() < 0.03, "slope {slope}");
}

#[test]
fn write_oracle_general_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let spec: ZipfSpec = "zipf:requests=30000,objects=3000,alpha=1.0,seed=5"
        .parse()
        .unwrap();
    let want = generate(&spec);
    let want_next = next_accesses(&want);
    for name in ["z.oracleGeneral.bin", "z.oracleGeneral.bin.zst"] {
        let path = dir.path().join(name);
        let n = write_oracle_general(&mut ZipfTrace::new(&spec), &path).unwrap();
        assert_eq!(n, 30_000);
        let got = read_all(&path, &Format::OracleGeneral);
        assert_eq!(got.len(), want.len());
        for i in 0..want.len() {
            assert_eq!(
                got[i],
                Record {
                    next_access: want_next[i],
                    ..want[i]
                }
            );
        }
    }
    let raw = std::fs::read(dir.path().join("z.oracleGeneral.bin")).unwrap();
    assert_eq!(raw.len(), 30_000 * 24);
    // The stored field is 1-based, -1 for none.
    let first_next = i64::from_le_bytes(raw[16..24].try_into().unwrap());
    assert_eq!(
        first_next,
        if want_next[0] == cache::NEVER {
            -1
        } else {
            want_next[0] as i64 + 1
        }
    );
}

#[test]
fn write_oracle_general_reproduces_the_sample() {
    // Converting the csv sample gives the oracleGeneral sample's ids, times and next accesses
    // (its sizes differ: the sample pins sizes).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.oracleGeneral.bin");
    let mut r = open(&shared("cloudPhysicsIO.csv"), &csv_format()).unwrap();
    assert_eq!(write_oracle_general(&mut r, &path).unwrap(), N as u64);
    let got = read_all(&path, &Format::OracleGeneral);
    let want = oracle();
    let c = csv();
    for i in 0..N {
        assert_eq!((got[i].id, got[i].time), (want[i].id, want[i].time));
        assert_eq!(got[i].next_access, want[i].next_access);
        assert_eq!(got[i].size, c[i].size);
    }
}

struct Fixed(Vec<Record>);

impl TraceReader for Fixed {
    fn read_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<usize, TraceError> {
        out.clear();
        let n = self.0.len().min(max);
        out.extend(self.0.drain(..n));
        Ok(n)
    }
}

#[test]
fn write_oracle_general_refuses_what_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let ok = Record {
        time: 1,
        id: 1,
        size: 1,
        next_access: cache::NEVER,
    };
    let e = write_oracle_general(
        &mut Fixed(vec![
            ok,
            Record {
                size: 1 << 32,
                ..ok
            },
        ]),
        &path,
    )
    .unwrap_err();
    assert_names(&e, &path, &["record 2", "size 4294967296"]);
    let e = write_oracle_general(
        &mut Fixed(vec![Record {
            time: 1 << 40,
            ..ok
        }]),
        &path,
    )
    .unwrap_err();
    assert_names(&e, &path, &["record 1", "time"]);
    // Errors of the source reader pass through.
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, [0u8; 30]).unwrap();
    let mut r = open(&bad, &Format::OracleGeneral).unwrap();
    let e = write_oracle_general(&mut r, &path).unwrap_err();
    assert_names(&e, &bad, &["record 2: truncated"]);
}

// ---- speed (run with: cargo test --release -p sim --test traces -- --ignored --nocapture) ----

fn rate(n: u64, t: std::time::Duration) -> String {
    format!("{:.1} M records/s", n as f64 / t.as_secs_f64() / 1e6)
}

#[test]
#[ignore]
fn speed() {
    let dir = tempfile::tempdir().unwrap();
    let n: u64 = 20_000_000;
    let spec = ZipfSpec {
        requests: n,
        objects: 1_000_000,
        ..ZipfSpec::default()
    };
    let t = std::time::Instant::now();
    let mut g = ZipfTrace::new(&spec);
    let mut buf = Vec::new();
    let mut total = 0u64;
    let mut sum = 0u64;
    while g.read_batch(&mut buf, 1 << 16).unwrap() > 0 {
        total += buf.len() as u64;
        sum = sum.wrapping_add(buf.iter().map(|r| r.id).fold(0, u64::wrapping_add));
    }
    println!("zipf generation: {} ({sum:x})", rate(total, t.elapsed()));

    let path = dir.path().join("speed.oracleGeneral.bin");
    let t = std::time::Instant::now();
    write_oracle_general(&mut ZipfTrace::new(&spec), &path).unwrap();
    println!("generate + write_oracle_general: {}", rate(n, t.elapsed()));

    for round in 0..3 {
        let t = std::time::Instant::now();
        let mut r = open(&path, &Format::OracleGeneral).unwrap();
        let mut total = 0u64;
        let mut sum = 0u64;
        while r.read_batch(&mut buf, 1 << 16).unwrap() > 0 {
            total += buf.len() as u64;
            sum = sum.wrapping_add(
                buf.iter()
                    .map(|r| r.id ^ r.next_access)
                    .fold(0, u64::wrapping_add),
            );
        }
        assert_eq!(total, n);
        println!(
            "oracleGeneral read #{round}: {} ({sum:x})",
            rate(total, t.elapsed())
        );
    }

    let zpath = dir.path().join("speed.oracleGeneral.bin.zst");
    {
        let mut f = std::fs::File::create(&zpath).unwrap();
        let mut src = std::fs::File::open(&path).unwrap();
        let mut enc = zstd::stream::write::Encoder::new(&mut f, 3).unwrap();
        std::io::copy(&mut src, &mut enc).unwrap();
        enc.finish().unwrap().flush().unwrap();
    }
    let t = std::time::Instant::now();
    let mut r = open(&zpath, &Format::OracleGeneral).unwrap();
    let mut total = 0u64;
    while r.read_batch(&mut buf, 1 << 16).unwrap() > 0 {
        total += buf.len() as u64;
    }
    println!("oracleGeneral.zst read: {}", rate(total, t.elapsed()));

    // Text formats, on the samples repeated in memory.
    for (name, format) in [
        ("cloudPhysicsIO.vscsi", Format::Vscsi),
        ("cloudPhysicsIO.csv", csv_format()),
        ("cloudPhysicsIO.txt", Format::Txt),
    ] {
        let mut raw = Vec::new();
        std::fs::File::open(shared(name))
            .unwrap()
            .read_to_end(&mut raw)
            .unwrap();
        let t = std::time::Instant::now();
        let mut total = 0u64;
        for _ in 0..20 {
            let (recs, err) = read_bytes(&raw, &format);
            assert!(err.is_none());
            total += recs.len() as u64;
        }
        println!("{name} (in memory): {}", rate(total, t.elapsed()));
    }
}
