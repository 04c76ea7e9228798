/** A row of tabs: `tabs` is `[[id, label], …]`; the chosen one is `tab`. */
export function Tabs({ label, tabs, tab, onTab }) {
  return (
    <div role="tablist" aria-label={label} className="tabs">
      {tabs.map(([t, name]) => (
        <button key={t} type="button" role="tab" aria-selected={tab === t} onClick={() => onTab(t)}>
          {name}
        </button>
      ))}
    </div>
  );
}
