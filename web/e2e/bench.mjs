// The web UI on a 2,000-step workflow in real Chromium (scripts/bench-ui starts the server and
// submits the run): how long the page takes to lay the DAG out and show it, and the frame
// times (requestAnimationFrame deltas) during a scripted pan and zoom. A measurement, not a
// test: it prints the figures as JSON. Env: COULER_UI_URL, COULER_UI_RUN, COULER_CHROMIUM,
// BENCH_UI_ROUNDS (page loads, default 3); BENCH_UI_LIVE=1: instead, the frame times while the
// page follows the run until it ends.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (scripts/bench-ui sets it)`);
  return v;
};
const BASE = env('COULER_UI_URL');
const RUN = env('COULER_UI_RUN');
const ROUNDS = Number(process.env.BENCH_UI_ROUNDS || 3);
const T = 300_000;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

/** Starts recording requestAnimationFrame deltas in the page. */
function recordFrames(page) {
  return page.evaluate(() => {
    window.__frames = [];
    window.__stop = false;
    let last = performance.now();
    const tick = (t) => {
      window.__frames.push(t - last);
      last = t;
      if (!window.__stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

/** Stops recording; the deltas recorded, the first (partial) one left out. */
function frameTimes(page) {
  return page.evaluate(() => {
    window.__stop = true;
    return window.__frames.slice(1);
  });
}

async function round(page) {
  await page.goto(`${BASE}/runs/${RUN}`);
  const started = Date.now();
  await page.locator('.react-flow__node').first().waitFor({ timeout: T });
  const shown = Date.now() - started;
  const layout = await page.evaluate(() => performance.getEntriesByName('couler:layout').map((e) => e.duration));
  const rendered = await page.locator('.react-flow__node').count();
  // Frame times while the pane is dragged and wheeled: rAF deltas recorded in the page.
  await recordFrames(page);
  const box = await page.getByTestId('dag').boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  for (let i = 0; i < 40; i++) await page.mouse.move(cx + (i % 20) * 10 - 100, cy + (i % 10) * 8 - 40);
  await page.mouse.up();
  for (let i = 0; i < 20; i++) await page.mouse.wheel(0, i < 10 ? -120 : 120);
  await page.waitForTimeout(300);
  const frames = await frameTimes(page);
  return { shownMs: shown, layoutMs: layout.at(-1), nodesInDom: rendered, frames };
}

/** The page open while the run's 2,000 steps run: frame times while their events arrive. */
async function live(page) {
  await page.goto(`${BASE}/runs/${RUN}`);
  await page.locator('.react-flow__node').first().waitFor({ timeout: T });
  await recordFrames(page);
  const started = Date.now();
  await page.getByTestId('run-state').filter({ hasText: /Succeeded|Failed|Error/ }).waitFor({ timeout: T });
  const frames = await frameTimes(page);
  return {
    followedMs: Date.now() - started,
    frames: frames.length,
    median: Number(median(frames).toFixed(1)),
    p95: Number(pct(frames, 0.95).toFixed(1)),
    max: Number(Math.max(...frames).toFixed(1)),
    over50ms: frames.filter((f) => f > 50).length,
  };
}

const profile = mkdtempSync(join(tmpdir(), 'couler-bench-ui-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env('COULER_CHROMIUM'),
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = context.pages()[0] || (await context.newPage());
  const rounds = [];
  if (process.env.BENCH_UI_LIVE) console.log(JSON.stringify({ liveFrameMs: await live(page) }));
  else for (let i = 0; i < ROUNDS; i++) rounds.push(await round(page));
  const frames = rounds.flatMap((r) => r.frames);
  if (rounds.length) console.log(
    JSON.stringify({
      rounds: ROUNDS,
      nodesInDom: rounds.map((r) => r.nodesInDom),
      layoutMs: { median: median(rounds.map((r) => r.layoutMs)), each: rounds.map((r) => Math.round(r.layoutMs)) },
      firstNodeShownMs: { median: median(rounds.map((r) => r.shownMs)), each: rounds.map((r) => r.shownMs) },
      panZoomFrameMs: {
        frames: frames.length,
        median: Number(median(frames).toFixed(1)),
        p95: Number(pct(frames, 0.95).toFixed(1)),
        max: Number(Math.max(...frames).toFixed(1)),
      },
    }),
  );
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
