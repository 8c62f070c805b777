//! A test runtime: System, Balances and Datdot, with small limits so edge cases are cheap.

use crate as pallet_datdot;
use frame::{
	deps::sp_runtime::{
		testing::{TestSignature, UintAuthorityId},
		BuildStorage,
	},
	testing_prelude::*,
	traits::{ConstU128, ConstU32, ConstU64},
};

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u128;

construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Datdot: pallet_datdot,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = Balance;
	type AccountStore = System;
	type ExistentialDeposit = ConstU128<1>;
	type RuntimeHoldReason = RuntimeHoldReason;
}

pub const DEPOSIT: Balance = 1_000;
pub const MIN_CAPACITY: u64 = 1 << 20;
pub const MIN_FREE: u64 = 1 << 16;
pub const MAX_PAUSE: u64 = 600;
pub const MAX_PROVIDERS: u32 = 50;
pub const MAX_PAUSE_ENDS: u32 = 3;
pub const FEED_DEPOSIT: Balance = 600;
pub const SLASH: Balance = 100;
pub const BLOCKS_PER_CONTRACT: u32 = 4;
pub const SETUP_BLOCKS: u64 = 5;
/// Bytes of a replica that add a block to its setup time (most tests' replicas are smaller).
pub const SETUP_BYTES_PER_BLOCK: u64 = 64 << 10;
pub const MAX_SETUP_BLOCKS: u64 = SETUP_BLOCKS + 4;
pub const PERIOD: u32 = 4;
pub const ANSWER_BLOCKS: u64 = 3;
pub const CHALLENGE_SEGMENTS: u32 = 3;
pub const DRAWS_PER_BLOCK: u32 = 4;
pub const MAX_FAULTS: u32 = 3;
pub const FAULT_WINDOW: u64 = 1_000;
pub const MAX_PAUSED: u32 = 700;
pub const MAX_STRIKES: u32 = 2;
pub const STRIKE_BENCH: u64 = 20;
pub const OFFLINE_GRACE: u64 = 10;
pub const RELEASE_PENALTY: Balance = 10;
pub const REPLACEMENTS_PER_BLOCK: u32 = 4;
pub const PERFORMANCE_PERIOD: u32 = u32::MAX;
pub const PERFORMANCE_BLOCKS: u32 = 2;
pub const REPORT_BLOCKS: u64 = 3;
pub const GROWTH_PER_BLOCK: u32 = 4;
pub const PRICE: Balance = 1;
pub const MAX_DRAW_WAIT: u64 = 30;
pub const ENCODING_FEE: Balance = 50;
pub const ATTESTATION_FEE: Balance = 20;
pub const PLAN_DEPOSIT: Balance = 40;
pub const MAX_PLAN_ENDS: u32 = 8;
pub const PLAN_END_STEPS: u32 = 6;
/// The sponsor of the tests' plans.
pub const SPONSOR: AccountId = 50;
/// What accounts 1..=100 hold: enough for long plans.
pub const BALANCE: Balance = 1 << 40;

thread_local! {
	/// The mock's `MaxEncodingsPerProvider`; a test may lower it.
	pub static MAX_ENCODINGS: core::cell::Cell<u32> = const { core::cell::Cell::new(64) };
	/// Whether the test randomness source has no randomness yet (like BABE's first block).
	pub static NO_RANDOMNESS: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
	/// Mixed into the test randomness so a test can try many independent seeds.
	pub static RANDOMNESS_SALT: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// Reads [`MAX_ENCODINGS`].
pub struct MaxEncodings;

impl Get<u32> for MaxEncodings {
	fn get() -> u32 {
		MAX_ENCODINGS.with(|m| m.get())
	}
}

/// A test randomness source: a hash of the subject, block number and salt (BABE's VRF
/// output in the runtime), or none while `NO_RANDOMNESS` is set.
pub struct TestRandomness;

impl frame::traits::Randomness<Option<H256>, u64> for TestRandomness {
	fn random(subject: &[u8]) -> (Option<H256>, u64) {
		let now = System::block_number();
		if NO_RANDOMNESS.with(|n| n.get()) {
			return (None, now);
		}
		let salt = RANDOMNESS_SALT.with(|s| s.get());
		(Some(H256(frame::hashing::blake2_256(&(subject, now, salt).encode()))), now)
	}
}

impl pallet_datdot::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ProviderDeposit = ConstU128<DEPOSIT>;
	type MinCapacity = ConstU64<MIN_CAPACITY>;
	type MinFreeCapacity = ConstU64<MIN_FREE>;
	type MaxPauseBlocks = ConstU64<MAX_PAUSE>;
	type MaxPauseEndsPerBlock = ConstU32<MAX_PAUSE_ENDS>;
	type MaxProviders = ConstU32<MAX_PROVIDERS>;
	type MaxPeerIdLen = ConstU32<64>;
	type MaxRegionLen = ConstU32<32>;
	type Randomness = TestRandomness;
	type FeedDeposit = ConstU128<FEED_DEPOSIT>;
	type FaultSlash = ConstU128<SLASH>;
	type MaxBlocksPerContract = ConstU32<BLOCKS_PER_CONTRACT>;
	type MaxContractsPerPlan = ConstU32<8>;
	type MaxPlansBeingCut = ConstU32<2>;
	type MaxRangesPerPlan = ConstU32<4>;
	type MaxFriends = ConstU32<8>;
	type MaxFollowers = ConstU32<2>;
	type MaxGrowingFeeds = ConstU32<4>;
	type MaxGrowthPerBlock = ConstU32<GROWTH_PER_BLOCK>;
	type MaxReplicas = ConstU32<5>;
	type MaxQueuedDraws = ConstU32<80>;
	type MaxDrawsPerBlock = ConstU32<DRAWS_PER_BLOCK>;
	type MaxDrawWait = ConstU64<MAX_DRAW_WAIT>;
	type SetupBlocks = ConstU64<SETUP_BLOCKS>;
	type SetupBytesPerBlock = ConstU64<SETUP_BYTES_PER_BLOCK>;
	type MaxSetupBlocks = ConstU64<MAX_SETUP_BLOCKS>;
	type MaxReplicasPerHoster = ConstU32<16>;
	type MaxEncodingsPerProvider = MaxEncodings;
	type ChallengePeriod = ConstU32<PERIOD>;
	type AnswerBlocks = ConstU64<ANSWER_BLOCKS>;
	type ChallengeSegments = ConstU32<CHALLENGE_SEGMENTS>;
	type MaxChallengesPerBlock = ConstU32<8>;
	// Off unless a test sets a period (`set_timing`), so other tests see no attestors' work.
	type PerformancePeriod = ConstU32<PERFORMANCE_PERIOD>;
	type PerformanceBlocks = ConstU32<PERFORMANCE_BLOCKS>;
	type ReportBlocks = ConstU64<REPORT_BLOCKS>;
	type MaxPerformanceChallengesPerBlock = ConstU32<8>;
	type DutySignature = TestSignature;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = TestContactSigner;
	type MaxFaults = ConstU32<MAX_FAULTS>;
	type MaxPausedPerWindow = ConstU32<MAX_PAUSED>;
	type FaultWindow = ConstU64<FAULT_WINDOW>;
	type MaxStrikes = ConstU32<MAX_STRIKES>;
	type StrikeBench = ConstU64<STRIKE_BENCH>;
	type OfflineGrace = ConstU64<OFFLINE_GRACE>;
	type ReleasePenalty = ConstU128<RELEASE_PENALTY>;
	type MaxReplacementsPerBlock = ConstU32<REPLACEMENTS_PER_BLOCK>;
	type PricePerByteBlock = ConstU128<PRICE>;
	type EncodingFee = ConstU128<ENCODING_FEE>;
	type AttestationFee = ConstU128<ATTESTATION_FEE>;
	type PlanDeposit = ConstU128<PLAN_DEPOSIT>;
	type MaxPlanEndsPerBlock = ConstU32<MAX_PLAN_ENDS>;
	type MaxPlanEndStepsPerBlock = ConstU32<PLAN_END_STEPS>;
	type WeightInfo = ();
	type ProviderKey = TestProviderKey;
}

/// Transactions the off-chain worker submits, as the test pool holds them: signer, call
/// and the nonce it was signed with.
pub type Extrinsic =
	frame::deps::sp_runtime::testing::TestXt<RuntimeCall, frame_system::CheckNonce<Test>>;

/// Test keys (`UintAuthorityId::set_all_keys` puts accounts' keys in the "keystore").
impl frame_system::offchain::SigningTypes for Test {
	type Public = UintAuthorityId;
	type Signature = TestSignature;
}

impl<C> frame_system::offchain::CreateTransactionBase<C> for Test
where
	RuntimeCall: From<C>,
{
	type RuntimeCall = RuntimeCall;
	type Extrinsic = Extrinsic;
}

impl<C> frame_system::offchain::CreateSignedTransaction<C> for Test
where
	RuntimeCall: From<C>,
{
	fn create_signed_transaction<
		K: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>,
	>(
		call: RuntimeCall,
		_public: UintAuthorityId,
		account: AccountId,
		nonce: u32,
	) -> Option<Extrinsic> {
		Some(Extrinsic::new_signed(call, account, (), frame_system::CheckNonce::from(nonce)))
	}
}

/// The provider key of the test runtime.
pub struct TestProviderKey;

impl frame_system::offchain::AppCrypto<UintAuthorityId, TestSignature> for TestProviderKey {
	type RuntimeAppPublic = UintAuthorityId;
	type GenericPublic = UintAuthorityId;
	type GenericSignature = TestSignature;
}

/// Accounts 1..=100 hold `BALANCE` each; account 200 holds less than a deposit.
pub fn new_test_ext() -> TestState {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut balances: Vec<(AccountId, Balance)> = (1..=100).map(|a| (a, BALANCE)).collect();
	balances.push((200, DEPOSIT / 2));
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
		.assimilate_storage(&mut storage)
		.unwrap();
	let mut ext = TestState::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs `test` in a fresh externality and checks the pallet's invariants afterwards.
pub fn run(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		pallet_datdot::Pallet::<Test>::do_try_state().expect("invariants hold");
	});
}

/// A well-formed ed25519 PeerId whose key bytes are all `seed`.
pub fn peer_id(seed: u8) -> crate::PeerIdOf<Test> {
	use frame::deps::sp_core::Pair;
	crate::identity::ed25519_peer_id(peer_key(seed).public().0).try_into().unwrap()
}

/// The libp2p key of the node with PeerId [`peer_id`]`(seed)`.
pub fn peer_key(seed: u8) -> frame::deps::sp_core::ed25519::Pair {
	use frame::deps::sp_core::Pair;
	frame::deps::sp_core::ed25519::Pair::from_seed(&[seed; 32])
}

/// Node `seed`'s signature saying it serves `who`, as `register` takes it.
pub fn peer_signature(seed: u8, who: AccountId) -> crate::PeerSignature {
	use frame::deps::sp_core::Pair;
	peer_key(seed).sign(&crate::identity::peer_id_message(&who)).0
}

/// The duty key provider `who` registers in the tests (its node's key).
pub const fn duty_key(who: AccountId) -> AccountId {
	who + 1_000_000
}

/// Duty key `key`'s consent to act for provider `who` (test signatures name their signer).
pub fn duty_consent(key: AccountId, who: AccountId) -> TestSignature {
	TestSignature(key, crate::identity::duty_key_message(&who))
}

/// The sealing key provider `who` registers (one of three test keys, by `who % 3`).
pub fn sealing_key(who: AccountId) -> crate::SealingKey {
	datdot_primitives::testdata::test_sealing_key(who as usize)
}

/// The private half of [`sealing_key`]`(who)`, as `who`'s node holds it.
pub fn sealer(who: AccountId) -> datdot_primitives::sealing::Sealer {
	let pem = datdot_primitives::testdata::TEST_SEALING_KEYS[who as usize % 3];
	datdot_primitives::sealing::Sealer::from_pem(pem.as_bytes()).unwrap()
}

/// Moves to block `n`, running `on_initialize` of every block on the way and checking the
/// pallet's invariants after each.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		<Datdot as Hooks<u64>>::on_initialize(next);
		pallet_datdot::Pallet::<Test>::do_try_state().expect("invariants hold");
	}
}

/// Test signatures name their signer and message, so any account can "sign"; node keys
/// are ed25519 keys derived from the account.
#[cfg(feature = "runtime-benchmarks")]
pub struct TestContactSigner;

#[cfg(feature = "runtime-benchmarks")]
impl crate::identity::PeerSigner<AccountId> for TestContactSigner {
	fn peer_identity(account: &AccountId) -> (Vec<u8>, crate::PeerSignature) {
		use frame::deps::sp_core::Pair;
		let seed = frame::hashing::blake2_256(&account.to_le_bytes());
		let key = frame::deps::sp_core::ed25519::Pair::from_seed(&seed);
		let peer_id = crate::identity::ed25519_peer_id(key.public().0);
		(peer_id, key.sign(&crate::identity::peer_id_message(account)).0)
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::attestation::ContactSigner<AccountId, TestSignature> for TestContactSigner {
	fn duty_key() -> AccountId {
		// A new account each call, clear of the tests' providers and their duty keys.
		thread_local!(static NEXT: core::cell::Cell<AccountId> = const { core::cell::Cell::new(7_000_000) });
		NEXT.with(|n| {
			n.set(n.get() + 1);
			n.get()
		})
	}
	fn sign(duty_key: &AccountId, message: &[u8]) -> TestSignature {
		TestSignature(*duty_key, message.to_vec())
	}
}
