//! Directories written so that they survive `kill -9` and power loss whole or not at all:
//! every file is written into a `.tmp-<name>` directory and fsynced, the directory is
//! renamed into place (or swapped with the one it replaces, in one step) and its parent
//! fsynced. Used by the replica store and the feed store.

use std::{
	fs::{self, File},
	io::{self, Write},
	path::Path,
};

/// Writes directory `parent/name` with `files` (name, parts to concatenate), replacing any
/// directory of that name. On return it is durable; before, nothing of it is visible.
pub fn write_dir(parent: &Path, name: &str, files: &[(&str, &[&[u8]])]) -> io::Result<()> {
	write_dir_with(parent, name, |tmp| {
		for (file_name, parts) in files {
			let mut file = File::create(tmp.join(file_name))?;
			for part in *parts {
				file.write_all(part)?;
			}
		}
		Ok(())
	})
}

/// As [`write_dir`], with the files `fill` writes into the (empty, temporary) directory it
/// is given, so they may be streamed rather than held in memory. If `fill` fails, nothing
/// of it stays.
pub fn write_dir_with<T>(
	parent: &Path,
	name: &str,
	fill: impl FnOnce(&Path) -> io::Result<T>,
) -> io::Result<T> {
	let tmp = parent.join(format!(".tmp-{name}"));
	if tmp.exists() {
		fs::remove_dir_all(&tmp)?;
	}
	fs::create_dir(&tmp)?;
	let filled = fill(&tmp).and_then(|out| {
		for entry in fs::read_dir(&tmp)? {
			File::open(entry?.path())?.sync_all()?;
		}
		Ok(out)
	});
	let out = match filled {
		Ok(out) => out,
		Err(e) => {
			let _ = fs::remove_dir_all(&tmp);
			return Err(e);
		}
	};
	sync_dir(&tmp)?;
	let dir = parent.join(name);
	if dir.exists() {
		// The old copy stays whole until the new one has its name: a crash leaves one of the
		// two, never neither. The old one, now under the temporary name, goes after (or at
		// the next start, with the other leftovers).
		exchange(&tmp, &dir)?;
		sync_dir(parent)?;
		fs::remove_dir_all(&tmp)?;
	} else {
		fs::rename(&tmp, &dir)?;
	}
	sync_dir(parent)?;
	Ok(out)
}

/// Swaps the names of directories `a` and `b` atomically (`renameat2` with
/// `RENAME_EXCHANGE`, Linux 3.15 and later on ext4, xfs, btrfs, tmpfs…).
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
	use std::{ffi::CString, os::unix::ffi::OsStrExt};
	let path = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
	let (a, b) = (path(a)?, path(b)?);
	// SAFETY: both are valid NUL-terminated paths that live across the call.
	let done = unsafe {
		libc::renameat2(
			libc::AT_FDCWD,
			a.as_ptr(),
			libc::AT_FDCWD,
			b.as_ptr(),
			libc::RENAME_EXCHANGE,
		)
	};
	if done == 0 {
		Ok(())
	} else {
		Err(io::Error::last_os_error())
	}
}

/// Moves directory `from` (whose files are written and fsynced) to `to` durably,
/// replacing any directory at `to` (a leftover dropped as damaged). Both parents are
/// fsynced.
pub fn move_dir(from: &Path, to: &Path) -> io::Result<()> {
	sync_dir(from)?;
	if to.exists() {
		fs::remove_dir_all(to)?;
	}
	fs::rename(from, to)?;
	for parent in [from.parent(), to.parent()].into_iter().flatten() {
		sync_dir(parent)?;
	}
	Ok(())
}

/// Writes file `path` (created or truncated) with `bytes` and fsyncs it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
	let mut file = File::create(path)?;
	file.write_all(bytes)?;
	file.sync_all()
}

/// Removes directory `parent/name` durably.
pub fn remove_dir(parent: &Path, name: &str) -> io::Result<()> {
	fs::remove_dir_all(parent.join(name))?;
	sync_dir(parent)
}

/// The entries of `dir` (created if missing) except leftovers of interrupted writes,
/// which are removed.
pub fn entries(dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
	fs::create_dir_all(dir)?;
	let mut out = Vec::new();
	for entry in fs::read_dir(dir)? {
		let path = entry?.path();
		if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(".tmp-")) {
			fs::remove_dir_all(&path)?;
		} else {
			out.push(path);
		}
	}
	out.sort();
	Ok(out)
}

/// fsyncs a directory, so the entries created or renamed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
	File::open(dir).and_then(|d| d.sync_all())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn replacing_a_directory_swaps_in_the_new_one_whole_and_leaves_nothing_behind() {
		let parent = tempfile::tempdir().unwrap();
		let parent = parent.path();
		write_dir(parent, "x", &[("a", &[b"old"]), ("b", &[b"only in the old one"])]).unwrap();
		write_dir(parent, "x", &[("a", &[b"ne", b"w"])]).unwrap();
		assert_eq!(fs::read(parent.join("x/a")).unwrap(), b"new");
		assert!(!parent.join("x/b").exists(), "replaced, not merged");
		assert_eq!(entries(parent).unwrap(), vec![parent.join("x")]);
	}
}
