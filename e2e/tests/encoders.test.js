// Cheating encoders on real nodes (design §5.6, §7), on one network:
// - eve's node seals garbage in place of one block of every replica it encodes and commits
//   the root of that stream. The hosters' nodes receive the rest of the stream as evidence,
//   prove the fraud on chain (`report_bad_encoding`), and the replica is drawn again with the
//   same hoster and an honest encoder. Only eve is faulted; nobody else is struck or
//   slashed; every replica ends active.
// - ferdie's node then commits the right root of every replica it encodes and never sends
//   the stream. Who withheld is not provable, so nobody is slashed: each such setup times
//   out, ferdie and the hoster get a strike, and the replica is drawn again until every
//   replica is active.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTiming } from '../lib/harness.js';
import {
  networkScope, startNetwork, startProvider, writeJsFeed, importFeed, registerProviders, publishFeed, is, replicaKey,
} from '../lib/network.js';
import { plansUntilDrawn, allActive, leave, logLines } from '../lib/setups.js';

const BLOCKS = 256; // 4 contracts of 64 blocks
const BLOCK_BYTES = 2048;
const MAX_PLANS = 6; // eve encodes none of a plan's 8 replicas with probability ~0.1

let net;
let tree;
const scratch = networkScope('datdot-encoders-feed-', () => net);

test('encoders: a garbage stream is proven on chain; only its encoder is faulted, the hoster keeps its place', { timeout: 900_000 }, async () => {
  // Challenges rare and offline grace long: this test watches setups only.
  net = await startNetwork(['bob', 'charlie', 'dave', 'eve'], { challengePeriod: 500, offlineGrace: 1000 },
    { eve: { DATDOT_TEST_MISBEHAVE: 'garbage-encoder' } });
  const { api, events, accounts } = net;
  const eve = accounts.eve.address;
  tree = importFeed(net.validator, await writeJsFeed(scratch, BLOCKS, BLOCK_BYTES));
  await registerProviders(net, api.consts.datdot.minCapacity.toBigInt() * 4n);
  await publishFeed(net, tree);

  const started = Date.now();
  const { ofPlans, draws: cheated } = await plansUntilDrawn(net, tree, eve, 'encoder', { end: BLOCKS, maxPlans: MAX_PLANS });
  // Every replica of every plan becomes active; no setup fails along the way.
  const total = await allActive(net, ofPlans, (failed) => assert.equal(failed.length, 0,
    `no setup fails: ${failed.map((e) => e.toString())}`));
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

test('encoders: a withholding encoder and its hoster are struck, nobody is slashed, every replica ends active', { timeout: 900_000 }, async () => {
  assert.ok(net, 'the network of the test above');
  const { api, events, accounts } = net;
  // Eve (faulted above, perhaps ended) takes no new work: she leaves.
  await leave(net, 'eve');
  await startProvider(net, 'ferdie', { DATDOT_TEST_MISBEHAVE: 'withholding-encoder' });
  await registerProviders(net, api.consts.datdot.minCapacity.toBigInt() * 4n, ['ferdie']);
  const ferdie = accounts.ferdie.address;
  // Setups time out after SETUP_BLOCKS (the runtime's 50 would make each wait 5 minutes);
  // honest setups of these 128 KiB replicas take a few blocks.
  const SETUP_BLOCKS = 10;
  await setTiming(api, net.sponsor, { challengePeriod: 500, offlineGrace: 1000, setupBlocks: SETUP_BLOCKS });
  const honest = ['bob', 'charlie', 'dave'];
  const deposits = async () => Promise.all([...honest, 'ferdie'].map(async (n) =>
    (await api.query.system.account(accounts[n].address)).data.reserved.toBigInt()));
  const depositsBefore = await deposits();
  const mark = events.seen.length;

  const started = Date.now();
  // One-contract plans: at most two of ferdie's setups in flight at once, each with another
  // hoster, so no honest hoster collects the strikes that would bench it.
  const { ofPlans, draws: cheated } = await plansUntilDrawn(net, tree, ferdie, 'encoder', { end: BLOCKS / 4, maxPlans: 12 });
  // The only setups that fail (of these plans, or of eve's replicas handed over) are
  // ferdie's, each a timeout after ferdie committed.
  const failedSince = () => events.seen.slice(mark).filter(is('SetupFailed'));
  const total = await allActive(net, ofPlans, () => {
    for (const f of failedSince()) {
      assert.equal(f.data.reason.toString(), 'Timeout', `${replicaKey(f.data)}: ${f.toString()}`);
      assert.equal(f.data.struckEncoder.toString(), ferdie, `${replicaKey(f.data)}: only ferdie's setups fail`);
    }
  });
  const failed = failedSince().filter(ofPlans);
  console.log(`# ${total} replicas active ${Date.now() - started} ms after the first publish_plan; ferdie encoded ${cheated.length}, ${failed.length} setups timed out`);

  // Each replica ferdie encoded: ferdie committed the root, the hoster never could, the setup
  // timed out with a strike for both, and the replica became active with another encoder.
  const drawsByFerdie = events.seen.slice(mark).filter((e) => is('ReplicaDrawn')(e) && ofPlans(e)
    && e.data.encoder.toString() === ferdie);
  assert.equal(failed.length, drawsByFerdie.length, 'every setup ferdie encoded timed out');
  for (const drawn of drawsByFerdie) {
    const key = replicaKey(drawn.data);
    const after = events.seen.slice(events.seen.indexOf(drawn));
    const upTo = (e) => after.slice(0, after.indexOf(e));
    const timeout = after.find((e) => is('SetupFailed')(e) && replicaKey(e.data) === key);
    assert.ok(upTo(timeout).some((e) => is('EncodingConfirmed')(e) && replicaKey(e.data) === key),
      `${key}: ferdie committed its root (it withheld the stream, not the root); ferdie's log:\n${
        logLines(net.nodes.ferdie, (l) => l.includes(key) || / (WARN|ERROR) /.test(l))}`);
    assert.ok(!upTo(timeout).some((e) => is('HostingConfirmed')(e) && replicaKey(e.data) === key),
      `${key}: the hoster never confirmed`);
    assert.equal(timeout.data.struckHoster.toString(), drawn.data.hoster.toString(), `${key}: its hoster struck`);
    const done = after.find((e) => is('ReplicaActive')(e) && replicaKey(e.data) === key);
    assert.ok(done, `${key}: active in the end`);
  }
  const struck = events.seen.slice(mark).filter(is('ProviderStruck'));
  assert.ok(struck.filter((e) => e.data.provider.toString() === ferdie).length >= cheated.length, 'ferdie struck');
  assert.ok(struck.every((e) => e.data.provider.toString() === ferdie
    || failedSince().some((f) => f.data.struckHoster.toString() === e.data.provider.toString())),
  `strikes only for ferdie and its hosters: ${struck.map((e) => e.toString())}`);

  // Nobody was slashed: no fault, and every deposit is whole.
  const faulted = events.seen.slice(mark).filter(is('ProviderOffline'));
  assert.equal(faulted.length, 0, `nobody faulted: ${faulted.map((e) => e.toString())}`);
  assert.deepEqual(await deposits(), depositsBefore, 'deposits unchanged');
});
