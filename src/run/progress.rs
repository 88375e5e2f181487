//! Live progress on a terminal: elapsed time, rate achieved in the last second, hit ratio,
//! p99 of the last second and errors, redrawn a few times a second (nothing when standard
//! error is not a terminal or with `--quiet`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loadgen::Live;
use std::io::IsTerminal;
use std::time::Duration;

pub struct Progress {
    bar: Option<ProgressBar>,
    warmup: Duration,
}

impl Progress {
    pub fn new(total: Duration, warmup: Duration, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: None, warmup };
        }
        let bar = ProgressBar::with_draw_target(
            Some(total.as_millis() as u64),
            ProgressDrawTarget::stderr_with_hz(4),
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix:>9} [{bar:30}] {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        Progress {
            bar: Some(bar),
            warmup,
        }
    }

    pub fn update(&self, live: &Live) {
        let Some(bar) = &self.bar else { return };
        let hit = if live.answered > 0 {
            100.0 * live.hits as f64 / live.answered as f64
        } else {
            0.0
        };
        bar.set_prefix(if live.elapsed < self.warmup {
            "warm-up"
        } else {
            "measuring"
        });
        bar.set_position(live.elapsed.as_millis() as u64);
        bar.set_message(format!(
            "{:>5.1}s  {:>7} req/s  hit {:>5.1}%  p99 {:>8.2} ms  errors {}",
            live.elapsed.as_secs_f64(),
            live.last_second,
            hit,
            live.p99_ms,
            live.errors
        ));
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
