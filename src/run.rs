//! `cdnlab run [SCENARIO]`: validates a scenario, starts its world, edges and viewers, and
//! writes the run folder.

use crate::cli::RunArgs;
use crate::scenario;
use crate::BadInput;
use anyhow::Result;

pub fn run(args: RunArgs) -> Result<()> {
    // The whole scenario is validated before anything starts.
    let mut scenario = match &args.scenario {
        Some(p) => scenario::load(p),
        None => scenario::parse(scenario::QUICKSTART, "quickstart"),
    }
    .map_err(|e| BadInput(e.to_string()))?;
    let o = scenario::parse_overrides(args.seed, args.duration.as_deref(), args.rate)
        .map_err(BadInput)?;
    scenario.apply_overrides(o.seed, o.duration, o.rate);
    if args.dry_run {
        print!("{}", scenario.to_toml());
        return Ok(());
    }
    Err(BadInput("cdnlab run: not built yet".into()).into())
}
