import { useEffect, useMemo, useRef } from 'react';
import { Background, Controls, MarkerType, ReactFlow, useNodesState } from '@xyflow/react';
import dagre from '@dagrejs/dagre';
import { AFTER, BEFORE } from './model.js';
import { nodeWidth, StepNode } from './StepNode.jsx';
import { dropped } from './Palette.jsx';

const NODE_TYPES = { step: StepNode };
const H = 70;

/** Positions for the steps `positions` lacks, from dagre over the whole graph. */
export function laidOut(g, positions) {
  if (g.nodes.every((n) => positions[n.name])) return positions;
  const d = new dagre.graphlib.Graph();
  d.setGraph({ rankdir: 'TB', nodesep: 40, ranksep: 80 });
  d.setDefaultEdgeLabel(() => ({}));
  for (const n of g.nodes) d.setNode(n.name, { width: nodeWidth(n), height: H });
  for (const e of g.edges) d.setEdge(e.source, e.target);
  dagre.layout(d);
  const out = { ...positions };
  for (const n of g.nodes) {
    const p = d.node(n.name);
    out[n.name] ||= { x: p.x - nodeWidth(n) / 2, y: p.y - H / 2 };
  }
  return out;
}

/**
 * The editor's canvas: the document's steps (positions kept by the page), edges from its
 * bindings; a palette entry dropped adds a step there, a handle dragged to another connects
 * them, Delete removes the selected step or edge.
 */
export function Canvas({ g, positions, problems, selected, zoo, on, fitKey, centre }) {
  const [nodes, setNodes, onNodesChange] = useNodesState([]);
  const flow = useRef(null);
  const box = useRef(null);
  // Where a step added from the keyboard goes: the middle of what the canvas shows.
  centre.current = () => {
    const r = box.current?.getBoundingClientRect();
    return r && flow.current?.screenToFlowPosition({ x: r.x + r.width / 2 - 90, y: r.y + r.height / 2 - 35 });
  };
  // A spec opened: show all of it.
  useEffect(() => {
    const t = setTimeout(() => flow.current?.fitView({ padding: 0.2, maxZoom: 1 }), 50);
    return () => clearTimeout(t);
  }, [fitKey]);
  useEffect(() => {
    setNodes((old) => {
      const byId = Object.fromEntries(old.map((n) => [n.id, n]));
      return g.nodes.map((n) => ({
        ...byId[n.name],
        id: n.name,
        type: 'step',
        position: positions[n.name] || byId[n.name]?.position || { x: 0, y: 0 },
        data: { ...n, width: nodeWidth(n), errors: problems[n.name] || 0 },
        selected: selected === n.name,
        ariaLabel: `step ${n.name}`,
      }));
    });
  }, [g, positions, problems, selected, setNodes]);

  const edges = useMemo(() => {
    const handles = Object.fromEntries(g.nodes.map((n) => [n.name, n]));
    // A binding to a handle the step does not show (a misspelt input) is drawn side to side.
    const has = (node, id, list) => handles[node]?.[list].some((h) => h.id === id);
    return g.edges.map((e) => ({
      id: e.id,
      source: e.source,
      target: e.target,
      sourceHandle: has(e.source, e.sourceHandle, 'outputs') ? e.sourceHandle : AFTER,
      targetHandle: has(e.target, e.targetHandle, 'inputs') ? e.targetHandle : BEFORE,
      deletable: e.removable,
      className: e.removable ? '' : 'implicit',
      markerEnd: { type: MarkerType.ArrowClosed },
      data: e,
    }));
  }, [g]);

  return (
    <div
      ref={box}
      className="canvas"
      data-testid="canvas"
      onDragOver={(ev) => {
        ev.preventDefault();
        ev.dataTransfer.dropEffect = 'copy';
      }}
      onDrop={(ev) => {
        const entry = dropped(zoo, ev.dataTransfer);
        if (!entry) return;
        ev.preventDefault();
        on.add(entry, flow.current?.screenToFlowPosition({ x: ev.clientX, y: ev.clientY }));
      }}
    >
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onNodesChange={(changes) => {
          onNodesChange(changes);
          for (const c of changes) {
            if (c.type === 'position' && c.position && !c.dragging) on.move(c.id, c.position);
            // A node selected by the user (a click, or Enter on the focused node) opens its form.
            if (c.type === 'select' && c.selected) on.select(c.id);
          }
        }}
        onNodeDragStop={(_, n) => on.move(n.id, n.position)}
        onInit={(f) => (flow.current = f)}
        onNodeClick={(_, n) => on.select(n.id)}
        onPaneClick={() => on.select(null)}
        onConnect={on.connect}
        isValidConnection={on.allowed}
        onNodesDelete={(ns) => ns.forEach((n) => on.remove(n.id))}
        onEdgesDelete={(es) => es.forEach((e) => on.disconnect(e.data))}
        deleteKeyCode={['Delete', 'Backspace']}
        fitView
        fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
