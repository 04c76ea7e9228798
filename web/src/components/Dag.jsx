import { useMemo } from 'react';
import { Background, Controls, MarkerType, ReactFlow } from '@xyflow/react';
import dagre from '@dagrejs/dagre';

const W = 170;
const H = 44;

/** Positions from dagre, top to bottom; the graph itself is the server's (GET …/workflow). */
function layout(nodes, edges) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 30, ranksep: 50 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.name, { width: W, height: H });
  for (const e of edges) g.setEdge(e.from, e.to);
  dagre.layout(g);
  return Object.fromEntries(nodes.map((n) => [n.name, g.node(n.name)]));
}

/** The run's DAG, each step coloured by its status; clicking one selects it. */
export function Dag({ graph, statuses, selected, onSelect, fitKey }) {
  const pos = useMemo(() => layout(graph.nodes, graph.edges), [graph]);
  const nodes = graph.nodes.map((n) => {
    const status = statuses[n.name] || 'Pending';
    return {
      id: n.name,
      position: { x: pos[n.name].x - W / 2, y: pos[n.name].y - H / 2 },
      data: { label: `${n.name}${n.map ? ' [ ]' : ''}` },
      className: `step state-${status.toLowerCase()}${selected === n.name ? ' selected-step' : ''}${n.onExit ? ' on-exit' : ''}`,
      ariaLabel: `step ${n.name}: ${status}`,
      style: { width: W },
      connectable: false,
      draggable: false,
    };
  });
  const edges = graph.edges.map((e) => ({
    id: `${e.from}->${e.to}`,
    source: e.from,
    target: e.to,
    markerEnd: { type: MarkerType.ArrowClosed },
  }));
  return (
    <div className="dag" data-testid="dag">
      <ReactFlow
        key={fitKey}
        nodes={nodes}
        edges={edges}
        onNodeClick={(_, n) => onSelect(n.id)}
        fitView
        fitViewOptions={{ padding: 0.15, maxZoom: 1 }}
        nodesConnectable={false}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
