// The core loop between real datdot-node processes on 127.0.0.1 (design §5, §6, §8): a
// validator that is also the publisher's node, and provider nodes that encode, transfer,
// store and answer storage challenges by themselves. The feed is written by npm hypercore
// and imported with `datdot-node feed import`. Everything is checked on chain, from events,
// through polkadot.js.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startNode, halt, sendAndFinalize, moduleError, errorAs, rpcCall, setTiming, NODE_BIN, repoRoot,
  registerTx,
} from '../lib/harness.js';
import {
  networkScope, startNetwork, writeJsFeed, importFeed, registerProviders, publishFeed, planUntilActive, is,
  replicaKey, generate,
} from '../lib/network.js';
import { Keyring } from '@polkadot/keyring';
import { bnToU8a, compactToU8a, stringToU8a, u8aConcat } from '@polkadot/util';
import { blake2AsU8a, decodeAddress } from '@polkadot/util-crypto';

const BLOCKS = 256; // 4 contracts of 64 blocks
const BLOCK_BYTES = 4096; // 1 MiB in all
const REPLICAS = 2;

let net;
const scratch = networkScope('datdot-network-feed-', () => net);

test('network: providers encode, transfer, store and prove a hypercore feed', { timeout: 1_800_000 }, async (t) => {
  // The providers' nodes neither check storage proofs before answering nor scrub their
  // stores (`unchecked-store`): the lazy hoster below must reach the chain with answers
  // from data that is not its own. (An honest node catches that itself and answers nothing;
  // node/src/store.rs tests that.)
  const providers = ['bob', 'charlie', 'dave', 'eve'];
  net = await startNetwork(providers, { challengePeriod: 3, offlineGrace: 100 },
    Object.fromEntries(providers.map((n) => [n, { DATDOT_TEST_MISBEHAVE: 'unchecked-store' }])));
  const { api, events, accounts, dutyKeys, ids, nodes, byAddress } = net;

  let tree;
  await t.test('a feed written by npm hypercore is imported into the publisher node', async () => {
    const exported = await writeJsFeed(scratch, BLOCKS, BLOCK_BYTES);
    tree = importFeed(net.validator, exported);
    assert.deepEqual(tree, JSON.parse(readFileSync(join(exported, 'tree.json'), 'utf8')));
    assert.equal(tree.tree.length, BLOCKS);
    // A tampered export is refused with the reason (into another node's data: nothing of it
    // may reach the publisher's feed store).
    const blocks = join(exported, 'blocks');
    const bytes = readFileSync(blocks);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(blocks, bytes);
    assert.throws(
      () => execFileSync(NODE_BIN, ['feed', 'import', exported, '--chain', 'dev',
        '--base-path', join(scratch, 'other')], { encoding: 'utf8', stdio: 'pipe' }),
      (e) => /not the feed its author signed: RootMismatch/.test(e.stderr));
  });

  const replicas = new Map(); // "contract/replica" -> { drawn, active }
  let plan;

  await t.test('every replica is drawn, encoded, transferred, stored and active', async () => {
    await registerProviders(net, api.consts.datdot.minCapacity.toBigInt() * 4n);
    await publishFeed(net, tree);
    const result = await planUntilActive(net, tree, REPLICAS, 900_000, { follow: true });
    plan = result.plan;
    assert.equal(result.total, (BLOCKS / 64) * REPLICAS);
    console.log(`# ${result.total} replicas of a ${BLOCKS * BLOCK_BYTES} B feed active ${result.elapsedMs} ms after publish_plan`);

    for (const e of events.seen.filter(is('ReplicaDrawn'))) replicas.set(replicaKey(e.data), { drawn: e.data });
    const root = (name) => new Map(events.seen.filter(is(name)).map((e) => [replicaKey(e.data), e.data.root.toString()]));
    const [encoded, hosted] = [root('EncodingConfirmed'), root('HostingConfirmed')];
    for (const e of events.seen.filter(is('ReplicaActive'))) {
      const k = replicaKey(e.data);
      replicas.get(k).active = e.data;
      assert.equal(e.data.hoster.toString(), replicas.get(k).drawn.hoster.toString(), `${k}: its drawn hoster`);
      assert.equal(encoded.get(k), e.data.root.toString(), `${k}: the encoder's root`);
      assert.equal(hosted.get(k), e.data.root.toString(), `${k}: the hoster's root`);
    }
    assert.equal(replicas.size, result.total);
    // Each provider node lists, over RPC, exactly the replicas it hosts, with their roots.
    for (const [name, n] of Object.entries(nodes)) {
      const status = await rpcCall(n, 'datdot_nodeStatus');
      assert.deepEqual(status.providers, [{ provider: accounts[name].address, dutyKey: dutyKeys[name] }]);
      const mine = [...replicas.entries()].filter(([, r]) => r.active.hoster.toString() === accounts[name].address);
      assert.deepEqual(
        status.stored.map((s) => `${s.contract}/${s.replica}:0x${s.root}`).sort(),
        mine.map(([k, r]) => `${k}:${r.active.root.root.toString()}`).sort(), `${name}'s stored replicas`);
      assert.ok(status.store.used > 0 === mine.length > 0 && status.store.used <= status.store.capacity);
    }
    // The runtime API shows the same from the chain's state.
    const status = (await api.call.datdotApi.planStatus(plan, 0, 256)).unwrap();
    assert.equal(status.length, result.total);
    for (const s of status) {
      assert.equal(s.state.unwrap().type, 'Active');
      assert.equal(s.root.unwrap().toString(), replicas.get(replicaKey(s.id)).active.root.toString());
    }
  });

  const hosters = () => [...new Set([...replicas.values()].map((r) => r.active.hoster.toString()))];
  const ofHoster = (name, who) => events.seen.filter((e) => is(name)(e) && e.data.hoster.toString() === who);

  await t.test('hosters answer their storage challenges from their stores, round after round', async () => {
    const deadline = Date.now() + 900_000;
    while (!hosters().every((h) => ofHoster('ChallengePassed', h).length >= 2)) {
      const failed = events.seen.filter(is('ChallengeFailed'));
      assert.equal(failed.length, 0, `no failed challenges: ${failed.map((e) => e.toString())}`);
      assert.ok(Date.now() < deadline, 'two passed challenges per hoster within 15 minutes');
      await new Promise((r) => setTimeout(r, 2000));
    }
  });

  await t.test('a lazy hoster that keeps the other replicas of its contracts but not its own fails its challenge', async () => {
    // Design §7: its own sealed copies are replaced by its contracts' other replicas (same
    // blocks, same length, sealed for another replica id) — the best data a hoster without
    // its own copy can have. Its node answers from them and the chain refuses the answer.
    const who = hosters()[1];
    const name = byAddress.get(who);
    const dataFile = (node, key) => {
      const [c, r] = key.split('/');
      return join(nodes[node].dataDir, 'chains', 'datdot_dev', 'datdot', 'replicas', `c${c}-r${r}`, 'data');
    };
    const saved = new Map();
    for (const [key, r] of replicas) {
      if (r.active.hoster.toString() !== who) continue;
      const [sibling, other] = [...replicas].find(([k]) => k !== key && k.split('/')[0] === key.split('/')[0]);
      const own = dataFile(name, key);
      const theirs = readFileSync(dataFile(byAddress.get(other.active.hoster.toString()), sibling));
      saved.set(own, readFileSync(own));
      assert.equal(theirs.length, saved.get(own).length, `${key}: its sibling ${sibling} has the same sealed length`);
      assert.ok(!theirs.equals(saved.get(own)), `${key}: each replica is sealed apart`);
      writeFileSync(own, theirs);
    }
    assert.ok(saved.size > 0, 'the hoster holds replicas');
    const mark = events.seen.length;
    const failed = await events.waitFor((e) => is('ChallengeFailed')(e) && e.data.hoster.toString() === who
      && events.seen.indexOf(e) >= mark, 300_000);
    // Put back at once (seen at import, a block before its node can unpause and be
    // challenged again), so the rest of the suite has an honest hoster.
    for (const [path, bytes] of saved) writeFileSync(path, bytes);
    assert.equal(failed.data.reason.type, 'InvalidProof');
    assert.equal(failed.data.reason.asInvalidProof.error.type, 'SegmentRootMismatch');
    await events.waitFor((e) => is('ProviderResumed')(e) && e.data.provider.toString() === who
      && events.seen.indexOf(e) >= mark, 120_000);
    const passed = ofHoster('ChallengePassed', who).length;
    const deadline = Date.now() + 300_000;
    while (ofHoster('ChallengePassed', who).length <= passed) {
      assert.ok(Date.now() < deadline, 'a passed challenge within 5 minutes with its own copy back');
      await new Promise((r) => setTimeout(r, 2000));
    }
    assert.equal(ofHoster('ChallengeFailed', who).length, 1, 'exactly the lazy answer failed');
  });

  await t.test("each new replica is spot-checked by its attestor, who reads it from the hoster's endpoint", async () => {
    // Design §5.5: at activation the replica's attestor gets a performance challenge on it.
    const reported = (id) => events.seen.find((e) => is('PerformanceReported')(e) && e.data.challenge.eq(id));
    const deadline = Date.now() + 120_000;
    for (const [key, { active }] of replicas) {
      const check = events.seen.find((e) => is('PerformanceChallengeIssued')(e) && replicaKey(e.data.replica) === key);
      assert.ok(check, `replica ${key} was spot-checked`);
      assert.equal(check.data.hoster.toString(), active.hoster.toString());
      while (!reported(check.data.challenge)) {
        assert.ok(Date.now() < deadline, `replica ${key}: the spot check was reported within 2 minutes`);
        await new Promise((r) => setTimeout(r, 2000));
      }
      assert.equal(reported(check.data.challenge).data.outcome.type, 'Served', `replica ${key} served its attestor`);
    }
    const silent = events.seen.filter((e) => is('PerformanceReported')(e) && !e.data.outcome.isServed);
    assert.deepEqual(silent.map(String), [], 'no honest hoster reported silent');
  });

  await t.test('a stock hypercore reader downloads the whole feed from the hosters the chain lists', async () => {
    // Each provider registered where its node seeds (`registerProviders`).
    const names = Object.keys(nodes);
    for (const name of names) {
      const endpoint = (await api.query.datdot.endpoints(accounts[name].address)).unwrap();
      assert.equal(Buffer.from(endpoint).toString(), `127.0.0.1:${nodes[name].hypercorePort}`);
    }
    // scripts/fetch-feed.js finds the hosters through DatdotApi_plan_status and replicates
    // with npm hypercore, which verifies every block; the publisher's node is not listed.
    const out = join(scratch, 'fetched');
    execFileSync('node', [join(repoRoot, 'scripts', 'fetch-feed.js'), net.validator.wsUrl,
      String(plan), out], { stdio: 'inherit', timeout: 120_000 });
    const expected = Buffer.concat([...Array(BLOCKS).keys()].map((i) => generate(7, i, BLOCK_BYTES)));
    assert.ok(readFileSync(out).equals(expected), 'the fetched feed is the one its author wrote');
    // Each hoster served what it holds, and counted it.
    let served = 0;
    for (const name of names) {
      const text = await (await fetch(`http://127.0.0.1:${nodes[name].prometheusPort}/metrics`)).text();
      served += Number(/^datdot_hypercore_served_blocks_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
    }
    assert.ok(served >= BLOCKS, `hosters served ${served} blocks`);
  });

  await t.test('attestors read every hoster; a hoster that stops serving is faulted on a second opinion; a forged proof of contact is refused', async () => {
    const mark = events.seen.length;
    const since = (pred) => events.seen.slice(mark).filter(pred);
    const reports = (pred) => since((e) => is('PerformanceReported')(e) && pred(e));
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    // Each hoster gets a performance challenge about every 2 blocks.
    await setTiming(api, net.sponsor, { challengePeriod: 3, offlineGrace: 100, performancePeriod: 2 });

    // Honest hosters serve every attestor, whose reports carry the hosters' signatures
    // (checked on chain). DATDOT_PERFORMANCE_REPORTS asks for more reports (the figure).
    const wanted = Number(process.env.DATDOT_PERFORMANCE_REPORTS ?? 0);
    const served = (h) => reports((e) => e.data.hoster.toString() === h && e.data.outcome.isServed).length;
    let deadline = Date.now() + 300_000 + wanted * 6_000;
    while (!hosters().every((h) => served(h) >= 1) || reports(() => true).length < wanted) {
      assert.deepEqual(reports((e) => !e.data.outcome.isServed).map(String), [], 'honest hosters are served');
      assert.deepEqual(since(is('PerformanceReportMissed')).map(String), [], 'every attestor reports');
      assert.ok(Date.now() < deadline, 'a served report per hoster within 5 minutes');
      await sleep(2000);
    }
    const all = reports(() => true);
    const grades = all.map((e) => e.data.outcome.asServed.type);
    // The attestors' nodes counted what they reported.
    let counted = 0;
    for (const name of Object.keys(nodes)) {
      const text = await (await fetch(`http://127.0.0.1:${nodes[name].prometheusPort}/metrics`)).text();
      counted += Number(/^datdot_attested_served_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
    }
    assert.ok(counted >= all.length, `attestors counted ${counted} served reports of ${all.length}`);
    console.log(`# performance challenges: ${all.length} reported, ${grades.length} served by honest hosters `
      + `(${grades.filter((g) => g === 'Fast').length} fast, ${grades.filter((g) => g === 'Good').length} good)`);

    // A forged proof of contact: an attestor's report signed by itself, not by the hoster.
    // Ferdie registers without a node, so nothing races its report. (Registered only now:
    // each report it misses is a strike, and three would bench it before this check.)
    const ferdie = new Keyring({ type: 'sr25519' }).addFromUri('//Ferdie');
    await sendAndFinalize(registerTx(api, ferdie, 9, { capacity: 1n << 40n }), ferdie);
    const markFerdie = events.seen.length;
    const issued = await events.waitFor((e) => is('PerformanceChallengeIssued')(e)
      && e.data.attestor.toString() === ferdie.address && events.seen.indexOf(e) >= markFerdie, 300_000);
    const id = issued.data.challenge.toBigInt();
    // The right blocks' leaf hashes (hypercore's BLAKE2b of 0x00, u64 length, bytes).
    const hashes = issued.data.blocks.map((b) => generate(7, b.toNumber(), BLOCK_BYTES))
      .map((block) => blake2AsU8a(u8aConcat([0], bnToU8a(block.length, { bitLength: 64 }), block), 256));
    const message = u8aConcat(stringToU8a('datdot/contact/v1'), bnToU8a(id, { bitLength: 64 }),
      decodeAddress(ferdie.address), compactToU8a(hashes.length), ...hashes);
    const forged = { Served: { latencyMs: 5, hashes, contact: { Sr25519: ferdie.sign(message) } } };
    const refused = await sendAndFinalize(api.tx.datdot.reportPerformance(id, forged), ferdie)
      .then(() => null, (e) => moduleError(api, e));
    assert.equal(refused, 'datdot.InvalidProofOfContact');
    assert.ok((await api.query.datdot.performanceChallenges(id)).isSome, 'a refused report changes nothing');
    await sendAndFinalize(api.tx.datdot.unregister(), ferdie);
    assert.ok((await api.query.datdot.providers(ferdie.address)).isNone);

    // A hoster that stops serving (its endpoint now leads nowhere) but keeps answering its
    // storage challenges: the first attestor's silence report asks a second attestor, and
    // only that one's faults it.
    const victim = hosters().at(-1);
    const name = byAddress.get(victim);
    const endpoint = async (value) => {
      const nonce = (await api.rpc.system.accountNextIndex(net.sponsor.address)).toNumber();
      assert.equal(await errorAs(api, net.sponsor, victim, api.tx.datdot.setEndpoint(value), { nonce }), null);
    };
    await setTiming(api, net.sponsor, { challengePeriod: 3, offlineGrace: 100 });
    await endpoint('127.0.0.1:1');
    try {
      // First it still passes a storage challenge with nothing served (attestors are off).
      const markStorage = events.seen.length;
      await events.waitFor((e) => is('ChallengePassed')(e) && e.data.hoster.toString() === victim
        && events.seen.indexOf(e) >= markStorage, 300_000);
      const markVictim = events.seen.length;
      const later = (pred) => events.seen.slice(markVictim).filter(pred);
      await setTiming(api, net.sponsor, { challengePeriod: 3, offlineGrace: 100, performancePeriod: 2 });
      const faulted = await events.waitFor((e) => is('PerformanceReported')(e) && e.data.hoster.toString() === victim
        && e.data.outcome.isFaulted && events.seen.indexOf(e) >= markVictim, 300_000);
      const rechecking = later((e) => is('PerformanceReported')(e) && e.data.hoster.toString() === victim
        && e.data.outcome.isRechecking);
      assert.ok(rechecking.some((r) => r.data.attestor.toString() !== faulted.data.attestor.toString()),
        'a second opinion, by another attestor, came first');
      const recheck = later((e) => is('PerformanceChallengeIssued')(e) && e.data.challenge.eq(faulted.data.challenge));
      assert.ok(recheck.length === 1 && recheck[0].data.recheck.isTrue, 'the fault came from a recheck');
      assert.deepEqual(later((e) => is('ChallengeFailed')(e) && e.data.hoster.toString() === victim).map(String), [],
        'no storage challenge failed: the fault is for not serving');
      const status = (await api.query.datdot.providers(victim)).unwrap();
      assert.equal(status.faults.toNumber(), 1);
    } finally {
      // Serving again at once (its node rejoins after the fault, and the next check must
      // find it serving); the rest of the suite runs without attestors.
      await endpoint(`127.0.0.1:${nodes[name].hypercorePort}`);
      await setTiming(api, net.sponsor, { challengePeriod: 3, offlineGrace: 100 });
    }
    deadline = Date.now() + 300_000;
    while ((await api.query.datdot.providers(victim)).unwrap().status.type !== 'Active') {
      assert.ok(Date.now() < deadline, 'the faulted hoster is active again within 5 minutes');
      await sleep(2000);
    }
  });

  await t.test('a hoster killed with SIGKILL fails its challenge; restarted, it comes back and passes', async () => {
    const victim = hosters()[0];
    const name = byAddress.get(victim);
    await halt(nodes[name], 'SIGKILL');
    const failed = await events.waitFor(
      (e) => is('ChallengeFailed')(e) && e.data.hoster.toString() === victim, 600_000);
    assert.equal(failed.data.reason.type, 'Missed');
    await events.waitFor((e) => is('ProviderOffline')(e) && e.data.provider.toString() === victim, 60_000);
    assert.equal((await api.query.datdot.providers(victim)).unwrap().status.type, 'Offline');

    const before = ofHoster('ChallengePassed', victim).length;
    nodes[name] = await startNode(nodes[name].args, { name, restartOf: nodes[name] });
    await events.waitFor((e) => is('ProviderResumed')(e) && e.data.provider.toString() === victim, 300_000);
    const deadline = Date.now() + 600_000;
    while (ofHoster('ChallengePassed', victim).length <= before) {
      assert.equal(ofHoster('ChallengeFailed', victim).length, 1, 'no failed challenge after the restart');
      assert.ok(Date.now() < deadline, 'a passed challenge within 10 minutes of the restart');
      await new Promise((r) => setTimeout(r, 2000));
    }
  });

  let cleanlyStopped; // the hoster the next two tests stop
  await t.test('a hoster stopped cleanly pauses itself; restarted without one replica, it releases exactly that one and resumes', async () => {
    // The active hoster with the most replicas (draws are random): it keeps some after
    // losing one.
    const counts = [];
    for (const h of hosters()) {
      if ((await api.query.datdot.providers(h)).unwrap().status.isActive) {
        counts.push([h, (await api.query.datdot.hostedReplicas(h)).length]);
      }
    }
    const [who] = counts.sort((a, b) => b[1] - a[1])[0];
    cleanlyStopped = who;
    const name = byAddress.get(who);
    const exit = await halt(nodes[name], 'SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, 'a clean exit');
    // The node waited for its pause to be included before it stopped.
    assert.ok(events.seen.some((e) => is('ProviderPaused')(e) && e.data.provider.toString() === who));
    assert.equal((await api.query.datdot.providers(who)).unwrap().status.type, 'Paused');
    // Its disk loses one replica while it is down.
    const mine = (await api.query.datdot.hostedReplicas(who)).map((id) => replicaKey(id));
    assert.ok(mine.length >= 2, `${name} hosts ${mine.length} replicas`);
    const [contract, replica] = mine[0].split('/');
    rmSync(join(nodes[name].dataDir, 'chains', 'datdot_dev', 'datdot', 'replicas', `c${contract}-r${replica}`),
      { recursive: true });
    const mark = events.seen.length;
    nodes[name] = await startNode(nodes[name].args, { name, restartOf: nodes[name] });
    await events.waitFor((e) => is('ProviderResumed')(e) && e.data.provider.toString() === who
      && events.seen.indexOf(e) >= mark, 300_000);
    assert.equal((await api.query.datdot.providers(who)).unwrap().status.type, 'Active');
    const released = events.seen.slice(mark).filter((e) => is('ReplicaReleased')(e) && e.data.hoster.toString() === who);
    assert.deepEqual(released.map((e) => replicaKey(e.data)), [mine[0]], 'released exactly the lost replica');
    const kept = (await api.query.datdot.hostedReplicas(who)).map((id) => replicaKey(id)).sort();
    assert.deepEqual(kept, mine.slice(1).sort(), 'kept the rest');
    // The lost copy is drawn again and set up on another hoster.
    const again = await events.waitFor((e) => is('ReplicaActive')(e) && replicaKey(e.data) === mine[0]
      && events.seen.indexOf(e) >= mark, 300_000);
    assert.notEqual(again.data.hoster.toString(), who);
    replicas.set(mine[0], { drawn: replicas.get(mine[0]).drawn, active: again.data });
  });

  await t.test('a second signal stops a stopping node at once', async () => {
    const who = cleanlyStopped;
    const name = byAddress.get(who);
    const node = nodes[name];
    const exited = halt(node, 'SIGTERM');
    // The first signal starts the clean stop (the pause takes a block or two)…
    const started = Date.now();
    while (!readFileSync(node.logFile, 'utf8').includes("pausing this node's providers")) {
      assert.ok(Date.now() - started < 30_000, 'the clean stop begins within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    // …and a second one ends it without waiting for the pause.
    process.kill(-node.proc.pid, 'SIGTERM');
    const signalled = Date.now();
    assert.deepEqual(await exited, { code: 0, signal: null });
    const took = Date.now() - signalled;
    assert.ok(took < 5_000, `exited ${took} ms after the second signal`);
    assert.match(readFileSync(node.logFile, 'utf8'), /second signal: stopping now/);
    // Restarted, it is active again by itself (resumed if its pause made it on chain, or
    // back after a fault if it was challenged while away).
    nodes[name] = await startNode(node.args, { name, restartOf: node });
    const deadline = Date.now() + 300_000;
    while ((await api.query.datdot.providers(who)).unwrap().status.type !== 'Active') {
      assert.ok(Date.now() < deadline, 'active again within 5 minutes of the restart');
      await new Promise((r) => setTimeout(r, 2000));
    }
  });

  await t.test('bad extrinsics get their specific errors', async () => {
    const [k, r] = [...replicas.entries()][0];
    const notHoster = Object.keys(accounts).find((n) => accounts[n].address !== r.active.hoster.toString());
    const [contract, replica] = k.split('/').map(Number);
    // As the provider accounts, through sudo (a provider account may do its duties itself).
    // All sent at once, with consecutive nonces of the sudo key.
    const first = (await api.rpc.system.accountNextIndex(net.sponsor.address)).toNumber();
    const as = (who, call, i) => errorAs(api, net.sponsor, accounts[who].address, call, { nonce: first + i });
    const checks = [
      as(notHoster, api.tx.datdot.hostingStarted(contract, replica, r.active.root), 0),
      as('bob', api.tx.datdot.submitStorageProof(1_000_000, []), 1),
      as('bob', registerTx(api, accounts.bob, 2, { capacity: 1n << 40n }), 2),
      sendAndFinalize(api.tx.datdot.publishPlan(`0x${tree.key}`, [{ start: 0, end: BLOCKS }], 0, 10, null, false),
        net.sponsor, { nonce: first + 3 }).then(() => null, (e) => moduleError(api, e)),
    ];
    assert.deepEqual(await Promise.all(checks),
      ['datdot.NotHoster', 'datdot.UnknownChallenge', 'datdot.AlreadyRegistered', 'datdot.InvalidReplication']);
  });
});

