// A hosted feed's lifecycle between real datdot-node processes on 127.0.0.1 (design §8, §9):
// a hoster that stays down is replaced from the other hosters, and the feed grows and its
// plan follows. Its own network, apart from the other files', so that they run side by
// side (they mostly wait for blocks).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { halt, setTiming, rpcCall, metric } from '../lib/harness.js';
import {
  networkScope, startNetwork, hostFeed, hostersOf, growJsFeed, importFeed, publishFeed, is, replicaKey,
} from '../lib/network.js';

const BLOCKS = 256; // 4 contracts of 64 blocks
const BLOCK_BYTES = 4096; // 1 MiB in all
const REPLICAS = 2;
const GROWTH = 128; // blocks appended later: 2 more contracts

let net;
const scratch = networkScope('datdot-lifecycle-feed-', () => net);

test('lifecycle: replicas replaced, a growing feed followed', { timeout: 1_800_000 }, async (t) => {
  net = await startNetwork(['bob', 'charlie', 'dave', 'eve']);
  const { api, events, nodes, byAddress } = net;
  const hosted = await hostFeed(t, net, scratch, { blocks: BLOCKS, blockBytes: BLOCK_BYTES, replicas: REPLICAS },
    { follow: true });
  const { replicas, plan } = hosted; // replicas: "contract/replica" -> { drawn, active }
  let { tree } = hosted;
  assert.equal(hosted.total, (BLOCKS / 64) * REPLICAS);
  const hosters = () => hostersOf(replicas);

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
    const served = (n) => metric(n, 'datdot_served_blocks_total');
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
});
