// A cheating encoder on real nodes (design §5.6, §7): eve's node seals garbage in place of
// one block of every replica it encodes and commits the root of that stream. The hosters'
// nodes receive the rest of the stream as evidence, prove the fraud on chain
// (`report_bad_encoding`), and the replica is drawn again with the same hoster and an honest
// encoder. Only eve is faulted; nobody else is struck or slashed; every replica ends active.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopAll, sendAndFinalize } from '../lib/harness.js';
import {
  startNetwork, writeJsFeed, importFeed, registerProviders, publishFeed, is, replicaKey,
} from '../lib/network.js';

const BLOCKS = 256; // 4 contracts of 64 blocks
const BLOCK_BYTES = 2048;
const REPLICAS = 2;
const MAX_PLANS = 6; // eve encodes none of a plan's 8 replicas with probability ~0.1

let net;
const scratch = mkdtempSync(join(tmpdir(), 'datdot-encoders-feed-'));
after(async () => {
  if (net) {
    net.events.stop();
    await net.api.disconnect();
  }
  await stopAll();
  rmSync(scratch, { recursive: true, force: true });
});

test('encoders: a garbage stream is proven on chain; only its encoder is faulted, the hoster keeps its place', { timeout: 900_000 }, async () => {
  // Challenges rare and offline grace long: this test watches setups only.
  net = await startNetwork(['bob', 'charlie', 'dave', 'eve'], { challengePeriod: 500, offlineGrace: 1000 },
    { eve: { DATDOT_TEST_MISBEHAVE: 'garbage-encoder' } });
  const { api, events, accounts } = net;
  const eve = accounts.eve.address;
  const tree = importFeed(net.validator, await writeJsFeed(scratch, BLOCKS, BLOCK_BYTES));
  await registerProviders(net, api.consts.datdot.minCapacity.toBigInt() * 4n);
  await publishFeed(net, tree);

  // Plans until eve is drawn as the encoder of at least one replica (draws are random).
  const plans = []; // { first, contracts }
  const ofPlans = (e) => plans.some((p) => e.data.contract.toNumber() >= p.first
    && e.data.contract.toNumber() < p.first + p.contracts);
  const started = Date.now();
  for (let i = 0; i < MAX_PLANS; i++) {
    const { events: evs } = await sendAndFinalize(
      api.tx.datdot.publishPlan(`0x${tree.key}`, [{ start: 0, end: BLOCKS }], REPLICAS, 10_000, null, false),
      net.sponsor);
    const published = evs.find(({ event }) => api.events.datdot.PlanPublished.is(event)).event.data;
    const plan = { first: published.firstContract.toNumber(), contracts: published.contracts.toNumber() };
    plans.push(plan);
    const inPlan = (e) => e.data.contract.toNumber() >= plan.first;
    const drawn = () => new Set(events.seen.filter((e) => is('ReplicaDrawn')(e) && inPlan(e)).map((e) => replicaKey(e.data)));
    const deadline = Date.now() + 120_000;
    while (drawn().size < plan.contracts * REPLICAS) {
      assert.ok(Date.now() < deadline, 'every replica of the plan drawn within 2 minutes');
      await new Promise((r) => setTimeout(r, 500));
    }
    if (events.seen.some((e) => is('ReplicaDrawn')(e) && e.data.encoder.toString() === eve)) break;
  }
  const cheated = events.seen.filter((e) => is('ReplicaDrawn')(e) && ofPlans(e) && e.data.encoder.toString() === eve);
  assert.ok(cheated.length > 0, `eve drawn as an encoder within ${MAX_PLANS} plans`);

  // Every replica of every plan becomes active; no setup fails along the way.
  const total = plans.reduce((n, p) => n + p.contracts * REPLICAS, 0);
  // (Successors of a provider's ended registration have higher replica indices.)
  const active = () => new Set(events.seen.filter((e) => is('ReplicaActive')(e) && ofPlans(e)
    && e.data.replica.toNumber() < REPLICAS).map((e) => replicaKey(e.data)));
  const deadline = Date.now() + 600_000;
  while (active().size < total) {
    const failed = events.seen.filter((e) => is('SetupFailed')(e) && ofPlans(e));
    assert.equal(failed.length, 0, `no setup fails: ${failed.map((e) => e.toString())}`);
    assert.ok(Date.now() < deadline, `all ${total} replicas active within 10 minutes`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.log(`# ${total} replicas active ${Date.now() - started} ms after the first publish_plan; eve encoded ${cheated.length}`);

  // Each replica eve encoded was proven against her, and drawn again with the same hoster.
  const frauds = events.seen.filter(is('EncodingFraudProven'));
  assert.deepEqual(frauds.map((e) => replicaKey(e.data)).sort(), cheated.map((e) => replicaKey(e.data)).sort(),
    'one fraud proof per replica eve encoded');
  for (const f of frauds) {
    const key = replicaKey(f.data);
    const drawnFor = cheated.find((e) => replicaKey(e.data) === key);
    assert.equal(f.data.encoder.toString(), eve);
    assert.equal(f.data.hoster.toString(), drawnFor.data.hoster.toString(), `${key}: the reporter is its hoster`);
    assert.equal(f.data.fault.toString(), 'Unsealable', `${key}: garbage does not unseal`);
    const after = events.seen.slice(events.seen.indexOf(f));
    const redraw = after.find((e) => is('ReplicaDrawn')(e) && replicaKey(e.data) === key);
    assert.ok(redraw, `${key}: drawn again`);
    assert.equal(redraw.data.hoster.toString(), f.data.hoster.toString(), `${key}: the hoster keeps its place`);
    const done = after.find((e) => is('ReplicaActive')(e) && replicaKey(e.data) === key);
    assert.equal(done.data.hoster.toString(), f.data.hoster.toString(), `${key}: active with its hoster`);
    const last = after.slice(0, after.indexOf(done)).filter((e) => is('ReplicaDrawn')(e) && replicaKey(e.data) === key).pop();
    assert.notEqual(last.data.encoder.toString(), eve, `${key}: active with a new encoder`);
  }

  // Only eve was faulted (once per fraud); nobody else was struck or went offline.
  const offline = events.seen.filter(is('ProviderOffline'));
  assert.ok(offline.every((e) => e.data.provider.toString() === eve), `only eve faulted: ${offline.map((e) => e.toString())}`);
  assert.equal(offline.length, frauds.length);
  for (const name of ['bob', 'charlie', 'dave']) {
    const p = (await api.query.datdot.providers(accounts[name].address)).unwrap();
    assert.equal(p.faults.toNumber(), 0, `${name} not faulted`);
    assert.equal(p.recentStrikes.count.toNumber(), 0, `${name} not struck`);
  }
});
