//! Configuration of every pallet in the runtime.

use crate::*;
use frame_support::dispatch::DispatchClass;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		IdentityFee, Weight,
	},
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_runtime::{traits::One, Perbill};
use sp_version::RuntimeVersion;

const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
	pub const BlockHashCount: BlockNumber = 2400;
	pub const Version: RuntimeVersion = VERSION;

	/// Two seconds of compute per 6 s block, as in polkadot-sdk's solochain defaults.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(2u64 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(5 * 1024 * 1024)
		.modify_max_length_for_class(DispatchClass::Normal, |m| *m = NORMAL_DISPATCH_RATIO * *m)
		.build();
	pub const SS58Prefix: u8 = 42;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	// The node is built with ParityDB only (see docs/decisions.md).
	type DbWeight = ParityDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
}

parameter_types! {
	pub const EpochDuration: u64 = EPOCH_DURATION_IN_SLOTS;
	pub const ExpectedBlockTime: u64 = MILLISECS_PER_BLOCK;
}

impl pallet_babe::Config for Runtime {
	type EpochDuration = EpochDuration;
	type ExpectedBlockTime = ExpectedBlockTime;
	// Validators are fixed at genesis on this solochain (no staking, no session pallet).
	type EpochChangeTrigger = pallet_babe::SameAuthoritiesForever;
	type DisabledValidators = ();
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<32>;
	type MaxNominators = ConstU32<0>;
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<32>;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<0>;
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

impl pallet_timestamp::Config for Runtime {
	type Moment = u64;
	// BABE derives slots from the timestamp.
	type OnTimestampSet = Babe;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ();
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	pub FeeMultiplier: Multiplier = Multiplier::one();
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = IdentityFee<Balance>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Held from each provider while registered; faults cost part of it.
	pub const ProviderDeposit: Balance = 100 * UNIT;
	/// Held from a feed's first publisher for its on-chain record (up to ~3.3 KiB).
	pub const FeedDeposit: Balance = 10 * UNIT;
	/// Taken from a provider's deposit per fault (into the hurt plan's budget): ten faults
	/// use the deposit up.
	pub const FaultSlash: Balance = 10 * UNIT;
	/// Taken when a hoster releases a replica it lost: a tenth of a fault.
	pub const ReleasePenalty: Balance = UNIT;
	/// A picounit per byte per block: hosting 1 GiB for a day (14 400 blocks) earns about
	/// 15.5 UNIT per replica.
	pub const PricePerByteBlock: Balance = 1;
	/// Paid to an encoder per accepted encoding.
	pub const EncodingFee: Balance = 10 * MILLI_UNIT;
	/// Held per replica for attestation (returned until attestors are paid).
	pub const AttestationFee: Balance = 10 * MILLI_UNIT;
	/// Held from a sponsor per plan for its records (up to ~1 KiB plus its contracts').
	pub const PlanDeposit: Balance = UNIT;
}

impl pallet_datdot::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ProviderDeposit = ProviderDeposit;
	// A provider must be able to hold at least a few contracts (64 blocks each).
	type MinCapacity = ConstU64<{ 64 * 1024 * 1024 }>;
	type MinFreeCapacity = ConstU64<{ 16 * 1024 * 1024 }>;
	// Protocol default: pauses of at most 600 blocks (one hour).
	type MaxPauseBlocks = ConstU32<600>;
	type MaxPauseEndsPerBlock = ConstU32<16>;
	type MaxProviders = ConstU32<100_000>;
	type MaxPeerIdLen = ConstU32<64>;
	type MaxRegionLen = ConstU32<32>;
	// BABE's VRF output of the block being built (mixed with a subject per draw).
	type Randomness = pallet_babe::ParentBlockRandomness<Runtime>;
	type FeedDeposit = FeedDeposit;
	type FaultSlash = FaultSlash;
	// Protocol defaults: contracts of 64 blocks, 50 blocks to set a replica up, a storage
	// challenge about every 20 blocks per hoster with 10 blocks to answer.
	type MaxBlocksPerContract = ConstU32<64>;
	// 4 TiB in 64 KiB blocks; a plan is cut 16 contracts a block (`MaxGrowthPerBlock`).
	type MaxContractsPerPlan = ConstU32<{ 1 << 20 }>;
	type MaxPlansBeingCut = ConstU32<1024>;
	type MaxRangesPerPlan = ConstU32<16>;
	type MaxFriends = ConstU32<32>;
	type MaxFollowers = ConstU32<8>;
	type MaxGrowingFeeds = ConstU32<1024>;
	type MaxGrowthPerBlock = ConstU32<16>;
	type MaxReplicas = ConstU32<8>;
	// Room to requeue every setup in flight (16 × 301) and queue new plans besides.
	type MaxQueuedDraws = ConstU32<8192>;
	type MaxDrawsPerBlock = ConstU32<16>;
	// A copy nobody qualifies for stops waiting after a day.
	type MaxDrawWait = ConstU32<14_400>;
	type SetupBlocks = ConstU32<50>;
	// Sealing runs at ~0.92 MiB/s per core (docs/benchmarks.md); a node sealing its 8
	// encodings (`MaxEncodingsPerProvider`) on one core gives each ~0.7 MiB a block. At a
	// block per 512 KiB a 64 MiB contract has 178 blocks (~18 minutes) to set up; the cap,
	// 300 blocks (30 minutes), is reached past ~125 MiB.
	type SetupBytesPerBlock = ConstU64<{ 512 * 1024 }>;
	type MaxSetupBlocks = ConstU32<300>;
	type MaxReplicasPerHoster = ConstU32<1024>;
	// As many as a node sets up at once by default (`--max-setup-parts`).
	type MaxEncodingsPerProvider = ConstU32<8>;
	type ChallengePeriod = ConstU32<20>;
	type AnswerBlocks = ConstU32<10>;
	type ChallengeSegments = ConstU32<4>;
	type MaxChallengesPerBlock = ConstU32<64>;
	// Protocol default: a performance challenge about every 100 blocks per hoster, two
	// blocks read, 10 blocks to report.
	type PerformancePeriod = ConstU32<100>;
	type PerformanceBlocks = ConstU32<2>;
	type ReportBlocks = ConstU32<10>;
	type MaxPerformanceChallengesPerBlock = ConstU32<64>;
	type DutySignature = sp_runtime::MultiSignature;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = Sr25519ContactSigner;
	// Protocol defaults: 3 faults in 14 400 blocks (a day) end a registration; an offline
	// hoster's replicas are replaced after 100 blocks (10 minutes).
	type MaxFaults = ConstU32<3>;
	// At most 1 200 paused blocks (two hours) per window.
	type MaxPausedPerWindow = ConstU32<1_200>;
	type FaultWindow = ConstU32<14_400>;
	type MaxStrikes = ConstU32<3>;
	type StrikeBench = ConstU32<600>;
	type OfflineGrace = ConstU32<100>;
	type ReleasePenalty = ReleasePenalty;
	type MaxReplacementsPerBlock = ConstU32<16>;
	type PricePerByteBlock = PricePerByteBlock;
	type EncodingFee = EncodingFee;
	type AttestationFee = AttestationFee;
	type PlanDeposit = PlanDeposit;
	type MaxPlanEndsPerBlock = ConstU32<1024>;
	// Each step ends one contract (up to 16 replica slots): ~0.3 ms.
	type MaxPlanEndStepsPerBlock = ConstU32<32>;
	type WeightInfo = pallet_datdot::weights::SubstrateWeight<Runtime>;
	// Provider nodes sign their duties with `dtdt` sr25519 keys from their keystore.
	type ProviderKey = pallet_datdot::offchain::crypto::ProviderKey;
}

impl frame_system::offchain::SigningTypes for Runtime {
	type Public = <Signature as Verify>::Signer;
	type Signature = Signature;
}

impl<C> frame_system::offchain::CreateTransactionBase<C> for Runtime
where
	RuntimeCall: From<C>,
{
	type Extrinsic = UncheckedExtrinsic;
	type RuntimeCall = RuntimeCall;
}

impl<C> frame_system::offchain::CreateSignedTransaction<C> for Runtime
where
	RuntimeCall: From<C>,
{
	fn create_signed_transaction<
		K: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>,
	>(
		call: RuntimeCall,
		public: <Signature as Verify>::Signer,
		account: AccountId,
		nonce: Nonce,
	) -> Option<UncheckedExtrinsic> {
		let current = System::block_number().saturating_sub(1) as u64;
		let extension: TxExtension = (
			frame_system::CheckNonZeroSender::<Runtime>::new(),
			frame_system::CheckSpecVersion::<Runtime>::new(),
			frame_system::CheckTxVersion::<Runtime>::new(),
			frame_system::CheckGenesis::<Runtime>::new(),
			// The off-chain worker's nonce record counts on this period (see its docs).
			frame_system::CheckEra::<Runtime>::from(sp_runtime::generic::Era::mortal(
				pallet_datdot::offchain::DUTY_TRANSACTION_PERIOD.into(),
				current,
			)),
			frame_system::CheckNonce::<Runtime>::from(nonce),
			frame_system::CheckWeight::<Runtime>::new(),
			pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(0),
		);
		let payload = SignedPayload::new(call, extension).ok()?;
		let signature = codec::Encode::using_encoded(&payload, |bytes| K::sign(bytes, public))?;
		let (call, extension, _) = payload.deconstruct();
		Some(UncheckedExtrinsic::new_signed(call, MultiAddress::Id(account), signature, extension))
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl frame_system_benchmarking::Config for Runtime {}

#[cfg(feature = "runtime-benchmarks")]
impl frame_benchmarking::baseline::Config for Runtime {}

/// Signs proofs of contact in the benchmarks with an sr25519 key of the benchmark keystore,
/// as a hoster's node signs them with its provider key.
#[cfg(feature = "runtime-benchmarks")]
pub struct Sr25519ContactSigner;

#[cfg(feature = "runtime-benchmarks")]
impl pallet_datdot::identity::PeerSigner<AccountId> for Sr25519ContactSigner {
	fn peer_identity(account: &AccountId) -> (alloc::vec::Vec<u8>, pallet_datdot::PeerSignature) {
		// A fresh key from the benchmark's keystore, as a node's libp2p key.
		use sp_runtime::app_crypto::RuntimePublic;
		let key_type = sp_core::crypto::KeyTypeId(*b"peer");
		let public = sp_core::ed25519::Public::generate_pair(key_type, None);
		let message = pallet_datdot::identity::peer_id_message(account);
		let signature =
			public.sign(key_type, &message).expect("the key was generated in this keystore");
		(pallet_datdot::identity::ed25519_peer_id(public.0), signature.0)
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl pallet_datdot::attestation::ContactSigner<AccountId, sp_runtime::MultiSignature>
	for Sr25519ContactSigner
{
	fn duty_key() -> AccountId {
		use sp_runtime::RuntimeAppPublic;
		let key = pallet_datdot::offchain::crypto::Public::generate_pair(None);
		AccountId::from(sp_core::sr25519::Public::from(key))
	}
	fn sign(duty_key: &AccountId, message: &[u8]) -> sp_runtime::MultiSignature {
		use sp_runtime::RuntimeAppPublic;
		let raw = sp_core::sr25519::Public::from_raw(*duty_key.as_ref());
		let key = pallet_datdot::offchain::crypto::Public::from(raw);
		let signature = key.sign(&message).expect("the key was generated in this keystore");
		sp_core::sr25519::Signature::from(signature).into()
	}
}
