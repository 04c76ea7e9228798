import { useEffect, useMemo, useRef } from 'react';
import { Background, Controls, MarkerType, ReactFlow, useNodesState } from '@xyflow/react';
import dagre from '@dagrejs/dagre';
import { layered } from '../layered.js';

const W = 170;
const H = 44;
const FIT = { padding: 0.15, maxZoom: 1 };

// Above this many steps dagre's crossing minimisation takes seconds to minutes (50 s at
// 2,000 steps): the linear layered layout is used instead, and React Flow renders only the
// nodes in view (scripts/bench-ui, docs/performance.md).
const LARGE = 300;

/** Positions from dagre, top to bottom; the graph itself is the server's (GET …/workflow). */
function layout(nodes, edges) {
  if (nodes.length > LARGE) return layered(nodes, edges, { w: W, h: H, gap: 30, rankGap: 50 });
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 30, ranksep: 50 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.name, { width: W, height: H });
  for (const e of edges) g.setEdge(e.from, e.to);
  dagre.layout(g);
  return Object.fromEntries(nodes.map((n) => [n.name, g.node(n.name)]));
}

/**
 * The run's DAG, each step coloured by its status; clicking one selects it. The nodes live in
 * React Flow's own state and a status change only restyles them, so React Flow keeps their
 * measured sizes (new node objects on every event would hide them until measured again).
 */
export function Dag({ graph, statuses, selected, onSelect, fitKey }) {
  const [nodes, setNodes, onNodesChange] = useNodesState([]);
  const flow = useRef(null);
  const byName = useMemo(() => Object.fromEntries(graph.nodes.map((n) => [n.name, n])), [graph]);

  useEffect(() => {
    // Timed for scripts/bench-ui (docs/performance.md): the layout is the page's largest cost.
    const t0 = performance.now();
    const pos = layout(graph.nodes, graph.edges);
    performance.measure('couler:layout', { start: t0 });
    setNodes(
      graph.nodes.map((n) => ({
        id: n.name,
        position: { x: pos[n.name].x - W / 2, y: pos[n.name].y - H / 2 },
        data: { label: `${n.name}${n.map ? ' [ ]' : ''}` },
        style: { width: W },
        connectable: false,
        draggable: false,
      })),
    );
  }, [graph, setNodes]);

  useEffect(() => {
    setNodes((old) =>
      old.map((n) => {
        const status = statuses[n.id] || 'Pending';
        const className = `step state-${status.toLowerCase()}${selected === n.id ? ' selected-step' : ''}${byName[n.id]?.onExit ? ' on-exit' : ''}`;
        return n.className === className ? n : { ...n, className, ariaLabel: `step ${n.id}: ${status}` };
      }),
    );
  }, [statuses, selected, byName, setNodes, graph]);

  // The panel beside it opened or closed: fit the graph to its new width.
  useEffect(() => {
    const t = setTimeout(() => flow.current?.fitView(FIT), 50);
    return () => clearTimeout(t);
  }, [fitKey]);

  const edges = useMemo(
    () =>
      graph.edges.map((e) => ({
        id: `${e.from}->${e.to}`,
        source: e.from,
        target: e.to,
        markerEnd: { type: MarkerType.ArrowClosed },
      })),
    [graph],
  );
  return (
    <div className="dag" data-testid="dag">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        onNodesChange={onNodesChange}
        onInit={(f) => (flow.current = f)}
        onNodeClick={(_, n) => onSelect(n.id)}
        fitView
        fitViewOptions={FIT}
        nodesConnectable={false}
        onlyRenderVisibleElements={graph.nodes.length > LARGE}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
