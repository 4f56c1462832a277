// punchlab's libp2p peer (js-libp2p over TCP, circuit relay v2, DCUtR).
//
//   A: node --import ./preload.mjs peer.mjs --side a --relay RELAY_MA [--announce MA]... [--wait-ms N]
//   B: node --import ./preload.mjs peer.mjs --side b --relay RELAY_MA --peer A_ID [--announce MA]...
//
// A listens on TCP and reserves a slot on the relay; once the relay holds it, A prints
// {"event":"ready","peer_id":ID}; B prints the same once started. B dials A through the relay (RELAY_MA/p2p-circuit/p2p/A_ID);
// A, the side with the inbound relayed connection, starts DCUtR (first a direct dial to B's
// public addresses, then the hole punch: both dial the addresses the other sent). B waits up to
// --direct-wait-ms for a direct (non-circuit) connection to A, then verifies a payload both ways
// over the connection it has: B sends a nonce, A echoes it with one of its own, B echoes A's.
// Each side prints one result line, {"event":"result","outcome":"direct"|"relayed"|"failed",...}:
// direct when the verified exchange ran over a direct connection, relayed over the circuit.
// Connection events go to stderr, so the cell's log shows what DCUtR did.
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'

const PROTOCOL = '/punchlab/verify/1.0.0'
const started = Date.now()
const { values: opt } = parseArgs({
  options: {
    side: { type: 'string' },
    relay: { type: 'string' },
    peer: { type: 'string' },
    port: { type: 'string', default: '4001' },
    announce: { type: 'string', multiple: true, default: [] },
    'announce-ip': { type: 'string', multiple: true, default: [] },
    'deadline-ms': { type: 'string', default: '15000' },
    'direct-wait-ms': { type: 'string', default: '10000' },
    'wait-ms': { type: 'string', default: '60000' }
  }
})
if (!['a', 'b'].includes(opt.side) || !opt.relay || (opt.side === 'b' && !opt.peer)) {
  console.error('usage: peer.mjs --side a|b --relay MULTIADDR [--peer ID (b)] [--port N] ' +
                '[--announce MULTIADDR]... [--announce-ip IP]... [--deadline-ms N] [--direct-wait-ms N] [--wait-ms N]')
  process.exit(2)
}
const deadlineMs = Number(opt['deadline-ms'])
const directWaitMs = Number(opt['direct-wait-ms'])
const waitMs = Number(opt['wait-ms'])
const relayed = conn => conn.remoteAddr.toString().includes('/p2p-circuit')
const log = msg => console.error(`${((Date.now() - started) / 1000).toFixed(3)} ${msg}`)

let node
let done = false
// time to connect counts from the attempt's start: B's dial through the relay, A's first sight
// of it (not node's start, which takes seconds of CPU when many cells start at once)
let attemptStart = Date.now()
// the result line, once
function report (outcome, fields) {
  if (done) return false
  done = true
  console.log(JSON.stringify({
    event: 'result', outcome, technique: 'tcp', time_to_connect_ms: Date.now() - attemptStart, ...fields
  }))
  return true
}
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
async function stop () {
  // bounded: a stop that hangs must not keep the cell waiting for its deadline
  await Promise.race([node?.stop(), sleep(1000)])
  process.exit(0)
}
async function finish (outcome, fields) {
  if (report(outcome, fields)) await stop()
}

// At the deadline: no verified exchange over any connection. B counts it from its start (the
// harness from B's readiness, just after); A from B's relayed connection, since A cannot know
// when B starts (later on a loaded machine), and until then for --wait-ms.
let timer
function deadline (ms, what) {
  clearTimeout(timer)
  timer = setTimeout(() => {
    finish('failed', { phase: what, reason: `no verified exchange within ${ms} ms` })
  }, ms)
}
deadline(opt.side === 'a' ? waitMs : deadlineMs, opt.side === 'a' ? 'endpoint-exchange' : 'probing')

// --announce-ip IP: /ip4/IP/tcp/PORT or /ip6/IP/tcp/PORT, so that one engine file serves every
// address family; we listen on the families announced (IPv4 when none is)
const announce = [...opt.announce,
  ...opt['announce-ip'].map(ip => `/${ip.includes(':') ? 'ip6' : 'ip4'}/${ip}/tcp/${opt.port}`)]
const families = new Set(announce.map(a => a.split('/')[1]))
const listen = [
  ...(families.has('ip4') || !families.has('ip6') ? [`/ip4/0.0.0.0/tcp/${opt.port}`] : []),
  ...(families.has('ip6') ? [`/ip6/::/tcp/${opt.port}`] : [])]
node = await createLibp2p({
  addresses: {
    listen: [...listen, ...(opt.side === 'a' ? [`${opt.relay}/p2p-circuit`] : [])],
    // js-libp2p cannot learn its public TCP address (identify ignores observed TCP addresses:
    // its dials do not come from the listening port), so the engine file announces the one
    // the lab gives this peer, and DCUtR has an address to offer
    appendAnnounce: announce
  },
  transports: [tcp(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), dcutr: dcutr() }
})
let peerSeen = false
node.addEventListener('connection:open', e => {
  log(`connection open ${e.detail.direction} ${e.detail.remoteAddr}`)
  if (opt.side === 'a' && relayed(e.detail) && !peerSeen) {
    peerSeen = true
    attemptStart = Date.now()
    deadline(deadlineMs, 'probing')
  }
})
node.addEventListener('connection:close', e => {
  log(`connection close ${e.detail.direction} ${e.detail.remoteAddr}`)
})

const nonce = () => randomBytes(16).toString('hex')
const text = buf => new TextDecoder().decode(buf.subarray())
const bytes = s => new TextEncoder().encode(s)

if (opt.side === 'a') {
  await node.handle(PROTOCOL, async (stream, conn) => {
    try {
      const lp = lpStream(stream)
      const mine = nonce()
      const theirs = text(await lp.read())
      await lp.write(bytes(`${theirs} ${mine}`))
      const back = text(await lp.read())
      if (back !== mine) {
        return finish('failed', { phase: 'probing', reason: `peer B echoed "${back}", expected "${mine}"` })
      }
      // verified both ways: say so first, then tell B, which stops only after this "ok" (or
      // its own timeout), so that B's stop cannot cut A off before its result is out
      report(relayed(conn) ? 'relayed' : 'direct', { peer: conn.remoteAddr.toString() })
      await lp.write(bytes('ok'))
      // the connection closes when B stops: a clean close (FIN) keeps the flow in conntrack
      // for the lab's attestation; bounded
      for (let i = 0; i < 40 && conn.status === 'open'; i++) await sleep(50)
      await stop()
    } catch (err) {
      // a stream that breaks says nothing about the path: the deadline decides
      log(`exchange over ${conn.remoteAddr}: ${err.message}`)
    }
  }, { runOnLimitedConnection: true })

  // ready once the relay holds our reservation (a /p2p-circuit address of our own)
  const circuit = () => node.getMultiaddrs().find(ma => ma.toString().includes('/p2p-circuit'))
  while (!circuit()) {
    await new Promise(resolve => node.addEventListener('self:peer:update', resolve, { once: true }))
  }
  console.log(JSON.stringify({ event: 'ready', peer_id: node.peerId.toString(), circuit: circuit().toString() }))
} else {
  // started: the harness counts its deadline from here (node's start costs seconds of CPU on
  // a loaded machine)
  console.log(JSON.stringify({ event: 'ready', peer_id: node.peerId.toString() }))
  const peer = peerIdFromString(opt.peer)
  attemptStart = Date.now()
  try {
    await node.dial(multiaddr(`${opt.relay}/p2p-circuit/p2p/${opt.peer}`))
  } catch (err) {
    await finish('failed', { phase: 'registration', reason: `dial through the relay: ${err.message}` })
  }
  // DCUtR runs on A's side of the relayed connection: wait for the direct connection it makes
  const direct = () => node.getConnections(peer).find(c => !relayed(c) && c.status === 'open')
  const any = () => direct() ?? node.getConnections(peer).find(c => c.status === 'open')
  for (const until = Date.now() + directWaitMs; !direct() && Date.now() < until;) {
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const conn = any()
  if (!conn) {
    await finish('failed', { phase: 'probing', reason: 'no connection to peer A left' })
  }
  try {
    const stream = await conn.newStream(PROTOCOL, { runOnLimitedConnection: true })
    const lp = lpStream(stream)
    const mine = nonce()
    await lp.write(bytes(mine))
    const [echo, theirs] = text(await lp.read()).split(' ')
    if (echo !== mine) {
      await finish('failed', { phase: 'probing', reason: `peer A echoed "${echo}", expected "${mine}"` })
    }
    await lp.write(bytes(theirs))
    // A's "ok": it has its result; B's own verification is complete either way
    await lp.read({ signal: AbortSignal.timeout(3000) }).catch(err => log(`no ok from A: ${err.message}`))
    await finish(relayed(conn) ? 'relayed' : 'direct', { peer: conn.remoteAddr.toString() })
  } catch (err) {
    await finish('failed', { phase: 'probing', reason: `exchange over ${conn.remoteAddr}: ${err.message}` })
  }
}
