import { describe, expect, it } from 'vitest';
import { estimateMonthlyCost, fargateTaskMonthlyUsd, PRICES } from '../../src/deploy/cost.js';
import { planDeployment } from '../../src/deploy/plan.js';
import { FleetError } from '../../src/errors.js';
import { loadReference } from './helpers.js';

describe('cost model, checked against hand-computed figures', () => {
  it('prices 0.25 vCPU + 0.5 GB on demand in us-east-1 at about $9.0 a month', () => {
    // (0.25 × 0.04048 + 0.5 × 0.004445) $/h × 730 h = $9.010025
    expect(fargateTaskMonthlyUsd(PRICES['us-east-1']!, 256, 512, false)).toBeCloseTo(9.010025, 6);
    expect(fargateTaskMonthlyUsd(PRICES['us-east-1']!, 256, 512, true)).toBeCloseTo(2.7030075, 6);
  });

  it('estimates the reference fleet line by line, with the saving of Spot and of packed', async () => {
    const estimate = estimateMonthlyCost(planDeployment(await loadReference()), 'us-east-1');
    const line = (item: string) => estimate.lines.find((l) => l.item === item)!.monthlyUsd;
    expect(line('Fargate Spot: fetch')).toBeCloseTo(2.7030075, 6);
    expect(line('Application Load Balancer')).toBeCloseTo(22.265, 6); // (0.0225 + 1 × 0.008) × 730
    expect(line('Public IPv4 addresses')).toBeCloseTo(18.25, 6); // (2 ALB + 3 tasks) × 0.005 × 730
    expect(line('CloudWatch Logs')).toBeCloseTo(1.59, 6); // 3 GB × 0.50 + 3 GB × 0.03
    expect(line('CloudWatch alarms and dashboard')).toBeCloseTo(3.5, 6); // 5 × 0.10 + 3
    expect(line('Secrets Manager')).toBeCloseTo(1.2, 6); // (2 declared + 1 fleet secret) × 0.40
    expect(estimate.totalUsd).toBeCloseTo(54.9140225, 6);
    expect(estimate.alternatives.allSpotUsd).toBeCloseTo(54.9140225, 6);
    expect(estimate.alternatives.allOnDemandUsd).toBeCloseTo(73.835075, 6); // 3 × 9.010025 + 46.805
    // Packed: one Spot task of 0.5 vCPU / 1 GB, 3 public IPs, 1 GB of logs, 3 alarms.
    expect(estimate.alternatives.packedUsd).toBeCloseTo(43.651015, 6);
    expect(estimate.priceDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('uses the region price table, and refuses a region it has no prices for', async () => {
    const plan = planDeployment(await loadReference());
    expect(estimateMonthlyCost(plan, 'eu-central-1').totalUsd).toBeGreaterThan(estimateMonthlyCost(plan, 'us-east-1').totalUsd);
    expect(() => estimateMonthlyCost(plan, 'xx-nowhere-1')).toThrow(FleetError);
  });
});
