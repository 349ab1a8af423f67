/** The pacing gate's Prometheus metrics (text format 0.0.4). */
import type { PacingSnapshot } from './gate.js';

export function renderPacingMetrics(snapshot: PacingSnapshot): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  metric('bramble_pacing_booting', 'gauge', 'Nodes holding a boot slot.', [['', snapshot.booting.length]]);
  metric('bramble_pacing_limit', 'gauge', 'Most nodes booting at once (pacing.maxConcurrentBoots).', [
    ['', snapshot.enabled ? snapshot.maxConcurrentBoots : 0],
  ]);
  metric('bramble_pacing_waiting', 'gauge', 'Nodes waiting for a boot slot.', [
    ['{class="known"}', snapshot.waiting.known],
    ['{class="unknown"}', snapshot.waiting.unknown],
  ]);
  metric('bramble_pacing_peak_booting', 'gauge', 'Most nodes that held a boot slot at once.', [
    ['', snapshot.peakBooting],
  ]);
  metric(
    'bramble_pacing_admitted_total',
    'counter',
    'Boot slots given out.',
    Object.entries(snapshot.admitted).map(([kind, count]) => [`{class="${kind}"}`, count]),
  );
  metric(
    'bramble_pacing_released_total',
    'counter',
    'Boot slots given back, by reason.',
    Object.entries(snapshot.released).map(([reason, count]) => [`{reason="${reason}"}`, count]),
  );
  metric(
    'bramble_pacing_unanswered_total',
    'counter',
    'DISCOVERs left unanswered while waiting (the firmware asks again).',
    [['', snapshot.unanswered]],
  );
  metric(
    'bramble_pacing_rescued_total',
    'counter',
    'Pi 3 ROMs admitted above the limit because they were about to halt.',
    [['', snapshot.rescued]],
  );
  return `${lines.join('\n')}\n`;
}
