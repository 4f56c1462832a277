// Module hook (registered by preload.mjs): @libp2p/utils's list of private ranges without the
// documentation ranges the lab uses as its public internet: two IPv4 ones, and IPv6's
// 2001:db8::/32 (every IPv6 address of the lab's dual-stack topologies). A library whose list no longer
// has those exact lines stops the program here, rather than running with a different meaning.
const TARGET = /\/@libp2p\/utils\/dist\/src\/private-ip\.js$/
const LAB_PUBLIC = ["    '198.51.100.0/24',\n", "    '203.0.113.0/24',\n",
  '        /^2001:db8:([0-9a-fA-F]{0,4}):?([0-9a-fA-F]{0,4}):?([0-9a-fA-F]{0,4}):?([0-9a-fA-F]{0,4}):?([0-9a-fA-F]{0,4}):?([0-9a-fA-F]{0,4})$/.test(ipAddr) ||\n']

export async function load (url, context, nextLoad) {
  const result = await nextLoad(url, context)
  if (!TARGET.test(url)) {
    return result
  }
  let source = String(result.source)
  for (const line of LAB_PUBLIC) {
    if (!source.includes(line)) {
      throw new Error(`punchlab: ${url} no longer lists ${line.trim()} as private; update engines/libp2p/hooks.mjs`)
    }
    source = source.replace(line, '')
  }
  return { ...result, source }
}
