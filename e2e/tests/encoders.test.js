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
// - mallory, a node that is no provider, serves a new feed with every block altered before
//   its publisher does. Each encoder that asks it finds the proofs bad, charges mallory
//   reputation, keeps what it checked and asks others: the setups are slower, none fails.
// - then an encoder, a hoster and the publisher's node are killed with SIGKILL at a random
//   moment of a plan's setup and restarted: every replica still ends active, no temporary
//   file is left in their stores, the killed hoster still proves what it held before, and
//   no node's peak memory passes its bound.
// - last, dave's store has no room left (it registered more than it has): dave gives each
//   setup it is drawn to host or to encode up on chain at once, pays the release penalty,
//   and the replica goes to another provider; nobody else is struck and no setup times out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sendAndFinalize, setTiming, startNode, identity, halt, rpcCall } from '../lib/harness.js';
import {
  networkScope, startNetwork, startProvider, writeJsFeed, importFeed, registerProviders, publishFeed, is, replicaKey,
} from '../lib/network.js';

const BLOCKS = 256; // 4 contracts of 64 blocks
const BLOCK_BYTES = 2048;
const REPLICAS = 2;
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
  const { ofPlans, draws: cheated } = await plansUntilDrawn(eve, 'encoder');
  // Every replica of every plan becomes active; no setup fails along the way.
  const total = await allActive(ofPlans, (failed) => assert.equal(failed.length, 0,
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

/** The lines of `node`'s log that `keep` selects (for a failure's message). */
function logLines(node, keep) {
  return readFileSync(node.logFile, 'utf8').split('\n').filter(keep).slice(-60).join('\n');
}

/**
 * Publishes plans of blocks `0..end` of the feed until `who` is drawn as `role` ('encoder'
 * or 'hoster', or each of a list of them) of at least one of their replicas (draws are
 * random); returns a filter of those plans' events and the draws that made `who` the
 * (first) `role`.
 */
async function plansUntilDrawn(who, role, { end = BLOCKS, maxPlans = MAX_PLANS } = {}) {
  const { events } = net;
  const roles = [role].flat();
  const plans = []; // each plan's event filter
  const ofPlans = (e) => plans.some((ofPlan) => ofPlan(e));
  const byWho = (as = roles[0]) => events.seen.filter((e) => is('ReplicaDrawn')(e) && ofPlans(e)
    && e.data[as].toString() === who);
  for (let i = 0; i < maxPlans && roles.some((as) => byWho(as).length === 0); i++) {
    const { ofPlan, contracts } = await publishPlan(tree, end);
    plans.push(ofPlan);
    const drawn = () => new Set(events.seen.filter((e) => is('ReplicaDrawn')(e) && ofPlan(e)).map((e) => replicaKey(e.data)));
    const deadline = Date.now() + 120_000;
    while (drawn().size < contracts * REPLICAS) {
      assert.ok(Date.now() < deadline, 'every replica of the plan drawn within 2 minutes');
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  for (const as of roles) assert.ok(byWho(as).length > 0, `${who} drawn as ${as} within ${maxPlans} plans`);
  return { ofPlans, draws: byWho() };
}

/**
 * Publishes a plan of `REPLICAS` copies of blocks `0..end` of feed `tree`; returns a filter
 * of its events (by contract) and its number of contracts.
 */
async function publishPlan(tree, end) {
  const { api } = net;
  const { events: evs } = await sendAndFinalize(
    api.tx.datdot.publishPlan(`0x${tree.key}`, [{ start: 0, end }], REPLICAS, 10_000, null, false),
    net.sponsor);
  const published = evs.find(({ event }) => api.events.datdot.PlanPublished.is(event)).event.data;
  const first = published.firstContract.toNumber();
  const contracts = published.contracts.toNumber();
  const ofPlan = (e) => e.data.contract.toNumber() >= first && e.data.contract.toNumber() < first + contracts;
  return { ofPlan, contracts };
}

/** Provider `name` unregisters, unless it is leaving or ended already. */
async function leave(name) {
  const { api, accounts } = net;
  const provider = await api.query.datdot.providers(accounts[name].address);
  if (provider.isSome && !provider.unwrap().status.isLeaving && !provider.unwrap().status.isEnded) {
    await sendAndFinalize(api.tx.datdot.unregister(), accounts[name]);
  }
}

/**
 * Waits until every replica of the plans `ofPlans` selects is active, calling `check` with
 * their failed setups meanwhile; returns how many replicas that is. Fails after `waitMs`
 * (inside the test's own timeout) with what each replica still waiting went through and
 * the nodes' warnings, so that a stuck setup says where it stuck.
 */
async function allActive(ofPlans, check, { waitMs = 600_000, others = {} } = {}) {
  const { events } = net;
  const contracts = new Set(events.seen.filter((e) => is('ReplicaDrawn')(e) && ofPlans(e))
    .map((e) => e.data.contract.toNumber()));
  const total = contracts.size * REPLICAS;
  // (Successors of a provider's ended registration have higher replica indices.)
  const active = () => new Set(events.seen.filter((e) => is('ReplicaActive')(e) && ofPlans(e)
    && e.data.replica.toNumber() < REPLICAS).map((e) => replicaKey(e.data)));
  const deadline = Date.now() + waitMs;
  while (active().size < total) {
    check(events.seen.filter((e) => is('SetupFailed')(e) && ofPlans(e)));
    if (Date.now() >= deadline) assert.fail(`all ${total} replicas active within ${waitMs / 1000} s:\n${stuckReport(ofPlans, active(), others)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  check(events.seen.filter((e) => is('SetupFailed')(e) && ofPlans(e)));
  return total;
}

/**
 * The events of the replicas of `ofPlans` not in `active`, and the latest warnings of every
 * node of the network and of `others` (nodes outside it, by name) and their lines about
 * those replicas.
 */
function stuckReport(ofPlans, active, others) {
  const waiting = net.events.seen.filter((e) => e.section === 'datdot' && e.data.contract !== undefined
    && ofPlans(e) && !active.has(replicaKey(e.data)));
  const keys = [...new Set(waiting.map((e) => replicaKey(e.data)))];
  const telling = (l) => / (WARN|ERROR) /.test(l) || keys.some((k) => l.includes(`replica ${k}`));
  const nodes = Object.entries({ ...net.nodes, ...others }).map(([name, node]) =>
    `${name}:\n${logLines(node, telling).split('\n').slice(-30).join('\n')}`);
  return [...waiting.map((e) => `${e.method} ${e.data.toString()}`), ...nodes].join('\n');
}

test('encoders: a withholding encoder and its hoster are struck, nobody is slashed, every replica ends active', { timeout: 900_000 }, async () => {
  assert.ok(net, 'the network of the test above');
  const { api, events, accounts } = net;
  // Eve (faulted above, perhaps ended) takes no new work: she leaves.
  await leave('eve');
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
  const { ofPlans, draws: cheated } = await plansUntilDrawn(ferdie, 'encoder', { end: BLOCKS / 4, maxPlans: 12 });
  // The only setups that fail (of these plans, or of eve's replicas handed over) are
  // ferdie's, each a timeout after ferdie committed.
  const failedSince = () => events.seen.slice(mark).filter(is('SetupFailed'));
  const total = await allActive(ofPlans, () => {
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

test('encoders: a peer serving bad blocks costs reputation and time, and no setup fails', { timeout: 600_000 }, async () => {
  assert.ok(net, 'the network of the tests above');
  const { events } = net;
  // ferdie (withholding above) takes no new work, so every setup of this plan can succeed.
  await leave('ferdie');
  const mallory = await startNode(['--chain', 'dev', '--node-key', identity(20).nodeKey, '--bootnodes', net.bootnode],
    { name: 'mallory', env: { DATDOT_TEST_MISBEHAVE: 'bad-blocks' } });
  const dir = mkdtempSync(join(scratch, 'bad-'));
  const exportDir = await writeJsFeed(dir, BLOCKS / 4, BLOCK_BYTES);
  // At first only mallory serves the feed; the publisher's node gets it once mallory was caught.
  const fresh = importFeed(mallory, exportDir);
  await publishFeed(net, fresh);
  const providers = ['bob', 'charlie', 'dave'];
  const badAnswers = async () => (await Promise.all(providers.map(async (n) => {
    const text = await (await fetch(`http://127.0.0.1:${net.nodes[n].prometheusPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('datdot_bad_answers_total'));
    return line ? Number(line.split(' ').pop()) : 0;
  }))).reduce((a, b) => a + b, 0);
  const before = await badAnswers();
  const mark = events.seen.length;
  const started = Date.now();
  const { ofPlan } = await publishPlan(fresh, BLOCKS / 4);
  const deadline = Date.now() + 120_000;
  while (await badAnswers() === before) {
    assert.ok(Date.now() < deadline, 'an encoder caught mallory\'s bad blocks within 2 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }
  const caught = Date.now() - started;
  importFeed(net.validator, exportDir);

  const total = await allActive(ofPlan, (failed) => assert.equal(failed.length, 0,
    `no setup fails: ${failed.map((e) => e.toString())}`), { waitMs: 360_000 });
  const charged = await badAnswers() - before;
  console.log(`# ${total} replicas active ${Date.now() - started} ms after publish_plan; mallory caught after ${caught} ms, ${charged} bad chunks`);
  // No setup failed (above), so nobody was struck for mallory's blocks; nobody was faulted.
  const faulted = events.seen.slice(mark).filter(is('ProviderOffline'));
  assert.equal(faulted.length, 0, `nobody faulted: ${faulted.map((e) => e.toString())}`);
  // Each encoder asked mallory once per part at most: it is not asked again after a bad answer.
  assert.ok(charged <= total, `${charged} bad chunks for ${total} encodings`);
  await mallory.stop();
});

/**
 * Paths under `dir` that unfinished work leaves: a write that did not finish (`.tmp-…`), and
 * a replica's stream being encoded or received (under `.encoding/` or `.receiving/`).
 */
function temporaries(dir) {
  return readdirSync(dir, { recursive: true }).filter((p) => {
    const parts = p.split('/');
    return parts.at(-1).startsWith('.tmp-') || ['.encoding', '.receiving'].includes(parts.at(-2));
  });
}

/**
 * `temporaries(node.workDir)` once the node has had `blocks` best blocks past chain block
 * `from` to clean up (it deletes a stream no draw has needed for 3 best blocks in a row),
 * or as soon as there are none.
 */
async function temporariesAfter(node, from, blocks = 6) {
  for (;;) {
    const left = temporaries(node.workDir);
    const { number } = await rpcCall(node, 'chain_getHeader');
    if (left.length === 0 || Number(number) >= from + blocks) return left;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A node process's peak resident memory in MiB (VmHWM, Linux). */
function peakRssMib(node) {
  const status = readFileSync(`/proc/${node.proc.pid}/status`, 'utf8');
  return Number(status.match(/VmHWM:\s+(\d+) kB/)[1]) / 1024;
}

test('encoders: an encoder, a hoster and the publisher killed with SIGKILL mid-setup and restarted; every replica ends active, nothing is lost or left behind', { timeout: 900_000 }, async () => {
  assert.ok(net, 'the network of the tests above');
  const { api, events } = net;
  // The runtime's setup time: a restarted node starts its part over and must still make it.
  await setTiming(api, net.sponsor, { challengePeriod: 500, offlineGrace: 1000 });
  // The publisher's node is not the validator, so killing it stops no block production.
  const publisher = await startNode(['--chain', 'dev', '--node-key', identity(21).nodeKey, '--bootnodes', net.bootnode],
    { name: 'publisher' });
  const dir = mkdtempSync(join(scratch, 'kill-'));
  const exportDir = await writeJsFeed(dir, BLOCKS, 16 * 1024); // 4 contracts of 1 MiB
  const fresh = importFeed(publisher, exportDir);
  await publishFeed(net, fresh);
  const mark = events.seen.length;
  const { ofPlan, contracts } = await publishPlan(fresh, BLOCKS);
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

  await allActive(ofPlan, () => {}, { waitMs: 480_000, others: { publisher: restarted.publisher } });
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

test('encoders: a node without room gives its setups up on chain at once, as hoster or encoder; only it pays, and another provider takes its part', { timeout: 600_000 }, async () => {
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
  const { ofPlans } = await plansUntilDrawn(dave, ['hoster', 'encoder'], { end: BLOCKS / 4, maxPlans: 12 });
  await allActive(ofPlans, (failed) => assert.equal(failed.length, 0,
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
