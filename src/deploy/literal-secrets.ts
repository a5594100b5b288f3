import type { FleetConfig } from '../config/schema.js';

/**
 * Finds secrets written as literal values in a deployed server's `env` (and in
 * `--token=...`-style arguments). The image bakes the config into its files, so
 * a literal secret would sit in every copy of the image and in the registry.
 * Messages name the field and the fix, never the value.
 */

/** Variable or flag names that usually carry a secret. */
const SECRET_NAME = /(^|[_-])(KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|PWD|CREDENTIALS?|AUTH|AUTHORIZATION|PRIVATE|SESSION|COOKIE|DSN|CONN(ECTION)?_?STRING)([_-]|$)/i;

/** Values that are secrets whatever the name: well-known credential formats. */
const SECRET_VALUE = [
  /\bAKIA[0-9A-Z]{16}\b/, // AWS access key id
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b/, // GitHub token
  /\bgithub_pat_[A-Za-z0-9_]{40,}\b/,
  /\bsk-[A-Za-z0-9_-]{20,}\b/, // OpenAI / Anthropic style keys
  /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/, // Slack
  /\bAIza[0-9A-Za-z_-]{35}\b/, // Google API key
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /:\/\/[^/\s:@]+:[^/\s@]+@/, // credentials in a URL
];

/** A value that is nothing but `${NAME}` references (and literal text without a secret format). */
function onlyReferences(value: string): boolean {
  return value.replace(/\$\$\{|\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}/g, '') === '';
}

function looksSecret(name: string, value: string): boolean {
  if (value === '' || onlyReferences(value)) return false;
  if (SECRET_VALUE.some((re) => re.test(value))) return true;
  return SECRET_NAME.test(name);
}

/** One problem per literal secret of a server's `env` or arguments. */
export function literalSecretProblems(config: FleetConfig): string[] {
  const problems: string[] = [];
  for (const [server, s] of Object.entries(config.servers)) {
    const plain = new Set(s.deploy?.plainEnv ?? []);
    for (const [name, value] of Object.entries(s.env)) {
      if (plain.has(name) || !looksSecret(name, value)) continue;
      problems.push(
        `servers.${server}.env.${name}: is a literal value that looks like a secret, which would be baked into the image's config files; ` +
          `write ${name}: \${${name}} and declare deploy.secrets.${name}: { secretName: <Secrets Manager name> } or { parameterName: <SSM SecureString name> } ` +
          `(if it is no secret, list it in servers.${server}.deploy.plainEnv)`,
      );
    }
    s.args.forEach((arg, i) => {
      const flag = /^--?([A-Za-z0-9_-]+)=(.+)$/.exec(arg);
      const name = flag?.[1] ?? (i > 0 ? /^--?([A-Za-z0-9_-]+)$/.exec(s.args[i - 1]!)?.[1] : undefined);
      const value = flag?.[2] ?? arg;
      if (arg.startsWith('-') && flag === undefined) return;
      if (onlyReferences(value)) return;
      const secretFormat = SECRET_VALUE.some((re) => re.test(value));
      if (!secretFormat && (name === undefined || !SECRET_NAME.test(name))) return;
      problems.push(
        `servers.${server}.args[${i}]: passes a literal value that looks like a secret${name === undefined ? '' : ` to --${name}`}, which would be baked into the image's config files; ` +
          `pass \${NAME} instead and declare deploy.secrets.NAME (Secrets Manager or SSM)`,
      );
    });
  }
  return problems;
}
