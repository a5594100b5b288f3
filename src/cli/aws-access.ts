import type { AwsAccess, AwsTarget } from '../deploy/credentials.js';

/** Checks credentials and a region; the default resolves them with the AWS SDK's credential chain. */
export type AwsAccessCheck = (target: AwsTarget) => Promise<AwsAccess>;

/**
 * The first step of every command that calls AWS (deploy, diff, destroy, status,
 * logs): fail in a second, naming the profile, region and files looked at, rather
 * than after a 20 s synth or with an SDK stack trace. Returns the options with the
 * region found, so every later call uses the same one.
 */
export async function checkAwsAccess<T extends { readonly profile?: string; readonly region?: string }>(
  options: T,
  configRegion: string | undefined,
  check?: AwsAccessCheck,
): Promise<T & { readonly region: string; readonly access: AwsAccess }> {
  const region = options.region ?? configRegion;
  const target: AwsTarget = {
    ...(options.profile === undefined ? {} : { profile: options.profile }),
    ...(region === undefined ? {} : { region, regionFrom: options.region !== undefined ? '--region' : 'deploy.region in the config' }),
  };
  // Loaded here, not at the top, so commands that never call AWS do not pay for the SDK.
  const access = await (check ?? (async (t: AwsTarget) => (await import('../deploy/credentials.js')).resolveAwsAccess(t)))(target);
  return { ...options, region: access.region, access };
}

/** One line saying which AWS identity and region a command uses (no secret: the profile and region only). */
export function describeAwsAccess(access: AwsAccess): string {
  return `AWS: region ${access.region} (from ${access.regionFrom})${access.profile === undefined ? '' : `, profile ${access.profile}`}`;
}
