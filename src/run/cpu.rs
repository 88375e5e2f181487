//! CPU time from `/proc`: of another process (an edge), and of this process's threads by
//! name (the viewers' runtime apart from the world's), so a run reports what each part cost.

use std::sync::OnceLock;

/// Clock ticks per second of `/proc`'s times (`sysconf(_SC_CLK_TCK)`; 100 if unknown).
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        // SAFETY: sysconf reads a configuration value; no memory is touched.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if t > 0 {
            t as f64
        } else {
            100.0
        }
    })
}

/// utime + stime of a `/proc/.../stat` text, in seconds. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted after its closing parenthesis.
fn stat_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    // After the name: state(3) ppid … utime is field 14, stime 15 → indexes 11, 12 here.
    let utime: f64 = f.nth(11)?.parse().ok()?;
    let stime: f64 = f.next()?.parse().ok()?;
    Some((utime + stime) / ticks_per_second())
}

/// CPU seconds used by process `pid` (all its threads).
pub fn process_seconds(pid: u32) -> Option<f64> {
    stat_seconds(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU seconds used by this process's threads whose name starts with `prefix`.
pub fn threads_seconds(prefix: &str) -> Option<f64> {
    let mut total = 0.0;
    for t in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = t.ok()?.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if name.trim_end().starts_with(prefix) {
            if let Some(s) = std::fs::read_to_string(dir.join("stat"))
                .ok()
                .and_then(|s| stat_seconds(&s))
            {
                total += s;
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_names() {
        let s = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(stat_seconds(s), Some(300.0 / ticks_per_second()));
        assert!(process_seconds(std::process::id()).is_some());
    }
}
