// A hosted feed's lifecycle between real datdot-node processes on 127.0.0.1 (design §8, §9,
// §10): a hoster that stays down is replaced from the other hosters, the feed grows and its
// plan follows, and plans end (run out or cancelled) with exact payments and refunds. Its
// own network, apart from network.test.js, so that the two run side by side (they mostly
// wait for blocks).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { halt, sendAndFinalize, setTiming, rpcCall } from '../lib/harness.js';
import {
  networkScope, startNetwork, writeJsFeed, growJsFeed, importFeed, registerProviders, publishFeed, planUntilActive, is,
  replicaKey,
} from '../lib/network.js';

const BLOCKS = 256; // 4 contracts of 64 blocks
const BLOCK_BYTES = 4096; // 1 MiB in all
const REPLICAS = 2;
const GROWTH = 128; // blocks appended later: 2 more contracts

let net;
const scratch = networkScope('datdot-lifecycle-feed-', () => net);

test('lifecycle: replicas replaced, a growing feed followed, plans ended and paid', { timeout: 1_800_000 }, async (t) => {
  const providers = ['bob', 'charlie', 'dave', 'eve'];
  net = await startNetwork(providers, { challengePeriod: 3, offlineGrace: 100 });
  const { api, events, nodes, byAddress } = net;

  const replicas = new Map(); // "contract/replica" -> { drawn, active }
  let tree;
  let plan;
  await t.test('a feed written by npm hypercore is hosted at R active replicas', async () => {
    tree = importFeed(net.validator, await writeJsFeed(scratch, BLOCKS, BLOCK_BYTES));
    await registerProviders(net, api.consts.datdot.minCapacity.toBigInt() * 4n);
    await publishFeed(net, tree);
    const result = await planUntilActive(net, tree, REPLICAS, 900_000, { follow: true });
    plan = result.plan;
    assert.equal(result.total, (BLOCKS / 64) * REPLICAS);
    for (const e of events.seen.filter(is('ReplicaDrawn'))) replicas.set(replicaKey(e.data), { drawn: e.data });
    for (const e of events.seen.filter(is('ReplicaActive'))) replicas.get(replicaKey(e.data)).active = e.data;
    assert.equal(replicas.size, result.total);
  });

  const hosters = () => [...new Set([...replicas.values()].map((r) => r.active.hoster.toString()))];

  await t.test('a hoster killed with SIGKILL and kept down is replaced from the other hosters; its registration ends', async () => {
    // The publisher's node stops serving the feed: the successors' encoders must fetch its
    // blocks from the feed's other hosters.
    const feedDir = join(net.validator.dataDir, 'chains', 'datdot_dev', 'datdot', 'feeds', tree.key);
    renameSync(feedDir, join(scratch, 'publisher-feed'));
    // A short grace, so that the replacement happens within minutes.
    const offlineGrace = 4;
    await setTiming(api, net.sponsor, { challengePeriod: 3, offlineGrace });
    const victim = hosters()[0];
    const name = byAddress.get(victim);
    const mark = events.seen.length;
    const since = (pred) => events.seen.slice(mark).filter(pred);
    // What it holds as the chain says.
    const lost = (await api.query.datdot.hostedReplicas(victim)).map((id) => replicaKey(id));
    assert.ok(lost.length > 0);
    const head = async () => (await api.rpc.chain.getHeader()).number.toNumber();
    const served = async (n) => {
      const text = await (await fetch(`http://127.0.0.1:${n.prometheusPort}/metrics`)).text();
      return Number(/^datdot_served_blocks_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const servedByPublisher = await served(net.validator);
    await halt(nodes[name], 'SIGKILL');
    const killedAt = await head();

    // Until every copy it held has an active successor, each contract keeps R - 1 live
    // copies (active, hoster not the victim), and nothing fails but the victim.
    const liveCopies = async () => {
      const byContract = new Map();
      for (const s of (await api.call.datdotApi.planStatus(plan, 0, 256)).unwrap()) {
        const live = s.state.isSome && s.state.unwrap().type === 'Active' && s.hoster.unwrap().toString() !== victim;
        const c = s.id.contract.toString();
        byContract.set(c, (byContract.get(c) ?? 0) + (live ? 1 : 0));
      }
      return byContract;
    };
    const replaced = () => since((e) => is('ReplicaReplaced')(e) && e.data.oldHoster.toString() === victim);
    const deadline = Date.now() + 600_000;
    while (replaced().length < lost.length) {
      for (const [c, n] of await liveCopies()) assert.ok(n >= REPLICAS - 1, `contract ${c}: ${n} live copies`);
      const failed = since((e) => (is('ChallengeFailed')(e) && e.data.hoster.toString() !== victim) || is('SetupFailed')(e));
      assert.equal(failed.length, 0, `only the victim fails: ${failed.map((e) => e.toString())}`);
      assert.ok(Date.now() < deadline, `every lost copy replaced within 10 minutes (${replaced().length}/${lost.length})`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    const replacedAfter = (await head()) - killedAt;
    // Not one block came from the publisher: the new encoders read them from their own
    // replicas or got them from the other hosters.
    assert.equal(await served(net.validator), servedByPublisher, 'the publisher served no block');
    assert.deepEqual(replaced().map((e) => `${e.data.contract}/${e.data.replica}`).sort(), lost.sort());
    for (const [, n] of await liveCopies()) assert.equal(n, REPLICAS, 'back at R live copies');
    const successors = replaced().map((e) => e.data.newHoster.toString());
    assert.ok(successors.every((h) => h !== victim));
    // The successors hold their copies: each passes a storage challenge.
    for (const h of new Set(successors)) {
      await events.waitFor((e) => is('ChallengePassed')(e) && e.data.hoster.toString() === h
        && events.seen.indexOf(e) > mark, 300_000);
    }
    // Staying down is a fault per grace: the registration ends after MaxFaults.
    const ended = await events.waitFor((e) => is('ProviderEnded')(e) && e.data.provider.toString() === victim, 300_000);
    assert.equal(ended.data.recentFaults.toNumber(), api.consts.datdot.maxFaults.toNumber());
    await events.waitFor((e) => is('ProviderUnregistered')(e) && e.data.provider.toString() === victim, 120_000);
    assert.ok((await api.query.datdot.providers(victim)).isNone);
    console.log(`# ${lost.length} lost copies replaced within ${replacedAfter} blocks of the kill (grace ${offlineGrace})`);
  });
  await t.test('the feed grows; the plan follows it and the new blocks are hosted and proven', async () => {
    const grown = await growJsFeed(scratch, GROWTH, BLOCK_BYTES);
    tree = importFeed(net.validator, grown.exportDir);
    assert.equal(tree.tree.length, BLOCKS + GROWTH);
    const mark = events.seen.length;
    await publishFeed(net, tree, grown.proof);
    const grew = await events.waitFor((e) => is('PlanGrew')(e) && e.data.plan.toNumber() === plan, 60_000);
    assert.equal(grew.data.covered.toNumber(), BLOCKS + GROWTH);
    const added = grew.data.contracts.toNumber();
    assert.equal(added, GROWTH / 64);
    const isNew = (e) => events.seen.indexOf(e) >= mark;
    const deadline = Date.now() + 300_000;
    while (events.seen.filter((e) => is('ReplicaActive')(e) && isNew(e)).length < added * REPLICAS) {
      const failed = events.seen.filter((e) => is('SetupFailed')(e) && isNew(e));
      assert.equal(failed.length, 0, `no failed setup: ${failed.map((e) => e.toString())}`);
      assert.ok(Date.now() < deadline, 'the new contracts active within 5 minutes');
      await new Promise((r) => setTimeout(r, 1000));
    }
    const fresh = events.seen.filter((e) => is('ReplicaActive')(e) && isNew(e));
    for (const e of fresh) {
      const drawn = events.seen.find((d) => is('ReplicaDrawn')(d) && replicaKey(d.data) === replicaKey(e.data));
      replicas.set(replicaKey(e.data), { drawn: drawn.data, active: e.data });
    }
    // Each new copy's hoster proves it: a passed challenge naming a new replica.
    const newKeys = new Set(fresh.map((e) => replicaKey(e.data)));
    const challengedNew = () => events.seen.filter((e) => is('ChallengeIssued')(e) && isNew(e)
      && e.data.segments.some(([id]) => newKeys.has(replicaKey(id))));
    const passedNew = () => challengedNew().filter((c) => events.seen.some((e) => is('ChallengePassed')(e)
      && e.data.challenge.toNumber() === c.data.challenge.toNumber()));
    const until = Date.now() + 300_000;
    while (passedNew().length === 0) {
      assert.ok(Date.now() < until, 'a challenge naming a new replica passed within 5 minutes');
      await new Promise((r) => setTimeout(r, 2000));
    }
    assert.equal(events.seen.filter((e) => is('ChallengeFailed')(e) && isNew(e)).length, 0);
    const status = (await api.call.datdotApi.planStatus(plan, 0, 256)).unwrap();
    assert.equal(status.length, ((BLOCKS + GROWTH) / 64) * REPLICAS);
    // Every hoster renews the block proofs of its older replicas against the grown tree, so
    // it keeps serving their blocks (to a replacement's encoder) without the publisher.
    const renewBy = Date.now() + 120_000;
    for (;;) {
      const stale = [];
      for (const [n, node] of Object.entries(nodes)) {
        let status;
        try { status = await rpcCall(node, 'datdot_nodeStatus'); } catch { continue; } // the node killed for good
        for (const r of status.stored) {
          if (r.provenLength !== BLOCKS + GROWTH) stale.push(`${n}: ${r.contract}/${r.replica} at ${r.provenLength}`);
        }
      }
      if (stale.length === 0) break;
      assert.ok(Date.now() < renewBy, `block proofs renewed within 2 minutes; stale: ${stale.join(', ')}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  });

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
