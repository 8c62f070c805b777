// Feeds, plans, random draws, setup confirmations and a storage challenge on a real dev
// chain through polkadot.js (no custom types). The feed is one written by npm hypercore
// (primitives/fixtures/generated, made by primitives/fixtures/generate.js).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import {
  startNode, stopAll, connect, sendAndFinalize, recordEvents, moduleError, repoRoot, setTiming,
  registerTx,
} from '../lib/harness.js';

let api;
let events;
after(async () => {
  if (events) events.stop();
  if (api) await api.disconnect();
  await stopAll();
});

const hex = (s) => `0x${s}`;
const node = (n) => ({ index: n.index, size: n.size, hash: hex(n.hash) });

/** The publish_feed arguments of a signed tree in the fixtures' JSON form. */
function feedArgs(fx, tree, extension = null) {
  return [hex(fx.key), hex(fx.manifest), tree.length, tree.fork, tree.roots.map(node),
    hex(tree.signature), extension];
}

/** hypercore's upgrade proof as the chain's `Proof` type. */
function proofArg(p) {
  return {
    fork: p.fork,
    block: null,
    upgrade: {
      start: p.upgrade.start,
      length: p.upgrade.length,
      nodes: p.upgrade.nodes.map(node),
      additionalNodes: p.upgrade.additionalNodes.map(node),
      signature: hex(p.upgrade.signature),
    },
  };
}

/** The name of the hypercore verification error inside an `InvalidFeed` module error. */
function innerVerifyError(err) {
  const inner = err.result.dispatchError.asModule.error[1];
  const type = api.registry.lookup.types.find(
    (t) => t.type.path.map(String).join('::') === 'datdot_primitives::error::Error');
  return type.type.def.asVariant.variants.find((v) => v.index.toNumber() === inner).name.toString();
}

const is = (name) => (e) => e.section === 'datdot' && e.method === name;

test('hosting: feeds, plans, draws, setup and a storage challenge', { timeout: 900_000 }, async (t) => {
  await cryptoWaitReady();
  const dev = await startNode(['--dev'], { name: 'hosting' });
  ({ api } = await connect(dev));
  events = await recordEvents(api);
  const keyring = new Keyring({ type: 'sr25519' });
  const sponsor = keyring.addFromUri('//Alice');
  // A challenge about every other block, so the lone hoster below is challenged soon.
  await setTiming(api, sponsor, { challengePeriod: 2, offlineGrace: 100 });
  const uris = ['//Bob', '//Charlie', '//Dave', '//Eve', '//Ferdie'];
  const providers = uris.map((u) => keyring.addFromUri(u));
  // Each provider's duty key: its dev stash, funded at genesis for the fees of duties.
  const dutyKey = (p) => keyring.addFromUri(`${uris[providers.indexOf(p)]}//stash`);
  const byAddress = new Map(providers.map((p) => [p.address, p]));
  const fx = JSON.parse(readFileSync(
    join(repoRoot, 'primitives/fixtures/generated/manifest-len1000.json'), 'utf8'));
  const upgrade = fx.upgrades[0];

  await t.test('a hypercore feed is verified on chain; a forged one is refused with the reason', async () => {
    // hypercore's one-signer container: [1][signer 0][64-byte ed25519 signature][0][0];
    // byte 10 is inside the signature itself.
    const sig = upgrade.from.signature;
    const flipped = (parseInt(sig.slice(20, 22), 16) ^ 1).toString(16).padStart(2, '0');
    const forged = { ...upgrade.from, signature: `${sig.slice(0, 20)}${flipped}${sig.slice(22)}` };
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.publishFeed(...feedArgs(fx, forged)), sponsor),
      (e) => moduleError(api, e) === 'datdot.InvalidFeed' && innerVerifyError(e) === 'BadSignature');
    await sendAndFinalize(api.tx.datdot.publishFeed(...feedArgs(fx, upgrade.from)), sponsor);
    const feed = (await api.query.datdot.feeds(hex(fx.key))).unwrap();
    assert.equal(feed.length.toNumber(), 600);
    assert.equal(feed.auth.mode.type, 'ManifestV1');
  });

  await t.test("hypercore's upgrade proof extends the feed", async () => {
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.publishFeed(...feedArgs(fx, fx.tree)), sponsor),
      (e) => moduleError(api, e) === 'datdot.ExtensionProofMissing');
    const { events: evs } = await sendAndFinalize(
      api.tx.datdot.publishFeed(...feedArgs(fx, fx.tree, proofArg(upgrade.proof))), sponsor);
    const updated = evs.find(({ event }) => api.events.datdot.FeedUpdated.is(event));
    assert.ok(updated, 'FeedUpdated');
    // (`data.length` would be the tuple's own length: read the fields by position.)
    const [, oldLength, length] = updated.event.data.map((x) => x.toString());
    assert.deepEqual([oldLength, length], ['600', '1000']);
    assert.equal((await api.query.datdot.feeds(hex(fx.key))).unwrap().length.toNumber(), 1000);
  });

  const perContract = api.consts.datdot.maxBlocksPerContract.toNumber();
  const contracts = Math.ceil(1000 / perContract);
  const drawn = new Map(); // "contract/replica" -> latest ReplicaDrawn data

  await t.test('a plan is cut into contracts and BABE randomness draws every replica', async () => {
    const capacity = api.consts.datdot.minCapacity.toBigInt() * 4n;
    await Promise.all(providers.map((p, i) =>
      sendAndFinalize(registerTx(api, p, i + 1, { capacity, dutyKey: dutyKey(p) }), p)));
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.publishPlan(hex(fx.key), [{ start: 0, end: 1001 }], 2, 1000, null, false), sponsor),
      (e) => moduleError(api, e) === 'datdot.InvalidRange');
    const { events: evs } = await sendAndFinalize(
      api.tx.datdot.publishPlan(hex(fx.key), [{ start: 0, end: 1000 }], 2, 1000, null, false), sponsor);
    const published = evs.find(({ event }) => api.events.datdot.PlanPublished.is(event)).event;
    assert.equal(published.data.contracts.toNumber(), contracts);

    const deadline = Date.now() + 120_000;
    while (events.seen.filter(is('ReplicaDrawn')).length < 2 * contracts) {
      assert.ok(Date.now() < deadline, 'every replica drawn within 2 minutes');
      await new Promise((r) => setTimeout(r, 1000));
    }
    for (const e of events.seen.filter(is('ReplicaDrawn'))) {
      drawn.set(`${e.data.contract}/${e.data.replica}`, e.data);
    }
    for (let c = 0; c < contracts; c++) {
      const [a, b] = [drawn.get(`${c}/0`), drawn.get(`${c}/1`)];
      assert.notEqual(a.hoster.toString(), b.hoster.toString(), `contract ${c}: distinct hosters`);
      for (const r of [a, b]) {
        const roles = [r.encoder, r.hoster, r.attestor].map(String);
        assert.equal(new Set(roles).size, 3, 'three distinct providers per replica');
        assert.ok(!roles.includes(sponsor.address), 'never the sponsor');
      }
    }
    const [head, tail] = (await api.query.datdot.drawQueueBounds()).map((x) => x.toNumber());
    assert.equal(tail - head, 0, "the draw queue is empty");
  });

  await t.test('confirmations: different roots redraw, matching roots activate', async () => {
    const rootA = { root: hex('11'.repeat(32)), segments: perContract };
    const rootB = { root: hex('22'.repeat(32)), segments: perContract };
    const other = drawn.get('0/1');
    const redrawn = events.seen.filter(is('ReplicaDrawn')).length;
    // The hoster cannot confirm before the encoder has committed its root.
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.hostingStarted(0, 1, rootB), byAddress.get(other.hoster.toString())),
      (e) => moduleError(api, e) === 'datdot.EncoderNotConfirmed');
    await sendAndFinalize(api.tx.datdot.encodingDone(0, 1, rootA), byAddress.get(other.encoder.toString()));
    await sendAndFinalize(api.tx.datdot.hostingStarted(0, 1, rootB), byAddress.get(other.hoster.toString()));
    const failed = await events.waitFor(is('SetupFailed'));
    assert.equal(failed.data.reason.type, 'Mismatch');
    await events.waitFor((e) => is('ReplicaDrawn')(e) && events.seen.filter(is('ReplicaDrawn')).length > redrawn);

    const r = drawn.get('0/0');
    const encoder = byAddress.get(r.encoder.toString());
    await assert.rejects(
      sendAndFinalize(api.tx.datdot.hostingStarted(0, 0, rootA), encoder),
      (e) => moduleError(api, e) === 'datdot.NotHoster');
    await sendAndFinalize(api.tx.datdot.encodingDone(0, 0, rootA), encoder);
    await sendAndFinalize(api.tx.datdot.hostingStarted(0, 0, rootA), byAddress.get(r.hoster.toString()));
    const active = await events.waitFor(is('ReplicaActive'));
    assert.equal(active.data.hoster.toString(), r.hoster.toString());
    const replica = (await api.query.datdot.replicas(0, 0)).unwrap();
    assert.equal(replica.state.type, 'Active');
  });

  await t.test('the active hoster is challenged; a wrong proof fails and puts it offline', async () => {
    const hoster = drawn.get('0/0').hoster.toString();
    const issued = await events.waitFor(
      (e) => is('ChallengeIssued')(e) && e.data.hoster.toString() === hoster, 180_000);
    const id = issued.data.challenge.toNumber();
    assert.equal(issued.data.segments.length, api.consts.datdot.challengeSegments.toNumber());
    // The hoster never stored anything (the root was made up), so its answer cannot verify.
    const proofs = issued.data.segments.map(([, seg]) => ({ index: seg, segment: '0x00', path: [] }));
    await sendAndFinalize(api.tx.datdot.submitStorageProof(id, proofs), byAddress.get(hoster));
    const failed = await events.waitFor((e) => is('ChallengeFailed')(e) && e.data.challenge.toNumber() === id);
    assert.equal(failed.data.reason.type, 'InvalidProof');
    // A sealed segment is exactly SEGMENT_SIZE bytes: a 1-byte one is refused before its path.
    assert.equal(failed.data.reason.asInvalidProof.error.type, 'BadSegmentLength');
    const offline = await events.waitFor((e) => is('ProviderOffline')(e) && e.data.provider.toString() === hoster);
    assert.equal(offline.data.slashed.toBigInt(), api.consts.datdot.faultSlash.toBigInt());
    assert.equal((await api.query.datdot.providers(hoster)).unwrap().status.type, 'Offline');
  });

  await t.test("given the offline hoster's key, the node releases what it lacks, then brings it back", async () => {
    // The dev node opened its (empty) replica store at start; once it holds the hoster's
    // `dtdt` duty key it acts for that provider. Its store lacks replica 0/0, which the chain
    // lists for the hoster: it releases that (a small penalty, and the replica is drawn
    // again) instead of coming back to fail its next challenge, and then signs `unpause`.
    const hoster = byAddress.get(drawn.get('0/0').hoster.toString());
    const uri = `${uris[providers.indexOf(hoster)]}//stash`;
    await api.rpc.author.insertKey('dtdt', uri, u8aToHex(dutyKey(hoster).publicKey));
    const released = await events.waitFor(
      (e) => is('ReplicaReleased')(e) && e.data.hoster.toString() === hoster.address, 60_000);
    assert.deepEqual([released.data.contract.toNumber(), released.data.replica.toNumber()], [0, 0]);
    assert.equal(released.data.penalty.toBigInt(), api.consts.datdot.releasePenalty.toBigInt());
    assert.ok(!events.seen.some((e) => is('ProviderResumed')(e) && e.data.provider.toString() === hoster.address),
      'not back before the release');
    await events.waitFor(
      (e) => is('ProviderResumed')(e) && e.data.provider.toString() === hoster.address, 120_000);
    // Only `unpause` ends the offline state, and this test never sent one: the node did.
    assert.equal((await api.query.datdot.providers(hoster.address)).unwrap().status.type, 'Active');
    assert.equal((await api.query.datdot.hostedReplicas(hoster.address)).length, 0);
  });
});
