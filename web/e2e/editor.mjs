// The editor's end-to-end checks (pages/Editor.jsx), run by ui.mjs on its server and page:
// every example spec saved unchanged gives the same IR; the paper's Fig. 9 churn workflow
// built by drag and drop from the zoo palette, a bad parameter's diagnostic appearing and going
// away, submitted, run to success, a step's logs; a run opened in the editor.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toYaml } from '../src/editor/yaml.js';

// What examples/churn.yaml's first step is: a script the palette's generic step cannot give its
// env and outputs in a form, so the test opens it as text and builds the rest on the canvas.
const GENERATE = readFileSync(join(import.meta.dirname, '../../examples/churn.yaml'), 'utf8')
  .replace(/\n- name: read[\s\S]*$/, '\n')
  .replace('name: churn\n', 'name: churn-edited\n');

const TRAINS = [
  ['train-logistic-regression', 'logistic-regression'],
  ['train-random-forest', 'random-forest'],
  ['train-gradient-boosting', 'gradient-boosting'],
];

export async function editorChecks({ page, BASE, call, check, shot, T }) {
  const validate = async (spec) => (await call('POST', '/validate', { spec })).body;

  // Round trip: each example read as the editor reads it, written back by its YAML writer.
  const dir = join(import.meta.dirname, '../../examples');
  const kept = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const before = await validate(readFileSync(join(dir, f), 'utf8'));
    if (!before.valid) continue;
    const after = await validate(toYaml(before.document));
    check(after.valid && after.ir === before.ir, `${f} saved unchanged by the editor gives the same IR`);
    kept.push(f);
  }
  check(kept.length >= 8, `every valid example round-trips (${kept.join(', ')})`);

  await page.setViewportSize({ width: 1700, height: 1300 });
  await page.getByRole('link', { name: 'Editor', exact: true }).click();
  await page.getByRole('heading', { name: 'Step zoo' }).waitFor({ timeout: T });
  // Open: paste the generator step in the YAML tab, apply.
  await page.getByRole('tab', { name: 'YAML' }).click();
  await page.getByLabel(/The spec/).fill(GENERATE);
  await page.getByRole('button', { name: 'Apply' }).click();
  const node = (name) => page.locator(`.react-flow__node[data-id="${name}"]`);
  await node('generate').waitFor({ timeout: T });
  await page.waitForTimeout(300); // the view fits the opened spec 50 ms after it shows
  check(true, 'a pasted spec opens on the canvas');

  // Drag each zoo step onto the canvas, in rows; one by keyboard (focus, Enter).
  // The page must not scroll under the mouse: every box is read just before it is used.
  const top = () => page.evaluate(() => window.scrollTo(0, 0));
  // A node just added may not take a drag yet: it is dragged until it is where it was put.
  const move = async (name, x, y) => {
    for (let i = 0; i < 5; i++) {
      await top();
      const canvas = await page.getByTestId('canvas').boundingBox();
      const at = await node(name).boundingBox();
      if (Math.abs(at.x + 20 - canvas.x - x) < 4 && Math.abs(at.y + 12 - canvas.y - y) < 4) return;
      await page.mouse.move(at.x + 20, at.y + 12);
      await page.mouse.down();
      await page.mouse.move(canvas.x + x, canvas.y + y, { steps: 6 });
      await page.mouse.up();
      await page.waitForTimeout(100);
    }
    throw new Error(`FAILED: could not move step ${name}`);
  };
  await move('generate', 60, 30);
  const drop = async (entry, x, y) => {
    await page.locator(`[data-zoo="${entry}@1"]`).dragTo(page.getByTestId('canvas'), { targetPosition: { x, y } });
  };
  await drop('read-csv', 40, 190);
  await drop('split', 40, 310);
  for (const [i, [t]] of TRAINS.entries()) await drop(t, 40 + i * 360, 430);
  for (const i of [0, 1, 2]) await drop('evaluate', 40 + i * 360, 570);
  await drop('select-best', 40, 710);
  await page.locator('[data-zoo="publish@1"]').focus();
  await page.keyboard.press('Enter');
  await node('publish').waitFor({ timeout: T });
  check((await page.locator('.react-flow__node').count()) === 11, 'ten zoo steps added: nine dropped, one by the keyboard');
  // The keyboard's step lands in the middle of the view; move it below select-best.
  await move('publish', 520, 860);

  // Connect outputs to inputs by dragging between handles.
  const handle = (name, id) => node(name).locator(`.react-flow__handle[data-handleid="${id}"]`);
  const wire = async (from, out, to, input) => {
    await top();
    const a = await handle(from, out).boundingBox();
    const b = await handle(to, input).boundingBox();
    await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
    await page.mouse.down();
    await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 8 });
    await page.mouse.up();
  };
  await wire('generate', 'out:artifacts:customers', 'read-csv', 'in:file');
  await wire('read-csv', 'out:artifacts:data', 'split', 'in:data');
  const trains = TRAINS.map(([t]) => t);
  const evals = ['evaluate', 'evaluate-2', 'evaluate-3'];
  for (const [i, t] of trains.entries()) {
    await wire('split', 'out:artifacts:train', t, 'in:train');
    await wire(t, 'out:artifacts:model', evals[i], 'in:model');
    await wire('split', 'out:artifacts:test', evals[i], 'in:test');
    await wire(t, 'out:artifacts:model', 'select-best', 'in:models');
    await wire(evals[i], 'out:parameters:score', 'select-best', 'in:scores');
  }
  await wire('select-best', 'out:artifacts:best-model', 'publish', 'in:model');
  const drawn = await page.locator('.react-flow__edge').evaluateAll((es) => es.map((e) => e.dataset.id || e.getAttribute('aria-label') || e.id));
  check(drawn.length === 18, `eighteen connections drawn handle to handle (${drawn.join(' ')})`);

  // Forms: the label of every step that has one, AUC, the model names, a bad value first.
  const form = async (name, values) => {
    await node(name).click();
    for (const [k, v] of Object.entries(values)) await page.locator(`#with-${name}-${k}`).fill(v);
  };
  // A step is selected from the keyboard too: focused, Enter opens its form.
  await node('read-csv').focus();
  await page.keyboard.press('Enter');
  await page.getByRole('form', { name: 'Step read-csv' }).waitFor({ timeout: T });
  check(true, 'a step focused on the canvas and Enter opens its form');
  await form('split', { label: 'churned', test_fraction: 'lots' });
  const bad = page.getByTestId('diagnostics').filter({ hasText: 'test_fraction' });
  await bad.waitFor({ timeout: T });
  check((await node('split').locator('.has-error').count()) === 1, `a bad value is diagnosed live, on its step: ${await bad.textContent()}`);
  await shot(page, 'editor');
  await form('split', { test_fraction: '0.3' });
  await bad.waitFor({ state: 'detached', timeout: T });
  check((await node('split').locator('.has-error').count()) === 0, 'fixed, the diagnostic goes away');
  for (const t of trains) await form(t, { label: 'churned' });
  for (const e of evals) await form(e, { label: 'churned', metric: 'auc' });
  await form('select-best', { names: JSON.stringify(TRAINS.map(([, n]) => n)) });
  await form('publish', { destination: '{{params.destination}}', filename: 'churn-model.pkl' });
  await page.getByTestId('validity').filter({ hasText: /^Valid$/ }).waitFor({ timeout: T });
  await page.getByRole('tab', { name: 'YAML' }).click();
  const yaml = await page.getByLabel(/The spec/).inputValue();
  check(
    yaml.includes('\n    - steps.train-random-forest.outputs.artifacts.model\n') && yaml.includes('\n    - "{{steps.evaluate-2.outputs.parameters.score}}"\n'),
    'the YAML binds inputs as a hand-written spec does',
  );
  await page.getByRole('tab', { name: 'Canvas' }).click();

  // Save downloads the spec; Submit runs it and shows the run, which succeeds.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Save' }).click()]);
  check(download.suggestedFilename() === 'churn-edited.yaml', `Save downloads ${download.suggestedFilename()}`);
  await page.getByRole('button', { name: 'Submit' }).click();
  await page.getByTestId('run-state').waitFor({ timeout: T });
  await page.getByTestId('run-state').filter({ hasText: 'Succeeded' }).waitFor({ timeout: 180_000 });
  check(true, 'the churn workflow built in the editor runs and Succeeds');
  await page.getByRole('button', { name: /select-best$/ }).click();
  await page.getByTestId('logs').filter({ hasText: 'best:' }).waitFor({ timeout: T });
  check(true, "the select step's logs name the best model");

  // Edit from the run: the editor opens its workflow (expanded, the same IR).
  const runId = page.url().split('/').pop();
  await page.getByRole('link', { name: 'Edit', exact: true }).click();
  await node('publish').waitFor({ timeout: T });
  await page.getByTestId('validity').filter({ hasText: /^Valid$/ }).waitFor({ timeout: T });
  const wf = (await call('GET', `/runs/${runId}/workflow`)).body;
  await page.getByRole('tab', { name: 'YAML' }).click();
  const reopened = await validate(await page.getByLabel(/The spec/).inputValue());
  check(reopened.ir === (await validate(wf.yaml)).ir, "a run opened with Edit is its workflow, the same IR");
  await page.setViewportSize({ width: 1280, height: 800 });
}
