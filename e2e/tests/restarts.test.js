// Hosters stopped and restarted between real datdot-node processes on 127.0.0.1 (design §6,
// §8): one killed with SIGKILL fails its challenge and comes back; one stopped cleanly pauses
// itself first and, restarted without one replica, releases exactly that one; a second
// signal ends a clean stop at once. Its own network, apart from the others' hosters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startNode, halt } from '../lib/harness.js';
import { networkScope, startNetwork, hostFeed, hostersOf, is, replicaKey } from '../lib/network.js';

// 4 contracts of 64 blocks at 2 replicas: 8 replicas over 4 hosters, so one holds 2 or more.
const FEED = { blocks: 256, blockBytes: 4096, replicas: 2 };

let net;
const scratch = networkScope('datdot-restarts-feed-', () => net);

test('restarts: hosters killed, stopped cleanly and restarted', { timeout: 1_800_000 }, async (t) => {
  net = await startNetwork(['bob', 'charlie', 'dave', 'eve']);
  const { api, events, nodes, byAddress } = net;
  const { replicas } = await hostFeed(t, net, scratch, FEED); // "contract/replica" -> { drawn, active }
  const hosters = () => hostersOf(replicas);
  const ofHoster = (name, who) => events.seen.filter((e) => is(name)(e) && e.data.hoster.toString() === who);

  await t.test('a hoster killed with SIGKILL fails its challenge; restarted, it comes back and passes', async () => {
    // Each new replica's spot check (design §5.5) reported first: a hoster killed with one
    // pending would be faulted by its attestor and put offline, and then not challenged.
    for (const key of replicas.keys()) {
      const check = await events.waitFor((e) => is('PerformanceChallengeIssued')(e) && replicaKey(e.data.replica) === key);
      await events.waitFor((e) => is('PerformanceReported')(e) && e.data.challenge.eq(check.data.challenge));
    }
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
});
