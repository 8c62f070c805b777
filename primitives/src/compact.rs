//! The unsigned integers of npm `compact-encoding`, which hypercore's manifest and
//! signature container are written in: < 0xfd in one byte, then 0xfd + u16le,
//! 0xfe + u32le, 0xff + u64le.

use alloc::vec::Vec;

use crate::error::{Error, Result};

/// Append `n` in compact encoding.
pub fn encode_uint(out: &mut Vec<u8>, n: u64) {
	if n < 0xfd {
		out.push(n as u8);
	} else if n <= 0xffff {
		out.push(0xfd);
		out.extend_from_slice(&(n as u16).to_le_bytes());
	} else if n <= 0xffff_ffff {
		out.push(0xfe);
		out.extend_from_slice(&(n as u32).to_le_bytes());
	} else {
		out.push(0xff);
		out.extend_from_slice(&n.to_le_bytes());
	}
}

/// A cursor over untrusted bytes; every read is bounds-checked and reports `err`.
pub struct Reader<'a> {
	bytes: &'a [u8],
	err: Error,
}

impl<'a> Reader<'a> {
	/// Read `bytes`, reporting `err` on truncation.
	pub fn new(bytes: &'a [u8], err: Error) -> Self {
		Reader { bytes, err }
	}

	/// The next `n` bytes.
	pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
		if self.bytes.len() < n {
			return Err(self.err);
		}
		let (head, tail) = self.bytes.split_at(n);
		self.bytes = tail;
		Ok(head)
	}

	/// The next `N` bytes as an array.
	pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
		let mut out = [0u8; N];
		out.copy_from_slice(self.take(N)?);
		Ok(out)
	}

	/// The next compact-encoded unsigned integer.
	pub fn uint(&mut self) -> Result<u64> {
		let first = self.take(1)?[0];
		Ok(match first {
			0xfd => u16::from_le_bytes(self.array()?) as u64,
			0xfe => u32::from_le_bytes(self.array()?) as u64,
			0xff => u64::from_le_bytes(self.array()?),
			n => n as u64,
		})
	}

	/// Fail with the reader's error unless every byte was read.
	pub fn finish(&self) -> Result<()> {
		if self.bytes.is_empty() {
			Ok(())
		} else {
			Err(self.err)
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn round_trips_each_width() {
		for n in [0u64, 1, 0xfc, 0xfd, 0xffff, 0x10000, 0xffff_ffff, 0x1_0000_0000, u64::MAX] {
			let mut v = Vec::new();
			encode_uint(&mut v, n);
			let mut r = Reader::new(&v, Error::MalformedManifest);
			assert_eq!(r.uint().unwrap(), n);
			r.finish().unwrap();
		}
	}

	#[test]
	fn truncated_input_is_an_error() {
		let mut r = Reader::new(&[0xfe, 1, 2], Error::MalformedManifest);
		assert_eq!(r.uint(), Err(Error::MalformedManifest));
	}
}
