#!/usr/bin/env node
// The `whatsgate-relay` command (package.json bin, `npx whatsgate-relay`): checks the Node.js
// version in plain JavaScript, then runs the CLI: its build in production, else the TypeScript
// (entry.js).
import './check-node.js'
import { entry } from './entry.js'

const { runCli } = await import(entry('cli'))
await runCli()
