// A local datdot network on 127.0.0.1 for the end-to-end tests and the setup benchmark: a
// validator of the dev chain (as `--dev` starts it) that is also the publisher's node, and
// provider nodes. Each provider account is a dev stash (`//Bob//stash`, cold: its key is
// never in a node); its node runs as the dev account (`--bob`), whose `dtdt` key is the
// duty key the provider authorises, and registers with the PeerId, duty key and signatures
// its node gives (`datdot_registration`).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after } from 'node:test';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import {
  startNode, stopAll, connect, sendAndFinalize, recordEvents, repoRoot, NODE_BIN, setTiming, rpcCall, identity,
  devChainSpec, devValidatorArgs,
} from './harness.js';

export { identity };

const require = createRequire(import.meta.url);
const { exportHypercore, Hypercore } = require(join(repoRoot, 'scripts', 'export-hypercore.js'));
export const { generate } = require(join(repoRoot, 'primitives', 'fixtures', 'common.js'));

export const is = (name) => (e) => e.section === 'datdot' && e.method === name;
export const replicaKey = (d) => `${d.contract}/${d.replica}`;
const hex = (s) => (s === null ? null : `0x${s}`);

/**
 * A test file's scratch directory (under `prefix`), and its cleanup once its tests ran: the
 * network `currentNet()` returns (if started) disconnected, every node stopped, the
 * directory removed. Call at the file's top level.
 */
export function networkScope(prefix, currentNet) {
  const scratch = mkdtempSync(join(tmpdir(), prefix));
  after(async () => {
    const net = currentNet();
    try {
      if (net) {
        net.events.stop();
        await net.api.disconnect();
      }
    } finally {
      await stopAll();
      rmSync(scratch, { recursive: true, force: true });
    }
  });
  return scratch;
}

/**
 * Starts the validator and one provider node per dev account name in `providers`
 * (`bob`, `charlie`, …), connects polkadot.js to the validator and records its events.
 * `timing` (challenge period and offline grace, in blocks) is set through sudo first: the
 * runtime's defaults (20 and 100) would make a test wait minutes for each challenge.
 * `env`: extra environment variables per provider name.
 */
export async function startNetwork(providers, timing = { challengePeriod: 3, offlineGrace: 100 }, env = {}) {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519' });
  const sponsor = keyring.addFromUri('//Alice');
  const validatorId = identity(1);
  const validator = await startNode([...devValidatorArgs(), '--node-key', validatorId.nodeKey], { name: 'validator' });
  const net = {
    validator, nodes: {}, ids: {}, accounts: {}, dutyKeys: {}, byAddress: new Map(), sponsor,
    bootnode: `/ip4/127.0.0.1/tcp/${validator.p2pPort}/p2p/${validatorId.base58}`,
  };
  for (const name of providers) await startProvider(net, name, env[name]);
  ({ api: net.api } = await connect(validator));
  await setTiming(net.api, sponsor, timing);
  net.events = await recordEvents(net.api);
  return net;
}

/**
 * Starts the node of provider `name` (a dev account name) in `net`, with `env` added to its
 * environment; `registerProviders` registers it.
 */
export async function startProvider(net, name, env = {}) {
  const keyring = new Keyring({ type: 'sr25519' });
  const id = identity(Object.keys(net.nodes).length + 2);
  const dev = `//${name[0].toUpperCase()}${name.slice(1)}`;
  net.ids[name] = id;
  net.accounts[name] = keyring.addFromUri(`${dev}//stash`);
  net.dutyKeys[name] = keyring.addFromUri(dev).address;
  net.byAddress.set(net.accounts[name].address, name);
  net.nodes[name] = await startNode(
    ['--chain', devChainSpec(), `--${name}`, '--node-key', id.nodeKey, '--bootnodes', net.bootnode], { name, env });
}

/** Writes a hypercore of `blocks` generated blocks of `blockBytes` with npm hypercore into `dir`/core and exports it to `dir`/export. */
export async function writeJsFeed(dir, blocks, blockBytes) {
  const core = new Hypercore(join(dir, 'core'));
  await core.ready();
  for (let i = 0; i < blocks; i += 64) {
    const batch = [];
    for (let j = i; j < Math.min(i + 64, blocks); j++) batch.push(generate(7, j, blockBytes));
    await core.append(batch);
  }
  await exportHypercore(core, join(dir, 'export'));
  await core.close();
  return join(dir, 'export');
}

/**
 * Appends `blocks` generated blocks to the hypercore `writeJsFeed` wrote in `dir`,
 * re-exports it and returns the export directory and hypercore's upgrade proof from the
 * old length (as the chain's `Proof`).
 */
export async function growJsFeed(dir, blocks, blockBytes) {
  const core = new Hypercore(join(dir, 'core'));
  await core.ready();
  const from = core.length;
  const batch = [];
  for (let j = from; j < from + blocks; j++) batch.push(generate(7, j, blockBytes));
  await core.append(batch);
  const p = await core.proof({ upgrade: { start: from, length: core.length - from } });
  await exportHypercore(core, join(dir, 'export'));
  await core.close();
  const node = (n) => ({ index: n.index, size: n.size, hash: u8aToHex(n.hash) });
  const upgrade = {
    start: p.upgrade.start,
    length: p.upgrade.length,
    nodes: p.upgrade.nodes.map(node),
    additionalNodes: p.upgrade.additionalNodes.map(node),
    signature: u8aToHex(p.upgrade.signature),
  };
  return { exportDir: join(dir, 'export'), proof: { fork: p.fork, block: null, upgrade } };
}

/** `datdot-node feed import` into `node`'s data (while it runs); returns the printed tree.json. */
export function importFeed(node, exportDir) {
  const out = execFileSync(NODE_BIN,
    ['feed', 'import', exportDir, '--chain', 'dev', '--base-path', node.dataDir], { encoding: 'utf8' });
  return JSON.parse(out);
}

/** Registers providers `names` (all of `net`'s) with their nodes' PeerIds, sealing and duty keys and `capacity` bytes. */
export async function registerProviders(net, capacity, names = Object.keys(net.nodes)) {
  // Each provider registers the sealing key its node generated, then says where its node
  // seeds feeds to hypercore readers (attestors read it there).
  await Promise.all(names.map(async (n) => {
    const reg = await rpcCall(net.nodes[n], 'datdot_registration', [net.accounts[n].address]);
    if (reg.peerId !== net.ids[n].peerId) throw new Error(`${n}'s node reports PeerId ${reg.peerId}`);
    const [duty] = reg.dutyKeys;
    if (reg.dutyKeys.length !== 1 || duty.dutyKey !== net.dutyKeys[n]) {
      throw new Error(`${n}'s node holds duty keys ${JSON.stringify(reg.dutyKeys)}`);
    }
    await sendAndFinalize(net.api.tx.datdot.register(reg.peerId, reg.peerSignature, duty.dutyKey, duty.dutySignature,
      reg.sealingKey, capacity, null), net.accounts[n]);
    await sendAndFinalize(net.api.tx.datdot.setEndpoint(`127.0.0.1:${net.nodes[n].hypercorePort}`), net.accounts[n]);
  }));
}

/** `publish_feed` with the arguments from a tree.json (and, for an update, the upgrade proof). */
export function publishFeed(net, tree, extension = null) {
  const node = (n) => ({ index: n.index, size: n.size, hash: hex(n.hash) });
  return sendAndFinalize(net.api.tx.datdot.publishFeed(hex(tree.key), hex(tree.manifest), tree.tree.length,
    tree.tree.fork, tree.tree.roots.map(node), hex(tree.tree.signature), extension), net.sponsor);
}

/**
 * A first subtest of `t` that hosts a feed at R active replicas on `net`: it writes `blocks`
 * generated blocks (seed 7) of `blockBytes` with npm hypercore into `dir`, imports them into
 * the validator (the publisher's node), registers every provider of `net` with four times
 * the minimum capacity, publishes the feed and a plan of `replicas` copies (following the
 * feed's growth if `follow`), and waits until every replica is active. Returns, once that
 * subtest passed, { tree, plan, total, replicas }, where replicas maps "contract/replica"
 * to its { drawn, active } events.
 */
export async function hostFeed(t, net, dir, { blocks, blockBytes, replicas }, { follow = false } = {}) {
  const hosted = {};
  await t.test('a feed written by npm hypercore is hosted at R active replicas', async () => {
    const tree = importFeed(net.validator, await writeJsFeed(dir, blocks, blockBytes));
    await registerProviders(net, net.api.consts.datdot.minCapacity.toBigInt() * 4n);
    await publishFeed(net, tree);
    const { plan, total } = await planUntilActive(net, tree, replicas, 900_000, { follow });
    const copies = new Map();
    for (const e of net.events.seen.filter(is('ReplicaDrawn'))) copies.set(replicaKey(e.data), { drawn: e.data });
    for (const e of net.events.seen.filter(is('ReplicaActive'))) copies.get(replicaKey(e.data)).active = e.data;
    if (copies.size !== total) throw new Error(`${copies.size} replicas drawn, ${total} active`);
    Object.assign(hosted, { tree, plan, total, replicas: copies });
  });
  return hosted;
}

/** The hosters of `replicas` (as `hostFeed` returns them), by address. */
export const hostersOf = (replicas) => [...new Set([...replicas.values()].map((r) => r.active.hoster.toString()))];

/**
 * Publishes a plan for the whole feed with `replicas` copies and waits until every replica
 * is active (failing on any failed setup); `follow` makes it follow the feed's growth. Returns { plan, total, elapsedMs } (from the
 * plan's transaction being sent).
 */
export async function planUntilActive(net, tree, replicas, timeoutMs, { follow = false } = {}) {
  const { api, events } = net;
  const started = Date.now();
  const { events: evs } = await sendAndFinalize(
    api.tx.datdot.publishPlan(hex(tree.key), [{ start: 0, end: tree.tree.length }], replicas, 10_000, null, follow),
    net.sponsor);
  const published = evs.find(({ event }) => api.events.datdot.PlanPublished.is(event)).event.data;
  const total = published.contracts.toNumber() * replicas;
  const plan = published.plan.toNumber();
  const first = published.firstContract.toNumber();
  const ofPlan = (e) => e.data.contract.toNumber() >= first;
  const deadline = started + timeoutMs;
  while (events.seen.filter((e) => is('ReplicaActive')(e) && ofPlan(e)).length < total) {
    const failed = events.seen.filter((e) => is('SetupFailed')(e) && ofPlan(e));
    if (failed.length) throw new Error(`setup failed: ${failed.map((e) => e.toString()).join(', ')}`);
    if (Date.now() > deadline) throw new Error(`not every replica active within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return { plan, total, elapsedMs: Date.now() - started, firstContract: first };
}
