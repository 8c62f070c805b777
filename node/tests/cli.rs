//! The `datdot-node` binary's command line, run as a user runs it.

use std::{
	path::{Path, PathBuf},
	process::{Command, Output},
};

fn node() -> Command {
	Command::new(env!("CARGO_BIN_EXE_datdot-node"))
}

fn run(cmd: &mut Command) -> Output {
	cmd.output().expect("datdot-node runs")
}

fn fixtures() -> PathBuf {
	Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("tests run under cargo"))
		.join("../primitives/fixtures/generated/cli")
}

#[test]
fn exported_dev_chain_spec_names_the_chain_and_token() {
	let out = run(node().args(["export-chain-spec", "--chain", "dev"]));
	assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
	let spec: serde_json::Value = serde_json::from_slice(&out.stdout).expect("chain spec is JSON");
	assert_eq!(spec["id"], "datdot_dev");
	assert_eq!(spec["chainType"], "Development");
	assert_eq!(spec["properties"]["tokenDecimals"], 12);
	// The runtime code is embedded, so the spec alone starts a chain.
	assert!(spec["genesis"]["runtimeGenesis"]["code"].as_str().is_some_and(|c| c.len() > 1000));
}

#[test]
fn hypercore_verify_accepts_a_reference_proof_with_a_summary() {
	let file = fixtures().join("manifest-len64-block63.json");
	let out = run(node().args(["hypercore", "verify"]).arg(&file));
	let stdout = String::from_utf8_lossy(&out.stdout);
	assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
	assert_eq!(stdout.lines().count(), 1, "one-line summary: {stdout}");
	assert!(stdout.starts_with("valid: feed "), "{stdout}");
}

#[test]
fn hypercore_verify_rejects_a_tampered_proof_with_the_reason() {
	let file = fixtures().join("compat-len64-block63.json");
	let mut json: serde_json::Value =
		serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
	// Flip one bit of the signature.
	let sig = json["proof"]["upgrade"]["signature"].as_str().expect("signature field").to_string();
	let flipped = format!("{}{}", if sig.starts_with('0') { '1' } else { '0' }, &sig[1..]);
	json["proof"]["upgrade"]["signature"] = flipped.into();
	let tampered =
		std::env::temp_dir().join(format!("datdot-cli-test-{}.json", std::process::id()));
	std::fs::write(&tampered, json.to_string()).unwrap();

	let out = run(node().args(["hypercore", "verify"]).arg(&tampered));
	let _ = std::fs::remove_file(&tampered);
	assert_eq!(out.status.code(), Some(1));
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert!(stderr.starts_with("invalid: "), "{stderr}");
	assert!(stderr.to_lowercase().contains("signature"), "names the signature: {stderr}");
}

#[test]
fn hypercore_verify_reports_a_missing_file() {
	let out = run(node().args(["hypercore", "verify", "/nonexistent/proof.json"]));
	assert!(!out.status.success());
	assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/proof.json"));
}
