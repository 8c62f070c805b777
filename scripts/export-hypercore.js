#!/usr/bin/env node
// Exports a hypercore written by the JS reference implementation (npm hypercore, the
// version pinned in primitives/fixtures) for `datdot-node feed import`:
//
//   node scripts/export-hypercore.js <hypercore storage dir> <out dir>
//   datdot-node feed import <out dir> --base-path <node's base path> --chain <chain>
//
// <out dir> gets `tree.json` (key, manifest and signed tree in datdot's JSON format,
// docs/hypercore-json.md: `datdot-node hypercore verify` checks it and its fields are
// `publish_feed`'s arguments) and `blocks` (each block as a u32 little-endian length and
// its bytes). The node re-checks everything on import: the blocks must rebuild the
// signed roots and the signature must verify.
'use strict'
const fs = require('fs')
const path = require('path')
const fixtures = path.join(__dirname, '..', 'primitives', 'fixtures')
const requireFixtures = require('module').createRequire(path.join(fixtures, 'package.json'))
const Hypercore = requireFixtures('hypercore')
const Verifier = requireFixtures('hypercore/lib/verifier')
const { hex, proofToJson } = require(path.join(fixtures, 'common.js'))

// Writes the export of the open, non-empty `core` into `outDir`.
async function exportHypercore (core, outDir) {
  if (core.length === 0) throw new Error('the hypercore is empty: nothing to export')
  const p = await core.proof({ upgrade: { start: 0, length: core.length } })
  const tree = {
    length: core.length,
    fork: p.fork,
    roots: proofToJson(p).upgrade.nodes,
    signature: hex(p.upgrade.signature)
  }
  const file = { key: hex(core.key), manifest: hex(Verifier.encodeManifest(core.manifest)), tree }
  const blocks = []
  for (let i = 0; i < core.length; i++) {
    const block = await core.get(i)
    const len = Buffer.alloc(4)
    len.writeUInt32LE(block.length)
    blocks.push(len, block)
  }
  fs.mkdirSync(outDir, { recursive: true })
  fs.writeFileSync(path.join(outDir, 'tree.json'), JSON.stringify(file, null, 2))
  fs.writeFileSync(path.join(outDir, 'blocks'), Buffer.concat(blocks))
  return file
}

async function main () {
  const [storage, outDir] = process.argv.slice(2)
  if (!storage || !outDir) {
    console.error('usage: node scripts/export-hypercore.js <hypercore storage dir> <out dir>')
    process.exit(2)
  }
  const core = new Hypercore(storage, { writable: false })
  await core.ready()
  const file = await exportHypercore(core, outDir)
  console.error(`exported feed ${file.key}: ${core.length} blocks, ${core.byteLength} bytes, to ${outDir}`)
  await core.close()
}

if (require.main === module) main().catch((e) => { console.error(e.message); process.exit(1) })

module.exports = { exportHypercore, Hypercore }
