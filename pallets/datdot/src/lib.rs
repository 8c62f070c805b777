//! # datdot pallet
//!
//! The on-chain rules of datdot (see `shared/design/protocol.md`): providers, verified
//! hypercore feeds, hosting plans, random selection, hosting setup and storage challenges.
//!
//! This first version only anchors the pallet in the runtime (its index, its metadata) so
//! that clients and the node can rely on it; the calls arrive with the pallets issue.

#![cfg_attr(not(feature = "std"), no_std)]

pub use pallet::*;

#[frame::pallet]
pub mod pallet {
	use frame::prelude::*;

	/// The datdot pallet.
	#[pallet::pallet]
	pub struct Pallet<T>(_);

	/// Configuration of the datdot pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config {}
}
