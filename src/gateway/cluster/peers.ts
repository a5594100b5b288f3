import { promises as dns } from 'node:dns';
import type { Logger } from '../../log.js';

/**
 * The replicas of a fleet, from a static list of URLs and/or a DNS name whose A
 * records are the replicas (on ECS: Cloud Map). Only known peers are forwarded to,
 * so a session id can never point the gateway at an arbitrary address.
 */
export class PeerSet {
  private known = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly self: string,
    private readonly staticPeers: readonly string[],
    private readonly dnsName: { host: string; port: number } | undefined,
    private readonly refreshMs: number,
    private readonly logger: Logger,
  ) {
    for (const peer of staticPeers) this.known.add(normalize(peer));
  }

  /** Starts periodic DNS refreshes (a no-op without a DNS name). */
  start(): Promise<void> {
    if (!this.dnsName) return Promise.resolve();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
    return this.refresh();
  }

  /** Stops refreshing. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The known peers, self excluded. */
  list(): string[] {
    return [...this.known].filter((p) => p !== this.self);
  }

  /** True when `url` is this replica or a known peer; refreshes DNS once on a miss. */
  async isPeer(url: string): Promise<boolean> {
    const wanted = normalize(url);
    if (wanted === this.self || this.known.has(wanted)) return true;
    if (!this.dnsName) return false;
    await this.refresh();
    return this.known.has(wanted);
  }

  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const name = this.dnsName as { host: string; port: number };
      try {
        const addresses = await dns.resolve4(name.host);
        this.known = new Set([...this.staticPeers.map(normalize), ...addresses.map((a) => `http://${a}:${name.port}`)]);
      } catch (error) {
        this.logger.warn('peer DNS lookup failed; keeping the last known peers', { host: name.host, error: (error as Error).message });
      }
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }
}

/** `http://10.0.0.5:8808/` -> `http://10.0.0.5:8808`. */
export function normalize(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return url;
  }
}

/** Parses `host:port`. */
export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const match = /^([^:\s]+):(\d{1,5})$/.exec(value.trim());
  return match ? { host: match[1] as string, port: Number(match[2]) } : undefined;
}
