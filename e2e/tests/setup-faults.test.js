// Setups under faults that are nobody's fraud, on real nodes (design §5, §7), on one network
// of three honest providers:
// - mallory, a node that is no provider, serves a new feed with every block altered before
//   its publisher does. Each encoder that asks it finds the proofs bad, charges mallory
//   reputation, keeps what it checked and asks others: the setups are slower, none fails.
//   Meanwhile trudy, another such node, asks every peer for blocks as fast as it can: each
//   provider refuses it past its rate, at a cost, until the network bans it, and goes on
//   with its setups.
// - an encoder, a hoster and the publisher's node are killed with SIGKILL at a random
//   moment of a plan's setup and restarted: every replica still ends active, no temporary
//   file is left in their stores, the killed hoster still proves what it held before, and
//   no node's peak memory passes its bound.
// - last, dave's store has no room left (it registered more than it has): dave gives each
//   setup it is drawn to host or to encode up on chain at once, pays the release penalty,
//   and the replica goes to another provider; nobody else is struck and no setup times out.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTiming, startNode, identity, halt, rpcCall, devChainSpec, metric } from '../lib/harness.js';
import {
  networkScope, startNetwork, writeJsFeed, importFeed, registerProviders, publishFeed, is, replicaKey,
} from '../lib/network.js';
import {
  REPLICAS, plansUntilDrawn, publishPlan, allActive, logLines, temporariesAfter, peakRssMib,
} from '../lib/setups.js';

const BLOCKS = 256; // 4 contracts of 64 blocks
const BLOCK_BYTES = 2048;

let net;
let tree;
const scratch = networkScope('datdot-setup-faults-feed-', () => net);

// The network the tests share: three honest providers and a feed of theirs published.
before(async () => {
  // Challenges rare and offline grace long: these tests watch setups only, within the
  // runtime's setup time, as on a real network.
  net = await startNetwork(['bob', 'charlie', 'dave'], { challengePeriod: 500, offlineGrace: 1000 });
  tree = importFeed(net.validator, await writeJsFeed(scratch, BLOCKS, BLOCK_BYTES));
  await registerProviders(net, net.api.consts.datdot.minCapacity.toBigInt() * 4n);
  await publishFeed(net, tree);
}, { timeout: 300_000 });

test('setup faults: a peer serving bad blocks and one flooding requests cost reputation and time, and no setup fails', { timeout: 600_000 }, async () => {
  assert.ok(net, 'the network of the tests above');
  const { events } = net;
  const providers = ['bob', 'charlie', 'dave'];
  const floods = () => Promise.all(providers.map((n) => metric(net.nodes[n], 'datdot_refused_floods_total')));
  const floodsBefore = await floods();
  const hostile = (name, key, misbehaviour) => startNode(['--chain', devChainSpec(), '--node-key', identity(key).nodeKey, '--bootnodes', net.bootnode],
    { name, env: { DATDOT_TEST_MISBEHAVE: misbehaviour } });
  const [mallory, trudy] = await Promise.all([hostile('mallory', 20, 'bad-blocks'), hostile('trudy', 22, 'flooder')]);
  const dir = mkdtempSync(join(scratch, 'bad-'));
  const exportDir = await writeJsFeed(dir, BLOCKS / 4, BLOCK_BYTES);
  // At first only mallory serves the feed; the publisher's node gets it once mallory was caught.
  const fresh = importFeed(mallory, exportDir);
  await publishFeed(net, fresh);
  const badAnswers = async () => (await Promise.all(providers.map((n) => metric(net.nodes[n], 'datdot_bad_answers_total'))))
    .reduce((a, b) => a + b, 0);
  const before = await badAnswers();
  const mark = events.seen.length;
  const started = Date.now();
  const { ofPlan } = await publishPlan(net, fresh, BLOCKS / 4);
  const deadline = Date.now() + 120_000;
  while (await badAnswers() === before) {
    assert.ok(Date.now() < deadline, 'an encoder caught mallory\'s bad blocks within 2 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }
  const caught = Date.now() - started;
  importFeed(net.validator, exportDir);

  const total = await allActive(net, ofPlan, (failed) => assert.equal(failed.length, 0,
    `no setup fails: ${failed.map((e) => e.toString())}`), { waitMs: 360_000 });
  const charged = await badAnswers() - before;
  console.log(`# ${total} replicas active ${Date.now() - started} ms after publish_plan; mallory caught after ${caught} ms, ${charged} bad chunks`);
  // No setup failed (above), so nobody was struck for mallory's blocks; nobody was faulted.
  const faulted = events.seen.slice(mark).filter(is('ProviderOffline'));
  assert.equal(faulted.length, 0, `nobody faulted: ${faulted.map((e) => e.toString())}`);
  // Each encoder asked mallory once per part at most: it is not asked again after a bad answer.
  assert.ok(charged <= total, `${charged} bad chunks for ${total} encodings`);
  // Every provider refused trudy's flood at a cost (and its own setups went on, above).
  const refused = (await floods()).map((n, i) => n - floodsBefore[i]);
  console.log(`# trudy's requests refused as a flood: ${providers.map((n, i) => `${n} ${refused[i]}`).join(', ')}`);
  assert.ok(refused.every((n) => n > 0), `every provider refused trudy's flood: ${refused}`);
  // Some 1 450 of those costs ban trudy (sc-network's threshold): its requests are then
  // refused before any datdot code sees them.
  const banned = await Promise.all(providers.map((n) =>
    metric(net.nodes[n], 'substrate_sub_libp2p_requests_in_failure_total', 'reason="banned-peer"')));
  console.log(`# requests of a banned peer refused by sc-network: ${providers.map((n, i) => `${n} ${banned[i]}`).join(', ')}`);
  assert.ok(banned.every((n) => n > 0), `every provider banned trudy: ${banned}`);
  console.log(`# trudy: ${logLines(trudy, (l) => l.includes('flooded')).split('\n').pop()}`);
  await Promise.all([mallory.stop(), trudy.stop()]);
});

test('setup faults: an encoder, a hoster and the publisher killed with SIGKILL mid-setup and restarted; every replica ends active, nothing is lost or left behind', { timeout: 900_000 }, async () => {
  assert.ok(net, 'the network of the tests above');
  const { api, events } = net;
  // The publisher's node is not the validator, so killing it stops no block production.
  const publisher = await startNode(['--chain', devChainSpec(), '--node-key', identity(21).nodeKey, '--bootnodes', net.bootnode],
    { name: 'publisher' });
  const dir = mkdtempSync(join(scratch, 'kill-'));
  const exportDir = await writeJsFeed(dir, BLOCKS, 16 * 1024); // 4 contracts of 1 MiB
  const fresh = importFeed(publisher, exportDir);
  await publishFeed(net, fresh);
  const mark = events.seen.length;
  const { ofPlan, contracts } = await publishPlan(net, fresh, BLOCKS);
  const deadline = Date.now() + 60_000;
  let draw;
  while (!(draw = events.seen.slice(mark).find((e) => is('ReplicaDrawn')(e) && ofPlan(e)))) {
    assert.ok(Date.now() < deadline, 'a replica of the plan drawn within a minute');
    await new Promise((r) => setTimeout(r, 200));
  }
  const encoder = net.byAddress.get(draw.data.encoder.toString());
  const hoster = net.byAddress.get(draw.data.hoster.toString());
  const pauseMs = Math.floor(Math.random() * 4000);
  await new Promise((r) => setTimeout(r, pauseMs));
  const activeNow = events.seen.slice(mark).filter((e) => is('ReplicaActive')(e) && ofPlan(e)).length;
  const total = contracts * REPLICAS;
  // Otherwise the kill would not land mid-setup and this test would show nothing.
  assert.ok(activeNow < total, `${activeNow} of ${total} replicas active when the nodes are killed`);
  console.log(`# killing ${encoder} (encoder), ${hoster} (hoster) and the publisher ${pauseMs} ms after the first draw, ${activeNow} of ${total} replicas active`);
  const killed = { [encoder]: net.nodes[encoder], [hoster]: net.nodes[hoster], publisher };
  await Promise.all(Object.values(killed).map((n) => halt(n, 'SIGKILL')));
  const restarted = {};
  for (const [name, node] of Object.entries(killed)) {
    restarted[name] = await startNode(node.args, { name, restartOf: node });
    if (net.nodes[name]) net.nodes[name] = restarted[name];
  }

  await allActive(net, ofPlan, () => {}, { waitMs: 480_000, others: { publisher: restarted.publisher } });
  const failed = events.seen.slice(mark).filter((e) => is('SetupFailed')(e) && ofPlan(e));
  console.log(`# every replica active; ${failed.length} setups failed and were drawn again`);
  const activeAt = (await api.rpc.chain.getHeader()).number.toNumber();
  for (const [name, node] of Object.entries(restarted)) {
    const left = await temporariesAfter(node, activeAt);
    assert.deepEqual(left, [], `no temporary file or stream left in ${name}'s directory`);
    const peak = peakRssMib(node);
    console.log(`# ${name}: peak RSS ${peak.toFixed(0)} MiB since restart`);
    assert.ok(peak < 300, `${name}'s peak RSS ${peak.toFixed(0)} MiB under 300 MiB`);
  }
  // What the killed hoster held before is still proven: its challenges pass, none fails.
  const hosterAddress = net.accounts[hoster].address;
  const ofHoster = (e) => e.data.hoster?.toString() === hosterAddress;
  const challengeMark = events.seen.length;
  await setTiming(api, net.sponsor, { challengePeriod: 2, offlineGrace: 1000 });
  const until = Date.now() + 180_000;
  while (!events.seen.slice(challengeMark).some((e) => is('ChallengePassed')(e) && ofHoster(e))) {
    assert.ok(Date.now() < until, `${hoster} passes a challenge within 3 minutes of its restart`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const lost = events.seen.slice(challengeMark).filter((e) => is('ChallengeFailed')(e) && ofHoster(e));
  assert.equal(lost.length, 0, `${hoster} fails no challenge: ${lost.map((e) => e.toString())}`);
  await setTiming(api, net.sponsor, { challengePeriod: 500, offlineGrace: 1000 });
  await restarted.publisher.stop();
});

test('setup faults: a node without room gives its setups up on chain at once, as hoster or encoder; only it pays, and another provider takes its part', { timeout: 600_000 }, async () => {
  assert.ok(net, 'the network of the tests above');
  const { api, events, accounts } = net;
  // dave's node now has room for nothing more than it holds: an operator who registered
  // more capacity than the node's disk has.
  const status = await rpcCall(net.nodes.dave, 'datdot_nodeStatus');
  const full = Math.max(status.store.used, 1);
  await halt(net.nodes.dave, 'SIGKILL');
  net.nodes.dave = await startNode([...net.nodes.dave.args, '--store-capacity', String(full)],
    { name: 'dave', restartOf: net.nodes.dave });
  const dave = accounts.dave.address;
  const depositBefore = (await api.query.system.account(dave)).data.reserved.toBigInt();
  const mark = events.seen.length;
  const { ofPlans } = await plansUntilDrawn(net, tree, dave, ['hoster', 'encoder'], { end: BLOCKS / 4, maxPlans: 12 });
  await allActive(net, ofPlans, (failed) => assert.equal(failed.length, 0,
    `no setup times out or fails: ${failed.map((e) => e.toString())}`), { waitMs: 300_000 });
  const since = events.seen.slice(mark);
  // Every draw of dave as hoster, redraws included (a redraw that had to wait may pick dave
  // again once the hint that kept it away is spent).
  const draws = since.filter((e) => is('ReplicaDrawn')(e) && ofPlans(e) && e.data.hoster.toString() === dave);
  for (const drawn of draws) {
    const key = replicaKey(drawn.data);
    const after = since.slice(since.indexOf(drawn));
    const released = after.find((e) => is('ReplicaReleased')(e) && replicaKey(e.data) === key);
    assert.ok(released, `${key}: dave released it; dave's log:\n${
      logLines(net.nodes.dave, (l) => l.includes(key) || / (WARN|ERROR) /.test(l))}`);
    assert.equal(released.data.hoster.toString(), dave);
    const upTo = after.slice(0, after.indexOf(released));
    assert.ok(!upTo.some((e) => is('HostingConfirmed')(e) && replicaKey(e.data) === key), `${key}: dave never confirmed`);
    const active = since.findLast((e) => is('ReplicaActive')(e) && replicaKey(e.data) === key);
    assert.notEqual(active.data.hoster.toString(), dave, `${key}: another hoster took it`);
    console.log(`# ${key}: dave released it ${upTo.length} events after its draw; ${net.byAddress.get(active.data.hoster.toString())} hosts it`);
  }
  // Encoding needs room for the stream too: a draw of dave as encoder is given up the same
  // way, and the replica set up with another encoder.
  const encodings = since.filter((e) => is('EncodingReleased')(e) && ofPlans(e));
  const asEncoder = since.filter((e) => is('ReplicaDrawn')(e) && ofPlans(e) && e.data.encoder.toString() === dave);
  assert.equal(encodings.length, asEncoder.length, 'one encoding given up per draw of dave as encoder');
  for (const released of encodings) {
    const key = replicaKey(released.data);
    assert.equal(released.data.encoder.toString(), dave, `${key}: only dave gives an encoding up`);
    // Every replica of the plans is active: its last draw is the one set up.
    const last = since.findLast((e) => is('ReplicaDrawn')(e) && replicaKey(e.data) === key);
    assert.notEqual(last.data.encoder.toString(), dave, `${key}: another encoder took it`);
  }
  console.log(`# dave gave up ${draws.length} hostings and ${encodings.length} encodings`);
  // Nobody else paid: no strike, no fault; dave paid the penalty once per release.
  const struck = since.filter((e) => is('ProviderStruck')(e) || is('ProviderOffline')(e));
  assert.deepEqual(struck.map((e) => e.toString()), [], 'nobody struck or faulted');
  const releases = since.filter((e) => is('ReplicaReleased')(e) && ofPlans(e));
  assert.equal(releases.length, draws.length, 'one release per draw of dave as hoster');
  const penalty = api.consts.datdot.releasePenalty.toBigInt();
  const depositAfter = (await api.query.system.account(dave)).data.reserved.toBigInt();
  assert.equal(depositBefore - depositAfter, penalty * BigInt(releases.length + encodings.length),
    "dave's deposit paid each release");
});
