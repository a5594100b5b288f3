// Node 20 preload for @modelcontextprotocol/conformance (0.1.16 .. 0.2.0-alpha.12).
//
// The suite's bundle does `import { globSync } from 'fs'`, a Node 22 API, so on
// Node 20 it fails to link before running anything. A named import from a
// built-in cannot be added by patching `fs` at run time, so this preload
// registers a resolve hook that hands ESM importers of `fs` / `node:fs` a
// module re-exporting node:fs plus `globSync`. On a Node that has
// fs.globSync it does nothing.
//
// Use: node --import ./scripts/conformance/node20-shim/preload.mjs <conformance cli>
import fs from 'node:fs';
import { register } from 'node:module';

if (typeof fs.globSync !== 'function') {
  register('./hooks.mjs', import.meta.url);
}
