#!/usr/bin/env node
// A native-solc lookalike backed by the npm `solc` (emscripten) package, so that py-solc-x,
// ape-solidity and slither compile offline. It implements only what they call:
//   --version                        -> native-format version banner
//   --standard-json [paths options]  -> standard JSON in on stdin, out on stdout
// with an import callback honouring --base-path, --include-path and --allow-paths.
// It is used through a symlink named solc-v<version>; Node resolves `solc` from this file's
// real path, so the symlink can live anywhere.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const args = process.argv.slice(2);

function optionValues(name) {
  const values = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name && i + 1 < args.length) values.push(args[++i]);
    else if (args[i].startsWith(name + '=')) values.push(args[i].slice(name.length + 1));
  }
  return values;
}

if (args.includes('--version') || args.includes('-v')) {
  // solc.version() is e.g. "0.8.28+commit.7893614a.Emscripten.clang"
  const v = solc.version().replace('.Emscripten.clang', '.Linux.g++');
  process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' + v + '\n');
  process.exit(0);
}

if (!args.includes('--standard-json')) {
  process.stderr.write('solc.js: only --version and --standard-json are supported\n');
  process.exit(2);
}

const basePath = optionValues('--base-path')[0] || process.cwd();
const includePaths = optionValues('--include-path');
const allowPaths = optionValues('--allow-paths')
  .flatMap((p) => p.split(','))
  .filter(Boolean)
  .map((p) => path.resolve(p));
const roots = [path.resolve(basePath), ...includePaths.map((p) => path.resolve(p))];

function allowed(file) {
  const real = path.resolve(file);
  if (roots.some((r) => real === r || real.startsWith(r + path.sep))) return true;
  return allowPaths.some((a) => real === a || real.startsWith(a + path.sep));
}

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : roots.map((r) => path.join(r, importPath));
  for (const candidate of candidates) {
    if (!fs.existsSync(candidate)) continue;
    if (!allowed(candidate)) return { error: 'File outside of allowed directories: ' + candidate };
    return { contents: fs.readFileSync(candidate, 'utf8') };
  }
  return { error: 'File not found: ' + importPath };
}

const input = fs.readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));
