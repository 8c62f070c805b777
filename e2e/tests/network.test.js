// The core loop between real datdot-node processes on 127.0.0.1 (design §5, §6, §8): a
// validator that is also the publisher's node, and provider nodes that encode, transfer,
// store and answer storage challenges by themselves. The feed is written by npm hypercore
// and imported with `datdot-node feed import`. Everything is checked on chain, from events,
// through polkadot.js.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, stopAll, halt, sendAndFinalize, moduleError, rpcCall, NODE_BIN } from '../lib/harness.js';
import {
  startNetwork, writeJsFeed, importFeed, registerProviders, publishFeed, planUntilActive, is, replicaKey,
} from '../lib/network.js';

const BLOCKS = 256; // 4 contracts of 64 blocks
const BLOCK_BYTES = 4096; // 1 MiB in all
const REPLICAS = 2;

let net;
const scratch = mkdtempSync(join(tmpdir(), 'datdot-network-feed-'));
after(async () => {
  if (net) {
    net.events.stop();
    await net.api.disconnect();
  }
  await stopAll();
  rmSync(scratch, { recursive: true, force: true });
});

test('network: providers encode, transfer, store and prove a hypercore feed', { timeout: 2_400_000 }, async (t) => {
  net = await startNetwork(['bob', 'charlie', 'dave', 'eve']);
  const { api, events, accounts, ids, nodes, byAddress } = net;

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
    const result = await planUntilActive(net, tree, REPLICAS, 900_000);
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
      assert.deepEqual(status.providers, [accounts[name].address]);
      const mine = [...replicas.entries()].filter(([, r]) => r.active.hoster.toString() === accounts[name].address);
      assert.deepEqual(
        status.stored.map((s) => `${s.contract}/${s.replica}:0x${s.root}`).sort(),
        mine.map(([k, r]) => `${k}:${r.active.root.root.toString()}`).sort(), `${name}'s stored replicas`);
      assert.ok(status.store.used > 0 === mine.length > 0 && status.store.used <= status.store.capacity);
    }
    // The runtime API shows the same from the chain's state.
    const status = (await api.call.datdotApi.planStatus(plan)).unwrap();
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

  await t.test('a hoster stopped cleanly pauses itself on chain; restarted, it resumes', async () => {
    const who = hosters()[1];
    const name = byAddress.get(who);
    const exit = await halt(nodes[name], 'SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, 'a clean exit');
    // The node waited for its pause to be included before it stopped.
    assert.ok(events.seen.some((e) => is('ProviderPaused')(e) && e.data.provider.toString() === who));
    assert.equal((await api.query.datdot.providers(who)).unwrap().status.type, 'Paused');
    nodes[name] = await startNode(nodes[name].args, { name, restartOf: nodes[name] });
    await events.waitFor((e) => is('ProviderResumed')(e) && e.data.provider.toString() === who, 300_000);
    assert.equal((await api.query.datdot.providers(who)).unwrap().status.type, 'Active');
  });

  await t.test('a second signal stops a stopping node at once', async () => {
    const who = hosters()[1];
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
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.hostingStarted(contract, replica, r.active.root), accounts[notHoster]),
      (e) => moduleError(api, e) === 'datdot.NotHoster');
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.submitStorageProof(1_000_000, []), accounts.bob),
      (e) => moduleError(api, e) === 'datdot.UnknownChallenge');
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.register(ids.bob.peerId, 1n << 40n, null), accounts.bob),
      (e) => moduleError(api, e) === 'datdot.AlreadyRegistered');
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.publishPlan(`0x${tree.key}`, [{ start: 0, end: BLOCKS }], 0, 10, null), net.sponsor),
      (e) => moduleError(api, e) === 'datdot.InvalidReplication');
  });
});
