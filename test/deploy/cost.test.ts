import { describe, expect, it } from 'vitest';
import { alarmCount, estimateMonthlyCost, fargateTaskMonthlyUsd, PRICES } from '../../src/deploy/cost.js';
import { planDeployment } from '../../src/deploy/plan.js';
import { FleetError } from '../../src/errors.js';
import { configOf, loadReference } from './helpers.js';

describe('cost model, checked against hand-computed figures', () => {
  it('prices 0.25 vCPU + 0.5 GB on demand in us-east-1 at about $9.0 a month', () => {
    // (0.25 × 0.04048 + 0.5 × 0.004445) $/h × 730 h = $9.010025
    expect(fargateTaskMonthlyUsd(PRICES['us-east-1']!, 256, 512, false)).toBeCloseTo(9.010025, 6);
    expect(fargateTaskMonthlyUsd(PRICES['us-east-1']!, 256, 512, true)).toBeCloseTo(2.7030075, 6);
  });

  it('estimates the reference fleet line by line: one on-demand task per service (the Spot floor), and what all-Spot and packed would cost', async () => {
    const estimate = estimateMonthlyCost(planDeployment(await loadReference()), 'us-east-1');
    const line = (item: string) => estimate.lines.find((l) => l.item === item)!;
    expect(line('Fargate: fetch')).toMatchObject({ detail: '1 on-demand × 0.25 vCPU, 0.5 GB', monthlyUsd: expect.closeTo(9.010025, 6) });
    expect(line('Application Load Balancer').monthlyUsd).toBeCloseTo(22.265, 6); // (0.0225 + 1 × 0.008) × 730
    expect(line('Public IPv4 addresses').monthlyUsd).toBeCloseTo(18.25, 6); // (2 ALB + 3 tasks) × 0.005 × 730
    expect(line('CloudWatch Logs').monthlyUsd).toBeCloseTo(1.59, 6); // 3 GB × 0.50 + 3 GB × 0.03
    // 11 alarms: per server unhealthy + no healthy host, per service memory, fleet 5xx and restarts.
    expect(line('CloudWatch alarms and dashboard')).toMatchObject({ detail: '11 alarms + 1 dashboard', monthlyUsd: expect.closeTo(4.1, 6) });
    expect(line('Secrets Manager').monthlyUsd).toBeCloseTo(1.2, 6); // (2 declared + 1 fleet secret) × 0.40
    expect(estimate.lines.find((l) => l.item === 'Container Insights')).toBeUndefined();
    expect(estimate.totalUsd).toBeCloseTo(74.435075, 6);
    expect(estimate.alternatives.allOnDemandUsd).toBeCloseTo(74.435075, 6);
    expect(estimate.alternatives.allSpotUsd).toBeCloseTo(55.5140225, 6); // 3 × 2.7030075 + 47.405
    // Packed: one on-demand task of 0.5 vCPU / 1 GB, 3 public IPs, 1 GB of logs, 9 alarms.
    expect(estimate.alternatives.packedUsd).toBeCloseTo(56.86505, 6);
    expect(estimate.priceDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('prices Container Insights when it is on: 11 cluster metrics and 25 per service at $0.30', async () => {
    const reference = await loadReference();
    const config = configOf({ ...reference, deploy: { ...reference.deploy, observability: { ...reference.deploy!.observability, containerInsights: true } } });
    const estimate = estimateMonthlyCost(planDeployment(config), 'us-east-1');
    expect(estimate.lines.find((l) => l.item === 'Container Insights')).toEqual({ item: 'Container Insights', detail: '86 metrics (1 cluster, 3 services)', monthlyUsd: expect.closeTo(25.8, 6) });
    expect(estimate.totalUsd).toBeCloseTo(74.435075 + 25.8, 6);
  });

  it('prices the audit log group when gateway.audit is on: one ~400 B record per call, ingested and kept its own retention', async () => {
    const reference = await loadReference();
    const config = configOf({ ...reference, gateway: { ...reference.gateway, audit: { enabled: true } }, deploy: { ...reference.deploy, audit: { retentionDays: 365 } } });
    const estimate = estimateMonthlyCost(planDeployment(config), 'us-east-1', { requestsPerMonth: 2_000_000 });
    // 2,000,000 × 400 B = 0.8 GB: 0.8 × 0.50 ingested + 0.8 × 12 months × 0.03 stored.
    expect(estimate.lines.find((l) => l.item === 'Audit log (CloudWatch Logs)')).toEqual({
      item: 'Audit log (CloudWatch Logs)',
      detail: '0.80 GB/month (2,000,000 calls × ~400 B, arguments not included), kept 365 days',
      monthlyUsd: expect.closeTo(0.4 + 0.288, 6),
    });
    expect(estimateMonthlyCost(planDeployment(reference), 'us-east-1').lines.find((l) => l.item === 'Audit log (CloudWatch Logs)')).toBeUndefined();
  });

  it('splits a service between on-demand base and Spot', () => {
    const plan = planDeployment(configOf({ servers: { a: { command: 'uvx', args: ['mcp-server-fetch'], policy: 'pool', deploy: { desiredCount: 3, onDemandBase: 1 } } } }));
    const line = estimateMonthlyCost(plan, 'us-east-1').lines[0]!;
    expect(line).toMatchObject({ item: 'Fargate: a', detail: '1 on-demand + 2 Spot × 0.25 vCPU, 0.5 GB' });
    expect(line.monthlyUsd).toBeCloseTo(9.010025 + 2 * 2.7030075, 6);
    expect(alarmCount(plan.services)).toBe(5);
  });

  it('uses the region price table, and refuses a region it has no prices for', async () => {
    const plan = planDeployment(await loadReference());
    expect(estimateMonthlyCost(plan, 'eu-central-1').totalUsd).toBeGreaterThan(estimateMonthlyCost(plan, 'us-east-1').totalUsd);
    expect(() => estimateMonthlyCost(plan, 'xx-nowhere-1')).toThrow(FleetError);
  });
});
