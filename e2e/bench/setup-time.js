// Setup benchmark (issue 5): time from `publish_plan` to every replica active for a feed of
// `--mib` MiB with R replicas on a local network of real nodes, against copying the same
// bytes R times over 127.0.0.1 with a plain TCP copy (Node's net module); from the nodes'
// logs, encoder and hoster throughput and how long after its encoder a hoster stored its
// replica; the share of storage challenges answered within one block, and whether any was
// lost (failed, e.g. to a nonce clash); the start-up time of the provider holding the most
// replicas, killed with SIGKILL and started again. Run: `scripts/bench-setup.sh` (or
// `node e2e/bench/setup-time.js --mib 1`); `--challenge-period P` challenges each hoster
// about every P blocks while challenges are counted.

import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopAll, setTiming, halt, startNode, rpcCall } from '../lib/harness.js';
import {
  startNetwork, writeJsFeed, importFeed, registerProviders, publishFeed, planUntilActive, is,
} from '../lib/network.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const MIB = arg('mib', 1);
const R = arg('replicas', 3);
const BLOCK_BYTES = 64 * 1024;
const CHALLENGE_ROUNDS_MS = arg('challenge-seconds', 240) * 1000;
const CHALLENGE_PERIOD = arg('challenge-period', 3);

/** Seconds to send `bytes` `times` times over a loopback TCP connection. */
async function plainCopy(bytes, times) {
  const payload = Buffer.alloc(bytes, 7);
  const server = createServer((sock) => sock.resume());
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const started = process.hrtime.bigint();
  for (let i = 0; i < times; i++) {
    await new Promise((ok, fail) => {
      const c = tcpConnect(server.address().port, '127.0.0.1', () => c.end(payload));
      c.on('close', ok);
      c.on('error', fail);
    });
  }
  server.close();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** The last "… MB/s" figure each finished transfer logged, by kind, from a node's logs. */
function throughputs(node) {
  const out = { encoding: [], receiving: [] };
  for (const f of readdirSync(node.workDir).filter((n) => n.endsWith('.log'))) {
    for (const line of readFileSync(join(node.workDir, f), 'utf8').split('\n')) {
      const m = line.match(/(encoding|receiving) replica \d+\/\d+: (\d+)\/(\d+) blocks, .* ([\d.]+) MB\/s/);
      if (m && m[2] === m[3]) out[m[1]].push(Number(m[4]));
    }
  }
  return out;
}

/** When each replica's encoding ended and when its hoster stored it (ms, the last time
 * each was logged), from the nodes' logs: the hoster's lag behind its encoder. */
function setupEnds(nodes) {
  const encoded = new Map();
  const stored = new Map();
  for (const node of nodes) {
    for (const f of readdirSync(node.workDir).filter((n) => n.endsWith('.log'))) {
      for (const line of readFileSync(join(node.workDir, f), 'utf8').split('\n')) {
        const m = line.match(/^(\S+ \S+) .* (encoded|stored) replica (\d+\/\d+)[: ]/);
        if (m) (m[2] === 'encoded' ? encoded : stored).set(m[3], Date.parse(m[1].replace(' ', 'T')));
      }
    }
  }
  return [...stored].filter(([id]) => encoded.has(id)).map(([id, at]) => at - encoded.get(id));
}

/** A node process's peak resident memory in MiB (VmHWM, Linux). */
function peakRssMib(node) {
  const status = readFileSync(`/proc/${node.proc.pid}/status`, 'utf8');
  return Number(status.match(/VmHWM:\s+(\d+) kB/)[1]) / 1024;
}

const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);

const scratch = mkdtempSync(join(tmpdir(), 'datdot-bench-feed-'));
let net;
try {
  const blocks = Math.ceil((MIB * 1024 * 1024) / BLOCK_BYTES);
  const exported = await writeJsFeed(scratch, blocks, BLOCK_BYTES);
  const bytes = statSync(join(exported, 'blocks')).size - 4 * blocks;
  net = await startNetwork(['bob', 'charlie', 'dave', 'eve', 'ferdie'].slice(0, R + 1));
  const tree = importFeed(net.validator, exported);
  await registerProviders(net, BigInt(Math.max(4 * 64, 2 * MIB * R)) * 1024n * 1024n);
  await publishFeed(net, tree);
  // About 2.5 s a MiB here (R = 3); the bound leaves room for a slower machine.
  const { total, elapsedMs } = await planUntilActive(net, tree, R, Math.max(1_800_000, MIB * 6_000));
  const copy = await plainCopy(bytes, R);
  console.log(`feed: ${bytes} B in ${blocks} blocks of ${BLOCK_BYTES} B; R = ${R}; ${total} replicas`);
  console.log(`publish_plan -> all replicas active: ${(elapsedMs / 1000).toFixed(1)} s`);
  console.log(`plain TCP copy of the same bytes ${R} times over 127.0.0.1: ${copy.toFixed(3)} s`);
  const all = Object.values(net.nodes).map(throughputs);
  console.log(`encoder MB/s (median over replicas): ${median(all.flatMap((t) => t.encoding)).toFixed(2)}`);
  console.log(`hoster MB/s (median over replicas): ${median(all.flatMap((t) => t.receiving)).toFixed(2)}`);
  const lags = setupEnds(Object.values(net.nodes)).sort((a, b) => a - b);
  console.log(`hoster stored its replica after the encoder finished (s, over ${lags.length} replicas): median ${(median(lags) / 1000).toFixed(2)}, max ${((lags.at(-1) ?? NaN) / 1000).toFixed(2)}`);
  const rss = [['validator (publisher)', net.validator], ...Object.entries(net.nodes)]
    .map(([name, node]) => `${name} ${peakRssMib(node).toFixed(0)}`);
  console.log(`peak RSS (MiB) after setup: ${rss.join(', ')}`);

  // Challenges: answered in the block after they were issued, or later, or failed.
  if (CHALLENGE_PERIOD !== 3) {
    await setTiming(net.api, net.sponsor, { challengePeriod: CHALLENGE_PERIOD, offlineGrace: 100 });
  }
  const issuedAt = new Map();
  const delays = [];
  const failed = [];
  const unsub = await net.api.rpc.chain.subscribeNewHeads(async (header) => {
    const n = header.number.toNumber();
    for (const { event } of await net.api.query.system.events.at(header.hash)) {
      if (is('ChallengeIssued')(event)) issuedAt.set(event.data.challenge.toNumber(), n);
      if (is('ChallengePassed')(event) && issuedAt.has(event.data.challenge.toNumber())) {
        delays.push(n - issuedAt.get(event.data.challenge.toNumber()));
      }
      if (is('ChallengeFailed')(event)) failed.push(event.toString());
    }
  });
  await new Promise((r) => setTimeout(r, CHALLENGE_ROUNDS_MS));
  unsub();
  const within = delays.filter((d) => d <= 1).length;
  console.log(`storage challenges issued: ${issuedAt.size}, passed: ${delays.length}, failed: ${failed.length}; answered within one block: ${within} (${(100 * within / Math.max(1, delays.length)).toFixed(0)} %)`);
  console.log(`answer delays (blocks): ${JSON.stringify(delays)}`);
  if (failed.length) console.log(`failed: ${failed.join('; ')}`);

  // Start-up: the provider holding the most, killed and started again, until its RPC
  // answers (the replica store is open by then: it reads each replica's meta only).
  const held = await Promise.all(Object.entries(net.nodes).map(async ([name, node]) =>
    [name, node, (await rpcCall(node, 'datdot_nodeStatus')).store.used]));
  const [name, node, used] = held.sort((a, b) => b[2] - a[2])[0];
  await halt(node, 'SIGKILL');
  const started = Date.now();
  const again = await startNode(node.args, { name, restartOf: node });
  const rpcMs = Date.now() - started;
  const status = await rpcCall(again, 'datdot_nodeStatus');
  console.log(`start-up of ${name} after SIGKILL, holding ${status.stored.length} replicas (${(used / 2 ** 20).toFixed(0)} MiB sealed): RPC answered after ${rpcMs} ms`);
} finally {
  if (net) {
    net.events.stop();
    await net.api.disconnect();
  }
  await stopAll();
  rmSync(scratch, { recursive: true, force: true });
}
