//! Dense indexes of providers, for O(1) random picks.
//!
//! Random selection draws from the providers that can take work
//! ([`ProviderIndex::Eligible`]); storage challenges draw from the hosters that can be
//! challenged now ([`ProviderIndex::Challengeable`]). Each index numbers its members
//! `0..len` without holes, so the k-th member is one read away and a draw costs O(1) reads
//! however many providers are registered. Joining appends; leaving moves the last member
//! into the hole (swap-remove) and updates its recorded position; both are O(1).

use crate::{pallet::*, ProviderOf};
use frame::prelude::*;

/// The two provider indexes.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ProviderIndex {
	/// Active providers with at least `MinFreeCapacity` free bytes: drawable for new work.
	Eligible,
	/// Active hosters with active replicas and no open challenge: drawable for a challenge.
	Challengeable,
}

impl ProviderIndex {
	/// Both indexes, for code that keeps them all in step.
	pub const ALL: [ProviderIndex; 2] = [ProviderIndex::Eligible, ProviderIndex::Challengeable];

	/// Whether `p` belongs in this index.
	pub fn admits<T: Config>(self, p: &ProviderOf<T>) -> bool {
		match self {
			ProviderIndex::Eligible => p.can_take_work(T::MinFreeCapacity::get()),
			ProviderIndex::Challengeable => p.can_be_challenged(),
		}
	}

	/// `p`'s position in this index, if it is a member.
	pub fn at<T: Config>(self, p: &ProviderOf<T>) -> Option<u32> {
		match self {
			ProviderIndex::Eligible => p.eligible_at,
			ProviderIndex::Challengeable => p.challengeable_at,
		}
	}

	/// Where `p` records its position in this index.
	pub fn position<T: Config>(self, p: &mut ProviderOf<T>) -> &mut Option<u32> {
		match self {
			ProviderIndex::Eligible => &mut p.eligible_at,
			ProviderIndex::Challengeable => &mut p.challengeable_at,
		}
	}

	/// Number of members.
	pub fn count<T: Config>(self) -> u32 {
		IndexLen::<T>::get(self)
	}

	/// The member at `at`.
	pub fn get<T: Config>(self, at: u32) -> Option<T::AccountId> {
		IndexEntries::<T>::get(self, at)
	}
}

impl<T: Config> Pallet<T> {
	/// Puts `who` into or takes it out of every index, as its record `provider` (about to
	/// be stored by the caller) now says. Other providers' stored records may change (the
	/// one moved by a swap-remove), never `provider` itself.
	pub(crate) fn refresh_indexes(who: &T::AccountId, provider: &mut ProviderOf<T>) {
		for index in ProviderIndex::ALL {
			let admitted = index.admits::<T>(provider);
			match (admitted, index.at::<T>(provider)) {
				(true, None) => {
					let at = index.count::<T>();
					IndexEntries::<T>::insert(index, at, who);
					IndexLen::<T>::insert(index, at.saturating_add(1));
					*index.position::<T>(provider) = Some(at);
				}
				(false, Some(at)) => {
					Self::swap_remove(index, at);
					*index.position::<T>(provider) = None;
				}
				_ => {}
			}
		}
	}

	/// Removes member `at`: the last member moves into its place.
	fn swap_remove(index: ProviderIndex, at: u32) {
		let last = index.count::<T>().saturating_sub(1);
		if at != last {
			if let Some(moved) = index.get::<T>(last) {
				IndexEntries::<T>::insert(index, at, &moved);
				Providers::<T>::mutate(&moved, |p| {
					if let Some(p) = p {
						*index.position::<T>(p) = Some(at);
					}
				});
			}
		}
		IndexEntries::<T>::remove(index, last);
		IndexLen::<T>::insert(index, last);
	}

	/// Changes provider `who` with `f` and keeps the indexes in step. Every change to a
	/// provider goes through here, so no stale copy of a record is ever written back.
	pub(crate) fn update_provider<R>(
		who: &T::AccountId,
		f: impl FnOnce(&mut ProviderOf<T>) -> R,
	) -> Option<R> {
		let mut provider = Providers::<T>::get(who)?;
		let out = f(&mut provider);
		Self::refresh_indexes(who, &mut provider);
		Providers::<T>::insert(who, provider);
		Some(out)
	}
}
