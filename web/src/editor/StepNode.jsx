import { Handle, Position } from '@xyflow/react';
import { AFTER, BEFORE } from './model.js';

// A step on the canvas: its inputs and parameters as handles on top, its outputs below
// (named after the zoo entry's typed inputs and outputs), "before"/"after" on the sides for an
// ordering without data (`dependsOn`).
const spread = (i, n) => `${((i + 1) * 100) / (n + 1)}%`;

export function StepNode({ data }) {
  const { name, entry, inputs, outputs, errors } = data;
  return (
    <div className={`edit-step${errors ? ' has-error' : ''}`} data-step={name} style={{ width: data.width }}>
      {inputs.map((h, i) => (
        <Handle key={h.id} id={h.id} type="target" position={Position.Top} style={{ left: spread(i, inputs.length) }} title={`${h.name} (${h.kind === 'artifacts' ? 'input' : 'parameter'})`}>
          <span className={`handle-label in ${h.kind}`}>{h.name}</span>
        </Handle>
      ))}
      <Handle id={BEFORE} type="target" position={Position.Left} title="run after another step" />
      <div className="edit-step-name">{name}</div>
      <div className="edit-step-uses">{entry ? `${entry.name}@${entry.version}` : 'custom step'}</div>
      {errors > 0 && <div className="edit-step-errors">{errors} problem{errors > 1 ? 's' : ''}</div>}
      <Handle id={AFTER} type="source" position={Position.Right} title="steps to run after this one" />
      {outputs.map((h, i) => (
        <Handle key={h.id} id={h.id} type="source" position={Position.Bottom} style={{ left: spread(i, outputs.length) }} title={`${h.name} (output ${h.kind === 'artifacts' ? 'artifact' : 'parameter'})`}>
          <span className={`handle-label out ${h.kind}`}>{h.name}</span>
        </Handle>
      ))}
    </div>
  );
}

/** A node's width: room for its handles' labels. */
export function nodeWidth(n) {
  return Math.max(180, 80 * Math.max(n.inputs.length, n.outputs.length));
}
