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
	bound_malloc_growth();
	command::run()
}

/// Keeps glibc's malloc from holding freed transfer buffers: chunks of up to 1 MiB come and
/// go on many threads, and by default glibc raises its mmap threshold to the largest
/// mmapped chunk freed, up to 32 MiB (so later chunks come from the heap, whose freed
/// memory stays in the process), and keeps up to 8 arenas per core. A fixed 128 KiB
/// threshold hands such blocks back to the kernel when freed; 4 arenas bound the rest.
/// Measured in a 100 MiB setup (docs/benchmarks.md): every node's peak RSS 135–145 MiB
/// instead of 184–211, setup time the same within noise. A parameter the operator set
/// (its `GLIBC_TUNABLES` entry or glibc's `MALLOC_*` variable) is left as set. Must run
/// before any thread starts.
fn bound_malloc_growth() {
	#[cfg(all(target_os = "linux", target_env = "gnu"))]
	{
		let tunables = std::env::var_os("GLIBC_TUNABLES").unwrap_or_default();
		let tunables = tunables.to_string_lossy();
		let operator_set = |tunable: &str, variable: &str| {
			tunables.contains(tunable) || std::env::var_os(variable).is_some()
		};
		// SAFETY: mallopt only sets allocator parameters; no other thread exists yet.
		unsafe {
			if !operator_set("glibc.malloc.mmap_threshold", "MALLOC_MMAP_THRESHOLD_") {
				libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
			}
			if !operator_set("glibc.malloc.arena_max", "MALLOC_ARENA_MAX") {
				libc::mallopt(libc::M_ARENA_MAX, 4);
			}
		}
	}
}
