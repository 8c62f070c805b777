//! Tests of the datdot pallet against the mock runtime.

use crate::{mock::*, pallet::*, selection::random_index, ProviderStatus};
use frame::{
	testing_prelude::*,
	traits::fungible::{Inspect, InspectHold},
};

fn register(who: AccountId) {
	assert_ok!(Datdot::register(
		RuntimeOrigin::signed(who),
		peer_id(who as u8),
		MIN_CAPACITY,
		None
	));
}

fn held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::Datdot(HoldReason::ProviderDeposit), &who)
}

fn eligible() -> Vec<AccountId> {
	(0..EligibleCount::<Test>::get()).map(|i| EligibleProviders::<Test>::get(i).unwrap()).collect()
}

mod register {
	use super::*;

	#[test]
	fn holds_the_deposit_and_makes_the_provider_drawable() {
		run(|| {
			let region: crate::RegionOf<Test> = b"eu-west".to_vec().try_into().unwrap();
			assert_ok!(Datdot::register(
				RuntimeOrigin::signed(1),
				peer_id(1),
				MIN_CAPACITY * 2,
				Some(region.clone())
			));
			let p = Providers::<Test>::get(1).unwrap();
			assert_eq!((p.capacity, p.free_capacity), (MIN_CAPACITY * 2, MIN_CAPACITY * 2));
			assert_eq!(p.region, Some(region));
			assert_eq!(p.status, ProviderStatus::Active);
			assert_eq!(held(1), DEPOSIT);
			assert_eq!(Balances::balance(&1), 10_000 - DEPOSIT);
			assert_eq!(eligible(), vec![1]);
			System::assert_last_event(
				Event::<Test>::ProviderRegistered {
					provider: 1,
					peer_id: peer_id(1),
					capacity: MIN_CAPACITY * 2,
					deposit: DEPOSIT,
				}
				.into(),
			);
		});
	}

	#[test]
	fn rejects_a_second_registration() {
		run(|| {
			register(1);
			assert_noop!(
				Datdot::register(RuntimeOrigin::signed(1), peer_id(9), MIN_CAPACITY, None),
				Error::<Test>::AlreadyRegistered
			);
		});
	}

	#[test]
	fn rejects_a_malformed_peer_id() {
		run(|| {
			let mut wrong_key_type = peer_id(1).into_inner();
			wrong_key_type[3] = 0x02; // secp256k1, not ed25519
			for bad in [vec![], vec![0u8; 38], wrong_key_type, peer_id(1)[..37].to_vec()] {
				assert_noop!(
					Datdot::register(
						RuntimeOrigin::signed(1),
						bad.try_into().unwrap(),
						MIN_CAPACITY,
						None
					),
					Error::<Test>::InvalidPeerId
				);
			}
		});
	}

	#[test]
	fn rejects_a_capacity_below_the_minimum() {
		run(|| {
			assert_noop!(
				Datdot::register(RuntimeOrigin::signed(1), peer_id(1), MIN_CAPACITY - 1, None),
				Error::<Test>::CapacityTooSmall
			);
		});
	}

	#[test]
	fn rejects_an_account_that_cannot_pay_the_deposit() {
		run(|| {
			assert_noop!(
				Datdot::register(RuntimeOrigin::signed(200), peer_id(200), MIN_CAPACITY, None),
				Error::<Test>::InsufficientBalanceForDeposit
			);
		});
	}

	#[test]
	fn rejects_providers_beyond_the_maximum() {
		run(|| {
			for who in 1..=MAX_PROVIDERS as u64 {
				register(who);
			}
			assert_noop!(
				Datdot::register(RuntimeOrigin::signed(99), peer_id(99), MIN_CAPACITY, None),
				Error::<Test>::TooManyProviders
			);
		});
	}

	#[test]
	fn rejects_unsigned_origins() {
		run(|| {
			assert_noop!(
				Datdot::register(RuntimeOrigin::none(), peer_id(1), MIN_CAPACITY, None),
				DispatchError::BadOrigin
			);
		});
	}
}

mod unregister {
	use super::*;

	#[test]
	fn releases_the_deposit_and_leaves_the_index_consistent() {
		run(|| {
			for who in 1..=4 {
				register(who);
			}
			// Leaving from the middle of the index moves the last provider into the hole.
			assert_ok!(Datdot::unregister(RuntimeOrigin::signed(2)));
			assert!(Providers::<Test>::get(2).is_none());
			assert_eq!(held(2), 0);
			assert_eq!(Balances::balance(&2), 10_000);
			assert_eq!(eligible(), vec![1, 4, 3]);
			System::assert_last_event(Event::<Test>::ProviderUnregistered { provider: 2 }.into());
		});
	}

	#[test]
	fn cancels_a_scheduled_pause_end() {
		run(|| {
			register(1);
			assert_ok!(Datdot::pause(RuntimeOrigin::signed(1), 10));
			assert_ok!(Datdot::unregister(RuntimeOrigin::signed(1)));
			assert!(PauseEnds::<Test>::get(10).is_empty());
		});
	}

	#[test]
	fn rejects_an_unknown_account() {
		run(|| {
			assert_noop!(
				Datdot::unregister(RuntimeOrigin::signed(1)),
				Error::<Test>::NotRegistered
			);
		});
	}

	#[test]
	fn rejects_a_provider_that_holds_replicas() {
		run(|| {
			register(1);
			Providers::<Test>::mutate(1, |p| p.as_mut().unwrap().replicas = 1);
			assert_noop!(
				Datdot::unregister(RuntimeOrigin::signed(1)),
				Error::<Test>::ProviderHasReplicas
			);
		});
	}
}

mod pause {
	use super::*;

	#[test]
	fn takes_the_provider_out_until_the_pause_ends() {
		run(|| {
			register(1);
			register(2);
			assert_ok!(Datdot::pause(RuntimeOrigin::signed(1), 5));
			assert_eq!(
				Providers::<Test>::get(1).unwrap().status,
				ProviderStatus::Paused { until: 5 }
			);
			assert_eq!(eligible(), vec![2]);
			System::assert_last_event(
				Event::<Test>::ProviderPaused { provider: 1, until: 5 }.into(),
			);

			run_to_block(5);
			assert!(matches!(
				Providers::<Test>::get(1).unwrap().status,
				ProviderStatus::Paused { .. }
			));
			run_to_block(6);
			assert_eq!(Providers::<Test>::get(1).unwrap().status, ProviderStatus::Active);
			assert_eq!(eligible(), vec![2, 1]);
			System::assert_last_event(Event::<Test>::ProviderResumed { provider: 1 }.into());
			assert!(PauseEnds::<Test>::get(5).is_empty());
		});
	}

	#[test]
	fn rejects_pauses_in_the_past_or_too_long() {
		run(|| {
			register(1);
			run_to_block(10);
			assert_noop!(Datdot::pause(RuntimeOrigin::signed(1), 10), Error::<Test>::PauseInPast);
			assert_noop!(
				Datdot::pause(RuntimeOrigin::signed(1), 10 + MAX_PAUSE + 1),
				Error::<Test>::PauseTooLong
			);
			assert_ok!(Datdot::pause(RuntimeOrigin::signed(1), 10 + MAX_PAUSE));
		});
	}

	#[test]
	fn rejects_a_provider_that_is_not_active() {
		run(|| {
			register(1);
			assert_ok!(Datdot::pause(RuntimeOrigin::signed(1), 5));
			assert_noop!(Datdot::pause(RuntimeOrigin::signed(1), 6), Error::<Test>::NotActive);
		});
	}

	#[test]
	fn rejects_an_unknown_account() {
		run(|| {
			assert_noop!(Datdot::pause(RuntimeOrigin::signed(1), 5), Error::<Test>::NotRegistered);
		});
	}

	#[test]
	fn rejects_a_full_pause_schedule() {
		run(|| {
			for who in 1..=MAX_PAUSE_ENDS as u64 + 1 {
				register(who);
			}
			for who in 1..=MAX_PAUSE_ENDS as u64 {
				assert_ok!(Datdot::pause(RuntimeOrigin::signed(who), 7));
			}
			let last = MAX_PAUSE_ENDS as u64 + 1;
			assert_noop!(
				Datdot::pause(RuntimeOrigin::signed(last), 7),
				Error::<Test>::PauseScheduleFull
			);
			assert_ok!(Datdot::pause(RuntimeOrigin::signed(last), 8));
		});
	}
}

mod unpause {
	use super::*;

	#[test]
	fn ends_a_pause_early() {
		run(|| {
			register(1);
			assert_ok!(Datdot::pause(RuntimeOrigin::signed(1), 50));
			assert_ok!(Datdot::unpause(RuntimeOrigin::signed(1)));
			assert_eq!(Providers::<Test>::get(1).unwrap().status, ProviderStatus::Active);
			assert!(PauseEnds::<Test>::get(50).is_empty());
			assert_eq!(eligible(), vec![1]);
		});
	}

	#[test]
	fn brings_back_an_offline_provider() {
		run(|| {
			register(1);
			Providers::<Test>::mutate(1, |p| {
				let p = p.as_mut().unwrap();
				p.status = ProviderStatus::Offline;
				Datdot::refresh_eligibility(&1, p);
			});
			assert!(eligible().is_empty());
			assert_ok!(Datdot::unpause(RuntimeOrigin::signed(1)));
			assert_eq!(eligible(), vec![1]);
		});
	}

	#[test]
	fn rejects_an_active_provider() {
		run(|| {
			register(1);
			assert_noop!(Datdot::unpause(RuntimeOrigin::signed(1)), Error::<Test>::AlreadyActive);
		});
	}

	#[test]
	fn rejects_an_unknown_account() {
		run(|| {
			assert_noop!(Datdot::unpause(RuntimeOrigin::signed(1)), Error::<Test>::NotRegistered);
		});
	}
}

mod selection {
	use super::*;

	#[test]
	fn picks_distinct_eligible_providers_and_never_excluded_ones() {
		run(|| {
			for who in 1..=10 {
				register(who);
			}
			assert_ok!(Datdot::pause(RuntimeOrigin::signed(3), 100));
			for round in 0u32..500 {
				let seed = frame::hashing::blake2_256(&round.to_le_bytes());
				let picked = Datdot::pick_providers(&seed, 3, MIN_FREE, &[7]).unwrap();
				assert_eq!(picked.len(), 3);
				for (i, who) in picked.iter().enumerate() {
					assert!(
						*who != 7 && *who != 3,
						"excluded or paused provider drawn: {picked:?}"
					);
					assert!(!picked[i + 1..].contains(who), "drawn twice: {picked:?}");
				}
			}
		});
	}

	#[test]
	fn is_uniform_over_eligible_providers_within_tolerance() {
		run(|| {
			for who in 1..=8 {
				register(who);
			}
			let mut counts = [0u32; 9];
			for round in 0u32..8_000 {
				let seed = frame::hashing::blake2_256(&round.to_le_bytes());
				for who in Datdot::pick_providers(&seed, 1, MIN_FREE, &[]).unwrap() {
					counts[who as usize] += 1;
				}
			}
			// Each of 8 providers expects 1000 of 8000 draws; allow ±15 %.
			for c in &counts[1..] {
				assert!((850..=1150).contains(c), "{counts:?}");
			}
		});
	}

	#[test]
	fn skips_providers_without_enough_free_capacity() {
		run(|| {
			for who in 1..=4 {
				register(who);
			}
			Providers::<Test>::mutate(2, |p| p.as_mut().unwrap().free_capacity = MIN_FREE);
			for round in 0u32..200 {
				let seed = frame::hashing::blake2_256(&round.to_le_bytes());
				let picked = Datdot::pick_providers(&seed, 3, MIN_FREE * 2, &[]).unwrap();
				assert!(!picked.contains(&2), "{picked:?}");
			}
		});
	}

	#[test]
	fn returns_none_when_too_few_qualify() {
		run(|| {
			register(1);
			register(2);
			assert_eq!(Datdot::pick_providers(&[0; 32], 3, MIN_FREE, &[]), None);
			assert_eq!(Datdot::pick_providers(&[0; 32], 2, MIN_FREE, &[2]), None);
			assert!(Datdot::pick_providers(&[0; 32], 2, MIN_FREE, &[]).is_some());
		});
	}

	#[test]
	fn random_index_differs_per_attempt() {
		let a: Vec<u32> = (0..16).map(|i| random_index(&[9; 32], i, 1 << 20).unwrap()).collect();
		let mut b = a.clone();
		b.dedup();
		assert_eq!(a.len(), b.len(), "consecutive attempts repeat: {a:?}");
	}
}
