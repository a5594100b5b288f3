import { FleetError } from '../errors.js';

/**
 * The deploy tooling (aws-cdk-lib, the CDK toolkit, the AWS SDK) is an optional
 * dependency that takes seconds and about 150 MiB to load. The CLI loads it
 * only inside the actions that use it, through {@link loadDeployTooling}, so
 * `--help`, `--version`, `serve` and the commands that do not call AWS start
 * fast; and an installation without it (the container image) gets a clear error.
 */

/** True when `error` says a deploy-tooling package is not installed. */
export function isMissingDeployTooling(error: unknown): boolean {
  const e = error as NodeJS.ErrnoException | undefined;
  return e?.code === 'ERR_MODULE_NOT_FOUND' && /aws-cdk-lib|@aws-cdk\/|@aws-sdk\/|constructs/.test(e.message);
}

/** The error `mcp-fleet <command>` fails with when the deploy tooling is not installed. */
export function deployToolingMissing(command: string, cause: unknown): FleetError {
  return new FleetError('DEPLOY_TOOLING_MISSING', `mcp-fleet ${command} needs the deploy tooling (aws-cdk-lib and the AWS SDK), which this installation left out`, {
    cause,
    hint: 'install mcp-fleet with its optional dependencies (npm install, without --omit=optional); the container image leaves them out on purpose',
  });
}

/** Imports a module that needs the deploy tooling, turning a missing package into {@link deployToolingMissing}. */
export async function loadDeployTooling<T>(command: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isMissingDeployTooling(error)) throw deployToolingMissing(command, error);
    throw error;
  }
}

/** Whether the deploy tooling is installed, found by resolving (not loading) aws-cdk-lib. */
export function deployToolingInstalled(): boolean {
  try {
    import.meta.resolve('aws-cdk-lib');
    return true;
  } catch {
    return false;
  }
}
