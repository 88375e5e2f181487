//! Trace readers: libCacheSim's `oracleGeneral`, `csv`, `txt` and `vscsi` formats, each
//! optionally zstd-compressed, decoded in batches into [`Record`]s.
//!
//! What every reader guarantees:
//! - records come out in file order, [`TraceReader::read_batch`] at a time, with no allocation
//!   per record;
//! - a damaged file is never read silently short: a partial binary record, a bad number or an
//!   I/O error is a [`TraceError`] whose one-line message names the file and the 1-based record
//!   number (and for text formats the line). Records before the damage are delivered first; the
//!   error comes from the next call, and every call after that fails too;
//! - zero-size records are passed through (the simulator decides whether to skip them).
//!
//! Object ids in text formats ([`Format::Csv`], [`Format::Txt`]) are parsed as unsigned
//! integers (decimal, or hexadecimal with a `0x` prefix), like libCacheSim with
//! `obj-id-is-num=true`. A field that is not such a number is hashed with [`hash_id`]
//! (XXH3-64, the hash libCacheSim's csv reader applies to string ids).

mod binary;
mod csv;
mod oracle;
mod txt;
mod vscsi;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use self::csv::CsvReader;
pub use self::oracle::{
    decode as decode_oracle, encode as encode_oracle, OracleReader, ORACLE_RECORD_LEN,
};
pub use self::txt::TxtReader;
pub use self::vscsi::{VscsiReader, VscsiVersion};

/// One request of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Record {
    /// Wall-clock time in seconds.
    pub time: u64,
    /// The object requested.
    pub id: u64,
    /// The object's size in bytes (1 for formats without sizes); may be 0.
    pub size: u64,
    /// The 0-based index of the next request for the same id, or [`cache::NEVER`]. Only
    /// oracleGeneral carries it; the other formats always give [`cache::NEVER`].
    pub next_access: u64,
}

/// A trace file format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// libCacheSim's `oracleGeneral`: packed 24-byte little-endian records.
    OracleGeneral,
    /// Delimited text with the columns given.
    Csv(CsvColumns),
    /// One object id per line.
    Txt,
    /// VMware's vscsi block traces (versions 1 and 2).
    Vscsi,
}

impl Format {
    /// Parses a format name: `oracleGeneral` (also `oracle`), `csv`, `txt`, `vscsi`, ignoring
    /// case. `csv` needs `csv`'s columns; the other formats refuse them.
    pub fn parse(name: &str, csv: Option<CsvColumns>) -> Result<Format, String> {
        let format = match name.trim().to_ascii_lowercase().as_str() {
            "oraclegeneral" | "oracle" | "oraclegeneralbin" => Format::OracleGeneral,
            "csv" => {
                return match csv {
                    Some(cols) => Ok(Format::Csv(cols)),
                    None => Err("the csv format needs its columns, e.g. \
                                 time=2,id=5,size=4,header=true,delimiter=,"
                        .to_string()),
                }
            }
            "txt" | "text" => Format::Txt,
            "vscsi" => Format::Vscsi,
            other => {
                return Err(format!(
                    "unknown trace format `{other}` (expected oracleGeneral, csv, txt or vscsi)"
                ))
            }
        };
        if csv.is_some() {
            return Err(format!(
                "csv columns were given but the format is {}",
                format.name()
            ));
        }
        Ok(format)
    }

    /// The canonical name: `oracleGeneral`, `csv`, `txt` or `vscsi`.
    pub fn name(&self) -> &'static str {
        match self {
            Format::OracleGeneral => "oracleGeneral",
            Format::Csv(_) => "csv",
            Format::Txt => "txt",
            Format::Vscsi => "vscsi",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Csv(cols) => write!(f, "csv:{cols}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Where the fields of a csv trace are. Columns are 1-based, as in libCacheSim.
///
/// Parsed from `time=2,id=5,size=4,header=true,delimiter=,`: every key but `id` is optional
/// (no time column: time 0; no size column: size 1; `header=false`; `delimiter=,`).
/// libCacheSim's spellings are accepted too (`time-col`, `obj-id-col`, `obj-size-col`,
/// `has-header`, `obj-id-is-num=true`), so its `-t` strings parse unchanged. The delimiter may
/// be written as itself (`delimiter=,` even as the last or a middle key, `delimiter=|`) or by
/// name: `comma`, `tab` (or `\t`), `space`, `pipe`, `semicolon`, `colon`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvColumns {
    pub time: Option<usize>,
    pub id: usize,
    pub size: Option<usize>,
    pub header: bool,
    pub delimiter: u8,
}

impl CsvColumns {
    /// Columns for a trace whose only field is the id in column `id`, with no header and `,`.
    pub fn id_only(id: usize) -> Self {
        CsvColumns {
            time: None,
            id,
            size: None,
            header: false,
            delimiter: b',',
        }
    }
}

impl fmt::Display for CsvColumns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = self.time {
            write!(f, "time={t},")?;
        }
        write!(f, "id={}", self.id)?;
        if let Some(s) = self.size {
            write!(f, ",size={s}")?;
        }
        write!(f, ",header={}", self.header)?;
        match self.delimiter {
            b'\t' => f.write_str(",delimiter=tab"),
            b' ' => f.write_str(",delimiter=space"),
            d => write!(f, ",delimiter={}", d as char),
        }
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!(
            "bad value `{v}` for `{key}`: expected true or false"
        )),
    }
}

fn parse_column(key: &str, v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(c) if c >= 1 => Ok(c),
        _ => Err(format!(
            "bad value `{v}` for `{key}`: expected a 1-based column number"
        )),
    }
}

fn parse_delimiter(v: &str) -> Result<u8, String> {
    let d = match v.to_ascii_lowercase().as_str() {
        "comma" => b',',
        "tab" | "\\t" | "\t" => b'\t',
        "space" | " " => b' ',
        "pipe" => b'|',
        "semicolon" => b';',
        "colon" => b':',
        _ if v.len() == 1 && v.is_ascii() => v.as_bytes()[0],
        _ => {
            return Err(format!(
                "bad value `{v}` for `delimiter`: expected one ASCII character or \
                 comma, tab, space, pipe, semicolon, colon"
            ))
        }
    };
    if d == b'\n' || d == b'\r' || d == b'"' {
        return Err(format!("bad value `{v}` for `delimiter`: not usable"));
    }
    Ok(d)
}

fn is_delimiter_key(key: &str) -> bool {
    matches!(key.to_ascii_lowercase().as_str(), "delimiter" | "delim")
}

impl FromStr for CsvColumns {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut time = None;
        let mut id = None;
        let mut size = None;
        let mut header = false;
        let mut delimiter = b',';
        // Leading spaces are insignificant, but a trailing one may be the delimiter itself.
        let mut rest = s.trim_start();
        while !rest.is_empty() {
            let Some(eq) = rest.find('=') else {
                let key = rest.split(',').next().unwrap_or(rest).trim();
                return Err(format!("expected key=value, got `{key}`"));
            };
            let key = rest[..eq].trim();
            let after = &rest[eq + 1..];
            let (value, next) = if is_delimiter_key(key) && after.starts_with(',') {
                // `delimiter=,` possibly followed by `,more=keys`.
                (",", &after[1..])
            } else {
                match after.find(',') {
                    Some(c) => (&after[..c], &after[c..]),
                    None => (after, ""),
                }
            };
            rest = match next.strip_prefix(',') {
                Some(r) => r.trim_start(),
                None if next.is_empty() => "",
                None => return Err(format!("bad value for `{key}`: `{after}`")),
            };
            let raw_value = value;
            let value = value.trim();
            match key.to_ascii_lowercase().as_str() {
                "time" | "time-col" | "time_col" | "time-field" => {
                    time = Some(parse_column(key, value)?)
                }
                "id" | "obj-id" | "obj-id-col" | "obj_id" | "obj_id_col" | "id-col" => {
                    id = Some(parse_column(key, value)?)
                }
                "size" | "obj-size" | "obj-size-col" | "obj_size" | "obj_size_col" | "size-col" => {
                    size = Some(parse_column(key, value)?)
                }
                "header" | "has-header" | "has_header" => header = parse_bool(key, value)?,
                "delimiter" | "delim" => {
                    // Keep a lone space or tab: it is the delimiter, not padding.
                    let v = if value.is_empty() { raw_value } else { value };
                    delimiter = parse_delimiter(v)?
                }
                "obj-id-is-num" | "obj_id_is_num" => {
                    if !parse_bool(key, value)? {
                        return Err(format!(
                            "`{key}=false` is not supported: numeric ids are always read as \
                             numbers and other ids are hashed"
                        ));
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown key `{key}` in csv columns (expected time, id, size, header, \
                         delimiter)"
                    ))
                }
            }
        }
        let id = id.ok_or_else(|| "missing key `id` (the object id column)".to_string())?;
        let cols = CsvColumns {
            time,
            id,
            size,
            header,
            delimiter,
        };
        Ok(cols)
    }
}

/// A failure to open or read a trace. Its `Display` is one line that names the file and, for
/// bad data, the 1-based record number (and for csv and txt the line).
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened or created.
    #[error("{}: cannot open: {source}", .path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Reading failed (I/O or decompression) while reading record `record`.
    #[error("{}: record {record}: read error: {source}", .path.display())]
    Io {
        path: PathBuf,
        record: u64,
        source: std::io::Error,
    },
    /// The file ends inside record `record`.
    #[error("{}: record {record}: truncated (got {got} of {want} bytes)", .path.display())]
    Truncated {
        path: PathBuf,
        record: u64,
        got: usize,
        want: usize,
    },
    /// A text field that should be a number is not (or a required column is missing).
    #[error("{}: record {record} (line {line}, column {column}): {msg}", .path.display())]
    Parse {
        path: PathBuf,
        record: u64,
        line: u64,
        column: usize,
        msg: String,
    },
    /// A record holds a value the operation cannot represent.
    #[error("{}: record {record}: {msg}", .path.display())]
    Value {
        path: PathBuf,
        record: u64,
        msg: String,
    },
    /// The file is not in the format it was opened as.
    #[error("{}: {msg}", .path.display())]
    BadFormat { path: PathBuf, msg: String },
    /// Writing failed.
    #[error("{}: write error: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The reader already returned an error; it reads nothing more.
    #[error("{}: reader stopped after an earlier error", .path.display())]
    Stopped { path: PathBuf },
}

/// A source of trace records.
pub trait TraceReader: Send {
    /// Clears `out` and fills it with up to `max` next records; returns how many (0 at the end,
    /// or when `max` is 0). An error names the file and record.
    fn read_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<usize, TraceError>;
}

impl<T: TraceReader + ?Sized> TraceReader for Box<T> {
    fn read_batch(&mut self, out: &mut Vec<Record>, max: usize) -> Result<usize, TraceError> {
        (**self).read_batch(out, max)
    }
}

/// Whether `path`'s name ends in `.zst` (or `.zstd`), ignoring case.
pub fn is_zstd(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".zst") || name.ends_with(".zstd")
}

/// Opens `path` in `format`; a name ending in `.zst` is zstd-decompressed on the fly (any format).
pub fn open(path: &Path, format: &Format) -> Result<Box<dyn TraceReader>, TraceError> {
    let file = std::fs::File::open(path).map_err(|source| TraceError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let src: Box<dyn Read + Send> = if is_zstd(path) {
        let dec = zstd::stream::read::Decoder::new(file).map_err(|source| TraceError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Box::new(dec)
    } else {
        Box::new(file)
    };
    from_reader(src, path, format)
}

/// Reads a trace in `format` from any byte source (already decompressed); `name` is used in
/// error messages only.
pub fn from_reader(
    src: Box<dyn Read + Send>,
    name: &Path,
    format: &Format,
) -> Result<Box<dyn TraceReader>, TraceError> {
    let name = name.to_path_buf();
    Ok(match format {
        Format::OracleGeneral => Box::new(OracleReader::new(src, name)),
        Format::Vscsi => Box::new(VscsiReader::new(src, name)?),
        Format::Csv(cols) => Box::new(CsvReader::new(src, name, cols.clone())),
        Format::Txt => Box::new(TxtReader::new(src, name)),
    })
}

/// Guesses the format from the file name: `*.oracleGeneral*`, `*.bin` → OracleGeneral;
/// `*.vscsi` → Vscsi; `*.txt` → Txt; `*.csv` → None (csv needs columns); all ignoring a
/// trailing `.zst` and case.
pub fn detect_format(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let name = name
        .strip_suffix(".zst")
        .or_else(|| name.strip_suffix(".zstd"))
        .unwrap_or(&name);
    if name.contains(".oraclegeneral") || name.ends_with(".bin") {
        Some(Format::OracleGeneral)
    } else if name.ends_with(".vscsi") {
        Some(Format::Vscsi)
    } else if name.ends_with(".txt") {
        Some(Format::Txt)
    } else {
        None
    }
}

/// The id of an object named by a string that is not a number: XXH3-64 (seed 0, default
/// secret) of its bytes, which is what libCacheSim's csv reader uses for string ids
/// (`get_hash_value_str`, `XXH3_64bits`).
pub fn hash_id(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// Parses an unsigned integer as written in traces: decimal digits, or hexadecimal digits after
/// `0x`/`0X`. No sign, no spaces, no overflow; `None` otherwise. (libCacheSim's `strtoull(s,
/// _, 0)` would read a leading `0` as octal and ignore trailing junk; we do neither.)
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.len() > 2 && s[0] == b'0' && (s[1] == b'x' || s[1] == b'X') {
        let digits = &s[2..];
        if digits.len() > 16 {
            return None;
        }
        let mut v: u64 = 0;
        for &b in digits {
            let d = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return None,
            };
            v = (v << 4) | d as u64;
        }
        return Some(v);
    }
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// An object id from a text field: the number if it is one ([`parse_u64`]), else [`hash_id`].
pub fn id_from_text(s: &[u8]) -> u64 {
    parse_u64(s).unwrap_or_else(|| hash_id(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_parse() {
        let c: CsvColumns = "time=2,id=5,size=4,header=true,delimiter=,"
            .parse()
            .unwrap();
        assert_eq!(
            c,
            CsvColumns {
                time: Some(2),
                id: 5,
                size: Some(4),
                header: true,
                delimiter: b','
            }
        );
        let c: CsvColumns = "delimiter=,,id=1".parse().unwrap();
        assert_eq!(c, CsvColumns::id_only(1));
        let c: CsvColumns = "id=3, delimiter=tab".parse().unwrap();
        assert_eq!(c.delimiter, b'\t');
        let c: CsvColumns = "id=3,delimiter=\\t".parse().unwrap();
        assert_eq!(c.delimiter, b'\t');
        let c: CsvColumns = "id=3,delimiter=\t".parse().unwrap();
        assert_eq!(c.delimiter, b'\t');
        let c: CsvColumns = "id=3,delimiter= ".parse().unwrap();
        assert_eq!(c.delimiter, b' ');
        let c: CsvColumns = "id=3,delimiter=|,header=false".parse().unwrap();
        assert_eq!(c.delimiter, b'|');
        // libCacheSim's own -t string.
        let c: CsvColumns =
            "time-col=2,obj-id-col=5,obj-size-col=4,delimiter=,,has-header=true,obj-id-is-num=true"
                .parse()
                .unwrap();
        assert_eq!(
            c,
            "time=2,id=5,size=4,header=true,delimiter=,"
                .parse()
                .unwrap()
        );
        // Display round-trips.
        for s in [
            "time=2,id=5,size=4,header=true,delimiter=,",
            "id=1,header=false,delimiter=tab",
            "id=1,delimiter=space",
        ] {
            let c: CsvColumns = s.parse().unwrap();
            assert_eq!(c.to_string().parse::<CsvColumns>().unwrap(), c);
        }
    }

    #[test]
    fn csv_columns_errors_name_the_key() {
        let e = "time=2,idx=5".parse::<CsvColumns>().unwrap_err();
        assert!(e.contains("`idx`"), "{e}");
        let e = "time=x,id=5".parse::<CsvColumns>().unwrap_err();
        assert!(e.contains("`time`"), "{e}");
        let e = "time=0,id=5".parse::<CsvColumns>().unwrap_err();
        assert!(e.contains("`time`"), "{e}");
        let e = "time=2".parse::<CsvColumns>().unwrap_err();
        assert!(e.contains("`id`"), "{e}");
        let e = "id=1,header=maybe".parse::<CsvColumns>().unwrap_err();
        assert!(e.contains("`header`"), "{e}");
        let e = "id=1,delimiter=abc".parse::<CsvColumns>().unwrap_err();
        assert!(e.contains("`delimiter`"), "{e}");
        let e = "id=1,size".parse::<CsvColumns>().unwrap_err();
        assert!(e.contains("`size`"), "{e}");
        let e = "id=1,obj-id-is-num=false"
            .parse::<CsvColumns>()
            .unwrap_err();
        assert!(e.contains("obj-id-is-num"), "{e}");
    }

    #[test]
    fn format_parse_and_name() {
        for n in [
            "oracleGeneral",
            "ORACLEGENERAL",
            "oracle",
            " oraclegeneral ",
        ] {
            assert_eq!(Format::parse(n, None).unwrap(), Format::OracleGeneral);
        }
        assert_eq!(Format::parse("vscsi", None).unwrap(), Format::Vscsi);
        assert_eq!(Format::parse("TXT", None).unwrap(), Format::Txt);
        assert!(Format::parse("csv", None).is_err());
        let cols = CsvColumns::id_only(1);
        assert_eq!(
            Format::parse("csv", Some(cols.clone())).unwrap(),
            Format::Csv(cols.clone())
        );
        assert!(Format::parse("txt", Some(cols)).is_err());
        assert!(Format::parse("parquet", None)
            .unwrap_err()
            .contains("parquet"));
        for f in [Format::OracleGeneral, Format::Txt, Format::Vscsi] {
            assert_eq!(Format::parse(f.name(), None).unwrap(), f);
        }
        assert_eq!(Format::Csv(CsvColumns::id_only(1)).name(), "csv");
    }

    #[test]
    fn detect() {
        let d = |s: &str| detect_format(Path::new(s));
        assert_eq!(
            d("a/cloudPhysicsIO.oracleGeneral.bin"),
            Some(Format::OracleGeneral)
        );
        assert_eq!(d("x.oracleGeneral"), Some(Format::OracleGeneral));
        assert_eq!(d("x.oracleGeneral.zst"), Some(Format::OracleGeneral));
        assert_eq!(d("x.bin.zst"), Some(Format::OracleGeneral));
        assert_eq!(d("x.vscsi"), Some(Format::Vscsi));
        assert_eq!(d("x.vscsi.zst"), Some(Format::Vscsi));
        assert_eq!(d("x.txt"), Some(Format::Txt));
        assert_eq!(d("x.txt.zst"), Some(Format::Txt));
        assert_eq!(d("x.csv"), None);
        assert_eq!(d("x.csv.zst"), None);
        assert_eq!(d("x.parquet"), None);
        assert_eq!(d("zst"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"0123"), Some(123));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"0x1f"), Some(31));
        assert_eq!(parse_u64(b"0XFFFFFFFFFFFFFFFF"), Some(u64::MAX));
        assert_eq!(parse_u64(b"0x1FFFFFFFFFFFFFFFF"), None);
        assert_eq!(parse_u64(b"0x"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(id_from_text(b"42"), 42);
        assert_eq!(id_from_text(b"abc"), hash_id(b"abc"));
    }
}

#[cfg(test)]
mod hash_tests {
    /// Reference digests of `(0..n).map(|i| (i * 7 + 3) as u8)` from the python `xxhash`
    /// package (xxh3_64_intdigest), covering every length class and block boundary.
    const VECTORS: &[(usize, u64)] = &include!("xxh3_vectors.in");

    #[test]
    fn string_ids_hash_like_libcachesim() {
        assert_eq!(super::hash_id(b""), 0x2D06_8005_38D3_94C2);
        for &(n, want) in VECTORS {
            let input: Vec<u8> = (0..n).map(|i| (i * 7 + 3) as u8).collect();
            assert_eq!(super::hash_id(&input), want, "length {n}");
        }
    }
}
