//! Dispatch of `datdot-node`'s command line to the service and sub-commands.

use crate::{
	chain_spec,
	cli::{Cli, Subcommand},
	service,
};
use datdot_runtime::opaque::Block;
use sc_cli::SubstrateCli;
use sc_service::PartialComponents;

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"datdot node".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		env!("CARGO_PKG_DESCRIPTION").into()
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		"the datdot repository's issue tracker".into()
	}

	fn copyright_start_year() -> i32 {
		2026
	}

	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		Ok(match id {
			"dev" => Box::new(chain_spec::development_chain_spec()?),
			"" | "local" => Box::new(chain_spec::local_chain_spec()?),
			path => {
				Box::new(chain_spec::ChainSpec::from_json_file(std::path::PathBuf::from(path))?)
			}
		})
	}
}

/// The node's state (trie) cache when `--trie-cache-size` is not given: 64 MiB. sc-cli's
/// default, 1 GiB, lets the cache grow with every block's state until then (it keeps nodes
/// of past states too): about 0.25 MB a minute on every node in the 1 GiB setup bench, with
/// jumps of 8–16 MB. datdot's state per block is small. Set as clap's default, so that
/// `--help` shows it; the subcommands that import blocks keep sc-cli's default.
const DEFAULT_TRIE_CACHE_BYTES: &str = "67108864";

/// The command line as sc-cli's `from_args` sets it up, with datdot's defaults (shown by
/// `--help`; a value given is kept). Off-chain workers run on every node: sc-cli's default
/// runs them on validators only, but datdot's providers are usually not validators.
fn cli_command() -> clap::Command {
	use clap::CommandFactory;
	Cli::setup_command(Cli::command())
		.mut_arg("trie_cache_size", |arg| arg.default_value(DEFAULT_TRIE_CACHE_BYTES))
		.mut_arg("enabled", |arg| arg.default_value("always"))
}

/// Parses the command line; prints what is wrong (or the help) and exits if it does not parse.
fn parse_cli() -> Cli {
	use clap::FromArgMatches;
	let matches =
		cli_command().try_get_matches_from(std::env::args_os()).unwrap_or_else(|e| e.exit());
	Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Parses the command line and runs what it asks for.
pub fn run() -> sc_cli::Result<()> {
	let cli = parse_cli();

	match &cli.subcommand {
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		#[allow(deprecated)]
		Some(Subcommand::BuildSpec(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
		}
		Some(Subcommand::ExportChainSpec(cmd)) => {
			let chain_spec = cli.load_spec(&cmd.chain)?;
			cmd.run(chain_spec)
		}
		Some(Subcommand::CheckBlock(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		}
		Some(Subcommand::ExportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.database), task_manager))
			})
		}
		Some(Subcommand::ExportState(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.chain_spec), task_manager))
			})
		}
		Some(Subcommand::ImportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		}
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.database))
		}
		Some(Subcommand::Revert(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, backend, .. } =
					service::new_partial(&config)?;
				let aux_revert = Box::new(|client, _, blocks| {
					sc_consensus_grandpa::revert(client, blocks)?;
					Ok(())
				});
				Ok((cmd.run(client, backend, Some(aux_revert)), task_manager))
			})
		}
		#[cfg(feature = "runtime-benchmarks")]
		Some(Subcommand::Benchmark(cmd)) => {
			use frame_benchmarking_cli::BenchmarkCmd;
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| match cmd {
				BenchmarkCmd::Pallet(cmd) => cmd
					.run_with_spec::<sp_runtime::traits::HashingFor<Block>, service::ExtraHostFunctions>(
						Some(config.chain_spec),
					),
				BenchmarkCmd::Machine(cmd) => {
					cmd.run(&config, frame_benchmarking_cli::SUBSTRATE_REFERENCE_HARDWARE.clone())
				}
				_ => Err("datdot-node supports `benchmark pallet` and `benchmark machine`; the \
				          other benchmarks are not wired up"
					.into()),
			})
		}
		Some(Subcommand::Hypercore(cmd)) => crate::hypercore::run(cmd),
		Some(Subcommand::Feed(crate::cli::FeedCmd::Create(cmd))) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| crate::hypercore::create(cmd, &service::feeds_dir(&config)))
		}
		Some(Subcommand::Feed(crate::cli::FeedCmd::Import(cmd))) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| crate::hypercore::import(cmd, &service::feeds_dir(&config)))
		}
		Some(Subcommand::ChainInfo(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run::<Block>(&config))
		}
		None => {
			// sc-cli's runner would stop the node the moment a signal arrives; datdot first
			// pauses the node's providers on chain (see `service::clean_shutdown`), so the
			// node is run here with the runner's own parts.
			use sc_cli::CliConfiguration;
			let tokio_runtime = sc_cli::build_runtime()?;
			let signals = tokio_runtime.block_on(async { sc_cli::Signals::capture() })?;
			let config = cli.run.create_configuration(&cli, tokio_runtime.handle().clone())?;
			cli.run.init(&Cli::support_url(), &Cli::impl_version(), |_| {})?;
			sc_cli::print_node_infos::<Cli>(&config);
			let provider = cli.provider.clone();
			let (mut task_manager, clean_shutdown) = tokio_runtime.block_on(async {
				match config.network.network_backend {
					sc_network::config::NetworkBackendType::Libp2p => service::new_full::<
						sc_network::NetworkWorker<
							Block,
							<Block as sp_runtime::traits::Block>::Hash,
						>,
					>(config, &provider),
					sc_network::config::NetworkBackendType::Litep2p => {
						service::new_full::<sc_network::Litep2pNetworkBackend>(config, &provider)
					}
				}
			})?;
			let mut stop_now = false;
			let result = tokio_runtime.block_on(async {
				use futures::FutureExt;
				futures::select! {
					_ = signals.future().fuse() => {
						// Listening again only now, so that only a second signal counts: the
						// operator does not want to wait for the pauses.
						let again = sc_cli::Signals::capture()?;
						futures::select! {
							_ = clean_shutdown.fuse() => {}
							_ = again.future().fuse() => {
								log::warn!(
									target: "datdot",
									"second signal: stopping now; a provider of this node that is \
									 still active on chain will be challenged and faulted while away"
								);
								stop_now = true;
							}
						}
						Ok(())
					}
					res = task_manager.future().fuse() => res,
				}
			});
			// Dropping the task manager tells every task to stop; then the runtime gets what
			// is left of the bound on a clean stop (pauses included, at most 90 s in all).
			drop(task_manager);
			tokio_runtime.shutdown_timeout(if stop_now {
				std::time::Duration::from_secs(1)
			} else {
				service::CLEAN_STOP_BOUND.saturating_sub(service::CLEAN_SHUTDOWN_TIMEOUT)
			});
			result.map_err(sc_cli::Error::Service)
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use clap::FromArgMatches;

	fn parse(args: &[&str]) -> Cli {
		let matches = cli_command().try_get_matches_from(args).expect("parses");
		Cli::from_arg_matches(&matches).expect("a Cli")
	}

	fn trie_cache_size(args: &[&str]) -> usize {
		parse(args).run.import_params.trie_cache_size
	}

	#[test]
	fn off_chain_workers_run_on_every_node_unless_the_operator_says_otherwise() {
		use sc_cli::OffchainWorkerEnabled::{Always, Never};
		let enabled = |args: &[&str]| parse(args).run.offchain_worker_params.enabled;
		assert!(matches!(enabled(&["datdot-node"]), Always));
		assert!(matches!(enabled(&["datdot-node", "--offchain-worker", "never"]), Never));
		assert!(matches!(enabled(&["datdot-node", "--offchain-worker=never"]), Never));
	}

	#[test]
	fn the_state_cache_is_64_mib_unless_the_operator_says_otherwise() {
		assert_eq!(trie_cache_size(&["datdot-node", "--dev"]), 64 * 1024 * 1024);
		assert_eq!(trie_cache_size(&["datdot-node", "--dev", "--trie-cache-size", "0"]), 0);
		assert_eq!(trie_cache_size(&["datdot-node", "--trie-cache-size=1000"]), 1000);
		let help = cli_command().render_long_help().to_string();
		assert!(help.contains("[default: 67108864]"), "--help shows datdot's default");
	}
}
