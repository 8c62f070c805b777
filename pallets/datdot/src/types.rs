//! The on-chain records of the datdot pallet.

use alloc::vec::Vec;
/// The replica and root types of the encoded format, as the runtime API names them.
pub use datdot_primitives::encoded::{EncodedRoot, ReplicaId};
/// A provider's public sealing key (RSA-2048 modulus), as `register` takes it.
pub use datdot_primitives::sealing::SealingKey;
use datdot_primitives::{
	hash::{Hash, Node},
	signing::FeedAuth,
};
use frame::prelude::*;

/// A feed's key: the ed25519 public key (compat) or the manifest hash (manifest v1).
pub type FeedKey = [u8; 32];

/// The most full roots a signed tree has (a tree of 2^60 blocks has 61).
pub type MaxRoots = ConstU32<64>;

/// The longest stored signature: hypercore's one-signer container (68 bytes).
pub type MaxSignatureLen = ConstU32<68>;

/// The longest manifest accepted (hypercore's encoding of a one-signer v1 manifest).
pub type MaxManifestLen = ConstU32<128>;

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
	/// Faulted (failed or missed a storage challenge): no new work, no challenges, until it
	/// calls `unpause`. Its replicas are replaced if it stays offline past `OfflineGrace`.
	Offline,
	/// Unregistered while it still had replicas: no new work; it keeps answering for its
	/// replicas until each is replaced, then leaves and gets its deposit back.
	Leaving,
	/// Registration ended by the chain (`MaxFaults` faults within `FaultWindow`, or a
	/// deposit that no longer covers a fault): no new work, no challenges; its replicas are
	/// replaced and what is left of its deposit is released after the last one.
	Ended,
}

impl<BlockNumber> ProviderStatus<BlockNumber> {
	/// Leaving or ended: the registration is on its way out and takes no new state.
	pub fn is_departing(&self) -> bool {
		matches!(self, ProviderStatus::Leaving | ProviderStatus::Ended)
	}
}

/// Events of one kind counted over a window of blocks that starts at the first of them.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct WindowCount<BlockNumber> {
	/// The block of the first event counted.
	pub start: BlockNumber,
	/// Events since `start`.
	pub count: u32,
}

impl<BlockNumber: Copy + PartialOrd + Saturating> WindowCount<BlockNumber> {
	/// Counts `n` at `now`, starting a new window if the current one (of `window` blocks)
	/// is over; returns the count in the window.
	pub fn add(&mut self, now: BlockNumber, window: BlockNumber, n: u32) -> u32 {
		if self.count == 0 || now >= self.start.saturating_add(window) {
			*self = Self { start: now, count: 0 };
		}
		self.count = self.count.saturating_add(n);
		self.count
	}

	/// Events counted in the window that is current at `now`.
	pub fn current(&self, now: BlockNumber, window: BlockNumber) -> u32 {
		if now >= self.start.saturating_add(window) {
			0
		} else {
			self.count
		}
	}
}

/// A registered provider: one account, one node (PeerId), a stated capacity.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxPeerIdLen, MaxRegionLen))]
pub struct Provider<Balance, BlockNumber, MaxPeerIdLen: Get<u32>, MaxRegionLen: Get<u32>> {
	/// The libp2p PeerId of the node that serves this provider's data.
	pub peer_id: BoundedVec<u8, MaxPeerIdLen>,
	/// The public key its node seals encodings with (design §7).
	pub sealing_key: SealingKey,
	/// Bytes the provider offered to store.
	pub capacity: u64,
	/// Bytes reserved by the replicas it hosts or sets up, and by the setups it encodes
	/// until they end (may exceed `capacity` when encodings turned out larger than
	/// estimated; it then takes no new work).
	pub reserved: u64,
	/// Where the provider says it is (free text, e.g. `eu-west`), for region-aware plans.
	pub region: Option<BoundedVec<u8, MaxRegionLen>>,
	/// The deposit held from the provider's balance; faults cost part of it.
	pub deposit: Balance,
	/// Active, paused or offline.
	pub status: ProviderStatus<BlockNumber>,
	/// Duties completed (encodings accepted, replicas started, challenges passed).
	pub jobs_done: u32,
	/// Proven faults (failed or missed challenges), ever.
	pub faults: u32,
	/// Faults in the current `FaultWindow`: `MaxFaults` of them end the registration.
	pub recent_faults: WindowCount<BlockNumber>,
	/// Strikes (setups it did not confirm, or whose roots differed) in the current
	/// `FaultWindow`: each lowers its chance of being drawn; `MaxStrikes` bench it.
	pub recent_strikes: WindowCount<BlockNumber>,
	/// Blocks paused in the current `FaultWindow` (at most `MaxPausedPerWindow`).
	pub paused_blocks: WindowCount<BlockNumber>,
	/// It is not drawn for new work before this block (benched after `MaxStrikes`).
	pub benched_until: BlockNumber,
	/// Since when it is offline (the block of the fault), while it is.
	pub offline_since: Option<BlockNumber>,
	/// Its replicas are being handed over to others (it ended, is leaving, or stayed
	/// offline past `OfflineGrace`).
	pub evicting: bool,
	/// Replicas this provider hosts or is setting up as hoster.
	pub hosting: u32,
	/// Of those, the active ones (what storage challenges pick from).
	pub active_replicas: u32,
	/// Replicas this provider is encoding (setup not finished yet).
	pub encoding: u32,
	/// The storage challenge it has to answer, if any.
	pub open_challenge: Option<u64>,
	/// Position in the eligibility index (see `index`), if it can be drawn for new work.
	pub eligible_at: Option<u32>,
	/// Position in the challenge index (see `index`), if it can be challenged now.
	pub challengeable_at: Option<u32>,
	/// The block of its last passed storage challenge: its replicas' pay accrues up to here.
	pub last_pass: BlockNumber,
	/// The block of its last fault: pay that accrued before it and was not settled is
	/// forfeited.
	pub pay_floor: BlockNumber,
}

impl<Balance, BlockNumber: Default, MaxPeerIdLen: Get<u32>, MaxRegionLen: Get<u32>>
	Provider<Balance, BlockNumber, MaxPeerIdLen, MaxRegionLen>
{
	/// A newly registered, active provider with no work yet (not yet in any index).
	pub fn new(
		peer_id: BoundedVec<u8, MaxPeerIdLen>,
		sealing_key: SealingKey,
		capacity: u64,
		region: Option<BoundedVec<u8, MaxRegionLen>>,
		deposit: Balance,
	) -> Self {
		Provider {
			peer_id,
			sealing_key,
			capacity,
			reserved: 0,
			region,
			deposit,
			status: ProviderStatus::Active,
			jobs_done: 0,
			faults: 0,
			recent_faults: Default::default(),
			recent_strikes: Default::default(),
			paused_blocks: Default::default(),
			benched_until: Default::default(),
			offline_since: None,
			evicting: false,
			hosting: 0,
			active_replicas: 0,
			encoding: 0,
			open_challenge: None,
			eligible_at: None,
			challengeable_at: None,
			last_pass: Default::default(),
			pay_floor: Default::default(),
		}
	}

	/// Bytes of its capacity not reserved yet.
	pub fn free_capacity(&self) -> u64 {
		self.capacity.saturating_sub(self.reserved)
	}

	/// Whether the provider can be drawn for new work that needs `needed` free bytes.
	pub fn can_take_work(&self, needed: u64) -> bool {
		matches!(self.status, ProviderStatus::Active) && self.free_capacity() >= needed
	}

	/// Whether a new storage challenge may be issued to the provider: it is active (or
	/// leaving, with replicas not handed over yet), hosts active replicas and has no
	/// challenge open.
	pub fn can_be_challenged(&self) -> bool {
		matches!(self.status, ProviderStatus::Active | ProviderStatus::Leaving)
			&& self.active_replicas > 0
			&& self.open_challenge.is_none()
	}

	/// Whether the provider has duties that must be handed over before it leaves.
	pub fn has_duties(&self) -> bool {
		self.hosting > 0 || self.encoding > 0
	}
}

/// A verified hypercore feed: what its author signed, as the chain last checked it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Feed<AccountId, Balance, BlockNumber> {
	/// Key, signer public key and signing mode.
	pub auth: FeedAuth,
	/// Signed length (blocks).
	pub length: u64,
	/// Fork counter of the signed tree.
	pub fork: u64,
	/// Total bytes of the feed's `length` blocks.
	pub byte_length: u64,
	/// The full roots at `length`, left to right.
	pub roots: BoundedVec<Node, MaxRoots>,
	/// The tree hash the signature covers.
	pub tree_hash: Hash,
	/// The stored signature, as hypercore keeps it.
	pub signature: BoundedVec<u8, MaxSignatureLen>,
	/// The account that first published the feed and whose deposit is held for it.
	pub publisher: AccountId,
	/// That deposit.
	pub deposit: Balance,
	/// The block of the last publish or update.
	pub updated_at: BlockNumber,
	/// Plans of this feed that have not ended; the feed can be removed when none is left.
	pub plans: u32,
}

/// Blocks `start..end` of a feed (end exclusive).
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
pub struct BlockRange {
	/// First block.
	pub start: u64,
	/// One past the last block.
	pub end: u64,
}

/// The first block of a plan's ranges not yet cut into contracts, and the feed's size its
/// budget was reckoned on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct PlanCursor {
	/// Index of the range in the plan's `ranges`.
	pub range: u32,
	/// The block in that range.
	pub start: u64,
	/// The feed's length in blocks when the plan was published.
	pub feed_length: u64,
	/// The feed's length in bytes then: later contracts reserve what the budget paid for,
	/// even if the feed grew meanwhile (its blocks' mean size changed).
	pub feed_bytes: u64,
}

/// A sponsor's hosting plan for a feed, cut into contracts `first_contract..+contracts`.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxRanges, MaxFriends))]
pub struct Plan<AccountId, Balance, BlockNumber, MaxRanges: Get<u32>, MaxFriends: Get<u32>> {
	/// Who published (and may cancel) the plan.
	pub sponsor: AccountId,
	/// The feed hosted.
	pub feed: FeedKey,
	/// The block ranges hosted.
	pub ranges: BoundedVec<BlockRange, MaxRanges>,
	/// Replicas per contract.
	pub replicas: u32,
	/// The block the plan ends at (its replicas end, its budget's rest goes back).
	pub ends_at: BlockNumber,
	/// Billable bytes of one copy of the plan: the sum of its contracts' reserves.
	pub bytes: u64,
	/// The unspent budget, held from the sponsor ([`crate::HoldReason::PlanBudget`]).
	pub budget: Balance,
	/// The deposit for the plan's records, held from the sponsor until it ends.
	pub deposit: Balance,
	/// Why it ends before its end block (cancelled, budget spent); `None` while it runs
	/// to its end block.
	pub ending: Option<PlanEnd>,
	/// Id of the plan's first contract; its contracts are numbered consecutively.
	pub first_contract: u64,
	/// Number of contracts made so far.
	pub contracts: u32,
	/// Where the contracts still to be made start in `ranges`; `None` once every range is
	/// cut. A large plan is cut a few contracts per block (see [`crate::plans`]).
	pub uncut: Option<PlanCursor>,
	/// The providers a friends plan draws its encoders, hosters and attestors from; `None`
	/// draws from every eligible provider.
	pub friends: Option<BoundedVec<AccountId, MaxFriends>>,
	/// Whether blocks appended to the feed join the plan.
	pub follows: bool,
	/// The feed length the plan has contracts up to (for a plan that follows its feed).
	pub covered: u64,
}

/// What a sponsor asks of a new plan besides its feed and ranges.
pub struct PlanTerms<AccountId, BlockNumber, MaxFriends: Get<u32>> {
	/// Copies per contract.
	pub replicas: u32,
	/// How long each copy is hosted, in blocks.
	pub duration: BlockNumber,
	/// The providers a friends plan draws from.
	pub friends: Option<BoundedVec<AccountId, MaxFriends>>,
	/// Whether blocks appended to the feed join the plan.
	pub follow: bool,
}

/// The plans that follow a feed's growth, and whether the feed waits in the growth queue.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
	DefaultNoBound,
	Encode,
	Decode,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxFollowers))]
pub struct Followers<MaxFollowers: Get<u32>> {
	/// The following plans, oldest first.
	pub plans: BoundedVec<u64, MaxFollowers>,
	/// Whether the feed grew and its followers' new contracts are still to be made.
	pub growth_queued: bool,
}

/// One unit of hosting: up to `MaxBlocksPerContract` blocks of a feed, in `replicas` copies.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Contract<AccountId> {
	/// The plan the contract belongs to.
	pub plan: u64,
	/// The plan's sponsor (never drawn for the contract's work).
	pub sponsor: AccountId,
	/// The feed.
	pub feed: FeedKey,
	/// The blocks.
	pub blocks: BlockRange,
	/// Copies wanted.
	pub replicas: u32,
	/// Bytes a hoster reserves for one replica until its real encoded size is known.
	pub reserve: u64,
}

/// Where a replica is in its life.
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
pub enum ReplicaState<BlockNumber> {
	/// Encoder and hoster must both confirm the same encoded root by `deadline`.
	Setup {
		/// The last block at which confirmations count.
		deadline: BlockNumber,
	},
	/// Stored and challenged.
	Active {
		/// The block it became active.
		since: BlockNumber,
		/// The last block a storage proof covering it was accepted.
		last_proof: Option<BlockNumber>,
		/// Its hoster has been paid (or has forfeited the pay) up to this block.
		paid_until: BlockNumber,
	},
}

/// One copy of a contract's blocks: who makes it, who keeps it, and its commitment.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Replica<AccountId, BlockNumber> {
	/// Fetches, encodes and streams the replica to the hoster.
	pub encoder: AccountId,
	/// Stores the replica and answers its storage challenges.
	pub hoster: AccountId,
	/// Spot-checks the setup.
	pub attestor: AccountId,
	/// Setup or active.
	pub state: ReplicaState<BlockNumber>,
	/// Bytes reserved from the hoster's capacity (and, while in setup, as much from the
	/// encoder's).
	pub reserved: u64,
	/// The root the encoder confirmed.
	pub encoded: Option<EncodedRoot>,
	/// The root the hoster confirmed.
	pub hosted: Option<EncodedRoot>,
	/// A successor is being set up at the partner index ([`successor_index`]); this replica
	/// keeps its hoster's duty until the successor is active, then ends.
	pub replacing: bool,
}

/// What a replica waiting to be drawn again keeps from its last setup.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub enum RedrawHint<AccountId> {
	/// Its encoder was proven to cheat (`report_bad_encoding`): the hoster keeps its place
	/// and only the encoder is drawn anew.
	KeepHoster(AccountId),
	/// Its setup failed and these workers were struck, or its hoster gave the setup up
	/// (`release_replica`, encoder `None`): the next draw gives neither of them
	/// the replica to encode or host, so a withholding encoder and a hoster that does not
	/// store are not paired again. When only they could take it, the draw after next
	/// ignores the hint (a replica never waits on it for long).
	AvoidStruck { encoder: Option<AccountId>, hoster: Option<AccountId> },
	/// Its encoder gave the setup up before committing (`release_replica`): the hoster
	/// keeps its place, and the next draw does not give the replica back to that encoder.
	/// A draw that must wait keeps only the hoster's place (as `KeepHoster`), so the
	/// replica never waits on the encoder it avoids.
	KeepHosterNewEncoder { hoster: AccountId, encoder: AccountId },
}

impl<AccountId: PartialEq> RedrawHint<AccountId> {
	/// Whether `who` may not encode or host the replica in this draw.
	pub fn avoids(&self, who: &AccountId) -> bool {
		match self {
			Self::KeepHoster(_) => false,
			Self::KeepHosterNewEncoder { encoder, .. } => encoder == who,
			Self::AvoidStruck { encoder, hoster } => {
				encoder.as_ref() == Some(who) || hoster.as_ref() == Some(who)
			}
		}
	}
}

/// The index a replacement of replica `index` takes in a contract of `replicas` copies:
/// each copy has two slots, `i` and `i + replicas`, so that a successor and the replica it
/// replaces live side by side until the handover.
pub fn successor_index(index: u32, replicas: u32) -> u32 {
	if index < replicas {
		index.saturating_add(replicas)
	} else {
		index.saturating_sub(replicas)
	}
}

/// Why a storage challenge failed.
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
pub enum ChallengeFailure {
	/// No answer before the due block.
	Missed,
	/// The proof of the segment at this position of the challenge did not verify.
	InvalidProof {
		/// Position in the challenge's segment list.
		position: u32,
		/// What was wrong with it.
		error: datdot_primitives::Error,
	},
}

/// A storage challenge: the hoster must prove it holds these segments by `due`.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxSegments))]
pub struct StorageChallenge<AccountId, BlockNumber, MaxSegments: Get<u32>> {
	/// The challenged hoster.
	pub hoster: AccountId,
	/// The last block an answer is accepted.
	pub due: BlockNumber,
	/// The segments to prove: (replica, segment index).
	pub segments: BoundedVec<(ReplicaId, u64), MaxSegments>,
}

/// A performance challenge (design §6): `attestor` reads `blocks` of `replica`'s feed from
/// `hoster`'s endpoint the way any hypercore reader would, and reports by `due`.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxBlocks))]
pub struct PerformanceChallenge<AccountId, BlockNumber, MaxBlocks: Get<u32>> {
	/// The hoster whose serving is measured.
	pub hoster: AccountId,
	/// The provider that reads and reports.
	pub attestor: AccountId,
	/// The replica whose blocks are read (its plan pays the attestor).
	pub replica: ReplicaId,
	/// The feed blocks to read, in order.
	pub blocks: BoundedVec<u64, MaxBlocks>,
	/// The last block a report is accepted.
	pub due: BlockNumber,
	/// A second opinion, asked after another attestor reported the hoster silent: only
	/// this one's `NotServed` faults the hoster.
	pub recheck: bool,
	/// Drawn from the chain's randomness at issue: a recheck's attestor is drawn from it,
	/// so the first attestor cannot steer the draw by when it reports.
	pub seed: [u8; 32],
}

/// An attestor's report on a performance challenge.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	frame::deps::frame_support::DebugNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
)]
#[scale_info(skip_type_params(MaxBlocks))]
// The derives restate `Signature`'s bounds; the inline ones are what `NoBound` keeps.
#[allow(clippy::multiple_bound_locations)]
pub enum PerformanceReport<
	Signature: Clone + PartialEq + Eq + core::fmt::Debug,
	MaxBlocks: Get<u32>,
> {
	/// Every block arrived and verified against the feed's signed tree.
	Served {
		/// The slowest block's round trip, in milliseconds.
		latency_ms: u32,
		/// Hypercore's leaf hash of each block read, in the challenge's order.
		hashes: BoundedVec<Hash, MaxBlocks>,
		/// The hoster's signature over [`contact_message`] (proof of contact).
		contact: Signature,
	},
	/// The hoster did not serve (no endpoint, refused, timed out or sent bad data).
	NotServed,
}

/// How fast a hoster served an attestor, in the buckets of [`LatencyGrade::of`].
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
pub enum LatencyGrade {
	/// Up to 500 ms for the slowest block.
	Fast,
	/// Up to 2 s.
	Good,
	/// Slower: served, but a reader would notice.
	Slow,
}

impl LatencyGrade {
	/// The bucket of a round trip of `ms` milliseconds.
	pub fn of(ms: u32) -> Self {
		match ms {
			0..=500 => LatencyGrade::Fast,
			501..=2_000 => LatencyGrade::Good,
			_ => LatencyGrade::Slow,
		}
	}
}

/// What came of a performance challenge (event `PerformanceReported`).
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
pub enum PerformanceOutcome {
	/// Served, with the grade of its latency.
	Served(LatencyGrade),
	/// Reported silent by a first attestor: a second one is asked before anyone is faulted.
	Rechecking,
	/// Reported silent by a second attestor too: the hoster is faulted.
	Faulted,
	/// Reported silent, but no second attestor could be drawn: nobody is faulted.
	Unconfirmed,
}

/// How a hoster has served attestors (its performance record, for sponsors and readers).
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct ServingRecord {
	/// Reports graded fast.
	pub fast: u32,
	/// Reports graded good.
	pub good: u32,
	/// Reports graded slow.
	pub slow: u32,
	/// Reports that it did not serve (first opinions and confirmed ones).
	pub not_served: u32,
}

/// The message a hoster signs as proof that `attestor` read these blocks from it for
/// performance challenge `challenge`: SCALE of a domain tag, the id, the attestor and the
/// blocks' leaf hashes. The hoster's node and the chain build it with this one function.
pub fn contact_message<AccountId: Encode>(
	challenge: u64,
	attestor: &AccountId,
	hashes: &[Hash],
) -> alloc::vec::Vec<u8> {
	(b"datdot/contact/v1", challenge, attestor, hashes).encode()
}

/// Why a replica's setup failed.
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
pub enum SetupFailure {
	/// The deadline passed before both confirmed. The chain cannot tell who withheld
	/// what, so nobody is slashed: those who had not confirmed get a strike.
	Timeout,
	/// Encoder and hoster confirmed different roots; neither can be blamed on chain
	/// alone: both get a strike.
	Mismatch,
}

/// Who confirms a replica's setup.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum Role {
	/// The replica's encoder (`encoding_done`).
	Encoder,
	/// The replica's hoster (`hosting_started`).
	Hoster,
}

/// A replica in setup in which a provider has a part: everything its node needs to do that
/// part (runtime API `DatdotApi::setup_duties`).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct SetupDuty<AccountId, BlockNumber> {
	/// The replica.
	pub id: ReplicaId,
	/// The provider's part in it.
	pub role: Role,
	/// The provider.
	pub provider: AccountId,
	/// The feed's signed state as the chain stores it (every block must prove into it).
	pub feed: FeedState,
	/// The contract's blocks.
	pub blocks: BlockRange,
	/// PeerId (bytes) of the encoder's node: the hoster fetches the sealed stream from it.
	pub encoder_peer: Vec<u8>,
	/// The encoder's sealing key: the hoster unseals the stream with it (`None` once the
	/// encoder has left).
	pub encoder_key: Option<SealingKey>,
	/// PeerId (bytes) of the hoster's node: the only node the encoder streams to.
	pub hoster_peer: Vec<u8>,
	/// The root the encoder committed, once it has: a hoster proves a bad stream against it.
	pub encoded: Option<EncodedRoot>,
	/// The last block at which confirmations count.
	pub deadline: BlockNumber,
	/// Whether this provider has already confirmed (its part is done).
	pub confirmed: bool,
	/// Bytes the chain holds from the hoster's and the encoder's capacity for the replica
	/// until it is active: each node reserves the same in its store before it writes the
	/// stream.
	pub reserved: u64,
}

/// A performance challenge an attestor must report on (runtime API
/// `DatdotApi::performance_duties`).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct PerformanceDuty<AccountId, BlockNumber> {
	/// The challenge.
	pub challenge: u64,
	/// The attestor.
	pub attestor: AccountId,
	/// The hoster to read.
	pub hoster: AccountId,
	/// The hoster's duty key, which signs its proof of contact (`None` once it left).
	pub hoster_duty_key: Option<AccountId>,
	/// Where the hoster seeds (`host:port`), if it registered an endpoint.
	pub endpoint: Option<Vec<u8>>,
	/// The feed's signed state: every block read must prove into it.
	pub feed: FeedState,
	/// The blocks to read.
	pub blocks: Vec<u64>,
	/// The last block a report is accepted.
	pub due: BlockNumber,
}

/// A feed's signed state as the chain stores it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct FeedState {
	/// Key, signer public key and signing mode.
	pub auth: FeedAuth,
	/// Signed length (blocks).
	pub length: u64,
	/// Fork counter of the signed tree.
	pub fork: u64,
	/// The full roots at `length`.
	pub roots: Vec<Node>,
}

/// A replica of a plan as the chain sees it (runtime API `DatdotApi::plan_status`).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct ReplicaStatus<AccountId, BlockNumber> {
	/// The replica.
	pub id: ReplicaId,
	/// Its blocks.
	pub blocks: BlockRange,
	/// Its hoster, `None` while it waits in the draw queue.
	pub hoster: Option<AccountId>,
	/// Setup (with its deadline) or active (with its last accepted proof).
	pub state: Option<ReplicaState<BlockNumber>>,
	/// The encoded root both sides confirmed, once active.
	pub root: Option<EncodedRoot>,
	/// Where the hoster's node seeds the feed to hypercore readers, if it registered one.
	pub endpoint: Option<Vec<u8>>,
}

/// Periods governance may tune without a runtime upgrade (a test network shortens them so
/// that challenges and replacements happen within minutes); the runtime's constants are the
/// defaults.
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
pub struct Timing<BlockNumber> {
	/// Mean blocks between two storage challenges of one hoster (see
	/// `Config::ChallengePeriod`).
	pub challenge_period: u32,
	/// Blocks a hoster may stay offline before its replicas are replaced (see
	/// `Config::OfflineGrace`).
	pub offline_grace: BlockNumber,
	/// Mean blocks between two performance challenges of one hoster (see
	/// `Config::PerformancePeriod`).
	pub performance_period: u32,
	/// Blocks encoder and hoster have to confirm a new replica, before the blocks its bytes
	/// add (`Config::SetupBytesPerBlock`, up to `Config::MaxSetupBlocks` in all); at most
	/// `Config::SetupBlocks`.
	pub setup_blocks: BlockNumber,
}

/// What a provider was paid for (event `ProviderPaid`).
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
pub enum Work<BlockNumber> {
	/// Hosting a replica for the proven blocks `from..to` (`from` exclusive).
	Hosting {
		/// The replica.
		replica: ReplicaId,
		/// The last block paid before (or forfeited).
		from: BlockNumber,
		/// The last block paid now: its hoster's last passed challenge, or the plan's end.
		to: BlockNumber,
	},
	/// An accepted encoding of a replica.
	Encoding {
		/// The replica.
		replica: ReplicaId,
	},
	/// An accepted report on performance challenge `challenge` of a replica.
	Attestation {
		/// The replica read.
		replica: ReplicaId,
		/// The challenge.
		challenge: u64,
	},
}

/// Why a plan ended.
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
pub enum PlanEnd {
	/// Its end block came.
	Expired,
	/// Its sponsor cancelled it.
	Cancelled,
	/// Governance cancelled it (`force_cancel_plan`).
	ForceCancelled,
	/// Its budget could not pay what its providers earned.
	BudgetSpent,
}

/// Where the work of ending plans is: plans ending at `block` (`PlanEnds`), from position
/// `position` of that list, from contract `contract` of that plan.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct EndCursor<BlockNumber> {
	/// The block whose list is being worked through (no earlier block has one left).
	pub block: BlockNumber,
	/// The position in that list.
	pub position: u32,
	/// The next contract index of the plan at that position.
	pub contract: u32,
}

/// Why a plan stopped following its feed.
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
pub enum FollowStop {
	/// It has `MaxContractsPerPlan` contracts.
	PlanFull,
	/// The sponsor's balance could not hold the budget for the blocks the feed gained.
	BudgetRefused,
}
