import { OutputKeys, type DeployPlan } from './plan.js';

/**
 * Endpoint URLs of each server, from the stack outputs. Kept apart from
 * `aws.ts` (which loads the AWS SDK) so the CLI can render a deploy report
 * without loading the SDK.
 */
export function serverUrlsFromOutputs(plan: DeployPlan, outputs: Readonly<Record<string, string>>): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const r of plan.routes) {
    const url = outputs[OutputKeys.serverUrl(r.server)];
    if (url !== undefined) urls[r.server] = url;
  }
  return urls;
}
