// Loaded before relay.mjs and peer.mjs (node --import): what js-libp2p 3.x needs from a newer
// Node than Debian 12's 18.x, and the lab's internet made public for libp2p.
import { register } from 'node:module'

// Node 22 has Promise.withResolvers and Node 19 a global CustomEvent; libp2p 3.x's
// dependencies (it-queue, main-event) use both. Node 18 and 20 lack one or the other.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
if (typeof globalThis.CustomEvent !== 'function') {
  globalThis.CustomEvent = class CustomEvent extends Event {
    constructor (type, init) {
      super(type, init)
      this.detail = init?.detail ?? null
    }
  }
}

// The lab's public internet is 198.51.100.0/24 and 203.0.113.0/24, and 2001:db8::/32 over
// IPv6 (documentation ranges), which @libp2p/utils counts as private: DCUtR would then offer
// and dial no address at all ("B had no dialable multiaddrs", seen in family 6 cells).
// hooks.mjs drops those three ranges from its list, nothing else.
register('./hooks.mjs', import.meta.url)
