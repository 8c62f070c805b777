//! Benchmarks of the datdot pallet's calls, each in its worst case.

use super::*;
use crate::{
	attestation::ContactSigner,
	benchmark_feed::{BenchmarkFeed, BenchmarkFraud, FRAUD_SEED},
	identity::PeerSigner,
	Pallet as Datdot,
};
use alloc::{boxed::Box, vec::Vec};
use datdot_primitives::{
	encoded::{root_from_path, SEGMENT_SIZE},
	testdata::{generate, test_sealing_key},
	FeedAuth,
};
use frame::{benchmarking::prelude::*, traits::fungible::Mutate};

/// An account funded for its deposits and plan budgets many times over.
fn funded<T: Config>(name: &'static str, i: u32) -> T::AccountId {
	let who: T::AccountId = account(name, i, 0);
	let plenty = T::ProviderDeposit::get()
		.saturating_add(T::FeedDeposit::get())
		.saturating_mul(1_000_000u32.into());
	T::Currency::set_balance(&who, plenty);
	who
}

/// Stores a feed of `blocks` blocks (1000 bytes each) as if published; returns its key.
fn feed<T: Config>(publisher: &T::AccountId, blocks: u64) -> FeedKey {
	let key = frame::hashing::blake2_256(&blocks.encode());
	let record = Feed {
		auth: FeedAuth::compat(key),
		length: blocks,
		fork: 0,
		byte_length: blocks * 1000,
		roots: BoundedVec::new(),
		tree_hash: [0; 32],
		signature: BoundedVec::new(),
		publisher: publisher.clone(),
		deposit: Zero::zero(),
		updated_at: Zero::zero(),
		plans: 0,
	};
	Feeds::<T>::insert(key, record);
	key
}

/// Publishes plan 0: `contracts` full contracts of a fresh feed, `replicas` each, and cuts
/// all of them as the next blocks would.
fn plan<T: Config>(sponsor: &T::AccountId, contracts: u32, replicas: u32) {
	let blocks = contracts as u64 * T::MaxBlocksPerContract::get() as u64;
	let key = feed::<T>(sponsor, blocks);
	let ranges = alloc::vec![BlockRange { start: 0, end: blocks }].try_into().expect("fits");
	Datdot::<T>::publish_plan(
		RawOrigin::Signed(sponsor.clone()).into(),
		key,
		ranges,
		replicas,
		100u32.into(),
		None,
		false,
	)
	.expect("publishes");
	let now = frame_system::Pallet::<T>::block_number();
	while Plans::<T>::get(0).is_some_and(|p| p.uncut.is_some()) {
		assert!(Datdot::<T>::cut_plans(now) > 1, "the draw queue has room for the plan");
	}
}

/// Publishes plan 0, following a fresh feed: `contracts` full contracts of `MaxReplicas`
/// copies (as many as `publish_plan` makes now, the rest left to cut); then the feed grows
/// by `grown` contracts' worth of blocks, unplanned. Returns the feed.
fn following_plan<T: Config>(contracts: u32, grown: u32) -> FeedKey {
	let sponsor = funded::<T>("sponsor", 0);
	let per_contract = T::MaxBlocksPerContract::get() as u64;
	let blocks = u64::from(contracts) * per_contract;
	let key = feed::<T>(&sponsor, blocks);
	let ranges = alloc::vec![BlockRange { start: 0, end: blocks }].try_into().expect("fits");
	Datdot::<T>::publish_plan(
		RawOrigin::Signed(sponsor).into(),
		key,
		ranges,
		T::MaxReplicas::get(),
		100u32.into(),
		None,
		true,
	)
	.expect("publishes");
	Feeds::<T>::mutate(key, |f| {
		if let Some(f) = f {
			f.length += u64::from(grown) * per_contract;
		}
	});
	key
}

/// Assigns a replica of a published contract as a draw would.
fn assign<T: Config>(
	id: ReplicaId,
	encoder: &T::AccountId,
	hoster: &T::AccountId,
	attestor: &T::AccountId,
) {
	let reserve = Contracts::<T>::get(id.contract).expect("published").reserve;
	let deadline = frame_system::Pallet::<T>::block_number() + T::SetupBlocks::get();
	Datdot::<T>::assign_replica(
		id,
		reserve,
		encoder.clone(),
		hoster.clone(),
		attestor.clone(),
		deadline,
	);
}

/// Leaves `who` with `reserve` bytes more than just under `MinFreeCapacity` free, so that
/// a setup reserving `reserve` of it takes it out of the eligible index and its end puts
/// it back in (the most index writes the end of a setup makes for one provider).
fn at_border<T: Config>(who: &T::AccountId, reserve: u64) {
	let keep = T::MinFreeCapacity::get().saturating_sub(1).saturating_add(reserve);
	Datdot::<T>::update_provider(who, |p| p.reserved = p.capacity.saturating_sub(keep));
}

/// An active replica record hosted by `hoster`.
fn active<T: Config>(hoster: &T::AccountId, root: EncodedRoot) -> ReplicaOf<T> {
	Replica {
		encoder: hoster.clone(),
		hoster: hoster.clone(),
		attestor: hoster.clone(),
		state: ReplicaState::Active {
			since: Zero::zero(),
			last_proof: None,
			paid_until: Zero::zero(),
		},
		reserved: 0,
		encoded: Some(root),
		hosted: Some(root),
		replacing: false,
	}
}

/// Stores an active replica of `hoster` and counts it in its record.
fn active_replica<T: Config>(id: ReplicaId, hoster: &T::AccountId, root: EncodedRoot) {
	Replicas::<T>::insert(id.contract, id.replica, active::<T>(hoster, root));
	HostedReplicas::<T>::mutate(hoster, |list| list.try_push(id).expect("room"));
	Datdot::<T>::update_provider(hoster, |p| {
		p.hosting += 1;
		p.active_replicas += 1;
	});
}

/// `n` more providers written straight to storage (no deposit held): cheap enough to fill
/// the registry to `MaxProviders`.
fn bare_providers<T: Config>(n: u32) -> Vec<T::AccountId> {
	let first = Providers::<T>::count();
	(first..first + n)
		.map(|i| {
			let who: T::AccountId = account("bare", i, 0);
			let mut p = Provider::new(
				peer_id::<T>(i),
				test_sealing_key(i as usize),
				T::MinCapacity::get().saturating_mul(4),
				None,
				Zero::zero(),
			);
			Datdot::<T>::refresh_indexes(&who, &mut p);
			PeerIdProviders::<T>::insert(&p.peer_id, &who);
			let duty_key: T::AccountId = account("bare duty", i, 0);
			DutyKeys::<T>::insert(&who, &duty_key);
			DutyKeyProviders::<T>::insert(&duty_key, &who);
			Providers::<T>::insert(&who, p);
			who
		})
		.collect()
}

fn peer_id<T: Config>(i: u32) -> PeerIdOf<T> {
	let mut public = [0u8; 32];
	public.iter_mut().zip(i.to_le_bytes().iter().cycle()).for_each(|(b, i)| *b = *i);
	crate::identity::ed25519_peer_id(public).try_into().expect("38 bytes fit MaxPeerIdLen")
}

/// A new duty key of the helper's and its consent to act for `who`.
fn duty_key_for<T: Config>(who: &T::AccountId) -> (T::AccountId, T::DutySignature) {
	let duty_key = T::BenchmarkHelper::duty_key();
	let consent = T::BenchmarkHelper::sign(&duty_key, &crate::identity::duty_key_message(who));
	(duty_key, consent)
}

/// Registers `who` with a new node identity and duty key and test sealing key `key`;
/// returns the duty key.
fn register_provider<T: Config>(who: &T::AccountId, key: u32) -> T::AccountId {
	let (peer_id, signature) = T::BenchmarkHelper::peer_identity(who);
	let (duty_key, consent) = duty_key_for::<T>(who);
	Datdot::<T>::register(
		RawOrigin::Signed(who.clone()).into(),
		peer_id.try_into().expect("a PeerId fits MaxPeerIdLen"),
		signature,
		duty_key.clone(),
		consent,
		test_sealing_key(key as usize),
		T::MinCapacity::get(),
		None,
	)
	.expect("registers");
	duty_key
}

/// Registers providers `first..first + n`, returning them in index order.
fn providers<T: Config>(first: u32, n: u32) -> alloc::vec::Vec<T::AccountId> {
	(first..first + n)
		.map(|i| {
			let who = funded::<T>("provider", i);
			register_provider::<T>(&who, i);
			who
		})
		.collect()
}

/// A storage challenge's segments and their proofs.
type ChallengedSegments<T> =
	(BoundedVec<(ReplicaId, u64), <T as Config>::ChallengeSegments>, Vec<SegmentProof>);

/// Makes each of `ids` an active replica of `hoster` with 2^62 segments (so proofs have
/// 62-hash paths) and returns one challenged segment of each with its valid proof.
fn challenged_segments<T: Config>(
	hoster: &T::AccountId,
	ids: impl Iterator<Item = ReplicaId>,
) -> ChallengedSegments<T> {
	let mut segments = BoundedVec::new();
	let mut proofs = Vec::new();
	for (k, id) in ids.enumerate() {
		let count = 1u64 << 62;
		let index = count - 1 - k as u64;
		let segment = alloc::vec![k as u8; SEGMENT_SIZE];
		let path: Vec<[u8; 32]> = (0..62u8).map(|j| [j ^ k as u8; 32]).collect();
		let root = root_from_path(&id, count, index, &segment, &path).expect("valid path");
		active_replica::<T>(id, hoster, EncodedRoot { root, segments: count });
		segments.try_push((id, index)).expect("within ChallengeSegments");
		proofs.push(SegmentProof { index, segment, path });
	}
	(segments, proofs)
}

/// Stores an open performance challenge of `hoster` on `replica` by `attestor`, due in
/// `ReportBlocks`; returns its id.
fn performance_challenge<T: Config>(
	hoster: &T::AccountId,
	attestor: &T::AccountId,
	replica: ReplicaId,
) -> u64 {
	let id = NextChallengeId::<T>::mutate(|id| {
		*id += 1;
		*id - 1
	});
	let due = frame_system::Pallet::<T>::block_number() + T::ReportBlocks::get();
	let blocks = (0..T::PerformanceBlocks::get()).map(u64::from).collect::<Vec<_>>();
	PerformanceChallenges::<T>::insert(
		id,
		PerformanceChallenge {
			hoster: hoster.clone(),
			attestor: attestor.clone(),
			replica,
			blocks: BoundedVec::truncate_from(blocks),
			due,
			recheck: false,
			seed: [9; 32],
		},
	);
	PerformanceDue::<T>::mutate(due, |list| list.try_push(id).expect("room"));
	id
}

/// Fills the list of plans ending at block `at` with other (made-up) plans, leaving
/// `room` places.
fn crowd_plan_ends<T: Config>(at: BlockNumberFor<T>, room: u32) {
	let others = T::MaxPlanEndsPerBlock::get().saturating_sub(room);
	let list: Vec<u64> = (0..others).map(|i| 1_000_000 + u64::from(i)).collect();
	PlanEnds::<T>::mutate(at, |l| {
		for p in list {
			l.try_push(p).expect("room");
		}
	});
}

/// Makes `hoster` look like it passed a challenge now (its replicas' pay is due).
fn passed_now<T: Config>(hoster: &T::AccountId) {
	let now = frame_system::Pallet::<T>::block_number();
	Datdot::<T>::update_provider(hoster, |p| p.last_pass = now);
}

/// Fills the pause schedule of block `until` with other providers, leaving one place.
fn crowd_pause_schedule<T: Config>(until: BlockNumberFor<T>) {
	let others = T::MaxPauseEndsPerBlock::get().saturating_sub(1);
	for who in providers::<T>(1_000, others) {
		Datdot::<T>::pause(RawOrigin::Signed(who).into(), until).expect("pauses");
	}
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register() {
		providers::<T>(2_000, 3);
		let who = funded::<T>("new", 0);
		let region: RegionOf<T> =
			alloc::vec![b'r'; T::MaxRegionLen::get() as usize].try_into().expect("fits");
		// A valid key: the check runs every small-prime division.
		let key = test_sealing_key(1);
		let (peer_id, signature) = T::BenchmarkHelper::peer_identity(&who);
		let peer_id: PeerIdOf<T> = peer_id.try_into().expect("a PeerId fits MaxPeerIdLen");
		let (duty_key, consent) = duty_key_for::<T>(&who);
		#[extrinsic_call]
		_(
			RawOrigin::Signed(who.clone()),
			peer_id,
			signature,
			duty_key,
			consent,
			key,
			T::MinCapacity::get(),
			Some(region),
		);
		assert!(Providers::<T>::contains_key(&who));
	}

	#[benchmark]
	fn set_duty_key() {
		let who = providers::<T>(0, 1).remove(0);
		let (duty_key, consent) = duty_key_for::<T>(&who);
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), duty_key.clone(), consent);
		assert_eq!(DutyKeys::<T>::get(&who), Some(duty_key));
	}

	#[benchmark]
	fn unregister() {
		// Worst case: paused in a crowded schedule, and first in the index so that the
		// last provider moves into its place.
		let until = frame_system::Pallet::<T>::block_number() + 10u32.into();
		let first = providers::<T>(0, 1).remove(0);
		crowd_pause_schedule::<T>(until);
		providers::<T>(2_000, 3);
		Datdot::<T>::pause(RawOrigin::Signed(first.clone()).into(), until).expect("pauses");
		#[extrinsic_call]
		_(RawOrigin::Signed(first.clone()));
		assert!(!Providers::<T>::contains_key(&first));
	}

	#[benchmark]
	fn pause() {
		let until = frame_system::Pallet::<T>::block_number() + 10u32.into();
		let first = providers::<T>(0, 1).remove(0);
		crowd_pause_schedule::<T>(until);
		providers::<T>(2_000, 3);
		#[extrinsic_call]
		_(RawOrigin::Signed(first.clone()), until);
		assert_eq!(
			Providers::<T>::get(&first).map(|p| p.status),
			Some(ProviderStatus::Paused { until })
		);
	}

	#[benchmark]
	fn unpause() {
		let until = frame_system::Pallet::<T>::block_number() + 10u32.into();
		let first = providers::<T>(0, 1).remove(0);
		crowd_pause_schedule::<T>(until);
		Datdot::<T>::pause(RawOrigin::Signed(first.clone()).into(), until).expect("pauses");
		#[extrinsic_call]
		_(RawOrigin::Signed(first.clone()));
		assert_eq!(Providers::<T>::get(&first).map(|p| p.status), Some(ProviderStatus::Active));
	}

	#[benchmark]
	fn set_endpoint() {
		let first = providers::<T>(0, 1).remove(0);
		// The longest endpoint: validation walks every byte.
		let host = alloc::vec![b'a'; crate::endpoints::MAX_ENDPOINT_LEN as usize - 6];
		let endpoint: crate::endpoints::Endpoint =
			[host, b":65535".to_vec()].concat().try_into().expect("fits");
		#[extrinsic_call]
		_(RawOrigin::Signed(first.clone()), Some(endpoint.clone()));
		assert_eq!(Endpoints::<T>::get(&first), Some(endpoint));
	}

	#[benchmark]
	fn on_initialize_pause_ends(n: Linear<0, { T::MaxPauseEndsPerBlock::get() }>) {
		let until = frame_system::Pallet::<T>::block_number() + 10u32.into();
		for who in providers::<T>(0, n) {
			Datdot::<T>::pause(RawOrigin::Signed(who).into(), until).expect("pauses");
		}
		#[block]
		{
			Datdot::<T>::on_initialize(until + 1u32.into());
		}
		assert_eq!(ProviderIndex::Eligible.count::<T>(), n);
	}

	#[benchmark]
	fn publish_feed() {
		let f = BenchmarkFeed::load();
		let who = funded::<T>("publisher", 0);
		let manifest: BoundedVec<u8, MaxManifestLen> = f.manifest.clone().try_into().expect("fits");
		Datdot::<T>::publish_feed(
			RawOrigin::Signed(who.clone()).into(),
			f.key,
			Some(manifest.clone()),
			f.old.length,
			f.old.fork,
			f.old.roots.try_into().expect("fits"),
			f.old.signature.try_into().expect("fits"),
			None,
		)
		.expect("publishes");
		// Worst case: an update, which checks two signatures and walks an upgrade proof.
		#[extrinsic_call]
		_(
			RawOrigin::Signed(who),
			f.key,
			Some(manifest),
			f.new.length,
			f.new.fork,
			f.new.roots.try_into().expect("fits"),
			f.new.signature.try_into().expect("fits"),
			Some(Box::new(f.extension)),
		);
		assert_eq!(Feeds::<T>::get(f.key).map(|f| f.length), Some(f.new.length));
	}

	#[benchmark]
	fn publish_plan(c: Linear<1, { T::MaxGrowthPerBlock::get() }>) {
		// A friends plan naming as many providers as it may (each is looked up), one
		// contract longer than the draw queue has room for: `c` contracts are made, the
		// rest of the plan joins the cut queue.
		let sponsor = funded::<T>("sponsor", 0);
		let blocks = (c as u64 + 1) * T::MaxBlocksPerContract::get() as u64;
		let key = feed::<T>(&sponsor, blocks);
		let ranges: BoundedVec<_, _> =
			alloc::vec![BlockRange { start: 0, end: blocks }].try_into().expect("fits");
		let friends = BoundedVec::truncate_from(providers::<T>(0, T::MaxFriends::get()));
		let others = Datdot::<T>::draw_room() - c * T::MaxReplicas::get();
		for i in 0..others {
			let id = ReplicaId { contract: u64::MAX - u64::from(i), replica: 0 };
			Datdot::<T>::queue_draw(id).expect("room");
		}
		#[extrinsic_call]
		_(
			RawOrigin::Signed(sponsor),
			key,
			ranges,
			T::MaxReplicas::get(),
			100u32.into(),
			Some(friends),
			false,
		);
		assert_eq!(Plans::<T>::get(0).map(|p| p.contracts), Some(c));
		assert_eq!(crate::plans::CutQueueOf::<T>::len(), 1);
	}

	#[benchmark]
	fn cancel_plan() {
		// Worst case: the lists of plans ending at its end block and at this block are
		// full but for it, so moving its end decodes and encodes both in full.
		let sponsor = funded::<T>("sponsor", 0);
		let ends_at = frame_system::Pallet::<T>::block_number() + 100u32.into();
		crowd_plan_ends::<T>(ends_at, 1);
		plan::<T>(&sponsor, 1, 1);
		crowd_plan_ends::<T>(frame_system::Pallet::<T>::block_number(), 1);
		#[extrinsic_call]
		_(RawOrigin::Signed(sponsor), 0);
		assert!(PlanEnds::<T>::get(frame_system::Pallet::<T>::block_number()).contains(&0));
	}

	#[benchmark]
	fn top_up_plan() {
		// Worst case: both end blocks' lists full but for it.
		let sponsor = funded::<T>("sponsor", 0);
		let ends_at = frame_system::Pallet::<T>::block_number() + 100u32.into();
		crowd_plan_ends::<T>(ends_at, 1);
		plan::<T>(&sponsor, 1, T::MaxReplicas::get());
		crowd_plan_ends::<T>(ends_at + 50u32.into(), 1);
		#[extrinsic_call]
		_(RawOrigin::Signed(sponsor), 0, 50u32.into());
		assert_eq!(Plans::<T>::get(0).map(|p| p.ends_at), Some(ends_at + 50u32.into()));
	}

	#[benchmark]
	fn remove_feed() {
		let publisher = funded::<T>("publisher", 0);
		let key = feed::<T>(&publisher, 4);
		#[extrinsic_call]
		_(RawOrigin::Signed(publisher), key);
		assert!(Feeds::<T>::get(key).is_none());
	}

	#[benchmark]
	fn end_plans(n: Linear<1, { T::MaxPlanEndStepsPerBlock::get() }>) {
		// Worst case per step: a contract whose every slot (replicas and successors) is an
		// active replica whose hoster is paid (it just passed a challenge) and whose list
		// of hosted replicas is full, the replica last in it.
		let sponsor = funded::<T>("sponsor", 0);
		let r = T::MaxReplicas::get();
		plan::<T>(&sponsor, n, r);
		let hosters = providers::<T>(0, 2 * r);
		let others = T::MaxReplicasPerHoster::get().saturating_sub(n);
		for hoster in &hosters {
			HostedReplicas::<T>::insert(
				hoster,
				BoundedVec::truncate_from(
					(0..others)
						.map(|i| ReplicaId { contract: 1_000 + i as u64, replica: 0 })
						.collect(),
				),
			);
		}
		for index in 0..n {
			let contract = crate::plans::contract_id(0, index);
			for replica in 0..2 * r {
				let id = ReplicaId { contract, replica };
				let root = EncodedRoot { root: [7; 32], segments: 1 << 20 };
				active_replica::<T>(id, &hosters[replica as usize], root);
			}
		}
		let ends_at = Plans::<T>::get(0).expect("published").ends_at;
		frame_system::Pallet::<T>::set_block_number(ends_at);
		for hoster in &hosters {
			passed_now::<T>(hoster);
		}
		PlanEndProgress::<T>::put(crate::types::EndCursor { block: ends_at, ..Default::default() });
		#[block]
		{
			Datdot::<T>::end_plans(ends_at);
		}
		// Reading the list and the plan, and closing it, are steps too.
		let closed = n + 3 <= T::MaxPlanEndStepsPerBlock::get();
		assert_eq!(Plans::<T>::get(0).is_none(), closed);
	}

	#[benchmark]
	fn confirm_setup() {
		// Worst case: the second confirmation activates the replica, the hoster's list of
		// active replicas is as long as it gets, the hoster leaves the eligible index (a
		// fourth provider, after it there, moves into its place), and the encoder's freed
		// room puts the encoder back in.
		let sponsor = funded::<T>("sponsor", 0);
		plan::<T>(&sponsor, 1, 1);
		let workers = providers::<T>(0, 4);
		let id = ReplicaId { contract: 0, replica: 0 };
		at_border::<T>(&workers[0], Contracts::<T>::get(0).expect("published").reserve);
		let at = |who: &T::AccountId| Providers::<T>::get(who).and_then(|p| p.eligible_at);
		assign::<T>(id, &workers[0], &workers[1], &workers[2]);
		assert!(at(&workers[0]).is_none(), "the encoder left the eligible index");
		let others = T::MaxReplicasPerHoster::get().saturating_sub(1);
		HostedReplicas::<T>::insert(
			&workers[1],
			BoundedVec::truncate_from(
				(0..others).map(|i| ReplicaId { contract: 1_000 + i as u64, replica: 0 }).collect(),
			),
		);
		let root = EncodedRoot { root: [7; 32], segments: 1 << 20 };
		Datdot::<T>::encoding_done(RawOrigin::Signed(workers[0].clone()).into(), 0, 0, root)
			.expect("confirms");
		let hoster_at = at(&workers[1]);
		let last = ProviderIndex::Eligible.count::<T>().checked_sub(1);
		assert!(hoster_at.is_some() && hoster_at < last, "another provider moves into its place");
		#[block]
		{
			Datdot::<T>::hosting_started(RawOrigin::Signed(workers[1].clone()).into(), 0, 0, root)
				.expect("activates");
		}
		assert_eq!(at(&workers[1]), None, "the hoster left the eligible index");
		assert!(at(&workers[0]).is_some(), "the encoder is back in it");
		assert!(matches!(
			Replicas::<T>::get(0, 0).map(|r| r.state),
			Some(ReplicaState::Active { .. })
		));
	}

	#[benchmark]
	fn report_bad_encoding() {
		// Worst case (see `BenchmarkFraud`): two segments unsealed, the largest original
		// block allowed verified with its signature and re-encoded, the fault found last.
		let f = BenchmarkFraud::load();
		let sponsor = funded::<T>("sponsor", 0);
		let manifest: BoundedVec<u8, MaxManifestLen> = f.manifest.try_into().expect("fits");
		Datdot::<T>::publish_feed(
			RawOrigin::Signed(sponsor.clone()).into(),
			f.key,
			Some(manifest),
			f.tree.length,
			f.tree.fork,
			f.tree.roots.try_into().expect("fits"),
			f.tree.signature.try_into().expect("fits"),
			None,
		)
		.expect("publishes");
		let ranges = alloc::vec![BlockRange { start: 0, end: 1 }].try_into().expect("fits");
		Datdot::<T>::publish_plan(
			RawOrigin::Signed(sponsor).into(),
			f.key,
			ranges,
			1,
			100u32.into(),
			None,
			false,
		)
		.expect("publishes");
		let workers = providers::<T>(0, 3);
		Datdot::<T>::update_provider(&workers[0], |p| {
			p.sealing_key = test_sealing_key(f.sealing_key as usize)
		});
		let id = ReplicaId { contract: 0, replica: 0 };
		assign::<T>(id, &workers[0], &workers[1], &workers[2]);
		Datdot::<T>::encoding_done(RawOrigin::Signed(workers[0].clone()).into(), 0, 0, f.root)
			.expect("commits");
		let mut proof = f.proof;
		if let Some(block) = proof.original.as_mut().and_then(|p| p.block.as_mut()) {
			block.value = generate(FRAUD_SEED, 0, crate::MAX_FRAUD_BLOCK);
		}
		#[extrinsic_call]
		_(RawOrigin::Signed(workers[1].clone()), 0, 0, proof);
		assert_eq!(RedrawHints::<T>::get(0, 0), Some(RedrawHint::KeepHoster(workers[1].clone())));
	}

	#[benchmark]
	fn submit_storage_proof(s: Linear<1, { T::ChallengeSegments::get() }>) {
		// Worst case: every segment is checked (from replicas of 2^62 segments: 62-hash
		// paths) and the last one is wrong, so the hoster is faulted too.
		let hoster = providers::<T>(0, 1).remove(0);
		let ids = (0..s).map(|k| ReplicaId { contract: k as u64, replica: 0 });
		let (segments, mut proofs) = challenged_segments::<T>(&hoster, ids);
		if let Some(last) = proofs.last_mut() {
			last.segment[0] ^= 1;
		}
		let due = frame_system::Pallet::<T>::block_number() + 10u32.into();
		Challenges::<T>::insert(0, StorageChallenge { hoster: hoster.clone(), due, segments });
		Datdot::<T>::update_provider(&hoster, |p| p.open_challenge = Some(0));
		#[extrinsic_call]
		_(RawOrigin::Signed(hoster.clone()), 0, BoundedVec::truncate_from(proofs));
		assert_eq!(Providers::<T>::get(&hoster).map(|p| p.faults), Some(1));
	}

	#[benchmark]
	fn submit_storage_proof_passed(s: Linear<1, { T::ChallengeSegments::get() }>) {
		// Worst case of a pass: every segment is checked (62-hash paths) and names another
		// replica of a plan, whose hoster is paid for it.
		let sponsor = funded::<T>("sponsor", 0);
		plan::<T>(&sponsor, s, 1);
		let hoster = providers::<T>(0, 1).remove(0);
		let ids =
			(0..s).map(|k| ReplicaId { contract: crate::plans::contract_id(0, k), replica: 0 });
		let (segments, proofs) = challenged_segments::<T>(&hoster, ids);
		frame_system::Pallet::<T>::set_block_number(50u32.into());
		let due = frame_system::Pallet::<T>::block_number() + 10u32.into();
		Challenges::<T>::insert(0, StorageChallenge { hoster: hoster.clone(), due, segments });
		Datdot::<T>::update_provider(&hoster, |p| p.open_challenge = Some(0));
		#[extrinsic_call]
		submit_storage_proof(
			RawOrigin::Signed(hoster.clone()),
			0,
			BoundedVec::truncate_from(proofs),
		);
		assert_eq!(Providers::<T>::get(&hoster).map(|p| p.faults), Some(0));
	}

	#[benchmark]
	fn expire_challenges(n: Linear<0, { T::MaxChallengesPerBlock::get() }>) {
		let due = frame_system::Pallet::<T>::block_number() + 10u32.into();
		let mut ids = BoundedVec::new();
		for (i, hoster) in providers::<T>(0, n).into_iter().enumerate() {
			let id = i as u64;
			let segments = BoundedVec::new();
			Challenges::<T>::insert(id, StorageChallenge { hoster: hoster.clone(), due, segments });
			Datdot::<T>::update_provider(&hoster, |p| p.open_challenge = Some(id));
			ids.try_push(id).expect("within MaxChallengesPerBlock");
		}
		ChallengesDue::<T>::insert(due, ids);
		#[block]
		{
			Datdot::<T>::expire_challenges(due + 1u32.into());
		}
		assert_eq!(Challenges::<T>::iter().count(), 0);
	}

	#[benchmark]
	fn expire_setups(n: Linear<1, { T::MaxDrawsPerBlock::get() }>) {
		// Worst case: neither party confirmed, so both get a strike, all are requeued, and
		// each encoder and hoster gets its room back and re-enters the eligible index.
		let sponsor = funded::<T>("sponsor", 0);
		plan::<T>(&sponsor, n, 1);
		let workers = providers::<T>(0, 3 * n);
		let deadline = frame_system::Pallet::<T>::block_number() + 10u32.into();
		let mut ids = BoundedVec::new();
		let eligible = ProviderIndex::Eligible.count::<T>();
		for (i, w) in workers.chunks(3).enumerate() {
			at_border::<T>(&w[0], 1 << 20);
			at_border::<T>(&w[1], 1 << 20);
			let id = ReplicaId { contract: i as u64, replica: 0 };
			Datdot::<T>::assign_replica(
				id,
				1 << 20,
				w[0].clone(),
				w[1].clone(),
				w[2].clone(),
				deadline,
			);
			ids.try_push(id).expect("within MaxDrawsPerBlock");
		}
		SetupDeadlines::<T>::insert(deadline, ids);
		assert_eq!(ProviderIndex::Eligible.count::<T>(), eligible - 2 * n, "they left it");
		#[block]
		{
			Datdot::<T>::expire_setups(deadline + 1u32.into());
		}
		assert_eq!(Replicas::<T>::iter().count(), 0);
		assert_eq!(ProviderIndex::Eligible.count::<T>(), eligible, "they are back");
	}

	#[benchmark]
	fn draw_replicas(n: Linear<1, { T::MaxDrawsPerBlock::get() }>) {
		let sponsor = funded::<T>("sponsor", 0);
		plan::<T>(&sponsor, n, 1);
		// Worst case: each draw's setup ends at another block, so each reads and writes a
		// deadline slot of its own (contract i's setup time is a block longer than i - 1's);
		// each spends a hint that pins its hoster; and each hoster and encoder leaves the
		// eligible index, its free room falling under `MinFreeCapacity`.
		let now = frame_system::Pallet::<T>::block_number();
		let setup_blocks = Datdot::<T>::timing().setup_blocks;
		let per_block = T::SetupBytesPerBlock::get();
		let workers = bare_providers::<T>(3 * n + 10);
		let room = T::MinFreeCapacity::get().max(n as u64 * per_block);
		for who in &workers {
			Providers::<T>::mutate(who, |p| {
				if let Some(p) = p {
					p.reserved = p.capacity.saturating_sub(room);
				}
			});
		}
		for i in 0..n as u64 {
			let reserve = (i + 1) * per_block;
			Contracts::<T>::mutate(i, |c| {
				if let Some(c) = c {
					c.reserve = reserve;
				}
			});
			let deadline = now + Datdot::<T>::setup_time(setup_blocks, reserve);
			assert_eq!(deadline, now + setup_blocks + (i as u32 + 1).into(), "setup times differ");
			let pinned = workers[(2 * n + 10) as usize + i as usize].clone();
			RedrawHints::<T>::insert(i, 0, RedrawHint::KeepHoster(pinned));
		}
		#[block]
		{
			Datdot::<T>::draw_queued(now, &[7; 32]);
		}
		assert_eq!(Replicas::<T>::iter().count() as u32, n);
		assert_eq!(SetupDeadlines::<T>::iter().count() as u32, n);
		assert_eq!(RedrawHints::<T>::iter().count(), 0);
	}

	#[benchmark]
	fn draw_with_providers(p: Linear<10, { T::MaxProviders::get() }>) {
		// One draw of a contract's last replica (the others already hosted) among `p`
		// registered providers: what it costs must not depend on `p`.
		let sponsor = funded::<T>("sponsor", 0);
		let r = T::MaxReplicas::get();
		plan::<T>(&sponsor, 1, r);
		let drawn = bare_providers::<T>(p);
		for replica in 0..r - 1 {
			let hoster = &drawn[replica as usize % drawn.len()];
			let id = ReplicaId { contract: 0, replica };
			Datdot::<T>::assign_replica(
				id,
				0,
				hoster.clone(),
				hoster.clone(),
				hoster.clone(),
				10u32.into(),
			);
		}
		// Leave only the last replica in the queue.
		DrawQueueBounds::<T>::mutate(|(head, tail)| *head = tail.wrapping_sub(1));
		let now = frame_system::Pallet::<T>::block_number();
		#[block]
		{
			Datdot::<T>::draw_queued(now, &[9; 32]);
		}
		assert!(Replicas::<T>::get(0, r - 1).is_some());
	}

	#[benchmark]
	fn issue_challenges(n: Linear<1, { T::MaxChallengesPerBlock::get() }>) {
		// `n` challenges among `n` challengeable hosters; each hosts as many replicas as a
		// hoster can (their lists are read whole).
		let per_hoster = T::MaxReplicasPerHoster::get();
		let hosted: BoundedVec<ReplicaId, T::MaxReplicasPerHoster> = BoundedVec::truncate_from(
			(0..per_hoster).map(|i| ReplicaId { contract: i as u64, replica: 0 }).collect(),
		);
		let owner = bare_providers::<T>(1).remove(0);
		for id in hosted.iter() {
			let root = EncodedRoot { root: [1; 32], segments: 1 << 30 };
			Replicas::<T>::insert(id.contract, id.replica, active::<T>(&owner, root));
		}
		for hoster in bare_providers::<T>(n) {
			HostedReplicas::<T>::insert(&hoster, hosted.clone());
			Datdot::<T>::update_provider(&hoster, |p| p.active_replicas = per_hoster);
		}
		let now = frame_system::Pallet::<T>::block_number();
		#[block]
		{
			Datdot::<T>::challenge_hosters(now, &[3; 32], n);
		}
		assert_eq!(Challenges::<T>::iter().count() as u32, n);
	}

	#[benchmark]
	fn challenges_this_block() {
		// The most costly draw: the index as large as it can be and a period that makes
		// `MaxChallengesPerBlock` successes (each a full binary search) all but certain.
		IndexLen::<T>::insert(ProviderIndex::Challengeable, T::MaxProviders::get());
		TimingOverride::<T>::put(Timing {
			challenge_period: 2,
			offline_grace: T::OfflineGrace::get(),
			performance_period: 2,
			setup_blocks: T::SetupBlocks::get(),
		});
		let count;
		#[block]
		{
			count = Datdot::<T>::challenges_this_block(&[4; 32]);
		}
		assert_eq!(count, T::MaxChallengesPerBlock::get());
	}

	#[benchmark]
	fn grow_plans(n: Linear<1, { T::MaxGrowthPerBlock::get() }>) {
		// One step looks at the following plan, the other `n - 1` each make a contract of
		// `MaxReplicas` copies for blocks its feed gained.
		let key = following_plan::<T>(1, n - 1);
		Datdot::<T>::queue_growth(key).expect("queued");
		let steps;
		#[block]
		{
			steps = Datdot::<T>::grow_plans();
		}
		assert_eq!(steps, n);
		assert_eq!(Plans::<T>::get(0).map(|p| p.contracts), Some(n));
	}

	#[benchmark]
	fn cut_plans(n: Linear<2, { T::MaxGrowthPerBlock::get() }>) {
		// One step looks at a following plan, the other `n - 1` each make one of its last
		// contracts of `MaxReplicas` copies; its feed grew meanwhile, so it then queues that
		// growth.
		let made_now = T::MaxGrowthPerBlock::get();
		following_plan::<T>(made_now + n - 1, 1);
		let now = frame_system::Pallet::<T>::block_number();
		let steps;
		#[block]
		{
			steps = Datdot::<T>::cut_plans(now);
		}
		assert_eq!(steps, n);
		assert_eq!(
			Plans::<T>::get(0).map(|p| (p.contracts, p.uncut)),
			Some((made_now + n - 1, None))
		);
		assert_eq!(crate::plans::GrowthQueueOf::<T>::len(), 1);
	}

	#[benchmark]
	fn set_timing() {
		let timing = Timing {
			challenge_period: 5,
			offline_grace: 7u32.into(),
			performance_period: 9,
			setup_blocks: One::one(),
		};
		#[extrinsic_call]
		_(RawOrigin::Root, Some(timing));
		assert_eq!(Datdot::<T>::timing(), timing);
	}

	#[benchmark]
	fn release_replica() {
		// Worst case: the replica is the first in a full list of its hoster's replicas, and
		// it is drawn again.
		let sponsor = funded::<T>("sponsor", 0);
		plan::<T>(&sponsor, 1, 1);
		let hoster = providers::<T>(0, 1).remove(0);
		let id = ReplicaId { contract: 0, replica: 0 };
		active_replica::<T>(id, &hoster, EncodedRoot { root: [7; 32], segments: 1 << 20 });
		let others = T::MaxReplicasPerHoster::get().saturating_sub(1);
		HostedReplicas::<T>::mutate(&hoster, |list| {
			for i in 0..others {
				list.try_push(ReplicaId { contract: 1_000 + i as u64, replica: 0 }).expect("room");
			}
		});
		let queued = Datdot::<T>::queued_draws();
		#[extrinsic_call]
		_(RawOrigin::Signed(hoster.clone()), 0, 0);
		assert!(Replicas::<T>::get(0, 0).is_none());
		assert_eq!(Datdot::<T>::queued_draws(), queued + 1);
	}

	#[benchmark]
	fn release_replica_in_setup() {
		// Worst case of a setup given up: its hoster gives up, and it and the encoder are
		// both leaving with nothing else to do, so both registrations end with it.
		let sponsor = funded::<T>("sponsor", 0);
		plan::<T>(&sponsor, 1, 1);
		let workers = providers::<T>(0, 3);
		let [encoder, hoster, attestor] = [0, 1, 2].map(|i| workers[i].clone());
		assign::<T>(ReplicaId { contract: 0, replica: 0 }, &encoder, &hoster, &attestor);
		for who in [&encoder, &hoster] {
			Datdot::<T>::unregister(RawOrigin::Signed(who.clone()).into()).expect("leaves");
			assert_eq!(Providers::<T>::get(who).map(|p| p.status), Some(ProviderStatus::Leaving));
		}
		let queued = Datdot::<T>::queued_draws();
		#[extrinsic_call]
		release_replica(RawOrigin::Signed(hoster.clone()), 0, 0);
		assert!(!Providers::<T>::contains_key(&encoder) && !Providers::<T>::contains_key(&hoster));
		assert_eq!(Datdot::<T>::queued_draws(), queued + 1);
	}

	#[benchmark]
	fn watch_offline(n: Linear<0, { T::MaxReplacementsPerBlock::get() }>) {
		// Each watched hoster is still offline when its grace ends, so it is evicted.
		let now = frame_system::Pallet::<T>::block_number();
		for who in providers::<T>(0, n) {
			Datdot::<T>::fault(&who, None);
		}
		let grace_end = now + T::OfflineGrace::get();
		#[block]
		{
			Datdot::<T>::watch_offline(grace_end);
		}
		assert_eq!(crate::lifecycle::EvictionQueue::<T>::len(), n);
	}

	#[benchmark]
	fn replace_evicted(n: Linear<1, { T::MaxReplacementsPerBlock::get() }>) {
		// One ended hoster of `n` active replicas: each gets a successor queued.
		let sponsor = funded::<T>("sponsor", 0);
		plan::<T>(&sponsor, n, 1);
		let hoster = providers::<T>(0, 1).remove(0);
		for contract in 0..n {
			let id = ReplicaId { contract: contract as u64, replica: 0 };
			active_replica::<T>(id, &hoster, EncodedRoot { root: [7; 32], segments: 1 << 20 });
		}
		Datdot::<T>::end_registration(&hoster);
		#[block]
		{
			Datdot::<T>::replace_evicted();
		}
		assert!(Replicas::<T>::iter().all(|(_, _, r)| r.replacing));
	}

	#[benchmark]
	fn report_performance_served() {
		// A served report: one signature checked over the most hashes, the attestor paid.
		let sponsor = funded::<T>("sponsor", 0);
		plan::<T>(&sponsor, 1, 1);
		let hoster = funded::<T>("hoster", 0);
		let duty_key = register_provider::<T>(&hoster, 0);
		let attestor = providers::<T>(0, 1).remove(0);
		let replica = ReplicaId { contract: crate::plans::contract_id(0, 0), replica: 0 };
		active_replica::<T>(replica, &hoster, EncodedRoot { root: [7; 32], segments: 1 << 20 });
		let challenge = performance_challenge::<T>(&hoster, &attestor, replica);
		let hashes: BoundedVec<_, T::PerformanceBlocks> = BoundedVec::truncate_from(
			(0..T::PerformanceBlocks::get()).map(|i| [i as u8; 32]).collect(),
		);
		let message = contact_message(challenge, &attestor, &hashes);
		let contact = T::BenchmarkHelper::sign(&duty_key, &message);
		let report = PerformanceReport::Served { latency_ms: 100, hashes, contact };
		#[extrinsic_call]
		report_performance(RawOrigin::Signed(attestor.clone()), challenge, report);
		assert!(PerformanceChallenges::<T>::get(challenge).is_none());
		assert_eq!(ServingRecords::<T>::get(&hoster).fast, 1);
	}

	#[benchmark]
	fn report_performance_not_served() {
		// A first `NotServed`: a second attestor is drawn for a contract with every replica
		// slot taken, so the draw excludes the most providers.
		let sponsor = funded::<T>("sponsor", 0);
		let replicas = T::MaxReplicas::get();
		plan::<T>(&sponsor, 1, replicas);
		let contract = crate::plans::contract_id(0, 0);
		let slot_hosters = bare_providers::<T>(replicas * 2);
		for (slot, who) in slot_hosters.iter().enumerate() {
			let id = ReplicaId { contract, replica: slot as u32 };
			active_replica::<T>(id, who, EncodedRoot { root: [7; 32], segments: 1 << 20 });
		}
		let attestor = providers::<T>(0, 1).remove(0);
		// Enough others that the bounded draw finds one (it reads a record per attempt).
		bare_providers::<T>(32);
		let replica = ReplicaId { contract, replica: 0 };
		let challenge = performance_challenge::<T>(&slot_hosters[0], &attestor, replica);
		#[extrinsic_call]
		report_performance(
			RawOrigin::Signed(attestor.clone()),
			challenge,
			PerformanceReport::NotServed,
		);
		assert!(PerformanceChallenges::<T>::iter().any(|(_, c)| c.recheck));
	}

	#[benchmark]
	fn issue_performance_challenges(
		n: Linear<1, { T::MaxPerformanceChallengesPerBlock::get() / 2 }>,
	) {
		// `n` challengeable hosters, each of one replica of its own contract with every
		// replica slot to read when the attestor's draw excludes the contract's workers.
		let sponsor = funded::<T>("sponsor", 0);
		plan::<T>(&sponsor, n, T::MaxReplicas::get());
		for (k, hoster) in bare_providers::<T>(n).iter().enumerate() {
			let id = ReplicaId { contract: crate::plans::contract_id(0, k as u32), replica: 0 };
			active_replica::<T>(id, hoster, EncodedRoot { root: [7; 32], segments: 1 << 20 });
		}
		bare_providers::<T>(4);
		TimingOverride::<T>::put(Timing {
			challenge_period: T::ChallengePeriod::get(),
			offline_grace: T::OfflineGrace::get(),
			performance_period: 1,
			setup_blocks: T::SetupBlocks::get(),
		});
		let now = frame_system::Pallet::<T>::block_number();
		let issued;
		#[block]
		{
			issued = Datdot::<T>::issue_performance_challenges(now, &[5; 32]);
		}
		assert_eq!(issued, n);
	}

	#[benchmark]
	fn expire_performance_challenges(n: Linear<0, { T::MaxPerformanceChallengesPerBlock::get() }>) {
		// `n` unreported challenges: each attestor gets a strike.
		let hoster = bare_providers::<T>(1).remove(0);
		let replica = ReplicaId { contract: 0, replica: 0 };
		let mut due = frame_system::Pallet::<T>::block_number();
		for attestor in providers::<T>(0, n) {
			let id = performance_challenge::<T>(&hoster, &attestor, replica);
			due = PerformanceChallenges::<T>::get(id).expect("stored").due;
		}
		#[block]
		{
			Datdot::<T>::expire_performance_challenges(due + 1u32.into());
		}
		assert_eq!(PerformanceChallenges::<T>::iter().count(), 0);
	}

	impl_benchmark_test_suite!(Datdot, crate::mock::new_test_ext(), crate::mock::Test);
}
