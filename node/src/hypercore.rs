//! `datdot-node hypercore …`: hypercore tools for publishers and operators.

use crate::cli::HypercoreCmd;
use std::io::Read;

/// Runs a `hypercore` sub-command. A proof that does not verify is a user-facing result,
/// not a node error: it prints the reason and exits with status 1.
pub fn run(cmd: &HypercoreCmd) -> sc_cli::Result<()> {
	match cmd {
		HypercoreCmd::Verify { file } => {
			let text = read_input(file)?;
			match datdot_primitives::json::verify_proof_json(&text) {
				Ok(summary) => {
					println!("{summary}");
					Ok(())
				}
				Err(e) => {
					eprintln!("invalid: {e}");
					std::process::exit(1);
				}
			}
		}
	}
}

fn read_input(file: &std::path::Path) -> sc_cli::Result<String> {
	let mut text = String::new();
	let read = if file.as_os_str() == "-" {
		std::io::stdin().read_to_string(&mut text).map(|_| ())
	} else {
		std::fs::read_to_string(file).map(|t| text = t)
	};
	read.map_err(|e| format!("cannot read {}: {e}", file.display()).into()).map(|_| text)
}
