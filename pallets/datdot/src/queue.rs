//! First-in first-out queues in storage: entries in a map keyed by position, plus the
//! (head, tail) positions in a value. Pushing and popping are O(1) reads and writes however
//! long the queue is; positions wrap around `u32`.

use codec::FullCodec;
use frame::deps::frame_support::storage::{StorageMap, StorageValue};
use frame::prelude::*;

/// A queue of `V` stored in the map `Entries` with its bounds in `Bounds`.
pub struct StorageQueue<Entries, Bounds, V>(PhantomData<(Entries, Bounds, V)>);

impl<Entries, Bounds, V> StorageQueue<Entries, Bounds, V>
where
	Entries: StorageMap<u32, V, Query = Option<V>>,
	Bounds: StorageValue<(u32, u32), Query = (u32, u32)>,
	V: FullCodec,
{
	/// Entries waiting.
	pub fn len() -> u32 {
		let (head, tail) = Bounds::get();
		tail.wrapping_sub(head)
	}

	/// Appends `value` unless the queue already holds `cap` entries.
	pub fn push(value: V, cap: u32) -> Result<(), V> {
		if Self::len() >= cap {
			return Err(value);
		}
		let (head, tail) = Bounds::get();
		Entries::insert(tail, value);
		Bounds::put((head, tail.wrapping_add(1)));
		Ok(())
	}

	/// The oldest entry, left in the queue.
	pub fn peek() -> Option<V> {
		let (head, tail) = Bounds::get();
		if head == tail {
			return None;
		}
		Entries::get(head)
	}

	/// Takes the oldest entry off the queue.
	pub fn pop() -> Option<V> {
		let (head, tail) = Bounds::get();
		if head == tail {
			return None;
		}
		Bounds::put((head.wrapping_add(1), tail));
		Entries::take(head)
	}
}
