//! The genesis presets build a usable chain: validators, funded dev accounts, sudo.

use datdot_runtime::{
	genesis::{self, DEV_ENDOWMENT},
	Balances, Grandpa, Runtime, RuntimeGenesisConfig,
};
use frame_support::genesis_builder_helper::build_state;
use sp_genesis_builder::{PresetId, DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET};
use sp_keyring::Sr25519Keyring;

/// Applies a JSON patch the way the node does: objects merge key by key, the rest replaces.
fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
	match (base, patch) {
		(serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
			for (k, v) in patch {
				merge(base.entry(k).or_insert(serde_json::Value::Null), v);
			}
		}
		(base, patch) => *base = patch,
	}
}

/// The genesis state of a preset, built as the node builds it: the preset is a patch on top
/// of the default genesis config.
fn build(preset: &str) -> sp_io::TestExternalities {
	let patch = genesis::get_preset(&PresetId::from(preset)).expect("preset exists");
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
	merge(&mut config, serde_json::from_slice(&patch).unwrap());
	let mut ext = sp_io::TestExternalities::new_empty();
	ext.execute_with(|| {
		build_state::<RuntimeGenesisConfig>(config.to_string().into_bytes()).expect("preset builds")
	});
	ext
}

#[test]
fn development_preset_has_alice_as_sole_validator_and_sudo() {
	build(DEV_RUNTIME_PRESET).execute_with(|| {
		let babe = pallet_babe::Authorities::<Runtime>::get();
		assert_eq!(babe.len(), 1);
		assert_eq!(babe[0].0, Sr25519Keyring::Alice.public().into());
		assert_eq!(Grandpa::grandpa_authorities().len(), 1);
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), Some(Sr25519Keyring::Alice.to_account_id()));
		for k in Sr25519Keyring::well_known() {
			assert_eq!(Balances::free_balance(k.to_account_id()), DEV_ENDOWMENT, "{k:?}");
		}
	});
}

#[test]
fn local_testnet_preset_has_two_validators() {
	build(LOCAL_TESTNET_RUNTIME_PRESET).execute_with(|| {
		let babe = pallet_babe::Authorities::<Runtime>::get();
		assert_eq!(babe.len(), 2);
		assert_eq!(babe[1].0, Sr25519Keyring::Bob.public().into());
		assert_eq!(Grandpa::grandpa_authorities().len(), 2);
		assert_eq!(Balances::free_balance(Sr25519Keyring::Ferdie.to_account_id()), DEV_ENDOWMENT);
	});
}

#[test]
fn unknown_preset_is_none() {
	assert!(genesis::get_preset(&PresetId::from("mainnet")).is_none());
	assert_eq!(genesis::preset_names().len(), 2);
}
