//! `cdnlab`: the one binary users run. Subcommands live in their own modules.

mod cli;
mod compare;
mod edge;
mod link;
mod origin;
mod run;
mod scenario;
mod signals;
mod simulate;

use clap::Parser;
use std::process::ExitCode;

/// An error caused by what the user gave (flags, files, traces): exit code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// A run that worked but whose scenario assertions did not all hold: exit code 3.
#[derive(Debug)]
pub struct AssertionsFailed(pub String);

impl std::fmt::Display for AssertionsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AssertionsFailed {}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Simulate(a) => simulate::run(*a),
        cli::Command::Edge(a) => edge::run(a),
        cli::Command::Link(a) => link::run(a),
        cli::Command::Origin(a) => origin::run(a),
        cli::Command::Run(a) => run::run(a),
        cli::Command::Compare(a) => compare::run(a),
        cli::Command::Policies => {
            for p in cache::REGISTRY {
                let params = if p.params.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", p.params.join(","))
                };
                println!("{:<10} {}{}", p.name, p.about, params);
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, no backtrace: the chain of causes joined.
            let msg = e
                .chain()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("cdnlab: error: {msg}");
            if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else if e.downcast_ref::<AssertionsFailed>().is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
