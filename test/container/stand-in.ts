// The Dockerfile's base, node:26-slim, where it cannot be pulled: a stand-in made of what this
// machine can reach. A Debian minimal root filesystem (debootstrap, from the mirror apt uses), the
// Node.js binary the `node` dependency pins, npm from the npm registry, and a `node` user with uid
// 1000, as the official image has. Built once, when the tag is missing, and labelled so every run
// says which base it used.
import { spawnSync } from 'node:child_process'
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../support/relay-process.ts'
import { type EngineName, imageExists, run, runOk } from './engine.ts'

export const BASE_IMAGE = 'node:26-slim'
const LABEL = 'whatsgate-relay.stand-in'
/** What the official slim image adds to Debian's minimal set: Node 24 and later need libatomic. */
const PACKAGES = ['libatomic1']
/** Node 26 ships npm 11. */
const NPM = 'npm@11'
const BUILD_TIMEOUT_MS = 15 * 60_000

/** Which base the image builds on, in a line for the test's output. */
export async function ensureBaseImage(engine: EngineName, log: (line: string) => void): Promise<string> {
  if (await imageExists(engine, BASE_IMAGE)) return describeBase(engine)
  log(`${BASE_IMAGE} is missing: pulling it`)
  const pull = await run(engine, ['pull', `docker.io/library/${BASE_IMAGE}`], { timeoutMs: 5 * 60_000 })
  if (pull.code === 0) {
    await runOk(engine, ['tag', `docker.io/library/${BASE_IMAGE}`, BASE_IMAGE])
    return describeBase(engine)
  }
  log(`the pull failed (${pull.stderr.trim().split('\n').at(-1)}): building the stand-in`)
  await buildStandIn(engine, log)
  return describeBase(engine)
}

async function describeBase(engine: EngineName): Promise<string> {
  const label = await runOk(engine, [
    'image',
    'inspect',
    '--format',
    `{{index .Config.Labels "${LABEL}"}}`,
    BASE_IMAGE,
  ])
  return label && label !== '<no value>'
    ? `the local stand-in for ${BASE_IMAGE}: ${label}`
    : `${BASE_IMAGE} (not the stand-in)`
}

async function buildStandIn(engine: EngineName, log: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('building the stand-in needs root (debootstrap, chroot)')
  const node = pinnedNode()
  const work = mkdtempSync('/var/tmp/node-stand-in-')
  try {
    const root = join(work, 'rootfs')
    const mirror = debianMirror()
    log(`debootstrap --variant=minbase bookworm from ${mirror}`)
    const started = Date.now()
    await runOk(
      'debootstrap',
      ['--variant=minbase', `--include=${PACKAGES.join(',')}`, 'bookworm', root, mirror],
      { timeoutMs: BUILD_TIMEOUT_MS },
    )
    log(`debootstrap took ${Math.round((Date.now() - started) / 1000)} s`)
    // apt's downloads and lists are not in the official image either.
    for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      for (const entry of readdirSync(join(root, dir))) {
        if (entry !== 'partial' && entry !== 'lock') rmSync(join(root, dir, entry), { recursive: true })
      }
    }

    copyFileSync(node.path, join(root, 'usr/local/bin/node'))
    const npm = await installNpm(root, work)
    trustNpmCa(root)
    await runOk('chroot', [root, 'groupadd', '--gid', '1000', 'node'])
    await runOk('chroot', [
      root,
      'useradd',
      '--uid',
      '1000',
      '--gid',
      'node',
      '--shell',
      '/bin/bash',
      '--create-home',
      'node',
    ])

    const tar = join(work, 'rootfs.tar')
    await runOk('tar', ['--numeric-owner', '-C', root, '-cf', tar, '.'], { timeoutMs: BUILD_TIMEOUT_MS })
    const what = `Debian bookworm minbase, Node.js ${node.version} (the node dependency), npm ${npm}`
    await runOk(
      engine,
      [
        'import',
        '--change',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--change',
        `ENV NODE_VERSION=${node.version.slice(1)}`,
        '--change',
        `LABEL ${LABEL}="${what}"`,
        '--change',
        'CMD ["node"]',
        tar,
        BASE_IMAGE,
      ],
      { timeoutMs: BUILD_TIMEOUT_MS },
    )
    log(`built the stand-in ${BASE_IMAGE}: ${what}`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** The binary the `node` dependency installed, checked to be Linux x86-64 and Node 26. */
function pinnedNode(): { path: string; version: string } {
  const path = join(PROJECT_ROOT, 'node_modules/node/bin/node')
  const header = Buffer.alloc(20)
  const fd = openSync(path, 'r')
  readSync(fd, header, 0, header.length, 0)
  closeSync(fd)
  // ELF magic, 64-bit class, and e_machine 62 (x86-64) at offset 18.
  if (header.toString('latin1', 0, 4) !== '\x7fELF' || header[4] !== 2 || header.readUInt16LE(18) !== 62) {
    throw new Error(`${path} is not a Linux x86-64 binary`)
  }
  // The version the binary itself reports, not the one its package claims.
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim()
  if (!version.startsWith('v26.')) throw new Error(`${path} is ${version || 'not runnable'}, not Node 26`)
  return { path, version }
}

/** npm's tarball from the registry, unpacked where the official image has it; its version. */
async function installNpm(root: string, work: string): Promise<string> {
  const file = await runOk('npm', ['pack', NPM, '--pack-destination', work, '--silent'])
  const lib = join(root, 'usr/local/lib/node_modules/npm')
  mkdirSync(lib, { recursive: true })
  await runOk('tar', ['-xzf', join(work, file), '-C', lib, '--strip-components=1', '--no-same-owner'])
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'))
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'))
  return JSON.parse(readFileSync(join(lib, 'package.json'), 'utf8')).version
}

/**
 * Where this machine's npm trusts its own certificate authorities (a TLS-inspecting proxy in front
 * of the registry), npm in the stand-in trusts them too, through npm's global npmrc: the Dockerfile's
 * `npm ci` reaches the registry as npm here does. Nothing else in the image reads that file.
 */
function trustNpmCa(root: string): void {
  const cafile = npmConfig('cafile')
  if (!cafile || !existsSync(cafile)) return
  const copy = '/usr/local/share/ca-certificates/npm-cafile.pem'
  mkdirSync(join(root, '/usr/local/share/ca-certificates'), { recursive: true })
  copyFileSync(cafile, join(root, copy))
  mkdirSync(join(root, 'usr/local/etc'), { recursive: true })
  writeFileSync(join(root, 'usr/local/etc/npmrc'), `cafile=${copy}\n`)
}

function npmConfig(key: string): string | null {
  const value = spawnSync('npm', ['config', 'get', key], { encoding: 'utf8' }).stdout.trim()
  return value === '' || value === 'null' || value === 'undefined' ? null : value
}

/** The Debian mirror apt uses on this machine (sources.list or deb822 .sources files). */
function debianMirror(): string {
  const files = ['/etc/apt/sources.list']
  const dir = '/etc/apt/sources.list.d'
  if (existsSync(dir)) files.push(...readdirSync(dir).map((name) => join(dir, name)))
  for (const file of files) {
    if (!existsSync(file)) continue
    const found = /^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+\/debian)\/?\s/m.exec(readFileSync(file, 'utf8'))
    if (found?.[1]) return found[1]
  }
  return 'http://deb.debian.org/debian'
}
