/**
 * The MCP clients `client-config` writes for. A module of its own, free of
 * imports, so the command tree offers them as `--for` choices without loading
 * the client-config renderer (test/cli/startup.test.ts).
 */
export const CLIENT_KINDS = ['claude-code', 'claude-desktop', 'cursor', 'vscode'] as const;
/** One of {@link CLIENT_KINDS}. */
export type ClientKind = (typeof CLIENT_KINDS)[number];
