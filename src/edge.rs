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
        let running = edge::start(cfg).await?;
        eprintln!(
            "cdnlab edge {}: viewers on http://{}, admin on http://{}",
            running.edge.cfg.name, running.listen, running.admin
        );
        shutdown_signal().await;
        eprintln!("cdnlab edge: shutting down");
        running.shutdown();
        running.stopped().await;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
