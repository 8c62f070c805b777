// Providers through polkadot.js: register with a deposit, a proven PeerId and a consenting
// duty key, specific errors for bad calls (a stolen PeerId or a squatted duty key among them),
// duties signed by the duty key, which cannot unregister or change keys.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import {
  startNode, stopAll, connect, sendAndFinalize, TEST_SEALING_KEY, registerTx, identity, peerSignature, dutyKeyOf,
  dutyPair, dutyConsent,
} from '../lib/harness.js';

let api;
after(async () => {
  if (api) await api.disconnect();
  await stopAll();
});

/** The `section.Name` of the module error a failed transaction carried. */
function moduleError(err) {
  const dispatchError = err.result?.dispatchError;
  assert.ok(dispatchError?.isModule, `expected a module error, got ${err.message}`);
  const meta = api.registry.findMetaError(dispatchError.asModule);
  return `${meta.section}.${meta.name}`;
}

test('providers: register, specific errors, pause and unpause', { timeout: 300_000 }, async (t) => {
  await cryptoWaitReady();
  const node = await startNode(['--dev'], { name: 'providers' });
  ({ api } = await connect(node));
  const keyring = new Keyring({ type: 'sr25519' });
  const bob = keyring.addFromUri('//Bob');
  // Bob's duty key: an account funded at genesis, as a node's key would be for its fees.
  const duty = keyring.addFromUri('//Ferdie');
  const deposit = api.consts.datdot.providerDeposit.toBigInt();
  const minCapacity = api.consts.datdot.minCapacity.toBigInt();

  await t.test('register holds the deposit and emits ProviderRegistered', async () => {
    const { events } = await sendAndFinalize(
      registerTx(api, bob, 7, { capacity: minCapacity * 4n, region: 'eu-west', dutyKey: duty }), bob);
    const ev = events.find(({ event }) => api.events.datdot.ProviderRegistered.is(event));
    assert.ok(ev, 'ProviderRegistered event');
    assert.equal(ev.event.data.provider.toString(), bob.address);
    assert.equal(ev.event.data.dutyKey.toString(), duty.address);
    assert.equal((await api.query.datdot.peerIdProviders(identity(7).peerId)).toString(), bob.address);
    assert.equal(ev.event.data.deposit.toBigInt(), deposit);
    const provider = (await api.query.datdot.providers(bob.address)).unwrap();
    assert.equal(provider.capacity.toBigInt(), minCapacity * 4n);
    assert.equal(provider.status.type, 'Active');
    const account = await api.query.system.account(bob.address);
    assert.equal(account.data.reserved.toBigInt(), deposit, 'the deposit is on hold');
  });

  await t.test('bad calls fail with the pallet error that says what was wrong', async () => {
    await assert.rejects(
      sendAndFinalize(registerTx(api, bob, 8, { capacity: minCapacity }), bob),
      (e) => moduleError(e) === 'datdot.AlreadyRegistered');
    const charlie = keyring.addFromUri('//Charlie');
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.register('0x0102', peerSignature(9, charlie.address), dutyKeyOf(9),
        dutyConsent(dutyPair(9), charlie.address), TEST_SEALING_KEY, minCapacity, null), charlie),
      (e) => moduleError(e) === 'datdot.InvalidPeerId');
    // Node 10's signature for another account (as seen in that account's pending register).
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.register(identity(10).peerId, peerSignature(10, bob.address), dutyKeyOf(9),
        dutyConsent(dutyPair(9), charlie.address), TEST_SEALING_KEY, minCapacity, null), charlie),
      (e) => moduleError(e) === 'datdot.InvalidPeerSignature');
    // Bob's PeerId, even signed by its node's key for Charlie: a PeerId serves one provider.
    await assert.rejects(
      sendAndFinalize(registerTx(api, charlie, 7, { capacity: minCapacity }), charlie),
      (e) => moduleError(e) === 'datdot.PeerIdTaken');
    await assert.rejects(
      sendAndFinalize(registerTx(api, charlie, 9, { capacity: minCapacity, dutyKey: charlie }), charlie),
      (e) => moduleError(e) === 'datdot.DutyKeyIsProviderAccount');
    await assert.rejects(
      sendAndFinalize(registerTx(api, charlie, 9, { capacity: minCapacity, dutyKey: duty }), charlie),
      (e) => moduleError(e) === 'datdot.DutyKeyTaken');
    // Dave's account named as Charlie's duty key without Dave's consent (which would keep
    // Dave from ever registering): Charlie's own signature, or Dave's consent for Bob.
    const dave = keyring.addFromUri('//Dave');
    for (const dutySignature of [dutyConsent(charlie, charlie.address), dutyConsent(dave, bob.address)]) {
      await assert.rejects(
        sendAndFinalize(registerTx(api, charlie, 9, { capacity: minCapacity, dutyKey: dave, dutySignature }), charlie),
        (e) => moduleError(e) === 'datdot.InvalidDutyKeySignature');
    }
    await assert.rejects(
      sendAndFinalize(registerTx(api, charlie, 9, { capacity: minCapacity - 1n }), charlie),
      (e) => moduleError(e) === 'datdot.CapacityTooSmall');
    // A 2047-bit modulus, and an even one.
    const tiny = `0x7f${TEST_SEALING_KEY.slice(4)}`;
    await assert.rejects(
      sendAndFinalize(registerTx(api, charlie, 9, { sealingKey: tiny, capacity: minCapacity }), charlie),
      (e) => moduleError(e) === 'datdot.SealingKeyTooSmall');
    const even = `${TEST_SEALING_KEY.slice(0, -1)}${(parseInt(TEST_SEALING_KEY.slice(-1), 16) & 14).toString(16)}`;
    await assert.rejects(
      sendAndFinalize(registerTx(api, charlie, 9, { sealingKey: even, capacity: minCapacity }), charlie),
      (e) => moduleError(e) === 'datdot.SealingKeyMalformed');
    assert.ok((await api.query.datdot.providers(charlie.address)).isNone, 'nothing changed');
  });

  await t.test('the duty key pauses and unpauses the provider, and cannot unregister or change keys', async () => {
    const now = (await api.rpc.chain.getHeader()).number.toNumber();
    await sendAndFinalize(api.tx.datdot.pause(now + 100), duty);
    assert.equal((await api.query.datdot.providers(bob.address)).unwrap().status.type, 'Paused');
    assert.equal((await api.query.datdot.indexLen('Eligible')).toNumber(), 0);
    await sendAndFinalize(api.tx.datdot.unpause(), duty);
    assert.equal((await api.query.datdot.providers(bob.address)).unwrap().status.type, 'Active');
    assert.equal((await api.query.datdot.indexLen('Eligible')).toNumber(), 1);

    const held = (await api.query.system.account(bob.address)).data.reserved.toBigInt();
    await assert.rejects(sendAndFinalize(api.tx.datdot.unregister(), duty),
      (e) => moduleError(e) === 'datdot.NeedsProviderAccount');
    await assert.rejects(sendAndFinalize(api.tx.datdot.setDutyKey(dutyKeyOf(5), dutyConsent(dutyPair(5), bob.address)), duty),
      (e) => moduleError(e) === 'datdot.NeedsProviderAccount');
    assert.ok((await api.query.datdot.providers(bob.address)).isSome, 'still registered');
    assert.equal((await api.query.system.account(bob.address)).data.reserved.toBigInt(), held, 'deposit untouched');

    // Bob replaces the key: the old one acts for nobody any more.
    await sendAndFinalize(api.tx.datdot.setDutyKey(dutyKeyOf(5), dutyConsent(dutyPair(5), bob.address)), bob);
    assert.equal((await api.query.datdot.dutyKeys(bob.address)).toString(), dutyKeyOf(5));
    await assert.rejects(sendAndFinalize(api.tx.datdot.pause(now + 100), duty),
      (e) => moduleError(e) === 'datdot.NotRegistered');
  });
});
