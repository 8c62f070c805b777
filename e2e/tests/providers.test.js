// Providers through polkadot.js: register with a deposit, specific errors for bad calls,
// pause and unpause.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import { startNode, stopAll, connect, sendAndFinalize, TEST_SEALING_KEY } from '../lib/harness.js';

let api;
after(async () => {
  if (api) await api.disconnect();
  await stopAll();
});

/** A libp2p ed25519 PeerId as bytes: identity multihash of the protobuf public key. */
function peerId(fill) {
  return u8aToHex(new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...new Array(32).fill(fill)]));
}

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
  const bob = new Keyring({ type: 'sr25519' }).addFromUri('//Bob');
  const deposit = api.consts.datdot.providerDeposit.toBigInt();
  const minCapacity = api.consts.datdot.minCapacity.toBigInt();

  await t.test('register holds the deposit and emits ProviderRegistered', async () => {
    const { events } = await sendAndFinalize(
      api.tx.datdot.register(peerId(7), TEST_SEALING_KEY, minCapacity * 4n, 'eu-west'), bob);
    const ev = events.find(({ event }) => api.events.datdot.ProviderRegistered.is(event));
    assert.ok(ev, 'ProviderRegistered event');
    assert.equal(ev.event.data.provider.toString(), bob.address);
    assert.equal(ev.event.data.deposit.toBigInt(), deposit);
    const provider = (await api.query.datdot.providers(bob.address)).unwrap();
    assert.equal(provider.capacity.toBigInt(), minCapacity * 4n);
    assert.equal(provider.status.type, 'Active');
    const account = await api.query.system.account(bob.address);
    assert.equal(account.data.reserved.toBigInt(), deposit, 'the deposit is on hold');
  });

  await t.test('bad calls fail with the pallet error that says what was wrong', async () => {
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.register(peerId(8), TEST_SEALING_KEY, minCapacity, null), bob),
      (e) => moduleError(e) === 'datdot.AlreadyRegistered');
    const charlie = new Keyring({ type: 'sr25519' }).addFromUri('//Charlie');
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.register('0x0102', TEST_SEALING_KEY, minCapacity, null), charlie),
      (e) => moduleError(e) === 'datdot.InvalidPeerId');
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.register(peerId(9), TEST_SEALING_KEY, minCapacity - 1n, null), charlie),
      (e) => moduleError(e) === 'datdot.CapacityTooSmall');
    // A 2047-bit modulus, and an even one.
    const tiny = `0x7f${TEST_SEALING_KEY.slice(4)}`;
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.register(peerId(9), tiny, minCapacity, null), charlie),
      (e) => moduleError(e) === 'datdot.SealingKeyTooSmall');
    const even = `${TEST_SEALING_KEY.slice(0, -1)}${(parseInt(TEST_SEALING_KEY.slice(-1), 16) & 14).toString(16)}`;
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.register(peerId(9), even, minCapacity, null), charlie),
      (e) => moduleError(e) === 'datdot.SealingKeyMalformed');
    assert.ok((await api.query.datdot.providers(charlie.address)).isNone, 'nothing changed');
  });

  await t.test('pause, then unpause', async () => {
    const now = (await api.rpc.chain.getHeader()).number.toNumber();
    await sendAndFinalize(api.tx.datdot.pause(now + 100), bob);
    assert.equal((await api.query.datdot.providers(bob.address)).unwrap().status.type, 'Paused');
    assert.equal((await api.query.datdot.indexLen('Eligible')).toNumber(), 0);
    await sendAndFinalize(api.tx.datdot.unpause(), bob);
    assert.equal((await api.query.datdot.providers(bob.address)).unwrap().status.type, 'Active');
    assert.equal((await api.query.datdot.indexLen('Eligible')).toNumber(), 1);
  });
});
