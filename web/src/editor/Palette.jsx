// The step zoo as a palette (GET /api/v1/zoo): drag an entry onto the canvas, or focus it and
// press Enter, to add a step using it.
export const DRAG_TYPE = 'application/x-couler-zoo';

const key = (e) => `${e.name}@${e.version}`;

export function Palette({ zoo, onAdd }) {
  return (
    <aside className="palette" aria-label="Step zoo">
      <h2>Step zoo</h2>
      <p className="hint">Drag a step onto the canvas, or focus it and press Enter.</p>
      <ul>
        {zoo.map((e) => (
          <li key={key(e)}>
            <button
              type="button"
              draggable
              data-zoo={key(e)}
              title={e.description}
              onDragStart={(ev) => {
                ev.dataTransfer.setData(DRAG_TYPE, key(e));
                ev.dataTransfer.effectAllowed = 'copy';
              }}
              onClick={() => onAdd(e)}
            >
              <strong>{e.name}</strong> <span className="version">@{e.version}</span>
              <span className="category">{e.category}</span>
            </button>
          </li>
        ))}
      </ul>
    </aside>
  );
}

/** The zoo entry a drop carries, if any. */
export function dropped(zoo, dataTransfer) {
  const k = dataTransfer.getData(DRAG_TYPE);
  return zoo.find((e) => key(e) === k);
}
