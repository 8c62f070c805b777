// Helpers of the tests that watch setups go wrong on a network of `lib/network.js`: plans
// published until a given provider is drawn, waits until every replica is active (with a
// report of where a stuck one stuck), and what a node leaves on disk and in memory.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { rpcCall, sendAndFinalize } from './harness.js';
import { is, replicaKey } from './network.js';

/** Copies per contract of every plan these tests publish. */
export const REPLICAS = 2;

/** The lines of `node`'s log that `keep` selects (for a failure's message). */
export function logLines(node, keep) {
  return readFileSync(node.logFile, 'utf8').split('\n').filter(keep).slice(-60).join('\n');
}

/**
 * Publishes plans of blocks `0..end` of feed `tree` on `net` until `who` is drawn as `role`
 * ('encoder' or 'hoster', or each of a list of them) of at least one of their replicas
 * (draws are random); returns a filter of those plans' events and the draws that made `who`
 * the (first) `role`.
 */
export async function plansUntilDrawn(net, tree, who, role, { end, maxPlans }) {
  const { events } = net;
  const roles = [role].flat();
  const plans = []; // each plan's event filter
  const ofPlans = (e) => plans.some((ofPlan) => ofPlan(e));
  const byWho = (as = roles[0]) => events.seen.filter((e) => is('ReplicaDrawn')(e) && ofPlans(e)
    && e.data[as].toString() === who);
  for (let i = 0; i < maxPlans && roles.some((as) => byWho(as).length === 0); i++) {
    const { ofPlan, contracts } = await publishPlan(net, tree, end);
    plans.push(ofPlan);
    const drawn = () => new Set(events.seen.filter((e) => is('ReplicaDrawn')(e) && ofPlan(e)).map((e) => replicaKey(e.data)));
    const deadline = Date.now() + 120_000;
    while (drawn().size < contracts * REPLICAS) {
      assert.ok(Date.now() < deadline, 'every replica of the plan drawn within 2 minutes');
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  for (const as of roles) assert.ok(byWho(as).length > 0, `${who} drawn as ${as} within ${maxPlans} plans`);
  return { ofPlans, draws: byWho() };
}

/**
 * Publishes a plan of `REPLICAS` copies of blocks `0..end` of feed `tree` on `net`; returns a
 * filter of its events (by contract) and its number of contracts.
 */
export async function publishPlan(net, tree, end) {
  const { api } = net;
  const { events: evs } = await sendAndFinalize(
    api.tx.datdot.publishPlan(`0x${tree.key}`, [{ start: 0, end }], REPLICAS, 10_000, null, false),
    net.sponsor);
  const published = evs.find(({ event }) => api.events.datdot.PlanPublished.is(event)).event.data;
  const first = published.firstContract.toNumber();
  const contracts = published.contracts.toNumber();
  const ofPlan = (e) => e.data.contract.toNumber() >= first && e.data.contract.toNumber() < first + contracts;
  return { ofPlan, contracts };
}

/** Provider `name` of `net` unregisters, unless it is leaving or ended already. */
export async function leave(net, name) {
  const { api, accounts } = net;
  const provider = await api.query.datdot.providers(accounts[name].address);
  if (provider.isSome && !provider.unwrap().status.isLeaving && !provider.unwrap().status.isEnded) {
    await sendAndFinalize(api.tx.datdot.unregister(), accounts[name]);
  }
}

/**
 * Waits until every replica of the plans `ofPlans` selects is active on `net`, calling
 * `check` with their failed setups meanwhile; returns how many replicas that is. Fails after
 * `waitMs` (inside the test's own timeout) with what each replica still waiting went through
 * and the nodes' warnings, so that a stuck setup says where it stuck.
 */
export async function allActive(net, ofPlans, check, { waitMs = 600_000, others = {} } = {}) {
  const { events } = net;
  const contracts = new Set(events.seen.filter((e) => is('ReplicaDrawn')(e) && ofPlans(e))
    .map((e) => e.data.contract.toNumber()));
  const total = contracts.size * REPLICAS;
  // (Successors of a provider's ended registration have higher replica indices.)
  const active = () => new Set(events.seen.filter((e) => is('ReplicaActive')(e) && ofPlans(e)
    && e.data.replica.toNumber() < REPLICAS).map((e) => replicaKey(e.data)));
  const deadline = Date.now() + waitMs;
  while (active().size < total) {
    check(events.seen.filter((e) => is('SetupFailed')(e) && ofPlans(e)));
    if (Date.now() >= deadline) assert.fail(`all ${total} replicas active within ${waitMs / 1000} s:\n${stuckReport(net, ofPlans, active(), others)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  check(events.seen.filter((e) => is('SetupFailed')(e) && ofPlans(e)));
  return total;
}

/**
 * The events of the replicas of `ofPlans` not in `active`, and the latest warnings of every
 * node of `net` and of `others` (nodes outside it, by name) and their lines about those
 * replicas.
 */
function stuckReport(net, ofPlans, active, others) {
  const waiting = net.events.seen.filter((e) => e.section === 'datdot' && e.data.contract !== undefined
    && ofPlans(e) && !active.has(replicaKey(e.data)));
  const keys = [...new Set(waiting.map((e) => replicaKey(e.data)))];
  const telling = (l) => / (WARN|ERROR) /.test(l) || keys.some((k) => l.includes(`replica ${k}`));
  const nodes = Object.entries({ ...net.nodes, ...others }).map(([name, node]) =>
    `${name}:\n${logLines(node, telling).split('\n').slice(-30).join('\n')}`);
  return [...waiting.map((e) => `${e.method} ${e.data.toString()}`), ...nodes].join('\n');
}

/**
 * Paths under `dir` that unfinished work leaves: a write that did not finish (`.tmp-…`), and
 * a replica's stream being encoded or received (under `.encoding/` or `.receiving/`).
 */
function temporaries(dir) {
  return readdirSync(dir, { recursive: true }).filter((p) => {
    const parts = p.split('/');
    return parts.at(-1).startsWith('.tmp-') || ['.encoding', '.receiving'].includes(parts.at(-2));
  });
}

/**
 * `temporaries(node.workDir)` once the node has had `blocks` best blocks past chain block
 * `from` to clean up (it deletes a stream no draw has needed for 3 best blocks in a row),
 * or as soon as there are none.
 */
export async function temporariesAfter(node, from, blocks = 6) {
  for (;;) {
    const left = temporaries(node.workDir);
    const { number } = await rpcCall(node, 'chain_getHeader');
    if (left.length === 0 || Number(number) >= from + blocks) return left;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A node process's peak resident memory in MiB (VmHWM, Linux). */
export function peakRssMib(node) {
  const status = readFileSync(`/proc/${node.proc.pid}/status`, 'utf8');
  return Number(status.match(/VmHWM:\s+(\d+) kB/)[1]) / 1024;
}
