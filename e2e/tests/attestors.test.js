// Attestors between real datdot-node processes on 127.0.0.1 (design §5.5, §6): each new
// replica is spot-checked, attestors read every hoster from the endpoint it registered, a
// hoster that stops serving is faulted only on a second attestor's opinion, and a report
// whose proof of contact the hoster did not sign is refused. Its own network: the faults
// and timing changes here must not reach the other files' hosters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sendAndFinalize, moduleError, errorAs, setTiming, registerTx, metric } from '../lib/harness.js';
import {
  networkScope, startNetwork, hostFeed, hostersOf, is, replicaKey, generate,
} from '../lib/network.js';
import { Keyring } from '@polkadot/keyring';
import { bnToU8a, compactToU8a, stringToU8a, u8aConcat } from '@polkadot/util';
import { blake2AsU8a, decodeAddress } from '@polkadot/util-crypto';

const BLOCK_BYTES = 4096;
const FEED = { blocks: 256, blockBytes: BLOCK_BYTES, replicas: 2 }; // 4 contracts of 64 blocks, 1 MiB

let net;
const scratch = networkScope('datdot-attestors-feed-', () => net);

test('attestors: spot checks of new replicas, reads of every hoster, faults on a second opinion', { timeout: 1_800_000 }, async (t) => {
  net = await startNetwork(['bob', 'charlie', 'dave', 'eve']);
  const { api, events, nodes, byAddress } = net;
  const { replicas } = await hostFeed(t, net, scratch, FEED); // "contract/replica" -> { drawn, active }
  const hosters = () => hostersOf(replicas);

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
    for (const name of Object.keys(nodes)) counted += await metric(nodes[name], 'datdot_attested_served_total');
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
      // Serving again at once: its node rejoins after the fault, and the next check must
      // find it serving.
      await endpoint(`127.0.0.1:${nodes[name].hypercorePort}`);
    }
    deadline = Date.now() + 300_000;
    while ((await api.query.datdot.providers(victim)).unwrap().status.type !== 'Active') {
      assert.ok(Date.now() < deadline, 'the faulted hoster is active again within 5 minutes');
      await sleep(2000);
    }
  });
});
