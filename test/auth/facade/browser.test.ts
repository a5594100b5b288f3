import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textOf } from '../../gateway/helpers.js';
import { startFacadeFleet, TestOAuthProvider, type FacadeFleet } from './helpers.js';

/**
 * The sign-in pages in a real browser: headless Chromium from the OS packages
 * (`apt-get install chromium`; `.ci/run` installs it) opens the authorization URL
 * the official SDK v2 client produced, reads the consent page, clicks, and follows
 * the redirects to the client's loopback callback. This is what a person sees, and
 * it checks what only a browser enforces: the page's Content-Security-Policy
 * (form submission and its redirects) and that it cannot be framed.
 */

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

let fleet: FacadeFleet;
let browser: Browser;
let callback: { server: Server; url: string; hits: URL[] };

async function startCallback(): Promise<typeof callback> {
  const hits: URL[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/framer') {
      // A page on another origin that tries to frame the consent page (clickjacking).
      const target = url.searchParams.get('target') ?? '';
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><iframe id="f" src="${target.replace(/"/g, '&quot;')}"></iframe>`);
      return;
    }
    hits.push(url);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><p id="done">Signed in. You can close this window.</p>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`, hits };
}

/** Starts the SDK client's sign-in and returns the authorization URL it wants the user to open. */
async function authorizationUrl(provider: TestOAuthProvider): Promise<URL> {
  const client = new Client({ name: 'browser-sign-in-test', version: '1.0.0' });
  await expect(client.connect(new StreamableHTTPClientTransport(fleet.mcpUrl('everything'), { authProvider: provider }))).rejects.toBeInstanceOf(UnauthorizedError);
  await client.close().catch(() => {});
  expect(provider.authorizationUrl).toBeDefined();
  return provider.authorizationUrl as URL;
}

/** Collects the CSP violations Chromium reports on the console of `page`. */
function cspViolations(page: Page): string[] {
  const messages: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) messages.push(message.text());
  });
  return messages;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it with \`apt-get install chromium\` (.ci/run does) or set CHROMIUM_PATH`);
  fleet = await startFacadeFleet();
  callback = await startCallback();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  callback?.server.closeAllConnections();
  callback?.server.close();
  await fleet?.close();
});

describe('the sign-in pages in headless Chromium', () => {
  it('GIVEN a new client WHEN the user reads the consent page and continues THEN the browser lands on the client callback and the client calls a tool', async () => {
    const provider = new TestOAuthProvider(callback.url, undefined, 'Browser Test Client');
    const start = await authorizationUrl(provider);
    const page = await browser.newPage();
    const violations = cspViolations(page);

    await page.goto(start.href);
    // What the person is asked: which client, for what, and that the answer stays on this computer.
    await expect(page.title()).resolves.toBe('Allow access?');
    const text = await page.locator('body').innerText();
    expect(text).toContain('Browser Test Client');
    expect(text).toContain('everything');
    expect(text).toContain('127.0.0.1');
    expect(text).toMatch(/program on this computer/);

    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback.url), { timeout: 30_000 }), page.getByRole('button', { name: 'Continue to sign in' }).click()]);
    await expect(page.locator('#done').innerText()).resolves.toContain('Signed in');
    expect(violations).toEqual([]);

    const landed = new URL(page.url());
    expect(landed.searchParams.get('code')).toBeTruthy();
    expect(landed.searchParams.get('iss')).toBe(fleet.url);
    const transport = new StreamableHTTPClientTransport(fleet.mcpUrl('everything'), { authProvider: provider });
    await transport.finishAuth(landed.searchParams);
    const client = new Client({ name: 'browser-sign-in-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(fleet.mcpUrl('everything'), { authProvider: provider }));
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'from the browser' } }))).toContain('from the browser');
    await client.close();
    await page.close();
  }, 90_000);

  it('GIVEN the consent page WHEN the user cancels THEN the client gets access_denied and no login happens', async () => {
    const provider = new TestOAuthProvider(callback.url, undefined, 'Cancelled Client');
    const start = await authorizationUrl(provider);
    const logins = fleet.idp.logins;
    const page = await browser.newPage();
    const violations = cspViolations(page);
    await page.goto(start.href);
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback.url), { timeout: 30_000 }), page.getByRole('button', { name: 'Cancel' }).click()]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('code')).toBeNull();
    expect(landed.searchParams.get('state')).toBe(start.searchParams.get('state'));
    expect(fleet.idp.logins).toBe(logins);
    expect(violations).toEqual([]);
    await page.close();
  }, 90_000);

  it('GIVEN a client whose redirect URI uses its own scheme (cursor://) WHEN the user cancels THEN the browser is allowed to hand the answer to that app', async () => {
    const provider = new TestOAuthProvider('cursor://anysphere.cursor-mcp/oauth/callback', undefined, 'App Scheme Client');
    const start = await authorizationUrl(provider);
    const page = await browser.newPage();
    const violations = cspViolations(page);
    const handedOff = new Promise<string>((resolve) => {
      page.on('request', (request) => {
        if (request.url().startsWith('cursor:')) resolve(request.url());
      });
      page.on('framenavigated', (frame) => {
        if (frame.url().startsWith('cursor:')) resolve(frame.url());
      });
    });
    await page.goto(start.href);
    await page.getByRole('button', { name: 'Cancel' }).click();
    const target = await Promise.race([handedOff, new Promise<string>((resolve) => setTimeout(() => resolve('(no hand-off)'), 20_000))]);
    expect(violations.filter((v) => /form-action/.test(v))).toEqual([]);
    expect(target).toMatch(/^cursor:\/\/anysphere\.cursor-mcp\/oauth\/callback\?error=access_denied/);
    await page.close();
  }, 90_000);

  it('GIVEN a page on another origin WHEN it frames the consent page THEN Chromium refuses to render it', async () => {
    const provider = new TestOAuthProvider(callback.url, undefined, 'Framed Client');
    const start = await authorizationUrl(provider);
    const page = await browser.newPage();
    const violations = cspViolations(page);
    const framer = new URL(callback.url);
    framer.pathname = '/framer';
    framer.searchParams.set('target', start.href);
    await page.goto(framer.href);
    await page.waitForLoadState('load');
    const frame = page.frames().find((f) => f !== page.mainFrame());
    // A refused frame shows Chromium's error page, never the consent form.
    const buttons = frame === undefined ? 0 : await frame.getByRole('button', { name: 'Continue to sign in' }).count().catch(() => 0);
    expect(buttons).toBe(0);
    expect(violations.some((v) => /frame-ancestors/.test(v))).toBe(true);
    await page.close();
  }, 90_000);
});
