//! The pallets `datdot-node benchmark pallet` can measure (node and runtime built with
//! `--features runtime-benchmarks`; see docs/benchmarks.md).

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_sudo, Sudo]
	[pallet_datdot, Datdot]
);
