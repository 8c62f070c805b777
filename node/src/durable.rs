//! Directories written so that they survive `kill -9` and power loss whole or not at all:
//! every file is written into a `.tmp-<name>` directory and fsynced, the directory is
//! renamed into place and its parent fsynced. Used by the replica store and the feed store.

use std::{
	fs::{self, File},
	io::{self, Write},
	path::Path,
};

/// Writes directory `parent/name` with `files` (name, parts to concatenate), replacing any
/// directory of that name. On return it is durable; before, nothing of it is visible.
pub fn write_dir(parent: &Path, name: &str, files: &[(&str, &[&[u8]])]) -> io::Result<()> {
	let tmp = parent.join(format!(".tmp-{name}"));
	if tmp.exists() {
		fs::remove_dir_all(&tmp)?;
	}
	fs::create_dir(&tmp)?;
	for (file_name, parts) in files {
		let mut file = File::create(tmp.join(file_name))?;
		for part in *parts {
			file.write_all(part)?;
		}
		file.sync_all()?;
	}
	sync_dir(&tmp)?;
	let dir = parent.join(name);
	if dir.exists() {
		fs::remove_dir_all(&dir)?;
	}
	fs::rename(&tmp, &dir)?;
	sync_dir(parent)
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
fn sync_dir(dir: &Path) -> io::Result<()> {
	File::open(dir).and_then(|d| d.sync_all())
}
