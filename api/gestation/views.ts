import type { Gestation, GestationCheck, ReminderLog } from '../../entities';
import { gestationWorkflowId } from '../../workflows/ids';
import { toDateString } from '../horses/access';

/** What the gestation routes answer; schemas.ts describes the same shapes for validation and OpenAPI. */

export function gestationView(p: Gestation) {
  return {
    id: p.id,
    organizationId: p.organization.id,
    mare: { id: p.mare.id, name: p.mare.name },
    stallionId: p.stallionId ?? null,
    stallionName: p.stallionName ?? null,
    coverDates: p.coverDates,
    ovulationDate: toDateString(p.ovulationDate),
    method: p.method,
    vet: { name: p.vetName ?? null, contact: p.vetContact ?? null },
    status: p.status,
    expectedFoalingDate: toDateString(p.expectedFoalingDate)!,
    options: p.options,
    previousGestationDays: p.previousGestationDays,
    notes: p.notes ?? null,
    outcomeDate: toDateString(p.outcomeDate),
    foalId: p.foalId ?? null,
    endedAt: p.endedAt ?? null,
    workflowId: gestationWorkflowId(p.id),
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

export function checkView(c: GestationCheck) {
  return { id: c.id, kind: c.kind, date: toDateString(c.date)!, result: c.result, notes: c.notes ?? null, createdAt: c.createdAt };
}

export function reminderView(l: ReminderLog) {
  return { milestoneId: l.milestoneId, title: l.title, dueDate: toDateString(l.dueDate)!, sentAt: l.sentAt, channels: l.channels };
}
