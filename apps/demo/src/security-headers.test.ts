// The demo's security headers on a real HTTP server, and pages with nothing
// inline for the CSP to block (e2e/tests/07 loads them in Chromium under it).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { createDemoServer, type DemoServer } from './app.js';

const running: DemoServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((demo) => demo.close()));
});

async function start() {
  const demo = createDemoServer({ log: () => {}, exit: () => {} });
  running.push(demo);
  const { port } = await demo.listen(0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}` };
}

describe('security headers', () => {
  test('every page, script and JSON answer carries the CSP, nosniff, no-referrer and no framing', async () => {
    const { url } = await start();
    for (const path of [
      '/',
      '/admin/',
      '/build/admin.js',
      '/styles.css',
      '/api/admin/state',
      '/health',
      '/nope',
    ]) {
      const res = await fetch(`${url}${path}`);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain("object-src 'none'");
      expect(csp, path).not.toContain('unsafe');
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
    }
  });

  test('the pages load scripts by src only, with no inline script, handler or style', () => {
    for (const page of ['index.html', 'admin/index.html']) {
      const html = readFileSync(
        fileURLToPath(new URL(`../public/${page}`, import.meta.url)),
        'utf8',
      );
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
      expect(scripts.length, page).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(attributes, page).toMatch(/\bsrc="\/build\/[\w-]+\.js"/);
        expect(body?.trim(), page).toBe('');
      }
      expect(html, page).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|javascript:/i);
    }
  });
});
