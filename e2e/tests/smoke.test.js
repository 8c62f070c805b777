// Smoke test of the chain: a real `datdot-node --dev` on 127.0.0.1, driven with @polkadot/api
// from metadata alone.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, randomAsHex } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import { startNode, stopAll, connect, sendAndFinalize } from '../lib/harness.js';

const UNIT = 10n ** 12n;
let api;

after(async () => {
  if (api) await api.disconnect();
  await stopAll();
});

test('dev chain: metadata, 6 s blocks with finality, and a finalized balance transfer', { timeout: 300_000 }, async (t) => {
  await cryptoWaitReady();
  const node = await startNode(['--dev'], { name: 'dev' });
  const conn = await connect(node);
  api = conn.api;

  await t.test('polkadot.js decodes the chain from metadata with no custom types', () => {
    // Type or signed-extension problems would show here; RPC methods that this version of
    // @polkadot/api has no decoration for (new upstream RPCs) are harmless and ignored.
    const problems = conn.logged.filter((l) => !/RPC methods not decorated/.test(l));
    assert.deepEqual(problems, [], `@polkadot/api complained: ${problems.join('\n')}`);
    const pallets = api.runtimeMetadata.asLatest.pallets.map((p) => p.name.toString());
    for (const name of ['System', 'Babe', 'Grandpa', 'Balances', 'TransactionPayment', 'Sudo', 'Datdot']) {
      assert.ok(pallets.includes(name), `metadata lists ${name}; it has ${pallets.join(', ')}`);
    }
    assert.equal(api.runtimeVersion.specName.toString(), 'datdot');
  });

  await t.test('blocks come every 6 s and are finalized', async () => {
    // Collect the timestamps of four consecutive new blocks.
    const stamps = [];
    await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('fewer than 4 new blocks in 60 s')), 60_000);
      api.rpc.chain.subscribeNewHeads(async (header) => {
        if (header.number.toNumber() === 0) return; // genesis has no timestamp
        const at = await api.at(header.hash);
        stamps.push({
          n: header.number.toNumber(),
          ms: (await at.query.timestamp.now()).toNumber(),
          slot: (await at.query.babe.currentSlot()).toNumber(),
        });
        if (stamps.length === 4) { clearTimeout(timer); ok(); }
      }).then((unsub) => { stamps.unsub = unsub; }, fail);
    });
    stamps.unsub();
    for (let i = 1; i < stamps.length; i++) {
      if (stamps[i].n !== stamps[i - 1].n + 1) continue; // a re-org or skipped notification
      const between = `between #${stamps[i - 1].n} and #${stamps[i].n}`;
      // One 6 s BABE slot per block (a single validator wins every slot, primary or secondary)…
      assert.equal(stamps[i].slot - stamps[i - 1].slot, 1, `slots ${between}`);
      // …and the authors' clocks agree with it to within the authoring jitter.
      const ms = stamps[i].ms - stamps[i - 1].ms;
      assert.ok(Math.abs(ms - 6000) <= 500, `block time ${between}: ${ms} ms`);
    }
    const finalized = await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead());
    const best = await api.rpc.chain.getHeader();
    assert.ok(finalized.number.toNumber() > 0, 'GRANDPA finalized at least one block');
    assert.ok(best.number.toNumber() - finalized.number.toNumber() <= 3,
      `finality keeps up: best #${best.number}, finalized #${finalized.number}`);
  });

  await t.test("the dev node holds Alice's datdot provider key (dtdt) for its off-chain worker", async () => {
    const keyring = new Keyring({ type: 'sr25519' });
    const alice = keyring.addFromUri('//Alice');
    const bob = keyring.addFromUri('//Bob');
    assert.equal((await api.rpc.author.hasKey(u8aToHex(alice.publicKey), 'dtdt')).isTrue, true);
    assert.equal((await api.rpc.author.hasKey(u8aToHex(bob.publicKey), 'dtdt')).isTrue, false);
  });

  await t.test('a signed transfer is finalized and moves exactly the amount', async () => {
    const keyring = new Keyring({ type: 'sr25519' });
    const alice = keyring.addFromUri('//Alice');
    const fresh = keyring.addFromUri(`//datdot-e2e-${randomAsHex(8)}`);
    const amount = 10n * UNIT;

    const before = (await api.query.system.account(alice.address)).data.free.toBigInt();
    assert.equal((await api.query.system.account(fresh.address)).data.free.toBigInt(), 0n);

    const { blockHash, events } = await sendAndFinalize(
      api.tx.balances.transferKeepAlive(fresh.address, amount), alice);

    const names = events.map(({ event }) => `${event.section}.${event.method}`);
    assert.ok(names.includes('system.ExtrinsicSuccess'), `events: ${names.join(', ')}`);
    const transfer = events.find(({ event }) => api.events.balances.Transfer.is(event));
    assert.ok(transfer, 'a Balances.Transfer event');
    assert.equal(transfer.event.data.amount.toBigInt(), amount);
    const feeEvent = events.find(({ event }) => api.events.transactionPayment.TransactionFeePaid.is(event));
    const fee = feeEvent.event.data.actualFee.toBigInt() + feeEvent.event.data.tip.toBigInt();
    assert.ok(fee > 0n, 'the transfer paid a fee');

    const at = await api.at(blockHash);
    const after_ = (await at.query.system.account(alice.address)).data.free.toBigInt();
    assert.equal((await at.query.system.account(fresh.address)).data.free.toBigInt(), amount);
    assert.equal(before - after_, amount + fee, 'Alice paid the amount plus the fee, nothing else');
  });
});
