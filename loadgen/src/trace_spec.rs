//! `workload.trace`: replay a cache trace with its own timing, scaled (raw TOML type, its
//! validation into [`TraceSpec`], and the resolved text).

use std::path::{Path, PathBuf};
use std::time::Duration;

use cache::config_source::{duration, span_of, ConfigError, RawDuration, Source};
use cache::units::format_duration;
use serde::Deserialize;
use sim::trace::{detect_format, CsvColumns, Format};
use toml::Spanned;

/// The one class a trace workload has: objects `/trace/<id>/<size>`, which every origin serves
/// (its `[trace]` table), under this name in per-class figures.
pub const TRACE_CLASS: &str = "/trace/";

/// A validated `workload.trace`.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSpec {
    /// The trace file, absolute (a relative `file` is resolved against the scenario's folder).
    pub file: PathBuf,
    pub format: Format,
    /// Trace seconds per real second (10: ten times faster than recorded).
    pub speed: f64,
    /// The replay starts this far into the trace's time (counted from its first record).
    pub skip: Duration,
    /// At most this many requests are sent (None: no limit but the run's end).
    pub limit: Option<u64>,
}

/// Defaults of `workload.trace`.
pub mod defaults {
    pub const SPEED: f64 = 1.0;
    /// The highest speed accepted: far beyond any use, low enough to keep times finite.
    pub const MAX_SPEED: f64 = 1e9;
}

/// `trace = { file, format, csv_columns, speed, skip, limit }` in `[workload]` (or a
/// `[workload.trace]` table): replay a cache trace instead of drawing objects from the mix.
///
/// ```toml
/// [workload]
/// trace = { file = "../shared/traces/cloudPhysicsIO.oracleGeneral.bin", speed = 10.0, limit = 100000 }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrace {
    /// `file`: the trace, zstd-compressed if its name ends in `.zst`. A relative path is
    /// resolved against the folder of the scenario file. Required.
    pub file: Option<Spanned<String>>,
    /// `format`: `oracleGeneral`, `csv` or `vscsi` (`txt` is refused: it has no times).
    /// Default: guessed from the name as `cdnlab simulate` does (`*.oracleGeneral*`, `*.bin`,
    /// `*.vscsi`).
    pub format: Option<Spanned<String>>,
    /// `csv_columns`: for csv traces (and only them), the columns as `cdnlab simulate
    /// --csv-columns` takes them: `"time=2,id=5,size=4,header=true,delimiter=,"` (a time
    /// column is required). Given alone, the format is csv.
    pub csv_columns: Option<Spanned<String>>,
    /// `speed`: trace seconds per real second, a number > 0 (10 replays ten times faster
    /// than recorded). Default 1.
    pub speed: Option<Spanned<f64>>,
    /// `skip`: start this far into the trace's time (counted from its first record), a
    /// duration ≥ 0. Default `"0s"`.
    pub skip: Option<Spanned<RawDuration>>,
    /// `limit`: send at most this many requests (in total; with `same_sequence`, each region
    /// sends them all), an integer ≥ 1. Default: no limit (the run's `warmup` + `duration`
    /// still end it).
    pub limit: Option<Spanned<i64>>,
}

impl RawTrace {
    /// Validates the table; `src` carries the key prefix of the table (`"workload.trace"`),
    /// `at` is its span. A relative `file` is resolved against the folder of `src.file`; the
    /// file must exist (it is read by the scenario's validation, which knows the run's length
    /// and the origin's largest trace object).
    pub fn validate(
        &self,
        src: &Source<'_>,
        at: Option<std::ops::Range<usize>>,
    ) -> Result<TraceSpec, ConfigError> {
        let Some(f) = &self.file else {
            return Err(src.error(
                at,
                "file",
                "required key is missing (the trace to replay, e.g. file = \"../shared/traces/cloudPhysicsIO.oracleGeneral.bin\")",
            ));
        };
        let written = Path::new(f.get_ref());
        if f.get_ref().trim().is_empty() {
            return Err(src.error(Some(f.span()), "file", "empty path"));
        }
        let joined = match Path::new(src.file).parent() {
            Some(dir) if written.is_relative() => dir.join(written),
            _ => written.to_path_buf(),
        };
        let file = std::fs::canonicalize(&joined).map_err(|e| {
            src.error(
                Some(f.span()),
                "file",
                format!("cannot open {}: {e}", joined.display()),
            )
        })?;
        if !file.is_file() {
            return Err(src.error(
                Some(f.span()),
                "file",
                format!("{} is not a file", file.display()),
            ));
        }
        let format = self.format(src, &file)?;
        let timeless = match &format {
            Format::Txt => Some("txt traces have no times"),
            Format::Csv(c) if c.time.is_none() => Some("csv_columns give no time column"),
            _ => None,
        };
        if let Some(why) = timeless {
            return Err(src.error(
                span_of(&self.format).or(span_of(&self.csv_columns)).or(Some(f.span())),
                "format",
                format!("{why}: every record would be at time 0, and a replay keeps the trace's own timing (use oracleGeneral, vscsi, or csv with a time column)"),
            ));
        }
        let speed = match &self.speed {
            None => defaults::SPEED,
            Some(s) => {
                let v = *s.get_ref();
                if !(v.is_finite() && v > 0.0 && v <= defaults::MAX_SPEED) {
                    return Err(src.error(
                        Some(s.span()),
                        "speed",
                        format!(
                            "{v} is out of range (trace seconds per second: more than 0, at most {:e})",
                            defaults::MAX_SPEED
                        ),
                    ));
                }
                v
            }
        };
        let skip = duration(src, &self.skip, "skip", Duration::ZERO)?;
        let limit = match &self.limit {
            None => None,
            Some(l) if *l.get_ref() >= 1 => Some(*l.get_ref() as u64),
            Some(l) => {
                return Err(src.error(
                    Some(l.span()),
                    "limit",
                    format!("{} is out of range (at least 1 request)", l.get_ref()),
                ))
            }
        };
        Ok(TraceSpec {
            file,
            format,
            speed,
            skip,
            limit,
        })
    }

    fn format(&self, src: &Source<'_>, file: &Path) -> Result<Format, ConfigError> {
        let csv = match &self.csv_columns {
            None => None,
            Some(c) => Some(
                c.get_ref()
                    .parse::<CsvColumns>()
                    .map_err(|m| src.error(Some(c.span()), "csv_columns", m))?,
            ),
        };
        match (&self.format, csv) {
            (Some(f), csv) => Format::parse(f.get_ref(), csv).map_err(|m| {
                // Columns given for another format: the columns are the key at fault.
                match span_of(&self.csv_columns).filter(|_| m.starts_with("csv columns")) {
                    Some(span) => src.error(Some(span), "csv_columns", m),
                    None => src.error(Some(f.span()), "format", m),
                }
            }),
            (None, Some(cols)) => Ok(Format::Csv(cols)),
            (None, None) => detect_format(file).ok_or_else(|| {
                src.error(
                    span_of(&self.file),
                    "format",
                    format!(
                        "cannot tell the format of {} from its name: give format = \"oracleGeneral\" | \"txt\" | \"vscsi\" | \"csv\" (csv with csv_columns)",
                        file.display()
                    ),
                )
            }),
        }
    }
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

impl TraceSpec {
    /// The inline table `{ file = …, … }` with every default written out, which
    /// [`RawTrace::validate`] reads back into an equal spec.
    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "{{ file = {}, format = {}",
            toml_str(&self.file.to_string_lossy()),
            toml_str(self.format.name())
        );
        if let Format::Csv(cols) = &self.format {
            out.push_str(&format!(", csv_columns = {}", toml_str(&cols.to_string())));
        }
        out.push_str(&format!(
            ", speed = {}, skip = {}",
            toml::Value::Float(self.speed),
            toml_str(&format_duration(self.skip))
        ));
        if let Some(l) = self.limit {
            out.push_str(&format!(", limit = {l}"));
        }
        out.push_str(" }");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Mode, Popularity, RawWorkload, WorkloadSpec};

    const DIR: &str = env!("CARGO_MANIFEST_DIR");

    fn trace_file(name: &str) -> String {
        format!("{DIR}/../../shared/traces/{name}")
    }

    /// Parses `[workload]` text as if it were in the file `file`.
    fn parse_in(file: &str, text: &str) -> Result<WorkloadSpec, ConfigError> {
        #[derive(Deserialize)]
        struct Doc {
            workload: Spanned<RawWorkload>,
        }
        let src = Source::new(file, text);
        let doc: Doc = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        doc.workload.get_ref().validate(
            &src.with_key_prefix("workload"),
            Some(doc.workload.span()),
            &["/s/"],
        )
    }

    fn parse(text: &str) -> Result<WorkloadSpec, ConfigError> {
        parse_in("w.toml", text)
    }

    #[track_caller]
    fn refused(text: &str, want: &str) {
        let e = parse(text)
            .map(|w| format!("accepted: {w:?}"))
            .unwrap_or_else(|e| e.to_string());
        assert!(
            e.starts_with(want),
            "\n got: {e}\nwant: {want}…\n---\n{text}"
        );
    }

    fn bin() -> String {
        trace_file("cloudPhysicsIO.oracleGeneral.bin")
    }

    #[test]
    fn defaults_and_round_trips() {
        let w = parse(&format!("[workload]\ntrace = {{ file = {:?} }}\n", bin())).unwrap();
        let t = w.trace.clone().unwrap();
        assert_eq!(t.file, std::fs::canonicalize(bin()).unwrap());
        assert_eq!(
            (t.format, t.speed, t.skip, t.limit),
            (Format::OracleGeneral, 1.0, Duration::ZERO, None)
        );
        assert_eq!(w.mode, Mode::Open);
        assert_eq!(w.mix.len(), 1);
        assert_eq!(
            (
                w.mix[0].class.as_str(),
                w.mix[0].share,
                &w.mix[0].popularity
            ),
            (TRACE_CLASS, 1.0, &Popularity::Trace)
        );
        let texts = [
            format!("[workload]\ntrace = {{ file = {:?} }}\n", bin()),
            format!("[workload]\nmode = \"open\"\nsame_sequence = true\n[workload.trace]\nfile = {:?}\nformat = \"oracle\"\nspeed = 10\nskip = \"1m 30s\"\nlimit = 5\n", bin()),
            format!("[workload]\ntrace = {{ file = {:?}, csv_columns = \"time=2,id=5,size=4,header=true,delimiter=,\" }}\n", trace_file("cloudPhysicsIO.csv")),
            format!("[workload]\ntrace = {{ file = {:?}, speed = 0.25 }}\n", trace_file("cloudPhysicsIO.vscsi")),
        ];
        for text in texts {
            let w = parse(&text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
            let written = w.to_toml("workload");
            let back = parse(&written).unwrap_or_else(|e| panic!("{e}\n---\n{written}"));
            assert_eq!(back, w, "\n---\n{written}");
            assert_eq!(back.to_toml("workload"), written);
        }
    }

    #[test]
    fn a_relative_file_is_found_from_the_scenarios_folder() {
        let text = "[workload]\ntrace = { file = \"../../shared/traces/cloudPhysicsIO.vscsi\" }\n";
        let w = parse_in(&format!("{DIR}/w.toml"), text).unwrap();
        let t = w.trace.unwrap();
        assert_eq!(
            t.file,
            std::fs::canonicalize(trace_file("cloudPhysicsIO.vscsi")).unwrap()
        );
        assert_eq!(t.format, Format::Vscsi);
    }

    #[test]
    fn refusals() {
        let file = format!("file = {:?}", bin());
        let t = |rest: &str| format!("[workload]\ntrace = {{ {file}{rest} }}\n");
        refused(
            &format!(
                "{}mix = [{{ class = \"/s/\", popularity = \"uniform\" }}]\n",
                t("")
            ),
            "w.toml:3: workload.mix: not with trace (the trace names the objects)",
        );
        refused(
            &format!("{}rate = 5\n", t("")),
            "w.toml:3: workload.rate: not with trace",
        );
        refused(
            &format!("{}arrival = \"constant\"\n", t("")),
            "w.toml:3: workload.arrival: not with trace",
        );
        refused(
            &format!("{}[[workload.phase]]\nat = \"1s\"\nrate = 3\n", t("")),
            "w.toml:3: workload.phase: not with trace",
        );
        refused(
            &format!("{}mode = \"closed\"\nviewers = 3\n", t("")),
            "w.toml:3: workload.mode: a trace is replayed open loop",
        );
        refused(
            &format!("{}viewers = 3\n", t("")),
            "w.toml:3: workload.viewers: only with mode = \"closed\"",
        );
        refused(
            "[workload]\ntrace = { speed = 2.0 }\n",
            "w.toml:2: workload.trace.file: required key is missing",
        );
        refused(
            "[workload]\ntrace = { file = \"no/such/trace.bin\" }\n",
            "w.toml:2: workload.trace.file: cannot open no/such/trace.bin: No such file",
        );
        refused(
            &format!("[workload]\ntrace = {{ file = {DIR:?} }}\n"),
            &format!("w.toml:2: workload.trace.file: {DIR} is not a file"),
        );
        refused(
            &t(", speed = 0"),
            "w.toml:2: workload.trace.speed: 0 is out of range",
        );
        refused(
            &t(", speed = -1.5"),
            "w.toml:2: workload.trace.speed: -1.5 is out of range",
        );
        refused(
            &t(", speed = nan"),
            "w.toml:2: workload.trace.speed: NaN is out of range",
        );
        refused(
            &t(", skip = \"soon\""),
            "w.toml:2: workload.trace.skip: bad duration \"soon\"",
        );
        refused(
            &t(", skip = \"-1s\""),
            "w.toml:2: workload.trace.skip: bad duration",
        );
        refused(
            &t(", limit = 0"),
            "w.toml:2: workload.trace.limit: 0 is out of range",
        );
        refused(
            &t(", format = \"parquet\""),
            "w.toml:2: workload.trace.format: unknown trace format `parquet`",
        );
        refused(
            &t(", format = \"csv\""),
            "w.toml:2: workload.trace.format: the csv format needs its columns",
        );
        refused(
            &format!("[workload]\ntrace = {{ file = {:?} }}\n", trace_file("cloudPhysicsIO.txt")),
            "w.toml:2: workload.trace.format: txt traces have no times: every record would be at time 0",
        );
        refused(
            &t(", csv_columns = \"id=5,size=4\""),
            "w.toml:2: workload.trace.format: csv_columns give no time column",
        );
        refused(
            &t(", format = \"txt\", csv_columns = \"id=1\""),
            "w.toml:2: workload.trace.csv_columns: csv columns were given but the format is txt",
        );
        refused(
            &t(", csv_columns = \"id=0\""),
            "w.toml:2: workload.trace.csv_columns: bad value `0`",
        );
        refused(
            &t(", rate = 3"),
            "w.toml:2: workload.trace.rate: unknown key",
        );
        refused(
            &format!(
                "[workload]\ntrace = {{ file = {:?} }}\n",
                format!("{DIR}/Cargo.toml")
            ),
            "w.toml:2: workload.trace.format: cannot tell the format of",
        );
    }
}
