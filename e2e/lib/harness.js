// Starts and stops real datdot-node processes on 127.0.0.1 for the end-to-end tests.
//
// Every node runs in its own process group and is killed (SIGTERM, then SIGKILL) when the
// test's `stopAll` runs, when this process exits, or on SIGINT/SIGTERM, so a failing test
// leaves no node behind.

import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { ed25519PairFromSeed, ed25519Sign, base58Encode, decodeAddress } from '@polkadot/util-crypto';
import { stringToU8a, u8aConcat, u8aToHex } from '@polkadot/util';

const here = dirname(fileURLToPath(import.meta.url));
const targetDir = process.env.CARGO_TARGET_DIR || join(process.env.HOME, '.cache', 'datdot-target');

/** The node binary under test: $DATDOT_NODE or the release build in the cargo target dir. */
export const NODE_BIN = process.env.DATDOT_NODE || join(targetDir, 'release', 'datdot-node');

/**
 * The dev chain's spec in raw form, written once per test process. A node started on it
 * (`--chain <file>`) is on the same chain as `--chain dev` (same genesis, id and data
 * directory) but skips building the genesis state from the runtime: about 2 CPU-seconds of
 * start-up instead of 6, which counts when the test files' networks start side by side on
 * two cores.
 */
let devSpec = null;
export function devChainSpec() {
  if (!devSpec) {
    const dir = mkdtempSync(join(tmpdir(), 'datdot-spec-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    let spec;
    try {
      spec = execFileSync(NODE_BIN, ['build-spec', '--chain', 'dev', '--raw'], { maxBuffer: 64 << 20 });
    } catch (e) {
      throw new Error(`${NODE_BIN} build-spec --chain dev --raw failed: ${e.stderr?.toString().trim() ?? e.message}`);
    }
    writeFileSync(join(dir, 'dev-raw.json'), spec);
    devSpec = join(dir, 'dev-raw.json');
  }
  return devSpec;
}

/** What `--dev` means for a validator (Alice authoring alone, any RPC origin, no transaction bans), on `devChainSpec()`. */
export const devValidatorArgs = () =>
  ['--chain', devChainSpec(), '--alice', '--force-authoring', '--rpc-cors', 'all', '--tx-ban-seconds', '0'];

const running = new Set();
/** Nodes stopped by `halt` and not restarted (yet): their data stays until `stopAll`. */
const halted = new Set();

// Ports are handed out below the kernel's ephemeral range (32768 and up), never twice by
// one process, from a block of ports this process claims for itself: the e2e files run
// side by side, and a port one file handed out but its node has not bound yet looks free
// to the others. A process claims a block by listening on its first port (exclusively, and
// for as long as it lives; the kernel frees it however the process ends, SIGKILL too) and
// hands out the ports after it. Asking the kernel for port 0 instead gave the same port
// twice (a node's p2p and Prometheus ports: the node ran without metrics), and a port freed
// for a node could meanwhile become the source port of any outgoing connection.
const PORTS = { low: 10_000, high: 32_000, block: 500 };
const handedOut = new Set();
const portBlock = await claimPortBlock();
let nextPort = portBlock + 1;

/** The first port of a block of `PORTS.block` ports no other live process claimed; held until exit. */
async function claimPortBlock() {
  const blocks = (PORTS.high - PORTS.low) / PORTS.block;
  const first = Math.floor(Math.random() * blocks);
  for (let i = 0; i < blocks; i++) {
    const port = PORTS.low + ((first + i) % blocks) * PORTS.block;
    const claim = createServer();
    const held = await new Promise((ok) => {
      claim.once('error', () => ok(false));
      claim.listen({ host: '127.0.0.1', port, exclusive: true }, () => ok(true));
    });
    if (held) {
      claim.unref(); // holds the block without keeping the process alive
      return port;
    }
  }
  throw new Error(`no free block of ${PORTS.block} ports in ${PORTS.low}..${PORTS.high} on 127.0.0.1`);
}

/** Whether a TCP server can listen on 127.0.0.1:`port` right now. */
function canListen(port) {
  return new Promise((ok) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => ok(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
  });
}

/** A TCP port on 127.0.0.1 that is free right now and that this process has not handed out. */
export async function freePort() {
  for (let tried = 0; tried < PORTS.block - 1; tried++) {
    const port = nextPort;
    nextPort = port + 1 >= portBlock + PORTS.block ? portBlock + 1 : port + 1;
    if (!handedOut.has(port) && await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP port in ${portBlock + 1}..${portBlock + PORTS.block - 1} on 127.0.0.1`);
}

/**
 * Starts `datdot-node` with `args` plus loopback-only ports, and waits until its RPC answers.
 * Returns { rpcPort, p2pPort, prometheusPort, hypercorePort, wsUrl, logFile, dataDir, proc, stop() }.
 * `restartOf`: a node stopped with `halt`, restarted on its data, ports, arguments and environment.
 * `env`: variables added to the node's environment.
 */
export async function startNode(args, { name = 'node', readyTimeoutMs = 120_000, restartOf = null, env = {} } = {}) {
  const [rpcPort, p2pPort, prometheusPort, hypercorePort] = restartOf
    ? [restartOf.rpcPort, restartOf.p2pPort, restartOf.prometheusPort, restartOf.hypercorePort]
    : [await freePort(), await freePort(), await freePort(), await freePort()];
  const workDir = restartOf ? restartOf.workDir : mkdtempSync(join(tmpdir(), `datdot-${name}-`));
  const logFile = join(workDir, restartOf ? `node-${Date.now()}.log` : 'node.log');
  const fullArgs = [
    ...args,
    '--base-path', join(workDir, 'data'),
    '--rpc-port', String(rpcPort),
    '--listen-addr', `/ip4/127.0.0.1/tcp/${p2pPort}`,
    '--prometheus-port', String(prometheusPort),
    '--hypercore-listen', `127.0.0.1:${hypercorePort}`,
    '--no-mdns',
    '--no-telemetry',
    // Level and target on each line: a test's report picks out a node's WARN and ERROR lines.
    '--detailed-log-output',
    '--name', name,
  ];
  const log = createWriteStream(logFile);
  const nodeEnv = restartOf ? restartOf.env : env;
  const proc = spawn(NODE_BIN, fullArgs, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...nodeEnv } });
  proc.stdout.pipe(log);
  proc.stderr.pipe(log);
  const node = {
    name, args, env: nodeEnv, rpcPort, p2pPort, prometheusPort, hypercorePort, logFile, proc, workDir, dataDir: join(workDir, 'data'),
    wsUrl: `ws://127.0.0.1:${rpcPort}`,
    exited: new Promise((ok) => proc.on('exit', (code, signal) => ok({ code, signal }))),
    async stop() { await killNode(node); },
  };
  running.add(node);
  if (restartOf) halted.delete(restartOf);
  await waitForRpc(node, readyTimeoutMs);
  return node;
}

async function waitForRpc(node, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  node.exited.then((e) => { exited = e; });
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(`${node.name} exited (${JSON.stringify(exited)}) before its RPC answered:\n${logTail(node)}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${node.rpcPort}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'system_health', params: [] }),
      });
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${node.name}: RPC on port ${node.rpcPort} did not answer within ${timeoutMs} ms:\n${logTail(node)}`);
}

/** Calls JSON-RPC `method` on `node` over HTTP; resolves with the result. */
export async function rpcCall(node, method, params = []) {
  const res = await fetch(`http://127.0.0.1:${node.rpcPort}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 1, jsonrpc: '2.0', method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

/** The sum of `node`'s Prometheus samples of metric `name` whose labels include `label`
 * (0 if it has none yet). */
export async function metric(node, name, label = '') {
  const text = await (await fetch(`http://127.0.0.1:${node.prometheusPort}/metrics`)).text();
  return text.split('\n')
    .filter((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(label))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** The last lines of a node's log, for error messages (the log is deleted with the node). */
export function logTail(node, lines = 30) {
  try {
    return readFileSync(node.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(no log: ${e.message})`;
  }
}

async function killNode(node) {
  if (!running.has(node)) return;
  running.delete(node);
  if (node.proc.exitCode === null && node.proc.signalCode === null) {
    try { process.kill(-node.proc.pid, 'SIGTERM'); } catch { /* already gone */ }
    const timer = setTimeout(() => { try { process.kill(-node.proc.pid, 'SIGKILL'); } catch { } }, 10_000);
    await node.exited;
    clearTimeout(timer);
  }
  if (!process.env.DATDOT_KEEP_LOGS) rmSync(node.workDir, { recursive: true, force: true });
}

/**
 * Stops `node` with `signal` (SIGKILL: no clean shutdown) and keeps its data for a restart
 * (`startNode(…, { restartOf })`, which removes the directory when it stops; `stopAll`
 * removes it if the node was never restarted). Resolves with
 * the exit { code, signal }.
 */
export async function halt(node, signal = 'SIGKILL') {
  running.delete(node);
  halted.add(node);
  try { process.kill(-node.proc.pid, signal); } catch { /* already gone */ }
  return node.exited;
}

/** Stops every node this process started, and removes the data of those halted and never restarted. */
export async function stopAll() {
  await Promise.all([...running].map(killNode));
  for (const node of halted) {
    // One halted with SIGTERM may still be stopping (a test failed meanwhile): no waiting on it.
    if (node.proc.exitCode === null && node.proc.signalCode === null) {
      try { process.kill(-node.proc.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    await node.exited;
    if (!process.env.DATDOT_KEEP_LOGS) rmSync(node.workDir, { recursive: true, force: true });
  }
  halted.clear();
}

function killAllNow() {
  for (const node of [...running, ...halted]) {
    try { process.kill(-node.proc.pid, 'SIGKILL'); } catch { }
  }
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killAllNow(); process.exit(130); });
}

/**
 * Connects @polkadot/api with no custom types, and records every warning or error the
 * library logs meanwhile (an unknown type or signed extension shows up there).
 */
export async function connect(node) {
  const logged = [];
  const orig = { warn: console.warn, error: console.error };
  console.warn = (...a) => { logged.push(a.join(' ')); };
  console.error = (...a) => { logged.push(a.join(' ')); };
  try {
    const api = await ApiPromise.create({ provider: new WsProvider(node.wsUrl), noInitWarn: false, throwOnConnect: true });
    await api.isReady;
    return { api, logged };
  } finally {
    console.warn = orig.warn;
    console.error = orig.error;
  }
}

/**
 * Signs and sends `tx`, resolving with { blockHash, events } once its block is finalized.
 * `nonce` (default: the next one the node knows of) lets a caller send several at once.
 */
export function sendAndFinalize(tx, signer, { timeoutMs = 120_000, nonce = -1 } = {}) {
  return new Promise((ok, fail) => {
    let unsub = null;
    const timer = setTimeout(() => { if (unsub) unsub(); fail(new Error(`not finalized within ${timeoutMs} ms`)); }, timeoutMs);
    tx.signAndSend(signer, { nonce }, (result) => {
      if (result.dispatchError) {
        clearTimeout(timer);
        if (unsub) unsub();
        fail(Object.assign(new Error(`dispatch error: ${result.dispatchError.toString()}`), { result }));
      } else if (result.status.isFinalized) {
        clearTimeout(timer);
        if (unsub) unsub();
        ok({ blockHash: result.status.asFinalized, events: result.events });
      } else if (result.status.isInvalid || result.status.isDropped || result.status.isUsurped) {
        clearTimeout(timer);
        if (unsub) unsub();
        fail(new Error(`transaction ${result.status.type}`));
      }
    }).then((u) => { unsub = u; }, (e) => { clearTimeout(timer); fail(e); });
  });
}

export const repoRoot = resolve(here, '..', '..');

/**
 * Records every event of every new best block from now on. `waitFor(pred, ms)` resolves
 * with the first recorded event (the `event` of a record) that satisfies `pred`, waiting up
 * to `ms` for it; `stop()` ends the subscription.
 */
export async function recordEvents(api) {
  const seen = [];
  const waiters = [];
  const unsub = await api.query.system.events((records) => {
    for (const { event } of records) {
      seen.push(event);
      for (const w of waiters.slice()) {
        if (w.pred(event)) { waiters.splice(waiters.indexOf(w), 1); clearTimeout(w.timer); w.ok(event); }
      }
    }
  });
  return {
    seen,
    waitFor(pred, ms = 120_000) {
      const found = seen.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((ok, fail) => {
        const w = { pred, ok };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          fail(new Error(`no matching event within ${ms} ms`));
        }, ms);
        waiters.push(w);
      });
    },
    stop: () => unsub(),
  };
}

/** The `section.Name` of the module error a failed transaction carried. */
export function moduleError(api, err) {
  const dispatchError = err.result?.dispatchError;
  if (!dispatchError?.isModule) throw new Error(`expected a module error, got ${err.message}`);
  const meta = api.registry.findMetaError(dispatchError.asModule);
  return `${meta.section}.${meta.name}`;
}

/**
 * Dispatches `call` with `who`'s origin through `sudo.sudoAs`, signed by the sudo key, and
 * returns the `section.Name` of the module error it failed with (`null` if it succeeded).
 * A test's own transaction signed by a provider account races that provider's node, which
 * signs duties with the same account (and so the same nonces); this does not.
 */
export async function errorAs(api, sudo, who, call, { nonce = -1 } = {}) {
  const { events } = await sendAndFinalize(api.tx.sudo.sudoAs(who, call), sudo, { nonce });
  const done = events.find(({ event }) => api.events.sudo.SudoAsDone.is(event));
  if (!done) throw new Error('no SudoAsDone event');
  const result = done.event.data[0];
  if (result.isOk) return null;
  const error = result.asErr;
  if (!error.isModule) throw new Error(`expected a module error, got ${error.toString()}`);
  const meta = api.registry.findMetaError(error.asModule);
  return `${meta.section}.${meta.name}`;
}

/** A performance period long enough that no performance challenge comes during a test. */
/**
 * A valid sealing key (RSA-2048 modulus) for providers registered without a node: the first
 * of the test keys in primitives/src/testdata.rs. A provider with a node registers the key
 * its node generated (`sealingKey` in `datdot_nodeStatus`).
 */
export const TEST_SEALING_KEY =
  '0xd6f24705e88cf8256b4c38ba7a89c93626400537601f27579dfa12dbedec62f0606256b62ba10fe765f08a3e87a1191dbc9f03be6197c3e129b62242'
  + '423def38ca67faf8a693dcbfd547deda959d1395eb36cddca83715d0efda56ddf9de62847f85ed3372b3625d12de39949f098502241f2062d4cd933b'
  + 'f11e2e8a505ee12da78eee23ac995b4d2fc7c261d28c86c37ba2db1a9054647b2d3663b1efcdfee8b6337203148892dc25ec1a2e6be2fa17d78a865a'
  + 'cea95b3cf735813503dd09eba82648838a89625d8742ed0ceb4b772b32f05412d7b184b627d147ea6717898307f0639b75414c1be35a2341c636fc33'
  + '569977d778418f60ef82377c66269853';

export const PERFORMANCE_OFF = 1_000_000;

/** A node's libp2p identity from a fixed `--node-key`: the key, PeerId bytes and base58. */
export function identity(n) {
  const seed = new Uint8Array(32).fill(n);
  const peer = new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...ed25519PairFromSeed(seed).publicKey]);
  return { nodeKey: u8aToHex(seed).slice(2), peerId: u8aToHex(peer), base58: base58Encode(peer) };
}

/** Node `n`'s libp2p key signing that it serves `address`, as `register` checks it. */
export function peerSignature(n, address) {
  const pair = ed25519PairFromSeed(new Uint8Array(32).fill(n));
  return u8aToHex(ed25519Sign(u8aConcat(stringToU8a('datdot/peer-id-of/'), decodeAddress(address)), pair));
}

/** A duty key of its own for a provider registered without a node (`//<n>//duty`). */
export const dutyPair = (n) => new Keyring({ type: 'sr25519' }).addFromUri(`//${n}//duty`);
export const dutyKeyOf = (n) => dutyPair(n).address;

/** Duty key `pair`'s consent to act for the provider `address` (`register`, `set_duty_key`). */
export function dutyConsent(pair, address) {
  return { Sr25519: u8aToHex(pair.sign(u8aConcat(stringToU8a('datdot/duty-key-of/'), decodeAddress(address)))) };
}

/**
 * `register` of `who` (a keyring pair) for node identity `n` without a node: the node's
 * signature computed here, `dutyKey` (an sr25519 pair, default `dutyPair(n)`) and its
 * consent (or `dutySignature`), `sealingKey`, `capacity`.
 */
export function registerTx(api, who, n,
  { sealingKey = TEST_SEALING_KEY, capacity, region = null, dutyKey = dutyPair(n), dutySignature } = {}) {
  return api.tx.datdot.register(identity(n).peerId, peerSignature(n, who.address), dutyKey.address,
    dutySignature ?? dutyConsent(dutyKey, who.address), sealingKey, capacity, region);
}

/**
 * Sets the chain's challenge period, offline grace, performance period and setup time
 * (the runtime's `SetupBlocks` unless `timing.setupBlocks` is given) through `sudo`
 * (the dev chain's sudo key is Alice), so that tests see challenges every few blocks; fails
 * unless the chain reports the new timing. Performance challenges are off unless
 * `timing.performancePeriod` is given: attestors read hosters' endpoints, which a test
 * registers only when it checks serving.
 */
export async function setTiming(api, sudo, timing) {
  timing = { performancePeriod: PERFORMANCE_OFF, setupBlocks: api.consts.datdot.setupBlocks, ...timing };
  const { events } = await sendAndFinalize(api.tx.sudo.sudo(api.tx.datdot.setTiming(timing)), sudo);
  const sudid = events.find(({ event }) => event.section === 'sudo' && event.method === 'Sudid');
  if (!sudid || sudid.event.data.sudoResult.isErr) throw new Error(`set_timing failed: ${sudid?.event.data.toString()}`);
  const set = events.find(({ event }) => event.section === 'datdot' && event.method === 'TimingSet');
  if (!set) throw new Error('set_timing: no TimingSet event');
  return set.event.data.timing;
}
