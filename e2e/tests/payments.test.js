// Plans end between real datdot-node processes on 127.0.0.1 (design §9, §10): a short plan
// runs out and a cancelled one stops; providers are paid exactly for the blocks they proved,
// the hosters' stores are emptied and the sponsor gets the rest back. Its own network, apart
// from the other files', so that they run side by side.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sendAndFinalize, rpcCall } from '../lib/harness.js';
import {
  networkScope, startNetwork, writeJsFeed, importFeed, registerProviders, publishFeed, is, replicaKey,
} from '../lib/network.js';

const BLOCK_BYTES = 4096;
const REPLICAS = 2;

let net;
const scratch = networkScope('datdot-payments-feed-', () => net);

test('payments: plans ended and paid', { timeout: 1_800_000 }, async (t) => {
  net = await startNetwork(['bob', 'charlie', 'dave', 'eve'], { challengePeriod: 3, offlineGrace: 100 });
  const { api, events, nodes, byAddress } = net;
  await registerProviders(net, api.consts.datdot.minCapacity.toBigInt() * 4n);

  await t.test('plans end: a short plan runs out, a cancelled one stops; providers are paid exactly for proven blocks, stores emptied, the sponsor refunded', async () => {
    const price = api.consts.datdot.pricePerByteBlock.toBigInt();
    const encodingFee = api.consts.datdot.encodingFee.toBigInt();
    const planDeposit = api.consts.datdot.planDeposit.toBigInt();
    // Long enough for every hoster to pass challenges after its setup (period 3).
    const DURATION = 36;
    const plans = {};
    for (const name of ['short', 'cancelled']) {
      const small = importFeed(net.validator, await writeJsFeed(join(scratch, name), 64, BLOCK_BYTES));
      await publishFeed(net, small);
      const { blockHash, events: evs } = await sendAndFinalize(api.tx.datdot.publishPlan(
        `0x${small.key}`, [{ start: 0, end: 64 }], REPLICAS, name === 'short' ? DURATION : 10_000, null, false), net.sponsor);
      const id = evs.find(({ event }) => is('PlanPublished')(event)).event.data.plan.toNumber();
      const at = (await api.rpc.chain.getHeader(blockHash)).number.toNumber();
      const record = (await api.query.datdot.plans.at(blockHash, id)).unwrap();
      plans[name] = { id, at, budget: record.budget.toBigInt(), contract: BigInt(id) << 32n };
    }
    const ofPlan = (name) => (e) => BigInt(e.data.contract.toString()) === plans[name].contract;
    const activeOf = (name) => events.seen.filter((e) => is('ReplicaActive')(e) && ofPlan(name)(e));
    const until = Date.now() + 300_000;
    while (activeOf('cancelled').length < REPLICAS || activeOf('short').length < REPLICAS) {
      assert.ok(Date.now() < until, 'both plans active within 5 minutes');
      await new Promise((r) => setTimeout(r, 1000));
    }
    // Cancelled once each of its hosters has proven something since its replica's activation.
    const provenSince = (act) => events.seen.some((e) => is('ChallengePassed')(e)
      && e.data.hoster.toString() === act.data.hoster.toString() && events.seen.indexOf(e) > events.seen.indexOf(act));
    while (!activeOf('cancelled').every(provenSince)) {
      assert.ok(Date.now() < until + 300_000, 'the hosters of the plan to cancel pass a challenge');
      await new Promise((r) => setTimeout(r, 1000));
    }
    await sendAndFinalize(api.tx.datdot.cancelPlan(plans.cancelled.id), net.sponsor);
    const ended = (name) => events.waitFor((e) => is('PlanEnded')(e) && e.data.plan.toNumber() === plans[name].id, 600_000);
    const endings = { cancelled: await ended('cancelled'), short: await ended('short') };
    assert.equal(endings.cancelled.data.reason.type, 'Cancelled');
    assert.equal(endings.short.data.reason.type, 'Expired');

    // Every block from the first plan's publication to the end, with its events.
    const head = (await api.rpc.chain.getHeader()).number.toNumber();
    const blocks = [];
    for (let n = plans.short.at; n <= head; n++) {
      const hash = await api.rpc.chain.getBlockHash(n);
      blocks.push({ n, hash, events: (await api.query.system.events.at(hash)).map((r) => r.event) });
    }
    const find = (pred) => blocks.flatMap((b) => b.events.filter(pred).map((e) => ({ n: b.n, e })));
    let paidTotal = 0n;
    for (const name of ['short', 'cancelled']) {
      const { id, budget, contract } = plans[name];
      const [end] = find((e) => is('PlanEnded')(e) && e.data.plan.toNumber() === id);
      const reserve = (await api.query.datdot.contracts.at(blocks.find((b) => b.n === plans[name].at).hash, contract))
        .unwrap().reserve.toBigInt();
      const paid = find((e) => is('ProviderPaid')(e) && e.data.plan.toNumber() === id);
      // Encoders: one fee per accepted encoding.
      const activations = find((e) => is('ReplicaActive')(e) && BigInt(e.data.contract.toString()) === contract);
      const encodings = paid.filter(({ e }) => e.data.work.isEncoding);
      assert.equal(encodings.length, activations.length, `${name}: one encoding fee per active replica`);
      assert.ok(encodings.every(({ e }) => e.data.amount.toBigInt() === encodingFee));
      // Hosters: each payment covers blocks from the replica's activation (or its last
      // payment) to a block at which its hoster passed a challenge (or the plan's end), at
      // the price per byte-block; the last one reaches the hoster's last pass before the end.
      for (const { n: activatedAt, e: act } of activations) {
        const key = replicaKey(act.data);
        const hoster = act.data.hoster.toString();
        const passes = find((e) => is('ChallengePassed')(e) && e.data.hoster.toString() === hoster).map(({ n }) => n);
        const mine = paid.filter(({ e }) => e.data.work.isHosting && replicaKey(e.data.work.asHosting.replica) === key);
        let from = activatedAt;
        for (const { e } of mine) {
          const h = e.data.work.asHosting;
          assert.equal(h.from.toNumber(), from, `${name} ${key}: paid from where it was paid up to`);
          assert.ok(passes.includes(h.to.toNumber()), `${name} ${key}: paid up to a passed challenge (${h.to})`);
          assert.equal(e.data.provider.toString(), hoster);
          assert.equal(e.data.amount.toBigInt(), price * reserve * BigInt(h.to.toNumber() - from));
          from = h.to.toNumber();
        }
        const lastPass = Math.max(activatedAt, ...passes.filter((b) => b < end.n));
        assert.equal(from, lastPass, `${name} ${key}: paid up to its hoster's last pass before the end`);
        assert.ok(from > activatedAt, `${name} ${key}: its hoster proved it and was paid`);
      }
      // The sponsor gets exactly the rest back, and its deposit.
      const spent = paid.reduce((sum, { e }) => sum + e.data.amount.toBigInt(), 0n);
      paidTotal += spent;
      assert.equal(end.e.data.refunded.toBigInt(), budget - spent, `${name}: the rest of the budget`);
      const endHash = blocks.find((b) => b.n === end.n).hash;
      const parentHash = blocks.find((b) => b.n === end.n - 1).hash;
      const free = async (hash) => (await api.query.system.account.at(hash, net.sponsor.address)).data.free.toBigInt();
      assert.equal(await free(endHash) - await free(parentHash), budget - spent + planDeposit, `${name}: refunded`);
      // Pay reached the providers' balances: in the end block each hoster's free balance
      // moved by exactly what it was paid there (by any plan) less the fees it paid.
      const endEvents = blocks.find((b) => b.n === end.n).events;
      for (const { e: act } of activations) {
        const who = act.data.hoster.toString();
        const got = endEvents.filter((e) => is('ProviderPaid')(e) && e.data.provider.toString() === who)
          .reduce((sum, e) => sum + e.data.amount.toBigInt(), 0n);
        const fees = endEvents.filter((e) => e.section === 'transactionPayment' && e.method === 'TransactionFeePaid'
          && e.data.who.toString() === who).reduce((sum, e) => sum + e.data.actualFee.toBigInt() + e.data.tip.toBigInt(), 0n);
        const balance = async (hash) => (await api.query.system.account.at(hash, who)).data.free.toBigInt();
        assert.equal(await balance(endHash) - await balance(parentHash), got - fees, `${name}: ${who} paid`);
      }
      console.log(`# ${name} plan: budget ${budget}, paid ${spent} (${(Number(spent * 10000n / budget) / 100).toFixed(2)} %), `
        + `refunded ${budget - spent}; ${price} per byte-block, reserve ${reserve} B per copy`);
      // Each hoster's node deleted its replica: not in its status, not on its disk.
      for (const { e: act } of activations) {
        const n = byAddress.get(act.data.hoster.toString());
        const dir = join(nodes[n].dataDir, 'chains', 'datdot_dev', 'datdot', 'replicas', `c${act.data.contract}-r${act.data.replica}`);
        const gone = Date.now() + 60_000;
        for (;;) {
          const status = await rpcCall(nodes[n], 'datdot_nodeStatus');
          const held = status.stored.some((r) => `${r.contract}/${r.replica}` === replicaKey(act.data));
          if (!held && !existsSync(dir)) break;
          assert.ok(Date.now() < gone, `${name}: ${n} deleted ${replicaKey(act.data)} within a minute`);
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
    console.log(`# plans ended: ${paidTotal} paid to providers, refunds exact`);
  });
});
