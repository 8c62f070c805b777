//! Budgets, pay, refunds, plan ends and deposits (design §9, §6 "End of a plan"): every
//! amount checked against what the chain's events and the test's own bookkeeping say it
//! must be, and total issuance checked to move only by explicit burns.

use super::*;
use crate::types::FollowStop;
use frame::traits::fungible::{Inspect, InspectHold, Mutate};

fn budget_held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::Datdot(HoldReason::PlanBudget), &who)
}

/// Sum of `ProviderPaid` amounts matching `pred`.
fn paid(pred: impl Fn(&AccountId, &Work<u64>) -> bool) -> Balance {
	events()
		.iter()
		.filter_map(|e| match e {
			Event::ProviderPaid { provider, work, amount, .. } if pred(provider, work) => {
				Some(*amount)
			}
			_ => None,
		})
		.sum()
}

fn plan_ended(plan: u64) -> Option<(PlanEnd, Balance)> {
	events().iter().find_map(|e| match e {
		Event::PlanEnded { plan: p, reason, refunded } if *p == plan => Some((*reason, *refunded)),
		_ => None,
	})
}

/// What the test knows of each replica and hoster while it runs the chain.
#[derive(Default)]
struct Ledger {
	encoded: BTreeMap<ReplicaId, SealedReplica>,
	/// Each replica's activation block, hoster and reserve.
	active: BTreeMap<ReplicaId, (u64, AccountId, u64)>,
	/// Blocks of each hoster's passed challenges.
	passes: BTreeMap<AccountId, Vec<u64>>,
}

impl Ledger {
	/// One block: setups confirmed, challenges answered (except those of `silent`).
	fn step(&mut self, w: &FeedWriter, silent: &[AccountId]) {
		run_to_block(System::block_number() + 1);
		let now = System::block_number();
		let before: Vec<ReplicaId> = self.encoded.keys().copied().collect();
		confirm_all(w, &mut self.encoded);
		for id in self.encoded.keys() {
			if !before.contains(id) {
				let hoster = Replicas::<Test>::get(id.contract, id.replica).unwrap().hoster;
				let reserve = Contracts::<Test>::get(id.contract).unwrap().reserve;
				self.active.insert(*id, (now, hoster, reserve));
			}
		}
		for (id, hoster) in open_challenges() {
			if !silent.contains(&hoster) {
				assert_ok!(Datdot::submit_storage_proof(
					RuntimeOrigin::signed(hoster),
					id,
					answer(id, &self.encoded)
				));
				self.passes.entry(hoster).or_default().push(now);
			}
		}
	}

	/// The hoster's last passed challenge before block `end`, if any.
	fn last_pass_before(&self, hoster: AccountId, end: u64) -> Option<u64> {
		self.passes.get(&hoster)?.iter().copied().filter(|b| *b < end).max()
	}
}

#[test]
fn publishing_holds_the_exact_budget_and_refuses_what_the_balance_cannot_cover() {
	run(|| {
		for who in 1..=6 {
			register(who);
		}
		let w = feed(7, SigningMode::ManifestV1, 8);
		assert_ok!(publish_as(SPONSOR, &w, None));
		// 200 holds half a provider deposit: far from a plan's budget.
		let free = Balances::balance(&200);
		assert_noop!(
			Datdot::publish_plan(
				RuntimeOrigin::signed(200),
				w.key(),
				ranges(&[(0, 8)]),
				2,
				50,
				None,
				false
			),
			Error::<Test>::InsufficientBalanceForBudget
		);
		assert_eq!(Balances::balance(&200), free);

		let free = Balances::balance(&SPONSOR);
		assert_ok!(Datdot::publish_plan(
			RuntimeOrigin::signed(SPONSOR),
			w.key(),
			ranges(&[(0, 8)]),
			2,
			50,
			None,
			false
		));
		let plan = Plans::<Test>::get(0).unwrap();
		let reserves: u64 = (0..2).map(|i| Contracts::<Test>::get(i).unwrap().reserve).sum();
		assert_eq!(plan.bytes, reserves);
		let attestations = 50 / PERFORMANCE_PERIOD as u128 + 1;
		let want = PRICE * reserves as u128 * 2 * 50
			+ (ENCODING_FEE + ATTESTATION_FEE * attestations) * 2 * 2;
		assert_eq!((plan.budget, budget_held(SPONSOR)), (want, want));
		assert_eq!(Balances::balance(&SPONSOR), free - want - PLAN_DEPOSIT);
		assert_eq!(plan.ends_at, 1 + 50);
		assert_eq!(PlanEnds::<Test>::get(51).to_vec(), vec![0]);
		assert_eq!(Feeds::<Test>::get(w.key()).unwrap().plans, 1);
	});
}

#[test]
fn a_plan_runs_to_its_end_each_hoster_paid_exactly_for_its_proven_blocks() {
	run(|| {
		let issuance = Balances::total_issuance();
		let w = publish_network(8, 8, 2, 60);
		let sponsor_free = Balances::balance(&SPONSOR);
		let budget = Plans::<Test>::get(0).unwrap().budget;
		let providers_free: Vec<Balance> = (1..=8).map(|p| Balances::balance(&p)).collect();
		let mut ledger = Ledger::default();
		while plan_ended(0).is_none() {
			ledger.step(&w, &[]);
			assert!(System::block_number() < 80, "the plan ended");
		}
		let end = 61;
		assert_eq!(plan_ended(0).map(|(r, _)| r), Some(PlanEnd::Expired));

		// Each replica: paid for the blocks from its activation to its hoster's last pass
		// before the end (answers in the end block came after its replicas ended).
		assert_eq!(ledger.active.len(), 4);
		for (id, (activated, hoster, reserve)) in &ledger.active {
			let proven = ledger.last_pass_before(*hoster, end).unwrap_or(0);
			let want = PRICE * *reserve as u128 * proven.saturating_sub(*activated) as u128;
			let got =
				paid(|_, work| matches!(work, Work::Hosting { replica, .. } if replica == id));
			assert_eq!(got, want, "replica {id:?} activated at {activated}, proven to {proven}");
			assert!(got > 0, "a hoster that answered every challenge was paid");
		}
		assert_eq!(paid(|_, w| matches!(w, Work::Encoding { .. })), 4 * ENCODING_FEE);

		// Providers got exactly their pay; the sponsor exactly the rest of the budget and
		// its deposit; nothing was minted or burnt.
		let total_paid = paid(|_, _| true);
		for p in 1..=8u64 {
			assert_eq!(
				Balances::balance(&p),
				providers_free[p as usize - 1] + paid(|who, _| *who == p),
				"provider {p}"
			);
		}
		let (_, refunded) = plan_ended(0).unwrap();
		assert_eq!(refunded, budget - total_paid);
		assert_eq!(Balances::balance(&SPONSOR), sponsor_free + refunded + PLAN_DEPOSIT);
		assert_eq!(budget_held(SPONSOR), 0);
		assert_eq!(Balances::total_issuance(), issuance);

		// Everything of the plan is gone, and the hosters' space is free.
		assert!(Plans::<Test>::get(0).is_none());
		assert_eq!((Contracts::<Test>::iter().count(), Replicas::<Test>::iter().count()), (0, 0));
		assert!(Providers::<Test>::iter().all(|(_, p)| p.reserved == 0 && p.hosting == 0));
		assert!(HostedReplicas::<Test>::iter().all(|(_, l)| l.is_empty()));
		assert_eq!(Feeds::<Test>::get(w.key()).unwrap().plans, 0);
	});
}

#[test]
fn a_fault_forfeits_unpaid_pay_and_its_slash_pays_into_the_hurt_plan() {
	run(|| {
		let issuance = Balances::total_issuance();
		let w = publish_network(8, 4, 2, 10_000);
		let mut ledger = Ledger::default();
		while ledger.active.len() < 2 || ledger.passes.len() < 2 {
			ledger.step(&w, &[]);
		}
		// One hoster goes silent until it misses a challenge.
		let (_, (_, silent, _)) = ledger.active.iter().next().map(|(i, a)| (*i, *a)).unwrap();
		let budget = Plans::<Test>::get(0).unwrap().budget;
		let paid_then = paid(|_, _| true);
		let fault = loop {
			ledger.step(&w, &[silent]);
			if let Some(f) = events().iter().find_map(|e| match e {
				Event::ProviderOffline { provider, slashed, to_plan, .. }
					if *provider == silent =>
				{
					Some((*slashed, *to_plan))
				}
				_ => None,
			}) {
				break f;
			}
		};
		let fault_block = System::block_number();
		assert_eq!(fault, (SLASH, Some(0)));
		// The slash is in the plan's budget, held from the sponsor; nothing was burnt.
		let plan = Plans::<Test>::get(0).unwrap();
		assert_eq!(plan.budget, budget + SLASH - (paid(|_, _| true) - paid_then));
		assert_eq!(budget_held(SPONSOR), plan.budget);
		assert_eq!(Balances::total_issuance(), issuance);

		// Back, it proves again; what it earned before the fault and had not settled is
		// gone: no payment spans the fault.
		assert_ok!(Datdot::unpause(RuntimeOrigin::signed(silent)));
		for _ in 0..60 {
			ledger.step(&w, &[]);
		}
		assert_ok!(Datdot::cancel_plan(RuntimeOrigin::signed(SPONSOR), 0));
		ledger.step(&w, &[]);
		let spans: Vec<(u64, u64)> =
			events()
				.iter()
				.filter_map(|e| match e {
					Event::ProviderPaid {
						provider, work: Work::Hosting { from, to, .. }, ..
					} if *provider == silent => Some((*from, *to)),
					_ => None,
				})
				.collect();
		assert!(spans.iter().any(|(from, _)| *from >= fault_block), "paid after the fault");
		assert!(
			spans.iter().all(|(from, to)| !(from < &fault_block && to >= &fault_block)),
			"a payment spans the fault: {spans:?}"
		);
		assert_eq!(Balances::total_issuance(), issuance);
	});
}

#[test]
fn cancel_returns_the_exact_rest_and_refuses_what_it_must() {
	run(|| {
		let w = publish_network(8, 4, 2, 500);
		assert_noop!(
			Datdot::cancel_plan(RuntimeOrigin::signed(SPONSOR), 7),
			Error::<Test>::UnknownPlan
		);
		assert_noop!(Datdot::cancel_plan(RuntimeOrigin::signed(1), 0), Error::<Test>::NotSponsor);
		let mut ledger = Ledger::default();
		for _ in 0..30 {
			ledger.step(&w, &[]);
		}
		let free = Balances::balance(&SPONSOR);
		let budget = Plans::<Test>::get(0).unwrap().budget + paid(|_, _| true);
		assert_ok!(Datdot::cancel_plan(RuntimeOrigin::signed(SPONSOR), 0));
		// Ending already: a second cancel (or a top-up) is refused.
		assert_noop!(
			Datdot::cancel_plan(RuntimeOrigin::signed(SPONSOR), 0),
			Error::<Test>::PlanEnding
		);
		assert_noop!(
			Datdot::top_up_plan(RuntimeOrigin::signed(SPONSOR), 0, 10),
			Error::<Test>::PlanEnding
		);
		ledger.step(&w, &[]);
		let (reason, refunded) = plan_ended(0).unwrap();
		assert_eq!(reason, PlanEnd::Cancelled);
		// Hosters were paid up to their last pass when their replicas ended.
		assert_eq!(refunded, budget - paid(|_, _| true));
		assert_eq!(Balances::balance(&SPONSOR), free + refunded + PLAN_DEPOSIT);
		assert_eq!(Replicas::<Test>::iter().count(), 0);
	});
}

#[test]
fn top_up_extends_the_plan_for_exactly_its_price() {
	run(|| {
		publish_network(6, 4, 2, 100);
		let plan = Plans::<Test>::get(0).unwrap();
		assert_noop!(
			Datdot::top_up_plan(RuntimeOrigin::signed(SPONSOR), 0, 0),
			Error::<Test>::ZeroDuration
		);
		assert_noop!(
			Datdot::top_up_plan(RuntimeOrigin::signed(2), 0, 10),
			Error::<Test>::NotSponsor
		);
		assert_noop!(
			Datdot::top_up_plan(RuntimeOrigin::signed(SPONSOR), 0, 1 << 40),
			Error::<Test>::InsufficientBalanceForBudget
		);
		let free = Balances::balance(&SPONSOR);
		assert_ok!(Datdot::top_up_plan(RuntimeOrigin::signed(SPONSOR), 0, 40));
		let added = PRICE * plan.bytes as u128 * 2 * 40;
		System::assert_last_event(
			Event::<Test>::PlanToppedUp { plan: 0, added, ends_at: plan.ends_at + 40 }.into(),
		);
		assert_eq!(Balances::balance(&SPONSOR), free - added);
		let after = Plans::<Test>::get(0).unwrap();
		assert_eq!((after.budget, after.ends_at), (plan.budget + added, plan.ends_at + 40));
		// It ends at its new end block, not the old one.
		assert!(PlanEnds::<Test>::get(plan.ends_at).is_empty());
		run_to_block(plan.ends_at + 1);
		assert!(plan_ended(0).is_none());
		run_to_block(after.ends_at);
		assert_eq!(plan_ended(0).map(|(r, _)| r), Some(PlanEnd::Expired));
	});
}

#[test]
fn many_plans_ending_in_one_block_are_ended_a_bounded_number_of_contracts_per_block() {
	run(|| {
		for who in 1..=8 {
			register(who);
		}
		// MAX_PLAN_ENDS plans of two contracts each end at block 31; a ninth cannot.
		let mut plans = 0;
		for seed in 0..MAX_PLAN_ENDS as u8 {
			let w = feed(20 + seed, SigningMode::Compat, 8);
			assert_ok!(publish_as(SPONSOR, &w, None));
			assert_ok!(Datdot::publish_plan(
				RuntimeOrigin::signed(SPONSOR),
				w.key(),
				ranges(&[(0, 8)]),
				1,
				30,
				None,
				false
			));
			plans += 1;
		}
		let w = feed(40, SigningMode::Compat, 4);
		assert_ok!(publish_as(SPONSOR, &w, None));
		assert_noop!(
			Datdot::publish_plan(
				RuntimeOrigin::signed(SPONSOR),
				w.key(),
				ranges(&[(0, 4)]),
				1,
				30,
				None,
				false
			),
			Error::<Test>::PlanEndScheduleFull
		);
		// Replicas are drawn (and their setups time out: no node here); what matters is the
		// contracts each plan holds when it ends.
		run_to_block(30);
		assert_eq!(Contracts::<Test>::iter().count(), 2 * plans);
		// From the end block on, each block ends at most PLAN_END_STEPS contracts (steps
		// include reading a block's list and closing a plan) until all are gone.
		let mut blocks = 0;
		while Plans::<Test>::iter().count() > 0 {
			let contracts = Contracts::<Test>::iter().count();
			run_to_block(System::block_number() + 1);
			let ended = contracts - Contracts::<Test>::iter().count();
			assert!(ended as u32 <= PLAN_END_STEPS, "{ended} contracts ended in one block");
			blocks += 1;
			assert!(blocks < 10, "plans left");
		}
		let ended = events().iter().filter(|e| matches!(e, Event::PlanEnded { .. })).count();
		assert_eq!(ended, plans);
		// 2 contracts per plan, about PLAN_END_STEPS − 2 of them per block: spread out.
		assert!(blocks >= (2 * plans as u32).div_ceil(PLAN_END_STEPS), "{blocks} blocks");
		assert!(PlanEnds::<Test>::iter().count() <= 1);
	});
}

#[test]
fn a_plan_whose_budget_cannot_pay_ends() {
	run(|| {
		let w = publish_network(8, 4, 2, 10_000);
		let mut ledger = Ledger::default();
		while ledger.active.len() < 2 {
			ledger.step(&w, &[]);
		}
		// Leave the plan a budget of 1: as if replacements had spent it.
		let mut plan = Plans::<Test>::get(0).unwrap();
		let spent = plan.budget - 1;
		assert_ok!(<Balances as frame::traits::fungible::MutateHold<_>>::release(
			&RuntimeHoldReason::Datdot(HoldReason::PlanBudget),
			&SPONSOR,
			spent,
			frame::traits::tokens::Precision::Exact,
		));
		plan.budget = 1;
		Plans::<Test>::insert(0, plan);
		while plan_ended(0).is_none() {
			ledger.step(&w, &[]);
			assert!(System::block_number() < 200, "the plan ended");
		}
		assert_eq!(plan_ended(0), Some((PlanEnd::BudgetSpent, 0)));
		assert_eq!(paid(|_, w| matches!(w, Work::Hosting { .. })), 1);
		assert_eq!(Replicas::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_released_replicas_penalty_pays_into_its_plan() {
	run(|| {
		let issuance = Balances::total_issuance();
		let w = publish_network(8, 4, 2, 10_000);
		let mut ledger = Ledger::default();
		while ledger.active.len() < 2 {
			ledger.step(&w, &[]);
		}
		let (id, (_, hoster, _)) = ledger.active.iter().next().map(|(i, a)| (*i, *a)).unwrap();
		// A challenge naming it must be answered first.
		ledger.step(&w, &[]);
		let budget = Plans::<Test>::get(0).unwrap().budget;
		let paid_then = paid(|_, _| true);
		assert_ok!(Datdot::release_replica(RuntimeOrigin::signed(hoster), id.contract, id.replica));
		let plan = Plans::<Test>::get(0).unwrap();
		assert_eq!(plan.budget, budget + RELEASE_PENALTY - (paid(|_, _| true) - paid_then));
		assert_eq!(Balances::total_issuance(), issuance);
	});
}

#[test]
fn a_feed_is_removed_only_by_its_publisher_once_no_plan_uses_it() {
	run(|| {
		let w = publish_network(6, 4, 1, 20);
		assert_noop!(
			Datdot::remove_feed(RuntimeOrigin::signed(SPONSOR), [9; 32]),
			Error::<Test>::UnknownFeed
		);
		assert_noop!(
			Datdot::remove_feed(RuntimeOrigin::signed(1), w.key()),
			Error::<Test>::NotPublisher
		);
		assert_noop!(
			Datdot::remove_feed(RuntimeOrigin::signed(SPONSOR), w.key()),
			Error::<Test>::FeedInUse
		);
		run_to_block(22);
		assert!(plan_ended(0).is_some());
		let free = Balances::balance(&SPONSOR);
		assert_ok!(Datdot::remove_feed(RuntimeOrigin::signed(SPONSOR), w.key()));
		System::assert_last_event(Event::<Test>::FeedRemoved { key: w.key() }.into());
		assert_eq!(Balances::balance(&SPONSOR), free + FEED_DEPOSIT);
		assert!(Feeds::<Test>::get(w.key()).is_none());
	});
}

#[test]
fn governance_can_end_a_plan_and_a_registration_and_nobody_else_can() {
	run(|| {
		publish_network(6, 4, 1, 1_000);
		run_to_block(3);
		let hoster = Replicas::<Test>::iter().next().unwrap().2.hoster;
		assert_noop!(
			Datdot::force_cancel_plan(RuntimeOrigin::signed(SPONSOR), 0),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Datdot::force_unregister(RuntimeOrigin::signed(hoster), hoster),
			DispatchError::BadOrigin
		);
		assert_ok!(Datdot::force_unregister(RuntimeOrigin::root(), hoster));
		System::assert_last_event(Event::<Test>::ProviderLeaving { provider: hoster }.into());
		assert_ok!(Datdot::force_cancel_plan(RuntimeOrigin::root(), 0));
		run_to_block(4);
		assert_eq!(plan_ended(0).map(|(r, _)| r), Some(PlanEnd::ForceCancelled));
		// Its last duty gone, the leaving hoster is gone too.
		assert!(Providers::<Test>::get(hoster).is_none());
	});
}

#[test]
fn a_following_plan_holds_budget_for_new_blocks_or_stops_following() {
	run(|| {
		for who in 1..=6 {
			register(who);
		}
		let sponsor = 60;
		let mut w = feed(5, SigningMode::Compat, 4);
		assert_ok!(publish_as(sponsor, &w, None));
		assert_ok!(Datdot::publish_plan(
			RuntimeOrigin::signed(sponsor),
			w.key(),
			ranges(&[(0, 4)]),
			1,
			100,
			None,
			true
		));
		let held = budget_held(sponsor);
		let append = |w: &mut FeedWriter, n: u32| {
			let old = w.signed_tree().length;
			for i in old as u32..old as u32 + n {
				w.append(&generate(5, i, BLOCK_BYTES)).unwrap();
			}
			assert_ok!(publish_as(sponsor, w, Some(w.upgrade_proof(old, None).unwrap())));
		};
		append(&mut w, 4);
		run_to_block(2);
		// The new contract's replica, until the plan's end at 101: its hosting and fees.
		let reserve = Contracts::<Test>::get(crate::plans::contract_id(0, 1)).unwrap().reserve;
		let cost = PRICE * reserve as u128 * 99
			+ ENCODING_FEE
			+ ATTESTATION_FEE * (99 / PERFORMANCE_PERIOD as u128 + 1);
		assert_eq!(budget_held(sponsor), held + cost);
		// A sponsor that cannot pay for more stops following, and keeps what it has.
		<Balances as Mutate<_>>::set_balance(&sponsor, 2);
		append(&mut w, 4);
		run_to_block(3);
		assert!(events().contains(&Event::PlanStoppedFollowing {
			plan: 0,
			covered: 8,
			reason: FollowStop::BudgetRefused
		}));
		assert_eq!(Plans::<Test>::get(0).unwrap().contracts, 2);
	});
}
