//! # datdot pallet
//!
//! The on-chain rules of datdot (see `shared/design/protocol.md`): providers, verified
//! hypercore feeds, hosting plans, random selection, hosting setup and storage challenges.
//!
//! ## Providers
//!
//! An account becomes a provider with [`Pallet::register`]: it names the libp2p PeerId of
//! the node that serves its data and the capacity it offers, and a deposit
//! ([`Config::ProviderDeposit`]) is held from its balance ([`HoldReason::ProviderDeposit`]).
//! [`Pallet::pause`] takes a provider out for planned downtime (at most
//! [`Config::MaxPauseBlocks`]); the pause ends by itself or with [`Pallet::unpause`], which
//! also brings back a provider the chain put offline after a fault. [`Pallet::unregister`]
//! releases the deposit at once, or after the provider's replicas have been handed over.
//!
//! ## Feeds
//!
//! [`Pallet::publish_feed`] stores a hypercore's signed tree after verifying its signature
//! on chain (compat and manifest-v1 feeds, with the `datdot-primitives` verifier over the
//! runtime's ed25519 host function). Publishing a known key again with a longer tree and a
//! proof that it extends the stored one updates the feed.
//!
//! ## Plans, selection and setup
//!
//! [`Pallet::publish_plan`] cuts a sponsor's plan into contracts of at most
//! [`Config::MaxBlocksPerContract`] blocks and queues `replicas` draws per contract.
//! `on_initialize` draws an encoder, a hoster and an attestor per replica from BABE
//! randomness (see [`selection`]). The encoder confirms the encoded root with
//! [`Pallet::encoding_done`], the hoster with [`Pallet::hosting_started`]; matching roots
//! before the deadline make the replica active, anything else fails the setup (late parties
//! are faulted) and the replica is drawn again.
//!
//! ## Storage challenges
//!
//! Each block challenges a few randomly drawn active hosters (about one challenge per
//! hoster every [`Config::ChallengePeriod`] blocks, at random times) to prove
//! [`Config::ChallengeSegments`] random segments of their active replicas with
//! [`Pallet::submit_storage_proof`] within [`Config::AnswerBlocks`]. A wrong or missing
//! answer is a fault: part of the deposit is burnt and the hoster goes offline until it
//! calls `unpause`.
//!
//! ## Faults, strikes and replacement
//!
//! [`Config::MaxFaults`] faults within [`Config::FaultWindow`] end a registration. A setup
//! that fails slashes nobody: it gives strikes, which make a provider less likely to be
//! drawn and bench it after [`Config::MaxStrikes`]. The replicas of a provider that ended,
//! is leaving, or stayed offline past [`Config::OfflineGrace`] get successors; each old
//! replica keeps its hoster until its successor is active. A hoster that lost a replica
//! says so with [`Pallet::release_replica`] for a small penalty. See [`lifecycle`].

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod attestation;
pub mod challenges;
pub mod endpoints;
pub mod feeds;
pub mod identity;
pub mod index;
pub mod lifecycle;
pub mod offchain;
pub mod payments;
pub mod plan_end;
pub mod plans;
pub mod queue;
pub mod runtime_api;
pub mod selection;
pub mod setup;
pub mod types;
pub mod weights;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

#[cfg(any(feature = "runtime-benchmarks", test))]
mod benchmark_feed;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;

pub use index::ProviderIndex;
pub use types::*;
pub use weights::WeightInfo;

/// The balance type of the pallet's currency.
pub type BalanceOf<T> = <<T as Config>::Currency as frame::traits::fungible::Inspect<
	<T as frame_system::Config>::AccountId,
>>::Balance;

/// A provider record with the runtime's types.
pub type ProviderOf<T> = Provider<
	BalanceOf<T>,
	frame_system::pallet_prelude::BlockNumberFor<T>,
	<T as Config>::MaxPeerIdLen,
	<T as Config>::MaxRegionLen,
>;

/// A feed record with the runtime's types.
pub type FeedOf<T> = Feed<
	<T as frame_system::Config>::AccountId,
	BalanceOf<T>,
	frame_system::pallet_prelude::BlockNumberFor<T>,
>;

/// A plan with the runtime's types.
pub type PlanOf<T> = Plan<
	<T as frame_system::Config>::AccountId,
	BalanceOf<T>,
	frame_system::pallet_prelude::BlockNumberFor<T>,
	<T as Config>::MaxRangesPerPlan,
	<T as Config>::MaxFriends,
>;

/// A replica with the runtime's types.
pub type ReplicaOf<T> = Replica<
	<T as frame_system::Config>::AccountId,
	frame_system::pallet_prelude::BlockNumberFor<T>,
>;

/// A storage challenge with the runtime's types.
pub type StorageChallengeOf<T> = StorageChallenge<
	<T as frame_system::Config>::AccountId,
	frame_system::pallet_prelude::BlockNumberFor<T>,
	<T as Config>::ChallengeSegments,
>;

/// A performance challenge with the runtime's types.
pub type PerformanceChallengeOf<T> = PerformanceChallenge<
	<T as frame_system::Config>::AccountId,
	frame_system::pallet_prelude::BlockNumberFor<T>,
	<T as Config>::PerformanceBlocks,
>;

/// An attestor's report with the runtime's types.
pub type PerformanceReportOf<T> =
	PerformanceReport<<T as Config>::DutySignature, <T as Config>::PerformanceBlocks>;

/// The bytes of a libp2p PeerId as a provider registers it.
pub type PeerIdOf<T> = BoundedVec<u8, <T as Config>::MaxPeerIdLen>;
/// A provider's free-text region.
pub type RegionOf<T> = BoundedVec<u8, <T as Config>::MaxRegionLen>;
/// An ed25519 signature by a node's libp2p key (see [`identity::peer_id_message`]).
pub type PeerSignature = [u8; 64];

use datdot_primitives::encoded::SegmentProof;
use datdot_primitives::fraud::{EncodingFault, EncodingFraudProof};
use frame::prelude::*;

/// The largest original block a fraud proof may carry: the chain re-encodes it, and
/// `report_bad_encoding`'s weight is benchmarked at this size (see docs/decisions.md).
pub const MAX_FRAUD_BLOCK: usize = 1 << 20;

/// A hypercore verification error, as a pallet error carries it (its variants say what
/// was wrong with the feed, proof or segment).
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
pub struct VerifyError(pub datdot_primitives::Error);

impl frame::deps::frame_support::traits::PalletError for VerifyError {
	const MAX_ENCODED_SIZE: usize = 1;
}

#[frame::pallet]
pub mod pallet {
	use super::*;
	use frame::deps::sp_runtime::traits::{IdentifyAccount, Verify};
	#[cfg(any(feature = "try-runtime", test))]
	use frame::deps::sp_runtime::TryRuntimeError;
	use frame::traits::{
		fungible::{Mutate, MutateHold},
		Randomness,
	};

	/// The layout of this pallet's storage. Version 1 added budgets, plan ends and pay
	/// records, version 2 the cut queue and plans' `uncut`, version 3 `RedrawHints` in place
	/// of `PinnedHosters`; only dev chains ran earlier versions, so there is nothing to
	/// migrate.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(3);

	/// The datdot pallet.
	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A provider's registration deposit; faults cost part of it.
		ProviderDeposit,
		/// The deposit for a feed's on-chain record, held from its first publisher.
		FeedDeposit,
		/// A plan's unspent budget: its providers are paid from it, the rest goes back.
		PlanBudget,
		/// The deposit for a plan's on-chain records, held from its sponsor until it ends.
		PlanDeposit,
	}

	/// Configuration of the datdot pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config + CreateSignedTransaction<Call<Self>> {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency deposits are held in.
		type Currency: Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// The chain's randomness (BABE's VRF output in the runtime); `None` while there is
		/// none yet, and then nothing is drawn.
		type Randomness: Randomness<Option<Self::Hash>, BlockNumberFor<Self>>;

		/// The deposit held from a provider while it is registered.
		#[pallet::constant]
		type ProviderDeposit: Get<BalanceOf<Self>>;

		/// The deposit held from the first publisher of a feed, for its on-chain record.
		#[pallet::constant]
		type FeedDeposit: Get<BalanceOf<Self>>;

		/// The part of its deposit a provider loses per fault (burnt).
		#[pallet::constant]
		type FaultSlash: Get<BalanceOf<Self>>;

		/// The smallest capacity a provider may offer, in bytes.
		#[pallet::constant]
		type MinCapacity: Get<u64>;

		/// Free bytes a provider needs to be drawn for new work at all.
		#[pallet::constant]
		type MinFreeCapacity: Get<u64>;

		/// The longest planned pause, in blocks.
		#[pallet::constant]
		type MaxPauseBlocks: Get<BlockNumberFor<Self>>;

		/// Pauses that may end in one block (the `on_initialize` work they cause is bounded).
		#[pallet::constant]
		type MaxPauseEndsPerBlock: Get<u32>;

		/// The most providers that may be registered at once.
		#[pallet::constant]
		type MaxProviders: Get<u32>;

		/// The longest PeerId, in bytes.
		#[pallet::constant]
		type MaxPeerIdLen: Get<u32>;

		/// The longest region text, in bytes.
		#[pallet::constant]
		type MaxRegionLen: Get<u32>;

		/// The most feed blocks in one contract (one provider's unit of work).
		#[pallet::constant]
		type MaxBlocksPerContract: Get<u32>;

		/// The most contracts one plan may be cut into (a plan is cut a few contracts per
		/// block, so this bounds storage, not a block's work).
		#[pallet::constant]
		type MaxContractsPerPlan: Get<u32>;

		/// Plans that may wait at once for the rest of their ranges to be cut into contracts.
		#[pallet::constant]
		type MaxPlansBeingCut: Get<u32>;

		/// The most block ranges in one plan.
		#[pallet::constant]
		type MaxRangesPerPlan: Get<u32>;

		/// The highest replication factor a plan may ask for.
		#[pallet::constant]
		type MaxReplicas: Get<u32>;

		/// The most replicas waiting to be drawn at once.
		#[pallet::constant]
		type MaxQueuedDraws: Get<u32>;

		/// Blocks a copy may wait in the draw queue (too few providers qualify) before its
		/// claim ends: its plan goes on with fewer copies and keeps its budget.
		#[pallet::constant]
		type MaxDrawWait: Get<BlockNumberFor<Self>>;

		/// The most draws `on_initialize` tries per block.
		#[pallet::constant]
		type MaxDrawsPerBlock: Get<u32>;

		/// Blocks encoder and hoster have to confirm a new replica, before the time its bytes
		/// add (`SetupBytesPerBlock`); governance may shorten it (`set_timing`), never
		/// lengthen it.
		#[pallet::constant]
		type SetupBlocks: Get<BlockNumberFor<Self>>;

		/// Bytes of a replica (its hoster's reservation) that add one block to its setup
		/// time: a bigger contract takes longer to seal, send and check (design §5.1).
		#[pallet::constant]
		type SetupBytesPerBlock: Get<u64>;

		/// The longest setup time, whatever a replica's bytes. It bounds the setups in flight
		/// (the draw queue keeps room to requeue them all) and what the runtime API scans.
		#[pallet::constant]
		type MaxSetupBlocks: Get<BlockNumberFor<Self>>;

		/// The most replicas one provider may host.
		#[pallet::constant]
		type MaxReplicasPerHoster: Get<u32>;

		/// Setups one provider may encode at once. A provider's node seals one replica after
		/// another on a few cores, so a draw skips encoders with this many: a large plan's
		/// draws wait for free encoders rather than piling onto a few and timing out.
		#[pallet::constant]
		type MaxEncodingsPerProvider: Get<u32>;

		/// The most providers a friends plan may name.
		#[pallet::constant]
		type MaxFriends: Get<u32>;

		/// The most plans that may follow one feed's growth.
		#[pallet::constant]
		type MaxFollowers: Get<u32>;

		/// Feeds whose growth may wait for their followers' new contracts at once.
		#[pallet::constant]
		type MaxGrowingFeeds: Get<u32>;

		/// Contracts made per block, at most, by each of: `publish_plan` (the rest of a large
		/// plan waits in the cut queue), the cut queue, and plans following a growing feed.
		#[pallet::constant]
		type MaxGrowthPerBlock: Get<u32>;

		/// Mean blocks between two storage challenges of one hoster: each block, each
		/// challengeable hoster is challenged with probability 1/`ChallengePeriod`. The
		/// default; governance may set another ([`Pallet::set_timing`]).
		#[pallet::constant]
		type ChallengePeriod: Get<u32>;

		/// Blocks a hoster has to answer a storage challenge.
		#[pallet::constant]
		type AnswerBlocks: Get<BlockNumberFor<Self>>;

		/// Segments asked for in one storage challenge.
		#[pallet::constant]
		type ChallengeSegments: Get<u32>;

		/// The most storage challenges issued per block.
		#[pallet::constant]
		type MaxChallengesPerBlock: Get<u32>;

		/// Mean blocks between two performance challenges of one hoster (design §6): each
		/// block, each challengeable hoster gets one with probability 1/`PerformancePeriod`.
		/// The default; governance may set another ([`Pallet::set_timing`]).
		#[pallet::constant]
		type PerformancePeriod: Get<u32>;

		/// Feed blocks an attestor reads from the hoster in one performance challenge.
		#[pallet::constant]
		type PerformanceBlocks: Get<u32>;

		/// Blocks an attestor has to report on a performance challenge.
		#[pallet::constant]
		type ReportBlocks: Get<BlockNumberFor<Self>>;

		/// The most performance challenges issued per block (rechecks included).
		#[pallet::constant]
		type MaxPerformanceChallengesPerBlock: Get<u32>;

		/// A duty key's signature (`MultiSignature` in the runtime): its consent to act for a
		/// provider ([`identity::duty_key_message`]) and the proofs of contact a hoster's
		/// node gives attestors.
		type DutySignature: Parameter
			+ DecodeWithMemTracking
			+ Verify<Signer: IdentifyAccount<AccountId = Self::AccountId>>;

		/// Makes duty keys, proofs of contact and node identities for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: crate::attestation::ContactSigner<Self::AccountId, Self::DutySignature>
			+ crate::identity::PeerSigner<Self::AccountId>;

		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;

		/// Faults within [`Config::FaultWindow`] that end a provider's registration.
		#[pallet::constant]
		type MaxFaults: Get<u32>;

		/// The window (blocks) faults and strikes are counted in.
		#[pallet::constant]
		type FaultWindow: Get<BlockNumberFor<Self>>;

		/// Strikes within [`Config::FaultWindow`] that bench a provider: it is not drawn for
		/// new work for [`Config::StrikeBench`] blocks.
		#[pallet::constant]
		type MaxStrikes: Get<u32>;

		/// Blocks a provider may be paused within one [`Config::FaultWindow`], so that pauses
		/// renewed back to back cannot dodge challenges for long.
		#[pallet::constant]
		type MaxPausedPerWindow: Get<u32>;

		/// How long a provider with [`Config::MaxStrikes`] strikes is not drawn.
		#[pallet::constant]
		type StrikeBench: Get<BlockNumberFor<Self>>;

		/// Blocks a hoster may stay offline before its replicas are replaced. The default;
		/// governance may set another ([`Pallet::set_timing`]).
		#[pallet::constant]
		type OfflineGrace: Get<BlockNumberFor<Self>>;

		/// Taken from a provider's deposit into the plan's budget when it releases a replica
		/// it can no longer keep, or gives up a setup it has no room for (`release_replica`):
		/// far below [`Config::FaultSlash`], so owning up beats missing a challenge.
		#[pallet::constant]
		type ReleasePenalty: Get<BalanceOf<Self>>;

		/// Replicas of evicted providers (ended, leaving, offline too long) handed over per
		/// block at most.
		#[pallet::constant]
		type MaxReplacementsPerBlock: Get<u32>;

		/// What hosting one byte for one block pays (the hoster earns it per proven block,
		/// per byte of its replica's reserve).
		#[pallet::constant]
		type PricePerByteBlock: Get<BalanceOf<Self>>;

		/// What an encoder earns per accepted encoding; a plan's budget holds one per
		/// replica.
		#[pallet::constant]
		type EncodingFee: Get<BalanceOf<Self>>;

		/// Paid to an attestor per accepted performance report, from the plan of the replica
		/// it read; a plan's budget holds one per `PerformancePeriod` per replica, and one
		/// more (what is not spent returns at the plan's end).
		#[pallet::constant]
		type AttestationFee: Get<BalanceOf<Self>>;

		/// The deposit held from a sponsor for each plan's records until it ends.
		#[pallet::constant]
		type PlanDeposit: Get<BalanceOf<Self>>;

		/// Plans that may end at one block (a full block refuses new plans ending there).
		#[pallet::constant]
		type MaxPlanEndsPerBlock: Get<u32>;

		/// Contracts of ending plans ended per block, at most (the rest waits).
		#[pallet::constant]
		type MaxPlanEndStepsPerBlock: Get<u32>;

		/// The key a provider node signs its duty transactions with
		/// ([`offchain::crypto::ProviderKey`] in a runtime).
		type ProviderKey: AppCrypto<Self::Public, Self::Signature>;
	}

	/// Registered providers.
	#[pallet::storage]
	pub type Providers<T: Config> =
		CountedStorageMap<_, Blake2_128Concat, T::AccountId, ProviderOf<T>>;

	/// Each provider's duty key: the account its node signs duties with (see [`identity`]).
	#[pallet::storage]
	pub type DutyKeys<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, T::AccountId>;

	/// The provider each duty key signs for (the reverse of [`DutyKeys`]).
	#[pallet::storage]
	pub type DutyKeyProviders<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, T::AccountId>;

	/// The provider each registered PeerId belongs to: a node serves one provider.
	#[pallet::storage]
	pub type PeerIdProviders<T: Config> =
		StorageMap<_, Blake2_128Concat, PeerIdOf<T>, T::AccountId>;

	/// The provider indexes (see [`crate::index`]): members densely numbered from 0.
	#[pallet::storage]
	pub type IndexEntries<T: Config> =
		StorageDoubleMap<_, Twox64Concat, ProviderIndex, Twox64Concat, u32, T::AccountId>;

	/// How many members each provider index has.
	#[pallet::storage]
	pub type IndexLen<T: Config> = StorageMap<_, Twox64Concat, ProviderIndex, u32, ValueQuery>;

	/// Providers whose pause ends at a block, so `on_initialize` can bring them back.
	#[pallet::storage]
	pub type PauseEnds<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<T::AccountId, T::MaxPauseEndsPerBlock>,
		ValueQuery,
	>;

	/// Verified feeds by key.
	#[pallet::storage]
	pub type Feeds<T: Config> = StorageMap<_, Blake2_128Concat, FeedKey, FeedOf<T>>;

	/// Hosting plans by id.
	#[pallet::storage]
	pub type Plans<T: Config> = StorageMap<_, Twox64Concat, u64, PlanOf<T>>;

	/// The id the next plan gets.
	#[pallet::storage]
	pub type NextPlanId<T: Config> = StorageValue<_, u64, ValueQuery>;

	/// Contracts by id.
	#[pallet::storage]
	pub type Contracts<T: Config> = StorageMap<_, Twox64Concat, u64, Contract<T::AccountId>>;

	/// The plans following each feed's growth.
	#[pallet::storage]
	pub type FeedFollowers<T: Config> =
		StorageMap<_, Blake2_128Concat, FeedKey, Followers<T::MaxFollowers>, ValueQuery>;

	/// Feeds that grew while plans follow them, by queue position, oldest first.
	#[pallet::storage]
	pub type GrowthQueue<T: Config> = StorageMap<_, Twox64Concat, u32, FeedKey>;

	/// The growth queue's (head, tail) positions.
	#[pallet::storage]
	pub type GrowthQueueBounds<T: Config> = StorageValue<_, (u32, u32), ValueQuery>;

	/// Plans whose ranges are still being cut into contracts, by queue position, oldest
	/// first.
	#[pallet::storage]
	pub type CutQueue<T: Config> = StorageMap<_, Twox64Concat, u32, u64>;

	/// The cut queue's (head, tail) positions.
	#[pallet::storage]
	pub type CutQueueBounds<T: Config> = StorageValue<_, (u32, u32), ValueQuery>;

	/// Replicas that have been drawn, by contract and replica index.
	#[pallet::storage]
	pub type Replicas<T: Config> =
		StorageDoubleMap<_, Twox64Concat, u64, Twox64Concat, u32, ReplicaOf<T>>;

	/// What a queued replica's next draw keeps from its last setup: the hoster, after a
	/// proven encoding fraud; the struck workers to pass over, after a failed setup. Taken
	/// by the replica's next draw; at most one per replica.
	#[pallet::storage]
	pub type RedrawHints<T: Config> =
		StorageDoubleMap<_, Twox64Concat, u64, Twox64Concat, u32, RedrawHint<T::AccountId>>;

	/// Replicas waiting to be drawn, by queue position.
	#[pallet::storage]
	pub type DrawQueue<T: Config> =
		StorageMap<_, Twox64Concat, u32, (ReplicaId, BlockNumberFor<T>)>;

	/// The draw queue's (head, tail) positions; it holds `tail - head` entries (wrapping).
	#[pallet::storage]
	pub type DrawQueueBounds<T: Config> = StorageValue<_, (u32, u32), ValueQuery>;

	/// Counts draws, so that two draws of one replica use different randomness.
	#[pallet::storage]
	pub type DrawNonce<T: Config> = StorageValue<_, u64, ValueQuery>;

	/// Replicas whose setup ends at a block (drawn their setup time,
	/// [`Pallet::setup_time`], before it; at most `MaxDrawsPerBlock` per block, whichever
	/// blocks drew them).
	#[pallet::storage]
	pub type SetupDeadlines<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<ReplicaId, T::MaxDrawsPerBlock>,
		ValueQuery,
	>;

	/// The active replicas of each hoster (what its storage challenges pick from).
	#[pallet::storage]
	pub type HostedReplicas<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<ReplicaId, T::MaxReplicasPerHoster>,
		ValueQuery,
	>;

	/// Open storage challenges by id.
	#[pallet::storage]
	pub type Challenges<T: Config> = StorageMap<_, Twox64Concat, u64, StorageChallengeOf<T>>;

	/// The id the next storage challenge gets.
	#[pallet::storage]
	pub type NextChallengeId<T: Config> = StorageValue<_, u64, ValueQuery>;

	/// Challenges due at a block (all issued `AnswerBlocks` before it).
	#[pallet::storage]
	pub type ChallengesDue<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<u64, T::MaxChallengesPerBlock>,
		ValueQuery,
	>;

	/// Open performance challenges by id (ids shared with storage challenges).
	#[pallet::storage]
	pub type PerformanceChallenges<T: Config> =
		StorageMap<_, Twox64Concat, u64, PerformanceChallengeOf<T>>;

	/// Performance challenges due at a block (all issued `ReportBlocks` before it).
	#[pallet::storage]
	pub type PerformanceDue<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<u64, T::MaxPerformanceChallengesPerBlock>,
		ValueQuery,
	>;

	/// The latest open performance challenge of each hoster. A hoster with one open gets no
	/// new periodic one, so one outage is judged once, not by every challenge in flight.
	#[pallet::storage]
	pub type OpenPerformance<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u64>;

	/// How each provider has served attestors, while it is registered.
	#[pallet::storage]
	pub type ServingRecords<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, ServingRecord, ValueQuery>;

	/// Providers whose replicas are being handed over (ended, leaving, or offline past
	/// `OfflineGrace`), oldest first, by queue position.
	#[pallet::storage]
	pub type Evictions<T: Config> = StorageMap<_, Twox64Concat, u32, T::AccountId>;

	/// The eviction queue's (head, tail) positions.
	#[pallet::storage]
	pub type EvictionBounds<T: Config> = StorageValue<_, (u32, u32), ValueQuery>;

	/// How far into the hosted-replica list of the provider at the head of the eviction
	/// queue the handover has got.
	#[pallet::storage]
	pub type EvictionCursor<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// Providers that went offline, with the block they did, oldest first, by queue
	/// position.
	#[pallet::storage]
	pub type OfflineWatch<T: Config> =
		StorageMap<_, Twox64Concat, u32, (T::AccountId, BlockNumberFor<T>)>;

	/// The offline watch queue's (head, tail) positions.
	#[pallet::storage]
	pub type OfflineWatchBounds<T: Config> = StorageValue<_, (u32, u32), ValueQuery>;

	/// Plans ending at a block, in the order they were scheduled.
	#[pallet::storage]
	pub type PlanEnds<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<u64, T::MaxPlanEndsPerBlock>,
		ValueQuery,
	>;

	/// How far the work of ending plans has got (see [`crate::plan_end`]).
	#[pallet::storage]
	pub type PlanEndProgress<T: Config> = StorageValue<_, EndCursor<BlockNumberFor<T>>, ValueQuery>;

	/// The endpoint (`host:port`) where each provider's node seeds feeds to hypercore
	/// readers, if it registered one ([`Pallet::set_endpoint`]).
	#[pallet::storage]
	pub type Endpoints<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, crate::endpoints::Endpoint>;

	/// Periods set by governance ([`Pallet::set_timing`]); absent, the runtime's constants
	/// apply.
	#[pallet::storage]
	pub type TimingOverride<T: Config> = StorageValue<_, Timing<BlockNumberFor<T>>>;

	/// Events of the datdot pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A provider registered and its deposit is held.
		ProviderRegistered {
			/// The provider's account.
			provider: T::AccountId,
			/// Its node's PeerId.
			peer_id: PeerIdOf<T>,
			/// The key its node signs duties with.
			duty_key: T::AccountId,
			/// Bytes it offers.
			capacity: u64,
			/// The deposit held.
			deposit: BalanceOf<T>,
		},
		/// A provider authorised a new duty key; the old one can sign nothing any more.
		DutyKeySet {
			/// The provider's account.
			provider: T::AccountId,
			/// The key its node signs duties with from now on.
			duty_key: T::AccountId,
		},
		/// A provider registered (`Some`) or withdrew (`None`) the endpoint its node seeds
		/// feeds on.
		EndpointSet {
			/// The provider's account.
			provider: T::AccountId,
			/// `host:port`.
			endpoint: Option<crate::endpoints::Endpoint>,
		},
		/// A provider left and its deposit was released.
		ProviderUnregistered {
			/// The provider's account.
			provider: T::AccountId,
		},
		/// A provider unregistered while it had replicas: they are handed over first, then
		/// it leaves (`ProviderUnregistered`).
		ProviderLeaving {
			/// The provider's account.
			provider: T::AccountId,
		},
		/// The chain ended a provider's registration (too many faults, or a deposit that no
		/// longer covers one); its replicas are replaced, then what is left of its deposit
		/// is released (`ProviderUnregistered`).
		ProviderEnded {
			/// The provider's account.
			provider: T::AccountId,
			/// Faults in the current window.
			recent_faults: u32,
			/// Deposit left.
			deposit: BalanceOf<T>,
		},
		/// A provider got a strike (a setup it did not confirm, or with differing roots).
		ProviderStruck {
			/// The provider's account.
			provider: T::AccountId,
			/// Strikes in the current window.
			recent_strikes: u32,
			/// It is not drawn before this block (the current block if not benched).
			benched_until: BlockNumberFor<T>,
		},
		/// A hoster said it no longer holds a replica, or gave up its setup (no room); it
		/// paid `penalty` and the replica is drawn again.
		ReplicaReleased {
			/// The contract.
			contract: u64,
			/// The replica index.
			replica: u32,
			/// The hoster that released it.
			hoster: T::AccountId,
			/// Taken from its deposit into the plan's budget.
			penalty: BalanceOf<T>,
		},
		/// An encoder gave up a replica's setup before committing its root (its node could
		/// not encode it); it paid `penalty` and the replica is drawn again.
		EncodingReleased {
			/// The contract.
			contract: u64,
			/// The replica index.
			replica: u32,
			/// The encoder that gave it up.
			encoder: T::AccountId,
			/// Taken from its deposit into the plan's budget.
			penalty: BalanceOf<T>,
		},
		/// A replica is to be replaced: a successor is drawn into its other slot, and it
		/// keeps its hoster until the successor is active.
		ReplacementQueued {
			/// The contract.
			contract: u64,
			/// The replica being replaced.
			replica: u32,
			/// The successor's index.
			successor: u32,
			/// The hoster handing it over.
			hoster: T::AccountId,
		},
		/// A successor is active and the replica it replaced ended.
		ReplicaReplaced {
			/// The contract.
			contract: u64,
			/// The replica that ended.
			replica: u32,
			/// The successor now active.
			successor: u32,
			/// The hoster released from it.
			old_hoster: T::AccountId,
			/// The successor's hoster.
			new_hoster: T::AccountId,
		},
		/// A provider paused until a block.
		ProviderPaused {
			/// The provider's account.
			provider: T::AccountId,
			/// The last block of the pause.
			until: BlockNumberFor<T>,
		},
		/// A provider is active again (after `unpause` or at the end of its pause).
		ProviderResumed {
			/// The provider's account.
			provider: T::AccountId,
		},
		/// A provider was faulted: part of its deposit is burnt and it is offline (no new
		/// work, no challenges) until it calls `unpause`.
		ProviderOffline {
			/// The provider's account.
			provider: T::AccountId,
			/// Deposit taken for this fault.
			slashed: BalanceOf<T>,
			/// The plan whose replica was hurt and whose budget got the slashed deposit
			/// (`None`: it was burnt).
			to_plan: Option<u64>,
			/// Its faults so far.
			faults: u32,
		},
		/// A feed was verified and stored.
		FeedPublished {
			/// The feed key.
			key: FeedKey,
			/// Its signed length.
			length: u64,
			/// Who published it.
			publisher: T::AccountId,
		},
		/// A known feed was extended to a longer signed tree.
		FeedUpdated {
			/// The feed key.
			key: FeedKey,
			/// The previous signed length.
			old_length: u64,
			/// The new signed length.
			length: u64,
		},
		/// A plan was published and its replicas queued for drawing.
		PlanPublished {
			/// The plan id.
			plan: u64,
			/// Its sponsor.
			sponsor: T::AccountId,
			/// The feed.
			feed: FeedKey,
			/// Its first contract id (contracts are consecutive).
			first_contract: u64,
			/// Number of contracts it is cut into: up to `MaxGrowthPerBlock` now, the rest
			/// as many per block in the next blocks (`PlanCut`).
			contracts: u32,
			/// Replicas per contract.
			replicas: u32,
			/// The providers it draws from, if it is a friends plan.
			friends: Option<BoundedVec<T::AccountId, T::MaxFriends>>,
			/// Whether blocks appended to the feed join the plan.
			follows: bool,
		},
		/// More of a large plan's ranges were cut into contracts, whose replicas are queued
		/// for drawing.
		PlanCut {
			/// The plan id.
			plan: u64,
			/// Contracts the plan has now.
			contracts: u32,
			/// Whether every range is cut (or the plan ended first).
			done: bool,
		},
		/// A plan that follows its feed got contracts for blocks the feed gained.
		PlanGrew {
			/// The plan id.
			plan: u64,
			/// Contracts added.
			contracts: u32,
			/// The feed length the plan now covers.
			covered: u64,
		},
		/// A plan stopped following its feed: it has `MaxContractsPerPlan` contracts, or
		/// the sponsor's balance could not hold the budget of the new blocks.
		PlanStoppedFollowing {
			/// The plan id.
			plan: u64,
			/// The feed length it covers.
			covered: u64,
			/// Why.
			reason: FollowStop,
		},
		/// A plan was cancelled: it ends now (`PlanEnded` follows once its replicas ended).
		PlanCancelled {
			/// The plan id.
			plan: u64,
		},
		/// A plan's sponsor extended it; the extra budget is held.
		PlanToppedUp {
			/// The plan id.
			plan: u64,
			/// Budget added.
			added: BalanceOf<T>,
			/// The new end block.
			ends_at: BlockNumberFor<T>,
		},
		/// A plan ended: its replicas ended, their hosters' space is free, and what was left
		/// of its budget and its deposit went back to the sponsor.
		PlanEnded {
			/// The plan id.
			plan: u64,
			/// Why.
			reason: PlanEnd,
			/// Unspent budget returned to the sponsor.
			refunded: BalanceOf<T>,
		},
		/// A provider was paid from a plan's budget.
		ProviderPaid {
			/// The plan that paid.
			plan: u64,
			/// The provider paid.
			provider: T::AccountId,
			/// What for.
			work: Work<BlockNumberFor<T>>,
			/// The amount.
			amount: BalanceOf<T>,
		},
		/// A feed no plan used was removed and its deposit released.
		FeedRemoved {
			/// The feed key.
			key: FeedKey,
		},
		/// Encoder, hoster and attestor of a replica were drawn; setup runs until `deadline`.
		ReplicaDrawn {
			/// The contract.
			contract: u64,
			/// The replica index.
			replica: u32,
			/// Who encodes it.
			encoder: T::AccountId,
			/// Who hosts it.
			hoster: T::AccountId,
			/// Who spot-checks the setup.
			attestor: T::AccountId,
			/// The last block for both confirmations.
			deadline: BlockNumberFor<T>,
		},
		/// Too few providers qualified for a replica, or its setup deadline's slot is full; it
		/// waits in the queue.
		DrawPostponed {
			/// The contract.
			contract: u64,
			/// The replica index.
			replica: u32,
		},
		/// A copy waited `MaxDrawWait` blocks without enough qualifying providers: it left
		/// the queue, and its plan goes on with fewer copies (the unspent budget goes back
		/// at the plan's end).
		DrawAbandoned {
			/// The contract.
			contract: u64,
			/// The replica index.
			replica: u32,
		},
		/// The encoder confirmed a replica's encoded root.
		EncodingConfirmed {
			/// The contract.
			contract: u64,
			/// The replica index.
			replica: u32,
			/// The root it confirmed.
			root: EncodedRoot,
		},
		/// The hoster confirmed it stores a replica with this encoded root.
		HostingConfirmed {
			/// The contract.
			contract: u64,
			/// The replica index.
			replica: u32,
			/// The root it confirmed.
			root: EncodedRoot,
		},
		/// Encoder and hoster agreed: the replica is active and will be challenged.
		ReplicaActive {
			/// The contract.
			contract: u64,
			/// The replica index.
			replica: u32,
			/// Its hoster.
			hoster: T::AccountId,
			/// The encoded root storage proofs are checked against.
			root: EncodedRoot,
		},
		/// A replica's setup failed; it is queued to be drawn again.
		SetupFailed {
			/// The contract.
			contract: u64,
			/// The replica index.
			replica: u32,
			/// Why.
			reason: SetupFailure,
			/// The encoder, if it got a strike.
			struck_encoder: Option<T::AccountId>,
			/// The hoster, if it got a strike.
			struck_hoster: Option<T::AccountId>,
		},
		/// A hoster proved its encoder committed a stream that is not the feed's: the encoder
		/// is faulted, and the replica is drawn again with the same hoster and a new encoder.
		EncodingFraudProven {
			/// The contract.
			contract: u64,
			/// The replica index.
			replica: u32,
			/// The encoder, faulted.
			encoder: T::AccountId,
			/// The hoster that proved it (it keeps its place).
			hoster: T::AccountId,
			/// What the proof showed.
			fault: EncodingFault,
		},
		/// A storage challenge was issued.
		ChallengeIssued {
			/// The challenge id.
			challenge: u64,
			/// The challenged hoster.
			hoster: T::AccountId,
			/// The last block an answer is accepted.
			due: BlockNumberFor<T>,
			/// The segments to prove.
			segments: BoundedVec<(ReplicaId, u64), T::ChallengeSegments>,
		},
		/// A storage challenge was answered with valid proofs.
		ChallengePassed {
			/// The challenge id.
			challenge: u64,
			/// The hoster.
			hoster: T::AccountId,
		},
		/// A storage challenge failed (the hoster is faulted and offline).
		ChallengeFailed {
			/// The challenge id.
			challenge: u64,
			/// The hoster.
			hoster: T::AccountId,
			/// Missed, or which proof was wrong and how.
			reason: ChallengeFailure,
		},
		/// A performance challenge was issued: `attestor` reads `blocks` from `hoster`.
		PerformanceChallengeIssued {
			/// The challenge id.
			challenge: u64,
			/// The hoster measured.
			hoster: T::AccountId,
			/// The attestor that reads and reports.
			attestor: T::AccountId,
			/// The replica (and so the feed) read.
			replica: ReplicaId,
			/// The feed blocks to read.
			blocks: BoundedVec<u64, T::PerformanceBlocks>,
			/// The last block a report is accepted.
			due: BlockNumberFor<T>,
			/// A second opinion after a first attestor reported the hoster silent.
			recheck: bool,
		},
		/// An attestor reported on a performance challenge and was paid.
		PerformanceReported {
			/// The challenge id.
			challenge: u64,
			/// The hoster measured.
			hoster: T::AccountId,
			/// The attestor.
			attestor: T::AccountId,
			/// Its grade, or what the silence led to.
			outcome: PerformanceOutcome,
		},
		/// An attestor did not report in time: it gets a strike.
		PerformanceReportMissed {
			/// The challenge id.
			challenge: u64,
			/// The attestor.
			attestor: T::AccountId,
		},
		/// Governance set the periods; these are now in force.
		TimingSet {
			/// The challenge period and offline grace.
			timing: Timing<BlockNumberFor<T>>,
		},
	}

	/// Errors of the datdot pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// This account is already a provider.
		AlreadyRegistered,
		/// This account is not a registered provider.
		NotRegistered,
		/// The PeerId is not a libp2p ed25519 PeerId (38 bytes: `00 24 08 01 12 20` and the
		/// 32-byte public key), which is what a datdot node has.
		InvalidPeerId,
		/// The PeerId's signature is not its node's libp2p key signing the registering
		/// account: ask the node for it (`datdot_registration` RPC, with this account).
		InvalidPeerSignature,
		/// The duty key did not sign its consent to act for this account
		/// ([`identity::duty_key_message`]); the node's `datdot_registration` RPC gives it.
		InvalidDutyKeySignature,
		/// Another provider registered this PeerId: a node serves one provider.
		PeerIdTaken,
		/// The duty key is the provider account itself: the node would then hold the key
		/// that moves the provider's funds. Authorise the node's own key.
		DutyKeyIsProviderAccount,
		/// The duty key is already a provider account or another provider's duty key.
		DutyKeyTaken,
		/// This account is a provider's duty key: it cannot register as a provider.
		AccountIsDutyKey,
		/// Only the provider account may do this; a duty key signs duties only.
		NeedsProviderAccount,
		/// The sealing key's modulus is not 2048 bits (its top bit must be set).
		SealingKeyTooSmall,
		/// The sealing key's modulus is even or has a small prime factor: it is not an RSA
		/// modulus. Register the modulus of the key your node generated (`datdot_nodeStatus`).
		SealingKeyMalformed,
		/// The endpoint is not `host:port` (a DNS name, IPv4 address or bracketed IPv6
		/// address, and a port from 1 to 65535).
		MalformedEndpoint,
		/// The capacity is below `MinCapacity`.
		CapacityTooSmall,
		/// `MaxProviders` providers are registered; none can join until one leaves.
		TooManyProviders,
		/// The balance cannot cover the deposit (plus the existential deposit).
		InsufficientBalanceForDeposit,
		/// The provider is leaving or its registration ended: it takes no new state.
		RegistrationEnded,
		/// Only an active provider can pause.
		NotActive,
		/// The pause must end after the current block.
		PauseInPast,
		/// The pause is longer than `MaxPauseBlocks`.
		PauseTooLong,
		/// The pause would take the provider past `MaxPausedPerWindow` paused blocks in the
		/// current `FaultWindow`; pause for less (`DatdotApi` has no query for it yet: the
		/// provider record's `paused_blocks` says what is used).
		PauseBudgetExceeded,
		/// Too many pauses already end at that block; choose another.
		PauseScheduleFull,
		/// The provider is already active.
		AlreadyActive,
		/// The provider must answer its open storage challenge before it can pause.
		ChallengeOpen,
		/// The feed's signed tree, manifest or extension proof did not verify; the inner
		/// error says what was wrong.
		InvalidFeed(VerifyError),
		/// The feed is already known at this length or a longer one.
		FeedNotLonger,
		/// The new tree has another fork counter than the stored one (the feed was
		/// truncated); only append-only updates are accepted.
		FeedForked,
		/// A known feed gets longer only with a proof that the new tree extends the stored
		/// one (`extension`: an upgrade proof from the stored length).
		ExtensionProofMissing,
		/// The extension proof verifies, but leads to another tree than the one published.
		ExtensionMismatch,
		/// No feed with this key has been published.
		UnknownFeed,
		/// A plan needs at least one block range.
		NoRanges,
		/// A block range is empty, reaches beyond the feed's signed length, or is out of
		/// order / overlapping with the previous one (ranges must be sorted and disjoint).
		InvalidRange,
		/// The replication factor must be between 1 and `MaxReplicas`.
		InvalidReplication,
		/// The plan's duration must be at least one block.
		ZeroDuration,
		/// The plan would be cut into more than `MaxContractsPerPlan` contracts.
		PlanTooLarge,
		/// The draw queue has no room for this plan's replicas now; try again later.
		DrawQueueFull,
		/// `MaxPlansBeingCut` large plans already wait to be cut into contracts; try again in
		/// a few blocks.
		CutQueueFull,
		/// A friends plan must name at least `max(replicas, 3)` providers: distinct hosters
		/// for its replicas, and an encoder and an attestor besides each hoster.
		TooFewFriends,
		/// A friend named twice.
		DuplicateFriend,
		/// A friend is not a registered provider (or its registration is ending).
		FriendNotProvider,
		/// The sponsor never works for its own plan, so it cannot be one of its friends.
		SponsorAmongFriends,
		/// `MaxFollowers` plans already follow this feed.
		TooManyFollowers,
		/// Too many feeds' growth waits to be planned; try the update again in a few blocks.
		GrowthQueueFull,
		/// Plan ids are exhausted (2³² plans).
		TooManyPlans,
		/// No plan with this id.
		UnknownPlan,
		/// Only the plan's sponsor can do this.
		NotSponsor,
		/// No drawn replica with this contract and index.
		UnknownReplica,
		/// The caller is not this replica's encoder.
		NotEncoder,
		/// The caller is not this replica's hoster.
		NotHoster,
		/// The encoder already committed its root for this replica: it can no longer give
		/// the setup up (its hoster may be proving the encoding false).
		EncodingCommitted,
		/// The replica's setup is over (it is active, or failed and was drawn again).
		NotInSetup,
		/// The caller already confirmed this replica.
		AlreadyConfirmed,
		/// The hoster confirms only after the encoder has committed its root (design §5.4):
		/// wait for `EncodingConfirmed`.
		EncoderNotConfirmed,
		/// An encoded root needs at least one segment per block of the contract.
		ImplausibleSegmentCount,
		/// The fraud proof is invalid: a segment not in the encoder's committed stream, or an
		/// original block that is not the one needed or does not verify against the feed's
		/// tree on chain.
		InvalidFraudProof(VerifyError),
		/// The fraud proof is valid but shows nothing wrong with the encoder's stream.
		NoFraudShown,
		/// A fraud proof's original block is larger than [`MAX_FRAUD_BLOCK`] bytes.
		FraudBlockTooLarge,
		/// No open storage challenge with this id (answered, failed, or never issued).
		UnknownChallenge,
		/// The caller is not the challenged hoster.
		NotChallengedHoster,
		/// The answer must have one proof per challenged segment, in the challenge's order
		/// and with the challenged segment indexes.
		ProofsDoNotMatchChallenge,
		/// Challenge periods, the offline grace and the setup time must each be at least one
		/// block, and the setup time at most the runtime's `SetupBlocks`.
		InvalidTiming,
		/// No open performance challenge has this id (already reported, or expired).
		UnknownPerformanceChallenge,
		/// Only the challenge's attestor may report on it.
		NotChallengeAttestor,
		/// A report must carry one leaf hash per block the challenge names.
		ContactDoesNotMatchChallenge,
		/// The proof of contact is not the hoster's signature over the challenge, the
		/// attestor and the hashes: the attestor did not reach the hoster, or forged it.
		InvalidProofOfContact,
		/// The balance cannot cover the plan's budget and deposit (plus the existential
		/// deposit); `DatdotApi` has no quote yet: budget = `PricePerByteBlock` × bytes ×
		/// replicas × duration + (`EncodingFee` + `AttestationFee` × (1 + duration /
		/// `PerformancePeriod`)) × replicas × contracts.
		InsufficientBalanceForBudget,
		/// `MaxPlanEndsPerBlock` plans already end at that block; choose another duration.
		PlanEndScheduleFull,
		/// The plan has reached its end block and is ending.
		PlanEnding,
		/// The feed still has plans; it can be removed once they ended.
		FeedInUse,
		/// Only the feed's publisher can remove it.
		NotPublisher,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Ends pauses, expires missed challenges and setups, evicts hosters offline past
		/// their grace, hands over evicted providers' replicas, draws queued replicas and
		/// issues new storage challenges; each step bounded by its own per-block limit.
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let ending = PauseEnds::<T>::take(now.saturating_sub(One::one()));
			let pause_ends = ending.len() as u32;
			for who in ending {
				Self::resume(&who);
			}
			let expired = Self::expire_challenges(now);
			let reports_missed = Self::expire_performance_challenges(now);
			let deadlines = Self::expire_setups(now);
			let watched = Self::watch_offline(now);
			let handed_over = Self::replace_evicted();
			let cut = Self::cut_plans(now);
			let grown = Self::grow_plans();
			let ended = Self::end_plans(now);
			let mut weight = T::WeightInfo::on_initialize_pause_ends(pause_ends)
				.saturating_add(T::WeightInfo::expire_challenges(expired))
				.saturating_add(T::WeightInfo::expire_performance_challenges(reports_missed))
				.saturating_add(T::WeightInfo::expire_setups(deadlines))
				.saturating_add(T::WeightInfo::watch_offline(watched))
				.saturating_add(T::WeightInfo::replace_evicted(handed_over))
				.saturating_add(T::WeightInfo::cut_plans(cut))
				.saturating_add(T::WeightInfo::grow_plans(grown))
				.saturating_add(T::WeightInfo::end_plans(ended));

			// Draws and challenges need the chain's randomness; until there is some (the
			// first block) they wait.
			let (random, _) = T::Randomness::random(b"datdot");
			if let Some(random) = random {
				let seed = frame::hashing::blake2_256(random.as_ref());
				let drawn = Self::draw_queued(now, &seed);
				let issued = Self::issue_challenges(now, &seed);
				let attested = Self::issue_performance_challenges(now, &seed);
				weight = weight
					.saturating_add(T::WeightInfo::draw_replicas(drawn))
					.saturating_add(T::WeightInfo::challenges_this_block())
					.saturating_add(T::WeightInfo::issue_challenges(issued))
					// The performance count is drawn like the storage challenges' count.
					.saturating_add(T::WeightInfo::challenges_this_block())
					.saturating_add(T::WeightInfo::issue_performance_challenges(attested));
			}
			weight
		}

		/// A provider node answers its open storage challenges from its replica store and
		/// comes back after a fault (see [`offchain`]).
		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::run_provider_duties(now);
		}

		fn integrity_test() {
			assert!(
				T::MaxSetupBlocks::get() >= T::SetupBlocks::get(),
				"MaxSetupBlocks must be at least SetupBlocks"
			);
			assert!(T::SetupBytesPerBlock::get() > 0, "SetupBytesPerBlock must be positive");
			let setup: u32 = T::MaxSetupBlocks::get().unique_saturated_into();
			assert!(
				T::MaxQueuedDraws::get()
					> T::MaxDrawsPerBlock::get().saturating_mul(setup.saturating_add(1)),
				"MaxQueuedDraws must leave room for every setup that can fail and be requeued"
			);
			assert!(T::ChallengePeriod::get() > 0, "ChallengePeriod must be positive");
			assert!(
				T::MaxQueuedDraws::get()
					>= T::MaxDrawsPerBlock::get()
						.saturating_mul(setup.saturating_add(1))
						.saturating_add(T::MaxReplicas::get()),
				"MaxQueuedDraws must leave room for a contract's replicas, or cutting plans stalls"
			);
			assert!(
				T::MaxGrowthPerBlock::get() > T::MaxFollowers::get(),
				"MaxGrowthPerBlock must exceed MaxFollowers, or a feed's growth can stall"
			);
			assert!(T::ChallengeSegments::get() > 0, "ChallengeSegments must be positive");
			assert!(T::PerformancePeriod::get() > 0, "PerformancePeriod must be positive");
			assert!(T::PerformanceBlocks::get() > 0, "PerformanceBlocks must be positive");
			assert!(
				T::MaxPerformanceChallengesPerBlock::get() > 1,
				"MaxPerformanceChallengesPerBlock must leave room for rechecks"
			);
			assert!(T::MaxBlocksPerContract::get() > 0, "MaxBlocksPerContract must be positive");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Registers the caller as a provider, holding [`Config::ProviderDeposit`] from its
		/// balance.
		///
		/// - `peer_id`: the libp2p PeerId (bytes) of the node that will serve the data, and
		///   `peer_signature`, that node's libp2p key signing the caller's account
		///   ([`identity::peer_id_message`]; the node's `datdot_registration` RPC gives both).
		///   A PeerId belongs to one provider.
		/// - `duty_key`: the account the node signs duties with (its `dtdt` key); it can sign
		///   nothing that moves the provider's funds and [`Pallet::set_duty_key`] replaces it.
		///   `duty_signature` is that key's consent ([`identity::duty_key_message`] of the
		///   caller), so nobody can name another's key and lock it out of registering.
		/// - `sealing_key`: the RSA-2048 modulus (exponent 65537) its node seals encodings
		///   with; the private key stays in the node (design §7).
		/// - `capacity`: bytes offered, at least [`Config::MinCapacity`].
		/// - `region`: optional free text saying where the node is.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register())]
		// Each argument is one field of the registration, as polkadot.js apps shows them.
		#[allow(clippy::too_many_arguments)]
		pub fn register(
			origin: OriginFor<T>,
			peer_id: PeerIdOf<T>,
			peer_signature: PeerSignature,
			duty_key: T::AccountId,
			duty_signature: T::DutySignature,
			sealing_key: SealingKey,
			capacity: u64,
			region: Option<RegionOf<T>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!Providers::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
			ensure!(!DutyKeyProviders::<T>::contains_key(&who), Error::<T>::AccountIsDutyKey);
			Self::check_peer_id(&who, &peer_id, &peer_signature)?;
			Self::check_duty_key(&who, &duty_key, &duty_signature)?;
			sealing_key.check().map_err(|e| match e {
				datdot_primitives::Error::SealingKeyTooSmall => Error::<T>::SealingKeyTooSmall,
				_ => Error::<T>::SealingKeyMalformed,
			})?;
			ensure!(capacity >= T::MinCapacity::get(), Error::<T>::CapacityTooSmall);
			ensure!(Providers::<T>::count() < T::MaxProviders::get(), Error::<T>::TooManyProviders);

			let deposit = T::ProviderDeposit::get();
			T::Currency::hold(&HoldReason::ProviderDeposit.into(), &who, deposit)
				.map_err(|_| Error::<T>::InsufficientBalanceForDeposit)?;

			let mut provider =
				Provider::new(peer_id.clone(), sealing_key, capacity, region, deposit);
			Self::refresh_indexes(&who, &mut provider);
			Providers::<T>::insert(&who, provider);
			PeerIdProviders::<T>::insert(&peer_id, &who);
			DutyKeys::<T>::insert(&who, &duty_key);
			DutyKeyProviders::<T>::insert(&duty_key, &who);
			Self::deposit_event(Event::ProviderRegistered {
				provider: who,
				peer_id,
				duty_key,
				capacity,
				deposit,
			});
			Ok(())
		}

		/// Authorises `duty_key` as the key the caller's node signs duties with, in place of
		/// the current one (a rotation, or after the node was lost or stolen), with the new
		/// key's `duty_signature` as at `register`. Only the provider account may call this,
		/// not a duty key.
		#[pallet::call_index(19)]
		#[pallet::weight(T::WeightInfo::set_duty_key())]
		pub fn set_duty_key(
			origin: OriginFor<T>,
			duty_key: T::AccountId,
			duty_signature: T::DutySignature,
		) -> DispatchResult {
			let who = Self::provider_account(origin)?;
			Self::do_set_duty_key(who, duty_key, duty_signature)
		}

		/// Unregisters the caller. Without replicas it leaves at once and its deposit is
		/// released; otherwise it is `Leaving`: it takes no new work, keeps answering for its
		/// replicas while each is handed over to a newly drawn hoster, and leaves (deposit
		/// released) after the last handover.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::unregister())]
		pub fn unregister(origin: OriginFor<T>) -> DispatchResult {
			let who = Self::provider_account(origin)?;
			Self::do_unregister(who)
		}

		/// Pauses the caller (planned downtime) until block `until` inclusive: no new work
		/// and no storage challenges meanwhile. At most [`Config::MaxPauseBlocks`] ahead, and
		/// not while a storage challenge of the caller is open.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::pause())]
		pub fn pause(origin: OriginFor<T>, until: BlockNumberFor<T>) -> DispatchResult {
			let who = Self::duty_origin(origin)?;
			let provider = Providers::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			ensure!(!provider.status.is_departing(), Error::<T>::RegistrationEnded);
			ensure!(provider.status == ProviderStatus::Active, Error::<T>::NotActive);
			ensure!(provider.open_challenge.is_none(), Error::<T>::ChallengeOpen);
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(until > now, Error::<T>::PauseInPast);
			ensure!(until - now <= T::MaxPauseBlocks::get(), Error::<T>::PauseTooLong);
			let length: u32 = (until - now).unique_saturated_into();
			ensure!(length <= Self::pause_budget(&provider), Error::<T>::PauseBudgetExceeded);
			PauseEnds::<T>::try_mutate(until, |ends| ends.try_push(who.clone()))
				.map_err(|_| Error::<T>::PauseScheduleFull)?;

			Self::update_provider(&who, |p| {
				p.status = ProviderStatus::Paused { until };
				p.paused_blocks.add(now, T::FaultWindow::get(), length);
			});
			Self::deposit_event(Event::ProviderPaused { provider: who, until });
			Ok(())
		}

		/// Makes the caller active again: ends its pause early, or says it is back after the
		/// chain put it offline.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::unpause())]
		pub fn unpause(origin: OriginFor<T>) -> DispatchResult {
			let who = Self::duty_origin(origin)?;
			let provider = Providers::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			match provider.status {
				ProviderStatus::Active => return Err(Error::<T>::AlreadyActive.into()),
				ProviderStatus::Paused { until } => {
					PauseEnds::<T>::mutate(until, |ends| ends.retain(|a| a != &who));
					// The blocks it is not paused any more go back to its budget.
					let now = frame_system::Pallet::<T>::block_number();
					let unused: u32 = until.saturating_sub(now).unique_saturated_into();
					Self::update_provider(&who, |p| {
						p.paused_blocks.count = p.paused_blocks.count.saturating_sub(unused)
					});
				}
				ProviderStatus::Offline => {}
				ProviderStatus::Leaving | ProviderStatus::Ended => {
					return Err(Error::<T>::RegistrationEnded.into())
				}
			}
			Self::resume(&who);
			Ok(())
		}

		/// Publishes a hypercore feed, or updates a known one to a longer signed tree.
		///
		/// - `key`: the feed key; `manifest`: the feed's manifest as hypercore stores it
		///   (`None` for a compat feed, whose key is its signer's public key).
		/// - `length`, `fork`, `roots`, `signature`: the signed tree (full roots at `length`,
		///   and the signature as hypercore stores it), verified on chain.
		/// - `extension`: for a known key only, a hypercore upgrade proof from the stored
		///   length to `length` showing the new tree extends the stored one.
		///
		/// A new feed holds [`Config::FeedDeposit`] from the caller.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::publish_feed())]
		// The signed tree's parts as separate arguments, as hypercore names them, so that
		// polkadot.js shows one field each.
		#[allow(clippy::too_many_arguments)]
		pub fn publish_feed(
			origin: OriginFor<T>,
			key: FeedKey,
			manifest: Option<BoundedVec<u8, MaxManifestLen>>,
			length: u64,
			fork: u64,
			roots: BoundedVec<datdot_primitives::Node, MaxRoots>,
			signature: BoundedVec<u8, MaxSignatureLen>,
			extension: Option<alloc::boxed::Box<datdot_primitives::Proof>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let tree = datdot_primitives::SignedTree {
				length,
				fork,
				roots: roots.into_inner(),
				signature: signature.into_inner(),
			};
			Self::do_publish_feed(
				who,
				key,
				manifest.as_ref().map(|m| &m[..]),
				tree,
				extension.map(|p| *p),
			)
		}

		/// Publishes a hosting plan for a published feed: `replicas` copies of the blocks in
		/// `ranges` (sorted, disjoint, within the feed's signed length), each hosted for
		/// `duration` blocks. The plan is cut into contracts of at most
		/// [`Config::MaxBlocksPerContract`] blocks whose replicas are drawn in the next blocks:
		/// up to [`Config::MaxGrowthPerBlock`] contracts now (while the draw queue has room),
		/// the rest as many per block after, so a plan of any size up to
		/// [`Config::MaxContractsPerPlan`] costs this call the same. Its whole budget is held
		/// now.
		///
		/// - `friends`: a friends plan names the providers (at least `max(replicas, 3)`, not
		///   the sponsor) its encoders, hosters and attestors are drawn from.
		/// - `follow`: blocks appended to the feed later join the plan, in new contracts made
		///   a few per block after each update, until it has
		///   [`Config::MaxContractsPerPlan`].
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::publish_plan(T::MaxGrowthPerBlock::get()))]
		pub fn publish_plan(
			origin: OriginFor<T>,
			feed: FeedKey,
			ranges: BoundedVec<BlockRange, T::MaxRangesPerPlan>,
			replicas: u32,
			duration: BlockNumberFor<T>,
			friends: Option<BoundedVec<T::AccountId, T::MaxFriends>>,
			follow: bool,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let terms = PlanTerms { replicas, duration, friends, follow };
			let contracts = Self::do_publish_plan(who, feed, ranges, terms)?;
			Ok(Some(T::WeightInfo::publish_plan(contracts)).into())
		}

		/// Cancels the caller's plan: it ends now. Its replicas end in the next blocks (their
		/// hosters paid up to their last passed challenge, their space free again), replicas
		/// not drawn yet never will be, and the rest of the budget goes back (`PlanEnded`).
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::cancel_plan())]
		pub fn cancel_plan(origin: OriginFor<T>, plan: u64) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_cancel_plan(Some(who), plan)
		}

		/// The encoder of replica `replica` of `contract` confirms the encoded root (and
		/// segment count) of what it encoded and sent to the hoster. Free when accepted.
		#[pallet::call_index(7)]
		#[pallet::weight(
			// The second confirmation activates the replica and issues its spot check.
			T::WeightInfo::confirm_setup()
				.saturating_add(T::WeightInfo::issue_performance_challenges(1))
		)]
		pub fn encoding_done(
			origin: OriginFor<T>,
			contract: u64,
			replica: u32,
			root: EncodedRoot,
		) -> DispatchResultWithPostInfo {
			let who = Self::duty_origin(origin)?;
			Self::confirm_setup(who, ReplicaId { contract, replica }, root, Role::Encoder)?;
			Ok(Pays::No.into())
		}

		/// The hoster of replica `replica` of `contract` confirms it stores the replica and
		/// that it has this encoded root. Free when accepted.
		#[pallet::call_index(8)]
		#[pallet::weight(
			// The second confirmation activates the replica and issues its spot check.
			T::WeightInfo::confirm_setup()
				.saturating_add(T::WeightInfo::issue_performance_challenges(1))
		)]
		pub fn hosting_started(
			origin: OriginFor<T>,
			contract: u64,
			replica: u32,
			root: EncodedRoot,
		) -> DispatchResultWithPostInfo {
			let who = Self::duty_origin(origin)?;
			Self::confirm_setup(who, ReplicaId { contract, replica }, root, Role::Hoster)?;
			Ok(Pays::No.into())
		}

		/// The hoster of replica `replica` of `contract`, in setup, proves that the root its
		/// encoder committed is not the feed's sealed stream (design §5.6): `proof` carries one
		/// or two consecutive committed segments with their paths and the original block the
		/// first one's label names (see `datdot_primitives::fraud`). A proven fraud faults the
		/// encoder and draws the replica again with the same hoster and a new encoder; an
		/// invalid proof, or one that shows nothing wrong, is refused and changes nothing.
		#[pallet::call_index(18)]
		#[pallet::weight(T::WeightInfo::report_bad_encoding())]
		pub fn report_bad_encoding(
			origin: OriginFor<T>,
			contract: u64,
			replica: u32,
			proof: EncodingFraudProof,
		) -> DispatchResultWithPostInfo {
			let who = Self::duty_origin(origin)?;
			Self::do_report_bad_encoding(who, ReplicaId { contract, replica }, &proof)?;
			Ok(Pays::No.into())
		}

		/// The challenged hoster answers storage challenge `challenge`: one proof per
		/// challenged segment, in order (the segment's bytes and its merkle path to the
		/// replica's encoded root). Valid proofs pass the challenge (free); an invalid one
		/// fails it, and the hoster is faulted.
		#[pallet::call_index(9)]
		#[pallet::weight({
			let s = T::ChallengeSegments::get();
			T::WeightInfo::submit_storage_proof(s).max(T::WeightInfo::submit_storage_proof_passed(s))
		})]
		pub fn submit_storage_proof(
			origin: OriginFor<T>,
			challenge: u64,
			proofs: BoundedVec<SegmentProof, T::ChallengeSegments>,
		) -> DispatchResultWithPostInfo {
			let who = Self::duty_origin(origin)?;
			let passed = Self::do_submit_storage_proof(who, challenge, proofs)?;
			Ok(if passed { Pays::No.into() } else { Pays::Yes.into() })
		}

		/// The hoster of replica `replica` of `contract` says it no longer holds it (its
		/// node lost the data, or has no room to store it during setup), or its encoder says
		/// during setup, before committing a root, that it cannot encode it:
		/// [`Config::ReleasePenalty`] goes from the caller's deposit to the plan's budget and
		/// the replica is drawn again (a copy already being replaced just ends); the next
		/// draw of a released setup avoids the caller, and keeps the hoster when its encoder
		/// gave up. The other party is not struck. Refused while an open storage challenge of
		/// the hoster names the replica (that one must be answered or failed first), and to
		/// an encoder that already committed its root (a fraud proof may be due).
		#[pallet::call_index(10)]
		// The setup path is measured with both parties' registrations ending; the active
		// one with a full replica list, which cannot end the hoster's registration in the
		// same call: `unregister` bounds that removal.
		#[pallet::weight(
			T::WeightInfo::release_replica()
				.saturating_add(T::WeightInfo::unregister())
				.max(T::WeightInfo::release_replica_in_setup())
		)]
		pub fn release_replica(
			origin: OriginFor<T>,
			contract: u64,
			replica: u32,
		) -> DispatchResult {
			let who = Self::duty_origin(origin)?;
			Self::do_release_replica(who, ReplicaId { contract, replica })
		}

		/// Extends the caller's plan by `blocks`, holding the budget that hosting its
		/// replicas that much longer costs (`PricePerByteBlock` × bytes × replicas × blocks).
		#[pallet::call_index(12)]
		#[pallet::weight(T::WeightInfo::top_up_plan())]
		pub fn top_up_plan(
			origin: OriginFor<T>,
			plan: u64,
			blocks: BlockNumberFor<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_top_up_plan(who, plan, blocks)
		}

		/// Ends a plan now (root only), as its sponsor's `cancel_plan` would.
		#[pallet::call_index(13)]
		#[pallet::weight(T::WeightInfo::cancel_plan())]
		pub fn force_cancel_plan(origin: OriginFor<T>, plan: u64) -> DispatchResult {
			ensure_root(origin)?;
			Self::do_cancel_plan(None, plan)
		}

		/// Unregisters `provider` (root only), as its own `unregister` would: its replicas
		/// are handed over first.
		#[pallet::call_index(14)]
		#[pallet::weight(T::WeightInfo::unregister())]
		pub fn force_unregister(origin: OriginFor<T>, provider: T::AccountId) -> DispatchResult {
			ensure_root(origin)?;
			Self::do_unregister(provider)
		}

		/// Removes a feed the caller published and no plan uses any more, releasing its
		/// deposit.
		#[pallet::call_index(15)]
		#[pallet::weight(T::WeightInfo::remove_feed())]
		pub fn remove_feed(origin: OriginFor<T>, key: FeedKey) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_remove_feed(who, key)
		}

		/// Registers (or with `None` withdraws) the endpoint, `host:port`, where the caller's
		/// node seeds the feeds it hosts to hypercore readers (`--hypercore-listen`).
		/// `DatdotApi::plan_status` lists it with each replica the caller hosts.
		#[pallet::call_index(16)]
		#[pallet::weight(T::WeightInfo::set_endpoint())]
		pub fn set_endpoint(
			origin: OriginFor<T>,
			endpoint: Option<crate::endpoints::Endpoint>,
		) -> DispatchResult {
			let who = Self::duty_origin(origin)?;
			Self::do_set_endpoint(who, endpoint)
		}

		/// An attestor reports on its performance challenge (design §6): the blocks it read
		/// from the hoster with the hoster's proof of contact and the slowest round trip, or
		/// that the hoster did not serve. The proof of contact is checked and the attestor
		/// paid [`Config::AttestationFee`] from the replica's plan. A first `NotServed` asks a
		/// second attestor; the second's `NotServed` faults the hoster. A refused report
		/// changes nothing (and pays its fee), so the attestor may send a correct one before
		/// `due`. Free when accepted.
		#[pallet::call_index(17)]
		#[pallet::weight(
			T::WeightInfo::report_performance_served()
				.max(T::WeightInfo::report_performance_not_served())
		)]
		pub fn report_performance(
			origin: OriginFor<T>,
			challenge: u64,
			report: PerformanceReportOf<T>,
		) -> DispatchResultWithPostInfo {
			let who = Self::duty_origin(origin)?;
			Self::do_report_performance(who, challenge, report)?;
			Ok(Pays::No.into())
		}

		/// Sets the challenge periods, the offline grace and the base setup time (root only);
		/// `None` goes back to the runtime's constants. A new grace applies to providers
		/// going offline from now on, a new setup time to replicas drawn from now on.
		#[pallet::call_index(11)]
		#[pallet::weight(T::WeightInfo::set_timing())]
		pub fn set_timing(
			origin: OriginFor<T>,
			timing: Option<Timing<BlockNumberFor<T>>>,
		) -> DispatchResult {
			ensure_root(origin)?;
			if let Some(t) = timing {
				ensure!(
					t.challenge_period > 0
						&& t.performance_period > 0
						&& !t.offline_grace.is_zero()
						&& !t.setup_blocks.is_zero()
						&& t.setup_blocks <= T::SetupBlocks::get(),
					Error::<T>::InvalidTiming
				);
			}
			TimingOverride::<T>::set(timing);
			Self::deposit_event(Event::TimingSet { timing: Self::timing() });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// The periods in force: governance's, or the runtime's constants.
		pub fn timing() -> Timing<BlockNumberFor<T>> {
			TimingOverride::<T>::get().unwrap_or(Timing {
				challenge_period: T::ChallengePeriod::get(),
				offline_grace: T::OfflineGrace::get(),
				performance_period: T::PerformancePeriod::get(),
				setup_blocks: T::SetupBlocks::get(),
			})
		}

		/// The blocks `provider` may still be paused in the current `FaultWindow`.
		pub fn pause_budget(provider: &ProviderOf<T>) -> u32 {
			let now = frame_system::Pallet::<T>::block_number();
			let used = provider.paused_blocks.current(now, T::FaultWindow::get());
			T::MaxPausedPerWindow::get().saturating_sub(used)
		}

		/// Makes a registered, inactive provider active and drawable again.
		pub(crate) fn resume(who: &T::AccountId) {
			let resumed = Self::update_provider(who, |p| {
				let was_inactive = p.status != ProviderStatus::Active;
				p.status = ProviderStatus::Active;
				p.offline_since = None;
				was_inactive
			});
			if resumed == Some(true) {
				Self::deposit_event(Event::ProviderResumed { provider: who.clone() });
			}
		}

		/// The pallet's invariants: each provider index holds exactly the providers it
		/// admits, at the positions their records name; reservations and replica counters
		/// add up; every active replica has a registered hoster that lists it; no paused
		/// provider has an open challenge; every paused provider's pause end is scheduled.
		#[cfg(any(feature = "try-runtime", test))]
		pub fn do_try_state() -> Result<(), TryRuntimeError> {
			use alloc::collections::btree_map::BTreeMap;
			let now = frame_system::Pallet::<T>::block_number();
			Self::try_state_identity()?;
			for index in ProviderIndex::ALL {
				let len = index.count::<T>();
				for at in 0..len {
					let who = index.get::<T>(at).ok_or("hole in a provider index")?;
					let p =
						Providers::<T>::get(&who).ok_or("index names an unregistered provider")?;
					ensure!(index.at::<T>(&p) == Some(at), "index position is wrong");
				}
				ensure!(index.get::<T>(len).is_none(), "index entry past its length");
			}

			// A replica has a redraw hint only while it waits in the draw queue.
			for (contract, r, _) in RedrawHints::<T>::iter() {
				ensure!(
					!Replicas::<T>::contains_key(contract, r),
					"redraw hint of a drawn replica"
				);
				let id = ReplicaId { contract, replica: r };
				ensure!(
					DrawQueue::<T>::iter_values().any(|(queued, _)| queued == id),
					"redraw hint of a replica that is not queued"
				);
			}

			// What the replicas say each provider should have.
			let mut reserved = BTreeMap::<T::AccountId, u64>::new();
			let mut hosting = BTreeMap::<T::AccountId, u32>::new();
			let mut active = BTreeMap::<T::AccountId, u32>::new();
			let mut encoding = BTreeMap::<T::AccountId, u32>::new();
			for (contract, r, replica) in Replicas::<T>::iter() {
				ensure!(Contracts::<T>::contains_key(contract), "replica of an unknown contract");
				ensure!(Providers::<T>::contains_key(&replica.hoster), "replica without hoster");
				*reserved.entry(replica.hoster.clone()).or_default() += replica.reserved;
				*hosting.entry(replica.hoster.clone()).or_default() += 1;
				// An encoder holds its reservation until the setup ends.
				if matches!(replica.state, ReplicaState::Setup { .. }) {
					*reserved.entry(replica.encoder.clone()).or_default() += replica.reserved;
				}
				match replica.state {
					ReplicaState::Active { .. } => {
						*active.entry(replica.hoster.clone()).or_default() += 1;
						let id = ReplicaId { contract, replica: r };
						ensure!(
							HostedReplicas::<T>::get(&replica.hoster).contains(&id),
							"active replica missing from its hoster's list"
						);
						ensure!(replica.encoded.is_some(), "active replica without root");
					}
					ReplicaState::Setup { deadline } => {
						*encoding.entry(replica.encoder.clone()).or_default() += 1;
						ensure!(
							SetupDeadlines::<T>::get(deadline)
								.contains(&ReplicaId { contract, replica: r }),
							"setup deadline not scheduled"
						);
						// `setup_duties` scans no further.
						ensure!(
							deadline <= now.saturating_add(T::MaxSetupBlocks::get()),
							"setup deadline beyond MaxSetupBlocks"
						);
					}
				}
			}

			let mut counts = [0u32; 2];
			for (who, p) in Providers::<T>::iter() {
				ensure!(
					p.reserved == reserved.get(&who).copied().unwrap_or(0),
					"reserved bytes disagree with the replicas"
				);
				ensure!(p.hosting == hosting.get(&who).copied().unwrap_or(0), "hosting count");
				ensure!(
					p.active_replicas == active.get(&who).copied().unwrap_or(0)
						&& p.active_replicas
							== HostedReplicas::<T>::decode_len(&who).unwrap_or(0) as u32,
					"active replica count"
				);
				ensure!(p.encoding == encoding.get(&who).copied().unwrap_or(0), "encoding count");
				for (i, index) in ProviderIndex::ALL.into_iter().enumerate() {
					let admitted = index.admits::<T>(&p);
					ensure!(admitted == index.at::<T>(&p).is_some(), "index out of date");
					counts[i] += admitted as u32;
				}
				if p.status.is_departing() {
					ensure!(p.has_duties(), "a leaving or ended provider without duties remains");
					ensure!(p.evicting, "a leaving or ended provider is not being evicted");
				}
				if let ProviderStatus::Paused { until } = p.status {
					ensure!(PauseEnds::<T>::get(until).contains(&who), "pause end not scheduled");
					ensure!(p.open_challenge.is_none(), "open challenge for a paused provider");
				}
				if let Some(id) = p.open_challenge {
					let ch = Challenges::<T>::get(id).ok_or("open challenge not stored")?;
					ensure!(ch.hoster == who, "challenge names another hoster");
				}
			}
			for (i, index) in ProviderIndex::ALL.into_iter().enumerate() {
				ensure!(counts[i] == index.count::<T>(), "index length disagrees with records");
			}
			for (id, ch) in PerformanceChallenges::<T>::iter() {
				ensure!(
					PerformanceDue::<T>::get(ch.due).contains(&id),
					"performance challenge not scheduled"
				);
				ensure!(ch.hoster != ch.attestor, "a hoster attests itself");
			}
			for (who, id) in OpenPerformance::<T>::iter() {
				let ch = PerformanceChallenges::<T>::get(id)
					.ok_or("a hoster's open performance challenge is not stored")?;
				ensure!(ch.hoster == who, "an open performance challenge names another hoster");
			}
			for (who, _) in ServingRecords::<T>::iter() {
				ensure!(
					Providers::<T>::contains_key(&who),
					"a serving record outlived its provider"
				);
			}
			for (who, endpoint) in Endpoints::<T>::iter() {
				ensure!(Providers::<T>::contains_key(&who), "an endpoint outlived its provider");
				ensure!(crate::endpoints::is_endpoint(&endpoint), "a malformed endpoint is stored");
			}
			Self::try_state_growth()?;
			Self::try_state_money()
		}

		/// The money adds up: each account's holds for this pallet equal the deposits and
		/// unspent budgets its records say; every plan is scheduled to end at its end block,
		/// and each feed counts its plans.
		#[cfg(any(feature = "try-runtime", test))]
		fn try_state_money() -> Result<(), TryRuntimeError> {
			use alloc::collections::btree_map::BTreeMap;
			use frame::traits::fungible::InspectHold;
			// Keyed by the reason's index (`HoldReason` is not `Ord`), the reason kept beside.
			let mut expected = BTreeMap::<(T::AccountId, u8), (HoldReason, BalanceOf<T>)>::new();
			let mut add = |who: &T::AccountId, reason: HoldReason, amount: BalanceOf<T>| {
				let entry =
					expected.entry((who.clone(), reason as u8)).or_insert((reason, Zero::zero()));
				entry.1 = entry.1.saturating_add(amount);
			};
			let mut feed_plans = BTreeMap::<FeedKey, u32>::new();
			for (id, plan) in Plans::<T>::iter() {
				add(&plan.sponsor, HoldReason::PlanBudget, plan.budget);
				add(&plan.sponsor, HoldReason::PlanDeposit, plan.deposit);
				*feed_plans.entry(plan.feed).or_default() += 1;
				ensure!(PlanEnds::<T>::get(plan.ends_at).contains(&id), "plan end not scheduled");
			}
			for (key, feed) in Feeds::<T>::iter() {
				add(&feed.publisher, HoldReason::FeedDeposit, feed.deposit);
				ensure!(
					feed.plans == feed_plans.get(&key).copied().unwrap_or(0),
					"feed's plan count"
				);
			}
			for (who, p) in Providers::<T>::iter() {
				add(&who, HoldReason::ProviderDeposit, p.deposit);
			}
			for ((who, _), (reason, amount)) in expected {
				ensure!(
					T::Currency::balance_on_hold(&reason.into(), &who) == amount,
					"held funds disagree with the records"
				);
			}
			Ok(())
		}

		/// Every following plan is listed among its feed's followers, with contracts up to
		/// the length it covers; a feed waits in the growth queue exactly when flagged; a
		/// plan still being cut waits in the cut queue; a running plan's contracts reserve
		/// the bytes its budget was reckoned on (all of them once it is cut).
		#[cfg(any(feature = "try-runtime", test))]
		fn try_state_growth() -> Result<(), TryRuntimeError> {
			let now = frame_system::Pallet::<T>::block_number();
			let mut uncut = 0u32;
			for (id, plan) in Plans::<T>::iter() {
				if plan.follows {
					let followers = FeedFollowers::<T>::get(plan.feed);
					ensure!(followers.plans.contains(&id), "following plan not listed");
				}
				ensure!(plan.contracts <= T::MaxContractsPerPlan::get(), "plan over its limit");
				uncut += u32::from(plan.uncut.is_some());
				if plan.ends_at > now {
					let reserved = (0..plan.contracts)
						.filter_map(|i| Contracts::<T>::get(crate::plans::contract_id(id, i)))
						.fold(0u64, |sum, c| sum.saturating_add(c.reserve));
					match plan.uncut {
						None => ensure!(reserved == plan.bytes, "plan bytes disagree"),
						Some(_) => ensure!(reserved < plan.bytes, "cut plan still queued"),
					}
				}
			}
			ensure!(
				uncut <= crate::plans::CutQueueOf::<T>::len(),
				"plan waiting to be cut is not queued"
			);
			let queued = FeedFollowers::<T>::iter().filter(|(_, f)| f.growth_queued).count();
			ensure!(
				queued as u32 == crate::plans::GrowthQueueOf::<T>::len(),
				"growth queue and flags disagree"
			);
			Ok(())
		}
	}
}
