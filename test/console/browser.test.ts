import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../scripts/build-console.mjs';
import { loadConfig } from '../../src/config/load.js';
import { generateApiKey } from '../../src/gateway/auth/index.js';
import { REPO_ROOT, startGateway, type TestGateway } from '../gateway/helpers.js';

/**
 * The console in a real browser: Debian's Chromium, headless, driven by
 * playwright-core, against a real gateway serving the example fleet's two
 * servers. With MCP_FLEET_CONSOLE_SCREENSHOTS=<dir> (`npm run docs:console`) it
 * also saves the screenshots of docs/CONSOLE.md there.
 */

const CHROMIUM = process.env['MCP_FLEET_CHROMIUM'] ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const screenshots = process.env['MCP_FLEET_CONSOLE_SCREENSHOTS'];
const admin = generateApiKey();

let gw: TestGateway;
let browser: Browser;
let page: Page;

/** The text of a locator's first match, or null while there is none (for bounded polling). */
async function textOf(locator: Locator): Promise<string | null> {
  return locator.first().textContent({ timeout: 1_000 }).catch(() => null);
}

const POLL = { timeout: 20_000, interval: 100 };

async function shot(name: string): Promise<void> {
  if (screenshots === undefined || screenshots === '') return;
  const dir = join(REPO_ROOT, screenshots);
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
}

describe.skipIf(!haveChromium)(haveChromium ? 'console in Chromium' : `console in Chromium (skipped: ${CHROMIUM} is not installed; apt-get install chromium)`, () => {
  beforeAll(async () => {
    // The page the gateway serves is the bundle `npm run build` makes; build it now so the test sees this checkout's code.
    await buildConsole();
    // The example fleet as `npm start` serves it (npx --no-install of the two servers), with the console on.
    const example = await loadConfig(join(REPO_ROOT, 'examples', 'fleet.yaml'), {
      env: { ...process.env, MEMORY_FILE_PATH: join(mkdtempSync(join(tmpdir(), 'console-browser-')), 'memory.json') },
    });
    gw = await startGateway({
      ...example,
      gateway: { ...example.gateway, console: { enabled: true, path: '/_console', adminKeys: [{ name: 'ops', sha256: admin.sha256 }] } },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(15_000);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('signs in with the admin key and shows both servers up', async () => {
    await page.goto(`${gw.url}/_console/`);
    await page.locator('input[name=key]').fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => textOf(page.getByRole('alert')), POLL).toMatch(/Invalid admin credential/);
    await shot('login');
    await page.locator('input[name=key]').fill(admin.key);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => textOf(page.getByTestId('state-everything')), POLL).toBe('ready');
    await expect.poll(() => textOf(page.getByTestId('state-memory')), POLL).toBe('ready');
    // The example fleet's virtual server over both.
    await expect.poll(() => textOf(page.getByTestId('virtual-state-dev')), POLL).toBe('ready');
    expect(await page.getByTestId('virtual-row-dev').textContent()).toMatch(/everything, memory/);
    expect(await page.getByTestId('whoami').textContent()).toContain('key:ops');
  });

  it('calls echo from the playground and shows the reply', async () => {
    await page.goto(`${gw.url}/_console/#/playground/everything`);
    await page.getByTestId('tool-echo').click();
    await page.locator('input[name=message]').fill('hello from the browser');
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    await expect.poll(() => textOf(page.getByTestId('call-text')), POLL).toContain('hello from the browser');
    await shot('playground');
  });

  it('lists a client session', async () => {
    const transport = new StreamableHTTPClientTransport(gw.mcpUrl('memory'));
    const client = new Client({ name: 'claude-code', version: '2.1.0' });
    await client.connect(transport);
    try {
      await page.goto(`${gw.url}/_console/#/sessions`);
      await expect.poll(() => page.locator('[data-testid^="session-"]').count(), POLL).toBe(1);
      const row = await page.locator('[data-testid^="session-"]').textContent();
      expect(row).toContain('claude-code 2.1.0');
      expect(row).toMatch(/2025-\d\d-\d\d \(Streamable HTTP\)/);
      await shot('sessions');
    } finally {
      await client.close();
    }
  });

  it('stops a child and shows it gone', async () => {
    await page.goto(`${gw.url}/_console/#/server/memory`);
    const first = page.locator('[data-testid^="process-"]').first();
    await first.waitFor();
    const pid = await first.getAttribute('data-pid');
    expect(pid).toMatch(/^\d+$/);
    const before = Number(await page.getByTestId('child-count').textContent());
    await shot('server');
    await first.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByTestId(`process-${pid}`).waitFor({ state: 'detached' });
    expect(Number(await page.getByTestId('child-count').textContent())).toBeLessThan(before);
  });

  it('draws the overview charts from the calls made', async () => {
    await page.goto(`${gw.url}/_console/#/`);
    await expect.poll(() => textOf(page.getByTestId('state-everything')), POLL).toBe('ready');
    await expect.poll(() => page.locator('.uplot').count(), POLL).toBe(2);
    await shot('overview');
  });
});
