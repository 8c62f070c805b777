//! The on-chain records of the datdot pallet.

use frame::prelude::*;

/// Whether a provider takes work and answers challenges.
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
pub enum ProviderStatus<BlockNumber> {
	/// Takes new work and is challenged.
	Active,
	/// Planned downtime: no new work, no challenges, until the given block (inclusive).
	Paused {
		/// The last block of the pause; the provider is active again after it.
		until: BlockNumber,
	},
	/// Failed or missed a challenge: no new work, no challenges, until it calls `unpause`.
	Offline,
}

/// A registered provider: one account, one node (PeerId), a stated capacity.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxPeerIdLen, MaxRegionLen))]
pub struct Provider<Balance, BlockNumber, MaxPeerIdLen: Get<u32>, MaxRegionLen: Get<u32>> {
	/// The libp2p PeerId of the node that serves this provider's data.
	pub peer_id: BoundedVec<u8, MaxPeerIdLen>,
	/// Bytes the provider offered to store.
	pub capacity: u64,
	/// Bytes of `capacity` not yet taken by replicas.
	pub free_capacity: u64,
	/// Where the provider says it is (free text, e.g. `eu-west`), for region-aware plans.
	pub region: Option<BoundedVec<u8, MaxRegionLen>>,
	/// The deposit held from the provider's balance; faults cost part of it.
	pub deposit: Balance,
	/// Active, paused or offline.
	pub status: ProviderStatus<BlockNumber>,
	/// Duties completed (encodings accepted, challenges passed, reports accepted).
	pub jobs_done: u32,
	/// Proven faults; `MaxFaults` of them end the registration.
	pub faults: u32,
	/// Replicas this provider hosts or is setting up; it can unregister only at zero.
	pub replicas: u32,
	/// Position in the eligibility index (see `selection`), if the provider can be drawn.
	pub eligible_at: Option<u32>,
}

impl<Balance, BlockNumber, MaxPeerIdLen: Get<u32>, MaxRegionLen: Get<u32>>
	Provider<Balance, BlockNumber, MaxPeerIdLen, MaxRegionLen>
{
	/// Whether the provider can be drawn for new work, given the smallest free capacity that
	/// work needs.
	pub fn can_take_work(&self, min_free_capacity: u64) -> bool {
		matches!(self.status, ProviderStatus::Active) && self.free_capacity >= min_free_capacity
	}
}
