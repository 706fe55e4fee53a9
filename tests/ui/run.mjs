#!/usr/bin/env node
// ctest's entry for a browser test: checks what it needs, then runs `node --test` on it.
//   node run.mjs [TEST_FILE (default agent_page.test.mjs)] [--need-etcd]
// Something missing fails the test under CI=true (CI must have it: scripts/ui-deps.sh installs it)
// and skips it loudly elsewhere (exit 77 = the test's SKIP_RETURN_CODE).
import {spawnSync} from 'node:child_process';
import {accessSync, constants, existsSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const chromium = process.env.TEND_CHROMIUM || '/usr/bin/chromium';
const binary = process.env.TEND_BINARY;
const argv = process.argv.slice(2);
const testFile = argv.find((a) => !a.startsWith('--')) || 'agent_page.test.mjs';
const etcd = process.env.TEND_ETCD || '/usr/bin/etcd';

const problems = [];
if (!binary) {
  problems.push('TEND_BINARY is not set (ctest sets it to the built tend binary)');
} else {
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    problems.push(`TEND_BINARY ${binary} is not an executable file`);
  }
}
try {
  accessSync(chromium, constants.X_OK);
} catch {
  problems.push(`no chromium at ${chromium} (apt-get install chromium, or set TEND_CHROMIUM)`);
}
if (argv.includes('--need-etcd')) {
  try {
    accessSync(etcd, constants.X_OK);
  } catch {
    problems.push(`no etcd at ${etcd} (apt-get install etcd-server, or set TEND_ETCD)`);
  }
}
if (!existsSync(path.join(here, 'node_modules', 'playwright-core', 'package.json'))) {
  problems.push(`playwright-core is not installed in ${here}/node_modules`);
}

if (problems.length) {
  const fix = problems.length > (binary ? 0 : 1) ? 'Run scripts/ui-deps.sh to install chromium and playwright-core.' : '';
  if (process.env.CI === 'true') {
    console.error(`FAIL: the browser test cannot run: ${problems.join('; ')}. ${fix}`.trim());
    process.exit(1);
  }
  console.error(`SKIPPED: the browser test cannot run: ${problems.join('; ')}. ${fix}`.trim());
  process.exit(77);
}

const result = spawnSync(process.execPath,
                         ['--test', '--test-reporter=spec', path.join(here, testFile)],
                         {stdio: 'inherit', cwd: here, env: {...process.env, TEND_CHROMIUM: chromium}});
process.exit(result.status ?? 1);
