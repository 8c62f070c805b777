//! Flat-tree arithmetic, as npm `flat-tree` does it.
//!
//! A hypercore's merkle tree is laid out in one array: block `i` is node `2i`, parents
//! sit at odd indexes between their children. All functions take indexes below 2^62 (the
//! crate refuses longer feeds), so none of them can overflow.

/// Depth of a node: 0 for leaves, +1 per level up (the number of trailing one bits).
pub fn depth(index: u64) -> u32 {
	(!index).trailing_zeros()
}

/// Position of a node among the nodes of its depth.
pub fn offset(index: u64) -> u64 {
	index >> (depth(index) + 1)
}

/// The index of the node at `depth`, `offset`.
pub fn index(depth: u32, offset: u64) -> u64 {
	((2 * offset + 1) << depth) - 1
}

/// The parent of a node.
pub fn parent(index: u64) -> u64 {
	let d = depth(index);
	self::index(d + 1, offset(index) >> 1)
}

/// The other child of this node's parent.
pub fn sibling(index: u64) -> u64 {
	let d = depth(index);
	self::index(d, offset(index) ^ 1)
}

/// The leftmost leaf under a node.
pub fn left_span(index: u64) -> u64 {
	let d = depth(index);
	if d == 0 {
		return index;
	}
	offset(index) << (d + 1)
}

/// The rightmost leaf under a node.
pub fn right_span(index: u64) -> u64 {
	let d = depth(index);
	if d == 0 {
		return index;
	}
	((offset(index) + 1) << (d + 1)) - 2
}

/// The number of blocks (leaves) under a node.
pub fn leaf_count(index: u64) -> u64 {
	1 << depth(index)
}

/// The full roots of a tree of `length` blocks, left to right (at most 64 of them).
pub fn full_roots(length: u64) -> FullRoots {
	FullRoots { remaining: length, offset: 0 }
}

/// Iterator over the full roots of a tree (see [`full_roots`]); allocation free.
#[derive(Clone, Debug)]
pub struct FullRoots {
	remaining: u64,
	offset: u64,
}

impl Iterator for FullRoots {
	type Item = u64;
	fn next(&mut self) -> Option<u64> {
		if self.remaining == 0 {
			return None;
		}
		// The biggest power of two not above the remaining leaves is the next root's span.
		let factor = 1u64 << (63 - self.remaining.leading_zeros());
		let root = self.offset + factor - 1;
		self.offset += 2 * factor;
		self.remaining -= factor;
		Some(root)
	}
}

/// A cursor over the flat tree, a port of flat-tree's `iterator` (hypercore's proof code
/// is written with it, so porting it keeps the proof shapes identical). Its arithmetic
/// wraps instead of panicking: proofs can steer it, and callers validate the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iter {
	/// The current node.
	pub index: u64,
	/// Its offset among nodes of its depth.
	pub offset: u64,
	/// Twice the number of leaves under it.
	pub factor: u64,
}

impl Iter {
	/// A cursor at `index`.
	pub fn new(index: u64) -> Self {
		let mut ite = Iter { index: 0, offset: 0, factor: 2 };
		ite.seek(index);
		ite
	}

	/// Move to `index`.
	pub fn seek(&mut self, index: u64) {
		self.index = index;
		if index & 1 == 1 {
			self.offset = offset(index);
			self.factor = 2u64.checked_shl(depth(index)).unwrap_or(0);
		} else {
			self.offset = index / 2;
			self.factor = 2;
		}
	}

	/// Whether the current node is a left child.
	pub fn is_left(&self) -> bool {
		self.offset & 1 == 0
	}

	/// Whether `index` lies under (or is) the current node.
	pub fn contains(&self, index: u64) -> bool {
		if index > self.index {
			index < self.index.wrapping_add(self.factor / 2)
		} else if index < self.index {
			index.wrapping_add(self.factor / 2) > self.index
		} else {
			true
		}
	}

	/// Move to the sibling.
	pub fn sibling(&mut self) -> u64 {
		if self.is_left() {
			self.offset = self.offset.wrapping_add(1);
			self.index = self.index.wrapping_add(self.factor);
		} else if self.offset > 0 {
			self.offset -= 1;
			self.index = self.index.wrapping_sub(self.factor);
		}
		self.index
	}

	/// Move to the parent.
	pub fn parent(&mut self) -> u64 {
		if self.offset & 1 == 1 {
			self.index = self.index.wrapping_sub(self.factor / 2);
			self.offset = (self.offset - 1) / 2;
		} else {
			self.index = self.index.wrapping_add(self.factor / 2);
			self.offset /= 2;
		}
		self.factor = self.factor.wrapping_mul(2);
		self.index
	}

	/// Move to the left child (stays put on a leaf).
	pub fn left_child(&mut self) -> u64 {
		if self.factor <= 2 {
			return self.index;
		}
		self.factor /= 2;
		self.index = self.index.wrapping_sub(self.factor / 2);
		self.offset = self.offset.wrapping_mul(2);
		self.index
	}

	/// Move to the first leaf right of the current subtree.
	pub fn next_tree(&mut self) -> u64 {
		self.index = self.index.wrapping_add(self.factor / 2).wrapping_add(1);
		self.offset = self.index / 2;
		self.factor = 2;
		self.index
	}

	/// Grow the current leaf to the full root that covers it in a tree whose head is
	/// `head` (= 2 × length); false once past the head.
	pub fn full_root(&mut self, head: u64) -> bool {
		if head <= self.index || self.index & 1 == 1 {
			return false;
		}
		while head > self.index.saturating_add(self.factor).saturating_add(self.factor / 2) {
			self.index = self.index.wrapping_add(self.factor / 2);
			self.factor = self.factor.wrapping_mul(2);
			self.offset /= 2;
		}
		true
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use alloc::vec::Vec;

	#[test]
	fn arithmetic_matches_flat_tree() {
		assert_eq!(depth(0), 0);
		assert_eq!(depth(1), 1);
		assert_eq!(depth(3), 2);
		assert_eq!(depth(7), 3);
		assert_eq!(parent(0), 1);
		assert_eq!(parent(2), 1);
		assert_eq!(parent(1), 3);
		assert_eq!(parent(5), 3);
		assert_eq!(sibling(0), 2);
		assert_eq!(sibling(5), 1);
		assert_eq!(left_span(3), 0);
		assert_eq!(right_span(3), 6);
		assert_eq!(right_span(11), 14);
		assert_eq!(index(1, 2), 9);
		assert_eq!(offset(9), 2);
		assert_eq!(leaf_count(7), 8);
	}

	#[test]
	fn full_roots_of_lengths() {
		assert_eq!(full_roots(0).collect::<Vec<_>>(), Vec::<u64>::new());
		assert_eq!(full_roots(1).collect::<Vec<_>>(), [0]);
		assert_eq!(full_roots(3).collect::<Vec<_>>(), [1, 4]);
		assert_eq!(full_roots(5).collect::<Vec<_>>(), [3, 8]);
		assert_eq!(full_roots(7).collect::<Vec<_>>(), [3, 9, 12]);
		assert_eq!(full_roots(u64::MAX >> 2).count(), 62);
	}

	#[test]
	fn iterator_full_root_walk_lists_full_roots() {
		for length in 1..200u64 {
			let mut ite = Iter::new(0);
			let mut got = Vec::new();
			while ite.full_root(2 * length) {
				got.push(ite.index);
				ite.next_tree();
			}
			assert_eq!(got, full_roots(length).collect::<Vec<_>>(), "length {length}");
		}
	}

	#[test]
	fn iterator_moves_like_functions() {
		let mut ite = Iter::new(4);
		assert_eq!(ite.sibling(), 6);
		assert_eq!(ite.parent(), 5);
		assert_eq!(ite.sibling(), 1);
		assert_eq!(ite.parent(), 3);
		assert!(ite.contains(6) && ite.contains(0) && !ite.contains(7));
		assert_eq!(ite.left_child(), 1);
		assert_eq!(ite.left_child(), 0);
		assert_eq!(ite.left_child(), 0);
	}
}
