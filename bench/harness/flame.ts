// CPU profiles (node --cpu-prof) read for the profile benchmark: the time of each slice of the
// code (a file of the relay, a package, a part of Node), and a flame graph drawn as SVG.
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  /** µs on the monotonic clock (nowMs() * 1000 in the bench's processes). */
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

/** The call tree with the time (µs) spent in each node itself; idle time left out. */
export interface Profile {
  nodes: Map<number, ProfileNode & { selfUs: number; parent?: number }>
  rootId: number
  /** Time on the CPU in all (idle left out), µs. */
  busyUs: number
}

/** The profile at `path`; with `window` (ms on the monotonic clock) only the samples taken within it. */
export function readProfile(path: string, window?: { fromMs: number; toMs: number }): Profile {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const nodes: Profile['nodes'] = new Map(raw.nodes.map((node) => [node.id, { ...node, selfUs: 0 }]))
  for (const node of raw.nodes) {
    for (const child of node.children ?? []) {
      const entry = nodes.get(child)
      if (entry) entry.parent = node.id
    }
  }
  let atUs = raw.startTime
  raw.samples.forEach((id, i) => {
    // A sample's delta is the time since the one before: it belongs to the sample it ends.
    const delta = raw.timeDeltas[i] ?? 0
    atUs += delta
    if (window && (atUs < window.fromMs * 1000 || atUs > window.toMs * 1000)) return
    const node = nodes.get(id)
    if (node) node.selfUs += delta
  })
  let busyUs = 0
  for (const node of nodes.values()) {
    if (node.callFrame.functionName === '(idle)') node.selfUs = 0
    busyUs += node.selfUs
  }
  return { nodes, rootId: raw.nodes[0]?.id ?? 0, busyUs }
}

/**
 * The slice a frame belongs to: a file of the project (`src/store/sqlite-store.ts`), a package
 * (`fastify`), a module of Node (`node:internal/streams`), or V8's own (`(garbage collector)`).
 * Frames without a file (native functions: JSON.parse, a SQLite statement's run) count for their
 * caller's slice.
 */
export function sliceOf(url: string, functionName: string): string | null {
  if (url === '') return functionName.startsWith('(') ? functionName : null
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (pkg?.[1]) return pkg[1]
  const own = /\/((?:src|bench)\/.*)$/.exec(url)
  if (own?.[1]) return own[1]
  if (url.startsWith('node:')) return url.split('/').slice(0, 3).join('/')
  return url
}

/** Time per slice (µs), by the innermost frame that has one. */
export function slices(profile: Profile): Map<string, number> {
  const totals = new Map<string, number>()
  for (const node of profile.nodes.values()) {
    if (node.selfUs === 0) continue
    let at: typeof node | undefined = node
    let slice: string | null = null
    while (at && slice === null) {
      slice = sliceOf(at.callFrame.url, at.callFrame.functionName)
      at = at.parent === undefined ? undefined : profile.nodes.get(at.parent)
    }
    const name = slice ?? '(native, no caller)'
    totals.set(name, (totals.get(name) ?? 0) + node.selfUs)
  }
  return totals
}

interface Frame {
  name: string
  slice: string
  totalUs: number
  children: Map<string, Frame>
}

/** The call tree merged by frame name under each parent, with inclusive times. */
function mergedTree(profile: Profile): Frame {
  const build = (id: number, into: Frame, inheritedSlice: string): number => {
    const node = profile.nodes.get(id)
    if (!node) return 0
    const { functionName, url, lineNumber } = node.callFrame
    const file = url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')
    const name = `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`
    const slice = sliceOf(url, functionName) ?? inheritedSlice
    let frame = into.children.get(name)
    if (!frame) {
      frame = { name, slice, totalUs: 0, children: new Map() }
      into.children.set(name, frame)
    }
    let total = node.selfUs
    for (const child of node.children ?? []) total += build(child, frame, slice)
    frame.totalUs += total
    return total
  }
  const root: Frame = { name: 'all', slice: '', totalUs: 0, children: new Map() }
  const top = profile.nodes.get(profile.rootId)
  for (const child of top?.children ?? []) root.totalUs += build(child, root, '')
  return root
}

const escapeXml = (text: string) =>
  text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] ?? c)

/** A colour per kind of slice: the relay's own code, packages, Node, V8. */
function colourOf(slice: string): string {
  if (slice.startsWith('src/')) return slice.startsWith('src/store') ? '#e9a23b' : '#f2c14e'
  if (slice.startsWith('bench/')) return '#f2c14e'
  if (slice.startsWith('node:')) return '#8fb9e0'
  if (slice.startsWith('(')) return '#c0c0c0'
  return '#9fd38a'
}

/** An SVG flame graph (callers below, callees above), frames under 0.2 % of the time left out. */
export function flameGraphSvg(profile: Profile, title: string): string {
  const root = mergedTree(profile)
  const width = 1200
  const rowHeight = 16
  const minUs = root.totalUs * 0.002
  const shown = (frame: Frame) => [...frame.children.values()].filter((child) => child.totalUs >= minUs)
  const depthOf = (frame: Frame): number => 1 + Math.max(0, ...shown(frame).map(depthOf))
  // Row 0 (the root) at the bottom, above it the title's line.
  const height = 24 + depthOf(root) * rowHeight
  const rects: string[] = []
  const draw = (frame: Frame, x: number, depth: number) => {
    const w = (frame.totalUs / root.totalUs) * width
    const y = height - (depth + 1) * rowHeight
    const share = ((frame.totalUs / root.totalUs) * 100).toFixed(1)
    const label =
      w > 40
        ? `<text x="${(x + 3).toFixed(1)}" y="${y + 11}">${escapeXml(frame.name.slice(0, Math.floor(w / 6.5)))}</text>`
        : ''
    rects.push(
      `<g><title>${escapeXml(frame.name)} (${share} %)</title>` +
        `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowHeight - 1}" fill="${colourOf(frame.slice)}"/>${label}</g>`,
    )
    let at = x
    for (const child of [...frame.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (child.totalUs >= minUs) draw(child, at, depth + 1)
      at += (child.totalUs / root.totalUs) * width
    }
  }
  draw(root, 0, 0)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<text x="4" y="14" font-size="13">${escapeXml(title)}</text>`,
    ...rects,
    '</svg>',
  ].join('\n')
}
