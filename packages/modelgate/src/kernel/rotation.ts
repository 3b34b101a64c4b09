import { type Denial, deny } from './denial.js';

/**
 * Rotation with an overlap window (X2): a rolled credential keeps working until its
 * `retires_at`, so clients can switch to the successor without downtime, then is refused.
 */

/** The longest grace a roll may give: 30 days. */
export const MAX_GRACE_S = 30 * 86_400;

/** How a listed credential stands: current, rolled but still accepted, or refused for good. */
export type RotationState = 'active' | 'retiring' | 'retired';

/**
 * @example
 * ```ts
 * rotationState(null, Date.now()); // 'active'
 * ```
 */
export function rotationState(retiresAt: string | null, now: number): RotationState {
  if (retiresAt === null) return 'active';
  return now < Date.parse(retiresAt) ? 'retiring' : 'retired';
}

/** The refusal of a rolled credential whose grace has ended (epoch ms), or undefined. */
export function retirementDenial(retiresAt: number | null, now: number): Denial | undefined {
  if (retiresAt === null || now < retiresAt) return undefined;
  return deny('expired', 'This credential was rolled and its grace period has ended');
}

/**
 * Validates a roll's `grace_seconds`: a whole number from 0 (refused at once) to {@link MAX_GRACE_S}.
 * @returns the problem, or undefined when it is fine.
 */
export function graceProblem(value: unknown): string | undefined {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_GRACE_S
    ? undefined
    : `grace_seconds must be a whole number from 0 to ${MAX_GRACE_S}`;
}
