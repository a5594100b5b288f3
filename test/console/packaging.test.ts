import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConsole } from '../../scripts/build-console.mjs';
import { writeBuildContext } from '../../src/deploy/image.js';
import { planDeployment } from '../../src/deploy/plan.js';
import { fakePackageRoot, loadReference } from '../deploy/helpers.js';
import { REPO_ROOT } from '../gateway/helpers.js';

/** The console's files reach users: built by `npm run build`, shipped in the npm package and the image. */

describe('console packaging', () => {
  it('bundles the page into dist/console with no reference to another host', async () => {
    const out = await mkdtemp(join(tmpdir(), 'console-bundle-'));
    const sizes = await buildConsole({ outDir: out });
    expect(Object.keys(sizes).sort()).toEqual(['app.css', 'app.js', 'index.html']);
    const html = await readFile(join(out, 'index.html'), 'utf8');
    // The page loads only its own files (relative URLs): it works offline and under any console path.
    expect(html).toContain('src="app.js"');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const js = await readFile(join(out, 'app.js'), 'utf8');
    expect(js).not.toMatch(/\bimport\s*\(?\s*["']https?:/);
  });

  it('ships dist/ (so dist/console) in the npm package and copies it into the image', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { files: string[]; scripts: Record<string, string> };
    expect(pkg.files).toContain('dist');
    expect(pkg.scripts['build']).toContain('scripts/build-console.mjs');
    const root = await fakePackageRoot();
    await buildConsole({ outDir: join(root, 'dist', 'console') });
    const config = await loadReference();
    const context = join(await mkdtemp(join(tmpdir(), 'console-image-')), 'image');
    await writeBuildContext(config, planDeployment(config), { outDir: context, packageRoot: root, lockServers: false });
    expect((await readdir(join(context, 'app', 'dist', 'console'))).sort()).toEqual(['app.css', 'app.js', 'index.html']);
  });
});
