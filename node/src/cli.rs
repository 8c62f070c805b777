//! Command-line interface of `datdot-node`.

/// Sub-commands besides running the node.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management: generate, inspect and insert keys into the node's keystore.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Build a chain specification (deprecated upstream; prefer `export-chain-spec`).
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Export the chain specification of a built-in or given chain.
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Runtime benchmarks: `benchmark pallet` writes the pallets' `weights.rs`;
	/// `benchmark machine` checks this host. Only in a node built with
	/// `--features runtime-benchmarks`.
	#[cfg(feature = "runtime-benchmarks")]
	#[command(subcommand)]
	Benchmark(frame_benchmarking_cli::BenchmarkCmd),

	/// Database meta columns information.
	ChainInfo(sc_cli::ChainInfoCmd),

	/// Hypercore tools: check a feed's signed tree, a block proof or an upgrade proof.
	#[command(subcommand)]
	Hypercore(HypercoreCmd),

	/// Feeds this node serves to encoders: create one from files, or import one written by
	/// hypercore.
	#[command(subcommand)]
	Feed(FeedCmd),
}

/// `datdot-node feed …`
#[derive(Debug, clap::Subcommand)]
pub enum FeedCmd {
	/// Create a hypercore from files (their bytes in order, cut into blocks), store it in
	/// this node's feed store and print its `tree.json` (the arguments of `publish_feed`).
	Create(FeedCreateCmd),
	/// Import a feed exported from a JS hypercore by `scripts/export-hypercore.mjs` (a
	/// directory with `tree.json` and `blocks`); it is checked, stored and served.
	Import(FeedImportCmd),
}

/// `datdot-node feed create`
#[derive(Debug, clap::Args)]
pub struct FeedCreateCmd {
	/// The files, in order.
	#[arg(required = true)]
	pub files: Vec<std::path::PathBuf>,
	/// Bytes per block (a file's last block may be shorter).
	#[arg(long, default_value_t = 64 * 1024)]
	pub block_size: usize,
	/// The feed's 32-byte ed25519 seed, hex; a random one if not given (printed to stderr:
	/// keep it to extend the feed later).
	#[arg(long)]
	pub seed: Option<String>,
	/// Sign in hypercore's compat mode (key = public key) instead of manifest v1.
	#[arg(long)]
	pub compat: bool,
	#[allow(missing_docs)]
	#[clap(flatten)]
	pub shared_params: sc_cli::SharedParams,
}

/// `datdot-node feed import`
#[derive(Debug, clap::Args)]
pub struct FeedImportCmd {
	/// The exported feed's directory.
	pub dir: std::path::PathBuf,
	#[allow(missing_docs)]
	#[clap(flatten)]
	pub shared_params: sc_cli::SharedParams,
}

impl sc_cli::CliConfiguration for FeedCreateCmd {
	fn shared_params(&self) -> &sc_cli::SharedParams {
		&self.shared_params
	}
}

impl sc_cli::CliConfiguration for FeedImportCmd {
	fn shared_params(&self) -> &sc_cli::SharedParams {
		&self.shared_params
	}
}

/// `datdot-node hypercore …`
#[derive(Debug, clap::Subcommand)]
pub enum HypercoreCmd {
	/// Verify a signed tree, block proof or upgrade proof in datdot's JSON format
	/// (docs/hypercore-json.md). Exits 0 and prints a one-line summary when it is valid;
	/// exits 1 and prints the precise reason when it is not.
	Verify {
		/// The JSON file (`-` reads standard input).
		file: std::path::PathBuf,
	},
}

/// `datdot-node [OPTIONS]` runs the node; sub-commands do the rest.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	#[clap(flatten)]
	pub run: sc_cli::RunCmd,

	#[clap(flatten)]
	pub provider: ProviderParams,
}

/// What a provider node offers (its keys are in the keystore: key type `dtdt`).
#[derive(Debug, Clone, clap::Args)]
pub struct ProviderParams {
	/// Sealed bytes the replica store under `<base-path>/chains/<chain>/datdot/replicas`
	/// takes on, counted as the chain counts them (trees and proofs take about 7 % more
	/// disk, and streams being encoded up to a replica each). Register at most this on chain.
	#[arg(long = "store-capacity", value_name = "BYTES", default_value_t = 10 << 30)]
	pub store_capacity: u64,

	/// Where the node seeds its hosted and published feeds to hypercore readers (the
	/// replication protocol of npm hypercore 10/11, over TCP). `off` serves nothing.
	#[arg(long = "hypercore-listen", value_name = "ADDR", default_value = "0.0.0.0:30433")]
	pub hypercore_listen: String,

	/// The most setup parts of each role (encodings; receptions of a stream) the node works
	/// on at once; the rest wait, earliest deadline first. Each part holds two chunks (up to
	/// 1 MiB each, or one larger block) in memory, the one in hand and the one asked ahead; its
	/// stream is kept on disk and resumed after a restart.
	#[arg(long = "max-setup-parts", value_name = "N", default_value_t = 8,
		value_parser = clap::value_parser!(u32).range(1..))]
	pub max_setup_parts: u32,

	/// How fast the background scrub re-reads stored replicas to find damage, in MB/s.
	/// Start-up reads none of them (a full store starts in seconds); each storage proof is
	/// also checked against its replica's root before it is answered.
	#[arg(long = "scrub-rate", value_name = "MB/S", default_value_t = 16,
		value_parser = clap::value_parser!(u64).range(1..))]
	pub scrub_rate: u64,
}
