/** Builds the web console into `outDir` (default dist/console); resolves to the size in bytes of each file. */
export function buildConsole(options?: { outDir?: string }): Promise<Record<string, number>>;
