//! `datdot-node`: the datdot chain node.

mod chain_spec;
mod cli;
mod command;
mod hypercore;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
