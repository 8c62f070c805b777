//! The node's private sealing key (design §7): generated on first start, kept under the
//! base path, never sent anywhere. The provider registers its public half (shown by
//! `datdot_nodeStatus` as `sealingKey`).

use datdot_primitives::sealing::Sealer;
use std::{fs, io, os::unix::fs::PermissionsExt, path::Path};

const DIR: &str = "sealing-key";
const FILE: &str = "key.pem";

/// Why the sealing key cannot be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SealingKeyError {
	/// The key file cannot be read or written.
	#[error("sealing key at {path}: {error}")]
	Io { path: String, error: io::Error },
	/// The key file holds no usable sealing key.
	#[error(
		"sealing key at {path} is unusable ({error}); move it away to generate a new one \
		 (then register the new key: replicas you encoded stay readable with the old one)"
	)]
	Unusable { path: String, error: datdot_primitives::sealing::SealerError },
}

/// The sealing key under `parent` (`parent/sealing-key/key.pem`), created (durably, readable
/// by its owner only) if there is none.
pub fn load_or_create(parent: &Path) -> Result<Sealer, SealingKeyError> {
	let dir = parent.join(DIR);
	let path = dir.join(FILE);
	let shown = path.display().to_string();
	let io_error = |error| SealingKeyError::Io { path: shown.clone(), error };
	match fs::read(&path) {
		Ok(pem) => Sealer::from_pem(&pem)
			.map_err(|error| SealingKeyError::Unusable { path: shown.clone(), error }),
		Err(e) if e.kind() == io::ErrorKind::NotFound => {
			let sealer = Sealer::generate()
				.map_err(|error| SealingKeyError::Unusable { path: shown.clone(), error })?;
			let pem = sealer
				.to_pem()
				.map_err(|error| SealingKeyError::Unusable { path: shown.clone(), error })?;
			fs::create_dir_all(parent).map_err(io_error)?;
			crate::durable::write_dir(parent, DIR, &[(FILE, &[&pem])]).map_err(io_error)?;
			fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io_error)?;
			fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(io_error)?;
			log::info!(target: "datdot", "generated a new sealing key at {shown}");
			Ok(sealer)
		}
		Err(e) => Err(io_error(e)),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_key_is_created_once_kept_private_and_read_back() {
		let dir = tempfile::tempdir().unwrap();
		let first = load_or_create(dir.path()).unwrap();
		let mode = fs::metadata(dir.path().join(DIR).join(FILE)).unwrap().permissions().mode();
		assert_eq!(mode & 0o077, 0, "readable by its owner only");
		assert_eq!(load_or_create(dir.path()).unwrap().key(), first.key());
		fs::write(dir.path().join(DIR).join(FILE), b"not a key").unwrap();
		assert!(matches!(load_or_create(dir.path()), Err(SealingKeyError::Unusable { .. })));
	}
}
