// The core loop between real datdot-node processes on 127.0.0.1 (design §5, §6, §8): a
// validator that is also the publisher's node, and provider nodes that encode, transfer,
// store and answer storage challenges by themselves. The feed is written by npm hypercore
// and imported with `datdot-node feed import`. Everything is checked on chain, from events,
// through polkadot.js.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  sendAndFinalize, moduleError, errorAs, rpcCall, NODE_BIN, repoRoot, registerTx, metric,
} from '../lib/harness.js';
import {
  networkScope, startNetwork, writeJsFeed, importFeed, registerProviders, publishFeed, planUntilActive, is, hostersOf,
  replicaKey, generate,
} from '../lib/network.js';

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
  const { api, events, accounts, dutyKeys, nodes, byAddress } = net;

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

  const hosters = () => hostersOf(replicas);
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
    for (const name of names) served += await metric(nodes[name], 'datdot_hypercore_served_blocks_total');
    assert.ok(served >= BLOCKS, `hosters served ${served} blocks`);
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
