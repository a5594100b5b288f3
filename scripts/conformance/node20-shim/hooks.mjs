// Module resolve hook registered by preload.mjs (runs on the loader thread):
// every ESM import of `fs` gets fs-with-globsync.mjs, except the import inside
// that module itself.
const FS_WITH_GLOBSYNC = new URL('./fs-with-globsync.mjs', import.meta.url).href;

/** @type {import('node:module').ResolveHook} */
export async function resolve(specifier, context, nextResolve) {
  if ((specifier === 'fs' || specifier === 'node:fs') && context.parentURL !== FS_WITH_GLOBSYNC) {
    return { url: FS_WITH_GLOBSYNC, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
