//! `cdnlab origin --config FILE`: a simulated origin alone, until Ctrl-C or SIGTERM.

use crate::cli::OriginArgs;
use crate::BadInput;
use anyhow::{Context, Result};

pub fn run(args: OriginArgs) -> Result<()> {
    // Validate the whole config before anything starts.
    let cfg =
        sim::origin::OriginConfig::from_file(&args.config).map_err(|e| BadInput(e.to_string()))?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let listen = cfg.listen;
        let running = sim::origin::start(cfg)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        // Handlers first: whoever reads the address below may signal at once.
        let signal = crate::signals::shutdown_signal()?;
        eprintln!("cdnlab origin: serving on http://{}", running.local_addr());
        signal.await;
        eprintln!("cdnlab origin: shutting down");
        running.shutdown();
        running.stopped().await;
        Ok(())
    })
}
