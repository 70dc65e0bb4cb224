// docker-compose.yml refers only to what exists: every service has an image or a build with a
// Dockerfile, its env_file and bind mounts are in the repository (.env as the file's header says:
// copied from .env.example), its named volumes and depends_on are declared, and the example targets
// the relay's TARGETS_FILE names load as the relay loads them. Where a compose CLI answers, its own
// `compose config` validates the file too.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { loadTargets } from '../../src/config/target-sources.ts'
import { PROJECT_ROOT } from '../support/relay-process.ts'

interface Service {
  image?: string
  build?: string | { context: string; dockerfile?: string }
  env_file?: string | string[]
  environment?: Record<string, string>
  volumes?: string[]
  depends_on?: string[]
  command?: string[]
}

interface Compose {
  services: Record<string, Service>
  volumes?: Record<string, unknown>
}

const file = join(PROJECT_ROOT, 'docker-compose.yml')
const compose = parse(readFileSync(file, 'utf8')) as Compose

/** The first compose CLI that answers: `docker compose` or `podman compose`. */
const composeCli = ['docker', 'podman'].find(
  (engine) => spawnSync(engine, ['compose', 'version'], { timeout: 30_000 }).status === 0,
)

/** A path of the compose file, in the repository; `.env` is the copy of .env.example. */
function inRepository(path: string): string {
  const local = join(PROJECT_ROOT, path)
  return path === '.env' && !existsSync(local) ? join(PROJECT_ROOT, '.env.example') : local
}

describe('docker-compose.yml', () => {
  const entries = Object.entries(compose.services)
  const builtImages = new Set(entries.filter(([, s]) => s.build).map(([, s]) => s.image))

  it.each(entries)('service %s refers only to what exists', (_name, service) => {
    if (service.build) {
      const build = typeof service.build === 'string' ? { context: service.build } : service.build
      expect(existsSync(join(inRepository(build.context), build.dockerfile ?? 'Dockerfile'))).toBe(true)
    } else {
      // Built by another service of the file, or a registry's image with a tag.
      expect(builtImages.has(service.image) || /:[\w.-]+$/.test(service.image ?? '')).toBe(true)
    }
    for (const env of [service.env_file ?? []].flat()) expect(existsSync(inRepository(env)), env).toBe(true)
    for (const volume of service.volumes ?? []) {
      const source = volume.split(':')[0] ?? ''
      if (source.startsWith('.') || source.startsWith('/'))
        expect(existsSync(inRepository(source)), volume).toBe(true)
      else expect(Object.keys(compose.volumes ?? {})).toContain(source)
    }
    for (const other of service.depends_on ?? []) expect(Object.keys(compose.services)).toContain(other)
    // A command that runs a file of a mounted folder: ./examples is mounted at /examples.
    for (const part of service.command ?? []) {
      if (part.startsWith('/examples/')) expect(existsSync(inRepository(`.${part}`)), part).toBe(true)
    }
  })

  it("the relay's TARGETS_FILE names example targets that load", () => {
    const targetsFile = compose.services.relay?.environment?.TARGETS_FILE ?? ''
    // /examples/${EXAMPLE_TARGETS:-echo}.yaml: the default, and the profile the header names.
    const pattern = /^\/examples\/\$\{EXAMPLE_TARGETS:-(\w+)\}\.yaml$/.exec(targetsFile)
    expect(pattern, targetsFile).not.toBeNull()
    for (const example of [pattern?.[1], 'rabbitmq']) {
      const targets = loadTargets(
        { targetsFile: join(PROJECT_ROOT, 'examples', `${example}.yaml`) },
        () => {},
      )
      expect(targets.length, `examples/${example}.yaml`).toBeGreaterThan(0)
    }
  })

  const noCli = composeCli === undefined && 'neither docker compose nor podman compose answers'
  if (noCli) console.warn(`compose config skipped: ${noCli}`)
  it.skipIf(noCli)(`${composeCli} compose config accepts it${noCli ? ` (skipped: ${noCli})` : ''}`, () => {
    // A copy beside .env made from .env.example, as the file's header says; the rest linked.
    const dir = mkdtempSync(join(tmpdir(), 'relay-compose-'))
    try {
      copyFileSync(file, join(dir, 'docker-compose.yml'))
      copyFileSync(join(PROJECT_ROOT, '.env.example'), join(dir, '.env'))
      for (const name of ['Dockerfile', 'examples']) symlinkSync(join(PROJECT_ROOT, name), join(dir, name))
      const config = spawnSync(composeCli ?? '', ['compose', 'config', '--quiet'], {
        cwd: dir,
        encoding: 'utf8',
      })
      expect(config.status, config.stderr).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
