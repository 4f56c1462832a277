// punchlab's libp2p relay: a circuit relay v2 server (with identify, which DCUtR needs) on the
// lab's server node. Prints one JSON line once it listens: {"event":"listening","multiaddr":
// "/ip4/ADDR/tcp/PORT/p2p/ID"} (/ip6/ for an IPv6 ADDR), which the peers get through the harness's value capture.
//
//   node --import ./preload.mjs relay.mjs --listen ADDR --port PORT
import { parseArgs } from 'node:util'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'

const { values: opt } = parseArgs({
  options: {
    listen: { type: 'string' },
    port: { type: 'string', default: '4001' }
  }
})
if (!opt.listen) {
  console.error('usage: relay.mjs --listen ADDR [--port PORT]')
  process.exit(2)
}

// an IPv6 address (a family 6 cell's server) makes an /ip6/ multiaddr
const ip = opt.listen.includes(':') ? 'ip6' : 'ip4'
const node = await createLibp2p({
  addresses: {
    listen: [`/${ip}/${opt.listen}/tcp/${opt.port}`],
    // a public address counts only once verified (autonat); the relay is public by the lab's
    // construction, so it announces its own address, which reservations hand to the peers
    appendAnnounce: [`/${ip}/${opt.listen}/tcp/${opt.port}`]
  },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    // relay v2's default limits (2 minutes, 128 KiB per relayed connection) are far above
    // what one cell sends; a cell has two peers, one reservation
    relay: circuitRelayServer()
  }
})

const ma = node.getMultiaddrs().find(a => a.toString().startsWith(`/${ip}/${opt.listen}/tcp/`))
console.log(JSON.stringify({ event: 'listening', multiaddr: ma.toString() }))

// the harness stops the relay with SIGTERM when the cell is over
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { node.stop().finally(() => process.exit(0)) })
}
