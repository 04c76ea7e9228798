// The web UI's end-to-end test in real Chromium, driven by playwright-core. Started by
// crates/couler-cli/tests/web_ui.rs, which runs two real `couler server`s and passes:
//   COULER_UI_URL (--auth token), COULER_UI_OPEN_URL (--auth none), COULER_UI_EDITOR and
//   COULER_UI_VIEWER and COULER_UI_DEMOTED (tokens; the last an editor `mo` whose role the
//   script lowers with COULER_UI_BIN and COULER_UI_STATE_DIR: `couler server token create`),
//   COULER_UI_FLAG (a file the failing step waits for),
//   COULER_CHROMIUM (the browser), COULER_UI_SHOTS (optional: where to write screenshots).
// Every check throws on failure; the exit status is the test's verdict.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { editorChecks } from './editor.mjs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (crates/couler-cli/tests/web_ui.rs sets it)`);
  return v;
};
const BASE = env('COULER_UI_URL');
const OPEN = env('COULER_UI_OPEN_URL');
const EDITOR = env('COULER_UI_EDITOR');
const VIEWER = env('COULER_UI_VIEWER');
const FLAG = env('COULER_UI_FLAG');
const SHOTS = process.env.COULER_UI_SHOTS;
const T = 60_000;

const OK = `apiVersion: couler.dev/v1alpha1
kind: Workflow
name: greet
defaults:
  image: alpine:3.20
steps:
- name: hello
  script:
    command: [sh]
    source: |
      echo hello from the couler ui
      sleep 3
- name: world
  container:
    command: [echo, world]
  dependsOn: [hello]
- name: report
  container:
    command: [echo, 'part {{item}}']
  map:
    items: [a, b]
  dependsOn: [hello]
`;
const FLAKY = `apiVersion: couler.dev/v1alpha1
kind: Workflow
name: needs-flag
params:
- name: flag
steps:
- name: prepare
  container:
    command: [echo, ready]
- name: check
  env:
    FLAG: '{{params.flag}}'
  script:
    command: [sh]
    source: |
      echo "looking for $FLAG"
      test -f "$FLAG"
  retry:
    limit: 1
  dependsOn: [prepare]
`;

function check(cond, what) {
  if (!cond) throw new Error(`FAILED: ${what}`);
  console.log(`ok: ${what}`);
}

async function call(method, path, tok, body) {
  const r = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

async function submit(spec, parameters) {
  const r = await call('POST', '/runs', EDITOR, { spec, parameters });
  check(r.status === 201, `submitted ${r.body.workflow}: ${JSON.stringify(r.body)}`);
  return r.body.id;
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `ui-${name}.png`) });
}

async function login(page, tok) {
  // Keyboard only: the token field has the focus, Enter submits.
  await page.getByLabel('Token').waitFor({ timeout: T });
  await page.keyboard.type(tok);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: T });
}

const profile = mkdtempSync(join(tmpdir(), 'couler-ui-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env('COULER_CHROMIUM'),
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const problems = [];
context.on('page', (p) => watch(p));
function watch(page) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
}
try {
  const page = context.pages()[0] || (await context.newPage());
  watch(page);

  // Login is required with --auth token; a wrong token is refused in words.
  const head = await fetch(`${BASE}/`);
  check(head.headers.get('content-security-policy')?.includes("script-src 'self'"), 'the page carries a strict CSP');
  check((await fetch(`${BASE}/api/v1/runs`)).status === 401, 'the API refuses a request without a token');
  await page.goto(`${BASE}/runs`);
  await page.getByLabel('Token').waitFor({ timeout: T });
  check(await page.getByRole('heading', { name: 'Runs' }).count() === 0, 'no runs are shown before login');
  await shot(page, 'login');
  await page.getByLabel('Token').fill('couler_not-a-token');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'not known' }).waitFor({ timeout: T });
  check(true, 'an unknown token is refused with the server\'s reason');
  await login(page, EDITOR);

  // A workflow that succeeds: its row appears live, its DAG turns green live, its logs show.
  const ok = await submit(OK);
  await page.locator(`tr[data-run="${ok}"]`).waitFor({ timeout: T });
  check(true, 'the new run appears in the list without a reload');
  await page.getByRole('link', { name: ok }).click();
  await page.locator('.react-flow__node').nth(2).waitFor({ timeout: T });
  check((await page.locator('.react-flow__node').count()) === 3, 'the DAG shows the three steps');
  check((await page.locator('.react-flow__edge').count()) === 2, 'the DAG shows the two edges');
  await page.locator('.react-flow__node.state-running').first().waitFor({ timeout: T });
  check(true, 'a step shows Running while the run is under way');
  await page.getByRole('button', { name: /hello$/ }).click();
  await page.getByTestId('logs').filter({ hasText: 'hello from the couler ui' }).waitFor({ timeout: T });
  check(
    (await page.getByRole('heading', { name: 'Logs (live)' }).count()) === 1 &&
      (await page.getByTestId('run-state').textContent()) === 'Running',
    "the running step's logs stream what it echoed before it ends",
  );
  await page.locator('.react-flow__node.state-succeeded').nth(2).waitFor({ timeout: T });
  await page.getByTestId('run-state').filter({ hasText: 'Succeeded' }).waitFor({ timeout: T });
  check(true, 'every step turned green and the run Succeeded, without a reload');
  await page.getByRole('heading', { name: 'Logs', exact: true }).waitFor({ timeout: T });
  await page.getByTestId('logs').filter({ hasText: 'hello from the couler ui' }).waitFor({ timeout: T });
  check(true, "the ended step's logs show what it echoed");
  await shot(page, 'step-logs');
  // A map step is one node; its panel picks an instance (keyboard only).
  await page.getByRole('button', { name: /report$/ }).focus();
  await page.keyboard.press('Enter');
  const instance = page.getByLabel('Instance');
  const options = (await instance.locator('option').allTextContents()).join(',');
  check(options === 'report (all instances),report[0],report[1]', `a map step offers all its instances, then each (${options})`);
  await page.getByTestId('logs').filter({ hasText: '==> report[1] (Succeeded)' }).waitFor({ timeout: T });
  await instance.selectOption('report[1]');
  await page.getByTestId('logs').filter({ hasText: /^part b\s*$/ }).waitFor({ timeout: T });
  check(true, "the chosen instance's logs show its item alone");
  await page.getByRole('button', { name: 'Close the step panel' }).click();
  await shot(page, 'run');
  await page.getByRole('tab', { name: 'YAML' }).click();
  check((await page.getByTestId('yaml').textContent()).includes('name: greet'), 'the YAML tab shows the workflow');
  // The Gantt: a bar per step record (map instances each), the server's critical path outlined.
  const record = (await call('GET', `/runs/${ok}`, EDITOR)).body;
  const critical = (await call('GET', `/runs/${ok}/critical-path`, EDITOR)).body.steps;
  await page.getByRole('tab', { name: 'Gantt' }).click();
  await page.locator('.gantt .bar.critical').first().waitFor({ timeout: T });
  const bars = await page.locator('.gantt .bar').evaluateAll((gs) => gs.map((g) => [g.dataset.node, g.classList.contains('critical')]));
  check(
    bars.length === record.steps.length && record.steps.every((s) => bars.some(([n]) => n === s.node)),
    `the Gantt has one bar per step record (${bars.map(([n]) => n).join(', ')})`,
  );
  const marked = bars.filter(([, c]) => c).map(([n]) => n.replace(/\[\d+\]$/, ''));
  check(
    critical[0] === 'hello' && critical.length === 2 && marked.every((n) => critical.includes(n)) && critical.every((n) => marked.includes(n)),
    `the critical path ${critical.join(' → ')} is the bars outlined (${marked.join(', ')})`,
  );
  await page.locator('.gantt .bar[data-node="hello"]').focus();
  await page.getByTestId('gantt-about').filter({ hasText: /^hello: Succeeded, 1 attempt, started .* took \d/ }).waitFor({ timeout: T });
  check(true, "a focused bar tells its step, attempts, start and duration");
  await shot(page, 'gantt');
  // The compile preview: Argo's YAML, then Airflow's DAG file.
  await page.getByRole('tab', { name: 'Compile' }).click();
  await page.getByTestId('compiled').filter({ hasText: 'kind: Workflow' }).waitFor({ timeout: T });
  check(true, "the compile preview shows the run compiled for Argo");
  await shot(page, 'compile');
  await page.getByLabel('Engine').selectOption('airflow');
  await page.getByTestId('compiled').filter({ hasText: 'DAG' }).first().waitFor({ timeout: T });
  check(true, "picking Airflow shows its DAG file");

  // A failing step, then its condition fixed and the run resumed from the page.
  const bad = await submit(FLAKY, { flag: FLAG });
  await page.goto(`${BASE}/runs/${bad}`);
  await page.getByTestId('run-state').filter({ hasText: 'Failed' }).waitFor({ timeout: T });
  check((await page.locator('.react-flow__node.state-failed').count()) === 1, 'the failing step is red and the run Failed');
  writeFileSync(FLAG, 'ok');
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.getByTestId('run-state').filter({ hasText: 'Succeeded' }).waitFor({ timeout: T });
  await page.locator('.react-flow__node.state-succeeded').nth(1).waitFor({ timeout: T });
  check(true, 'Resume re-ran the failed step and the run Succeeded');
  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await page.locator(`tr[data-run="${bad}"] .state-succeeded`).waitFor({ timeout: T });
  check((await page.locator('tbody tr').count()) === 2, 'the runs list shows both runs');
  const rows = (n) => page.locator('tbody tr').nth(n - 1).waitFor({ timeout: T }).then(() => page.locator('tbody tr').count());
  await page.getByLabel('Search').fill('NEEDS');
  await page.locator(`tr[data-run="${ok}"]`).waitFor({ state: 'detached', timeout: T });
  check((await rows(1)) === 1, 'the search (any case) narrows the list');
  await page.getByLabel('Search').fill('');
  await page.getByLabel('Workflow').selectOption('greet');
  await page.locator(`tr[data-run="${bad}"]`).waitFor({ state: 'detached', timeout: T });
  check((await rows(1)) === 1, 'the workflow filter narrows the list');
  await page.getByLabel('Workflow').selectOption('');
  check((await rows(2)) === 2, 'with no filter both runs are back');
  await shot(page, 'runs');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByLabel('Token').waitFor({ timeout: T });
  check(true, 'logging out asks for a token again');

  // A viewer sees no actions, and the server refuses them anyway.
  await login(page, VIEWER);
  await page.goto(`${BASE}/runs/${bad}`);
  await page.getByTestId('run-state').filter({ hasText: 'Succeeded' }).waitFor({ timeout: T });
  for (const name of ['Stop', 'Resume', 'Delete'])
    check((await page.getByRole('button', { name, exact: true }).count()) === 0, `a viewer sees no ${name} button`);
  const refused = await call('POST', `/runs/${bad}/stop`, VIEWER);
  check(refused.status === 403 && refused.body.error === 'forbidden', `the API refuses a viewer's stop with 403 (${refused.body.detail})`);

  // History and comparison: a second run of the workflow with another flag (it fails: no such
  // file), then each step's charts show both runs and the comparison highlights the flag.
  const other = await submit(FLAKY, { flag: `${FLAG}-other` });
  for (let i = 0; (await call('GET', `/runs/${other}`, EDITOR)).body.state !== 'Failed'; i++) {
    if (i > 600) throw new Error(`FAILED: run ${other} did not fail`);
    await new Promise((done) => setTimeout(done, 100));
  }
  await page.getByRole('tab', { name: 'History' }).click();
  const charts = page.getByTestId('history-chart');
  await charts.nth(3).waitFor({ timeout: T });
  const points = await charts.evaluateAll((fs) => fs.map((f) => f.dataset.points).join(','));
  check(points === '2,2,1,1' || points === '2,2,2,2', `each step's duration and memory charts show the runs (${points} points)`);
  await shot(page, 'history');
  await page.getByRole('tab', { name: 'Compare' }).click();
  const flagRow = page.locator('[data-testid="comparison"] tr[data-key="param flag"]');
  await flagRow.waitFor({ timeout: T });
  const compared = await page
    .locator('[data-testid="comparison"] tbody tr')
    .evaluateAll((rs) => rs.map((r) => `${r.dataset.key}${r.classList.contains('differs') ? ' (differs)' : ''}`));
  check(
    (await flagRow.getAttribute('class')) === 'differs' && compared.includes('prepare result'),
    `the comparison highlights the changed param, not prepare's equal result (${compared.join('; ')})`,
  );
  await shot(page, 'compare');
  // The run that failed twice: its Gantt bar for `check` says so.
  await page.goto(`${BASE}/runs/${other}`);
  await page.getByRole('tab', { name: 'Gantt' }).click();
  const retried = page.locator('.gantt .bar[data-node="check"]');
  await retried.waitFor({ timeout: T });
  check(
    (await retried.locator('.attempts').textContent()) === '×2' && (await retried.getAttribute('aria-label')).includes('Failed, 2 attempts'),
    `a retried step's bar is red and marked with its attempts (${await retried.getAttribute('aria-label')})`,
  );
  check((await retried.getAttribute('class')).includes('state-failed'), 'the failed bar is coloured as failed');
  const segments = await retried.locator('rect.segment').evaluateAll((rs) => rs.map((r) => `${r.dataset.attempt}:${r.getAttribute('class')}`));
  check(
    segments.join(',') === '1:segment state-failed,2:segment state-failed',
    `the retried step has a segment per attempt, coloured by its outcome (${segments.join(', ')})`,
  );

  // A token the server no longer knows (revoked): the next request brings the login back.
  await page.evaluate(() => sessionStorage.setItem('couler.token', 'couler_revoked'));
  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'asks for a token again' }).waitFor({ timeout: T });
  check(true, 'a 401 during the session brings the login back, saying why');
  await login(page, VIEWER);
  await page.goto(`${BASE}/runs/${bad}`);

  // Narrow screen: the run page still shows its state and DAG.
  await page.setViewportSize({ width: 400, height: 800 });
  await page.locator('.react-flow__node.state-succeeded').nth(1).waitFor({ timeout: T });
  const box = await page.getByTestId('dag').boundingBox();
  check(box && box.width <= 400 && box.width > 300, `the DAG fits a 400 px wide screen (${box?.width} px)`);

  // An editor's page shows Delete; their role is lowered meanwhile; the server's 403 is shown.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole('button', { name: 'Log out' }).click();
  await login(page, env('COULER_UI_DEMOTED'));
  await page.goto(`${BASE}/runs/${ok}`);
  const del = page.getByRole('button', { name: 'Delete', exact: true });
  await del.waitFor({ timeout: T });
  execFileSync(env('COULER_UI_BIN'), [
    'server', 'token', 'create', '--user', 'mo', '--role', 'viewer', '--state-dir', env('COULER_UI_STATE_DIR'),
  ]);
  page.once('dialog', (d) => d.accept());
  await del.click();
  const refusal = page.getByRole('alert').filter({ hasText: 'Not allowed' });
  await refusal.waitFor({ timeout: T });
  check((await refusal.textContent()).includes('needs the editor role'), `a 403 is shown as the server words it: ${await refusal.textContent()}`);
  check((await call('GET', `/runs/${ok}`, EDITOR)).status === 200, 'the run was not deleted');

  // An editor deletes it: back to the list, and the run is gone.
  await page.getByRole('button', { name: 'Log out' }).click();
  await login(page, EDITOR);
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByRole('heading', { name: 'Runs' }).waitFor({ timeout: T });
  await page.locator(`tr[data-run="${bad}"]`).waitFor({ timeout: T });
  check((await page.locator(`tr[data-run="${ok}"]`).count()) === 0, 'Delete returns to the list without the run');
  check((await call('GET', `/runs/${ok}`, EDITOR)).status === 404, 'the deleted run is gone from the API');

  // The editor: examples round-trip, the churn workflow built by drag and drop and run.
  await editorChecks({ page, BASE, call: (m, p, body) => call(m, p, EDITOR, body), check, shot, T });

  // --auth none: no login.
  const open = await context.newPage();
  await open.goto(`${OPEN}/`);
  await open.getByRole('heading', { name: 'Runs' }).waitFor({ timeout: T });
  check((await open.getByLabel('Token').count()) === 0, 'with --auth none there is no login');
  check(problems.length === 0, `no errors in the browser console: ${problems.join(' | ')}`);
  console.log('all checks passed');
} catch (e) {
  // What the browser showed when it failed, for whoever reads the output.
  const failed = join(tmpdir(), `couler-ui-failure-${process.pid}.png`);
  for (const p of context.pages()) await p.screenshot({ path: failed }).catch(() => {});
  console.log(`the page at the failure: ${failed}`);
  throw e;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
