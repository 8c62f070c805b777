#!/usr/bin/env node
// Downloads a hosted feed from the hosters the chain lists, the publisher not needed:
//
//   node scripts/fetch-feed.js <node ws url> <plan id> <out file>
//
// It asks the chain for the plan's feed and, through `DatdotApi_plan_status`, for the
// endpoints of the hosters of its active replicas; then a stock npm hypercore reader (the
// version pinned in primitives/fixtures) replicates the whole feed from them, verifying
// every block against the feed's signed tree, and the blocks are written back to back to
// <out file>. Needs `scripts/setup.sh` (the npm packages of e2e/ and primitives/fixtures).
'use strict'
const fs = require('fs')
const os = require('os')
const net = require('net')
const path = require('path')
const root = path.join(__dirname, '..')
const fromE2e = require('module').createRequire(path.join(root, 'e2e', 'package.json'))
const fromFixtures = require('module').createRequire(path.join(root, 'primitives', 'fixtures', 'package.json'))
const { ApiPromise, WsProvider } = fromE2e('@polkadot/api')
const Hypercore = fromFixtures('hypercore')

// The plan's feed key and the endpoints of its active replicas' hosters, from the chain.
async function hostersOf (wsUrl, planId) {
  const api = await ApiPromise.create({ provider: new WsProvider(wsUrl), noInitWarn: true })
  try {
    const plan = await api.query.datdot.plans(planId)
    if (plan.isNone) throw new Error(`plan ${planId} does not exist on ${wsUrl}`)
    // A large plan's status comes in pages of at most 256 contracts.
    const endpoints = new Set()
    for (let from = 0; from < plan.unwrap().contracts.toNumber(); from += 256) {
      const status = (await api.call.datdotApi.planStatus(planId, from, 256)).unwrap()
      for (const s of status) {
        if (s.state.isSome && s.state.unwrap().isActive && s.endpoint.isSome) {
          endpoints.add(Buffer.from(s.endpoint.unwrap()).toString('utf8'))
        }
      }
    }
    return { key: Buffer.from(plan.unwrap().feed), endpoints: [...endpoints] }
  } finally {
    await api.disconnect()
  }
}

async function main () {
  const [wsUrl, planId, outFile] = process.argv.slice(2)
  if (!wsUrl || planId === undefined || !outFile) {
    console.error('usage: node scripts/fetch-feed.js <node ws url> <plan id> <out file>')
    process.exit(2)
  }
  const { key, endpoints } = await hostersOf(wsUrl, Number(planId))
  if (endpoints.length === 0) throw new Error(`no hoster of plan ${planId} has registered an endpoint (datdot.setEndpoint)`)
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'datdot-fetch-'))
  const core = new Hypercore(storage, key)
  try {
    await core.ready()
    const sockets = endpoints.map((endpoint) => {
      const at = endpoint.lastIndexOf(':')
      const socket = net.connect(Number(endpoint.slice(at + 1)), endpoint.slice(0, at).replace(/^\[|\]$/g, ''))
      socket.on('error', (e) => console.error(`${endpoint}: ${e.message}`))
      const stream = core.replicate(true)
      stream.on('error', () => {})
      socket.pipe(stream).pipe(socket)
      return socket
    })
    const started = Date.now()
    if (!(await core.update({ wait: true })) && core.length === 0) throw new Error('no hoster upgraded us to the feed')
    await core.download({ start: 0, end: core.length }).done()
    const out = fs.openSync(outFile, 'w')
    for (let i = 0; i < core.length; i++) fs.writeSync(out, await core.get(i))
    fs.closeSync(out)
    console.error(`feed ${key.toString('hex')}: ${core.length} blocks, ${core.byteLength} bytes from ${endpoints.length} hosters in ${Date.now() - started} ms, written to ${outFile}`)
    for (const socket of sockets) socket.destroy()
  } finally {
    await core.close()
    fs.rmSync(storage, { recursive: true, force: true })
  }
}

main().catch((e) => { console.error(`fetch-feed: ${e.message}`); process.exit(1) })
