//! `cdnlab run [SCENARIO]`: validates a scenario, starts its world, edges and viewers, and
//! writes the run folder.

use crate::cli::RunArgs;
use crate::BadInput;
use anyhow::Result;

pub fn run(args: RunArgs) -> Result<()> {
    let _ = args;
    Err(BadInput("cdnlab run: not built yet".into()).into())
}
