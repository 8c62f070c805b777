//! `datdot-node`: the datdot chain node.

// sc-cli's and sc-service's error types are large, and their APIs make us return them.
#![allow(clippy::result_large_err)]

mod chain_spec;
mod cli;
mod command;
mod hypercore;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
