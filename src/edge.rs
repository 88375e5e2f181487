//! `cdnlab edge --config FILE`: the caching proxy alone, until Ctrl-C or SIGTERM.

use crate::cli::EdgeArgs;
use crate::BadInput;
use anyhow::{Context, Result};

pub fn run(args: EdgeArgs) -> Result<()> {
    // Validate the whole config before anything starts.
    let cfg = edge::Config::from_file(&args.config).map_err(|e| BadInput(e.to_string()))?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        // Handlers first: whoever reads the address below may signal at once.
        let signal = crate::signals::shutdown_signal()?;
        let running = edge::start(cfg).await?;
        eprintln!(
            "cdnlab edge {}: viewers on http://{}, admin on http://{}",
            running.edge.cfg.name, running.listen, running.admin
        );
        signal.await;
        eprintln!("cdnlab edge: shutting down");
        running.shutdown();
        running.stopped().await;
        Ok(())
    })
}
