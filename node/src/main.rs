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
/// go on many threads, and by default glibc raises its mmap threshold to the largest chunk
/// freed (so later chunks come from the heap, whose freed memory stays in the process) and
/// keeps up to 8 arenas per core. A fixed 128 KiB threshold hands such chunks back to the
/// kernel when freed; 4 arenas bound the rest. Measured (docs/benchmarks.md): peak RSS of
/// every node in a 100 MiB setup 136–143 MiB instead of 184–211, setup time the same.
/// Left as the operator set it when `GLIBC_TUNABLES` is given. Must run before any thread.
fn bound_malloc_growth() {
	#[cfg(all(target_os = "linux", target_env = "gnu"))]
	if std::env::var_os("GLIBC_TUNABLES").is_none() {
		// SAFETY: mallopt only sets allocator parameters; no other thread exists yet.
		unsafe {
			libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
			libc::mallopt(libc::M_ARENA_MAX, 4);
		}
	}
}
